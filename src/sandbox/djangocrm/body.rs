//! Request bodies as Django REST framework's parsers read them.
//!
//! Django-CRM accepts JSON, `multipart/form-data` (the only way to upload an
//! attachment) and URL-encoded forms. This module turns any of them into one
//! [`ParsedBody`], or into the framework's own failure: 415 for a media type
//! it has no parser for, 400 `{"detail": "JSON parse error - ..."}` or
//! `{"detail": "Multipart form parse error - ..."}` for a body it cannot read.
//! An empty body is empty data whatever its media type, as in the framework.

use axum::http::{header, HeaderMap, StatusCode};
use serde_json::{Map, Value};

/// One uploaded file of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct UploadedFile {
    pub field_name: String,
    pub file_name: String,
    pub size: usize,
}

/// The fields of a request body, whatever its media type.
#[derive(Debug, Clone, Default)]
pub(super) struct ParsedBody {
    /// For JSON, the object's members. For forms, each field's text, or an
    /// array of texts when the field was repeated.
    pub fields: Map<String, Value>,
    /// True for multipart and URL-encoded bodies, whose values are all text.
    pub from_form: bool,
    pub files: Vec<UploadedFile>,
    /// For a JSON body that is not an object: the Python name of its type
    /// (`list`, `str`, ...), which the serializer's error message names.
    pub non_object_type: Option<&'static str>,
}

/// Why a body could not be read: the status and the `detail` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BodyError {
    pub status: StatusCode,
    pub detail: String,
}

/// Parses a body according to its `Content-Type`.
pub(super) fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<ParsedBody, BodyError> {
    if body.is_empty() {
        return Ok(ParsedBody::default());
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default();
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "application/json" => parse_json(body),
        "multipart/form-data" => parse_multipart(&content_type, body),
        "application/x-www-form-urlencoded" => Ok(parse_urlencoded(body)),
        _ => Err(BodyError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            detail: format!("Unsupported media type \"{content_type}\" in request."),
        }),
    }
}

fn parse_json(body: &[u8]) -> Result<ParsedBody, BodyError> {
    let value: Value = serde_json::from_slice(body).map_err(|error| BodyError {
        status: StatusCode::BAD_REQUEST,
        detail: format!("JSON parse error - {error}"),
    })?;
    let non_object_type = match &value {
        Value::Object(_) => None,
        Value::Array(_) => Some("list"),
        Value::String(_) => Some("str"),
        Value::Number(number) if number.is_f64() => Some("float"),
        Value::Number(_) => Some("int"),
        Value::Bool(_) => Some("bool"),
        Value::Null => Some("NoneType"),
    };
    Ok(ParsedBody {
        fields: match value {
            Value::Object(fields) => fields,
            _ => Map::new(),
        },
        from_form: false,
        files: Vec::new(),
        non_object_type,
    })
}

/// Adds one form value, turning a repeated field into an array of texts.
fn push_form_value(fields: &mut Map<String, Value>, name: String, value: String) {
    match fields.get_mut(&name) {
        None => {
            fields.insert(name, Value::String(value));
        }
        Some(Value::Array(values)) => values.push(Value::String(value)),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, Value::String(value)]);
        }
    }
}

fn parse_urlencoded(body: &[u8]) -> ParsedBody {
    let mut fields = Map::new();
    for pair in body.split(|byte| *byte == b'&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = match pair.iter().position(|byte| *byte == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &b""[..]),
        };
        push_form_value(&mut fields, form_decode(name), form_decode(value));
    }
    ParsedBody {
        fields,
        from_form: true,
        ..ParsedBody::default()
    }
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space).
pub(super) fn form_decode(raw: &[u8]) -> String {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|byte| if *byte == b'+' { b' ' } else { *byte })
        .collect();
    String::from_utf8_lossy(&urlencoding::decode_binary(&spaced)).into_owned()
}

fn multipart_error(reason: &str) -> BodyError {
    BodyError {
        status: StatusCode::BAD_REQUEST,
        detail: format!("Multipart form parse error - {reason}"),
    }
}

/// The value of one `name=value` parameter of a header such as
/// `Content-Type` or `Content-Disposition`, unquoted.
fn header_parameter(header_value: &str, wanted: &str) -> Option<String> {
    header_value.split(';').skip(1).find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case(wanted) {
            return None;
        }
        let value = value.trim();
        let unquoted = value
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap_or(value);
        Some(unquoted.replace("\\\"", "\""))
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn parse_multipart(content_type: &str, body: &[u8]) -> Result<ParsedBody, BodyError> {
    let boundary = header_parameter(content_type, "boundary")
        .filter(|boundary| !boundary.is_empty() && boundary.len() <= 200)
        .ok_or_else(|| multipart_error("Invalid boundary in multipart: None"))?;
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parsed = ParsedBody {
        from_form: true,
        ..ParsedBody::default()
    };
    let start = find(body, &delimiter)
        .ok_or_else(|| multipart_error("Invalid boundary in multipart: None"))?;
    let mut rest = &body[start + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            return Ok(parsed);
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .or_else(|| rest.strip_prefix(b"\n"))
            .ok_or_else(|| multipart_error("Malformed part boundary."))?;
        let (headers_end, separator_length) = match find(rest, b"\r\n\r\n") {
            Some(at) => (at, 4),
            None => (
                find(rest, b"\n\n").ok_or_else(|| multipart_error("Unexpected end of part."))?,
                2,
            ),
        };
        let part_headers = String::from_utf8_lossy(&rest[..headers_end]).into_owned();
        let content_start = headers_end + separator_length;
        let mut closing = b"\r\n".to_vec();
        closing.extend_from_slice(&delimiter);
        let content_length = find(&rest[content_start..], &closing)
            .ok_or_else(|| multipart_error("Unexpected end of body."))?;
        let content = &rest[content_start..content_start + content_length];
        rest = &rest[content_start + content_length + closing.len()..];

        let disposition = part_headers
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case("content-disposition")
                    .then(|| value.trim().to_string())
            })
            .ok_or_else(|| multipart_error("Part without Content-Disposition."))?;
        let Some(field_name) = header_parameter(&disposition, "name") else {
            // Django skips parts that have no field name.
            continue;
        };
        match header_parameter(&disposition, "filename") {
            // Django ignores file inputs that were left empty in the form.
            Some(file_name) if file_name.is_empty() => {}
            Some(file_name) => parsed.files.push(UploadedFile {
                field_name,
                file_name: base_name(&file_name),
                size: content.len(),
            }),
            None => push_form_value(
                &mut parsed.fields,
                field_name,
                String::from_utf8_lossy(content).into_owned(),
            ),
        }
    }
}

/// The last path component of an uploaded file's name, as Django keeps it.
fn base_name(file_name: &str) -> String {
    file_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(file_name)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        headers
    }

    #[test]
    fn multipart_reads_fields_and_files() {
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"comment\"\r\n\r\nHello\r\nthere\r\n--XyZ\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"C:\\\\docs\\\\deed.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\x00\x01\r\n--XyZ--\r\n";
        let parsed = parse_body(&headers("multipart/form-data; boundary=XyZ"), body).unwrap();
        assert_eq!(parsed.fields["comment"], "Hello\r\nthere");
        assert_eq!(
            parsed.files,
            vec![UploadedFile {
                field_name: "attachment".into(),
                file_name: "deed.pdf".into(),
                size: 10,
            }]
        );
    }

    #[test]
    fn multipart_without_boundary_or_end_is_an_error() {
        let missing = parse_body(&headers("multipart/form-data"), b"x").unwrap_err();
        assert_eq!(
            missing.detail,
            "Multipart form parse error - Invalid boundary in multipart: None"
        );
        let cut = parse_body(
            &headers("multipart/form-data; boundary=\"b\""),
            b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue",
        )
        .unwrap_err();
        assert_eq!(cut.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn urlencoded_repeats_become_arrays() {
        let parsed = parse_body(
            &headers("application/x-www-form-urlencoded"),
            b"first_name=Ann+Marie&teams=a&teams=b&city=S%C3%A3o",
        )
        .unwrap();
        assert_eq!(parsed.fields["first_name"], "Ann Marie");
        assert_eq!(parsed.fields["teams"], serde_json::json!(["a", "b"]));
        assert_eq!(parsed.fields["city"], "São");
    }

    #[test]
    fn json_types_and_unsupported_media() {
        let list = parse_body(&headers("application/json"), b"[1]").unwrap();
        assert_eq!(list.non_object_type, Some("list"));
        let bad = parse_body(&headers("application/json"), b"{").unwrap_err();
        assert!(bad.detail.starts_with("JSON parse error - "));
        let text = parse_body(&headers("text/plain"), b"hi").unwrap_err();
        assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(
            text.detail,
            "Unsupported media type \"text/plain\" in request."
        );
        assert!(parse_body(&HeaderMap::new(), b"")
            .unwrap()
            .fields
            .is_empty());
    }
}
