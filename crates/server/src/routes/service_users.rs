//! `/api/v1/service-users`: a project's service accounts (customer admins).

use super::common::{db, origin};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;
use actix_web::{http::header, web, HttpRequest, HttpResponse};
use tollgate_model::paths;
use tollgate_model::{CreateServiceUser, Description, ErrorCode, Name, Problem, ServiceUser, ServiceUserList};

/// The project's service users, by name.
#[utoipa::path(get, operation_id = "listServiceUsers", path = paths::SERVICE_USERS, tag = "service users", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every service user of the project", body = ServiceUserList),
        (status = 401, response = super::problems::Unauthenticated),
        (status = 403, description = "Customers may not manage service users", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(state: web::Data<AppState>, Caller(actor): Caller) -> Result<web::Json<ServiceUserList>, ApiError> {
    let items = db(&state, move |store| store.list_service_users(&actor)).await?;
    Ok(web::Json(ServiceUserList { items }))
}

/// Creates a service user.
#[utoipa::path(post, operation_id = "createServiceUser", path = paths::SERVICE_USERS, tag = "service users", security(("bearer" = [])),
    request_body = CreateServiceUser,
    responses(
        (status = 201, description = "Created", body = ServiceUser, headers(("Location" = String, description = "The service user's URL"))),
        (status = 401, response = super::problems::Unauthenticated),
        (status = 403, description = "Customers may not manage service users", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name is taken in the project (`name_taken`)", body = Problem, content_type = "application/problem+json"),
        super::problems::JsonBodyErrors,
    ))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(actor): Caller,
    ApiJson(body): ApiJson<CreateServiceUser>,
) -> Result<HttpResponse, ApiError> {
    let name = Name::parse(&body.name)
        .map_err(|e| ApiError::field(ErrorCode::InvalidField, "name", format!("the name {e}")))?;
    let description = Description::parse(body.description.as_deref())
        .map_err(|why| ApiError::field(ErrorCode::InvalidField, "description", why))?;
    let origin = origin(&req);
    let created = db(&state, move |store| {
        store.create_service_user(&actor, &origin, &name, description.as_ref())
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, paths::with_id(paths::SERVICE_USER, &created.id)))
        .json(created))
}

/// Deletes a service user that has no tokens.
#[utoipa::path(delete, operation_id = "deleteServiceUser", path = paths::SERVICE_USER, tag = "service users", security(("bearer" = [])),
    params(("id" = String, Path, description = "Service user id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = super::problems::Unauthenticated),
        (status = 403, description = "Customers may not manage service users", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = super::problems::NotFound),
        (status = 409, description = "It still has tokens (`service_user_has_tokens`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (id, origin) = (id.into_inner(), origin(&req));
    db(&state, move |store| store.delete_service_user(&actor, &origin, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
