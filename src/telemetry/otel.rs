//! OpenTelemetry traces over OTLP/HTTP (protobuf), and W3C Trace Context.
//!
//! When `[telemetry] otlp_endpoint` is set, every `tracing` span (the
//! `graphql` span of each request, the `upstream` span of each exchange,
//! its child) is exported in batches to `{otlp_endpoint}/v1/traces`. A
//! caller's `traceparent` header makes the request's span a child of the
//! caller's, and each upstream request carries the `traceparent` of its own
//! span. With no endpoint configured, [`enabled`] is false and the request
//! path reads no header and writes none.
//!
//! The exporter sends with the gateway's own reqwest (its batches are built
//! on a thread of their own, so the send is handed to the Tokio runtime).
//! It is a client of the collector only, never of an upstream.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HeaderExtractor, HeaderInjector, HttpClient, HttpError};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use super::TelemetryError;

/// Set once an exporter is installed; read on every request.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported (and so trace context read and passed on).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The tracer provider exporting to `endpoint`, batching spans.
pub(super) fn provider(
    endpoint: &str,
    service_name: &str,
) -> Result<SdkTracerProvider, TelemetryError> {
    let traces_url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let client = OnTokio {
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|error| TelemetryError::Exporter {
                endpoint: endpoint.to_string(),
                message: error.to_string(),
            })?,
        runtime: tokio::runtime::Handle::current(),
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(traces_url)
        .build()
        .map_err(|error| TelemetryError::Exporter {
            endpoint: endpoint.to_string(),
            message: error.to_string(),
        })?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service_name.to_string())
                .build(),
        )
        .build();
    ENABLED.store(true, Ordering::Relaxed);
    Ok(provider)
}

/// The `tracing` layer that turns spans into OpenTelemetry spans.
pub(super) fn layer<S>(provider: &SdkTracerProvider) -> impl Layer<S>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer("contact-gateway"))
}

/// Names a request's `span` after its operation and makes it a child of the
/// caller's trace, when the caller sent a valid `traceparent`; nothing when
/// spans are not exported.
pub fn begin_request(span: &tracing::Span, headers: &HeaderMap, operation: Option<&str>) {
    if !enabled() {
        return;
    }
    if let Some(operation) = operation {
        span.record("otel.name", format!("graphql {operation}"));
    }
    if !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    // Only fails when the span is disabled, in which case there is nothing
    // to continue.
    let _ = span.set_parent(parent);
}

/// The `traceparent` (and `tracestate`) headers naming `span`, for an
/// upstream request; `None` when spans are not exported.
pub fn trace_headers(span: &tracing::Span) -> Option<HeaderMap> {
    if !enabled() {
        return None;
    }
    let mut headers = HeaderMap::new();
    TraceContextPropagator::new()
        .inject_context(&span.context(), &mut HeaderInjector(&mut headers));
    Some(headers)
}

/// Sends the exporter's requests on the Tokio runtime.
#[derive(Debug)]
struct OnTokio {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for OnTokio {
    async fn send_bytes(
        &self,
        request: axum::http::Request<Bytes>,
    ) -> Result<axum::http::Response<Bytes>, HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let client = self.client.clone();
        let (status, headers, body) = self
            .runtime
            .spawn(async move {
                let response = client.execute(request).await?;
                let status = response.status();
                let headers = response.headers().clone();
                let body = response.bytes().await?;
                Ok::<_, reqwest::Error>((status, headers, body))
            })
            .await??;
        let mut response = axum::http::Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }
}
