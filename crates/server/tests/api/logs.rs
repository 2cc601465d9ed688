//! The `tollgate serve` process: real HTTP between processes, and logs without credentials.

use crate::helpers::ServerProcess;
use serde_json::json;
use std::io::Read;
use std::process::Stdio;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_names_each_request_and_never_a_secret_or_bearer_token() {
    let env = [("TOLLGATE_LOG", "debug"), ("TOLLGATE_LOG_FORMAT", "json")];
    let mut server = ServerProcess::start(&env, Some(Stdio::piped())).await;
    let base = server.base.clone();
    let http = reqwest::Client::new();
    let bearer = server.session("bob").await;
    let created = server
        .post(Some(&bearer), "/api/v1/tokens", Some(json!({ "name": "laptop" })))
        .await;
    let id = created["token"]["id"].as_str().unwrap();
    let renewed = server
        .post(Some(&bearer), &format!("/api/v1/tokens/{id}/secret"), None)
        .await;
    let secret = renewed["secret"].as_str().unwrap();
    let user = renewed["token"]["registry_username"].as_str().unwrap();
    let login = http
        .get(format!(
            "{base}/auth/token?service=tollgate-registry&scope=repository:wso2am/x:pull"
        ))
        .basic_auth(user, Some(secret))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let introspected = crate::helpers::introspect(&http, &base, secret).await;
    assert_eq!(introspected.ok(200)["active"], true);
    let bad = http
        .get(format!("{base}/api/v1/tokens"))
        .bearer_auth("not.a.jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);

    // SIGTERM: a graceful stop, which also writes the last uses of tokens.
    let status = server.stop().await;
    assert!(status.success(), "tollgate exited with {status}");
    let mut log = String::new();
    server.child.stderr.take().unwrap().read_to_string(&mut log).unwrap();

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
    assert!(
        !log.contains("demo-gateway-secret"),
        "the gateway client secret reached the log"
    );
    let signature = bearer.rsplit('.').next().unwrap();
    assert!(!log.contains(signature), "a bearer token reached the log");
    assert!(
        !log.to_lowercase().contains("authorization"),
        "a header reached the log"
    );
}
