//! ES256 (P-256) signing keys kept in files: created once with the OS CSPRNG, then reused.

use jsonwebtoken::EncodingKey;
use p256::ecdsa::SigningKey;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde_json::json;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[error("signing key {path}: {message}")]
pub struct KeyError {
    pub path: String,
    pub message: String,
}

/// A signing key, as p256 and as jsonwebtoken need it.
pub struct EcKey {
    pub signing: SigningKey,
    pub encoding: EncodingKey,
    /// The PKCS#8 PEM of the private key.
    pub pem: String,
}

impl EcKey {
    /// Reads the key at `path`, or creates it there (mode 0600) when there is none.
    pub fn load_or_create(path: &Path) -> Result<EcKey, KeyError> {
        let error = |message: String| KeyError {
            path: path.display().to_string(),
            message,
        };
        let signing = if path.exists() {
            let pem = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
            SigningKey::from_pkcs8_pem(&pem).map_err(|e| error(e.to_string()))?
        } else {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                tollgate_store::files::create_private_dir(dir).map_err(|e| error(e.to_string()))?;
            }
            let signing = loop {
                let mut bytes = [0u8; 32];
                getrandom::fill(&mut bytes).map_err(|e| error(e.to_string()))?;
                if let Ok(key) = SigningKey::from_slice(&bytes) {
                    break key;
                }
            };
            let pem = signing.to_pkcs8_pem(LineEnding::LF).map_err(|e| error(e.to_string()))?;
            tollgate_store::files::write_private(path, pem.as_bytes()).map_err(|e| error(e.to_string()))?;
            signing
        };
        let pem = signing
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| error(e.to_string()))?
            .to_string();
        let encoding = EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|e| error(e.to_string()))?;
        Ok(EcKey { signing, encoding, pem })
    }

    /// The public key as a JWK with this `kid`.
    pub fn public_jwk(&self, kid: &str) -> serde_json::Value {
        public_jwk(self.signing.verifying_key(), kid)
    }

    /// The DER (SubjectPublicKeyInfo) of the public key.
    pub fn public_der(&self) -> Vec<u8> {
        use p256::pkcs8::EncodePublicKey;
        self.signing
            .verifying_key()
            .to_public_key_der()
            .map(|d| d.into_vec())
            .unwrap_or_default()
    }
}

/// A P-256 public key as a JWK with this `kid`.
pub fn public_jwk(key: &p256::ecdsa::VerifyingKey, kid: &str) -> serde_json::Value {
    let (x, y) = coordinates(key);
    json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256", "use": "sig" })
}

/// The base64url `x` and `y` of a P-256 public key.
fn coordinates(key: &p256::ecdsa::VerifyingKey) -> (String, String) {
    let point = key.to_encoded_point(false);
    let coordinate = |c: Option<&p256::FieldBytes>| c.map(|b| b64(b)).unwrap_or_default();
    (coordinate(point.x()), coordinate(point.y()))
}

/// The RFC 7638 JWK thumbprint of a P-256 public key: SHA-256 of its required members in
/// lexicographic order, base64url. Distribution 3 names a trusted key by it.
pub fn thumbprint(key: &p256::ecdsa::VerifyingKey) -> String {
    use sha2::{Digest, Sha256};
    let (x, y) = coordinates(key);
    b64(&Sha256::digest(format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#
    )))
}

/// The certificates of a PEM bundle, each as DER with its P-256 public key.
pub fn certificates(pem: &str) -> Result<Vec<(Vec<u8>, p256::ecdsa::VerifyingKey)>, String> {
    let mut found = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|e| format!("not a PEM certificate: {e}"))?;
        if block.label != "CERTIFICATE" {
            continue;
        }
        let cert = block
            .parse_x509()
            .map_err(|e| format!("not an X.509 certificate: {e}"))?;
        let point = &cert.public_key().subject_public_key.data;
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
            .map_err(|_| "the certificate's key is not an ES256 (P-256) key".to_owned())?;
        found.push((block.contents.clone(), key));
    }
    if found.is_empty() {
        return Err("no certificate in the file".into());
    }
    Ok(found)
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
