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
// The token endpoint: the tokens are kept in session storage, the ID token's issuer,
// audience and nonce checked (it came straight from the provider over TLS, OpenID Connect
// Core 3.1.3.7); resolves to the access token, or fails with the reason.
export async function exchange(endpoint, body, issuer, clientId, nonce) {
  let answer, res;
  try {
    res = await fetch(endpoint, { method: 'POST', body,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' } });
    answer = await res.json();
  } catch { throw 'The identity provider could not be reached.'; }
  if (!res.ok || !answer.access_token) {
    throw `The identity provider refused the session: ${answer.error_description || answer.error || res.status}.`;
  }
  if (answer.id_token) {
    const c = JSON.parse(atob(answer.id_token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    if (c.iss !== issuer || ![].concat(c.aud).includes(clientId) || (nonce && c.nonce !== nonce)) {
      throw "The identity provider's ID token is not for this sign-in; sign in again.";
    }
    sessionStorage.setItem('tollgate.id_token', answer.id_token);
  } else if (nonce) {
    throw 'The identity provider sent no ID token: is `openid` among TOLLGATE_OIDC_SCOPES?';
  }
  if (answer.refresh_token) sessionStorage.setItem('tollgate.refresh', answer.refresh_token);
  sessionStorage.setItem('tollgate.expires', String(Date.now() + (answer.expires_in || 300) * 1000));
  return answer.access_token;
}
"#)]
extern "C" {
    /// `state nonce verifier challenge`: three 256-bit random values and the verifier's S256
    /// challenge.
    #[wasm_bindgen(catch)]
    async fn pkce() -> Result<wasm_bindgen::JsValue, wasm_bindgen::JsValue>;
    /// A query parameter of the address bar.
    fn param(name: &str) -> Option<String>;
    /// Posts `body` to the token endpoint and keeps the tokens: the access token, or why not.
    #[wasm_bindgen(catch, js_name = exchange)]
    async fn exchange_js(
        endpoint: &str,
        body: &str,
        issuer: &str,
        client_id: &str,
        nonce: &str,
    ) -> Result<wasm_bindgen::JsValue, wasm_bindgen::JsValue>;
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

/// Posts to the token endpoint and keeps what it answers (in JavaScript, see above).
async fn exchange(options: &OidcOptions, body: String, nonce: Option<&str>) -> Result<Tokens, String> {
    let nonce = nonce.unwrap_or_default();
    match exchange_js(
        &options.token_endpoint,
        &body,
        &options.issuer,
        &options.client_id,
        nonce,
    )
    .await
    {
        Ok(access) => access
            .as_string()
            .map(|access| Tokens { access })
            .ok_or_else(String::new),
        Err(why) => Err(why.as_string().unwrap_or_default()),
    }
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
