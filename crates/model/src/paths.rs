//! Every route path, written once: the server registers and documents these, and the typed
//! client calls them. `{id}` stands for a path parameter.

/// The versioned REST API; everything under it that is not a route answers a 404 problem.
pub const API: &str = "/api/v1";
pub const ME: &str = "/api/v1/me";
pub const TOKENS: &str = "/api/v1/tokens";
pub const TOKEN: &str = "/api/v1/tokens/{id}";
pub const TOKEN_SECRET: &str = "/api/v1/tokens/{id}/secret";
pub const TOKEN_USAGE: &str = "/api/v1/tokens/{id}/usage";
pub const TOKEN_PRODUCTS_SYNC: &str = "/api/v1/tokens/{id}/products/sync";
pub const SERVICE_USERS: &str = "/api/v1/service-users";
pub const SERVICE_USER: &str = "/api/v1/service-users/{id}";
pub const AUDIT_EVENTS: &str = "/api/v1/audit-events";
pub const PROJECTS: &str = "/api/v1/projects";
pub const PROJECT: &str = "/api/v1/projects/{key}";
pub const SIGN_IN: &str = "/api/v1/sign-in";
pub const CREDENTIALS_REVOKE: &str = "/api/v1/credentials/revoke";
pub const WEBHOOKS: &str = "/api/v1/webhooks";
pub const WEBHOOK: &str = "/api/v1/webhooks/{id}";
pub const WEBHOOK_SECRET: &str = "/api/v1/webhooks/{id}/secret";
pub const WEBHOOK_DELIVERIES: &str = "/api/v1/webhooks/{id}/deliveries";
pub const WEBHOOK_REDELIVER: &str = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver";
pub const DEMO_USERS: &str = "/api/v1/demo/users";
pub const DEMO_SESSION: &str = "/api/v1/demo/session";
pub const DEMO_JWKS: &str = "/api/v1/demo/jwks.json";
pub const OPENAPI: &str = "/api/v1/openapi.json";
pub const INTROSPECT: &str = "/oauth2/introspect";
pub const REGISTRY_TOKEN: &str = "/auth/token";
pub const REGISTRY_CERTIFICATE: &str = "/auth/certificate.pem";
pub const REGISTRY_JWKS: &str = "/auth/jwks.json";
pub const FORWARD_AUTH: &str = "/auth/forward";
pub const HEALTH: &str = "/healthz";
pub const READINESS: &str = "/readyz";
pub const METRICS: &str = "/metrics";

/// The registry gateway's secret checks: the hot path, answered by the ten thousand a second
/// (metrics count them apart).
pub const GATEWAY_CHECKS: [&str; 3] = [INTROSPECT, REGISTRY_TOKEN, FORWARD_AUTH];

/// `template` with its `{id}` replaced by `id` (which the caller has made safe for a path).
/// By hand rather than with `str::replacen`: the portal's bundle has no room for a substring
/// searcher.
pub fn with_id(template: &str, id: &str) -> String {
    let (Some(open), Some(close)) = (template.find('{'), template.find('}')) else {
        return template.to_owned();
    };
    let mut path = String::with_capacity(template.len() + id.len());
    path.push_str(&template[..open]);
    path.push_str(id);
    path.push_str(&template[close + 1..]);
    path
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_id_takes_its_place() {
        assert_eq!(super::with_id(super::TOKEN_SECRET, "abc"), "/api/v1/tokens/abc/secret");
        assert_eq!(super::with_id(super::TOKENS, "abc"), "/api/v1/tokens");
    }
}
