//! `tollgate tokens …` and `tollgate service-users …`: the integrators' commands against a
//! real server, as a script would run them.

use crate::both_backends;
use crate::helpers::{Db, TestApp};
use serde_json::Value;
use std::process::Output;

both_backends!(scripts_manage_tokens_and_service_users_and_trust_the_exit_codes);

fn tollgate(app: &TestApp, bearer: Option<&str>, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"));
    command
        .args(args)
        .env("TOLLGATE_URL", &app.base)
        .env_remove("TOLLGATE_BEARER_TOKEN");
    if let Some(token) = bearer {
        command.env("TOLLGATE_BEARER_TOKEN", token);
    }
    command.output().expect("tollgate runs")
}

#[track_caller]
fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[track_caller]
fn exit(out: &Output, code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn scripts_manage_tokens_and_service_users_and_trust_the_exit_codes(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let run = |args: &[&str]| tollgate(&app, Some(&alice), args);

    // The secret alone on stdout: `SECRET=$(tollgate tokens create --name ci)`.
    let created = run(&["tokens", "create", "--name", "ci"]);
    let secret = ok(&created);
    assert!(
        secret.starts_with("tgr_") && secret.trim_end().lines().count() == 1,
        "{secret:?}"
    );
    let secret = secret.trim_end().to_owned();
    assert!(String::from_utf8_lossy(&created.stderr).contains("shown once"));
    assert!(
        !String::from_utf8_lossy(&created.stderr).contains(&secret),
        "the secret is on stdout only"
    );
    assert_eq!(app.introspect(&secret).await.ok(200)["active"], true);

    let listed: Value = serde_json::from_str(&ok(&run(&["tokens", "list", "--output", "json"]))).unwrap();
    let mine = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ci")
        .expect("listed")
        .clone();
    let id = mine["id"].as_str().unwrap().to_owned();
    let table = ok(&run(&["tokens", "list", "--search", "ci"]));
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("ID"), "{table}");
    assert!(
        lines.any(|l| l.contains(&id) && l.contains("ci") && l.contains("active")),
        "{table}"
    );
    let shown: Value = serde_json::from_str(&ok(&run(&["tokens", "show", &id, "--output", "json"]))).unwrap();
    assert_eq!(shown["name"], "ci");

    let renewed = ok(&run(&["tokens", "regenerate", &id])).trim_end().to_owned();
    assert!(renewed.starts_with("tgr_") && renewed != secret);
    assert_eq!(app.introspect(&secret).await.ok(200)["active"], false);
    ok(&run(&["tokens", "sync", &id]));

    let bot: Value = serde_json::from_str(&ok(&run(&[
        "service-users",
        "create",
        "--name",
        "deployer",
        "--output",
        "json",
    ])))
    .unwrap();
    let bot = bot["id"].as_str().unwrap().to_owned();
    let service: Value = serde_json::from_str(&ok(&run(&[
        "tokens",
        "create",
        "--name",
        "deploy",
        "--service-user",
        &bot,
        "--output",
        "json",
    ])))
    .unwrap();
    assert_eq!(service["token"]["kind"], "service");
    assert!(service["secret"].as_str().unwrap().starts_with("tgr_"));
    assert!(ok(&run(&["service-users", "list"])).contains("deployer"));

    // Exit codes a script can trust.
    ok(&run(&["tokens", "delete", &id]));
    exit(&run(&["tokens", "delete", &id]), 4);
    exit(&run(&["tokens", "create", "--name", "deploy"]), 5);
    exit(&run(&["tokens", "create", "--name", " "]), 5);
    exit(&run(&["tokens", "list", "--status", "someday"]), 2);
    exit(&tollgate(&app, Some(&bob), &["service-users", "list"]), 3);
    let unsigned = exit(&tollgate(&app, None, &["tokens", "list"]), 3);
    assert!(unsigned.contains("TOLLGATE_BEARER_TOKEN"), "{unsigned}");
    exit(&tollgate(&app, Some("not-a-jwt"), &["tokens", "list"]), 3);
    let mut nowhere = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"));
    nowhere
        .args(["tokens", "list", "--url", "http://127.0.0.1:9"])
        .env("TOLLGATE_BEARER_TOKEN", &alice);
    exit(&nowhere.output().unwrap(), 6);
}
