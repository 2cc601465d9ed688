//! The connection pool over SQLite or PostgreSQL, chosen by the database URL.

use crate::change::ChangeListener;
use crate::{Result, StoreError};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

pub(crate) const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
pub(crate) const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Every connection Tollgate opens: SQLite (embedded default) or PostgreSQL (production).
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// The longest a request waits for a pooled connection before the database counts as
/// unavailable.
const POOL_WAIT: Duration = Duration::from_secs(3);

/// The URL with libpq's link timeouts where it sets none: a connection attempt gives up
/// after 2 s, and a link that stops answering (a host gone without a word) is dropped by the
/// kernel within about 10 s instead of hanging a pooled connection for ever.
fn with_link_timeouts(url: &str) -> String {
    let defaults = [
        ("connect_timeout", "2"),
        ("keepalives", "1"),
        ("keepalives_idle", "5"),
        ("keepalives_interval", "2"),
        ("keepalives_count", "3"),
        ("tcp_user_timeout", "10000"),
    ];
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut out = url.to_owned();
    for (key, value) in defaults {
        let present = query.split('&').any(|pair| pair.split('=').next() == Some(key));
        if !present {
            out.push(if out.contains('?') { '&' } else { '?' });
            out.push_str(&format!("{key}={value}"));
        }
    }
    out
}

/// Opens connections of the URL's backend; SQLite ones get their PRAGMAs on every open.
pub(crate) struct Manager {
    url: String,
    backend: Backend,
    /// PostgreSQL: whether statements are prepared once per connection and kept (diesel's
    /// statement cache); not behind a transaction-mode pooler, where the next statement may run
    /// in another server session that never saw them.
    prepared: bool,
}

impl Manager {
    /// Connections to the database at `url` (PostgreSQL's with link timeouts, unless it says
    /// its own).
    pub(crate) fn for_url(url: &str) -> Manager {
        let backend = Backend::of_url(url);
        Manager {
            url: match backend {
                Backend::Postgres => with_link_timeouts(url),
                Backend::Sqlite => url.to_owned(),
            },
            backend,
            prepared: true,
        }
    }
}

/// Whether connections to `url` share server sessions: a pooler in transaction (or statement)
/// mode, such as PgBouncer's `pool_mode = transaction`, hands each transaction the server
/// connection that is free at that moment. Two client connections tell: through such a pooler
/// the second is handed the session the first just ran a statement in (PgBouncer reuses the
/// last one freed), or the first's next statement runs in another session; straight to the
/// server, or through a session-mode pool, each keeps its own server process. Three rounds, for
/// a pooler that hands sessions out in turn.
fn shares_sessions(manager: &Manager) -> Result<bool> {
    #[derive(diesel::QueryableByName)]
    struct Pid {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    fn pid(c: &mut PgConnection) -> Result<i32> {
        Ok(diesel::sql_query("SELECT pg_backend_pid() AS pid")
            .get_result::<Pid>(c)?
            .pid)
    }
    let open = || PgConnection::establish(&manager.url).map_err(|e| StoreError::Unavailable(e.to_string()));
    let (mut first, mut second) = (open()?, open()?);
    let own = pid(&mut first)?;
    for _ in 0..3 {
        if pid(&mut second)? == own || pid(&mut first)? != own {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A SQLite connection's page cache: 8 MB (SQLite's default is 2 MB). A cache miss of the
/// gateway reads one leaf of `gateway_tokens`, under interior pages of under 1 MB for a million
/// tokens, and the rows of its project and subscription, which 10,000 projects spread over a
/// few MB more. Measured with a million tokens asked at random: with 2 MB, 2.5 page reads per
/// request and 44 µs of CPU; with 8 MB, 0.9 and 38 µs. Each pooled connection has its own; a
/// node uses 25 to 35 MB more. The usage writer takes more for its flush (see
/// `gateway::record_usage_sqlite`).
pub(crate) const SQLITE_CACHE: &str = "PRAGMA cache_size = -8000";

/// Requests' storage calls under way at once by default: twice the cores, at most one per
/// pooled connection. More calls at once than the cores can run only take turns on the CPU
/// instead: on a 2-core machine running its PostgreSQL beside the node, 20 readers of a page
/// whose search takes 0.4 ms of the server's CPU answered at 51 ms p99 with 8 turns and 26 ms
/// with 4, at the same throughput (a statement preempted midway waits for every other
/// backend's time slice). A database on other machines, whose round trips leave the cores
/// idle, may want more (`TOLLGATE_DB_TURNS`).
fn default_turns(pool_size: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    (2 * cores).min(pool_size).max(1)
}

/// A PostgreSQL connection that answered this recently is used without a `SELECT 1` first
/// (a round trip, as much as a cache miss's own query); one idle longer is asked first.
const PING_WHEN_IDLE: Duration = Duration::from_secs(1);

/// A pooled connection, with when it last answered and whether it lost its server.
pub(crate) struct Pooled {
    pub(crate) db: DbConn,
    answered: Instant,
    lost: bool,
}

impl Pooled {
    /// Runs `f` on the connection, noting that it answered, or that its link is gone (then the
    /// pool drops it, rather than hand it out again).
    pub(crate) fn run<T>(&mut self, f: impl FnOnce(&mut DbConn) -> Result<T>) -> Result<T> {
        let done = f(&mut self.db);
        match &done {
            Ok(_) => self.answered = Instant::now(),
            // What a lost link to the database becomes (`StoreError::from`).
            Err(StoreError::Unavailable(_)) => self.lost = true,
            Err(_) => {}
        }
        done
    }
}

impl ManageConnection for Manager {
    type Connection = Pooled;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> std::result::Result<Pooled, Self::Error> {
        let db = match self.backend {
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.url).map_err(r2d2::Error::ConnectionError)?;
                if !self.prepared {
                    // Each statement parsed, bound and run in one message (PQsendQueryParams),
                    // which a transaction-mode pooler carries whole.
                    conn.set_prepared_statement_cache_size(diesel::connection::CacheSize::Disabled);
                }
                DbConn::Pg(conn)
            }
            Backend::Sqlite => {
                let path = self.url.strip_prefix("sqlite://").unwrap_or(&self.url);
                let mut conn = SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                // WAL for concurrent readers, FULL so that a commit survives a power cut,
                // foreign keys enforced, and a writer waits for another instead of failing.
                // The busy timeout comes first: switching a new database to WAL needs the lock
                // that the pool's other new connections are asking for at the same moment.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
                )
                .map_err(r2d2::Error::QueryError)?;
                conn.batch_execute(SQLITE_CACHE).map_err(r2d2::Error::QueryError)?;
                DbConn::Sqlite(conn)
            }
        };
        Ok(Pooled {
            db,
            answered: Instant::now(),
            lost: false,
        })
    }

    /// Before a connection is handed out: a SQLite one is a file handle that cannot go stale;
    /// a PostgreSQL one idle for more than [`PING_WHEN_IDLE`] must answer `SELECT 1`.
    fn is_valid(&self, conn: &mut Pooled) -> std::result::Result<(), Self::Error> {
        if self.backend == Backend::Sqlite || conn.answered.elapsed() < PING_WHEN_IDLE {
            return Ok(());
        }
        conn.db.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)?;
        conn.answered = Instant::now();
        Ok(())
    }

    fn has_broken(&self, conn: &mut Pooled) -> bool {
        use diesel::connection::{TransactionManager, TransactionManagerStatus};
        let status = <DbConn as Connection>::TransactionManager::transaction_manager_status_mut(&mut conn.db);
        conn.lost || !matches!(status, TransactionManagerStatus::Valid(v) if v.transaction_depth().is_none())
    }
}

/// The handle every query goes through. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool<Manager>,
    backend: Backend,
    /// The PostgreSQL notification connection's URL: the database URL, or the one straight to
    /// the server beside it ([`Store::open_beside`]).
    pub(crate) url: Option<String>,
    pub(crate) listener: Arc<OnceLock<Arc<dyn ChangeListener>>>,
    /// This process' name in change notifications.
    pub(crate) node: Arc<str>,
    /// SQLite: set when this process watches for other processes' writes; its own writes are
    /// then counted in its row of `node_writes` (see [`Store::others_writes`]).
    pub(crate) counts_own_writes: Arc<std::sync::atomic::AtomicBool>,
    /// Wakes this process' webhook sender after a commit that wrote deliveries.
    pub(crate) outbox_waker: Arc<OnceLock<Arc<dyn Fn() + Send + Sync>>>,
    /// Turns for requests, twice the cores by default, handed out in arrival order (see
    /// [`Store::turns`]).
    turns: Arc<tokio::sync::Semaphore>,
    /// Write transactions this process has committed.
    pub(crate) writes: Arc<std::sync::atomic::AtomicU64>,
    /// The keys that seal recoverable secrets (webhook signing secrets).
    sealing: Arc<OnceLock<Arc<crate::sealing::SealingKeys>>>,
    /// PostgreSQL: whether the notification connection is up and listening.
    pub(crate) notify_up: Arc<std::sync::atomic::AtomicBool>,
    /// What calls waited for: turns and pooled connections.
    waits: Arc<Waits>,
}

/// How many times calls waited for a turn ([`Store::turns`]) and for a pooled connection, and
/// for how long in all (nanoseconds): `/metrics` shows them as counters, whose rates give the
/// mean wait.
#[derive(Default)]
struct Waits {
    turns: std::sync::atomic::AtomicU64,
    turn_nanos: std::sync::atomic::AtomicU64,
    connections: std::sync::atomic::AtomicU64,
    connection_nanos: std::sync::atomic::AtomicU64,
}

/// [`Waits`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaitFigures {
    /// Turns taken by requests' storage calls.
    pub turns: u64,
    /// Seconds those calls waited for their turns, in all.
    pub turn_seconds: f64,
    /// Connections taken from the pool.
    pub connections: u64,
    /// Seconds spent waiting for them (a connection opened meanwhile included), in all.
    pub connection_seconds: f64,
}

/// The pool's connections at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    /// Connections the pool may hold.
    pub size: u32,
    /// Connections it holds now.
    pub open: u32,
    /// Of those, the ones no call is using.
    pub idle: u32,
}

impl Store {
    /// Opens the database at `url` (a file path, `sqlite://path`, or `postgres://…`) and runs
    /// pending migrations.
    pub fn open(url: &str, pool_size: u32) -> Result<Store> {
        Store::open_beside(url, pool_size, None)
    }

    /// [`Store::open`], with PostgreSQL's notification connection on `direct` (when given): a
    /// URL straight to the server, for a pool whose `url` goes through a pooler. Behind a
    /// pooler in transaction mode (found out at start, [`shares_sessions`]) the pool prepares
    /// no statements ahead, and the migrations (which hold a session's lock) run on `direct`,
    /// without which such a pool is refused: `LISTEN` cannot work through it.
    pub fn open_beside(url: &str, pool_size: u32, direct: Option<String>) -> Result<Store> {
        let backend = Backend::of_url(url);
        if backend == Backend::Sqlite {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            let file = std::path::Path::new(path);
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                crate::files::create_private_dir(dir)
                    .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
            }
            if !path.starts_with(':') && !path.starts_with("file:") {
                crate::files::ensure_private_file(file)
                    .map_err(|e| StoreError::Unavailable(format!("cannot create {path}: {e}")))?;
            }
        }
        let mut manager = Manager::for_url(url);
        let mut migrator = None;
        if backend == Backend::Postgres {
            if let Some(direct) = &direct {
                let direct = Manager::for_url(direct);
                if shares_sessions(&direct)? {
                    return Err(StoreError::Setup(
                        "TOLLGATE_NOTIFY_DATABASE_URL goes through a pooler in transaction mode: \
                         it must reach the PostgreSQL server itself (LISTEN needs a session of its own)"
                            .into(),
                    ));
                }
                migrator = Some(direct);
            }
            if shares_sessions(&manager)? {
                if migrator.is_none() {
                    return Err(StoreError::Setup(
                        "the database URL goes through a pooler in transaction mode (two connections \
                         shared a server session): set TOLLGATE_NOTIFY_DATABASE_URL to a URL straight \
                         to the PostgreSQL server, for the notification connection and the migrations, \
                         which need a session of their own"
                            .into(),
                    ));
                }
                tracing::info!(
                    "the database URL goes through a pooler in transaction mode: statements are sent \
                     whole, never prepared ahead; notifications and migrations use TOLLGATE_NOTIFY_DATABASE_URL"
                );
                manager.prepared = false;
            } else {
                migrator = None;
            }
        }
        // Migrations first, on a connection of their own: the pool's connections, opened
        // together, would otherwise wait for (or on SQLite be refused) the lock they hold.
        let mut first = migrator
            .as_ref()
            .unwrap_or(&manager)
            .connect()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        migrate(&mut first.db)?;
        drop(first);
        let pool = Pool::builder()
            .max_size(pool_size)
            .connection_timeout(POOL_WAIT)
            .build(manager)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let store = Store {
            pool,
            backend,
            url: Some(direct.unwrap_or_else(|| url.to_owned())),
            listener: Arc::default(),
            node: uuid::Uuid::new_v4().simple().to_string().into(),
            counts_own_writes: Arc::default(),
            outbox_waker: Arc::default(),
            turns: Arc::new(tokio::sync::Semaphore::new(default_turns(pool_size as usize))),
            writes: Arc::default(),
            sealing: Arc::default(),
            notify_up: Arc::default(),
            waits: Arc::default(),
        };
        Ok(store)
    }

    /// Sets how many turns there are (see [`Store::turns`]), at most one per pooled connection
    /// (a call with a turn and no connection would queue at the pool again); before the store
    /// is shared. Returns how many there are.
    pub fn set_turns(&mut self, turns: usize) -> usize {
        let turns = turns.clamp(1, self.pool.max_size() as usize);
        self.turns = Arc::new(tokio::sync::Semaphore::new(turns));
        turns
    }

    /// Turns for requests' storage calls, handed out first come first served (a fair
    /// semaphore): a request waits for one as a task, and holds it while its call runs on a
    /// blocking thread. Without them, every request took a blocking thread at once and those
    /// threads queued at the pool: at 20 readers over 8 connections on PostgreSQL, a search
    /// page answered at 9 ms median and 74-134 ms p99, and at 45-50 ms p99 with a turn per
    /// connection (same throughput). A fair queue at the pool itself, among the blocking
    /// threads, did not shorten that tail. By default there are twice as many turns as cores
    /// (at most one per connection; [`default_turns`]).
    pub fn turns(&self) -> Arc<tokio::sync::Semaphore> {
        self.turns.clone()
    }

    /// Calls `wake` after every commit that wrote a webhook delivery (set once).
    pub fn set_outbox_waker(&self, wake: Arc<dyn Fn() + Send + Sync>) {
        let _ = self.outbox_waker.set(wake);
    }

    /// This process' name among the nodes (leases, change notifications).
    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn conn(&self) -> Result<PooledConnection<Manager>> {
        let asked = Instant::now();
        let got = self.pool.get();
        add_wait(&self.waits.connections, &self.waits.connection_nanos, asked.elapsed());
        got.map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// Counts a call's wait for its turn (the server's request calls take one, see
    /// [`Store::turns`]).
    pub fn waited_for_turn(&self, waited: Duration) {
        add_wait(&self.waits.turns, &self.waits.turn_nanos, waited);
    }

    /// The waits so far.
    pub fn waits(&self) -> WaitFigures {
        use std::sync::atomic::Ordering::Relaxed;
        let w = &self.waits;
        WaitFigures {
            turns: w.turns.load(Relaxed),
            turn_seconds: w.turn_nanos.load(Relaxed) as f64 / 1e9,
            connections: w.connections.load(Relaxed),
            connection_seconds: w.connection_nanos.load(Relaxed) as f64 / 1e9,
        }
    }

    /// [`Store::query`] on a pooled connection that is idle now; `None`, without waiting, when
    /// none is.
    pub(crate) fn query_now<T>(&self, f: impl FnOnce(&mut DbConn) -> Result<T>) -> Option<Result<T>> {
        Some(self.pool.try_get()?.run(f))
    }

    /// Whether the database answers a query now.
    pub fn ping(&self) -> Result<()> {
        self.conn()?
            .run(|c| c.batch_execute("SELECT 1").map_err(StoreError::Database))
    }

    /// Runs `f` as one read: in a transaction on SQLite, whose statements then share one
    /// snapshot. PostgreSQL at READ COMMITTED (its default, and Tollgate's) gives each
    /// statement a snapshot of its own, in a transaction or not, so there a transaction would
    /// only add two round trips (`BEGIN`, `COMMIT`) to every page.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&mut DbConn) -> Result<T>) -> Result<T> {
        self.conn()?.run(|c| match c {
            DbConn::Pg(_) => f(c),
            DbConn::Sqlite(_) => c.transaction(f),
        })
    }

    /// Runs `f` on a connection, outside a transaction: for a single statement, which sees one
    /// moment of the database by itself.
    pub(crate) fn query<T>(&self, f: impl FnOnce(&mut DbConn) -> Result<T>) -> Result<T> {
        self.conn()?.run(f)
    }

    /// Sets the keys that seal webhook signing secrets (before the store is shared).
    pub fn set_sealing_keys(&self, keys: crate::sealing::SealingKeys) {
        if self.sealing.set(Arc::new(keys)).is_err() {
            tracing::warn!("the sealing keys were already set");
        }
    }

    pub(crate) fn sealing_keys(&self) -> Result<Arc<crate::sealing::SealingKeys>> {
        self.sealing
            .get()
            .cloned()
            .ok_or_else(|| StoreError::Unavailable("no key to seal secrets with (TOLLGATE_SECRET_KEY_FILE)".into()))
    }

    /// The pool's connections now.
    pub fn pool_state(&self) -> PoolState {
        let state = self.pool.state();
        PoolState {
            size: self.pool.max_size(),
            open: state.connections,
            idle: state.idle_connections,
        }
    }

    /// PostgreSQL: whether the notification connection is up and listening (`None` on SQLite,
    /// which has none).
    pub fn notifications_up(&self) -> Option<bool> {
        (self.backend() == Backend::Postgres).then(|| self.notify_up.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// How many write transactions this process has committed.
    pub fn writes(&self) -> u64 {
        self.writes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// SQLite: how many write transactions other processes have committed, read in one
    /// snapshot: every process bumps `write_gate`, and this one also its own row of
    /// `node_writes` in the same transaction, so the difference grows with each commit of
    /// another process and with nothing else (a transaction of this one still committing is in
    /// neither count).
    pub(crate) fn others_writes(&self) -> Result<i64> {
        #[derive(diesel::QueryableByName)]
        struct Writes {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            writes: i64,
        }
        self.conn()?.run(|c| {
            let row: Writes = diesel::sql_query(
                "SELECT g.writes - COALESCE((SELECT n.writes FROM node_writes n WHERE n.node = ?), 0) \
                 AS writes FROM write_gate g WHERE g.id = 1",
            )
            .bind::<diesel::sql_types::Text, _>(&*self.node)
            .get_result(c)?;
            Ok(row.writes)
        })
    }

    /// SQLite: counts this process' writes from now on (see [`Store::others_writes`]), and
    /// forgets the rows of processes that counted before (each serving process starts with a
    /// new name). Forgetting the row of one still running only makes its count of others
    /// jump, which it takes for a change: a cache cleared once, never a change missed.
    pub(crate) fn count_own_writes(&self) -> Result<()> {
        self.counts_own_writes.store(true, std::sync::atomic::Ordering::Release);
        self.write(|c, _| {
            diesel::sql_query("DELETE FROM node_writes WHERE node <> ?")
                .bind::<diesel::sql_types::Text, _>(&*self.node)
                .execute(c)?;
            Ok(())
        })
    }
}

/// Runs the pending migrations on `conn`.
pub(crate) fn migrate(conn: &mut DbConn) -> Result<()> {
    let outcome = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
        DbConn::Pg(c) => {
            // Several nodes may start at once: let one migrate while the others wait. They wait
            // by asking again, never inside a statement: `CREATE INDEX CONCURRENTLY` waits for
            // every transaction with an older snapshot to end, and a node blocked in
            // `pg_advisory_lock` would hold one until the migration it waits for ends.
            while !try_migration_lock(c)? {
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            let done = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ());
            c.batch_execute("SELECT pg_advisory_unlock(7104281)")?;
            done
        }
    };
    outcome.map_err(|e| StoreError::Migration(e.to_string()))
}

fn add_wait(count: &std::sync::atomic::AtomicU64, nanos: &std::sync::atomic::AtomicU64, waited: Duration) {
    use std::sync::atomic::Ordering::Relaxed;
    count.fetch_add(1, Relaxed);
    nanos.fetch_add(u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX), Relaxed);
}

/// Takes the migrations' session lock if no other session holds it.
fn try_migration_lock(c: &mut diesel::PgConnection) -> diesel::QueryResult<bool> {
    #[derive(diesel::QueryableByName)]
    struct Taken {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        taken: bool,
    }
    Ok(diesel::sql_query("SELECT pg_try_advisory_lock(7104281) AS taken")
        .get_result::<Taken>(c)?
        .taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `migrations/README.md` pairs each change's migration on SQLite with its twin on
    /// PostgreSQL (or says why a backend has none): every folder is in the table, and every
    /// name in the table is a folder.
    #[test]
    fn the_migrations_pair_as_this_table_says() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
        let table = std::fs::read_to_string(root.join("README.md")).expect("migrations/README.md");
        let mut named: [Vec<String>; 2] = Default::default();
        for row in table
            .lines()
            .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
            .skip(1)
        {
            let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 3, "a row of three cells: {row}");
            assert!(cells[1] != "—" || cells[2] != "—", "a change with no migration: {row}");
            for (backend, cell) in named.iter_mut().zip(&cells[1..]) {
                if !cell.starts_with('—') {
                    backend.extend(
                        cell.split(',')
                            .map(|n| n.split_whitespace().next().unwrap_or_default().to_owned()),
                    );
                }
            }
        }
        for (backend, named) in ["sqlite", "postgres"].iter().zip(named) {
            let mut folders: Vec<String> = std::fs::read_dir(root.join(backend))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            folders.sort();
            let mut named = named;
            named.sort();
            assert_eq!(named, folders, "{backend}: the table and the folders differ");
        }
    }

    /// A call that waits for the pool's only connection is counted with its wait.
    #[test]
    fn waits_for_a_pooled_connection_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db").to_string_lossy(), 1).unwrap();
        let before = store.waits();
        let held = store.conn().unwrap();
        let waiting = {
            let store = store.clone();
            std::thread::spawn(move || store.ping())
        };
        std::thread::sleep(Duration::from_millis(300));
        drop(held);
        waiting.join().unwrap().unwrap();
        let after = store.waits();
        assert_eq!(after.connections, before.connections + 2);
        assert!(
            after.connection_seconds - before.connection_seconds >= 0.25,
            "{before:?} -> {after:?}"
        );
        store.waited_for_turn(Duration::from_millis(40));
        assert_eq!(store.waits().turns, before.turns + 1);
        assert!((store.waits().turn_seconds - before.turn_seconds - 0.04).abs() < 1e-9);
    }

    /// Requests' turns: twice the cores by default and never more than the pool's connections,
    /// whatever is asked.
    #[test]
    fn turns_are_at_most_one_per_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db").to_string_lossy().into_owned();
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let mut store = Store::open(&path, 64).unwrap();
        assert_eq!(store.turns().available_permits(), (2 * cores).min(64));
        assert_eq!(store.set_turns(3), 3);
        assert_eq!(store.turns().available_permits(), 3);
        assert_eq!(store.set_turns(1000), 64);
        assert_eq!(store.turns().available_permits(), 64);
        assert_eq!(store.set_turns(0), 1);
        let small = Store::open(&path, 1).unwrap();
        assert_eq!(small.turns().available_permits(), 1);
    }

    #[test]
    fn link_timeouts_are_added_where_the_url_sets_none() {
        assert_eq!(
            with_link_timeouts("postgres://u@h/db?connect_timeout=9"),
            "postgres://u@h/db?connect_timeout=9&keepalives=1&keepalives_idle=5&keepalives_interval=2\
             &keepalives_count=3&tcp_user_timeout=10000"
        );
        assert!(with_link_timeouts("postgres://u@h/db").starts_with("postgres://u@h/db?connect_timeout=2&"));
    }

    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        v: String,
    }

    /// The move of a token's last use to a table of its own keeps what was recorded, both
    /// ways: reverted (down) and applied again (up) over a token used before the move and one
    /// never used.
    fn last_uses_move_to_their_own_table_and_back(conn: &mut DbConn) {
        use diesel::migration::MigrationSource;
        const MOVE: &str = "20261204000001";
        fn applied(conn: &mut DbConn) -> Vec<String> {
            match conn {
                DbConn::Sqlite(c) => c.applied_migrations().unwrap(),
                DbConn::Pg(c) => c.applied_migrations().unwrap(),
            }
            .into_iter()
            .map(|v| v.to_string())
            .collect()
        }
        migrate(conn).unwrap();
        let sources = match conn {
            DbConn::Sqlite(_) => MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
                .unwrap()
                .len(),
            DbConn::Pg(_) => MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES_MIGRATIONS)
                .unwrap()
                .len(),
        };
        assert_eq!(applied(conn).len(), sources);
        // Reverted down to before the move (the later migrations first).
        fn revert_the_move(conn: &mut DbConn) {
            while applied(conn).iter().any(|v| v.as_str() == MOVE) {
                match conn {
                    DbConn::Sqlite(c) => c.revert_last_migration(SQLITE_MIGRATIONS).map(|_| ()),
                    DbConn::Pg(c) => c.revert_last_migration(POSTGRES_MIGRATIONS).map(|_| ()),
                }
                .unwrap();
            }
        }
        revert_the_move(conn);
        conn.batch_execute(
            "INSERT INTO projects (id, key, name, subscription_end_date, created_at, updated_at) \
               VALUES ('p1', 'acme', 'Acme', '2030-01-01', '2026-01-01 00:00:00', '2026-01-01 00:00:00'); \
             INSERT INTO users (id, project_id, name, email, role, created_at, updated_at) \
               VALUES ('u1', 'p1', 'Alice', 'a@x', 'customer', '2026-01-01 00:00:00', '2026-01-01 00:00:00'); \
             INSERT INTO tokens (id, project_id, kind, name, name_key, user_id, created_by, created_at, \
                 registry_username, secret_digest, secret_last4, last_used_at, last_used_from) \
               VALUES ('t1', 'p1', 'user', 'ci', 'ci', 'u1', 'u1', '2026-01-01 00:00:00', 'r1', 'd1', 'abcd', \
                 '2026-11-02 10:11:12.5', '203.0.113.7'), \
               ('t2', 'p1', 'user', 'ci2', 'ci2', 'u1', 'u1', '2026-01-01 00:00:00', 'r2', 'd2', 'abcd', NULL, NULL);",
        )
        .unwrap();
        migrate(conn).unwrap();
        let moved: Vec<(String, chrono::NaiveDateTime, Option<String>)> = crate::schema::token_last_use::table
            .select((
                crate::schema::token_last_use::token_id,
                crate::schema::token_last_use::used_at,
                crate::schema::token_last_use::used_from,
            ))
            .load(conn)
            .unwrap();
        let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 2)
            .unwrap()
            .and_hms_milli_opt(10, 11, 12, 500)
            .unwrap();
        assert_eq!(moved, vec![("t1".to_owned(), at, Some("203.0.113.7".to_owned()))]);
        revert_the_move(conn);
        #[derive(diesel::QueryableByName, Debug, PartialEq)]
        struct Back {
            #[diesel(sql_type = diesel::sql_types::Text)]
            id: String,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamp>)]
            last_used_at: Option<chrono::NaiveDateTime>,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            last_used_from: Option<String>,
        }
        let back: Vec<Back> = diesel::sql_query("SELECT id, last_used_at, last_used_from FROM tokens ORDER BY id")
            .load(conn)
            .unwrap();
        assert_eq!(
            back,
            vec![
                Back {
                    id: "t1".into(),
                    last_used_at: Some(at),
                    last_used_from: Some("203.0.113.7".into())
                },
                Back {
                    id: "t2".into(),
                    last_used_at: None,
                    last_used_from: None
                },
            ]
        );
        migrate(conn).unwrap();
    }

    #[test]
    fn sqlite_last_uses_move_to_their_own_table_and_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let mut conn = DbConn::Sqlite(SqliteConnection::establish(&path.to_string_lossy()).unwrap());
        conn.batch_execute("PRAGMA foreign_keys = ON").unwrap();
        last_uses_move_to_their_own_table_and_back(&mut conn);
    }

    #[test]
    fn postgres_last_uses_move_to_their_own_table_and_back() {
        // The PostgreSQL server that the API tests use too (.ci/run sets it up).
        let admin = "postgres://postgres@127.0.0.1:5432";
        let name = format!("tollgate_migration_{}", std::process::id());
        let mut server = PgConnection::establish(&format!("{admin}/postgres")).unwrap();
        server
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .unwrap();
        server.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let mut conn = DbConn::Pg(PgConnection::establish(&format!("{admin}/{name}")).unwrap());
        last_uses_move_to_their_own_table_and_back(&mut conn);
        drop(conn);
        server.batch_execute(&format!("DROP DATABASE {name}")).unwrap();
    }

    #[test]
    fn sqlite_connections_are_wal_durable_with_foreign_keys_and_a_busy_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db").to_string_lossy(), 2).unwrap();
        let mut conn = store.conn().unwrap();
        let mut setting = |sql: &str| -> String {
            let rows: Vec<Setting> = diesel::sql_query(sql).load(&mut conn.db).unwrap();
            rows.into_iter().next().unwrap().v
        };
        assert_eq!(setting("SELECT journal_mode AS v FROM pragma_journal_mode"), "wal");
        assert_eq!(
            setting("SELECT CAST(synchronous AS TEXT) AS v FROM pragma_synchronous"),
            "2",
            "FULL"
        );
        assert_eq!(
            setting("SELECT CAST(foreign_keys AS TEXT) AS v FROM pragma_foreign_keys"),
            "1"
        );
        assert_eq!(
            setting("SELECT CAST(timeout AS TEXT) AS v FROM pragma_busy_timeout"),
            "10000"
        );
    }
}
