//! Project keys and product codes: parsed once where a request or a command enters, so that the
//! store never holds an invalid one.

use std::fmt;

/// A project's key: 1 to 32 lowercase letters, digits or `-`, starting with a letter or digit
/// (`acme`). It names the project in claims, URLs and registry usernames.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProjectKey(String);

impl ProjectKey {
    pub const RULE: &'static str =
        "a project key is 1-32 lowercase letters, digits or '-', starting with a letter or digit";

    pub fn parse(raw: &str) -> Result<ProjectKey, &'static str> {
        let b = raw.as_bytes();
        let valid = (1..=32).contains(&b.len())
            && b[0].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
        if valid {
            Ok(ProjectKey(raw.to_owned()))
        } else {
            Err(ProjectKey::RULE)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A product's code: the registry namespace its repositories live under (`wso2am`): lowercase
/// letters and digits, separated by single `.`, `_` or `-`, at most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProductCode(String);

impl ProductCode {
    pub const RULE: &'static str =
        "a product code is lowercase letters and digits, separated by single '.', '_' or '-', at most 64 characters";

    pub fn parse(raw: &str) -> Result<ProductCode, &'static str> {
        let valid = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .split(['.', '_', '-'])
                .all(|part| !part.is_empty() && part.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        if valid {
            Ok(ProductCode(raw.to_owned()))
        } else {
            Err(ProductCode::RULE)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProductCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_keys_and_product_codes_follow_registry_rules() {
        for good in ["acme", "acme-2", "9lives"] {
            assert!(ProjectKey::parse(good).is_ok(), "{good}");
        }
        for bad in ["Acme", "-x", "", "a b", &"a".repeat(33)] {
            assert!(ProjectKey::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ProductCode::parse("wso2am").is_ok() && ProductCode::parse("wso2.api-m_x").is_ok());
        for bad in ["", "WSO2", "a..b", "-a", "a-", "a/b", "a b", &"a".repeat(65)] {
            assert!(ProductCode::parse(bad).is_err(), "{bad:?}");
        }
    }
}
