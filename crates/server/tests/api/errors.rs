//! Bad input: each gets its 4xx problem+json, and none changes anything.

use crate::both_backends;
use crate::helpers::{answer, Db, TestApp};
use serde_json::json;

both_backends!(
    an_unsupported_method_answers_405_with_allow,
    lists_link_to_their_next_page,
    every_bad_token_request_is_refused_and_changes_nothing,
    bad_list_parameters_are_named
);

async fn every_bad_token_request_is_refused_and_changes_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    let ci = app.service_user_id(&alice, "ci-pipeline").await;
    app.create_token(&alice, "Existing").await;
    let before_tokens = app.all_tokens(&alice, "").await;
    let before_audit = app.audit(&alice).await;

    let cases = [
        (json!({ "name": "" }), 422, "invalid_field", "name"),
        (json!({ "name": "   " }), 422, "invalid_field", "name"),
        (json!({ "name": "x".repeat(65) }), 422, "invalid_field", "name"),
        (json!({ "name": "bad\u{0007}bell" }), 422, "invalid_field", "name"),
        (json!({ "name": "line\nbreak" }), 422, "invalid_field", "name"),
        (
            json!({ "name": "invoice\u{202E}fdp.exe" }),
            422,
            "invalid_field",
            "name",
        ),
        (json!({ "name": "zero\u{200B}width" }), 422, "invalid_field", "name"),
        (json!({ "name": "line\u{2028}separator" }), 422, "invalid_field", "name"),
        (json!({ "name": "existing" }), 409, "name_taken", "name"),
        (json!({ "name": "  EXISTING " }), 409, "name_taken", "name"),
        (json!({ "name": "k", "kind": "robot" }), 422, "invalid_field", "kind"),
        (
            json!({ "name": "k", "kind": "service" }),
            422,
            "invalid_field",
            "service_user_id",
        ),
        (
            json!({ "name": "k", "kind": "user", "service_user_id": ci }),
            422,
            "invalid_field",
            "service_user_id",
        ),
        (
            json!({ "name": "k", "kind": "service", "service_user_id": "nope" }),
            404,
            "not_found",
            "service_user_id",
        ),
        (json!({ "name": 42 }), 422, "invalid_field", "name"),
        (json!({ "nam": "typo" }), 422, "invalid_field", "nam"),
        (json!({ "name": "k", "admin": true }), 422, "invalid_field", "admin"),
        (json!({}), 422, "invalid_field", "name"),
        (json!(["name"]), 422, "invalid_field", "body"),
        (json!("name"), 422, "invalid_field", "body"),
    ];
    for (body, status, code, field) in cases {
        let answer = app.post(&alice, "/api/v1/tokens", body.clone()).await;
        let problem = answer.problem(status, code);
        assert_eq!(problem["field"], field, "{body}");
        assert!(problem["request_id"].is_string());
    }

    let raw = |content_type: &'static str, body: Vec<u8>| {
        let app = &app;
        let alice = &alice;
        async move {
            answer(
                app.http
                    .post(format!("{}/api/v1/tokens", app.base))
                    .bearer_auth(alice)
                    .header("content-type", content_type)
                    .body(body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    raw("application/json", b"{\"name\": ".to_vec())
        .await
        .problem(400, "malformed_json");
    raw("application/json", b"{\"name\": \"a\"} {}".to_vec())
        .await
        .problem(400, "malformed_json");
    raw("application/json", b"".to_vec())
        .await
        .problem(400, "malformed_json");
    raw("text/plain", b"{\"name\": \"plain\"}".to_vec())
        .await
        .problem(415, "unsupported_media_type");
    raw("application/x-www-form-urlencoded", b"name=form".to_vec())
        .await
        .problem(415, "unsupported_media_type");
    let huge = format!("{{\"name\": \"big\", \"pad\": \"{}\"}}", "x".repeat(70 * 1024));
    raw("application/json", huge.into_bytes())
        .await
        .problem(413, "payload_too_large");
    let no_type = answer(
        app.http
            .post(format!("{}/api/v1/tokens", app.base))
            .bearer_auth(&alice)
            .body("{\"name\":\"n\"}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    no_type.problem(415, "unsupported_media_type");

    assert_eq!(
        app.all_tokens(&alice, "").await,
        before_tokens,
        "a refused request changed the tokens"
    );
    assert_eq!(
        app.audit(&alice).await,
        before_audit,
        "a refused request wrote an audit event"
    );
}

async fn bad_list_parameters_are_named(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("status=gone", "status"),
        ("kind=robot", "kind"),
        ("sort=size", "sort"),
        ("cursor=%%%", "cursor"),
        ("cursor=bm90IGEgY3Vyc29y", "cursor"),
        ("colour=red", "colour"),
        ("q=nul%00byte", "q"),
        ("created_for=%00", "created_for"),
        ("cursor=MjAyNi0xMS0yOFQxNTo0NzoyMS41Mzk5OTkKAA", "cursor"),
    ] {
        let answer = app.get(&alice, &format!("/api/v1/tokens?{query}")).await;
        assert_eq!(answer.problem(400, "invalid_parameter")["field"], field, "{query}");
    }
    let long = "q".repeat(65);
    assert_eq!(
        app.get(&alice, &format!("/api/v1/tokens?q={long}"))
            .await
            .problem(400, "invalid_parameter")["field"],
        "q"
    );
    assert_eq!(
        app.get(&alice, "/api/v1/audit-events?limit=500")
            .await
            .problem(400, "invalid_parameter")["field"],
        "limit"
    );
    app.get(&alice, "/api/v1/no-such-thing").await.problem(404, "not_found");
    for path in [
        "/api/v1/tokens/%00",
        "/api/v1/tokens/%F0%9F%92%A9",
        "/api/v1/tokens/01a222d6-eeea-731e-a169-9ea52ae086b%00",
    ] {
        app.get(&alice, path).await.problem(404, "not_found");
        app.delete(&alice, path).await.problem(404, "not_found");
        app.post_empty(&alice, &format!("{path}/secret"))
            .await
            .problem(404, "not_found");
    }
    app.delete(&alice, "/api/v1/service-users/%00")
        .await
        .problem(404, "not_found");
    let nul_service = app
        .post(
            &alice,
            "/api/v1/tokens",
            json!({ "name": "n", "kind": "service", "service_user_id": "a\u{0}b" }),
        )
        .await;
    assert_eq!(nul_service.problem(404, "not_found")["field"], "service_user_id");
    app.send(reqwest::Method::PUT, "/api/v1/tokens", Some(&alice), Some(json!({})))
        .await
        .problem(405, "method_not_allowed");
    app.send(reqwest::Method::PATCH, "/healthz", None, None)
        .await
        .problem(405, "method_not_allowed");
}

async fn an_unsupported_method_answers_405_with_allow(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    for (method, path, allow) in [
        (reqwest::Method::PUT, "/api/v1/tokens", "GET, POST"),
        (
            reqwest::Method::PATCH,
            "/api/v1/tokens/01a224b6-3e8d-71df-9562-b7894ac5e53f",
            "GET, DELETE",
        ),
        (reqwest::Method::GET, "/oauth2/introspect", "POST"),
        (reqwest::Method::DELETE, "/readyz", "GET"),
    ] {
        let answer = app.send(method.clone(), path, Some(&alice), None).await;
        answer.problem(405, "method_not_allowed");
        assert_eq!(answer.headers["allow"], allow, "{method} {path}");
    }
}

async fn lists_link_to_their_next_page(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    for n in 0..3 {
        app.create_token(&alice, &format!("linked-{n}")).await;
    }
    let first = app.get(&alice, "/api/v1/tokens?limit=2&sort=name&q=linked").await;
    let cursor = first.ok(200)["next_cursor"].as_str().unwrap().to_owned();
    let link = first.headers["link"].to_str().unwrap().to_owned();
    let next = link
        .strip_prefix('<')
        .and_then(|l| l.strip_suffix(">; rel=\"next\""))
        .unwrap_or_else(|| panic!("Link: {link}"));
    assert!(next.starts_with("/api/v1/tokens?") && next.contains("sort=name") && next.contains("q=linked"));
    let second = app.get(&alice, next).await;
    assert_eq!(second.ok(200)["items"][0]["name"], "linked-2");
    assert!(second.body["next_cursor"].is_null());
    assert!(second.headers.get("link").is_none(), "no Link on the last page");
    assert!(next.contains(&format!("cursor={}", cursor.replace('=', "%3D"))));
    let audit = app.get(&alice, "/api/v1/audit-events?limit=1").await;
    assert!(audit.headers["link"]
        .to_str()
        .unwrap()
        .starts_with("</api/v1/audit-events?limit=1&cursor="));
}
