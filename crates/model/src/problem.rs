//! RFC 9457 problem details with a stable, machine-readable `code`.

use serde::{Deserialize, Serialize};

/// Every error the API can answer. Clients match on these; they never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No bearer token, or one that is malformed, wrongly signed or for another audience.
    Unauthenticated,
    /// The bearer token has expired: sign in again.
    SessionExpired,
    /// The caller's role may not do this.
    Forbidden,
    /// The caller's project is not known to Tollgate.
    UnknownProject,
    /// Nothing with this id exists for the caller.
    NotFound,
    /// The HTTP method is not supported on this resource.
    MethodNotAllowed,
    /// The body is not valid JSON.
    MalformedJson,
    /// A field of the body is missing, unknown or invalid; `field` names it.
    InvalidField,
    /// A query parameter is invalid; `field` names it.
    InvalidParameter,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// The body is larger than the server accepts.
    PayloadTooLarge,
    /// Another token or service user of the project already has this name.
    NameTaken,
    /// The service user still has tokens; delete them first.
    ServiceUserHasTokens,
    /// Too many failed attempts from this address; retry later.
    RateLimited,
    /// A dependency (the database, the identity provider) is unavailable.
    Unavailable,
    /// An unexpected server error; the request id helps the operator find it.
    Internal,
}

impl ErrorCode {
    pub fn status(self) -> u16 {
        use ErrorCode::*;
        match self {
            Unauthenticated | SessionExpired => 401,
            Forbidden | UnknownProject => 403,
            NotFound => 404,
            MethodNotAllowed => 405,
            MalformedJson | InvalidParameter => 400,
            InvalidField => 422,
            UnsupportedMediaType => 415,
            PayloadTooLarge => 413,
            NameTaken | ServiceUserHasTokens => 409,
            RateLimited => 429,
            Unavailable => 503,
            Internal => 500,
        }
    }

    pub fn title(self) -> &'static str {
        use ErrorCode::*;
        match self {
            Unauthenticated => "Authentication required",
            SessionExpired => "Session expired",
            Forbidden => "Not allowed",
            UnknownProject => "Unknown project",
            NotFound => "Not found",
            MethodNotAllowed => "Method not allowed",
            MalformedJson => "Malformed JSON",
            InvalidField => "Invalid field",
            InvalidParameter => "Invalid parameter",
            UnsupportedMediaType => "Unsupported media type",
            PayloadTooLarge => "Payload too large",
            NameTaken => "Name already taken",
            ServiceUserHasTokens => "Service user still has tokens",
            RateLimited => "Too many requests",
            Unavailable => "Service unavailable",
            Internal => "Internal error",
        }
    }

    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            Unauthenticated => "unauthenticated",
            SessionExpired => "session_expired",
            Forbidden => "forbidden",
            UnknownProject => "unknown_project",
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            MalformedJson => "malformed_json",
            InvalidField => "invalid_field",
            InvalidParameter => "invalid_parameter",
            UnsupportedMediaType => "unsupported_media_type",
            PayloadTooLarge => "payload_too_large",
            NameTaken => "name_taken",
            ServiceUserHasTokens => "service_user_has_tokens",
            RateLimited => "rate_limited",
            Unavailable => "unavailable",
            Internal => "internal",
        }
    }
}

/// An `application/problem+json` body (RFC 9457) with Tollgate's extensions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:tollgate:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: ErrorCode,
    /// The body field or query parameter at fault, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The id of the request, as in the `X-Request-Id` header and the server log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl Problem {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Problem {
        Problem {
            problem_type: format!("urn:tollgate:problem:{}", code.as_str()),
            title: code.title().to_owned(),
            status: code.status(),
            detail: detail.into(),
            code,
            field: None,
            request_id: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Problem {
        self.field = Some(field.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_stable_names() {
        for code in [
            ErrorCode::NameTaken,
            ErrorCode::ServiceUserHasTokens,
            ErrorCode::Unauthenticated,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(code.as_str()));
        }
    }

    #[test]
    fn a_problem_carries_type_title_status_and_code() {
        let p = serde_json::to_value(Problem::new(ErrorCode::NameTaken, "x").with_field("name")).unwrap();
        assert_eq!(p["type"], "urn:tollgate:problem:name_taken");
        assert_eq!(p["status"], 409);
        assert_eq!(p["code"], "name_taken");
        assert_eq!(p["field"], "name");
        assert!(p.get("request_id").is_none());
    }
}
