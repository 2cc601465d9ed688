//! The problem answers that many operations share, described once for the OpenAPI document
//! (`ApiError` builds the bodies).

/// Missing, invalid or expired bearer token (`unauthenticated`, `session_expired`).
#[derive(utoipa::ToResponse)]
#[response(content_type = "application/problem+json")]
#[allow(
    dead_code,
    reason = "described in the OpenAPI document only; ApiError builds the body"
)]
pub struct Unauthenticated(tollgate_model::Problem);

/// Nothing with this id exists for the caller (`not_found`), whatever another project holds.
#[derive(utoipa::ToResponse)]
#[response(content_type = "application/problem+json")]
#[allow(
    dead_code,
    reason = "described in the OpenAPI document only; ApiError builds the body"
)]
pub struct NotFound(tollgate_model::Problem);

/// What a JSON request body can be refused for.
#[derive(utoipa::IntoResponses)]
#[allow(
    dead_code,
    reason = "described in the OpenAPI document only; ApiError builds the bodies"
)]
pub enum JsonBodyErrors {
    /// The body is not valid JSON (`malformed_json`).
    #[response(status = 400, content_type = "application/problem+json")]
    Malformed(tollgate_model::Problem),
    /// The body is over 64 KiB (`payload_too_large`).
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(tollgate_model::Problem),
    /// The body is not `application/json` (`unsupported_media_type`).
    #[response(status = 415, content_type = "application/problem+json")]
    NotJson(tollgate_model::Problem),
    /// A field is missing, unknown or invalid; `field` names it (`invalid_field`).
    #[response(status = 422, content_type = "application/problem+json")]
    InvalidField(tollgate_model::Problem),
}

/// The database did not answer in time (`unavailable`): try again, or another node.
#[derive(utoipa::ToResponse)]
#[response(content_type = "application/problem+json")]
#[allow(
    dead_code,
    reason = "described in the OpenAPI document only; ApiError builds the body"
)]
pub struct Unavailable(tollgate_model::Problem);
