//! What the gateway tells its operator: Prometheus metrics ([`metrics`]),
//! log events and spans through `tracing` (set up by [`init`]), and, when
//! `[telemetry] otlp_endpoint` is set, those spans exported over OTLP
//! ([`otel`]).
//!
//! Nothing here reads a credential: the upstream layer hands over the source,
//! the method, the route template and the outcome of each exchange, never
//! its URL or headers.

pub mod metrics;
pub mod otel;

use std::io::IsTerminal;
use std::time::Duration;

use reqwest::Method;

use serde::Deserialize;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::domain::SourceKind;
use crate::upstream::{UpstreamError, UpstreamResponse};

/// `[telemetry]`: where traces go.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// The base URL of an OTLP/HTTP collector (`http://127.0.0.1:4318`);
    /// spans are posted to `{otlp_endpoint}/v1/traces` as protobuf. No
    /// export when unset.
    #[serde(default)]
    pub otlp_endpoint: Option<String>,
    /// The `service.name` of the exported spans.
    #[serde(default = "default_service_name")]
    pub service_name: String,
}

fn default_service_name() -> String {
    "contact-gateway".to_string()
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        TelemetrySettings {
            otlp_endpoint: None,
            service_name: default_service_name(),
        }
    }
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event; colours only on a terminal.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Errors setting telemetry up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built.
    #[error("the OTLP exporter to {endpoint} could not be built: {message}")]
    Exporter { endpoint: String, message: String },
    /// A global subscriber was already installed.
    #[error("logging was already set up")]
    AlreadySet,
}

/// Keeps the trace exporter alive; dropping it sends what is buffered.
#[must_use = "spans are exported only while the guard lives"]
pub struct TelemetryGuard {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            // A collector that has gone away cannot be helped at exit.
            let _ = provider.shutdown();
        }
    }
}

/// Installs the process's `tracing` subscriber: `RUST_LOG` (default `info`)
/// filters, events go to stderr as text (colours only when stderr is a
/// terminal) or JSON, and spans go to the OTLP collector when one is
/// configured. Call once, from inside the Tokio runtime.
pub fn init(
    format: LogFormat,
    settings: &TelemetrySettings,
) -> Result<TelemetryGuard, TelemetryError> {
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(filter())
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .with_filter(filter())
            .boxed(),
    };
    let (traces, provider) = match &settings.otlp_endpoint {
        Some(endpoint) => {
            let provider = otel::provider(endpoint, &settings.service_name)?;
            // The gateway's spans are at debug level, so that without an
            // exporter they cost nothing; the exporter takes them all.
            let layer = otel::layer(&provider).with_filter(
                tracing_subscriber::filter::Targets::new()
                    .with_target("contact_gateway", tracing::Level::DEBUG)
                    .with_default(tracing::Level::INFO),
            );
            (Some(layer), Some(provider))
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .try_init()
        .map_err(|_| TelemetryError::AlreadySet)?;
    Ok(TelemetryGuard { provider })
}

/// Ends an upstream exchange's span and, when it failed (a transport
/// failure, 5xx, 429, 401 or 403), logs a warning with the source, method,
/// route template, status and duration: never the URL, whose query string
/// may hold a key. Runs inside the exchange's span.
pub fn exchange_ended(
    source: SourceKind,
    method: &Method,
    route: &'static str,
    result: &Result<UpstreamResponse, UpstreamError>,
    elapsed: Duration,
) {
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    let method = metrics::method_label(method);
    let status_class = metrics::status_class(result);
    match result {
        Ok(response) => {
            tracing::Span::current().record("http.response.status_code", response.status);
            if matches!(response.status, 401 | 403 | 429 | 500..) {
                tracing::warn!(
                    source = source.as_str(),
                    method,
                    route,
                    status = response.status,
                    status_class,
                    duration_ms,
                    "upstream exchange failed"
                );
            }
        }
        Err(error) => tracing::warn!(
            source = source.as_str(),
            method,
            route,
            status_class,
            duration_ms,
            error = %error,
            "upstream exchange failed"
        ),
    }
}

/// `url` without user information, query or fragment, for a log line.
pub fn display_url(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or_default();
    match without_query.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.find('/') {
                Some(slash) => rest.split_at(slash),
                None => (rest, ""),
            };
            let host = authority.rsplit('@').next().unwrap_or_default();
            format!("{scheme}://{host}{path}")
        }
        None => without_query.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_displayed_url_has_no_user_information_or_query() {
        assert_eq!(
            display_url("https://user:pw@api.example.com/v1?api_token=x#f"),
            "https://api.example.com/v1"
        );
        assert_eq!(
            display_url("http://127.0.0.1:9/winnerr/v1"),
            "http://127.0.0.1:9/winnerr/v1"
        );
    }
}
