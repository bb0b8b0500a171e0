//! Reading requests by hand: query strings, paging, path ids and JSON bodies.
//!
//! Axum's own extractors answer malformed input with plain-text rejections,
//! which the real service never sends, so every input is taken raw and checked
//! here, and every problem becomes an [`ApiError`] in the source's envelope.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::Path;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde_json::{Map, Number, Value};

use super::error::{ApiError, ProblemMap};

/// How many records a list answers when `limit` is absent.
pub(super) const DEFAULT_LIMIT: usize = 50;
/// The largest page; larger `limit` values are clamped to it.
pub(super) const MAX_LIMIT: usize = 100;
/// The longest text the emulator stores in a short text field.
pub(super) const MAX_TEXT_LENGTH: usize = 255;
/// The longest `notes` text on a property link.
pub(super) const MAX_NOTES_LENGTH: usize = 10_000;

/// A decoded query string (`+` is a space, percent escapes are decoded).
pub(super) struct QueryParameters {
    pairs: Vec<(String, String)>,
}

impl QueryParameters {
    pub(super) fn parse(raw: &str) -> Self {
        let pairs = raw
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode_component(key), decode_component(value))
            })
            .collect();
        Self { pairs }
    }

    /// The value of `key`; when it is repeated the last one wins, as in the
    /// real service's framework.
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }

    /// The value of `key` unless it is absent or empty: `limit=` means "no limit given".
    pub(super) fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|value| !value.is_empty())
    }
}

fn decode_component(component: &str) -> String {
    let spaced = component.replace('+', " ");
    String::from_utf8_lossy(&urlencoding::decode_binary(spaced.as_bytes())).into_owned()
}

/// Which slice of a list to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Page {
    pub(super) limit: usize,
    pub(super) offset: usize,
}

impl Page {
    /// Reads `limit` and `offset` (see the module docs for the rules).
    pub(super) fn from_query(query: &QueryParameters) -> Result<Page, ApiError> {
        let limit = match query.non_empty("limit") {
            None => DEFAULT_LIMIT,
            Some(raw) => match raw.parse::<u64>() {
                Ok(0) => {
                    return Err(ApiError::bad_request(
                        "limit",
                        "Ensure this value is greater than or equal to 1.",
                    ))
                }
                Ok(limit) => usize::try_from(limit).unwrap_or(MAX_LIMIT).min(MAX_LIMIT),
                // A number too large for u64 is still a number: clamp it.
                Err(_) if is_all_digits(raw) => MAX_LIMIT,
                Err(_) => {
                    return Err(ApiError::bad_request(
                        "limit",
                        "A valid positive integer is required.",
                    ))
                }
            },
        };
        let offset = match query.non_empty("offset") {
            None => 0,
            Some(raw) => match raw.parse::<u64>() {
                Ok(offset) => usize::try_from(offset).unwrap_or(usize::MAX),
                Err(_) if is_all_digits(raw) => usize::MAX,
                Err(_) => {
                    return Err(ApiError::bad_request(
                        "offset",
                        "A valid non-negative integer is required.",
                    ))
                }
            },
        };
        Ok(Page { limit, offset })
    }

    /// The page's part of `items`.
    pub(super) fn apply<T>(self, items: impl IntoIterator<Item = T>) -> Vec<T> {
        items
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect()
    }
}

fn is_all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())
}

/// Parses an id from a path: a positive integer, or the source's 404.
pub(super) fn parse_id(raw: &str) -> Result<u64, ApiError> {
    if !is_all_digits(raw) {
        return Err(ApiError::NotFound);
    }
    match raw.parse::<u64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(ApiError::NotFound),
    }
}

/// The one id of a `/{id}` route.
pub(super) fn path_id(path: Result<Path<String>, PathRejection>) -> Result<u64, ApiError> {
    let Path(raw) = path.map_err(|_| ApiError::NotFound)?;
    parse_id(&raw)
}

/// The two ids of a `/{id}/contacts/{contact_id}` route.
pub(super) fn path_ids(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(u64, u64), ApiError> {
    let Path((first, second)) = path.map_err(|_| ApiError::NotFound)?;
    Ok((parse_id(&first)?, parse_id(&second)?))
}

/// The body as a JSON object, or the envelope the real service answers.
pub(super) fn json_object(
    body: Result<Bytes, BytesRejection>,
) -> Result<Map<String, Value>, ApiError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::bad_request("body", "The request body could not be read.")
        }
    })?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ApiError::bad_request(
            "body",
            "The request body must be a JSON object.",
        )),
        Err(_) => Err(ApiError::bad_request(
            "body",
            "The request body is not valid JSON.",
        )),
    }
}

/// Reads typed fields out of a body object, collecting every problem so that
/// one answer reports them all.
pub(super) struct FieldReader<'a> {
    object: &'a Map<String, Value>,
    problems: ProblemMap,
}

/// A field that may be absent (leave as is), `null` (clear) or set.
pub(super) type Patch<T> = Option<Option<T>>;

impl<'a> FieldReader<'a> {
    pub(super) fn new(object: &'a Map<String, Value>) -> Self {
        Self {
            object,
            problems: ProblemMap::new(),
        }
    }

    /// Records a problem with `field`.
    pub(super) fn problem(&mut self, field: &str, message: impl Into<String>) {
        self.problems
            .entry(field.to_string())
            .or_default()
            .push(message.into());
    }

    /// Whether a problem with `field` has been recorded already.
    pub(super) fn has_problem(&self, field: &str) -> bool {
        self.problems.contains_key(field)
    }

    /// Whether the body has the key at all.
    pub(super) fn has(&self, field: &str) -> bool {
        self.object.contains_key(field)
    }

    /// A text field: a string of at most `max_length` characters, or `null`.
    pub(super) fn text(&mut self, field: &str, max_length: usize) -> Patch<String> {
        match self.object.get(field)? {
            Value::Null => Some(None),
            Value::String(text) if text.chars().count() <= max_length => Some(Some(text.clone())),
            Value::String(_) => {
                self.problem(
                    field,
                    format!("Ensure this field has no more than {max_length} characters."),
                );
                None
            }
            _ => {
                self.problem(field, "Must be a string.");
                None
            }
        }
    }

    /// A boolean field; `null` is not a boolean.
    pub(super) fn boolean(&mut self, field: &str) -> Option<bool> {
        match self.object.get(field)? {
            Value::Bool(flag) => Some(*flag),
            _ => {
                self.problem(field, "Must be a boolean.");
                None
            }
        }
    }

    /// A `YYYY-MM-DD` date, or `null`.
    pub(super) fn date(&mut self, field: &str) -> Patch<NaiveDate> {
        match self.object.get(field)? {
            Value::Null => Some(None),
            Value::String(text) => match parse_date(text) {
                Some(date) => Some(Some(date)),
                None => {
                    self.problem(field, "Must be a valid date in YYYY-MM-DD format.");
                    None
                }
            },
            _ => {
                self.problem(field, "Must be a valid date in YYYY-MM-DD format.");
                None
            }
        }
    }

    /// A positive JSON integer; `None` when absent or wrong (wrong is recorded).
    pub(super) fn positive_integer(&mut self, field: &str) -> Option<u64> {
        let value = self.object.get(field)?;
        match value.as_u64() {
            Some(number) if number > 0 => Some(number),
            _ => {
                self.problem(field, "Must be a positive integer.");
                None
            }
        }
    }

    /// A non-negative JSON number, or `null`.
    pub(super) fn non_negative_number(&mut self, field: &str) -> Patch<Number> {
        match self.object.get(field)? {
            Value::Null => Some(None),
            Value::Number(number) if number.as_f64().is_some_and(|value| value >= 0.0) => {
                Some(Some(number.clone()))
            }
            _ => {
                self.problem(field, "Must be a non-negative number.");
                None
            }
        }
    }

    /// `Ok` when no problem was recorded, else the `field_errors` answer.
    pub(super) fn finish(self) -> Result<(), ApiError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ApiError::InvalidFields(self.problems))
        }
    }
}

/// Strictly `YYYY-MM-DD` (chrono alone would accept `2024-1-5`).
fn parse_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(position, byte)| position == 4 || position == 7 || byte.is_ascii_digit());
    if !shaped {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_decode_and_last_value_wins() {
        let query = QueryParameters::parse("search=john+doe&x=%2B1%20555&limit=5&limit=7&flag");
        assert_eq!(query.get("search"), Some("john doe"));
        assert_eq!(query.get("x"), Some("+1 555"));
        assert_eq!(query.get("limit"), Some("7"));
        assert_eq!(query.get("flag"), Some(""));
        assert_eq!(query.non_empty("flag"), None);
        assert_eq!(query.get("missing"), None);
    }

    #[test]
    fn paging_defaults_clamps_and_rejects() {
        let page = |raw: &str| Page::from_query(&QueryParameters::parse(raw));
        assert_eq!(
            page("").unwrap(),
            Page {
                limit: 50,
                offset: 0
            }
        );
        assert_eq!(page("limit=500&offset=10").unwrap().limit, 100);
        assert_eq!(page("limit=99999999999999999999999").unwrap().limit, 100);
        assert_eq!(page("limit=&offset=").unwrap().limit, 50);
        for bad in [
            "limit=0",
            "limit=-1",
            "limit=abc",
            "limit=1.5",
            "offset=-3",
            "offset=x",
        ] {
            assert!(page(bad).is_err(), "{bad}");
        }
        assert_eq!(
            page("offset=99999999999999999999999").unwrap().offset,
            usize::MAX
        );
    }

    #[test]
    fn ids_are_positive_integers_only() {
        assert_eq!(parse_id("17").unwrap(), 17);
        assert_eq!(parse_id("007").unwrap(), 7);
        for bad in [
            "0",
            "-1",
            "+1",
            "abc",
            "1.5",
            "",
            " 1",
            "99999999999999999999999",
        ] {
            assert!(parse_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_must_be_strictly_shaped() {
        assert!(parse_date("2024-01-15").is_some());
        for bad in [
            "2024-1-15",
            "2024-02-30",
            "15/01/2024",
            "2024-01-15T00:00:00",
            "+024-01-15",
        ] {
            assert!(parse_date(bad).is_none(), "{bad}");
        }
    }
}
