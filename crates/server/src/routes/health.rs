//! Liveness and readiness for orchestrators and load balancers.

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde_json::json;
use tollgate_model::paths;

/// The process is up.
#[utoipa::path(get, operation_id = "getHealth", path = paths::HEALTH, tag = "operations",
    responses((status = 200, description = "The process is up", body = serde_json::Value, example = json!({"status": "ok"}))))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The database answers: the node can serve requests.
#[utoipa::path(get, operation_id = "getReadiness", path = paths::READINESS, tag = "operations",
    responses(
        (status = 200, description = "Ready", body = serde_json::Value, example = json!({"status": "ready"})),
        (status = 503, description = "The database is unreachable", body = tollgate_model::Problem, content_type = "application/problem+json"),
    ))]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    // Within the gateway's patience: a load balancer must hear "not ready" in time.
    crate::blocking::store_call(&state.store, crate::blocking::GATEWAY_PATIENCE, |store| store.ping()).await?;
    Ok(HttpResponse::Ok().json(json!({ "status": "ready" })))
}
