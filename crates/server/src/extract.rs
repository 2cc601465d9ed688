//! Body and query extractors whose every failure is a `problem+json` naming the field.

use crate::error::ApiError;
use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use tollgate_model::ErrorCode;

/// The largest request body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A JSON body: `application/json`, at most 64 KiB, no unknown fields.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<ApiJson<T>, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .is_some_and(|m| {
                m.type_() == mime::APPLICATION && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
            });
        let declared_too_large = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|n| n > BODY_LIMIT);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    "send the body as application/json",
                ));
            }
            if declared_too_large {
                return Err(too_large());
            }
            let bytes = body
                .await
                .map_err(|e| match e.as_response_error().status_code().as_u16() {
                    413 => too_large(),
                    _ => ApiError::new(ErrorCode::MalformedJson, "the request body could not be read"),
                })?;
            parse_json(&bytes).map(ApiJson)
        })
    }
}

/// A JSON body that may be left out: no body (no `Content-Type` and no length) is `None`;
/// any body is read as [`ApiJson`] reads it, errors included.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<OptionalJson<T>, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let headers = req.headers();
        let empty = !headers.contains_key(header::CONTENT_TYPE)
            && headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .is_none_or(|v| v.trim() == "0")
            && !headers.contains_key(header::TRANSFER_ENCODING);
        if empty {
            return Box::pin(async { Ok(OptionalJson(None)) });
        }
        let body = ApiJson::<T>::from_request(req, payload);
        Box::pin(async move { body.await.map(|ApiJson(t)| OptionalJson(Some(t))) })
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the body must be at most {} KiB", BODY_LIMIT / 1024),
    )
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedJson,
            format!("the body is not valid JSON: {}", strip_position(&e.to_string())),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "body",
            "the body must be a JSON object",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let field = field_name(&path, &message);
        ApiError::field(
            ErrorCode::InvalidField,
            field.clone(),
            format!("{field}: {}", strip_position(&message)),
        )
    })
}

/// The field at fault: the path serde reached, or the one its message names (unknown and
/// missing fields are reported on their parent).
fn field_name(path: &str, message: &str) -> String {
    let named = message.split('`').nth(1).filter(|_| message.contains("field `"));
    match (path, named) {
        (".", Some(name)) => name.to_owned(),
        (p, Some(name)) if p == name || p.ends_with(&format!(".{name}")) => p.to_owned(),
        (p, Some(name)) if message.starts_with("unknown field") || message.starts_with("missing field") => {
            format!("{p}.{name}")
        }
        (".", None) => "body".to_owned(),
        (p, _) => p.to_owned(),
    }
}

fn strip_position(message: &str) -> &str {
    message.split(" at line ").next().unwrap_or(message)
}

/// Query parameters: unknown ones and bad values answer 400 `invalid_parameter`.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<ApiQuery<T>, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(req.query_string().as_bytes()));
        std::future::ready(serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|e| {
            let path = e.path().to_string();
            let message = e.into_inner().to_string();
            let field = field_name(&path, &message);
            ApiError::field(
                ErrorCode::InvalidParameter,
                field.clone(),
                format!("{field}: {message}"),
            )
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        count: Option<u8>,
    }

    fn field_of(json: &str) -> (ErrorCode, Option<String>) {
        let e = parse_json::<Body>(json.as_bytes()).unwrap_err();
        (e.code(), e.problem_field().map(str::to_owned))
    }

    #[test]
    fn bad_fields_are_named() {
        assert_eq!(
            field_of(r#"{"name":"a","colour":1}"#),
            (ErrorCode::InvalidField, Some("colour".into()))
        );
        assert_eq!(field_of(r#"{}"#), (ErrorCode::InvalidField, Some("name".into())));
        assert_eq!(
            field_of(r#"{"name":5}"#),
            (ErrorCode::InvalidField, Some("name".into()))
        );
        assert_eq!(
            field_of(r#"{"name":"a","count":300}"#),
            (ErrorCode::InvalidField, Some("count".into()))
        );
        assert_eq!(field_of(r#""text""#), (ErrorCode::InvalidField, Some("body".into())));
    }

    #[test]
    fn broken_json_is_malformed() {
        assert_eq!(field_of(r#"{"name":"#).0, ErrorCode::MalformedJson);
        assert_eq!(field_of(r#"{"name":"a"} trailing"#).0, ErrorCode::MalformedJson);
    }
}
