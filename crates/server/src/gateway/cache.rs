//! The in-memory cache of secret lookups (valid and unknown digests) that keeps the
//! gateway's hot path off the database. It forgets an entry the moment its token changes,
//! and trusts itself only while the notification connection keeps confirming that it has
//! heard every change: past [`TRUST`] without a confirmation, every lookup goes to the
//! database. It holds at most a set number of valid tokens: when full, it forgets the oldest
//! that were not looked up since the clock hand last passed them (CLOCK, a second chance), so
//! the hot set stays.

use crate::metrics::Metrics;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tollgate_store::secret::SecretDigest;
use tollgate_store::{Change, ChangeListener, GatewayToken, RetiredSecret};

/// Unknown digests kept at most; past that they are forgotten all at once, so that a flood of
/// made-up secrets cannot grow the cache without bound.
const MAX_UNKNOWN: usize = 100_000;

/// How long one confirmation that every change was heard keeps the cache trusted. Below the
/// promised second: a change committed more than a second ago was heard by then, or the
/// cache is not used.
pub const TRUST: Duration = Duration::from_millis(750);

#[derive(Clone)]
pub enum Lookup {
    Known(Arc<Known>),
    /// No token has this secret; `Some` when one had it, and why it no longer works.
    Unknown(Option<RetiredSecret>),
}

/// A valid token, with its introspection answer serialized once.
pub struct Known {
    pub token: GatewayToken,
    pub introspection: actix_web::web::Bytes,
    pub last_use: Arc<super::usage::LastUse>,
}

/// The default bound on valid tokens held (about 1.6 KB each).
pub const DEFAULT_MAX_TOKENS: usize = 100_000;

/// A cached answer, and whether it was looked up since the last sweep.
struct Entry {
    lookup: Lookup,
    referenced: AtomicBool,
}

#[derive(Default)]
struct Entries {
    by_digest: HashMap<SecretDigest, Entry>,
    /// The one digest cached for each token: a token has one secret at a time.
    digest_of_token: HashMap<String, SecretDigest>,
    unknown: usize,
    known: usize,
    /// Valid tokens' digests, oldest first: the clock's round. Digests of entries gone since
    /// are skipped when they come round, and dropped when they outnumber the live ones.
    order: VecDeque<SecretDigest>,
}

impl Entries {
    fn remove(&mut self, digest: &SecretDigest) {
        match self.by_digest.remove(digest).map(|e| e.lookup) {
            Some(Lookup::Unknown(_)) => self.unknown -= 1,
            Some(Lookup::Known(known)) => {
                self.known -= 1;
                if self.digest_of_token.get(&known.token.id) == Some(digest) {
                    self.digest_of_token.remove(&known.token.id);
                }
            }
            None => {}
        }
    }

    /// Forgets `want` valid tokens: round the clock from the oldest, a token looked up since
    /// the hand last passed goes round once more (its mark cleared), any other goes.
    fn evict_cold(&mut self, want: usize) {
        let mut gone = 0;
        // Two rounds at most: after one, every mark is clear.
        let mut steps = 2 * self.order.len();
        while gone < want && steps > 0 {
            steps -= 1;
            let Some(digest) = self.order.pop_front() else { break };
            match self.by_digest.get(&digest) {
                Some(entry) if matches!(entry.lookup, Lookup::Known(_)) => {
                    if entry.referenced.swap(false, Ordering::Relaxed) {
                        self.order.push_back(digest);
                    } else {
                        self.remove(&digest);
                        gone += 1;
                    }
                }
                // Gone since, or now an unknown digest: not on the clock any more.
                _ => {}
            }
        }
    }

    /// Puts a valid token's digest on the clock, dropping the round's dead digests when they
    /// outnumber the live ones.
    fn enqueue(&mut self, digest: SecretDigest) {
        self.order.push_back(digest);
        if self.order.len() > 2 * self.known + 1024 {
            let by_digest = &self.by_digest;
            self.order
                .retain(|d| by_digest.get(d).is_some_and(|e| matches!(e.lookup, Lookup::Known(_))));
        }
    }
}

pub struct TokenCache {
    entries: RwLock<Entries>,
    /// Bumped by every invalidation, so that a lookup that raced with one is not cached.
    epoch: AtomicU64,
    /// When the last confirmed heartbeat was sent: every change committed before it has been
    /// applied here. Nanoseconds since `origin`; 0 before the first.
    confirmed: AtomicU64,
    origin: Instant,
    /// One node on SQLite: every change is this node's own and heard as it commits.
    single_node: AtomicBool,
    /// Valid tokens held at most.
    max_tokens: usize,
    metrics: Arc<Metrics>,
    /// When the log last said that the cache is not trusted (nanoseconds since `origin`; 0:
    /// never): at most once a minute.
    untrusted_said: AtomicU64,
}

/// How often the log says again that the cache is bypassed.
const UNTRUSTED_LOG_EVERY: Duration = Duration::from_secs(60);

impl TokenCache {
    pub fn new(metrics: Arc<Metrics>) -> TokenCache {
        TokenCache::bounded(metrics, DEFAULT_MAX_TOKENS)
    }

    /// A cache of at most `max_tokens` valid tokens (and up to [`MAX_UNKNOWN`] unknown digests).
    pub fn bounded(metrics: Arc<Metrics>, max_tokens: usize) -> TokenCache {
        TokenCache {
            entries: RwLock::default(),
            epoch: AtomicU64::new(0),
            confirmed: AtomicU64::new(0),
            origin: Instant::now(),
            single_node: AtomicBool::new(false),
            max_tokens: max_tokens.max(1),
            metrics,
            untrusted_said: AtomicU64::new(0),
        }
    }

    /// Logs, at most once a minute, that lookups go to the database because changes of other
    /// nodes may not have been heard (the notification connection is down or behind).
    fn say_untrusted(&self) {
        let now = (self.origin.elapsed().as_nanos() as u64).max(1);
        let said = self.untrusted_said.load(Ordering::Relaxed);
        let due = said == 0 || now.saturating_sub(said) >= UNTRUSTED_LOG_EVERY.as_nanos() as u64;
        if due
            && self
                .untrusted_said
                .compare_exchange(said, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                "the token cache is not trusted (the notification connection has not confirmed every change \
                 lately): every lookup goes to the database; see tollgate_cache_trusted"
            );
        }
    }

    /// Whether every change committed more than [`TRUST`] ago has been heard.
    pub fn trusted(&self) -> bool {
        if self.single_node.load(Ordering::Acquire) {
            return true;
        }
        let confirmed = self.confirmed.load(Ordering::Acquire);
        confirmed != 0 && self.origin.elapsed().as_nanos() as u64 <= confirmed + TRUST.as_nanos() as u64
    }

    pub fn get(&self, digest: &SecretDigest) -> Option<Lookup> {
        if !self.trusted() {
            self.count(false);
            self.say_untrusted();
            return None;
        }
        let found = self
            .entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .by_digest
            .get(digest)
            .map(|entry| {
                // Only a store of a flag, under the shared lock: the hot path stays a read.
                if !entry.referenced.load(Ordering::Relaxed) {
                    entry.referenced.store(true, Ordering::Relaxed);
                }
                entry.lookup.clone()
            });
        self.count(found.is_some());
        found
    }

    fn count(&self, hit: bool) {
        self.metrics.cache_lookup(hit);
    }

    /// The epoch to pass to `insert` for a database lookup that starts now.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Caches a database answer unless an invalidation happened since `epoch`. A valid
    /// token's digest replaces any other digest cached for the same token: that one was its
    /// previous secret, whose change this node may not have heard of yet.
    pub fn insert(&self, epoch: u64, digest: SecretDigest, lookup: Lookup) {
        if !self.trusted() {
            return;
        }
        let mut e = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if self.epoch.load(Ordering::Acquire) != epoch {
            return;
        }
        e.remove(&digest);
        match &lookup {
            Lookup::Known(known) => {
                if let Some(previous) = e.digest_of_token.get(&known.token.id).copied() {
                    e.remove(&previous);
                }
                if e.known >= self.max_tokens {
                    // An eighth at a time: one sweep pays for many inserts.
                    e.evict_cold((self.max_tokens / 8).max(1));
                }
                e.digest_of_token.insert(known.token.id.clone(), digest);
                e.known += 1;
            }
            Lookup::Unknown(_) => {
                if e.unknown >= MAX_UNKNOWN {
                    e.by_digest.retain(|_, entry| matches!(entry.lookup, Lookup::Known(_)));
                    e.unknown = 0;
                }
                e.unknown += 1;
            }
        }
        let known = matches!(lookup, Lookup::Known(_));
        e.by_digest.insert(
            digest,
            Entry {
                lookup,
                referenced: AtomicBool::new(false),
            },
        );
        if known {
            e.enqueue(digest);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).by_digest.len()
    }

    /// Valid tokens held now.
    pub fn tokens(&self) -> usize {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).known
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
            Change::Token(id) => e.digest_of_token.get(id).copied(),
            Change::Digest(digest) => Some(*digest),
            Change::Project(key) => {
                // Rare (an operator changed a subscription): one pass over the cache.
                let of_project: Vec<SecretDigest> = e
                    .by_digest
                    .iter()
                    .filter_map(|(d, entry)| match &entry.lookup {
                        Lookup::Known(k) if k.token.project_key == *key => Some(*d),
                        _ => None,
                    })
                    .collect();
                for d in &of_project {
                    e.remove(d);
                }
                None
            }
        };
        if let Some(digest) = digest {
            e.remove(&digest);
        }
    }

    fn missed_changes(&self) {
        let mut e = self.entries.write().unwrap_or_else(|p| p.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        *e = Entries::default();
    }

    fn confirmed(&self, at: Instant) {
        let at = at.saturating_duration_since(self.origin).as_nanos() as u64;
        self.confirmed.fetch_max(at.max(1), Ordering::AcqRel);
    }

    fn single_node(&self) {
        self.single_node.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn token(id: &str) -> Arc<Known> {
        known(GatewayToken {
            id: id.into(),
            registry_username: "u".into(),
            project_key: "p".into(),
            kind: tollgate_model::TokenKind::User,
            products: vec![],
            expires_at: Utc::now(),
            issued_at: Utc::now(),
            revoked_at: None,
        })
    }

    fn known(token: GatewayToken) -> Arc<Known> {
        Arc::new(Known {
            last_use: crate::gateway::usage::LastUse::new(&token.id),
            token,
            introspection: Default::default(),
        })
    }

    /// A made-up digest, one for each `n`.
    fn d(n: u8) -> SecretDigest {
        tollgate_store::secret::digest(&n.to_string())
    }

    /// A cache that is always current (one node), so that only the lease's own test
    /// depends on the clock.
    fn cache() -> TokenCache {
        let c = TokenCache::new(Arc::new(Metrics::new()));
        c.single_node();
        c
    }

    #[test]
    fn a_token_change_forgets_its_digest() {
        let c = cache();
        c.insert(c.epoch(), d(1), Lookup::Known(token("a")));
        assert!(c.get(&d(1)).is_some());
        c.changed(&Change::Token("a".into()));
        assert!(c.get(&d(1)).is_none());
    }

    #[test]
    fn a_lookup_that_raced_an_invalidation_is_not_cached() {
        let c = cache();
        let epoch = c.epoch();
        c.changed(&Change::Token("a".into()));
        c.insert(epoch, d(1), Lookup::Known(token("a")));
        assert!(c.get(&d(1)).is_none());
    }

    #[test]
    fn a_new_digest_forgets_that_it_was_unknown() {
        let c = cache();
        let digest = tollgate_store::secret::digest("x");
        c.insert(c.epoch(), digest, Lookup::Unknown(None));
        c.changed(&Change::Digest(digest));
        assert!(c.get(&digest).is_none());
    }

    #[test]
    fn a_subscription_change_forgets_the_projects_tokens_only() {
        let c = cache();
        let mut other = token("b").token.clone();
        other.project_key = "q".into();
        c.insert(c.epoch(), d(1), Lookup::Known(token("a")));
        c.insert(c.epoch(), d(2), Lookup::Known(known(other)));
        c.changed(&Change::Project("p".into()));
        assert!(c.get(&d(1)).is_none());
        assert!(c.get(&d(2)).is_some());
    }

    #[test]
    fn a_cache_without_a_recent_confirmation_is_not_used() {
        let c = TokenCache::new(Arc::new(Metrics::new()));
        assert!(!c.trusted(), "nothing is trusted before the first confirmation");
        c.confirmed(Instant::now());
        c.insert(c.epoch(), d(1), Lookup::Unknown(None));
        assert!(c.get(&d(1)).is_some());
        std::thread::sleep(TRUST + Duration::from_millis(50));
        assert!(c.get(&d(1)).is_none(), "no confirmation for longer than TRUST");
        c.insert(c.epoch(), d(2), Lookup::Unknown(None));
        c.confirmed(Instant::now());
        assert!(c.get(&d(2)).is_none(), "nothing was cached while untrusted");
        assert!(c.get(&d(1)).is_some());
        c.missed_changes();
        assert!(c.is_empty());
    }

    #[test]
    fn caching_a_new_secret_forgets_the_previous_one_of_the_same_token() {
        let c = cache();
        c.insert(c.epoch(), d(1), Lookup::Known(token("a")));
        // The new secret is presented before this node hears of the re-generate.
        c.insert(c.epoch(), d(2), Lookup::Known(token("a")));
        assert!(c.get(&d(1)).is_none(), "the old secret is not served any more");
        c.changed(&Change::Token("a".into()));
        assert!(c.get(&d(2)).is_none(), "a later change still reaches the new one");
        assert!(c.is_empty());
    }

    #[test]
    fn an_old_answer_arriving_last_is_still_forgotten_by_the_change() {
        let c = cache();
        let epoch = c.epoch();
        c.insert(epoch, d(2), Lookup::Known(token("a")));
        c.insert(epoch, d(1), Lookup::Known(token("a")));
        c.changed(&Change::Token("a".into()));
        assert!(c.is_empty());
    }

    #[test]
    fn a_full_cache_forgets_cold_tokens_and_keeps_the_hot_ones() {
        let c = TokenCache::bounded(Arc::new(Metrics::new()), 16);
        c.single_node();
        let digest = |n: u32| tollgate_store::secret::digest(&format!("t{n}"));
        for n in 0..16 {
            c.insert(c.epoch(), digest(n), Lookup::Known(token(&format!("t{n}"))));
        }
        // The hot set: looked up again and again while new tokens keep coming.
        for n in 16..200 {
            for hot in 0..4 {
                assert!(c.get(&digest(hot)).is_some(), "hot token {hot} was forgotten at {n}");
            }
            c.insert(c.epoch(), digest(n), Lookup::Known(token(&format!("t{n}"))));
            assert!(c.tokens() <= 16, "{} tokens held", c.tokens());
        }
        assert!(c.get(&digest(5)).is_none(), "a cold token made room");
        assert!(c.get(&digest(199)).is_some(), "the newest is held");
        // A token's change still finds it after evictions.
        c.changed(&Change::Token("t0".into()));
        assert!(c.get(&digest(0)).is_none());
    }

    #[test]
    fn unknown_digests_are_bounded() {
        let c = cache();
        c.insert(c.epoch(), d(0), Lookup::Known(token("keep")));
        for n in 0..(MAX_UNKNOWN as u32 + 10) {
            c.insert(
                c.epoch(),
                tollgate_store::secret::digest(&format!("u{n}")),
                Lookup::Unknown(None),
            );
        }
        assert!(c.len() <= MAX_UNKNOWN + 1);
        assert!(c.get(&d(0)).is_some(), "known tokens survive");
    }
}
