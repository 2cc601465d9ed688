//! Webhooks, delivered to a receiver that is its own process (`e2e/webhooks/receiver.mjs`) and
//! verifies every signature with the `standardwebhooks` package, an implementation of the
//! Standard Webhooks specification that is not Tollgate's. The receiver answers as told
//! (204, 500, or never), to exercise retries, timeouts and "send again".

use crate::both_backends;
use crate::helpers::{needs, Db, ServerProcess, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

both_backends!(
    signing_secrets_are_sealed_at_rest_and_rotate_with_an_overlap,
    parallel_claims_never_take_one_delivery_twice,
    every_change_reaches_the_webhook_signed_and_without_secrets,
    failed_deliveries_are_retried_logged_and_sent_again,
    expiry_reminders_come_30_7_and_1_days_before_and_after_each_once,
);

/// The receiver process; stopped when dropped.
pub struct Receiver {
    pub base: String,
    http: reqwest::Client,
    child: Child,
}

impl Receiver {
    #[allow(clippy::zombie_processes, reason = "killed and waited for on drop")]
    pub fn start() -> Receiver {
        let e2e = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e");
        let mut child = Command::new("node")
            .arg(e2e.join("webhooks/receiver.mjs"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("the receiver did not start: {line:?}"))
            .trim()
            .to_owned();
        Receiver {
            base,
            http: reqwest::Client::new(),
            child,
        }
    }

    pub fn url(&self, hook: &str) -> String {
        format!("{}/hooks/{hook}", self.base)
    }

    /// How `hook` answers from now on, and the secret it verifies with.
    pub async fn answer(&self, hook: &str, secret: &str, mode: &str, fail_first: u32) {
        self.http
            .put(format!("{}/control/{hook}", self.base))
            .json(&json!({ "secret": secret, "mode": mode, "fail_first": fail_first }))
            .send()
            .await
            .unwrap();
    }

    pub async fn received(&self) -> Vec<Value> {
        self.http
            .get(format!("{}/received", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits (up to 20 s) until `hook` has received `n` deliveries; returns them.
    pub async fn wait_for(&self, hook: &str, n: usize) -> Vec<Value> {
        for _ in 0..200 {
            let got: Vec<Value> = self
                .received()
                .await
                .into_iter()
                .filter(|r| r["hook"] == hook)
                .collect();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let got: Vec<Value> = self
            .received()
            .await
            .into_iter()
            .filter(|r| r["hook"] == hook)
            .collect();
        panic!("{hook} received {} of {n} deliveries: {got:#?}", got.len());
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ready(test: &str) -> bool {
    needs::node_packages(test)
}

/// A server that sends to the loopback receiver, retries after 1 s twice, waits 1 s for an
/// answer, and looks for reminders every 200 ms by `clock`.
async fn app(db: Db, clock: Option<tollgate_server::clock::Clock>) -> TestApp {
    TestApp::spawn_with(db, |c| {
        c.webhooks.allow_private = true;
        c.webhooks.timeout_ms = 1000;
        c.webhooks.retry_schedule = tollgate_server::config::Schedule(vec![Duration::from_secs(1); 2]);
        c.webhooks.reminder_interval_ms = 200;
        c.housekeeping.housekeeping_interval_ms = 200;
        if let Some(clock) = clock {
            c.clock = clock;
        }
    })
    .await
}

async fn register(app: &TestApp, admin: &str, url: &str, events: &[&str]) -> (String, String) {
    let created = app
        .post(admin, "/api/v1/webhooks", json!({ "url": url, "events": events }))
        .await;
    let body = created.ok(201).clone();
    assert_eq!(
        created.headers["location"],
        format!("/api/v1/webhooks/{}", body["webhook"]["id"].as_str().unwrap())
    );
    (
        body["webhook"]["id"].as_str().unwrap().to_owned(),
        body["signing_secret"].as_str().unwrap().to_owned(),
    )
}

/// Signing secrets are sealed at rest (a dump of the database would otherwise let anyone forge
/// events to every customer's receiver), and a rotation keeps the previous secret signing
/// beside the new one for the overlap asked for: the receiver verifies each delivery with
/// either secret until then, and with the previous one no longer after an overlap of 0.
async fn signing_secrets_are_sealed_at_rest_and_rotate_with_an_overlap(db: Db) {
    if !ready(module_path!()) {
        return;
    }
    let receiver = Receiver::start();
    let app = app(db, None).await;
    let alice = app.login("alice").await;
    let (id, first) = register(&app, &alice, &receiver.url("rot"), &["token.created"]).await;
    receiver.answer("rot", &first, "ok", 0).await;
    let rotate = |body: Value| {
        let (app, alice, path) = (&app, alice.clone(), format!("/api/v1/webhooks/{id}/secret"));
        async move { app.send(Method::POST, &path, Some(&alice), Some(body)).await }
    };
    rotate(json!({ "overlap_hours": 169 }))
        .await
        .problem(422, "invalid_field");
    let rotated = rotate(json!({ "overlap_hours": 1 })).await.ok(200).clone();
    let second = rotated["signing_secret"].as_str().unwrap().to_owned();
    assert!(second.starts_with("whsec_") && second != first);
    assert!(rotated["webhook"]["previous_secret_until"].is_string(), "{rotated}");
    assert_eq!(app.audit(&alice).await[0]["action"], "webhook.secret.rotate");
    set(&receiver, "rot", &second, &[&first]).await;
    app.create_token(&alice, "during the overlap").await;
    let got = receiver.wait_for("rot", 1).await;
    assert_eq!(
        (got[0]["verified"].as_bool(), got[0]["signatures"].as_u64()),
        (Some(true), Some(2))
    );
    assert_eq!(
        got[0]["verified_also"],
        json!([true]),
        "the previous secret still verifies"
    );

    // No overlap: the previous secret ends at once.
    let third = rotate(json!({ "overlap_hours": 0 })).await.ok(200)["signing_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    set(&receiver, "rot", &third, &[&second]).await;
    app.create_token(&alice, "after the overlap").await;
    let got = receiver.wait_for("rot", 2).await;
    assert_eq!(
        (got[1]["verified"].as_bool(), got[1]["signatures"].as_u64()),
        (Some(true), Some(1))
    );
    assert_eq!(got[1]["verified_also"], json!([false]));

    let dump = app.database_text();
    for secret in [&first, &second, &third] {
        assert!(
            !dump.contains(&secret[6..]),
            "a signing secret is in the database in clear"
        );
    }
    let stored = app.stored_webhook_secrets();
    assert_eq!(stored.len(), 1, "no previous secret kept after an overlap of 0");
    assert!(stored.iter().all(|s| s.starts_with("v1.")), "{stored:?}");
}

/// A received delivery is what the model's `WebhookMessage` says (every field, nothing more),
/// of its type, with the data the OpenAPI document's `webhooks` section names for that type.
fn typed(received: &Value, data: &str) {
    let message: tollgate_model::WebhookMessage = serde_json::from_value(received["payload"].clone())
        .unwrap_or_else(|e| panic!("a delivery that is no WebhookMessage ({e}): {received}"));
    assert_eq!(message.event.as_str(), received["type"].as_str().unwrap());
    assert_eq!(
        serde_json::to_value(&message).unwrap(),
        received["payload"],
        "read back as sent"
    );
    let document: Value = serde_json::from_str(&tollgate_server::openapi::json()).unwrap();
    let hook = &document["webhooks"][message.event.as_str()]["post"];
    let schema = &hook["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(
        schema["properties"]["data"]["$ref"],
        format!("#/components/schemas/{data}")
    );
    let variant = match message.data {
        tollgate_model::EventData::Change(_) => "ChangeEvent",
        tollgate_model::EventData::Subscription(_) => "SubscriptionNotice",
        tollgate_model::EventData::Token(_) => "TokenNotice",
    };
    assert_eq!(variant, data, "{received}");
}

/// The receiver verifies `hook`'s deliveries with `secret`, and also with each of `also`.
async fn set(receiver: &Receiver, hook: &str, secret: &str, also: &[&str]) {
    receiver
        .http
        .put(format!("{}/control/{hook}", receiver.base))
        .json(&json!({ "secret": secret, "mode": "ok", "fail_first": 0, "also": also }))
        .send()
        .await
        .unwrap();
}

/// A secret written in clear (by a node of the release before sealing, during a rolling
/// upgrade) signs as it is and is sealed by housekeeping; sealing anew under the next key with
/// `tollgate secrets reseal` (the previous one named to open them) leaves nothing that only the
/// previous key opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_clear_are_sealed_and_keys_rotate_with_reseal() {
    if !ready("secrets_in_clear_are_sealed_and_keys_rotate_with_reseal") {
        return;
    }
    let receiver = Receiver::start();
    let app = app(Db::Sqlite, None).await;
    let alice = app.login("alice").await;
    let (id, _) = register(&app, &alice, &receiver.url("old"), &["token.created"]).await;
    let clear = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwdGVzdHNlY3JldA==";
    app.execute_sql(&format!(
        "UPDATE webhooks SET signing_secret = '{clear}' WHERE id = '{id}'"
    ));
    let reseal = |extra: &[(&str, &std::path::Path)]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"));
        command
            .args(["secrets", "reseal"])
            .env("TOLLGATE_DATABASE_URL", &app.database_url)
            .env("TOLLGATE_DATA_DIR", app.data_dir.path())
            .env("TOLLGATE_LOG", "warn");
        for (key, value) in extra {
            command.env(key, value);
        }
        let out = command.output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    // As a node of the release before sealing writes it during a rolling upgrade: deliveries
    // sign with it as it is, and housekeeping seals it.
    receiver.answer("old", clear, "ok", 0).await;
    app.create_token(&alice, "while in clear").await;
    assert_eq!(receiver.wait_for("old", 1).await[0]["verified"], true);
    let from = std::time::Instant::now();
    while !app.stored_webhook_secrets().iter().all(|s| s.starts_with("v1.")) {
        assert!(from.elapsed() < Duration::from_secs(5), "housekeeping did not seal it");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.create_token(&alice, "after sealing").await;
    assert_eq!(receiver.wait_for("old", 2).await[1]["verified"], true);
    let (ok, said) = reseal(&[]);
    assert!(ok && said.contains("sealed 0 webhook"), "nothing left in clear: {said}");

    // The next key: sealed anew, opened with the previous one.
    let next = app.data_dir.path().join("next.key");
    std::fs::write(&next, "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n").unwrap();
    let previous = app.data_dir.path().join("secret.key");
    let (ok, said) = reseal(&[
        ("TOLLGATE_SECRET_KEY_FILE", &next),
        ("TOLLGATE_SECRET_PREVIOUS_KEY_FILES", &previous),
    ]);
    assert!(ok && said.contains("sealed 1 webhook"), "{said}");
    let (ok, said) = reseal(&[("TOLLGATE_SECRET_KEY_FILE", &next)]);
    assert!(ok && said.contains("sealed 0 webhook"), "{said}");
    // The previous key alone opens nothing any more: the refusal names the key it lacks.
    let (ok, said) = reseal(&[]);
    assert!(!ok && said.contains("which this node does not have"), "{said}");
}

async fn every_change_reaches_the_webhook_signed_and_without_secrets(db: Db) {
    if !ready(module_path!()) {
        return;
    }
    let receiver = Receiver::start();
    let app = app(db, None).await;
    let (alice, bob, carol) = app.everyone().await;
    let events = [
        "token.created",
        "token.secret_regenerated",
        "token.products_synced",
        "token.revoked",
        "token.deleted",
        "subscription.changed",
    ];
    let (id, secret) = register(&app, &alice, &receiver.url("acme"), &events).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    receiver.answer("acme", &secret, "ok", 0).await;

    // The secret is shown once: never in a read, a list or the audit log.
    let listed = app.get(&alice, "/api/v1/webhooks").await.ok(200).clone();
    assert_eq!(listed["items"][0]["id"], id);
    assert_eq!(listed["items"][0]["events"].as_array().unwrap().len(), events.len());
    let read = app.get(&alice, &format!("/api/v1/webhooks/{id}")).await.ok(200).clone();
    let audit = app.audit(&alice).await;
    assert_eq!(audit[0]["action"], "webhook.create");
    for text in [listed.to_string(), read.to_string(), json!(audit).to_string()] {
        assert!(!text.contains(&secret[6..]), "the signing secret leaked: {text}");
    }
    // Customers and other projects see nothing of it.
    app.get(&bob, "/api/v1/webhooks").await.problem(403, "forbidden");
    app.post(
        &bob,
        "/api/v1/webhooks",
        json!({ "url": receiver.url("x"), "events": ["token.created"] }),
    )
    .await
    .problem(403, "forbidden");
    app.get(&carol, &format!("/api/v1/webhooks/{id}"))
        .await
        .problem(404, "not_found");
    app.delete(&carol, &format!("/api/v1/webhooks/{id}"))
        .await
        .problem(404, "not_found");

    // Every kind of change, by the API, the public revocation endpoint and an operator.
    let issued = app.create_token(&alice, "ci").await;
    let token = issued["token"]["id"].as_str().unwrap().to_owned();
    let renewed = app
        .post_empty(&alice, &format!("/api/v1/tokens/{token}/secret"))
        .await
        .ok(200)
        .clone();
    let secrets = [
        issued["secret"].as_str().unwrap().to_owned(),
        renewed["secret"].as_str().unwrap().to_owned(),
    ];
    app.post_empty(&alice, &format!("/api/v1/tokens/{token}/products/sync"))
        .await
        .ok(200);
    app.send(
        Method::POST,
        "/api/v1/credentials/revoke",
        None,
        Some(json!({ "credentials": [secrets[1]] })),
    )
    .await
    .ok(202);
    // Reports are handled right after their answer: the revocation before the delete.
    let from = std::time::Instant::now();
    while app.metric(r#"tollgate_leak_reports_total{outcome="matched"}"#).await < 1.0 {
        assert!(from.elapsed() < Duration::from_secs(5), "the report was not handled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    app.delete(&alice, &format!("/api/v1/tokens/{token}")).await.ok(204);
    app.put_acme_api("2031-01-31", &["wso2am"]).await.ok(200);
    // Globex's change is not acme's business.
    app.create_token(&carol, "theirs").await;

    let mut got = receiver.wait_for("acme", events.len()).await;
    // Deliveries may overtake each other (several are in flight at once); the payload's
    // timestamp is when each change happened.
    got.sort_by_key(|r| r["payload"]["timestamp"].as_str().unwrap().to_owned());
    let types: Vec<&str> = got.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(types, events, "each change once, in order");
    for r in &got {
        assert_eq!(r["verified"], true, "standardwebhooks verified it: {r}");
        assert_eq!(r["content_type"], "application/json");
        typed(r, "ChangeEvent");
        assert_eq!(r["payload"]["data"]["project"], "acme");
        for secret in &secrets {
            assert!(
                !r.to_string().contains(secret.as_str()),
                "a payload carried a secret: {r}"
            );
        }
    }
    assert_eq!(got[0]["payload"]["data"]["target"]["id"], token);
    assert_eq!(got[0]["payload"]["data"]["actor"]["id"], "alice");
    assert_eq!(got[5]["payload"]["data"]["actor"]["name"], "Olivia Operator");

    // The delivery log says the same, newest first, once the sender has recorded each outcome
    // (it does so after the receiver answered, so the receiver may have them all first).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let log = loop {
        let log = app
            .get(&alice, &format!("/api/v1/webhooks/{id}/deliveries?limit=100"))
            .await
            .ok(200)
            .clone();
        let recorded = log["items"].as_array().unwrap().iter().all(|i| i["state"] != "pending");
        if recorded || std::time::Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), events.len());
    assert_eq!(items[0]["event_type"], "subscription.changed");
    for item in items {
        assert_eq!(item["state"], "delivered", "{item}");
        assert_eq!(item["attempts"], 1);
        assert_eq!(item["response_status"], 204);
        assert!(item["duration_ms"].as_i64().is_some_and(|d| d >= 0));
        assert!(item["next_attempt_at"].is_null());
        let id = item["id"].as_str().unwrap();
        assert!(got.iter().any(|r| r["id"] == id), "webhook-id {id} is the log's id");
    }

    // Deleted: nothing more is sent, and its log is gone.
    app.delete(&alice, &format!("/api/v1/webhooks/{id}")).await.ok(204);
    app.create_token(&alice, "after").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.wait_for("acme", events.len()).await.len(), events.len());
    app.get(&alice, &format!("/api/v1/webhooks/{id}/deliveries"))
        .await
        .problem(404, "not_found");
    assert_eq!(app.audit(&alice).await[1]["action"], "webhook.delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_webhooks_are_refused_with_the_field_and_change_nothing() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let alice = app.login("alice").await;
    for (body, field) in [
        (
            json!({ "url": "http://127.0.0.1:9/hook", "events": ["token.created"] }),
            "url",
        ),
        (
            json!({ "url": "http://169.254.169.254/latest", "events": ["token.created"] }),
            "url",
        ),
        (
            json!({ "url": "http://localhost/hook", "events": ["token.created"] }),
            "url",
        ),
        (
            json!({ "url": "http://[::1]/hook", "events": ["token.created"] }),
            "url",
        ),
        (
            json!({ "url": "https://user:pw@hooks.example.com/", "events": ["token.created"] }),
            "url",
        ),
        (
            json!({ "url": "ftp://hooks.example.com/", "events": ["token.created"] }),
            "url",
        ),
        (json!({ "url": "https://hooks.example.com/", "events": [] }), "events"),
        (
            json!({ "url": "https://hooks.example.com/", "events": ["token.exploded"] }),
            "events[0]",
        ),
        (
            json!({ "url": "https://hooks.example.com/", "events": ["token.created"], "description": "x".repeat(300) }),
            "description",
        ),
    ] {
        let answer = app.post(&alice, "/api/v1/webhooks", body.clone()).await;
        let problem = answer.problem(422, "invalid_field");
        assert_eq!(problem["field"], field, "{body}: {problem}");
        assert!(!problem.to_string().contains("pw@"), "{problem}");
    }
    assert_eq!(app.get(&alice, "/api/v1/webhooks").await.ok(200)["items"], json!([]));
    let (id, _) = register(&app, &alice, "https://hooks.example.com/tollgate", &["token.created"]).await;
    // At most 20 a project: every change goes to each.
    for n in 1..20 {
        register(
            &app,
            &alice,
            &format!("https://hooks.example.com/{n}"),
            &["token.deleted"],
        )
        .await;
    }
    let refused = app
        .post(
            &alice,
            "/api/v1/webhooks",
            json!({ "url": "https://hooks.example.com/21", "events": ["token.deleted"] }),
        )
        .await;
    assert!(refused.problem(422, "invalid_field")["detail"]
        .as_str()
        .unwrap()
        .contains("at most 20 webhooks"));
    assert_eq!(
        app.get(&alice, "/api/v1/webhooks").await.ok(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
    app.post_empty(&alice, &format!("/api/v1/webhooks/{id}/deliveries/not-an-id/redeliver"))
        .await
        .problem(404, "not_found");
    app.get(&alice, &format!("/api/v1/webhooks/{id}/deliveries?limit=0"))
        .await
        .problem(400, "invalid_parameter");
}

async fn failed_deliveries_are_retried_logged_and_sent_again(db: Db) {
    if !ready(module_path!()) {
        return;
    }
    let receiver = Receiver::start();
    let app = app(db, None).await;
    let alice = app.login("alice").await;
    let (flaky, flaky_secret) = register(&app, &alice, &receiver.url("flaky"), &["token.created"]).await;
    let (down, down_secret) = register(&app, &alice, &receiver.url("down"), &["token.created"]).await;
    let (hung, hung_secret) = register(&app, &alice, &receiver.url("hung"), &["token.created"]).await;
    receiver.answer("flaky", &flaky_secret, "ok", 2).await;
    receiver.answer("down", &down_secret, "fail", 0).await;
    receiver.answer("hung", &hung_secret, "hang", 0).await;
    app.create_token(&alice, "ci").await;

    // Two failures, then a 2xx on the third attempt, with the same message id each time.
    let flaky_got = receiver.wait_for("flaky", 3).await;
    assert!(flaky_got
        .iter()
        .all(|r| r["id"] == flaky_got[0]["id"] && r["verified"] == true));
    let waited = |a: &Value, b: &Value| b["timestamp"].as_i64().unwrap() - a["timestamp"].as_i64().unwrap();
    assert!(waited(&flaky_got[0], &flaky_got[1]) >= 1, "a retry waits its turn");
    // The log's newest item once it has settled after `attempts` attempts (the receiver records
    // a delivery before Tollgate records how it ended).
    let log = |hook: String, attempts: i64| {
        let (app, alice) = (&app, &alice);
        async move {
            for _ in 0..100 {
                let page = app
                    .get(alice, &format!("/api/v1/webhooks/{hook}/deliveries"))
                    .await
                    .ok(200)
                    .clone();
                let item = page["items"][0].clone();
                if item["state"] != "pending" && item["attempts"] == attempts {
                    return item;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("the delivery never settled");
        }
    };
    let item = log(flaky.clone(), 3).await;
    assert_eq!(
        (item["state"].as_str(), item["attempts"].as_i64()),
        (Some("delivered"), Some(3))
    );

    // Always 500: three attempts (the first and two retries), then failed, and said why.
    assert_eq!(receiver.wait_for("down", 3).await.len(), 3);
    let item = log(down.clone(), 3).await;
    assert_eq!(item["state"], "failed", "{item}");
    assert_eq!(item["response_status"], 500);
    assert!(item["next_attempt_at"].is_null());
    // A receiver that never answers is cut off at the timeout, and the log says so.
    let item = log(hung.clone(), 3).await;
    assert_eq!(item["state"], "failed", "{item}");
    assert_eq!(item["error"], "no answer within 1000 ms");
    assert!(item["response_status"].is_null());
    assert!(item["duration_ms"].as_i64().unwrap() >= 900, "{item}");

    // Fixed, then "send again": one more attempt with the same id, and delivered.
    receiver.answer("down", &down_secret, "ok", 0).await;
    let delivery = item_id(&app, &alice, &down).await;
    let due = app
        .post_empty(
            &alice,
            &format!("/api/v1/webhooks/{down}/deliveries/{delivery}/redeliver"),
        )
        .await;
    assert_eq!(due.ok(202)["state"], "pending");
    let down_got = receiver.wait_for("down", 4).await;
    assert_eq!(down_got[3]["id"], delivery);
    assert_eq!(down_got[3]["answered"], 204);
    let item = log(down.clone(), 4).await;
    assert_eq!(
        (item["state"].as_str(), item["attempts"].as_i64()),
        (Some("delivered"), Some(4))
    );
    // Each attempt's outcome is counted: flaky's two retries and its delivery, down's two
    // retries, its failure and its delivery again, hung's two retries and its failure.
    for (outcome, at_least) in [("delivered", 2.0), ("retry", 6.0), ("failed", 2.0)] {
        let counted = app
            .metric(&format!("tollgate_webhook_deliveries_total{{outcome=\"{outcome}\"}}"))
            .await;
        assert!(counted >= at_least, "{outcome}: {counted}");
    }
    // Another project cannot send it again.
    let carol = app.login("carol").await;
    app.post_empty(
        &carol,
        &format!("/api/v1/webhooks/{down}/deliveries/{delivery}/redeliver"),
    )
    .await
    .problem(404, "not_found");
}

async fn item_id(app: &TestApp, admin: &str, hook: &str) -> String {
    app.get(admin, &format!("/api/v1/webhooks/{hook}/deliveries"))
        .await
        .ok(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn expiry_reminders_come_30_7_and_1_days_before_and_after_each_once(db: Db) {
    if !ready(module_path!()) {
        return;
    }
    let receiver = Receiver::start();
    let clock = tollgate_server::clock::Clock::default();
    let app = app(db, Some(clock.clone())).await;
    let alice = app.login("alice").await;
    let today = chrono::Utc::now().date_naive();
    let end = today + chrono::Days::new(30);
    app.put_acme_api(&end.to_string(), &["wso2am", "wso2is"]).await.ok(200);
    let (_, secret) = register(
        &app,
        &alice,
        &receiver.url("expiry"),
        &[
            "subscription.expiring",
            "subscription.expired",
            "token.expiring",
            "token.expired",
        ],
    )
    .await;
    receiver.answer("expiry", &secret, "ok", 0).await;
    // A token that ends before its subscription has reminders of its own.
    let own_end = today + chrono::Days::new(10);
    app.post(
        &alice,
        "/api/v1/tokens",
        json!({ "name": "short", "expires_on": own_end.to_string() }),
    )
    .await
    .ok(201);

    // Today: 30 days before the subscription's end, and 10 before the token's (its 30-day mark).
    let mut expected: Vec<(String, Value)> = vec![
        ("subscription.expiring".into(), json!(30)),
        ("token.expiring".into(), json!(10)),
    ];
    let check = |expected: Vec<(String, Value)>| {
        let receiver = &receiver;
        async move {
            receiver.wait_for("expiry", expected.len()).await;
            // A few more rounds of the scheduler: nothing is sent twice.
            tokio::time::sleep(Duration::from_millis(800)).await;
            let got: Vec<Value> = receiver
                .received()
                .await
                .into_iter()
                .filter(|r| r["hook"] == "expiry")
                .collect();
            let mut seen: Vec<(String, Value)> = got
                .iter()
                .map(|r| {
                    assert_eq!(r["verified"], true);
                    let kind = r["type"].as_str().unwrap().to_owned();
                    typed(
                        r,
                        if kind.starts_with("token") {
                            "TokenNotice"
                        } else {
                            "SubscriptionNotice"
                        },
                    );
                    let days = if kind.ends_with("expired") {
                        json!("expired")
                    } else {
                        r["payload"]["data"]["days_left"].clone()
                    };
                    (kind, days)
                })
                .collect();
            let mut expected = expected;
            let key = |(kind, days): &(String, Value)| format!("{kind} {days}");
            seen.sort_by_key(key);
            expected.sort_by_key(key);
            assert_eq!(seen, expected, "each reminder once");
        }
    };
    check(expected.clone()).await;
    for (days, reminder) in [
        (3, Some(("token.expiring", json!(7)))),
        (6, Some(("token.expiring", json!(1)))),
        (2, Some(("token.expired", json!("expired")))),
        (12, Some(("subscription.expiring", json!(7)))),
        (6, Some(("subscription.expiring", json!(1)))),
        // The last day itself: its 1-day reminder was sent already.
        (1, None),
        (1, Some(("subscription.expired", json!("expired")))),
    ] {
        clock.advance_days(days);
        expected.extend(reminder.map(|(kind, d)| (kind.to_owned(), d)));
        check(expected.clone()).await;
    }
    let received = receiver.received().await;
    let last = received.iter().find(|r| r["type"] == "subscription.expired").unwrap();
    assert_eq!(last["payload"]["data"]["end_date"], end.to_string());
    assert_eq!(last["payload"]["data"]["project"], "acme");
}

/// The outbox survives `kill -9`: a node that cannot deliver (it leaves delivering to others)
/// makes a change and is killed; a node started afterwards delivers it, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_survives_kill_9_before_its_delivery_and_is_sent_once() {
    if !ready(module_path!()) || !needs::postgres(module_path!()) {
        return;
    }
    let receiver = Receiver::start();
    for db in [Db::Sqlite, Db::Postgres] {
        // Owns the database (and its cleanup); delivers nothing itself.
        let owner = TestApp::spawn_with(db, |c| c.webhooks.delivery = false).await;
        let url = owner.database_url.clone();
        let hook = if url.starts_with("postgres") {
            "kill-pg"
        } else {
            "kill-sqlite"
        };
        let env = |delivery: &'static str| {
            vec![
                ("TOLLGATE_DATABASE_URL", url.clone()),
                ("TOLLGATE_WEBHOOK_ALLOW_PRIVATE", "true".to_owned()),
                ("TOLLGATE_WEBHOOK_DELIVERY", delivery.to_owned()),
            ]
        };
        let as_refs = |v: &Vec<(&'static str, String)>| -> Vec<(&'static str, String)> { v.clone() };
        let quiet = as_refs(&env("false"));
        let quiet: Vec<(&str, &str)> = quiet.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut a = ServerProcess::start(&quiet, None).await;
        let alice = a.session("alice").await;
        let created = a
            .post(
                Some(&alice),
                "/api/v1/webhooks",
                Some(json!({ "url": receiver.url(hook), "events": ["token.created"] })),
            )
            .await;
        receiver
            .answer(hook, created["signing_secret"].as_str().unwrap(), "ok", 0)
            .await;
        a.post(Some(&alice), "/api/v1/tokens", Some(json!({ "name": "ci" })))
            .await;
        a.child.kill().unwrap(); // SIGKILL
        a.child.wait().unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            receiver.received().await.iter().all(|r| r["hook"] != hook),
            "nothing was sent by the node that does not deliver"
        );
        let loud = as_refs(&env("true"));
        let loud: Vec<(&str, &str)> = loud.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let b = ServerProcess::start(&loud, None).await;
        let got = receiver.wait_for(hook, 1).await;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let all: Vec<Value> = receiver
            .received()
            .await
            .into_iter()
            .filter(|r| r["hook"] == hook)
            .collect();
        assert_eq!(all.len(), 1, "delivered once: {all:#?}");
        assert_eq!(got[0]["type"], "token.created");
        assert_eq!(got[0]["verified"], true);
        drop(b);
    }
}

/// Two PostgreSQL nodes share the deliveries and never send one twice; the reminders run on
/// one of them at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_deliveries_without_sending_one_twice() {
    if !ready(module_path!()) || !needs::postgres(module_path!()) {
        return;
    }
    let receiver = Receiver::start();
    let owner = TestApp::spawn_with(Db::Postgres, |c| c.webhooks.delivery = false).await;
    let url = owner.database_url.clone();
    let env = [
        ("TOLLGATE_DATABASE_URL", url.as_str()),
        ("TOLLGATE_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("TOLLGATE_REMINDER_INTERVAL_MS", "100"),
    ];
    let a = ServerProcess::start(&env, None).await;
    let b = ServerProcess::start(&env, None).await;
    let operator = a.operator("olivia");
    let end = chrono::Utc::now().date_naive() + chrono::Days::new(5);
    let body = json!({ "name": "Acme Corp", "subscription": { "end_date": end.to_string(), "products": [{ "code": "wso2am" }] } });
    let put = reqwest::Client::new()
        .put(format!("{}/api/v1/projects/acme", a.base))
        .bearer_auth(&operator)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let alice = a.session("alice").await;
    let created = a
        .post(
            Some(&alice),
            "/api/v1/webhooks",
            Some(json!({ "url": receiver.url("shared"), "events": ["token.created", "subscription.expiring"] })),
        )
        .await;
    receiver
        .answer("shared", created["signing_secret"].as_str().unwrap(), "ok", 0)
        .await;
    let alice_b = b.session("alice").await;
    let n = 40;
    // Ten changes at a time, half through each node: their deliveries race to be claimed.
    for round in 0..n / 10 {
        let mut creations = Vec::new();
        for i in round * 10..(round + 1) * 10 {
            let (node, bearer) = if i % 2 == 0 { (&a, &alice) } else { (&b, &alice_b) };
            creations.push(node.post(Some(bearer), "/api/v1/tokens", Some(json!({ "name": format!("t{i}") }))));
        }
        for created in futures_util::future::join_all(creations).await {
            assert!(created["token"]["id"].is_string(), "{created}");
        }
    }
    let got = receiver.wait_for("shared", n + 1).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let all: Vec<Value> = receiver
        .received()
        .await
        .into_iter()
        .filter(|r| r["hook"] == "shared")
        .collect();
    let mut ids: Vec<&str> = all.iter().map(|r| r["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "no delivery was sent twice");
    assert_eq!(all.len(), n + 1, "{got:#?}");
    let reminders: Vec<&Value> = all.iter().filter(|r| r["type"] == "subscription.expiring").collect();
    assert_eq!(reminders.len(), 1, "one reminder, whichever node sent it");
    assert_eq!(reminders[0]["payload"]["data"]["days_left"], 5);
    assert!(all.iter().all(|r| r["verified"] == true));
}

/// Nodes claim due deliveries at the same moment, on connections of their own: none is
/// claimed twice, none is left out. (The receiver-level test shows no duplicate arrived; this
/// one races the claim itself, many rounds over the same rows.)
async fn parallel_claims_never_take_one_delivery_twice(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.webhooks.delivery = false).await;
    let alice = app.login("alice").await;
    register(&app, &alice, "https://hooks.example.com/race", &["token.created"]).await;
    let n = 120;
    for i in 0..n {
        app.create_token(&alice, &format!("race-{i}")).await;
    }
    let keys = || app.sealing_keys();
    let claimer = |node: &'static str| {
        let url = app.database_url.clone();
        let keys = keys();
        let keys = move || keys;
        std::thread::spawn(move || {
            let store = tollgate_store::Store::open(&url, 2).unwrap();
            store.set_sealing_keys(keys());
            let mut mine = Vec::new();
            loop {
                let now = chrono::Utc::now().naive_utc();
                let got = store
                    .claim_deliveries(node, now, now + chrono::Duration::seconds(60), 3)
                    .unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|c| c.id));
            }
        })
    };
    let nodes: Vec<_> = ["a", "b", "c"].into_iter().map(claimer).collect();
    let claims: Vec<Vec<String>> = nodes.into_iter().map(|t| t.join().unwrap()).collect();
    let mut all: Vec<&String> = claims.iter().flatten().collect();
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(
        all.len(),
        total,
        "a delivery was claimed twice: {:?}",
        claims.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert_eq!(total, n, "every delivery was claimed once");
}
