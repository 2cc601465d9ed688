//! `/api/v1/audit-events`: every change, who made it, from where, with which request.

use crate::both_backends;
use crate::helpers::{Db, TestApp};
use serde_json::json;

both_backends!(
    behind_a_trusted_proxy_the_forwarded_client_is_recorded,
    every_change_writes_an_audit_event,
    the_audit_log_is_for_admins_of_the_project_and_pages
);

async fn every_change_writes_an_audit_event(db: Db) {
    let app = TestApp::spawn(db).await;
    let (alice, bob) = (app.login("alice").await, app.login("bob").await);
    let seeded = app.audit(&alice).await.len();

    // A request id the caller chose is not a fact the audit log records.
    let created = crate::helpers::answer(
        app.http
            .post(format!("{}/api/v1/tokens", app.base))
            .bearer_auth(&bob)
            .header("x-request-id", "chosen-by-the-caller")
            .header("x-forwarded-for", "203.0.113.66")
            .json(&json!({ "name": "laptop" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let request_id = created.headers["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(request_id, "chosen-by-the-caller");
    let id = created.ok(201)["token"]["id"].as_str().unwrap().to_owned();
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    app.post_empty(&bob, &format!("/api/v1/tokens/{id}/secret"))
        .await
        .ok(200);
    app.post_empty(&alice, &format!("/api/v1/tokens/{id}/products/sync"))
        .await
        .ok(200);
    app.delete(&bob, &format!("/api/v1/tokens/{id}")).await;
    let su = app
        .post(&alice, "/api/v1/service-users", json!({ "name": "bot" }))
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.delete(&alice, &format!("/api/v1/service-users/{su}")).await;

    let events = app.audit(&alice).await;
    assert_eq!(events.len(), seeded + 6);
    let actions: Vec<&str> = events.iter().take(6).map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "service_user.delete",
            "service_user.create",
            "token.delete",
            "token.products.sync",
            "token.secret.regenerate",
            "token.generate"
        ]
    );
    let generate = &events[5];
    assert_eq!(generate["actor"], json!({ "id": "bob", "name": "Bob Builder" }));
    assert_eq!(
        generate["target"],
        json!({ "type": "token", "id": id, "name": "laptop" })
    );
    assert_eq!(generate["request_id"], request_id.as_str());
    assert_eq!(
        generate["client_address"], "127.0.0.1",
        "a forwarded address counts only from a trusted proxy"
    );
    assert_eq!(generate["details"]["kind"], "user");
    assert!(generate["occurred_at"].is_string());
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains(&secret[4..]), "a secret reached the audit log");
}

async fn behind_a_trusted_proxy_the_forwarded_client_is_recorded(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.trusted_proxies = tollgate_server::client_address::TrustedProxies::parse("127.0.0.0/8").unwrap();
    })
    .await;
    let alice = app.login("alice").await;
    let created = app
        .http
        .post(format!("{}/api/v1/tokens", app.base))
        .bearer_auth(&alice)
        .header("x-forwarded-for", "192.0.2.200, 198.51.100.23")
        .json(&json!({ "name": "behind-proxy" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let events = app.audit(&alice).await;
    assert_eq!(events[0]["action"], "token.generate");
    assert_eq!(
        events[0]["client_address"], "198.51.100.23",
        "the hop the trusted proxy saw, not what the client claimed before it"
    );
}

async fn the_audit_log_is_for_admins_of_the_project_and_pages(db: Db) {
    let app = TestApp::spawn(db).await;
    let (alice, bob, carol) = app.everyone().await;
    for n in 0..5 {
        app.create_token(&alice, &format!("t{n}")).await;
    }
    app.get(&bob, "/api/v1/audit-events").await.problem(403, "forbidden");
    let globex_only = app.audit(&carol).await;
    assert!(
        globex_only
            .iter()
            .all(|e| e["target"]["type"] == "project" && e["target"]["id"] == "globex"),
        "carol sees nothing of acme: {globex_only:?}"
    );

    let all = app.audit(&alice).await;
    let mut paged = Vec::new();
    let mut path = "/api/v1/audit-events?limit=2".to_owned();
    loop {
        let page = app.get(&alice, &path).await.ok(200).clone();
        paged.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/audit-events?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(paged, all);
    assert_eq!(all[0]["target"]["name"], "t4", "newest first");
}

both_backends!(old_audit_events_are_deleted_in_batches_and_recent_ones_stay);

async fn old_audit_events_are_deleted_in_batches_and_recent_ones_stay(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    for n in 0..3 {
        app.create_token(&alice, &format!("kept-{n}")).await;
    }
    let recent = app.audit(&alice).await.len();
    // 2,500 events of a year ago (UUIDv7 ids of that time), written behind the server's back.
    let year_ago = chrono::Utc::now() - chrono::Duration::days(365);
    let mut values = Vec::new();
    for n in 0..2500u64 {
        let ts = uuid::Timestamp::from_unix(uuid::NoContext, year_ago.timestamp() as u64 + n, 0);
        let id = uuid::Uuid::new_v7(ts);
        values.push(format!(
            "('{id}', (SELECT id FROM projects WHERE key = 'acme'), '{}', 'alice', 'Alice Admin', 'token.generate', 'token', 'x', 'old', 'r', NULL, NULL)",
            (year_ago + chrono::Duration::seconds(n as i64)).format("%Y-%m-%d %H:%M:%S%.6f")
        ));
    }
    for chunk in values.chunks(500) {
        app.execute_sql(&format!(
            "INSERT INTO audit_events (id, project_id, occurred_at, actor_id, actor_name, action, target_type, target_id, target_name, request_id, client_address, details) VALUES {}",
            chunk.join(", ")
        ));
    }
    let store = tollgate_store::Store::open(&app.database_url, 1).unwrap();
    assert_eq!(
        store
            .prune_audit(chrono::Utc::now() - chrono::Duration::days(400))
            .unwrap(),
        0,
        "nothing older than 400 days"
    );
    assert_eq!(
        store
            .prune_audit(chrono::Utc::now() - chrono::Duration::days(30))
            .unwrap(),
        2500
    );
    let left = app.audit(&alice).await;
    assert_eq!(left.len(), recent, "the recent events stay");
    assert!(left.iter().all(|e| e["target"]["name"] != "x"));
}

both_backends!(retention_is_housekeeping_of_its_own_also_where_no_webhook_is_sent);

/// Retention runs as housekeeping of its own, not inside the webhook sender: a node that sends
/// no webhooks (`TOLLGATE_WEBHOOK_DELIVERY=false`, as every node of a deployment may be) still
/// deletes audit events and pulls per day past their retention.
async fn retention_is_housekeeping_of_its_own_also_where_no_webhook_is_sent(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.webhooks.delivery = false;
        c.housekeeping.audit_retention_days = 30;
        c.housekeeping.housekeeping_interval_ms = 100;
    })
    .await;
    let alice = app.login("alice").await;
    let token = app.create_token_id(&alice, "kept").await;
    let recent = app.audit(&alice).await.len();
    let year_ago = chrono::Utc::now() - chrono::Duration::days(365);
    let ts = uuid::Timestamp::from_unix(uuid::NoContext, year_ago.timestamp() as u64, 0);
    app.execute_sql(&format!(
        "INSERT INTO audit_events (id, project_id, occurred_at, actor_id, actor_name, action, target_type, target_id, target_name, request_id, client_address, details) \
         VALUES ('{}', (SELECT id FROM projects WHERE key = 'acme'), '{}', 'alice', 'Alice Admin', 'token.generate', 'token', 'x', 'old', 'r', NULL, NULL)",
        uuid::Uuid::new_v7(ts),
        year_ago.format("%Y-%m-%d %H:%M:%S%.6f")
    ));
    let old_day = (chrono::Utc::now() - chrono::Duration::days(90)).date_naive();
    app.execute_sql(&format!(
        "INSERT INTO token_usage (token_id, day, pulls) VALUES ('{token}', '{old_day}', 3)"
    ));
    let from = std::time::Instant::now();
    loop {
        let left = app.audit(&alice).await;
        let usage_total = app.get(&alice, &format!("/api/v1/tokens/{token}/usage")).await.ok(200)["total"].clone();
        let old_usage: Vec<String> = app.stored_usage_days(&token);
        if left.iter().all(|e| e["target"]["name"] != "old") && old_usage.is_empty() {
            assert_eq!(left.len(), recent, "the recent events stay");
            assert_eq!(usage_total, 0);
            return;
        }
        assert!(
            from.elapsed() < std::time::Duration::from_secs(5),
            "retention did not run in 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
