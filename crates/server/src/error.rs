//! The one error type of the HTTP layer, answered as `application/problem+json`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use std::fmt;
use tollgate_model::{ErrorCode, Problem};
use tollgate_store::StoreError;

tokio::task_local! {
    /// The id of the request being handled, so that every problem can name it.
    pub static REQUEST_ID: String;
}

#[derive(Debug)]
pub struct ApiError {
    problem: Box<Problem>,
    /// What went wrong underneath, for the log only.
    cause: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            problem: Problem::new(code, detail).into(),
            cause: None,
        }
    }

    pub fn field(code: ErrorCode, field: impl Into<String>, detail: impl Into<String>) -> ApiError {
        ApiError {
            problem: Problem::new(code, detail).with_field(field).into(),
            cause: None,
        }
    }

    pub fn internal(cause: impl fmt::Display) -> ApiError {
        ApiError {
            problem: Problem::new(
                ErrorCode::Internal,
                "an unexpected error occurred; the request id identifies it in the server log",
            )
            .into(),
            cause: Some(cause.to_string()),
        }
    }

    pub fn code(&self) -> ErrorCode {
        self.problem.code
    }

    /// The field or parameter the problem names, if any.
    pub fn problem_field(&self) -> Option<&str> {
        self.problem.field.as_deref()
    }
}

/// A refused credential (`401`), saying why.
pub fn unauthenticated(detail: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthenticated, detail)
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.problem.code.as_str(), self.problem.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut problem = (*self.problem).clone();
        problem.request_id = REQUEST_ID.try_with(Clone::clone).ok();
        if let Some(cause) = &self.cause {
            tracing::error!(request_id = problem.request_id.as_deref().unwrap_or("-"), %cause, "request failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        if self.problem.code == ErrorCode::Unauthenticated || self.problem.code == ErrorCode::SessionExpired {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.body(serde_json::to_string(&problem).unwrap_or_default())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound => ApiError::new(ErrorCode::NotFound, "no such resource in your project"),
            StoreError::UnknownReference { field, message } => ApiError::field(ErrorCode::NotFound, field, message),
            StoreError::Forbidden(why) => ApiError::new(ErrorCode::Forbidden, why),
            StoreError::NameTaken(what) => ApiError::field(
                ErrorCode::NameTaken,
                "name",
                format!("another {what} of your project already has this name (names ignore case)"),
            ),
            e @ StoreError::ServiceUserHasTokens(_) => ApiError::new(ErrorCode::ServiceUserHasTokens, e.to_string()),
            StoreError::Invalid(i) => ApiError::field(ErrorCode::InvalidField, i.field, i.message),
            e @ StoreError::BadCursor => ApiError::field(ErrorCode::InvalidParameter, "cursor", e.to_string()),
            e @ StoreError::UnknownProject(_) => ApiError::new(ErrorCode::UnknownProject, e.to_string()),
            StoreError::Unavailable(cause) => ApiError {
                problem: Problem::new(ErrorCode::Unavailable, "the database is unavailable; try again shortly").into(),
                cause: Some(cause),
            },
            e @ (StoreError::Database(_) | StoreError::Migration(_) | StoreError::Setup(_)) => ApiError::internal(e),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> ApiError {
        ApiError::internal(e)
    }
}
