//! The audit log: every change, written in the same transaction as the change itself.

use crate::cursor::{self, PageQuery};
use crate::schema::audit_events;
use crate::{new_id, now, utc, Actor, DbConn, Origin, Result, Store};
use diesel::prelude::*;
use tollgate_model::{AuditAction, AuditEvent, AuditTarget, ChangeEvent, EventData, Page, UserRef};

/// What a change was done to.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub kind: &'static str,
    pub id: String,
    pub name: String,
}

impl Target {
    fn new(kind: &'static str, id: &str, name: &str) -> Target {
        Target {
            kind,
            id: id.to_owned(),
            name: name.to_owned(),
        }
    }

    pub fn token(id: &str, name: &str) -> Target {
        Target::new("token", id, name)
    }

    /// A project, named by its key.
    pub fn project(key: &str, name: &str) -> Target {
        Target::new("project", key, name)
    }

    /// A webhook, named by its URL.
    pub fn webhook(id: &str, url: &str) -> Target {
        Target::new("webhook", id, url)
    }

    pub fn service_user(id: &str, name: &str) -> Target {
        Target::new("service_user", id, name)
    }
}

/// One event of the audit log, as a change records it in its unit of work
/// ([`crate::unit::Effects::audit`]); written, with the webhook deliveries it makes, in the
/// change's own transaction before it commits.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    project_id: String,
    by: (String, String),
    origin: Origin,
    action: AuditAction,
    target: Target,
    details: serde_json::Value,
}

impl Entry {
    /// An event of the actor's project, by the actor.
    pub fn of(
        actor: &Actor,
        origin: &Origin,
        action: AuditAction,
        target: Target,
        details: serde_json::Value,
    ) -> Entry {
        Entry::by(
            &actor.project_id,
            (&actor.user_id, &actor.name),
            origin,
            action,
            target,
            details,
        )
    }

    /// An event of `project_id` by someone who need not be of the project (an operator, a
    /// reporter): `by` is their id and name.
    pub fn by(
        project_id: &str,
        by: (&str, &str),
        origin: &Origin,
        action: AuditAction,
        target: Target,
        details: serde_json::Value,
    ) -> Entry {
        Entry {
            project_id: project_id.to_owned(),
            by: (by.0.to_owned(), by.1.to_owned()),
            origin: origin.clone(),
            action,
            target,
            details,
        }
    }
}

/// Writes the entries, and the outbox's deliveries of those that webhooks may be told of;
/// whether any delivery was written.
pub(crate) fn write(c: &mut DbConn, entries: &[Entry]) -> Result<bool> {
    let mut enqueued = false;
    for e in entries {
        let id = new_id();
        if let Some(event) = crate::outbox::event_of(e.action) {
            enqueued |= crate::outbox::enqueue(c, &e.project_id, event, |project| {
                EventData::Change(ChangeEvent {
                    project: project.to_owned(),
                    actor: UserRef {
                        id: e.by.0.clone(),
                        name: e.by.1.clone(),
                    },
                    target: AuditTarget {
                        target_type: e.target.kind.to_owned(),
                        id: e.target.id.clone(),
                        name: e.target.name.clone(),
                    },
                    details: e.details.clone(),
                    audit_event_id: id.clone(),
                })
            })?;
        }
        diesel::insert_into(audit_events::table)
            .values((
                audit_events::id.eq(&id),
                audit_events::project_id.eq(&e.project_id),
                audit_events::occurred_at.eq(now()),
                audit_events::actor_id.eq(&e.by.0),
                audit_events::actor_name.eq(&e.by.1),
                audit_events::action.eq(e.action.as_str()),
                audit_events::target_type.eq(e.target.kind),
                audit_events::target_id.eq(&e.target.id),
                audit_events::target_name.eq(&e.target.name),
                audit_events::request_id.eq(&e.origin.request_id),
                audit_events::client_address.eq(e.origin.client_address.as_deref()),
                audit_events::details.eq(Some(e.details.to_string())),
            ))
            .execute(c)?;
    }
    Ok(enqueued)
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_events)]
struct EventRow {
    id: String,
    occurred_at: chrono::NaiveDateTime,
    actor_id: String,
    actor_name: String,
    action: String,
    target_type: String,
    target_id: String,
    target_name: String,
    request_id: String,
    client_address: Option<String>,
    details: Option<String>,
}

impl Store {
    /// The project's audit events (customer admins only), newest first.
    pub fn audit_events(&self, actor: &Actor, query: &PageQuery) -> Result<Page<AuditEvent>> {
        crate::policy::check(
            actor,
            crate::policy::Operation::ReadAuditLog,
            crate::policy::Target::Project,
        )?;
        let load = |after: Option<&str>, n: i64| {
            self.read(|c| {
                let mut q = audit_events::table
                    .filter(audit_events::project_id.eq(&actor.project_id))
                    .select(EventRow::as_select())
                    .order(audit_events::id.desc())
                    .limit(n)
                    .into_boxed();
                if let Some(after) = after {
                    q = q.filter(audit_events::id.lt(after));
                }
                Ok(q.load(c)?)
            })
        };
        cursor::newest_first(query, load, |r: &EventRow| &r.id, to_event)
    }
}

fn to_event(row: EventRow) -> Option<AuditEvent> {
    Some(AuditEvent {
        action: AuditAction::parse(&row.action)?,
        id: row.id,
        occurred_at: utc(row.occurred_at),
        actor: UserRef {
            id: row.actor_id,
            name: row.actor_name,
        },
        target: AuditTarget {
            target_type: row.target_type,
            id: row.target_id,
            name: row.target_name,
        },
        request_id: row.request_id,
        client_address: row.client_address,
        details: row.details.and_then(|d| serde_json::from_str(&d).ok()),
    })
}

impl Store {
    /// Deletes audit events from before `before`, a thousand per transaction so that no lock
    /// is held long; returns how many went. Ids are UUIDv7, ordered by time: the primary key
    /// finds them without another index. Each batch starts after the last one's final id:
    /// with PostgreSQL, the rows already deleted stay in the index until a vacuum, and a batch
    /// read from the start would step over all of them again (millions, on a first pruning).
    pub fn prune_audit(&self, before: chrono::DateTime<chrono::Utc>) -> Result<usize> {
        let millis = u64::try_from(before.timestamp_millis()).unwrap_or(0);
        let hex = format!("{millis:012x}");
        let boundary = format!("{}-{}-7000-8000-000000000000", &hex[..8], &hex[8..12]);
        let mut total = 0;
        let mut after = String::new();
        loop {
            // Read first: most rounds find nothing, and then take no write lock.
            let batch: Vec<String> = self.read(|c| {
                Ok(audit_events::table
                    .filter(audit_events::id.lt(&boundary))
                    .filter(audit_events::id.gt(&after))
                    .select(audit_events::id)
                    .order(audit_events::id)
                    .limit(1000)
                    .load(c)?)
            })?;
            let Some(last) = batch.last().cloned() else {
                return Ok(total);
            };
            let gone = self.write(|c, _| {
                Ok(diesel::delete(audit_events::table.filter(audit_events::id.eq_any(&batch))).execute(c)?)
            })?;
            total += gone;
            if batch.len() < 1000 {
                return Ok(total);
            }
            after = last;
        }
    }
}
