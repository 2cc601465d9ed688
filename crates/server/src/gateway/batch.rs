//! Cache misses, looked up together. On SQLite, a miss is looked up on the caller's thread when
//! a pooled connection is idle (`Store::tokens_by_digests_now`: a few page reads in the
//! process, less than the hand-over); otherwise, and always on PostgreSQL, it is queued, and a
//! few looker threads, each on a connection of its own, take every miss waiting (up to
//! [`MAX_BATCH`]): a lone miss goes at once, and a crowd shares one statement on PostgreSQL (a
//! round trip and a server process's wake-up each, otherwise) instead of each miss queueing
//! for the blocking pool and a pooled connection. A queued miss whose caller gave up (its
//! patience ran out while the database was slow) is not looked up.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;
use tollgate_store::secret::SecretDigest;
use tollgate_store::{SecretLookup, Store, StoreError};

/// The most digests one statement asks for.
pub const MAX_BATCH: usize = 64;
/// Threads that look up at the same time (each holds a pooled connection while it does).
const LOOKERS: usize = 3;

type Reply = oneshot::Sender<Result<SecretLookup, StoreError>>;

pub struct MissBatcher {
    queue: Sender<(SecretDigest, Reply)>,
    store: Store,
}

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
        Ok(MissBatcher { queue: tx, store })
    }

    /// What the digest names, looked up with whatever misses are waiting beside it.
    pub async fn lookup(&self, digest: SecretDigest) -> Result<SecretLookup, StoreError> {
        // SQLite, with a connection idle: looked up here and now (see the store's doc).
        if let Some(found) = self.store.tokens_by_digests_now(std::slice::from_ref(&digest)) {
            return found.map(|mut one| one.pop().unwrap_or(SecretLookup::Unknown));
        }
        let (reply, answer) = oneshot::channel();
        self.queue.send((digest, reply)).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
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
        match store.tokens_by_digests(&digests) {
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
}
