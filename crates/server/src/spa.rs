//! The single-page app: its static files with long-lived caching (content-hashed names), and
//! `index.html` for every other page path, with a Content-Security-Policy that allows only
//! what the app needs.

use crate::error::ApiError;
use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tollgate_model::ErrorCode;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/portal.rs"));
}

/// Where the app's files come from: the copy built into the binary, or a folder.
pub enum Portal {
    Embedded,
    Folder(PathBuf),
}

impl Portal {
    /// The folder when one is given (and holds an app), else the built-in copy (when the
    /// binary was built after `make web`); `None`: there is no portal to serve.
    pub fn of(folder: Option<&Path>) -> Option<Portal> {
        match folder {
            Some(dir) => dir.join("index.html").is_file().then(|| Portal::Folder(dir.to_owned())),
            None => embedded::PORTAL
                .iter()
                .any(|(name, _)| *name == "index.html")
                .then_some(Portal::Embedded),
        }
    }

    /// The bytes of one file of the app.
    async fn read(&self, name: &str) -> Option<web::Bytes> {
        match self {
            Portal::Embedded => embedded::PORTAL
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, bytes)| web::Bytes::from_static(bytes)),
            Portal::Folder(dir) => {
                let path = dir.join(name);
                web::block(move || std::fs::read(path))
                    .await
                    .ok()?
                    .ok()
                    .map(web::Bytes::from)
            }
        }
    }
}

/// The portal's Content Security Policy: scripts and the WASM from this origin only (WASM
/// compilation needs 'wasm-unsafe-eval'), styles from files only, calls to this origin and to
/// the identity provider's origin (its token endpoint) only, no framing, no plugins.
pub struct Csp(pub String);

impl Csp {
    /// The policy, letting the portal call `provider` (an issuer URL) too when given.
    pub fn new(provider: Option<&str>) -> Csp {
        let origin = provider
            .and_then(|url| reqwest::Url::parse(url).ok())
            .map(|url| url.origin().ascii_serialization())
            .filter(|origin| origin != "null")
            .map(|origin| format!(" {origin}"))
            .unwrap_or_default();
        Csp(format!(
            "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
             connect-src 'self'{origin}; img-src 'self' data:; font-src 'self'; base-uri 'none'; \
             form-action 'self'; frame-ancestors 'none'"
        ))
    }
}

/// Prefixes that belong to the API: an unknown path under them is a 404 problem, never the app.
const API_PREFIXES: [&str; 4] = ["/api/", "/auth/", "/oauth2/", "/docs/"];

/// `name-<16 hex>.ext`: built once, never changed, cacheable for a year.
fn is_hashed(name: &str) -> bool {
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    stem.rsplit_once('-')
        .is_some_and(|(_, h)| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A file directly in the app folder, named safely (no folders, no `..`).
fn safe_file_name(path: &str) -> Option<&str> {
    let name = path.strip_prefix('/')?;
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    ok.then_some(name)
}

pub async fn serve(req: HttpRequest, portal: web::Data<Portal>, csp: web::Data<Csp>) -> Result<HttpResponse, ApiError> {
    if API_PREFIXES.iter().any(|p| req.path().starts_with(p)) {
        return Err(ApiError::new(ErrorCode::NotFound, "no such resource"));
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Err(ApiError::new(
            ErrorCode::MethodNotAllowed,
            "the app's pages only answer GET",
        ));
    }
    if let Some(name) = safe_file_name(req.path()).filter(|n| *n != "index.html") {
        if let Some(bytes) = portal.read(name).await {
            // A content-hashed name is its own version; other files are hashed here.
            let (etag, cache) = if is_hashed(name) {
                (format!("\"{name}\""), "public, max-age=31536000, immutable")
            } else {
                (format!("\"{:x}\"", Sha256::digest(&bytes)), "no-cache")
            };
            let fresh = req
                .headers()
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v == etag);
            let mut response = if fresh {
                HttpResponse::NotModified()
            } else {
                HttpResponse::Ok()
            };
            response
                .insert_header((header::CACHE_CONTROL, cache))
                .insert_header((header::ETAG, etag))
                .content_type(actix_files::file_extension_to_mime(
                    name.rsplit_once('.').map_or("", |(_, ext)| ext),
                ));
            return Ok(if fresh { response.finish() } else { response.body(bytes) });
        }
        if name.contains('.') {
            return Err(ApiError::new(ErrorCode::NotFound, "no such file"));
        }
    }
    let index = portal
        .read("index.html")
        .await
        .ok_or_else(|| ApiError::internal("the portal has no index.html"))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, csp.0.as_str()))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .body(index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_lets_the_portal_call_its_identity_provider_only() {
        assert!(Csp::new(None).0.contains("connect-src 'self';"));
        let with = Csp::new(Some("https://login.example.com/realms/acme")).0;
        assert!(with.contains("connect-src 'self' https://login.example.com;"), "{with}");
    }

    #[test]
    fn only_content_hashed_names_are_immutable() {
        assert!(is_hashed("tollgate-751ae90290fad12d.wasm"));
        assert!(is_hashed("style-433a97cfad32b9b0.css"));
        assert!(!is_hashed("index.html"));
        assert!(!is_hashed("tollgate-latest.js"));
    }

    #[test]
    fn file_names_cannot_leave_the_folder() {
        assert_eq!(safe_file_name("/boot-1.js"), Some("boot-1.js"));
        for bad in ["/../etc/passwd", "/a/b.js", "/.env", "/", "/%2e%2e"] {
            assert_eq!(safe_file_name(bad), None, "{bad}");
        }
    }
}
