//! Token secrets: generated from the OS CSPRNG, recognisable, self-checking, stored as digests.
//!
//! A secret reads `tgr_` + 32 base62 characters of randomness (190 bits) + 6 base62
//! characters of a CRC32 over everything before them. The prefix lets secret scanners find a
//! leaked secret; the checksum lets a mistyped one be refused without a database lookup.

use sha2::{Digest, Sha256};
use std::fmt;

pub const PREFIX: &str = "tgr_";
const RANDOM_CHARS: usize = 32;
const CHECKSUM_CHARS: usize = 6;
pub const SECRET_LEN: usize = PREFIX.len() + RANDOM_CHARS + CHECKSUM_CHARS;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A secret in plain text. Its `Debug` shows nothing of it, so it cannot leak into a log.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainSecret(String);

/// The SHA-256 of a presented secret: the one form a digest has from the handler through the
/// cache to the store (which keeps it hex-encoded).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretDigest([u8; 32]);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretFormatError {
    #[error("the secret does not start with {PREFIX}")]
    Prefix,
    #[error("the secret has the wrong length")]
    Length,
    #[error("the secret contains characters a Tollgate secret never has")]
    Alphabet,
    #[error("the secret's checksum does not match: it was mistyped or truncated")]
    Checksum,
}

impl PlainSecret {
    /// A new secret from the operating system's CSPRNG.
    pub fn generate() -> PlainSecret {
        let mut out = String::with_capacity(SECRET_LEN);
        out.push_str(PREFIX);
        out.push_str(&random_base62(RANDOM_CHARS));
        let checksum = checksum(&out);
        out.push_str(&checksum);
        PlainSecret(out)
    }

    /// Checks prefix, length, alphabet and checksum; touches nothing else.
    pub fn parse(candidate: &str) -> Result<PlainSecret, SecretFormatError> {
        let body = candidate.strip_prefix(PREFIX).ok_or(SecretFormatError::Prefix)?;
        if candidate.len() != SECRET_LEN {
            return Err(SecretFormatError::Length);
        }
        if !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(SecretFormatError::Alphabet);
        }
        let (head, sum) = candidate.split_at(SECRET_LEN - CHECKSUM_CHARS);
        if checksum(head) != sum {
            return Err(SecretFormatError::Checksum);
        }
        Ok(PlainSecret(candidate.to_owned()))
    }

    /// The secret itself, for the one response that hands it out.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn digest(&self) -> SecretDigest {
        digest(&self.0)
    }

    /// The last four characters, shown so that users can tell their secrets apart.
    pub fn last4(&self) -> String {
        self.0[self.0.len() - 4..].to_owned()
    }
}

impl fmt::Debug for PlainSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainSecret(<redacted>)")
    }
}

/// The SHA-256 of any presented string.
pub fn digest(secret: &str) -> SecretDigest {
    SecretDigest(Sha256::digest(secret.as_bytes()).into())
}

impl SecretDigest {
    /// Lower-case hex: how the database stores it and notifications carry it.
    pub fn hex(&self) -> String {
        let mut hex = String::with_capacity(64);
        for &byte in &self.0 {
            hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
            hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 0x0f)]));
        }
        hex
    }

    /// The digest's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key of the SQLite gateway copy's row (`gateway_tokens`, keyed by it as its rowid):
    /// the digest's first 60 bits, always a positive `i64`. The one place it is computed: the
    /// token's writer stores it (`tokens.secret_key`), and the lookup finds the row by it.
    pub fn gateway_key(&self) -> i64 {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        (u64::from_be_bytes(first) >> 4) as i64
    }

    /// The digest whose [`SecretDigest::hex`] this is, if it is one.
    pub fn from_hex(hex: &str) -> Option<SecretDigest> {
        let hex = hex.as_bytes();
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in hex.chunks(2).enumerate() {
            let text = std::str::from_utf8(pair).ok()?;
            out[i] = u8::from_str_radix(text, 16).ok()?;
        }
        Some(SecretDigest(out))
    }
}

impl fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretDigest({})", self.hex())
    }
}

fn checksum(text: &str) -> String {
    let mut value = u64::from(crc32fast::hash(text.as_bytes()));
    let mut chars = [b'0'; CHECKSUM_CHARS];
    for slot in chars.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8(chars.to_vec()).expect("base62 is ASCII")
}

/// `count` characters drawn uniformly from `alphabet` with the OS CSPRNG (rejection sampling,
/// so that no character is likelier than another).
pub fn random_chars(count: usize, alphabet: &[u8]) -> String {
    assert!(!alphabet.is_empty() && alphabet.len() <= 256);
    let limit = 256 - 256 % alphabet.len();
    let mut out = String::with_capacity(count);
    let mut buf = [0u8; 64];
    while out.len() < count {
        getrandom::fill(&mut buf).expect("the operating system's random source failed");
        for &byte in &buf {
            if usize::from(byte) < limit && out.len() < count {
                out.push(char::from(alphabet[usize::from(byte) % alphabet.len()]));
            }
        }
    }
    out
}

fn random_base62(count: usize) -> String {
    random_chars(count, BASE62)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn a_generated_secret_has_the_prefix_the_length_and_a_valid_checksum() {
        let secret = PlainSecret::generate();
        assert!(secret.expose().starts_with("tgr_"));
        assert_eq!(secret.expose().len(), 42);
        assert_eq!(PlainSecret::parse(secret.expose()), Ok(secret.clone()));
    }

    #[test]
    fn the_random_part_carries_at_least_160_bits() {
        let bits = RANDOM_CHARS as f64 * 62f64.log2();
        assert!(bits >= 160.0, "{bits} bits");
        let many: HashSet<String> = (0..1000).map(|_| PlainSecret::generate().expose().to_owned()).collect();
        assert_eq!(many.len(), 1000, "secrets repeat");
    }

    #[test]
    fn every_base62_character_appears_in_random_output() {
        let sample = random_base62(20_000);
        let seen: HashSet<char> = sample.chars().collect();
        assert_eq!(seen.len(), 62);
    }

    #[test]
    fn a_single_mistyped_character_is_caught_by_the_checksum() {
        let secret = PlainSecret::generate().expose().to_owned();
        for position in PREFIX.len()..secret.len() {
            let mut bytes = secret.clone().into_bytes();
            bytes[position] = if bytes[position] == b'a' { b'b' } else { b'a' };
            let typo = String::from_utf8(bytes).unwrap();
            assert_eq!(
                PlainSecret::parse(&typo),
                Err(SecretFormatError::Checksum),
                "{position}"
            );
        }
    }

    #[test]
    fn wrong_prefix_length_and_alphabet_are_refused() {
        let secret = PlainSecret::generate().expose().to_owned();
        assert_eq!(
            PlainSecret::parse(&secret.replacen("tgr_", "ghp_", 1)),
            Err(SecretFormatError::Prefix)
        );
        assert_eq!(PlainSecret::parse(&secret[..41]), Err(SecretFormatError::Length));
        assert_eq!(
            PlainSecret::parse(&format!("{secret}x")),
            Err(SecretFormatError::Length)
        );
        let mut odd = secret.clone();
        odd.replace_range(10..11, "-");
        assert_eq!(PlainSecret::parse(&odd), Err(SecretFormatError::Alphabet));
        assert_eq!(PlainSecret::parse(""), Err(SecretFormatError::Prefix));
        assert_eq!(PlainSecret::parse("tgr_é"), Err(SecretFormatError::Length));
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let secret = PlainSecret::generate();
        let shown = format!("{secret:?}");
        assert!(!shown.contains(&secret.expose()[4..]), "{shown}");
    }

    #[test]
    fn hex_digests_round_trip() {
        let d = digest("abc");
        assert_eq!(SecretDigest::from_hex(&d.hex()), Some(d));
        assert_eq!(SecretDigest::from_hex("zz"), None);
    }

    #[test]
    fn the_digest_is_hex_sha256_and_last4_is_the_tail() {
        assert_eq!(
            digest("abc").hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let secret = PlainSecret::generate();
        assert_eq!(secret.last4(), &secret.expose()[38..]);
    }
}
