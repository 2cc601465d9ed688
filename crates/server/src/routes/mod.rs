//! The HTTP routes: the REST API under `/api/v1`, health checks, docs and the SPA.

pub mod account;
pub mod demo;
pub mod gateway;
pub mod health;
pub mod service_users;
pub mod tokens;

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use tollgate_model::ErrorCode;
use tollgate_store::{Origin, Store, StoreError};

/// Runs a storage call on the blocking pool, within the API's patience.
pub async fn db<T: Send + 'static>(
    state: &web::Data<AppState>,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    crate::blocking::store_call(&state.store, crate::blocking::API_PATIENCE, f).await
}

/// Where the request came from, for the audit log: this server's request id, and the peer's
/// address or what a trusted proxy forwarded, never what a client claims.
pub fn origin(req: &HttpRequest) -> Origin {
    let client = match req.app_data::<web::Data<AppState>>() {
        Some(state) => Some(state.client_ip(req)),
        None => req.peer_addr().map(|a| a.ip()),
    };
    Origin {
        request_id: crate::error::REQUEST_ID.try_with(Clone::clone).unwrap_or_default(),
        client_address: client.map(|ip| ip.to_string()),
    }
}

/// A resource whose unsupported methods answer 405 as a problem.
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this resource does not support the method",
    ))
}

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(ErrorCode::NotFound, "no such resource"))
}

/// Bounds a page size: 1 to 100, 25 when absent.
pub fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(25),
        Some(n @ 1..=100) => Ok(n),
        Some(_) => Err(ApiError::field(
            ErrorCode::InvalidParameter,
            "limit",
            "limit must be between 1 and 100",
        )),
    }
}

/// The registry gateway's secret checks: the hot path, answered by the ten thousand a second.
pub const GATEWAY_CHECKS: [&str; 2] = ["/oauth2/introspect", "/auth/token"];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/healthz").route(web::get().to(health::healthz)))
        .service(resource("/readyz").route(web::get().to(health::readyz)))
        .service(resource("/metrics").route(web::get().to(gateway::metrics)))
        .service(resource(GATEWAY_CHECKS[0]).route(web::post().to(gateway::introspect)))
        .service(resource(GATEWAY_CHECKS[1]).route(web::get().to(gateway::token)))
        .service(resource("/auth/certificate.pem").route(web::get().to(gateway::certificate)))
        .service(resource("/auth/jwks.json").route(web::get().to(gateway::jwks)))
        .service(
            web::scope("/api/v1")
                .service(resource("/me").route(web::get().to(account::me)))
                .service(
                    resource("/tokens")
                        .route(web::get().to(tokens::list))
                        .route(web::post().to(tokens::create)),
                )
                .service(
                    resource("/tokens/{id}")
                        .route(web::get().to(tokens::get))
                        .route(web::delete().to(tokens::delete)),
                )
                .service(resource("/tokens/{id}/secret").route(web::post().to(tokens::regenerate_secret)))
                .service(resource("/tokens/{id}/products/sync").route(web::post().to(tokens::sync_products)))
                .service(
                    resource("/service-users")
                        .route(web::get().to(service_users::list))
                        .route(web::post().to(service_users::create)),
                )
                .service(resource("/service-users/{id}").route(web::delete().to(service_users::delete)))
                .service(resource("/audit-events").route(web::get().to(account::audit_events)))
                .service(resource("/demo/users").route(web::get().to(demo::users)))
                .service(resource("/demo/session").route(web::post().to(demo::session)))
                .service(resource("/demo/jwks.json").route(web::get().to(demo::jwks)))
                .default_service(web::to(not_found)),
        );
}
