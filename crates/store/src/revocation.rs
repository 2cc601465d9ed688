//! Leaked-secret revocation: anyone who finds a secret where it should not be reports it, and
//! the token it belongs to stops working at once, on every node, until it is re-generated.

use crate::audit::{Entry, Target};
use crate::change::Change;
use crate::schema::tokens;
use crate::secret::SecretDigest;
use crate::{now, Origin, Result, Store};
use diesel::prelude::*;
use tollgate_model::AuditAction;

/// Who reported the secrets, as the audit log and the token show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reporter {
    pub id: String,
    pub name: String,
    /// Why the tokens are revoked, as their owners read it.
    pub reason: String,
}

impl Store {
    /// Revokes the tokens whose current secret has one of these digests (those already revoked
    /// stay as they are); returns how many were revoked. Each is an audit event of its project.
    pub fn revoke_leaked(&self, digests: &[SecretDigest], by: &Reporter, origin: &Origin) -> Result<usize> {
        if digests.is_empty() {
            return Ok(0);
        }
        let hex: Vec<String> = digests.iter().map(SecretDigest::hex).collect();
        // A read first: a report that matches no working secret (nearly all of them, and every
        // one of a flood) writes nothing and never waits for the writer.
        let candidates: Vec<String> = self.read(|c| {
            Ok(tokens::table
                .filter(tokens::secret_digest.eq_any(&hex))
                .filter(tokens::revoked_at.is_null())
                .select(tokens::id)
                .load(c)?)
        })?;
        if candidates.is_empty() {
            return Ok(0);
        }
        let revoked = self.write(|c, fx| {
            let found: Vec<(String, String, String, String, String)> = tokens::table
                .filter(tokens::id.eq_any(&candidates))
                .filter(tokens::secret_digest.eq_any(&hex))
                .filter(tokens::revoked_at.is_null())
                .select((
                    tokens::id,
                    tokens::project_id,
                    tokens::name,
                    tokens::registry_username,
                    tokens::secret_digest,
                ))
                .load(c)?;
            let at = now();
            let mut revoked = Vec::with_capacity(found.len());
            for (id, project_id, name, registry_username, digest) in found {
                // Only while the reported secret is still the token's: a re-generate that
                // committed since the lookup replaced it, and the new secret never leaked.
                let changed = diesel::update(tokens::table.find(&id))
                    .filter(tokens::secret_digest.eq(&digest))
                    .filter(tokens::revoked_at.is_null())
                    .set((
                        tokens::revoked_at.eq(Some(at)),
                        tokens::revocation_reason.eq(Some(&by.reason)),
                    ))
                    .execute(c)?;
                if changed == 0 {
                    continue;
                }
                let details = serde_json::json!({ "reason": by.reason, "registry_username": registry_username });
                fx.audit(Entry::by(
                    &project_id,
                    (&by.id, &by.name),
                    origin,
                    AuditAction::TokenRevoke,
                    Target::token(&id, &name),
                    details,
                ));
                fx.changed(Change::Token(id.clone()));
                revoked.push(id);
            }
            Ok(revoked)
        })?;
        Ok(revoked.len())
    }
}
