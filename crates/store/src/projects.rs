//! Projects and their subscription, as operators manage them (`/api/v1/projects`, and
//! `tollgate project` on the host).

use crate::audit::{Entry, Target};
use crate::change::Change;
use crate::schema::{products, projects, subscription_products, token_products, tokens};
use crate::{new_id, now, DbConn, Operator, Origin, Result, Store, StoreError};
use chrono::NaiveDate;
use diesel::prelude::*;
use tollgate_model::{expires_at, AuditAction, Name, Product, ProductCode, Project, ProjectKey, Subscription};

/// A project as an operator puts it: key, display name, the subscription's end date and
/// products, each already parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectSpec {
    pub key: ProjectKey,
    pub name: Name,
    pub end_date: NaiveDate,
    pub products: Vec<ProductSpec>,
    /// Caps on tokens' lifetime in days (1–3650), for user and for service tokens.
    pub max_token_days: Option<u32>,
    pub max_service_token_days: Option<u32>,
}

/// What a put did: the project as it now is, whether it was new, whether anything changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectPut {
    pub project: ProjectSummary,
    pub created: bool,
    pub changed: bool,
}

/// A product of a subscription; a `name` given replaces the product's display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSpec {
    pub code: ProductCode,
    pub name: Option<Name>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectSummary {
    pub project: Project,
    pub subscription: Subscription,
}

impl Store {
    /// Creates the project or replaces its name and subscription, in one transaction with its
    /// audit event. Products the subscription no longer has leave its tokens at once, and
    /// every node forgets what it cached of the project's tokens: what a token may pull
    /// follows the subscription. Putting what is already there changes nothing and records
    /// nothing.
    pub fn put_project(&self, by: &Operator, origin: &Origin, spec: &ProjectSpec) -> Result<ProjectPut> {
        let key = spec.key.as_str();
        let name = &spec.name;
        let put = self.write(|c, fx| {
            let at = now();
            for product in &spec.products {
                let existing: Option<String> = products::table
                    .find(product.code.as_str())
                    .select(products::name)
                    .first(c)
                    .optional()?;
                let display = product.name.as_ref().map(|n| n.as_str().to_owned());
                match (existing, display) {
                    (None, display) => {
                        diesel::insert_into(products::table)
                            .values((
                                products::code.eq(product.code.as_str()),
                                products::name.eq(display.unwrap_or_else(|| product.code.to_string())),
                            ))
                            .execute(c)?;
                    }
                    (Some(old), Some(new)) if old != new => {
                        diesel::update(products::table.find(product.code.as_str()))
                            .set(products::name.eq(new))
                            .execute(c)?;
                    }
                    _ => {}
                }
            }
            let found: Option<String> = projects::table
                .filter(projects::key.eq(key))
                .select(projects::id)
                .first(c)
                .optional()?;
            let before = match &found {
                Some(id) => Some(summary(c, id)?),
                None => None,
            };
            let project_id = match found {
                Some(id) => {
                    diesel::update(projects::table.find(&id))
                        .set((
                            projects::name.eq(name.as_str()),
                            projects::subscription_end_date.eq(spec.end_date),
                            projects::max_token_days.eq(spec.max_token_days.map(|d| d as i32)),
                            projects::max_service_token_days.eq(spec.max_service_token_days.map(|d| d as i32)),
                            projects::updated_at.eq(at),
                        ))
                        .execute(c)?;
                    diesel::delete(subscription_products::table.filter(subscription_products::project_id.eq(&id)))
                        .execute(c)?;
                    id
                }
                None => {
                    let id = new_id();
                    diesel::insert_into(projects::table)
                        .values((
                            projects::id.eq(&id),
                            projects::key.eq(key),
                            projects::name.eq(name.as_str()),
                            projects::subscription_end_date.eq(spec.end_date),
                            projects::max_token_days.eq(spec.max_token_days.map(|d| d as i32)),
                            projects::max_service_token_days.eq(spec.max_service_token_days.map(|d| d as i32)),
                            projects::created_at.eq(at),
                            projects::updated_at.eq(at),
                        ))
                        .execute(c)?;
                    id
                }
            };
            let mut codes: Vec<&str> = spec.products.iter().map(|p| p.code.as_str()).collect();
            codes.sort_unstable();
            codes.dedup();
            for code in &codes {
                diesel::insert_into(subscription_products::table)
                    .values((
                        subscription_products::project_id.eq(&project_id),
                        subscription_products::product_code.eq(code),
                    ))
                    .execute(c)?;
            }
            // Products gone from the subscription leave the project's tokens.
            let tokens_of_project = tokens::table
                .filter(tokens::project_id.eq(&project_id))
                .select(tokens::id);
            diesel::delete(
                token_products::table
                    .filter(token_products::token_id.eq_any(tokens_of_project))
                    .filter(token_products::product_code.ne_all(&codes)),
            )
            .execute(c)?;
            let after = summary(c, &project_id)?;
            if before.as_ref() == Some(&after) {
                return Ok(ProjectPut {
                    project: after,
                    created: false,
                    changed: false,
                });
            }
            let codes_of = |s: Option<&ProjectSummary>| -> Vec<String> {
                s.map(|s| s.subscription.products.iter().map(|p| p.code.clone()).collect())
                    .unwrap_or_default()
            };
            let (old, new) = (codes_of(before.as_ref()), codes_of(Some(&after)));
            let details = serde_json::json!({
                "name": after.project.name,
                "end_date": after.subscription.end_date,
                "end_date_before": before.as_ref().map(|b| b.subscription.end_date),
                "products": new,
                "products_added": new.iter().filter(|p| !old.contains(p)).collect::<Vec<_>>(),
                "products_removed": old.iter().filter(|p| !new.contains(p)).collect::<Vec<_>>(),
                "max_token_days": after.subscription.max_token_days,
                "max_service_token_days": after.subscription.max_service_token_days,
            });
            let action = if before.is_some() {
                AuditAction::ProjectUpdate
            } else {
                AuditAction::ProjectCreate
            };
            fx.audit(Entry::by(
                &project_id,
                (&by.id, &by.name),
                origin,
                action,
                Target::project(key, &after.project.name),
                details,
            ));
            fx.changed(Change::Project(key.to_owned()));
            Ok(ProjectPut {
                created: before.is_none(),
                changed: true,
                project: after,
            })
        })?;
        Ok(put)
    }

    /// One project and its subscription.
    pub fn get_project(&self, key: &str) -> Result<ProjectSummary> {
        self.read(|c| {
            let id: String = projects::table
                .filter(projects::key.eq(key))
                .select(projects::id)
                .first(c)
                .optional()?
                .ok_or(StoreError::NotFound)?;
            summary(c, &id)
        })
    }

    pub fn list_projects(&self) -> Result<Vec<ProjectSummary>> {
        self.read(|c| {
            let ids: Vec<String> = projects::table.order(projects::key).select(projects::id).load(c)?;
            ids.iter().map(|id| summary(c, id)).collect()
        })
    }

    /// Whether a project with this key exists.
    pub fn project_exists(&self, key: &str) -> Result<bool> {
        self.read(|c| {
            let found: Option<String> = projects::table
                .filter(projects::key.eq(key))
                .select(projects::id)
                .first(c)
                .optional()?;
            Ok(found.is_some())
        })
    }
}

pub(crate) fn summary(c: &mut DbConn, project_id: &str) -> Result<ProjectSummary> {
    let (key, name): (String, String) = projects::table
        .find(project_id)
        .select((projects::key, projects::name))
        .first(c)?;
    Ok(ProjectSummary {
        project: Project { key, name },
        subscription: subscription_of(c, project_id)?,
    })
}

/// The project's current subscription, products ordered by code.
pub(crate) fn subscription_of(c: &mut DbConn, project_id: &str) -> Result<Subscription> {
    // One statement: the project's row once per product (once with none when it has none).
    type Row = (NaiveDate, Option<i32>, Option<i32>, Option<(String, String)>);
    let rows: Vec<Row> = projects::table
        .left_join(subscription_products::table.on(subscription_products::project_id.eq(projects::id)))
        .left_join(products::table.on(products::code.eq(subscription_products::product_code)))
        .filter(projects::id.eq(project_id))
        .order(products::code.nullable())
        .select((
            projects::subscription_end_date,
            projects::max_token_days,
            projects::max_service_token_days,
            (products::code, products::name).nullable(),
        ))
        .load(c)?;
    let Some(&(end_date, max_token_days, max_service_token_days, _)) = rows.first() else {
        return Err(diesel::result::Error::NotFound.into());
    };
    Ok(Subscription {
        end_date,
        expires_at: expires_at(end_date),
        max_token_days: max_token_days.and_then(|d| u32::try_from(d).ok()),
        max_service_token_days: max_service_token_days.and_then(|d| u32::try_from(d).ok()),
        products: rows
            .into_iter()
            .filter_map(|(_, _, _, product)| product)
            .map(|(code, name)| Product { code, name })
            .collect(),
    })
}
