//! Generating a token: its name, whom it is for, its first secret.

use super::*;

impl Store {
    /// Generates a token and its secret. The secret is returned here and never again.
    pub fn create_token(
        &self,
        actor: &Actor,
        origin: &Origin,
        name: &Name,
        target: &TokenTarget,
        expires_on: Option<NaiveDate>,
    ) -> Result<(Token, PlainSecret)> {
        let op = match target {
            TokenTarget::User => Operation::GenerateUserToken,
            TokenTarget::Service(_) => Operation::GenerateServiceToken,
        };
        policy::check(actor, op, policy::Target::Project)?;
        let secret = PlainSecret::generate();
        let result = self.write(|c, fx| {
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
            let expires_on = last_day_for(expires_on, &subscription, kind)?;
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
                    tokens::secret_key.eq(Some(secret.digest().gateway_key())),
                    tokens::secret_last4.eq(secret.last4()),
                    tokens::expires_on.eq(expires_on),
                ))
                .execute(c)?;
            set_products(c, &id, &subscription)?;
            fx.changed(Change::Digest(secret.digest()));
            let details = serde_json::json!({
                "kind": kind,
                "created_for": service_user.as_ref().map_or(actor.name.as_str(), |s| s.1.as_str()),
                "products": product_codes(&subscription),
                "registry_username": registry_username,
            });
            fx.audit(Entry::of(
                actor,
                origin,
                AuditAction::TokenGenerate,
                Target::token(&id, name.as_str()),
                details,
            ));
            let row = find_for(c, actor, &id, Operation::ViewToken)?;
            Ok(hydrate(c, vec![row], &subscription)?.remove(0))
        });
        match result {
            Err(StoreError::Database(e)) if is_unique_violation(&e) => Err(StoreError::NameTaken("token")),
            Err(e) => Err(e),
            Ok(token) => Ok((token, secret)),
        }
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
