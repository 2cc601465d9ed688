//! The registry gateway: introspection, the Docker token flow, invalidation, rate limiting,
//! `last_used_at` and metrics.

use crate::both_backends;
use crate::helpers::{answer, introspect, metric, Db, ServerProcess, TestApp};
use jsonwebtoken::{decode, decode_header, jwk::JwkSet, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

both_backends!(
    an_active_secret_is_introspected_with_its_facts,
    every_invalid_secret_is_exactly_inactive,
    introspection_needs_a_gateway_client,
    the_cache_answers_repeats_and_forgets_changed_tokens_at_once,
    registry_tokens_grant_pull_on_the_products_only,
    failed_checks_are_rate_limited_per_address,
    last_used_at_follows_successful_checks,
);

async fn an_active_secret_is_introspected_with_its_facts(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    let created = app.create_token(&alice, "laptop").await;
    let token = &created["token"];
    let answer = app.introspect(created["secret"].as_str().unwrap()).await;
    let body = answer.ok(200);
    assert_eq!(answer.headers["cache-control"], "no-store");
    let expires = chrono::DateTime::parse_from_rfc3339(token["expires_at"].as_str().unwrap())
        .unwrap()
        .timestamp();
    let created_at = chrono::DateTime::parse_from_rfc3339(token["created_at"].as_str().unwrap())
        .unwrap()
        .timestamp();
    assert_eq!(
        body,
        &json!({
            "active": true,
            "username": token["registry_username"],
            "sub": token["id"],
            "scope": "repository:wso2am/*:pull repository:wso2is/*:pull",
            "exp": expires,
            "iat": created_at,
            "token_type": "registry_token",
            "project": "acme",
            "products": ["wso2am", "wso2is"],
            "token_kind": "user",
        })
    );
    let ci = app.service_user_id(&alice, "ci-pipeline").await;
    let service = app
        .post(
            &alice,
            "/api/v1/tokens",
            json!({ "name": "ci", "kind": "service", "service_user_id": ci }),
        )
        .await
        .ok(201)
        .clone();
    assert_eq!(
        app.introspect(service["secret"].as_str().unwrap()).await.ok(200)["token_kind"],
        "service"
    );
}

async fn every_invalid_secret_is_exactly_inactive(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    let inactive = json!({ "active": false });
    let created = app.create_token(&alice, "t").await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    let id = created["token"]["id"].as_str().unwrap().to_owned();

    let mut typo = secret.clone().into_bytes();
    typo[10] = if typo[10] == b'a' { b'b' } else { b'a' };
    let unknown = tollgate_store::secret::PlainSecret::generate();
    for bad in [
        "",
        "nope",
        "tgr_",
        &String::from_utf8(typo).unwrap(),
        unknown.expose(),
        &secret.to_uppercase(),
    ] {
        assert_eq!(app.introspect(bad).await.ok(200), &inactive, "{bad:?}");
    }

    let renewed = app
        .post_empty(&alice, &format!("/api/v1/tokens/{id}/secret"))
        .await
        .ok(200)["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.introspect(&secret).await.ok(200),
        &inactive,
        "the re-generated secret"
    );
    assert_eq!(app.introspect(&renewed).await.ok(200)["active"], true);

    app.put_acme("2020-01-31", &["wso2am", "wso2is"]);
    app.post_empty(&alice, &format!("/api/v1/tokens/{id}/products/sync"))
        .await
        .ok(200);
    assert_eq!(
        app.introspect(&renewed).await.ok(200),
        &inactive,
        "an expired subscription"
    );

    let other = app.create_token(&alice, "to delete").await;
    let other_secret = other["secret"].as_str().unwrap();
    assert_eq!(
        app.introspect(other_secret).await.ok(200)["active"],
        false,
        "created after the end date: expired too"
    );
    app.delete(
        &alice,
        &format!("/api/v1/tokens/{}", other["token"]["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(app.introspect(other_secret).await.ok(200), &inactive, "a deleted token");
}

async fn introspection_needs_a_gateway_client(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    let secret = app.create_token(&alice, "t").await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("{}/oauth2/introspect", app.base);
    let anonymous = answer(app.http.post(&url).form(&[("token", &secret)]).send().await.unwrap()).await;
    anonymous.problem(401, "unauthenticated");
    assert!(anonymous.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    let wrong = app
        .http
        .post(&url)
        .basic_auth("registry-gateway", Some("not-the-secret"))
        .form(&[("token", &secret)]);
    answer(wrong.send().await.unwrap())
        .await
        .problem(401, "unauthenticated");
    let as_token = app
        .http
        .post(&url)
        .basic_auth("registry-gateway", Some(&secret))
        .form(&[("token", &secret)]);
    answer(as_token.send().await.unwrap())
        .await
        .problem(401, "unauthenticated");
    let gateway = || {
        app.http
            .post(&url)
            .basic_auth("registry-gateway", Some("demo-gateway-secret"))
    };
    let no_token = answer(
        gateway()
            .form(&[("token_type_hint", "access_token")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(no_token.problem(400, "invalid_parameter")["field"], "token");
    let json_body = answer(gateway().json(&json!({ "token": secret })).send().await.unwrap()).await;
    json_body.problem(415, "unsupported_media_type");
    let hinted = gateway().form(&[("token", secret.as_str()), ("token_type_hint", "access_token")]);
    assert_eq!(answer(hinted.send().await.unwrap()).await.ok(200)["active"], true);
}

async fn the_cache_answers_repeats_and_forgets_changed_tokens_at_once(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    let created = app.create_token(&alice, "t").await;
    let (secret, id) = (
        created["secret"].as_str().unwrap().to_owned(),
        created["token"]["id"].as_str().unwrap().to_owned(),
    );
    // PostgreSQL nodes cache only once their notification connection is up.
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.metric(r#"tollgate_token_cache_lookups_total{result="hit"}"#).await == 0.0 {
        assert!(Instant::now() < deadline, "the cache never answered");
        app.introspect(&secret).await.ok(200);
    }
    let (hits, misses) = (
        app.metric(r#"tollgate_token_cache_lookups_total{result="hit"}"#).await,
        app.metric(r#"tollgate_token_cache_lookups_total{result="miss"}"#).await,
    );
    for _ in 0..5 {
        assert_eq!(app.introspect(&secret).await.ok(200)["active"], true);
    }
    assert_eq!(
        app.metric(r#"tollgate_token_cache_lookups_total{result="hit"}"#).await,
        hits + 5.0
    );
    assert_eq!(
        app.metric(r#"tollgate_token_cache_lookups_total{result="miss"}"#).await,
        misses,
        "repeats went to the database"
    );

    // A cached secret stops working the moment the re-generate call returns.
    let renewed = app
        .post_empty(&alice, &format!("/api/v1/tokens/{id}/secret"))
        .await
        .ok(200)["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.introspect(&secret).await.ok(200)["active"], false);
    assert_eq!(app.introspect(&renewed).await.ok(200)["active"], true);
    assert_eq!(app.introspect(&renewed).await.ok(200)["active"], true);

    // A re-sync shows at once, and so does a delete.
    let end = app.get(&alice, "/api/v1/me").await.ok(200)["subscription"]["end_date"]
        .as_str()
        .unwrap()
        .to_owned();
    app.put_acme(&end, &["wso2am", "wso2mi"]);
    assert_eq!(
        app.introspect(&renewed).await.ok(200)["products"],
        json!(["wso2am", "wso2is"])
    );
    app.post_empty(&alice, &format!("/api/v1/tokens/{id}/products/sync"))
        .await
        .ok(200);
    assert_eq!(
        app.introspect(&renewed).await.ok(200)["products"],
        json!(["wso2am", "wso2mi"])
    );
    app.delete(&alice, &format!("/api/v1/tokens/{id}")).await;
    assert_eq!(app.introspect(&renewed).await.ok(200), &json!({ "active": false }));

    // Unknown digests are cached too (that a new secret's digest leaves the cache is a unit
    // test of the cache: a secret cannot be chosen from outside).
    let unknown = tollgate_store::secret::PlainSecret::generate();
    app.introspect(unknown.expose()).await;
    let misses = app.metric(r#"tollgate_token_cache_lookups_total{result="miss"}"#).await;
    app.introspect(unknown.expose()).await;
    assert_eq!(
        app.metric(r#"tollgate_token_cache_lookups_total{result="miss"}"#).await,
        misses,
        "unknown digests are cached"
    );
    assert!(app.metric(r#"tollgate_introspections_total{result="active"}"#).await >= 9.0);
    assert!(
        app.metric(r#"tollgate_http_requests_total{endpoint="/oauth2/introspect",status="200"}"#)
            .await
            >= 10.0
    );
}

fn claims_of(jwt: &str, jwks: &Value, service: &str) -> Value {
    let header = decode_header(jwt).unwrap();
    assert_eq!(header.alg, Algorithm::ES256);
    let set: JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    let jwk = set.find(header.kid.as_deref().unwrap()).expect("the kid is published");
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[service]);
    validation.set_issuer(&["tollgate"]);
    decode::<Value>(jwt, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("verifies with the published key")
        .claims
}

async fn registry_tokens_grant_pull_on_the_products_only(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    let created = app.create_token(&alice, "docker").await;
    let user = created["token"]["registry_username"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let jwks = app
        .send(reqwest::Method::GET, "/auth/jwks.json", None, None)
        .await
        .ok(200)
        .clone();
    let pem = app
        .http
        .get(format!("{}/auth/certificate.pem", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));

    let request = |user: &str, password: &str, query: &str| {
        app.http
            .get(format!("{}/auth/token?{query}", app.base))
            .basic_auth(user, Some(password))
            .send()
    };
    let query = "service=tollgate-registry&scope=repository:wso2am/gateway:pull,push&scope=repository:wso2mi/mi:pull\
                 &scope=repository:wso2is/is:pull%20registry:catalog:*&account=";
    let granted = answer(request(&user, &secret, &format!("{query}{user}")).await.unwrap()).await;
    let body = granted.ok(200).clone();
    assert_eq!(body["token"], body["access_token"]);
    assert_eq!(body["expires_in"], 300);
    let claims = claims_of(body["token"].as_str().unwrap(), &jwks, "tollgate-registry");
    assert_eq!(claims["sub"], user.as_str());
    assert_eq!(
        claims["access"],
        json!([
            { "type": "repository", "name": "wso2am/gateway", "actions": ["pull"] },
            { "type": "repository", "name": "wso2is/is", "actions": ["pull"] },
        ])
    );
    let now = chrono::Utc::now().timestamp();
    assert!(claims["exp"].as_i64().unwrap() - now <= 300 && claims["nbf"].as_i64().unwrap() <= now);
    assert!(claims["jti"].is_string() && claims["iat"].is_i64());

    // Login without a scope (docker login) gets a token with no access.
    let login = answer(request(&user, &secret, "service=tollgate-registry").await.unwrap()).await;
    assert_eq!(
        claims_of(login.ok(200)["token"].as_str().unwrap(), &jwks, "tollgate-registry")["access"],
        json!([])
    );

    answer(request(&user, "tgr_wrong", "service=tollgate-registry").await.unwrap())
        .await
        .problem(401, "unauthenticated");
    answer(
        request("tg-acme-someoneelse", &secret, "service=tollgate-registry")
            .await
            .unwrap(),
    )
    .await
    .problem(401, "unauthenticated");
    answer(
        request(&user, &secret, "service=tollgate-registry&account=bob")
            .await
            .unwrap(),
    )
    .await
    .problem(401, "unauthenticated");
    let anonymous = answer(
        app.http
            .get(format!("{}/auth/token?service=tollgate-registry", app.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    anonymous.problem(401, "unauthenticated");
    assert!(anonymous.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic realm="));
    assert_eq!(
        answer(request(&user, &secret, "scope=x").await.unwrap())
            .await
            .problem(400, "invalid_parameter")["field"],
        "service"
    );
    answer(request(&user, &secret, "service=elsewhere").await.unwrap())
        .await
        .problem(400, "invalid_parameter");

    let id = created["token"]["id"].as_str().unwrap();
    app.post_empty(&alice, &format!("/api/v1/tokens/{id}/secret"))
        .await
        .ok(200);
    answer(request(&user, &secret, "service=tollgate-registry").await.unwrap())
        .await
        .problem(401, "unauthenticated");
    assert_eq!(
        app.metric(r#"tollgate_registry_tokens_total{result="granted"}"#).await,
        2.0
    );
}

async fn failed_checks_are_rate_limited_per_address(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.gateway.token_failures_per_minute = 3;
        c.gateway.introspect_failures_per_minute = 3;
    })
    .await;
    let alice = app.login("alice").await;
    let created = app.create_token(&alice, "t").await;
    let user = created["token"]["registry_username"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let token = |password: String| {
        let request = app
            .http
            .get(format!("{}/auth/token?service=tollgate-registry", app.base))
            .basic_auth(&user, Some(password));
        async move { answer(request.send().await.unwrap()).await }
    };
    // Valid traffic never counts against the budget.
    for _ in 0..20 {
        token(secret.clone()).await.ok(200);
        assert_eq!(app.introspect(&secret).await.ok(200)["active"], true);
    }
    for _ in 0..3 {
        token("tgr_guess".into()).await.problem(401, "unauthenticated");
    }
    let limited = token(secret.clone()).await;
    limited.problem(429, "rate_limited");
    let retry: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry), "Retry-After: {retry}");
    assert_eq!(
        app.introspect(&secret).await.ok(200)["active"],
        true,
        "each endpoint has its own budget"
    );
    for _ in 0..3 {
        app.introspect("tgr_guess").await.ok(200);
    }
    app.introspect(&secret).await.problem(429, "rate_limited");
    assert_eq!(
        app.metric(r#"tollgate_rate_limited_total{endpoint="/auth/token"}"#)
            .await,
        1.0
    );
}

async fn last_used_at_follows_successful_checks(db: Db) {
    let app = TestApp::spawn(db).await;
    let bob = app.login("bob").await;
    let created = app.create_token(&bob, "t").await;
    let (secret, id) = (
        created["secret"].as_str().unwrap(),
        created["token"]["id"].as_str().unwrap(),
    );
    let path = format!("/api/v1/tokens/{id}");
    assert!(app.get(&bob, &path).await.ok(200)["last_used_at"].is_null());
    app.introspect("tgr_wrong").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        app.get(&bob, &path).await.ok(200)["last_used_at"].is_null(),
        "a failed check is no use"
    );

    let before = chrono::Utc::now();
    app.introspect(secret).await.ok(200);
    let deadline = Instant::now() + Duration::from_secs(5);
    let used = loop {
        let value = app.get(&bob, &path).await.ok(200)["last_used_at"].clone();
        if let Some(at) = value.as_str() {
            break chrono::DateTime::parse_from_rfc3339(at).unwrap();
        }
        assert!(Instant::now() < deadline, "last_used_at was never written");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(used >= before - chrono::Duration::milliseconds(1));
    let user = created["token"]["registry_username"].as_str().unwrap();
    app.http
        .get(format!("{}/auth/token?service=tollgate-registry", app.base))
        .basic_auth(user, Some(secret))
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let value = app.get(&bob, &path).await.ok(200)["last_used_at"].clone();
        if chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap()).unwrap() > used {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a registry login did not update last_used_at"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Two processes on one PostgreSQL database: a change on node A reaches node B's cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_b_refuses_a_secret_within_a_second_of_node_a_regenerating_it() {
    let app = TestApp::spawn(Db::Postgres).await; // owns the database and its cleanup
    let url = app.database_url.clone();
    let env = [("TOLLGATE_DATABASE_URL", url.as_str())];
    let (node_a, node_b) = (
        ServerProcess::start(&env, None).await,
        ServerProcess::start(&env, None).await,
    );
    let http = reqwest::Client::new();
    let bearer = node_a.session("alice").await;
    let bearer = bearer.as_str();
    let created = node_a
        .post(Some(bearer), "/api/v1/tokens", Some(json!({ "name": "shared" })))
        .await;
    let (secret, id) = (
        created["secret"].as_str().unwrap(),
        created["token"]["id"].as_str().unwrap(),
    );
    // Node B answers from its cache: only a notification can make it change its mind.
    let hits = r#"tollgate_token_cache_lookups_total{result="hit"}"#;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let before = metric(&http, &node_b.base, hits).await;
        assert_eq!(introspect(&http, &node_b.base, secret).await.ok(200)["active"], true);
        if metric(&http, &node_b.base, hits).await > before {
            break;
        }
        assert!(Instant::now() < deadline, "node B never cached the secret");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let renewed = node_a
        .post(Some(bearer), &format!("/api/v1/tokens/{id}/secret"), None)
        .await;
    let regenerated = Instant::now();
    loop {
        if introspect(&http, &node_b.base, secret).await.ok(200)["active"] == false {
            break;
        }
        assert!(
            regenerated.elapsed() < Duration::from_secs(1),
            "node B still accepts the old secret after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "node B refused the old secret {} ms after node A re-generated it",
        regenerated.elapsed().as_millis()
    );
    assert_eq!(
        introspect(&http, &node_b.base, renewed["secret"].as_str().unwrap())
            .await
            .ok(200)["active"],
        true
    );

    // The notification connection drops: node B stops trusting its cache instead of serving
    // what it can no longer hear about.
    let new_secret = renewed["secret"].as_str().unwrap();
    assert_eq!(
        introspect(&http, &node_b.base, new_secret).await.ok(200)["active"],
        true
    );
    terminate_listeners(&app);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let gone = http
        .delete(format!("{}/api/v1/tokens/{id}", node_a.base))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    assert_eq!(
        introspect(&http, &node_b.base, new_secret).await.ok(200),
        &json!({ "active": false })
    );
}

fn terminate_listeners(app: &TestApp) {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    let mut conn = PgConnection::establish(&app.database_url).unwrap();
    diesel::sql_query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tollgate-notify' AND datname = current_database()")
        .execute(&mut conn)
        .unwrap();
}
