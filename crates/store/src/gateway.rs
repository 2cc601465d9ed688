//! What the registry gateway's hot path needs from storage: a token by its secret digest,
//! `last_used_at` updates in batches, and (PostgreSQL) change notifications between nodes.

use crate::notify::{ChangeListener, CHANNEL};
use crate::schema::{projects, retired_secrets, subscription_products, token_products, token_usage, tokens};
use crate::secret::SecretDigest;
use crate::{utc, DbConn, Result, Store};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use tollgate_model::{expires_at, TokenKind};

/// How far a token's recorded last use may lag behind its uses from the same address: within
/// it, a use only adds to the day's pulls and leaves its row of `token_last_use` as it is (as
/// GitLab keeps `last_used_at` to ten minutes). A token pulled all the time is then rewritten
/// once a minute instead of at every flush. A use from another address is recorded at once.
pub const LAST_USE_PRECISION: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// A token's uses since the last batch: the newest, from where, and how many.
#[derive(Debug, Clone)]
pub struct Use {
    pub token_id: String,
    pub at: DateTime<Utc>,
    pub from: Option<String>,
    pub uses: u64,
}

/// A token as the gateway sees it: who it is, what it may pull, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayToken {
    pub id: String,
    pub registry_username: String,
    pub project_key: String,
    pub kind: TokenKind,
    /// Product codes, sorted: the registry namespaces the token may pull from.
    pub products: Vec<String>,
    pub expires_at: DateTime<Utc>,
    /// When the current secret was issued.
    pub issued_at: DateTime<Utc>,
    /// When the current secret was reported leaked and revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token's row joined to one of its products that the subscription has (none: `None`).
type DigestRow = (
    String,
    String,
    String,
    String,
    String,
    chrono::NaiveDate,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<chrono::NaiveDate>,
    Option<String>,
);

/// Why a secret that once worked no longer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retired {
    /// Its token's secret was re-generated.
    Regenerated,
    /// Its token was deleted.
    Deleted,
}

impl Retired {
    pub fn as_str(self) -> &'static str {
        match self {
            Retired::Regenerated => "regenerated",
            Retired::Deleted => "deleted",
        }
    }
}

/// What a secret's digest names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretLookup {
    Token(GatewayToken),
    Retired(Retired),
    Unknown,
}

/// A change to tokens that caches must hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The token's secret, products or existence changed: forget what is cached for it.
    Token(String),
    /// A digest now belongs to a token: forget that it was unknown.
    Digest(SecretDigest),
    /// The subscription of the project with this key changed: forget its tokens.
    Project(String),
}

impl Change {
    /// `<node> <kind>:<value>`: the node that made the change, so that it can skip its own.
    fn payload(&self, node: &str) -> String {
        match self {
            Change::Token(id) => format!("{node} token:{id}"),
            Change::Digest(d) => format!("{node} digest:{}", d.hex()),
            Change::Project(key) => format!("{node} project:{key}"),
        }
    }

    pub(crate) fn parse(payload: &str) -> Option<(&str, Change)> {
        let (node, change) = payload.split_once(' ')?;
        let change = match change.split_once(':')? {
            ("token", id) => Change::Token(id.to_owned()),
            ("digest", d) => Change::Digest(SecretDigest::from_hex(d)?),
            ("project", key) => Change::Project(key.to_owned()),
            _ => return None,
        };
        Some((node, change))
    }
}

/// Tells other nodes about a change, delivered when the transaction commits (PostgreSQL only;
/// SQLite has a single node).
pub(crate) fn publish(c: &mut DbConn, node: &str, change: &Change) -> Result<()> {
    if let DbConn::Pg(_) = c {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<diesel::sql_types::Text, _>(CHANNEL)
            .bind::<diesel::sql_types::Text, _>(change.payload(node))
            .execute(c)?;
    }
    Ok(())
}

impl Store {
    /// What each digest names, in the same order: a statement for the tokens (with their
    /// products, each as of one moment) and one for the digests that name none, however many
    /// digests. A gateway's cache misses that arrive together are looked up together.
    pub fn tokens_by_digests(&self, digests: &[SecretDigest]) -> Result<Vec<SecretLookup>> {
        self.query(|c| lookups(c, digests))
    }

    /// SQLite: [`Store::tokens_by_digests`] on the caller's thread, when a pooled connection is
    /// idle at this moment (`None` when none is, and on PostgreSQL, whose answer is a round trip
    /// away). A point lookup in the process costs a few page reads: less than handing it to a
    /// lookup thread and waking the caller again. A WAL reader waits for no writer.
    pub fn tokens_by_digests_now(&self, digests: &[SecretDigest]) -> Option<Result<Vec<SecretLookup>>> {
        if self.backend() != crate::Backend::Sqlite {
            return None;
        }
        self.query_now(|c| lookups(c, digests))
    }

    /// The token with this id as the gateway sees it (a refresh token names its token).
    pub fn gateway_token_by_id(&self, id: &str) -> Result<Option<GatewayToken>> {
        if !crate::is_id(id) {
            return Ok(None);
        }
        Ok(self
            .query(|c| gateway_tokens(c, By::Id(id)))?
            .pop()
            .map(|(_, token)| token))
    }

    /// Records tokens' uses in one transaction: when each was last used and from where (a
    /// time never moves backwards), and its uses of that day. A token deleted meanwhile is
    /// skipped. Two uses of one token (an entry evicted from the cache and looked up again
    /// within a flush) count as one: the later time, the sum of uses.
    pub fn record_usage(&self, uses: &[Use]) -> Result<()> {
        // In order of token ids, on references: no copy of every use (a flush at 20,000
        // misses a second holds about a hundred thousand), only of the few merged.
        let mut in_order: Vec<&Use> = uses.iter().collect();
        in_order.sort_unstable_by(|a, b| a.token_id.cmp(&b.token_id));
        let merged: Vec<Cow<'_, Use>> = in_order
            .chunk_by(|a, b| a.token_id == b.token_id)
            .filter_map(|run| match run {
                [one] => Some(Cow::Borrowed(*one)),
                _ => {
                    let latest = run.iter().max_by_key(|u| u.at)?;
                    Some(Cow::Owned(Use {
                        token_id: latest.token_id.clone(),
                        at: latest.at,
                        from: latest.from.clone(),
                        uses: run.iter().map(|u| u.uses).sum(),
                    }))
                }
            })
            .collect();
        let uses: Vec<&Use> = merged.iter().map(|u| u.as_ref()).collect();
        if uses.is_empty() {
            return Ok(());
        }
        self.write(|c| match c {
            DbConn::Pg(pg) => record_usage_pg(pg, &uses),
            DbConn::Sqlite(sqlite) => record_usage_sqlite(sqlite, &uses),
        })
    }

    /// Deletes uses per day from before `first_kept`, a batch at a time so that no lock is
    /// held long; returns how many rows went. Each batch starts after the last one's final
    /// row (index `token_usage_day` on day and token): with PostgreSQL, the rows already
    /// deleted stay in the index until a vacuum, and a batch read from the start would step
    /// over all of them again.
    pub fn prune_usage(&self, first_kept: chrono::NaiveDate) -> Result<usize> {
        let mut total = 0;
        let mut after: Option<(chrono::NaiveDate, String)> = None;
        loop {
            // Read first: most rounds find nothing, and then take no write lock.
            let batch: Vec<(String, chrono::NaiveDate)> = self.read(|c| {
                let mut query = token_usage::table
                    .filter(token_usage::day.lt(first_kept))
                    .select((token_usage::token_id, token_usage::day))
                    .order((token_usage::day, token_usage::token_id))
                    .limit(1000)
                    .into_boxed();
                if let Some((day, id)) = &after {
                    query = query.filter(
                        token_usage::day
                            .gt(*day)
                            .or(token_usage::day.eq(*day).and(token_usage::token_id.gt(id.clone()))),
                    );
                }
                Ok(query.load(c)?)
            })?;
            let Some((last_id, last_day)) = batch.last().cloned() else {
                return Ok(total);
            };
            self.write(|c| {
                for (id, day) in &batch {
                    diesel::delete(token_usage::table.find((id, day))).execute(c)?;
                }
                Ok(())
            })?;
            total += batch.len();
            if batch.len() < 1000 {
                return Ok(total);
            }
            after = Some((last_day, last_id));
        }
    }

    /// Registers the listener of token changes: called after each committed change on this
    /// node and, with PostgreSQL, for every other node's changes through `LISTEN/NOTIFY`.
    pub fn set_change_listener(&self, listener: Arc<dyn ChangeListener>) {
        if self.listener.set(listener.clone()).is_err() {
            tracing::warn!("a change listener was already registered");
            return;
        }
        match &self.url {
            Some(url) if self.backend() == crate::Backend::Postgres => {
                crate::notify::spawn(url.clone(), self.node.clone(), Arc::downgrade(&listener));
            }
            _ => {
                listener.single_node();
                self.watch_other_writers(Arc::downgrade(&listener));
            }
        }
    }

    /// SQLite has one serving node, but other processes may write (`tollgate project put` on
    /// the host): every 150 ms, a change in the count of writes by others makes the listener
    /// forget everything, well within the promised second.
    fn watch_other_writers(&self, listener: std::sync::Weak<dyn ChangeListener>) {
        if let Err(e) = self.count_own_writes() {
            tracing::warn!(error = %e, "cannot count this process' writes to the SQLite database");
        }
        let store = self.clone();
        let spawned = std::thread::Builder::new()
            .name("tollgate-sqlite-watch".into())
            .spawn(move || {
                let mut seen = store.others_writes().ok();
                loop {
                    std::thread::sleep(std::time::Duration::from_millis(150));
                    let Some(listener) = listener.upgrade() else { return };
                    let Ok(others) = store.others_writes() else { continue };
                    if seen != Some(others) {
                        listener.missed_changes();
                        seen = Some(others);
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot watch for other writers of the SQLite database");
        }
    }

    /// Tells the listener of this node about committed changes.
    pub(crate) fn announce(&self, changes: &[Change]) {
        if let Some(listener) = self.listener.get() {
            for change in changes {
                listener.changed(change);
            }
        }
    }
}

/// What each digest names, in the same order (see [`Store::tokens_by_digests`]).
fn lookups(c: &mut DbConn, digests: &[SecretDigest]) -> Result<Vec<SecretLookup>> {
    let hexes: Vec<String> = digests.iter().map(SecretDigest::hex).collect();
    let found: HashMap<String, GatewayToken> = match c {
        // In the process, a statement costs no round trip: the one kept prepared for a
        // single digest, once for each (an IN list of the batch's length would be
        // parsed and planned anew).
        DbConn::Sqlite(_) => {
            let mut found = HashMap::new();
            for hex in &hexes {
                found.extend(gateway_tokens(c, By::Digests(std::slice::from_ref(hex)))?);
            }
            found
        }
        DbConn::Pg(_) => gateway_tokens(c, By::Digests(&hexes))?.into_iter().collect(),
    };
    let missing: Vec<&String> = hexes.iter().filter(|h| !found.contains_key(*h)).collect();
    let retired: HashMap<String, String> = if missing.is_empty() {
        HashMap::new()
    } else {
        retired_secrets::table
            .filter(retired_secrets::digest.eq_any(&missing))
            .select((retired_secrets::digest, retired_secrets::reason))
            .load(c)?
            .into_iter()
            .collect()
    };
    // One digest may be asked for twice in a batch (two callers missing it at once):
    // each gets the answer.
    Ok(hexes
        .iter()
        .map(|hex| match found.get(hex).cloned() {
            Some(token) => SecretLookup::Token(token),
            None => match retired.get(hex).map(String::as_str) {
                Some("regenerated") => SecretLookup::Retired(Retired::Regenerated),
                Some(_) => SecretLookup::Retired(Retired::Deleted),
                None => SecretLookup::Unknown,
            },
        })
        .collect())
}

/// PostgreSQL: a thousand tokens per statement (arrays unnested), the days' counts added by
/// an upsert, so that two nodes adding to the same day never collide.
fn record_usage_pg(c: &mut diesel::PgConnection, uses: &[&Use]) -> Result<()> {
    use diesel::sql_types::{Array, BigInt, Date, Nullable, Text, Timestamp};
    for chunk in uses.chunks(1000) {
        let ids: Vec<&str> = chunk.iter().map(|u| u.token_id.as_str()).collect();
        let ats: Vec<NaiveDateTime> = chunk.iter().map(|u| u.at.naive_utc()).collect();
        let froms: Vec<Option<&str>> = chunk.iter().map(|u| u.from.as_deref()).collect();
        let days: Vec<chrono::NaiveDate> = ats.iter().map(NaiveDateTime::date).collect();
        let pulls: Vec<i64> = chunk
            .iter()
            .map(|u| i64::try_from(u.uses).unwrap_or(i64::MAX))
            .collect();
        // The tokens still there, held (`FOR KEY SHARE`, in id order) until the commit, before
        // any usage row is written: a deletion of one of them waits for this transaction, and
        // one already under way is waited for and then skipped. Without it, a deletion
        // committing meanwhile failed the whole batch on the foreign key, or deadlocked with it
        // (the deletion holding the token and cascading to its usage rows, this transaction
        // holding those rows and checking the token): one side answered 500.
        tokens::table
            .filter(tokens::id.eq_any(&ids))
            .order(tokens::id)
            .select(tokens::id)
            .for_key_share()
            .load::<String>(c)?;
        // A token deleted meanwhile has no row in tokens (`WHERE EXISTS`); the update's
        // `WHERE`: a time never moves backwards, and one address within the minute is kept.
        diesel::sql_query(
            "INSERT INTO token_last_use AS l (token_id, used_at, used_from) \
             SELECT u.id, u.at, u.address FROM unnest($1, $2, $3) AS u (id, at, address) \
             WHERE EXISTS (SELECT 1 FROM tokens t WHERE t.id = u.id) \
             ON CONFLICT (token_id) DO UPDATE SET used_at = excluded.used_at, used_from = excluded.used_from \
             WHERE l.used_at < excluded.used_at - $4 \
               OR (l.used_at < excluded.used_at AND l.used_from IS DISTINCT FROM excluded.used_from)",
        )
        .bind::<Array<Text>, _>(&ids)
        .bind::<Array<Timestamp>, _>(&ats)
        .bind::<Array<Nullable<Text>>, _>(&froms)
        .bind::<diesel::sql_types::Interval, _>(diesel::pg::data_types::PgInterval::from_microseconds(
            LAST_USE_PRECISION.num_microseconds().unwrap_or(0),
        ))
        .execute(c)?;
        diesel::sql_query(
            "INSERT INTO token_usage (token_id, day, pulls) \
             SELECT u.id, u.day, u.pulls FROM unnest($1, $2, $3) AS u (id, day, pulls) \
             WHERE u.pulls > 0 AND EXISTS (SELECT 1 FROM tokens t WHERE t.id = u.id) \
             ON CONFLICT (token_id, day) DO UPDATE SET pulls = token_usage.pulls + excluded.pulls",
        )
        .bind::<Array<Text>, _>(&ids)
        .bind::<Array<Date>, _>(&days)
        .bind::<Array<BigInt>, _>(&pulls)
        .execute(c)?;
    }
    Ok(())
}

/// SQLite: a thousand tokens per statement too, in the order of their ids (time-ordered as
/// the rows were written, so that neighbours share pages), each chunk handed over as one JSON
/// array read by `json_each`. Diesel prepares an `UPDATE` and a raw statement anew on every
/// execution (a parse and a plan each): statement by statement, that was most of the writer's
/// time. Times are the text diesel writes for a timestamp (`%F %T%.f`), so that they compare
/// with the stored ones as text.
fn record_usage_sqlite(c: &mut diesel::SqliteConnection, uses: &[&Use]) -> Result<()> {
    use diesel::sql_types::Text;
    const STAMP: &str = "%F %T%.f";
    for chunk in uses.chunks(1000) {
        let rows: Vec<serde_json::Value> = chunk
            .iter()
            .map(|u| {
                let at = u.at.naive_utc();
                serde_json::json!([
                    u.token_id,
                    at.format(STAMP).to_string(),
                    (at - LAST_USE_PRECISION).format(STAMP).to_string(),
                    u.from,
                    at.date().format("%F").to_string(),
                    i64::try_from(u.uses).unwrap_or(i64::MAX),
                ])
            })
            .collect();
        let batch = serde_json::Value::Array(rows).to_string();
        // A token deleted meanwhile has no row in tokens; a recorded use is overwritten only
        // by a later one, and from the same address only a minute later (`IS NOT`: NULL and
        // an address differ, two NULLs do not).
        diesel::sql_query(
            "INSERT INTO token_last_use (token_id, used_at, used_from) \
             SELECT u.value ->> 0, u.value ->> 1, u.value ->> 3 FROM json_each(?1) AS u \
             WHERE EXISTS (SELECT 1 FROM tokens WHERE id = u.value ->> 0) \
               AND NOT EXISTS (SELECT 1 FROM token_last_use AS l WHERE l.token_id = u.value ->> 0 \
                 AND l.used_at >= u.value ->> 2 \
                 AND (l.used_at >= u.value ->> 1 OR l.used_from IS u.value ->> 3)) \
             ON CONFLICT (token_id) DO UPDATE SET used_at = excluded.used_at, used_from = excluded.used_from",
        )
        .bind::<Text, _>(&batch)
        .execute(c)?;
        // `WHERE`, as SQLite asks of an upsert's `SELECT`: it also skips a token deleted
        // meanwhile.
        diesel::sql_query(
            "INSERT INTO token_usage (token_id, day, pulls) \
             SELECT value ->> 0, value ->> 4, value ->> 5 FROM json_each(?1) \
             WHERE value ->> 5 > 0 AND EXISTS (SELECT 1 FROM tokens WHERE id = value ->> 0) \
             ON CONFLICT (token_id, day) DO UPDATE SET pulls = pulls + excluded.pulls",
        )
        .bind::<Text, _>(&batch)
        .execute(c)?;
    }
    Ok(())
}

/// Which tokens [`gateway_tokens`] looks for.
enum By<'a> {
    Digests(&'a [String]),
    Id(&'a str),
}

/// The tokens found `by` their digests or id, with their products, each as of one moment, and
/// the digest of each: one statement (a row per product a token has, joined to the
/// subscription's), so that a cache miss costs one round trip and no transaction.
fn gateway_tokens(c: &mut DbConn, by: By<'_>) -> Result<Vec<(String, GatewayToken)>> {
    // Not boxed: a query of a static type is prepared once per connection and kept (diesel
    // re-prepares a boxed one on SQLite, a parse and a plan on every miss).
    macro_rules! lookup {
        ($filter:expr) => {
            tokens::table
                .inner_join(projects::table.on(projects::id.eq(tokens::project_id)))
                .left_join(token_products::table.on(token_products::token_id.eq(tokens::id)))
                // Its products that the subscription still has: the truth is read here,
                // whatever a change racing the subscription's left in the token's own list.
                .left_join(
                    subscription_products::table.on(subscription_products::project_id
                        .eq(tokens::project_id)
                        .and(subscription_products::product_code.eq(token_products::product_code))),
                )
                .filter($filter)
                .select((
                    tokens::secret_digest,
                    tokens::id,
                    tokens::registry_username,
                    projects::key,
                    tokens::kind,
                    projects::subscription_end_date,
                    tokens::created_at,
                    tokens::secret_regenerated_at,
                    tokens::revoked_at,
                    tokens::expires_on,
                    subscription_products::product_code.nullable(),
                ))
                // In the order of the token's own products (the same order for those the
                // subscription has): SQLite reads them so from the index, with no sort.
                .order((tokens::id, token_products::product_code.nullable()))
        };
    }
    // On the backend's own connection: through the enum of both, a query has no type of its
    // own to be cached by, and diesel wrote out its SQL on every call to find the cached
    // statement (a sixth of a SQLite miss).
    macro_rules! load {
        ($query:expr) => {
            match c {
                DbConn::Sqlite(s) => $query.load::<DigestRow>(s)?,
                DbConn::Pg(p) => $query.load::<DigestRow>(p)?,
            }
        };
    }
    let rows = match by {
        By::Digests([one]) => load!(lookup!(tokens::secret_digest.eq(one))),
        By::Digests(many) => load!(lookup!(tokens::secret_digest.eq_any(many))),
        By::Id(id) => load!(lookup!(tokens::id.eq(id))),
    };
    let mut out: Vec<(String, GatewayToken)> = Vec::new();
    for row in rows {
        let (
            digest,
            id,
            registry_username,
            project_key,
            kind,
            end_date,
            created_at,
            regenerated_at,
            revoked_at,
            own_end,
            product,
        ) = row;
        match out.last_mut() {
            Some((_, token)) if token.id == id => token.products.extend(product),
            _ => out.push((
                digest,
                GatewayToken {
                    id,
                    registry_username,
                    project_key,
                    kind: TokenKind::parse(&kind).unwrap_or_default(),
                    products: product.into_iter().collect(),
                    // The subscription's end, or the token's own last day when it comes first.
                    expires_at: expires_at(tollgate_model::last_day(end_date, own_end)),
                    issued_at: utc(regenerated_at.unwrap_or(created_at)),
                    revoked_at: revoked_at.map(utc),
                },
            )),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::Change;

    #[test]
    fn changes_survive_the_notification_payload() {
        let digest = crate::secret::digest("tgr_x");
        for change in [
            Change::Token("01a2-x".into()),
            Change::Digest(digest),
            Change::Project("acme".into()),
        ] {
            assert_eq!(Change::parse(&change.payload("n1")), Some(("n1", change)));
        }
        assert_eq!(Change::parse("nonsense"), None);
    }
}
