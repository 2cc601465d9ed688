//! `/api/v1/credentials/revoke`: anyone reports leaked secrets; each valid one is revoked at
//! once, the token shows why, and re-generating it ends the revocation. Operators do the same
//! on the host with `tollgate token revoke`.

use crate::both_backends;
use crate::helpers::{answer, Db, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::io::Write;
use std::time::{Duration, Instant};

both_backends!(
    a_reported_secret_is_revoked_at_once_until_it_is_regenerated,
    reports_tell_nothing_and_are_limited_per_client,
    reports_are_limited_per_64_and_by_their_size,
    reports_that_match_no_working_secret_write_nothing,
    a_report_racing_a_regenerate_never_revokes_the_new_secret
);

/// Leak reports this node has handled (its worker, right after each `202`).
async fn handled(app: &TestApp) -> f64 {
    let mut sum = 0.0;
    for outcome in ["matched", "unmatched", "failed"] {
        sum += app
            .metric(&format!("tollgate_leak_reports_total{{outcome=\"{outcome}\"}}"))
            .await;
    }
    sum
}

/// Waits (at most 5 s) until the node has handled `n` reports in all.
async fn until_handled(app: &TestApp, n: f64) {
    let from = Instant::now();
    while handled(app).await < n {
        assert!(
            from.elapsed() < Duration::from_secs(5),
            "{n} reports not handled in 5 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn report(app: &TestApp, credentials: Value) -> crate::helpers::Answer {
    app.send(
        Method::POST,
        "/api/v1/credentials/revoke",
        None,
        Some(json!({ "credentials": credentials })),
    )
    .await
}

async fn a_reported_secret_is_revoked_at_once_until_it_is_regenerated(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    let created = app.create_token(&alice, "leaky").await;
    let id = created["token"]["id"].as_str().unwrap().to_owned();
    let user = created["token"]["registry_username"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/tokens/{id}");
    for _ in 0..2 {
        assert_eq!(
            app.introspect(&secret).await.ok(200)["active"],
            true,
            "cached before the report"
        );
    }

    let unknown = tollgate_store::secret::PlainSecret::generate().expose().to_owned();
    let received = report(&app, json!([format!("  {secret} "), unknown, "not a secret"])).await;
    assert_eq!(received.status.as_u16(), 202);
    assert!(received.body.is_null(), "nothing tells which was valid");
    until_handled(&app, 1.0).await;
    assert_eq!(
        app.metric(r#"tollgate_leak_reports_total{outcome="matched"}"#).await,
        1.0
    );

    assert_eq!(app.introspect(&secret).await.ok(200), &json!({ "active": false }));
    let login = answer(
        app.http
            .get(format!("{}/auth/token?service=tollgate-registry", app.base))
            .basic_auth(&user, Some(&secret))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(login.status.as_u16(), 401);
    assert!(
        login.body["details"].as_str().unwrap().contains("reported leaked"),
        "{}",
        login.body
    );

    let token = app.get(&alice, &path).await.ok(200).clone();
    assert_eq!(token["status"], "revoked");
    assert!(token["revoked_at"].is_string());
    assert_eq!(
        token["revocation_reason"],
        "reported leaked through the credential revocation API"
    );
    let revoked = app.all_tokens(&alice, "&status=revoked").await;
    assert_eq!(revoked.len(), 1);
    assert!(app
        .all_tokens(&alice, "&status=active")
        .await
        .iter()
        .all(|t| t["id"] != id.as_str()));
    let event = app.audit(&alice).await.remove(0);
    assert_eq!(event["action"], "token.revoke");
    assert_eq!(event["actor"]["name"], "Leaked-credential report");
    assert_eq!(event["target"]["id"], id.as_str());

    // Re-generating ends the revocation; the leaked secret stays dead, and reporting it again
    // changes nothing.
    let renewed = app.post_empty(&alice, &format!("{path}/secret")).await.ok(200)["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = app.get(&alice, &path).await.ok(200).clone();
    assert_eq!(
        (token["status"].as_str(), token["revoked_at"].is_null()),
        (Some("active"), true)
    );
    assert_eq!(app.introspect(&renewed).await.ok(200)["active"], true);
    assert_eq!(report(&app, json!([secret])).await.status.as_u16(), 202);
    until_handled(&app, 2.0).await;
    assert_eq!(app.get(&alice, &path).await.ok(200)["status"], "active");

    // An operator on the host revokes from stdin; the serving node hears of it within the
    // promised second on either backend.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["token", "revoke", "--reason", "found in a public repository"])
        .env("TOLLGATE_DATABASE_URL", &app.database_url)
        .env("TOLLGATE_DATA_DIR", app.data_dir.path())
        .env("TOLLGATE_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{renewed}\nnonsense").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("revoked 1 token(s)"));
    let from = Instant::now();
    while app.introspect(&renewed).await.ok(200)["active"] == true && from.elapsed() < Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.introspect(&renewed).await.ok(200)["active"], false);
    assert_eq!(
        app.get(&alice, &path).await.ok(200)["revocation_reason"],
        "found in a public repository"
    );
}

async fn reports_tell_nothing_and_are_limited_per_client(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.gateway.revocation_reports_per_minute = 3).await;
    let too_many: Vec<String> = (0..1001).map(|_| "tgr_x".to_owned()).collect();
    let refused = report(&app, json!(too_many)).await;
    assert_eq!(refused.problem(422, "invalid_field")["field"], "credentials");
    assert_eq!(report(&app, json!([])).await.status.as_u16(), 202);
    assert_eq!(report(&app, json!(["tgr_nothing"])).await.status.as_u16(), 202);
    let unknown = tollgate_store::secret::PlainSecret::generate().expose().to_owned();
    assert_eq!(report(&app, json!([unknown])).await.status.as_u16(), 202);
    let limited = report(&app, json!([])).await;
    limited.problem(429, "rate_limited");
    assert!(limited.headers.contains_key("retry-after"));
}

/// Budgets are per IPv6 /64 (a client rotating addresses within its prefix is one client),
/// and a report counts one per hundred secrets it carries.
async fn reports_are_limited_per_64_and_by_their_size(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.gateway.revocation_reports_per_minute = 3;
        c.trusted_proxies = tollgate_server::client_address::TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await;
    let from = |client: &'static str, credentials: Value| {
        let app = &app;
        async move {
            app.http
                .post(format!("{}/api/v1/credentials/revoke", app.base))
                .header("x-forwarded-for", client)
                .json(&json!({ "credentials": credentials }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let mut statuses = Vec::new();
    for client in [
        "2001:db8:0:1::1",
        "2001:db8:0:1::2",
        "2001:db8:0:1:ffff::3",
        "2001:db8:0:1::4",
    ] {
        statuses.push(from(client, json!(["tgr_x"])).await);
    }
    assert_eq!(statuses, [202, 202, 202, 429], "one /64, one budget");
    assert_eq!(from("2001:db8:0:2::1", json!(["tgr_x"])).await, 202, "another /64");
    // 250 secrets count three reports: the budget is spent.
    let many: Vec<String> = (0..250).map(|n| format!("tgr_{n}")).collect();
    assert_eq!(from("192.0.2.1", json!(many)).await, 202);
    assert_eq!(from("192.0.2.1", json!(["tgr_x"])).await, 429);
}

/// Nearly every report matches nothing (a scanner's false positives, or a flood): such a report
/// costs a read and writes nothing, so that no flood of reports ever waits for (or keeps
/// waiting) SQLite's one writer. One that matches a working secret writes once.
async fn reports_that_match_no_working_secret_write_nothing(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.gateway.revocation_reports_per_minute = 0;
        // Nothing else writes in the background: no webhook sender, no housekeeping.
        c.webhooks.delivery = false;
    })
    .await;
    let alice = app.login("alice").await;
    let created = app.create_token(&alice, "kept").await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    let id = created["token"]["id"].as_str().unwrap().to_owned();
    let old = app.create_token(&alice, "renewed").await;
    let old_id = old["token"]["id"].as_str().unwrap();
    app.post_empty(&alice, &format!("/api/v1/tokens/{old_id}/secret"))
        .await
        .ok(200);
    let old = old["secret"].as_str().unwrap().to_owned();
    let writes = || app.metric("tollgate_db_write_transactions_total");
    let before = writes().await;
    assert!(before >= 3.0, "the node counts its writes: {before}");

    for n in 0..40 {
        let unknown = tollgate_store::secret::PlainSecret::generate().expose().to_owned();
        let credentials = if n % 2 == 0 {
            json!([unknown])
        } else {
            json!([unknown, old])
        };
        assert_eq!(report(&app, credentials).await.status.as_u16(), 202);
    }
    until_handled(&app, 40.0).await;
    assert_eq!(
        app.metric(r#"tollgate_leak_reports_total{outcome="unmatched"}"#).await,
        40.0
    );
    assert_eq!(writes().await, before, "reports that matched nothing wrote");

    assert_eq!(report(&app, json!([secret.clone()])).await.status.as_u16(), 202);
    until_handled(&app, 41.0).await;
    assert_eq!(writes().await, before + 1.0, "one write for the matching report");
    assert_eq!(
        app.get(&alice, &format!("/api/v1/tokens/{id}")).await.ok(200)["status"],
        "revoked"
    );
    // Reported again: it no longer works, so there is nothing to write.
    assert_eq!(report(&app, json!([secret])).await.status.as_u16(), 202);
    until_handled(&app, 42.0).await;
    assert_eq!(writes().await, before + 1.0);
}

/// A leak is reported at the moment its owner re-generates the secret (the owner saw the same
/// leak): whichever commits first, the new secret must stay usable. Revoking the token found
/// by the old secret after the new one replaced it would lock the owner out with a secret
/// that never leaked.
async fn a_report_racing_a_regenerate_never_revokes_the_new_secret(db: Db) {
    // Many reports from one address: no limit here.
    let app = TestApp::spawn_with(db, |c| c.gateway.revocation_reports_per_minute = 0).await;
    let alice = app.login("alice").await;
    // Enough rounds for the other order to happen on two cores (without the compare-and-set
    // on the digest, PostgreSQL lost a round within the first 30 here).
    for round in 0..100 {
        let created = app.create_token(&alice, &format!("race-{round}")).await;
        let id = created["token"]["id"].as_str().unwrap().to_owned();
        let old = created["secret"].as_str().unwrap().to_owned();
        let regenerate = format!("/api/v1/tokens/{id}/secret");
        let (reported, renewed) = tokio::join!(report(&app, json!([old])), app.post_empty(&alice, &regenerate));
        assert_eq!(reported.status.as_u16(), 202);
        until_handled(&app, f64::from(round + 1)).await;
        let new = renewed.ok(200)["secret"].as_str().unwrap().to_owned();
        let token = app.get(&alice, &format!("/api/v1/tokens/{id}")).await.ok(200).clone();
        assert_eq!(
            token["status"], "active",
            "round {round}: the new secret was revoked: {token}"
        );
        assert_eq!(app.introspect(&new).await.ok(200)["active"], true, "round {round}");
        assert_eq!(app.introspect(&old).await.ok(200)["active"], false, "round {round}");
    }
}

/// Two nodes on one PostgreSQL: node B has the secret cached; the leak is reported to node A.
/// B refuses it within the promised second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_to_one_node_holds_on_another_within_the_bound() {
    if !crate::helpers::needs::postgres("a_report_to_one_node_holds_on_another_within_the_bound") {
        return;
    }
    let database = TestApp::spawn(Db::Postgres).await;
    let (a, b) = crate::helpers::two_nodes(&database.database_url).await;
    let http = reqwest::Client::new();
    let alice = a.session("alice").await;
    let created = a
        .post(Some(&alice), "/api/v1/tokens", Some(json!({ "name": "leaked" })))
        .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        assert_eq!(
            crate::helpers::introspect(&http, &b.base, &secret).await.ok(200)["active"],
            true
        );
    }
    let reported = http
        .post(format!("{}/api/v1/credentials/revoke", a.base))
        .json(&json!({ "credentials": [secret] }))
        .send()
        .await
        .unwrap();
    assert_eq!(reported.status().as_u16(), 202);
    let from = Instant::now();
    while crate::helpers::introspect(&http, &b.base, &secret).await.ok(200)["active"] == true {
        assert!(
            from.elapsed() < Duration::from_secs(1),
            "node B accepted a revoked secret for a second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
