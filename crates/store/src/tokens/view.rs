//! Turning token rows into what the API shows.

use super::*;

/// When each of these tokens was last used, and from where (a token never used has no row).
pub(super) fn last_uses(
    c: &mut DbConn,
    token_ids: &[&str],
) -> Result<HashMap<String, (NaiveDateTime, Option<String>)>> {
    Ok(token_last_use::table
        .filter(token_last_use::token_id.eq_any(token_ids))
        .select((
            token_last_use::token_id,
            token_last_use::used_at,
            token_last_use::used_from,
        ))
        .load::<(String, NaiveDateTime, Option<String>)>(c)?
        .into_iter()
        .map(|(id, at, from)| (id, (at, from)))
        .collect())
}

/// Turns rows into API tokens: names of the people involved, products, status, sync state.
pub(super) fn hydrate(c: &mut DbConn, rows: Vec<TokenRow>, subscription: &Subscription) -> Result<Vec<Token>> {
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
    // Service users' names, when the page has service tokens.
    let service_names: HashMap<String, String> = if service_ids.is_empty() {
        HashMap::new()
    } else {
        service_users::table
            .filter(service_users::id.eq_any(&service_ids))
            .select((service_users::id, service_users::name))
            .load(c)?
            .into_iter()
            .collect()
    };
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

    let mut last_used = last_uses(c, &token_ids)?;

    let now = Utc::now();
    let name_of = |map: &HashMap<String, String>, id: &str| map.get(id).cloned().unwrap_or_default();
    Ok(rows
        .into_iter()
        .map(|r| {
            // The token's products are always a part of the subscription (a product leaves
            // the tokens when it leaves the subscription); one the subscription has and the
            // token lacks waits for a re-sync.
            // What it may pull: its products that the subscription still has.
            let mut products = products_of.remove(&r.id).unwrap_or_default();
            products.retain(|p| subscription.products.iter().any(|s| s.code == p.code));
            let out_of_sync = subscription.products.iter().any(|p| !products.contains(p));
            let last = last_used.remove(&r.id);
            // Its own last day as it holds now: under the project's cap in force now, counted
            // from when its secret was issued.
            let kind = TokenKind::parse(&r.kind).unwrap_or_default();
            let issued = r.secret_regenerated_at.unwrap_or(r.created_at).date();
            let own_day = capped_day(r.expires_on, issued, subscription.max_days(kind));
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
                out_of_sync,
                status: if r.revoked_at.is_some() {
                    TokenStatus::Revoked
                } else if now < expires_at(last_day(subscription.end_date, own_day)) {
                    TokenStatus::Active
                } else {
                    TokenStatus::Expired
                },
                kind,
                created_by: UserRef {
                    name: name_of(&user_names, &r.created_by),
                    id: r.created_by,
                },
                created_for,
                products,
                subscription_end_date: subscription.end_date,
                expires_at: expires_at(last_day(subscription.end_date, own_day)),
                expires_on: own_day,
                created_at: utc(r.created_at),
                registry_username: r.registry_username,
                secret_last4: r.secret_last4,
                last_used_at: last.as_ref().map(|(at, _)| utc(*at)),
                last_used_from: last.and_then(|(_, from)| from),
                secret_regenerated_at: r.secret_regenerated_at.map(utc),
                revoked_at: r.revoked_at.map(utc),
                revocation_reason: r.revocation_reason,
                id: r.id,
                name: r.name,
            }
        })
        .collect())
}
