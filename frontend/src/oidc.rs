//! Sign-in with the identity provider: Authorization Code with PKCE (S256) as a public
//! client, with the browser's own `crypto.getRandomValues` and `crypto.subtle`. `state` and
//! `nonce` are checked, the code leaves the address bar at once, and tokens live in session
//! storage (this tab only, gone when it closes), never in local storage.

use tollgate_model::OidcOptions;
use wasm_bindgen::JsCast;

/// What the redirect to the provider must find again: `state`, `nonce`, the PKCE verifier
/// and the page to return to, one per line. Removed when the provider sends the user back.
const PENDING: &str = "tollgate.pending";
const REFRESH: &str = "tollgate.refresh";
const ID_TOKEN: &str = "tollgate.id_token";
const EXPIRES: &str = "tollgate.expires";

/// The tokens of a session (the rest is kept in session storage).
pub struct Tokens {
    pub access: String,
}

fn window() -> web_sys::Window {
    web_sys::window().expect("a browser window")
}

fn storage() -> Option<web_sys::Storage> {
    window().session_storage().ok().flatten()
}

/// Session storage: this tab only, gone when it closes.
pub fn get(key: &str) -> Option<String> {
    storage()?.get_item(key).ok().flatten()
}

pub fn set(key: &str, value: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(key, value);
    }
}

pub fn remove(key: &str) {
    if let Some(s) = storage() {
        let _ = s.remove_item(key);
    }
}

/// The server's sign-in options, from their JSON.
pub fn options(json: &serde_json::Value) -> tollgate_model::SignInOptions {
    let text = |v: &serde_json::Value, name: &str| v[name].as_str().unwrap_or_default().to_owned();
    let oidc = &json["oidc"];
    tollgate_model::SignInOptions {
        demo: json["demo"] == true,
        oidc: oidc.is_object().then(|| OidcOptions {
            issuer: text(oidc, "issuer"),
            client_id: text(oidc, "client_id"),
            scopes: text(oidc, "scopes"),
            authorization_endpoint: text(oidc, "authorization_endpoint"),
            token_endpoint: text(oidc, "token_endpoint"),
            end_session_endpoint: oidc["end_session_endpoint"].as_str().map(str::to_owned),
        }),
    }
}

/// Forgets the provider's tokens (the bearer is the app's to forget).
pub fn forget() {
    for key in [PENDING, REFRESH, ID_TOKEN, EXPIRES] {
        remove(key);
    }
}

// PKCE and the address bar's parameters in a few lines of the browser's own JavaScript
// (`crypto.getRandomValues`, `crypto.subtle`, `URLSearchParams`): far smaller in the bundle
// than the same in Rust.
#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
const b64 = (a) => btoa(String.fromCharCode(...new Uint8Array(a))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const random = () => b64(crypto.getRandomValues(new Uint8Array(32)));
export async function pkce() {
  const verifier = random();
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return [random(), random(), verifier, b64(digest)].join(' ');
}
export function param(name) { return new URLSearchParams(location.search).get(name); }
export function idClaims(t) {
  const c = JSON.parse(atob(t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
  return [c.iss, c.nonce, [].concat(c.aud).join(' ')].join('\n');
}
"#)]
extern "C" {
    /// `state nonce verifier challenge`: three 256-bit random values and the verifier's S256
    /// challenge.
    #[wasm_bindgen(catch)]
    async fn pkce() -> Result<wasm_bindgen::JsValue, wasm_bindgen::JsValue>;
    /// A query parameter of the address bar.
    fn param(name: &str) -> Option<String>;
    /// An ID token's `iss`, `nonce` and audiences (space-separated), one per line.
    #[wasm_bindgen(catch, js_name = idClaims)]
    fn id_claims(token: &str) -> Result<String, wasm_bindgen::JsValue>;
}

fn encode(text: &str) -> String {
    js_sys::encode_uri_component(text).into()
}

/// The page's origin and the redirect URI registered for the portal: the origin's root.
fn redirect_uri() -> String {
    window().location().origin().unwrap_or_default() + "/"
}

/// Sends the browser to the provider's sign-in; it comes back to `return_to`.
pub async fn start(options: &OidcOptions, return_to: &str) -> Result<(), String> {
    let values = pkce()
        .await
        .ok()
        .and_then(|v| v.as_string())
        .ok_or("this browser cannot sign in securely (crypto.subtle needs https or localhost)")?;
    let mut parts = values.split(' ');
    let mut next = || parts.next().unwrap_or_default().to_owned();
    let (state, nonce, verifier, code_challenge) = (next(), next(), next(), next());
    set(PENDING, &format!("{state}\n{nonce}\n{verifier}\n{return_to}"));
    let url = format!(
        "{}?response_type=code&client_id={}&redirect_uri={}&scope={}&state={state}&nonce={nonce}&code_challenge={code_challenge}&code_challenge_method=S256",
        options.authorization_endpoint,
        encode(&options.client_id),
        encode(&redirect_uri()),
        encode(&options.scopes),
    );
    window()
        .location()
        .assign(&url)
        .map_err(|_| "the sign-in page cannot be opened".to_owned())
}

/// Replaces the address (no new history entry): the code leaves the address bar.
pub fn replace_address(path: &str) {
    if let Ok(history) = window().history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(path));
    }
}

/// Completes a sign-in when the provider has just sent the user back: `None` when the
/// address is not such a return.
pub async fn complete(options: &OidcOptions) -> Option<Result<Tokens, String>> {
    let state = param("state")?;
    let (code, error) = (param("code"), param("error"));
    let error = error.map(|e| param("error_description").unwrap_or(e));
    if code.is_none() && error.is_none() {
        return None;
    }
    let pending = get(PENDING);
    remove(PENDING);
    let mut lines = pending.as_deref().unwrap_or_default().splitn(4, '\n');
    let (expected_state, nonce, verifier, return_to) = (
        lines.next().unwrap_or_default().to_owned(),
        lines.next().unwrap_or_default().to_owned(),
        lines.next().unwrap_or_default().to_owned(),
        lines
            .next()
            .filter(|p| p.starts_with('/') && !p.starts_with("//"))
            .unwrap_or("/")
            .to_owned(),
    );
    replace_address(&return_to);
    if pending.is_none() || state != expected_state {
        return Some(Err(
            "The sign-in could not be completed (it was not started here, or started twice). Sign in again.".into(),
        ));
    }
    if let Some(why) = error {
        return Some(Err(format!("The identity provider did not sign you in: {why}")));
    }
    let code = code.unwrap_or_default();
    let body = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&client_id={}&code_verifier={verifier}",
        encode(&code),
        encode(&redirect_uri()),
        encode(&options.client_id)
    );
    Some(exchange(options, body, Some(&nonce)).await)
}

/// Renews the session with the refresh token, when the provider gave one: `None` without.
pub async fn refresh(options: &OidcOptions) -> Option<Result<Tokens, String>> {
    let token = get(REFRESH)?;
    let body = format!(
        "grant_type=refresh_token&refresh_token={}&client_id={}",
        encode(&token),
        encode(&options.client_id)
    );
    Some(exchange(options, body, None).await)
}

/// Posts to the token endpoint and keeps what it answers.
async fn exchange(options: &OidcOptions, body: String, nonce: Option<&str>) -> Result<Tokens, String> {
    let answer = tollgate_client::Client::new("")
        .post_form(&options.token_endpoint, body)
        .await
        .map_err(|e| match e {
            tollgate_client::ClientError::Transport(_) => "The identity provider could not be reached.".to_owned(),
            _ => "The identity provider refused the session.".to_owned(),
        })?;
    let field = |name: &str| answer[name].as_str().map(str::to_owned);
    let access = field("access_token").ok_or("The identity provider's answer was not understood.")?;
    if let Some(id_token) = field("id_token") {
        check_id_token(options, &id_token, nonce)?;
        set(ID_TOKEN, &id_token);
    } else if nonce.is_some() {
        return Err("The identity provider sent no ID token: is `openid` among TOLLGATE_OIDC_SCOPES?".into());
    }
    if let Some(refresh) = field("refresh_token") {
        set(REFRESH, &refresh);
    }
    // Whole milliseconds: float formatting and parsing would weigh on the bundle.
    let expires_at = js_sys::Date::now() as u64 + answer["expires_in"].as_u64().unwrap_or(300) * 1000;
    set(EXPIRES, &expires_at.to_string());
    Ok(Tokens { access })
}

/// The ID token came straight from the token endpoint (OpenID Connect Core 3.1.3.7: TLS
/// stands in for its signature here); its issuer, audience and `nonce` must be ours.
fn check_id_token(options: &OidcOptions, id_token: &str, nonce: Option<&str>) -> Result<(), String> {
    let claims = id_claims(id_token).map_err(|_| "The identity provider's ID token was not understood.")?;
    let mut lines = claims.split('\n');
    let (iss, token_nonce, audiences) = (lines.next(), lines.next(), lines.next().unwrap_or_default());
    let ours = iss == Some(options.issuer.as_str())
        && audiences.split(' ').any(|a| a == options.client_id)
        && nonce.is_none_or(|n| token_nonce == Some(n));
    if !ours {
        return Err("The identity provider's ID token is not for this sign-in; sign in again.".into());
    }
    Ok(())
}

/// When the stored access token expires (ms since the epoch).
pub fn expires_at() -> Option<u64> {
    get(EXPIRES)?.parse().ok()
}

/// Where sign-out ends the provider's session too, when it offers that.
pub fn end_session_url(options: &OidcOptions) -> Option<String> {
    let endpoint = options.end_session_endpoint.as_ref()?;
    let hint = get(ID_TOKEN)
        .map(|t| format!("&id_token_hint={}", encode(&t)))
        .unwrap_or_default();
    Some(format!(
        "{endpoint}?client_id={}&post_logout_redirect_uri={}{hint}",
        encode(&options.client_id),
        encode(&redirect_uri())
    ))
}

/// The page the user is on (to return to after a sign-in).
pub fn here() -> String {
    window().location().pathname().unwrap_or_else(|_| "/".into())
}

/// Leaves for `url`.
pub fn go(url: &str) {
    let _ = window().location().assign(url);
}

/// Whether the window can run code later: a session renewal is scheduled with it.
pub fn schedule(after_ms: u64, f: impl FnOnce() + 'static) {
    let callback = wasm_bindgen::closure::Closure::once_into_js(f);
    let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(
        callback.unchecked_ref(),
        after_ms.min(2_000_000_000) as i32,
    );
}
