//! Forward auth's view of the original request: which header pair carries its method and URI is
//! configuration naming the proxy in front of the registry (`TOLLGATE_FORWARD_AUTH_PROXY`),
//! never a preference among what arrives. Traefik and Caddy copy the client's own headers to
//! the auth request, and nginx's `auth_request` does too: a pair the configured proxy does not
//! set can only be the client's, and a request that carries one is refused.

use actix_web::http::header::HeaderMap;

/// The proxy that asks `/auth/forward`, by the headers it sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ForwardAuthProxy {
    /// nginx `auth_request` with `proxy_set_header X-Original-URI $request_uri` and
    /// `X-Original-Method $request_method`.
    Nginx,
    /// Traefik `forwardAuth`: `X-Forwarded-Uri` and `X-Forwarded-Method`.
    Traefik,
    /// Caddy `forward_auth`: `X-Forwarded-Uri` and `X-Forwarded-Method`.
    Caddy,
}

const ORIGINAL: [&str; 2] = ["x-original-method", "x-original-uri"];
const FORWARDED: [&str; 2] = ["x-forwarded-method", "x-forwarded-uri"];

impl ForwardAuthProxy {
    /// The method and URI headers this proxy sets, and the pair it does not.
    fn pairs(self) -> ([&'static str; 2], [&'static str; 2]) {
        match self {
            ForwardAuthProxy::Nginx => (ORIGINAL, FORWARDED),
            ForwardAuthProxy::Traefik | ForwardAuthProxy::Caddy => (FORWARDED, ORIGINAL),
        }
    }

    /// The original request's method and URI as this proxy says them, or why the request
    /// cannot be believed.
    pub fn original(self, headers: &HeaderMap) -> Result<Original, String> {
        let ([method, uri], foreign) = self.pairs();
        if let Some(name) = foreign.iter().find(|n| headers.contains_key(**n)) {
            return Err(format!(
                "the auth request carries `{name}`, which the configured proxy ({self:?}) does not set: \
                 a client sent it; refused"
            ));
        }
        let one = |name: &str| -> Result<Option<String>, String> {
            let mut values = headers.get_all(name);
            let first = values.next();
            if values.next().is_some() {
                return Err(format!("the auth request carries `{name}` more than once; refused"));
            }
            Ok(first.and_then(|v| v.to_str().ok()).map(str::to_owned))
        };
        Ok(Original {
            method: one(method)?,
            uri: one(uri)?,
        })
    }

    /// The header names this proxy sends, for messages: (method, URI).
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            ForwardAuthProxy::Nginx => ("X-Original-Method", "X-Original-URI"),
            ForwardAuthProxy::Traefik | ForwardAuthProxy::Caddy => ("X-Forwarded-Method", "X-Forwarded-Uri"),
        }
    }
}

/// What the proxy says of the original request.
#[derive(Debug, PartialEq, Eq)]
pub struct Original {
    pub method: Option<String>,
    pub uri: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn each_proxy_is_read_through_its_own_pair_only() {
        let nginx = headers(&[("x-original-method", "GET"), ("x-original-uri", "/v2/a/b/manifests/1")]);
        assert_eq!(
            ForwardAuthProxy::Nginx.original(&nginx),
            Ok(Original {
                method: Some("GET".into()),
                uri: Some("/v2/a/b/manifests/1".into())
            })
        );
        let caddy = headers(&[("x-forwarded-method", "HEAD"), ("x-forwarded-uri", "/v2/")]);
        assert_eq!(
            ForwardAuthProxy::Caddy.original(&caddy).unwrap().method.as_deref(),
            Some("HEAD")
        );
        // The other proxy's pair is not read in place of the missing one.
        assert_eq!(
            ForwardAuthProxy::Traefik.original(&headers(&[])),
            Ok(Original {
                method: None,
                uri: None
            })
        );
    }

    /// Caddy and Traefik copy the client's headers: a client's `X-Original-*` (or, behind
    /// nginx, its `X-Forwarded-Uri`) is refused, never preferred and never ignored.
    #[test]
    fn a_pair_the_proxy_does_not_set_is_refused() {
        let injected = headers(&[
            ("x-forwarded-method", "PUT"),
            ("x-forwarded-uri", "/v2/wso2mi/x/blobs/uploads/"),
            ("x-original-method", "GET"),
            ("x-original-uri", "/v2/"),
        ]);
        for proxy in [
            ForwardAuthProxy::Caddy,
            ForwardAuthProxy::Traefik,
            ForwardAuthProxy::Nginx,
        ] {
            assert!(proxy.original(&injected).is_err(), "{proxy:?}");
        }
        let one = headers(&[("x-original-method", "GET"), ("x-forwarded-uri", "/v2/")]);
        assert!(ForwardAuthProxy::Nginx.original(&one).is_err());
        let twice = headers(&[("x-forwarded-method", "GET"), ("x-forwarded-method", "PUT")]);
        assert!(ForwardAuthProxy::Caddy.original(&twice).is_err());
    }
}
