//! Webhooks and their outbox. Every change that a webhook may be told of writes one delivery
//! row per interested webhook in the change's own transaction ([`enqueue`]), so no event is
//! lost to a crash between the change and the delivery. Nodes claim due deliveries with a
//! lease (a compare-and-set on the row), send them, and record the outcome only while they
//! still hold the lease: two nodes never send one delivery at the same time.

use crate::audit::{Entry, Target as AuditTarget};
use crate::cursor::{self, PageQuery};
use crate::outbox::parse_events;
use crate::policy::{self, Operation, Target};
use crate::schema::{leases, lifecycle_notices, projects, tokens, webhook_deliveries, webhooks};
use crate::{is_id, new_id, now, utc, Actor, DbConn, Origin, Result, Store, StoreError};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use tollgate_model::{
    AuditAction, DeliveryState, Description, EventData, EventType, NamedRef, Page, SubscriptionNotice, TokenNotice,
    UserRef, Webhook, WebhookDelivery,
};

/// Webhooks a project may have: each change is sent to every one of them.
pub const MAX_WEBHOOKS: i64 = 20;

fn require_admin(actor: &Actor) -> Result<()> {
    policy::check(actor, Operation::ManageWebhooks, Target::Project)
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhooks)]
struct WebhookRow {
    id: String,
    url: String,
    events: String,
    description: Option<String>,
    created_by: String,
    created_by_name: String,
    created_at: NaiveDateTime,
    previous_secret_until: Option<NaiveDateTime>,
}

impl WebhookRow {
    fn into_api(self) -> Webhook {
        Webhook {
            events: parse_events(&self.events),
            id: self.id,
            url: self.url,
            description: self.description,
            created_at: utc(self.created_at),
            previous_secret_until: self.previous_secret_until.filter(|until| *until > now()).map(utc),
            created_by: UserRef {
                id: self.created_by,
                name: self.created_by_name,
            },
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
struct DeliveryRow {
    id: String,
    event_type: String,
    payload: String,
    created_at: NaiveDateTime,
    state: String,
    attempts: i32,
    next_attempt_at: Option<NaiveDateTime>,
    last_attempt_at: Option<NaiveDateTime>,
    last_status: Option<i32>,
    last_error: Option<String>,
    last_duration_ms: Option<i64>,
}

impl DeliveryRow {
    fn into_api(self) -> Option<WebhookDelivery> {
        Some(WebhookDelivery {
            event_type: EventType::parse(&self.event_type)?,
            id: self.id,
            created_at: utc(self.created_at),
            state: match self.state.as_str() {
                "pending" => DeliveryState::Pending,
                "delivered" => DeliveryState::Delivered,
                _ => DeliveryState::Failed,
            },
            attempts: self.attempts,
            last_attempt_at: self.last_attempt_at.map(utc),
            response_status: self.last_status.and_then(|s| u16::try_from(s).ok()),
            error: self.last_error,
            duration_ms: self.last_duration_ms,
            next_attempt_at: self.next_attempt_at.map(utc),
            payload: serde_json::from_str(&self.payload).unwrap_or(serde_json::Value::Null),
        })
    }
}

/// A delivery a node has claimed: what to send, where, and with which keys.
#[derive(Clone)]
pub struct Claimed {
    pub id: String,
    pub url: String,
    /// The webhook's signing secret, and its previous one while a rotation's overlap lasts:
    /// the delivery carries a signature with each.
    pub signing_secrets: Vec<String>,
    pub payload: String,
    /// Attempts before this one.
    pub attempts: i32,
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub at: NaiveDateTime,
    /// The receiver's status, when it answered.
    pub status: Option<u16>,
    /// Why there was no answer.
    pub error: Option<String>,
    pub duration_ms: i64,
    /// When to try again after a failure; `None`: no retry is left.
    pub retry_at: Option<NaiveDateTime>,
}

impl std::fmt::Debug for Claimed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Claimed({}, attempt {})", self.id, self.attempts + 1)
    }
}

/// The context a webhook's secrets are sealed for: its row.
fn sealed_for(webhook_id: &str) -> String {
    format!("webhooks/{webhook_id}/signing_secret")
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

impl Store {
    pub fn list_webhooks(&self, actor: &Actor) -> Result<Vec<Webhook>> {
        require_admin(actor)?;
        let rows: Vec<WebhookRow> = self.read(|c| {
            Ok(webhooks::table
                .filter(webhooks::project_id.eq(&actor.project_id))
                .order((webhooks::created_at.asc(), webhooks::id.asc()))
                .select(WebhookRow::as_select())
                .load(c)?)
        })?;
        Ok(rows.into_iter().map(WebhookRow::into_api).collect())
    }

    pub fn webhook(&self, actor: &Actor, id: &str) -> Result<Webhook> {
        require_admin(actor)?;
        self.read(|c| find(c, actor, id)).map(WebhookRow::into_api)
    }

    /// Registers a webhook; the caller has checked `url` and made `signing_secret`.
    pub fn create_webhook(
        &self,
        actor: &Actor,
        origin: &Origin,
        url: &str,
        events: &[EventType],
        description: Option<&Description>,
        signing_secret: &str,
    ) -> Result<Webhook> {
        require_admin(actor)?;
        let mut events = events.to_vec();
        events.sort();
        events.dedup();
        if events.is_empty() {
            return Err(StoreError::invalid("events", "name at least one event"));
        }
        let events_text = events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(",");
        let description = description.map(Description::as_str);
        let keys = self.sealing_keys()?;
        self.write(|c, fx| {
            let existing: i64 = webhooks::table
                .filter(webhooks::project_id.eq(&actor.project_id))
                .count()
                .get_result(c)?;
            if existing >= MAX_WEBHOOKS {
                return Err(StoreError::invalid(
                    "url",
                    format!("a project has at most {MAX_WEBHOOKS} webhooks; delete one first"),
                ));
            }
            let id = new_id();
            let signing_secret = keys.seal(signing_secret, &sealed_for(&id));
            diesel::insert_into(webhooks::table)
                .values((
                    webhooks::id.eq(&id),
                    webhooks::project_id.eq(&actor.project_id),
                    webhooks::url.eq(url),
                    webhooks::events.eq(&events_text),
                    webhooks::description.eq(description),
                    webhooks::signing_secret.eq(&signing_secret),
                    webhooks::created_by.eq(&actor.user_id),
                    webhooks::created_by_name.eq(&actor.name),
                    webhooks::created_at.eq(now()),
                ))
                .execute(c)?;
            let details = serde_json::json!({ "url": url, "events": events });
            fx.audit(Entry::of(
                actor,
                origin,
                AuditAction::WebhookCreate,
                AuditTarget::webhook(&id, url),
                details,
            ));
            find(c, actor, &id).map(WebhookRow::into_api)
        })
    }

    /// Deletes a webhook and its delivery log; what it had not yet received is not sent.
    pub fn delete_webhook(&self, actor: &Actor, origin: &Origin, id: &str) -> Result<()> {
        require_admin(actor)?;
        self.write(|c, fx| {
            let found = find(c, actor, id)?;
            diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::webhook_id.eq(&found.id)))
                .execute(c)?;
            diesel::delete(webhooks::table.filter(webhooks::id.eq(&found.id))).execute(c)?;
            fx.audit(Entry::of(
                actor,
                origin,
                AuditAction::WebhookDelete,
                AuditTarget::webhook(&found.id, &found.url),
                serde_json::json!({}),
            ));
            Ok(())
        })
    }

    /// Gives the webhook a new signing secret (made by the caller); the current one goes on
    /// signing beside it until `overlap` has passed (none: it ends at once).
    pub fn rotate_webhook_secret(
        &self,
        actor: &Actor,
        origin: &Origin,
        id: &str,
        signing_secret: &str,
        overlap: chrono::Duration,
    ) -> Result<Webhook> {
        require_admin(actor)?;
        let keys = self.sealing_keys()?;
        self.write(|c, fx| {
            let found = find(c, actor, id)?;
            let current: String = webhooks::table
                .find(&found.id)
                .select(webhooks::signing_secret)
                .first(c)?;
            let context = sealed_for(&found.id);
            let until = (overlap > chrono::Duration::zero()).then(|| now() + overlap);
            diesel::update(webhooks::table.find(&found.id))
                .set((
                    webhooks::signing_secret.eq(keys.seal(signing_secret, &context)),
                    webhooks::previous_signing_secret.eq(until.map(|_| current)),
                    webhooks::previous_secret_until.eq(until),
                ))
                .execute(c)?;
            fx.audit(Entry::of(
                actor,
                origin,
                AuditAction::WebhookSecretRotate,
                AuditTarget::webhook(&found.id, &found.url),
                serde_json::json!({ "previous_secret_until": until.map(utc) }),
            ));
            find(c, actor, &found.id).map(WebhookRow::into_api)
        })
    }

    /// Seals every webhook secret that is not sealed under the current key (in clear from
    /// before sealing, or under a previous key); returns how many were sealed anew. A secret
    /// sealed under a key this node does not have is an error that names the key, before
    /// anything is written.
    pub fn reseal_webhook_secrets(&self, only_clear: bool) -> Result<usize> {
        let keys = self.sealing_keys()?;
        type Row = (String, String, Option<String>);
        let rows: Vec<Row> = self.read(|c| {
            Ok(webhooks::table
                .select((
                    webhooks::id,
                    webhooks::signing_secret,
                    webhooks::previous_signing_secret,
                ))
                .load(c)?)
        })?;
        let open = |text: &str, context: &str| -> Result<String> {
            if crate::sealing::SealingKeys::is_sealed(text) {
                keys.open(text, context)
                    .map_err(|e| StoreError::Unavailable(e.to_string()))
            } else {
                Ok(text.to_owned())
            }
        };
        let stale = |text: &str| {
            if only_clear {
                !crate::sealing::SealingKeys::is_sealed(text)
            } else {
                !keys.is_current(text)
            }
        };
        let unknown: Vec<&str> = rows
            .iter()
            .flat_map(|(_, current, previous)| std::iter::once(current).chain(previous))
            .filter(|text| !keys.knows(text))
            .filter_map(|text| crate::sealing::SealingKeys::key_id(text))
            .collect();
        if let Some(id) = unknown.first() {
            return Err(StoreError::Unavailable(
                crate::sealing::SealError::UnknownKey((*id).to_owned()).to_string(),
            ));
        }
        let mut updates = Vec::new();
        for (id, current, previous) in rows {
            if !stale(&current) && previous.as_deref().is_none_or(|p| !stale(p)) {
                continue;
            }
            let context = sealed_for(&id);
            let current = keys.seal(&open(&current, &context)?, &context);
            let previous = match previous {
                Some(p) => Some(keys.seal(&open(&p, &context)?, &context)),
                None => None,
            };
            updates.push((id, current, previous));
        }
        if updates.is_empty() {
            return Ok(0);
        }
        let resealed = self.write(|c, _| {
            for (id, current, previous) in &updates {
                diesel::update(webhooks::table.find(id))
                    .set((
                        webhooks::signing_secret.eq(current),
                        webhooks::previous_signing_secret.eq(previous),
                    ))
                    .execute(c)?;
            }
            Ok(updates.len())
        })?;
        if self.backend() == crate::Backend::Sqlite {
            // The pages written before sit in the write-ahead log until a checkpoint: copy them
            // into the file and empty the log now (best effort: a reader may hold it).
            let _ = self.query(|c| {
                use diesel::connection::SimpleConnection;
                Ok(c.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")?)
            });
        }
        Ok(resealed)
    }

    /// A webhook's deliveries, newest first.
    pub fn webhook_deliveries(&self, actor: &Actor, id: &str, query: &PageQuery) -> Result<Page<WebhookDelivery>> {
        require_admin(actor)?;
        let load = |after: Option<&str>, n: i64| {
            self.read(|c| {
                let hook = find(c, actor, id)?;
                let mut q = webhook_deliveries::table
                    .filter(webhook_deliveries::webhook_id.eq(&hook.id))
                    .order(webhook_deliveries::id.desc())
                    .limit(n)
                    .select(DeliveryRow::as_select())
                    .into_boxed();
                if let Some(after) = after {
                    q = q.filter(webhook_deliveries::id.lt(after));
                }
                Ok(q.load(c)?)
            })
        };
        cursor::newest_first(query, load, |r: &DeliveryRow| &r.id, DeliveryRow::into_api)
    }

    /// "Send again": the delivery is due now, whatever its state; the message id stays, so
    /// that a receiver that already has it can tell.
    pub fn redeliver(&self, actor: &Actor, webhook_id: &str, delivery_id: &str) -> Result<WebhookDelivery> {
        require_admin(actor)?;
        if !is_id(delivery_id) {
            return Err(StoreError::NotFound);
        }
        let row = self.write(|c, fx| {
            let hook = find(c, actor, webhook_id)?;
            let target = webhook_deliveries::table
                .filter(webhook_deliveries::id.eq(delivery_id))
                .filter(webhook_deliveries::webhook_id.eq(&hook.id));
            let changed = diesel::update(target)
                .set((
                    webhook_deliveries::state.eq("pending"),
                    webhook_deliveries::next_attempt_at.eq(Some(now())),
                ))
                .execute(c)?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            fx.enqueued();
            Ok(target.select(DeliveryRow::as_select()).first(c)?)
        })?;
        row.into_api().ok_or(StoreError::NotFound)
    }

    /// Claims up to `max` due deliveries for `node` until `lease_until`. A delivery whose lease
    /// another node holds is left alone; one whose lease ran out (its node died mid-send) is
    /// due again.
    pub fn claim_deliveries(
        &self,
        node: &str,
        at: NaiveDateTime,
        lease_until: NaiveDateTime,
        max: i64,
    ) -> Result<Vec<Claimed>> {
        let candidates: Vec<String> = self.read(|c| {
            Ok(webhook_deliveries::table
                .filter(webhook_deliveries::state.eq("pending"))
                .filter(webhook_deliveries::next_attempt_at.le(at))
                .filter(
                    webhook_deliveries::lease_until
                        .is_null()
                        .or(webhook_deliveries::lease_until.lt(at)),
                )
                .order(webhook_deliveries::next_attempt_at.asc())
                .limit(max)
                .select(webhook_deliveries::id)
                .load(c)?)
        })?;
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let keys = self.sealing_keys()?;
        self.write(|c, _| {
            let mut claimed = Vec::new();
            for id in &candidates {
                // The compare-and-set: on PostgreSQL a concurrent claim of the same row waits
                // for this transaction and then finds the lease taken.
                let won = diesel::update(
                    webhook_deliveries::table
                        .filter(webhook_deliveries::id.eq(id))
                        .filter(webhook_deliveries::state.eq("pending"))
                        .filter(webhook_deliveries::next_attempt_at.le(at))
                        .filter(
                            webhook_deliveries::lease_until
                                .is_null()
                                .or(webhook_deliveries::lease_until.lt(at)),
                        ),
                )
                .set((
                    webhook_deliveries::lease_owner.eq(Some(node)),
                    webhook_deliveries::lease_until.eq(Some(lease_until)),
                ))
                .execute(c)?;
                if won == 1 {
                    type Row = (
                        String,
                        i32,
                        String,
                        String,
                        String,
                        Option<String>,
                        Option<NaiveDateTime>,
                    );
                    let (payload, attempts, webhook_id, url, current, previous, previous_until): Row =
                        webhook_deliveries::table
                            .inner_join(webhooks::table)
                            .filter(webhook_deliveries::id.eq(id))
                            .select((
                                webhook_deliveries::payload,
                                webhook_deliveries::attempts,
                                webhooks::id,
                                webhooks::url,
                                webhooks::signing_secret,
                                webhooks::previous_signing_secret,
                                webhooks::previous_secret_until,
                            ))
                            .first(c)?;
                    let context = sealed_for(&webhook_id);
                    let previous = previous.filter(|_| previous_until.is_some_and(|until| until > at));
                    // A secret in clear was written by a node of the release before sealing
                    // (during a rolling upgrade): it signs as it is, and housekeeping seals it.
                    let signing_secrets = std::iter::once(current)
                        .chain(previous)
                        .map(|stored| match crate::sealing::SealingKeys::is_sealed(&stored) {
                            true => keys.open(&stored, &context),
                            false => Ok(stored),
                        })
                        .collect::<std::result::Result<Vec<_>, _>>()
                        .map_err(|e| StoreError::Unavailable(format!("webhook {webhook_id}: {e}")))?;
                    claimed.push(Claimed {
                        id: id.clone(),
                        url,
                        signing_secrets,
                        payload,
                        attempts,
                    });
                }
            }
            Ok(claimed)
        })
    }

    /// The outbox now: deliveries waiting to be sent (due or retrying), and how long the
    /// oldest of them has waited.
    pub fn outbox_state(&self) -> Result<(i64, Option<chrono::Duration>)> {
        let (pending, oldest): (i64, Option<NaiveDateTime>) = self.query(|c| {
            Ok(webhook_deliveries::table
                .filter(webhook_deliveries::state.eq("pending"))
                .select((
                    diesel::dsl::count_star(),
                    diesel::dsl::min(webhook_deliveries::created_at),
                ))
                .first(c)?)
        })?;
        Ok((pending, oldest.map(|at| now() - at)))
    }

    /// Records how an attempt ended, if `node` still holds the delivery's lease.
    pub fn finish_delivery(&self, id: &str, node: &str, attempt: &Attempt) -> Result<bool> {
        let state = if attempt.succeeded() {
            "delivered"
        } else if attempt.retry_at.is_some() {
            "pending"
        } else {
            "failed"
        };
        let next = if state == "pending" { attempt.retry_at } else { None };
        let changed = self.write(|c, _| {
            Ok(diesel::update(
                webhook_deliveries::table
                    .filter(webhook_deliveries::id.eq(id))
                    .filter(webhook_deliveries::lease_owner.eq(node)),
            )
            .set((
                webhook_deliveries::state.eq(state),
                webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
                webhook_deliveries::next_attempt_at.eq(next),
                webhook_deliveries::lease_owner.eq(None::<String>),
                webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
                webhook_deliveries::last_attempt_at.eq(Some(attempt.at)),
                webhook_deliveries::last_status.eq(attempt.status.map(i32::from)),
                webhook_deliveries::last_error.eq(attempt.error.as_deref()),
                webhook_deliveries::last_duration_ms.eq(Some(attempt.duration_ms)),
            ))
            .execute(c)?)
        })?;
        Ok(changed == 1)
    }

    /// Takes (or keeps) the lease `name` for `node` until `until`: true while this node holds it.
    pub fn take_lease(&self, name: &str, node: &str, at: NaiveDateTime, until: NaiveDateTime) -> Result<bool> {
        self.write(|c, _| {
            let renewed = diesel::update(
                leases::table
                    .filter(leases::name.eq(name))
                    .filter(leases::owner.eq(node).or(leases::until_at.lt(at))),
            )
            .set((leases::owner.eq(node), leases::until_at.eq(until)))
            .execute(c)?;
            if renewed == 1 {
                return Ok(true);
            }
            let exists: i64 = leases::table.filter(leases::name.eq(name)).count().get_result(c)?;
            if exists > 0 {
                return Ok(false);
            }
            diesel::insert_into(leases::table)
                .values((
                    leases::name.eq(name),
                    leases::owner.eq(node),
                    leases::until_at.eq(until),
                ))
                .execute(c)?;
            Ok(true)
        })
    }

    /// The expiry reminders due on `today`: `expiring` 30, 7 and 1 days before a subscription's
    /// (or a token's own) last day and `expired` after it, each once per last day, for projects
    /// with webhooks. After a pause only the most imminent reminder is sent. Returns how many
    /// events were written.
    pub fn send_expiry_reminders(&self, today: NaiveDate) -> Result<usize> {
        let window = (today - chrono::Days::new(31), today + chrono::Days::new(31));
        self.write(|c, fx| {
            let with_hooks = webhooks::table.select(webhooks::project_id).distinct();
            let due_projects: Vec<(String, String, String, NaiveDate)> = projects::table
                .filter(projects::id.eq_any(with_hooks))
                .filter(projects::subscription_end_date.between(window.0, window.1))
                .select((
                    projects::id,
                    projects::key,
                    projects::name,
                    projects::subscription_end_date,
                ))
                .load(c)?;
            let mut sent = 0;
            for (id, key, name, end) in due_projects {
                if let Some((notice, days_left)) = remind(c, &id, end, today)? {
                    let (event, days_left) = match notice {
                        Notice::Expired => (EventType::SubscriptionExpired, None),
                        Notice::Expiring(_) => (EventType::SubscriptionExpiring, Some(days_left)),
                    };
                    let data = EventData::Subscription(SubscriptionNotice {
                        project: key,
                        project_name: name,
                        end_date: end,
                        days_left,
                    });
                    if crate::outbox::enqueue(c, &id, event, |_| data)? {
                        fx.enqueued();
                    }
                    sent += 1;
                }
            }
            // Tokens that end before their subscription: their own reminders.
            let with_hooks = webhooks::table.select(webhooks::project_id).distinct();
            let due_tokens: Vec<(String, String, String, NaiveDate, String, NaiveDate)> = tokens::table
                .inner_join(projects::table.on(projects::id.eq(tokens::project_id)))
                .filter(tokens::project_id.eq_any(with_hooks))
                .filter(tokens::expires_on.between(window.0, window.1))
                .select((
                    tokens::id,
                    tokens::name,
                    tokens::project_id,
                    tokens::expires_on.assume_not_null(),
                    projects::key,
                    projects::subscription_end_date,
                ))
                .load(c)?;
            for (id, name, project_id, own, key, subscription_end) in due_tokens {
                if own >= subscription_end {
                    continue;
                }
                if let Some((notice, days_left)) = remind(c, &id, own, today)? {
                    let (event, days_left) = match notice {
                        Notice::Expired => (EventType::TokenExpired, None),
                        Notice::Expiring(_) => (EventType::TokenExpiring, Some(days_left)),
                    };
                    let data = EventData::Token(TokenNotice {
                        project: key,
                        token: NamedRef { id, name },
                        expires_on: own,
                        days_left,
                    });
                    if crate::outbox::enqueue(c, &project_id, event, |_| data)? {
                        fx.enqueued();
                    }
                    sent += 1;
                }
            }
            Ok(sent)
        })
    }
}

fn find(c: &mut DbConn, actor: &Actor, id: &str) -> Result<WebhookRow> {
    if !is_id(id) {
        return Err(StoreError::NotFound);
    }
    webhooks::table
        .filter(webhooks::id.eq(id))
        .filter(webhooks::project_id.eq(&actor.project_id))
        .select(WebhookRow::as_select())
        .first(c)
        .optional()?
        .ok_or(StoreError::NotFound)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    Expiring(u32),
    Expired,
}

impl Notice {
    fn as_str(self) -> String {
        match self {
            Notice::Expiring(days) => format!("expiring:{days}"),
            Notice::Expired => "expired".into(),
        }
    }
}

/// The reminder to send now for `subject` ending on `last_day`, if any is due and not yet
/// sent: records it (and the wider ones it supersedes) so that it is never sent twice.
fn remind(c: &mut DbConn, subject: &str, last_day: NaiveDate, today: NaiveDate) -> Result<Option<(Notice, i64)>> {
    let days_left = (last_day - today).num_days();
    // Newest first: the one to send, then those it makes moot.
    let due: Vec<Notice> = if days_left < 0 {
        vec![
            Notice::Expired,
            Notice::Expiring(1),
            Notice::Expiring(7),
            Notice::Expiring(30),
        ]
    } else {
        [1u32, 7, 30]
            .into_iter()
            .filter(|d| days_left <= i64::from(*d))
            .map(Notice::Expiring)
            .collect()
    };
    let Some(first) = due.first().copied() else {
        return Ok(None);
    };
    let mut newly = Vec::new();
    for notice in &due {
        let key = lifecycle_notices::table
            .filter(lifecycle_notices::subject.eq(subject))
            .filter(lifecycle_notices::notice.eq(notice.as_str()))
            .filter(lifecycle_notices::last_day.eq(last_day));
        let sent: i64 = key.count().get_result(c)?;
        if sent > 0 {
            continue;
        }
        // Two schedulers racing (a lease that changed hands) meet at the primary key: the
        // later transaction fails and sends nothing.
        diesel::insert_into(lifecycle_notices::table)
            .values((
                lifecycle_notices::subject.eq(subject),
                lifecycle_notices::notice.eq(notice.as_str()),
                lifecycle_notices::last_day.eq(last_day),
                lifecycle_notices::sent_at.eq(now()),
            ))
            .execute(c)?;
        newly.push(*notice);
    }
    Ok(newly.contains(&first).then_some((first, days_left)))
}
