//! The database as a whole: which migrations it has, a consistent copy of a serving SQLite
//! database (`tollgate backup`), and moving everything from SQLite onto an empty PostgreSQL
//! database when a vendor outgrows one machine (`tollgate copy`).

use crate::db::{Manager, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
use crate::{Backend, DbConn, Result, StoreError};
use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::r2d2::ManageConnection;
use diesel_migrations::MigrationHarness;

/// The tables of a Tollgate database, in the order their references allow copying them; what
/// the copy carries over. A table of either backend in neither list fails the copy, so that a
/// new table cannot be left behind unnoticed.
const TABLES: [&str; 15] = [
    "projects",
    "products",
    "subscription_products",
    "users",
    "service_users",
    "tokens",
    "token_products",
    "token_last_use",
    "token_usage",
    "retired_secrets",
    "audit_events",
    "webhooks",
    "webhook_deliveries",
    "lifecycle_notices",
    "leases",
];

/// Tables the copy leaves: each backend's own bookkeeping, and SQLite's derived copies (its
/// gateway table and name index, rebuilt by triggers; PostgreSQL has indexes instead).
const NOT_COPIED: [&str; 10] = [
    "__diesel_schema_migrations",
    "gateway_tokens",
    "write_gate",
    "node_writes",
    "token_name_search",
    "token_name_search_config",
    "token_name_search_data",
    "token_name_search_docsize",
    "token_name_search_idx",
    "sqlite_sequence",
];

/// Rows per statement of the copy.
const BATCH: i64 = 2000;

/// A migration and whether the database has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    pub name: String,
    pub applied: bool,
}

fn connect(url: &str) -> Result<DbConn> {
    Manager::for_url(url)
        .connect()
        .map(|pooled| pooled.db)
        .map_err(|e| StoreError::Unavailable(e.to_string()))
}

/// Every migration this release knows, and whether the database at `url` has it, oldest first;
/// nothing is run.
pub fn migration_status(url: &str) -> Result<Vec<MigrationState>> {
    let mut conn = connect(url)?;
    let error = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Migration(e.to_string());
    // The names this release knows, and whether each one's version is in the database's list.
    let (known, applied): (Vec<(String, String)>, Vec<String>) = match &mut conn {
        DbConn::Sqlite(c) => (
            MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
                .map_err(error)?
                .iter()
                .map(|m| (m.name().to_string(), m.name().version().to_string()))
                .collect(),
            c.applied_migrations()
                .map_err(error)?
                .iter()
                .map(|v| v.to_string())
                .collect(),
        ),
        DbConn::Pg(c) => (
            MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES_MIGRATIONS)
                .map_err(error)?
                .iter()
                .map(|m| (m.name().to_string(), m.name().version().to_string()))
                .collect(),
            c.applied_migrations()
                .map_err(error)?
                .iter()
                .map(|v| v.to_string())
                .collect(),
        ),
    };
    let mut states: Vec<MigrationState> = known
        .into_iter()
        .map(|(name, version)| MigrationState {
            applied: applied.contains(&version),
            name,
        })
        .collect();
    states.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(states)
}

/// A consistent copy of the SQLite database at `url` into a new file at `to`, while nodes go
/// on serving (SQLite's `VACUUM INTO`: one read transaction, the writers not stopped).
pub fn backup_sqlite(url: &str, to: &std::path::Path) -> Result<()> {
    if Backend::of_url(url) != Backend::Sqlite {
        return Err(StoreError::Unavailable(
            "tollgate backup copies a SQLite database; back up PostgreSQL with pg_dump".into(),
        ));
    }
    if to.exists() {
        return Err(StoreError::Unavailable(format!("{} exists already", to.display())));
    }
    let mut conn = connect(url)?;
    diesel::sql_query("VACUUM INTO ?")
        .bind::<diesel::sql_types::Text, _>(to.to_string_lossy().as_ref())
        .execute(&mut conn)?;
    // As the data directory's own files: its owner's alone.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", to.display())))?;
    }
    Ok(())
}

/// What [`copy_to_postgres`] carried over: rows per table, in copying order.
pub type Copied = Vec<(&'static str, i64)>;

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

#[derive(diesel::QueryableByName)]
struct Batch {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    rows: Option<String>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
    /// The batch's last key, as a JSON array.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    last: Option<String>,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Copies every table of the SQLite database at `from` (as of one moment: a serving node may
/// go on) onto the PostgreSQL database at `to`, migrated and empty, in one transaction: all of
/// it, or nothing. Secrets' digests, sealed webhook secrets (keep the same sealing key), the
/// audit log, the outbox and its log, usage and the reminders sent go as they are.
pub fn copy_to_postgres(from: &str, to: &str) -> Result<Copied> {
    if Backend::of_url(from) != Backend::Sqlite || Backend::of_url(to) != Backend::Postgres {
        return Err(StoreError::Unavailable(
            "tollgate copy moves a SQLite database onto PostgreSQL".into(),
        ));
    }
    // The target's schema: this release's migrations.
    let mut target = connect(to)?;
    crate::db::migrate(&mut target)?;
    let mut source = connect(from)?;
    let DbConn::Sqlite(sqlite) = &mut source else {
        unreachable!("the source is SQLite")
    };
    let DbConn::Pg(pg) = &mut target else {
        unreachable!("the target is PostgreSQL")
    };
    let known = |name: &str| TABLES.contains(&name) || NOT_COPIED.contains(&name);
    let sqlite_tables: Vec<Name> =
        diesel::sql_query("SELECT name FROM sqlite_master WHERE type = 'table'").load(sqlite)?;
    let pg_tables: Vec<Name> = diesel::sql_query(
        "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    )
    .load(pg)?;
    if let Some(unknown) = sqlite_tables.iter().chain(&pg_tables).find(|t| !known(&t.name)) {
        return Err(StoreError::Unavailable(format!(
            "the table {} is one the copy does not know: this release cannot copy this database",
            unknown.name
        )));
    }
    for table in TABLES {
        let Count { n } = diesel::sql_query(format!("SELECT count(*) AS n FROM {table}")).get_result(pg)?;
        if n > 0 {
            return Err(StoreError::Unavailable(format!(
                "the PostgreSQL database is not empty ({table} has {n} rows): tollgate copy fills an empty one only"
            )));
        }
    }
    // One moment of the source, while a node may go on writing.
    sqlite.batch_execute("BEGIN")?;
    let copied = pg.transaction(|pg| {
        let mut copied = Vec::new();
        for table in TABLES {
            copied.push((table, copy_table(sqlite, pg, table)?));
        }
        Ok::<_, StoreError>(copied)
    });
    let _ = sqlite.batch_execute("COMMIT");
    copied
}

/// One table, a batch at a time: SQLite writes each batch as a JSON array of its rows, and
/// PostgreSQL reads it into rows of the same table (`json_populate_recordset`), converting each
/// column to its type there.
fn copy_table(sqlite: &mut diesel::SqliteConnection, pg: &mut diesel::PgConnection, table: &str) -> Result<i64> {
    let columns: Vec<Name> =
        diesel::sql_query(format!("SELECT name FROM pragma_table_info('{table}')")).load(sqlite)?;
    let pg_columns: Vec<Name> = diesel::sql_query(
        "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1",
    )
    .bind::<diesel::sql_types::Text, _>(table)
    .load(pg)?;
    let mut a: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let mut b: Vec<&str> = pg_columns.iter().map(|c| c.name.as_str()).collect();
    a.sort_unstable();
    b.sort_unstable();
    if a != b {
        return Err(StoreError::Unavailable(format!(
            "{table}: SQLite has the columns {a:?}, PostgreSQL {b:?}"
        )));
    }
    let object = columns
        .iter()
        .map(|c| format!("'{0}', \"{0}\"", c.name))
        .collect::<Vec<_>>()
        .join(", ");
    // A batch at a time by the primary key (some tables have no rowid): the rows after the
    // last key of the batch before.
    let key: Vec<Name> = diesel::sql_query(format!(
        "SELECT name FROM pragma_table_info('{table}') WHERE pk > 0 ORDER BY pk"
    ))
    .load(sqlite)?;
    let key: Vec<String> = key.into_iter().map(|k| format!("\"{}\"", k.name)).collect();
    if key.is_empty() {
        return Err(StoreError::Unavailable(format!(
            "{table} has no primary key to copy it by"
        )));
    }
    let (ascending, descending) = (
        key.join(", "),
        key.iter().map(|k| format!("{k} DESC")).collect::<Vec<_>>().join(", "),
    );
    let after = (0..key.len())
        .map(|n| format!("json_extract(?, '$[{n}]')"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut last: Option<String> = None;
    let mut total = 0;
    loop {
        let filter = match last {
            Some(_) => format!("WHERE ({ascending}) > ({after})"),
            None => String::new(),
        };
        let sql = format!(
            "WITH b AS (SELECT * FROM {table} {filter} ORDER BY {ascending} LIMIT {BATCH}) \
             SELECT json_group_array(json_object({object})) AS rows, count(*) AS n, \
               (SELECT json_array({ascending}) FROM b ORDER BY {descending} LIMIT 1) AS last FROM b"
        );
        let mut query = diesel::sql_query(sql).into_boxed::<diesel::sqlite::Sqlite>();
        if let Some(last) = &last {
            for _ in 0..key.len() {
                query = query.bind::<diesel::sql_types::Text, _>(last.clone());
            }
        }
        let batch: Batch = query.get_result(sqlite)?;
        let (Some(rows), Some(next)) = (batch.rows, batch.last) else {
            return Ok(total);
        };
        if batch.n == 0 {
            return Ok(total);
        }
        diesel::sql_query(format!(
            "INSERT INTO {table} SELECT * FROM json_populate_recordset(NULL::{table}, $1::json)"
        ))
        .bind::<diesel::sql_types::Text, _>(rows)
        .execute(pg)?;
        total += batch.n;
        last = Some(next);
        if batch.n < BATCH {
            return Ok(total);
        }
    }
}
