//! Instrumentation and fault injection, outside the emulated prefixes.
//!
//! Every request to an emulator passes through [`instrument`], which counts it
//! (by source, method and route template), waits the configured latency, and
//! may answer with an injected fault instead of the emulator. The `/_sandbox`
//! endpoints read the counters, reset data and counters, change the behaviour
//! and serve the demo credentials:
//!
//! - `GET /_sandbox/stats`: `{"total", "by_source", "by_route": [{source, method, route, count}]}`
//! - `POST /_sandbox/reset`: data, counters and behaviour back to their state at start
//! - `GET /_sandbox/config`, `POST /_sandbox/config`: per-source latency and faults
//! - `GET /_sandbox/credentials`
//! - `GET /_sandbox/requests`: `{"requests": [{source, method, route,
//!   credential, organization_id}]}`, the latest requests (at most
//!   [`REQUESTS_KEPT`]), oldest first, with the credential each carried: the
//!   `Authorization` token without its scheme, or Open To Close's `api_token`
//!   parameter, and Django-CRM's `organization-id` header. The sandbox's
//!   credentials are demo values, so tests can say which was used.
//!
//! A behaviour update names the sources it changes; each named source's
//! behaviour is replaced whole:
//!
//! ```json
//! {"spark": {"latency_ms": 5, "jitter_ms": 2,
//!            "faults": [{"kind": "http_429", "rate": 0.5, "count": 3, "retry_after_s": 2}]}}
//! ```
//!
//! Faults are tried in order; the first whose `rate` roll succeeds (and whose
//! optional `count` is not used up) answers the request. `hang` answers nothing
//! until the sandbox shuts down; `reset` sends the headers and half the body,
//! then drops the connection; `html_error` is a proxy's HTML page with status 200.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::credentials::Credentials;
use super::latency::Clock;
use super::people::SourceName;
use super::rng::SeededRng;
use super::store::Resettable;

/// How many requests `/_sandbox/requests` remembers.
pub const REQUESTS_KEPT: usize = 10_000;

/// State shared by the instrumentation layer and the control endpoints.
pub struct Shared {
    pub credentials: Credentials,
    stats: Mutex<Stats>,
    /// The latest requests with the credentials they carried.
    requests: Mutex<std::collections::VecDeque<RequestRecord>>,
    behaviour: Mutex<BehaviourTable>,
    initial_behaviour: BehaviourTable,
    fault_rng: Mutex<SeededRng>,
    stores: Vec<Arc<dyn Resettable>>,
    /// Flips to `true` when the server shuts down, releasing `hang` faults so
    /// that graceful shutdown is not held up by requests that never answer.
    shutdown: tokio::sync::watch::Receiver<bool>,
    /// Keeps each request's latency to within a fraction of a millisecond.
    clock: Clock,
}

impl Shared {
    pub(crate) fn new(
        credentials: Credentials,
        latency_ms: u64,
        seed: u64,
        stores: Vec<Arc<dyn Resettable>>,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        let initial_behaviour: BehaviourTable = SourceName::ALL
            .into_iter()
            .map(|source| {
                (
                    source.as_str().to_string(),
                    Behaviour {
                        latency_ms,
                        ..Behaviour::default()
                    },
                )
            })
            .collect();
        Self {
            credentials,
            stats: Mutex::new(Stats::default()),
            requests: Mutex::new(std::collections::VecDeque::new()),
            behaviour: Mutex::new(initial_behaviour.clone()),
            initial_behaviour,
            fault_rng: Mutex::new(SeededRng::new(seed).fork("faults")),
            stores,
            shutdown,
            clock: Clock::default(),
        }
    }

    fn reset(&self) {
        for store in &self.stores {
            store.reset();
        }
        *lock(&self.stats) = Stats::default();
        lock(&self.requests).clear();
        *lock(&self.behaviour) = self.initial_behaviour.clone();
    }

    fn record(&self, source: SourceName, request: &Request, route: &'static str) {
        let method = request.method();
        {
            let mut stats = lock(&self.stats);
            stats.total += 1;
            *stats
                .by_route
                .entry((source, method.as_str().to_string(), route))
                .or_default() += 1;
        }
        let record = RequestRecord {
            source: source.as_str(),
            method: method.as_str().to_string(),
            route,
            credential: presented_credential(request),
            organization_id: request
                .headers()
                .get("organization-id")
                .and_then(|value| value.to_str().ok())
                .map(str::to_string),
        };
        let mut requests = lock(&self.requests);
        if requests.len() == REQUESTS_KEPT {
            requests.pop_front();
        }
        requests.push_back(record);
    }

    /// Draws the latency and the fault (if any) for one request.
    fn plan(&self, source: SourceName) -> (Duration, Option<FaultKindWithDetail>) {
        let mut table = lock(&self.behaviour);
        let Some(behaviour) = table.get_mut(source.as_str()) else {
            return (Duration::ZERO, None);
        };
        let mut rng = lock(&self.fault_rng);
        let jitter = if behaviour.jitter_ms > 0 {
            rng.range(0, behaviour.jitter_ms + 1)
        } else {
            0
        };
        let latency = Duration::from_millis(behaviour.latency_ms + jitter);
        for fault in &mut behaviour.faults {
            if fault.count == Some(0) || !rng.chance(fault.rate) {
                continue;
            }
            if let Some(count) = fault.count.as_mut() {
                *count -= 1;
            }
            return (
                latency,
                Some(FaultKindWithDetail {
                    kind: fault.kind,
                    retry_after_s: fault.retry_after_s,
                }),
            );
        }
        (latency, None)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One request as `/_sandbox/requests` lists it.
#[derive(Debug, Clone, Serialize)]
struct RequestRecord {
    source: &'static str,
    method: String,
    route: &'static str,
    credential: Option<String>,
    organization_id: Option<String>,
}

/// The token of the `Authorization` header without its scheme, or the
/// `api_token` query parameter.
fn presented_credential(request: &Request) -> Option<String> {
    if let Some(value) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
    {
        let value = value.trim();
        let token = value
            .split_once(' ')
            .map_or(value, |(_, token)| token.trim());
        return Some(token.to_string());
    }
    request.uri().query().and_then(|query| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(name, _)| *name == "api_token")
            .map(|(_, value)| {
                urlencoding::decode(value)
                    .map(|decoded| decoded.into_owned())
                    .unwrap_or_else(|_| value.to_string())
            })
    })
}

#[derive(Default)]
struct Stats {
    total: u64,
    by_route: BTreeMap<(SourceName, String, &'static str), u64>,
}

type BehaviourTable = BTreeMap<String, Behaviour>;

/// How one source behaves: latency and injected faults.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    /// Time from a request's arrival to its answer; the emulator's own
    /// work happens within it, not on top of it.
    #[serde(default)]
    pub latency_ms: u64,
    /// Extra delay drawn uniformly from `0..=jitter_ms`.
    #[serde(default)]
    pub jitter_ms: u64,
    #[serde(default)]
    pub faults: Vec<Fault>,
}

/// One injected fault.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub kind: FaultKind,
    /// Probability in `0..=1` that a request gets this fault.
    pub rate: f64,
    /// When set, the fault is applied at most this many more times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// `Retry-After` seconds for `http_429`.
    #[serde(default = "default_retry_after")]
    pub retry_after_s: u64,
}

fn default_retry_after() -> u64 {
    1
}

/// The kinds of failure the sandbox can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    #[serde(rename = "http_500")]
    Http500,
    #[serde(rename = "http_503")]
    Http503,
    #[serde(rename = "http_429")]
    Http429,
    Hang,
    MalformedJson,
    Reset,
    HtmlError,
}

struct FaultKindWithDetail {
    kind: FaultKind,
    retry_after_s: u64,
}

/// What the instrumentation layer needs to know about the source it wraps.
#[derive(Clone)]
pub struct Instrumented {
    pub shared: Arc<Shared>,
    pub source: SourceName,
    /// The source's route templates, relative to its prefix (`/v1/contacts/{id}`).
    pub routes: &'static [&'static str],
}

/// Axum middleware wrapping every emulator: count, delay, maybe fail.
pub async fn instrument(State(ctx): State<Instrumented>, request: Request, next: Next) -> Response {
    let arrived = Instant::now();
    // Inside a nested router the prefix is already stripped; strip it anyway in
    // case the layer is ever moved outside.
    let path = request.uri().path();
    let relative = path
        .strip_prefix('/')
        .and_then(|rest| rest.strip_prefix(ctx.source.as_str()))
        .filter(|rest| rest.starts_with('/'))
        .unwrap_or(path);
    let route = route_template(ctx.routes, relative);
    ctx.shared.record(ctx.source, &request, route);
    let (latency, fault) = ctx.shared.plan(ctx.source);
    let response = match fault {
        None => next.run(request).await,
        Some(fault) => fault_response(&ctx.shared, ctx.source, fault).await,
    };
    if !latency.is_zero() {
        // The emulated upstream's whole response time, network and server
        // together: the answer leaves `latency` after the request arrived.
        // The emulator's own work happens inside that time rather than on
        // top of it, so a benchmark sees the latency it asked for however
        // busy the machine's cores are with the gateway under test.
        ctx.shared.clock.sleep_until(arrived + latency).await;
    }
    response
}

/// The route template `path` matches, or `"unmatched"`. Templates use `{name}`
/// for one path segment.
pub fn route_template(routes: &'static [&'static str], path: &str) -> &'static str {
    let segments: Vec<&str> = path.split('/').collect();
    // When several templates match (`/contacts/tags` and `/contacts/{id}`), the
    // one with the most literal segments wins, as in the router itself.
    routes
        .iter()
        .copied()
        .filter_map(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            let matches = parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(part, segment)| part.starts_with('{') || part == segment);
            let literals = parts.iter().filter(|part| !part.starts_with('{')).count();
            matches.then_some((literals, template))
        })
        .max_by_key(|(literals, _)| *literals)
        .map_or("unmatched", |(_, template)| template)
}

async fn fault_response(
    shared: &Shared,
    source: SourceName,
    fault: FaultKindWithDetail,
) -> Response {
    match fault.kind {
        FaultKind::Http500 => error_envelope(source, StatusCode::INTERNAL_SERVER_ERROR, None),
        FaultKind::Http503 => error_envelope(source, StatusCode::SERVICE_UNAVAILABLE, None),
        FaultKind::Http429 => {
            let status = if source == SourceName::Spark {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::TOO_MANY_REQUESTS
            };
            let mut response = error_envelope(source, status, Some(1550));
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(fault.retry_after_s));
            response
        }
        FaultKind::Hang => {
            let mut shutdown = shared.shutdown.clone();
            // Err means the sender is gone, which also means shutdown.
            let _ = shutdown.wait_for(|stopped| *stopped).await;
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        FaultKind::MalformedJson => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"data\": [{\"id\": 1, \"first_name\": \"Trunc",
        )
            .into_response(),
        FaultKind::Reset => {
            let first_half = Bytes::from_static(b"{\"success\": true, \"data\": [{\"id\": ");
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(first_half),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected connection reset",
                )),
            ];
            let mut response = Response::new(Body::from_stream(futures::stream::iter(chunks)));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(4096u32));
            response
        }
        FaultKind::HtmlError => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>\
             <body><h1>Bad Gateway</h1><p>The proxy server received an invalid response \
             from an upstream server.</p><hr><address>nginx</address></body></html>",
        )
            .into_response(),
    }
}

/// An error in the source's own envelope, as the real service would send it.
fn error_envelope(source: SourceName, status: StatusCode, spark_code: Option<u32>) -> Response {
    let message = match status {
        StatusCode::TOO_MANY_REQUESTS => "Too many requests",
        StatusCode::SERVICE_UNAVAILABLE if spark_code.is_some() => "Over rate limit",
        StatusCode::SERVICE_UNAVAILABLE => "Service unavailable",
        _ => "Internal server error",
    };
    let body = match source {
        SourceName::OpenToClose => json!({ "message": message }),
        SourceName::DjangoCrm => json!({ "detail": message }),
        SourceName::Winnerr => json!({
            "success": false,
            "error": {
                "type": if status == StatusCode::TOO_MANY_REQUESTS { "rate_limit_error" } else { "server_error" },
                "title": message,
                "status": status.as_u16(),
                "detail": message,
            }
        }),
        SourceName::Spark => json!({
            "D": {
                "Success": false,
                "Code": spark_code.unwrap_or(u32::from(status.as_u16())),
                "Message": message,
            }
        }),
    };
    (status, Json(body)).into_response()
}

/// The `/_sandbox` control router.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/reset", post(reset))
        .route("/_sandbox/config", get(get_config).post(set_config))
        .route("/_sandbox/credentials", get(credentials))
        .route("/_sandbox/requests", get(requests))
        .with_state(shared)
}

async fn stats(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let stats = lock(&shared.stats);
    let mut by_source: HashMap<&str, u64> = SourceName::ALL
        .into_iter()
        .map(|s| (s.as_str(), 0))
        .collect();
    let mut by_route = Vec::with_capacity(stats.by_route.len());
    for ((source, method, route), count) in &stats.by_route {
        *by_source.entry(source.as_str()).or_default() += count;
        by_route.push(json!({
            "source": source.as_str(),
            "method": method,
            "route": route,
            "count": count,
        }));
    }
    Json(json!({ "total": stats.total, "by_source": by_source, "by_route": by_route }))
}

async fn requests(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let requests: Vec<RequestRecord> = lock(&shared.requests).iter().cloned().collect();
    Json(json!({ "requests": requests }))
}

async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.reset();
    StatusCode::NO_CONTENT
}

async fn get_config(State(shared): State<Arc<Shared>>) -> Json<BehaviourTable> {
    Json(lock(&shared.behaviour).clone())
}

async fn set_config(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let update: BTreeMap<String, Behaviour> = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(error) => return bad_config(format!("invalid behaviour: {error}")),
    };
    for (source, behaviour) in &update {
        if SourceName::parse(source).is_none() {
            return bad_config(format!(
                "unknown source `{source}`; expected one of opentoclose, djangocrm, winnerr, spark"
            ));
        }
        if let Some(fault) = behaviour
            .faults
            .iter()
            .find(|f| !(0.0..=1.0).contains(&f.rate))
        {
            return bad_config(format!("fault rate {} is outside 0..=1", fault.rate));
        }
    }
    let mut table = lock(&shared.behaviour);
    table.extend(update);
    Json(table.clone()).into_response()
}

fn bad_config(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

async fn credentials(State(shared): State<Arc<Shared>>) -> Json<Credentials> {
    Json(shared.credentials.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_templates_match_segments() {
        static ROUTES: &[&str] = &["/v1/contacts", "/v1/contacts/{id}", "/v1/contacts/tags"];
        assert_eq!(
            route_template(ROUTES, "/v1/contacts/tags"),
            "/v1/contacts/tags"
        );
        assert_eq!(route_template(ROUTES, "/v1/contacts"), "/v1/contacts");
        assert_eq!(
            route_template(ROUTES, "/v1/contacts/17"),
            "/v1/contacts/{id}"
        );
        assert_eq!(route_template(ROUTES, "/v1/contacts/17/x"), "unmatched");
        assert_eq!(route_template(ROUTES, "/v2/contacts"), "unmatched");
    }

    /// The emulator does its work when the request arrives and only the
    /// answer waits out the latency, so its own CPU time is not added to it.
    #[tokio::test]
    async fn the_handler_runs_at_once_and_only_the_answer_waits_out_the_latency() {
        use tower::ServiceExt;

        let (_shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
        let shared = Arc::new(Shared::new(
            Credentials::default(),
            3_600_000,
            1,
            Vec::new(),
            shutdown_rx,
        ));
        let handled = Arc::new(tokio::sync::Notify::new());
        let router = Router::new()
            .route(
                "/v1/contacts",
                get({
                    let handled = Arc::clone(&handled);
                    move || async move {
                        handled.notify_one();
                        "answer"
                    }
                }),
            )
            .layer(axum::middleware::from_fn_with_state(
                Instrumented {
                    shared,
                    source: SourceName::Winnerr,
                    routes: &["/v1/contacts"],
                },
                instrument,
            ));
        let request = Request::get("/v1/contacts").body(Body::empty()).unwrap();
        let mut answer = tokio::spawn(router.oneshot(request));
        tokio::time::timeout(Duration::from_secs(10), handled.notified())
            .await
            .expect("the handler ran long before the hour of latency");
        assert!(
            futures::poll!(&mut answer).is_pending(),
            "the answer is held for the latency"
        );
        answer.abort();
    }
}
