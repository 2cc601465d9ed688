//! `/api/v1/projects`: projects and their subscriptions, put by the vendor's operators (staff
//! or the subscription system); and `/api/v1/sign-in`, how the portal signs in.

use super::common::{db, origin};
use crate::caller::OperatorCaller;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;
use actix_web::{http::header, web, HttpRequest, HttpResponse};
use tollgate_model::paths;
use tollgate_model::{
    ErrorCode, Name, OidcOptions, Problem, ProductCode, ProjectDetails, ProjectKey, ProjectList, PutProject,
    SignInOptions,
};
use tollgate_store::{ProductSpec, ProjectSpec, ProjectSummary};

fn details(summary: ProjectSummary) -> ProjectDetails {
    ProjectDetails {
        key: summary.project.key,
        name: summary.project.name,
        subscription: summary.subscription,
    }
}

/// Every project, by key (operators).
#[utoipa::path(get, operation_id = "listProjects", path = paths::PROJECTS, tag = "projects", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every project and its subscription", body = ProjectList),
        (status = 401, response = super::problems::Unauthenticated),
        (status = 403, description = "Only operators manage projects", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(state: web::Data<AppState>, _: OperatorCaller) -> Result<web::Json<ProjectList>, ApiError> {
    let items = db(&state, |store| store.list_projects()).await?;
    Ok(web::Json(ProjectList {
        items: items.into_iter().map(details).collect(),
    }))
}

/// One project and its subscription (operators).
#[utoipa::path(get, operation_id = "getProject", path = paths::PROJECT, tag = "projects", security(("bearer" = [])),
    params(("key" = String, Path, description = "The project's key")),
    responses(
        (status = 200, description = "The project", body = ProjectDetails),
        (status = 401, response = super::problems::Unauthenticated),
        (status = 403, description = "Only operators manage projects", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    _: OperatorCaller,
    key: web::Path<String>,
) -> Result<web::Json<ProjectDetails>, ApiError> {
    let key = key.into_inner();
    let found = db(&state, move |store| store.get_project(&key)).await?;
    Ok(web::Json(details(found)))
}

/// Creates the project or replaces its name and subscription (operators). Every product the
/// subscription no longer has stops being pullable at once, on every node; an earlier end
/// date holds at once; a product added shows the project's tokens as out of sync until they
/// are re-synced. Putting what is already there changes nothing.
#[utoipa::path(put, operation_id = "putProject", path = paths::PROJECT, tag = "projects", security(("bearer" = [])),
    params(("key" = String, Path, description = "The project's key: 1–32 lowercase letters, digits or `-`, starting with a letter or digit")),
    request_body = PutProject,
    responses(
        (status = 200, description = "Replaced (or unchanged)", body = ProjectDetails),
        (status = 201, description = "Created", body = ProjectDetails, headers(("Location" = String, description = "The project's URL"))),
        (status = 401, response = super::problems::Unauthenticated),
        (status = 403, description = "Only operators manage projects", body = Problem, content_type = "application/problem+json"),
        super::problems::JsonBodyErrors,
    ))]
pub async fn put(
    req: HttpRequest,
    state: web::Data<AppState>,
    OperatorCaller(operator): OperatorCaller,
    key: web::Path<String>,
    ApiJson(body): ApiJson<PutProject>,
) -> Result<HttpResponse, ApiError> {
    // Typed where the request enters: the store never sees an invalid key, name or code.
    let invalid = |field: String, why: String| ApiError::field(ErrorCode::InvalidField, field, why);
    let key = ProjectKey::parse(&key).map_err(|why| invalid("key".into(), why.into()))?;
    let name = Name::parse(&body.name).map_err(|e| invalid("name".into(), format!("the name {e}")))?;
    let mut products = Vec::with_capacity(body.subscription.products.len());
    for (i, p) in body.subscription.products.iter().enumerate() {
        let at = format!("subscription.products[{i}]");
        let code =
            ProductCode::parse(&p.code).map_err(|why| invalid(format!("{at}.code"), format!("`{}`: {why}", p.code)))?;
        let name = match &p.name {
            Some(n) => Some(Name::parse(n).map_err(|e| invalid(format!("{at}.name"), format!("the name {e}")))?),
            None => None,
        };
        products.push(ProductSpec { code, name });
    }
    for (field, days) in [
        ("subscription.max_token_days", body.subscription.max_token_days),
        (
            "subscription.max_service_token_days",
            body.subscription.max_service_token_days,
        ),
    ] {
        if days.is_some_and(|d| !(1..=tollgate_model::MAX_TOKEN_DAYS).contains(&d)) {
            return Err(invalid(
                field.into(),
                format!("from 1 to {} days", tollgate_model::MAX_TOKEN_DAYS),
            ));
        }
    }
    let spec = ProjectSpec {
        key,
        name,
        end_date: body.subscription.end_date,
        products,
        max_token_days: body.subscription.max_token_days,
        max_service_token_days: body.subscription.max_service_token_days,
    };
    let origin = origin(&req);
    let put = db(&state, move |store| store.put_project(&operator, &origin, &spec)).await?;
    let location = paths::with_id(paths::PROJECT, &put.project.project.key);
    let body = details(put.project);
    Ok(if put.created {
        HttpResponse::Created()
            .insert_header((header::LOCATION, location))
            .json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// How the portal signs in: the demo picker, or Authorization Code with PKCE at the identity
/// provider (public: the portal asks before anyone is signed in).
#[utoipa::path(get, operation_id = "getSignInOptions", path = paths::SIGN_IN, tag = "account",
    responses(
        (status = 200, description = "How to sign in", body = SignInOptions),
        (status = 503, response = super::problems::Unavailable),
    ))]
pub async fn sign_in(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let oidc = match (&state.demo, &state.oidc_client) {
        (None, Some(client)) => {
            let found = state.verifier.discovery().await?;
            Some(OidcOptions {
                issuer: found.issuer,
                client_id: client.client_id.clone(),
                scopes: client.scopes.clone(),
                authorization_endpoint: found.authorization_endpoint,
                token_endpoint: found.token_endpoint,
                end_session_endpoint: found.end_session_endpoint,
            })
        }
        _ => None,
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(SignInOptions {
            demo: state.demo.is_some(),
            oidc,
        }))
}
