//! Identity: bearer JWTs against the issuer's JWKS, demo mode and a configured issuer.

use crate::both_backends;
use crate::helpers::{Db, TestApp};
use actix_web::{web, App, HttpServer};
use chrono::Utc;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tollgate_server::demo::{DemoIssuer, DEMO_ISSUER};

both_backends!(
    names_and_emails_lose_the_characters_that_reorder_or_hide_text,
    operators_come_from_their_own_audience_never_from_the_role_claim,
    bad_expired_and_forged_bearer_tokens_are_refused,
    bearer_tokens_not_yet_valid_or_living_too_long_are_refused,
    a_configured_issuer_replaces_demo_mode
);

fn claims(sub: &str, project: &str, role: &str) -> Value {
    let now = Utc::now().timestamp();
    json!({ "iss": DEMO_ISSUER, "aud": "tollgate", "sub": sub, "iat": now, "exp": now + 600,
            "name": "Someone", "email": "someone@example.test", "project": project, "role": role })
}

/// A provider that lets users pick their display name passes bidirectional controls and
/// zero-width characters (Unicode's format characters) and line separators: they are dropped
/// before the name is stored, so that the audit log and the portal show what the text says.
async fn names_and_emails_lose_the_characters_that_reorder_or_hide_text(db: Db) {
    let app = TestApp::spawn(db).await;
    let issuer = DemoIssuer::load_or_create(app.data_dir.path(), "tollgate").unwrap();
    let mut c = claims("dave", "acme", "customer");
    c["name"] = json!("Da\u{202E}ve\u{200B} Cus\u{2066}tomer\u{2028}\u{00AD}");
    c["email"] = json!("dave\u{200D}@acme.test\u{FEFF}");
    let token = issuer.sign_claims(&c).unwrap();
    let me = app.get(&token, "/api/v1/me").await.ok(200).clone();
    assert_eq!(me["name"], "Dave Customer");
    assert_eq!(me["email"], "dave@acme.test");
    let created = app.create_token(&token, "clean").await;
    assert_eq!(created["token"]["created_by"]["name"], "Dave Customer");
    let alice = app.login("alice").await;
    let event = app.audit(&alice).await.remove(0);
    assert_eq!(event["actor"]["name"], "Dave Customer");
}

/// Operators come from a trust that customers cannot reach: in demo mode, tokens for the
/// operators' own audience. A project member's token whose role claim says `operator` is no
/// operator (and maps to no role), and an operator's token that also names a project is
/// refused as ambiguous.
async fn operators_come_from_their_own_audience_never_from_the_role_claim(db: Db) {
    let app = TestApp::spawn(db).await;
    let issuer = DemoIssuer::load_or_create(app.data_dir.path(), "tollgate").unwrap();
    let put = |token: String| {
        let app = &app;
        async move {
            app.send(
                reqwest::Method::PUT,
                "/api/v1/projects/acme",
                Some(&token),
                Some(json!({ "name": "Acme Corp", "subscription": { "end_date": "2031-12-31", "products": [] } })),
            )
            .await
        }
    };
    put(app.operator("olivia")).await.ok(200);
    // The role claim cannot make an operator, with a project or without one.
    let by_role = issuer.sign_claims(&claims("mallory", "acme", "operator")).unwrap();
    put(by_role).await.problem(401, "unauthenticated");
    let mut no_project = claims("mallory", "acme", "operator");
    no_project.as_object_mut().unwrap().remove("project");
    put(issuer.sign_claims(&no_project).unwrap())
        .await
        .problem(401, "unauthenticated");
    // An operator's audience with a project: ambiguous.
    let mut both = claims("olivia", "acme", "customer_admin");
    both["aud"] = json!(tollgate_server::demo::OPERATOR_AUDIENCE);
    let refused = put(issuer.sign_claims(&both).unwrap()).await;
    let detail = refused.problem(401, "unauthenticated")["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(detail.contains("ambiguous"), "{detail}");
}

async fn bad_expired_and_forged_bearer_tokens_are_refused(db: Db) {
    let app = TestApp::spawn(db).await;
    let issuer = DemoIssuer::load_or_create(app.data_dir.path(), "tollgate").unwrap();
    let signed = |c: Value| issuer.sign_claims(&c).unwrap();
    let me = |token: String| {
        let app = &app;
        async move { app.get(&token, "/api/v1/me").await }
    };

    // The server's own key works, through the JWKS it serves.
    assert_eq!(
        me(signed(claims("dave", "acme", "customer"))).await.ok(200)["name"],
        "Someone"
    );

    let missing = app.send(reqwest::Method::GET, "/api/v1/me", None, None).await;
    missing.problem(401, "unauthenticated");
    assert_eq!(missing.headers["www-authenticate"], "Bearer");
    me("not-a-jwt".into()).await.problem(401, "unauthenticated");

    let mut expired = claims("dave", "acme", "customer");
    expired["exp"] = json!(Utc::now().timestamp() - 3600);
    me(signed(expired)).await.problem(401, "session_expired");

    let mut wrong_audience = claims("dave", "acme", "customer");
    wrong_audience["aud"] = json!("someone-else");
    me(signed(wrong_audience)).await.problem(401, "unauthenticated");

    let mut wrong_issuer = claims("dave", "acme", "customer");
    wrong_issuer["iss"] = json!("https://evil.example");
    me(signed(wrong_issuer)).await.problem(401, "unauthenticated");

    let mut no_project = claims("dave", "acme", "customer");
    no_project.as_object_mut().unwrap().remove("project");
    me(signed(no_project)).await.problem(401, "unauthenticated");
    me(signed(claims("dave", "acme", "superuser")))
        .await
        .problem(401, "unauthenticated");
    me(signed(claims("dave", "initech", "customer")))
        .await
        .problem(403, "unknown_project");
    me(signed(claims("nul\u{0}sub", "acme", "customer")))
        .await
        .problem(401, "unauthenticated");
    let mut nul_name = claims("dave", "acme", "customer");
    nul_name["name"] = json!("Dave\u{0}");
    me(signed(nul_name)).await.problem(401, "unauthenticated");

    // Another key, even one claiming the server's kid, does not verify.
    let stranger_dir = tempfile::tempdir().unwrap();
    let stranger = DemoIssuer::load_or_create(stranger_dir.path(), "tollgate").unwrap();
    me(stranger
        .sign_claims(&claims("alice", "acme", "customer_admin"))
        .unwrap())
    .await
    .problem(401, "unauthenticated");
    let genuine = signed(claims("alice", "acme", "customer_admin"));
    let forged = stranger
        .sign_claims(&claims("alice", "acme", "customer_admin"))
        .unwrap();
    let spliced = format!(
        "{}.{}",
        genuine.rsplit_once('.').unwrap().0,
        forged.rsplit_once('.').unwrap().1
    );
    me(spliced).await.problem(401, "unauthenticated");

    // A symmetric token signed with the public key as secret (algorithm confusion) is refused.
    let jwks = app
        .send(reqwest::Method::GET, "/api/v1/demo/jwks.json", None, None)
        .await
        .ok(200)
        .clone();
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims("alice", "acme", "customer_admin"),
        &jsonwebtoken::EncodingKey::from_secret(jwks.to_string().as_bytes()),
    )
    .unwrap();
    me(hs).await.problem(401, "unauthenticated");
}

/// A stand-in identity provider: serves a JWKS that the test can change, or answers 500 to
/// everything while `failing`; counts the requests it gets.
#[derive(Default, Clone)]
struct StandInIssuer {
    keys: Arc<Mutex<Vec<Value>>>,
    failing: Arc<std::sync::atomic::AtomicBool>,
    asked: Arc<std::sync::atomic::AtomicUsize>,
}

impl StandInIssuer {
    /// Starts it on a free loopback port; returns its URL (the issuer).
    async fn start(&self) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let this = self.clone();
        let server = HttpServer::new(move || {
            let this = this.clone();
            App::new().default_service(web::to(move |req: actix_web::HttpRequest| {
                use std::sync::atomic::Ordering::SeqCst;
                this.asked.fetch_add(1, SeqCst);
                let issuer = format!("http://{addr}");
                let answer = match req.path() {
                    _ if this.failing.load(SeqCst) => actix_web::HttpResponse::InternalServerError().finish(),
                    "/.well-known/jwks.json" => {
                        actix_web::HttpResponse::Ok().json(json!({ "keys": *this.keys.lock().unwrap() }))
                    }
                    "/.well-known/openid-configuration" => actix_web::HttpResponse::Ok().json(json!({
                        "issuer": issuer, "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
                        "authorization_endpoint": format!("{issuer}/authorize"),
                        "token_endpoint": format!("{issuer}/token") })),
                    _ => actix_web::HttpResponse::NotFound().finish(),
                };
                async move { answer }
            }))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        format!("http://{addr}")
    }
}

async fn a_configured_issuer_replaces_demo_mode(db: Db) {
    let key_a_dir = tempfile::tempdir().unwrap();
    let key_b_dir = tempfile::tempdir().unwrap();
    let key_a = DemoIssuer::load_or_create(key_a_dir.path(), "tollgate").unwrap();
    let key_b = DemoIssuer::load_or_create(key_b_dir.path(), "tollgate").unwrap();
    let stand_in = StandInIssuer::default();
    *stand_in.keys.lock().unwrap() = key_a.jwks()["keys"].as_array().unwrap().clone();
    let published = stand_in.keys.clone();
    let issuer_url = stand_in.start().await;

    let app = TestApp::spawn_with(db, |c| {
        c.demo = false;
        c.issuer = Some(issuer_url.clone());
    })
    .await;
    // Demo mode is off: no demo endpoints, no seeded project.
    app.send(reqwest::Method::GET, "/api/v1/demo/users", None, None)
        .await
        .problem(404, "not_found");
    app.send(
        reqwest::Method::POST,
        "/api/v1/demo/session",
        None,
        Some(json!({ "user": "alice" })),
    )
    .await
    .problem(404, "not_found");

    let mut c = claims("u-1", "acme", "customer_admin");
    c["iss"] = json!(issuer_url);
    app.get(&key_a.sign_claims(&c).unwrap(), "/api/v1/me")
        .await
        .problem(403, "unknown_project");
    app.put_acme("2030-06-30", &["wso2am=WSO2 API Manager"]);
    let me = app
        .get(&key_a.sign_claims(&c).unwrap(), "/api/v1/me")
        .await
        .ok(200)
        .clone();
    assert_eq!(me["role"], "customer_admin");
    assert_eq!(me["demo_mode"], false);
    assert_eq!(me["subscription"]["end_date"], "2030-06-30");

    // The demo issuer's name is not trusted here.
    let mut demo_claims = c.clone();
    demo_claims["iss"] = json!(DEMO_ISSUER);
    app.get(&key_a.sign_claims(&demo_claims).unwrap(), "/api/v1/me")
        .await
        .problem(401, "unauthenticated");

    // Key rotation: a token with a new kid makes Tollgate refetch the JWKS.
    app.get(&key_b.sign_claims(&c).unwrap(), "/api/v1/me")
        .await
        .problem(401, "unauthenticated");
    published
        .lock()
        .unwrap()
        .extend(key_b.jwks()["keys"].as_array().unwrap().iter().cloned());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.get(&key_b.sign_claims(&c).unwrap(), "/api/v1/me").await.ok(200);
    let a_token = key_a.sign_claims(&c).unwrap();
    app.get(&a_token, "/api/v1/me").await.ok(200);

    // A key the issuer stops publishing verifies nothing once the keys are fetched again: not
    // even a token that it verified a moment ago (Tollgate remembers verified tokens).
    let a_kid = key_a.jwks()["keys"][0]["kid"].clone();
    published.lock().unwrap().retain(|k| k["kid"] != a_kid);
    let key_c_dir = tempfile::tempdir().unwrap();
    let key_c = DemoIssuer::load_or_create(key_c_dir.path(), "tollgate").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // An unknown kid makes Tollgate fetch the keys again.
    app.get(&key_c.sign_claims(&c).unwrap(), "/api/v1/me")
        .await
        .problem(401, "unauthenticated");
    app.get(&a_token, "/api/v1/me").await.problem(401, "unauthenticated");
    app.get(&key_b.sign_claims(&c).unwrap(), "/api/v1/me").await.ok(200);
}

async fn bearer_tokens_not_yet_valid_or_living_too_long_are_refused(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.max_bearer_lifetime = 3600).await;
    let issuer = DemoIssuer::load_or_create(app.data_dir.path(), "tollgate").unwrap();
    let me = |c: Value| {
        let token = issuer.sign_claims(&c).unwrap();
        let app = &app;
        async move { app.get(&token, "/api/v1/me").await }
    };
    let now = Utc::now().timestamp();
    let mut early = claims("dave", "acme", "customer");
    early["nbf"] = json!(now + 600);
    let refused = me(early).await;
    assert!(
        refused.problem(401, "unauthenticated")["detail"]
            .as_str()
            .unwrap()
            .contains("not valid yet"),
        "{}",
        refused.body
    );
    let mut long = claims("dave", "acme", "customer");
    long["exp"] = json!(now + 2 * 86_400);
    let refused = me(long).await;
    assert!(refused.problem(401, "unauthenticated")["detail"]
        .as_str()
        .unwrap()
        .contains("lives longer"));
    let mut long_without_iat = claims("dave", "acme", "customer");
    long_without_iat.as_object_mut().unwrap().remove("iat");
    long_without_iat["exp"] = json!(now + 7200);
    me(long_without_iat).await.problem(401, "unauthenticated");
    let mut within = claims("dave", "acme", "customer");
    within["nbf"] = json!(now - 10);
    within["exp"] = json!(now + 3000);
    me(within).await.ok(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_identity_provider_is_not_hammered() {
    let stand_in = StandInIssuer::default();
    stand_in.failing.store(true, std::sync::atomic::Ordering::SeqCst);
    let issuer_url = stand_in.start().await;
    let app = TestApp::spawn_with(Db::Sqlite, |c| {
        c.demo = false;
        c.issuer = Some(issuer_url.clone());
    })
    .await;
    let key_dir = tempfile::tempdir().unwrap();
    let key = DemoIssuer::load_or_create(key_dir.path(), "tollgate").unwrap();
    let mut c = claims("u-1", "acme", "customer_admin");
    c["iss"] = json!(issuer_url);
    for _ in 0..20 {
        app.get(&key.sign_claims(&c).unwrap(), "/api/v1/me")
            .await
            .problem(503, "unavailable");
    }
    assert_eq!(
        stand_in.asked.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "20 requests within the cool-down ask the provider once"
    );
}

/// The portal's first visitors all at once: the provider is asked for its discovery document
/// once, not once per visitor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitors_at_once_ask_the_provider_once() {
    let stand_in = StandInIssuer::default();
    let issuer_url = stand_in.start().await;
    let app = TestApp::spawn_with(Db::Sqlite, |c| {
        c.demo = false;
        c.issuer = Some(issuer_url.clone());
        c.oidc.client_id = Some("tollgate-portal".into());
    })
    .await;
    let visits = (0..20).map(|_| app.send(reqwest::Method::GET, "/api/v1/sign-in", None, None));
    for answer in futures_util::future::join_all(visits).await {
        assert_eq!(answer.ok(200)["oidc"]["token_endpoint"], format!("{issuer_url}/token"));
    }
    assert_eq!(stand_in.asked.load(std::sync::atomic::Ordering::SeqCst), 1);
}
