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

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use tollgate_model::{paths, ErrorCode};
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
    let client = req
        .peer_addr()
        .and_then(|_| match req.app_data::<web::Data<AppState>>() {
            Some(state) => state.client(req).address(),
            None => Some(AppState::peer_ip(req)),
        });
    Origin {
        request_id: crate::error::REQUEST_ID.try_with(Clone::clone).unwrap_or_default(),
        client_address: client.map(|ip| ip.to_string()),
    }
}

/// A resource and its methods; every other method answers `405` with `Allow` naming these
/// (RFC 9110), as a problem.
pub struct Endpoint {
    resource: actix_web::Resource,
    allow: Vec<&'static str>,
}

/// Starts an [`Endpoint`] at `path`.
pub fn resource(path: &str) -> Endpoint {
    Endpoint {
        resource: web::resource(path),
        allow: Vec::new(),
    }
}

macro_rules! method {
    ($name:ident, $route:ident, $method:literal) => {
        pub fn $name<F, Args>(mut self, handler: F) -> Endpoint
        where
            F: actix_web::Handler<Args>,
            Args: actix_web::FromRequest + 'static,
            F::Output: actix_web::Responder + 'static,
        {
            self.allow.push($method);
            self.resource = self.resource.route(web::$route().to(handler));
            self
        }
    };
}

impl Endpoint {
    method!(get, get, "GET");
    method!(post, post, "POST");
    method!(put, put, "PUT");
    method!(delete, delete, "DELETE");
}

impl actix_web::dev::HttpServiceFactory for Endpoint {
    fn register(self, config: &mut actix_web::dev::AppService) {
        let allow = self.allow.join(", ");
        self.resource
            .default_service(web::to(move || {
                let allow = allow.clone();
                async move { method_not_allowed(allow) }
            }))
            .register(config)
    }
}

fn method_not_allowed(allow: String) -> HttpResponse {
    let error = ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("this resource supports {allow} only"),
    );
    let mut response = actix_web::ResponseError::error_response(&error);
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allow) {
        response.headers_mut().insert(actix_web::http::header::ALLOW, value);
    }
    response
}

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(ErrorCode::NotFound, "no such resource"))
}

/// A refusal for having failed (or asked) too often: `reply` builds the answer from the
/// message, which says how long to wait; `Retry-After` says it too, in whole seconds rounded up.
pub fn too_many(wait: std::time::Duration, what: &str, reply: impl FnOnce(&str) -> HttpResponse) -> HttpResponse {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = reply(&format!("too many {what} from your address; retry in {seconds} s"));
    response
        .headers_mut()
        .insert(actix_web::http::header::RETRY_AFTER, seconds.into());
    response
}

/// [`too_many`] answered as a problem.
pub fn too_many_problem(wait: std::time::Duration, what: &str) -> HttpResponse {
    too_many(wait, what, |message| {
        actix_web::ResponseError::error_response(&ApiError::new(ErrorCode::RateLimited, message))
    })
}

/// A page of a list as JSON, with `Link: <…>; rel="next"` (RFC 8288) beside `next_cursor`:
/// the same request with the next cursor.
pub fn page_response<T: serde::Serialize>(req: &HttpRequest, page: tollgate_model::Page<T>) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    if let Some(cursor) = &page.next_cursor {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (key, value) in form_urlencoded::parse(req.query_string().as_bytes()).filter(|(k, _)| k != "cursor") {
            query.append_pair(&key, &value);
        }
        query.append_pair("cursor", cursor);
        response.insert_header((
            actix_web::http::header::LINK,
            format!("<{}?{}>; rel=\"next\"", req.path(), query.finish()),
        ));
    }
    response.json(page)
}

/// The query of a newest-first list: where the previous page ended, and how many.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1–100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

impl PageParams {
    /// The store's page query, the size checked.
    pub fn query(self) -> Result<tollgate_store::PageQuery, ApiError> {
        Ok(tollgate_store::PageQuery {
            limit: page_limit(self.limit)?,
            cursor: self.cursor,
        })
    }
}

/// Bounds a page size: 1 to 100, 25 when absent.
pub fn page_limit(limit: Option<u32>) -> Result<i64, ApiError> {
    use tollgate_model::{PAGE_DEFAULT, PAGE_MAX, PAGE_MIN};
    match limit.unwrap_or(PAGE_DEFAULT) {
        n @ PAGE_MIN..=PAGE_MAX => Ok(i64::from(n)),
        _ => Err(ApiError::field(
            ErrorCode::InvalidParameter,
            "limit",
            format!("limit must be between {PAGE_MIN} and {PAGE_MAX}"),
        )),
    }
}

/// The registry gateway's secret checks: the hot path, answered by the ten thousand a second.
pub const GATEWAY_CHECKS: [&str; 3] = [paths::INTROSPECT, paths::REGISTRY_TOKEN, paths::FORWARD_AUTH];

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
