//! The `tollgate serve` process: real HTTP between processes, and logs without credentials.

use reqwest::StatusCode;
use serde_json::json;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_names_each_request_and_never_a_secret_or_bearer_token() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("serve")
        .env("TOLLGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("TOLLGATE_DATA_DIR", dir.path())
        .env("TOLLGATE_WORKERS", "2")
        .env("TOLLGATE_LOG", "debug")
        .env("TOLLGATE_LOG_FORMAT", "json")
        .env_remove("TOLLGATE_DATABASE_URL")
        .env_remove("TOLLGATE_ISSUER")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..100 {
        if http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "tollgate serve did not become ready");

    let session: serde_json::Value = http
        .post(format!("{base}/api/v1/demo/session"))
        .json(&json!({ "user": "bob" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = session["access_token"].as_str().unwrap().to_owned();
    let created: serde_json::Value = http
        .post(format!("{base}/api/v1/tokens"))
        .bearer_auth(&bearer)
        .json(&json!({ "name": "laptop" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["token"]["id"].as_str().unwrap();
    let renewed: serde_json::Value = http
        .post(format!("{base}/api/v1/tokens/{id}/secret"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bad = http
        .get(format!("{base}/api/v1/tokens"))
        .bearer_auth("not.a.jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);

    // SIGTERM: a graceful stop.
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let mut stopped = false;
    for _ in 0..150 {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "tollgate exited with {status}");
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(stopped, "tollgate did not stop on SIGTERM");
    let mut log = String::new();
    child.stderr.take().unwrap().read_to_string(&mut log).unwrap();

    assert!(log.contains("DEMO MODE"), "demo mode is not announced");
    assert!(
        log.contains("\"path\":\"/api/v1/tokens\"") && log.contains("\"status\":201"),
        "requests are not logged: {log}"
    );
    for secret in [&created["secret"], &renewed["secret"]] {
        assert!(
            !log.contains(&secret.as_str().unwrap()[4..]),
            "a secret reached the log"
        );
    }
    let signature = bearer.rsplit('.').next().unwrap();
    assert!(!log.contains(signature), "a bearer token reached the log");
    assert!(
        !log.to_lowercase().contains("authorization"),
        "a header reached the log"
    );
}
