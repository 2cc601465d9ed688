//! `/api/v1/service-users`: customer admins manage their project's service accounts.

use crate::both_backends;
use crate::helpers::{Db, TestApp};
use serde_json::json;

both_backends!(
    admins_create_list_and_delete_service_users,
    customers_and_other_projects_cannot_touch_them
);

async fn admins_create_list_and_delete_service_users(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    let seeded = app.get(&alice, "/api/v1/service-users").await.ok(200).clone();
    let names: Vec<&str> = seeded["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ci-pipeline", "k8s-prod"]);

    let created = app
        .post(
            &alice,
            "/api/v1/service-users",
            json!({ "name": "  nightly-scan ", "description": "Trivy" }),
        )
        .await;
    let bot = created.ok(201).clone();
    assert_eq!(bot["name"], "nightly-scan");
    assert_eq!(bot["description"], "Trivy");
    assert_eq!(bot["token_count"], 0);
    assert_eq!(bot["created_by"], json!({ "id": "alice", "name": "Alice Admin" }));
    let id = bot["id"].as_str().unwrap();
    assert_eq!(
        created.headers["location"],
        format!("/api/v1/service-users/{id}").as_str()
    );

    app.post(&alice, "/api/v1/service-users", json!({ "name": "NIGHTLY-SCAN" }))
        .await
        .problem(409, "name_taken");
    assert_eq!(
        app.post(&alice, "/api/v1/service-users", json!({ "name": "" }))
            .await
            .problem(422, "invalid_field")["field"],
        "name"
    );
    let long = "d".repeat(257);
    assert_eq!(
        app.post(
            &alice,
            "/api/v1/service-users",
            json!({ "name": "x", "description": long })
        )
        .await
        .problem(422, "invalid_field")["field"],
        "description"
    );

    // Refused while it has tokens; deleted once they are gone.
    let token = app
        .post(
            &alice,
            "/api/v1/tokens",
            json!({ "name": "scan", "kind": "service", "service_user_id": id }),
        )
        .await
        .ok(201)["token"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = app.delete(&alice, &format!("/api/v1/service-users/{id}")).await;
    assert!(refused.problem(409, "service_user_has_tokens")["detail"]
        .as_str()
        .unwrap()
        .contains("1 token"));
    assert_eq!(app.all_tokens(&alice, "").await.len(), 1);
    assert_eq!(
        app.delete(&alice, &format!("/api/v1/tokens/{token}"))
            .await
            .status
            .as_u16(),
        204
    );
    assert_eq!(
        app.delete(&alice, &format!("/api/v1/service-users/{id}"))
            .await
            .status
            .as_u16(),
        204
    );
    app.delete(&alice, &format!("/api/v1/service-users/{id}"))
        .await
        .problem(404, "not_found");

    let events = app.audit(&alice).await;
    let actions: Vec<&str> = events.iter().take(4).map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "service_user.delete",
            "token.delete",
            "token.generate",
            "service_user.create"
        ]
    );
    assert_eq!(
        events[0]["target"],
        json!({ "type": "service_user", "id": id, "name": "nightly-scan" })
    );
}

async fn customers_and_other_projects_cannot_touch_them(db: Db) {
    let app = TestApp::spawn(db).await;
    let (alice, bob, carol) = app.everyone().await;
    let ci = app.service_user_id(&alice, "ci-pipeline").await;
    app.get(&bob, "/api/v1/service-users").await.problem(403, "forbidden");
    app.post(&bob, "/api/v1/service-users", json!({ "name": "mine" }))
        .await
        .problem(403, "forbidden");
    app.delete(&bob, &format!("/api/v1/service-users/{ci}"))
        .await
        .problem(403, "forbidden");
    app.delete(&carol, &format!("/api/v1/service-users/{ci}"))
        .await
        .problem(404, "not_found");
    assert!(app.get(&carol, "/api/v1/service-users").await.ok(200)["items"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        app.get(&alice, "/api/v1/service-users").await.ok(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
