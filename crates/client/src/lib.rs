//! The typed client of Tollgate's REST API (`/api/v1`): the SPA's only way to the server, and
//! integrators' from Rust. Builds for native targets and for the browser (WASM).
//!
//! ```no_run
//! # async fn demo() -> Result<(), tollgate_client::ClientError> {
//! use tollgate_client::Client;
//! use tollgate_model::CreateToken;
//! let anonymous = Client::new("http://127.0.0.1:8080");
//! let session = anonymous.demo_session("alice").await?;
//! let alice = anonymous.with_bearer(&session.access_token);
//! let issued = alice.create_token(&CreateToken { name: "laptop".into(), kind: Default::default(), service_user_id: None, expires_on: None }).await?;
//! println!("{}", issued.login.docker_login);
//! # Ok(()) }
//! ```

use serde::de::DeserializeOwned;
use serde::Serialize;
use tollgate_model::{
    paths, AuditEvent, CreateServiceUser, CreateToken, DemoSession, DemoSessionRequest, DemoUser, ErrorCode,
    IssuedToken, Me, Page, Problem, ServiceUser, ServiceUserList, Token, TokenListQuery,
};

/// What a call can fail with. `Api` carries the server's problem, whose `detail` is meant for
/// people and whose `code` is meant for programs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    #[error("{}", .0.detail)]
    Api(Problem),
    #[error("the server could not be reached: {0}")]
    Transport(String),
    #[error("the server's answer was not understood: {0}")]
    Decode(String),
}

impl ClientError {
    /// The API's error code, when the server answered with a problem.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api(p) => Some(p.code),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;

#[derive(Debug, Clone, Default, Serialize)]
struct PageQuery<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<u32>,
}

/// A handle on one Tollgate server, optionally signed in. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    #[cfg(not(target_arch = "wasm32"))]
    http: reqwest::Client,
    bearer: Option<String>,
}

/// One call of the API, as the transport sends it.
struct Call {
    method: &'static str,
    url: String,
    bearer: Option<String>,
    /// A JSON body.
    body: Option<String>,
}

impl Call {
    fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Call {
        self.body = serde_json::to_string(body).ok();
        self
    }

    fn query<Q: Serialize>(mut self, query: &Q) -> Call {
        if let Ok(text) = serde_urlencoded::to_string(query) {
            if !text.is_empty() {
                self.url.push('?');
                self.url.push_str(&text);
            }
        }
        self
    }
}

/// Native: reqwest (rustls).
#[cfg(not(target_arch = "wasm32"))]
async fn transport(http: &reqwest::Client, call: Call) -> Result<(u16, String)> {
    let method = reqwest::Method::from_bytes(call.method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut request = http.request(method, &call.url).header("accept", "application/json");
    if let Some(token) = &call.bearer {
        request = request.bearer_auth(token);
    }
    if let Some(body) = call.body {
        request = request.header("content-type", "application/json").body(body);
    }
    let response = request
        .send()
        .await
        .map_err(|e| ClientError::Transport(e.to_string()))?;
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .map_err(|e| ClientError::Transport(e.to_string()))?;
    Ok((status, text))
}

// The browser: its own `fetch`, in a few lines of JavaScript. reqwest would bring a URL parser,
// IDNA tables and an HTTP model into the portal's bundle, which has no room for them.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
export async function call(method, url, bearer, body) {
  const headers = { accept: 'application/json' };
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, { method, headers, body });
  return [res.status, await res.text()];
}
"#)]
extern "C" {
    #[wasm_bindgen(catch, js_name = call)]
    async fn fetch_call(
        method: &str,
        url: &str,
        bearer: Option<String>,
        body: Option<String>,
    ) -> std::result::Result<wasm_bindgen::JsValue, wasm_bindgen::JsValue>;
}

#[cfg(target_arch = "wasm32")]
async fn transport(call: Call) -> Result<(u16, String)> {
    let answer = fetch_call(call.method, &call.url, call.bearer, call.body)
        .await
        .map_err(|e| ClientError::Transport(e.as_string().unwrap_or_else(|| "the network failed".into())))?;
    let answer = js_sys::Array::from(&answer);
    let status = answer.get(0).as_f64().unwrap_or(0.0) as u16;
    Ok((status, answer.get(1).as_string().unwrap_or_default()))
}

/// A path segment made safe for a URL (ids are UUIDs, but a caller may pass anything).
fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Client {
    /// A client of the server at `base_url` (`http://host:port`, or `""` for the page's origin
    /// in the browser).
    pub fn new(base_url: &str) -> Client {
        Client {
            base: base_url.trim_end_matches('/').to_owned(),
            #[cfg(not(target_arch = "wasm32"))]
            http: reqwest::Client::new(),
            bearer: None,
        }
    }

    /// The same client, signed in with a bearer token.
    pub fn with_bearer(&self, token: &str) -> Client {
        Client {
            bearer: Some(token.to_owned()),
            ..self.clone()
        }
    }

    fn request(&self, method: &'static str, path: &str) -> Call {
        let url = if self.base.is_empty() {
            browser_origin() + path
        } else {
            format!("{}{path}", self.base)
        };
        Call {
            method,
            url,
            bearer: self.bearer.clone(),
            body: None,
        }
    }

    /// The answer's body when it is a success; else the server's problem.
    async fn send(&self, call: Call) -> Result<String> {
        #[cfg(not(target_arch = "wasm32"))]
        let (status, text) = transport(&self.http, call).await?;
        #[cfg(target_arch = "wasm32")]
        let (status, text) = transport(call).await?;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        Err(match serde_json::from_str::<Problem>(&text) {
            Ok(problem) => ClientError::Api(problem),
            Err(_) => ClientError::Decode(format!("HTTP {status} without a problem document")),
        })
    }

    async fn json<T: DeserializeOwned>(&self, call: Call) -> Result<T> {
        let text = self.send(call).await?;
        serde_json::from_str(&text).map_err(|e| ClientError::Decode(e.to_string()))
    }

    async fn empty(&self, call: Call) -> Result<()> {
        self.send(call).await.map(drop)
    }

    /// The demo users (demo mode only).
    pub async fn demo_users(&self) -> Result<Vec<DemoUser>> {
        self.json(self.request("GET", paths::DEMO_USERS)).await
    }

    /// Signs in as a demo user (demo mode only).
    pub async fn demo_session(&self, user: &str) -> Result<DemoSession> {
        let body = DemoSessionRequest { user: user.to_owned() };
        self.json(self.request("POST", paths::DEMO_SESSION).json(&body)).await
    }

    /// How the portal signs in (`SignInOptions`), read as a JSON value: the portal's bundle
    /// parses JSON values anyway and has no room for one more typed parser.
    pub async fn sign_in_options_value(&self) -> Result<serde_json::Value> {
        self.json(self.request("GET", paths::SIGN_IN)).await
    }

    pub async fn me(&self) -> Result<Me> {
        self.json(self.request("GET", paths::ME)).await
    }

    pub async fn list_tokens(&self, query: &TokenListQuery) -> Result<Page<Token>> {
        self.json(self.request("GET", paths::TOKENS).query(query)).await
    }

    /// Generates a token; the answer carries its secret, shown this once.
    pub async fn create_token(&self, body: &CreateToken) -> Result<IssuedToken> {
        self.json(self.request("POST", paths::TOKENS).json(body)).await
    }

    pub async fn get_token(&self, id: &str) -> Result<Token> {
        self.json(self.request("GET", &paths::with_id(paths::TOKEN, &segment(id))))
            .await
    }

    pub async fn delete_token(&self, id: &str) -> Result<()> {
        self.empty(self.request("DELETE", &paths::with_id(paths::TOKEN, &segment(id))))
            .await
    }

    /// Re-generates the secret; the old one stops working when this returns.
    pub async fn regenerate_secret(&self, id: &str) -> Result<IssuedToken> {
        self.json(self.request("POST", &paths::with_id(paths::TOKEN_SECRET, &segment(id))))
            .await
    }

    /// Re-generates the secret and gives the token the body's last day.
    pub async fn regenerate_secret_with(
        &self,
        id: &str,
        body: &tollgate_model::RegenerateSecret,
    ) -> Result<IssuedToken> {
        self.json(
            self.request("POST", &paths::with_id(paths::TOKEN_SECRET, &segment(id)))
                .json(body),
        )
        .await
    }

    pub async fn sync_products(&self, id: &str) -> Result<Token> {
        self.json(self.request("POST", &paths::with_id(paths::TOKEN_PRODUCTS_SYNC, &segment(id))))
            .await
    }

    pub async fn service_users(&self) -> Result<Vec<ServiceUser>> {
        Ok(self
            .json::<ServiceUserList>(self.request("GET", paths::SERVICE_USERS))
            .await?
            .items)
    }

    pub async fn create_service_user(&self, body: &CreateServiceUser) -> Result<ServiceUser> {
        self.json(self.request("POST", paths::SERVICE_USERS).json(body)).await
    }

    pub async fn delete_service_user(&self, id: &str) -> Result<()> {
        self.empty(self.request("DELETE", &paths::with_id(paths::SERVICE_USER, &segment(id))))
            .await
    }

    pub async fn audit_events(&self, cursor: Option<&str>, limit: Option<u32>) -> Result<Page<AuditEvent>> {
        self.json(
            self.request("GET", paths::AUDIT_EVENTS)
                .query(&PageQuery { cursor, limit }),
        )
        .await
    }

    /// A token's last use and its pulls per day for 30 days.
    pub async fn token_usage(&self, id: &str) -> Result<tollgate_model::TokenUsage> {
        self.json(self.request("GET", &paths::with_id(paths::TOKEN_USAGE, &segment(id))))
            .await
    }

    pub async fn webhooks(&self) -> Result<Vec<tollgate_model::Webhook>> {
        Ok(self
            .json::<tollgate_model::WebhookList>(self.request("GET", paths::WEBHOOKS))
            .await?
            .items)
    }

    /// Registers a webhook; the answer's signing secret is shown this once.
    pub async fn create_webhook(&self, body: &tollgate_model::CreateWebhook) -> Result<tollgate_model::CreatedWebhook> {
        self.json(self.request("POST", paths::WEBHOOKS).json(body)).await
    }

    pub async fn delete_webhook(&self, id: &str) -> Result<()> {
        self.empty(self.request("DELETE", &paths::with_id(paths::WEBHOOK, &segment(id))))
            .await
    }

    /// A page of a webhook's delivery log, newest first.
    pub async fn webhook_deliveries(
        &self,
        id: &str,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page<tollgate_model::WebhookDelivery>> {
        self.json(
            self.request("GET", &paths::with_id(paths::WEBHOOK_DELIVERIES, &segment(id)))
                .query(&PageQuery { cursor, limit }),
        )
        .await
    }

    /// Sends a delivery again now.
    pub async fn redeliver(&self, id: &str, delivery: &str) -> Result<tollgate_model::WebhookDelivery> {
        // `with_id` fills the first placeholder: the webhook's, then the delivery's.
        let path = paths::with_id(
            &paths::with_id(paths::WEBHOOK_REDELIVER, &segment(id)),
            &segment(delivery),
        );
        self.json(self.request("POST", &path)).await
    }
}

/// The page's origin: the SPA is served by the API server.
#[cfg(target_arch = "wasm32")]
fn browser_origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

/// Native callers give an absolute base URL; there is no page to be relative to.
#[cfg(not(target_arch = "wasm32"))]
fn browser_origin() -> String {
    String::new()
}

#[cfg(test)]
mod tests {
    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(super::segment("01a2-b_c"), "01a2-b_c");
        assert_eq!(super::segment("../x y"), "%2E%2E%2Fx%20y");
    }
}
