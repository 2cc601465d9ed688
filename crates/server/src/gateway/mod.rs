//! The registry gateway's side of Tollgate: secret checks through an invalidated cache, the
//! gateway clients, rate limiting of failures, `last_used_at`, and registry token signing.

pub mod cache;
pub mod forward;
pub mod limiter;
pub mod registry;
pub mod usage;

use crate::error::ApiError;
use crate::metrics::Metrics;
use base64::Engine;
use cache::{Known, Lookup, TokenCache};
use limiter::FailureLimiter;
use registry::RegistrySigner;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::Arc;
use tollgate_model::Introspection;
use tollgate_store::secret::{digest, PlainSecret};
use tollgate_store::{GatewayToken, Retired, SecretLookup};
use usage::Usage;

/// A client allowed to call the introspection endpoint. Only the digest of its
/// `Authorization` header value is kept.
#[derive(Clone)]
pub struct GatewayClient {
    pub id: String,
    header_digest: [u8; 32],
}

impl std::fmt::Debug for GatewayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GatewayClient({})", self.id)
    }
}

impl GatewayClient {
    pub fn new(id: &str, secret: &str) -> GatewayClient {
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        );
        GatewayClient {
            id: id.to_owned(),
            header_digest: Sha256::digest(header.as_bytes()).into(),
        }
    }

    /// Parses `id:secret`, as in `TOLLGATE_GATEWAY_CLIENTS`.
    pub fn parse(text: &str) -> Result<GatewayClient, String> {
        // The errors name the id only: configuration errors are printed, secrets never are.
        match text.split_once(':') {
            Some((id, secret)) if !id.is_empty() && secret.len() >= 16 => Ok(GatewayClient::new(id, secret)),
            Some((id, _)) if !id.is_empty() && id.len() <= 64 => Err(format!(
                "the gateway client `{id}` needs a secret of at least 16 characters"
            )),
            _ => Err("a gateway client is `id:secret`, with a secret of at least 16 characters".into()),
        }
    }
}

/// The result of checking a presented secret.
pub enum Check {
    Active(Arc<Known>),
    /// Refused, and the registry username of the token whose secret it is or was, when known:
    /// the only username to whom the reason may be told.
    Refused(Refusal, Option<String>),
}

/// Why a presented secret is refused: what the registry client prints. Only the holder of a
/// secret learns what became of it, and nobody learns whether another token exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a Tollgate secret: wrong prefix, length or checksum.
    Malformed,
    /// No token has or had this secret (or the username is not the secret's).
    Unknown,
    Regenerated,
    Deleted,
    /// The token ended at this moment (its own last day, or its subscription's).
    Expired(chrono::DateTime<chrono::Utc>),
    /// The secret was reported leaked and revoked at this moment.
    Revoked(chrono::DateTime<chrono::Utc>),
}

impl Refusal {
    pub fn message(self) -> String {
        match self {
            Refusal::Malformed => {
                "this is not a Tollgate registry secret (it starts with tgr_ and carries a checksum): check for a typing error".into()
            }
            Refusal::Unknown => "unknown registry username or secret".into(),
            Refusal::Regenerated => "this secret was re-generated and no longer works: use the new secret".into(),
            Refusal::Deleted => "the token of this secret was deleted".into(),
            Refusal::Revoked(at) => format!(
                "this secret was reported leaked and revoked on {}: re-generate it",
                at.date_naive()
            ),
            Refusal::Expired(at) => format!(
                "this token expired on {} (its own last day or its subscription's): generate another, or ask the vendor to renew the subscription",
                (at - chrono::Duration::days(1)).date_naive()
            ),
        }
    }
}

/// The RFC 7662 answer for an active token.
pub fn introspection(t: &GatewayToken) -> Introspection {
    Introspection {
        active: true,
        username: Some(t.registry_username.clone()),
        sub: Some(t.id.clone()),
        scope: Some(
            t.products
                .iter()
                .map(|p| format!("repository:{p}/*:pull"))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        exp: Some(t.expires_at.timestamp()),
        iat: Some(t.issued_at.timestamp()),
        token_type: Some("registry_token".into()),
        project: Some(t.project_key.clone()),
        products: Some(t.products.clone()),
        token_kind: Some(t.kind),
    }
}

pub struct Gateway {
    /// The proxy that asks forward auth, by the headers it sets; none: forward auth is off.
    pub forward_proxy: Option<forward::ForwardAuthProxy>,
    pub cache: Arc<TokenCache>,
    /// Cache misses, looked up together (see [`tollgate_store::batch`]).
    pub misses: tollgate_store::batch::MissBatcher,
    pub usage: Arc<Usage>,
    pub introspect_limiter: FailureLimiter,
    /// Wrong gateway-client credentials at introspection, per address.
    pub client_limiter: FailureLimiter,
    pub token_limiter: FailureLimiter,
    /// Reports of leaked secrets, per client address.
    pub revocation_limiter: FailureLimiter,
    /// Leak reports waiting to be handled.
    pub leaks: crate::leaks::Leaks,
    /// The gateway clients in use: replaced whole when SIGHUP has their file read again.
    pub clients: std::sync::RwLock<Arc<Vec<GatewayClient>>>,
    pub signer: RegistrySigner,
    /// The registry's `service` name that registry tokens are for.
    pub service: String,
    pub metrics: Arc<Metrics>,
}

/// `(user, password)` of an `Authorization: Basic` header.
pub fn basic_credentials(header: Option<&str>) -> Option<(String, String)> {
    let (scheme, encoded) = header?.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

impl Gateway {
    /// Whether the header carries the credential of a configured gateway client.
    pub fn client_authenticated(&self, header: Option<&str>) -> bool {
        // The whole header value is compared (as a digest, in constant time): no decoding.
        let Some(header) = header else { return false };
        let presented: [u8; 32] = Sha256::digest(header.trim().as_bytes()).into();
        let clients = self
            .clients
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        clients.iter().any(|c| constant_time_eq(&c.header_digest, &presented))
    }

    /// Puts these clients in the place of those in use, for every request from now on.
    pub fn replace_clients(&self, clients: Vec<GatewayClient>) {
        *self.clients.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(clients);
    }

    /// A registry login (`/auth/token`, `/auth/forward`): the secret must be a working token's
    /// and the username that token's. Someone else's username with a secret, valid or not, is
    /// refused exactly as an unknown secret is: what became of a secret (re-generated, deleted,
    /// revoked, expired) is told to its own username only, so that neither tells about the
    /// other. A success counts as a use of the token.
    pub async fn login(&self, username: &str, secret: &str, from: Option<IpAddr>) -> Result<Check, ApiError> {
        Ok(match self.check(secret).await? {
            Check::Active(known) if known.token.registry_username == username => {
                self.usage.used(&known.last_use, from);
                Check::Active(known)
            }
            Check::Active(_) => Check::Refused(Refusal::Unknown, None),
            Check::Refused(Refusal::Malformed, _) => Check::Refused(Refusal::Malformed, None),
            Check::Refused(why, Some(owner)) if owner == username => Check::Refused(why, Some(owner)),
            Check::Refused(..) => Check::Refused(Refusal::Unknown, None),
        })
    }

    /// Whether `presented` is the current secret of a token that has not expired. Malformed
    /// secrets are refused before any lookup; known answers come from the cache.
    pub async fn check(&self, presented: &str) -> Result<Check, ApiError> {
        if PlainSecret::parse(presented).is_err() {
            return Ok(Check::Refused(Refusal::Malformed, None));
        }
        let digest = digest(presented);
        let lookup = match self.cache.get(&digest) {
            Some(found) => found,
            None => {
                let epoch = self.cache.epoch();
                let patience = crate::blocking::GATEWAY_PATIENCE;
                let found = tokio::time::timeout(patience, self.misses.lookup(digest))
                    .await
                    .map_err(|_| crate::blocking::too_slow(patience))??;
                let lookup = match found {
                    SecretLookup::Token(token) => {
                        let answer = serde_json::to_vec(&introspection(&token)).map_err(ApiError::internal)?;
                        Lookup::Known(Arc::new(Known {
                            last_use: usage::LastUse::new(&token.id),
                            token,
                            introspection: answer.into(),
                        }))
                    }
                    SecretLookup::Retired(why) => Lookup::Unknown(Some(why)),
                    SecretLookup::Unknown => Lookup::Unknown(None),
                };
                self.cache.insert(epoch, digest, lookup.clone());
                lookup
            }
        };
        Ok(match lookup {
            Lookup::Known(known) => match known.token.revoked_at {
                Some(at) => Check::Refused(Refusal::Revoked(at), Some(known.token.registry_username.clone())),
                None if chrono::Utc::now() < known.token.expires_at => Check::Active(known),
                None => Check::Refused(
                    Refusal::Expired(known.token.expires_at),
                    Some(known.token.registry_username.clone()),
                ),
            },
            Lookup::Unknown(None) => Check::Refused(Refusal::Unknown, None),
            Lookup::Unknown(Some(retired)) => Check::Refused(
                match retired.why {
                    Retired::Regenerated => Refusal::Regenerated,
                    Retired::Deleted => Refusal::Deleted,
                },
                retired.username,
            ),
        })
    }
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_decoded() {
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("gw:s3cret:with:colons")
        );
        assert_eq!(
            basic_credentials(Some(&header)),
            Some(("gw".into(), "s3cret:with:colons".into()))
        );
        assert_eq!(basic_credentials(Some("Bearer abc")), None);
        assert_eq!(basic_credentials(Some("Basic !!!")), None);
        assert_eq!(basic_credentials(None), None);
    }

    #[test]
    fn gateway_clients_need_a_real_secret() {
        assert!(GatewayClient::parse("gw:short").is_err());
        assert!(GatewayClient::parse(":0123456789abcdef").is_err());
        let c = GatewayClient::parse("gw:0123456789abcdef").unwrap();
        assert_eq!(format!("{c:?}"), "GatewayClient(gw)");
    }
}
