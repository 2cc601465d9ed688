//! The OpenAPI 3.1 document, generated from the handlers and the model types.

use serde_json::{json, Value};
use tollgate_model::ErrorCode;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tollgate",
        description = "Registry tokens for a private container registry: customers and customer admins \
            generate, view, re-generate, re-sync and delete the tokens that pull product images.\n\n\
            Authenticate with `Authorization: Bearer <JWT>` from the configured identity provider \
            (in demo mode: `POST /api/v1/demo/session`). Every error is `application/problem+json` \
            with a stable `code`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        crate::routes::account::me,
        crate::routes::tokens::list,
        crate::routes::tokens::create,
        crate::routes::tokens::get,
        crate::routes::tokens::delete,
        crate::routes::tokens::regenerate_secret,
        crate::routes::tokens::sync_products,
        crate::routes::tokens::usage,
        crate::routes::service_users::list,
        crate::routes::service_users::create,
        crate::routes::service_users::delete,
        crate::routes::account::audit_events,
        crate::routes::projects::list,
        crate::routes::projects::get,
        crate::routes::projects::put,
        crate::routes::projects::sign_in,
        crate::routes::credentials::revoke,
        crate::routes::webhooks::list,
        crate::routes::webhooks::create,
        crate::routes::webhooks::get,
        crate::routes::webhooks::delete,
        crate::routes::webhooks::rotate_secret,
        crate::routes::webhooks::deliveries,
        crate::routes::webhooks::redeliver,
        crate::routes::demo::users,
        crate::routes::demo::session,
        crate::routes::demo::jwks,
        crate::routes::gateway::introspect,
        crate::routes::gateway::token,
        crate::routes::gateway::token_post,
        crate::routes::gateway::forward,
        crate::routes::gateway::certificate,
        crate::routes::gateway::jwks,
        crate::routes::health::healthz,
        crate::routes::health::readyz,
        crate::routes::gateway::metrics,
    ),
    components(
        schemas(tollgate_model::ErrorCode, tollgate_model::Problem),
        schemas(tollgate_model::TokenSort),
        schemas(tollgate_model::WebhookMessage, tollgate_model::EventData, tollgate_model::ChangeEvent,
            tollgate_model::SubscriptionNotice, tollgate_model::TokenNotice, tollgate_model::NamedRef),
        responses(
            crate::routes::problems::Unauthenticated,
            crate::routes::problems::NotFound,
            crate::routes::problems::Unavailable
        )
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "account", description = "The signed-in user"),
        (name = "tokens", description = "Registry tokens"),
        (name = "service users", description = "Service accounts of a project (customer admins)"),
        (name = "audit", description = "The project's audit log (customer admins)"),
        (name = "webhooks", description = "Where the project's events are sent, signed as Standard Webhooks, and the delivery log (customer admins)"),
        (name = "registry gateway", description = "Secret checks for the registry: introspection and registry tokens"),
        (name = "demo", description = "The demo identity provider; 404 outside demo mode"),
        (name = "operations", description = "Health checks"),
    )
)]
pub struct ApiDoc;

/// The three ways callers authenticate: portal users and integrators, the registry gateway,
/// and registry logins.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some(
                "A JWT of the configured identity provider (demo mode: `POST /api/v1/demo/session`).",
            ));
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer.build()));
        let gateway = HttpBuilder::new()
            .scheme(HttpAuthScheme::Basic)
            .description(Some("A gateway client of `TOLLGATE_GATEWAY_CLIENTS` (`id:secret`)."));
        components.add_security_scheme("gateway_client", SecurityScheme::Http(gateway.build()));
        let login = HttpBuilder::new().scheme(HttpAuthScheme::Basic).description(Some(
            "A token's registry username and its secret, as at `docker login`.",
        ));
        components.add_security_scheme("registry_login", SecurityScheme::Http(login.build()));
    }
}

/// The registry `service` of the committed document (the default configuration).
pub const DEFAULT_SERVICE: &str = "tollgate-registry";

/// The document as committed at `api-spec/openapi.json`.
pub fn json() -> String {
    let mut text = serde_json::to_string_pretty(&refined(DEFAULT_SERVICE)).expect("the OpenAPI document serializes");
    text.push('\n');
    text
}

/// The document a server configured for the registry `service` serves.
pub fn document(service: &str) -> Value {
    refined(service)
}

/// The generated document with what the derive macros cannot say: the rules that input is
/// checked against (from the same tables the checks use), the errors every operation shares,
/// and an example of every body.
fn refined(service: &str) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serializes");
    let schemas = &mut doc["components"]["schemas"];
    for body in ["CreateToken", "CreateServiceUser"] {
        schemas[body]["properties"]["name"]["pattern"] = json!(tollgate_model::name::PATTERN.as_str());
    }
    schemas["CreateServiceUser"]["properties"]["description"]["pattern"] =
        json!(tollgate_model::name::DESCRIPTION_PATTERN.as_str());
    // A service token names its service user; a user token names none.
    schemas["CreateToken"]["if"] = json!({ "properties": { "kind": { "const": "service" } }, "required": ["kind"] });
    schemas["CreateToken"]["then"] =
        json!({ "required": ["service_user_id"], "properties": { "service_user_id": { "type": "string" } } });
    schemas["CreateToken"]["else"] = json!({ "properties": { "service_user_id": { "type": "null" } } });
    // A re-generate body names the new last day (or null); no body keeps it.
    schemas["RegenerateSecret"]["required"] = json!(["expires_on"]);
    schemas["CreateWebhook"]["properties"]["events"]["minItems"] = json!(1);
    schemas["CreateWebhook"]["properties"]["url"]["format"] = json!("uri");
    schemas["CreateWebhook"]["properties"]["url"]["maxLength"] = json!(crate::webhooks::URL_MAX);
    schemas["CreateWebhook"]["properties"]["description"]["pattern"] =
        json!(tollgate_model::name::DESCRIPTION_PATTERN.as_str());
    schemas["DemoSessionRequest"]["properties"]["user"]["enum"] =
        json!(crate::demo::users().iter().map(|u| u.id.clone()).collect::<Vec<_>>());
    // Every error code, in the order the document lists them.
    let codes: Vec<ErrorCode> =
        serde_json::from_value(doc["components"]["schemas"]["ErrorCode"]["enum"].clone()).unwrap_or_default();
    for (_, methods) in doc["paths"].as_object_mut().into_iter().flatten() {
        for (_, op) in methods.as_object_mut().into_iter().flatten() {
            let uses_the_database = op.get("security").is_some();
            let responses = &mut op["responses"];
            if uses_the_database && responses.get("503").is_none() {
                responses["503"] = json!({ "$ref": "#/components/responses/Unavailable" });
            }
            for (status, response) in responses.as_object_mut().into_iter().flatten() {
                let problem = problem_example(&codes, status.parse().ok(), response["description"].as_str());
                add_examples(response.get_mut("content"), problem);
            }
            add_examples(op.get_mut("requestBody").and_then(|b| b.get_mut("content")), None);
        }
    }
    for (name, response) in doc["components"]["responses"].as_object_mut().into_iter().flatten() {
        let status = match name.as_str() {
            "Unauthenticated" => 401,
            "NotFound" => 404,
            _ => 503,
        };
        let problem = problem_example(&codes, Some(status), response["description"].as_str());
        add_examples(response.get_mut("content"), problem);
    }
    for (path, method, part, example) in untyped_examples() {
        let op = &mut doc["paths"][path][method];
        let content = match part {
            "request" => &mut op["requestBody"]["content"],
            status => &mut op["responses"][status]["content"],
        };
        for (_, media) in content.as_object_mut().into_iter().flatten() {
            media["example"] = example.clone();
        }
    }
    // No body keeps the token's end: the body is optional.
    doc["paths"][tollgate_model::paths::TOKEN_SECRET]["post"]["requestBody"]["required"] = json!(false);
    doc["paths"][tollgate_model::paths::WEBHOOK_SECRET]["post"]["requestBody"]["required"] = json!(false);
    if let Some(params) = doc["paths"][tollgate_model::paths::REGISTRY_TOKEN]["get"]["parameters"].as_array_mut() {
        for p in params.iter_mut().filter(|p| p["name"] == "service") {
            p["schema"]["enum"] = json!([service]);
        }
    }
    let form = &mut doc["components"]["schemas"]["TokenForm"];
    form["properties"]["service"]["enum"] = json!([service]);
    // Each grant names what it needs.
    form["properties"]["grant_type"]["enum"] = json!(["password", "refresh_token"]);
    form["allOf"] = json!([
        { "if": { "properties": { "grant_type": { "const": "password" } } },
          "then": { "required": ["username", "password"] } },
        { "if": { "properties": { "grant_type": { "const": "refresh_token" } } },
          "then": { "required": ["refresh_token"] } }
    ]);
    doc["webhooks"] = webhooks();
    doc
}

/// The OpenAPI 3.1 `webhooks`: what Tollgate POSTs to a registered webhook for each event, as
/// the model types say it, signed as Standard Webhooks asks.
fn webhooks() -> Value {
    use tollgate_model::EventType;
    let headers = json!([
        { "name": "webhook-id", "in": "header", "required": true, "schema": { "type": "string" },
          "description": "The delivery's id, the same on every attempt: deduplicate on it" },
        { "name": "webhook-timestamp", "in": "header", "required": true, "schema": { "type": "string", "pattern": "^[0-9]+$" },
          "description": "When this attempt was signed, in seconds since the epoch" },
        { "name": "webhook-signature", "in": "header", "required": true, "schema": { "type": "string" },
          "description": "`v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` under the signing secret; two, space-separated, during a rotation's overlap" },
    ]);
    let mut hooks = serde_json::Map::new();
    for event in EventType::ALL {
        let data = match event {
            EventType::SubscriptionExpiring | EventType::SubscriptionExpired => "SubscriptionNotice",
            EventType::TokenExpiring | EventType::TokenExpired => "TokenNotice",
            EventType::TokenCreated
            | EventType::TokenSecretRegenerated
            | EventType::TokenDeleted
            | EventType::TokenRevoked
            | EventType::TokenProductsSynced
            | EventType::SubscriptionChanged => "ChangeEvent",
        };
        let name = event.as_str();
        let operation = name
            .split(['.', '_'])
            .enumerate()
            .map(|(n, part)| match n {
                0 => part.to_owned(),
                _ => part[..1].to_uppercase() + &part[1..],
            })
            .collect::<String>();
        let schema = json!({
            "allOf": [{ "$ref": "#/components/schemas/WebhookMessage" }],
            "properties": {
                "type": { "const": name },
                "data": { "$ref": format!("#/components/schemas/{data}") },
            },
        });
        hooks.insert(
            name.to_owned(),
            json!({ "post": {
                "operationId": format!("{operation}Event"),
                "tags": ["webhooks"],
                "summary": format!("The `{name}` event"),
                "parameters": headers,
                "requestBody": { "required": true, "content": { "application/json": { "schema": schema } } },
                "responses": {
                    "2XX": { "description": "Received: the delivery is done" },
                    "default": { "description": "Anything else (or no answer in time): retried on the schedule, then failed" },
                },
            } }),
        );
    }
    Value::Object(hooks)
}

/// A problem as an operation answers it with `status`: the error code its description names
/// in backticks (`not_found`), or the first code of that status.
fn problem_example(codes: &[ErrorCode], status: Option<u16>, description: Option<&str>) -> Option<Value> {
    let status = status?;
    let named = description
        .into_iter()
        .flat_map(|d| d.split('`').skip(1).step_by(2))
        .filter_map(|word| serde_json::from_value::<ErrorCode>(json!(word)).ok())
        .find(|code| code.status() == status);
    let code = named.or_else(|| codes.iter().copied().find(|code| code.status() == status))?;
    let mut problem = serde_json::to_value(tollgate_model::Problem::new(code, code.title().to_lowercase())).ok()?;
    problem["request_id"] = json!("ab1500778856-0000000040");
    Some(problem)
}

/// Sets the example of each media type whose schema has one in [`example_of`] (`problem`
/// for a problem body).
fn add_examples(content: Option<&mut Value>, problem: Option<Value>) {
    for (_, media) in content.and_then(Value::as_object_mut).into_iter().flatten() {
        if media.get("example").is_some() {
            continue;
        }
        let name = media["schema"]["$ref"]
            .as_str()
            .and_then(|r| r.rsplit('/').next())
            .map(str::to_owned)
            .or_else(|| {
                media["schema"]["items"]["$ref"]
                    .as_str()
                    .map(|r| format!("[{}]", r.rsplit('/').next().unwrap_or("")))
            });
        let example = match name.as_deref() {
            Some("Problem") => problem.clone(),
            // The registry's refusals: the problem with what registry clients print.
            Some("RegistryProblem") => problem.clone().map(|mut p| {
                let detail = p["detail"].clone();
                let code = match p["status"].as_u64() {
                    Some(429) => "TOOMANYREQUESTS",
                    Some(403) => "DENIED",
                    Some(401) => "UNAUTHORIZED",
                    _ => "UNSUPPORTED",
                };
                p["details"] = detail.clone();
                p["errors"] = json!([{ "code": code, "message": detail }]);
                p
            }),
            Some(name) => example_of(name),
            None => None,
        };
        if let Some(example) = example {
            media["example"] = example;
        }
    }
}

/// Examples of the bodies that have no schema of their own: `(path, method, "request" or the
/// status, example)`.
fn untyped_examples() -> Vec<(&'static str, &'static str, &'static str, Value)> {
    use tollgate_model::paths;
    let jwks = json!({ "keys": [{
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
        "kid": "ZJ2N:4SGM:7RUA:IB2E:HQSW:Y6LC:AYN3:WQ4K:DUTX:3TDJ:XQ7F:OQQF",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
    }]});
    vec![
        (
            paths::REGISTRY_TOKEN,
            "post",
            "request",
            json!({
                "grant_type": "password", "service": "tollgate-registry", "client_id": "containerd",
                "access_type": "offline", "scope": "repository:wso2am/gateway:pull",
                "username": "tg-acme-ee866a2q7g", "password": "tgr_JTIeQ0hNRdlb94HuoLEye01qZPtMdUhD2lQ5Sa"
            }),
        ),
        (paths::DEMO_JWKS, "get", "200", jwks.clone()),
        (paths::REGISTRY_JWKS, "get", "200", jwks),
        (
            paths::REGISTRY_CERTIFICATE,
            "get",
            "200",
            json!("-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIU…\n-----END CERTIFICATE-----\n"),
        ),
        (
            paths::METRICS,
            "get",
            "200",
            json!(
                "# TYPE tollgate_introspections_total counter\ntollgate_introspections_total{result=\"active\"} 1027\n"
            ),
        ),
        (
            paths::INTROSPECT,
            "post",
            "request",
            json!("token=tgr_JTIeQ0hNRdlb94HuoLEye01qZPtMdUhD2lQ5Sa"),
        ),
    ]
}

/// One example for each body schema: what the demo data looks like.
fn example_of(schema: &str) -> Option<Value> {
    let user = json!({ "id": "alice", "name": "Alice Admin" });
    let products = json!([
        { "code": "wso2am", "name": "WSO2 API Manager" },
        { "code": "wso2is", "name": "WSO2 Identity Server" }
    ]);
    let project = json!({ "key": "acme", "name": "Acme Corp" });
    let token = json!({
        "id": "01a224b6-3e8d-71df-9562-b7894ac5e53f", "name": "laptop", "kind": "user",
        "status": "active", "out_of_sync": false, "products": products,
        "subscription_end_date": "2027-11-29", "expires_at": "2027-11-30T00:00:00Z",
        "created_for": { "kind": "user", "id": "alice", "name": "Alice Admin" },
        "created_by": user, "created_at": "2026-11-29T00:30:53.069980Z",
        "registry_username": "tg-acme-ee866a2q7g", "secret_last4": "Q5Sa",
        "last_used_at": null, "last_used_from": null, "secret_regenerated_at": null, "expires_on": null, "revoked_at": null, "revocation_reason": null
    });
    let secret = "tgr_JTIeQ0hNRdlb94HuoLEye01qZPtMdUhD2lQ5Sa";
    let service_user = json!({
        "id": "01a224b5-0106-74f6-a6bd-bafe495d856e", "name": "ci-pipeline",
        "description": "The CI system's pulls", "created_at": "2026-11-29T00:29:31.782662Z",
        "created_by": user, "token_count": 1
    });
    let demo_user = json!({
        "id": "alice", "name": "Alice Admin", "email": "alice@acme.example",
        "role": "customer_admin", "project": project
    });
    let details = json!({
        "key": "acme", "name": "Acme Corp",
        "subscription": { "end_date": "2027-11-29", "expires_at": "2027-11-30T00:00:00Z", "products": products }
    });
    let webhook = json!({
        "id": "01a224b7-1c2d-7e3f-8a4b-5c6d7e8f9a0b", "url": "https://hooks.example.com/tollgate",
        "events": ["token.created", "token.revoked", "subscription.expiring"],
        "description": "Security team's inbox", "created_at": "2026-11-29T00:31:02.118204Z", "created_by": user
    });
    let delivery = json!({
        "id": "01a224b8-2d3e-7f40-9b5c-6d7e8f9a0b1c", "event_type": "token.created",
        "created_at": "2026-11-29T00:31:10.000000Z", "state": "pending", "attempts": 1,
        "last_attempt_at": "2026-11-29T00:31:10.004000Z", "response_status": 500, "error": null,
        "duration_ms": 42, "next_attempt_at": "2026-11-29T00:31:15.000000Z",
        "payload": { "type": "token.created", "timestamp": "2026-11-29T00:31:10.000000Z", "data": {
            "project": "acme", "actor": user,
            "target": { "type": "token", "id": "01a224b6-3e8d-71df-9562-b7894ac5e53f", "name": "laptop" },
            "details": { "kind": "user", "products": ["wso2am", "wso2is"], "registry_username": "tg-acme-ee866a2q7g" },
            "audit_event_id": "01a224b6-3e8e-7558-8a73-1b36f6929b70"
        } }
    });
    Some(match schema {
        "RegenerateSecret" => json!({ "expires_on": "2027-03-31" }),
        "TokenUsage" => json!({
            "token_id": "01a224b6-3e8d-71df-9562-b7894ac5e53f", "last_used_at": "2026-11-29T00:42:10.512000Z",
            "last_used_from": "203.0.113.7", "total": 3,
            "days": [{ "day": "2026-11-28", "pulls": 0 }, { "day": "2026-11-29", "pulls": 3 }]
        }),
        "Webhook" => webhook,
        "WebhookList" => json!({ "items": [webhook] }),
        "CreateWebhook" => json!({
            "url": "https://hooks.example.com/tollgate", "events": ["token.created", "token.revoked", "subscription.expiring"],
            "description": "Security team's inbox"
        }),
        "CreatedWebhook" => {
            json!({ "webhook": webhook, "signing_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwdGVzdHNlY3JldA==" })
        }
        "RotateWebhookSecret" => json!({ "overlap_hours": 24 }),
        "WebhookDelivery" => delivery,
        "Page_WebhookDelivery" => {
            json!({ "items": [delivery], "next_cursor": "MDFhMjI0YjgtMmQzZS03ZjQwLTliNWMtNmQ3ZThmOWEwYjFj" })
        }
        "ProjectDetails" => details,
        "RevokeCredentials" => json!({ "credentials": [secret] }),
        "ProjectList" => json!({ "items": [details] }),
        "PutProject" => json!({
            "name": "Acme Corp",
            "subscription": { "end_date": "2027-11-29", "products": [
                { "code": "wso2am", "name": "WSO2 API Manager" }, { "code": "wso2is" }
            ] }
        }),
        "SignInOptions" => json!({
            "demo": false,
            "oidc": {
                "issuer": "https://login.example.com/realms/vendor", "client_id": "tollgate-portal",
                "scopes": "openid profile email",
                "authorization_endpoint": "https://login.example.com/realms/vendor/protocol/openid-connect/auth",
                "token_endpoint": "https://login.example.com/realms/vendor/protocol/openid-connect/token",
                "end_session_endpoint": "https://login.example.com/realms/vendor/protocol/openid-connect/logout"
            }
        }),
        "Token" => token,
        "Page_Token" => json!({ "items": [token], "next_cursor": "MjAyNi0xMS0yOVQwMDozMDo1My4wNjk5ODA" }),
        "IssuedToken" => json!({
            "token": token, "secret": secret,
            "login": {
                "registry": "registry.example.com", "username": "tg-acme-ee866a2q7g",
                "docker_login": format!("echo '{secret}' | docker login registry.example.com --username 'tg-acme-ee866a2q7g' --password-stdin"),
                "kubernetes_pull_secret": format!("kubectl create secret docker-registry laptop-pull --docker-server=registry.example.com --docker-username='tg-acme-ee866a2q7g' --docker-password='{secret}'")
            }
        }),
        "CreateToken" => {
            json!({ "name": "ci", "kind": "service", "service_user_id": "01a224b5-0106-74f6-a6bd-bafe495d856e" })
        }
        "Me" => json!({
            "id": "alice", "name": "Alice Admin", "email": "alice@acme.example", "role": "customer_admin",
            "project": project,
            "subscription": { "end_date": "2027-11-29", "expires_at": "2027-11-30T00:00:00Z", "products": products },
            "registry_host": "registry.example.com", "demo_mode": false
        }),
        "ServiceUser" => service_user,
        "ServiceUserList" => json!({ "items": [service_user] }),
        "CreateServiceUser" => json!({ "name": "ci-pipeline", "description": "The CI system's pulls" }),
        "Page_AuditEvent" => json!({
            "items": [{
                "id": "01a224b6-3e8e-7558-8a73-1b36f6929b70", "occurred_at": "2026-11-29T00:30:53.070351Z",
                "actor": user, "action": "token.generate",
                "target": { "type": "token", "id": "01a224b6-3e8d-71df-9562-b7894ac5e53f", "name": "laptop" },
                "request_id": "ab1500778856-000000017d", "client_address": "203.0.113.7",
                "details": { "kind": "user", "products": ["wso2am", "wso2is"], "registry_username": "tg-acme-ee866a2q7g" }
            }],
            "next_cursor": "MDFhMjI0YjYtM2U4ZS03NTU4LThhNzMtMWIzNmY2OTI5Yjcw"
        }),
        "[DemoUser]" => json!([demo_user]),
        "DemoSessionRequest" => json!({ "user": "alice" }),
        "DemoSession" => {
            json!({ "access_token": "eyJhbGciOiJFUzI1NiJ9.e30.c2ln", "token_type": "Bearer", "expires_in": 28800, "user": demo_user })
        }
        "Introspection" => json!({
            "active": true, "username": "tg-acme-ee866a2q7g", "sub": "01a224b6-3e8d-71df-9562-b7894ac5e53f",
            "scope": "repository:wso2am/*:pull repository:wso2is/*:pull", "exp": 1827532800, "iat": 1795912253,
            "token_type": "registry_token", "project": "acme", "products": ["wso2am", "wso2is"], "token_kind": "user"
        }),
        "RegistryToken" => json!({
            "token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.e30.c2ln", "access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.e30.c2ln",
            "expires_in": 300, "issued_at": "2026-11-29T00:30:53Z"
        }),
        _ => return None,
    })
}
