//! The HTTP routes: the REST API under `/api/v1`, health checks, docs and the SPA.

pub mod account;
pub mod credentials;
pub mod demo;
pub mod gateway;
pub mod health;
pub mod problems;
pub mod projects;
pub mod service_users;
pub mod tokens;
pub mod webhooks;

pub mod common;

use actix_web::web;
use common::{not_found, resource};
use tollgate_model::paths;

/// What a management listener serves: metrics (on the public listener too when there is no
/// management listener) and the health checks (always on both).
pub fn configure_management(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(paths::METRICS).get(gateway::metrics));
}

/// The management listener's own routes: [`configure_management`] and the health checks.
pub fn configure_management_listener(cfg: &mut web::ServiceConfig) {
    configure_management(cfg);
    cfg.service(resource(paths::HEALTH).get(health::healthz))
        .service(resource(paths::READINESS).get(health::readyz));
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    // Under the API's scope, paths are registered without its prefix.
    let api = |path: &'static str| path.strip_prefix(paths::API).unwrap_or(path);
    cfg.service(resource(paths::HEALTH).get(health::healthz))
        .service(resource(paths::READINESS).get(health::readyz))
        .service(resource(paths::INTROSPECT).post(gateway::introspect))
        .service(
            resource(paths::REGISTRY_TOKEN)
                .get(gateway::token)
                .post(gateway::token_post),
        )
        .service(resource(paths::FORWARD_AUTH).get(gateway::forward))
        .service(resource(paths::REGISTRY_CERTIFICATE).get(gateway::certificate))
        .service(resource(paths::REGISTRY_JWKS).get(gateway::jwks))
        .service(
            web::scope(paths::API)
                .service(resource(api(paths::ME)).get(account::me))
                .service(resource(api(paths::TOKENS)).get(tokens::list).post(tokens::create))
                .service(resource(api(paths::TOKEN)).get(tokens::get).delete(tokens::delete))
                .service(resource(api(paths::TOKEN_SECRET)).post(tokens::regenerate_secret))
                .service(resource(api(paths::TOKEN_PRODUCTS_SYNC)).post(tokens::sync_products))
                .service(resource(api(paths::TOKEN_USAGE)).get(tokens::usage))
                .service(
                    resource(api(paths::SERVICE_USERS))
                        .get(service_users::list)
                        .post(service_users::create),
                )
                .service(resource(api(paths::SERVICE_USER)).delete(service_users::delete))
                .service(resource(api(paths::AUDIT_EVENTS)).get(account::audit_events))
                .service(resource(api(paths::PROJECTS)).get(projects::list))
                .service(resource(api(paths::PROJECT)).get(projects::get).put(projects::put))
                .service(resource(api(paths::SIGN_IN)).get(projects::sign_in))
                .service(resource(api(paths::CREDENTIALS_REVOKE)).post(credentials::revoke))
                .service(
                    resource(api(paths::WEBHOOKS))
                        .get(webhooks::list)
                        .post(webhooks::create),
                )
                .service(
                    resource(api(paths::WEBHOOK))
                        .get(webhooks::get)
                        .delete(webhooks::delete),
                )
                .service(resource(api(paths::WEBHOOK_SECRET)).post(webhooks::rotate_secret))
                .service(resource(api(paths::WEBHOOK_DELIVERIES)).get(webhooks::deliveries))
                .service(resource(api(paths::WEBHOOK_REDELIVER)).post(webhooks::redeliver))
                .service(resource(api(paths::DEMO_USERS)).get(demo::users))
                .service(resource(api(paths::DEMO_SESSION)).post(demo::session))
                .service(resource(api(paths::DEMO_JWKS)).get(demo::jwks))
                .default_service(web::to(not_found)),
        );
}
