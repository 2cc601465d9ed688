//! `tollgate serve` start-up: demo mode only when asked, settings that are present but empty
//! refused, and no secret in help or configuration errors.

use crate::helpers::{introspect, Db, TestApp};

/// Runs `tollgate <args>` with a clean `TOLLGATE_*` environment plus `env`; waits at most 10 s
/// (a server that starts is a failure of these tests, and is killed).
pub(crate) fn tollgate(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"));
    command.args(args);
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("TOLLGATE_")) {
        command.env_remove(key);
    }
    command
        .env("TOLLGATE_LISTEN", "127.0.0.1:0")
        .env("TOLLGATE_DATA_DIR", dir.path())
        .env("TOLLGATE_WEB_DIR", "/nonexistent")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("`tollgate {}` kept running", args.join(" "));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn without_an_issuer_or_demo_serve_refuses_and_says_what_to_set() {
    let (ok, text) = tollgate(&["serve"], &[]);
    assert!(!ok);
    assert!(text.contains("TOLLGATE_ISSUER") && text.contains("--demo"), "{text}");
    let dir_of_nothing = tempfile::tempdir().unwrap();
    let (ok, _) = tollgate(
        &["serve"],
        &[("TOLLGATE_DATA_DIR", dir_of_nothing.path().to_str().unwrap())],
    );
    assert!(!ok);
    assert_eq!(
        std::fs::read_dir(dir_of_nothing.path()).unwrap().count(),
        0,
        "nothing was created or seeded"
    );
}

#[test]
fn a_setting_that_is_present_but_empty_is_an_error() {
    for name in [
        "TOLLGATE_ISSUER",
        "TOLLGATE_DEMO",
        "TOLLGATE_DATABASE_URL",
        "TOLLGATE_JWKS_URL",
    ] {
        // Demo mode on, so that only the empty setting can be what is refused.
        let mut env = vec![("TOLLGATE_DEMO", "true")];
        env.retain(|(k, _)| *k != name);
        env.push((name, ""));
        let (ok, text) = tollgate(&["serve"], &env);
        assert!(!ok, "{name}= was accepted");
        assert!(
            text.contains("empty") || text.contains("`true` or `false`"),
            "{name}: {text}"
        );
    }
    let (ok, text) = tollgate(&["serve", "--demo"], &[("TOLLGATE_ISSUER", "https://idp.example")]);
    assert!(!ok && text.contains("exclude each other"), "{text}");
}

#[test]
fn help_and_configuration_errors_never_print_a_secret() {
    let env = [
        (
            "TOLLGATE_DATABASE_URL",
            "postgres://tollgate:hunter2-db-password@127.0.0.1:1/x",
        ),
        ("TOLLGATE_GATEWAY_CLIENTS", "gw:short-secret"),
    ];
    let (ok, help) = tollgate(&["serve", "--help"], &env);
    assert!(ok && help.contains("TOLLGATE_DATABASE_URL"), "{help}");
    let (ok, error) = tollgate(&["serve", "--demo"], &env);
    assert!(!ok);
    assert!(
        error.contains("TOLLGATE_GATEWAY_CLIENTS") && error.contains("`gw`"),
        "{error}"
    );
    for text in [&help, &error] {
        assert!(!text.contains("hunter2") && !text.contains("short-secret"), "{text}");
    }
    let (ok, error) = tollgate(
        &["serve"],
        &[
            ("TOLLGATE_ISSUER", "http://idp.example.com"),
            ("TOLLGATE_AUDIENCE", "tollgate"),
        ],
    );
    assert!(
        !ok && error.contains("https"),
        "an issuer's keys over plain http: {error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_demo_mode_only_the_configured_gateway_clients_are_accepted() {
    let app = TestApp::spawn_with(Db::Sqlite, |c| {
        c.demo = false;
        c.issuer = Some("http://127.0.0.1:9/".into());
        c.gateway.clients = vec!["edge:a-real-gateway-secret".into()];
    })
    .await;
    let demo = introspect(&app.http, &app.base, "tgr_whatever").await;
    demo.problem(401, "unauthenticated");
    let configured = app
        .http
        .post(format!("{}/oauth2/introspect", app.base))
        .basic_auth("edge", Some("a-real-gateway-secret"))
        .form(&[("token", "tgr_whatever")])
        .send()
        .await
        .unwrap();
    assert_eq!(configured.status(), 200);
}

#[test]
fn version_names_the_release_and_the_commit() {
    let (ok, text) = tollgate(&["--version"], &[]);
    assert!(ok, "{text}");
    let text = text.trim();
    assert!(
        text.starts_with(&format!("tollgate {} (commit ", env!("CARGO_PKG_VERSION"))) && text.ends_with(')'),
        "{text}"
    );
}

#[test]
fn migrate_prepares_an_empty_database_and_exits() {
    if !crate::helpers::needs::postgres("migrate_prepares_an_empty_database_and_exits") {
        return;
    }
    use diesel::{Connection, PgConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let name = format!("tollgate_migrate_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::establish(crate::helpers::PG_ADMIN_URL).unwrap();
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .unwrap();
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    let (ok, text) = tollgate(&["migrate"], &[("TOLLGATE_DATABASE_URL", &url)]);
    let tables: Vec<Count> = diesel::sql_query(
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_name IN ('tokens', 'audit_events')",
    )
    .load(&mut PgConnection::establish(&url).unwrap())
    .unwrap();
    diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .unwrap();
    assert!(ok, "{text}");
    assert_eq!(tables[0].n, 2, "the schema is in place");
}

/// The data directory holds the SQLite database and the keys: created 0700 with every file in
/// it 0600, whatever the umask (outside a container the usual 022 would let every user of the
/// host read the database and the signing keys). A PostgreSQL node without a sealing key file
/// refuses to start, saying what to set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_is_the_owners_alone() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("var/tollgate");
    // SQLite, and the sealing key made in the data directory (the tests' shared key unset).
    let node = crate::helpers::ServerProcess::start(
        &[
            ("TOLLGATE_DATA_DIR", data.to_str().unwrap()),
            ("TOLLGATE_SECRET_KEY_FILE", ""),
        ],
        None,
    )
    .await;
    let alice = node.session("alice").await;
    node.post(
        Some(&alice),
        "/api/v1/tokens",
        Some(serde_json::json!({ "name": "laptop" })),
    )
    .await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "the data directory");
    let mut files: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(&data).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        assert_eq!(mode(&entry.path()), 0o600, "{name}");
        files.push(name);
    }
    files.sort();
    for wanted in [
        "demo-issuer-key.pem",
        "registry-token-key.pem",
        "secret.key",
        "tollgate.db",
        "tollgate.db-wal",
    ] {
        assert!(files.iter().any(|f| f == wanted), "{wanted} in {files:?}");
    }
    drop(node);

    let (started, said) = tollgate(
        &["serve", "--demo"],
        &[("TOLLGATE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")],
    );
    assert!(!started && said.contains("TOLLGATE_SECRET_KEY_FILE"), "{said}");
    assert!(said.contains("same key"), "{said}");
}

/// Every secret setting has a `*_FILE` twin (how Kubernetes, Docker and systemd hand secrets
/// over): the file's contents, a trailing newline trimmed. Both at once is refused, saying so
/// and naming no value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_settings_come_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let (url_file, clients_file) = (dir.path().join("database-url"), dir.path().join("gateway-clients"));
    let database = dir.path().join("from-a-file.db");
    std::fs::write(&url_file, format!("{}\n", database.display())).unwrap();
    std::fs::write(&clients_file, "ci-gateway:a-secret-from-a-file-1234\n").unwrap();
    let node = crate::helpers::ServerProcess::start(
        &[
            ("TOLLGATE_DATABASE_URL_FILE", url_file.to_str().unwrap()),
            ("TOLLGATE_GATEWAY_CLIENTS_FILE", clients_file.to_str().unwrap()),
        ],
        None,
    )
    .await;
    assert!(database.is_file(), "the database is where the file says");
    let answer = reqwest::Client::new()
        .post(format!("{}/oauth2/introspect", node.base))
        .basic_auth("ci-gateway", Some("a-secret-from-a-file-1234"))
        .form(&[("token", "tgr_x")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200, "the gateway client from the file");
    drop(node);

    let (started, said) = tollgate(
        &["serve", "--demo"],
        &[
            ("TOLLGATE_DATABASE_URL", "postgres://u:hunter2@127.0.0.1/x"),
            ("TOLLGATE_DATABASE_URL_FILE", url_file.to_str().unwrap()),
        ],
    );
    assert!(!started && said.contains("database-url-file"), "{said}");
    assert!(!said.contains("hunter2"), "{said}");
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let (started, said) = tollgate(
        &["serve", "--demo"],
        &[("TOLLGATE_GATEWAY_CLIENTS_FILE", empty.to_str().unwrap())],
    );
    assert!(!started && said.contains("empty"), "{said}");
}

/// SIGHUP reads the gateway clients' file again (a rotated credential, as a Kubernetes Secret's
/// file changes under a running node): the new client is let in and the old one refused, without
/// a restart. A file that no longer holds a valid client changes nothing, and the log says why
/// without the secret. The node goes on serving through it all (SIGHUP does not end it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reads_the_gateway_clients_file_again() {
    let dir = tempfile::tempdir().unwrap();
    let clients_file = dir.path().join("gateway-clients");
    let log_file = dir.path().join("node.log");
    std::fs::write(&clients_file, "ci-gateway:the-first-secret-1234\n").unwrap();
    let node = crate::helpers::ServerProcess::start(
        &[("TOLLGATE_GATEWAY_CLIENTS_FILE", clients_file.to_str().unwrap())],
        Some(std::fs::File::create(&log_file).unwrap().into()),
    )
    .await;
    let http = reqwest::Client::new();
    let introspect_as =
        |secret: &'static str| crate::helpers::introspect_status_as(&http, &node.base, "ci-gateway", secret);
    let hangup = || {
        let status = std::process::Command::new("kill")
            .args(["-HUP", &node.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    // Until the new file is in place (asked again for a while: the signal is handled by a task).
    async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
        let from = std::time::Instant::now();
        while !done().await {
            assert!(from.elapsed() < std::time::Duration::from_secs(5), "{what}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    assert_eq!(introspect_as("the-first-secret-1234").await, 200);
    assert_eq!(introspect_as("the-second-secret-5678").await, 401);

    std::fs::write(&clients_file, "ci-gateway:the-second-secret-5678\n").unwrap();
    assert_eq!(
        introspect_as("the-second-secret-5678").await,
        401,
        "read again before SIGHUP"
    );
    hangup();
    until("the rotated gateway client is not let in after SIGHUP", async || {
        introspect_as("the-second-secret-5678").await == 200
    })
    .await;
    assert_eq!(
        introspect_as("the-first-secret-1234").await,
        401,
        "the old client is still let in"
    );

    // A bad file: the clients in use stay.
    std::fs::write(&clients_file, "ci-gateway:short\n").unwrap();
    hangup();
    until("the log does not say the bad file was refused", async || {
        std::fs::read_to_string(&log_file)
            .unwrap()
            .contains("the gateway clients in use are kept")
    })
    .await;
    assert_eq!(
        introspect_as("the-second-secret-5678").await,
        200,
        "a bad file took the clients away"
    );
    let log = std::fs::read_to_string(&log_file).unwrap();
    assert!(log.contains("at least 16 characters"), "{log}");
    for secret in ["the-first-secret-1234", "the-second-secret-5678", "ci-gateway:short"] {
        assert!(!log.contains(secret), "a gateway client's secret in the log: {log}");
    }
    let ready = http.get(format!("{}/readyz", node.base)).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200, "the node stopped serving after SIGHUP");
}
