//! The webhooks' outbox: a change that webhooks may be told of writes one delivery row per
//! interested webhook in the change's own transaction, so that no event is lost to a crash
//! between the change and its delivery; the unit of work wakes this node's sender after the
//! commit.

use crate::schema::{projects, webhook_deliveries, webhooks};
use crate::{new_id, now, utc, DbConn, Result};
use diesel::prelude::*;
use tollgate_model::{AuditAction, EventData, EventType, WebhookMessage};

/// The events a webhook's `events` column names.
pub(crate) fn parse_events(text: &str) -> Vec<EventType> {
    text.split(',').filter_map(EventType::parse).collect()
}

/// Writes one delivery of `event` to each webhook of the project that wants it, in the
/// caller's transaction: `data` makes the payload's data from the project's key, only when a
/// webhook wants the event (most changes are in projects without one). It never holds a secret.
/// Whether a delivery was written.
pub(crate) fn enqueue(
    c: &mut DbConn,
    project_id: &str,
    event: EventType,
    data: impl FnOnce(&str) -> EventData,
) -> Result<bool> {
    let hooks: Vec<(String, String)> = webhooks::table
        .filter(webhooks::project_id.eq(project_id))
        .select((webhooks::id, webhooks::events))
        .load(c)?;
    let wanted: Vec<String> = hooks
        .into_iter()
        .filter(|(_, events)| parse_events(events).contains(&event))
        .map(|(id, _)| id)
        .collect();
    if wanted.is_empty() {
        return Ok(false);
    }
    let project: String = projects::table.find(project_id).select(projects::key).first(c)?;
    let data = data(&project);
    let at = now();
    let message = WebhookMessage {
        event,
        timestamp: utc(at),
        data,
    };
    let payload = serde_json::to_string(&message).map_err(|e| crate::StoreError::Unavailable(e.to_string()))?;
    for webhook_id in wanted {
        diesel::insert_into(webhook_deliveries::table)
            .values((
                webhook_deliveries::id.eq(new_id()),
                webhook_deliveries::webhook_id.eq(&webhook_id),
                webhook_deliveries::event_type.eq(event.as_str()),
                webhook_deliveries::payload.eq(&payload),
                webhook_deliveries::created_at.eq(at),
                webhook_deliveries::state.eq("pending"),
                webhook_deliveries::attempts.eq(0),
                webhook_deliveries::next_attempt_at.eq(Some(at)),
            ))
            .execute(c)?;
    }
    Ok(true)
}

/// The webhook event an audited change is, if any.
pub(crate) fn event_of(action: AuditAction) -> Option<EventType> {
    Some(match action {
        AuditAction::TokenGenerate => EventType::TokenCreated,
        AuditAction::TokenSecretRegenerate => EventType::TokenSecretRegenerated,
        AuditAction::TokenDelete => EventType::TokenDeleted,
        AuditAction::TokenRevoke => EventType::TokenRevoked,
        AuditAction::TokenProductsSync => EventType::TokenProductsSynced,
        AuditAction::ProjectUpdate => EventType::SubscriptionChanged,
        AuditAction::ProjectCreate
        | AuditAction::ServiceUserCreate
        | AuditAction::ServiceUserDelete
        | AuditAction::WebhookCreate
        | AuditAction::WebhookDelete
        | AuditAction::WebhookSecretRotate => return None,
    })
}
