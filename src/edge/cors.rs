//! Cross-origin resource sharing from `[cors]`, with tower-http's
//! `CorsLayer`: no origin is allowed unless listed (or, for development,
//! unless it is a loopback origin and `allow_loopback_origins` is set).
//! The CSRF headers and the dry-run header are always allowed in a
//! preflight, so an allowed front end can send them.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::CorsSettings;

/// The CORS layer for `settings`; `extra_headers` are allowed in every preflight.
pub fn cors_layer(settings: &CorsSettings, extra_headers: &[HeaderName]) -> CorsLayer {
    let listed: Vec<HeaderValue> = settings
        .allow_origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin.trim_end_matches('/')).ok())
        .collect();
    let any_listed = settings.allow_origins.iter().any(|origin| origin == "*");
    let loopback = settings.allow_loopback_origins;
    let allow_origin = if any_listed {
        AllowOrigin::any()
    } else {
        AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            listed.contains(origin) || (loopback && is_loopback_origin(origin))
        })
    };
    let methods: Vec<Method> = settings
        .allow_methods
        .iter()
        .filter_map(|method| Method::from_bytes(method.to_ascii_uppercase().as_bytes()).ok())
        .collect();
    let mut headers: Vec<HeaderName> = settings
        .allow_headers
        .iter()
        .filter_map(|name| HeaderName::try_from(name.as_str()).ok())
        .collect();
    headers.extend(extra_headers.iter().cloned());
    headers.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    headers.dedup();
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods(methods)
        .allow_headers(headers)
        .allow_credentials(settings.allow_credentials)
        .max_age(Duration::from_secs(settings.max_age_secs))
}

/// `http://localhost:PORT`, `http://127.0.0.1:PORT` or `http://[::1]:PORT`
/// (any port, or none).
fn is_loopback_origin(origin: &HeaderValue) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let Some(host_and_port) = origin.strip_prefix("http://") else {
        return false;
    };
    let host = match host_and_port.strip_prefix("[::1]") {
        Some(rest) => return rest.is_empty() || is_port_suffix(rest),
        None => host_and_port,
    };
    let (name, rest) = match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    matches!(name, "localhost" | "127.0.0.1")
        && rest.is_none_or(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
}

fn is_port_suffix(rest: &str) -> bool {
    rest.strip_prefix(':')
        .is_some_and(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_origins_are_recognised_exactly() {
        for origin in [
            "http://localhost:5173",
            "http://127.0.0.1:3000",
            "http://[::1]:8080",
            "http://localhost",
        ] {
            assert!(
                is_loopback_origin(&HeaderValue::from_static(origin)),
                "{origin}"
            );
        }
        for origin in [
            "http://localhost.evil.example",
            "https://localhost:5173",
            "http://127.0.0.1.nip.io",
            "http://localhost:51x",
            "null",
        ] {
            assert!(
                !is_loopback_origin(&HeaderValue::from_static(origin)),
                "{origin}"
            );
        }
    }
}
