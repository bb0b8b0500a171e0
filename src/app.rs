//! The gateway's HTTP application: build it from configuration, bind, serve.
//!
//! Routes: `POST /graphql` and `GET /graphql?query=` (GraphQL over HTTP,
//! through the checks of [`crate::edge`]), GraphiQL on `GET /graphql` from a
//! browser when configured (its files, embedded by [`crate::graphiql`], under
//! `GET /graphiql/assets/{name}`), `GET /healthz` (the process is up) and
//! `GET /readyz` (sources built; 503 with the reason when there are none).
//! CORS and the request body limit wrap every route.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use async_graphql::{BatchResponse, ValidationMode};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;
use tracing::Instrument;

use crate::auth::{Caller, Callers};
use crate::cache::{self, CacheReport, RequestScope};
use crate::config::{CorsSettings, GatewayConfig, LoaderSettings};
use crate::edge::{Edge, GraphQLRequest};
use crate::graphql::contacts::SourceRegistry;
use crate::graphql::{build_known_document_schema, build_schema, type_registry, GatewaySchema};
use crate::loaders::RequestLoaders;
use crate::readiness::{Readiness, ReadinessState};
use crate::sources::SourceSet;
use crate::upstream::Upstream;

/// Everything a request handler needs, shared by all requests.
pub struct Gateway {
    /// Which sources have answered their start-up probe (`/readyz`).
    pub readiness: Arc<Readiness>,
    pub schema: GatewaySchema,
    /// The schema for operations the edge knows (see `edge::documents`).
    pub known_document_schema: GatewaySchema,
    /// The schema for known operations sent with new variables.
    pub known_shape_schema: GatewaySchema,
    /// The schema's types, for finishing the answers of
    /// `known_document_schema`.
    pub types: async_graphql::registry::Registry,
    /// The adapters of the gateway's own credentials.
    pub sources: SourceSet,
    /// `[limits] request_timeout_ms`.
    request_timeout: std::time::Duration,
    /// Who may call, and the adapters each caller's requests use.
    pub callers: Callers,
    max_page_size: usize,
    pub loaders: LoaderSettings,
    pub upstream: Arc<Upstream>,
    pub edge: Edge,
    pub cors: CorsSettings,
}

/// Errors building the gateway.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The listener could not be bound or the server failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

impl Gateway {
    /// Builds the upstream client and one adapter per configured source,
    /// and starts the readiness probes; called inside a tokio runtime.
    pub fn build(config: &GatewayConfig) -> Result<Gateway, AppError> {
        let upstream = Arc::new(Upstream::new(&config.sources, &config.cache));
        let callers = Callers::new(config, &upstream);
        let sources = callers.default_sources().clone();
        let readiness = Readiness::start(&sources.all, config.readiness);
        Ok(Gateway {
            readiness,
            schema: build_schema(
                &config.limits,
                &config.cache,
                &config.operations,
                sources.clone(),
            ),
            known_document_schema: build_known_document_schema(
                &config.limits,
                sources.clone(),
                ValidationMode::Fast,
            ),
            known_shape_schema: build_known_document_schema(
                &config.limits,
                sources.clone(),
                ValidationMode::Strict,
            ),
            types: type_registry(),
            request_timeout: std::time::Duration::from_millis(config.limits.request_timeout_ms),
            sources,
            callers,
            max_page_size: config.limits.max_page_size,
            loaders: config.loaders,
            upstream,
            edge: Edge::new(config),
            cors: config.cors.clone(),
        })
    }

    /// The axum router of the gateway.
    pub fn router(self: Arc<Self>) -> Router {
        let body_limit = self.edge.max_request_body_bytes();
        let mut preflight_headers = self.edge.csrf_headers().to_vec();
        preflight_headers.push(header::CONTENT_TYPE);
        preflight_headers.push(header::HeaderName::from_static(REQUEST_TIMEOUT_HEADER));
        preflight_headers.push(header::HeaderName::from_static(crate::edge::DRY_RUN_HEADER));
        // A browser app sends its key and its user's credentials in headers
        // of their own, which its preflight must be allowed to ask for.
        preflight_headers.push(header::HeaderName::from_static(crate::auth::API_KEY_HEADER));
        preflight_headers.push(header::AUTHORIZATION);
        preflight_headers.extend(self.callers.forwarded_headers());
        let cors = crate::edge::cors::cors_layer(&self.cors, &preflight_headers);
        Router::new()
            .route(
                "/graphql",
                get(graphql_get)
                    .post(graphql_post)
                    .fallback(crate::edge::method_not_allowed),
            )
            .route("/graphiql/assets/{name}", get(graphiql_asset))
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .fallback(crate::edge::not_found)
            .layer(RequestBodyLimitLayer::new(body_limit))
            .layer(axum::middleware::map_response(move |response: Response| {
                crate::edge::payload_too_large_as_json(body_limit, response)
            }))
            .layer(cors)
            .with_state(self)
    }
}

/// Ready when sources are configured and each has answered its start-up
/// probe (see [`crate::readiness`]); otherwise 503 naming what is missing. A
/// configuration file without sources is refused when it is loaded, but a
/// gateway built from a `GatewayConfig` made in code can still have none,
/// and it would answer every list with nothing.
async fn readyz(State(gateway): State<Arc<Gateway>>) -> Response {
    let state = gateway.readiness.state();
    let body = state.describe();
    match state {
        ReadinessState::Ready => body.into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, body).into_response(),
    }
}

/// The Prometheus text exposition of the gateway's metrics.
async fn metrics(State(gateway): State<Arc<Gateway>>) -> Response {
    let sources: Vec<_> = gateway.sources.all.iter().map(|s| s.kind()).collect();
    let text = gateway
        .upstream
        .metrics()
        .render(&gateway.upstream, &sources);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

async fn graphql_post(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // The caller first: an unknown one costs no body read.
    let caller = match gateway.callers.identify(&headers).await {
        Ok(caller) => caller,
        Err(refusal) => return gateway.edge.refuse(&headers, refusal.into()),
    };
    match gateway.edge.accept_post(&headers, body).await {
        Ok((request, pending)) => {
            pending
                .finish(execute(&gateway, &headers, request, caller).await)
                .await
        }
        Err(refusal) => refused(&gateway, *refusal),
    }
}

/// GraphiQL for a browser that asks for HTML without a query (when
/// configured); GraphQL otherwise.
async fn graphql_get(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let has_query = query.as_deref().is_some_and(|q| q.contains("query="));
    if gateway.edge.serves_graphiql() && wants_html && !has_query {
        return crate::graphiql::page();
    }
    let caller = match gateway.callers.identify(&headers).await {
        Ok(caller) => caller,
        Err(refusal) => return gateway.edge.refuse(&headers, refusal.into()),
    };
    match gateway.edge.accept_get(&headers, query.as_deref()) {
        Ok((request, pending)) => {
            pending
                .finish(execute(&gateway, &headers, request, caller).await)
                .await
        }
        Err(refusal) => refused(&gateway, *refusal),
    }
}

/// A file of the GraphiQL page, embedded in the binary; not found unless
/// GraphiQL is switched on.
async fn graphiql_asset(State(gateway): State<Arc<Gateway>>, Path(name): Path<String>) -> Response {
    match crate::graphiql::asset(&name) {
        Some(asset) if gateway.edge.serves_graphiql() => asset,
        _ => crate::edge::not_found().await,
    }
}

/// Counts and logs a refusal of the edge, and hands it on.
fn refused(gateway: &Gateway, refusal: Response) -> Response {
    let status = refusal.status().as_u16();
    gateway.upstream.metrics().refusal(status);
    tracing::info!(status, "request refused at the edge");
    refusal
}

async fn execute(
    gateway: &Gateway,
    headers: &HeaderMap,
    request: GraphQLRequest,
    caller: Caller,
) -> Response {
    let started = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + request_timeout(headers, gateway.request_timeout);
    let scope = Arc::new(cache_scope(headers).with_deadline(deadline));
    let loaders = Arc::new(RequestLoaders::new(&caller.sources, gateway.loaders));
    // The caller's adapters replace the schema's for this request: request
    // data comes before schema data when a resolver asks for it.
    let registry = SourceRegistry {
        sources: caller.sources,
        max_page_size: gateway.max_page_size,
        denied: caller.principal.denied.clone(),
    };
    let (request, known) = request.into_parts();
    // A known operation skips the checks inside async-graphql, the
    // caller's among them: only a caller it may run for as it is, and whose
    // upstream budget admits it, takes that path.
    let known = known.filter(|known| known.admit(&caller.principal));
    let request = request
        .data(Arc::clone(&loaders))
        .data(registry)
        .data(caller.principal);
    let operation_name = request.operation_name.clone();
    // At debug level: disabled, and so free, unless traces are exported
    // or RUST_LOG asks for them.
    let span = tracing::debug_span!(
        "graphql",
        otel.name = "graphql",
        otel.kind = "server",
        graphql.operation.name = operation_name.as_deref(),
    );
    crate::telemetry::otel::begin_request(&span, headers, operation_name.as_deref());
    let schema = match &known {
        Some(known) if known.has_variables() => &gateway.known_shape_schema,
        Some(_) => &gateway.known_document_schema,
        None => &gateway.schema,
    };
    let mut response = cache::with_scope(Arc::clone(&scope), schema.execute(request))
        .instrument(span)
        .await;
    if let Some(known) = known {
        known.finish(&gateway.types, &mut response);
    }
    record_operation(gateway, operation_name.as_deref(), &response, started);
    if let Some(report) = scope.report() {
        let weighted_bytes = gateway.upstream.cache().weighted_size().await;
        response.extensions.insert(
            "cache".to_string(),
            cache_report_value(&report, weighted_bytes),
        );
    }
    let response = BatchResponse::from(response);
    let answer = answer_of(&response);
    // The answer's values and what the request loaded are freed on a task
    // of their own, after this handler has handed the answer over: for a
    // large query that is a millisecond the answer need not wait for.
    tokio::spawn(async move { drop((response, loaders)) });
    answer
}

/// Counts the operation, its outcome and duration, and its errors by code.
fn record_operation(
    gateway: &Gateway,
    operation_name: Option<&str>,
    response: &async_graphql::Response,
    started: std::time::Instant,
) {
    use crate::telemetry::metrics::Outcome;

    let metrics = gateway.upstream.metrics();
    let outcome = match (response.errors.is_empty(), &response.data) {
        (true, _) => Outcome::Success,
        (false, async_graphql::Value::Null) => Outcome::Error,
        (false, _) => Outcome::Partial,
    };
    metrics.graphql_operation(operation_name, outcome, started.elapsed());
    for error in &response.errors {
        let code = error
            .extensions
            .as_ref()
            .and_then(|extensions| extensions.get("code"))
            .and_then(|code| match code {
                async_graphql::Value::String(code) => Some(code.as_str()),
                async_graphql::Value::Enum(code) => Some(code.as_str()),
                _ => None,
            });
        metrics.graphql_error(code.unwrap_or("OTHER"));
    }
}

/// The client's wishes for the cache: `Cache-Control: no-cache` (or
/// `no-store`, or `max-age=0`) reads everything afresh and refreshes what is
/// kept; `X-Cache-Debug: 1` asks for `extensions.cache`.
/// The header a client sends to ask for a shorter deadline (milliseconds).
pub const REQUEST_TIMEOUT_HEADER: &str = "x-request-timeout";

/// The request's time budget: the configured one, or less when the client
/// asks for less with `X-Request-Timeout` (a whole number of milliseconds;
/// anything else is ignored).
fn request_timeout(headers: &HeaderMap, configured: std::time::Duration) -> std::time::Duration {
    headers
        .get(REQUEST_TIMEOUT_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(std::time::Duration::from_millis)
        .map_or(configured, |asked| asked.min(configured))
}

fn cache_scope(headers: &HeaderMap) -> RequestScope {
    let refresh = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|part| part.trim().to_ascii_lowercase())
        .any(|part| part == "no-cache" || part == "no-store" || part == "max-age=0");
    let report = headers
        .get("x-cache-debug")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| matches!(value.trim(), "1" | "true"));
    RequestScope::new(refresh, report)
}

/// `extensions.cache`: how many reads the cache served, how many went
/// upstream, how many waited for another request's read, the age of the
/// oldest answer served, the weight of what the request added, and the
/// weight of everything the cache holds.
fn cache_report_value(report: &CacheReport, weighted_bytes: u64) -> async_graphql::Value {
    async_graphql::Value::from_json(serde_json::json!({
        "hits": report.hits,
        "upstreamReads": report.upstream_reads,
        "coalescedWaits": report.coalesced_waits,
        "oldestAgeMs": report.oldest_age_ms,
        "storedBytes": report.stored_bytes,
        "cacheWeightedBytes": weighted_bytes,
    }))
    .unwrap_or_default()
}

/// The HTTP answer for `response`, with the headers async-graphql-axum
/// gives it.
fn answer_of(response: &BatchResponse) -> Response {
    let Ok(body) = serde_json::to_vec(response) else {
        // Only a map with non-string keys fails to serialise; a GraphQL
        // response has none.
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the GraphQL response could not be written as JSON",
        )
            .into_response();
    };
    let mut answer = Response::new(Body::from(body));
    let headers = answer.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/graphql-response+json"),
    );
    if response.is_ok() {
        if let Some(value) = response
            .cache_control()
            .value()
            .and_then(|value| HeaderValue::from_str(&value).ok())
        {
            headers.insert(header::CACHE_CONTROL, value);
        }
    }
    headers.extend(response.http_headers());
    answer
}

/// A gateway bound to a listener, ready to run.
pub struct GatewayServer {
    listener: TcpListener,
    gateway: Arc<Gateway>,
}

impl GatewayServer {
    /// Builds the gateway and binds `config.listen` (port 0 picks a free port).
    pub async fn bind(config: &GatewayConfig) -> Result<Self, AppError> {
        let gateway = Arc::new(Gateway::build(config)?);
        let listener = TcpListener::bind(config.listen).await?;
        Ok(Self { listener, gateway })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The built gateway (for tests that inspect upstream counters).
    pub fn gateway(&self) -> Arc<Gateway> {
        self.gateway.clone()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, self.gateway.router())
            .with_graceful_shutdown(shutdown)
            .await
    }
}
