//! Prometheus metrics: what the gateway counts and how `/metrics` renders it.
//!
//! Each gateway owns its own recorder (never the process-wide one of the
//! `metrics` crate), so that several gateways in one process, as in the
//! tests and the benchmarks, keep separate numbers. Labels take values from
//! small, fixed sets only: source names, route templates (`/contacts/{id}`,
//! never a path with an identifier in it), status classes, error codes the
//! gateway defines, and at most [`MAX_OPERATION_NAMES`] operation names.
//! No label or value is ever built from a URL, a header or a credential.
//!
//! Counters kept elsewhere (the response cache's, the retries) are copied in
//! when `/metrics` is scraped, so the request path does no extra work for them.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use metrics::{Counter, Gauge, Key, KeyName, Label, Level, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use reqwest::Method;

use crate::domain::SourceKind;
use crate::upstream::{Upstream, UpstreamError, UpstreamResponse};

/// Operation names beyond this many distinct ones are counted as `other`,
/// so a client cannot grow the metrics without bound by inventing names.
pub const MAX_OPERATION_NAMES: usize = 256;

/// The bucket bounds of every duration histogram, in seconds.
const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Every series the gateway exports: name, kind, unit and help text.
const DESCRIPTIONS: &[(&str, Kind, Unit, &str)] = &[
    (
        "gateway_graphql_operations_total",
        Kind::Counter,
        Unit::Count,
        "GraphQL operations executed, by operation name and outcome (success, partial, error).",
    ),
    (
        "gateway_graphql_operation_duration_seconds",
        Kind::Histogram,
        Unit::Seconds,
        "Time to execute a GraphQL operation, by operation name and outcome.",
    ),
    (
        "gateway_graphql_errors_total",
        Kind::Counter,
        Unit::Count,
        "Errors in GraphQL answers, by extensions.code.",
    ),
    (
        "gateway_http_refusals_total",
        Kind::Counter,
        Unit::Count,
        "Requests refused at the HTTP edge before execution, by HTTP status.",
    ),
    (
        "gateway_upstream_requests_total",
        Kind::Counter,
        Unit::Count,
        "Upstream exchanges, by source, method, route template and status class.",
    ),
    (
        "gateway_upstream_request_duration_seconds",
        Kind::Histogram,
        Unit::Seconds,
        "Duration of an upstream exchange, body included, by source, route template and status class.",
    ),
    (
        "gateway_upstream_in_flight",
        Kind::Gauge,
        Unit::Count,
        "Upstream exchanges under way, per source.",
    ),
    (
        "gateway_upstream_permits_waiting",
        Kind::Gauge,
        Unit::Count,
        "Upstream requests waiting for one of the source's concurrency permits.",
    ),
    (
        "gateway_upstream_retries_total",
        Kind::Counter,
        Unit::Count,
        "Upstream reads sent again after a failure, per source.",
    ),
    (
        "gateway_cache_hits_total",
        Kind::Counter,
        Unit::Count,
        "Reads served by the response cache, per source.",
    ),
    (
        "gateway_cache_misses_total",
        Kind::Counter,
        Unit::Count,
        "Reads the response cache sent upstream, per source.",
    ),
    (
        "gateway_cache_coalesced_total",
        Kind::Counter,
        Unit::Count,
        "Reads that waited for an identical read already under way, per source.",
    ),
    (
        "gateway_cache_evictions_total",
        Kind::Counter,
        Unit::Count,
        "Entries the response cache dropped for its byte budget, per source.",
    ),
    (
        "gateway_cache_entries",
        Kind::Gauge,
        Unit::Count,
        "Entries in the response cache, per source.",
    ),
    (
        "gateway_cache_bytes",
        Kind::Gauge,
        Unit::Bytes,
        "Weighted bytes of the response cache's entries, per source.",
    ),
];

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// How a GraphQL operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No errors.
    Success,
    /// Data and errors.
    Partial,
    /// Errors and no data.
    Error,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Partial => "partial",
            Outcome::Error => "error",
        }
    }
}

/// One gateway's metrics.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    operation_names: Mutex<HashSet<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let builder = PrometheusBuilder::new();
        // `set_buckets` fails only on an empty list.
        let builder = match builder.set_buckets(DURATION_BUCKETS) {
            Ok(builder) => builder,
            Err(_) => PrometheusBuilder::new(),
        };
        let recorder = builder.build_recorder();
        for &(name, kind, unit, help) in DESCRIPTIONS {
            let name = KeyName::from_const_str(name);
            let help = SharedString::const_str(help);
            match kind {
                Kind::Counter => recorder.describe_counter(name, Some(unit), help),
                Kind::Gauge => recorder.describe_gauge(name, Some(unit), help),
                Kind::Histogram => recorder.describe_histogram(name, Some(unit), help),
            }
        }
        let handle = recorder.handle();
        Metrics {
            recorder,
            handle,
            operation_names: Mutex::new(HashSet::new()),
        }
    }

    fn counter(&self, name: &'static str, labels: Vec<Label>) -> Counter {
        self.recorder
            .register_counter(&Key::from_parts(name, labels), &METADATA)
    }

    fn gauge(&self, name: &'static str, labels: Vec<Label>) -> Gauge {
        self.recorder
            .register_gauge(&Key::from_parts(name, labels), &METADATA)
    }

    fn observe(&self, name: &'static str, labels: Vec<Label>, elapsed: Duration) {
        self.recorder
            .register_histogram(&Key::from_parts(name, labels), &METADATA)
            .record(elapsed.as_secs_f64());
    }

    /// Counts a GraphQL operation and its duration. `operation` is the
    /// client's `operationName`; a missing one is `anonymous`.
    pub fn graphql_operation(&self, operation: Option<&str>, outcome: Outcome, elapsed: Duration) {
        let operation = self.operation_label(operation);
        let labels = || {
            vec![
                Label::new("operation", operation.clone()),
                Label::from_static_parts("outcome", outcome.as_str()),
            ]
        };
        self.counter("gateway_graphql_operations_total", labels())
            .increment(1);
        self.observe(
            "gateway_graphql_operation_duration_seconds",
            labels(),
            elapsed,
        );
    }

    /// Counts an error of a GraphQL answer by its `extensions.code`.
    pub fn graphql_error(&self, code: &str) {
        // Codes are the gateway's own constants; anything else (an error
        // without a code) is counted under one value.
        let code = if is_code(code) { code } else { "OTHER" };
        self.counter(
            "gateway_graphql_errors_total",
            vec![Label::new("code", code.to_string())],
        )
        .increment(1);
    }

    /// Counts a request refused at the edge with `status`.
    pub fn refusal(&self, status: u16) {
        self.counter(
            "gateway_http_refusals_total",
            vec![Label::new("status", status.to_string())],
        )
        .increment(1);
    }

    /// The gauges of one source, for its endpoint to hold.
    pub fn source(&self, source: SourceKind) -> SourceGauges {
        let label = || vec![Label::from_static_parts("source", source.as_str())];
        SourceGauges {
            in_flight: self.gauge("gateway_upstream_in_flight", label()),
            waiting: self.gauge("gateway_upstream_permits_waiting", label()),
        }
    }

    /// Counts one upstream exchange and its duration.
    pub fn upstream_exchange(
        &self,
        source: SourceKind,
        method: &Method,
        route: &'static str,
        class: &'static str,
        elapsed: Duration,
    ) {
        let method = method_label(method);
        self.counter(
            "gateway_upstream_requests_total",
            vec![
                Label::from_static_parts("source", source.as_str()),
                Label::from_static_parts("method", method),
                Label::from_static_parts("route", route),
                Label::from_static_parts("status_class", class),
            ],
        )
        .increment(1);
        self.observe(
            "gateway_upstream_request_duration_seconds",
            vec![
                Label::from_static_parts("source", source.as_str()),
                Label::from_static_parts("route", route),
                Label::from_static_parts("status_class", class),
            ],
            elapsed,
        );
    }

    /// The text exposition of every series, with the cache's and the
    /// retries' counters of `sources` copied in first.
    pub fn render(&self, upstream: &Upstream, sources: &[SourceKind]) -> String {
        for &source in sources {
            let label = || vec![Label::from_static_parts("source", source.as_str())];
            let cache = upstream.cache().metrics(source);
            self.counter("gateway_cache_hits_total", label())
                .absolute(cache.hits);
            self.counter("gateway_cache_misses_total", label())
                .absolute(cache.misses);
            self.counter("gateway_cache_coalesced_total", label())
                .absolute(cache.coalesced_waits);
            self.counter("gateway_cache_evictions_total", label())
                .absolute(cache.evictions);
            self.gauge("gateway_cache_entries", label())
                .set(cache.entries as f64);
            self.gauge("gateway_cache_bytes", label())
                .set(cache.weighted_bytes as f64);
            self.counter("gateway_upstream_retries_total", label())
                .absolute(upstream.retry_count(source));
        }
        self.handle.render()
    }

    /// The label for a client's operation name: the name itself while fewer
    /// than [`MAX_OPERATION_NAMES`] have been seen, else `other`.
    fn operation_label(&self, operation: Option<&str>) -> String {
        let Some(name) = operation.filter(|name| !name.is_empty()) else {
            return "anonymous".to_string();
        };
        if !is_graphql_name(name) {
            return "other".to_string();
        }
        let mut seen = self
            .operation_names
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if seen.contains(name) {
            return name.to_string();
        }
        if seen.len() < MAX_OPERATION_NAMES {
            seen.insert(name.to_string());
            return name.to_string();
        }
        "other".to_string()
    }
}

/// The per-source gauges an endpoint moves around each exchange.
#[derive(Clone)]
pub struct SourceGauges {
    in_flight: Gauge,
    waiting: Gauge,
}

impl SourceGauges {
    /// Counts a request waiting for a permit until the guard is dropped.
    pub fn waiting(&self) -> GaugeGuard {
        GaugeGuard::raise(&self.waiting)
    }

    /// Counts an exchange under way until the guard is dropped.
    pub fn in_flight(&self) -> GaugeGuard {
        GaugeGuard::raise(&self.in_flight)
    }
}

/// Lowers its gauge when dropped, so an aborted exchange is uncounted too.
pub struct GaugeGuard(Gauge);

impl GaugeGuard {
    fn raise(gauge: &Gauge) -> Self {
        gauge.increment(1.0);
        GaugeGuard(gauge.clone())
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// The status class of an exchange's outcome: `2xx` to `5xx`, or the kind
/// of transport failure.
pub fn status_class(result: &Result<UpstreamResponse, UpstreamError>) -> &'static str {
    match result {
        Ok(response) => match response.status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        },
        Err(UpstreamError::Timeout { .. }) => "timeout",
        Err(UpstreamError::Connect { .. }) => "connect_error",
        Err(_) => "interrupted",
    }
}

/// The method as a label value.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        _ => "OTHER",
    }
}

/// A GraphQL name (`/[_A-Za-z][_0-9A-Za-z]*/`) of reasonable length.
fn is_graphql_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 128
        && chars
            .next()
            .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// An error code as the gateway writes them: upper case and underscores.
fn is_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c == '_' || c.is_ascii_uppercase() || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_beyond_the_limit_are_counted_as_other() {
        let metrics = Metrics::new();
        for n in 0..MAX_OPERATION_NAMES {
            assert_eq!(
                metrics.operation_label(Some(&format!("Op{n}"))),
                format!("Op{n}")
            );
        }
        assert_eq!(metrics.operation_label(Some("OneTooMany")), "other");
        assert_eq!(metrics.operation_label(Some("Op0")), "Op0");
        assert_eq!(metrics.operation_label(None), "anonymous");
        assert_eq!(metrics.operation_label(Some("not a name")), "other");
    }
}
