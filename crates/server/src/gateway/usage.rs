//! `last_used_at`, coalesced: successful checks note the token in memory, and a background
//! thread writes the newest use of each token in one transaction per interval.

use super::cache::Known;
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tollgate_store::Store;

/// The last use of one token since the last flush: written with two atomics on the hot path.
#[derive(Default)]
pub struct LastUse {
    /// Milliseconds since the epoch; 0 before the first use.
    at: AtomicI64,
    /// Whether the token is already in the pending list.
    pending: AtomicBool,
}

#[derive(Default)]
pub struct Usage {
    /// The tokens used since the last flush, each once.
    pending: Mutex<Vec<Arc<Known>>>,
}

impl Usage {
    /// Notes a use of the token: no lock unless this is its first use since the last flush.
    pub fn used(&self, known: &Arc<Known>) {
        known
            .last_use
            .at
            .store(Utc::now().timestamp_millis(), Ordering::Release);
        if !known.last_use.pending.swap(true, Ordering::AcqRel) {
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(known.clone());
        }
    }

    /// Writes what was noted since the last flush.
    pub fn flush(&self, store: &Store) {
        let tokens = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        let batch: Vec<(String, DateTime<Utc>)> = tokens
            .iter()
            .filter_map(|known| {
                // Cleared first: a use from now on queues the token again.
                known.last_use.pending.store(false, Ordering::Release);
                let at = DateTime::from_timestamp_millis(known.last_use.at.load(Ordering::Acquire))?;
                Some((known.token.id.clone(), at))
            })
            .collect();
        if let Err(e) = store.record_last_used(&batch) {
            tracing::warn!(error = %e, tokens = batch.len(), "recording last use failed; will retry");
            for known in tokens {
                if !known.last_use.pending.swap(true, Ordering::AcqRel) {
                    self.pending.lock().unwrap_or_else(|p| p.into_inner()).push(known);
                }
            }
        }
    }

    /// Flushes every `interval` on a thread of its own, off the request path.
    pub fn spawn_flusher(self: &Arc<Self>, store: Store, interval: Duration) {
        let usage = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("tollgate-last-used".into())
            .spawn(move || loop {
                std::thread::sleep(interval);
                match usage.upgrade() {
                    Some(usage) => usage.flush(&store),
                    None => return,
                }
            })
            .expect("the last-used thread starts");
    }
}
