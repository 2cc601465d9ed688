//! The OpenAPI document: committed, served, and complete.

use crate::helpers::{Db, TestApp};
use reqwest::Method;

fn committed() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../api-spec/openapi.json"))
        .expect("api-spec/openapi.json exists (make spec writes it)")
}

#[test]
fn the_committed_document_matches_the_code() {
    assert!(
        committed() == tollgate_server::openapi::json(),
        "api-spec/openapi.json differs from what the code generates: run `make spec` and commit it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_is_the_committed_one_and_names_every_route_and_its_errors() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let served = app
        .send(Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .ok(200)
        .clone();
    let committed: serde_json::Value = serde_json::from_str(&committed()).unwrap();
    assert_eq!(served, committed);
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = served["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/api/v1/me", &["get"][..]),
        ("/api/v1/tokens", &["get", "post"]),
        ("/api/v1/tokens/{id}", &["get", "delete"]),
        ("/api/v1/tokens/{id}/secret", &["post"]),
        ("/api/v1/tokens/{id}/products/sync", &["post"]),
        ("/api/v1/service-users", &["get", "post"]),
        ("/api/v1/service-users/{id}", &["delete"]),
        ("/api/v1/audit-events", &["get"]),
        ("/api/v1/demo/users", &["get"]),
        ("/api/v1/demo/session", &["post"]),
        ("/readyz", &["get"]),
    ] {
        for method in methods {
            let op = &paths[path][method];
            let responses = op["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path} is not documented"));
            let has_error = responses
                .keys()
                .any(|status| status.starts_with('4') || status.starts_with('5'));
            assert!(has_error, "{method} {path} documents no error response");
        }
    }
    let docs = app.http.get(format!("{}/docs/", app.base)).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(
        docs.text().await.unwrap().contains("swagger"),
        "/docs serves Swagger UI"
    );
}

#[test]
fn every_body_of_the_document_has_an_example() {
    let doc: serde_json::Value = serde_json::from_str(&committed()).unwrap();
    let mut missing = Vec::new();
    let mut check = |what: String, content: &serde_json::Value| {
        for (media_type, media) in content.as_object().into_iter().flatten() {
            if media.get("example").is_none() && media.get("examples").is_none() {
                missing.push(format!("{what} {media_type}"));
            }
        }
    };
    for (path, methods) in doc["paths"].as_object().unwrap() {
        for (method, op) in methods.as_object().unwrap() {
            check(format!("{method} {path} request"), &op["requestBody"]["content"]);
            for (status, response) in op["responses"].as_object().unwrap() {
                check(format!("{method} {path} {status}"), &response["content"]);
                // A problem's example is one this answer can be: its status and its code's.
                let problem = &response["content"]["application/problem+json"]["example"];
                if !problem.is_null() {
                    assert_eq!(problem["status"].to_string(), *status, "{method} {path}");
                    assert_eq!(
                        problem["type"],
                        format!("urn:tollgate:problem:{}", problem["code"].as_str().unwrap())
                    );
                }
            }
        }
    }
    for (name, response) in doc["components"]["responses"].as_object().unwrap() {
        check(format!("response {name}"), &response["content"]);
    }
    assert!(missing.is_empty(), "bodies without an example: {missing:#?}");
}
