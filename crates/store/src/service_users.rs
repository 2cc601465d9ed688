//! Service users: a project's service accounts, managed by customer admins.

use crate::audit::{Entry, Target as AuditTarget};
use crate::policy::{self, Operation, Target};
use crate::schema::{service_users, tokens, users};
use crate::{is_unique_violation, new_id, now, utc, Actor, DbConn, Origin, Result, Store, StoreError};
use diesel::prelude::*;
use std::collections::HashMap;
use tollgate_model::{AuditAction, Description, Name, ServiceUser, UserRef};

fn require_admin(actor: &Actor) -> Result<()> {
    policy::check(actor, Operation::ManageServiceUsers, Target::Project)
}

impl Store {
    pub fn list_service_users(&self, actor: &Actor) -> Result<Vec<ServiceUser>> {
        require_admin(actor)?;
        self.read(|c| load(c, &actor.project_id, None))
    }

    pub fn create_service_user(
        &self,
        actor: &Actor,
        origin: &Origin,
        name: &Name,
        description: Option<&Description>,
    ) -> Result<ServiceUser> {
        require_admin(actor)?;
        let description = description.map(Description::as_str);
        let result = self.write(|c, fx| {
            let taken: Option<String> = service_users::table
                .filter(service_users::project_id.eq(&actor.project_id))
                .filter(service_users::name_key.eq(name.key()))
                .select(service_users::id)
                .first(c)
                .optional()?;
            if taken.is_some() {
                return Err(StoreError::NameTaken("service user"));
            }
            let id = new_id();
            diesel::insert_into(service_users::table)
                .values((
                    service_users::id.eq(&id),
                    service_users::project_id.eq(&actor.project_id),
                    service_users::name.eq(name.as_str()),
                    service_users::name_key.eq(name.key()),
                    service_users::description.eq(description),
                    service_users::created_by.eq(&actor.user_id),
                    service_users::created_at.eq(now()),
                ))
                .execute(c)?;
            let details = serde_json::json!({ "description": description });
            fx.audit(Entry::of(
                actor,
                origin,
                AuditAction::ServiceUserCreate,
                AuditTarget::service_user(&id, name.as_str()),
                details,
            ));
            Ok(load(c, &actor.project_id, Some(&id))?.remove(0))
        });
        match result {
            Err(StoreError::Database(e)) if is_unique_violation(&e) => Err(StoreError::NameTaken("service user")),
            other => other,
        }
    }

    /// Deletes a service user that has no tokens left.
    pub fn delete_service_user(&self, actor: &Actor, origin: &Origin, id: &str) -> Result<()> {
        require_admin(actor)?;
        if !crate::is_id(id) {
            return Err(StoreError::NotFound);
        }
        self.write(|c, fx| {
            let found = load(c, &actor.project_id, Some(id))?
                .pop()
                .ok_or(StoreError::NotFound)?;
            if found.token_count > 0 {
                return Err(StoreError::ServiceUserHasTokens(found.token_count));
            }
            diesel::delete(service_users::table.find(&found.id)).execute(c)?;
            fx.audit(Entry::of(
                actor,
                origin,
                AuditAction::ServiceUserDelete,
                AuditTarget::service_user(&found.id, &found.name),
                serde_json::json!({}),
            ));
            Ok(())
        })
    }
}

type Row = (String, String, Option<String>, String, chrono::NaiveDateTime);

/// The project's service users (or the one with `only` as id), ordered by name.
fn load(c: &mut DbConn, project_id: &str, only: Option<&str>) -> Result<Vec<ServiceUser>> {
    let mut q = service_users::table
        .filter(service_users::project_id.eq(project_id))
        .order(service_users::name_key)
        .select((
            service_users::id,
            service_users::name,
            service_users::description,
            service_users::created_by,
            service_users::created_at,
        ))
        .into_boxed();
    if let Some(id) = only {
        q = q.filter(service_users::id.eq(id));
    }
    let rows: Vec<Row> = q.load(c)?;
    let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let counts: Vec<(Option<String>, i64)> = tokens::table
        .filter(tokens::service_user_id.eq_any(&ids))
        .group_by(tokens::service_user_id)
        .select((tokens::service_user_id, diesel::dsl::count_star()))
        .load(c)?;
    let counts: HashMap<String, i64> = counts.into_iter().filter_map(|(id, n)| id.map(|id| (id, n))).collect();
    let creators: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
    let names: HashMap<String, String> = users::table
        .filter(users::id.eq_any(&creators))
        .select((users::id, users::name))
        .load(c)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|(id, name, description, created_by, created_at)| ServiceUser {
            token_count: counts.get(&id).copied().unwrap_or(0),
            created_by: UserRef {
                name: names.get(&created_by).cloned().unwrap_or_default(),
                id: created_by,
            },
            id,
            name,
            description,
            created_at: utc(created_at),
        })
        .collect())
}
