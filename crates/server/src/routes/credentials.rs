//! `/api/v1/credentials/revoke`: leaked secrets reported by anyone (a secret scanner, a
//! stranger who found one), like GitHub's credential revocation API.

use super::{db, origin};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use tollgate_model::{paths, ErrorCode, RevokeCredentials};
use tollgate_store::secret::{digest, PlainSecret};
use tollgate_store::Reporter;

/// The most secrets one report may carry.
pub const MAX_CREDENTIALS: usize = 1000;

/// Reports secrets found where they should not be: each that belongs to a token is revoked at
/// once, on every node, until its owner re-generates it. Public; the answer is the same whether
/// any secret was valid, so that it tells nothing. Calls are limited per client address.
#[utoipa::path(post, operation_id = "revokeCredentials", path = paths::CREDENTIALS_REVOKE, tag = "credentials",
    request_body = RevokeCredentials,
    responses(
        (status = 202, description = "Received; every valid secret among them is revoked"),
        (status = 429, description = "Too many reports from this address; see `Retry-After`", body = tollgate_model::Problem, content_type = "application/problem+json"),
        (status = 503, response = super::problems::Unavailable),
        super::problems::JsonBodyErrors,
    ))]
pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    ApiJson(body): ApiJson<RevokeCredentials>,
) -> Result<HttpResponse, ApiError> {
    if let Some(wait) = state.gateway.revocation_limiter.failed(state.client_ip(&req)) {
        return Ok(super::too_many_problem(wait, "reports"));
    }
    if body.credentials.len() > MAX_CREDENTIALS {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "credentials",
            format!("at most {MAX_CREDENTIALS} secrets a report"),
        ));
    }
    // What is not a Tollgate secret at all is left out before any lookup.
    let digests: Vec<_> = body
        .credentials
        .iter()
        .filter_map(|c| PlainSecret::parse(c.trim()).ok())
        .map(|secret| digest(secret.expose()))
        .collect();
    let reporter = Reporter {
        id: "credential-revocation".into(),
        name: "Leaked-credential report".into(),
        reason: "reported leaked through the credential revocation API".into(),
    };
    let origin = origin(&req);
    db(&state, move |store| store.revoke_leaked(&digests, &reporter, &origin)).await?;
    Ok(HttpResponse::Accepted()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
