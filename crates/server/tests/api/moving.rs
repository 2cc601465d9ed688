//! The embedded default, kept and outgrown: a serving SQLite database backed up while it
//! serves (`tollgate backup`), moved whole onto an empty PostgreSQL database (`tollgate copy`),
//! and served from there by two nodes with every secret as it was; `tollgate migrate status`.

use crate::helpers::{introspect, needs, Db, TestApp, PG_ADMIN_URL};
use crate::webhooks::Receiver;
use diesel::{Connection, RunQueryDsl};
use serde_json::json;
use std::time::Duration;

fn tollgate(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .env("TOLLGATE_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serving_sqlite_database_is_backed_up_and_moved_onto_postgresql() {
    let test = "a_serving_sqlite_database_is_backed_up_and_moved_onto_postgresql";
    if !needs::postgres(test) || !needs::node_packages(test) {
        return;
    }
    let receiver = Receiver::start();
    let app = TestApp::spawn_with(Db::Sqlite, |c| c.webhooks.allow_private = true).await;
    let alice = app.login("alice").await;
    let hook = app
        .post(
            &alice,
            "/api/v1/webhooks",
            json!({ "url": receiver.url("moved"), "events": ["token.created"] }),
        )
        .await;
    let hook_secret = hook.ok(201)["signing_secret"].as_str().unwrap().to_owned();
    receiver.answer("moved", &hook_secret, "ok", 0).await;
    let mine = app.create_token(&alice, "laptop").await;
    let ci = app.service_user_id(&alice, "ci-pipeline").await;
    let service = app
        .post(
            &alice,
            "/api/v1/tokens",
            json!({ "name": "ci", "kind": "service", "service_user_id": ci }),
        )
        .await
        .ok(201)
        .clone();
    let renewed = app.create_token(&alice, "renewed").await;
    let renewed_id = renewed["token"]["id"].as_str().unwrap().to_owned();
    let old_secret = renewed["secret"].as_str().unwrap().to_owned();
    let new_secret = app
        .post_empty(&alice, &format!("/api/v1/tokens/{renewed_id}/secret"))
        .await
        .ok(200)["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let gone = app.create_token(&alice, "gone").await;
    app.delete(
        &alice,
        &format!("/api/v1/tokens/{}", gone["token"]["id"].as_str().unwrap()),
    )
    .await
    .ok(204);
    let secret = |t: &serde_json::Value| t["secret"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        app.introspect(&secret(&mine)).await.ok(200);
    }
    tokio::time::sleep(Duration::from_millis(300)).await; // a usage flush
                                                          // Enough audit events for the copy to go in several batches.
    let mut values = Vec::new();
    for n in 0..4500u64 {
        let ts = uuid::Timestamp::from_unix(uuid::NoContext, 1_790_000_000 + n, 0);
        values.push(format!(
            "('{}', (SELECT id FROM projects WHERE key = 'acme'), '2026-09-01 00:00:00', 'alice', 'Alice Admin', 'token.generate', 'token', 'x', 'old', 'r', NULL, NULL)",
            uuid::Uuid::new_v7(ts)
        ));
    }
    for chunk in values.chunks(500) {
        app.execute_sql(&format!(
            "INSERT INTO audit_events (id, project_id, occurred_at, actor_id, actor_name, action, target_type, target_id, target_name, request_id, client_address, details) VALUES {}",
            chunk.join(", ")
        ));
    }
    let events_before = app.audit(&alice).await.len();
    receiver.wait_for("moved", 4).await;

    // A backup while the node serves: a whole database, every migration in it.
    let work = tempfile::tempdir().unwrap();
    let backup = work.path().join("backup.db");
    let (ok, said) = tollgate(
        &["backup", "--to", backup.to_str().unwrap()],
        &[("TOLLGATE_DATABASE_URL", &app.database_url)],
    );
    assert!(ok, "{said}");
    let mut copy = diesel::SqliteConnection::establish(backup.to_str().unwrap()).unwrap();
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let tokens: N = diesel::sql_query("SELECT count(*) AS n FROM tokens")
        .get_result(&mut copy)
        .unwrap();
    assert_eq!(tokens.n, 3, "the backup holds the tokens");
    let (ok, said) = tollgate(
        &["migrate", "status"],
        &[("TOLLGATE_DATABASE_URL", backup.to_str().unwrap())],
    );
    assert!(ok && said.contains("applied") && !said.contains("pending"), "{said}");
    let (ok, said) = tollgate(
        &["backup", "--to", backup.to_str().unwrap()],
        &[("TOLLGATE_DATABASE_URL", &app.database_url)],
    );
    assert!(!ok && said.contains("exists"), "{said}");

    // Moved onto an empty PostgreSQL database, while the SQLite node still serves.
    let name = format!("tollgate_moved_{}", uuid::Uuid::new_v4().simple());
    let mut admin = diesel::PgConnection::establish(PG_ADMIN_URL).unwrap();
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .unwrap();
    let pg_url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    let (ok, said) = tollgate(&["migrate", "status"], &[("TOLLGATE_DATABASE_URL", &pg_url)]);
    assert!(
        !ok && said.contains("pending"),
        "an empty database lacks every migration: {said}"
    );
    let url_file = work.path().join("to");
    std::fs::write(&url_file, format!("{pg_url}\n")).unwrap();
    let from = [
        ("TOLLGATE_DATABASE_URL", app.database_url.as_str()),
        ("TOLLGATE_DATA_DIR", app.data_dir.path().to_str().unwrap()),
    ];
    let (ok, said) = tollgate(&["copy", "--to-file", url_file.to_str().unwrap()], &from);
    assert!(
        ok && said.contains("tokens: 3 row(s)") && !said.contains(&pg_url),
        "{said}"
    );
    let count = |table: &str| {
        let sql = format!("SELECT count(*) AS n FROM {table}");
        let there: N = diesel::sql_query(&sql)
            .get_result(&mut diesel::PgConnection::establish(&pg_url).unwrap())
            .unwrap();
        let here: N = diesel::sql_query(&sql)
            .get_result(&mut diesel::SqliteConnection::establish(&app.database_url).unwrap())
            .unwrap();
        (here.n, there.n)
    };
    for table in [
        "audit_events",
        "tokens",
        "token_usage",
        "retired_secrets",
        "webhook_deliveries",
        "users",
    ] {
        let (here, there) = count(table);
        assert!(
            here > 0 && here == there,
            "{table}: {here} rows in SQLite, {there} on PostgreSQL"
        );
    }
    let (ok, said) = tollgate(&["copy", "--to-file", url_file.to_str().unwrap()], &from);
    assert!(!ok && said.contains("not empty"), "a second copy is refused: {said}");

    // Two PostgreSQL nodes with the SQLite node's sealing key answer every secret as it did.
    let key = app.data_dir.path().join("secret.key");
    let env = [
        ("TOLLGATE_DATABASE_URL", pg_url.as_str()),
        ("TOLLGATE_SECRET_KEY_FILE", key.to_str().unwrap()),
        ("TOLLGATE_WEBHOOK_ALLOW_PRIVATE", "true"),
    ];
    let (a, b) = crate::helpers::two_nodes_with(&pg_url, &env[1..]).await;
    let http = reqwest::Client::new();
    for node in [&a, &b] {
        for (token, what) in [(&mine, "a user token"), (&service, "a service token")] {
            let answer = introspect(&http, &node.base, &secret(token)).await.ok(200).clone();
            assert_eq!(answer["active"], true, "{what}");
            assert_eq!(answer["username"], token["token"]["registry_username"], "{what}");
            assert_eq!(answer["products"], json!(["wso2am", "wso2is"]), "{what}");
        }
        assert_eq!(introspect(&http, &node.base, &new_secret).await.ok(200)["active"], true);
        for dead in [&old_secret, &secret(&gone)] {
            assert_eq!(
                introspect(&http, &node.base, dead).await.ok(200),
                &json!({ "active": false })
            );
        }
        // A retired secret still tells its owner why.
        let login = http
            .get(format!("{}/auth/token?service=tollgate-registry", node.base))
            .basic_auth(
                renewed["token"]["registry_username"].as_str().unwrap(),
                Some(&old_secret),
            )
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap();
        assert!(login["detail"].as_str().unwrap().contains("re-generated"), "{login}");
    }
    let alice_pg = a.session("alice").await;
    let id = mine["token"]["id"].as_str().unwrap();
    let usage = a.get(&alice_pg, &format!("/api/v1/tokens/{id}/usage")).await;
    assert!(usage["total"].as_i64().unwrap() >= 3, "usage moved: {usage}");
    let events = a.get(&alice_pg, "/api/v1/audit-events?limit=100").await;
    assert!(
        events["items"].as_array().unwrap().len() >= events_before,
        "the audit log moved"
    );
    // The webhook moved with its sealed secret: a change on PostgreSQL reaches it, verified.
    a.post(
        Some(&alice_pg),
        "/api/v1/tokens",
        Some(json!({ "name": "after the move" })),
    )
    .await;
    let got = receiver.wait_for("moved", 5).await;
    assert_eq!(got[4]["verified"], true, "{}", got[4]);
    drop((a, b));
    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin);
}
