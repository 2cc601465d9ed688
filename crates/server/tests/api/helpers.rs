//! `TestApp::spawn`: a real Tollgate on port 0 over a fresh SQLite file or PostgreSQL database.

use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::PathBuf;
use tollgate_server::Config;

pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The key that seals webhook secrets, shared by every node of the tests (as every node of
/// one PostgreSQL database must share it): a file of the tests' own, written once.
pub fn secret_key_file() -> PathBuf {
    static FILE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tollgate-test-secret.key");
        let partial = path.with_extension(format!("{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)
            .unwrap();
        // 32 bytes of 0x5a: a test key, never a real one.
        file.write_all(b"WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=\n")
            .unwrap();
        std::fs::rename(&partial, &path).unwrap();
        path
    })
    .clone()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// What some tests need of the machine besides Rust: a plain `cargo test` on a laptop without
/// them skips those tests and says so on the terminal; `make test` and CI set
/// `TOLLGATE_TEST_REQUIRE_ALL`, under which a missing part fails the test instead.
pub mod needs {
    use std::io::Write;
    use std::sync::OnceLock;

    fn skip(test: &str, what: &str) -> bool {
        if std::env::var_os("TOLLGATE_TEST_REQUIRE_ALL").is_some() {
            panic!("{test} needs {what} (TOLLGATE_TEST_REQUIRE_ALL is set, as make test and CI set it)");
        }
        // Straight to the terminal: the test harness keeps what passing tests print.
        let _ = writeln!(std::io::stderr(), "skipped {test}: it needs {what}");
        false
    }

    /// The PostgreSQL server at 127.0.0.1:5432 (user `postgres`, trust).
    pub fn postgres(test: &str) -> bool {
        static UP: OnceLock<bool> = OnceLock::new();
        let up = *UP.get_or_init(|| {
            use diesel::Connection;
            diesel::PgConnection::establish(super::PG_ADMIN_URL).is_ok()
        });
        up || skip(
            test,
            "PostgreSQL at 127.0.0.1:5432, user postgres with trust (.ci/run sets it up)",
        )
    }

    /// Commands on the PATH, e.g. `docker-registry` (from the Debian package named after each).
    pub fn commands(test: &str, commands: &[&str]) -> bool {
        for command in commands {
            let found = std::env::var_os("PATH")
                .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(command).is_file()));
            if !found {
                return skip(test, &format!("`{command}` (apt-get install; .ci/run installs it)"));
            }
        }
        true
    }

    /// The npm packages of `e2e/` (the test OpenID Provider) and Node.js.
    pub fn node_packages(test: &str) -> bool {
        let e2e = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e/node_modules/oidc-provider");
        if !e2e.is_dir() {
            return skip(test, "the npm packages of e2e/ (`npm ci` in e2e/; make test runs it)");
        }
        commands(test, &["node"])
    }

    /// The previous release's binary (`TOLLGATE_PREVIOUS_RELEASE`, built by
    /// `e2e/previous-release.sh`, which `make unit` runs): its path.
    pub fn previous_release(test: &str) -> Option<String> {
        match std::env::var("TOLLGATE_PREVIOUS_RELEASE") {
            Ok(path) if std::path::Path::new(&path).is_file() => Some(path),
            _ => {
                skip(
                    test,
                    "the previous release's binary in TOLLGATE_PREVIOUS_RELEASE (make unit builds it with e2e/previous-release.sh)",
                );
                None
            }
        }
    }

    /// Root, for a containerd of the test's own.
    pub fn root(test: &str) -> bool {
        let uid = std::process::Command::new("id").arg("-u").output().ok();
        let root = uid.is_some_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        root || skip(test, "root (containerd runs as root)")
    }
}

/// Declares a test that runs once per backend: `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Db::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if !$crate::helpers::needs::postgres(module_path!()) {
                    return;
                }
                super::$name($crate::helpers::Db::Postgres).await
            }
        }
    )*};
}

pub struct TestApp {
    pub base: String,
    /// The management listener's base URL, when the app has one.
    pub management: Option<String>,
    pub http: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    pub db: Db,
    pub database_url: String,
    pg_database: Option<String>,
    server: actix_web::dev::ServerHandle,
}

/// An answer: status, headers and the JSON body (Null when there is none).
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// Asserts a problem+json answer with this status and code; returns the body.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        let content_type = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert_eq!(self.body["status"], status);
        assert!(
            self.body["title"].is_string() && self.body["detail"].is_string(),
            "{}",
            self.body
        );
        assert_eq!(self.body["type"], format!("urn:tollgate:problem:{code}"));
        &self.body
    }

    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        &self.body
    }
}

impl TestApp {
    pub async fn spawn(db: Db) -> TestApp {
        TestApp::spawn_with(db, |_| {}).await
    }

    pub async fn spawn_with(db: Db, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let (database_url, pg_database) = match db {
            Db::Sqlite => (data_dir.path().join("tollgate.db").to_string_lossy().into_owned(), None),
            Db::Postgres => {
                let name = format!("tollgate_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = PgConnection::establish(PG_ADMIN_URL).expect("PostgreSQL at 127.0.0.1:5432");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .expect("create database");
                (format!("postgres://postgres@127.0.0.1:5432/{name}"), Some(name))
            }
        };
        let mut config = Config::with("127.0.0.1:0", data_dir.path().to_path_buf(), Some(database_url.clone()));
        if db == Db::Postgres {
            config.secrets.secret_key_file = Some(secret_key_file());
        }
        config.workers = Some(2);
        config.db.pool_size = 4;
        config.registry_host = "registry.test:5000".into();
        config.web_dir = Some(PathBuf::from("/nonexistent"));
        config.gateway.last_used_flush_ms = 100;
        adjust(&mut config);
        let running = tollgate_server::start(config).expect("server starts");
        let server = running.server.handle();
        tokio::spawn(running.server);
        let management = running.management.map(|m| {
            tokio::spawn(m.server);
            format!("http://{}", m.addr)
        });
        TestApp {
            management,
            base: format!("http://{}", running.addr),
            http: reqwest::Client::new(),
            data_dir,
            db,
            database_url,
            pg_database,
            server,
        }
    }

    /// A bearer token for a demo user.
    pub async fn login(&self, user: &str) -> String {
        let answer = self
            .send(
                Method::POST,
                "/api/v1/demo/session",
                None,
                Some(json!({ "user": user })),
            )
            .await;
        answer.ok(200)["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    pub async fn send(&self, method: Method, path: &str, bearer: Option<&str>, body: Option<Value>) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.expect("request sent")).await
    }

    pub async fn get(&self, bearer: &str, path: &str) -> Answer {
        self.send(Method::GET, path, Some(bearer), None).await
    }

    pub async fn post(&self, bearer: &str, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(bearer), Some(body)).await
    }

    pub async fn post_empty(&self, bearer: &str, path: &str) -> Answer {
        self.send(Method::POST, path, Some(bearer), None).await
    }

    pub async fn delete(&self, bearer: &str, path: &str) -> Answer {
        self.send(Method::DELETE, path, Some(bearer), None).await
    }

    /// Bearer tokens of alice (acme admin), bob (acme customer) and carol (globex admin).
    pub async fn everyone(&self) -> (String, String, String) {
        (
            self.login("alice").await,
            self.login("bob").await,
            self.login("carol").await,
        )
    }

    /// Generates a user token; returns its id.
    pub async fn create_token_id(&self, bearer: &str, name: &str) -> String {
        self.create_token(bearer, name).await["token"]["id"]
            .as_str()
            .expect("an id")
            .to_owned()
    }

    /// Generates a user token; returns the whole 201 body.
    pub async fn create_token(&self, bearer: &str, name: &str) -> Value {
        self.post(bearer, "/api/v1/tokens", json!({ "name": name }))
            .await
            .ok(201)
            .clone()
    }

    /// Every token the bearer can see, across pages.
    pub async fn all_tokens(&self, bearer: &str, query: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/tokens?limit=100{query}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = self.get(bearer, &path).await.ok(200).clone();
            items.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return items,
            }
        }
    }

    pub async fn service_user_id(&self, bearer: &str, name: &str) -> String {
        let list = self.get(bearer, "/api/v1/service-users").await.ok(200).clone();
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .expect("service user")["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn audit(&self, admin: &str) -> Vec<Value> {
        self.get(admin, "/api/v1/audit-events?limit=100").await.ok(200)["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// The secret digests the tokens table holds now.
    pub fn stored_digests(&self) -> Vec<String> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            secret_digest: String,
        }
        let sql = "SELECT secret_digest FROM tokens";
        let rows: Vec<Row> = match self.db {
            Db::Sqlite => diesel::sql_query(sql).load(&mut self.sqlite()),
            Db::Postgres => diesel::sql_query(sql).load(&mut PgConnection::establish(&self.database_url).unwrap()),
        }
        .expect("digests");
        rows.into_iter().map(|r| r.secret_digest).collect()
    }

    /// A connection of its own to this app's SQLite file that waits for the server's writes
    /// (its usage flush, say) as another process would, instead of failing at once with
    /// "database is locked".
    fn sqlite(&self) -> SqliteConnection {
        use diesel::connection::SimpleConnection;
        let mut c = SqliteConnection::establish(&self.database_url).unwrap();
        c.batch_execute("PRAGMA busy_timeout = 10000").unwrap();
        c
    }

    /// The days of `token`'s rows of pulls per day, as text.
    pub fn stored_usage_days(&self, token: &str) -> Vec<String> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            day: String,
        }
        let sql = format!("SELECT CAST(day AS TEXT) AS day FROM token_usage WHERE token_id = '{token}'");
        let rows: Vec<Row> = match self.db {
            Db::Sqlite => diesel::sql_query(&sql).load(&mut self.sqlite()),
            Db::Postgres => diesel::sql_query(&sql).load(&mut PgConnection::establish(&self.database_url).unwrap()),
        }
        .expect("usage days");
        rows.into_iter().map(|r| r.day).collect()
    }

    /// What the webhooks table holds in its secret columns now, as text.
    pub fn stored_webhook_secrets(&self) -> Vec<String> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            secret: String,
        }
        let sql = "SELECT signing_secret AS secret FROM webhooks \
                   UNION ALL SELECT previous_signing_secret FROM webhooks WHERE previous_signing_secret IS NOT NULL";
        let rows: Vec<Row> = match self.db {
            Db::Sqlite => diesel::sql_query(sql).load(&mut self.sqlite()),
            Db::Postgres => diesel::sql_query(sql).load(&mut PgConnection::establish(&self.database_url).unwrap()),
        }
        .expect("secrets");
        rows.into_iter().map(|r| r.secret).collect()
    }

    /// The keys this app seals webhook secrets with (for a store of the test's own).
    pub fn sealing_keys(&self) -> tollgate_store::sealing::SealingKeys {
        let keys = tollgate_server::SecretKeyConfig {
            secret_key_file: Some(match self.db {
                Db::Postgres => secret_key_file(),
                Db::Sqlite => self.data_dir.path().join("secret.key"),
            }),
            ..Default::default()
        };
        let db = tollgate_server::DbConfig {
            data_dir: self.data_dir.path().to_path_buf(),
            database_url: Some(self.database_url.clone()),
            ..Default::default()
        };
        keys.load(&db).expect("the app's key")
    }

    /// Runs one SQL statement on this app's database, behind the server's back (to set a state
    /// that only time would otherwise bring).
    pub fn execute_sql(&self, sql: &str) {
        match self.db {
            Db::Sqlite => diesel::sql_query(sql).execute(&mut self.sqlite()),
            Db::Postgres => diesel::sql_query(sql).execute(&mut PgConnection::establish(&self.database_url).unwrap()),
        }
        .expect("the statement runs");
    }

    /// Everything the database holds, as text: the SQLite file and its WAL byte for byte, or
    /// every row of every table in PostgreSQL.
    pub fn database_text(&self) -> String {
        match self.db {
            Db::Sqlite => {
                let mut text = String::new();
                for suffix in ["", "-wal"] {
                    if let Ok(bytes) = std::fs::read(format!("{}{suffix}", self.database_url)) {
                        text.push_str(&String::from_utf8_lossy(&bytes));
                    }
                }
                text
            }
            Db::Postgres => {
                #[derive(diesel::QueryableByName)]
                struct Row {
                    #[diesel(sql_type = diesel::sql_types::Text)]
                    t: String,
                }
                let mut conn = PgConnection::establish(&self.database_url).expect("connect");
                let mut text = String::new();
                for table in [
                    "projects",
                    "products",
                    "subscription_products",
                    "users",
                    "service_users",
                    "tokens",
                    "token_products",
                    "audit_events",
                    "webhooks",
                ] {
                    let rows: Vec<Row> = diesel::sql_query(format!("SELECT r::text AS t FROM {table} r"))
                        .load(&mut conn)
                        .expect("dump");
                    for r in rows {
                        text.push_str(&r.t);
                        text.push('\n');
                    }
                }
                text
            }
        }
    }

    /// Runs the `tollgate` binary against this app's database.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(args)
            .env("TOLLGATE_DATABASE_URL", &self.database_url)
            .env("TOLLGATE_DATA_DIR", self.data_dir.path())
            .env("TOLLGATE_LOG", "warn")
            .output()
            .expect("tollgate runs")
    }

    /// A bearer token of an operator (no project), signed by the demo issuer.
    pub fn operator(&self, sub: &str) -> String {
        operator_of(self.data_dir.path(), sub)
    }

    /// Puts acme through the operator API: `products` as `code` or `code=name`.
    pub async fn put_acme_api(&self, end_date: &str, products: &[&str]) -> Answer {
        self.put_acme_api_with(&self.operator("olivia"), end_date, products)
            .await
    }

    /// [`TestApp::put_acme_api`] as the operator whose bearer token this is.
    pub async fn put_acme_api_with(&self, operator: &str, end_date: &str, products: &[&str]) -> Answer {
        let products: Vec<Value> = products
            .iter()
            .map(|p| match p.split_once('=') {
                Some((code, name)) => json!({ "code": code, "name": name }),
                None => json!({ "code": p }),
            })
            .collect();
        let body = json!({ "name": "Acme Corp", "subscription": { "end_date": end_date, "products": products } });
        self.send(Method::PUT, "/api/v1/projects/acme", Some(operator), Some(body))
            .await
    }

    /// Replaces acme's subscription through the operators' command.
    pub fn put_acme(&self, end_date: &str, products: &[&str]) {
        self.put_acme_with(end_date, products, &[]);
    }

    /// The same, with more of the command's options (`--max-token-days 30`).
    pub fn put_acme_with(&self, end_date: &str, products: &[&str], options: &[&str]) {
        let mut args = vec![
            "project",
            "put",
            "--key",
            "acme",
            "--name",
            "Acme Corp",
            "--end-date",
            end_date,
        ];
        for p in products {
            args.push("--product");
            args.push(p);
        }
        args.extend_from_slice(options);
        let out = self.cli(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Answer { status, headers, body }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.server.clone();
        drop(handle.stop(false));
        if let Some(name) = self.pg_database.take() {
            // Best effort: a left-over test database is harmless, a hung test is not.
            std::thread::spawn(move || {
                if let Ok(mut admin) = PgConnection::establish(PG_ADMIN_URL) {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin);
                }
            })
            .join()
            .ok();
        }
    }
}

/// An operator's bearer token signed by the demo issuer whose key is in `data_dir`.
pub fn operator_of(data_dir: &std::path::Path, sub: &str) -> String {
    let issuer = tollgate_server::demo::DemoIssuer::load_or_create(data_dir, "tollgate").unwrap();
    let now = chrono::Utc::now().timestamp();
    issuer
        .sign_claims(
            &json!({ "iss": tollgate_server::demo::DEMO_ISSUER, "aud": tollgate_server::demo::OPERATOR_AUDIENCE,
            "sub": sub, "iat": now, "exp": now + 600, "name": "Olivia Operator" }),
        )
        .unwrap()
}

/// Two `tollgate serve` processes on one database, sharing the registry signing key as every
/// deployment of several nodes must (the second reads the key the first made).
pub async fn two_nodes(database_url: &str) -> (ServerProcess, ServerProcess) {
    two_nodes_with(database_url, &[]).await
}

/// [`two_nodes`], both with these extra settings.
pub async fn two_nodes_with(database_url: &str, settings: &[(&str, &str)]) -> (ServerProcess, ServerProcess) {
    let a_env: Vec<(&str, &str)> = [("TOLLGATE_DATABASE_URL", database_url)]
        .into_iter()
        .chain(settings.iter().copied())
        .collect();
    let a = ServerProcess::start(&a_env, None).await;
    let keys = a._data_dir.path();
    let (key, cert) = (
        keys.join("registry-token-key.pem"),
        keys.join("registry-token-cert.pem"),
    );
    let b_env: Vec<(&str, &str)> = [
        ("TOLLGATE_DATABASE_URL", database_url),
        ("TOLLGATE_TOKEN_KEY_FILE", key.to_str().unwrap()),
        ("TOLLGATE_TOKEN_CERT_FILE", cert.to_str().unwrap()),
    ]
    .into_iter()
    .chain(settings.iter().copied())
    .collect();
    let b = ServerProcess::start(&b_env, None).await;
    (a, b)
}

/// A `tollgate serve` process of its own: real HTTP between processes.
pub struct ServerProcess {
    pub base: String,
    pub child: std::process::Child,
    /// Kept for the process' life; removed when it ends.
    _data_dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts the binary in demo mode with these extra environment variables (an empty value
    /// removes one) and waits until it is ready. Its log (stderr) goes to `log` when given.
    pub async fn start(env: &[(&str, &str)], log: Option<std::process::Stdio>) -> ServerProcess {
        Self::start_binary(env!("CARGO_BIN_EXE_tollgate"), env, log).await
    }

    /// [`ServerProcess::start`] with another build of `tollgate` (the previous release's).
    #[allow(
        clippy::zombie_processes,
        reason = "the child is killed and waited for when ServerProcess drops"
    )]
    pub async fn start_binary(binary: &str, env: &[(&str, &str)], log: Option<std::process::Stdio>) -> ServerProcess {
        let data_dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = std::process::Command::new(binary);
        command
            .arg("serve")
            .env("TOLLGATE_LISTEN", format!("127.0.0.1:{port}"))
            .env("TOLLGATE_DATA_DIR", data_dir.path())
            .env("TOLLGATE_WORKERS", "2")
            .env("TOLLGATE_WEB_DIR", "/nonexistent")
            .env("TOLLGATE_DEMO", "true")
            .env("TOLLGATE_SECRET_KEY_FILE", secret_key_file())
            .env_remove("TOLLGATE_DATABASE_URL")
            .env_remove("TOLLGATE_ISSUER")
            .stdout(std::process::Stdio::null())
            .stderr(log.unwrap_or_else(std::process::Stdio::null));
        // An empty value removes the setting (`TOLLGATE_SECRET_KEY_FILE`, which is set above).
        for (key, value) in env {
            match value {
                &"" => command.env_remove(key),
                _ => command.env(key, value),
            };
        }
        let child = command.spawn().expect("tollgate serve starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..150 {
            if http
                .get(format!("{base}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == StatusCode::OK)
            {
                return ServerProcess {
                    base,
                    child,
                    _data_dir: data_dir,
                };
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        // Not left running after the test.
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        panic!("tollgate serve did not become ready at {base}");
    }

    /// An operator's bearer token for this process (signed with its demo issuer's key).
    pub fn operator(&self, sub: &str) -> String {
        operator_of(self._data_dir.path(), sub)
    }

    /// This process' data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self._data_dir.path()
    }

    /// A file of this process' data directory, as text.
    pub fn data_file(&self, name: &str) -> String {
        self.data_dir().join(name).to_string_lossy().into_owned()
    }

    /// A demo user's bearer token from this process.
    pub async fn session(&self, user: &str) -> String {
        let body = self
            .post(None, "/api/v1/demo/session", Some(json!({ "user": user })))
            .await;
        body["access_token"].as_str().expect("an access token").to_owned()
    }

    /// POSTs (JSON when `body` is given) and returns the JSON answer.
    pub async fn post(&self, bearer: Option<&str>, path: &str, body: Option<Value>) -> Value {
        self.send(reqwest::Method::POST, bearer, path, body).await
    }

    /// `GET path` as the bearer's user: the JSON answer.
    pub async fn get(&self, bearer: &str, path: &str) -> Value {
        self.send(reqwest::Method::GET, Some(bearer), path, None).await
    }

    async fn send(&self, method: reqwest::Method, bearer: Option<&str>, path: &str, body: Option<Value>) -> Value {
        let mut request = reqwest::Client::new().request(method, format!("{}{path}", self.base));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request
            .send()
            .await
            .expect("request sent")
            .json()
            .await
            .expect("a JSON answer")
    }

    /// Sends SIGTERM and waits for the exit status.
    pub async fn stop(&mut self) -> std::process::ExitStatus {
        std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        for _ in 0..150 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("tollgate did not stop on SIGTERM");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (at most 5 s) until every node's cache is trusted (`tollgate_cache_trusted` 1: the
/// notification connection is up and its beats come back); `what` says where, when not.
pub async fn until_caches_trusted(nodes: &[&ServerProcess], what: &str) {
    let http = reqwest::Client::new();
    for node in nodes {
        let from = std::time::Instant::now();
        while metric(&http, &node.base, "tollgate_cache_trusted").await != 1.0 {
            assert!(
                from.elapsed() < std::time::Duration::from_secs(5),
                "a node's cache is not trusted {what}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// The demo gateway client's introspection of `secret` at `base`.
pub async fn introspect(http: &reqwest::Client, base: &str, secret: &str) -> Answer {
    answer(
        http.post(format!("{base}/oauth2/introspect"))
            .basic_auth("registry-gateway", Some("demo-gateway-secret"))
            .form(&[("token", secret)])
            .send()
            .await
            .expect("introspection sent"),
    )
    .await
}

impl TestApp {
    pub async fn introspect(&self, secret: &str) -> Answer {
        introspect(&self.http, &self.base, secret).await
    }

    pub async fn metric(&self, series: &str) -> f64 {
        metric(&self.http, &self.base, series).await
    }
}

/// The status of an introspection at `base` by gateway client `client` with `secret` (of a
/// malformed token: only the client's credential decides).
pub async fn introspect_status_as(http: &reqwest::Client, base: &str, client: &str, secret: &str) -> u16 {
    http.post(format!("{base}/oauth2/introspect"))
        .basic_auth(client, Some(secret))
        .form(&[("token", "tgr_x")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `/metrics` at `base`, as text.
pub async fn metrics_text(http: &reqwest::Client, base: &str) -> String {
    http.get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of a Prometheus series at `base`, 0 when absent.
pub async fn metric(http: &reqwest::Client, base: &str, series: &str) -> f64 {
    let text = metrics_text(http, base).await;
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0.0)
}
