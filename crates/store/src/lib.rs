//! Tollgate's storage: one diesel connection type over SQLite and PostgreSQL, migrations,
//! and every query the server makes. Knows nothing of HTTP.

mod audit;
pub mod batch;
mod change;
pub mod copy;
mod cursor;
mod db;
pub mod files;
mod gateway;
pub mod notify;
mod outbox;
mod pg_tls;
pub mod policy;
mod projects;
mod revocation;
pub mod schema;
pub mod sealing;
pub mod secret;
mod service_users;
mod tokens;
mod unit;
mod users;
mod webhooks;

pub use change::{Change, ChangeListener};
pub use cursor::PageQuery;
pub use db::{Backend, DbConn, PoolState, Store, WaitFigures};
pub use gateway::{GatewayToken, Retired, RetiredSecret, SecretLookup, Use};
pub use projects::{ProductSpec, ProjectPut, ProjectSpec, ProjectSummary};
pub use revocation::Reporter;
pub use tokens::{TokenFilter, TokenQuery, TokenTarget};
pub use users::{Actor, Operator, UserClaims};
pub use webhooks::{Attempt, Claimed};

use chrono::{DateTime, NaiveDateTime, Utc};

/// Where a change came from, for its audit event.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub request_id: String,
    pub client_address: Option<String>,
}

/// What the storage layer can answer besides a result.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// The request names (in `field`) something the caller's project does not have.
    #[error("{field}: {message}")]
    UnknownReference { field: &'static str, message: &'static str },
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("another {0} of the project already has this name")]
    NameTaken(&'static str),
    #[error("the service user still has {0} token(s); delete them first")]
    ServiceUserHasTokens(i64),
    #[error("{0}")]
    Invalid(InvalidInput),
    /// A list's cursor is not one that list handed out.
    #[error("the cursor is not one this list returned")]
    BadCursor,
    #[error("project `{0}` is not known to Tollgate")]
    UnknownProject(String),
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(diesel::result::Error),
    #[error("migration failed: {0}")]
    Migration(String),
    /// The database is reachable but cannot serve as configured (said at start).
    #[error("{0}")]
    Setup(String),
}

impl From<diesel::result::Error> for StoreError {
    /// A lost link to the database is unavailability (the caller may try another node or
    /// again shortly), not a fault of the request.
    fn from(e: diesel::result::Error) -> StoreError {
        use diesel::result::{DatabaseErrorKind as Kind, Error};
        let link_lost = match &e {
            Error::DatabaseError(Kind::ClosedConnection | Kind::UnableToSendCommand, _) => true,
            Error::BrokenTransactionManager => true,
            Error::DatabaseError(_, info) => {
                let m = info.message();
                [
                    "terminating connection",
                    "server closed the connection",
                    "no connection to the server",
                    "could not receive data",
                    "could not send data",
                    "the database system is",
                    "connection to server",
                ]
                .iter()
                .any(|s| m.contains(s))
            }
            _ => false,
        };
        if link_lost {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Database(e)
        }
    }
}

/// A rejected input, with the field it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidInput {
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl StoreError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> StoreError {
        StoreError::Invalid(InvalidInput {
            field,
            message: message.into(),
        })
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Now, truncated to microseconds so that both backends store and return the same instant.
pub(crate) fn now() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    now.with_nanosecond_truncated()
}

trait TruncateMicros {
    fn with_nanosecond_truncated(self) -> Self;
}

impl TruncateMicros for NaiveDateTime {
    fn with_nanosecond_truncated(self) -> Self {
        use chrono::Timelike;
        let micros = self.nanosecond() / 1_000 * 1_000;
        self.with_nanosecond(micros).unwrap_or(self)
    }
}

pub(crate) fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// Whether `s` can be one of our ids; anything else cannot exist, and never reaches a query.
pub(crate) fn is_id(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Whether the error is a unique-constraint violation (a name or key already taken).
pub(crate) fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
