//! Webhooks of a project: what customer admins register, the events Tollgate sends them, and
//! the delivery log. Deliveries follow the Standard Webhooks specification.

use crate::{AuditTarget, UserRef};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

string_enum! {
    /// Something that happened in a project, as a webhook's `type`.
    pub enum EventType {
        TokenCreated = "token.created",
        TokenSecretRegenerated = "token.secret_regenerated",
        TokenDeleted = "token.deleted",
        /// Its secret was reported leaked and revoked.
        TokenRevoked = "token.revoked",
        TokenProductsSynced = "token.products_synced",
        /// A token's own expiry date comes closer: 30, 7 and 1 days before, each once.
        TokenExpiring = "token.expiring",
        /// A token's own expiry date has passed.
        TokenExpired = "token.expired",
        /// The project's name, end date or products changed.
        SubscriptionChanged = "subscription.changed",
        /// The subscription's end date comes closer: 30, 7 and 1 days before, each once.
        SubscriptionExpiring = "subscription.expiring",
        /// The subscription's end date has passed: every token of the project stopped working.
        SubscriptionExpired = "subscription.expired",
    }
}

/// A webhook: where Tollgate sends the project's events, and which.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Webhook {
    pub id: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The events it receives.
    pub events: Vec<EventType>,
    pub description: Option<String>,
    #[serde(deserialize_with = "crate::time::instant")]
    pub created_at: DateTime<Utc>,
    pub created_by: UserRef,
    /// Until when deliveries also carry a signature with the previous signing secret, after a
    /// rotation; absent when there is none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::time::optional_instant"
    )]
    pub previous_secret_until: Option<DateTime<Utc>>,
}

/// Rotate a webhook's signing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RotateWebhookSecret {
    /// Hours (0 to 168, default 24) during which every delivery also carries a signature with
    /// the previous secret, so that the receiver can switch without missing one. 0 ends the
    /// previous secret at once.
    #[serde(default, deserialize_with = "crate::time::optional_whole_u32")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 168))]
    pub overlap_hours: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WebhookList {
    pub items: Vec<Webhook>,
}

/// Register a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// An `https` (or `http`) URL without credentials, at most 2,000 characters. Private,
    /// loopback and link-local addresses are refused unless the operator allows them.
    pub url: String,
    /// At least one event.
    pub events: Vec<EventType>,
    /// Up to 256 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A webhook just registered, with its signing secret: shown this once, never again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreatedWebhook {
    pub webhook: Webhook,
    /// The Standard Webhooks signing secret (`whsec_` and base64): verify each delivery's
    /// `webhook-signature` with it.
    pub signing_secret: String,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not yet answered with a 2xx: `next_attempt_at` says when it is tried again.
    Pending,
    /// The receiver answered with a 2xx.
    Delivered,
    /// Every retry failed; "send again" tries once more.
    Failed,
}

/// One event sent (or to be sent) to one webhook: its entry in the delivery log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WebhookDelivery {
    /// The message id: the `webhook-id` header, the same on every attempt.
    pub id: String,
    pub event_type: EventType,
    /// When the event happened.
    #[serde(deserialize_with = "crate::time::instant")]
    pub created_at: DateTime<Utc>,
    pub state: DeliveryState,
    pub attempts: i32,
    #[serde(default, deserialize_with = "crate::time::optional_instant")]
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The receiver's HTTP status at the last attempt, when it answered.
    pub response_status: Option<u16>,
    /// Why the last attempt failed without an answer (timeout, refused, private address).
    pub error: Option<String>,
    /// How long the last attempt took, in milliseconds.
    pub duration_ms: Option<i64>,
    #[serde(default, deserialize_with = "crate::time::optional_instant")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The body that is sent: `type`, `timestamp` and `data`. (The portal shows no payload and
    /// does not read it: its bundle is smaller without.)
    #[cfg_attr(target_arch = "wasm32", serde(skip_deserializing))]
    pub payload: serde_json::Value,
}

/// The body of every delivery (Standard Webhooks): the event's type, when it happened, and what
/// it is about. No delivery carries a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WebhookMessage {
    #[serde(rename = "type")]
    pub event: EventType,
    /// When it happened (RFC 3339, microseconds).
    #[serde(serialize_with = "crate::time::micros", deserialize_with = "crate::time::instant")]
    pub timestamp: DateTime<Utc>,
    pub data: EventData,
}

/// What an event is about, by its kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(untagged)]
pub enum EventData {
    /// `token.created`, `token.secret_regenerated`, `token.deleted`, `token.revoked`,
    /// `token.products_synced`, `subscription.changed`.
    Change(ChangeEvent),
    /// `subscription.expiring`, `subscription.expired`.
    Subscription(SubscriptionNotice),
    /// `token.expiring`, `token.expired`.
    Token(TokenNotice),
}

/// A change made in a project, as its audit event records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChangeEvent {
    /// The project's key.
    pub project: String,
    /// Who made it: a user of the project, an operator, or a leak report.
    pub actor: UserRef,
    pub target: AuditTarget,
    /// What changed, as in the audit log (`details`).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: serde_json::Value,
    /// The audit event that records it.
    pub audit_event_id: String,
}

/// A subscription's end comes closer (30, 7 and 1 days before) or has passed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SubscriptionNotice {
    pub project: String,
    pub project_name: String,
    /// The subscription's last day.
    #[serde(deserialize_with = "crate::time::date")]
    pub end_date: NaiveDate,
    /// Days until that day (absent once it has passed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_left: Option<i64>,
}

/// A token's own last day comes closer (30, 7 and 1 days before) or has passed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TokenNotice {
    pub project: String,
    pub token: NamedRef,
    /// The token's own last day.
    #[serde(deserialize_with = "crate::time::date")]
    pub expires_on: NaiveDate,
    /// Days until that day (absent once it has passed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_left: Option<i64>,
}

/// Something named: its id and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NamedRef {
    pub id: String,
    pub name: String,
}
