//! `/api/v1/credentials/revoke`: leaked secrets reported by anyone (a secret scanner, a
//! stranger who found one), like GitHub's credential revocation API.

use super::common::origin;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use tollgate_model::{paths, ErrorCode, RevokeCredentials};
use tollgate_store::secret::{digest, PlainSecret};

/// The most secrets one report may carry.
pub const MAX_CREDENTIALS: usize = 1000;
/// A report counts one against its address' limit per this many secrets it carries.
pub const SECRETS_PER_REPORT: usize = 100;

/// Reports secrets found where they should not be: each that belongs to a token is revoked,
/// on every node, until its owner re-generates it. Public; the answer and its time are the same
/// whether any secret was valid, so that it tells nothing: it is given when the report is
/// queued, and the secrets are revoked right after (within milliseconds). Reports are limited
/// per client address (an IPv6 /64), one report counting one per hundred secrets.
#[utoipa::path(post, operation_id = "revokeCredentials", path = paths::CREDENTIALS_REVOKE, tag = "credentials",
    request_body = RevokeCredentials,
    responses(
        (status = 202, description = "Received; every valid secret among them is revoked right after"),
        (status = 429, description = "Too many reports (or secrets) from this address; see `Retry-After`", body = tollgate_model::Problem, content_type = "application/problem+json"),
        (status = 503, response = super::problems::Unavailable),
        super::problems::JsonBodyErrors,
    ))]
pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    ApiJson(body): ApiJson<RevokeCredentials>,
) -> Result<HttpResponse, ApiError> {
    if body.credentials.len() > MAX_CREDENTIALS {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "credentials",
            format!("at most {MAX_CREDENTIALS} secrets a report"),
        ));
    }
    let cost = u32::try_from(body.credentials.len().div_ceil(SECRETS_PER_REPORT).max(1)).unwrap_or(u32::MAX);
    if let Some(wait) = state
        .client(&req)
        .budget()
        .and_then(|b| state.gateway.revocation_limiter.spend(b, cost))
    {
        return Ok(super::common::too_many_problem(wait, "reports"));
    }
    // What is not a Tollgate secret at all is left out before any lookup.
    let digests: Vec<_> = body
        .credentials
        .iter()
        .filter_map(|c| PlainSecret::parse(c.trim()).ok())
        .map(|secret| digest(secret.expose()))
        .collect();
    if !digests.is_empty() && state.gateway.leaks.report(digests, origin(&req)).is_err() {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "too many reports are waiting to be handled; try again shortly",
        ));
    }
    Ok(HttpResponse::Accepted()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
