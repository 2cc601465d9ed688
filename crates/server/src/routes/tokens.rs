//! `/api/v1/tokens`: generate, list, get, re-generate the secret, re-sync products, delete.

use super::common::{db, origin, page_limit};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, OptionalJson};
use crate::state::AppState;
use actix_web::{http::header, web, HttpRequest, HttpResponse};
use tollgate_model::paths;
use tollgate_model::{
    CreateToken, ErrorCode, IssuedToken, LoginInstructions, Name, Page, Problem, RegenerateSecret, Token, TokenKind,
    TokenListQuery, TokenUsage, PRINCIPAL_ID_MAX_CHARS, SEARCH_MAX_CHARS,
};
use tollgate_store::secret::PlainSecret;
use tollgate_store::{TokenFilter, TokenQuery, TokenTarget};

/// The store's query for a list request: every text checked here, where the request enters.
fn store_query(p: TokenListQuery) -> Result<TokenQuery, ApiError> {
    let text = |field: &'static str, value: Option<String>, max: usize| match value {
        Some(v) if v.chars().count() > max => Err(ApiError::field(
            ErrorCode::InvalidParameter,
            field,
            format!("{field} must be at most {max} characters"),
        )),
        Some(v) if v.chars().any(char::is_control) => Err(ApiError::field(
            ErrorCode::InvalidParameter,
            field,
            format!("{field} must not contain control characters"),
        )),
        v => Ok(v),
    };
    Ok(TokenQuery {
        filter: TokenFilter {
            kind: p.kind,
            status: p.status,
            created_for: text("created_for", p.created_for, PRINCIPAL_ID_MAX_CHARS)?,
            search: text("q", p.q, SEARCH_MAX_CHARS)?,
        },
        sort: p.sort.unwrap_or_default(),
        cursor: p.cursor,
        limit: page_limit(p.limit)?,
    })
}

/// Tokens the caller may see: their own for a customer, the project's for a customer admin.
#[utoipa::path(get, operation_id = "listTokens", path = paths::TOKENS, tag = "tokens", security(("bearer" = [])), params(TokenListQuery),
    responses(
        (status = 200, description = "A page of tokens", body = Page<Token>,
            headers(("Link" = String, description = "`<…>; rel=\"next\"`: the next page, when there is one"))),
        (status = 400, description = "An invalid query parameter, named in `field`", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = super::problems::Unauthenticated),
    ))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(actor): Caller,
    ApiQuery(p): ApiQuery<TokenListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = store_query(p)?;
    let page = db(&state, move |store| store.list_tokens(&actor, &query)).await?;
    Ok(super::common::page_response(&req, page))
}

/// Generates a token and its secret; the secret is in this response and never again.
#[utoipa::path(post, operation_id = "createToken", path = paths::TOKENS, tag = "tokens", security(("bearer" = [])), request_body = CreateToken,
    responses(
        (status = 201, description = "The token, its secret and login commands", body = IssuedToken,
            headers(("Location" = String, description = "The token's URL"))),
        (status = 401, response = super::problems::Unauthenticated),
        (status = 403, description = "Customers may not generate service tokens", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`service_user_id` names no service user of the project (`not_found`, with `field`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name is taken in the project (`name_taken`)", body = Problem, content_type = "application/problem+json"),
        super::problems::JsonBodyErrors,
    ))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(actor): Caller,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<HttpResponse, ApiError> {
    let target = match (body.kind, body.service_user_id) {
        (TokenKind::User, None) => TokenTarget::User,
        (TokenKind::Service, Some(id)) => TokenTarget::Service(id),
        (TokenKind::Service, None) => {
            return Err(ApiError::field(
                ErrorCode::InvalidField,
                "service_user_id",
                "a service token needs service_user_id",
            ))
        }
        (TokenKind::User, Some(_)) => {
            return Err(ApiError::field(
                ErrorCode::InvalidField,
                "service_user_id",
                "service_user_id is only for service tokens (kind `service`)",
            ))
        }
    };
    let name = Name::parse(&body.name)
        .map_err(|e| ApiError::field(ErrorCode::InvalidField, "name", format!("the name {e}")))?;
    let origin = origin(&req);
    let ends = body.expires_on;
    let (token, secret) = db(&state, move |store| {
        store.create_token(&actor, &origin, &name, &target, ends)
    })
    .await?;
    tracing::info!(token_id = %token.id, kind = token.kind.as_str(), "token generated");
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, paths::with_id(paths::TOKEN, &token.id)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(issued(&state.registry_host, token, &secret)))
}

/// One token the caller may see.
#[utoipa::path(get, operation_id = "getToken", path = paths::TOKEN, tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 200, description = "The token (never its secret)", body = Token),
        (status = 401, response = super::problems::Unauthenticated),
        (status = 404, response = super::problems::NotFound),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: web::Path<String>,
) -> Result<web::Json<Token>, ApiError> {
    let id = id.into_inner();
    Ok(web::Json(db(&state, move |store| store.get_token(&actor, &id)).await?))
}

/// Re-generates the secret: the old one stops working when this returns. An optional body
/// sets the token's new last day (extending or shortening it, within the subscription).
#[utoipa::path(post, operation_id = "regenerateTokenSecret", path = paths::TOKEN_SECRET, tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    request_body(content = RegenerateSecret, description = "Optional: the token's new last day"),
    responses(
        (status = 200, description = "The token, its new secret and login commands", body = IssuedToken),
        (status = 401, response = super::problems::Unauthenticated),
        (status = 404, response = super::problems::NotFound),
        super::problems::JsonBodyErrors,
    ))]
pub async fn regenerate_secret(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: web::Path<String>,
    OptionalJson(body): OptionalJson<RegenerateSecret>,
) -> Result<HttpResponse, ApiError> {
    let (id, origin) = (id.into_inner(), origin(&req));
    let ends = body.map(|b| b.expires_on);
    let (token, secret) = db(&state, move |store| store.regenerate_secret(&actor, &origin, &id, ends)).await?;
    tracing::info!(token_id = %token.id, "token secret re-generated");
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(issued(&state.registry_host, token, &secret)))
}

/// Re-syncs the token's products and end date with the project's subscription (customer admins).
#[utoipa::path(post, operation_id = "syncTokenProducts", path = paths::TOKEN_PRODUCTS_SYNC, tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 200, description = "The token with the subscription's products", body = Token),
        (status = 401, response = super::problems::Unauthenticated),
        (status = 403, description = "Customers may not re-sync", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = super::problems::NotFound),
    ))]
pub async fn sync_products(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: web::Path<String>,
) -> Result<web::Json<Token>, ApiError> {
    let (id, origin) = (id.into_inner(), origin(&req));
    Ok(web::Json(
        db(&state, move |store| store.sync_products(&actor, &origin, &id)).await?,
    ))
}

/// Deletes the token permanently; its secret stops working at once.
#[utoipa::path(delete, operation_id = "deleteToken", path = paths::TOKEN, tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = super::problems::Unauthenticated),
        (status = 404, response = super::problems::NotFound),
    ))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (id, origin) = (id.into_inner(), origin(&req));
    db(&state, move |store| store.delete_token(&actor, &origin, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn issued(registry: &str, token: Token, secret: &PlainSecret) -> IssuedToken {
    let username = token.registry_username.clone();
    let secret_name = kubernetes_name(&token.name);
    let login = LoginInstructions {
        registry: registry.to_owned(),
        docker_login: format!(
            "echo '{}' | docker login {registry} --username '{username}' --password-stdin",
            secret.expose()
        ),
        kubernetes_pull_secret: format!(
            "kubectl create secret docker-registry {secret_name} --docker-server={registry} \
             --docker-username='{username}' --docker-password='{}'",
            secret.expose()
        ),
        username,
    };
    IssuedToken {
        token,
        secret: secret.expose().to_owned(),
        login,
    }
}

/// A Kubernetes object name (DNS-1123 label) made from a token name.
fn kubernetes_name(token_name: &str) -> String {
    let mut name = String::new();
    for ch in token_name.to_lowercase().chars() {
        if ch.is_ascii_alphanumeric() {
            name.push(ch);
        } else if !name.ends_with('-') && !name.is_empty() {
            name.push('-');
        }
    }
    let name = name.trim_end_matches('-');
    let name: String = name
        .chars()
        .take(50)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned();
    if name.is_empty() {
        "registry-pull-secret".to_owned()
    } else {
        format!("{name}-pull")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn kubernetes_names_are_dns_labels() {
        assert_eq!(super::kubernetes_name("CI Token #1"), "ci-token-1-pull");
        assert_eq!(super::kubernetes_name("  ---  "), "registry-pull-secret");
        assert_eq!(super::kubernetes_name("Ünïcode"), "n-code-pull");
        assert!(super::kubernetes_name(&"a".repeat(64)).len() <= 63);
    }
}

/// A token's usage: when and from where it was last used, and its pulls on each of the last
/// 30 days (UTC). Pulls are written in batches, a few seconds after they happen.
#[utoipa::path(get, operation_id = "getTokenUsage", path = paths::TOKEN_USAGE, tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 200, description = "The token's usage", body = TokenUsage),
        (status = 401, response = super::problems::Unauthenticated),
        (status = 404, response = super::problems::NotFound),
    ))]
pub async fn usage(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: web::Path<String>,
) -> Result<web::Json<TokenUsage>, ApiError> {
    let id = id.into_inner();
    let today = chrono::Utc::now().date_naive();
    Ok(web::Json(
        db(&state, move |store| store.token_usage(&actor, &id, today)).await?,
    ))
}
