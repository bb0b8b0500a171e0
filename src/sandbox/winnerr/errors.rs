//! The Winnerr error envelope and every error the emulator answers with.
//!
//! All failures share the seed's shape,
//! `{"success": false, "error": {"type", "title", "status", "detail"}}`, with
//! `errors: [{field, code, message}]` added for validation failures (422).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// One problem with one input field, as listed in a 422 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field as the client named it: `email`, `address.city`, `tags[1]`,
    /// `leadScore[gte]`, `updates.status`.
    pub field: String,
    /// A stable machine-readable code such as `required` or `invalid_email`.
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }

    fn to_json(&self) -> Value {
        json!({ "field": self.field, "code": self.code, "message": self.message })
    }
}

/// Every error answer of the emulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// No `Authorization: Bearer ...` header at all.
    MissingToken,
    /// A bearer token other than the configured one.
    InvalidToken,
    /// A contact id that does not exist (any more).
    ContactNotFound(String),
    /// A path no route serves.
    RouteNotFound { method: String, path: String },
    /// A route that exists, with a method it does not serve.
    MethodNotAllowed { method: String },
    /// A body that is not a JSON object.
    MalformedBody,
    /// A body over the size limit.
    BodyTooLarge,
    /// One or more invalid fields or query parameters.
    Validation(Vec<FieldError>),
    /// Another contact already has this email.
    DuplicateEmail(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MissingToken | ApiError::InvalidToken => StatusCode::UNAUTHORIZED,
            ApiError::ContactNotFound(_) | ApiError::RouteNotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::MalformedBody => StatusCode::BAD_REQUEST,
            ApiError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::DuplicateEmail(_) => StatusCode::CONFLICT,
        }
    }

    /// The `error` object of the envelope (also used for failed bulk entries).
    pub fn error_object(&self) -> Value {
        let (kind, title, detail) = match self {
            ApiError::MissingToken => (
                "authentication_error",
                "Unauthorized",
                "An Authorization header with a Bearer token is required".to_string(),
            ),
            ApiError::InvalidToken => (
                "authentication_error",
                "Unauthorized",
                "The provided token is invalid or has expired".to_string(),
            ),
            ApiError::ContactNotFound(id) => (
                "not_found_error",
                "Contact Not Found",
                format!("Contact with ID '{id}' was not found"),
            ),
            ApiError::RouteNotFound { method, path } => (
                "not_found_error",
                "Not Found",
                format!("No route matches {method} {path}"),
            ),
            ApiError::MethodNotAllowed { method } => (
                "method_not_allowed_error",
                "Method Not Allowed",
                format!("Method {method} is not allowed on this resource"),
            ),
            ApiError::MalformedBody => (
                "invalid_request_error",
                "Bad Request",
                "Request body must be a valid JSON object".to_string(),
            ),
            ApiError::BodyTooLarge => (
                "invalid_request_error",
                "Payload Too Large",
                "Request body is too large".to_string(),
            ),
            ApiError::Validation(_) => (
                "validation_error",
                "Validation Error",
                "Request validation failed".to_string(),
            ),
            ApiError::DuplicateEmail(email) => (
                "conflict_error",
                "Duplicate Contact",
                format!("Contact with email '{email}' already exists"),
            ),
        };
        let mut error = json!({
            "type": kind,
            "title": title,
            "status": self.status().as_u16(),
            "detail": detail,
        });
        if let ApiError::Validation(errors) = self {
            error["errors"] = Value::Array(errors.iter().map(FieldError::to_json).collect());
        }
        error
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "success": false, "error": self.error_object() });
        let mut response = (self.status(), Json(body)).into_response();
        if matches!(self, ApiError::MissingToken | ApiError::InvalidToken) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<Vec<FieldError>> for ApiError {
    fn from(errors: Vec<FieldError>) -> Self {
        ApiError::Validation(errors)
    }
}
