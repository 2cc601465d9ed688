//! Usage, coalesced: successful checks note the token in memory (when, from where, one more
//! use), and a background thread writes each used token's newest use and its count of the day
//! in one transaction per interval.

use chrono::{DateTime, Utc};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tollgate_store::{Store, Use};

/// The uses of one token since the last flush: a few atomics on the hot path. Apart from the
/// cached token, so that the pending list keeps only this (about a hundred bytes) of a token
/// evicted before the flush, not its whole answer: at 20,000 misses a second, the five
/// seconds' pending tokens held 100,000 evicted answers beside the cache's own.
pub struct LastUse {
    token_id: String,
    /// Milliseconds since the epoch; 0 before the first use.
    at: AtomicI64,
    /// Whether the token is already in the pending list.
    pending: AtomicBool,
    /// Uses not yet written.
    uses: AtomicU64,
    /// The client of the newest use.
    from: Mutex<Option<IpAddr>>,
}

impl LastUse {
    pub fn new(token_id: &str) -> Arc<LastUse> {
        Arc::new(LastUse {
            token_id: token_id.to_owned(),
            at: AtomicI64::new(0),
            pending: AtomicBool::new(false),
            uses: AtomicU64::new(0),
            from: Mutex::new(None),
        })
    }
}

#[derive(Default)]
pub struct Usage {
    /// The tokens used since the last flush, each once.
    pending: Mutex<Vec<Arc<LastUse>>>,
}

impl Usage {
    /// Notes a use of the token by `from`: no shared lock unless this is its first use since
    /// the last flush.
    pub fn used(&self, last: &Arc<LastUse>, from: Option<IpAddr>) {
        last.at.store(Utc::now().timestamp_millis(), Ordering::Release);
        last.uses.fetch_add(1, Ordering::AcqRel);
        *last.from.lock().unwrap_or_else(|p| p.into_inner()) = from;
        if !last.pending.swap(true, Ordering::AcqRel) {
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(last.clone());
        }
    }

    /// Writes what was noted since the last flush.
    pub fn flush(&self, store: &Store) {
        let tokens = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        let batch: Vec<Use> = tokens
            .iter()
            .map(|last| {
                // Cleared first: a use from now on queues the token again.
                last.pending.store(false, Ordering::Release);
                let at = DateTime::from_timestamp_millis(last.at.load(Ordering::Acquire)).unwrap_or_else(Utc::now);
                Use {
                    token_id: last.token_id.clone(),
                    at,
                    from: last
                        .from
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .map(|ip| ip.to_string()),
                    uses: last.uses.swap(0, Ordering::AcqRel),
                }
            })
            .collect();
        if let Err(e) = store.record_usage(&batch) {
            tracing::warn!(error = %e, tokens = batch.len(), "recording token usage failed; will retry");
            for (last, usage) in tokens.into_iter().zip(&batch) {
                last.uses.fetch_add(usage.uses, Ordering::AcqRel);
                if !last.pending.swap(true, Ordering::AcqRel) {
                    self.pending.lock().unwrap_or_else(|p| p.into_inner()).push(last);
                }
            }
        }
    }

    /// Flushes every `interval` on a thread of its own, off the request path.
    pub fn spawn_flusher(self: &Arc<Self>, store: Store, interval: Duration) {
        let usage = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("tollgate-usage".into())
            .spawn(move || loop {
                std::thread::sleep(interval);
                match usage.upgrade() {
                    Some(usage) => {
                        usage.flush(&store);
                        release_free_memory();
                    }
                    None => return,
                }
            })
            .expect("the usage thread starts");
    }
}

/// Hands memory that is free inside the allocator back to the system. glibc keeps what was
/// freed in each thread's arena: after a run of misses (a flush's batch, the evicted cache
/// entries), a node held about 80 MB more than it used, and stayed there. A trim every flush
/// costs the usage thread a walk over the free lists. musl's allocator (the image's static
/// build) has no such call and is left as it is.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers and only hands free pages back to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}
