//! Portal users, created or updated from the claims of their bearer token.

use crate::projects::subscription_of;
use crate::schema::{projects, users};
use crate::{now, Result, Store, StoreError};
use diesel::prelude::*;
use tollgate_model::{Project, Role, Subscription};

/// Who the identity provider says the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserClaims {
    pub id: String,
    pub name: String,
    pub email: String,
    pub project_key: String,
    pub role: Role,
}

/// Vendor staff or the vendor's subscription system: sets projects and subscriptions, belongs
/// to no project, sees no token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub id: String,
    pub name: String,
}

/// A signed-in portal user and their project: the subject of every permission check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub project_id: String,
    pub project: Project,
}

impl Store {
    /// Resolves the claims to an actor, recording the user (or their changed details).
    pub fn sign_in(&self, claims: &UserClaims) -> Result<Actor> {
        // One statement, the project and what is stored of the user: every API request signs
        // in, and this is its only read when nothing changed.
        type Stored = (String, String, String, String);
        let (project_id, project_name, stored) = self.query(|c| {
            let found: Option<(String, String, Option<Stored>)> = projects::table
                .left_join(users::table.on(users::id.eq(&claims.id)))
                .filter(projects::key.eq(&claims.project_key))
                .select((
                    projects::id,
                    projects::name,
                    (users::project_id, users::name, users::email, users::role).nullable(),
                ))
                .first(c)
                .optional()?;
            found.ok_or_else(|| StoreError::UnknownProject(claims.project_key.clone()))
        })?;
        let current = (
            project_id.clone(),
            claims.name.clone(),
            claims.email.clone(),
            claims.role.as_str().to_owned(),
        );
        if stored.as_ref() != Some(&current) {
            self.write(|c, _| {
                let at = now();
                let updated = diesel::update(users::table.find(&claims.id))
                    .set((
                        users::project_id.eq(&project_id),
                        users::name.eq(&claims.name),
                        users::email.eq(&claims.email),
                        users::role.eq(claims.role.as_str()),
                        users::updated_at.eq(at),
                    ))
                    .execute(c)?;
                if updated == 0 {
                    diesel::insert_into(users::table)
                        .values((
                            users::id.eq(&claims.id),
                            users::project_id.eq(&project_id),
                            users::name.eq(&claims.name),
                            users::email.eq(&claims.email),
                            users::role.eq(claims.role.as_str()),
                            users::created_at.eq(at),
                            users::updated_at.eq(at),
                        ))
                        .execute(c)?;
                }
                Ok(())
            })
            .or_else(|e| match e {
                // Another request of the same new user inserted it first: that is fine.
                StoreError::Database(ref d) if crate::is_unique_violation(d) => Ok(()),
                e => Err(e),
            })?;
        }
        Ok(Actor {
            user_id: claims.id.clone(),
            name: claims.name.clone(),
            email: claims.email.clone(),
            role: claims.role,
            project_id,
            project: Project {
                key: claims.project_key.clone(),
                name: project_name,
            },
        })
    }

    /// The actor's project subscription as it is now.
    pub fn subscription(&self, actor: &Actor) -> Result<Subscription> {
        self.read(|c| subscription_of(c, &actor.project_id))
    }
}
