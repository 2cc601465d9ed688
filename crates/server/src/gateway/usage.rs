//! `last_used_at`, coalesced: successful checks note the token in memory, and a background
//! thread writes the newest use of each token in one transaction per interval.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tollgate_store::Store;

#[derive(Default)]
pub struct Usage {
    pending: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl Usage {
    pub fn used(&self, token_id: &str) {
        let now = Utc::now();
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        match pending.get_mut(token_id) {
            Some(at) => *at = now,
            None => {
                pending.insert(token_id.to_owned(), now);
            }
        }
    }

    /// Writes what was noted since the last flush.
    pub fn flush(&self, store: &Store) {
        let batch: Vec<(String, DateTime<Utc>)> =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
                .into_iter()
                .collect();
        if let Err(e) = store.record_last_used(&batch) {
            tracing::warn!(error = %e, tokens = batch.len(), "recording last use failed; will retry");
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            for (id, at) in batch {
                pending.entry(id).or_insert(at);
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
