//! The `D` envelope every Spark answer is wrapped in, and Spark's error codes.
//!
//! Success: `{"D":{"Success":true,"Results":[...]}}`, with `"Pagination"` when
//! asked for; failure: `{"D":{"Success":false,"Code":N,"Message":"..."}}`. The
//! codes and their HTTP statuses are the ones the public Spark clients list.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

/// A failed request, answered in Spark's failure envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparkError {
    pub status: StatusCode,
    pub code: u32,
    pub message: String,
}

impl SparkError {
    fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 401, code 1000: the token is missing or unknown.
    pub fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            1000,
            "Invalid API key and/or request signed improperly.",
        )
    }

    /// 400, code 1016: the `X-SparkApi-User-Agent` header is missing.
    pub fn missing_user_agent() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            1016,
            "The X-SparkApi-User-Agent header is required.",
        )
    }

    /// 401, code 1020: the session token has expired.
    pub fn expired_token() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 1020, "Session token has expired.")
    }

    /// 400, code 1035: the body is not JSON, or not `{"D": {...}}`.
    pub fn invalid_json(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            1035,
            format!("Invalid JSON: {detail}"),
        )
    }

    /// 400, code 1040: `_filter` could not be parsed.
    pub fn invalid_filter(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            1040,
            format!("Invalid _filter: {detail}"),
        )
    }

    /// 400, code 1050: a required parameter or attribute is missing.
    pub fn missing_parameter(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 1050, message)
    }

    /// 400, code 1053: a value violates a constraint (length, type, writability).
    pub fn constraint(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 1053, message)
    }

    /// 409, code 1055: the data conflicts with an existing record.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, 1055, message)
    }

    /// 403, code 1500: the role of the token may not use this resource.
    pub fn not_available(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, 1500, message)
    }

    /// 404, code 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, 404, message)
    }

    /// 405, code 405.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            405,
            "Method Not Allowed: this resource does not implement the method.",
        )
    }
}

impl IntoResponse for SparkError {
    fn into_response(self) -> Response {
        let body = json!({
            "D": {
                "Success": false,
                "Code": self.code,
                "Message": self.message,
            }
        });
        (self.status, Json(body)).into_response()
    }
}

/// `{"D":{"Success":true,"Results":[...]}}` plus `Pagination` when given.
pub fn success_with_results(results: Vec<Value>, pagination: Option<Value>) -> Response {
    let mut inner = Map::new();
    inner.insert("Success".to_string(), Value::Bool(true));
    inner.insert("Results".to_string(), Value::Array(results));
    if let Some(pagination) = pagination {
        inner.insert("Pagination".to_string(), pagination);
    }
    Json(json!({ "D": inner })).into_response()
}

/// `{"D":{"Success":true}}`: the standard success response of updates and deletes.
pub fn success_without_results() -> Response {
    Json(json!({ "D": { "Success": true } })).into_response()
}

/// Takes a write body apart: it must be JSON of the form `{"D": {...}}`.
pub fn unwrap_write_body(body: &[u8]) -> Result<Map<String, Value>, SparkError> {
    let value: Value = serde_json::from_slice(body).map_err(SparkError::invalid_json)?;
    let Value::Object(mut outer) = value else {
        return Err(SparkError::invalid_json(
            "the body must be an object of the form {\"D\": {...}}",
        ));
    };
    match outer.remove("D") {
        Some(Value::Object(inner)) => Ok(inner),
        Some(_) => Err(SparkError::invalid_json("\"D\" must be an object")),
        None => Err(SparkError::invalid_json(
            "the body must be wrapped in {\"D\": {...}}",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_bodies_must_be_wrapped_in_d() {
        assert!(unwrap_write_body(br#"{"D":{"DisplayName":"A"}}"#).is_ok());
        for bad in [
            &b"{"[..],
            b"[]",
            br#"{"DisplayName":"A"}"#,
            br#"{"D":[1]}"#,
            b"",
        ] {
            assert_eq!(unwrap_write_body(bad).unwrap_err().code, 1035);
        }
    }
}
