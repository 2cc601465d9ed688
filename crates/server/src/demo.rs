//! Demo mode: a built-in identity provider with its own key and JWKS, and a seeded story
//! (projects `acme` and `globex`, their users and service users) that everyone can try.

use chrono::{Datelike, Utc};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use p256::ecdsa::SigningKey;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::Path;
use tollgate_model::{DemoUser, Project, Role};
use tollgate_store::{Origin, ProductSpec, Store, StoreError, UserClaims};

pub const DEMO_ISSUER: &str = "tollgate-demo";
/// How long a demo session lasts.
pub const SESSION_SECONDS: u64 = 8 * 3600;
const KEY_FILE: &str = "demo-issuer-key.pem";

/// The demo identity provider: signs sessions with a key kept in the data directory.
pub struct DemoIssuer {
    key: EncodingKey,
    kid: String,
    public_jwk: serde_json::Value,
    audience: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo issuer key {path}: {message}")]
    Key { path: String, message: String },
    #[error("seeding the demo data failed: {0}")]
    Seed(#[from] StoreError),
}

impl DemoIssuer {
    /// Loads the issuer's ES256 key from the data directory, creating it on first start.
    pub fn load_or_create(data_dir: &Path, audience: &str) -> Result<DemoIssuer, DemoError> {
        let path = data_dir.join(KEY_FILE);
        let key_error = |message: String| DemoError::Key {
            path: path.display().to_string(),
            message,
        };
        let signing = if path.exists() {
            let pem = std::fs::read_to_string(&path).map_err(|e| key_error(e.to_string()))?;
            SigningKey::from_pkcs8_pem(&pem).map_err(|e| key_error(e.to_string()))?
        } else {
            std::fs::create_dir_all(data_dir).map_err(|e| key_error(e.to_string()))?;
            let signing = loop {
                let mut bytes = [0u8; 32];
                getrandom::fill(&mut bytes).map_err(|e| key_error(e.to_string()))?;
                if let Ok(key) = SigningKey::from_slice(&bytes) {
                    break key;
                }
            };
            let pem = signing
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| key_error(e.to_string()))?;
            write_private(&path, pem.as_bytes()).map_err(|e| key_error(e.to_string()))?;
            signing
        };
        let pem = signing
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| key_error(e.to_string()))?;
        let key = EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|e| key_error(e.to_string()))?;
        let point = signing.verifying_key().to_encoded_point(false);
        let (x, y) = match (point.x(), point.y()) {
            (Some(x), Some(y)) => (b64(x), b64(y)),
            _ => return Err(key_error("the public key has no coordinates".into())),
        };
        let kid = Sha256::digest(point.as_bytes())
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        let public_jwk =
            json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256", "use": "sig" });
        Ok(DemoIssuer {
            key,
            kid,
            public_jwk,
            audience: audience.to_owned(),
        })
    }

    pub fn jwks(&self) -> serde_json::Value {
        json!({ "keys": [self.public_jwk] })
    }

    /// A session token for a demo user.
    pub fn sign(&self, user: &DemoUser) -> Result<String, jsonwebtoken::errors::Error> {
        let now = Utc::now().timestamp();
        self.sign_claims(&json!({
            "iss": DEMO_ISSUER,
            "aud": self.audience,
            "sub": user.id,
            "iat": now,
            "exp": now + SESSION_SECONDS as i64,
            "name": user.name,
            "email": user.email,
            "project": user.project.key,
            "role": user.role,
        }))
    }

    /// Signs any claims with the issuer's key and `kid`.
    pub fn sign_claims(&self, claims: &serde_json::Value) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        encode(&header, claims, &self.key)
    }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents)
}

/// The demo's people, in the order the sign-in picker shows them.
pub fn users() -> Vec<DemoUser> {
    let acme = Project {
        key: "acme".into(),
        name: "Acme Corp".into(),
    };
    let globex = Project {
        key: "globex".into(),
        name: "Globex Corporation".into(),
    };
    vec![
        DemoUser {
            id: "alice".into(),
            name: "Alice Admin".into(),
            email: "alice@acme.example".into(),
            role: Role::CustomerAdmin,
            project: acme.clone(),
        },
        DemoUser {
            id: "bob".into(),
            name: "Bob Builder".into(),
            email: "bob@acme.example".into(),
            role: Role::Customer,
            project: acme,
        },
        DemoUser {
            id: "carol".into(),
            name: "Carol Admin".into(),
            email: "carol@globex.example".into(),
            role: Role::CustomerAdmin,
            project: globex,
        },
    ]
}

fn claims(user: &DemoUser) -> UserClaims {
    UserClaims {
        id: user.id.clone(),
        name: user.name.clone(),
        email: user.email.clone(),
        project_key: user.project.key.clone(),
        role: user.role,
    }
}

fn product(code: &str, name: &str) -> ProductSpec {
    ProductSpec {
        code: code.into(),
        name: Some(name.into()),
    }
}

/// Creates what the demo story needs and is missing; leaves everything else as it is, so
/// that the subscription keeps the end date of the first start.
pub fn seed(store: &Store) -> Result<(), DemoError> {
    let today = Utc::now().date_naive();
    let in_a_year = today
        .with_year(today.year() + 1)
        .unwrap_or(today + chrono::Days::new(365));
    if !store.project_exists("acme")? {
        store.put_project(
            "acme",
            "Acme Corp",
            in_a_year,
            &[
                product("wso2am", "WSO2 API Manager"),
                product("wso2is", "WSO2 Identity Server"),
            ],
        )?;
    }
    if !store.project_exists("globex")? {
        store.put_project(
            "globex",
            "Globex Corporation",
            in_a_year,
            &[product("wso2mi", "WSO2 Micro Integrator")],
        )?;
    }
    let people = users();
    for user in &people {
        store.sign_in(&claims(user))?;
    }
    let alice = store.sign_in(&claims(&people[0]))?;
    let origin = Origin {
        request_id: "demo-seed".into(),
        client_address: None,
    };
    let existing = store.list_service_users(&alice)?;
    for (name, description) in [
        ("ci-pipeline", "The CI system that builds on our images"),
        ("k8s-prod", "The production Kubernetes cluster"),
    ] {
        if !existing.iter().any(|s| s.name == name) {
            store.create_service_user(&alice, &origin, name, Some(description))?;
        }
    }
    Ok(())
}
