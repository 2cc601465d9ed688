//! Rate limiting of failed secret checks per client address: a token bucket per address that
//! only failures drain, so valid traffic never waits on it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

struct Bucket {
    tokens: f64,
    updated: Instant,
}

pub struct FailureLimiter {
    /// Failures allowed per minute, and the burst; 0 turns the limiter off.
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
    /// Addresses refused until the instant given: read on every request, written on failures.
    blocked: RwLock<HashMap<IpAddr, Instant>>,
}

impl FailureLimiter {
    pub fn new(per_minute: u32) -> FailureLimiter {
        FailureLimiter {
            per_minute,
            buckets: Mutex::default(),
            blocked: RwLock::default(),
        }
    }

    /// `Some(retry_after)` when the address must wait before its next secret check.
    pub fn check(&self, ip: IpAddr) -> Option<Duration> {
        if self.per_minute == 0 {
            return None;
        }
        let blocked = self.blocked.read().unwrap_or_else(|p| p.into_inner());
        if blocked.is_empty() {
            return None;
        }
        let until = *blocked.get(&ip)?;
        let now = Instant::now();
        (until > now).then(|| until - now)
    }

    /// Records a failed secret check from the address.
    pub fn failed(&self, ip: IpAddr) {
        if self.per_minute == 0 {
            return;
        }
        let rate = f64::from(self.per_minute) / 60.0;
        let capacity = f64::from(self.per_minute);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            // Forget addresses whose buckets are full again.
            buckets.retain(|_, b| b.tokens + now.duration_since(b.updated).as_secs_f64() * rate < capacity);
        }
        let bucket = buckets.entry(ip).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * rate).min(capacity);
        bucket.updated = now;
        bucket.tokens -= 1.0;
        if bucket.tokens < 1.0 {
            let wait = Duration::from_secs_f64((1.0 - bucket.tokens) / rate);
            let mut blocked = self.blocked.write().unwrap_or_else(|p| p.into_inner());
            blocked.retain(|_, until| *until > now);
            blocked.insert(ip, now + wait);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_beyond_the_budget_block_only_that_address() {
        let limiter = FailureLimiter::new(3);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        limiter.failed(a);
        limiter.failed(a);
        assert!(limiter.check(a).is_none());
        limiter.failed(a);
        let wait = limiter.check(a).expect("blocked after the budget");
        assert!(
            wait <= Duration::from_secs(20) && wait > Duration::from_secs(15),
            "{wait:?}"
        );
        assert!(limiter.check(b).is_none());
    }

    #[test]
    fn zero_turns_it_off() {
        let limiter = FailureLimiter::new(0);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..100 {
            limiter.failed(a);
        }
        assert!(limiter.check(a).is_none());
    }
}
