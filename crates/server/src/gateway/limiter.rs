//! Rate limiting of failures per client budget (an IPv4 address, an IPv6 /64, or every client
//! whose address is unknown): a generic cell rate (GCRA) per budget that only failures
//! advance. It is asked only after a check has failed, to choose between "wrong" and "too many
//! wrong": a valid credential is answered whatever its budget.
//!
//! Memory is bounded: a fixed table of slots, set-associative (a budget's hash picks a set of
//! [`WAYS`] slots), striped over [`SHARDS`] locks. A failure looks at one set under one stripe's
//! lock: constant time, no sweep, no lock over the whole table. A new budget takes a slot of
//! its set that is free again (its budget refilled), else the one closest to full: a budget
//! that has spent its allowance is the last to be forgotten.

use crate::client_address::Budget;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Slots per set.
const WAYS: usize = 8;
/// Lock stripes.
const SHARDS: usize = 64;

/// One budget: its key (a hash of the budget; 0 is a free slot) and the moment its allowance
/// is whole again (the GCRA's theoretical arrival time), in microseconds of the limiter's clock.
#[derive(Clone, Copy, Default)]
struct Slot {
    key: u64,
    full_at: u64,
}

pub struct FailureLimiter {
    /// Failures allowed per minute, and the burst; 0 turns the limiter off.
    per_minute: u32,
    /// What one failure costs, in microseconds of refill.
    interval: u64,
    /// The allowance, in microseconds: `per_minute` failures.
    burst: u64,
    started: Instant,
    /// Keyed with a random key per process, so that nobody can choose budgets that share a set.
    hasher: RandomState,
    sets_per_shard: usize,
    shards: Box<[Mutex<Box<[Slot]>>]>,
}

/// The default bound on budgets held per limiter.
pub const DEFAULT_CAPACITY: usize = 131_072;

impl FailureLimiter {
    /// A limiter of `per_minute` failures per budget, holding at most about `capacity` budgets
    /// (rounded up to whole sets; 16 bytes each).
    pub fn new(per_minute: u32) -> FailureLimiter {
        FailureLimiter::with_capacity(per_minute, DEFAULT_CAPACITY)
    }

    pub fn with_capacity(per_minute: u32, capacity: usize) -> FailureLimiter {
        let sets_per_shard = capacity.div_ceil(WAYS * SHARDS).max(1);
        let slots_per_shard = sets_per_shard * WAYS;
        // Off: no table at all.
        let shards = if per_minute == 0 {
            Vec::new()
        } else {
            (0..SHARDS)
                .map(|_| Mutex::new(vec![Slot::default(); slots_per_shard].into_boxed_slice()))
                .collect()
        };
        let interval = 60_000_000 / u64::from(per_minute.max(1));
        FailureLimiter {
            per_minute,
            interval,
            burst: interval * u64::from(per_minute),
            started: Instant::now(),
            hasher: RandomState::new(),
            sets_per_shard,
            shards: shards.into_boxed_slice(),
        }
    }

    /// The budgets this limiter can hold at most.
    pub fn capacity(&self) -> usize {
        self.shards.len() * self.sets_per_shard * WAYS
    }

    /// The bytes its table takes.
    pub fn table_bytes(&self) -> usize {
        self.capacity() * std::mem::size_of::<Slot>()
    }

    /// Records a failure of the budget; `Some(retry_after)` when it has now spent its
    /// allowance.
    pub fn failed(&self, budget: Budget) -> Option<Duration> {
        self.spend(budget, 1)
    }

    /// Records `cost` failures (or reports) of the budget at once; `Some(retry_after)` when
    /// that is more than is left of its allowance (and then nothing is spent beyond it).
    pub fn spend(&self, budget: Budget, cost: u32) -> Option<Duration> {
        if self.per_minute == 0 {
            return None;
        }
        // 0 marks a free slot: no budget hashes to it.
        let key = self.hasher.hash_one(budget).max(1);
        let shard = (key as usize) % SHARDS;
        let set = ((key >> 32) as usize) % self.sets_per_shard;
        let now = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let mut slots = self.shards[shard].lock().unwrap_or_else(|p| p.into_inner());
        let ways = &mut slots[set * WAYS..(set + 1) * WAYS];
        let at = match ways.iter().position(|s| s.key == key) {
            Some(at) => at,
            None => {
                // A free slot, or the budget closest to whole (the earliest `full_at`; one
                // already whole is as good as free).
                let at = ways
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, s)| if s.key == 0 { 0 } else { s.full_at.max(1) })
                    .map_or(0, |(i, _)| i);
                ways[at] = Slot { key, full_at: now };
                at
            }
        };
        let slot = &mut ways[at];
        // A cost larger than the whole allowance costs the whole allowance: it fits once the
        // budget is whole.
        let units = cost.clamp(1, self.per_minute);
        let cost = self.interval * u64::from(units);
        let full_at = slot.full_at.max(now) + cost;
        if full_at - now <= self.burst {
            slot.full_at = full_at;
            return None;
        }
        if units > 1 {
            // Refused whole: nothing spent; it fits once enough has come back.
            return Some(Duration::from_micros(full_at - now - self.burst));
        }
        // Over: failures go on being refused, and the wait never grows past one interval.
        slot.full_at = full_at.min(now + self.burst + self.interval);
        Some(Duration::from_micros(slot.full_at - now - self.burst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(last: u8) -> Budget {
        Budget::V4([10, 0, 0, last])
    }

    #[test]
    fn failures_beyond_the_budget_block_only_that_budget() {
        let limiter = FailureLimiter::new(3);
        let (a, b) = (v4(1), v4(2));
        for _ in 0..3 {
            assert!(limiter.failed(a).is_none(), "within the budget");
        }
        let wait = limiter.failed(a).expect("the failure past the budget");
        assert!(
            wait <= Duration::from_secs(20) && wait > Duration::from_secs(15),
            "{wait:?}"
        );
        assert!(limiter.failed(a).is_some(), "still over");
        assert!(limiter.failed(b).is_none(), "another budget has its own allowance");
        assert!(limiter.failed(Budget::Unknown).is_none());
    }

    #[test]
    fn a_large_cost_spends_as_many() {
        let limiter = FailureLimiter::new(30);
        let a = v4(9);
        assert!(limiter.spend(a, 20).is_none());
        assert!(limiter.spend(a, 10).is_none(), "30 of 30");
        let wait = limiter.spend(a, 10).expect("over");
        assert!(wait >= Duration::from_secs(2), "{wait:?}");
        assert!(
            limiter.spend(v4(10), 31).is_none(),
            "more than the whole allowance: all of it"
        );
        assert!(limiter.spend(v4(10), 1).is_some());
    }

    #[test]
    fn zero_turns_it_off() {
        let limiter = FailureLimiter::new(0);
        assert_eq!(limiter.table_bytes(), 0);
        for _ in 0..100 {
            assert!(limiter.failed(v4(1)).is_none());
        }
    }

    /// A flood of new budgets, far more than the table holds, keeps the memory where it was
    /// and does not wipe out a budget that has spent its allowance: that one is the last of
    /// its set to go.
    #[test]
    fn the_table_is_bounded_and_a_spent_budget_outlives_a_flood() {
        let limiter = FailureLimiter::with_capacity(5, 1024);
        assert_eq!(limiter.capacity(), 1024);
        let spent = Budget::V6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1]);
        for _ in 0..5 {
            assert!(limiter.failed(spent).is_none());
        }
        assert!(limiter.failed(spent).is_some());
        for i in 0..200_000u32 {
            limiter.failed(Budget::V4(i.to_be_bytes()));
        }
        assert_eq!(limiter.capacity(), 1024, "no growth");
        assert!(limiter.failed(spent).is_some(), "still refused after the flood");
    }
}
