//! The demo identity provider's endpoints; they answer 404 outside demo mode.

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;
use actix_web::{http::header, web, HttpResponse};
use tollgate_model::paths;
use tollgate_model::{DemoSession, DemoSessionRequest, DemoUser, ErrorCode, Problem};

fn demo_only(state: &AppState) -> Result<&crate::demo::DemoIssuer, ApiError> {
    state
        .demo
        .as_ref()
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "demo mode is off on this server"))
}

/// The demo users to sign in as (demo mode only).
#[utoipa::path(get, operation_id = "listDemoUsers", path = paths::DEMO_USERS, tag = "demo",
    responses(
        (status = 200, description = "The demo users", body = Vec<DemoUser>),
        (status = 404, description = "Demo mode is off", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn users(state: web::Data<AppState>) -> Result<web::Json<Vec<DemoUser>>, ApiError> {
    demo_only(&state)?;
    Ok(web::Json(crate::demo::users()))
}

/// Signs in as a demo user: a bearer token of the demo issuer (demo mode only).
#[utoipa::path(post, operation_id = "createDemoSession", path = paths::DEMO_SESSION, tag = "demo", request_body = DemoSessionRequest,
    responses(
        (status = 200, description = "A session", body = DemoSession),
        (status = 404, description = "Demo mode is off", body = Problem, content_type = "application/problem+json"),
        super::problems::JsonBodyErrors,
    ))]
pub async fn session(
    state: web::Data<AppState>,
    ApiJson(body): ApiJson<DemoSessionRequest>,
) -> Result<HttpResponse, ApiError> {
    let issuer = demo_only(&state)?;
    let user = crate::demo::users()
        .into_iter()
        .find(|u| u.id == body.user)
        .ok_or_else(|| ApiError::field(ErrorCode::InvalidField, "user", "user must be one of alice, bob, carol"))?;
    let access_token = issuer.sign(&user).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(DemoSession {
            access_token,
            token_type: "Bearer".into(),
            expires_in: crate::demo::SESSION_SECONDS,
            user,
        }))
}

/// The demo issuer's public keys (JWKS), which Tollgate itself verifies sessions against.
#[utoipa::path(get, operation_id = "getDemoJwks", path = paths::DEMO_JWKS, tag = "demo",
    responses(
        (status = 200, description = "A JWK set", body = serde_json::Value),
        (status = 404, description = "Demo mode is off", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn jwks(state: web::Data<AppState>) -> Result<web::Json<serde_json::Value>, ApiError> {
    Ok(web::Json(demo_only(&state)?.jwks()))
}
