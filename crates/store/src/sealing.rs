//! Secrets that must be recoverable (webhook signing secrets) are sealed at rest: AES-256-GCM
//! under a key read from a file, with the key's id in every sealed value so that the key can be
//! rotated (the previous keys kept for opening until `tollgate secrets reseal` has sealed every
//! value anew under the current one). A database dump shows none of them.
//!
//! A sealed value reads `v1.<key id>.<base64url of nonce and ciphertext>`; the ciphertext is
//! bound to what it belongs to (the row and column), so that it cannot be moved to another.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use sha2::{Digest, Sha256};

const PREFIX: &str = "v1.";

/// One key: its id (the first 8 hexadecimal digits of its SHA-256) and the AEAD key.
struct Key {
    id: String,
    key: LessSafeKey,
}

impl Key {
    fn new(bytes: &[u8; 32]) -> Key {
        let id = Sha256::digest(bytes)[..4].iter().map(|b| format!("{b:02x}")).collect();
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).expect("a 32-byte key is AES-256's"));
        Key { id, key }
    }
}

/// The current key and the previous ones.
pub struct SealingKeys {
    current: Key,
    previous: Vec<Key>,
}

impl std::fmt::Debug for SealingKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealingKeys(current {})", self.current.id)
    }
}

/// Why a sealed value cannot be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("sealed with the key {0}, which this node does not have (TOLLGATE_SECRET_KEY_FILE, TOLLGATE_SECRET_PREVIOUS_KEY_FILES)")]
    UnknownKey(String),
    #[error("a sealed value is damaged or belongs elsewhere")]
    Damaged,
}

impl SealingKeys {
    pub fn new(current: &[u8; 32], previous: &[[u8; 32]]) -> SealingKeys {
        SealingKeys {
            current: Key::new(current),
            previous: previous.iter().map(Key::new).collect(),
        }
    }

    /// A key as its file holds it: 32 bytes in base64 (`openssl rand -base64 32`), or 64
    /// hexadecimal digits; surrounding white space ignored. The error never shows the text.
    pub fn parse_key(text: &str) -> Result<[u8; 32], String> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| "not hexadecimal".to_owned())?
        } else {
            STANDARD.decode(text).map_err(|_| {
                "a key is 32 random bytes in base64 (openssl rand -base64 32) or 64 hexadecimal digits".to_owned()
            })?
        };
        <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| format!("a key is 32 bytes; this one has {}", bytes.len()))
    }

    /// The current key's id.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Whether `text` is a sealed value (of any key).
    pub fn is_sealed(text: &str) -> bool {
        text.starts_with(PREFIX)
    }

    /// The id of the key that sealed `text`, if it is sealed.
    pub fn key_id(text: &str) -> Option<&str> {
        text.strip_prefix(PREFIX)?.split_once('.').map(|(id, _)| id)
    }

    /// Seals `plain`, bound to `context` (what it belongs to), under the current key.
    pub fn seal(&self, plain: &str, context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the operating system's random source failed");
        let mut sealed = plain.as_bytes().to_vec();
        self.current
            .key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context), &mut sealed)
            .expect("AES-GCM seals a short value");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}.{}", self.current.id, URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens a value sealed for `context` by this node's current or a previous key.
    pub fn open(&self, sealed: &str, context: &str) -> Result<String, SealError> {
        let rest = sealed.strip_prefix(PREFIX).ok_or(SealError::Damaged)?;
        let (id, body) = rest.split_once('.').ok_or(SealError::Damaged)?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
            .ok_or_else(|| SealError::UnknownKey(id.to_owned()))?;
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| SealError::Damaged)?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError::Damaged);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Damaged)?;
        let mut buffer = ciphertext.to_vec();
        let plain = key
            .key
            .open_in_place(nonce, Aad::from(context), &mut buffer)
            .map_err(|_| SealError::Damaged)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SealError::Damaged)
    }

    /// Whether this node has the key that sealed `sealed` (a value in clear needs none).
    pub fn knows(&self, sealed: &str) -> bool {
        match SealingKeys::key_id(sealed) {
            None => !SealingKeys::is_sealed(sealed),
            Some(id) => std::iter::once(&self.current).chain(&self.previous).any(|k| k.id == id),
        }
    }

    /// Whether `sealed` was sealed under the current key.
    pub fn is_current(&self, sealed: &str) -> bool {
        SealingKeys::key_id(sealed) == Some(self.current.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_in_its_place() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let keys = SealingKeys::new(&a, &[]);
        let sealed = keys.seal("whsec_secret", "webhooks/1/signing_secret");
        assert!(!sealed.contains("whsec_secret") && SealingKeys::is_sealed(&sealed));
        assert_ne!(
            sealed,
            keys.seal("whsec_secret", "webhooks/1/signing_secret"),
            "a nonce of its own"
        );
        assert_eq!(keys.open(&sealed, "webhooks/1/signing_secret").unwrap(), "whsec_secret");
        assert_eq!(keys.open(&sealed, "webhooks/2/signing_secret"), Err(SealError::Damaged));
        let other = SealingKeys::new(&b, &[]);
        assert!(matches!(
            other.open(&sealed, "webhooks/1/signing_secret"),
            Err(SealError::UnknownKey(_))
        ));
        // The next key keeps the previous one for opening.
        let rotated = SealingKeys::new(&b, &[a]);
        assert_eq!(
            rotated.open(&sealed, "webhooks/1/signing_secret").unwrap(),
            "whsec_secret"
        );
        assert!(!rotated.is_current(&sealed) && keys.is_current(&sealed));
        let mut damaged = sealed.clone();
        damaged.pop();
        damaged.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(
            keys.open(&damaged, "webhooks/1/signing_secret"),
            Err(SealError::Damaged)
        );
    }

    #[test]
    fn keys_are_read_as_base64_or_hexadecimal() {
        let bytes = [7u8; 32];
        assert_eq!(
            SealingKeys::parse_key(&format!("{}\n", STANDARD.encode(bytes))),
            Ok(bytes)
        );
        assert_eq!(SealingKeys::parse_key(&"07".repeat(32)), Ok(bytes));
        assert!(SealingKeys::parse_key("short").is_err());
        assert!(SealingKeys::parse_key(&STANDARD.encode([1u8; 16]))
            .unwrap_err()
            .contains("16"));
    }
}
