//! The one place that sends HTTP to the upstreams.
//!
//! Adapters in `sources/` describe a request ([`UpstreamRequest`]); this layer
//! applies the source's base URL, timeout and concurrency limit, sends it, and
//! reads the whole body. Credentials travel in [`Credential`]s, kept apart from
//! ordinary parameters so that no error, log line or key built here ever
//! contains them: errors name the source and method, never the URL (Open To
//! Close carries its key in the query string).
//!
//! Reads go through [`Upstream::read`], which serves them from the response
//! cache ([`crate::cache`]) when it can; writes carry the [`Change`]s they may
//! make, reported to the cache when the write ends whatever its outcome.
//!
//! **Architecture Invariant:** only this module sends HTTP to an upstream.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::concurrency::{AdaptiveLimit, Outcome};
use bytes::Bytes;
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Method;
use tracing::Instrument;

use crate::cache::{
    CacheKey, Change, Directive, Fetched, Fingerprint, Freshness, Resource, ResponseCache, Share,
    Tag,
};
use crate::config::{CacheSettings, RetrySettings, Secret, SourceConfig};
use crate::domain::SourceKind;
use crate::telemetry::metrics::{status_class, Metrics, SourceGauges};

/// A credential to attach to a request.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A header such as `Authorization: Bearer ...`; the value is sent as is.
    Header(HeaderName, Secret),
    /// A query parameter such as `api_token=...`.
    Query(&'static str, Secret),
}

/// A request path and the route template it was made from (`/contacts/{id}`
/// for `/contacts/42`): metrics and logs name the template, which has no
/// identifiers in it and a fixed, small number of values.
#[derive(Debug, Clone)]
pub struct Route {
    pub template: &'static str,
    pub path: String,
}

/// A path without parameters is its own template.
impl From<&'static str> for Route {
    fn from(path: &'static str) -> Self {
        Route {
            template: path,
            path: path.to_string(),
        }
    }
}

/// A [`Route`] from a template whose `{name}`s are variables in scope:
/// `route!("/contacts/{id}")` is the template and `format!` of it, so the
/// two cannot disagree.
macro_rules! route {
    ($template:literal) => {
        $crate::upstream::Route {
            template: $template,
            path: format!($template),
        }
    };
}
pub(crate) use route;

/// A request an adapter wants sent.
#[derive(Debug, Clone)]
pub struct UpstreamRequest {
    pub method: Method,
    /// Path relative to the source's base URL, starting with `/`.
    pub path: String,
    /// The path's template, for metrics and logs.
    pub route: &'static str,
    pub query: Vec<(String, String)>,
    /// Headers that are not credentials.
    pub headers: Vec<(HeaderName, String)>,
    pub credentials: Vec<Credential>,
    pub body: Option<serde_json::Value>,
    /// For a write: what it may change, for the response cache. A write
    /// that names nothing is taken to change everything of its source.
    pub changes: Vec<Change>,
}

impl UpstreamRequest {
    pub fn new(method: Method, route: impl Into<Route>) -> Self {
        let route = route.into();
        Self {
            method,
            path: route.path,
            route: route.template,
            query: Vec::new(),
            headers: Vec::new(),
            credentials: Vec::new(),
            body: None,
            changes: Vec::new(),
        }
    }

    pub fn query(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_string(), value.to_string()));
        self
    }

    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn credential(mut self, credential: Credential) -> Self {
        self.credentials.push(credential);
        self
    }

    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Declares what this write may change.
    pub fn changes(mut self, changes: impl IntoIterator<Item = Change>) -> Self {
        self.changes.extend(changes);
        self
    }
}

/// What an adapter made of an answer: the value to keep, what it holds, and
/// the records in it worth keeping on their own.
pub struct Parsed<T> {
    pub value: T,
    pub tags: Vec<Tag>,
    pub shares: Vec<Share>,
}

impl<T> Parsed<T> {
    /// A value holding `tags`, sharing no records.
    pub fn new(value: T, tags: Vec<Tag>) -> Self {
        Self {
            value,
            tags,
            shares: Vec::new(),
        }
    }

    /// Also keeps `shares` under their own keys.
    pub fn sharing(mut self, shares: Vec<Share>) -> Self {
        self.shares = shares;
        self
    }
}

/// What came back, body read in full.
#[derive(Debug, Clone)]
pub struct UpstreamResponse {
    pub status: u16,
    /// `Retry-After` in whole seconds, when sent.
    pub retry_after: Option<u64>,
    pub content_type: Option<String>,
    /// The `Cache-Control` header, when sent.
    pub cache_control: Option<String>,
    pub body: Bytes,
}

/// Transport failures. None of them carries a URL or a credential.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// No answer within the source's timeout.
    #[error("{source_kind} did not answer within {timeout_ms} ms")]
    Timeout {
        source_kind: SourceKind,
        timeout_ms: u128,
    },
    /// The connection could not be made.
    #[error("{source_kind} could not be reached")]
    Connect { source_kind: SourceKind },
    /// The connection broke before the whole answer arrived.
    #[error("the connection to {source_kind} broke before the answer was complete")]
    Interrupted { source_kind: SourceKind },
    /// A write was sent but no usable answer came back (a timeout, a
    /// connection cut after sending, or a proxy's 502 or 504): the upstream
    /// may or may not have applied it.
    #[error("{source_kind} did not say whether the write took effect; read the record before trying again")]
    OutcomeUnknown {
        source_kind: SourceKind,
        upstream_status: Option<u16>,
    },
    /// The request's deadline passed before the answer came. `sent` says
    /// whether the request had left (a write that had may have applied).
    #[error("{source_kind} did not answer before the request's deadline")]
    DeadlineExceeded { source_kind: SourceKind, sent: bool },
    /// The source is not configured in this gateway.
    #[error("{source_kind} is not configured")]
    NotConfigured { source_kind: SourceKind },
    /// A request could not be built (for example a header value that HTTP forbids).
    #[error("invalid request to {source_kind}: {message}")]
    InvalidRequest {
        source_kind: SourceKind,
        message: String,
    },
}

struct Endpoint {
    base_url: String,
    timeout: Duration,
    /// The adaptive limit on concurrent requests (`concurrency.rs`).
    limit: Arc<AdaptiveLimit>,
    sent: AtomicU64,
    /// How many writes (anything but GET and HEAD) have finished, failed or
    /// been abandoned; see [`Upstream::write_generation`].
    writes: AtomicU64,
    retry: RetrySettings,
    /// The retry budget: each read adds `budget_ratio`, each retry takes one.
    retry_tokens: std::sync::Mutex<f64>,
    /// How many retries have been sent (for tests and metrics).
    retries: AtomicU64,
    gauges: SourceGauges,
}

/// The retry budget's reserve: retries a quiet source may spend at once.
const RETRY_RESERVE: f64 = 10.0;

impl Endpoint {
    /// Adds a read's share to the retry budget.
    fn deposit(&self) {
        let mut tokens = self.retry_tokens.lock().unwrap_or_else(|e| e.into_inner());
        *tokens = (*tokens + self.retry.budget_ratio).min(RETRY_RESERVE);
    }

    /// Takes one retry from the budget, when it holds one.
    fn withdraw(&self) -> bool {
        let mut tokens = self.retry_tokens.lock().unwrap_or_else(|e| e.into_inner());
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The wait before retry number `attempt` (0 for the first): drawn
    /// uniformly below the doubled backoff (full jitter), so that callers
    /// that failed together do not come back together.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .retry
            .backoff_ms
            .saturating_mul(1u64 << attempt.min(16))
            .min(self.retry.max_wait_ms);
        Duration::from_millis(jitter(ceiling.saturating_add(1)))
    }
}

/// A number below `bound`, from a per-thread xorshift generator seeded by the
/// clock; backoff only needs spread, not unpredictability.
fn jitter(bound: u64) -> u64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0x9e37_79b9_7f4a_7c15, |d| d.as_nanos() as u64)
                | 1,
        );
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        x % bound.max(1)
    })
}

/// Counts a write as finished when dropped, and reports what it may have
/// changed to the cache, so that a write abandoned halfway (its caller went
/// away) still counts: it may have reached the upstream.
struct WriteMark {
    endpoint: Arc<Endpoint>,
    cache: Arc<ResponseCache>,
    source: SourceKind,
    changes: Vec<Change>,
}

impl Drop for WriteMark {
    fn drop(&mut self) {
        if self.changes.is_empty() {
            self.changes = EVERY_RESOURCE.map(Change::Every).to_vec();
        }
        self.cache.report_changes(self.source, &self.changes);
        self.endpoint.writes.fetch_add(1, Ordering::Release);
    }
}

/// What a write that names no change may have changed.
const EVERY_RESOURCE: [Resource; 5] = [
    Resource::Contact,
    Resource::Property,
    Resource::PropertyLinks,
    Resource::Activities,
    Resource::MyContact,
];

/// Aborts the exchange when its caller stops waiting for it.
struct Exchange(tokio::task::JoinHandle<Result<UpstreamResponse, UpstreamError>>);

impl Drop for Exchange {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The shared HTTP client with one endpoint per configured source.
pub struct Upstream {
    http: reqwest::Client,
    endpoints: HashMap<SourceKind, Arc<Endpoint>>,
    cache: Arc<ResponseCache>,
    metrics: Arc<Metrics>,
}

impl Upstream {
    /// One client for all sources; connection pools are per host inside it.
    pub fn new(sources: &[SourceConfig], cache: &CacheSettings) -> Self {
        let http = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .build()
            .unwrap_or_default();
        let metrics = Arc::new(Metrics::new());
        let endpoints = sources
            .iter()
            .map(|source| {
                (
                    source.kind,
                    Arc::new(Endpoint {
                        base_url: source.base_url.clone(),
                        timeout: source.timeout,
                        limit: AdaptiveLimit::new(source.max_concurrent_requests),
                        sent: AtomicU64::new(0),
                        writes: AtomicU64::new(0),
                        retry: source.retry,
                        retry_tokens: std::sync::Mutex::new(RETRY_RESERVE),
                        retries: AtomicU64::new(0),
                        gauges: metrics.source(source.kind),
                    }),
                )
            })
            .collect();
        Self {
            http,
            endpoints,
            cache: Arc::new(ResponseCache::new(cache)),
            metrics,
        }
    }

    /// The gateway's metrics, which this layer feeds with every exchange.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The response cache.
    pub fn cache(&self) -> &ResponseCache {
        &self.cache
    }

    /// The fingerprint of a credential set, for keys of kept records.
    pub fn fingerprint(&self, credentials: &[Credential]) -> Fingerprint {
        self.cache
            .fingerprint(credentials.iter().flat_map(|credential| {
                let (name, secret): (&[u8], &Secret) = match credential {
                    Credential::Header(name, secret) => (name.as_str().as_bytes(), secret),
                    Credential::Query(name, secret) => (name.as_bytes(), secret),
                };
                [name, secret.expose().as_bytes()]
            }))
    }

    /// A kept record of `source` read with `credentials`, when current.
    pub async fn cached_record<T: Send + Sync + 'static>(
        &self,
        source: SourceKind,
        credentials: &Fingerprint,
        resource: Resource,
        id: &str,
    ) -> Option<Arc<T>> {
        self.cache
            .record(&CacheKey::record(source, credentials, resource, id))
            .await
    }

    /// Reads `request` (a GET) through the response cache: a kept answer
    /// when current, else one upstream request shared by every concurrent
    /// identical read, its answer made into a value by `parse` and kept for
    /// the `freshness` class's time to live (less when the upstream says so,
    /// nothing when it answered other than 2xx).
    pub async fn read<T, E, P>(
        &self,
        source: SourceKind,
        request: UpstreamRequest,
        freshness: Freshness,
        parse: P,
    ) -> Result<Arc<T>, E>
    where
        T: Send + Sync + 'static,
        E: From<UpstreamError> + Clone + Send + Sync + 'static,
        P: Fn(&UpstreamResponse) -> Result<Parsed<T>, E>,
    {
        let key = CacheKey::answer(
            source,
            self.fingerprint(&request.credentials),
            &request.path,
            request.query.clone(),
            request
                .headers
                .iter()
                .map(|(name, value)| (name.as_str().to_string(), value.clone()))
                .collect(),
        );
        self.read_keyed(source, key, request, freshness, parse)
            .await
    }

    /// Reads one record by id (a GET of `request`) through the response
    /// cache, under the record's own key: a copy of the record that arrived
    /// in any other answer serves it too. `parse` says `NotFound` (an error,
    /// so never kept) for a record the upstream does not know.
    pub async fn read_record<T, E, P>(
        &self,
        source: SourceKind,
        request: UpstreamRequest,
        resource: Resource,
        id: &str,
        freshness: Freshness,
        parse: P,
    ) -> Result<Arc<T>, E>
    where
        T: Send + Sync + 'static,
        E: From<UpstreamError> + Clone + Send + Sync + 'static,
        P: Fn(&UpstreamResponse) -> Result<Parsed<T>, E>,
    {
        let key = CacheKey::record(
            source,
            &self.fingerprint(&request.credentials),
            resource,
            id,
        );
        let parse = |response: &UpstreamResponse| {
            let mut parsed = parse(response)?;
            parsed.tags.push(Tag::record(resource, id));
            Ok(parsed)
        };
        self.read_keyed(source, key, request, freshness, parse)
            .await
    }

    async fn read_keyed<T, E, P>(
        &self,
        source: SourceKind,
        key: CacheKey,
        request: UpstreamRequest,
        freshness: Freshness,
        parse: P,
    ) -> Result<Arc<T>, E>
    where
        T: Send + Sync + 'static,
        E: From<UpstreamError> + Clone + Send + Sync + 'static,
        P: Fn(&UpstreamResponse) -> Result<Parsed<T>, E>,
    {
        let fetch = || {
            let request = request.clone();
            let parse = &parse;
            async move {
                let response = self.send(source, request).await?;
                let parsed = parse(&response)?;
                let directive = if (200..300).contains(&response.status) {
                    Directive::parse(response.cache_control.as_deref())
                } else {
                    Directive::NoStore
                };
                Ok::<_, E>(Fetched {
                    value: parsed.value,
                    tags: parsed.tags,
                    shares: parsed.shares,
                    weight: response
                        .body
                        .len()
                        .saturating_mul(crate::cache::ANSWER_WEIGHT_FACTOR),
                    directive,
                })
            }
        };
        self.cache.read(key, freshness, fetch).await
    }

    /// How many requests have been sent to `source` (for tests and metrics).
    pub fn sent_count(&self, source: SourceKind) -> u64 {
        self.endpoints
            .get(&source)
            .map_or(0, |endpoint| endpoint.sent.load(Ordering::Relaxed))
    }

    /// Changes whenever a write to `source` through this gateway has finished
    /// (or failed, or been abandoned). Data read while the value stayed the
    /// same reflects every earlier write made through the gateway; data read
    /// under an older value may not.
    pub fn write_generation(&self, source: SourceKind) -> u64 {
        self.endpoints
            .get(&source)
            .map_or(0, |endpoint| endpoint.writes.load(Ordering::Acquire))
    }

    /// The current limit on concurrent requests to `source`.
    pub fn concurrency_limit(&self, source: SourceKind) -> usize {
        self.endpoints
            .get(&source)
            .map_or(0, |endpoint| endpoint.limit.current())
    }

    /// How many retries have been sent to `source` (for tests and metrics).
    pub fn retry_count(&self, source: SourceKind) -> u64 {
        self.endpoints
            .get(&source)
            .map_or(0, |endpoint| endpoint.retries.load(Ordering::Relaxed))
    }

    /// Sends `request` to `source`, waiting for a concurrency permit first. The
    /// timeout covers each exchange, body included, but not the wait for a
    /// permit.
    ///
    /// A GET that failed to connect, broke off, or was answered 429, 502, 503
    /// or 504 is sent again after a backoff (or the upstream's `Retry-After`),
    /// at most `retry.max_retries` times and within the source's retry
    /// budget. Nothing else is retried: a write may have taken effect.
    pub async fn send(
        &self,
        source: SourceKind,
        request: UpstreamRequest,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let endpoint = self
            .endpoints
            .get(&source)
            .ok_or(UpstreamError::NotConfigured {
                source_kind: source,
            })?;
        if request.method != Method::GET {
            let outcome_unknown = |upstream_status| UpstreamError::OutcomeUnknown {
                source_kind: source,
                upstream_status,
            };
            return match self.send_once(endpoint, source, request).await {
                Err(
                    UpstreamError::Timeout { .. }
                    | UpstreamError::Interrupted { .. }
                    | UpstreamError::DeadlineExceeded { sent: true, .. },
                ) => Err(outcome_unknown(None)),
                Ok(response) if matches!(response.status, 502 | 504) => {
                    Err(outcome_unknown(Some(response.status)))
                }
                other => other,
            };
        }
        endpoint.deposit();
        let mut attempt = 0;
        loop {
            let result = self.send_once(endpoint, source, request.clone()).await;
            let asked_wait = match &result {
                Ok(response) if matches!(response.status, 429 | 502 | 503 | 504) => {
                    response.retry_after.map(Duration::from_secs)
                }
                Err(UpstreamError::Connect { .. } | UpstreamError::Interrupted { .. }) => None,
                _ => return result,
            };
            let wait = asked_wait.unwrap_or_else(|| endpoint.backoff(attempt));
            // A retry that could not be answered before the request's
            // deadline is not sent.
            let past_deadline = crate::cache::current_deadline()
                .is_some_and(|deadline| tokio::time::Instant::now() + wait >= deadline);
            let too_long =
                wait > Duration::from_millis(endpoint.retry.max_wait_ms) || past_deadline;
            if attempt >= endpoint.retry.max_retries || too_long || !endpoint.withdraw() {
                return result;
            }
            endpoint.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// One exchange of `request`.
    async fn send_once(
        &self,
        endpoint: &Arc<Endpoint>,
        source: SourceKind,
        request: UpstreamRequest,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let invalid = |message: String| UpstreamError::InvalidRequest {
            source_kind: source,
            message,
        };
        let url = format!("{}{}", endpoint.base_url, request.path);
        let (method, route) = (request.method.clone(), request.route);
        let is_write = !matches!(request.method, Method::GET | Method::HEAD);
        let write_mark = is_write.then(|| WriteMark {
            endpoint: Arc::clone(endpoint),
            cache: Arc::clone(&self.cache),
            source,
            changes: request.changes,
        });
        let mut query = request.query;
        let mut builder = self.http.request(request.method, &url);
        for credential in &request.credentials {
            match credential {
                Credential::Header(name, secret) => {
                    let mut value = HeaderValue::from_str(secret.expose()).map_err(|_| {
                        invalid(format!(
                            "credential header `{name}` has forbidden characters"
                        ))
                    })?;
                    value.set_sensitive(true);
                    builder = builder.header(name.clone(), value);
                }
                Credential::Query(name, secret) => {
                    query.push(((*name).to_string(), secret.expose().to_string()));
                }
            }
        }
        for (name, value) in request.headers {
            let value = HeaderValue::from_str(&value)
                .map_err(|_| invalid(format!("header `{name}` has forbidden characters")))?;
            builder = builder.header(name, value);
        }
        if !query.is_empty() {
            builder = builder.query(&query);
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        // The exchange runs as its own task, so that a caller busy with the
        // answers already in (parsing them, say) never holds back the requests
        // waiting for a permit: each is sent the moment a permit frees.
        // At debug level, as the request's span.
        let span = tracing::debug_span!(
            "upstream",
            otel.name = route,
            otel.kind = "client",
            source = source.as_str(),
            http.request.method = crate::telemetry::metrics::method_label(&method),
            http.route = route,
            http.response.status_code = tracing::field::Empty,
        );
        if let Some(headers) = crate::telemetry::otel::trace_headers(&span) {
            builder = builder.headers(headers);
        }
        // Read here: the exchange runs as a task of its own, outside the
        // request's scope.
        let deadline = crate::cache::current_deadline();
        let exchange = tokio::spawn(
            exchange(
                Arc::clone(endpoint),
                Arc::clone(&self.metrics),
                Described {
                    source,
                    method,
                    route,
                },
                builder,
                write_mark,
                deadline,
            )
            .instrument(span),
        );
        let mut exchange = Exchange(exchange);
        match (&mut exchange.0).await {
            Ok(result) => result,
            // The task is never aborted while awaited and does not panic;
            // should it, the answer is lost like a broken connection.
            Err(_) => Err(UpstreamError::Interrupted {
                source_kind: source,
            }),
        }
    }
}

/// What metrics and logs say of an exchange: never its URL.
struct Described {
    source: SourceKind,
    method: Method,
    route: &'static str,
}

/// Waits for a permit, then sends the request and reads the whole answer
/// within the source's timeout, and the request's deadline when it has one.
async fn exchange(
    endpoint: Arc<Endpoint>,
    metrics: Arc<Metrics>,
    described: Described,
    builder: reqwest::RequestBuilder,
    write_mark: Option<WriteMark>,
    deadline: Option<tokio::time::Instant>,
) -> Result<UpstreamResponse, UpstreamError> {
    let source = described.source;
    let waiting = endpoint.gauges.waiting();
    let deadline_exceeded = |sent| UpstreamError::DeadlineExceeded {
        source_kind: source,
        sent,
    };
    // A closed semaphore is impossible (it is never closed), but map it anyway.
    let acquire = endpoint.limit.acquire();
    let acquired = match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, acquire)
            .await
            .map_err(|_| deadline_exceeded(false))?,
        None => acquire.await,
    };
    let permit = acquired.map_err(|_| UpstreamError::Connect {
        source_kind: source,
    })?;
    drop(waiting);
    let in_flight = endpoint.gauges.in_flight();
    let started = std::time::Instant::now();
    endpoint.sent.fetch_add(1, Ordering::Relaxed);
    // Dropped when the exchange ends or is aborted, whatever its outcome.
    let _write_mark = write_mark;
    // The source's timeout, or less when the request's deadline is nearer.
    let now = tokio::time::Instant::now();
    let (timeout, deadline_binds) = match deadline {
        Some(deadline) if deadline.saturating_duration_since(now) < endpoint.timeout => {
            (deadline.saturating_duration_since(now), true)
        }
        _ => (endpoint.timeout, false),
    };
    let exchange = async {
        let response = builder
            .send()
            .await
            .map_err(|error| classify(source, timeout, &error))?;
        let status = response.status().as_u16();
        let headers = response.headers();
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let cache_control = headers
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response
            .bytes()
            .await
            .map_err(|_| UpstreamError::Interrupted {
                source_kind: source,
            })?;
        Ok(UpstreamResponse {
            status,
            retry_after,
            content_type,
            cache_control,
            body,
        })
    };
    let result = match tokio::time::timeout(timeout, exchange).await {
        Ok(result) => result,
        Err(_) if deadline_binds => Err(deadline_exceeded(true)),
        Err(_) => Err(UpstreamError::Timeout {
            source_kind: source,
            timeout_ms: timeout.as_millis(),
        }),
    };
    let elapsed = started.elapsed();
    permit.record(match &result {
        Ok(response) if matches!(response.status, 429 | 503) => Outcome::Overloaded,
        Ok(_) => Outcome::Answered(elapsed),
        Err(UpstreamError::Timeout { .. }) => Outcome::Overloaded,
        Err(_) => Outcome::Ignored,
    });
    metrics.upstream_exchange(
        source,
        &described.method,
        described.route,
        status_class(&result),
        elapsed,
    );
    crate::telemetry::exchange_ended(source, &described.method, described.route, &result, elapsed);
    drop(in_flight);
    // The request waiting for this permit runs next on this worker; the
    // caller, who will spend a while on the answer, is woken after it.
    drop(permit);
    tokio::task::yield_now().await;
    result
}

/// Maps a reqwest error without looking at its URL (which may hold a key).
fn classify(source: SourceKind, timeout: Duration, error: &reqwest::Error) -> UpstreamError {
    if error.is_timeout() {
        UpstreamError::Timeout {
            source_kind: source,
            timeout_ms: timeout.as_millis(),
        }
    } else if error.is_connect() {
        UpstreamError::Connect {
            source_kind: source,
        }
    } else {
        UpstreamError::Interrupted {
            source_kind: source,
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::mpsc;

    use super::*;
    use crate::config::SourceCredentials;

    /// A loopback upstream that never answers its first connection and
    /// answers `200 {}` on every later one. Reports each accepted connection.
    async fn upstream_that_hangs_once() -> (String, mpsc::UnboundedReceiver<usize>) {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (accepted, connections) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut held = Vec::new();
            for n in 0.. {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let _ = accepted.send(n);
                if n == 0 {
                    held.push(stream);
                    continue;
                }
                tokio::spawn(async move {
                    answer_each_request(&mut stream).await;
                });
            }
        });
        (format!("http://{address}"), connections)
    }

    async fn answer_each_request(stream: &mut TcpStream) {
        let mut buffer = vec![0u8; 8192];
        let mut seen = Vec::new();
        loop {
            let Ok(read) = stream.read(&mut buffer).await else {
                return;
            };
            if read == 0 {
                return;
            }
            seen.extend_from_slice(&buffer[..read]);
            // Requests here carry no body (or a small one sent with the head).
            if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                seen.drain(..end + 4);
                let answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                if stream.write_all(answer).await.is_err() {
                    return;
                }
                seen.clear();
            }
        }
    }

    fn upstream(base_url: String, max_concurrent_requests: usize) -> Upstream {
        Upstream::new(
            &[SourceConfig {
                kind: SourceKind::Winnerr,
                base_url,
                timeout: Duration::from_secs(30),
                max_concurrent_requests,
                retry: crate::config::RetrySettings::default(),
                credentials: SourceCredentials::Winnerr {
                    token: Secret::new("t"),
                },
            }],
            &CacheSettings::default(),
        )
    }

    #[tokio::test]
    async fn a_request_abandoned_by_its_caller_frees_its_permit() {
        let (base_url, mut connections) = upstream_that_hangs_once().await;
        let upstream = Arc::new(upstream(base_url, 1));
        let hanging = {
            let upstream = Arc::clone(&upstream);
            tokio::spawn(async move {
                upstream
                    .send(SourceKind::Winnerr, UpstreamRequest::new(Method::GET, "/a"))
                    .await
            })
        };
        assert_eq!(connections.recv().await, Some(0));
        hanging.abort();
        let answer = tokio::time::timeout(
            Duration::from_secs(10),
            upstream.send(SourceKind::Winnerr, UpstreamRequest::new(Method::GET, "/b")),
        )
        .await
        .expect("the abandoned request's permit came back")
        .expect("answered");
        assert_eq!(answer.status, 200);
        assert_eq!(upstream.sent_count(SourceKind::Winnerr), 2);
    }

    #[tokio::test]
    async fn an_abandoned_write_counts_as_a_write() {
        let (base_url, mut connections) = upstream_that_hangs_once().await;
        let upstream = Arc::new(upstream(base_url, 4));
        let before = upstream.write_generation(SourceKind::Winnerr);
        let hanging = {
            let upstream = Arc::clone(&upstream);
            tokio::spawn(async move {
                upstream
                    .send(
                        SourceKind::Winnerr,
                        UpstreamRequest::new(Method::POST, "/a").json(serde_json::json!({})),
                    )
                    .await
            })
        };
        assert_eq!(connections.recv().await, Some(0));
        assert_eq!(upstream.write_generation(SourceKind::Winnerr), before);
        hanging.abort();
        assert!(hanging.await.expect_err("aborted").is_cancelled());
        // The exchange task is cancelled in turn, which counts the write.
        tokio::time::timeout(Duration::from_secs(10), async {
            while upstream.write_generation(SourceKind::Winnerr) == before {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the abandoned write is counted");
        assert_eq!(upstream.write_generation(SourceKind::Winnerr), before + 1);
    }

    fn endpoint(retry: RetrySettings) -> Endpoint {
        Endpoint {
            base_url: String::new(),
            timeout: Duration::from_secs(1),
            limit: AdaptiveLimit::new(1),
            sent: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            retry,
            retry_tokens: std::sync::Mutex::new(RETRY_RESERVE),
            retries: AtomicU64::new(0),
            gauges: Metrics::new().source(SourceKind::Winnerr),
        }
    }

    #[test]
    fn the_retry_budget_allows_the_reserve_then_a_share_of_reads() {
        let endpoint = endpoint(RetrySettings {
            budget_ratio: 0.5,
            ..RetrySettings::default()
        });
        for _ in 0..10 {
            assert!(endpoint.withdraw());
        }
        assert!(!endpoint.withdraw(), "the reserve is spent");
        endpoint.deposit();
        assert!(!endpoint.withdraw(), "half a read buys no retry");
        endpoint.deposit();
        assert!(endpoint.withdraw(), "two reads buy one");
    }

    #[test]
    fn backoff_is_jittered_below_a_doubling_ceiling_and_the_longest_wait() {
        let endpoint = endpoint(RetrySettings {
            backoff_ms: 10,
            max_wait_ms: 50,
            ..RetrySettings::default()
        });
        for attempt in 0..20 {
            let ceiling = (10u64 << attempt.min(16)).min(50);
            for _ in 0..50 {
                assert!(endpoint.backoff(attempt) <= Duration::from_millis(ceiling));
            }
        }
        let waits: std::collections::HashSet<Duration> =
            (0..50).map(|_| endpoint.backoff(3)).collect();
        assert!(waits.len() > 1, "the waits are not spread");
    }
}
