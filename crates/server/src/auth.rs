//! Bearer JWTs: verified against the issuer's JWKS (fetched, cached, refetched when an
//! unknown `kid` appears), then resolved to the acting portal user.

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use jsonwebtoken::{decode, decode_header, jwk::JwkSet, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};
use tollgate_model::{ErrorCode, Role};
use tollgate_store::{Actor, UserClaims};

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
    jwks_url: String,
    http: reqwest::Client,
    keys: RwLock<KeySet>,
    refresh: tokio::sync::Mutex<()>,
    /// When the last fetch failed, if the last fetch failed.
    failed_at: RwLock<Option<Instant>>,
    /// The longest lifetime accepted, in seconds.
    max_lifetime: u64,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    project: Option<String>,
    #[serde(default)]
    role: Option<String>,
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

fn unauthenticated(detail: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthenticated, detail)
}

impl Verifier {
    pub fn new(issuer: String, audience: String, jwks_url: String) -> Verifier {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("the HTTP client's TLS backend initialises");
        Verifier {
            issuer,
            audience,
            jwks_url,
            http,
            keys: RwLock::new(KeySet::default()),
            refresh: Default::default(),
            failed_at: RwLock::new(None),
            max_lifetime: 86_400,
        }
    }

    /// Refuses tokens that live longer than `seconds`.
    pub fn max_lifetime(mut self, seconds: u64) -> Verifier {
        self.max_lifetime = seconds;
        self
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The claims of a valid token, or the reason it is refused.
    pub async fn verify(&self, token: &str) -> Result<UserClaims, ApiError> {
        let head = decode_header(token).map_err(|_| unauthenticated("the bearer token is not a well-formed JWT"))?;
        if matches!(head.alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            return Err(unauthenticated(
                "the bearer token must be signed with the issuer's public-key algorithm",
            ));
        }
        let key = self.key_for(head.kid.as_deref()).await?;
        let mut validation = Validation::new(head.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY;
        let data = decode::<Claims>(token, &key, &validation).map_err(|e| {
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
        let c = data.claims;
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
        let project = c
            .project
            .filter(|p| !p.is_empty())
            .ok_or_else(|| unauthenticated("the bearer token lacks the `project` claim"))?;
        let role =
            c.role.as_deref().and_then(Role::parse).ok_or_else(|| {
                unauthenticated("the bearer token's `role` claim must be `customer` or `customer_admin`")
            })?;
        if c.sub.is_empty() || c.sub.len() > 255 {
            return Err(unauthenticated("the bearer token's `sub` claim is empty or too long"));
        }
        let texts = [Some(&c.sub), c.name.as_ref(), c.email.as_ref(), Some(&project)];
        if texts
            .into_iter()
            .flatten()
            .any(|t| t.len() > 1024 || t.chars().any(char::is_control))
        {
            return Err(unauthenticated(
                "the bearer token's claims contain control characters or are too long",
            ));
        }
        let name = c.name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| c.sub.clone());
        Ok(UserClaims {
            id: c.sub,
            name,
            email: c.email.unwrap_or_default(),
            project_key: project,
            role,
        })
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
                    tracing::warn!(jwks_url = %self.jwks_url, error = %e, "fetching the issuer's keys failed");
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
        let response = self.http.get(&self.jwks_url).send().await.map_err(|e| e.to_string())?;
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
        Ok(())
    }
}

/// The authenticated portal user of a request.
pub struct Caller(pub Actor);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().to_owned());
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
            let token = bearer
                .ok_or_else(|| unauthenticated("send `Authorization: Bearer <token>` from your identity provider"))?;
            let claims = state.verifier.verify(&token).await?;
            let actor =
                crate::blocking::store_call(&state.store, crate::blocking::API_PATIENCE, move |s| s.sign_in(&claims))
                    .await?;
            Ok(Caller(actor))
        })
    }
}
