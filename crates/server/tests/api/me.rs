//! `/api/v1/me`, health checks and the demo endpoints.

use crate::both_backends;
use crate::helpers::{Db, TestApp};
use reqwest::Method;
use serde_json::json;

both_backends!(
    me_shows_role_project_and_subscription,
    health_and_readiness_answer,
    demo_mode_lists_and_signs_in_its_users
);

async fn me_shows_role_project_and_subscription(db: Db) {
    let app = TestApp::spawn(db).await;
    let bob = app.login("bob").await;
    let me = app.get(&bob, "/api/v1/me").await.ok(200).clone();
    assert_eq!(me["id"], "bob");
    assert_eq!(me["role"], "customer");
    assert_eq!(me["project"], json!({ "key": "acme", "name": "Acme Corp" }));
    assert_eq!(me["demo_mode"], true);
    assert_eq!(me["registry_host"], "registry.test:5000");
    let products = &me["subscription"]["products"];
    assert_eq!(
        products,
        &json!([{ "code": "wso2am", "name": "WSO2 API Manager" }, { "code": "wso2is", "name": "WSO2 Identity Server" }])
    );
    let end = chrono::NaiveDate::parse_from_str(me["subscription"]["end_date"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let days = (end - chrono::Utc::now().date_naive()).num_days();
    assert!(
        (364..=366).contains(&days),
        "the demo subscription ends in a year, not in {days} days"
    );
    let carol = app.login("carol").await;
    let me = app.get(&carol, "/api/v1/me").await.ok(200).clone();
    assert_eq!(me["role"], "customer_admin");
    assert_eq!(
        me["subscription"]["products"],
        json!([{ "code": "wso2mi", "name": "WSO2 Micro Integrator" }])
    );
}

async fn health_and_readiness_answer(db: Db) {
    let app = TestApp::spawn(db).await;
    assert_eq!(
        app.send(Method::GET, "/healthz", None, None).await.ok(200)["status"],
        "ok"
    );
    assert_eq!(
        app.send(Method::GET, "/readyz", None, None).await.ok(200)["status"],
        "ready"
    );
    let answer = app.send(Method::GET, "/healthz", None, None).await;
    assert!(!answer.headers["x-request-id"].is_empty());
}

async fn demo_mode_lists_and_signs_in_its_users(db: Db) {
    let app = TestApp::spawn(db).await;
    let users = app
        .send(Method::GET, "/api/v1/demo/users", None, None)
        .await
        .ok(200)
        .clone();
    let summary: Vec<(String, String, String)> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap().into(),
                u["role"].as_str().unwrap().into(),
                u["project"]["key"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("alice".into(), "customer_admin".into(), "acme".into()),
            ("bob".into(), "customer".into(), "acme".into()),
            ("carol".into(), "customer_admin".into(), "globex".into())
        ]
    );
    let session = app
        .send(
            Method::POST,
            "/api/v1/demo/session",
            None,
            Some(json!({ "user": "alice" })),
        )
        .await
        .ok(200)
        .clone();
    assert_eq!(session["token_type"], "Bearer");
    assert_eq!(session["user"]["id"], "alice");
    let answer = app
        .send(
            Method::POST,
            "/api/v1/demo/session",
            None,
            Some(json!({ "user": "mallory" })),
        )
        .await;
    assert_eq!(answer.problem(422, "invalid_field")["field"], "user");
}
