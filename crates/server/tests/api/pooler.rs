//! PgBouncer (Debian's) in transaction mode in front of the PostgreSQL server, as vendors put
//! one in front of a managed database. Tollgate finds out at start that its connections share
//! server sessions: without a URL straight to the server for notifications (and migrations) it
//! refuses to start and says what to set; with one, two nodes serve through two server
//! connections, answer from their caches and keep the one-second promise.

use crate::helpers::{introspect, needs, secret_key_file, ServerProcess, PG_ADMIN_URL};
use crate::serve::tollgate;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server connections PgBouncer keeps per database and user in transaction mode: fewer
/// than either node's pool.
const SERVER_CONNECTIONS: usize = 2;

struct PgBouncer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PgBouncer {
    /// PgBouncer on a port of its own, pooling `mode` (`transaction` or `session`) onto the
    /// server at 127.0.0.1:5432. It refuses to run as root, so as root it runs as `postgres`.
    #[allow(clippy::zombie_processes, reason = "killed and waited for on drop")]
    async fn start(mode: &str, server_connections: usize) -> PgBouncer {
        let dir = tempfile::tempdir().unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(dir.path().join("users.txt"), "\"postgres\" \"\"\n").unwrap();
        let conf = dir.path().join("pgbouncer.ini");
        std::fs::write(
            &conf,
            format!(
                "[databases]\n* = host=127.0.0.1 port=5432\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\n\
                 listen_port = {port}\nunix_socket_dir =\nauth_type = trust\nauth_file = {users}\n\
                 pool_mode = {mode}\ndefault_pool_size = {server_connections}\nmax_client_conn = 200\n\
                 logfile = {log}\n",
                users = dir.path().join("users.txt").display(),
                log = dir.path().join("pgbouncer.log").display(),
            ),
        )
        .unwrap();
        let root = String::from_utf8_lossy(&Command::new("id").arg("-u").output().unwrap().stdout).trim() == "0";
        let mut command = if root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", "pgbouncer"]);
            c
        } else {
            Command::new("pgbouncer")
        };
        let child = command
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pgbouncer starts");
        let bouncer = PgBouncer { child, port, dir };
        let from = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                from.elapsed() < Duration::from_secs(10),
                "pgbouncer did not start: {}",
                bouncer.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bouncer
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default()
    }
}

/// A new database on the server, and its URL straight to the server.
fn new_database() -> (String, String) {
    use diesel::{Connection, RunQueryDsl};
    let name = format!("tollgate_pool_{}", uuid::Uuid::new_v4().simple());
    let mut admin = diesel::PgConnection::establish(PG_ADMIN_URL).unwrap();
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .unwrap();
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    (name, url)
}

/// The server sessions open on `database` now, apart from the nodes' notification connections.
fn server_sessions(database: &str) -> i64 {
    use diesel::{Connection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut admin = diesel::PgConnection::establish(PG_ADMIN_URL).unwrap();
    diesel::sql_query(format!(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = '{database}' \
         AND application_name IS DISTINCT FROM 'tollgate-notify'"
    ))
    .get_result::<Count>(&mut admin)
    .unwrap()
    .n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_pgbouncer_in_transaction_mode_two_nodes_serve_and_keep_the_second() {
    let test = "behind_pgbouncer_in_transaction_mode_two_nodes_serve_and_keep_the_second";
    if !needs::postgres(test) || !needs::commands(test, &["pgbouncer"]) {
        return;
    }
    let bouncer = PgBouncer::start("transaction", SERVER_CONNECTIONS).await;
    let (database, direct) = new_database();
    let pooled = bouncer.url(&database);
    let key = secret_key_file();
    let key = key.to_string_lossy();

    // Without a URL straight to the server the node refuses to start, and says what to set.
    let base = [
        ("TOLLGATE_DEMO", "true"),
        ("TOLLGATE_SECRET_KEY_FILE", &*key),
        ("TOLLGATE_DATABASE_URL", pooled.as_str()),
    ];
    let (started, said) = tollgate(&["serve"], &base);
    assert!(
        !started,
        "a node behind a transaction pooler started without a direct URL"
    );
    assert!(
        said.contains("pooler in transaction mode") && said.contains("TOLLGATE_NOTIFY_DATABASE_URL"),
        "the refusal does not say what to set: {said}"
    );
    // A "direct" URL that goes through the pooler too is refused as well.
    let both_pooled = [
        base[0],
        base[1],
        base[2],
        ("TOLLGATE_NOTIFY_DATABASE_URL", pooled.as_str()),
    ];
    let (started, said) = tollgate(&["serve"], &both_pooled);
    assert!(!started, "a notification URL through the pooler was accepted");
    assert!(
        said.contains("TOLLGATE_NOTIFY_DATABASE_URL goes through a pooler"),
        "{said}"
    );

    // With one, the operator's migrate runs (on the direct URL), and two nodes (eight pooled
    // connections each) serve through two server sessions.
    let env = [
        ("TOLLGATE_DATABASE_URL", pooled.as_str()),
        ("TOLLGATE_NOTIFY_DATABASE_URL", direct.as_str()),
    ];
    let (migrated, said) = tollgate(&["migrate"], &env);
    assert!(migrated, "{said}");
    let (current, said) = tollgate(&["migrate", "status"], &env);
    assert!(current && !said.contains("pending"), "{said}");
    let (a, b) = crate::helpers::two_nodes_with(&pooled, &env[1..]).await;
    crate::helpers::until_caches_trusted(&[&a, &b], "behind the pooler").await;
    let http = reqwest::Client::new();

    // Many requests at once on both nodes: every one answered, none with a 5xx.
    // (Each node's demo sign-in has a key of its own.)
    let alice = a.session("alice").await;
    let alice_on_b = b.session("alice").await;
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..24 {
        let (node, alice) = match i % 2 {
            0 => (a.base.clone(), alice.clone()),
            _ => (b.base.clone(), alice_on_b.clone()),
        };
        let http = http.clone();
        calls.spawn(async move {
            let created = http
                .post(format!("{node}/api/v1/tokens"))
                .bearer_auth(&alice)
                .json(&json!({ "name": format!("pooled {i}") }))
                .send()
                .await
                .unwrap();
            assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
            let created: serde_json::Value = created.json().await.unwrap();
            let listed = http
                .get(format!("{node}/api/v1/tokens?limit=100"))
                .bearer_auth(&alice)
                .send()
                .await
                .unwrap();
            assert_eq!(listed.status(), 200);
            (
                created["token"]["id"].as_str().unwrap().to_owned(),
                created["secret"].as_str().unwrap().to_owned(),
            )
        });
    }
    let mut made = Vec::new();
    while let Some(done) = calls.join_next().await {
        made.push(done.expect("every call answered without a 5xx"));
    }
    let sessions = server_sessions(&database);
    assert!(
        (1..=SERVER_CONNECTIONS as i64).contains(&sessions),
        "{sessions} server sessions: the nodes did not go through the transaction pooler"
    );
    let listed = a.get(&alice, "/api/v1/tokens?limit=100").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), made.len());

    // Node B answers from its cache; a secret re-generated on A is refused on B within the second.
    let (id, secret) = made[0].clone();
    let hits = || crate::helpers::metric(&http, &b.base, r#"tollgate_token_cache_lookups_total{result="hit"}"#);
    let before = hits().await;
    for _ in 0..5 {
        assert_eq!(introspect(&http, &b.base, &secret).await.ok(200)["active"], true);
    }
    assert!(hits().await >= before + 4.0, "node B does not answer from its cache");
    a.post(Some(&alice), &format!("/api/v1/tokens/{id}/secret"), None).await;
    let changed = Instant::now();
    while introspect(&http, &b.base, &secret).await.ok(200)["active"] == true {
        assert!(
            changed.elapsed() < Duration::from_secs(1),
            "node B accepted a re-generated secret for a second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!bouncer.log().contains("ERROR"), "{}", bouncer.log());
}

/// A session-mode pool keeps each client on one server session: prepared statements and
/// `LISTEN` work as straight to the server, and no direct URL is asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_pgbouncer_in_session_mode_nothing_more_is_needed() {
    let test = "behind_pgbouncer_in_session_mode_nothing_more_is_needed";
    if !needs::postgres(test) || !needs::commands(test, &["pgbouncer"]) {
        return;
    }
    let bouncer = PgBouncer::start("session", 10).await;
    let (database, _) = new_database();
    let pooled = bouncer.url(&database);
    let node = ServerProcess::start(
        &[("TOLLGATE_DATABASE_URL", &pooled), ("TOLLGATE_DB_POOL_SIZE", "2")],
        None,
    )
    .await;
    let alice = node.session("alice").await;
    let created = node
        .post(
            Some(&alice),
            "/api/v1/tokens",
            Some(json!({ "name": "session pooled" })),
        )
        .await;
    let http = reqwest::Client::new();
    let secret = created["secret"].as_str().unwrap();
    assert_eq!(introspect(&http, &node.base, secret).await.ok(200)["active"], true);
    crate::helpers::until_caches_trusted(&[&node], "through a session-mode pool").await;
}
