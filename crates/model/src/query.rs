//! The token list's query (filters, sort and page) as the API takes it and the client sends
//! it: one type for the server's parser, the typed client and the portal.

use crate::{TokenKind, TokenStatus};
use serde::{Deserialize, Serialize};

/// How a token list is sorted. The serde names are the API's, and the only table of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TokenSort {
    #[default]
    #[serde(rename = "-created_at")]
    NewestFirst,
    #[serde(rename = "created_at")]
    OldestFirst,
    #[serde(rename = "name")]
    NameAscending,
    #[serde(rename = "-name")]
    NameDescending,
}

impl TokenSort {
    pub const ALL: [TokenSort; 4] = [
        TokenSort::NewestFirst,
        TokenSort::OldestFirst,
        TokenSort::NameAscending,
        TokenSort::NameDescending,
    ];

    /// The API's name of this order (its serde name).
    pub fn api_name(self) -> String {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(name)) => name,
            _ => String::new(),
        }
    }

    /// The order of an API name.
    pub fn from_api_name(name: &str) -> Option<TokenSort> {
        serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
    }
}

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
        for sort in TokenSort::ALL {
            assert_eq!(TokenSort::from_api_name(&sort.api_name()), Some(sort));
        }
        assert_eq!(TokenSort::NewestFirst.api_name(), "-created_at");
        assert_eq!(TokenSort::from_api_name("size"), None);
    }
}
