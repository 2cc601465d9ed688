//! The OpenAPI 3.1 document, generated from the handlers and the model types.

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
        crate::routes::service_users::list,
        crate::routes::service_users::create,
        crate::routes::service_users::delete,
        crate::routes::account::audit_events,
        crate::routes::demo::users,
        crate::routes::demo::session,
        crate::routes::demo::jwks,
        crate::routes::gateway::introspect,
        crate::routes::gateway::token,
        crate::routes::gateway::certificate,
        crate::routes::gateway::jwks,
        crate::routes::health::healthz,
        crate::routes::health::readyz,
        crate::routes::gateway::metrics,
    ),
    components(
        schemas(tollgate_model::ErrorCode, tollgate_model::Problem),
        responses(Unauthenticated, NotFound)
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "account", description = "The signed-in user"),
        (name = "tokens", description = "Registry tokens"),
        (name = "service users", description = "Service accounts of a project (customer admins)"),
        (name = "audit", description = "The project's audit log (customer admins)"),
        (name = "registry gateway", description = "Secret checks for the registry: introspection and registry tokens"),
        (name = "demo", description = "The demo identity provider; 404 outside demo mode"),
        (name = "operations", description = "Health checks"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document as committed at `api-spec/openapi.json`.
pub fn json() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serializes");
    text.push('\n');
    text
}

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
