//! Every mutation, row by row (as the permission table is): made through this node, it leaves
//! this node's cache and another node's (a second `tollgate serve` on the same database) true
//! to the database, without any code of the mutation's own doing so: its unit of work carries
//! its effects. The rows are a `match` over every kind of audit event, and every change writes
//! one: a new mutation does not compile here until it has its row.

use crate::both_backends;
use crate::helpers::{introspect, secret_key_file, Db, ServerProcess, TestApp};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tollgate_model::AuditAction;

both_backends!(every_mutation_leaves_every_nodes_cache_true);

/// The node the changes are made through (its cache is the local one) and another node.
struct Nodes {
    app: TestApp,
    other: ServerProcess,
    http: reqwest::Client,
}

impl Nodes {
    /// Primes both nodes' caches with `secret`'s answer.
    async fn cache(&self, secret: &str) {
        for base in [&self.app.base, &self.other.base] {
            for _ in 0..2 {
                introspect(&self.http, base, secret).await.ok(200);
            }
        }
    }

    /// `holds` of `secret`'s introspection: on this node at once, on the other within the
    /// promised second.
    async fn everywhere(&self, what: &str, secret: &str, holds: impl Fn(&Value) -> bool) {
        let here = introspect(&self.http, &self.app.base, secret).await.ok(200).clone();
        assert!(holds(&here), "{what}: this node answers {here}");
        let from = Instant::now();
        loop {
            let there = introspect(&self.http, &self.other.base, secret).await.ok(200).clone();
            if holds(&there) {
                return;
            }
            assert!(
                from.elapsed() < Duration::from_secs(1),
                "{what}: the other node still answers {there} a second later"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What `path` lists on the other node, for alice.
    async fn listed_there(&self, path: &str) -> Vec<String> {
        let alice = self.other.session("alice").await;
        let page = self.other.get(&alice, path).await;
        page["items"]
            .as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .map(|i| i["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    async fn token(&self, bearer: &str, name: &str) -> (String, String) {
        let created = self.app.create_token(bearer, name).await;
        (
            created["token"]["id"].as_str().unwrap().to_owned(),
            created["secret"].as_str().unwrap().to_owned(),
        )
    }
}

fn active(v: &Value) -> bool {
    v["active"] == true
}

fn inactive(v: &Value) -> bool {
    v == &json!({ "active": false })
}

async fn every_mutation_leaves_every_nodes_cache_true(db: Db) {
    // Both nodes seal webhook secrets with the same key, as every node of a database must.
    let app = TestApp::spawn_with(db, |c| c.secrets.secret_key_file = Some(secret_key_file())).await;
    let other = ServerProcess::start(&[("TOLLGATE_DATABASE_URL", &app.database_url)], None).await;
    let nodes = Nodes {
        app,
        other,
        http: reqwest::Client::new(),
    };
    let app = &nodes.app;
    let alice = app.login("alice").await;
    let operator = app.operator("olivia");
    let end = chrono::Utc::now().date_naive() + chrono::Days::new(300);
    let end = end.format("%Y-%m-%d").to_string();
    let put_acme = |products: &'static [&'static str]| {
        let (app, operator, end) = (&nodes.app, operator.clone(), end.clone());
        async move { app.put_acme_api_with(&operator, &end, products).await.ok(200).clone() }
    };
    put_acme(&["wso2am", "wso2is"]).await;

    for action in AuditAction::ALL {
        let what = action.as_str();
        match action {
            AuditAction::TokenGenerate => {
                let (_, secret) = nodes.token(&alice, "generated").await;
                nodes.everywhere(what, &secret, active).await;
            }
            AuditAction::TokenSecretRegenerate => {
                let (id, old) = nodes.token(&alice, "regenerated").await;
                nodes.cache(&old).await;
                let renewed = app.post_empty(&alice, &format!("/api/v1/tokens/{id}/secret")).await;
                let new = renewed.ok(200)["secret"].as_str().unwrap().to_owned();
                nodes.everywhere(what, &old, inactive).await;
                nodes.everywhere(what, &new, active).await;
            }
            AuditAction::TokenProductsSync => {
                put_acme(&["wso2am"]).await;
                let (id, secret) = nodes.token(&alice, "synced").await;
                put_acme(&["wso2am", "wso2is"]).await;
                nodes.cache(&secret).await;
                app.post_empty(&alice, &format!("/api/v1/tokens/{id}/products/sync"))
                    .await
                    .ok(200);
                nodes
                    .everywhere(what, &secret, |v| v["products"] == json!(["wso2am", "wso2is"]))
                    .await;
            }
            AuditAction::TokenDelete => {
                let (id, secret) = nodes.token(&alice, "deleted").await;
                nodes.cache(&secret).await;
                app.delete(&alice, &format!("/api/v1/tokens/{id}")).await.ok(204);
                nodes.everywhere(what, &secret, inactive).await;
            }
            AuditAction::TokenRevoke => {
                let (_, secret) = nodes.token(&alice, "revoked").await;
                nodes.cache(&secret).await;
                let report = json!({ "credentials": [secret] });
                app.send(reqwest::Method::POST, "/api/v1/credentials/revoke", None, Some(report))
                    .await
                    .ok(202);
                // Handled right after the answer: within the same second as any change.
                let from = Instant::now();
                while app.metric(r#"tollgate_leak_reports_total{outcome="matched"}"#).await < 1.0 {
                    assert!(from.elapsed() < Duration::from_secs(1), "{what}: not handled");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                nodes.everywhere(what, &secret, inactive).await;
            }
            AuditAction::ProjectCreate => {
                let body = json!({ "name": "Initech", "subscription": { "end_date": end, "products": [] } });
                app.send(
                    reqwest::Method::PUT,
                    "/api/v1/projects/initech",
                    Some(&operator),
                    Some(body),
                )
                .await
                .ok(201);
                let there = nodes
                    .other
                    .get(&nodes.other.operator("olivia"), "/api/v1/projects/initech")
                    .await;
                assert_eq!(there["key"], "initech", "{what}: {there}");
            }
            AuditAction::ProjectUpdate => {
                let (_, secret) = nodes.token(&alice, "narrowed").await;
                nodes.cache(&secret).await;
                put_acme(&["wso2am"]).await;
                nodes
                    .everywhere(what, &secret, |v| v["products"] == json!(["wso2am"]))
                    .await;
                put_acme(&["wso2am", "wso2is"]).await;
            }
            AuditAction::ServiceUserCreate | AuditAction::ServiceUserDelete => {
                let made = app
                    .post(
                        &alice,
                        "/api/v1/service-users",
                        json!({ "name": format!("bot-{what}") }),
                    )
                    .await;
                let id = made.ok(201)["id"].as_str().unwrap().to_owned();
                assert!(
                    nodes.listed_there("/api/v1/service-users").await.contains(&id),
                    "{what}"
                );
                if action == AuditAction::ServiceUserDelete {
                    app.delete(&alice, &format!("/api/v1/service-users/{id}")).await.ok(204);
                    assert!(
                        !nodes.listed_there("/api/v1/service-users").await.contains(&id),
                        "{what}"
                    );
                }
            }
            AuditAction::WebhookCreate | AuditAction::WebhookDelete | AuditAction::WebhookSecretRotate => {
                let body = json!({ "url": format!("https://hooks.example.com/{what}"), "events": ["token.created"] });
                let made = app.post(&alice, "/api/v1/webhooks", body).await;
                let id = made.ok(201)["webhook"]["id"].as_str().unwrap().to_owned();
                assert!(nodes.listed_there("/api/v1/webhooks").await.contains(&id), "{what}");
                match action {
                    AuditAction::WebhookDelete => {
                        app.delete(&alice, &format!("/api/v1/webhooks/{id}")).await.ok(204);
                        assert!(!nodes.listed_there("/api/v1/webhooks").await.contains(&id), "{what}");
                    }
                    AuditAction::WebhookSecretRotate => {
                        app.post(&alice, &format!("/api/v1/webhooks/{id}/secret"), json!({}))
                            .await
                            .ok(200);
                        let there = nodes
                            .other
                            .get(&nodes.other.session("alice").await, &format!("/api/v1/webhooks/{id}"))
                            .await;
                        assert!(there["previous_secret_until"].is_string(), "{what}: {there}");
                    }
                    _ => {}
                }
            }
        }
        // Each mutation is in the audit log, as every change must be.
        let logged = app.audit(&alice).await;
        assert!(
            action == AuditAction::ProjectCreate || logged.iter().any(|e| e["action"] == what),
            "{what} is not in the audit log"
        );
    }
}
