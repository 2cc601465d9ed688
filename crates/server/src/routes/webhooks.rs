//! `/api/v1/webhooks`: where a project's events are sent, and the delivery log (customer admins).

use super::common::{db, origin};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, OptionalJson};
use crate::state::AppState;
use actix_web::{http::header, web, HttpRequest, HttpResponse};
use tollgate_model::paths;
use tollgate_model::{
    CreateWebhook, CreatedWebhook, Description, ErrorCode, Page, Problem, RotateWebhookSecret, Webhook,
    WebhookDelivery, WebhookList,
};

/// The project's webhooks, oldest first.
#[utoipa::path(get, operation_id = "listWebhooks", path = paths::WEBHOOKS, tag = "webhooks", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every webhook of the project", body = WebhookList),
        (status = 401, response = super::problems::Unauthenticated),
        (status = 403, description = "Customers may not manage webhooks", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(state: web::Data<AppState>, Caller(actor): Caller) -> Result<web::Json<WebhookList>, ApiError> {
    let items = db(&state, move |store| store.list_webhooks(&actor)).await?;
    Ok(web::Json(WebhookList { items }))
}

/// Registers a webhook. The answer carries its signing secret, shown this once.
#[utoipa::path(post, operation_id = "createWebhook", path = paths::WEBHOOKS, tag = "webhooks", security(("bearer" = [])),
    request_body = CreateWebhook,
    responses(
        (status = 201, description = "Registered; `signing_secret` is never shown again", body = CreatedWebhook,
            headers(("Location" = String, description = "The webhook's URL"))),
        (status = 401, response = super::problems::Unauthenticated),
        (status = 403, description = "Customers may not manage webhooks", body = Problem, content_type = "application/problem+json"),
        super::problems::JsonBodyErrors,
    ))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(actor): Caller,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Result<HttpResponse, ApiError> {
    let url = crate::webhooks::check_url(&body.url, state.webhooks.allow_private)
        .map_err(|why| ApiError::field(ErrorCode::InvalidField, "url", why))?;
    if body.events.is_empty() {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "events",
            "name at least one event",
        ));
    }
    let description = Description::parse(body.description.as_deref())
        .map_err(|why| ApiError::field(ErrorCode::InvalidField, "description", why))?;
    let origin = origin(&req);
    let signing_secret = crate::webhooks::new_signing_secret();
    let secret = signing_secret.clone();
    let webhook = db(&state, move |store| {
        store.create_webhook(
            &actor,
            &origin,
            url.as_str(),
            &body.events,
            description.as_ref(),
            &secret,
        )
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, paths::with_id(paths::WEBHOOK, &webhook.id)))
        .json(CreatedWebhook {
            webhook,
            signing_secret,
        }))
}

/// The longest overlap of a rotated signing secret, in hours.
const MAX_OVERLAP_HOURS: u32 = 168;

/// Gives the webhook a new signing secret, shown this once. The previous one goes on signing
/// every delivery beside it (a second signature in `webhook-signature`) for `overlap_hours`,
/// so that the receiver can switch without losing a message.
#[utoipa::path(post, operation_id = "rotateWebhookSecret", path = paths::WEBHOOK_SECRET, tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id")),
    request_body(content = RotateWebhookSecret, description = "Optional; without it the overlap is 24 hours"),
    responses(
        (status = 200, description = "Rotated; `signing_secret` is never shown again", body = CreatedWebhook),
        (status = 401, response = super::problems::Unauthenticated),
        (status = 403, description = "Customers may not manage webhooks", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = super::problems::NotFound),
        super::problems::JsonBodyErrors,
    ))]
pub async fn rotate_secret(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: web::Path<String>,
    OptionalJson(body): OptionalJson<RotateWebhookSecret>,
) -> Result<web::Json<CreatedWebhook>, ApiError> {
    let hours = body.and_then(|b| b.overlap_hours).unwrap_or(24);
    if hours > MAX_OVERLAP_HOURS {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "overlap_hours",
            format!("the overlap is 0 to {MAX_OVERLAP_HOURS} hours"),
        ));
    }
    let origin = origin(&req);
    let signing_secret = crate::webhooks::new_signing_secret();
    let secret = signing_secret.clone();
    let id = id.into_inner();
    let webhook = db(&state, move |store| {
        store.rotate_webhook_secret(&actor, &origin, &id, &secret, chrono::Duration::hours(i64::from(hours)))
    })
    .await?;
    Ok(web::Json(CreatedWebhook {
        webhook,
        signing_secret,
    }))
}

/// A webhook.
#[utoipa::path(get, operation_id = "getWebhook", path = paths::WEBHOOK, tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "The webhook", body = Webhook),
        (status = 401, response = super::problems::Unauthenticated),
        (status = 403, description = "Customers may not manage webhooks", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = super::problems::NotFound),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: web::Path<String>,
) -> Result<web::Json<Webhook>, ApiError> {
    let id = id.into_inner();
    Ok(web::Json(db(&state, move |store| store.webhook(&actor, &id)).await?))
}

/// Deletes a webhook with its delivery log; what it had not received is not sent.
#[utoipa::path(delete, operation_id = "deleteWebhook", path = paths::WEBHOOK, tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = super::problems::Unauthenticated),
        (status = 403, description = "Customers may not manage webhooks", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = super::problems::NotFound),
    ))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (id, origin) = (id.into_inner(), origin(&req));
    db(&state, move |store| store.delete_webhook(&actor, &origin, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The webhook's delivery log, newest first: each event, its state, the last attempt's
/// status, error and duration, and the next try.
#[utoipa::path(get, operation_id = "listWebhookDeliveries", path = paths::WEBHOOK_DELIVERIES, tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id"), super::common::PageParams),
    responses(
        (status = 200, description = "A page of deliveries", body = Page<WebhookDelivery>,
            headers(("Link" = String, description = "`<…>; rel=\"next\"`: the next page, when there is one"))),
        (status = 400, description = "Invalid `cursor` or `limit`", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = super::problems::Unauthenticated),
        (status = 403, description = "Customers may not manage webhooks", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = super::problems::NotFound),
    ))]
pub async fn deliveries(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: web::Path<String>,
    ApiQuery(params): ApiQuery<super::common::PageParams>,
) -> Result<HttpResponse, ApiError> {
    let query = params.query()?;
    let id = id.into_inner();
    let page = db(&state, move |store| store.webhook_deliveries(&actor, &id, &query)).await?;
    Ok(super::common::page_response(&req, page))
}

/// Sends a delivery again now, with the same message id (`webhook-id`).
#[utoipa::path(post, operation_id = "redeliverWebhookDelivery", path = paths::WEBHOOK_REDELIVER, tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id"), ("delivery_id" = String, Path, description = "Delivery id")),
    responses(
        (status = 202, description = "Due now; the log shows the outcome", body = WebhookDelivery),
        (status = 401, response = super::problems::Unauthenticated),
        (status = 403, description = "Customers may not manage webhooks", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = super::problems::NotFound),
    ))]
pub async fn redeliver(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    ids: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, delivery) = ids.into_inner();
    let due = db(&state, move |store| store.redeliver(&actor, &id, &delivery)).await?;
    Ok(HttpResponse::Accepted().json(due))
}
