//! What the route modules share: storage calls within the API's patience, the request's
//! origin for the audit log, resources that answer `405` with `Allow`, refusals for asking too
//! often, and pages of lists.

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
