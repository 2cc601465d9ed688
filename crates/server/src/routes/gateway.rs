//! The registry gateway's endpoints: RFC 7662 introspection, the Docker registry token flow,
//! and the key material a registry needs to trust Tollgate's tokens.

use crate::error::ApiError;
use crate::gateway::{basic_credentials, registry, Check};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use tollgate_model::paths;
use tollgate_model::{ErrorCode, Introspection, Problem, RegistryToken};

fn authorization(req: &HttpRequest) -> Option<&str> {
    req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
}

fn rate_limited(state: &AppState, endpoint: &str, wait: std::time::Duration) -> HttpResponse {
    state.gateway.metrics.rate_limited(endpoint);
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let error = ApiError::new(
        ErrorCode::RateLimited,
        format!("too many failed attempts from your address; retry in {seconds} s"),
    );
    let mut response = actix_web::ResponseError::error_response(&error);
    if let Ok(value) = header::HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
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
        // Guesses at a gateway credential spend the guessing peer's budget.
        if let Some(wait) = gw.introspect_limiter.failed(AppState::peer_ip(&req)) {
            return Ok(rate_limited(&state, paths::INTROSPECT, wait));
        }
        return Ok(unauthorized(
            "authenticate as a gateway client with HTTP Basic",
            "tollgate introspection",
        ));
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
        });
    if !is_form {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the body as application/x-www-form-urlencoded",
        ));
    }
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
    let body = match gw.check(&state.store, &token).await? {
        Check::Active(known) => {
            gw.usage.used(&known);
            gw.metrics.introspection(true);
            known.introspection.clone()
        }
        Check::Inactive => {
            gw.metrics.introspection(false);
            // The gateway asks for everybody: only an end client's address that the gateway
            // forwards as a trusted proxy is a budget, never the gateway's own.
            let end_client = Some(state.client_ip(&req)).filter(|ip| *ip != AppState::peer_ip(&req));
            if let Some(wait) = end_client.and_then(|ip| gw.introspect_limiter.failed(ip)) {
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
}

/// The Docker registry token flow: HTTP Basic with the registry username and the secret.
#[utoipa::path(get, operation_id = "getRegistryToken", path = paths::REGISTRY_TOKEN, tag = "registry gateway", security(("registry_login" = [])), params(TokenParams),
    responses(
        (status = 200, description = "A registry JWT granting `pull` on repositories under the token's products (partial grants are not errors)", body = RegistryToken),
        (status = 400, description = "Missing or unknown `service`, or a bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong registry username and secret", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Wrong credentials from an address that has failed too often; see `Retry-After`. A valid login is never refused", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn token(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let gw = &state.gateway;
    let ip = state.client_ip(&req);
    let (mut service, mut scope_parameters, mut account) = (None, Vec::new(), None);
    for (key, value) in form_urlencoded::parse(req.query_string().as_bytes()) {
        match key.as_ref() {
            "service" => service = Some(value.into_owned()),
            "scope" => scope_parameters.push(value.into_owned()),
            "account" => account = Some(value.into_owned()),
            _ => {}
        }
    }
    // The request line is bounded by the server, so these are too; then the scopes count.
    let scopes = registry::split_scopes(&scope_parameters).ok_or_else(|| {
        ApiError::field(
            ErrorCode::InvalidParameter,
            "scope",
            format!(
                "at most {} scopes, counted after splitting on spaces",
                registry::MAX_SCOPES
            ),
        )
    })?;
    match service {
        Some(s) if s == gw.service => {}
        Some(_) => {
            return Err(ApiError::field(
                ErrorCode::InvalidParameter,
                "service",
                format!("this server issues tokens for the service `{}` only", gw.service),
            ))
        }
        None => {
            return Err(ApiError::field(
                ErrorCode::InvalidParameter,
                "service",
                "the `service` parameter is required",
            ))
        }
    }
    let realm = "tollgate registry";
    let Some((username, secret)) = basic_credentials(authorization(&req)) else {
        return Ok(unauthorized(
            "log in with the token's registry username and secret",
            realm,
        ));
    };
    let refused = |detail: &str| {
        gw.metrics.registry_token(false);
        match gw.token_limiter.failed(ip) {
            Some(wait) => rate_limited(&state, paths::REGISTRY_TOKEN, wait),
            None => unauthorized(detail, realm),
        }
    };
    if account.as_ref().is_some_and(|a| *a != username) {
        return Ok(refused("`account` does not match the username"));
    }
    let token = match gw.check(&state.store, &secret).await? {
        Check::Active(known) if known.token.registry_username == username => known,
        _ => {
            return Ok(refused(
                "the registry username or secret is wrong, or the token has expired",
            ))
        }
    };
    gw.usage.used(&token);
    let token = &token.token;
    gw.metrics.registry_token(true);
    let access = registry::grant(&scopes, &token.products);
    let (jwt, issued) = gw
        .signer
        .sign(&token.registry_username, &gw.service, &access)
        .map_err(ApiError::internal)?;
    let issued_at = chrono::DateTime::from_timestamp(issued, 0).unwrap_or_else(chrono::Utc::now);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(RegistryToken {
            token: jwt.clone(),
            access_token: jwt,
            expires_in: gw.signer.ttl_seconds,
            issued_at,
        }))
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
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.gateway.metrics.render())
}
