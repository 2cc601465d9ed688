//! What the registry gateway's hot path needs from storage: a token by its secret digest,
//! `last_used_at` updates in batches, and (PostgreSQL) change notifications between nodes.

use crate::schema::{projects, retired_secrets, subscription_products, token_products, token_usage, tokens};
use crate::secret::SecretDigest;
use crate::{utc, DbConn, Result, Store};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use std::borrow::Cow;
use std::collections::HashMap;
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

/// What [`SqliteKeyLookup`] reads per token and product: as [`GatewayRow`], its times as
/// microseconds since the epoch, and without the digest (the one looked for).
#[derive(Queryable)]
struct KeyedRow {
    id: String,
    registry_username: String,
    project_key: String,
    kind: String,
    end_date: chrono::NaiveDate,
    issued_at: i64,
    revoked_at: Option<i64>,
    own_end: Option<chrono::NaiveDate>,
    caps: Caps,
    product: Option<String>,
}

/// The project's caps on tokens' lifetimes, in days from when a secret is issued (user
/// tokens', service tokens').
#[derive(Queryable, Clone, Copy)]
struct Caps {
    user: Option<i32>,
    service: Option<i32>,
}

/// A token's row joined to its project and to one of its products that the subscription has,
/// whichever way it was found: what the lookup by digests or id ([`gateway_tokens`]) reads,
/// and what [`tokens_of`] gathers.
#[derive(Queryable)]
struct GatewayRow {
    digest: String,
    id: String,
    registry_username: String,
    project_key: String,
    kind: String,
    end_date: chrono::NaiveDate,
    issued_at: NaiveDateTime,
    revoked_at: Option<NaiveDateTime>,
    own_end: Option<chrono::NaiveDate>,
    caps: Caps,
    product: Option<String>,
}

diesel::define_sql_function! {
    /// When a token's current secret was issued: re-generated, or else created.
    #[sql_name = "coalesce"]
    fn issued_at(regenerated: diesel::sql_types::Nullable<diesel::sql_types::Timestamp>, created: diesel::sql_types::Timestamp) -> diesel::sql_types::Timestamp;
}

/// SQLite: the token with this digest from `gateway_tokens`, the gateway's copy of its
/// columns that triggers keep in step (see that table's migrations): found by the digest's
/// first 60 bits, the table's rowid, and its whole digest. A row per product of the token that
/// the subscription has (one with `None` when it has none), in the order of the codes, as
/// [`KeyedRow`]s. None: the digest is not in the table (no token has it, or one whose digest
/// shares those bits with another's; see [`sqlite_token`]).
///
/// Written as SQL (a product is found in the token's list of codes with `instr`, which diesel's
/// query builder has no word for), with a type of its own: diesel keeps it prepared per
/// connection, as it does a built query (a `sql_query` is parsed and planned on every call).
struct SqliteKeyLookup<'a> {
    key: i64,
    digest: &'a str,
}

impl diesel::query_builder::QueryId for SqliteKeyLookup<'_> {
    type QueryId = SqliteKeyLookup<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for SqliteKeyLookup<'_> {
    type SqlType = (
        diesel::sql_types::Text,
        diesel::sql_types::Text,
        diesel::sql_types::Text,
        diesel::sql_types::Text,
        diesel::sql_types::Date,
        diesel::sql_types::BigInt,
        diesel::sql_types::Nullable<diesel::sql_types::BigInt>,
        diesel::sql_types::Nullable<diesel::sql_types::Date>,
        (
            diesel::sql_types::Nullable<diesel::sql_types::Integer>,
            diesel::sql_types::Nullable<diesel::sql_types::Integer>,
        ),
        diesel::sql_types::Nullable<diesel::sql_types::Text>,
    );
}

impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for SqliteKeyLookup<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        out.push_sql(
            "SELECT g.token_id, g.registry_username, p.key, g.kind, p.subscription_end_date, \
               g.issued_at, g.revoked_at, g.expires_on, p.max_token_days, p.max_service_token_days, \
               s.product_code \
             FROM gateway_tokens g JOIN projects p ON p.id = g.project_id \
             LEFT JOIN subscription_products s ON s.project_id = g.project_id \
               AND instr(g.products, ' ' || s.product_code || ' ') > 0 \
             WHERE g.key = ",
        );
        out.push_bind_param::<diesel::sql_types::BigInt, _>(&self.key)?;
        out.push_sql(" AND g.digest = ");
        out.push_bind_param::<diesel::sql_types::Text, _>(self.digest)?;
        out.push_sql(" ORDER BY s.product_code");
        Ok(())
    }
}

impl RunQueryDsl<diesel::SqliteConnection> for SqliteKeyLookup<'_> {}

/// SQLite: what the digest names, as [`gateway_tokens`] says it: from `gateway_tokens`, found
/// by its key ([`SecretDigest::gateway_key`], which the token's writer stored) and its whole
/// digest; when the table does not hold the digest, from tokens.
fn sqlite_token(c: &mut DbConn, digest: &SecretDigest) -> Result<Vec<(String, GatewayToken)>> {
    let hex = digest.hex();
    if let DbConn::Sqlite(s) = c {
        let rows = SqliteKeyLookup {
            key: digest.gateway_key(),
            digest: &hex,
        }
        .load::<KeyedRow>(s)?;
        if !rows.is_empty() {
            let at = |micros: i64| DateTime::from_timestamp_micros(micros).unwrap_or_default().naive_utc();
            return Ok(tokens_of(rows.into_iter().map(|r| GatewayRow {
                digest: hex.clone(),
                id: r.id,
                registry_username: r.registry_username,
                project_key: r.project_key,
                kind: r.kind,
                end_date: r.end_date,
                issued_at: at(r.issued_at),
                revoked_at: r.revoked_at.map(at),
                own_end: r.own_end,
                caps: r.caps,
                product: r.product,
            })));
        }
    }
    gateway_tokens(c, By::Digests(std::slice::from_ref(&hex)))
}

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

/// A secret that once worked: why it no longer does, and the registry username of its token
/// (none for secrets retired before that was kept), to whom alone the reason may be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredSecret {
    pub why: Retired,
    pub username: Option<String>,
}

/// What a secret's digest names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretLookup {
    Token(GatewayToken),
    Retired(RetiredSecret),
    Unknown,
}

impl Store {
    /// What each digest names, in the same order: a statement for the tokens (with their
    /// products, each as of one moment) and one for the digests that name none, however many
    /// digests. A gateway's cache misses that arrive together are looked up together.
    pub(crate) fn tokens_by_digests(&self, digests: &[SecretDigest]) -> Result<Vec<SecretLookup>> {
        self.query(|c| lookups(c, digests))
    }

    /// SQLite: [`Store::tokens_by_digests`] on the caller's thread, when a pooled connection is
    /// idle at this moment (`None` when none is, and on PostgreSQL, whose answer is a round trip
    /// away). A point lookup in the process costs a few page reads: less than handing it to a
    /// lookup thread and waking the caller again. A WAL reader waits for no writer. Several
    /// digests share one read transaction (its locks taken and given back once).
    pub(crate) fn tokens_by_digests_now(&self, digests: &[SecretDigest]) -> Option<Result<Vec<SecretLookup>>> {
        if self.backend() != crate::Backend::Sqlite {
            return None;
        }
        self.query_now(|c| match digests {
            [_] => lookups(c, digests),
            _ => c.transaction(|c| lookups(c, digests)),
        })
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
        self.write(|c, _| match c {
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
            self.write(|c, _| {
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
            for digest in digests {
                found.extend(sqlite_token(c, digest)?);
            }
            found
        }
        DbConn::Pg(_) => gateway_tokens(c, By::Digests(&hexes))?.into_iter().collect(),
    };
    let missing: Vec<&String> = hexes.iter().filter(|h| !found.contains_key(*h)).collect();
    let retired: HashMap<String, (String, Option<String>)> = if missing.is_empty() {
        HashMap::new()
    } else {
        retired_secrets::table
            .filter(retired_secrets::digest.eq_any(&missing))
            .select((
                retired_secrets::digest,
                retired_secrets::reason,
                retired_secrets::registry_username,
            ))
            .load::<(String, String, Option<String>)>(c)?
            .into_iter()
            .map(|(digest, reason, username)| (digest, (reason, username)))
            .collect()
    };
    // One digest may be asked for twice in a batch (two callers missing it at once):
    // each gets the answer.
    Ok(hexes
        .iter()
        .map(|hex| match found.get(hex).cloned() {
            Some(token) => SecretLookup::Token(token),
            None => match retired.get(hex) {
                Some((reason, username)) => SecretLookup::Retired(RetiredSecret {
                    why: match reason.as_str() {
                        "regenerated" => Retired::Regenerated,
                        _ => Retired::Deleted,
                    },
                    username: username.clone(),
                }),
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

/// SQLite: the flush's uses go into a temporary table (a thousand rows per `INSERT`, bound as
/// values), the tokens deleted meanwhile leave it, and two upserts read it in the order of the
/// token ids (time-ordered as the rows were written, so that neighbours share pages). Each
/// token costs one look into `tokens` and one into each usage table; the recorded last use is
/// kept by the upsert's own `WHERE` when it is newer, or within [`LAST_USE_PRECISION`] from
/// the same address. Before this, each chunk went over as a JSON array that each statement
/// read again, a token's fields parsed a dozen times and `tokens` looked into twice: the
/// writer took a seventh of a node's time at 25,000 misses a second.
///
/// A flush at thousands of misses a second rewrites thousands of pages of `token_last_use` and
/// `token_usage`: more than a connection's page cache holds (8 MB), and SQLite then wrote
/// pages to the WAL in the middle of the transaction, some of them again at the commit, and
/// read them back. The connection gets [`FLUSH_CACHE`] for the flush, and its own size back
/// before the commit, which then frees what is over.
fn record_usage_sqlite(c: &mut diesel::SqliteConnection, uses: &[&Use]) -> Result<()> {
    c.batch_execute(FLUSH_CACHE)?;
    let done = write_usage_sqlite(c, uses);
    c.batch_execute(crate::db::SQLITE_CACHE)?;
    done
}

/// The page cache of a connection writing a flush of usage (see [`record_usage_sqlite`]).
const FLUSH_CACHE: &str = "PRAGMA cache_size = -32768";

/// The SQLite writer's temporary table of a flush's uses, one row per token (the connection's
/// own, emptied at each flush).
mod flush {
    diesel::table! {
        usage_flush (token_id) {
            token_id -> Text,
            used_at -> Timestamp,
            used_from -> Nullable<Text>,
            day -> Date,
            pulls -> BigInt,
        }
    }
}

fn write_usage_sqlite(c: &mut diesel::SqliteConnection, uses: &[&Use]) -> Result<()> {
    use flush::usage_flush as f;
    c.batch_execute(
        "CREATE TEMP TABLE IF NOT EXISTS usage_flush (token_id TEXT NOT NULL, used_at TIMESTAMP NOT NULL, \
           used_from TEXT, day DATE NOT NULL, pulls INTEGER NOT NULL); \
         DELETE FROM temp.usage_flush;",
    )?;
    for chunk in uses.chunks(1000) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|u| {
                let at = u.at.naive_utc();
                (
                    f::token_id.eq(u.token_id.as_str()),
                    f::used_at.eq(at),
                    f::used_from.eq(u.from.as_deref()),
                    f::day.eq(at.date()),
                    f::pulls.eq(i64::try_from(u.uses).unwrap_or(i64::MAX)),
                )
            })
            .collect();
        diesel::insert_into(f::table).values(&rows).execute(c)?;
    }
    // Times compare as the text diesel writes (`%F %T%.f`); the precision's bound is that text
    // less the precision, to the millisecond. `IS NOT`: NULL and an address differ, two NULLs
    // do not. `WHERE true`, as SQLite asks of an upsert's `SELECT`.
    c.batch_execute(&format!(
        "DELETE FROM temp.usage_flush WHERE NOT EXISTS (SELECT 1 FROM main.tokens t WHERE t.id = usage_flush.token_id); \
         INSERT INTO main.token_last_use (token_id, used_at, used_from) \
           SELECT token_id, used_at, used_from FROM temp.usage_flush WHERE true \
           ON CONFLICT (token_id) DO UPDATE SET used_at = excluded.used_at, used_from = excluded.used_from \
           WHERE token_last_use.used_at < excluded.used_at \
             AND (token_last_use.used_at < strftime('%Y-%m-%d %H:%M:%f', excluded.used_at, '-{} seconds') \
               OR token_last_use.used_from IS NOT excluded.used_from); \
         INSERT INTO main.token_usage (token_id, day, pulls) \
           SELECT token_id, day, pulls FROM temp.usage_flush WHERE pulls > 0 \
           ON CONFLICT (token_id, day) DO UPDATE SET pulls = token_usage.pulls + excluded.pulls; \
         DELETE FROM temp.usage_flush;",
        LAST_USE_PRECISION.num_seconds()
    ))?;
    Ok(())
}

/// Which tokens [`gateway_tokens`] looks for.
enum By<'a> {
    Digests(&'a [String]),
    Id(&'a str),
}

/// The tokens found `by` their digests or id, with their products, each as of one moment, and
/// the digest of each: one statement (a row per product a token has, joined to the
/// subscription's), so that a cache miss costs one round trip and no transaction. SQLite's
/// gateway asks `gateway_tokens` first ([`sqlite_token`]).
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
                    issued_at(tokens::secret_regenerated_at, tokens::created_at),
                    tokens::revoked_at,
                    tokens::expires_on,
                    (projects::max_token_days, projects::max_service_token_days),
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
        ($c:expr, $query:expr) => {
            match $c {
                DbConn::Sqlite(s) => $query.load::<GatewayRow>(s)?,
                DbConn::Pg(p) => $query.load::<GatewayRow>(p)?,
            }
        };
    }
    let rows = match by {
        By::Digests([one]) => load!(c, lookup!(tokens::secret_digest.eq(one))),
        By::Digests(many) => load!(c, lookup!(tokens::secret_digest.eq_any(many))),
        By::Id(id) => load!(c, lookup!(tokens::id.eq(id))),
    };
    Ok(tokens_of(rows))
}

/// Tokens from [`GatewayRow`]s, a row per product, each token's rows together.
fn tokens_of(rows: impl IntoIterator<Item = GatewayRow>) -> Vec<(String, GatewayToken)> {
    let mut out: Vec<(String, GatewayToken)> = Vec::new();
    for row in rows {
        match out.last_mut() {
            Some((_, token)) if token.id == row.id => token.products.extend(row.product),
            _ => {
                let kind = TokenKind::parse(&row.kind).unwrap_or_default();
                let cap = match kind {
                    TokenKind::User => row.caps.user,
                    TokenKind::Service => row.caps.service,
                };
                // Its own last day under the cap in force now, counted from when its secret
                // was issued.
                let own_end = tollgate_model::capped_day(
                    row.own_end,
                    row.issued_at.date(),
                    cap.and_then(|d| u32::try_from(d).ok()),
                );
                out.push((
                    row.digest,
                    GatewayToken {
                        id: row.id,
                        registry_username: row.registry_username,
                        project_key: row.project_key,
                        kind,
                        products: row.product.into_iter().collect(),
                        // The subscription's end, or the token's own last day when it comes first.
                        expires_at: expires_at(tollgate_model::last_day(row.end_date, own_end)),
                        issued_at: utc(row.issued_at),
                        revoked_at: row.revoked_at.map(utc),
                    },
                ))
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    /// SQLite finds a token by its digest in `gateway_tokens`, a copy kept by triggers: after
    /// every kind of write to tokens and their products, made in plain SQL as any writer
    /// would (a node, the CLI, a migration), each digest ever issued names exactly what the
    /// tokens table says, read by the token's id (the lookup without the copy).
    #[test]
    fn the_digest_copy_answers_what_the_tokens_say_after_every_kind_of_change() {
        #[derive(diesel::QueryableByName)]
        struct Copied {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            key: i64,
            #[diesel(sql_type = diesel::sql_types::Text)]
            id: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            digest: String,
        }
        use super::{gateway_tokens, sqlite_token, By};
        use crate::schema::tokens;
        use crate::secret::SecretDigest;
        use crate::DbConn;
        use diesel::connection::SimpleConnection;
        use diesel::prelude::*;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let mut conn = DbConn::Sqlite(SqliteConnection::establish(&path.to_string_lossy()).unwrap());
        conn.batch_execute("PRAGMA foreign_keys = ON").unwrap();
        crate::db::migrate(&mut conn).unwrap();
        let c = &mut conn;
        // Digests as the node writes them (hexadecimal); `'d1'` in a statement stands for
        // `'<hex of d1>'`. x1 and x2 share their first 60 bits, the copy's key.
        let hex = |name: &str| match name {
            "x1" => format!("{}0{}", "ab".repeat(7) + "c", "1".repeat(48)),
            "x2" => format!("{}f{}", "ab".repeat(7) + "c", "2".repeat(48)),
            _ => crate::secret::digest(name).hex(),
        };
        let names = ["d1", "d1b", "d1c", "d2", "d3", "d4", "x1", "x2", "nobody"];
        // `KEY('d1')` stands for the key the token's writer stores beside the digest.
        let expand = |text: &str| {
            names.iter().fold(text.to_owned(), |t, name| {
                let key = SecretDigest::from_hex(&hex(name)).unwrap().gateway_key();
                t.replace(&format!("KEY('{name}')"), &key.to_string())
                    .replace(&format!("'{name}'"), &format!("'{}'", hex(name)))
            })
        };
        let sql = |c: &mut DbConn, text: &str| c.batch_execute(&expand(text)).unwrap();
        sql(
            c,
            "INSERT INTO products (code, name) VALUES ('a', 'A'), ('b', 'B'), ('c', 'C'), ('d', 'D'); \
             INSERT INTO projects (id, key, name, subscription_end_date, created_at, updated_at) VALUES \
               ('p1', 'acme', 'Acme', '2030-01-01', '2026-01-01 00:00:00', '2026-01-01 00:00:00'), \
               ('p2', 'globex', 'Globex', '2029-06-30', '2026-01-01 00:00:00', '2026-01-01 00:00:00'); \
             INSERT INTO subscription_products (project_id, product_code) VALUES \
               ('p1', 'a'), ('p1', 'b'), ('p1', 'c'), ('p2', 'a'); \
             INSERT INTO users (id, project_id, name, email, role, created_at, updated_at) VALUES \
               ('u1', 'p1', 'Alice', 'a@x', 'customer', '2026-01-01 00:00:00', '2026-01-01 00:00:00'), \
               ('u2', 'p2', 'Bob', 'b@x', 'customer', '2026-01-01 00:00:00', '2026-01-01 00:00:00'); \
             INSERT INTO tokens (id, project_id, kind, name, name_key, user_id, created_by, created_at, \
                 registry_username, secret_digest, secret_key, secret_last4) VALUES \
               ('t1', 'p1', 'user', 'one', 'one', 'u1', 'u1', '2026-01-02 10:00:00.25', 'r1', 'd1', KEY('d1'), 'aaaa'), \
               ('t2', 'p1', 'user', 'two', 'two', 'u1', 'u1', '2026-01-03 10:00:00', 'r2', 'd2', KEY('d2'), 'bbbb'), \
               ('t3', 'p1', 'user', 'three', 'three', 'u1', 'u1', '2026-01-04 10:00:00', 'r3', 'd3', KEY('d3'), 'cccc'), \
               ('t4', 'p2', 'user', 'four', 'four', 'u2', 'u2', '2026-01-05 10:00:00', 'r4', 'd4', KEY('d4'), 'dddd'); \
             INSERT INTO token_products (token_id, product_code) VALUES \
               ('t1', 'b'), ('t1', 'a'), ('t3', 'c'), ('t3', 'd'), ('t4', 'a');",
        );
        let digests: Vec<String> = names.iter().map(|n| hex(n)).collect();
        // What each digest names, both ways; the products each found token has.
        let products = |c: &mut DbConn| -> Vec<(String, Vec<String>)> {
            let mut found = Vec::new();
            for digest in &digests {
                let by_digest = sqlite_token(c, &SecretDigest::from_hex(digest).unwrap()).unwrap();
                let owner: Option<String> = tokens::table
                    .filter(tokens::secret_digest.eq(digest))
                    .select(tokens::id)
                    .first(c)
                    .optional()
                    .unwrap();
                let by_id = match &owner {
                    Some(id) => gateway_tokens(c, By::Id(id)).unwrap(),
                    None => Vec::new(),
                };
                assert_eq!(by_digest, by_id, "digest {digest}");
                found.extend(by_digest.into_iter().map(|(_, t)| (t.id, t.products)));
            }
            found
        };
        let list = |pairs: &[(&str, &[&str])]| -> Vec<(String, Vec<String>)> {
            pairs
                .iter()
                .map(|(id, codes)| (id.to_string(), codes.iter().map(|c| c.to_string()).collect()))
                .collect()
        };
        // The tokens that the copy holds, each under the key that a lookup computes.
        let copied = |c: &mut DbConn| -> Vec<String> {
            let rows: Vec<(i64, String, String)> = diesel::sql_query(
                "SELECT g.key AS key, g.token_id AS id, t.secret_digest AS digest \
                 FROM gateway_tokens g JOIN tokens t ON t.id = g.token_id ORDER BY g.token_id",
            )
            .load::<Copied>(c)
            .unwrap()
            .into_iter()
            .map(|r| (r.key, r.id, r.digest))
            .collect();
            for (key, id, digest) in &rows {
                let digest = SecretDigest::from_hex(digest).unwrap();
                assert_eq!(digest.gateway_key(), *key, "the key of {id}");
            }
            rows.into_iter().map(|(_, id, _)| id).collect()
        };
        // Products the subscription lacks (d) are not granted; none is none.
        assert_eq!(
            products(c),
            list(&[("t1", &["a", "b"]), ("t2", &[]), ("t3", &["c"]), ("t4", &["a"])])
        );
        assert_eq!(copied(c), vec!["t1", "t2", "t3", "t4"]);
        // A re-generated secret: the old digest names nothing, the new one the token, issued anew.
        sql(
            c,
            "UPDATE tokens SET secret_digest = 'd1b', secret_key = KEY('d1b'), secret_regenerated_at = '2026-02-01 08:00:00' WHERE id = 't1'",
        );
        assert_eq!(
            products(c),
            list(&[("t1", &["a", "b"]), ("t2", &[]), ("t3", &["c"]), ("t4", &["a"])])
        );
        let t1 = sqlite_token(c, &SecretDigest::from_hex(&hex("d1b")).unwrap()).unwrap();
        assert_eq!(t1[0].1.issued_at.to_rfc3339(), "2026-02-01T08:00:00+00:00");
        // Revoked, given a last day, renamed (not a column the gateway reads), re-synced.
        sql(
            c,
            "UPDATE tokens SET revoked_at = '2026-03-01 09:30:00' WHERE id = 't3'; \
             UPDATE tokens SET expires_on = '2026-12-31' WHERE id = 't2'; \
             UPDATE tokens SET name = 'uno', name_key = 'uno' WHERE id = 't1'; \
             DELETE FROM token_products WHERE token_id = 't1'; \
             INSERT INTO token_products (token_id, product_code) VALUES ('t1', 'c'), ('t2', 'a');",
        );
        assert_eq!(
            products(c),
            list(&[("t1", &["c"]), ("t2", &["a"]), ("t3", &["c"]), ("t4", &["a"])])
        );
        // The subscription loses c and gains d: t3's own d now counts, c no longer does.
        sql(
            c,
            "DELETE FROM subscription_products WHERE project_id = 'p1' AND product_code = 'c'; \
             INSERT INTO subscription_products (project_id, product_code) VALUES ('p1', 'd');",
        );
        assert_eq!(
            products(c),
            list(&[("t1", &[]), ("t2", &["a"]), ("t3", &["d"]), ("t4", &["a"])])
        );
        // A product row changed in place; a secret re-generated again; a token deleted.
        sql(
            c,
            "UPDATE token_products SET product_code = 'b' WHERE token_id = 't1' AND product_code = 'c'; \
             UPDATE tokens SET secret_digest = 'd1c', secret_regenerated_at = '2026-04-01 08:00:00' WHERE id = 't1'; \
             DELETE FROM tokens WHERE id = 't3';",
        );
        // That writer (an operator's sqlite3 shell, say) left the key as it was: the copy's row
        // is under the old digest's key, and the new digest is found through tokens all the same.
        assert_eq!(products(c), list(&[("t1", &["b"]), ("t2", &["a"]), ("t4", &["a"])]));
        sql(c, "UPDATE tokens SET secret_key = KEY('d1c') WHERE id = 't1'");
        assert_eq!(products(c), list(&[("t1", &["b"]), ("t2", &["a"]), ("t4", &["a"])]));
        // Two digests with the same first 60 bits: the copy holds the first one's token only;
        // both name their token, and the second still does once the first token is gone.
        sql(
            c,
            "INSERT INTO tokens (id, project_id, kind, name, name_key, user_id, created_by, created_at, \
                 registry_username, secret_digest, secret_key, secret_last4) VALUES \
               ('t5', 'p2', 'user', 'five', 'five', 'u2', 'u2', '2026-01-06 10:00:00', 'r5', 'x1', KEY('x1'), 'eeee'), \
               ('t6', 'p2', 'user', 'six', 'six', 'u2', 'u2', '2026-01-07 10:00:00', 'r6', 'x2', KEY('x2'), 'ffff'); \
             INSERT INTO token_products (token_id, product_code) VALUES ('t6', 'a');",
        );
        assert_eq!(
            products(c),
            list(&[
                ("t1", &["b"]),
                ("t2", &["a"]),
                ("t4", &["a"]),
                ("t5", &[]),
                ("t6", &["a"])
            ])
        );
        assert_eq!(copied(c), vec!["t1", "t2", "t4", "t5"]);
        sql(c, "DELETE FROM tokens WHERE id = 't5'");
        assert_eq!(
            products(c),
            list(&[("t1", &["b"]), ("t2", &["a"]), ("t4", &["a"]), ("t6", &["a"])])
        );
        // Every token gone: nothing is left in the copy either.
        sql(c, "DELETE FROM tokens");
        assert_eq!(products(c), list(&[]));
        let left: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM gateway_tokens)",
        ))
        .get_result(c)
        .unwrap();
        assert_eq!(left, 0);
    }
}
