//! Cross-site request forgery prevention, as Apollo Router does it.
//!
//! A browser sends some requests cross-site without asking the server first
//! (a CORS preflight): a GET, or a POST whose content type is
//! `application/x-www-form-urlencoded`, `multipart/form-data` or
//! `text/plain`. Cookies and network position come with them, so a page on
//! any site could make the gateway act for a user whose browser can reach
//! it. A request is let through only if a browser would have preflighted
//! it: it has a content type other than those three, or it carries one of
//! the configured headers (`x-graphql-csrf` and Apollo's names by default),
//! which a cross-site page cannot add without a preflight that CORS then
//! refuses. JSON clients and same-origin GraphiQL (which posts JSON) are
//! unaffected.

use axum::http::{header, HeaderMap, HeaderName};

use super::error::EdgeError;
use crate::config::CsrfSettings;

/// The CSRF check, built once from `[csrf]`.
#[derive(Debug, Clone)]
pub struct CsrfPrevention {
    enabled: bool,
    required_headers: Vec<HeaderName>,
}

/// The content types a browser sends cross-site without a preflight.
const SIMPLE_CONTENT_TYPES: [&str; 3] = [
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
];

impl CsrfPrevention {
    /// Reads `[csrf]`; a header name that is not a valid HTTP header name is
    /// left out (it could never be sent).
    pub fn new(settings: &CsrfSettings) -> Self {
        Self {
            enabled: settings.enabled,
            required_headers: settings
                .required_headers
                .iter()
                .filter_map(|name| HeaderName::try_from(name.as_str()).ok())
                .collect(),
        }
    }

    /// The headers that mark a request as not cross-site.
    pub fn required_headers(&self) -> &[HeaderName] {
        &self.required_headers
    }

    /// Refuses a request that a browser could have sent cross-site without
    /// a preflight.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), EdgeError> {
        if !self.enabled || would_have_been_preflighted(headers, &self.required_headers) {
            return Ok(());
        }
        Err(EdgeError::CsrfPrevention {
            headers: self
                .required_headers
                .iter()
                .map(HeaderName::as_str)
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

fn would_have_been_preflighted(headers: &HeaderMap, required_headers: &[HeaderName]) -> bool {
    if required_headers
        .iter()
        .any(|name| headers.contains_key(name))
    {
        return true;
    }
    headers.get_all(header::CONTENT_TYPE).iter().any(|value| {
        // A browser preflights any content type that is not one of the
        // three simple ones, unreadable ones included.
        let Ok(value) = value.to_str() else {
            return true;
        };
        let essence = value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        !SIMPLE_CONTENT_TYPES.contains(&essence.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::try_from(*name).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn only_requests_a_browser_would_preflight_pass() {
        let csrf = CsrfPrevention::new(&CsrfSettings::default());
        for pass in [
            headers(&[("content-type", "application/json")]),
            headers(&[("content-type", "application/json; charset=utf-8")]),
            headers(&[("x-graphql-csrf", "1")]),
            headers(&[
                ("content-type", "text/plain"),
                ("apollo-require-preflight", "true"),
            ]),
        ] {
            assert!(csrf.check(&pass).is_ok(), "{pass:?}");
        }
        for refuse in [
            headers(&[]),
            headers(&[("content-type", "text/plain")]),
            headers(&[("content-type", "Text/Plain; charset=utf-8")]),
            headers(&[("content-type", "application/x-www-form-urlencoded")]),
            headers(&[("content-type", "multipart/form-data; boundary=x")]),
        ] {
            assert!(
                matches!(csrf.check(&refuse), Err(EdgeError::CsrfPrevention { .. })),
                "{refuse:?}"
            );
        }
        let off = CsrfPrevention::new(&CsrfSettings {
            enabled: false,
            ..CsrfSettings::default()
        });
        assert!(off.check(&headers(&[])).is_ok());
    }
}
