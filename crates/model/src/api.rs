//! Request and response bodies of the REST API (`/api/v1`).

use crate::problem::Problem;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

string_enum! {
    /// A portal user's role in their project.
    pub enum Role {
        Customer = "customer",
        CustomerAdmin = "customer_admin",
    }
}

string_enum! {
    /// Whom a token was made for: the person who generated it, or a service user.
    #[derive(Default)]
    pub enum TokenKind {
        #[default]
        User = "user",
        Service = "service",
    }
}

/// `active` until the end date of the token's subscription snapshot has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    Active,
    Expired,
    /// Its secret was reported leaked; re-generating it makes the token active again.
    Revoked,
}

/// A product of the vendor; it grants pulls of the repositories under `code/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Product {
    /// The registry namespace, e.g. `wso2am`.
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Project {
    pub key: String,
    pub name: String,
}

/// A project's subscription: what its tokens may pull, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Subscription {
    /// The last day on which the subscription is valid.
    #[serde(deserialize_with = "crate::time::date")]
    pub end_date: NaiveDate,
    /// The moment tokens stop working: the end of `end_date`, UTC.
    #[serde(deserialize_with = "crate::time::instant")]
    pub expires_at: DateTime<Utc>,
    pub products: Vec<Product>,
    /// The longest a user token may last, in days from when it is generated or re-generated
    /// (absent: up to `end_date`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_token_days: Option<u32>,
    /// The same for service tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_service_token_days: Option<u32>,
}

impl Subscription {
    /// The longest a token of `kind` may last, in days, if the subscription caps it.
    pub fn max_days(&self, kind: TokenKind) -> Option<u32> {
        match kind {
            TokenKind::User => self.max_token_days,
            TokenKind::Service => self.max_service_token_days,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UserRef {
    pub id: String,
    pub name: String,
}

/// The caller: who they are, their role, project and subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Me {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub project: Project,
    pub subscription: Subscription,
    /// The registry host that tokens log in to.
    pub registry_host: String,
    /// True when the server runs its built-in demo identity provider.
    pub demo_mode: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    User,
    ServiceUser,
}

/// Whom a token was created for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Principal {
    pub kind: PrincipalKind,
    pub id: String,
    pub name: String,
}

/// A registry token as every later response shows it: never with its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Token {
    pub id: String,
    pub name: String,
    pub kind: TokenKind,
    pub status: TokenStatus,
    /// The token's products or end date differ from the project's subscription: re-sync.
    pub out_of_sync: bool,
    pub products: Vec<Product>,
    #[serde(deserialize_with = "crate::time::date")]
    pub subscription_end_date: NaiveDate,
    #[serde(deserialize_with = "crate::time::instant")]
    pub expires_at: DateTime<Utc>,
    pub created_for: Principal,
    pub created_by: UserRef,
    #[serde(deserialize_with = "crate::time::instant")]
    pub created_at: DateTime<Utc>,
    /// The username for `docker login`; stable for the token's life.
    pub registry_username: String,
    /// The last four characters of the secret, to recognise it.
    pub secret_last4: String,
    /// The last successful check of the secret, to the minute: a use from the same address
    /// within a minute of the recorded one counts as a pull and leaves this as it is.
    #[serde(default, deserialize_with = "crate::time::optional_instant")]
    pub last_used_at: Option<DateTime<Utc>>,
    /// The client address of the last use (as a trusted proxy forwarded it).
    #[serde(default)]
    pub last_used_from: Option<String>,
    #[serde(default, deserialize_with = "crate::time::optional_instant")]
    pub secret_regenerated_at: Option<DateTime<Utc>>,
    /// The token's own last day, when it ends before its subscription; `expires_at` is the end
    /// of the earlier of the two.
    #[serde(default, deserialize_with = "crate::time::optional_date")]
    pub expires_on: Option<NaiveDate>,
    /// When the secret was reported leaked and revoked (status `revoked`), until re-generated.
    #[serde(default, deserialize_with = "crate::time::optional_instant")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why it was revoked.
    #[serde(default)]
    pub revocation_reason: Option<String>,
}

/// How a token was used: its last use, and its pulls on each of the last 30 days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenUsage {
    pub token_id: String,
    /// As the token's `last_used_at`: to the minute from one address.
    #[serde(default, deserialize_with = "crate::time::optional_instant")]
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_used_from: Option<String>,
    /// The last 30 days (UTC), oldest first, today last; days without a pull count 0.
    pub days: Vec<DayPulls>,
    /// The pulls of those 30 days.
    pub total: i64,
}

/// A day's pulls: each successful check of the token's secret (a registry login, an
/// introspection, a proxy's check) counts one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DayPulls {
    #[serde(deserialize_with = "crate::time::date")]
    pub day: NaiveDate,
    pub pulls: i64,
}

/// Secrets found where they should not be (a public repository, a paste, a log), reported by
/// anyone: each that is valid is revoked at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RevokeCredentials {
    /// Up to 1,000 secrets (`tgr_…`).
    pub credentials: Vec<String>,
}

/// One page of a list; `next_cursor` fetches the next page and is absent on the last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Generate a token. `kind` defaults to `user`; a `service` token names its service user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// 1–64 characters after trimming, no control or invisible formatting characters (Unicode
    /// Cc, Cf, Zl, Zp), unique in the project regardless of case.
    pub name: String,
    #[serde(default)]
    pub kind: TokenKind,
    /// Required for a `service` token, refused for a `user` token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_user_id: Option<String>,
    /// The token's own last day (`YYYY-MM-DD`, from today to the subscription's end date);
    /// without it, the token lasts as long as the subscription.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::time::optional_date"
    )]
    pub expires_on: Option<NaiveDate>,
}

/// Optional when re-generating a secret: a new last day for the token (from today to the
/// subscription's end), or `null` to let it end with its subscription. Without a body the
/// token keeps its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegenerateSecret {
    #[serde(deserialize_with = "crate::time::optional_date")]
    pub expires_on: Option<NaiveDate>,
}

/// Ready-to-run commands that log in to the registry with a new secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LoginInstructions {
    pub registry: String,
    pub username: String,
    /// `docker login` reading the secret from standard input.
    pub docker_login: String,
    /// `kubectl create secret docker-registry` for an `imagePullSecret`.
    pub kubernetes_pull_secret: String,
}

/// The one response that carries a secret: it is never shown again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct IssuedToken {
    pub token: Token,
    /// The secret. Store it now: Tollgate keeps only its digest.
    pub secret: String,
    pub login: LoginInstructions,
}

/// A service account of the project (a CI system, a cluster) with no portal access.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ServiceUser {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    #[serde(deserialize_with = "crate::time::instant")]
    pub created_at: DateTime<Utc>,
    pub created_by: UserRef,
    /// How many tokens were generated for it; it can be deleted only at zero.
    pub token_count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateServiceUser {
    /// Same rules as a token name; unique in the project regardless of case.
    pub name: String,
    /// Up to 256 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ServiceUserList {
    pub items: Vec<ServiceUser>,
}

string_enum! {
    /// What an audit event records was done.
    pub enum AuditAction {
        TokenGenerate = "token.generate",
        TokenSecretRegenerate = "token.secret.regenerate",
        TokenProductsSync = "token.products.sync",
        TokenDelete = "token.delete",
        ServiceUserCreate = "service_user.create",
        ServiceUserDelete = "service_user.delete",
        /// The token's secret was reported leaked and revoked.
        TokenRevoke = "token.revoke",
        ProjectCreate = "project.create",
        /// The project's name or subscription (end date, products) changed.
        ProjectUpdate = "project.update",
        WebhookCreate = "webhook.create",
        WebhookDelete = "webhook.delete",
        /// The webhook's signing secret was rotated (the previous one signs beside it until the
        /// overlap ends).
        WebhookSecretRotate = "webhook.secret.rotate",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditTarget {
    /// `token`, `service_user` or `project` (whose id is its key).
    #[serde(rename = "type")]
    pub target_type: String,
    pub id: String,
    pub name: String,
}

/// A change made in a project: who, what, to which target, when and from where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditEvent {
    pub id: String,
    #[serde(deserialize_with = "crate::time::instant")]
    pub occurred_at: DateTime<Utc>,
    pub actor: UserRef,
    pub action: AuditAction,
    pub target: AuditTarget,
    pub request_id: String,
    pub client_address: Option<String>,
    /// Facts about the change, e.g. the token kind or the products after a re-sync.
    pub details: Option<serde_json::Value>,
}

/// A user of the demo mode's built-in identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DemoUser {
    /// What to send as `user` to `POST /api/v1/demo/session`.
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub project: Project,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DemoSessionRequest {
    pub user: String,
}

/// A bearer token of the demo identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DemoSession {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until `access_token` expires.
    pub expires_in: u64,
    pub user: DemoUser,
}

/// An RFC 7662 introspection answer. An inactive secret answers `{"active": false}` only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Introspection {
    pub active: bool,
    /// The registry username of the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The token id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// `repository:<product>/*:pull` for each product, space-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// When the subscription ends (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// When the current secret was issued (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Always `registry_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// The project key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The product codes the token may pull.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub products: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_kind: Option<TokenKind>,
}

/// A Docker registry bearer token (the Distribution token authentication answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RegistryToken {
    /// A signed JWT whose `access` claim grants `pull` on the token's products only.
    pub token: String,
    /// The same JWT, for OAuth 2 clients.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// RFC 3339.
    #[serde(deserialize_with = "crate::time::instant")]
    pub issued_at: DateTime<Utc>,
    /// Asked for with `access_type=offline` (POST) or `offline_token=true` (GET): gets new
    /// registry tokens without the secret, until the secret is re-generated, the token
    /// deleted or its subscription ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The scopes granted, space-separated (OAuth2 answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// A project as an operator puts it: its display name and its subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PutProject {
    /// 1–64 characters.
    pub name: String,
    pub subscription: PutSubscription,
}

/// A subscription as an operator puts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PutSubscription {
    /// The last day on which the subscription is valid (`YYYY-MM-DD`).
    #[serde(deserialize_with = "crate::time::date")]
    pub end_date: NaiveDate,
    /// Every product of the subscription; a product left out is removed from it and from the
    /// project's tokens.
    pub products: Vec<PutProduct>,
    /// Caps user tokens' lifetime: at most this many days (1–3650) from when each is
    /// generated or re-generated; such tokens always get an end. Absent: no cap.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::time::optional_whole_u32"
    )]
    pub max_token_days: Option<u32>,
    /// The same for service tokens (e.g. 90).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::time::optional_whole_u32"
    )]
    pub max_service_token_days: Option<u32>,
}

/// The longest cap on a token's lifetime, in days (ten years).
pub const MAX_TOKEN_DAYS: u32 = 3650;

/// A product of a subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PutProduct {
    /// The registry namespace: lowercase letters and digits separated by single `.`, `_` or
    /// `-`, at most 64 characters.
    pub code: String,
    /// The display name; when absent, a known product keeps its name and a new one is named
    /// by its code.
    #[serde(default)]
    pub name: Option<String>,
}

/// A project and its current subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProjectDetails {
    pub key: String,
    pub name: String,
    pub subscription: Subscription,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProjectList {
    pub items: Vec<ProjectDetails>,
}

/// How the portal signs in: the demo picker, or the identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SignInOptions {
    /// The built-in demo identity provider: sign in by picking a demo user.
    pub demo: bool,
    /// The identity provider, when the portal can sign in with it.
    pub oidc: Option<OidcOptions>,
}

/// What a public client needs for Authorization Code with PKCE at the identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OidcOptions {
    pub issuer: String,
    pub client_id: String,
    /// Scopes to ask for, separated by spaces.
    pub scopes: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    /// Where sign-out ends the provider's session too, if the provider offers it.
    pub end_session_endpoint: Option<String>,
}

/// A refusal of the registry's endpoints (`/auth/token`, `/auth/forward`): a problem, with the
/// members that Docker, containerd and podman print (`details`, `errors`), and for the OAuth2
/// variant of the token endpoint the RFC 6749 `error` and `error_description`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RegistryProblem {
    #[serde(flatten)]
    pub problem: Problem,
    /// The reason, as Docker clients read it. Left out of forward auth's `403`: Distribution's
    /// client reads `details` before `errors` and would print a `403` as "unknown".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// The reason as a Distribution error (`UNAUTHORIZED`, `DENIED`, `TOOMANYREQUESTS`).
    pub errors: Vec<RegistryError>,
    /// RFC 6749 error code (`POST /auth/token` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// One error of the Distribution error format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RegistryError {
    pub code: String,
    pub message: String,
}
