//! Rate limiting of failed secret checks per client address: a token bucket per address that
//! only failures drain. It is asked only after a check has failed, to choose between "wrong"
//! and "too many wrong": a valid credential is answered whatever its address' budget.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

struct Bucket {
    tokens: f64,
    updated: Instant,
}

pub struct FailureLimiter {
    /// Failures allowed per minute, and the burst; 0 turns the limiter off.
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl FailureLimiter {
    pub fn new(per_minute: u32) -> FailureLimiter {
        FailureLimiter {
            per_minute,
            buckets: Mutex::default(),
        }
    }

    /// Records a failed secret check from the address; `Some(retry_after)` when the address
    /// has now spent its budget.
    pub fn failed(&self, ip: IpAddr) -> Option<Duration> {
        if self.per_minute == 0 {
            return None;
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
        if bucket.tokens < 0.0 {
            bucket.tokens = bucket.tokens.max(-1.0);
            return Some(Duration::from_secs_f64(-bucket.tokens / rate));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_beyond_the_budget_block_only_that_address() {
        let limiter = FailureLimiter::new(3);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert!(limiter.failed(a).is_none(), "within the budget");
        }
        let wait = limiter.failed(a).expect("the failure past the budget");
        assert!(
            wait <= Duration::from_secs(20) && wait > Duration::from_secs(15),
            "{wait:?}"
        );
        assert!(limiter.failed(a).is_some(), "still over");
        assert!(limiter.failed(b).is_none(), "another address has its own budget");
    }

    #[test]
    fn zero_turns_it_off() {
        let limiter = FailureLimiter::new(0);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..100 {
            assert!(limiter.failed(a).is_none());
        }
    }
}
