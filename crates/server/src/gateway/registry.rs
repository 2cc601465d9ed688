//! Docker registry tokens (the CNCF Distribution `token` auth): the ES256 signing key and its
//! certificate, scope parsing, and the signed JWT that grants `pull` on the token's products.
//!
//! Every token's header carries `x5c` (the signing certificate, which the registry checks
//! against its `rootcertbundle`: Distribution 2.8 and 3) and a `kid` that is the RFC 7638
//! thumbprint of the key (what Distribution 3 names a key of its bundle or JWKS by).
//! Certificates published beside the signing one (a key rotation) are in the bundle and the
//! JWKS too.

use crate::keys::{b64, EcKey, KeyError};
use base64::Engine;
use chrono::{Datelike, Utc};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One entry of the `access` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Access {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub name: String,
    pub actions: Vec<String>,
}

/// How long a refresh token lives at most (it dies sooner with its secret).
pub const REFRESH_LIFETIME_SECONDS: i64 = 90 * 86_400;

fn refresh_audience(service: &str) -> String {
    format!("{service}/refresh")
}

/// What a valid refresh token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshClaims {
    pub token_id: String,
    /// When the secret it was given for was issued (Unix microseconds).
    pub secret_issued_at: i64,
}

pub struct RegistrySigner {
    /// ring's ECDSA: registry tokens are signed on every pull, and its P-256 is several times
    /// faster than the portable implementation.
    signer: ring::signature::EcdsaKeyPair,
    rng: ring::rand::SystemRandom,
    /// The JWT header, already base64url-encoded: it never changes.
    header: String,
    /// The header of refresh tokens (no certificate: only this server reads them).
    refresh_header: String,
    /// The public key (SEC1, uncompressed), to verify refresh tokens.
    public_point: Vec<u8>,
    /// The signing certificate and those published beside it, as the registry's bundle.
    certificate_pem: String,
    jwks: serde_json::Value,
    issuer: String,
    pub ttl_seconds: u64,
}

impl RegistrySigner {
    /// Loads the signing key and certificate from the given files, or from (and on first
    /// start, into) the data directory.
    pub fn load_or_create(
        data_dir: &Path,
        key_file: Option<PathBuf>,
        cert_file: Option<PathBuf>,
        published: &[PathBuf],
        issuer: String,
        ttl_seconds: u64,
    ) -> Result<RegistrySigner, KeyError> {
        let key_path = key_file.unwrap_or_else(|| data_dir.join("registry-token-key.pem"));
        let cert_path = cert_file.unwrap_or_else(|| data_dir.join("registry-token-cert.pem"));
        let key = EcKey::load_or_create(&key_path)?;
        let error = |message: String| KeyError {
            path: cert_path.display().to_string(),
            message,
        };
        let certificate_pem = if cert_path.exists() {
            std::fs::read_to_string(&cert_path).map_err(|e| error(e.to_string()))?
        } else {
            let pem = self_signed_certificate(&key).map_err(|e| error(e.to_string()))?;
            tollgate_store::files::write_private(&cert_path, pem.as_bytes()).map_err(|e| error(e.to_string()))?;
            pem
        };
        let signing_key = *key.signing.verifying_key();
        let (signing_der, certified) = crate::keys::certificates(&certificate_pem)
            .map_err(error)?
            .into_iter()
            .next()
            .expect("certificates() finds at least one");
        if certified != signing_key {
            return Err(error(
                "the certificate is not of the signing key (TOLLGATE_TOKEN_KEY_FILE)".into(),
            ));
        }
        let kid = crate::keys::thumbprint(&signing_key);
        let mut keys = vec![key.public_jwk(&kid)];
        let mut bundle = certificate_pem.trim_end().to_owned() + "\n";
        for path in published {
            let error = |message: String| KeyError {
                path: path.display().to_string(),
                message,
            };
            let pem = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
            for (_, public) in crate::keys::certificates(&pem).map_err(error)? {
                let kid = crate::keys::thumbprint(&public);
                if !keys.iter().any(|k| k["kid"] == kid.as_str()) {
                    keys.push(crate::keys::public_jwk(&public, &kid));
                }
            }
            bundle.push_str(pem.trim_end());
            bundle.push('\n');
        }
        let jwks = serde_json::json!({ "keys": keys });
        let x5c = base64::engine::general_purpose::STANDARD.encode(&signing_der);
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = {
            use p256::pkcs8::EncodePrivateKey;
            key.signing.to_pkcs8_der().map_err(|e| error(e.to_string()))?
        };
        let signer = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8.as_bytes(),
            &rng,
        )
        .map_err(|e| error(e.to_string()))?;
        let header = b64(
            serde_json::json!({ "typ": "JWT", "alg": "ES256", "kid": kid, "x5c": [x5c] })
                .to_string()
                .as_bytes(),
        );
        let refresh_header = b64(serde_json::json!({ "typ": "JWT", "alg": "ES256", "kid": kid })
            .to_string()
            .as_bytes());
        let public_point = signing_key.to_encoded_point(false).as_bytes().to_vec();
        Ok(RegistrySigner {
            signer,
            rng,
            header,
            refresh_header,
            public_point,
            certificate_pem: bundle,
            jwks,
            issuer,
            ttl_seconds,
        })
    }

    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    pub fn jwks(&self) -> &serde_json::Value {
        &self.jwks
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// A refresh token for `token` at `service`: a JWT of this server naming the token and
    /// when its current secret was issued, so that it dies with the secret.
    pub fn sign_refresh(&self, token: &tollgate_store::GatewayToken, service: &str) -> Result<String, String> {
        let now = Utc::now().timestamp();
        let claims = serde_json::json!({
            "typ": "refresh",
            "iss": self.issuer,
            "sub": token.registry_username,
            // Not the registry's audience: a registry never takes it for an access token.
            "aud": refresh_audience(service),
            "tid": token.id,
            // To the microsecond: a secret re-generated in the same second is another one.
            "sgen": token.issued_at.timestamp_micros(),
            "iat": now,
            "exp": now + REFRESH_LIFETIME_SECONDS,
        });
        let mut jwt = format!("{}.{}", self.refresh_header, b64(claims.to_string().as_bytes()));
        let signature = self.signer.sign(&self.rng, jwt.as_bytes()).map_err(|e| e.to_string())?;
        jwt.push('.');
        jwt.push_str(&b64(signature.as_ref()));
        Ok(jwt)
    }

    /// What a refresh token of this server for `service` says, if it is one and unexpired.
    pub fn verify_refresh(&self, jwt: &str, service: &str) -> Option<RefreshClaims> {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut parts = jwt.split('.');
        let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || header != self.refresh_header {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, &self.public_point)
            .verify(format!("{header}.{payload}").as_bytes(), &signature)
            .ok()?;
        let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        let valid = claims["typ"] == "refresh"
            && claims["iss"] == self.issuer.as_str()
            && claims["aud"] == refresh_audience(service).as_str()
            && claims["exp"].as_i64().is_some_and(|exp| exp > Utc::now().timestamp());
        valid.then_some(())?;
        Some(RefreshClaims {
            token_id: claims["tid"].as_str()?.to_owned(),
            secret_issued_at: claims["sgen"].as_i64()?,
        })
    }

    /// A registry JWT (JWS compact, ES256) for `subject` at `service` with exactly `access`.
    pub fn sign(&self, subject: &str, service: &str, access: &[Access]) -> Result<(String, i64), String> {
        let now = Utc::now().timestamp();
        let claims = serde_json::json!({
            "iss": self.issuer,
            "sub": subject,
            "aud": service,
            "exp": now + self.ttl_seconds as i64,
            "nbf": now - 5,
            "iat": now,
            "jti": uuid::Uuid::new_v4().to_string(),
            "access": access,
        });
        let mut jwt = format!("{}.{}", self.header, b64(claims.to_string().as_bytes()));
        let signature = self.signer.sign(&self.rng, jwt.as_bytes()).map_err(|e| e.to_string())?;
        jwt.push('.');
        jwt.push_str(&b64(signature.as_ref()));
        Ok((jwt, now))
    }
}

fn self_signed_certificate(key: &EcKey) -> Result<String, rcgen::Error> {
    let key_pair = rcgen::KeyPair::from_pem(&key.pem)?;
    let mut params = rcgen::CertificateParams::new(vec!["tollgate".to_owned()])?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Tollgate registry token signer");
    let year = Utc::now().year();
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 20, 1, 1);
    Ok(params.self_signed(&key_pair)?.pem())
}

/// The most scopes one token request may ask for, counted after splitting on spaces.
pub const MAX_SCOPES: usize = 32;

/// The individual scopes of the `scope` parameters (each may hold several, space-separated);
/// `None` past [`MAX_SCOPES`].
pub fn split_scopes(parameters: &[String]) -> Option<Vec<&str>> {
    let scopes: Vec<&str> = parameters
        .iter()
        .flat_map(|s| s.split(' '))
        .filter(|s| !s.is_empty())
        .take(MAX_SCOPES + 1)
        .collect();
    (scopes.len() <= MAX_SCOPES).then_some(scopes)
}

/// Whether `name` is a repository name of the Distribution reference grammar: path
/// components of `[a-z0-9]` joined by `.`, `_`, `__` or runs of `-`, separated by single
/// `/`, at most 255 characters. No `..`, `*`, `//`, `:` or upper case can pass.
pub fn is_repository_name(name: &str) -> bool {
    fn component(c: &str) -> bool {
        let bytes = c.as_bytes();
        let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
            return false;
        }
        let mut i = 0;
        while i < bytes.len() {
            if alnum(bytes[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && !alnum(bytes[i]) {
                i += 1;
            }
            let separator = &c[start..i];
            let ok = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
            if !ok {
                return false;
            }
        }
        true
    }
    !name.is_empty() && name.len() <= 255 && name.split('/').all(component)
}

/// What the requested scopes may have: `pull` on repositories under one of `products`
/// (`<product>/…`), nothing else. Scopes outside that are left out, as the protocol asks.
pub fn grant(scopes: &[&str], products: &[String]) -> Vec<Access> {
    let mut granted: Vec<Access> = Vec::new();
    for &scope in scopes {
        let mut parts = scope.split(':');
        let (Some(kind), Some(actions)) = (parts.next(), scope.rsplit(':').next()) else {
            continue;
        };
        let name = scope
            .strip_prefix(kind)
            .and_then(|rest| rest.strip_prefix(':'))
            .and_then(|rest| rest.strip_suffix(actions))
            .and_then(|rest| rest.strip_suffix(':'));
        let Some(name) = name else { continue };
        let under_a_product = name
            .split_once('/')
            .is_some_and(|(namespace, rest)| !rest.is_empty() && products.iter().any(|p| p == namespace));
        let wanted = kind == "repository"
            && under_a_product
            && is_repository_name(name)
            && actions.split(',').any(|a| a == "pull");
        if wanted && !granted.iter().any(|a| a.name == name) {
            granted.push(Access {
                resource_type: "repository".into(),
                name: name.into(),
                actions: vec!["pull".into()],
            });
        }
    }
    granted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(scopes: &[&str]) -> Vec<String> {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        grant(&split_scopes(&scopes).unwrap(), &["wso2am".into(), "wso2is".into()])
            .into_iter()
            .map(|a| a.name)
            .collect()
    }

    #[test]
    fn pull_is_granted_only_under_the_products() {
        assert_eq!(names(&["repository:wso2am/gateway:pull"]), ["wso2am/gateway"]);
        assert_eq!(
            names(&["repository:wso2am/a/b:pull,push"]),
            ["wso2am/a/b"],
            "pull of pull,push; never push"
        );
        assert!(names(&["repository:wso2mi/x:pull"]).is_empty());
        assert!(
            names(&["repository:wso2am:pull"]).is_empty(),
            "the namespace itself is not under it"
        );
        assert!(names(&["repository:wso2amx/y:pull"]).is_empty());
        assert!(names(&["repository:wso2am/x:push"]).is_empty());
        assert!(names(&["registry:catalog:*"]).is_empty());
        assert_eq!(
            names(&[
                "repository:wso2am/x:pull repository:wso2is/y:pull",
                "repository:wso2mi/z:pull"
            ]),
            ["wso2am/x", "wso2is/y"]
        );
    }

    #[test]
    fn only_names_of_the_reference_grammar_are_granted() {
        for bad in [
            "wso2am/../wso2mi/x",
            "wso2am/*",
            "wso2am//x",
            "wso2am/x:latest",
            "wso2am/X",
            "wso2am/x/",
            "wso2am/-x",
            "wso2am/x..y",
            "wso2am/x._y",
            "wso2am/x___y",
        ] {
            assert!(names(&[&format!("repository:{bad}:pull")]).is_empty(), "{bad}");
        }
        for good in ["wso2am/x.y", "wso2am/x__y", "wso2am/x---y", "wso2am/a_b/c-d/e.f"] {
            assert_eq!(names(&[&format!("repository:{good}:pull")]), [good]);
        }
        let long = format!("wso2am/{}", "a".repeat(249));
        assert!(names(&[&format!("repository:{long}:pull")]).is_empty());
    }

    #[test]
    fn scopes_are_counted_after_splitting_on_spaces() {
        let one_parameter = vec![vec!["repository:wso2am/x:pull"; MAX_SCOPES + 1].join(" ")];
        assert!(split_scopes(&one_parameter).is_none());
        let exactly = vec![vec!["repository:wso2am/x:pull"; MAX_SCOPES].join("  ")];
        assert_eq!(split_scopes(&exactly).unwrap().len(), MAX_SCOPES);
    }
}
