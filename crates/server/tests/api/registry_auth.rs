//! The registry token endpoint as Docker, containerd and podman use it: the OAuth2 variant
//! (`POST /auth/token`, password and refresh-token grants), refresh tokens that die with the
//! secret on every node, and refusals that say why in the members the clients print.

use crate::both_backends;
use crate::helpers::{answer, two_nodes, Answer, Db, TestApp};
use serde_json::{json, Value};

both_backends!(
    the_oauth2_variant_grants_and_refreshes_until_the_secret_changes,
    refusals_say_why_in_what_registry_clients_print,
    refusals_say_why_only_to_the_secrets_own_username,
    forward_auth_answers_pulls_of_granted_repositories_only,
    forward_auth_budgets_end_clients_never_the_proxy
);

const SERVICE: &str = "tollgate-registry";

async fn post(http: &reqwest::Client, base: &str, form: &[(&str, &str)]) -> Answer {
    answer(http.post(format!("{base}/auth/token")).form(form).send().await.unwrap()).await
}

/// A refusal as Docker (`details`), Distribution clients (`errors`) and OAuth2 clients
/// (`error`, `error_description`) read it; returns the reason.
#[track_caller]
fn refusal(answer: &Answer, status: u16, oauth_error: Option<&str>) -> String {
    assert_eq!(answer.status.as_u16(), status, "{}", answer.body);
    let why = answer.body["detail"].as_str().unwrap().to_owned();
    assert_eq!(answer.body["details"], why.as_str());
    let code = match status {
        401 => "UNAUTHORIZED",
        429 => "TOOMANYREQUESTS",
        _ => "UNSUPPORTED",
    };
    assert_eq!(answer.body["errors"], json!([{ "code": code, "message": why }]));
    match oauth_error {
        Some(error) => {
            assert_eq!(answer.body["error"], error);
            assert_eq!(answer.body["error_description"], why.as_str());
        }
        None => assert!(answer.body.get("error").is_none()),
    }
    if status == 401 {
        assert_eq!(answer.headers["www-authenticate"], "Basic realm=\"tollgate registry\"");
    }
    why
}

async fn the_oauth2_variant_grants_and_refreshes_until_the_secret_changes(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    let created = app.create_token(&alice, "containerd").await;
    let id = created["token"]["id"].as_str().unwrap().to_owned();
    let user = created["token"]["registry_username"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let scope = "repository:wso2am/gateway:pull repository:wso2mi/x:pull";

    let password = [
        ("grant_type", "password"),
        ("service", SERVICE),
        ("client_id", "containerd"),
        ("scope", scope),
        ("username", &user),
        ("password", &secret),
    ];
    let plain = post(&app.http, &app.base, &password).await;
    let plain = plain.ok(200);
    assert_eq!(
        plain["scope"], "repository:wso2am/gateway:pull",
        "only what the products grant"
    );
    assert!(plain["refresh_token"].is_null(), "no refresh token unless asked");
    assert_eq!(plain["access_token"], plain["token"]);

    let mut offline = password.to_vec();
    offline.push(("access_type", "offline"));
    let refresh = post(&app.http, &app.base, &offline).await.ok(200)["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned();
    assert!(
        !refresh.contains(&secret[4..]),
        "the refresh token does not carry the secret"
    );
    let by_refresh = [
        ("grant_type", "refresh_token"),
        ("service", SERVICE),
        ("client_id", "containerd"),
        ("scope", scope),
        ("refresh_token", refresh.as_str()),
    ];
    let renewed = post(&app.http, &app.base, &by_refresh).await;
    assert_eq!(renewed.ok(200)["scope"], "repository:wso2am/gateway:pull");
    // The GET variant gives one too.
    let get = answer(
        app.http
            .get(format!(
                "{}/auth/token?service={SERVICE}&offline_token=true&client_id=docker",
                app.base
            ))
            .basic_auth(&user, Some(&secret))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(get.ok(200)["refresh_token"].is_string());

    // A refresh token is not a registry token, nor one for another service.
    let as_access = [
        ("grant_type", "refresh_token"),
        ("service", SERVICE),
        ("refresh_token", plain["token"].as_str().unwrap()),
    ];
    refusal(
        &post(&app.http, &app.base, &as_access).await,
        401,
        Some("invalid_grant"),
    );
    let mut tampered = refresh.clone();
    tampered.insert(tampered.len() - 2, 'A');
    let forged = [
        ("grant_type", "refresh_token"),
        ("service", SERVICE),
        ("refresh_token", tampered.as_str()),
    ];
    refusal(&post(&app.http, &app.base, &forged).await, 401, Some("invalid_grant"));

    // It dies with the secret.
    app.post_empty(&alice, &format!("/api/v1/tokens/{id}/secret"))
        .await
        .ok(200);
    let why = refusal(
        &post(&app.http, &app.base, &by_refresh).await,
        401,
        Some("invalid_grant"),
    );
    assert!(why.contains("re-generated"), "{why}");
    app.delete(&alice, &format!("/api/v1/tokens/{id}")).await;
    let why = refusal(
        &post(&app.http, &app.base, &by_refresh).await,
        401,
        Some("invalid_grant"),
    );
    assert!(why.contains("deleted"), "{why}");

    // Requests the grant types cannot serve.
    let answer = post(
        &app.http,
        &app.base,
        &[("grant_type", "client_credentials"), ("service", SERVICE)],
    )
    .await;
    assert_eq!(answer.status.as_u16(), 400);
    assert_eq!(answer.body["error"], "unsupported_grant_type");
    let answer = post(
        &app.http,
        &app.base,
        &[("grant_type", "password"), ("service", SERVICE)],
    )
    .await;
    assert_eq!(
        (answer.status.as_u16(), answer.body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let answer = post(
        &app.http,
        &app.base,
        &[("grant_type", "password"), ("username", "u"), ("password", "p")],
    )
    .await;
    assert_eq!(
        (answer.status.as_u16(), answer.body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let not_a_form = app
        .http
        .post(format!("{}/auth/token", app.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(not_a_form.status().as_u16(), 415);
}

/// A secret that was re-generated, deleted, reported leaked or has expired says why only when
/// it comes with its own token's username, at `/auth/token` and through forward auth. With
/// another token's username it reads exactly like a secret that never existed: a secret alone
/// does not tell that it was once real.
async fn refusals_say_why_only_to_the_secrets_own_username(db: Db) {
    use tollgate_server::gateway::forward::ForwardAuthProxy;
    let app = TestApp::spawn_with(db, |c| c.gateway.forward_auth_proxy = Some(ForwardAuthProxy::Nginx)).await;
    let alice = app.login("alice").await;
    let make = |name: &'static str| {
        let (app, alice) = (&app, alice.clone());
        async move {
            let created = app.create_token(&alice, name).await;
            (
                created["token"]["id"].as_str().unwrap().to_owned(),
                created["token"]["registry_username"].as_str().unwrap().to_owned(),
                created["secret"].as_str().unwrap().to_owned(),
            )
        }
    };
    let (_, bystander, _) = make("bystander").await;
    let (regenerated, regenerated_user, regenerated_secret) = make("regenerated").await;
    app.post_empty(&alice, &format!("/api/v1/tokens/{regenerated}/secret"))
        .await
        .ok(200);
    let (deleted, deleted_user, deleted_secret) = make("deleted").await;
    app.delete(&alice, &format!("/api/v1/tokens/{deleted}")).await.ok(204);
    let (_, leaked_user, leaked_secret) = make("leaked").await;
    // Revoked on the host, at once.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["token", "revoke"])
        .env("TOLLGATE_DATABASE_URL", &app.database_url)
        .env("TOLLGATE_DATA_DIR", app.data_dir.path())
        .env("TOLLGATE_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(child.stdin.take().unwrap(), "{leaked_secret}").unwrap();
    assert!(child.wait().unwrap().success());
    let (expired, expired_user, expired_secret) = make("expired").await;
    app.execute_sql(&format!(
        "UPDATE tokens SET expires_on = '2020-01-31' WHERE id = '{expired}'"
    ));

    let token_flow = |user: String, password: String| {
        let app = &app;
        async move {
            answer(
                app.http
                    .get(format!("{}/auth/token?service={SERVICE}", app.base))
                    .basic_auth(user, Some(password))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let forward = |user: String, password: String| {
        let app = &app;
        async move {
            answer(
                app.http
                    .get(format!("{}/auth/forward", app.base))
                    .header("X-Original-URI", "/v2/")
                    .header("X-Original-Method", "GET")
                    .basic_auth(user, Some(password))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let unknown = tollgate_store::secret::PlainSecret::generate().expose().to_owned();
    let mut never_seen = token_flow(bystander.clone(), unknown.clone()).await;
    let mut never_seen_forward = forward(bystander.clone(), unknown).await;
    for answer in [&mut never_seen, &mut never_seen_forward] {
        answer.body["request_id"] = Value::Null;
    }
    for (user, secret, why) in [
        (regenerated_user, regenerated_secret, "re-generated"),
        (deleted_user, deleted_secret, "deleted"),
        (leaked_user, leaked_secret, "reported leaked"),
        (expired_user, expired_secret, "expired"),
    ] {
        // Its own username: the reason, within the promised second (the revocation was
        // another process').
        let from = std::time::Instant::now();
        let mut own = token_flow(user.clone(), secret.clone()).await;
        while !own.body["detail"].as_str().unwrap_or("").contains(why) && from.elapsed().as_secs() < 1 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            own = token_flow(user.clone(), secret.clone()).await;
        }
        assert!(refusal(&own, 401, None).contains(why), "{why}: {}", own.body);
        assert!(refusal(&forward(user.clone(), secret.clone()).await, 401, None).contains(why));
        // Another token's username: word for word an unknown secret.
        let mut theirs = token_flow(bystander.clone(), secret.clone()).await;
        theirs.body["request_id"] = Value::Null;
        assert_eq!(theirs.status, never_seen.status);
        assert_eq!(theirs.body, never_seen.body, "{why}");
        let mut theirs = forward(bystander.clone(), secret.clone()).await;
        theirs.body["request_id"] = Value::Null;
        assert_eq!(theirs.body, never_seen_forward.body, "{why} through forward auth");
        assert_eq!(
            theirs.headers["x-tollgate-error"],
            never_seen_forward.headers["x-tollgate-error"]
        );
    }
}

async fn refusals_say_why_in_what_registry_clients_print(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let get = |user: String, password: String| {
        let app = &app;
        async move {
            answer(
                app.http
                    .get(format!(
                        "{}/auth/token?service={SERVICE}&scope=repository:wso2am/x:pull",
                        app.base
                    ))
                    .basic_auth(user, Some(password))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let created = app.create_token(&alice, "ci").await;
    let id = created["token"]["id"].as_str().unwrap().to_owned();
    let user = created["token"]["registry_username"].as_str().unwrap().to_owned();
    let old = created["secret"].as_str().unwrap().to_owned();
    let new = app
        .post_empty(&alice, &format!("/api/v1/tokens/{id}/secret"))
        .await
        .ok(200)["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let why = refusal(&get(user.clone(), old.clone()).await, 401, None);
    assert!(why.contains("re-generated") && why.contains("new secret"), "{why}");
    get(user.clone(), new.clone()).await.ok(200);

    // Someone else's username with a valid secret, or a secret no token ever had: the same
    // words, which tell nothing about another token.
    let bobs = app.create_token(&bob, "bob's").await;
    let bobs_user = bobs["token"]["registry_username"].as_str().unwrap().to_owned();
    let unknown = tollgate_store::secret::PlainSecret::generate().expose().to_owned();
    let with_other_user = refusal(&get(bobs_user, new.clone()).await, 401, None);
    let never_seen = refusal(&get(user.clone(), unknown).await, 401, None);
    assert_eq!(with_other_user, never_seen);
    assert_eq!(never_seen, "unknown registry username or secret");
    // The last character changed (to `x`, or `y` where it is an `x`: one secret in 62 ends
    // in `x`, and then this "typo" was the secret itself).
    let (head, last) = new.split_at(new.len() - 1);
    let typo = format!("{head}{}", if last == "x" { "y" } else { "x" });
    assert!(refusal(&get(user.clone(), typo).await, 401, None).contains("typing error"));

    // The subscription ended, by the operators' command on the host: another process, which
    // the serving node hears of within the promised second on either backend.
    app.put_acme("2020-01-31", &["wso2am", "wso2is"]);
    let changed = std::time::Instant::now();
    let mut ended = get(user.clone(), new.clone()).await;
    while ended.status.as_u16() == 200 && changed.elapsed() < std::time::Duration::from_secs(1) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        ended = get(user.clone(), new.clone()).await;
    }
    let why = refusal(&ended, 401, None);
    assert!(why.contains("expired on 2020-01-31"), "{why}");

    // Deleted.
    app.delete(&alice, &format!("/api/v1/tokens/{id}")).await;
    let why = refusal(&get(user, new).await, 401, None);
    assert!(why.contains("deleted"), "{why}");
    let missing = answer(
        app.http
            .get(format!("{}/auth/token?service={SERVICE}", app.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    refusal(&missing, 401, None);
}

/// Two nodes on one PostgreSQL: a refresh token made on one stops working on the other as
/// soon as the secret is re-generated there (refresh tokens are checked against the database).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_dies_with_its_secret_on_every_node() {
    if !crate::helpers::needs::postgres("a_refresh_token_dies_with_its_secret_on_every_node") {
        return;
    }
    let database = TestApp::spawn(Db::Postgres).await;
    let (a, b) = two_nodes(&database.database_url).await;
    let http = reqwest::Client::new();
    let alice = a.session("alice").await;
    let created = a
        .post(Some(&alice), "/api/v1/tokens", Some(json!({ "name": "k8s" })))
        .await;
    let (id, user, secret) = (
        created["token"]["id"].as_str().unwrap().to_owned(),
        created["token"]["registry_username"].as_str().unwrap().to_owned(),
        created["secret"].as_str().unwrap().to_owned(),
    );
    let login = [
        ("grant_type", "password"),
        ("service", SERVICE),
        ("access_type", "offline"),
        ("username", user.as_str()),
        ("password", secret.as_str()),
    ];
    let refresh: Value = post(&http, &a.base, &login).await.ok(200)["refresh_token"].clone();
    let by_refresh = [
        ("grant_type", "refresh_token"),
        ("service", SERVICE),
        ("refresh_token", refresh.as_str().unwrap()),
    ];
    post(&http, &b.base, &by_refresh).await.ok(200);
    let alice_b = b.session("alice").await;
    b.post(Some(&alice_b), &format!("/api/v1/tokens/{id}/secret"), None)
        .await;
    let why = refusal(&post(&http, &a.base, &by_refresh).await, 401, Some("invalid_grant"));
    assert!(why.contains("re-generated"), "{why}");
}

/// Forward auth reads the header pair of the configured proxy only: nginx's `X-Original-*`,
/// or Traefik's and Caddy's `X-Forwarded-*`. The other pair in a request is a client's own and
/// refuses it, whatever it asks for; without a configured proxy every request is refused.
async fn forward_auth_answers_pulls_of_granted_repositories_only(db: Db) {
    use tollgate_server::gateway::forward::ForwardAuthProxy;
    let app = TestApp::spawn_with(db, |c| c.gateway.forward_auth_proxy = Some(ForwardAuthProxy::Nginx)).await;
    let alice = app.login("alice").await;
    let created = app.create_token(&alice, "proxy").await;
    let user = created["token"]["registry_username"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let ask = |app: &TestApp, headers: Vec<(&'static str, &'static str)>, creds: Option<(String, String)>| {
        let request = app.http.get(format!("{}/auth/forward", app.base));
        async move {
            let mut request = request;
            for (name, value) in headers {
                request = request.header(name, value);
            }
            if let Some((user, password)) = creds {
                request = request.basic_auth(user, Some(password));
            }
            answer(request.send().await.unwrap()).await
        }
    };
    let mine = || Some((user.clone(), secret.clone()));
    let nginx = |uri: &'static str, method: &'static str| vec![("X-Original-URI", uri), ("X-Original-Method", method)];
    let traefik =
        |uri: &'static str, method: &'static str| vec![("X-Forwarded-Uri", uri), ("X-Forwarded-Method", method)];
    let denied = |answer: &Answer, why: &str| {
        assert_eq!(answer.status.as_u16(), 403, "{why}: {}", answer.body);
        assert_eq!(answer.body["errors"][0]["code"], "DENIED");
        let detail = answer.body["detail"].as_str().unwrap();
        assert!(detail.contains(why), "{detail} should say {why}");
        assert_eq!(answer.headers["x-tollgate-error"], detail);
    };

    for (headers, what) in [
        (nginx("/v2/", "GET"), "the API root"),
        (nginx("/v2/wso2am/gateway/manifests/1.0", "GET"), "a manifest"),
        (nginx("/v2/wso2is/a/b/blobs/sha256:0123", "HEAD"), "a blob"),
        (nginx("/v2/wso2am/gateway/tags/list?n=5", "GET"), "tags"),
    ] {
        let answer = ask(&app, headers, mine()).await;
        assert_eq!(answer.status.as_u16(), 200, "{what}: {}", answer.body);
        assert_eq!(answer.headers["x-tollgate-username"], user.as_str());
    }
    for (headers, why) in [
        (
            nginx("/v2/wso2mi/x/manifests/1.0", "GET"),
            "does not grant this repository",
        ),
        (
            nginx("/v2/wso2am/../wso2mi/x/manifests/1.0", "GET"),
            "does not grant this repository",
        ),
        (nginx("/v2/wso2am/gateway/manifests/1.0", "PUT"), "pull only"),
        (nginx("/v2/wso2am/gateway/blobs/uploads/", "POST"), "pull only"),
        (nginx("/v2/_catalog", "GET"), "only pulls of repositories"),
        (
            vec![("X-Original-URI", "/v2/wso2am/gateway/manifests/1.0")],
            "original method (X-Original-Method)",
        ),
        (vec![("X-Original-Method", "GET")], "original URI (X-Original-URI)"),
        // Traefik's pair, to nginx's forward auth: a client wrote it.
        (traefik("/v2/wso2am/gateway/tags/list", "GET"), "a client sent it"),
        (
            [nginx("/v2/wso2mi/x/manifests/1.0", "GET"), traefik("/v2/", "GET")].concat(),
            "a client sent it",
        ),
    ] {
        denied(&ask(&app, headers, mine()).await, why);
    }
    let missing = ask(&app, nginx("/v2/", "GET"), None).await;
    refusal(&missing, 401, None);
    let wrong = ask(
        &app,
        nginx("/v2/", "GET"),
        Some((
            user.clone(),
            tollgate_store::secret::PlainSecret::generate().expose().to_owned(),
        )),
    )
    .await;
    assert_eq!(refusal(&wrong, 401, None), "unknown registry username or secret");

    // Caddy (and Traefik) set the X-Forwarded pair; a client's X-Original pair is refused.
    let caddy = TestApp::spawn_with(db, |c| c.gateway.forward_auth_proxy = Some(ForwardAuthProxy::Caddy)).await;
    let alice = caddy.login("alice").await;
    let created = caddy.create_token(&alice, "proxy").await;
    let theirs = Some((
        created["token"]["registry_username"].as_str().unwrap().to_owned(),
        created["secret"].as_str().unwrap().to_owned(),
    ));
    let answer = ask(
        &caddy,
        traefik("/v2/wso2am/gateway/tags/list?n=5", "GET"),
        theirs.clone(),
    )
    .await;
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.body);
    let injected = [traefik("/v2/wso2mi/x/manifests/1.0", "GET"), nginx("/v2/", "GET")].concat();
    denied(&ask(&caddy, injected, theirs.clone()).await, "a client sent it");
    denied(
        &ask(
            &caddy,
            traefik("/v2/wso2am/gateway/blobs/uploads/", "POST"),
            theirs.clone(),
        )
        .await,
        "pull only",
    );
    denied(
        &ask(&caddy, nginx("/v2/", "GET"), theirs.clone()).await,
        "a client sent it",
    );

    // No proxy configured: forward auth is off.
    let off = TestApp::spawn(db).await;
    let answer = ask(&off, nginx("/v2/", "GET"), theirs).await;
    denied(&answer, "TOLLGATE_FORWARD_AUTH_PROXY");
}

/// The proxy asks `/auth/forward` for every client: its own address is never a budget (a
/// flood of wrong secrets through it does not make others' refusals `429`), while an end
/// client that a trusted proxy names in its one header is, and a valid secret is never
/// refused. A client's own `Forwarded` header changes nothing, and whatever it makes the proxy
/// pass on that is not an address is one budget shared with every such client.
async fn forward_auth_budgets_end_clients_never_the_proxy(db: Db) {
    use tollgate_server::gateway::forward::ForwardAuthProxy;
    let app = TestApp::spawn_with(db, |c| {
        c.gateway.token_failures_per_minute = 3;
        c.gateway.forward_auth_proxy = Some(ForwardAuthProxy::Nginx);
    })
    .await;
    let alice = app.login("alice").await;
    let created = app.create_token(&alice, "behind-a-proxy").await;
    let user = created["token"]["registry_username"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let ask = |password: String, forwarded_for: Option<&'static str>| {
        let (app, user) = (&app, user.clone());
        async move {
            let mut request = app
                .http
                .get(format!("{}/auth/forward", app.base))
                .header("X-Original-URI", "/v2/")
                .header("X-Original-Method", "GET")
                .basic_auth(user, Some(password));
            if let Some(client) = forwarded_for {
                request = request.header("X-Forwarded-For", client);
            }
            request.send().await.unwrap().status().as_u16()
        }
    };
    let wrong = || tollgate_store::secret::PlainSecret::generate().expose().to_owned();
    // No trusted proxy: every request comes from the proxy's address, which is no budget.
    for _ in 0..10 {
        assert_eq!(ask(wrong(), None).await, 401);
    }
    assert_eq!(ask(secret.clone(), None).await, 200);

    // Behind a trusted proxy, the end client it names is the budget.
    let app = TestApp::spawn_with(db, |c| {
        c.gateway.token_failures_per_minute = 3;
        c.gateway.forward_auth_proxy = Some(ForwardAuthProxy::Nginx);
        c.trusted_proxies = tollgate_server::client_address::TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await;
    let alice = app.login("alice").await;
    let created = app.create_token(&alice, "behind-a-trusted-proxy").await;
    let user = created["token"]["registry_username"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let ask = |password: String, client: &'static str, extra: Option<(&'static str, &'static str)>| {
        let (app, user) = (&app, user.clone());
        async move {
            let mut request = app
                .http
                .get(format!("{}/auth/forward", app.base))
                .header("X-Original-URI", "/v2/")
                .header("X-Original-Method", "GET")
                .header("X-Forwarded-For", client)
                .basic_auth(user, Some(password));
            if let Some((name, value)) = extra {
                request = request.header(name, value);
            }
            request.send().await.unwrap().status().as_u16()
        }
    };
    // The client adds `Forwarded: for=unknown` (or another address) of its own: not read.
    let statuses: Vec<u16> = in_turn(5, || ask(wrong(), "198.51.100.7", Some(("Forwarded", "for=unknown")))).await;
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    assert_eq!(
        ask(wrong(), "198.51.100.8", Some(("Forwarded", "for=198.51.100.7"))).await,
        401,
        "another end client has its own budget, whatever its Forwarded says"
    );
    assert_eq!(
        ask(secret.clone(), "198.51.100.7", None).await,
        200,
        "a valid secret is never refused"
    );
    // What the proxy passes on that is not an address: one budget for all of it.
    let statuses: Vec<u16> = in_turn(3, || ask(wrong(), "unknown", None)).await;
    assert_eq!(statuses, [401, 401, 401]);
    assert_eq!(ask(wrong(), "_hidden", None).await, 429);
    assert_eq!(ask(wrong(), "garbage, ", None).await, 429);
    assert_eq!(
        ask(secret, "unknown", None).await,
        200,
        "a valid secret is never refused"
    );
}

/// `n` answers of `call`, one after the other.
async fn in_turn<F: std::future::Future<Output = u16>>(n: usize, call: impl Fn() -> F) -> Vec<u16> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(call().await);
    }
    out
}
