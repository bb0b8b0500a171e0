//! Typed gateway configuration: a TOML file, then environment overrides.
//!
//! Credentials never sit in the file: each source section names the
//! environment variables that hold them, and they are read once at start into
//! [`Secret`]s, which do not print.
//!
//! `gateway.example.toml`, at the top of the repository, is a complete
//! configuration with every key written out and documented; a test parses it,
//! so it always matches these types. `contact-gateway check --config FILE`
//! validates a file as `serve` would, without serving.
//!
//! Environment overrides: `CONTACT_GATEWAY_LISTEN`, and per source
//! `CONTACT_GATEWAY_<SOURCE>_BASE_URL`, `..._TIMEOUT_MS` and
//! `..._MAX_CONCURRENT_REQUESTS` (`<SOURCE>` is `OPENTOCLOSE`, `DJANGOCRM`,
//! `WINNERR` or `SPARK`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

pub use crate::auth::config::{AuthConfig, AuthMode, PrincipalConfig, RateLimit};
use crate::auth::config::{AuthFile, ForwardFile};
use crate::domain::SourceKind;
use crate::edge::trusted::{TrustedDocuments, TrustedDocumentsError};

/// A credential. Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl ToString) -> Self {
        Self(value.to_string())
    }

    /// The value, for the one place that puts it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Configuration errors, reported at start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema (unknown keys included).
    #[error("invalid config file {path}: {message}")]
    Parse { path: String, message: String },
    /// A credential's environment variable is unset or empty.
    #[error("source `{source_name}`: environment variable `{variable}` is not set")]
    MissingEnv {
        source_name: &'static str,
        variable: String,
    },
    /// An environment override has a value of the wrong form.
    #[error("environment variable `{variable}` is invalid: {message}")]
    BadEnv { variable: String, message: String },
    /// A value is out of its allowed range.
    #[error("{0}")]
    Invalid(String),
    /// The trusted documents manifest is missing or malformed.
    #[error("operations.trusted_documents = {path}: {source}")]
    TrustedDocuments {
        path: String,
        source: TrustedDocumentsError,
    },
    /// No `[sources.*]` section: the gateway would answer every list with
    /// nothing, which looks like a working gateway over empty upstreams.
    #[error(
        "{path}: no source is configured; add at least one of [sources.opentoclose], \
         [sources.djangocrm], [sources.winnerr] or [sources.spark]"
    )]
    NoSources { path: String },
    /// No `[auth]` section: whether callers need a key must be written
    /// down, so that no gateway is open by omission.
    #[error(
        "{path}: no [auth] section; add one with principals and their key hashes \
         (`contact-gateway keys new NAME` prints a key and the lines to add), or write \
         [auth] mode = \"open\" to let any caller use the gateway's credentials"
    )]
    NoAuth { path: String },
    /// A principal's credential variable is unset or empty.
    #[error("principal `{principal}`: environment variable `{variable}` is not set")]
    MissingPrincipalEnv { principal: String, variable: String },
}

/// The configuration as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub loaders: LoaderSettings,
    #[serde(default)]
    pub cache: CacheSettings,
    #[serde(default)]
    pub sources: SourcesFile,
    #[serde(default)]
    pub cors: CorsSettings,
    #[serde(default)]
    pub csrf: CsrfSettings,
    #[serde(default)]
    pub operations: OperationSettings,
    #[serde(default)]
    pub graphql: GraphqlSettings,
    #[serde(default)]
    pub readiness: ReadinessSettings,
    /// Who may call the gateway. Required: a file without it is refused,
    /// so that a gateway is never open by omission.
    pub auth: Option<AuthFile>,
    #[serde(default)]
    pub telemetry: crate::telemetry::TelemetrySettings,
}

/// How the per-request dataloaders batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoaderSettings {
    /// `false` turns batching and per-request memoisation off: every resolver
    /// makes its own upstream call. Only useful as a baseline for benchmarks.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// How long a loader waits for more keys before it sends a batch, in
    /// microseconds. With 0 the batch goes out as soon as the resolver that
    /// asked for the first key yields: the batch task is spawned from that
    /// resolver's worker, and tokio runs such a task next on the same worker,
    /// so the keys its sibling resolvers ask for in the same pass join it.
    #[serde(default)]
    pub batch_delay_us: u64,
}

fn default_true() -> bool {
    true
}

impl Default for LoaderSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            batch_delay_us: 0,
        }
    }
}

/// The response cache (`[cache]`): what it may hold and for how long.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    /// `false` sends every read upstream and keeps nothing between requests,
    /// sorted lists included. Only useful as a benchmark baseline.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The most bytes all entries together may weigh (an estimate of the
    /// memory they hold); the least recently useful entries go first.
    #[serde(default = "default_cache_max_bytes")]
    pub max_bytes: u64,
    /// Times to live by resource, for every source.
    #[serde(default)]
    pub ttl_ms: TtlTable,
    /// Times to live by resource for one source, over `ttl_ms`.
    #[serde(default)]
    pub sources: CacheSources,
}

fn default_cache_max_bytes() -> u64 {
    64 * 1024 * 1024
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            max_bytes: default_cache_max_bytes(),
            ttl_ms: TtlTable::default(),
            sources: CacheSources::default(),
        }
    }
}

/// Times to live in milliseconds by resource; an unset one falls back to
/// the table above it, then to the built-in default. 0 keeps nothing of
/// that resource (concurrent identical reads still share one request).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TtlTable {
    /// One contact, read by id or shared from any answer that held it.
    pub contact: Option<u64>,
    /// A page of a contact list, and a whole list sorted by the gateway.
    pub contact_list: Option<u64>,
    /// One property.
    pub property: Option<u64>,
    /// A page of the property list.
    pub property_list: Option<u64>,
    /// The contacts linked to one property.
    pub property_links: Option<u64>,
    /// The activities of one contact.
    pub activities: Option<u64>,
    /// The signed-in user's own contact (Spark's `/my/contact`).
    pub my_contact: Option<u64>,
}

/// The `[cache.sources.*]` sections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSources {
    pub opentoclose: Option<SourceCacheSettings>,
    pub djangocrm: Option<SourceCacheSettings>,
    pub winnerr: Option<SourceCacheSettings>,
    pub spark: Option<SourceCacheSettings>,
}

impl CacheSources {
    /// The section of `kind`, when written.
    pub fn of(&self, kind: SourceKind) -> Option<&SourceCacheSettings> {
        match kind {
            SourceKind::OpenToClose => self.opentoclose.as_ref(),
            SourceKind::DjangoCrm => self.djangocrm.as_ref(),
            SourceKind::Winnerr => self.winnerr.as_ref(),
            SourceKind::Spark => self.spark.as_ref(),
        }
    }
}

/// One source's cache settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceCacheSettings {
    #[serde(default)]
    pub ttl_ms: TtlTable,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4000))
}

/// Request limits the gateway enforces.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest `first`/`last` a connection accepts.
    #[serde(default = "default_max_page_size")]
    pub max_page_size: usize,
    /// Deepest query accepted.
    #[serde(default = "default_max_depth")]
    pub max_query_depth: usize,
    /// Most complex query accepted (async-graphql's complexity measure).
    #[serde(default = "default_max_complexity")]
    pub max_query_complexity: usize,
    /// Largest request body, in bytes; a larger one is refused while it is
    /// read, so it is never held whole.
    #[serde(default = "default_max_request_body_bytes")]
    pub max_request_body_bytes: usize,
    /// Longest query text, in bytes.
    #[serde(default = "default_max_query_bytes")]
    pub max_query_bytes: usize,
    /// Most lexical tokens in the query text (names, punctuation, values).
    #[serde(default = "default_max_query_tokens")]
    pub max_query_tokens: usize,
    /// Most aliased fields in one operation, fragments expanded.
    #[serde(default = "default_max_aliases")]
    pub max_aliases: usize,
    /// Most fields selected at an operation's root, fragments expanded.
    #[serde(default = "default_max_root_fields")]
    pub max_root_fields: usize,
    /// Most directives on one field, fragment spread or inline fragment.
    #[serde(default = "default_max_directives_per_field")]
    pub max_directives_per_field: usize,
    /// Most selections (fields, fragment spreads, inline fragments) the
    /// document's operations make once every fragment is expanded where it
    /// is spread; counting stops at this number, so a document whose
    /// expansion is exponential costs no more than this to refuse.
    #[serde(default = "default_max_selections")]
    pub max_selections: usize,
    /// Most upstream requests one GraphQL request may be estimated to send
    /// to any one source; a request estimated above it is refused with
    /// `UPSTREAM_BUDGET_EXCEEDED` before any upstream call.
    #[serde(default = "default_max_upstream_requests")]
    pub max_upstream_requests: u64,
    /// Every request's deadline, in milliseconds: an upstream that has not
    /// answered by then fails its fields with `DEADLINE_EXCEEDED`, and the
    /// rest of the answer is sent. A client may ask for less with the
    /// `X-Request-Timeout` header (milliseconds), never for more. Each
    /// source's own timeout still applies within it.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// The most records the estimate assumes a source's list (or Open To
    /// Close's properties) can hold, for lists the gateway reads whole.
    #[serde(default = "default_estimate_list_size")]
    pub estimate_list_size: u64,
}

fn default_max_request_body_bytes() -> usize {
    1024 * 1024
}
fn default_max_query_bytes() -> usize {
    32 * 1024
}
fn default_max_query_tokens() -> usize {
    2000
}
fn default_max_aliases() -> usize {
    30
}
fn default_max_root_fields() -> usize {
    20
}
fn default_max_directives_per_field() -> usize {
    4
}
fn default_max_selections() -> usize {
    1000
}
fn default_max_upstream_requests() -> u64 {
    60
}
fn default_request_timeout_ms() -> u64 {
    30_000
}
fn default_estimate_list_size() -> u64 {
    1000
}

/// Which web origins may call the gateway from a browser (`[cors]`).
/// Nothing is allowed unless listed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsSettings {
    /// Exact origins (`https://app.example.com`) allowed to call.
    #[serde(default)]
    pub allow_origins: Vec<String>,
    /// Also allow any `http://localhost:*`, `http://127.0.0.1:*` and
    /// `http://[::1]:*` origin (front-end dev servers); the demo sets it.
    #[serde(default)]
    pub allow_loopback_origins: bool,
    /// Methods a preflight may ask for.
    #[serde(default = "default_cors_methods")]
    pub allow_methods: Vec<String>,
    /// Request headers a preflight may ask for, besides the CSRF headers,
    /// which are always allowed.
    #[serde(default = "default_cors_headers")]
    pub allow_headers: Vec<String>,
    /// Whether a browser may send cookies and credentials.
    #[serde(default)]
    pub allow_credentials: bool,
    /// How long a browser may cache a preflight answer, in seconds.
    #[serde(default = "default_cors_max_age_secs")]
    pub max_age_secs: u64,
}

fn default_cors_methods() -> Vec<String> {
    vec!["GET".into(), "POST".into()]
}
fn default_cors_headers() -> Vec<String> {
    vec![
        "content-type".into(),
        "accept".into(),
        "authorization".into(),
        // Reading afresh and the cache report (the CSRF headers and the
        // cost dry run are always allowed).
        "cache-control".into(),
        "x-cache-debug".into(),
    ]
}
fn default_cors_max_age_secs() -> u64 {
    600
}

impl Default for CorsSettings {
    fn default() -> Self {
        Self {
            allow_origins: Vec::new(),
            allow_loopback_origins: false,
            allow_methods: default_cors_methods(),
            allow_headers: default_cors_headers(),
            allow_credentials: false,
            max_age_secs: default_cors_max_age_secs(),
        }
    }
}

/// Cross-site request forgery prevention (`[csrf]`): a request a browser
/// could send cross-site without a preflight (a GET, or a POST with a
/// form or text content type) is refused unless it carries one of these
/// headers, which a cross-site page cannot add without a preflight.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsrfSettings {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Header names, any one of which marks a request as not cross-site.
    #[serde(default = "default_csrf_headers")]
    pub required_headers: Vec<String>,
}

fn default_csrf_headers() -> Vec<String> {
    vec![
        "x-graphql-csrf".into(),
        "apollo-require-preflight".into(),
        "x-apollo-operation-name".into(),
    ]
}

impl Default for CsrfSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            required_headers: default_csrf_headers(),
        }
    }
}

/// Persisted operations (`[operations]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationSettings {
    /// Automatic persisted queries (Apollo's protocol): once the gateway has
    /// seen a query with its SHA-256, a client may send the hash alone.
    #[serde(default = "default_true")]
    pub automatic_persisted_queries: bool,
    /// How many queries the automatic persisted query store keeps (least
    /// recently used first out).
    #[serde(default = "default_apq_capacity")]
    pub automatic_persisted_queries_capacity: usize,
    /// The manifest of trusted documents (GraphQL Code Generator's
    /// `persisted-documents.json`), relative to the configuration file.
    /// Its operations can be run by hash (`documentId` or
    /// `extensions.persistedQuery.sha256Hash`).
    #[serde(default)]
    pub trusted_documents: Option<PathBuf>,
    /// Whether only the manifest's operations run; anything else is
    /// refused with `OPERATION_NOT_TRUSTED`. Needs `trusted_documents`.
    #[serde(default)]
    pub only_trusted: bool,
    /// The manifest, read and checked at start from `trusted_documents`.
    #[serde(skip)]
    pub trusted: Option<Arc<TrustedDocuments>>,
}

fn default_apq_capacity() -> usize {
    1000
}

impl Default for OperationSettings {
    fn default() -> Self {
        Self {
            automatic_persisted_queries: true,
            automatic_persisted_queries_capacity: default_apq_capacity(),
            trusted_documents: None,
            only_trusted: false,
            trusted: None,
        }
    }
}

/// The GraphQL endpoint (`[graphql]`): its developer conveniences, both off
/// unless switched on, as a public endpoint should have them, and the memory
/// for parsed documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphqlSettings {
    /// Answer introspection queries (`__schema`, `__type`).
    #[serde(default)]
    pub introspection: bool,
    /// Serve GraphiQL to a browser that opens `/graphql`.
    #[serde(default)]
    pub graphiql: bool,
    /// Memory for parsed and validated documents kept by query text, so a
    /// query sent again is not parsed again (0 keeps none).
    #[serde(default = "default_document_cache_max_bytes")]
    pub document_cache_max_bytes: u64,
}

fn default_document_cache_max_bytes() -> u64 {
    8 * 1024 * 1024
}

impl Default for GraphqlSettings {
    fn default() -> Self {
        Self {
            introspection: false,
            graphiql: false,
            document_cache_max_bytes: default_document_cache_max_bytes(),
        }
    }
}

/// When `/readyz` says ready (`[readiness]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadinessSettings {
    /// Send each source a cheap read at start (a list of one record) and
    /// report not ready until every source has answered it once; off,
    /// `/readyz` is ready as soon as sources are configured.
    #[serde(default = "default_probe")]
    pub probe: bool,
    /// How long to wait before probing a source that did not answer again.
    #[serde(default = "default_probe_interval_ms")]
    pub probe_interval_ms: u64,
}

fn default_probe() -> bool {
    true
}

fn default_probe_interval_ms() -> u64 {
    1000
}

impl Default for ReadinessSettings {
    fn default() -> Self {
        Self {
            probe: default_probe(),
            probe_interval_ms: default_probe_interval_ms(),
        }
    }
}

fn default_max_page_size() -> usize {
    100
}
fn default_max_depth() -> usize {
    16
}
fn default_max_complexity() -> usize {
    5000
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_page_size: default_max_page_size(),
            max_query_depth: default_max_depth(),
            max_query_complexity: default_max_complexity(),
            max_request_body_bytes: default_max_request_body_bytes(),
            max_query_bytes: default_max_query_bytes(),
            max_query_tokens: default_max_query_tokens(),
            max_aliases: default_max_aliases(),
            max_root_fields: default_max_root_fields(),
            max_directives_per_field: default_max_directives_per_field(),
            max_selections: default_max_selections(),
            max_upstream_requests: default_max_upstream_requests(),
            request_timeout_ms: default_request_timeout_ms(),
            estimate_list_size: default_estimate_list_size(),
        }
    }
}

/// The `[sources.*]` sections; each is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesFile {
    pub opentoclose: Option<OpenToCloseFile>,
    pub djangocrm: Option<DjangoCrmFile>,
    pub winnerr: Option<WinnerrFile>,
    pub spark: Option<SparkFile>,
}

/// Settings every source section has.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transport {
    pub base_url: String,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "default_concurrency")]
    pub max_concurrent_requests: usize,
    /// How reads that failed in a way worth trying again are retried.
    #[serde(default)]
    pub retry: RetrySettings,
}

/// Retries of reads (`[sources.*.retry]`). Only GETs are retried, and only
/// after a connection failure, a broken answer, or a 429, 502, 503 or 504.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySettings {
    /// Attempts after the first; 0 turns retries off.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// The first backoff's upper bound; each retry doubles it, and the wait
    /// is drawn uniformly below it (full jitter).
    #[serde(default = "default_retry_backoff_ms")]
    pub backoff_ms: u64,
    /// The longest wait before a retry, a `Retry-After` included: an
    /// upstream that asks for longer gets its answer passed on instead.
    #[serde(default = "default_retry_max_wait_ms")]
    pub max_wait_ms: u64,
    /// Retries may be at most this share of recent requests (plus a small
    /// reserve), so that a struggling upstream is not sent more work.
    #[serde(default = "default_retry_budget_ratio")]
    pub budget_ratio: f64,
}

fn default_max_retries() -> u32 {
    2
}
fn default_retry_backoff_ms() -> u64 {
    25
}
fn default_retry_max_wait_ms() -> u64 {
    1_000
}
fn default_retry_budget_ratio() -> f64 {
    0.2
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            max_retries: default_max_retries(),
            backoff_ms: default_retry_backoff_ms(),
            max_wait_ms: default_retry_max_wait_ms(),
            budget_ratio: default_retry_budget_ratio(),
        }
    }
}

fn default_timeout_ms() -> u64 {
    10_000
}
fn default_concurrency() -> usize {
    128
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenToCloseFile {
    #[serde(flatten)]
    pub transport: Transport,
    pub api_token_env: String,
    /// Take the `api_token` from a request header, when a request has it.
    pub forward: Option<ForwardFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DjangoCrmFile {
    #[serde(flatten)]
    pub transport: Transport,
    pub token_env: String,
    pub organization_id_env: String,
    /// Take the token, the organization id or both from request headers.
    pub forward: Option<ForwardFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WinnerrFile {
    #[serde(flatten)]
    pub transport: Transport,
    pub token_env: String,
    /// Take the token from a request header, when a request has it.
    pub forward: Option<ForwardFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparkFile {
    #[serde(flatten)]
    pub transport: Transport,
    pub token_env: String,
    pub user_agent: String,
    /// Take the token from a request header, when a request has it.
    pub forward: Option<ForwardFile>,
}

/// The configuration the gateway runs with: overrides applied, secrets read.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub listen: SocketAddr,
    pub limits: Limits,
    pub loaders: LoaderSettings,
    pub cache: CacheSettings,
    pub sources: Vec<SourceConfig>,
    pub cors: CorsSettings,
    pub csrf: CsrfSettings,
    pub operations: OperationSettings,
    pub graphql: GraphqlSettings,
    pub readiness: ReadinessSettings,
    /// Callers: keys, principals, and credentials forwarded from requests.
    pub auth: AuthConfig,
    pub telemetry: crate::telemetry::TelemetrySettings,
}

/// One configured source, ready to use.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub kind: SourceKind,
    pub base_url: String,
    pub timeout: Duration,
    pub max_concurrent_requests: usize,
    pub retry: RetrySettings,
    pub credentials: SourceCredentials,
}

/// The credentials of one source.
#[derive(Debug, Clone)]
pub enum SourceCredentials {
    OpenToClose {
        api_token: Secret,
    },
    DjangoCrm {
        token: Secret,
        organization_id: Secret,
    },
    Winnerr {
        token: Secret,
    },
    Spark {
        token: Secret,
        user_agent: String,
    },
}

impl GatewayConfig {
    /// Reads `path`, applies the process environment, and reads the secrets.
    pub fn load(path: &Path) -> Result<GatewayConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let env: HashMap<String, String> = std::env::vars().collect();
        Self::from_toml(&text, &path.display().to_string(), &env)
    }

    /// [`GatewayConfig::load`] on text and an explicit environment (for tests).
    pub fn from_toml(
        text: &str,
        path: &str,
        env: &HashMap<String, String>,
    ) -> Result<GatewayConfig, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|error| ConfigError::Parse {
            path: path.to_string(),
            message: error.to_string(),
        })?;
        Self::resolve(file, path, env)
    }

    fn resolve(
        mut file: FileConfig,
        path: &str,
        env: &HashMap<String, String>,
    ) -> Result<GatewayConfig, ConfigError> {
        let mut listen = file.listen;
        if let Some(value) = env.get("CONTACT_GATEWAY_LISTEN") {
            listen = value.parse().map_err(|_| ConfigError::BadEnv {
                variable: "CONTACT_GATEWAY_LISTEN".into(),
                message: format!("`{value}` is not a socket address"),
            })?;
        }
        let secret = |source_name: &'static str, variable: &str| {
            env.get(variable)
                .filter(|value| !value.is_empty())
                .map(|value| Secret::new(value.clone()))
                .ok_or_else(|| ConfigError::MissingEnv {
                    source_name,
                    variable: variable.to_string(),
                })
        };
        // Checked before any secret is read, so a file without sources gets
        // this error rather than one about an environment variable.
        if file.sources.opentoclose.is_none()
            && file.sources.djangocrm.is_none()
            && file.sources.winnerr.is_none()
            && file.sources.spark.is_none()
        {
            return Err(ConfigError::NoSources {
                path: path.to_string(),
            });
        }
        let mut sources = Vec::new();
        let mut forwards = Vec::new();
        if let Some(s) = file.sources.opentoclose {
            forwards.extend(s.forward.map(|f| (SourceKind::OpenToClose, f)));
            let credentials = SourceCredentials::OpenToClose {
                api_token: secret("opentoclose", &s.api_token_env)?,
            };
            sources.push(source(
                SourceKind::OpenToClose,
                s.transport,
                credentials,
                env,
            )?);
        }
        if let Some(s) = file.sources.djangocrm {
            forwards.extend(s.forward.map(|f| (SourceKind::DjangoCrm, f)));
            let credentials = SourceCredentials::DjangoCrm {
                token: secret("djangocrm", &s.token_env)?,
                organization_id: secret("djangocrm", &s.organization_id_env)?,
            };
            sources.push(source(
                SourceKind::DjangoCrm,
                s.transport,
                credentials,
                env,
            )?);
        }
        if let Some(s) = file.sources.winnerr {
            forwards.extend(s.forward.map(|f| (SourceKind::Winnerr, f)));
            let credentials = SourceCredentials::Winnerr {
                token: secret("winnerr", &s.token_env)?,
            };
            sources.push(source(SourceKind::Winnerr, s.transport, credentials, env)?);
        }
        if let Some(s) = file.sources.spark {
            forwards.extend(s.forward.map(|f| (SourceKind::Spark, f)));
            let credentials = SourceCredentials::Spark {
                token: secret("spark", &s.token_env)?,
                user_agent: s.user_agent,
            };
            sources.push(source(SourceKind::Spark, s.transport, credentials, env)?);
        }
        let auth = crate::auth::config::resolve(file.auth, forwards, &sources, path, env)?;
        if file.limits.max_page_size == 0 {
            return Err(ConfigError::Invalid(
                "limits.max_page_size must be at least 1".into(),
            ));
        }
        if file.cors.allow_credentials && file.cors.allow_origins.iter().any(|o| o == "*") {
            return Err(ConfigError::Invalid(
                "cors: allow_origins = [\"*\"] cannot be combined with allow_credentials".into(),
            ));
        }
        if file.operations.automatic_persisted_queries_capacity == 0 {
            return Err(ConfigError::Invalid(
                "operations.automatic_persisted_queries_capacity must be at least 1".into(),
            ));
        }
        if file.operations.only_trusted && file.operations.trusted_documents.is_none() {
            return Err(ConfigError::Invalid(
                "operations.only_trusted needs operations.trusted_documents, the manifest of the operations to allow".into(),
            ));
        }
        if let Some(manifest) = &file.operations.trusted_documents {
            let directory = Path::new(path).parent().unwrap_or(Path::new(""));
            let manifest = directory.join(manifest);
            let trusted = TrustedDocuments::load(&manifest).map_err(|source| {
                ConfigError::TrustedDocuments {
                    path: manifest.display().to_string(),
                    source,
                }
            })?;
            file.operations.trusted = Some(Arc::new(trusted));
        }
        Ok(GatewayConfig {
            listen,
            limits: file.limits,
            loaders: file.loaders,
            cache: file.cache,
            sources,
            cors: file.cors,
            csrf: file.csrf,
            operations: file.operations,
            graphql: file.graphql,
            readiness: file.readiness,
            auth,
            telemetry: file.telemetry,
        })
    }
}

fn source(
    kind: SourceKind,
    mut transport: Transport,
    credentials: SourceCredentials,
    env: &HashMap<String, String>,
) -> Result<SourceConfig, ConfigError> {
    let prefix = format!("CONTACT_GATEWAY_{}_", kind.as_str().to_uppercase());
    if let Some(value) = env.get(&format!("{prefix}BASE_URL")) {
        transport.base_url = value.clone();
    }
    let number = |name: &str| -> Result<Option<u64>, ConfigError> {
        let variable = format!("{prefix}{name}");
        env.get(&variable)
            .map(|value| {
                value.parse().map_err(|_| ConfigError::BadEnv {
                    variable: variable.clone(),
                    message: format!("`{value}` is not a whole number"),
                })
            })
            .transpose()
    };
    if let Some(value) = number("TIMEOUT_MS")? {
        transport.timeout_ms = value;
    }
    if let Some(value) = number("MAX_CONCURRENT_REQUESTS")? {
        transport.max_concurrent_requests = value as usize;
    }
    let base_url = transport.base_url.trim_end_matches('/').to_string();
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(ConfigError::Invalid(format!(
            "sources.{kind}.base_url must start with http:// or https://"
        )));
    }
    if !(0.0..=1.0).contains(&transport.retry.budget_ratio) {
        return Err(ConfigError::Invalid(format!(
            "sources.{kind}.retry.budget_ratio must be between 0 and 1"
        )));
    }
    if transport.max_concurrent_requests == 0 || transport.timeout_ms == 0 {
        return Err(ConfigError::Invalid(format!(
            "sources.{kind}: timeout_ms and max_concurrent_requests must be at least 1"
        )));
    }
    Ok(SourceConfig {
        kind,
        base_url,
        timeout: Duration::from_millis(transport.timeout_ms),
        max_concurrent_requests: transport.max_concurrent_requests,
        retry: transport.retry,
        credentials,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const FILE: &str = r#"
        listen = "127.0.0.1:4100"
        [sources.winnerr]
        base_url = "http://127.0.0.1:9/winnerr/v1/"
        token_env = "W_TOKEN"
        timeout_ms = 1500
        [auth]
        mode = "open"
    "#;

    #[test]
    fn reads_file_secrets_and_overrides() {
        let config = GatewayConfig::from_toml(
            FILE,
            "test.toml",
            &env(&[
                ("W_TOKEN", "s3cret"),
                ("CONTACT_GATEWAY_WINNERR_MAX_CONCURRENT_REQUESTS", "4"),
            ]),
        )
        .unwrap();
        assert_eq!(config.listen.port(), 4100);
        let winnerr = &config.sources[0];
        assert_eq!(winnerr.base_url, "http://127.0.0.1:9/winnerr/v1");
        assert_eq!(winnerr.timeout, Duration::from_millis(1500));
        assert_eq!(winnerr.max_concurrent_requests, 4);
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn unknown_keys_and_missing_secrets_are_clear_errors() {
        let error = GatewayConfig::from_toml("listn = \"x\"", "bad.toml", &env(&[])).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `listn`"),
            "{error}"
        );
        let typo = FILE.replace("timeout_ms", "timeout_msec");
        let error =
            GatewayConfig::from_toml(&typo, "bad.toml", &env(&[("W_TOKEN", "x")])).unwrap_err();
        assert!(error.to_string().contains("timeout_msec"), "{error}");
        let error = GatewayConfig::from_toml(FILE, "test.toml", &env(&[])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "source `winnerr`: environment variable `W_TOKEN` is not set"
        );
    }

    #[test]
    fn edge_sections_default_safely_and_read_from_the_file() {
        let config =
            GatewayConfig::from_toml(FILE, "test.toml", &env(&[("W_TOKEN", "x")])).unwrap();
        assert!(config.cors.allow_origins.is_empty());
        assert!(!config.cors.allow_loopback_origins);
        assert!(config.csrf.enabled);
        assert!(!config.graphql.introspection && !config.graphql.graphiql);
        let file = format!(
            "{FILE}\n[cors]\nallow_origins = [\"https://app.example.com\"]\nmax_age_secs = 60\n[csrf]\nrequired_headers = [\"x-mine\"]\n[graphql]\nintrospection = true\n[limits]\nmax_request_body_bytes = 4096\n"
        );
        let config =
            GatewayConfig::from_toml(&file, "test.toml", &env(&[("W_TOKEN", "x")])).unwrap();
        assert_eq!(config.cors.allow_origins, ["https://app.example.com"]);
        assert_eq!(config.cors.max_age_secs, 60);
        assert_eq!(config.csrf.required_headers, ["x-mine"]);
        assert!(config.graphql.introspection && !config.graphql.graphiql);
        assert_eq!(config.limits.max_request_body_bytes, 4096);
        let wildcard =
            format!("{FILE}\n[cors]\nallow_origins = [\"*\"]\nallow_credentials = true\n");
        let error =
            GatewayConfig::from_toml(&wildcard, "bad.toml", &env(&[("W_TOKEN", "x")])).unwrap_err();
        assert!(error.to_string().contains("allow_credentials"), "{error}");
    }

    #[test]
    fn retry_settings_default_and_read_from_the_source_section() {
        let config =
            GatewayConfig::from_toml(FILE, "test.toml", &env(&[("W_TOKEN", "x")])).unwrap();
        assert_eq!(config.sources[0].retry, RetrySettings::default());
        let file =
            format!("{FILE}\n[sources.winnerr.retry]\nmax_retries = 5\nbudget_ratio = 0.5\n");
        let config =
            GatewayConfig::from_toml(&file, "test.toml", &env(&[("W_TOKEN", "x")])).unwrap();
        assert_eq!(config.sources[0].retry.max_retries, 5);
        assert_eq!(config.sources[0].retry.budget_ratio, 0.5);
        let bad = format!("{FILE}\n[sources.winnerr.retry]\nbudget_ratio = 2.0\n");
        assert!(GatewayConfig::from_toml(&bad, "bad.toml", &env(&[("W_TOKEN", "x")])).is_err());
    }

    #[test]
    fn loader_and_cache_settings_default_and_read_from_the_file() {
        let config =
            GatewayConfig::from_toml(FILE, "test.toml", &env(&[("W_TOKEN", "x")])).unwrap();
        assert_eq!(config.loaders, LoaderSettings::default());
        assert!(config.loaders.enabled);
        assert_eq!(config.cache, CacheSettings::default());
        assert!(config.cache.enabled);
        let file = format!(
            "{FILE}\n[loaders]\nenabled = false\nbatch_delay_us = 250\n[cache]\nenabled = false\nmax_bytes = 1024\n[cache.ttl_ms]\ncontact = 5\n[cache.sources.winnerr.ttl_ms]\ncontact = 7\n"
        );
        let config =
            GatewayConfig::from_toml(&file, "test.toml", &env(&[("W_TOKEN", "x")])).unwrap();
        assert_eq!(
            config.loaders,
            LoaderSettings {
                enabled: false,
                batch_delay_us: 250
            }
        );
        assert!(!config.cache.enabled);
        assert_eq!(config.cache.max_bytes, 1024);
        assert_eq!(config.cache.ttl_ms.contact, Some(5));
        assert_eq!(
            config
                .cache
                .sources
                .of(SourceKind::Winnerr)
                .map(|s| s.ttl_ms.contact),
            Some(Some(7))
        );
        let typo = format!("{FILE}\n[cache.ttl_ms]\ncontacts = 1\n");
        let error =
            GatewayConfig::from_toml(&typo, "bad.toml", &env(&[("W_TOKEN", "x")])).unwrap_err();
        assert!(error.to_string().contains("contacts"), "{error}");
        let typo = format!("{FILE}\n[loaders]\nbatch_delay = 1\n");
        let error =
            GatewayConfig::from_toml(&typo, "bad.toml", &env(&[("W_TOKEN", "x")])).unwrap_err();
        assert!(error.to_string().contains("batch_delay"), "{error}");
    }

    #[test]
    fn reads_the_trusted_documents_manifest_beside_the_file_or_refuses_to_start() {
        let directory = std::env::temp_dir().join(format!(
            "contact-gateway-config-trusted-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&directory).unwrap();
        let document = "query Q { __typename }";
        let hash = crate::edge::trusted::sha256_hex(document);
        std::fs::write(
            directory.join("good.json"),
            serde_json::json!({ format!("sha256:{hash}"): document }).to_string(),
        )
        .unwrap();
        std::fs::write(directory.join("bad.json"), "{\"sha256:00\": \"{ a }\"}").unwrap();
        let config_path = directory.join("gateway.toml");
        let config_path = config_path.to_str().unwrap();
        let with = |operations: &str| {
            GatewayConfig::from_toml(
                &format!("{FILE}\n[operations]\n{operations}\n"),
                config_path,
                &env(&[("W_TOKEN", "x")]),
            )
        };
        let config = with("trusted_documents = \"good.json\"\nonly_trusted = true").unwrap();
        assert!(config.operations.only_trusted);
        let trusted = config.operations.trusted.expect("manifest loaded");
        assert_eq!(trusted.document(&hash).as_deref(), Some(document));
        for (operations, expected) in [
            ("only_trusted = true", "needs operations.trusted_documents"),
            ("trusted_documents = \"missing.json\"", "cannot read"),
            ("trusted_documents = \"bad.json\"", "is not a SHA-256 hash"),
        ] {
            let error = with(operations).unwrap_err();
            assert!(
                error.to_string().contains(expected),
                "{operations}: {error}"
            );
        }
        std::fs::remove_dir_all(&directory).ok();
    }

    /// The committed example, with the environment variables it names.
    fn example() -> Result<GatewayConfig, ConfigError> {
        GatewayConfig::from_toml(
            include_str!("../gateway.example.toml"),
            "gateway.example.toml",
            &env(&[
                ("OPENTOCLOSE_API_TOKEN", "otc-secret"),
                ("DJANGOCRM_TOKEN", "crm-secret"),
                ("DJANGOCRM_ORGANIZATION_ID", "crm-org"),
                ("WINNERR_TOKEN", "winnerr-secret"),
                ("SPARK_TOKEN", "spark-secret"),
                ("SPARK_TOKEN_FRONT_DESK", "spark-front-desk-secret"),
            ]),
        )
    }

    #[test]
    fn the_committed_example_parses_and_writes_out_the_defaults() {
        let config = example().unwrap();
        let kinds: Vec<SourceKind> = config.sources.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                SourceKind::OpenToClose,
                SourceKind::DjangoCrm,
                SourceKind::Winnerr,
                SourceKind::Spark
            ]
        );
        // The example documents the defaults, so where it writes a section
        // out whole its values are the built-in ones.
        assert_eq!(
            format!("{:?}", config.limits),
            format!("{:?}", Limits::default())
        );
        assert_eq!(config.loaders, LoaderSettings::default());
        assert_eq!(config.csrf, CsrfSettings::default());
        assert_eq!(config.operations, OperationSettings::default());
        assert_eq!(config.graphql, GraphqlSettings::default());
        assert_eq!(
            config.telemetry,
            crate::telemetry::TelemetrySettings::default()
        );
        assert_eq!(
            config.cors,
            CorsSettings {
                allow_origins: vec!["https://app.example.com".into()],
                ..CorsSettings::default()
            }
        );
        assert!(config.cache.enabled);
        assert_eq!(config.cache.max_bytes, default_cache_max_bytes());
        assert_eq!(config.cache.ttl_ms.contact_list, Some(15_000));
        assert!(config
            .sources
            .iter()
            .all(|s| s.timeout == Duration::from_secs(10) && s.retry == RetrySettings::default()));
        assert_eq!(config.auth.mode, AuthMode::Keys);
        let names: Vec<&str> = config
            .auth
            .principals
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["dashboard", "front-desk"]);
        assert!(config.auth.principals[0].read_only);
        assert_eq!(config.auth.principals[1].credentials.len(), 1);
        assert_eq!(config.auth.forward.len(), 1);
        assert_eq!(config.auth.forward[0].source, SourceKind::Spark);
        assert!(!format!("{config:?}").contains("secret"));
    }

    #[test]
    fn the_example_without_its_environment_names_the_missing_variable() {
        let error = GatewayConfig::from_toml(
            include_str!("../gateway.example.toml"),
            "gateway.example.toml",
            &env(&[]),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "source `opentoclose`: environment variable `OPENTOCLOSE_API_TOKEN` is not set"
        );
    }

    #[test]
    fn a_config_without_sources_is_refused() {
        let error = GatewayConfig::from_toml("listen = \"127.0.0.1:0\"\n", "empty.toml", &env(&[]))
            .unwrap_err();
        assert!(matches!(error, ConfigError::NoSources { .. }), "{error}");
        assert!(
            error
                .to_string()
                .starts_with("empty.toml: no source is configured"),
            "{error}"
        );
    }
}
