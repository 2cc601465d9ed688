//! Registry tokens: generate, list, get, re-generate the secret, re-sync products, delete.
//!
//! Every function takes the acting portal user and asks the policy (`crate::policy`) before it
//! acts: a token the actor may not see does not exist for them.

mod change;
mod create;
mod list;
mod view;

pub use list::{TokenFilter, TokenQuery};
use view::hydrate;

use crate::audit::{Entry, Target};
use crate::change::Change;
use crate::policy::{self, Operation, TokenScope};
use crate::projects::subscription_of;
use crate::schema::{products, service_users, token_last_use, token_products, tokens, users};
use crate::secret::{random_chars, PlainSecret};
use crate::unit::Effects;
use crate::{cursor, is_id, is_unique_violation, new_id, now, utc, Actor, DbConn, Origin, Result, Store, StoreError};
use chrono::{NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use std::collections::HashMap;
use tollgate_model::{
    capped_day, expires_at, last_day, AuditAction, Name, Page, Principal, PrincipalKind, Product, Subscription, Token,
    TokenKind, TokenSort, TokenStatus, UserRef,
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
    secret_regenerated_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
    revocation_reason: Option<String>,
    expires_on: Option<chrono::NaiveDate>,
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

/// [`find_for`] for a change: on PostgreSQL it first takes the row's lock (`FOR UPDATE`), so
/// that concurrent changes of one token queue up and each sees what the one before it
/// committed (a token deleted meanwhile is not found). On SQLite the write transaction already
/// holds the database's write lock.
fn lock_for(c: &mut DbConn, actor: &Actor, id: &str, op: Operation) -> Result<TokenRow> {
    if let DbConn::Pg(pg) = c {
        if !is_id(id) {
            return Err(StoreError::NotFound);
        }
        tokens::table
            .filter(tokens::id.eq(id))
            .filter(tokens::project_id.eq(&actor.project_id))
            .select(tokens::id)
            .for_update()
            .first::<String>(pg)
            .optional()?
            .ok_or(StoreError::NotFound)?;
    }
    find_for(c, actor, id, op)
}

impl Store {
    /// One token the actor may see.
    pub fn get_token(&self, actor: &Actor, id: &str) -> Result<Token> {
        self.read(|c| {
            let row = find_for(c, actor, id, Operation::ViewToken)?;
            let subscription = subscription_of(c, &actor.project_id)?;
            Ok(hydrate(c, vec![row], &subscription)?.remove(0))
        })
    }

    /// A token's usage: its last use, and its pulls on each of the 30 days up to `today`.
    pub fn token_usage(&self, actor: &Actor, id: &str, today: NaiveDate) -> Result<tollgate_model::TokenUsage> {
        use crate::schema::token_usage;
        let first = today - chrono::Days::new(29);
        let (row, last, counted) = self.read(|c| {
            let row = find_for(c, actor, id, Operation::ViewToken)?;
            let last = view::last_uses(c, &[row.id.as_str()])?.remove(&row.id);
            let counted: Vec<(NaiveDate, i64)> = token_usage::table
                .filter(token_usage::token_id.eq(&row.id))
                .filter(token_usage::day.between(first, today))
                .select((token_usage::day, token_usage::pulls))
                .load(c)?;
            Ok((row, last, counted))
        })?;
        let counted: HashMap<NaiveDate, i64> = counted.into_iter().collect();
        let days: Vec<tollgate_model::DayPulls> = first
            .iter_days()
            .take(30)
            .map(|day| tollgate_model::DayPulls {
                day,
                pulls: counted.get(&day).copied().unwrap_or(0),
            })
            .collect();
        Ok(tollgate_model::TokenUsage {
            total: days.iter().map(|d| d.pulls).sum(),
            days,
            token_id: row.id,
            last_used_at: last.as_ref().map(|(at, _)| utc(*at)),
            last_used_from: last.and_then(|(_, from)| from),
        })
    }
}

/// A change of the token `row`: its audit event and, on every node, the end of what is cached
/// for it.
fn token_changed(
    fx: &mut Effects,
    actor: &Actor,
    origin: &Origin,
    action: AuditAction,
    row: &TokenRow,
    details: serde_json::Value,
) {
    fx.audit(Entry::of(
        actor,
        origin,
        action,
        Target::token(&row.id, &row.name),
        details,
    ));
    fx.changed(Change::Token(row.id.clone()));
}

/// A token's own last day: from today to its subscription's end, and within the subscription's
/// cap for its kind, if any. Under a cap, a token without a day asked for gets the cap's.
fn last_day_for(day: Option<NaiveDate>, subscription: &Subscription, kind: TokenKind) -> Result<Option<NaiveDate>> {
    let today = Utc::now().date_naive();
    let end = subscription.end_date;
    let cap = subscription
        .max_days(kind)
        .map(|days| (days, today + chrono::Days::new(u64::from(days))));
    match (day, cap) {
        (Some(day), _) if day < today || day > end => Err(StoreError::invalid(
            "expires_on",
            format!("a token's last day is from today ({today}) to the subscription's end ({end})"),
        )),
        (Some(day), Some((days, latest))) if day > latest => Err(StoreError::invalid(
            "expires_on",
            format!(
                "this project's {} tokens last at most {days} days: the last day is {latest} at the latest",
                kind.as_str()
            ),
        )),
        (None, Some((_, latest))) => Ok(Some(latest.min(end))),
        (day, _) => Ok(day),
    }
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
