//! The Open To Close error envelopes, built in one place so that every handler
//! answers the same shapes (see the module docs of `opentoclose`).

use std::collections::BTreeMap;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// Problems keyed by a field, query parameter or `body`, each with its messages.
pub(super) type ProblemMap = BTreeMap<String, Vec<String>>;

/// Every way an Open To Close request can fail inside the emulator.
#[derive(Debug)]
pub(super) enum ApiError {
    /// The request as a whole is wrong: a query parameter or a body that is
    /// not a JSON object. Answered as `errors`.
    BadRequest(ProblemMap),
    /// One or more body fields are wrong. Answered as `field_errors`.
    InvalidFields(ProblemMap),
    /// Missing or wrong `api_token`.
    Unauthorized,
    /// Unknown path, record, or a path id that is not a positive integer.
    NotFound,
    /// The path exists but not for this method; `allow` lists the methods.
    MethodNotAllowed { allow: &'static str },
    /// The body exceeds the size the server accepts.
    PayloadTooLarge,
}

impl ApiError {
    /// A request-level problem with one key (`limit`, `sort`, `body`, ...).
    pub(super) fn bad_request(key: &str, message: impl Into<String>) -> Self {
        ApiError::BadRequest(BTreeMap::from([(key.to_string(), vec![message.into()])]))
    }

    /// A problem with one body field.
    pub(super) fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        ApiError::InvalidFields(BTreeMap::from([(field.to_string(), vec![message.into()])]))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::BadRequest(errors) => (
                StatusCode::BAD_REQUEST,
                json!({ "message": "Bad request", "errors": errors }),
            ),
            ApiError::InvalidFields(field_errors) => (
                StatusCode::BAD_REQUEST,
                json!({ "message": "Bad request", "field_errors": field_errors }),
            ),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                json!({ "message": "Invalid credentials" }),
            ),
            ApiError::NotFound => (StatusCode::NOT_FOUND, json!({ "message": "Not found" })),
            ApiError::MethodNotAllowed { allow } => {
                let mut response = (
                    StatusCode::METHOD_NOT_ALLOWED,
                    Json(json!({ "message": "Method not allowed" })),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
                return response;
            }
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({ "message": "Request entity too large" }),
            ),
        };
        (status, Json::<Value>(body)).into_response()
    }
}
