//! Registry tokens: generate, list, get, re-generate the secret, re-sync products, delete.
//!
//! Every function takes the acting portal user and asks the policy (`crate::policy`) before it
//! acts: a token the actor may not see does not exist for them.

use crate::audit::{record, Target};
use crate::gateway::{publish, Change};
use crate::policy::{self, Operation, TokenScope};
use crate::projects::subscription_of;
use crate::schema::{products, service_users, token_products, tokens, users};
use crate::secret::{random_chars, PlainSecret};
use crate::{cursor, is_id, is_unique_violation, new_id, now, utc, Actor, DbConn, Origin, Result, Store, StoreError};
use chrono::{NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use std::collections::HashMap;
use tollgate_model::{
    expires_at, AuditAction, Name, Page, Principal, PrincipalKind, Product, Subscription, Token, TokenKind, TokenSort,
    TokenStatus, UserRef,
};

type Db = <DbConn as Connection>::Backend;

/// Whom a new token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenTarget {
    /// The actor themself.
    User,
    /// A service user of the actor's project (customer admins only).
    Service(String),
}

#[derive(Debug, Clone, Default)]
pub struct TokenFilter {
    pub kind: Option<TokenKind>,
    pub status: Option<TokenStatus>,
    /// A portal user id or service user id.
    pub created_for: Option<String>,
    /// Case-insensitive text searched for in the token name.
    pub search: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct TokenQuery {
    pub filter: TokenFilter,
    pub sort: TokenSort,
    pub cursor: Option<String>,
    pub limit: i64,
}

#[derive(Queryable, Selectable, Clone)]
#[diesel(table_name = tokens)]
struct TokenRow {
    id: String,
    kind: String,
    name: String,
    name_key: String,
    user_id: Option<String>,
    service_user_id: Option<String>,
    created_by: String,
    created_at: NaiveDateTime,
    registry_username: String,
    secret_last4: String,
    subscription_end_date: NaiveDate,
    last_used_at: Option<NaiveDateTime>,
    secret_regenerated_at: Option<NaiveDateTime>,
}

/// The tokens of the actor's project that the actor may see ([`policy::token_scope`]).
fn visible(actor: &Actor) -> tokens::BoxedQuery<'_, Db> {
    let q = tokens::table
        .filter(tokens::project_id.eq(&actor.project_id))
        .into_boxed();
    match policy::token_scope(actor.role) {
        TokenScope::Project => q,
        TokenScope::Own => q.filter(tokens::user_id.eq(&actor.user_id)),
    }
}

/// The token `id` of the actor's project when the policy lets the actor do `op` to it; a
/// token of another project, or one the actor may not see, is not found.
fn find_for(c: &mut DbConn, actor: &Actor, id: &str, op: Operation) -> Result<TokenRow> {
    if !is_id(id) {
        return Err(StoreError::NotFound);
    }
    let row = tokens::table
        .filter(tokens::project_id.eq(&actor.project_id))
        .filter(tokens::id.eq(id))
        .select(TokenRow::as_select())
        .first(c)
        .optional()?
        .ok_or(StoreError::NotFound)?;
    policy::check(actor, op, policy::whose(actor, row.user_id.as_deref()))?;
    Ok(row)
}

/// [`find_for`] for a change: first takes the row's write lock, so that concurrent changes of
/// one token queue up, and each sees what the one before it committed (a token deleted
/// meanwhile is not found). On SQLite the write transaction already holds the database's.
fn lock_for(c: &mut DbConn, actor: &Actor, id: &str, op: Operation) -> Result<TokenRow> {
    if !is_id(id) {
        return Err(StoreError::NotFound);
    }
    let locked = diesel::update(
        tokens::table
            .filter(tokens::id.eq(id))
            .filter(tokens::project_id.eq(&actor.project_id)),
    )
    .set(tokens::secret_last4.eq(tokens::secret_last4))
    .execute(c)?;
    if locked == 0 {
        return Err(StoreError::NotFound);
    }
    find_for(c, actor, id, op)
}

fn format_ts(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

fn parse_ts(s: &str) -> Result<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.6f").map_err(|_| StoreError::BadCursor)
}

fn like_pattern(text: &str) -> String {
    let mut p = String::from("%");
    for ch in text.to_lowercase().chars() {
        if matches!(ch, '\\' | '%' | '_') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

impl Store {
    /// Generates a token and its secret. The secret is returned here and never again.
    pub fn create_token(
        &self,
        actor: &Actor,
        origin: &Origin,
        name: &Name,
        target: &TokenTarget,
    ) -> Result<(Token, PlainSecret)> {
        let op = match target {
            TokenTarget::User => Operation::GenerateUserToken,
            TokenTarget::Service(_) => Operation::GenerateServiceToken,
        };
        policy::check(actor, op, policy::Target::Project)?;
        let secret = PlainSecret::generate();
        let result = self.write(|c| {
            let (user_id, service_user) = match target {
                TokenTarget::User => (Some(actor.user_id.clone()), None),
                TokenTarget::Service(id) => {
                    let unknown = StoreError::UnknownReference {
                        field: "service_user_id",
                        message: "no service user with this id in your project",
                    };
                    if !is_id(id) {
                        return Err(unknown);
                    }
                    let found: Option<(String, String)> = service_users::table
                        .filter(service_users::id.eq(id))
                        .filter(service_users::project_id.eq(&actor.project_id))
                        .select((service_users::id, service_users::name))
                        .first(c)
                        .optional()?;
                    let found = found.ok_or(unknown)?;
                    (None, Some(found))
                }
            };
            if name_taken(c, &actor.project_id, &name.key())? {
                return Err(StoreError::NameTaken("token"));
            }
            let subscription = subscription_of(c, &actor.project_id)?;
            let id = new_id();
            let kind = if service_user.is_some() {
                TokenKind::Service
            } else {
                TokenKind::User
            };
            let registry_username = format!(
                "tg-{}-{}",
                actor.project.key,
                random_chars(10, b"abcdefghijkmnpqrstuvwxyz23456789")
            );
            diesel::insert_into(tokens::table)
                .values((
                    tokens::id.eq(&id),
                    tokens::project_id.eq(&actor.project_id),
                    tokens::kind.eq(kind.as_str()),
                    tokens::name.eq(name.as_str()),
                    tokens::name_key.eq(name.key()),
                    tokens::user_id.eq(user_id.as_deref()),
                    tokens::service_user_id.eq(service_user.as_ref().map(|s| s.0.as_str())),
                    tokens::created_by.eq(&actor.user_id),
                    tokens::created_at.eq(now()),
                    tokens::registry_username.eq(&registry_username),
                    tokens::secret_digest.eq(secret.digest().hex()),
                    tokens::secret_last4.eq(secret.last4()),
                    tokens::subscription_end_date.eq(subscription.end_date),
                ))
                .execute(c)?;
            set_products(c, &id, &subscription)?;
            publish(c, &self.node, &Change::Digest(secret.digest()))?;
            let details = serde_json::json!({
                "kind": kind,
                "created_for": service_user.as_ref().map_or(actor.name.as_str(), |s| s.1.as_str()),
                "products": product_codes(&subscription),
                "registry_username": registry_username,
            });
            record(
                c,
                actor,
                origin,
                AuditAction::TokenGenerate,
                Target::token(&id, name.as_str()),
                details,
            )?;
            let row = find_for(c, actor, &id, Operation::ViewToken)?;
            Ok(hydrate(c, vec![row], &subscription)?.remove(0))
        });
        match result {
            Err(StoreError::Database(e)) if is_unique_violation(&e) => Err(StoreError::NameTaken("token")),
            Err(e) => Err(e),
            Ok(token) => {
                self.announce(&[Change::Digest(secret.digest())]);
                Ok((token, secret))
            }
        }
    }

    /// One page of the tokens the actor may see.
    pub fn list_tokens(&self, actor: &Actor, query: &TokenQuery) -> Result<Page<Token>> {
        let after = match &query.cursor {
            Some(c) => Some(cursor::decode(c, 2)?),
            None => None,
        };
        let f = &query.filter;
        self.read(|c| {
            let mut q = visible(actor).select(TokenRow::as_select());
            if let Some(kind) = f.kind {
                q = q.filter(tokens::kind.eq(kind.as_str()));
            }
            let today = Utc::now().date_naive();
            match f.status {
                Some(TokenStatus::Active) => q = q.filter(tokens::subscription_end_date.ge(today)),
                Some(TokenStatus::Expired) => q = q.filter(tokens::subscription_end_date.lt(today)),
                None => {}
            }
            if let Some(who) = &f.created_for {
                q = q.filter(tokens::user_id.eq(who).or(tokens::service_user_id.eq(who)));
            }
            if let Some(text) = f.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                q = q.filter(tokens::name_key.like(like_pattern(text)).escape('\\'));
            }
            q = match query.sort {
                TokenSort::NewestFirst => q.order((tokens::created_at.desc(), tokens::id.desc())),
                TokenSort::OldestFirst => q.order((tokens::created_at.asc(), tokens::id.asc())),
                TokenSort::NameAscending => q.order((tokens::name_key.asc(), tokens::id.asc())),
                TokenSort::NameDescending => q.order((tokens::name_key.desc(), tokens::id.desc())),
            };
            if let Some(parts) = &after {
                let (key, id) = (&parts[0], parts[1].clone());
                q = match query.sort {
                    TokenSort::NewestFirst => {
                        let t = parse_ts(key)?;
                        q.filter(
                            tokens::created_at
                                .lt(t)
                                .or(tokens::created_at.eq(t).and(tokens::id.lt(id))),
                        )
                    }
                    TokenSort::OldestFirst => {
                        let t = parse_ts(key)?;
                        q.filter(
                            tokens::created_at
                                .gt(t)
                                .or(tokens::created_at.eq(t).and(tokens::id.gt(id))),
                        )
                    }
                    TokenSort::NameAscending => q.filter(
                        tokens::name_key
                            .gt(key.clone())
                            .or(tokens::name_key.eq(key.clone()).and(tokens::id.gt(id))),
                    ),
                    TokenSort::NameDescending => q.filter(
                        tokens::name_key
                            .lt(key.clone())
                            .or(tokens::name_key.eq(key.clone()).and(tokens::id.lt(id))),
                    ),
                };
            }
            let mut rows: Vec<TokenRow> = q.limit(query.limit + 1).load(c)?;
            let more = rows.len() as i64 > query.limit;
            rows.truncate(query.limit as usize);
            let next_cursor = match (more, rows.last()) {
                (true, Some(last)) => Some(match query.sort {
                    TokenSort::NewestFirst | TokenSort::OldestFirst => {
                        cursor::encode(&[&format_ts(last.created_at), &last.id])
                    }
                    TokenSort::NameAscending | TokenSort::NameDescending => cursor::encode(&[&last.name_key, &last.id]),
                }),
                _ => None,
            };
            let subscription = subscription_of(c, &actor.project_id)?;
            Ok(Page {
                items: hydrate(c, rows, &subscription)?,
                next_cursor,
            })
        })
    }

    pub fn get_token(&self, actor: &Actor, id: &str) -> Result<Token> {
        self.read(|c| {
            let row = find_for(c, actor, id, Operation::ViewToken)?;
            let subscription = subscription_of(c, &actor.project_id)?;
            Ok(hydrate(c, vec![row], &subscription)?.remove(0))
        })
    }

    /// Replaces the token's secret; the old one stops working when this returns.
    pub fn regenerate_secret(&self, actor: &Actor, origin: &Origin, id: &str) -> Result<(Token, PlainSecret)> {
        let secret = PlainSecret::generate();
        let token = self.write(|c| {
            let row = lock_for(c, actor, id, Operation::RegenerateSecret)?;
            diesel::update(tokens::table.find(&row.id))
                .set((
                    tokens::secret_digest.eq(secret.digest().hex()),
                    tokens::secret_last4.eq(secret.last4()),
                    tokens::secret_regenerated_at.eq(Some(now())),
                ))
                .execute(c)?;
            publish(c, &self.node, &Change::Token(row.id.clone()))?;
            publish(c, &self.node, &Change::Digest(secret.digest()))?;
            let details = serde_json::json!({ "registry_username": row.registry_username });
            record(
                c,
                actor,
                origin,
                AuditAction::TokenSecretRegenerate,
                Target::token(&row.id, &row.name),
                details,
            )?;
            let subscription = subscription_of(c, &actor.project_id)?;
            let row = find_for(c, actor, id, Operation::ViewToken)?;
            Ok(hydrate(c, vec![row], &subscription)?.remove(0))
        })?;
        self.announce(&[Change::Token(token.id.clone()), Change::Digest(secret.digest())]);
        Ok((token, secret))
    }

    /// Takes a new snapshot of the project's subscription into the token (customer admins).
    pub fn sync_products(&self, actor: &Actor, origin: &Origin, id: &str) -> Result<Token> {
        self.write(|c| {
            let row = lock_for(c, actor, id, Operation::ResyncToken)?;
            let subscription = subscription_of(c, &actor.project_id)?;
            let before = hydrate(c, vec![row.clone()], &subscription)?.remove(0);
            diesel::update(tokens::table.find(&row.id))
                .set(tokens::subscription_end_date.eq(subscription.end_date))
                .execute(c)?;
            diesel::delete(token_products::table.filter(token_products::token_id.eq(&row.id))).execute(c)?;
            set_products(c, &row.id, &subscription)?;
            publish(c, &self.node, &Change::Token(row.id.clone()))?;
            let details = serde_json::json!({
                "products_before": before.products.iter().map(|p| &p.code).collect::<Vec<_>>(),
                "products": product_codes(&subscription),
                "subscription_end_date_before": before.subscription_end_date,
                "subscription_end_date": subscription.end_date,
            });
            record(
                c,
                actor,
                origin,
                AuditAction::TokenProductsSync,
                Target::token(&row.id, &row.name),
                details,
            )?;
            let row = find_for(c, actor, id, Operation::ViewToken)?;
            Ok(hydrate(c, vec![row], &subscription)?.remove(0))
        })
        .inspect(|token| self.announce(&[Change::Token(token.id.clone())]))
    }

    /// Deletes the token for good; the audit log keeps that it existed.
    pub fn delete_token(&self, actor: &Actor, origin: &Origin, id: &str) -> Result<()> {
        self.write(|c| {
            let row = lock_for(c, actor, id, Operation::DeleteToken)?;
            diesel::delete(token_products::table.filter(token_products::token_id.eq(&row.id))).execute(c)?;
            diesel::delete(tokens::table.find(&row.id)).execute(c)?;
            publish(c, &self.node, &Change::Token(row.id.clone()))?;
            let details = serde_json::json!({ "kind": row.kind, "registry_username": row.registry_username });
            record(
                c,
                actor,
                origin,
                AuditAction::TokenDelete,
                Target::token(&row.id, &row.name),
                details,
            )?;
            Ok(row.id)
        })
        .map(|deleted| self.announce(&[Change::Token(deleted)]))
    }
}

fn name_taken(c: &mut DbConn, project_id: &str, key: &str) -> Result<bool> {
    let found: Option<String> = tokens::table
        .filter(tokens::project_id.eq(project_id))
        .filter(tokens::name_key.eq(key))
        .select(tokens::id)
        .first(c)
        .optional()?;
    Ok(found.is_some())
}

fn product_codes(subscription: &Subscription) -> Vec<&str> {
    subscription.products.iter().map(|p| p.code.as_str()).collect()
}

fn set_products(c: &mut DbConn, token_id: &str, subscription: &Subscription) -> Result<()> {
    for p in &subscription.products {
        diesel::insert_into(token_products::table)
            .values((
                token_products::token_id.eq(token_id),
                token_products::product_code.eq(&p.code),
            ))
            .execute(c)?;
    }
    Ok(())
}

/// Turns rows into API tokens: names of the people involved, products, status, sync state.
fn hydrate(c: &mut DbConn, rows: Vec<TokenRow>, subscription: &Subscription) -> Result<Vec<Token>> {
    let token_ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut user_ids: Vec<&str> = rows
        .iter()
        .flat_map(|r| [Some(r.created_by.as_str()), r.user_id.as_deref()])
        .flatten()
        .collect();
    user_ids.sort_unstable();
    user_ids.dedup();
    let service_ids: Vec<&str> = rows.iter().filter_map(|r| r.service_user_id.as_deref()).collect();

    let user_names: HashMap<String, String> = users::table
        .filter(users::id.eq_any(&user_ids))
        .select((users::id, users::name))
        .load(c)?
        .into_iter()
        .collect();
    let service_names: HashMap<String, String> = service_users::table
        .filter(service_users::id.eq_any(&service_ids))
        .select((service_users::id, service_users::name))
        .load(c)?
        .into_iter()
        .collect();
    let mut products_of: HashMap<String, Vec<Product>> = HashMap::new();
    let product_rows: Vec<(String, String, String)> = token_products::table
        .inner_join(products::table)
        .filter(token_products::token_id.eq_any(&token_ids))
        .order((token_products::token_id, products::code))
        .select((token_products::token_id, products::code, products::name))
        .load(c)?;
    for (token_id, code, name) in product_rows {
        products_of.entry(token_id).or_default().push(Product { code, name });
    }

    let now = Utc::now();
    let name_of = |map: &HashMap<String, String>, id: &str| map.get(id).cloned().unwrap_or_default();
    Ok(rows
        .into_iter()
        .map(|r| {
            let products = products_of.remove(&r.id).unwrap_or_default();
            let expires = expires_at(r.subscription_end_date);
            let created_for = match &r.service_user_id {
                Some(sid) => Principal {
                    kind: PrincipalKind::ServiceUser,
                    id: sid.clone(),
                    name: name_of(&service_names, sid),
                },
                None => {
                    let uid = r.user_id.clone().unwrap_or_default();
                    Principal {
                        kind: PrincipalKind::User,
                        name: name_of(&user_names, &uid),
                        id: uid,
                    }
                }
            };
            Token {
                out_of_sync: products != subscription.products || r.subscription_end_date != subscription.end_date,
                status: if now < expires {
                    TokenStatus::Active
                } else {
                    TokenStatus::Expired
                },
                kind: TokenKind::parse(&r.kind).unwrap_or_default(),
                created_by: UserRef {
                    name: name_of(&user_names, &r.created_by),
                    id: r.created_by,
                },
                created_for,
                products,
                subscription_end_date: r.subscription_end_date,
                expires_at: expires,
                created_at: utc(r.created_at),
                registry_username: r.registry_username,
                secret_last4: r.secret_last4,
                last_used_at: r.last_used_at.map(utc),
                secret_regenerated_at: r.secret_regenerated_at.map(utc),
                id: r.id,
                name: r.name,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn search_text_is_escaped_for_like() {
        assert_eq!(super::like_pattern("50%_Off\\"), "%50\\%\\_off\\\\%");
    }
}
