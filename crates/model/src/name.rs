//! Names of tokens and service users: parsed once, so an invalid name cannot exist.

use std::fmt;

/// The longest name, in characters (not bytes).
pub const NAME_MAX_CHARS: usize = 64;

/// A trimmed name of 1 to 64 characters without control characters, invisible formatting
/// characters or line and paragraph separators.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name(String);

/// Why a name was refused; the text is what the user is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    Empty,
    TooLong,
    ControlCharacter,
    /// A format character (Unicode Cf: bidi overrides, zero-width characters, the BOM…) or a
    /// line or paragraph separator (Zl, Zp): they make a name read other than it is.
    InvisibleCharacter,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameError::Empty => "must not be empty",
            NameError::TooLong => "must be at most 64 characters",
            NameError::ControlCharacter => "must not contain control characters",
            NameError::InvisibleCharacter => {
                "must not contain invisible formatting characters (such as bidi overrides or \
                 zero-width spaces) or line separators"
            }
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
        if trimmed.chars().any(is_invisible) {
            return Err(NameError::InvisibleCharacter);
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

/// Unicode's general categories Cf (format), Zl (line separator) and Zp (paragraph
/// separator), as of Unicode 15.1. A table of ranges rather than a crate: the SPA carries it.
const INVISIBLE: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

fn is_invisible(c: char) -> bool {
    let c = c as u32;
    INVISIBLE.iter().any(|&(low, high)| (low..=high).contains(&c))
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
    fn invisible_and_reordering_characters_are_refused() {
        for bad in [
            "invoice\u{202E}fdp.exe", // right-to-left override
            "a\u{2066}b\u{2069}",     // isolates
            "zero\u{200B}width",
            "joiner\u{200D}x",
            "bom\u{FEFF}x",
            "soft\u{AD}hyphen",
            "line\u{2028}separator",
            "para\u{2029}graph",
            "tag\u{E0041}",
        ] {
            assert_eq!(Name::parse(bad), Err(NameError::InvisibleCharacter), "{bad:?}");
        }
        assert!(Name::parse("Café – CI 🚀 ✓ 東京").is_ok(), "visible Unicode is welcome");
    }

    #[test]
    fn the_key_ignores_case() {
        assert_eq!(
            Name::parse("CI Token").unwrap().key(),
            Name::parse("ci token").unwrap().key()
        );
    }
}
