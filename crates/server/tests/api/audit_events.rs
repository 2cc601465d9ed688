//! `/api/v1/audit-events`: every change, who made it, from where, with which request.

use crate::both_backends;
use crate::helpers::{Db, TestApp};
use serde_json::json;

both_backends!(
    every_change_writes_an_audit_event,
    the_audit_log_is_for_admins_of_the_project_and_pages
);

async fn every_change_writes_an_audit_event(db: Db) {
    let app = TestApp::spawn(db).await;
    let (alice, bob) = (app.login("alice").await, app.login("bob").await);
    let seeded = app.audit(&alice).await.len();

    let created = app.post(&bob, "/api/v1/tokens", json!({ "name": "laptop" })).await;
    let request_id = created.headers["x-request-id"].to_str().unwrap().to_owned();
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
    assert_eq!(generate["client_address"], "127.0.0.1");
    assert_eq!(generate["details"]["kind"], "user");
    assert!(generate["occurred_at"].is_string());
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains(&secret[4..]), "a secret reached the audit log");
}

async fn the_audit_log_is_for_admins_of_the_project_and_pages(db: Db) {
    let app = TestApp::spawn(db).await;
    let (alice, bob, carol) = app.everyone().await;
    for n in 0..5 {
        app.create_token(&alice, &format!("t{n}")).await;
    }
    app.get(&bob, "/api/v1/audit-events").await.problem(403, "forbidden");
    assert!(app.audit(&carol).await.is_empty(), "carol sees nothing of acme");

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
