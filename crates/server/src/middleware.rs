//! What wraps every request: a request id of the server's own, the request log and metrics,
//! and the security headers of every answer.

use crate::state::AppState;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::DefaultHeaders;
use actix_web::web;
use std::future::Future;
use std::time::Instant;

/// `nosniff` and `no-referrer` on every answer.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
}

/// Gives the request an id (in every problem, the log and `X-Request-Id`), then logs and
/// counts its answer by route pattern. For `App::wrap_fn`: nothing boxed on the hot path.
pub fn request_log<S, B>(
    req: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let request_id = request_id();
    let (method, path, started) = (req.method().clone(), req.path().to_owned(), Instant::now());
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.gateway.metrics.clone());
    let call = crate::error::REQUEST_ID.scope(request_id.clone(), service.call(req));
    async move {
        let res = call.await?;
        Ok(finish(res, &request_id, &method, &path, started, metrics.as_deref()))
    }
}

/// Counts, logs and names the answer.
fn finish<B>(
    mut res: ServiceResponse<B>,
    request_id: &str,
    method: &actix_web::http::Method,
    path: &str,
    started: Instant,
    metrics: Option<&crate::metrics::Metrics>,
) -> ServiceResponse<B> {
    let status = res.status();
    // The gateway's checks have static paths, matched by the thousand a second: a success on
    // one of them names its pattern without a second walk through the routes.
    let gateway_check = tollgate_model::paths::GATEWAY_CHECKS
        .into_iter()
        .find(|check| status.is_success() && *check == path);
    let pattern = match gateway_check {
        Some(check) => Some(std::borrow::Cow::Borrowed(check)),
        None => res.request().match_pattern().map(std::borrow::Cow::Owned),
    };
    let endpoint = pattern.as_deref().unwrap_or("unmatched");
    let seconds = started.elapsed().as_secs_f64();
    if let Some(metrics) = metrics {
        metrics.request(endpoint, status.as_str(), seconds);
    }
    // The path only: no query string, no headers, so no credential reaches the log.
    macro_rules! log_request {
        ($level:ident) => {
            tracing::$level!(
                request_id = %request_id,
                %method,
                path = %path,
                status = status.as_u16(),
                duration_ms = seconds * 1000.0,
                "request"
            )
        };
    }
    // The gateway's successful checks come by the ten thousand a second: /metrics counts them
    // and last_used_at records them, so they log at debug only.
    if gateway_check.is_some() {
        log_request!(debug);
    } else {
        log_request!(info);
    }
    if let Ok(value) = HeaderValue::from_str(request_id) {
        res.headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), value);
    }
    res
}

/// A request id of this server's making: this process' random prefix and a counter, unique
/// without a random draw per request. A caller's `X-Request-Id` is never taken: the audit log
/// records it as a fact, and a caller must not be able to choose (or collide) it.
fn request_id() -> String {
    static PREFIX: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| uuid::Uuid::new_v4().simple().to_string()[..12].to_owned());
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // As `format!("{prefix}-{n:010x}")` (at least ten hex digits), without the formatting
    // machinery on every request.
    let digits = (16 - n.leading_zeros() as usize / 4).max(10);
    let mut id = String::with_capacity(PREFIX.len() + 1 + digits);
    id.push_str(&PREFIX);
    id.push('-');
    for shift in (0..digits).rev() {
        id.push(char::from(b"0123456789abcdef"[((n >> (shift * 4)) & 0xf) as usize]));
    }
    id
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_are_the_prefix_and_at_least_ten_hex_digits_of_a_counter() {
        let (a, b) = (super::request_id(), super::request_id());
        let (prefix, n) = a.split_once('-').unwrap();
        assert_eq!(prefix.len(), 12);
        assert_eq!(n.len(), 10);
        let next = u64::from_str_radix(b.split_once('-').unwrap().1, 16).unwrap();
        assert!(next > u64::from_str_radix(n, 16).unwrap(), "{a} then {b}");
    }
}
