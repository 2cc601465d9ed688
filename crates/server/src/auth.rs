//! Bearer JWTs: verified against the issuer's JWKS (found through OpenID Connect discovery
//! or configured; cached, refetched when an unknown `kid` appears); what their claims say is
//! read by [`crate::claims`].

use crate::claims::{ClaimMap, Identity};
use crate::error::{unauthenticated, ApiError};
use jsonwebtoken::{decode, decode_header, jwk::JwkSet, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};
use tollgate_model::ErrorCode;

/// Keys are refetched after this long even when every `kid` is known.
const KEYS_MAX_AGE: Duration = Duration::from_secs(600);
/// An unknown `kid` refetches the keys at most this often, so that forged tokens cannot
/// make Tollgate hammer the identity provider.
const UNKNOWN_KID_COOLDOWN: Duration = Duration::from_secs(1);
/// After a failed fetch, the keys are not asked for again for this long: an identity
/// provider that is down is not hammered by every request that needs a key.
const FAILURE_COOLDOWN: Duration = Duration::from_secs(5);
/// Clock skew tolerated on `exp`, `nbf` and the lifetime.
const LEEWAY: u64 = 30;

/// Refuses a key URL that could be read or changed on the way: `https`, or `http` to a
/// loopback address only.
pub fn require_safe_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!(
            "`{url}` must use https (plain http is allowed on a loopback address only)"
        )),
    }
}

/// The `iss` a token claims, unverified: only to say why a token is refused.
fn unverified_issuer(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// What OpenID Connect discovery tells about the issuer.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovered {
    pub issuer: String,
    pub jwks_uri: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

#[derive(Default)]
struct KeySet {
    keys: HashMap<String, DecodingKey>,
    /// The key to use for tokens without a `kid`, when the set has exactly one.
    only: Option<DecodingKey>,
    fetched_at: Option<Instant>,
}

/// Checks bearer tokens of one issuer.
pub struct Verifier {
    issuer: String,
    audience: String,
    /// A configured JWKS URL; without one, discovery names it.
    jwks_url: Option<String>,
    claims: ClaimMap,
    discovered: RwLock<Option<(Discovered, Instant)>>,
    http: reqwest::Client,
    keys: RwLock<KeySet>,
    refresh: tokio::sync::Mutex<()>,
    /// One discovery fetch at a time: the portal's first visitors do not each ask the provider.
    discovering: tokio::sync::Mutex<()>,
    /// When the last fetch failed, if the last fetch failed.
    failed_at: RwLock<Option<Instant>>,
    /// The longest lifetime accepted, in seconds.
    max_lifetime: u64,
    /// Tokens verified with the current keys, by the SHA-256 of the whole token (its signature
    /// included), with their expiry: a portal session sends the same token with every request,
    /// and an ECDSA verification costs more than the rest of a page (measured with `make
    /// bench-scale`). Forgotten when the keys are fetched again; a token past its expiry is
    /// verified again, and refused as expired.
    verified: std::sync::Mutex<Verified>,
}

/// [`Verifier`]'s memory of verified tokens.
#[derive(Default)]
struct Verified {
    /// Bumped by every fetch of the keys: a verification that started with the keys before it
    /// is not remembered (its key may be one the issuer has just withdrawn).
    keys_fetched: u64,
    tokens: HashMap<[u8; 32], (Identity, u64)>,
}

/// The most verified tokens remembered; when full, they are all forgotten.
const VERIFIED_MAX: usize = 10_000;

/// The registered claims Tollgate checks itself; the others are read through the [`ClaimMap`].
#[derive(Deserialize)]
struct Registered {
    sub: String,
    exp: u64,
    #[serde(default)]
    iat: Option<u64>,
}

fn keys_unavailable() -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        "the identity provider's keys cannot be fetched; try again shortly",
    )
}

impl Verifier {
    /// A verifier of `issuer`'s tokens for `audience`, with keys from `jwks_url` or, without
    /// one, from the issuer's discovery document.
    pub fn new(issuer: String, audience: String, jwks_url: Option<String>) -> Verifier {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("the HTTP client's TLS backend initialises");
        Verifier {
            issuer,
            audience,
            jwks_url,
            claims: ClaimMap::default(),
            discovered: RwLock::new(None),
            http,
            keys: RwLock::new(KeySet::default()),
            refresh: Default::default(),
            discovering: Default::default(),
            failed_at: RwLock::new(None),
            max_lifetime: 86_400,
            verified: Default::default(),
        }
    }

    /// Refuses tokens that live longer than `seconds`.
    pub fn max_lifetime(mut self, seconds: u64) -> Verifier {
        self.max_lifetime = seconds;
        self
    }

    /// Reads the caller's project, role, name and email through `claims`.
    pub fn claims(mut self, claims: ClaimMap) -> Verifier {
        self.claims = claims;
        self
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer.trim_end_matches('/'))
    }

    /// The issuer's discovery document, fetched at most every few minutes (and not again for
    /// a few seconds after a failure).
    pub async fn discovery(&self) -> Result<Discovered, ApiError> {
        let fresh = || {
            self.discovered
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .filter(|(_, at)| at.elapsed() < KEYS_MAX_AGE)
                .map(|(found, _)| found.clone())
        };
        if let Some(found) = fresh() {
            return Ok(found);
        }
        let _one_at_a_time = self.discovering.lock().await;
        // Another caller may have fetched it while this one waited.
        if let Some(found) = fresh() {
            return Ok(found);
        }
        let failed_recently = self
            .failed_at
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|at| at.elapsed() < FAILURE_COOLDOWN);
        let stale = self.discovered.read().unwrap_or_else(|p| p.into_inner()).clone();
        if failed_recently {
            return stale.map(|(d, _)| d).ok_or_else(keys_unavailable);
        }
        match self.fetch_discovery().await {
            Ok(found) => {
                *self.discovered.write().unwrap_or_else(|p| p.into_inner()) = Some((found.clone(), Instant::now()));
                Ok(found)
            }
            Err(e) => {
                *self.failed_at.write().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                tracing::warn!(url = %self.discovery_url(), error = %e, "OpenID Connect discovery failed");
                stale.map(|(d, _)| d).ok_or_else(keys_unavailable)
            }
        }
    }

    async fn fetch_discovery(&self) -> Result<Discovered, String> {
        let url = self.discovery_url();
        let response = self.http.get(&url).send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("the discovery document answered {}", response.status()));
        }
        let found: Discovered = response.json().await.map_err(|e| e.to_string())?;
        // OpenID Connect Discovery 1.0, section 4.3: the document must be the issuer's own.
        if found.issuer != self.issuer {
            return Err(format!(
                "the discovery document names the issuer `{}`, not `{}`",
                found.issuer, self.issuer
            ));
        }
        require_safe_url(&found.jwks_uri)?;
        Ok(found)
    }

    /// The claims of a valid token, or the reason it is refused.
    pub async fn verify(&self, token: &str) -> Result<Identity, ApiError> {
        use sha2::{Digest, Sha256};
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let keys_fresh = self
            .keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .fetched_at
            .is_some_and(|at| at.elapsed() < KEYS_MAX_AGE);
        let keys_fetched = {
            let verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((identity, exp)) = verified.tokens.get(&key).filter(|_| keys_fresh) {
                if jsonwebtoken::get_current_timestamp() <= exp + LEEWAY {
                    return Ok(identity.clone());
                }
            }
            verified.keys_fetched
        };
        let (identity, exp) = self.verify_signed(token).await?;
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified.keys_fetched == keys_fetched {
            if verified.tokens.len() >= VERIFIED_MAX {
                verified.tokens.clear();
            }
            verified.tokens.insert(key, (identity.clone(), exp));
        }
        Ok(identity)
    }

    /// [`Verifier::verify`] without the memory of verified tokens: the claims and expiry.
    async fn verify_signed(&self, token: &str) -> Result<(Identity, u64), ApiError> {
        let head = decode_header(token).map_err(|_| unauthenticated("the bearer token is not a well-formed JWT"))?;
        if matches!(head.alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            return Err(unauthenticated(
                "the bearer token must be signed with the issuer's public-key algorithm",
            ));
        }
        // A token of another issuer is told so before any key is looked for (and never makes
        // Tollgate refetch its issuer's keys); its signature would not verify anyway.
        if unverified_issuer(token).is_some_and(|iss| iss != self.issuer) {
            return Err(unauthenticated("the bearer token is from another issuer"));
        }
        let key = self.key_for(head.kid.as_deref()).await?;
        let mut validation = Validation::new(head.alg);
        validation.set_issuer(&[&self.issuer]);
        match &self.claims.operators.audience {
            Some(operators) => validation.set_audience(&[&self.audience, operators]),
            None => validation.set_audience(&[&self.audience]),
        }
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY;
        let data = decode::<Value>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind::*;
            match e.kind() {
                ExpiredSignature => {
                    ApiError::new(ErrorCode::SessionExpired, "the bearer token has expired; sign in again")
                }
                InvalidIssuer => unauthenticated("the bearer token is from another issuer"),
                InvalidAudience => unauthenticated("the bearer token is for another audience"),
                ImmatureSignature => unauthenticated("the bearer token is not valid yet"),
                MissingRequiredClaim(c) => unauthenticated(&format!("the bearer token lacks the `{c}` claim")),
                InvalidSignature | InvalidAlgorithm | InvalidEcdsaKey | InvalidRsaKey(_) => {
                    unauthenticated("the bearer token's signature does not verify")
                }
                Json(_) => unauthenticated("the bearer token's claims are not what Tollgate expects"),
                _ => unauthenticated("the bearer token is invalid"),
            }
        })?;
        let all = data.claims;
        let c: Registered = serde_json::from_value(all.clone()).map_err(|_| {
            unauthenticated("the bearer token's `sub`, `exp` or `iat` claim is not what Tollgate expects")
        })?;
        let now = jsonwebtoken::get_current_timestamp();
        let lifetime = match c.iat {
            Some(iat) => c.exp.saturating_sub(iat),
            None => c.exp.saturating_sub(now),
        };
        if lifetime > self.max_lifetime + LEEWAY || c.exp.saturating_sub(now) > self.max_lifetime + LEEWAY {
            return Err(unauthenticated(&format!(
                "the bearer token lives longer than this server accepts ({} s at most)",
                self.max_lifetime
            )));
        }
        let identity = self.claims.identity(c.sub, &all)?;
        Ok((identity, c.exp))
    }

    async fn key_for(&self, kid: Option<&str>) -> Result<DecodingKey, ApiError> {
        let (found, age) = self.lookup(kid);
        let fresh_enough = age.is_some_and(|a| a < KEYS_MAX_AGE);
        if let (Some(key), true) = (&found, fresh_enough) {
            return Ok(key.clone());
        }
        let failed_recently = self
            .failed_at
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|at| at.elapsed() < FAILURE_COOLDOWN);
        if failed_recently {
            return found.ok_or_else(keys_unavailable);
        }
        let may_refetch = age.is_none_or(|a| a >= UNKNOWN_KID_COOLDOWN);
        if may_refetch {
            let _one_at_a_time = self.refresh.lock().await;
            // Another request may have refetched while this one waited.
            let (_, age) = self.lookup(kid);
            if age.is_none_or(|a| a >= UNKNOWN_KID_COOLDOWN) {
                let fetched = self.fetch().await;
                *self.failed_at.write().unwrap_or_else(|p| p.into_inner()) = fetched.is_err().then(Instant::now);
                if let Err(e) = fetched {
                    tracing::warn!(issuer = %self.issuer, error = %e, "fetching the issuer's keys failed");
                    // Keep using a known key while the issuer is unreachable.
                    return found.ok_or_else(keys_unavailable);
                }
            }
        }
        self.lookup(kid)
            .0
            .ok_or_else(|| unauthenticated("the bearer token is signed with a key the issuer does not publish"))
    }

    fn lookup(&self, kid: Option<&str>) -> (Option<DecodingKey>, Option<Duration>) {
        let set = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let key = match kid {
            Some(kid) => set.keys.get(kid).cloned(),
            None => set.only.clone(),
        };
        (key, set.fetched_at.map(|t| t.elapsed()))
    }

    async fn fetch(&self) -> Result<(), String> {
        let url = match &self.jwks_url {
            Some(url) => url.clone(),
            None => self.discovery().await.map_err(|e| e.to_string())?.jwks_uri,
        };
        let response = self.http.get(&url).send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("the JWKS endpoint answered {}", response.status()));
        }
        let set: JwkSet = response.json().await.map_err(|e| e.to_string())?;
        let mut keys = HashMap::new();
        let mut all = Vec::new();
        for jwk in &set.keys {
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                if let Some(kid) = &jwk.common.key_id {
                    keys.insert(kid.clone(), key.clone());
                }
                all.push(key);
            }
        }
        let only = if all.len() == 1 { all.pop() } else { None };
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = KeySet {
            keys,
            only,
            fetched_at: Some(Instant::now()),
        };
        // A key the issuer no longer publishes verifies nothing from now on, nor does a
        // verification still running with the keys before these.
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        verified.tokens.clear();
        verified.keys_fetched += 1;
        Ok(())
    }
}
