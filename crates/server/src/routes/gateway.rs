//! The registry gateway's endpoints: RFC 7662 introspection, the Docker registry token flow,
//! and the key material a registry needs to trust Tollgate's tokens.

use crate::client_address::Budget;
use crate::error::ApiError;
use crate::gateway::{basic_credentials, registry, Check, Refusal};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use tollgate_model::paths;
use tollgate_model::{ErrorCode, Introspection, Problem, RegistryError, RegistryProblem, RegistryToken};
use tollgate_store::GatewayToken;

fn authorization(req: &HttpRequest) -> Option<&str> {
    req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
}

fn rate_limited(state: &AppState, endpoint: &str, wait: std::time::Duration) -> HttpResponse {
    state.gateway.metrics.rate_limited(endpoint);
    super::common::too_many_problem(wait, "failed attempts")
}

fn unauthorized(detail: &str, realm: &str) -> HttpResponse {
    let error = ApiError::new(ErrorCode::Unauthenticated, detail);
    let mut response = actix_web::ResponseError::error_response(&error);
    if let Ok(value) = header::HeaderValue::from_str(&format!("Basic realm=\"{realm}\"")) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// RFC 7662 token introspection for the registry gateway (HTTP Basic as a gateway client).
#[utoipa::path(post, operation_id = "introspectToken", path = paths::INTROSPECT, tag = "registry gateway", security(("gateway_client" = [])),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "`token=<secret>`, optionally `&token_type_hint=…`"),
    responses(
        (status = 200, description = "The answer; an invalid, re-generated, deleted or expired secret is exactly `{\"active\": false}`", body = Introspection),
        (status = 400, description = "No `token` parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not a gateway client's credential", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not application/x-www-form-urlencoded", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "An invalid secret, from an end client (forwarded by the gateway as a trusted proxy) that has failed too often; see `Retry-After`. A valid secret is never refused", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn introspect(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let gw = &state.gateway;
    if !gw.client_authenticated(authorization(&req)) {
        // Guesses at a gateway credential spend the guessing peer's budget of its own (a valid
        // credential from the same address is answered whatever that budget).
        if let Some(wait) = gw.client_limiter.failed(Budget::of(AppState::peer_ip(&req))) {
            return Ok(rate_limited(&state, paths::INTROSPECT, wait));
        }
        return Ok(unauthorized(
            "authenticate as a gateway client with HTTP Basic",
            "tollgate introspection",
        ));
    }
    require_form(&req)?;
    let mut token = None;
    for (key, value) in form_urlencoded::parse(&body) {
        if key == "token" {
            if token.is_some() {
                return Err(ApiError::field(
                    ErrorCode::InvalidParameter,
                    "token",
                    "send `token` once",
                ));
            }
            token = Some(value);
        }
    }
    let token = token.ok_or_else(|| {
        ApiError::field(
            ErrorCode::InvalidParameter,
            "token",
            "the `token` parameter is required",
        )
    })?;
    let body = match gw.check(&token).await? {
        Check::Active(known) => {
            gw.usage.used(&known.last_use, state.client(&req).address());
            gw.metrics.introspection(true);
            known.introspection.clone()
        }
        Check::Refused(..) => {
            gw.metrics.introspection(false);
            // The gateway asks for everybody: only an end client that the gateway names as a
            // trusted proxy is a budget (or the one budget of those it could not name), never
            // the gateway's own address.
            let end_client = state.client(&req).end_client_budget();
            if let Some(wait) = end_client.and_then(|b| gw.introspect_limiter.failed(b)) {
                return Ok(rate_limited(&state, paths::INTROSPECT, wait));
            }
            web::Bytes::from_static(br#"{"active":false}"#)
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/json")
        .body(body))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct TokenParams {
    /// The registry's service name (`auth.token.service`).
    service: String,
    /// `repository:<name>:<actions>`; repeat for several.
    scope: Option<Vec<String>>,
    /// The registry username (optional; must match the credential when sent).
    account: Option<String>,
    /// `true`: also return a refresh token.
    offline_token: Option<bool>,
    /// The client's name (informational).
    client_id: Option<String>,
}

/// The form of `POST /auth/token` (the OAuth2 variant of the Distribution token flow).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
struct TokenForm {
    /// `password` (username and secret) or `refresh_token`.
    grant_type: String,
    /// The registry's service name.
    service: String,
    /// The client's name (informational).
    client_id: Option<String>,
    /// `offline`: also return a refresh token.
    access_type: Option<String>,
    /// `repository:<name>:<actions>`, space-separated.
    scope: Option<String>,
    /// The registry username (`password` grant).
    username: Option<String>,
    /// The secret (`password` grant).
    password: Option<String>,
    /// A refresh token of this server (`refresh_token` grant).
    refresh_token: Option<String>,
}

/// How a registry token is asked for.
enum Credential {
    /// Registry username and secret (HTTP Basic, or the `password` grant).
    Secret { username: String, secret: String },
    /// A refresh token.
    Refresh(String),
    /// Nothing usable.
    Missing,
}

struct TokenRequest {
    service: Option<String>,
    scopes: Vec<String>,
    account: Option<String>,
    credential: Credential,
    offline: bool,
    /// The OAuth2 variant: errors carry `error` and `error_description`.
    oauth: bool,
}

const REALM: &str = "tollgate registry";

/// A refusal that Docker, containerd and podman print: a problem with `details` and
/// `errors`, and for OAuth2 the RFC 6749 members.
fn registry_refusal(code: ErrorCode, detail: &str, oauth: Option<&str>) -> HttpResponse {
    registry_problem(Problem::new(code, detail), oauth)
}

/// [`registry_refusal`] of a problem (one that names its `field`, say).
fn registry_problem(mut problem: Problem, oauth: Option<&str>) -> HttpResponse {
    let (code, detail) = (problem.code, problem.detail.clone());
    let detail = detail.as_str();
    problem.request_id = crate::error::REQUEST_ID.try_with(Clone::clone).ok();
    let distribution_code = match code {
        ErrorCode::RateLimited => "TOOMANYREQUESTS",
        ErrorCode::Forbidden => "DENIED",
        ErrorCode::Unauthenticated => "UNAUTHORIZED",
        _ => "UNSUPPORTED",
    };
    let body = RegistryProblem {
        problem,
        details: (code != ErrorCode::Forbidden).then(|| detail.to_owned()),
        errors: vec![RegistryError {
            code: distribution_code.into(),
            message: detail.to_owned(),
        }],
        error: oauth.map(str::to_owned),
        error_description: oauth.map(|_| detail.to_owned()),
    };
    let status =
        actix_web::http::StatusCode::from_u16(code.status()).unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    // The reason as a header too: a proxy that answers with its own body (nginx
    // `auth_request`) can pass it on (`auth_request_set`).
    if let Ok(value) = header::HeaderValue::from_str(detail) {
        response.insert_header(("X-Tollgate-Error", value));
    }
    if code == ErrorCode::Unauthenticated {
        response.insert_header((header::WWW_AUTHENTICATE, format!("Basic realm=\"{REALM}\"")));
    }
    response
        .content_type(if oauth.is_some() {
            "application/json"
        } else {
            "application/problem+json"
        })
        .json(body)
}

/// A refused credential, counted against `budget` (the client's) when there is one, refused
/// with its reason (or, past the budget, with `429`).
fn refused(state: &AppState, budget: Option<Budget>, endpoint: &str, why: &str, oauth: bool) -> HttpResponse {
    let gw = &state.gateway;
    gw.metrics.registry_token(false);
    match budget.and_then(|ip| gw.token_limiter.failed(ip)) {
        Some(wait) => {
            gw.metrics.rate_limited(endpoint);
            super::common::too_many(wait, "failed attempts", |message| {
                registry_refusal(ErrorCode::RateLimited, message, oauth.then_some("invalid_grant"))
            })
        }
        None => registry_refusal(ErrorCode::Unauthenticated, why, oauth.then_some("invalid_grant")),
    }
}

/// The Docker registry token flow: HTTP Basic with the registry username and the secret.
#[utoipa::path(get, operation_id = "getRegistryToken", path = paths::REGISTRY_TOKEN, tag = "registry gateway", security(("registry_login" = [])), params(TokenParams),
    responses(
        (status = 200, description = "A registry JWT granting `pull` on repositories under the token's products (partial grants are not errors)", body = RegistryToken),
        (status = 400, description = "Missing or unknown `service`, or a bad parameter", body = RegistryProblem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or refused registry username and secret, with the reason (unknown, re-generated, deleted, subscription ended) in `detail`, `details` and `errors`", body = RegistryProblem, content_type = "application/problem+json"),
        (status = 429, description = "Refused credentials from an address that has failed too often; see `Retry-After`. A valid login is never refused", body = RegistryProblem, content_type = "application/problem+json"),
    ))]
pub async fn token(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (mut service, mut scopes, mut account, mut offline) = (None, Vec::new(), None, false);
    for (key, value) in form_urlencoded::parse(req.query_string().as_bytes()) {
        match key.as_ref() {
            "service" => service = Some(value.into_owned()),
            "scope" => scopes.push(value.into_owned()),
            "account" => account = Some(value.into_owned()),
            "offline_token" => offline = value == "true",
            _ => {}
        }
    }
    let credential = match basic_credentials(authorization(&req)) {
        Some((username, secret)) => Credential::Secret { username, secret },
        None => Credential::Missing,
    };
    let request = TokenRequest {
        service,
        scopes,
        account,
        credential,
        offline,
        oauth: false,
    };
    issue(&req, &state, request).await
}

/// The OAuth2 variant of the token flow (as containerd asks first): `grant_type=password`
/// with the registry username and secret, or `grant_type=refresh_token`; `access_type=offline`
/// also returns a refresh token, which stops working with the secret.
#[utoipa::path(post, operation_id = "createRegistryToken", path = paths::REGISTRY_TOKEN, tag = "registry gateway",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A registry JWT granting `pull` on repositories under the token's products", body = RegistryToken),
        (status = 400, description = "A missing or unknown `grant_type` or `service`, or a bad parameter (`error`: `invalid_request`, `unsupported_grant_type`)", body = RegistryProblem),
        (status = 401, description = "Refused credentials or refresh token, with the reason (`error`: `invalid_grant`)", body = RegistryProblem),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not application/x-www-form-urlencoded", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Refused credentials from an address that has failed too often; see `Retry-After`", body = RegistryProblem),
    ))]
pub async fn token_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    require_form(&req)?;
    let (mut grant, mut service, mut scopes, mut offline) = (None, None, Vec::new(), false);
    let (mut username, mut password, mut refresh) = (None, None, None);
    for (key, value) in form_urlencoded::parse(&body) {
        let value = value.into_owned();
        match key.as_ref() {
            "grant_type" => grant = Some(value),
            "service" => service = Some(value),
            "scope" => scopes.push(value),
            "access_type" => offline = value == "offline",
            "username" => username = Some(value),
            "password" => password = Some(value),
            "refresh_token" => refresh = Some(value),
            _ => {}
        }
    }
    let credential = match (grant.as_deref(), username, password, refresh) {
        (Some("password"), Some(username), Some(secret), _) => Credential::Secret { username, secret },
        (Some("password"), ..) => {
            return Ok(registry_refusal(
                ErrorCode::InvalidParameter,
                "the password grant needs `username` (the registry username) and `password` (the secret)",
                Some("invalid_request"),
            ))
        }
        (Some("refresh_token"), _, _, Some(token)) => Credential::Refresh(token),
        (Some("refresh_token"), ..) => {
            return Ok(registry_refusal(
                ErrorCode::InvalidParameter,
                "the refresh_token grant needs `refresh_token`",
                Some("invalid_request"),
            ))
        }
        _ => {
            return Ok(registry_refusal(
                ErrorCode::InvalidParameter,
                "`grant_type` must be `password` or `refresh_token`",
                Some("unsupported_grant_type"),
            ))
        }
    };
    let request = TokenRequest {
        service,
        scopes,
        account: None,
        credential,
        offline,
        oauth: true,
    };
    Ok(issue(&req, &state, request).await)
}

/// The body must be a form.
fn require_form(req: &HttpRequest) -> Result<(), ApiError> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
        });
    if is_form {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the body as application/x-www-form-urlencoded",
        ))
    }
}

/// Both variants of the token flow: checks the service, the scopes and the credential, then
/// signs a registry token for what the token's products grant.
async fn issue(req: &HttpRequest, state: &AppState, request: TokenRequest) -> HttpResponse {
    let gw = &state.gateway;
    let client = state.client(req);
    let oauth = request.oauth.then_some("invalid_request");
    // The request is bounded by the server, so these are too; then the scopes count.
    let bad = |field: &str, why: &str| {
        registry_problem(Problem::new(ErrorCode::InvalidParameter, why).with_field(field), oauth)
    };
    let Some(scopes) = registry::split_scopes(&request.scopes) else {
        let why = format!(
            "at most {} scopes, counted after splitting on spaces",
            registry::MAX_SCOPES
        );
        return bad("scope", &why);
    };
    match request.service {
        Some(s) if s == gw.service => {}
        Some(_) => {
            return bad(
                "service",
                &format!("this server issues tokens for the service `{}` only", gw.service),
            )
        }
        None => return bad("service", "the `service` parameter is required"),
    }
    let endpoint = paths::REGISTRY_TOKEN;
    let known = match request.credential {
        Credential::Missing => {
            return registry_refusal(
                ErrorCode::Unauthenticated,
                "log in with the token's registry username and secret",
                None,
            )
        }
        Credential::Secret { username, secret } => {
            if request.account.as_ref().is_some_and(|a| *a != username) {
                return refused(
                    state,
                    client.budget(),
                    endpoint,
                    "`account` does not match the username",
                    request.oauth,
                );
            }
            match gw.login(&username, &secret, client.address()).await {
                Err(e) => return actix_web::ResponseError::error_response(&e),
                Ok(Check::Active(known)) => known.token.clone(),
                Ok(Check::Refused(why, _)) => {
                    return refused(state, client.budget(), endpoint, &why.message(), request.oauth)
                }
            }
        }
        Credential::Refresh(token) => match refreshed(state, &token).await {
            Err(e) => return actix_web::ResponseError::error_response(&e),
            Ok(Ok(token)) => {
                // A refresh is a use of the token too.
                gw.usage
                    .used(&crate::gateway::usage::LastUse::new(&token.id), client.address());
                token
            }
            Ok(Err(why)) => return refused(state, client.budget(), endpoint, &why, request.oauth),
        },
    };
    gw.metrics.registry_token(true);
    let access = registry::grant(&scopes, &known.products);
    let signed = gw
        .signer
        .sign(&known.registry_username, &gw.service, &access)
        .and_then(|(jwt, issued)| {
            let refresh_token = match request.offline {
                true => Some(gw.signer.sign_refresh(&known, &gw.service)?),
                false => None,
            };
            Ok((jwt, issued, refresh_token))
        });
    let (jwt, issued, refresh_token) = match signed {
        Ok(signed) => signed,
        Err(e) => return actix_web::ResponseError::error_response(&ApiError::internal(e)),
    };
    let issued_at = chrono::DateTime::from_timestamp(issued, 0).unwrap_or_else(chrono::Utc::now);
    let scope = request.oauth.then(|| {
        access
            .iter()
            .map(|a| format!("repository:{}:pull", a.name))
            .collect::<Vec<_>>()
            .join(" ")
    });
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(RegistryToken {
            token: jwt.clone(),
            access_token: jwt,
            expires_in: gw.signer.ttl_seconds,
            issued_at,
            refresh_token,
            scope,
        })
}

/// The token a refresh token of this server names, while its secret is the one it was given
/// for (asked of the database, so that every node agrees at once); else why not.
async fn refreshed(state: &AppState, refresh_token: &str) -> Result<Result<GatewayToken, String>, ApiError> {
    let gw = &state.gateway;
    let Some(claims) = gw.signer.verify_refresh(refresh_token, &gw.service) else {
        return Ok(Err(
            "the refresh token is not valid: log in again with the secret".into()
        ));
    };
    let id = claims.token_id.clone();
    let found = crate::blocking::store_call(&state.store, crate::blocking::GATEWAY_PATIENCE, move |s| {
        s.gateway_token_by_id(&id)
    })
    .await?;
    Ok(match found {
        None => Err(Refusal::Deleted.message()),
        Some(GatewayToken {
            revoked_at: Some(at), ..
        }) => Err(Refusal::Revoked(at).message()),
        Some(token) if token.issued_at.timestamp_micros() != claims.secret_issued_at => {
            Err(Refusal::Regenerated.message())
        }
        Some(token) if chrono::Utc::now() >= token.expires_at => Err(Refusal::Expired(token.expires_at).message()),
        Some(token) => Ok(token),
    })
}

/// What a pull through a proxy asks for: the registry API's root, or a repository.
#[derive(Debug, PartialEq, Eq)]
enum Pull<'a> {
    /// `/v2/`: the client checks that it may talk to the registry at all.
    Root,
    Repository(&'a str),
}

/// The repository of a read path of the Distribution API (`/v2/<name>/manifests/…`,
/// `/blobs/…`, `/tags/list`, `/referrers/…`), or the root; `None` for anything else (the
/// catalog, uploads).
fn pull_of(uri: &str) -> Option<Pull<'_>> {
    let path = uri.split(['?', '#']).next()?;
    if path == "/v2" || path == "/v2/" {
        return Some(Pull::Root);
    }
    let rest = path.strip_prefix("/v2/")?;
    for marker in ["/manifests/", "/blobs/", "/referrers/"] {
        if let Some(at) = rest.rfind(marker) {
            let (name, tail) = (&rest[..at], &rest[at + marker.len()..]);
            let ok = !tail.is_empty() && !tail.contains('/') && !tail.starts_with("uploads");
            return ok.then_some(Pull::Repository(name));
        }
    }
    rest.strip_suffix("/tags/list").map(Pull::Repository)
}

/// Forward auth for a proxy in front of a registry without auth (nginx `auth_request`,
/// Traefik `forwardAuth`, Caddy `forward_auth`): the pull's own `Authorization` (Basic, the
/// registry username and secret) and the original request, read from the header pair of the
/// configured proxy (`TOLLGATE_FORWARD_AUTH_PROXY`) only.
#[utoipa::path(get, operation_id = "checkForwardedPull", path = paths::FORWARD_AUTH, tag = "registry gateway", security(("registry_login" = [])),
    params(
        ("X-Original-URI" = Option<String>, Header, description = "The original request's URI, when the proxy is nginx (`auth_request`); refused from any other proxy"),
        ("X-Original-Method" = Option<String>, Header, description = "The original request's method, when the proxy is nginx; refused from any other proxy"),
        ("X-Forwarded-Uri" = Option<String>, Header, description = "The original request's URI, when the proxy is Traefik or Caddy; refused from nginx"),
        ("X-Forwarded-Method" = Option<String>, Header, description = "The original request's method, when the proxy is Traefik or Caddy; refused from nginx"),
    ),
    responses(
        (status = 200, description = "A pull (`GET` or `HEAD`) of a repository the token grants, or of `/v2/` with any valid token"),
        (status = 401, description = "The credential is missing or refused, with the reason (told to the token's own username only); `WWW-Authenticate: Basic`", body = RegistryProblem, content_type = "application/problem+json"),
        (status = 403, description = "Forward auth is not configured, the request carries the header pair of another proxy or one of its headers twice, or a valid credential asks for a repository, path or method that is not granted (`forbidden`)", body = RegistryProblem, content_type = "application/problem+json"),
        (status = 429, description = "Refused credentials from a client that has failed too often; see `Retry-After`", body = RegistryProblem, content_type = "application/problem+json"),
    ))]
pub async fn forward(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let gw = &state.gateway;
    let denied = |why: &str| registry_refusal(ErrorCode::Forbidden, why, None);
    // No credential: the client is asked for one (a registry client's first request has none).
    let Some((username, secret)) = basic_credentials(authorization(&req)) else {
        return registry_refusal(
            ErrorCode::Unauthenticated,
            "log in with the token's registry username and secret",
            None,
        );
    };
    let Some(proxy) = gw.forward_proxy else {
        return denied(
            "forward auth is off: set TOLLGATE_FORWARD_AUTH_PROXY to the proxy in front of the registry (nginx, traefik or caddy)",
        );
    };
    // Decided on the configured proxy's headers only, before the secret is looked at: a request
    // that carries the other proxy's pair was written by a client.
    let original = match proxy.original(req.headers()) {
        Ok(original) => original,
        Err(why) => return denied(&why),
    };
    // The proxy asks for everybody: as at introspection, only an end client that a trusted
    // proxy names is a budget (or the one budget of those it could not name), never the
    // proxy's own address.
    let client = state.client(&req);
    let token = match gw.login(&username, &secret, client.address()).await {
        Err(e) => return actix_web::ResponseError::error_response(&e),
        Ok(Check::Active(known)) => known,
        Ok(Check::Refused(why, _)) => {
            return refused(
                &state,
                client.end_client_budget(),
                paths::FORWARD_AUTH,
                &why.message(),
                false,
            )
        }
    };
    let (method_header, uri_header) = proxy.names();
    // Without the original method, a push could pass for a pull: the proxy must send it.
    match original.method.as_deref().map(str::to_ascii_uppercase).as_deref() {
        Some("GET" | "HEAD") => {}
        Some(_) => return denied("registry tokens pull only"),
        None => return denied(&format!("the proxy must forward the original method ({method_header})")),
    }
    let Some(uri) = original.uri else {
        return denied(&format!("the proxy must forward the original URI ({uri_header})"));
    };
    let granted = match pull_of(&uri) {
        Some(Pull::Root) => true,
        Some(Pull::Repository(name)) => {
            registry::is_repository_name(name)
                && name
                    .split_once('/')
                    .is_some_and(|(product, _)| token.token.products.iter().any(|p| p == product))
        }
        None => return denied("only pulls of repositories are granted through this registry"),
    };
    if !granted {
        return denied("the token does not grant this repository (its products are its namespaces)");
    }
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Tollgate-Username", token.token.registry_username.clone()))
        .finish()
}

/// The certificate of the key that signs registry tokens: the registry's `rootcertbundle`.
#[utoipa::path(get, operation_id = "getRegistryCertificate", path = paths::REGISTRY_CERTIFICATE, tag = "registry gateway",
    responses((status = 200, description = "PEM certificate", body = String, content_type = "application/x-pem-file")))]
pub async fn certificate(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/x-pem-file")
        .body(state.gateway.signer.certificate_pem().to_owned())
}

/// The public key that signs registry tokens, as a JWK set (`kid` is Distribution's key id).
#[utoipa::path(get, operation_id = "getRegistryJwks", path = paths::REGISTRY_JWKS, tag = "registry gateway",
    responses((status = 200, description = "A JWK set", body = serde_json::Value)))]
pub async fn jwks(state: web::Data<AppState>) -> web::Json<serde_json::Value> {
    web::Json(state.gateway.signer.jwks().clone())
}

/// Prometheus metrics.
#[utoipa::path(get, operation_id = "getMetrics", path = paths::METRICS, tag = "operations",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain; version=0.0.4")))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let metrics = &state.gateway.metrics;
    // The outbox as the database says it now; a database that cannot answer in time leaves
    // the last figures (and /readyz says why).
    let outbox =
        crate::blocking::store_call(&state.store, crate::blocking::GATEWAY_PATIENCE, |s| s.outbox_state()).await;
    if let Ok((pending, oldest)) = outbox {
        metrics.outbox_pending.set(pending);
        metrics
            .outbox_oldest
            .set(oldest.map_or(0.0, |age| age.num_milliseconds().max(0) as f64 / 1000.0));
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render())
}

#[cfg(test)]
mod tests {
    use super::{pull_of, Pull};

    #[test]
    fn read_paths_of_the_registry_api_name_their_repository() {
        assert_eq!(pull_of("/v2/"), Some(Pull::Root));
        assert_eq!(pull_of("/v2"), Some(Pull::Root));
        assert_eq!(
            pull_of("/v2/wso2am/gw/manifests/1.0"),
            Some(Pull::Repository("wso2am/gw"))
        );
        assert_eq!(
            pull_of("/v2/wso2am/a/b/blobs/sha256:ab?x=1"),
            Some(Pull::Repository("wso2am/a/b"))
        );
        assert_eq!(
            pull_of("/v2/wso2am/gw/tags/list?n=10"),
            Some(Pull::Repository("wso2am/gw"))
        );
        assert_eq!(
            pull_of("/v2/wso2am/gw/referrers/sha256:ab"),
            Some(Pull::Repository("wso2am/gw"))
        );
        assert_eq!(pull_of("/v2/wso2am/gw/blobs/uploads/"), None);
        assert_eq!(pull_of("/v2/wso2am/gw/blobs/uploads/123"), None);
        assert_eq!(pull_of("/v2/_catalog"), None);
        assert_eq!(pull_of("/v2/wso2am/gw/manifests/"), None);
        assert_eq!(pull_of("/other/v2/"), None);
        // A name that tries to climb out is not a repository name: the grant check refuses it.
        assert_eq!(
            pull_of("/v2/wso2am/../wso2mi/x/manifests/1"),
            Some(Pull::Repository("wso2am/../wso2mi/x"))
        );
    }
}
