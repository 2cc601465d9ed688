//! The registry gateway: introspection, the Docker token flow, invalidation, rate limiting,
//! `last_used_at` and metrics.

use crate::both_backends;
use crate::helpers::{answer, introspect, Db, TestApp};
use jsonwebtoken::{decode, decode_header, jwk::JwkSet, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

both_backends!(
    metrics_say_what_the_on_call_person_asks_first,
    wrong_gateway_client_credentials_are_limited_per_address,
    metrics_live_on_the_management_listener_when_there_is_one,
    an_active_secret_is_introspected_with_its_facts,
    every_invalid_secret_is_exactly_inactive,
    introspection_needs_a_gateway_client,
    the_cache_answers_repeats_and_forgets_changed_tokens_at_once,
    registry_tokens_grant_pull_on_the_products_only,
    failures_are_limited_per_client_and_never_refuse_a_valid_secret,
    a_junk_flood_never_refuses_a_valid_secret,
    last_used_at_follows_successful_checks,
    a_crowd_of_misses_gets_each_its_own_answer,
    a_change_racing_a_crowd_of_misses_is_never_undone_by_them,
);

/// `/metrics` answers what the on-call person asks first: which release, the process' memory
/// and CPU, the pool's connections, whether the cache is trusted (and, on PostgreSQL, the
/// notification connection is up), the outbox's depth and oldest age; latencies up to 10 s.
async fn metrics_say_what_the_on_call_person_asks_first(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.webhooks.delivery = false).await;
    let alice = app.login("alice").await;
    let hook = json!({ "url": "https://hooks.example.com/x", "events": ["token.created"] });
    app.post(&alice, "/api/v1/webhooks", hook).await.ok(201);
    app.create_token(&alice, "counted").await;
    let text = crate::helpers::metrics_text(&app.http, &app.base).await;
    let value = |series: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse::<f64>().ok()))
            .unwrap_or_else(|| panic!("{series} missing from\n{text}"))
    };
    let build = text
        .lines()
        .find(|l| l.starts_with("tollgate_build_info{"))
        .expect("build info");
    assert!(
        build.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))) && build.ends_with(" 1"),
        "{build}"
    );
    assert!(value("process_resident_memory_bytes ") > 1e6);
    assert!(value("process_cpu_seconds_total ") > 0.0);
    assert!(value("process_open_fds ") > 3.0);
    assert_eq!(value("tollgate_db_pool_size "), 4.0);
    assert!(value("tollgate_db_pool_open_connections ") >= 1.0);
    assert_eq!(
        value("tollgate_webhook_outbox_pending "),
        1.0,
        "the delivery of the token's creation waits"
    );
    assert!(value("tollgate_webhook_outbox_oldest_seconds ") >= 0.0);
    assert!(value("tollgate_db_write_transactions_total ") >= 2.0);
    // Waits for turns and pooled connections, as counters (their rates give the mean wait).
    assert!(
        value("tollgate_db_turns_total ") >= 2.0,
        "the requests' calls took turns"
    );
    assert!(value("tollgate_db_pool_checkouts_total ") >= 2.0);
    assert!(value("tollgate_db_turn_wait_seconds_total ") >= 0.0);
    assert!(
        value("tollgate_db_pool_wait_seconds_total ") > 0.0,
        "opening a connection takes time"
    );
    assert!(text.contains(r#"le="10""#), "latency buckets reach 10 s");
    let from = Instant::now();
    loop {
        let text = crate::helpers::metrics_text(&app.http, &app.base).await;
        let up = |series: &str| text.lines().any(|l| l == format!("{series} 1"));
        let notify = match db {
            Db::Sqlite => !text.contains("tollgate_notify_connected"),
            Db::Postgres => up("tollgate_notify_connected"),
        };
        if up("tollgate_cache_trusted") && notify {
            break;
        }
        assert!(
            from.elapsed() < Duration::from_secs(5),
            "the cache is not trusted:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Guesses at a gateway client's credential are limited per address (10 a minute by default),
/// apart from the end clients' budgets; the real credential from the same address is still
/// answered.
async fn wrong_gateway_client_credentials_are_limited_per_address(db: Db) {
    let app = TestApp::spawn(db).await;
    let ask =
        |secret: &'static str| crate::helpers::introspect_status_as(&app.http, &app.base, "registry-gateway", secret);
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(ask("a-wrong-guess-of-it").await);
    }
    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10], 429, "the eleventh guess in a minute");
    assert_eq!(
        ask("demo-gateway-secret").await,
        200,
        "the real credential is still answered"
    );
}

/// With `TOLLGATE_MANAGEMENT_LISTEN`, `/metrics` is served there only: the public port
/// answers 404 (never the portal's page); health checks answer on both.
async fn metrics_live_on_the_management_listener_when_there_is_one(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.management_listen = Some("127.0.0.1:0".into())).await;
    let management = app.management.clone().expect("a management listener");
    let get = |url: String| async move { reqwest::get(url).await.unwrap() };
    let public = get(format!("{}/metrics", app.base)).await;
    assert_eq!(public.status().as_u16(), 404);
    assert!(public.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("problem+json"));
    let metrics = get(format!("{management}/metrics")).await;
    assert_eq!(metrics.status().as_u16(), 200);
    assert!(metrics
        .text()
        .await
        .unwrap()
        .contains("tollgate_db_write_transactions_total"));
    for base in [&app.base, &management] {
        assert_eq!(get(format!("{base}/readyz")).await.status().as_u16(), 200, "{base}");
    }
    assert_eq!(get(format!("{management}/api/v1/me")).await.status().as_u16(), 404);
    assert_eq!(
        get(format!("{}/docs/", app.base)).await.status().as_u16(),
        200,
        "the docs stay public"
    );
}

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

    // A product removed from the subscription goes at once (the cached answer too); one
    // added waits for a re-sync, which shows at once; and so does a delete.
    let end = app.get(&alice, "/api/v1/me").await.ok(200)["subscription"]["end_date"]
        .as_str()
        .unwrap()
        .to_owned();
    app.put_acme_api(&end, &["wso2am", "wso2mi"]).await.ok(200);
    assert_eq!(app.introspect(&renewed).await.ok(200)["products"], json!(["wso2am"]));
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

    // Only names of the Distribution reference grammar are granted, even under a product.
    let tricky = [
        "wso2am/../wso2mi/x",
        "wso2am/*",
        "wso2am//x",
        "wso2am/x:latest",
        "wso2am/X",
    ]
    .map(|name| format!("&scope=repository:{}:pull", name.replace('/', "%2F")))
    .concat();
    let tricked = answer(
        request(&user, &secret, &format!("service=tollgate-registry{tricky}"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        claims_of(tricked.ok(200)["token"].as_str().unwrap(), &jwks, "tollgate-registry")["access"],
        json!([])
    );
    // The scope limit counts scopes, however they are packed into parameters.
    let packed = vec!["repository:wso2am/x:pull"; 33].join("%20");
    assert_eq!(
        answer(
            request(&user, &secret, &format!("service=tollgate-registry&scope={packed}"))
                .await
                .unwrap()
        )
        .await
        .problem(400, "invalid_parameter")["field"],
        "scope"
    );

    let id = created["token"]["id"].as_str().unwrap();
    app.post_empty(&alice, &format!("/api/v1/tokens/{id}/secret"))
        .await
        .ok(200);
    answer(request(&user, &secret, "service=tollgate-registry").await.unwrap())
        .await
        .problem(401, "unauthenticated");
    assert_eq!(
        app.metric(r#"tollgate_registry_tokens_total{result="granted"}"#).await,
        3.0
    );
}

async fn failures_are_limited_per_client_and_never_refuse_a_valid_secret(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.gateway.token_failures_per_minute = 3;
        c.gateway.introspect_failures_per_minute = 3;
        c.trusted_proxies = tollgate_server::client_address::TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await;
    let alice = app.login("alice").await;
    let created = app.create_token(&alice, "t").await;
    let user = created["token"]["registry_username"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let login = |password: String, client: &'static str| {
        let request = app
            .http
            .get(format!("{}/auth/token?service=tollgate-registry", app.base))
            .header("x-forwarded-for", client)
            .basic_auth(&user, Some(password));
        async move { answer(request.send().await.unwrap()).await }
    };
    let introspect_for = |token: String, client: Option<&'static str>| {
        let mut request = app
            .http
            .post(format!("{}/oauth2/introspect", app.base))
            .basic_auth("registry-gateway", Some("demo-gateway-secret"))
            .form(&[("token", token)]);
        if let Some(client) = client {
            request = request.header("x-forwarded-for", client);
        }
        async move { answer(request.send().await.unwrap()).await }
    };
    // Valid traffic never counts against the budget.
    for _ in 0..20 {
        login(secret.clone(), "203.0.113.1").await.ok(200);
    }
    for _ in 0..3 {
        login("tgr_guess".into(), "203.0.113.1")
            .await
            .problem(401, "unauthenticated");
    }
    let limited = login("tgr_guess".into(), "203.0.113.1").await;
    limited.problem(429, "rate_limited");
    let retry: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry), "Retry-After: {retry}");
    login(secret.clone(), "203.0.113.1")
        .await
        .ok(200)
        .get("token")
        .expect("a valid login from a blocked address is still granted");
    login("tgr_guess".into(), "203.0.113.2")
        .await
        .problem(401, "unauthenticated");

    // The gateway's own address is nobody's budget: it asks for every customer.
    for _ in 0..10 {
        assert_eq!(introspect_for("tgr_guess".into(), None).await.ok(200)["active"], false);
    }
    // An end client that the gateway forwards (as a trusted proxy) has a budget of its own.
    for _ in 0..3 {
        introspect_for("tgr_guess".into(), Some("198.51.100.7")).await.ok(200);
    }
    introspect_for("tgr_guess".into(), Some("198.51.100.7"))
        .await
        .problem(429, "rate_limited");
    assert_eq!(
        introspect_for(secret.clone(), Some("198.51.100.7")).await.ok(200)["active"],
        true,
        "a valid secret is answered whatever its client's budget"
    );
    assert_eq!(
        introspect_for("tgr_guess".into(), Some("198.51.100.8")).await.ok(200)["active"],
        false
    );
    assert_eq!(
        app.metric(r#"tollgate_rate_limited_total{endpoint="/auth/token"}"#)
            .await,
        1.0
    );
}

/// A flood of junk from one address, at both endpoints, beside valid checks: not one valid
/// check is refused.
async fn a_junk_flood_never_refuses_a_valid_secret(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    let created = app.create_token(&alice, "ci").await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    let user = created["token"]["registry_username"].as_str().unwrap().to_owned();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut junk = Vec::new();
    for n in 0..6 {
        let (http, base, stop) = (app.http.clone(), app.base.clone(), stop.clone());
        let user = user.clone();
        junk.push(tokio::spawn(async move {
            let mut sent = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && sent < 20_000 {
                let garbage = if sent.is_multiple_of(2) {
                    format!("tgr_{n}junk{sent}")
                } else {
                    tollgate_store::secret::PlainSecret::generate().expose().to_owned()
                };
                let _ = introspect(&http, &base, &garbage).await;
                let _ = http
                    .get(format!("{base}/auth/token?service=tollgate-registry"))
                    .basic_auth(&user, Some(&garbage))
                    .send()
                    .await;
                sent += 1;
            }
            sent
        }));
    }
    let mut valid = 0;
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        assert_eq!(app.introspect(&secret).await.ok(200)["active"], true);
        let login = answer(
            app.http
                .get(format!("{}/auth/token?service=tollgate-registry", app.base))
                .basic_auth(&user, Some(&secret))
                .send()
                .await
                .unwrap(),
        )
        .await;
        login.ok(200);
        valid += 2;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut flood = 0;
    for j in junk {
        flood += j.await.unwrap();
    }
    assert!(flood > 100, "the flood sent only {flood} pairs");
    assert!(
        app.metric(r#"tollgate_rate_limited_total{endpoint="/auth/token"}"#)
            .await
            > 0.0,
        "the junk logins were limited"
    );
    println!("{valid} valid checks answered during a flood of {flood} junk pairs");
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
    // A registry login is a use too: a pull counted. From the same address within the
    // minute, it leaves the recorded time as it is (see the usage tests).
    let user = created["token"]["registry_username"].as_str().unwrap();
    app.http
        .get(format!("{}/auth/token?service=tollgate-registry", app.base))
        .basic_auth(user, Some(secret))
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let usage = app.get(&bob, &format!("{path}/usage")).await.ok(200).clone();
        if usage["total"] == 2 {
            assert_eq!(
                usage["last_used_at"],
                app.get(&bob, &path).await.ok(200)["last_used_at"]
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a registry login was not counted as a use: {usage}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Many cache misses at once (on PostgreSQL, looked up together in one statement; on SQLite,
/// those of a worker's turn in one read transaction): every
/// caller gets the answer for its own secret, whatever else was in the batch, and a batch
/// with several kinds of secrets answers each as a lookup of its own would.
async fn a_crowd_of_misses_gets_each_its_own_answer(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    let mut expected: Vec<(String, Value)> = Vec::new();
    for i in 0..40 {
        let created = app.create_token(&alice, &format!("crowd-{i}")).await;
        let id = created["token"]["id"].clone();
        let secret = created["secret"].as_str().unwrap().to_owned();
        match i % 10 {
            // Re-generated: the old secret is inactive, the new one is the token's.
            3 => {
                let path = format!("/api/v1/tokens/{}/secret", id.as_str().unwrap());
                let renewed = app
                    .post(&alice, &path, json!({ "expires_on": null }))
                    .await
                    .ok(200)
                    .clone();
                expected.push((secret, Value::Null));
                expected.push((renewed["secret"].as_str().unwrap().to_owned(), id));
            }
            // Deleted: inactive.
            7 => {
                app.delete(&alice, &format!("/api/v1/tokens/{}", id.as_str().unwrap()))
                    .await
                    .ok(204);
                expected.push((secret, Value::Null));
            }
            _ => expected.push((secret, id)),
        }
    }
    for _ in 0..8 {
        let unknown = tollgate_store::secret::PlainSecret::generate();
        expected.push((unknown.expose().to_owned(), Value::Null));
    }
    // Each secret asked for twice at once (a client pulling layers in parallel), three times
    // over: the first round misses the cache for every secret, both askers of each.
    let twice: Vec<&(String, Value)> = expected.iter().chain(expected.iter()).collect();
    for round in 0..3 {
        let answers = futures_util::future::join_all(twice.iter().map(|(secret, _)| app.introspect(secret))).await;
        for ((_, id), answer) in twice.iter().zip(&answers) {
            let body = answer.ok(200);
            match id {
                Value::Null => assert_eq!(body, &json!({ "active": false }), "round {round}"),
                id => {
                    assert_eq!(body["active"], true, "round {round}");
                    assert_eq!(&body["sub"], id, "round {round}: another token's answer");
                }
            }
        }
    }
}

/// A cache of eight tokens, so that half the checks are misses, and a crowd of checks of
/// sixteen tokens' secrets kept in flight all the while (looked up together: on SQLite those of a
/// worker's turn in one read transaction, on PostgreSQL in one statement), while each token in
/// turn is re-generated or deleted. A lookup that read a token before its change and answers
/// after it must not leave that answer in the cache: the old secret is refused as soon as the
/// call returns, by checks at once for a while after, and still when the crowd has stopped.
async fn a_change_racing_a_crowd_of_misses_is_never_undone_by_them(db: Db) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let app = TestApp::spawn_with(db, |c| c.gateway.cache_max_tokens = 8).await;
    let alice = app.login("alice").await;
    let mut tokens: Vec<(String, String)> = Vec::new();
    for i in 0..16 {
        let created = app.create_token(&alice, &format!("race-{i}")).await;
        tokens.push((
            created["token"]["id"].as_str().unwrap().to_owned(),
            created["secret"].as_str().unwrap().to_owned(),
        ));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let crowd = {
        let (http, base, stop) = (app.http.clone(), app.base.clone(), stop.clone());
        let secrets: Vec<String> = tokens.iter().map(|(_, s)| s.clone()).collect();
        tokio::spawn(async move {
            let mut rounds = 0;
            while !stop.load(Ordering::SeqCst) {
                let checks = secrets.iter().cycle().take(48).map(|s| introspect(&http, &base, s));
                for answer in futures_util::future::join_all(checks).await {
                    answer.ok(200);
                }
                rounds += 1;
            }
            rounds
        })
    };
    let mut renewed = Vec::new();
    for (i, (id, old)) in tokens.iter().enumerate() {
        // Let the crowd miss this token a few times first.
        tokio::time::sleep(Duration::from_millis(30)).await;
        if i % 2 == 0 {
            let answer = app.post_empty(&alice, &format!("/api/v1/tokens/{id}/secret")).await;
            renewed.push(answer.ok(200)["secret"].as_str().unwrap().to_owned());
        } else {
            app.delete(&alice, &format!("/api/v1/tokens/{id}")).await.ok(204);
        }
        for _ in 0..10 {
            let checks = (0..8).map(|_| app.introspect(old));
            for answer in futures_util::future::join_all(checks).await {
                assert_eq!(
                    answer.ok(200),
                    &json!({ "active": false }),
                    "token {i}, after its change"
                );
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    let rounds = crowd.await.unwrap();
    assert!(rounds >= 8, "the crowd ran {rounds} rounds only");
    assert!(
        app.metric(r#"tollgate_token_cache_lookups_total{result="miss"}"#).await >= 100.0,
        "the crowd's checks were misses"
    );
    for (i, (_, old)) in tokens.iter().enumerate() {
        assert_eq!(
            app.introspect(old).await.ok(200),
            &json!({ "active": false }),
            "token {i}, later"
        );
    }
    for secret in &renewed {
        assert_eq!(app.introspect(secret).await.ok(200)["active"], true);
    }
}

/// SQLite: another process (`tollgate project put`) changes the subscription while this node
/// writes all the time (four clients creating tokens back to back, usage flushed every 100 ms),
/// so that at almost any moment one of its own transactions is committing beside the other
/// process' write: every change is heard within the promised second, round after round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_processs_writes_are_heard_beside_this_nodes_own() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let alice = app.login("alice").await;
    let secret = app.create_token(&alice, "watched").await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (http, base, bearer, stop) = (app.http.clone(), app.base.clone(), alice.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let created = http
                        .post(format!("{base}/api/v1/tokens"))
                        .bearer_auth(&bearer)
                        .json(&json!({ "name": format!("busy-{w}-{n}"), "kind": "user" }))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(created.status().as_u16(), 201);
                    n += 1;
                }
                n
            })
        })
        .collect();
    for round in 0..8 {
        // Even rounds end the subscription, odd ones renew it.
        let ended = round % 2 == 0;
        // The answer before the change, cached.
        assert_eq!(app.introspect(&secret).await.ok(200)["active"], ended);
        assert_eq!(app.introspect(&secret).await.ok(200)["active"], ended);
        app.put_acme(if ended { "2020-01-31" } else { "2030-06-30" }, &["wso2am", "wso2is"]);
        let changed = Instant::now();
        while app.introspect(&secret).await.ok(200)["active"] != json!(!ended) {
            assert!(
                changed.elapsed() < Duration::from_secs(1),
                "round {round}: the other process' change was not heard within a second"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        assert!(writer.await.unwrap() > 0, "the node wrote meanwhile");
    }
}
