//! Content negotiation: which media type the answer is written in.
//!
//! GraphQL over HTTP defines two: `application/graphql-response+json`, whose
//! status codes tell a request error (400, no `data`) from an executed
//! operation, and the older `application/json`, answered 200 whenever a
//! GraphQL answer is written. A client that names neither but accepts
//! anything (`*/*`, `application/*`), or sends no `Accept` at all, gets
//! `application/json`, as the specification asks for legacy clients.

use axum::http::{header, HeaderMap, HeaderValue};

use super::error::EdgeError;

/// The media type of a GraphQL answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMediaType {
    /// `application/graphql-response+json`.
    GraphqlResponseJson,
    /// `application/json`.
    Json,
}

impl ResponseMediaType {
    /// The `Content-Type` header value.
    pub fn header_value(self) -> HeaderValue {
        match self {
            ResponseMediaType::GraphqlResponseJson => {
                HeaderValue::from_static("application/graphql-response+json; charset=utf-8")
            }
            ResponseMediaType::Json => HeaderValue::from_static("application/json; charset=utf-8"),
        }
    }
}

/// Picks the media type from the `Accept` header: the acceptable one with
/// the highest quality, the first listed on a tie.
pub fn negotiate(headers: &HeaderMap) -> Result<ResponseMediaType, EdgeError> {
    let mut values = headers.get_all(header::ACCEPT).iter().peekable();
    if values.peek().is_none() {
        return Ok(ResponseMediaType::Json);
    }
    let mut best: Option<(f32, ResponseMediaType)> = None;
    for value in values {
        // An Accept header that is not visible ASCII names nothing we write.
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',') {
            let mut parts = range.split(';');
            let media_range = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = parts
                .filter_map(|parameter| {
                    let (name, value) = parameter.split_once('=')?;
                    (name.trim().eq_ignore_ascii_case("q")).then(|| value.trim().parse().ok())?
                })
                .next()
                .unwrap_or(1.0_f32);
            let candidate = match media_range.as_str() {
                "application/graphql-response+json" => ResponseMediaType::GraphqlResponseJson,
                "application/json" | "application/*" | "*/*" => ResponseMediaType::Json,
                _ => continue,
            };
            if quality > 0.0 && best.is_none_or(|(best_quality, _)| quality > best_quality) {
                best = Some((quality, candidate));
            }
        }
    }
    best.map(|(_, media_type)| media_type)
        .ok_or(EdgeError::NotAcceptable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: Option<&str>) -> Result<ResponseMediaType, EdgeError> {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        }
        negotiate(&headers)
    }

    #[test]
    fn picks_the_media_type_the_client_prefers() {
        use ResponseMediaType::*;
        for (value, expected) in [
            (None, Json),
            (Some("*/*"), Json),
            (Some("application/json"), Json),
            (
                Some("application/graphql-response+json"),
                GraphqlResponseJson,
            ),
            (
                Some("application/graphql-response+json, application/json;q=0.9"),
                GraphqlResponseJson,
            ),
            (
                Some("application/json, application/graphql-response+json"),
                Json,
            ),
            (
                Some("application/json;q=0.5, application/graphql-response+json"),
                GraphqlResponseJson,
            ),
            (Some("text/html, */*;q=0.8"), Json),
        ] {
            assert_eq!(accept(value).unwrap(), expected, "{value:?}");
        }
    }

    #[test]
    fn refuses_when_nothing_acceptable_is_named() {
        for value in ["text/html", "application/json;q=0", "image/png, text/plain"] {
            assert!(
                matches!(accept(Some(value)), Err(EdgeError::NotAcceptable)),
                "{value}"
            );
        }
    }
}
