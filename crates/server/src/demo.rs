//! Demo mode: a built-in identity provider with its own key and JWKS, and a seeded story
//! (projects `acme` and `globex`, their users and service users) that everyone can try.

use crate::keys::{EcKey, KeyError};
use chrono::{Datelike, Utc};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::Path;
use tollgate_model::{DemoUser, Name, ProductCode, Project, ProjectKey, Role};
use tollgate_store::{Operator, Origin, ProductSpec, ProjectSpec, Store, StoreError, UserClaims};

pub const DEMO_ISSUER: &str = "tollgate-demo";
/// The introspection client of demo mode, documented in the README's demo mode.
pub const GATEWAY_CLIENT_ID: &str = "registry-gateway";
pub const GATEWAY_CLIENT_SECRET: &str = "demo-gateway-secret";

/// The demo's gateway client, beside any configured ones.
pub fn demo_gateway_client() -> crate::gateway::GatewayClient {
    crate::gateway::GatewayClient::new(GATEWAY_CLIENT_ID, GATEWAY_CLIENT_SECRET)
}
/// The audience of operators' tokens in demo mode: the demo's sign-in never issues it (tests
/// sign operators' tokens with the demo key themselves).
pub const OPERATOR_AUDIENCE: &str = "tollgate-operators";
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
    #[error("demo issuer {0}")]
    Key(#[from] KeyError),
    #[error("seeding the demo data failed: {0}")]
    Seed(#[from] StoreError),
}

impl DemoIssuer {
    /// Loads the issuer's ES256 key from the data directory, creating it on first start.
    pub fn load_or_create(data_dir: &Path, audience: &str) -> Result<DemoIssuer, DemoError> {
        let key = EcKey::load_or_create(&data_dir.join(KEY_FILE))?;
        let kid: String = Sha256::digest(key.public_der())
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        let public_jwk = key.public_jwk(&kid);
        Ok(DemoIssuer {
            key: key.encoding,
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

/// A product of the demo story (constants that parse).
fn product(code: &str, name: &str) -> ProductSpec {
    ProductSpec {
        code: ProductCode::parse(code).expect("a demo product code"),
        name: Some(Name::parse(name).expect("a demo product name")),
    }
}

/// Creates what the demo story needs and is missing; leaves everything else as it is, so
/// that the subscription keeps the end date of the first start.
pub fn seed(store: &Store) -> Result<(), DemoError> {
    let today = Utc::now().date_naive();
    let in_a_year = today
        .with_year(today.year() + 1)
        .unwrap_or(today + chrono::Days::new(365));
    let seeder = Operator {
        id: "demo-seed".into(),
        name: "Demo data".into(),
    };
    let origin = Origin {
        request_id: "demo-seed".into(),
        client_address: None,
    };
    let projects = [
        (
            "acme",
            "Acme Corp",
            vec![
                product("wso2am", "WSO2 API Manager"),
                product("wso2is", "WSO2 Identity Server"),
            ],
        ),
        (
            "globex",
            "Globex Corporation",
            vec![product("wso2mi", "WSO2 Micro Integrator")],
        ),
    ];
    for (key, name, products) in projects {
        if !store.project_exists(key)? {
            let spec = ProjectSpec {
                key: ProjectKey::parse(key).expect("a demo project key"),
                name: Name::parse(name).expect("a demo project name"),
                end_date: in_a_year,
                products,
                max_token_days: None,
                max_service_token_days: None,
            };
            store.put_project(&seeder, &origin, &spec)?;
        }
    }
    let people = users();
    let mut actors = people
        .iter()
        .map(|user| store.sign_in(&claims(user)))
        .collect::<Result<Vec<_>, _>>()?;
    let alice = actors.swap_remove(0);
    let existing = store.list_service_users(&alice)?;
    for (name, description) in [
        ("ci-pipeline", "The CI system that builds on our images"),
        ("k8s-prod", "The production Kubernetes cluster"),
    ] {
        if !existing.iter().any(|s| s.name == name) {
            let name = tollgate_model::Name::parse(name).expect("a valid demo name");
            let description = tollgate_model::Description::parse(Some(description)).expect("a valid description");
            store.create_service_user(&alice, &origin, &name, description.as_ref())?;
        }
    }
    Ok(())
}
