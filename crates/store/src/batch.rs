//! The gateway's cache misses, looked up together, the way each backend is fastest at. On
//! SQLite, the misses of one worker thread that arrive in
//! the same turn of its event loop are looked up on that thread, after the requests ready at
//! that moment have had their turn, in one read transaction when a pooled connection is idle
//! (`Store::tokens_by_digests_now`: a few page reads in the process, less than a hand-over to
//! another thread; a read transaction's locks each, otherwise). When none is idle, and always
//! on PostgreSQL, they are queued, and a few looker threads, each on a connection of its own,
//! take every miss waiting (up to [`MAX_BATCH`]): a lone miss goes at once, and a crowd shares
//! one statement on PostgreSQL (a round trip and a server process's wake-up each, otherwise)
//! instead of each miss queueing for the blocking pool and a pooled connection. A queued miss
//! whose caller gave up (its patience ran out while the database was slow) is not looked up.

use crate::secret::SecretDigest;
use crate::{Backend, SecretLookup, Store, StoreError};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// The most digests one statement asks for.
pub const MAX_BATCH: usize = 64;
/// Threads that look up at the same time (each holds a pooled connection while it does).
const LOOKERS: usize = 3;

type Reply = oneshot::Sender<Result<SecretLookup, StoreError>>;

#[derive(Clone)]
pub struct MissBatcher {
    queue: Sender<(SecretDigest, Reply)>,
    store: Store,
    /// Tells this batcher's misses from another's (two apps on one thread, in tests).
    id: u64,
}

thread_local! {
    /// SQLite: the misses of this thread waiting for its next round, with their batcher's id.
    static WAITING: RefCell<Vec<(u64, SecretDigest, Reply)>> = const { RefCell::new(Vec::new()) };
}

static BATCHERS: AtomicU64 = AtomicU64::new(0);

impl MissBatcher {
    pub fn start(store: Store) -> std::io::Result<MissBatcher> {
        let (tx, rx) = channel::<(SecretDigest, Reply)>();
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..LOOKERS {
            let (store, rx) = (store.clone(), rx.clone());
            std::thread::Builder::new()
                .name(format!("tollgate-miss-{n}"))
                .spawn(move || look_up(&store, &rx))?;
        }
        Ok(MissBatcher {
            queue: tx,
            store,
            id: BATCHERS.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// What the digest names, looked up with whatever misses are waiting beside it. Called
    /// within a local task set (an actix-web worker) when the backend is SQLite.
    pub async fn lookup(&self, digest: SecretDigest) -> Result<SecretLookup, StoreError> {
        let (reply, answer) = oneshot::channel();
        if self.store.backend() == Backend::Sqlite {
            let first = WAITING.with(|waiting| {
                let mut waiting = waiting.borrow_mut();
                let first = !waiting.iter().any(|(id, _, _)| *id == self.id);
                waiting.push((self.id, digest, reply));
                first
            });
            if first {
                // A task of its own on this thread (the caller's, a worker's local set), which a
                // caller that gives up cannot cancel.
                let this = self.clone();
                tokio::task::spawn_local(async move {
                    // After the requests ready on this thread now: their misses join this round.
                    tokio::task::yield_now().await;
                    this.round();
                });
            }
        } else {
            self.queue.send((digest, reply)).map_err(|_| gone())?;
        }
        answer.await.map_err(|_| gone())?
    }

    /// SQLite: this thread's waiting misses, looked up here when a connection is idle, or else
    /// handed to the looker threads.
    fn round(&self) {
        let batch: Vec<(SecretDigest, Reply)> = WAITING.with(|waiting| {
            let mut waiting = waiting.borrow_mut();
            let (mine, others) = std::mem::take(&mut *waiting)
                .into_iter()
                .partition::<Vec<_>, _>(|(id, _, _)| *id == self.id);
            *waiting = others;
            mine.into_iter()
                .map(|(_, digest, reply)| (digest, reply))
                .filter(|(_, reply)| !reply.is_closed())
                .collect()
        });
        if batch.is_empty() {
            return;
        }
        let digests: Vec<SecretDigest> = batch.iter().map(|(d, _)| *d).collect();
        match self.store.tokens_by_digests_now(&digests) {
            Some(found) => answer(batch, found),
            None => {
                for miss in batch {
                    let _ = self.queue.send(miss);
                }
            }
        }
    }
}

/// Sends each caller its answer, or the error that befell the whole batch.
fn answer(batch: Vec<(SecretDigest, Reply)>, found: Result<Vec<SecretLookup>, StoreError>) {
    match found {
        Ok(found) => {
            for ((_, reply), lookup) in batch.into_iter().zip(found) {
                let _ = reply.send(Ok(lookup));
            }
        }
        Err(e) => {
            let text = e.to_string();
            for (_, reply) in batch {
                let _ = reply.send(Err(StoreError::Unavailable(text.clone())));
            }
        }
    }
}

fn gone() -> StoreError {
    StoreError::Unavailable("the lookup threads stopped".into())
}

/// A looker: waits for a miss, takes every other one waiting, asks once, answers each.
fn look_up(store: &Store, queue: &Mutex<Receiver<(SecretDigest, Reply)>>) {
    loop {
        let batch = {
            let Ok(queue) = queue.lock() else { return };
            let Ok(first) = queue.recv() else { return };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            batch.retain(|(_, reply)| !reply.is_closed());
            batch
        };
        if batch.is_empty() {
            continue;
        }
        let digests: Vec<SecretDigest> = batch.iter().map(|(d, _)| *d).collect();
        answer(batch, store.tokens_by_digests(&digests));
    }
}
