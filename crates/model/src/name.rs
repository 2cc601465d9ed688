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
            NameError::InvisibleCharacter => "must not contain invisible or bidi formatting characters",
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

/// The longest service user description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 256;

/// A service user's description: trimmed, 1 to 256 characters, no control characters. An
/// empty or blank one is no description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    /// `Ok(None)` for an absent, empty or blank description.
    pub fn parse(raw: Option<&str>) -> Result<Option<Description>, &'static str> {
        let Some(text) = raw.map(str::trim).filter(|d| !d.is_empty()) else {
            return Ok(None);
        };
        if text.chars().count() > DESCRIPTION_MAX_CHARS {
            return Err("the description must be at most 256 characters");
        }
        if text.chars().any(char::is_control) {
            return Err("the description must not contain control characters");
        }
        Ok(Some(Description(text.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
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

/// The characters `str::trim` removes (Unicode White_Space).
#[cfg(feature = "openapi")]
const WHITE_SPACE: &[(u32, u32)] = &[
    (0x09, 0x0D),
    (0x20, 0x20),
    (0x85, 0x85),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
];

/// Control characters (Unicode Cc).
#[cfg(feature = "openapi")]
const CONTROL: &[(u32, u32)] = &[(0x00, 0x1F), (0x7F, 0x9F)];

/// A regular-expression character class of these ranges (in the Basic Multilingual Plane:
/// what ECMA-262 and Python patterns both write as `\uXXXX`).
#[cfg(feature = "openapi")]
fn class(negated: bool, sets: &[&[(u32, u32)]]) -> String {
    let mut out = String::from(if negated { "[^" } else { "[" });
    for &(low, high) in sets.iter().flat_map(|s| s.iter()).filter(|(low, _)| *low <= 0xFFFF) {
        out.push_str(&format!("\\u{low:04X}"));
        if high != low {
            out.push_str(&format!("-\\u{:04X}", high.min(0xFFFF)));
        }
    }
    out.push(']');
    out
}

/// A trimmed text of `1..=max` characters (at least one when `required`) whose characters
/// are none of `refused`, with any white space around it: [`Name::parse`]'s rules (and the
/// service user description's) as a pattern for the OpenAPI document. The few format
/// characters beyond the Basic Multilingual Plane cannot be written in a pattern that
/// ECMA-262 and Python read alike; the server refuses them all the same.
#[cfg(feature = "openapi")]
fn trimmed_pattern(max: usize, refused: &[&[(u32, u32)]], required: bool) -> String {
    let white = class(false, &[WHITE_SPACE]);
    let inner = class(true, refused);
    let mut edge_sets = refused.to_vec();
    edge_sets.push(WHITE_SPACE);
    let edge = class(true, &edge_sets);
    let body = format!("{edge}(?:{inner}{{0,{}}}{edge})?", max - 2);
    let body = if required { body } else { format!("(?:{body})?") };
    format!("^{white}*{body}{white}*$")
}

/// [`Name::parse`]'s rules as a pattern.
#[cfg(feature = "openapi")]
pub static PATTERN: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| trimmed_pattern(NAME_MAX_CHARS, &[CONTROL, INVISIBLE], true));

/// A service user's description: up to 256 characters after trimming, no control characters.
#[cfg(feature = "openapi")]
pub static DESCRIPTION_PATTERN: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| trimmed_pattern(DESCRIPTION_MAX_CHARS, &[CONTROL], false));

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
