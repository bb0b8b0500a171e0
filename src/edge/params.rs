//! The GraphQL-over-HTTP request parameters, read from a POST body or a GET
//! query string, and the body read under its size limit.
//!
//! The parameters are `query` (a string), `operationName` (a string or
//! null), `variables` and `extensions` (maps or null), and `documentId` (the
//! hash of a trusted document, for clients that send no query). Any other
//! type is a 400, as GraphQL over HTTP asks; unknown parameters are ignored.
//! A JSON array (a batch of operations) is refused before it is parsed.

use axum::body::{Body, Bytes};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::EdgeError;

/// The parameters of one GraphQL request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GraphqlParams {
    pub query: Option<String>,
    pub operation_name: Option<String>,
    pub variables: Option<Map<String, Value>>,
    pub extensions: Option<Map<String, Value>>,
    pub document_id: Option<String>,
}

/// The parameters as JSON gives them, before their types are checked.
#[derive(Deserialize)]
struct UncheckedParams {
    query: Option<Value>,
    #[serde(rename = "operationName")]
    operation_name: Option<Value>,
    variables: Option<Value>,
    extensions: Option<Value>,
    #[serde(rename = "documentId")]
    document_id: Option<Value>,
}

impl GraphqlParams {
    /// Reads a POST body (`application/json`).
    pub fn from_json(body: &[u8]) -> Result<GraphqlParams, EdgeError> {
        // A batch is refused on its first byte, so a batch of thousands of
        // operations costs nothing to refuse.
        let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
        match first {
            None => {
                return Err(EdgeError::InvalidJson {
                    reason: "the body is empty".into(),
                })
            }
            Some(b'[') => return Err(EdgeError::BatchingNotSupported),
            Some(b'{') => {}
            Some(_) => {
                return Err(EdgeError::InvalidJson {
                    reason: "the body must be a JSON object".into(),
                })
            }
        }
        let unchecked: UncheckedParams =
            serde_json::from_slice(body).map_err(|error| EdgeError::InvalidJson {
                reason: error.to_string(),
            })?;
        Ok(GraphqlParams {
            query: string_parameter("query", unchecked.query)?,
            operation_name: string_parameter("operationName", unchecked.operation_name)?,
            variables: map_parameter("variables", unchecked.variables)?,
            extensions: map_parameter("extensions", unchecked.extensions)?,
            document_id: string_parameter("documentId", unchecked.document_id)?,
        })
    }

    /// Reads a GET query string: `variables` and `extensions` are JSON text.
    pub fn from_query_string(query_string: Option<&str>) -> Result<GraphqlParams, EdgeError> {
        let pairs: Vec<(String, String)> = match query_string {
            Some(text) => {
                axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
                    &format!("/?{text}")
                        .parse()
                        .map_err(|_| EdgeError::InvalidParameter {
                            name: "query string",
                            expected: "URL-encoded",
                        })?,
                )
                .map_err(|_| EdgeError::InvalidParameter {
                    name: "query string",
                    expected: "URL-encoded",
                })?
                .0
            }
            None => Vec::new(),
        };
        let mut params = GraphqlParams::default();
        for (name, value) in pairs {
            match name.as_str() {
                "query" => params.query = Some(value),
                "operationName" => params.operation_name = Some(value).filter(|v| !v.is_empty()),
                "documentId" => params.document_id = Some(value),
                "variables" => params.variables = json_map_text("variables", &value)?,
                "extensions" => params.extensions = json_map_text("extensions", &value)?,
                _ => {}
            }
        }
        Ok(params)
    }
}

fn string_parameter(name: &'static str, value: Option<Value>) -> Result<Option<String>, EdgeError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(EdgeError::InvalidParameter {
            name,
            expected: "a string",
        }),
    }
}

fn map_parameter(
    name: &'static str,
    value: Option<Value>,
) -> Result<Option<Map<String, Value>>, EdgeError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(EdgeError::InvalidParameter {
            name,
            expected: "a map",
        }),
    }
}

fn json_map_text(name: &'static str, text: &str) -> Result<Option<Map<String, Value>>, EdgeError> {
    if text.is_empty() {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(text).map_err(|_| EdgeError::InvalidParameter {
        name,
        expected: "a JSON-encoded map",
    })?;
    map_parameter(name, Some(value))
}

/// Reads a request body, refusing it as soon as it passes `limit` bytes:
/// a larger body is never held whole.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, EdgeError> {
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        if is_length_limit_error(&error) {
            EdgeError::PayloadTooLarge { limit }
        } else {
            EdgeError::BodyUnreadable
        }
    })
}

/// Whether a body error, or any error it wraps, is a length limit.
fn is_length_limit_error(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        current = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_parameter_and_checks_its_type() {
        let params = GraphqlParams::from_json(
            br#"{"query":"{ a }","operationName":null,"variables":{"x":1},"extensions":{"e":true},"other":5}"#,
        )
        .unwrap();
        assert_eq!(params.query.as_deref(), Some("{ a }"));
        assert_eq!(params.operation_name, None);
        assert_eq!(params.variables.unwrap()["x"], 1);
        assert_eq!(params.extensions.unwrap()["e"], true);
        for body in [
            r#"{"query":1}"#,
            r#"{"query":"{a}","operationName":{}}"#,
            r#"{"query":"{a}","variables":"x"}"#,
            r#"{"query":"{a}","variables":[1]}"#,
            r#"{"query":"{a}","extensions":0}"#,
        ] {
            assert!(
                matches!(
                    GraphqlParams::from_json(body.as_bytes()),
                    Err(EdgeError::InvalidParameter { .. })
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn refuses_batches_non_objects_and_broken_json() {
        assert!(matches!(
            GraphqlParams::from_json(b"  [{\"query\":\"{a}\"}]"),
            Err(EdgeError::BatchingNotSupported)
        ));
        for body in [
            "",
            "   ",
            "\"{a}\"",
            "{ \"not a JSON",
            "{\"query\": \"\\ud800\"}x",
        ] {
            assert!(
                matches!(
                    GraphqlParams::from_json(body.as_bytes()),
                    Err(EdgeError::InvalidJson { .. })
                ),
                "{body}"
            );
        }
        assert!(matches!(
            GraphqlParams::from_json(b"{\"query\": \"\xff\"}"),
            Err(EdgeError::InvalidJson { .. })
        ));
    }

    #[test]
    fn reads_a_query_string_with_json_variables() {
        let params = GraphqlParams::from_query_string(Some(
            "query=query%20Q(%24n%3A%20Int)%20%7B%20a%20%7D&variables=%7B%22n%22%3A2%7D&operationName=Q",
        ))
        .unwrap();
        assert_eq!(params.query.as_deref(), Some("query Q($n: Int) { a }"));
        assert_eq!(params.operation_name.as_deref(), Some("Q"));
        assert_eq!(params.variables.unwrap()["n"], 2);
        assert!(matches!(
            GraphqlParams::from_query_string(Some("query=%7Ba%7D&variables=%5B1%5D")),
            Err(EdgeError::InvalidParameter {
                name: "variables",
                ..
            })
        ));
    }
}
