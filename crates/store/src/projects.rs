//! Projects and their subscription, as operators manage them with `tollgate project`.

use crate::schema::{products, projects, subscription_products};
use crate::{new_id, now, DbConn, Result, Store, StoreError};
use chrono::NaiveDate;
use diesel::prelude::*;
use tollgate_model::{expires_at, Name, Product, Project, Subscription};

/// A product of a subscription; a `name` given replaces the product's display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSpec {
    pub code: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectSummary {
    pub project: Project,
    pub subscription: Subscription,
}

fn valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    (1..=32).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// A registry namespace: lowercase letters and digits, separated by single `.`, `_` or `-`.
fn valid_product_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 64
        && code
            .split(['.', '_', '-'])
            .all(|part| !part.is_empty() && part.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
}

impl Store {
    /// Creates the project or replaces its name and subscription.
    pub fn put_project(
        &self,
        key: &str,
        name: &str,
        end_date: NaiveDate,
        wanted: &[ProductSpec],
    ) -> Result<ProjectSummary> {
        if !valid_key(key) {
            return Err(StoreError::invalid(
                "key",
                "the key must be 1-32 lowercase letters, digits or '-', starting with a letter or digit",
            ));
        }
        let name = Name::parse(name).map_err(|e| StoreError::invalid("name", format!("the name {e}")))?;
        for spec in wanted {
            if !valid_product_code(&spec.code) {
                return Err(StoreError::invalid(
                    "product",
                    format!(
                        "`{}` is not a product code (lowercase letters and digits, separated by . _ -)",
                        spec.code
                    ),
                ));
            }
            if let Some(n) = &spec.name {
                Name::parse(n).map_err(|e| StoreError::invalid("product", format!("name of {}: {e}", spec.code)))?;
            }
        }
        self.write(|c| {
            let at = now();
            for spec in wanted {
                let existing: Option<String> = products::table
                    .find(&spec.code)
                    .select(products::name)
                    .first(c)
                    .optional()?;
                let display = spec.name.as_deref().map(|n| n.trim().to_owned());
                match (existing, display) {
                    (None, display) => {
                        diesel::insert_into(products::table)
                            .values((
                                products::code.eq(&spec.code),
                                products::name.eq(display.unwrap_or_else(|| spec.code.clone())),
                            ))
                            .execute(c)?;
                    }
                    (Some(old), Some(new)) if old != new => {
                        diesel::update(products::table.find(&spec.code))
                            .set(products::name.eq(new))
                            .execute(c)?;
                    }
                    _ => {}
                }
            }
            let project_id: Option<String> = projects::table
                .filter(projects::key.eq(key))
                .select(projects::id)
                .first(c)
                .optional()?;
            let project_id = match project_id {
                Some(id) => {
                    diesel::update(projects::table.find(&id))
                        .set((
                            projects::name.eq(name.as_str()),
                            projects::subscription_end_date.eq(end_date),
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
                            projects::subscription_end_date.eq(end_date),
                            projects::created_at.eq(at),
                            projects::updated_at.eq(at),
                        ))
                        .execute(c)?;
                    id
                }
            };
            let mut codes: Vec<&str> = wanted.iter().map(|s| s.code.as_str()).collect();
            codes.sort_unstable();
            codes.dedup();
            for code in codes {
                diesel::insert_into(subscription_products::table)
                    .values((
                        subscription_products::project_id.eq(&project_id),
                        subscription_products::product_code.eq(code),
                    ))
                    .execute(c)?;
            }
            summary(c, &project_id)
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
    let end_date: NaiveDate = projects::table
        .find(project_id)
        .select(projects::subscription_end_date)
        .first(c)?;
    let products: Vec<(String, String)> = subscription_products::table
        .inner_join(products::table)
        .filter(subscription_products::project_id.eq(project_id))
        .order(products::code)
        .select((products::code, products::name))
        .load(c)?;
    Ok(Subscription {
        end_date,
        expires_at: expires_at(end_date),
        products: products
            .into_iter()
            .map(|(code, name)| Product { code, name })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_keys_and_product_codes_follow_registry_rules() {
        assert!(valid_key("acme") && valid_key("acme-2") && !valid_key("Acme") && !valid_key("-x") && !valid_key(""));
        assert!(valid_product_code("wso2am") && valid_product_code("wso2.api-m_x"));
        for bad in ["", "WSO2", "a..b", "-a", "a-", "a/b", "a b"] {
            assert!(!valid_product_code(bad), "{bad:?}");
        }
    }
}
