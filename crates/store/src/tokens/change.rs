//! Changing a token: re-generating its secret, re-syncing its products, deleting it.

use super::*;
use crate::gateway::Retired;
use crate::schema::retired_secrets;

/// Remembers the token's current secret as retired, why, and whose it was.
fn retire(c: &mut DbConn, token_id: &str, why: Retired) -> Result<()> {
    let (digest, username): (String, String) = tokens::table
        .find(token_id)
        .select((tokens::secret_digest, tokens::registry_username))
        .first(c)?;
    diesel::insert_into(retired_secrets::table)
        .values((
            retired_secrets::digest.eq(&digest),
            retired_secrets::reason.eq(why.as_str()),
            retired_secrets::retired_at.eq(now()),
            retired_secrets::registry_username.eq(Some(&username)),
        ))
        .execute(c)?;
    Ok(())
}

impl Store {
    /// Replaces the token's secret; the old one stops working when this returns.
    /// `ends`: the token's new last day (`Some(None)`: with its subscription), or `None` to
    /// keep it.
    pub fn regenerate_secret(
        &self,
        actor: &Actor,
        origin: &Origin,
        id: &str,
        ends: Option<Option<NaiveDate>>,
    ) -> Result<(Token, PlainSecret)> {
        let secret = PlainSecret::generate();
        let token = self.write(|c, fx| {
            let row = lock_for(c, actor, id, Operation::RegenerateSecret)?;
            let subscription = subscription_of(c, &actor.project_id)?;
            let kind = TokenKind::parse(&row.kind).unwrap_or_default();
            let expires_on = match ends {
                // Its last day kept, but never past what the cap in force allows a secret
                // issued today: re-generating is no way out of a cap.
                None => match capped_day(row.expires_on, Utc::now().date_naive(), subscription.max_days(kind)) {
                    Some(day) if Some(day) != row.expires_on => Some(day.min(subscription.end_date)),
                    kept => kept,
                },
                Some(day) => last_day_for(day, &subscription, kind)?,
            };
            retire(c, &row.id, Retired::Regenerated)?;
            diesel::update(tokens::table.find(&row.id))
                .set((
                    tokens::secret_digest.eq(secret.digest().hex()),
                    tokens::secret_key.eq(Some(secret.digest().gateway_key())),
                    tokens::secret_last4.eq(secret.last4()),
                    tokens::secret_regenerated_at.eq(Some(now())),
                    // A new secret ends a revocation: the leaked one is gone.
                    tokens::revoked_at.eq(None::<NaiveDateTime>),
                    tokens::revocation_reason.eq(None::<String>),
                    tokens::expires_on.eq(expires_on),
                ))
                .execute(c)?;
            fx.changed(Change::Digest(secret.digest()));
            let mut details = serde_json::json!({ "registry_username": row.registry_username });
            if expires_on != row.expires_on {
                details["expires_on"] = serde_json::json!(expires_on);
                details["expires_on_before"] = serde_json::json!(row.expires_on);
            }
            token_changed(fx, actor, origin, AuditAction::TokenSecretRegenerate, &row, details);
            let subscription = subscription_of(c, &actor.project_id)?;
            let row = find_for(c, actor, id, Operation::ViewToken)?;
            Ok(hydrate(c, vec![row], &subscription)?.remove(0))
        })?;
        Ok((token, secret))
    }

    /// Takes a new snapshot of the project's subscription into the token (customer admins).
    pub fn sync_products(&self, actor: &Actor, origin: &Origin, id: &str) -> Result<Token> {
        self.write(|c, fx| {
            let row = lock_for(c, actor, id, Operation::ResyncToken)?;
            let subscription = subscription_of(c, &actor.project_id)?;
            let before = hydrate(c, vec![row.clone()], &subscription)?.remove(0);
            diesel::delete(token_products::table.filter(token_products::token_id.eq(&row.id))).execute(c)?;
            set_products(c, &row.id, &subscription)?;
            let details = serde_json::json!({
                "products_before": before.products.iter().map(|p| &p.code).collect::<Vec<_>>(),
                "products": product_codes(&subscription),
            });
            token_changed(fx, actor, origin, AuditAction::TokenProductsSync, &row, details);
            let row = find_for(c, actor, id, Operation::ViewToken)?;
            Ok(hydrate(c, vec![row], &subscription)?.remove(0))
        })
    }

    /// Deletes the token for good; the audit log keeps that it existed.
    pub fn delete_token(&self, actor: &Actor, origin: &Origin, id: &str) -> Result<()> {
        self.write(|c, fx| {
            let row = lock_for(c, actor, id, Operation::DeleteToken)?;
            retire(c, &row.id, Retired::Deleted)?;
            diesel::delete(token_products::table.filter(token_products::token_id.eq(&row.id))).execute(c)?;
            diesel::delete(tokens::table.find(&row.id)).execute(c)?;
            let details = serde_json::json!({ "kind": row.kind, "registry_username": row.registry_username });
            token_changed(fx, actor, origin, AuditAction::TokenDelete, &row, details);
            Ok(())
        })
    }
}
