//! Types shared by the Tollgate server, its typed client and the SPA.
//!
//! Everything here is plain serde data and builds for WASM; the OpenAPI schemas
//! are derived only with the `openapi` feature, which the server turns on.

/// An enum whose variants the API knows by strings: each variant's string is written once, in
/// the invocation, and serde's name (which the OpenAPI schema reads), `as_str`, `parse` and
/// `ALL` all come from it.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:tt, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant, )*
        }

        impl $name {
            /// Every variant, in the order declared.
            pub const ALL: [$name; [$(stringify!($variant)),*].len()] = [$($name::$variant),*];

            /// Its string in the API.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// The variant of a string of the API.
            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

mod api;
pub mod name;
pub mod paths;
mod problem;
pub mod project;
mod query;
mod time;
mod webhook;

pub use api::*;
pub use name::{Description, Name, NameError, DESCRIPTION_MAX_CHARS, NAME_MAX_CHARS};
pub use problem::{ErrorCode, Problem};
pub use project::{ProductCode, ProjectKey};
pub use query::*;
pub use webhook::*;

/// A token's last working day: its own (`expires_on`) or its subscription's, whichever comes
/// first. Every place that tells when a token ends asks this.
pub fn last_day(subscription_end: chrono::NaiveDate, own: Option<chrono::NaiveDate>) -> chrono::NaiveDate {
    own.map_or(subscription_end, |day| day.min(subscription_end))
}

/// A token's own last day as it holds now: the day it was given (`own`), or the day its secret
/// was `issued` plus the project's cap for its kind in force now (`cap_days`), whichever comes
/// first. A cap added or lowered after a secret was issued holds for it at once.
pub fn capped_day(
    own: Option<chrono::NaiveDate>,
    issued: chrono::NaiveDate,
    cap_days: Option<u32>,
) -> Option<chrono::NaiveDate> {
    let cap = cap_days.map(|days| {
        issued
            .checked_add_days(chrono::Days::new(u64::from(days)))
            .unwrap_or(chrono::NaiveDate::MAX)
    });
    match (own, cap) {
        (Some(own), Some(cap)) => Some(own.min(cap)),
        (own, cap) => own.or(cap),
    }
}

impl Token {
    /// See [`last_day`].
    pub fn last_day(&self) -> chrono::NaiveDate {
        last_day(self.subscription_end_date, self.expires_on)
    }
}

/// The moment a token whose subscription ends on `end_date` stops working: the end of
/// that day (UTC). A subscription ending on 2027-12-31 is valid through that whole day.
pub fn expires_at(end_date: chrono::NaiveDate) -> chrono::DateTime<chrono::Utc> {
    let next_day = end_date.succ_opt().unwrap_or(chrono::NaiveDate::MAX);
    next_day.and_time(chrono::NaiveTime::MIN).and_utc()
}
