//! Bearer JWTs: verified against the issuer's JWKS (found through OpenID Connect discovery
//! or configured; cached, refetched when an unknown `kid` appears), their claims read through
//! the configured claim names and role values, then resolved to the acting portal user or
//! operator.

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use jsonwebtoken::{decode, decode_header, jwk::JwkSet, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};
use tollgate_model::{ErrorCode, Role};
use tollgate_store::policy::Party;
use tollgate_store::{Actor, Operator, UserClaims};

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

/// Which claims carry what, which values of the role claim mean which role, and which tokens
/// are operators'. A claim name is looked up as it is first (`https://example.com/roles`),
/// then as a path of dotted parts (`realm_access.roles`). The role claim may be a string or a
/// list of strings (`groups`, `roles`); when several values map to roles, the wider wins
/// (customer admin, then customer).
///
/// The operator role never comes from the role claim, which a customer's provider may let it
/// fill (a group it names itself): only from [`Operators`], a trust that customers cannot reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMap {
    pub project: String,
    pub role: String,
    pub name: String,
    pub email: String,
    pub roles: Vec<(String, Role)>,
    pub operators: Operators,
}

/// Whose bearer tokens are operators': listed subjects (a person's `sub`, or a client-
/// credentials client's, whose `sub` is its client id), or tokens for an audience of their own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Operators {
    pub subjects: Vec<String>,
    pub audience: Option<String>,
}

/// The role values when none are configured.
pub const DEFAULT_ROLE_VALUES: &str = "customer=customer,customer_admin=customer_admin";

impl Default for ClaimMap {
    fn default() -> ClaimMap {
        ClaimMap {
            project: "project".into(),
            role: "role".into(),
            name: "name".into(),
            email: "email".into(),
            roles: ClaimMap::parse_roles(DEFAULT_ROLE_VALUES).expect("the default role values parse"),
            operators: Operators::default(),
        }
    }
}

impl ClaimMap {
    /// `role=value` pairs separated by commas, e.g.
    /// `customer_admin=tollgate-admins,customer=tollgate-users`; a role may have several values.
    pub fn parse_roles(text: &str) -> Result<Vec<(String, Role)>, String> {
        let mut roles = Vec::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (role, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}` is not `role=value`"))?;
            let role = match role.trim() {
                "operator" => {
                    return Err(
                        "`operator` is not read from the role claim, which a customer's identity provider \
                                may let it fill: name operators with TOLLGATE_OPERATOR_SUBJECTS or \
                                TOLLGATE_OPERATOR_AUDIENCE"
                            .into(),
                    )
                }
                other => {
                    Role::parse(other).ok_or_else(|| format!("`{other}` is not a role (customer or customer_admin)"))?
                }
            };
            let value = value.trim();
            if value.is_empty() {
                return Err(format!("`{pair}` gives no claim value"));
            }
            roles.push((value.to_owned(), role));
        }
        if roles.is_empty() {
            return Err("no role values given".into());
        }
        Ok(roles)
    }

    /// The widest role that the values of the role claim map to.
    fn role_of(&self, claim: Option<&Value>) -> Option<Role> {
        let values: Vec<&str> = match claim? {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => return None,
        };
        self.roles
            .iter()
            .filter(|(value, _)| values.contains(&value.as_str()))
            .map(|(_, role)| *role)
            .max_by_key(|r| matches!(r, Role::CustomerAdmin))
    }

    /// Whether a token of `sub` for these audiences is an operator's.
    fn is_operator(&self, sub: &str, audiences: Option<&Value>) -> bool {
        let names_audience = |wanted: &str| match audiences {
            Some(Value::String(one)) => one == wanted,
            Some(Value::Array(many)) => many.iter().any(|a| a.as_str() == Some(wanted)),
            _ => false,
        };
        self.operators.subjects.iter().any(|s| s == sub)
            || self.operators.audience.as_deref().is_some_and(names_audience)
    }
}

/// A display name or email from the provider, without the characters that reorder or hide
/// text (Unicode's format characters, Cf: bidirectional controls, zero-width characters, soft
/// hyphens; and the line and paragraph separators, Zl and Zp), before it is stored or shown.
pub fn clean_text(text: &str) -> String {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    text.chars()
        .filter(|c| {
            !matches!(
                c.general_category(),
                GeneralCategory::Format | GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
            )
        })
        .collect()
}

/// A claim by its configured name: the name itself, else a path of dotted parts.
fn claim<'a>(claims: &'a Value, name: &str) -> Option<&'a Value> {
    if let Some(found) = claims.get(name) {
        return Some(found);
    }
    name.split('.').try_fold(claims, |at, part| at.get(part))
}

/// A text claim; a list of exactly one text (as group mappers send it) counts as that text.
fn text_claim(claims: &Value, name: &str) -> Option<String> {
    match claim(claims, name)? {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) if a.len() == 1 => a[0].as_str().map(str::to_owned),
        _ => None,
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

/// Who a valid bearer token says the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Member(UserClaims),
    Operator(Operator),
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

fn unauthenticated(detail: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthenticated, detail)
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
        let map = &self.claims;
        if c.sub.is_empty() || c.sub.len() > 255 {
            return Err(unauthenticated("the bearer token's `sub` claim is empty or too long"));
        }
        let operator = map.is_operator(&c.sub, all.get("aud"));
        let project = text_claim(&all, &map.project).filter(|p| !p.is_empty());
        let party = match (operator, &project) {
            (true, Some(_)) => {
                return Err(unauthenticated(&format!(
                    "the bearer token is an operator's (TOLLGATE_OPERATOR_SUBJECTS or TOLLGATE_OPERATOR_AUDIENCE) \
                     and also names a project (`{}`): ambiguous, refused",
                    map.project
                )))
            }
            (true, None) => Party::Operator,
            (false, _) => match claim(&all, &map.role) {
                None => {
                    return Err(unauthenticated(&format!(
                        "the bearer token lacks the `{}` claim",
                        map.role
                    )))
                }
                Some(values) => Party::Member(map.role_of(Some(values)).ok_or_else(|| {
                    unauthenticated(&format!(
                        "the bearer token's `{}` claim maps to no role of Tollgate (see TOLLGATE_ROLE_VALUES)",
                        map.role
                    ))
                })?),
            },
        };
        let name = text_claim(&all, &map.name).map(|n| clean_text(&n));
        let email = text_claim(&all, &map.email).map(|e| clean_text(&e));
        let project = match party {
            Party::Operator => None,
            Party::Member(_) => Some(
                project
                    .ok_or_else(|| unauthenticated(&format!("the bearer token lacks the `{}` claim", map.project)))?,
            ),
        };
        let texts = [Some(&c.sub), name.as_ref(), email.as_ref(), project.as_ref()];
        if texts
            .into_iter()
            .flatten()
            .any(|t| t.len() > 1024 || t.chars().any(char::is_control))
        {
            return Err(unauthenticated(
                "the bearer token's claims contain control characters or are too long",
            ));
        }
        let name = name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| c.sub.clone());
        let identity = match (party, project) {
            (Party::Member(role), Some(project_key)) => Identity::Member(UserClaims {
                id: c.sub,
                name,
                email: email.unwrap_or_default(),
                project_key,
                role,
            }),
            _ => Identity::Operator(Operator { id: c.sub, name }),
        };
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

fn bearer_of(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned())
}

/// The identity of a request's bearer token.
async fn identify(state: &AppState, bearer: Option<String>) -> Result<Identity, ApiError> {
    let token =
        bearer.ok_or_else(|| unauthenticated("send `Authorization: Bearer <token>` from your identity provider"))?;
    state.verifier.verify(&token).await
}

/// The authenticated portal user of a request (an operator is refused: they see nothing
/// inside a project).
pub struct Caller(pub Actor);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let bearer = bearer_of(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
            let claims = match identify(&state, bearer).await? {
                Identity::Member(claims) => claims,
                Identity::Operator(_) => {
                    return Err(ApiError::new(
                        ErrorCode::Forbidden,
                        tollgate_store::policy::OPERATORS_SEE_NO_TOKEN,
                    ))
                }
            };
            let actor =
                crate::blocking::store_call(&state.store, crate::blocking::API_PATIENCE, move |s| s.sign_in(&claims))
                    .await?;
            Ok(Caller(actor))
        })
    }
}

/// An operator of the vendor: the caller of `/api/v1/projects`.
pub struct OperatorCaller(pub Operator);

impl FromRequest for OperatorCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<OperatorCaller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let bearer = bearer_of(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
            match identify(&state, bearer).await? {
                Identity::Operator(operator) => Ok(OperatorCaller(operator)),
                Identity::Member(claims) => {
                    use tollgate_store::policy::{allowed, Operation, Target};
                    allowed(claims.role, Operation::ManageProjects, Target::Project)?;
                    Err(ApiError::internal(
                        "the permission table let a project member manage projects",
                    ))
                }
            }
        })
    }
}
