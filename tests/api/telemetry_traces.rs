//! Logs and traces of the real binary: JSON log lines for a failing source,
//! and spans exported over OTLP/HTTP to a collector in this test, which
//! continue the caller's `traceparent` and pass it on to the upstreams.

use std::net::{Ipv4Addr, SocketAddr};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{any, post};
use axum::Router;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::helpers::spawn_gateway_process_with;

#[tokio::test]
async fn json_logs_name_a_failing_source_its_route_and_status_and_no_query_string() {
    let mut gateway = spawn_gateway_process_with("", &["--log-format", "json"], &[]).await;
    // Open To Close carries its key in the query string: the log line must
    // not.
    gateway
        .sandbox
        .configure(json!({ "opentoclose": { "faults": [{ "kind": "http_500", "rate": 1.0 }] } }))
        .await;
    let answer: Value = gateway
        .sandbox
        .client
        .post(&gateway.graphql_url)
        .json(&json!({ "query": "{ contacts(first: 3) { nodes { id } } }" }))
        .send()
        .await
        .expect("query")
        .json()
        .await
        .expect("answer");
    assert!(answer["errors"].is_array(), "{answer:#}");

    let mut seen = Vec::new();
    let failure = loop {
        let line = gateway.next_log_line().await;
        assert!(!line.contains('\u{1b}'), "colour codes in a pipe: {line}");
        let event: Value = serde_json::from_str(&line)
            .unwrap_or_else(|error| panic!("not a JSON line ({error}): {line}"));
        seen.push(line);
        if event["message"] == "upstream exchange failed" && event["source"] == "opentoclose" {
            break event;
        }
    };
    assert_eq!(failure["level"], "WARN");
    assert_eq!(failure["route"], "/contacts");
    assert_eq!(failure["method"], "GET");
    assert_eq!(failure["status"], 500);
    assert!(failure["duration_ms"].as_f64().is_some(), "{failure}");
    let started: Vec<Value> = seen
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["message"] == "source configured")
        .collect();
    assert_eq!(started.len(), 4, "one start-up line per source: {seen:#?}");
    assert!(started
        .iter()
        .any(|event| event["base_url"] == gateway.sandbox.base("opentoclose")));
    let all = seen.join("\n");
    let key = gateway.sandbox.credential("opentoclose", "api_token");
    assert!(!all.contains(&key), "a credential in the logs");
    assert!(
        !all.contains("api_token"),
        "a query string in the logs: {all}"
    );
    assert!(!all.contains('?'), "a query string in the logs: {all}");
}

/// A collector: decodes each OTLP/HTTP protobuf export and hands its spans on.
async fn spawn_collector() -> (String, mpsc::UnboundedReceiver<Span>) {
    async fn export(State(spans): State<mpsc::UnboundedSender<Span>>, body: Bytes) -> StatusCode {
        let request = ExportTraceServiceRequest::decode(body).expect("an OTLP trace export");
        for span in request
            .resource_spans
            .into_iter()
            .flat_map(|resource| resource.scope_spans)
            .flat_map(|scope| scope.spans)
        {
            let _ = spans.send(span);
        }
        StatusCode::OK
    }
    let (spans, received) = mpsc::unbounded_channel();
    let router = Router::new()
        .route("/v1/traces", post(export))
        .with_state(spans);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("bind collector");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, received)
}

/// An upstream that fails every request and reports each `traceparent`.
async fn spawn_recording_upstream() -> (String, mpsc::UnboundedReceiver<Option<String>>) {
    async fn fail(
        State(seen): State<mpsc::UnboundedSender<Option<String>>>,
        headers: HeaderMap,
    ) -> StatusCode {
        let _ = seen.send(
            headers
                .get("traceparent")
                .and_then(|value| value.to_str().ok())
                .map(str::to_string),
        );
        StatusCode::INTERNAL_SERVER_ERROR
    }
    let (seen, received) = mpsc::unbounded_channel();
    let router = Router::new().fallback(any(fail)).with_state(seen);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("bind upstream");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, received)
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(|attribute| attribute.value.as_ref())
        .and_then(|value| value.value.as_ref())
        .map(|value| match value {
            AnyValue::StringValue(text) => text.clone(),
            AnyValue::IntValue(number) => number.to_string(),
            other => format!("{other:?}"),
        })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[tokio::test]
async fn traces_reach_an_otlp_collector_continue_the_callers_trace_and_go_upstream() {
    const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
    const CALLER_SPAN: &str = "b7ad6b7169203331";
    let (collector, mut spans) = spawn_collector().await;
    let (winnerr, mut upstream_traceparents) = spawn_recording_upstream().await;
    let gateway = spawn_gateway_process_with(
        &format!(
            // No start-up probes: the first request upstream is the caller's.
            "[readiness]\nprobe = false\n[telemetry]\notlp_endpoint = \"{collector}\"\nservice_name = \"gateway-under-test\"\n"
        ),
        &[],
        &[
            ("CONTACT_GATEWAY_WINNERR_BASE_URL", winnerr.as_str()),
            // Export each batch within a tenth of a second, not five.
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    )
    .await;
    let answer: Value = gateway
        .sandbox
        .client
        .post(&gateway.graphql_url)
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .json(&json!({
            "query": "query Board { contacts(first: 2) { nodes { id } } }",
            "operationName": "Board",
        }))
        .send()
        .await
        .expect("query")
        .json()
        .await
        .expect("answer");
    assert!(answer["errors"].is_array(), "winnerr fails: {answer:#}");

    // The upstream received the trace, with a span of the gateway as parent.
    let traceparent = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        upstream_traceparents.recv(),
    )
    .await
    .expect("the upstream was called")
    .expect("a request")
    .expect("with a traceparent");
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!(parts[1], TRACE_ID, "the caller's trace goes on upstream");
    assert_ne!(
        parts[2], CALLER_SPAN,
        "the upstream's parent is the gateway's span"
    );

    // The request's span and one child per upstream call, every source's.
    let mut received = Vec::new();
    let request = loop {
        let span = tokio::time::timeout(std::time::Duration::from_secs(10), spans.recv())
            .await
            .expect("spans exported within ten seconds")
            .expect("the collector runs");
        let is_request = span.name == "graphql Board";
        received.push(span.clone());
        if is_request {
            break span;
        }
    };
    assert_eq!(
        hex(&request.trace_id),
        TRACE_ID,
        "the caller's trace is continued"
    );
    assert_eq!(hex(&request.parent_span_id), CALLER_SPAN);
    assert_eq!(
        attribute(&request, "graphql.operation.name").as_deref(),
        Some("Board")
    );
    // Children end before their parent, so they were exported with it or
    // before; the rest of its batch is in the channel already.
    while let Ok(span) = spans.try_recv() {
        received.push(span);
    }
    let children: Vec<&Span> = received
        .iter()
        .filter(|span| span.parent_span_id == request.span_id)
        .collect();
    let sources: std::collections::HashSet<String> = children
        .iter()
        .filter_map(|span| attribute(span, "source"))
        .collect();
    assert_eq!(
        sources,
        ["opentoclose", "djangocrm", "winnerr", "spark"]
            .map(String::from)
            .into(),
        "{received:#?}"
    );
    let failed = children
        .iter()
        .find(|span| attribute(span, "source").as_deref() == Some("winnerr"))
        .expect("the winnerr call");
    assert_eq!(
        attribute(failed, "http.route").as_deref(),
        Some("/contacts")
    );
    assert_eq!(
        attribute(failed, "http.response.status_code").as_deref(),
        Some("500")
    );
    assert_eq!(
        hex(&failed.span_id),
        parts[2],
        "the upstream saw its own span"
    );
}
