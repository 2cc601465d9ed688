//! The in-memory cache of secret lookups (valid and unknown digests) that keeps the
//! gateway's hot path off the database, and forgets an entry the moment its token changes.

use crate::metrics::Metrics;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tollgate_store::secret::SecretDigest;
use tollgate_store::{Change, ChangeListener, GatewayToken};

/// Unknown digests kept at most; past that they are forgotten all at once, so that a flood of
/// made-up secrets cannot grow the cache without bound.
const MAX_UNKNOWN: usize = 100_000;

#[derive(Clone)]
pub enum Lookup {
    Known(Arc<Known>),
    Unknown,
}

/// A valid token, with its introspection answer serialized once.
pub struct Known {
    pub token: GatewayToken,
    pub introspection: actix_web::web::Bytes,
}

#[derive(Default)]
struct Entries {
    by_digest: HashMap<[u8; 32], Lookup>,
    digest_of_token: HashMap<String, [u8; 32]>,
    unknown: usize,
}

pub struct TokenCache {
    entries: RwLock<Entries>,
    /// Bumped by every invalidation, so that a lookup that raced with one is not cached.
    epoch: AtomicU64,
    /// False while other nodes' changes cannot reach this one: then nothing is cached.
    connected: AtomicBool,
    metrics: Arc<Metrics>,
}

impl TokenCache {
    pub fn new(metrics: Arc<Metrics>) -> TokenCache {
        TokenCache {
            entries: RwLock::default(),
            epoch: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            metrics,
        }
    }

    pub fn get(&self, digest: &[u8; 32]) -> Option<Lookup> {
        if !self.connected.load(Ordering::Acquire) {
            return None;
        }
        let found = self
            .entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .by_digest
            .get(digest)
            .cloned();
        self.metrics.cache_lookup(found.is_some());
        found
    }

    /// The epoch to pass to `insert` for a database lookup that starts now.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Caches a database answer unless an invalidation happened since `epoch`.
    pub fn insert(&self, epoch: u64, digest: [u8; 32], lookup: Lookup) {
        if !self.connected.load(Ordering::Acquire) {
            return;
        }
        let mut e = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if self.epoch.load(Ordering::Acquire) != epoch {
            return;
        }
        match &lookup {
            Lookup::Known(known) => {
                e.digest_of_token.insert(known.token.id.clone(), digest);
            }
            Lookup::Unknown => {
                if e.unknown >= MAX_UNKNOWN {
                    e.by_digest.retain(|_, l| matches!(l, Lookup::Known(_)));
                    e.unknown = 0;
                }
                e.unknown += 1;
            }
        }
        if let Some(Lookup::Unknown) = e.by_digest.insert(digest, lookup) {
            e.unknown -= 1;
        }
    }

    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).by_digest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ChangeListener for TokenCache {
    fn changed(&self, change: &Change) {
        let mut e = self.entries.write().unwrap_or_else(|p| p.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let digest = match change {
            Change::Token(id) => e.digest_of_token.remove(id),
            Change::Digest(hex) => SecretDigest(hex.clone()).to_bytes(),
        };
        if let Some(digest) = digest {
            match e.by_digest.remove(&digest) {
                Some(Lookup::Unknown) => e.unknown -= 1,
                Some(Lookup::Known(known)) => {
                    e.digest_of_token.remove(&known.token.id);
                }
                None => {}
            }
        }
    }

    fn missed_changes(&self) {
        let mut e = self.entries.write().unwrap_or_else(|p| p.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        *e = Entries::default();
    }

    fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn token(id: &str) -> Arc<Known> {
        let token = GatewayToken {
            id: id.into(),
            registry_username: "u".into(),
            project_key: "p".into(),
            kind: tollgate_model::TokenKind::User,
            products: vec![],
            expires_at: Utc::now(),
            issued_at: Utc::now(),
        };
        Arc::new(Known {
            token,
            introspection: Default::default(),
        })
    }

    fn cache() -> TokenCache {
        let c = TokenCache::new(Arc::new(Metrics::new()));
        c.set_connected(true);
        c
    }

    #[test]
    fn a_token_change_forgets_its_digest() {
        let c = cache();
        c.insert(c.epoch(), [1; 32], Lookup::Known(token("a")));
        assert!(c.get(&[1; 32]).is_some());
        c.changed(&Change::Token("a".into()));
        assert!(c.get(&[1; 32]).is_none());
    }

    #[test]
    fn a_lookup_that_raced_an_invalidation_is_not_cached() {
        let c = cache();
        let epoch = c.epoch();
        c.changed(&Change::Token("a".into()));
        c.insert(epoch, [1; 32], Lookup::Known(token("a")));
        assert!(c.get(&[1; 32]).is_none());
    }

    #[test]
    fn a_new_digest_forgets_that_it_was_unknown() {
        let c = cache();
        let digest = tollgate_store::secret::digest("x");
        let bytes = digest.to_bytes().unwrap();
        c.insert(c.epoch(), bytes, Lookup::Unknown);
        c.changed(&Change::Digest(digest.0));
        assert!(c.get(&bytes).is_none());
    }

    #[test]
    fn nothing_is_cached_while_disconnected_and_everything_is_forgotten_on_a_gap() {
        let c = cache();
        c.insert(c.epoch(), [1; 32], Lookup::Unknown);
        c.missed_changes();
        assert!(c.is_empty());
        c.set_connected(false);
        c.insert(c.epoch(), [2; 32], Lookup::Unknown);
        assert!(c.get(&[2; 32]).is_none());
        assert!(c.is_empty());
    }

    #[test]
    fn unknown_digests_are_bounded() {
        let c = cache();
        c.insert(c.epoch(), [0; 32], Lookup::Known(token("keep")));
        for n in 0..(MAX_UNKNOWN as u32 + 10) {
            let mut d = [9u8; 32];
            d[..4].copy_from_slice(&n.to_be_bytes());
            c.insert(c.epoch(), d, Lookup::Unknown);
        }
        assert!(c.len() <= MAX_UNKNOWN + 1);
        assert!(c.get(&[0; 32]).is_some(), "known tokens survive");
    }
}
