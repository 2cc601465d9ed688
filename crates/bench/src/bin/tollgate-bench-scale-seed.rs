//! Seeds a database for `make bench-scale` in bulk (SQL, not the API): the demo story, then
//! `projects` projects with an admin and a subscription each, `tokens` tokens of which `big`
//! belong to the demo's `acme` (alice, bob and twenty service users), and `audit` audit
//! events, a tenth of them acme's. Tokens have real secrets: their digests are stored, the
//! secrets written for the load generator (`all.txt`, `hot.txt` a random 1 % of them, and the
//! same as `/auth/token` logins in `logins-all.txt` and `logins-hot.txt`).
//!
//! Names mix a few words with a number (`ci-runner-00042`), so that a search finds some; 3 %
//! of the tokens ended on their own last day and 0.5 % are revoked, so that a status filter
//! has something to leave out.

use base64::Engine;
use chrono::{Duration, NaiveDateTime, Timelike, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use std::io::Write;
use tollgate_store::secret::PlainSecret;
use tollgate_store::{Backend, Store, UserClaims};

const WORDS: [&str; 8] = [
    "ci-runner",
    "laptop",
    "build-server",
    "k8s-prod",
    "staging",
    "release-bot",
    "dev-box",
    "mirror",
];
const USERNAME_ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
/// Rows per INSERT statement.
const CHUNK: usize = 500;

enum Conn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(QueryableByName)]
struct Text1 {
    #[diesel(sql_type = Text)]
    v: String,
}

impl Conn {
    fn exec(&mut self, sql: &str) {
        let result = match self {
            Conn::Pg(c) => c.batch_execute(sql),
            Conn::Sqlite(c) => c.batch_execute(sql),
        };
        if let Err(e) = result {
            panic!("{e}: {}", &sql[..sql.len().min(300)]);
        }
    }

    /// The first column of each row, as text.
    fn texts(&mut self, sql: &str) -> Vec<String> {
        let q = diesel::sql_query(sql);
        let rows: Vec<Text1> = match self {
            Conn::Pg(c) => q.load(c),
            Conn::Sqlite(c) => q.load(c),
        }
        .expect(sql);
        rows.into_iter().map(|r| r.v).collect()
    }

    fn pg(&self) -> bool {
        matches!(self, Conn::Pg(_))
    }
}

/// Writes rows with one INSERT per `CHUNK`.
struct Inserter<'a> {
    conn: &'a mut Conn,
    head: String,
    rows: Vec<String>,
}

impl<'a> Inserter<'a> {
    fn new(conn: &'a mut Conn, head: &str) -> Inserter<'a> {
        Inserter {
            conn,
            head: head.to_owned(),
            rows: Vec::with_capacity(CHUNK),
        }
    }

    fn push(&mut self, row: String) {
        self.rows.push(row);
        if self.rows.len() == CHUNK {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.rows.is_empty() {
            let sql = format!("{} VALUES {}", self.head, self.rows.join(","));
            self.conn.exec(&sql);
            self.rows.clear();
        }
    }
}

impl Drop for Inserter<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

fn ts(t: NaiveDateTime) -> String {
    // As diesel writes timestamps to SQLite, so that text comparisons order them.
    t.format("%F %T%.f").to_string()
}

fn v7(at: NaiveDateTime, n: u64) -> String {
    let millis = u64::try_from(at.and_utc().timestamp_millis()).unwrap_or(0);
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[8..].copy_from_slice(&n.to_be_bytes());
    bytes[6] = 0x70 | (bytes[6] & 0x0f);
    bytes[8] = 0x80 | (bytes[8] & 0x3f);
    uuid::Uuid::from_bytes(bytes).to_string()
}

fn username(project: &str, n: usize) -> String {
    let mut n = n;
    let mut tail = String::new();
    for _ in 0..10 {
        tail.push(char::from(USERNAME_ALPHABET[n % 32]));
        n /= 32;
    }
    format!("tg-{project}-{tail}")
}

fn arg(args: &[String], i: usize, default: usize) -> usize {
    args.get(i).map_or(default, |a| a.parse().expect("a number"))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: tollgate-bench-scale-seed <database-url> <out-dir> [tokens projects big audit]");
        std::process::exit(2);
    }
    let (url, out) = (&args[0], std::path::PathBuf::from(&args[1]));
    let tokens = arg(&args, 2, 1_000_000);
    let projects = arg(&args, 3, 10_000).max(2);
    let big = arg(&args, 4, 100_000).min(tokens);
    let audit = arg(&args, 5, 10_000_000);
    std::fs::create_dir_all(&out).expect("the output folder");
    let started = std::time::Instant::now();

    // The schema and the demo story through the store, as a first start makes them.
    let store = Store::open(url, 2).expect("the database opens");
    tollgate_server::demo::seed(&store).expect("the demo seed");
    for user in tollgate_server::demo::users() {
        store
            .sign_in(&UserClaims {
                id: user.id.clone(),
                name: user.name.clone(),
                email: user.email.clone(),
                project_key: user.project.key.clone(),
                role: user.role,
            })
            .expect("a demo user signs in");
    }
    let backend = store.backend();
    drop(store);

    let mut conn = match backend {
        Backend::Postgres => Conn::Pg(PgConnection::establish(url).expect("PostgreSQL")),
        Backend::Sqlite => {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            let mut c = SqliteConnection::establish(path).expect("SQLite");
            // A bulk load: no fsync per statement, a large page cache.
            c.batch_execute("PRAGMA synchronous = OFF; PRAGMA cache_size = -1000000;")
                .expect("pragmas");
            Conn::Sqlite(c)
        }
    };
    let c = &mut conn;
    let now = Utc::now().naive_utc().with_nanosecond(0).expect("a whole second");
    let today = now.date();
    let acme = c.texts("SELECT id AS v FROM projects WHERE key = 'acme'").remove(0);
    let products = c.texts("SELECT code AS v FROM products ORDER BY code");

    c.exec("BEGIN");
    // Projects, each with an admin and two products, a year to run.
    let others = projects - 1;
    let mut project_ids = Vec::with_capacity(others);
    {
        let end = today + Duration::days(365);
        let mut rows = Inserter::new(
            c,
            "INSERT INTO projects (id, key, name, subscription_end_date, created_at, updated_at)",
        );
        for n in 0..others {
            let id = v7(now - Duration::days(800), n as u64);
            rows.push(format!(
                "('{id}', 'scale-{n:05}', 'Scale Customer {n}', '{end}', '{t}', '{t}')",
                t = ts(now - Duration::days(800))
            ));
            project_ids.push(id);
        }
    }
    {
        let mut rows = Inserter::new(c, "INSERT INTO subscription_products (project_id, product_code)");
        for (n, id) in project_ids.iter().enumerate() {
            for k in 0..2.min(products.len()) {
                rows.push(format!("('{id}', '{}')", products[(n + k) % products.len()]));
            }
        }
    }
    {
        let mut rows = Inserter::new(
            c,
            "INSERT INTO users (id, project_id, name, email, role, created_at, updated_at)",
        );
        for (n, id) in project_ids.iter().enumerate() {
            rows.push(format!(
                "('scale-admin-{n:05}', '{id}', 'Admin {n}', 'admin{n}@scale.example', 'customer_admin', '{t}', '{t}')",
                t = ts(now - Duration::days(800))
            ));
        }
    }
    // acme's service users.
    let mut service_users = Vec::new();
    {
        let mut rows = Inserter::new(
            c,
            "INSERT INTO service_users (id, project_id, name, name_key, description, created_by, created_at)",
        );
        for n in 0..20 {
            let id = v7(now - Duration::days(700), 1_000_000 + n);
            rows.push(format!(
                "('{id}', '{acme}', 'scale-robot-{n}', 'scale-robot-{n}', NULL, 'alice', '{}')",
                ts(now - Duration::days(700))
            ));
            service_users.push(id);
        }
    }
    c.exec("COMMIT");
    eprintln!(
        "{} projects, their admins and subscriptions: {:.1} s",
        projects,
        started.elapsed().as_secs_f64()
    );

    // Tokens: created over the last two years, oldest first.
    let file = |name: &str| std::io::BufWriter::new(std::fs::File::create(out.join(name)).expect("an output file"));
    let (mut all, mut hot, mut logins_all, mut logins_hot) = (
        file("all.txt"),
        file("hot.txt"),
        file("logins-all.txt"),
        file("logins-hot.txt"),
    );
    let span_ms = 2 * 365 * 24 * 3600 * 1000i64;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = move || {
        // xorshift: a fixed, fast spread of choices (not secrets).
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    c.exec("BEGIN");
    {
        let mut rows = Inserter::new(
            c,
            "INSERT INTO tokens (id, project_id, kind, name, name_key, user_id, service_user_id, created_by, \
             created_at, registry_username, secret_digest, secret_key, secret_last4, expires_on, revoked_at, revocation_reason)",
        );
        for n in 0..tokens {
            let created =
                now - Duration::milliseconds(span_ms) + Duration::milliseconds(span_ms / tokens as i64 * n as i64);
            let id = v7(created, n as u64);
            let stride = (tokens / big.max(1)).max(1);
            let (project, key, kind, user, service, by) = if big > 0 && n % stride == 0 && n / stride < big {
                match (n / stride) % 10 {
                    0 => {
                        let robot = format!("'{}'", service_users[(n / stride / 10) % 20]);
                        (
                            acme.as_str(),
                            "acme",
                            "service",
                            "NULL".to_owned(),
                            robot,
                            "alice".to_owned(),
                        )
                    }
                    1..=5 => (
                        acme.as_str(),
                        "acme",
                        "user",
                        "'alice'".to_owned(),
                        "NULL".to_owned(),
                        "alice".to_owned(),
                    ),
                    _ => (
                        acme.as_str(),
                        "acme",
                        "user",
                        "'bob'".to_owned(),
                        "NULL".to_owned(),
                        "bob".to_owned(),
                    ),
                }
            } else {
                let p = n % others;
                let admin = format!("scale-admin-{p:05}");
                (
                    project_ids[p].as_str(),
                    "scale",
                    "user",
                    format!("'{admin}'"),
                    "NULL".to_owned(),
                    admin,
                )
            };
            let name = format!("{}-{n:07}", WORDS[n % WORDS.len()]);
            let secret = PlainSecret::generate();
            let roll = random() % 1000;
            let expires_on = if roll < 30 {
                format!("'{}'", today - Duration::days(1 + (roll as i64)))
            } else {
                "NULL".to_owned()
            };
            let (revoked_at, reason) = if (30..35).contains(&roll) {
                (format!("'{}'", ts(now - Duration::days(3))), "'reported leaked'")
            } else {
                ("NULL".to_owned(), "NULL")
            };
            rows.push(format!(
                "('{id}', '{project}', '{kind}', '{name}', '{name}', {user}, {service}, '{by}', '{created}', '{username}', \
                 '{digest}', {gateway_key}, '{last4}', {expires_on}, {revoked_at}, {reason})",
                created = ts(created),
                username = username(key, n),
                digest = secret.digest().hex(),
                gateway_key = secret.digest().gateway_key(),
                last4 = secret.last4(),
            ));
            writeln!(all, "{}", secret.expose()).unwrap();
            let login =
                base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", username(key, n), secret.expose()));
            writeln!(logins_all, "Basic {login}").unwrap();
            if random() % 100 == 0 {
                writeln!(hot, "{}", secret.expose()).unwrap();
                writeln!(logins_hot, "Basic {login}").unwrap();
            }
        }
    }
    c.exec("COMMIT");
    for f in [&mut all, &mut hot, &mut logins_all, &mut logins_hot] {
        f.flush().unwrap();
    }
    eprintln!("{tokens} tokens: {:.1} s", started.elapsed().as_secs_f64());
    // Every token has its project's products.
    c.exec(
        "INSERT INTO token_products (token_id, product_code) \
         SELECT t.id, sp.product_code FROM tokens t JOIN subscription_products sp ON sp.project_id = t.project_id \
         WHERE NOT EXISTS (SELECT 1 FROM token_products tp WHERE tp.token_id = t.id)",
    );
    eprintln!("their products: {:.1} s", started.elapsed().as_secs_f64());

    // Audit events, generated in the database: a tenth acme's, the rest over the other
    // projects, over the last year, with time-ordered (UUIDv7) ids.
    let start_ms = (now - Duration::days(365)).and_utc().timestamp_millis();
    let step = (365 * 24 * 3600 * 1000i64) / audit.max(1) as i64;
    c.exec("CREATE TABLE scale_projects (n BIGINT PRIMARY KEY, id TEXT NOT NULL)");
    {
        let mut rows = Inserter::new(c, "INSERT INTO scale_projects (n, id)");
        for (n, id) in project_ids.iter().enumerate() {
            rows.push(format!("({n}, '{id}')"));
        }
    }
    let actions = "CASE g % 4 WHEN 0 THEN 'token.generate' WHEN 1 THEN 'token.secret.regenerate' \
                   WHEN 2 THEN 'token.products.sync' ELSE 'token.delete' END";
    let (series, id, at) = if c.pg() {
        (
            format!("generate_series(1::bigint, {audit}) AS g"),
            format!(
                "lpad(to_hex(({start_ms} + g * {step}) >> 16), 8, '0') || '-' || lpad(to_hex(({start_ms} + g * {step}) & 65535), 4, '0') \
                 || '-7' || lpad(to_hex((g >> 24) & 4095), 3, '0') || '-8' || lpad(to_hex((g >> 12) & 4095), 3, '0') \
                 || '-' || lpad(to_hex(g), 12, '0')"
            ),
            format!("(to_timestamp(({start_ms} + g * {step}) / 1000.0) AT TIME ZONE 'UTC')"),
        )
    } else {
        (
            format!(
                "(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {audit}) SELECT g FROM s) AS s"
            ),
            format!(
                "printf('%08x-%04x-7%03x-8%03x-%012x', ({start_ms} + g * {step}) >> 16, ({start_ms} + g * {step}) & 65535, \
                 (g >> 24) & 4095, (g >> 12) & 4095, g)"
            ),
            format!("strftime('%Y-%m-%d %H:%M:%f', ({start_ms} + g * {step}) / 1000.0, 'unixepoch')"),
        )
    };
    let others = others as i64;
    // The log's secondary index is built once afterwards (a sort), not row by row; its
    // definition is read back from the schema, so that it stays the migrations' own.
    let index = if c.pg() {
        "SELECT indexdef AS v FROM pg_indexes WHERE indexname = 'audit_events_project'"
    } else {
        "SELECT sql AS v FROM sqlite_master WHERE type = 'index' AND name = 'audit_events_project'"
    };
    let index = c.texts(index).remove(0);
    c.exec("DROP INDEX audit_events_project");
    c.exec(&format!(
        "INSERT INTO audit_events (id, project_id, occurred_at, actor_id, actor_name, action, target_type, target_id, \
         target_name, request_id, client_address, details) \
         SELECT {id}, CASE WHEN g % 10 = 0 THEN '{acme}' ELSE p.id END, {at}, \
           CASE WHEN g % 10 = 0 THEN 'alice' ELSE 'scale-admin' END, CASE WHEN g % 10 = 0 THEN 'Alice Admin' ELSE 'Admin' END, \
           {actions}, 'token', 'scale-token-' || g, 'ci-runner-' || g, 'scale-seed', '203.0.113.7', \
           '{{\"name\":\"ci-runner-' || g || '\"}}' \
         FROM {series} JOIN scale_projects p ON p.n = g % {others}"
    ));
    c.exec("DROP TABLE scale_projects");
    c.exec(&index);
    eprintln!("{audit} audit events: {:.1} s", started.elapsed().as_secs_f64());
    // PostgreSQL's autovacuum would analyze the new rows soon; SQLite is left as Tollgate
    // leaves it, without statistics (with them, the bundled SQLite's STAT4 re-prepares every
    // statement whose bound values might change its plan: a parse on every cache miss).
    if c.pg() {
        c.exec("VACUUM ANALYZE");
    }
    eprintln!("seeded in {:.1} s", started.elapsed().as_secs_f64());
}
