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
//! let issued = alice.create_token(&CreateToken { name: "laptop".into(), kind: Default::default(), service_user_id: None }).await?;
//! println!("{}", issued.login.docker_login);
//! # Ok(()) }
//! ```

use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tollgate_model::{
    paths, AuditEvent, CreateServiceUser, CreateToken, DemoSession, DemoSessionRequest, DemoUser, ErrorCode,
    IssuedToken, Me, Page, Problem, ServiceUser, ServiceUserList, SignInOptions, Token, TokenListQuery,
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
    http: reqwest::Client,
    bearer: Option<String>,
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

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let url = if self.base.is_empty() {
            browser_origin() + path
        } else {
            format!("{}{path}", self.base)
        };
        let builder = self.http.request(method, url).header("accept", "application/json");
        match &self.bearer {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    async fn send(builder: RequestBuilder) -> Result<Response> {
        let response = builder
            .send()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        Err(match serde_json::from_str::<Problem>(&text) {
            Ok(problem) => ClientError::Api(problem),
            Err(_) => ClientError::Decode(format!("HTTP {status} without a problem document")),
        })
    }

    async fn json<T: DeserializeOwned>(builder: RequestBuilder) -> Result<T> {
        let response = Client::send(builder).await?;
        let text = response
            .text()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| ClientError::Decode(e.to_string()))
    }

    async fn empty(builder: RequestBuilder) -> Result<()> {
        Client::send(builder).await.map(drop)
    }

    /// The demo users (demo mode only).
    pub async fn demo_users(&self) -> Result<Vec<DemoUser>> {
        Client::json(self.request(Method::GET, paths::DEMO_USERS)).await
    }

    /// Signs in as a demo user (demo mode only).
    pub async fn demo_session(&self, user: &str) -> Result<DemoSession> {
        let body = DemoSessionRequest { user: user.to_owned() };
        Client::json(self.request(Method::POST, paths::DEMO_SESSION).json(&body)).await
    }

    /// How the portal signs in: the demo picker or the identity provider (public).
    pub async fn sign_in_options(&self) -> Result<SignInOptions> {
        Client::json(self.request(Method::GET, paths::SIGN_IN)).await
    }

    /// [`Client::sign_in_options`] read as a JSON value (for the portal's bundle, which parses
    /// JSON values anyway and has no room for one more typed parser).
    pub async fn sign_in_options_value(&self) -> Result<serde_json::Value> {
        Client::json(self.request(Method::GET, paths::SIGN_IN)).await
    }

    /// POSTs a form to another server (the identity provider's token endpoint) and reads its
    /// JSON answer, through the same path as every API call (the portal's bundle has no room
    /// for a second one).
    pub async fn post_form(&self, url: &str, body: String) -> Result<serde_json::Value> {
        let builder = self
            .http
            .post(url)
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        Client::json(builder).await
    }

    pub async fn me(&self) -> Result<Me> {
        Client::json(self.request(Method::GET, paths::ME)).await
    }

    pub async fn list_tokens(&self, query: &TokenListQuery) -> Result<Page<Token>> {
        Client::json(self.request(Method::GET, paths::TOKENS).query(query)).await
    }

    /// Generates a token; the answer carries its secret, shown this once.
    pub async fn create_token(&self, body: &CreateToken) -> Result<IssuedToken> {
        Client::json(self.request(Method::POST, paths::TOKENS).json(body)).await
    }

    pub async fn get_token(&self, id: &str) -> Result<Token> {
        Client::json(self.request(Method::GET, &paths::with_id(paths::TOKEN, &segment(id)))).await
    }

    pub async fn delete_token(&self, id: &str) -> Result<()> {
        Client::empty(self.request(Method::DELETE, &paths::with_id(paths::TOKEN, &segment(id)))).await
    }

    /// Re-generates the secret; the old one stops working when this returns.
    pub async fn regenerate_secret(&self, id: &str) -> Result<IssuedToken> {
        Client::json(self.request(Method::POST, &paths::with_id(paths::TOKEN_SECRET, &segment(id)))).await
    }

    pub async fn sync_products(&self, id: &str) -> Result<Token> {
        Client::json(self.request(Method::POST, &paths::with_id(paths::TOKEN_PRODUCTS_SYNC, &segment(id)))).await
    }

    pub async fn service_users(&self) -> Result<Vec<ServiceUser>> {
        Ok(
            Client::json::<ServiceUserList>(self.request(Method::GET, paths::SERVICE_USERS))
                .await?
                .items,
        )
    }

    pub async fn create_service_user(&self, body: &CreateServiceUser) -> Result<ServiceUser> {
        Client::json(self.request(Method::POST, paths::SERVICE_USERS).json(body)).await
    }

    pub async fn delete_service_user(&self, id: &str) -> Result<()> {
        Client::empty(self.request(Method::DELETE, &paths::with_id(paths::SERVICE_USER, &segment(id)))).await
    }

    pub async fn audit_events(&self, cursor: Option<&str>, limit: Option<u32>) -> Result<Page<AuditEvent>> {
        Client::json(
            self.request(Method::GET, paths::AUDIT_EVENTS)
                .query(&PageQuery { cursor, limit }),
        )
        .await
    }
}

/// The page's origin: the SPA is served by the API server, and reqwest needs absolute URLs.
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
