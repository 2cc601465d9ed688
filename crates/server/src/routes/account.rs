//! The caller (`/me`) and the project's audit log.

use super::common::db;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::AppState;
use actix_web::web;
use tollgate_model::paths;
use tollgate_model::{AuditEvent, Me, Page, Problem};

/// Who the caller is: role, project and the project's subscription.
#[utoipa::path(get, operation_id = "getMe", path = paths::ME, tag = "account", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, response = super::problems::Unauthenticated),
        (status = 403, description = "The caller's project is unknown (`unknown_project`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn me(state: web::Data<AppState>, Caller(actor): Caller) -> Result<web::Json<Me>, ApiError> {
    let who = actor.clone();
    let subscription = db(&state, move |store| store.subscription(&who)).await?;
    Ok(web::Json(Me {
        id: actor.user_id,
        name: actor.name,
        email: actor.email,
        role: actor.role,
        project: actor.project,
        subscription,
        registry_host: state.registry_host.clone(),
        demo_mode: state.demo.is_some(),
    }))
}

/// The project's audit log, newest first (customer admins).
#[utoipa::path(get, operation_id = "listAuditEvents", path = paths::AUDIT_EVENTS, tag = "audit", security(("bearer" = [])), params(super::common::PageParams),
    responses(
        (status = 200, description = "A page of events", body = Page<AuditEvent>,
            headers(("Link" = String, description = "`<…>; rel=\"next\"`: the next page, when there is one"))),
        (status = 400, description = "Invalid `cursor` or `limit`", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = super::problems::Unauthenticated),
        (status = 403, description = "Customers may not read the audit log", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn audit_events(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    Caller(actor): Caller,
    ApiQuery(params): ApiQuery<super::common::PageParams>,
) -> Result<actix_web::HttpResponse, ApiError> {
    let query = params.query()?;
    let page = db(&state, move |store| store.audit_events(&actor, &query)).await?;
    Ok(super::common::page_response(&req, page))
}
