//! The token list's query (filters, sort and page) as the API takes it and the client sends
//! it: one type for the server's parser, the typed client and the portal.

use crate::{TokenKind, TokenStatus};
use serde::{Deserialize, Serialize};

/// How a token list is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenSort {
    #[default]
    NewestFirst,
    OldestFirst,
    NameAscending,
    NameDescending,
}

impl TokenSort {
    /// Every order with its API name: the one table that serde and the schema read.
    pub const ALL: [(TokenSort, &'static str); 4] = [
        (TokenSort::NewestFirst, "-created_at"),
        (TokenSort::OldestFirst, "created_at"),
        (TokenSort::NameAscending, "name"),
        (TokenSort::NameDescending, "-name"),
    ];

    /// The API's name of this order.
    pub fn api_name(self) -> &'static str {
        Self::ALL.iter().find(|(s, _)| *s == self).map_or("", |(_, name)| name)
    }

    /// The order of an API name.
    pub fn from_api_name(name: &str) -> Option<TokenSort> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(s, _)| *s)
    }
}

impl Serialize for TokenSort {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.api_name())
    }
}

impl<'de> Deserialize<'de> for TokenSort {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<TokenSort, D::Error> {
        let name = std::borrow::Cow::<str>::deserialize(deserializer)?;
        TokenSort::from_api_name(&name).ok_or_else(|| {
            let names: Vec<&str> = TokenSort::ALL.iter().map(|(_, n)| *n).collect();
            serde::de::Error::custom(format!("unknown sort `{name}`, expected one of {}", names.join(", ")))
        })
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for TokenSort {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(TokenSort::ALL.iter().map(|(_, name)| *name)))
            .description(Some("How a token list is sorted."))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for TokenSort {}

/// The longest text searched for in token names, in characters.
pub const SEARCH_MAX_CHARS: usize = 64;
/// The longest `created_for` id, in characters.
pub const PRINCIPAL_ID_MAX_CHARS: usize = 255;
/// Page sizes: at least 1, at most 100, 25 when absent.
pub const PAGE_MIN: u32 = 1;
pub const PAGE_MAX: u32 = 100;
pub const PAGE_DEFAULT: u32 = 25;

/// Filters, sort and page of `GET /api/v1/tokens`; `None` leaves a parameter out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct TokenListQuery {
    /// Only `user` or only `service` tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<TokenKind>,
    /// Only `active` or only `expired` tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TokenStatus>,
    /// Only tokens created for this portal user or service user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        param(max_length = 255, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")
    )]
    pub created_for: Option<String>,
    /// Case-insensitive text searched for in token names (at most 64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        param(max_length = 64, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")
    )]
    pub q: Option<String>,
    /// `-created_at` (default, newest first), `created_at`, `name` or `-name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = Option<TokenSort>))]
    pub sort: Option<TokenSort>,
    /// `next_cursor` of the previous page (with the same filters and sort).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Page size, 1–100 (default 25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 100))]
    pub limit: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_names_round_trip() {
        for (sort, name) in TokenSort::ALL {
            assert_eq!(TokenSort::from_api_name(name), Some(sort));
            assert_eq!(serde_json::to_value(sort).unwrap(), name);
            assert_eq!(serde_json::from_value::<TokenSort>(name.into()).unwrap(), sort);
        }
        assert_eq!(TokenSort::NewestFirst.api_name(), "-created_at");
        assert_eq!(TokenSort::from_api_name("size"), None);
        assert!(serde_json::from_value::<TokenSort>("size".into()).is_err());
    }
}
