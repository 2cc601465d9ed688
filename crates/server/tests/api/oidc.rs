//! Identity from a real OpenID Provider: the certified `oidc-provider` package (Node.js),
//! started on a free loopback port with its own keys (`e2e/oidc/provider.mjs`). Tollgate
//! discovers it, reads project and role from its tokens' `project` and `groups` claims, and
//! says why it refuses a token without echoing it.

use crate::both_backends;
use crate::helpers::{Db, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

both_backends!(
    every_role_signs_in_with_tokens_of_a_real_provider,
    operators_are_a_trust_customers_cannot_reach
);

/// The audience (resource indicator) of the provider's access tokens for Tollgate.
pub const RESOURCE: &str = "urn:tollgate";

/// A running `oidc-provider`; stopped when dropped.
pub struct Provider {
    pub issuer: String,
    child: Child,
}

impl Provider {
    /// Starts the test provider; `args` as `e2e/oidc/provider.mjs` takes them.
    #[allow(clippy::zombie_processes, reason = "killed and waited for on drop")]
    pub fn start(args: &[&str]) -> Provider {
        let e2e = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e");
        assert!(
            e2e.join("node_modules/oidc-provider").is_dir(),
            "the test identity provider needs its npm packages: run `npm ci` in e2e/ (`make test` does)"
        );
        let mut child = Command::new("node")
            .arg(e2e.join("oidc/provider.mjs"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs (Node.js 18 or newer)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let issuer = line
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("the provider did not start: {line:?}"))
            .trim()
            .to_owned();
        Provider { issuer, child }
    }

    /// An access token of the client-credentials grant for a client of the test provider.
    pub async fn client_token(&self, client: &str) -> String {
        let answer: Value = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .basic_auth(client, Some(format!("{client}-secret")))
            .form(&[("grant_type", "client_credentials"), ("scope", "tollgate")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access token: {answer}"))
            .to_owned()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Tollgate configured for the provider as docs/identity.md says, Keycloak-style groups.
pub async fn app_for(db: Db, provider: &Provider) -> TestApp {
    app_for_with(db, provider, |_| {}).await
}

/// [`app_for`], then `adjust`.
async fn app_for_with(db: Db, provider: &Provider, adjust: impl FnOnce(&mut tollgate_server::Config)) -> TestApp {
    let issuer = provider.issuer.clone();
    TestApp::spawn_with(db, move |c| {
        c.demo = false;
        c.issuer = Some(issuer);
        c.audience = RESOURCE.into();
        c.oidc.client_id = Some("tollgate-portal".into());
        c.oidc.claim_role = "groups".into();
        c.oidc.role_values = "customer_admin=tollgate-admins,customer=tollgate-users".into();
        c.oidc.operator_subjects = vec!["subscriptions".into()];
        c.oidc.operator_audience = Some(OPERATOR_RESOURCE.into());
        adjust(c);
    })
    .await
}

/// The audience of the vendor's own clients (the provider's `vendor-ops` and `sneaky`).
const OPERATOR_RESOURCE: &str = "urn:tollgate-operators";

/// The operator role comes only from the operators' own trust (listed subjects, or their own
/// audience): a customer whose provider lets it put itself in a group named like the vendor's
/// operators stays a customer, the role values cannot name operators (start-up refuses them),
/// and an operator's token that also names a project is refused as ambiguous.
async fn operators_are_a_trust_customers_cannot_reach(db: Db) {
    if !crate::helpers::needs::node_packages("oidc::operators_are_a_trust_customers_cannot_reach") {
        return;
    }
    let provider = Provider::start(&[]);
    let app = app_for(db, &provider).await;
    let acme = json!({ "name": "Acme Corp", "subscription": { "end_date": "2031-12-31",
        "products": [{ "code": "wso2am" }] } });
    let put = |token: String| {
        let (app, acme) = (&app, acme.clone());
        async move {
            app.send(Method::PUT, "/api/v1/projects/acme", Some(&token), Some(acme))
                .await
        }
    };
    // The listed subject (a client-credentials client) and the operators' audience.
    put(provider.client_token("subscriptions").await).await.ok(201);
    put(provider.client_token("vendor-ops").await).await.ok(200);
    // A customer in a group it named `vendor-operators` itself.
    let customer = provider.client_token("self-named-operator").await;
    assert_eq!(app.get(&customer, "/api/v1/me").await.ok(200)["role"], "customer");
    put(customer).await.problem(403, "forbidden");
    // The operators' audience and a project.
    let sneaky = put(provider.client_token("sneaky").await).await;
    assert!(sneaky.problem(401, "unauthenticated")["detail"]
        .as_str()
        .unwrap()
        .contains("ambiguous"));
    // A listed subject whose token names a project.
    let listed = app_for_with(db, &provider, |c| c.oidc.operator_subjects = vec!["ci-acme".into()]).await;
    let ci = provider.client_token("ci-acme").await;
    let refused = listed.get(&ci, "/api/v1/projects").await;
    assert!(refused.problem(401, "unauthenticated")["detail"]
        .as_str()
        .unwrap()
        .contains("ambiguous"));

    // Role values that name operators: the server does not start.
    let mut config = tollgate_server::Config::with("127.0.0.1:0", app.data_dir.path().to_path_buf(), None);
    config.demo = false;
    config.issuer = Some(provider.issuer.clone());
    config.oidc.role_values = "customer=tollgate-users,operator=vendor-operators".into();
    let refused = tollgate_server::start(config)
        .err()
        .expect("start-up refused")
        .to_string();
    assert!(refused.contains("TOLLGATE_OPERATOR_SUBJECTS"), "{refused}");
}

async fn every_role_signs_in_with_tokens_of_a_real_provider(db: Db) {
    if !crate::helpers::needs::node_packages("oidc::every_role_signs_in_with_tokens_of_a_real_provider") {
        return;
    }
    let provider = Provider::start(&[]);
    let app = app_for(db, &provider).await;

    // The portal learns how to sign in; the endpoints are the provider's own.
    let options = app
        .send(Method::GET, "/api/v1/sign-in", None, None)
        .await
        .ok(200)
        .clone();
    let discovery: Value = reqwest::get(format!("{}/.well-known/openid-configuration", provider.issuer))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(options["demo"], false);
    assert_eq!(options["oidc"]["issuer"], provider.issuer.as_str());
    assert_eq!(options["oidc"]["client_id"], "tollgate-portal");
    for endpoint in ["authorization_endpoint", "token_endpoint", "end_session_endpoint"] {
        assert_eq!(options["oidc"][endpoint], discovery[endpoint], "{endpoint}");
    }

    // The subscription system (an operator, no project) creates the project.
    let operator = provider.client_token("subscriptions").await;
    let acme = json!({ "name": "Acme Corp", "subscription": { "end_date": "2031-12-31",
        "products": [{ "code": "wso2am", "name": "WSO2 API Manager" }] } });
    app.send(Method::PUT, "/api/v1/projects/acme", Some(&operator), Some(acme))
        .await
        .ok(201);
    app.get(&operator, "/api/v1/tokens").await.problem(403, "forbidden");

    // An integrator's CI, customer admin of acme by its groups.
    let ci = provider.client_token("ci-acme").await;
    let me = app.get(&ci, "/api/v1/me").await.ok(200).clone();
    assert_eq!(
        (me["role"].as_str(), me["project"]["key"].as_str()),
        (Some("customer_admin"), Some("acme"))
    );
    assert_eq!(me["name"], "Acme CI");
    let bot = app
        .post(&ci, "/api/v1/service-users", json!({ "name": "deployer" }))
        .await
        .ok(201)["id"]
        .clone();
    let made = app
        .post(
            &ci,
            "/api/v1/tokens",
            json!({ "name": "deploy", "kind": "service", "service_user_id": bot }),
        )
        .await;
    assert_eq!(made.ok(201)["token"]["products"][0]["code"], "wso2am");
    app.put_acme_api_with(&operator, "2031-12-31", &[]).await.ok(200);
    let reader = provider.client_token("ci-reader").await;
    assert_eq!(app.get(&reader, "/api/v1/me").await.ok(200)["role"], "customer");
    app.get(&ci, "/api/v1/projects").await.problem(403, "forbidden");

    // Refusals say why and never echo the token.
    let refused = |token: String, why: &'static str| {
        let app = &app;
        async move {
            let answer = app.get(&token, "/api/v1/me").await;
            let detail = answer.problem(401, "unauthenticated")["detail"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(detail.contains(why), "{detail:?} should say {why:?}");
            assert!(
                !detail.contains(&token[token.len() - 20..]),
                "the token is echoed: {detail}"
            );
        }
    };
    refused(provider.client_token("elsewhere").await, "another audience").await;
    refused(provider.client_token("no-role").await, "`groups` claim maps to no role").await;
    refused(provider.client_token("no-project").await, "lacks the `project` claim").await;
    let stranger = Provider::start(&[]);
    refused(stranger.client_token("ci-acme").await, "another issuer").await;
}
