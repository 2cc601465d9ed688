//! Several `tollgate serve` processes on one PostgreSQL, in the orders an attacker or a busy
//! CI would choose: a node never accepts a secret more than a second after the commit that
//! re-generated or deleted it, whatever its notification connection or the database does,
//! and a node that cannot reach its database answers `503` within a second.

use crate::helpers::{introspect, two_nodes, two_nodes_with, Db, ServerProcess, TestApp};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The promised bound, and what the tests wait before holding a node to it.
const BOUND: Duration = Duration::from_secs(1);

async fn active(http: &reqwest::Client, node: &ServerProcess, secret: &str) -> bool {
    introspect(http, &node.base, secret).await.ok(200)["active"] == true
}

async fn regenerate(node: &ServerProcess, bearer: &str, id: &str) -> String {
    node.post(Some(bearer), &format!("/api/v1/tokens/{id}/secret"), None)
        .await["secret"]
        .as_str()
        .expect("a new secret")
        .to_owned()
}

async fn create(node: &ServerProcess, bearer: &str, name: &str) -> (String, String) {
    let created = node
        .post(Some(bearer), "/api/v1/tokens", Some(json!({ "name": name })))
        .await;
    (
        created["token"]["id"].as_str().unwrap().to_owned(),
        created["secret"].as_str().unwrap().to_owned(),
    )
}

/// What a CI rotation job does: re-generate on node A and use the new secret on node B at
/// once, before B has heard of the change (its notifications arrive 300 ms late); then the
/// old secret, a second later, and every secret after the token is deleted. Then the same
/// with B's notification connection hung outright.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_used_at_once_on_another_node_never_revives_the_old_one() {
    if !crate::helpers::needs::postgres("a_secret_used_at_once_on_another_node_never_revives_the_old_one") {
        return;
    }
    let app = TestApp::spawn(Db::Postgres).await; // owns the database and its cleanup
    let link = Link::to_postgres().await;
    link.notify_delay_ms.store(300, Ordering::Relaxed);
    let a = ServerProcess::start(&[("TOLLGATE_DATABASE_URL", &app.database_url)], None).await;
    let b = ServerProcess::start(&[("TOLLGATE_DATABASE_URL", &link.url(&app.database_url))], None).await;
    let http = reqwest::Client::new();
    let bearer = a.session("alice").await;
    let mut tokens = Vec::new();
    for n in 0..8 {
        tokens.push(create(&a, &bearer, &format!("rotating-{n}")).await);
    }
    let mut retired: Vec<String> = Vec::new();
    for round in 0..6 {
        if round == 3 {
            // Hung: neither changes nor heartbeats come through any more.
            link.notify_delay_ms.store(60_000, Ordering::Relaxed);
        }
        let rounds = tokens.iter().map(|(id, old)| {
            let (http, a, b, bearer) = (&http, &a, &b, &bearer);
            async move {
                // Node B has the current secret cached…
                assert!(active(http, b, old).await && active(http, b, old).await);
                let new = regenerate(a, bearer, id).await;
                // …and is asked about the new one right away.
                assert!(active(http, b, &new).await, "the new secret works on node B at once");
                new
            }
        });
        let renewed = futures_util::future::join_all(rounds).await;
        tokio::time::sleep(BOUND).await;
        for ((_, old), new) in tokens.iter_mut().zip(renewed) {
            assert!(
                !active(&http, &b, old).await,
                "node B accepted a re-generated secret after 1 s"
            );
            assert!(active(&http, &b, &new).await);
            retired.push(std::mem::replace(old, new));
        }
    }
    for (id, _) in &tokens {
        let gone = http
            .delete(format!("{}/api/v1/tokens/{id}", a.base))
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(gone.status(), 204);
    }
    tokio::time::sleep(BOUND).await;
    for secret in tokens.iter().map(|(_, s)| s).chain(&retired) {
        assert!(
            !active(&http, &b, secret).await,
            "node B accepted a deleted token's secret"
        );
    }
}

/// Waits until at least `nodes` notification connections are open on the database (the test's
/// own in-process server has one too), then kills them all from the server side; returns how
/// many were killed.
async fn terminate_listeners(database_url: &str, nodes: usize) -> usize {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = PgConnection::establish(database_url).unwrap();
    let mut query = |sql: &str| -> i64 { diesel::sql_query(sql).load::<Count>(&mut conn).unwrap()[0].n };
    let listeners = "FROM pg_stat_activity WHERE application_name = 'tollgate-notify' \
                     AND datname = current_database()";
    let deadline = Instant::now() + Duration::from_secs(10);
    while query(&format!("SELECT count(*) AS n {listeners}")) < nodes as i64 {
        assert!(
            Instant::now() < deadline,
            "the nodes' notification connections never listened"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    query(&format!(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n {listeners}"
    )) as usize
}

/// The notification connection killed from the server side, again and again, each time just
/// before a change: node B never serves the old secret past the bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_notification_connection_never_leaves_a_stale_answer() {
    if !crate::helpers::needs::postgres("a_killed_notification_connection_never_leaves_a_stale_answer") {
        return;
    }
    let app = TestApp::spawn(Db::Postgres).await;
    let (a, b) = two_nodes(&app.database_url).await;
    let http = reqwest::Client::new();
    let bearer = a.session("alice").await;
    let (id, mut secret) = create(&a, &bearer, "shared").await;
    let hits = r#"tollgate_token_cache_lookups_total{result="hit"}"#;
    for round in 0..5 {
        assert!(active(&http, &b, &secret).await && active(&http, &b, &secret).await);
        assert!(terminate_listeners(&app.database_url, 3).await >= 3, "round {round}");
        let old = std::mem::replace(&mut secret, regenerate(&a, &bearer, &id).await);
        tokio::time::sleep(BOUND).await;
        assert!(!active(&http, &b, &old).await, "round {round}: the old secret lived on");
        assert!(active(&http, &b, &secret).await);
    }
    // Back to normal: node B reconnects and answers from its cache again.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let before = crate::helpers::metric(&http, &b.base, hits).await;
        assert!(active(&http, &b, &secret).await);
        if crate::helpers::metric(&http, &b.base, hits).await > before {
            break;
        }
        assert!(Instant::now() < deadline, "node B never trusted its cache again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A PostgreSQL server of the test's own, so that it can be restarted without disturbing the
/// other tests: `initdb` and `pg_ctl` of the machine's PostgreSQL, as the `postgres` user.
struct OwnPostgres {
    bin: std::path::PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl OwnPostgres {
    fn start() -> OwnPostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's server programs under /usr/lib/postgresql")
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("initdb").exists())
            .max()
            .expect("initdb");
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = OwnPostgres { bin, dir, port };
        pg.run(&["chown", "postgres", pg.dir.path().to_str().unwrap()], false);
        pg.run(
            &["initdb", "-D", &pg.data(), "-U", "postgres", "-A", "trust", "--no-sync"],
            true,
        );
        pg.pg_ctl("start");
        pg
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg_ctl(&self, action: &str) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").to_string_lossy().into_owned();
        self.run(
            &[
                "pg_ctl",
                "-D",
                &self.data(),
                "-l",
                &log,
                "-o",
                &options,
                "-m",
                "fast",
                "-w",
                action,
            ],
            true,
        );
    }

    fn run(&self, args: &[&str], as_postgres: bool) {
        let mut command = if as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(self.bin.join(args[0]));
            c
        } else {
            std::process::Command::new(args[0])
        };
        let out = command.args(&args[1..]).output().expect("runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .output();
    }
}

/// PostgreSQL restarted while the gateway asks node B all the time: B never answers `500`,
/// never hangs, comes back by itself, and hears the first change after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_under_traffic() {
    if !crate::helpers::needs::postgres("a_database_restart_under_traffic")
        || !crate::helpers::needs::commands("a_database_restart_under_traffic", &["pg_ctlcluster"])
    {
        return;
    }
    let pg = OwnPostgres::start();
    let (a, b) = two_nodes(&pg.url()).await;
    let http = reqwest::Client::new();
    let bearer = a.session("alice").await;
    let (id, secret) = create(&a, &bearer, "through-a-restart").await;

    let stop = Arc::new(AtomicBool::new(false));
    let traffic = {
        let (http, base, secret, stop) = (http.clone(), b.base.clone(), secret.clone(), stop.clone());
        tokio::spawn(async move {
            let mut seen: std::collections::BTreeMap<u16, u32> = Default::default();
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let status = http
                    .post(format!("{base}/oauth2/introspect"))
                    .basic_auth("registry-gateway", Some("demo-gateway-secret"))
                    .form(&[("token", &secret)])
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                assert!(
                    started.elapsed() < Duration::from_secs(3),
                    "node B hung during the restart"
                );
                *seen.entry(status).or_default() += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            seen
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    pg.pg_ctl("restart");
    // The first change after the restart, as soon as node A can make one.
    let deadline = Instant::now() + Duration::from_secs(20);
    let renewed = loop {
        let answer = http
            .post(format!("{}/api/v1/tokens/{id}/secret", a.base))
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap();
        if answer.status() == 200 {
            break answer.json::<Value>().await.unwrap()["secret"]
                .as_str()
                .unwrap()
                .to_owned();
        }
        assert_eq!(answer.status(), 503, "node A during the restart");
        assert!(Instant::now() < deadline, "node A never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(BOUND).await;
    stop.store(true, Ordering::Relaxed);
    let seen = traffic.await.unwrap();
    assert!(
        !active(&http, &b, &secret).await,
        "node B accepted the old secret after the restart"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !active(&http, &b, &renewed).await {
        assert!(Instant::now() < deadline, "node B never accepted the new secret");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("node B's answers during the restart, by status: {seen:?}");
    assert!(
        seen.keys().all(|s| [200, 503].contains(s)),
        "only answers or 503 during a restart: {seen:?}"
    );
}

/// A TCP relay to PostgreSQL that can stop moving bytes while keeping every socket open (a
/// half-open, hung link as a node sees it), and can hold back what the database sends on a
/// node's notification connection (told apart by the `application_name` in its start-up
/// message), so that changes reach the node late.
struct Link {
    port: u16,
    frozen: Arc<AtomicBool>,
    notify_delay_ms: Arc<std::sync::atomic::AtomicU64>,
}

impl Link {
    async fn to_postgres() -> Link {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let link = Link {
            port,
            frozen: Arc::default(),
            notify_delay_ms: Arc::default(),
        };
        let (frozen, delay) = (link.frozen.clone(), link.notify_delay_ms.clone());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = tokio::net::TcpStream::connect(("127.0.0.1", 5432)).await else {
                    continue;
                };
                let (frozen, delay) = (frozen.clone(), delay.clone());
                tokio::spawn(async move {
                    use tokio::io::AsyncReadExt;
                    let (mut ri, wi) = inbound.into_split();
                    let (ro, wo) = outbound.into_split();
                    // The notification connection's first message is its start-up message,
                    // which names the application (libpq's pool connections may begin with
                    // an SSL request instead, and are not delayed).
                    let mut first = vec![0u8; 4096];
                    let Ok(n) = ri.read(&mut first).await else { return };
                    first.truncate(n);
                    let is_notify = first.windows(15).any(|w| w == b"tollgate-notify");
                    let delay = is_notify.then_some(delay);
                    tokio::spawn(relay(ri, wo, first, frozen.clone(), None));
                    tokio::spawn(relay(ro, wi, Vec::new(), frozen, delay));
                });
            }
        });
        link
    }

    fn url(&self, database_url: &str) -> String {
        let database = database_url.rsplit('/').next().unwrap();
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

/// Copies `from` to `to`, `pending` first; holds everything while frozen, and each chunk for
/// `delay` milliseconds after it was read when a delay is given (in order, as a slow link).
async fn relay(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    pending: Vec<u8>,
    frozen: Arc<AtomicBool>,
    delay: Option<Arc<std::sync::atomic::AtomicU64>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = {
        let frozen = frozen.clone();
        tokio::spawn(async move {
            while let Some((read_at, bytes)) = rx.recv().await {
                if let Some(delay) = &delay {
                    let hold = Duration::from_millis(delay.load(Ordering::Relaxed));
                    tokio::time::sleep_until((read_at + hold).into()).await;
                }
                while frozen.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                if to.write_all(&bytes).await.is_err() {
                    return;
                }
            }
        })
    };
    if !pending.is_empty() {
        let _ = tx.send((Instant::now(), pending));
    }
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        while frozen.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx.send((Instant::now(), buffer[..n].to_vec())).is_err() {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.await;
}

/// Node B's link to the database freezes half-open: every answer still comes within a
/// second or so (`503`, so that the gateway asks another node), `/readyz` says not ready, a
/// change made meanwhile on node A is never accepted by B, and B recovers by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_database_link_answers_503_at_once_and_recovers() {
    if !crate::helpers::needs::postgres("a_frozen_database_link_answers_503_at_once_and_recovers") {
        return;
    }
    let app = TestApp::spawn(Db::Postgres).await;
    let link = Link::to_postgres().await;
    let through_link = link.url(&app.database_url);
    let a = ServerProcess::start(&[("TOLLGATE_DATABASE_URL", &app.database_url)], None).await;
    let b = ServerProcess::start(&[("TOLLGATE_DATABASE_URL", &through_link)], None).await;
    let http = reqwest::Client::new();
    let bearer = a.session("alice").await;
    let (id, secret) = create(&a, &bearer, "frozen").await;
    assert!(active(&http, &b, &secret).await && active(&http, &b, &secret).await);

    link.frozen.store(true, Ordering::Relaxed);
    let renewed = regenerate(&a, &bearer, &id).await;
    let changed = Instant::now();
    let mut statuses = Vec::new();
    while changed.elapsed() < Duration::from_secs(3) {
        let started = Instant::now();
        let answer = introspect(&http, &b.base, &secret).await;
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "an introspection waited {:?}",
            started.elapsed()
        );
        if changed.elapsed() > BOUND {
            assert_ne!(
                answer.body["active"], true,
                "node B accepted the old secret over a frozen link"
            );
        }
        statuses.push(answer.status.as_u16());
    }
    assert!(
        statuses.contains(&503),
        "node B never said it is unavailable: {statuses:?}"
    );
    let started = Instant::now();
    let ready = http.get(format!("{}/readyz", b.base)).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "/readyz waited {:?}",
        started.elapsed()
    );

    link.frozen.store(false, Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let answer = introspect(&http, &b.base, &renewed).await;
        if answer.status == 200 && answer.body["active"] == true {
            break;
        }
        assert!(Instant::now() < deadline, "node B never recovered: {}", answer.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!active(&http, &b, &secret).await);
    let ready = http.get(format!("{}/readyz", b.base)).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

/// Two nodes re-generate one token at the same moment: a second later both nodes accept the
/// same one secret, and neither accepts the other or the original.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_regenerates_on_two_nodes_leave_one_secret_everywhere() {
    if !crate::helpers::needs::postgres("concurrent_regenerates_on_two_nodes_leave_one_secret_everywhere") {
        return;
    }
    let app = TestApp::spawn(Db::Postgres).await;
    let (a, b) = two_nodes(&app.database_url).await;
    let http = reqwest::Client::new();
    // Each demo node signs its own sessions.
    let (bearer, bearer_b) = (a.session("alice").await, b.session("alice").await);
    for round in 0..4 {
        let (id, original) = create(&a, &bearer, &format!("raced-{round}")).await;
        // Both nodes have the original cached.
        for node in [&a, &b] {
            assert!(active(&http, node, &original).await && active(&http, node, &original).await);
        }
        let (on_a, on_b) = tokio::join!(regenerate(&a, &bearer, &id), regenerate(&b, &bearer_b, &id));
        tokio::time::sleep(BOUND).await;
        let mut winners = Vec::new();
        for node in [&a, &b] {
            assert!(
                !active(&http, node, &original).await,
                "round {round}: the original lived on"
            );
            let mut valid = Vec::new();
            for secret in [&on_a, &on_b] {
                if active(&http, node, secret).await {
                    valid.push(secret.clone());
                }
            }
            assert_eq!(valid.len(), 1, "round {round}: exactly one new secret works on a node");
            winners.push(valid.remove(0));
        }
        assert_eq!(
            winners[0], winners[1],
            "round {round}: both nodes accept the same secret"
        );
    }
}

/// Two nodes count uses of the same tokens on the same day, each writing what it counted every
/// 20 ms, so that their writes of the same day's rows meet: every use is counted once,
/// whichever node's write lands first, and the last use is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_counting_the_same_tokens_at_once_lose_no_use() {
    if !crate::helpers::needs::postgres("two_nodes_counting_the_same_tokens_at_once_lose_no_use") {
        return;
    }
    let app = TestApp::spawn(Db::Postgres).await;
    let (a, b) = two_nodes_with(&app.database_url, &[("TOLLGATE_LAST_USED_FLUSH_MS", "20")]).await;
    let http = reqwest::Client::new();
    let bearer = a.session("alice").await;
    let mut tokens = Vec::new();
    for n in 0..8 {
        tokens.push(create(&a, &bearer, &format!("shared-{n}")).await);
    }
    const ROUNDS: u64 = 12;
    for _ in 0..ROUNDS {
        let uses = tokens
            .iter()
            .flat_map(|(_, secret)| [active(&http, &a, secret), active(&http, &b, secret)]);
        let answers = futures_util::future::join_all(uses).await;
        assert!(answers.into_iter().all(|active| active));
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    for (id, _) in &tokens {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let usage = a.get(&bearer, &format!("/api/v1/tokens/{id}/usage")).await;
            if usage["total"] == 2 * ROUNDS && usage["last_used_at"].is_string() {
                break;
            }
            assert!(
                usage["total"].as_u64().is_some_and(|total| total <= 2 * ROUNDS),
                "a use counted twice: {usage}"
            );
            assert!(Instant::now() < deadline, "uses lost: {usage}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
