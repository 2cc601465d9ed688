//! Names of tokens and service users: parsed once, so an invalid name cannot exist.

use std::fmt;

/// The longest name, in characters (not bytes).
pub const NAME_MAX_CHARS: usize = 64;

/// A trimmed name of 1 to 64 characters without control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name(String);

/// Why a name was refused; the text is what the user is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    Empty,
    TooLong,
    ControlCharacter,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameError::Empty => "must not be empty",
            NameError::TooLong => "must be at most 64 characters",
            NameError::ControlCharacter => "must not contain control characters",
        })
    }
}

impl std::error::Error for NameError {}

impl Name {
    pub fn parse(raw: &str) -> Result<Name, NameError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        if trimmed.chars().count() > NAME_MAX_CHARS {
            return Err(NameError::TooLong);
        }
        if trimmed.chars().any(char::is_control) {
            return Err(NameError::ControlCharacter);
        }
        Ok(Name(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key that makes names unique within a project regardless of case.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_trimmed() {
        assert_eq!(Name::parse("  ci token \t").unwrap().as_str(), "ci token");
    }

    #[test]
    fn empty_and_blank_names_are_refused() {
        assert_eq!(Name::parse(""), Err(NameError::Empty));
        assert_eq!(Name::parse("   \t "), Err(NameError::Empty));
    }

    #[test]
    fn sixty_four_characters_fit_and_sixty_five_do_not() {
        assert!(Name::parse(&"é".repeat(64)).is_ok(), "64 two-byte characters fit");
        assert_eq!(Name::parse(&"a".repeat(65)), Err(NameError::TooLong));
        assert!(
            Name::parse(&format!("  {}  ", "a".repeat(64))).is_ok(),
            "length counts after trimming"
        );
    }

    #[test]
    fn control_characters_are_refused_anywhere_inside() {
        for bad in ["a\u{0}b", "line\nbreak", "tab\tinside", "esc\u{1b}[31m", "del\u{7f}"] {
            assert_eq!(Name::parse(bad), Err(NameError::ControlCharacter), "{bad:?}");
        }
    }

    #[test]
    fn the_key_ignores_case() {
        assert_eq!(
            Name::parse("CI Token").unwrap().key(),
            Name::parse("ci token").unwrap().key()
        );
    }
}
