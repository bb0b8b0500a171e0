//! Spark's `D` envelope and its error codes, read on the gateway's side.
//!
//! Every answer is `{"D": {"Success": true, "Results": [...], "Pagination":
//! {...}}}` or `{"D": {"Success": false, "Code": N, "Message": "..."}}`. This
//! module turns an [`UpstreamResponse`] into the successful inner object or a
//! classified [`SourceError`]; it is the only place that knows Spark's codes.

use serde_json::{Map, Value};

use super::KIND;
use crate::sources::{parse_json, status_error, SourceError};
use crate::upstream::UpstreamResponse;

/// The inner object of a successful answer.
#[derive(Debug, Clone, Default)]
pub struct Success {
    /// `Results`, when the answer has them (updates and deletes have none).
    pub results: Option<Vec<Value>>,
    /// `Pagination.TotalRows`, when asked for with `_pagination=1`.
    pub total_rows: Option<u64>,
}

impl Success {
    /// The results of a read, which must be present.
    pub fn into_results(self, status: u16) -> Result<Vec<Value>, SourceError> {
        self.results.ok_or_else(|| SourceError::Upstream {
            source_kind: KIND,
            message: "the answer has no `Results` list".into(),
            upstream_status: Some(status),
        })
    }
}

/// Reads an answer: the successful inner object, or the error it describes.
pub fn read_answer(response: &UpstreamResponse) -> Result<Success, SourceError> {
    let success_status = (200..300).contains(&response.status);
    if !success_status {
        return Err(error_from(response));
    }
    let body: Value = parse_json(KIND, response)?;
    let inner = envelope_inner(&body).ok_or_else(|| SourceError::Upstream {
        source_kind: KIND,
        message: "the answer is not in Spark's `D` envelope".into(),
        upstream_status: Some(response.status),
    })?;
    // A failure envelope served with a 2xx status is still a failure.
    if inner.get("Success").and_then(Value::as_bool) == Some(false) {
        return Err(error_from(response));
    }
    let results = match inner.get("Results") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(items.clone()),
        Some(_) => {
            return Err(SourceError::Upstream {
                source_kind: KIND,
                message: "`Results` is not a list".into(),
                upstream_status: Some(response.status),
            })
        }
    };
    let total_rows = inner
        .get("Pagination")
        .and_then(|pagination| pagination.get("TotalRows"))
        .and_then(|rows| match rows {
            Value::Number(number) => number.as_u64(),
            // Tolerated: a count sent as text.
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        });
    Ok(Success {
        results,
        total_rows,
    })
}

fn envelope_inner(body: &Value) -> Option<&Map<String, Value>> {
    body.get("D").and_then(Value::as_object)
}

/// Classifies a failed answer by Spark's code where the body has one, else by
/// the HTTP status alone.
pub fn error_from(response: &UpstreamResponse) -> SourceError {
    let failure = serde_json::from_slice::<Value>(&response.body)
        .ok()
        .and_then(|body| envelope_inner(&body).cloned());
    let code = failure
        .as_ref()
        .and_then(|inner| inner.get("Code"))
        .and_then(|code| match code {
            Value::Number(number) => number.as_u64(),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        });
    let message = failure
        .as_ref()
        .and_then(|inner| inner.get("Message"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("HTTP {}", response.status));
    classify(response, code, message)
}

fn classify(response: &UpstreamResponse, code: Option<u64>, message: String) -> SourceError {
    let status = response.status;
    let bad_input = |field: Option<String>, message: String| SourceError::BadInput {
        source_kind: KIND,
        field,
        message,
        upstream_status: Some(status),
    };
    match code {
        // An unknown, missing or expired token.
        Some(1000 | 1020) => SourceError::Unauthenticated {
            source_kind: KIND,
            upstream_status: status,
        },
        // The role of the gateway's key may not use the resource ("not available
        // at the current API key's service level"). That is a credentials
        // problem of the gateway's configuration, so it is reported the way
        // every source reports a 403: as refused credentials.
        Some(1500) => SourceError::Unauthenticated {
            source_kind: KIND,
            upstream_status: status,
        },
        // The gateway always sends the user agent header, so a refusal means
        // the configured value is wrong: our own misconfiguration, not the
        // client's input.
        Some(1016) => SourceError::Upstream {
            source_kind: KIND,
            message: format!(
                "Spark refused the X-SparkApi-User-Agent header the gateway sent \
                 (code 1016: {message}); check the configured user agent"
            ),
            upstream_status: Some(status),
        },
        Some(1035 | 1040 | 1050 | 1053) => bad_input(field_named_in(&message), message),
        Some(1055) => SourceError::Conflict {
            source_kind: KIND,
            message,
            upstream_status: status,
        },
        Some(1550) => SourceError::Unavailable {
            source_kind: KIND,
            message,
            upstream_status: Some(status),
            retry_after: response.retry_after,
        },
        // 405 means the gateway used a method Spark does not implement there:
        // a defect of the gateway, never the client's doing.
        Some(405) => SourceError::Upstream {
            source_kind: KIND,
            message,
            upstream_status: Some(status),
        },
        _ => status_error(KIND, response, message),
    }
}

/// Spark attribute names and the GraphQL input fields they are written from.
pub const ATTRIBUTE_FIELDS: &[(&str, &str)] = &[
    ("DisplayName", "displayName"),
    ("PrimaryEmail", "email"),
    ("GivenName", "firstName"),
    ("FamilyName", "lastName"),
    ("PrimaryPhoneNumber", "phone"),
    ("Organization", "organization"),
    ("Position", "title"),
    ("RecordStatus", "status"),
    ("Tags", "tags"),
    ("Note", "notes"),
    ("OwnerId", "assignedTo"),
    ("HomeStreetAddress", "address.street"),
    ("HomeLocality", "address.city"),
    ("HomeRegion", "address.region"),
    ("HomePostalCode", "address.postalCode"),
];

/// The GraphQL field of the first attribute the message names as a whole word
/// (`Attribute 'DisplayName' must be...`, `Missing required parameter:
/// PrimaryEmail.`).
pub fn field_named_in(message: &str) -> Option<String> {
    let is_word_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    ATTRIBUTE_FIELDS
        .iter()
        .filter_map(|(attribute, field)| {
            message
                .match_indices(attribute)
                .find(|(start, matched)| {
                    let before = message[..*start].chars().next_back();
                    let after = message[start + matched.len()..].chars().next();
                    !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
                })
                .map(|(start, _)| (start, *field))
        })
        .min_by_key(|(start, _)| *start)
        .map(|(_, field)| field.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use serde_json::json;

    fn response(status: u16, body: Value) -> UpstreamResponse {
        UpstreamResponse {
            cache_control: None,
            status,
            retry_after: Some(7),
            content_type: Some("application/json".into()),
            body: Bytes::from(body.to_string()),
        }
    }

    fn failure(status: u16, code: u64, message: &str) -> SourceError {
        read_answer(&response(
            status,
            json!({"D": {"Success": false, "Code": code, "Message": message}}),
        ))
        .unwrap_err()
    }

    #[test]
    fn success_envelopes_give_results_and_total() {
        let answer = read_answer(&response(
            200,
            json!({"D": {"Success": true, "Results": [{"Id": "1"}], "Pagination": {"TotalRows": 31}}}),
        ))
        .unwrap();
        assert_eq!(answer.results.as_ref().map(Vec::len), Some(1));
        assert_eq!(answer.total_rows, Some(31));
        let text_count = read_answer(&response(
            200,
            json!({"D": {"Success": true, "Results": [], "Pagination": {"TotalRows": "4"}}}),
        ))
        .unwrap();
        assert_eq!(text_count.total_rows, Some(4));
        let bare = read_answer(&response(200, json!({"D": {"Success": true}}))).unwrap();
        assert!(bare.results.is_none());
        assert!(matches!(
            bare.into_results(200),
            Err(SourceError::Upstream { .. })
        ));
    }

    #[test]
    fn wrong_shapes_are_upstream_errors() {
        for body in [
            json!([1, 2]),
            json!({"Results": []}),
            json!({"D": []}),
            json!({"D": {"Success": true, "Results": {"Id": "1"}}}),
        ] {
            assert!(
                matches!(
                    read_answer(&response(200, body.clone())),
                    Err(SourceError::Upstream { .. })
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn codes_are_classified() {
        assert!(matches!(
            failure(401, 1000, "Invalid API key"),
            SourceError::Unauthenticated {
                upstream_status: 401,
                ..
            }
        ));
        assert!(matches!(
            failure(401, 1020, "expired"),
            SourceError::Unauthenticated { .. }
        ));
        assert!(matches!(
            failure(403, 1500, "not available"),
            SourceError::Unauthenticated {
                upstream_status: 403,
                ..
            }
        ));
        match failure(400, 1016, "The X-SparkApi-User-Agent header is required.") {
            SourceError::Upstream { message, .. } => {
                assert!(
                    message.contains("X-SparkApi-User-Agent header"),
                    "{message}"
                )
            }
            other => panic!("{other:?}"),
        }
        match failure(
            400,
            1053,
            "Attribute 'DisplayName' must be at most 75 characters.",
        ) {
            SourceError::BadInput { field, .. } => {
                assert_eq!(field.as_deref(), Some("displayName"))
            }
            other => panic!("{other:?}"),
        }
        match failure(400, 1050, "Missing required parameter: PrimaryEmail.") {
            SourceError::BadInput { field, .. } => assert_eq!(field.as_deref(), Some("email")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            failure(400, 1040, "Invalid _filter: bad at position 3"),
            SourceError::BadInput { field: None, .. }
        ));
        assert!(matches!(
            failure(409, 1055, "duplicate"),
            SourceError::Conflict { .. }
        ));
        assert!(matches!(
            failure(503, 1550, "Over rate limit"),
            SourceError::Unavailable {
                retry_after: Some(7),
                ..
            }
        ));
        assert!(matches!(
            failure(404, 404, "Contact not found."),
            SourceError::NotFound { .. }
        ));
        assert!(matches!(
            failure(405, 405, "Method Not Allowed"),
            SourceError::Upstream { .. }
        ));
        assert!(matches!(
            failure(503, 503, "Service unavailable"),
            SourceError::Unavailable { .. }
        ));
        assert!(matches!(
            failure(500, 500, "Internal server error"),
            SourceError::Upstream { .. }
        ));
        // A failure envelope with status 200 is still a failure.
        assert!(matches!(
            failure(200, 1053, "Attribute 'Tags' must be a list"),
            SourceError::BadInput { .. }
        ));
    }

    #[test]
    fn a_non_json_failure_is_classified_by_status() {
        let html = UpstreamResponse {
            cache_control: None,
            status: 502,
            retry_after: None,
            content_type: Some("text/html".into()),
            body: Bytes::from_static(b"<html>Bad Gateway</html>"),
        };
        assert!(matches!(
            read_answer(&html),
            Err(SourceError::Unavailable { .. })
        ));
    }

    #[test]
    fn fields_are_found_as_whole_words() {
        assert_eq!(
            field_named_in("Each value of 'Tags' must be at most 75 characters.").as_deref(),
            Some("tags")
        );
        assert_eq!(
            field_named_in("Attribute 'HomeLocality' must be a string.").as_deref(),
            Some("address.city")
        );
        assert_eq!(field_named_in("UniquePrimaryEmail is read-only"), None);
        assert_eq!(field_named_in("_limit must be an integer"), None);
    }
}
