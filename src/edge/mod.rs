//! The HTTP edge: everything between a request's bytes and an
//! `async_graphql::Request`, and between the GraphQL answer and its HTTP
//! status, as GraphQL over HTTP (the current draft) specifies them.
//!
//! A request to `/graphql` passes, in order:
//! 1. CORS (`cors.rs`, tower-http's `CorsLayer`, outermost, so every answer
//!    carries the headers an allowed origin needs) and the body limit
//!    (tower-http's `RequestBodyLimitLayer`: a declared length above the
//!    limit is refused at once; [`params::read_body`] stops reading an
//!    undeclared one at the limit);
//! 2. the caller (`crate::auth`): its API key, its requests per second and
//!    its forwarded credentials, before the body is read (401 or 429);
//!    content negotiation (`negotiate.rs`): the answer's media type;
//! 3. the method and content type: POST bodies only as `application/json`
//!    (415 otherwise), GET for queries only;
//! 4. CSRF prevention (`csrf.rs`): a request a browser could send
//!    cross-site without a preflight is refused;
//! 5. the parameters (`params.rs`): their types, no batches; a document
//!    named by hash looked up in the trusted documents manifest, and, with
//!    `only_trusted`, anything else refused (`trusted.rs`); the query
//!    text's length and tokens (`cost.rs`);
//! 6. inside async-graphql (`extension.rs`): the cost limits on the parsed
//!    document (`cost.rs`), fragments expanded; a mutation over GET is 405;
//!    the upstream estimate (`estimate.rs`) against its ceiling, or, for a
//!    dry run (`x-graphql-dry-run: true` or `extensions.dryRun`), as the
//!    whole answer;
//!    introspection, when switched off, is refused; what the caller's
//!    principal may not do (a mutation with a read-only key, a source
//!    outside its `allowed_sources`) is 403, and an estimate over its
//!    upstream requests per minute 429.
//!
//! [`Edge::finish`] then gives the answer its status and content type: a
//! request error (the operation never ran) has no `data` entry and is 400
//! under `application/graphql-response+json`, 200 under `application/json`.
//!
//! **Architecture Invariant:** every answer the edge writes, refusals
//! included, is GraphQL-shaped JSON whose errors carry `extensions.code`.

pub mod cors;
pub mod cost;
pub mod csrf;
pub mod documents;
pub mod error;
pub mod estimate;
pub mod extension;
pub mod negotiate;
pub mod params;
pub mod trusted;

use std::sync::Arc;

use async_graphql::parser::types::OperationType;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use self::cost::{check_document, check_query_text, CostLimits};
use self::csrf::CsrfPrevention;
use self::documents::{DocumentCache, PreparedDocument};
use self::error::EdgeError;
use self::extension::selected_operation;
pub use self::extension::{EdgeExtension, EdgeExtensionSettings, RequestOutcome, Stage};
use self::negotiate::{negotiate, ResponseMediaType};
use self::params::GraphqlParams;
use self::trusted::TrustedDocuments;
use crate::config::GatewayConfig;

/// A GraphQL request that has passed the edge, ready to execute.
pub struct GraphQLRequest {
    request: async_graphql::Request,
    known: Option<KnownOperation>,
}

/// A request for an operation known to pass every check (see
/// [`documents`]): it runs on the schema without extensions, and its answer
/// is finished by [`KnownOperation::finish`].
pub struct KnownOperation {
    estimate: estimate::UpstreamEstimate,
    mutation: bool,
    outcome: Arc<RequestOutcome>,
}

impl GraphQLRequest {
    /// The request for the schema.
    pub fn into_inner(self) -> async_graphql::Request {
        self.request
    }

    /// The request, and whether its operation is known.
    pub fn into_parts(self) -> (async_graphql::Request, Option<KnownOperation>) {
        (self.request, self.known)
    }
}

impl KnownOperation {
    /// Whether the operation may run for `principal` without the checks
    /// inside async-graphql, and, if so, its estimate charged to the
    /// principal's upstream budget. A principal with sources it may not use
    /// (whose estimate and refusals depend on it), a read-only principal's
    /// mutation and a budget that refuses are left to the checked path,
    /// which refuses them with their codes (a refused charge costs nothing).
    pub fn admit(&self, principal: &crate::auth::Principal) -> bool {
        if !principal.denied.is_empty() || (principal.read_only && self.mutation) {
            return false;
        }
        let total = self.estimate.total();
        principal.limits.admit_upstream_requests(total).is_ok()
    }

    /// Whether the request has variables, and so runs on the schema
    /// without extensions that validates in full rather than the one that
    /// validates fast (`graphql::build_known_document_schema`).
    pub fn has_variables(&self) -> bool {
        !self.outcome.without_variables
    }

    /// Gives the answer what the schema's extensions would have: codes,
    /// propagated nulls, and the request's stage.
    pub fn finish(
        self,
        registry: &async_graphql::registry::Registry,
        response: &mut async_graphql::Response,
    ) {
        extension::finish_known_execution(&self.outcome, self.estimate, registry, response);
    }
}

/// What the edge needs after execution to write the answer.
pub struct PendingAnswer {
    media_type: ResponseMediaType,
    outcome: Arc<RequestOutcome>,
}

/// The edge's settings, built once from the configuration.
#[derive(Debug, Clone)]
pub struct Edge {
    csrf: CsrfPrevention,
    cost_limits: CostLimits,
    max_request_body_bytes: usize,
    graphiql: bool,
    introspection: bool,
    trusted: Option<Arc<TrustedDocuments>>,
    only_trusted: bool,
    documents: DocumentCache,
    estimate: estimate::EstimateSettings,
    max_upstream_requests: u64,
}

impl Edge {
    /// Reads the edge's sections of the configuration.
    pub fn new(config: &GatewayConfig) -> Edge {
        Edge {
            csrf: CsrfPrevention::new(&config.csrf),
            cost_limits: CostLimits::from_limits(&config.limits),
            max_request_body_bytes: config.limits.max_request_body_bytes,
            graphiql: config.graphql.graphiql,
            introspection: config.graphql.introspection,
            trusted: config.operations.trusted.clone(),
            only_trusted: config.operations.only_trusted,
            documents: DocumentCache::new(config.graphql.document_cache_max_bytes),
            estimate: estimate::EstimateSettings::new(
                crate::domain::SourceKind::ALL
                    .into_iter()
                    .filter(|kind| config.sources.iter().any(|source| source.kind == *kind))
                    .collect(),
                &config.limits,
                &config.cache,
            ),
            max_upstream_requests: config.limits.max_upstream_requests,
        }
    }

    /// The largest body `/graphql` reads.
    pub fn max_request_body_bytes(&self) -> usize {
        self.max_request_body_bytes
    }

    /// Whether `/graphql` serves GraphiQL to a browser.
    pub fn serves_graphiql(&self) -> bool {
        self.graphiql
    }

    /// The headers a client may send to pass the CSRF check, which CORS
    /// preflights must therefore allow.
    pub fn csrf_headers(&self) -> &[axum::http::HeaderName] {
        self.csrf.required_headers()
    }

    /// The answer refusing a request before its parameters are read, in the
    /// media type the request accepts.
    pub fn refuse(&self, headers: &HeaderMap, error: EdgeError) -> Response {
        let media_type = negotiate(headers).unwrap_or(ResponseMediaType::Json);
        error.into_response(media_type)
    }

    /// Checks a POST and reads its body into a GraphQL request; a refusal is
    /// the answer to send.
    pub async fn accept_post(
        &self,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<(GraphQLRequest, PendingAnswer), Box<Response>> {
        let media_type =
            negotiate(headers).map_err(|e| e.into_response(ResponseMediaType::Json))?;
        let refuse = |error: EdgeError| Box::new(error.into_response(media_type));
        require_json_content_type(headers).map_err(refuse)?;
        self.csrf.check(headers).map_err(refuse)?;
        let body = params::read_body(body, self.max_request_body_bytes)
            .await
            .map_err(refuse)?;
        let params = GraphqlParams::from_json(&body).map_err(refuse)?;
        drop(body);
        self.request(params, false, dry_run_header(headers), media_type)
            .map_err(refuse)
    }

    /// Checks a GET and reads its query string into a GraphQL request.
    pub fn accept_get(
        &self,
        headers: &HeaderMap,
        query_string: Option<&str>,
    ) -> Result<(GraphQLRequest, PendingAnswer), Box<Response>> {
        let media_type =
            negotiate(headers).map_err(|e| e.into_response(ResponseMediaType::Json))?;
        let refuse = |error: EdgeError| Box::new(error.into_response(media_type));
        self.csrf.check(headers).map_err(refuse)?;
        let params = GraphqlParams::from_query_string(query_string).map_err(refuse)?;
        self.request(params, true, dry_run_header(headers), media_type)
            .map_err(refuse)
    }

    fn request(
        &self,
        mut params: GraphqlParams,
        over_get: bool,
        dry_run_header: bool,
        media_type: ResponseMediaType,
    ) -> Result<(GraphQLRequest, PendingAnswer), EdgeError> {
        let dry_run = dry_run_header
            || params
                .extensions
                .as_ref()
                .is_some_and(|extensions| extensions.get("dryRun") == Some(&true.into()));
        self.resolve_trusted_document(&mut params)?;
        // A persisted query's hash may stand for the query; the persisted
        // query extension answers whether it knows it.
        let persisted = params
            .extensions
            .as_ref()
            .is_some_and(|extensions| extensions.contains_key("persistedQuery"));
        let query = match params.query {
            Some(query) => query,
            None if persisted => String::new(),
            None => return Err(EdgeError::MissingQuery),
        };
        let variables = async_graphql::Variables::from_json(serde_json::Value::Object(
            params.variables.unwrap_or_default(),
        ));
        let prepared = self.prepare(&query, &variables)?;
        let without_variables = variables.is_empty();
        let known_estimate = prepared.as_ref().filter(|_| !dry_run).and_then(|prepared| {
            let operation_name = params.operation_name.as_deref();
            let operation = selected_operation(prepared.document(), operation_name)?;
            let mutation = operation.ty != OperationType::Query;
            // A mutation over GET is refused on the checked path.
            if over_get && mutation {
                return None;
            }
            if without_variables {
                return Some((prepared.known(operation_name)?, mutation));
            }
            if !prepared.is_known_shape(operation_name) {
                return None;
            }
            // New variables: a new estimate, and the checked path
            // refuses one over the ceiling.
            let estimate =
                estimate::estimate(prepared.document(), operation, &variables, &self.estimate);
            if !estimate.over(self.max_upstream_requests).is_empty() {
                return None;
            }
            Some((estimate, mutation))
        });
        let mut request = async_graphql::Request::new(query);
        if let Some(prepared) = &prepared {
            // async-graphql takes the document as its own and trims it for
            // `@skip`/`@include`; a copy costs a fraction of a parse.
            request.set_parsed_query(prepared.document().clone());
        }
        let outcome = Arc::new(RequestOutcome::new(
            over_get,
            params.operation_name.clone(),
            self.introspection,
            dry_run,
            prepared,
            without_variables,
        ));
        if let Some(name) = params.operation_name {
            request = request.operation_name(name);
        }
        request = request.variables(variables);
        for (name, value) in params.extensions.into_iter().flatten() {
            if let Ok(value) = async_graphql::Value::from_json(value) {
                request.extensions.0.insert(name, value);
            }
        }
        if !self.introspection {
            // The extension refuses introspection with a code; this keeps
            // async-graphql from answering it should a check be missed.
            request = request.disable_introspection();
        }
        let request = request.data(Arc::clone(&outcome));
        let known = known_estimate.map(|(estimate, mutation)| KnownOperation {
            estimate,
            mutation,
            outcome: Arc::clone(&outcome),
        });
        Ok((
            GraphQLRequest { request, known },
            PendingAnswer {
                media_type,
                outcome,
            },
        ))
    }
}

impl Edge {
    /// Checks the query text and its document against the cost limits, and
    /// returns the parsed document: the one kept for this exact text, or a
    /// fresh parse, kept once it has passed. A text that does not parse is
    /// left to async-graphql, which reports where (`None`).
    ///
    /// The document is walked here, before async-graphql sees it:
    /// async-graphql's own nesting check expands every fragment spread, so
    /// a fan-out of fragments must be refused first. The walk runs for every
    /// request, as the page sizes it checks may come from variables; the
    /// text's own limits held when its document was kept.
    fn prepare(
        &self,
        query: &str,
        variables: &async_graphql::Variables,
    ) -> Result<Option<Arc<PreparedDocument>>, EdgeError> {
        if query.is_empty() {
            return Ok(None);
        }
        if let Some(prepared) = self.documents.get(query) {
            check_document(prepared.document(), variables, &self.cost_limits)?;
            return Ok(Some(prepared));
        }
        check_query_text(query, &self.cost_limits)?;
        let Ok(document) = async_graphql::parser::parse_query(query) else {
            return Ok(None);
        };
        check_document(&document, variables, &self.cost_limits)?;
        let prepared = Arc::new(PreparedDocument::new(document));
        self.documents.insert(query, Arc::clone(&prepared));
        Ok(Some(prepared))
    }

    /// Puts the text of a manifest document named by hash (`documentId`, or
    /// Apollo's `persistedQuery` without a query) in `params.query`, and,
    /// with `only_trusted`, refuses a request that is not a manifest
    /// document. Runs before the text is parsed: a refusal costs nothing
    /// that grows with what the client sent.
    fn resolve_trusted_document(&self, params: &mut GraphqlParams) -> Result<(), EdgeError> {
        let persisted_hash = params
            .extensions
            .as_ref()
            .and_then(|extensions| extensions.get("persistedQuery"))
            .and_then(|persisted| persisted.get("sha256Hash"))
            .and_then(|hash| hash.as_str())
            .map(str::to_string);
        let named_hash = params.document_id.clone().or(persisted_hash);
        if params.query.is_none() {
            if let Some(hash) = &named_hash {
                match self.trusted.as_ref().and_then(|t| t.document(hash)) {
                    Some(document) => {
                        params.query = Some(document.to_string());
                        // The document is known: the automatic persisted
                        // query store has nothing to add.
                        if let Some(extensions) = params.extensions.as_mut() {
                            extensions.remove("persistedQuery");
                        }
                    }
                    None if self.only_trusted => {
                        return Err(EdgeError::OperationNotTrusted {
                            reason: format!("no trusted document has the hash `{hash}`"),
                        })
                    }
                    // Apollo's protocol: the automatic persisted query
                    // store may know the hash.
                    None if params.document_id.is_none() => {}
                    None => {
                        return Err(EdgeError::PersistedDocumentNotFound { hash: hash.clone() })
                    }
                }
            }
        }
        if !self.only_trusted {
            return Ok(());
        }
        let trusted_text = match (&params.query, &self.trusted) {
            (Some(query), Some(trusted)) => trusted.contains_text(query),
            _ => false,
        };
        if trusted_text {
            // With only trusted documents, the automatic persisted query
            // store is off: a hash beside the text adds nothing.
            if let Some(extensions) = params.extensions.as_mut() {
                extensions.remove("persistedQuery");
            }
            return Ok(());
        }
        Err(EdgeError::OperationNotTrusted {
            reason: "the query is not one of the gateway's trusted documents; send the `documentId` of a trusted document".into(),
        })
    }
}

impl PendingAnswer {
    /// Gives the executed request's answer its status, content type and
    /// shape: a request error loses its `data` entry.
    pub async fn finish(self, answer: Response) -> Response {
        let (mut parts, body) = answer.into_parts();
        parts
            .headers
            .insert(header::CONTENT_TYPE, self.media_type.header_value());
        let stage = self.outcome.stage();
        if stage == Stage::Executed || !parts.status.is_success() {
            return Response::from_parts(parts, body);
        }
        // The operation never ran: the body is a short list of errors.
        let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
            return EdgeError::BodyUnreadable.into_response(self.media_type);
        };
        let mut value: serde_json::Value = match serde_json::from_slice(&bytes) {
            Ok(value) => value,
            Err(_) => return Response::from_parts(parts, Body::from(bytes)),
        };
        if stage == Stage::DryRun {
            // A dry run has no `data`: the operation did not run.
            if let Some(object) = value.as_object_mut() {
                object.remove("data");
            }
            parts.headers.remove(header::CONTENT_LENGTH);
            let bytes = serde_json::to_vec(&value).unwrap_or_default();
            return Response::from_parts(parts, Body::from(bytes));
        }
        if value.get("errors").is_none() {
            return Response::from_parts(parts, Body::from(bytes));
        }
        if let Some(object) = value.as_object_mut() {
            object.remove("data");
            // Errors async-graphql raises between validation and execution
            // (an operation name that is missing or names nothing) have no code.
            for error in object
                .get_mut("errors")
                .and_then(|errors| errors.as_array_mut())
                .into_iter()
                .flatten()
            {
                if error.pointer("/extensions/code").is_none() {
                    error["extensions"]["code"] = error::codes::BAD_REQUEST.into();
                }
            }
        }
        parts.status = match (self.outcome.refusal_status(), self.media_type) {
            (Some(status), _) => status,
            (None, ResponseMediaType::GraphqlResponseJson) => StatusCode::BAD_REQUEST,
            (None, ResponseMediaType::Json) => StatusCode::OK,
        };
        if parts.status == StatusCode::METHOD_NOT_ALLOWED {
            parts
                .headers
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        if let Some(seconds) = self.outcome.retry_after_seconds() {
            parts
                .headers
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        parts.headers.remove(header::CACHE_CONTROL);
        parts.headers.remove(header::CONTENT_LENGTH);
        let bytes = serde_json::to_vec(&value).unwrap_or_default();
        Response::from_parts(parts, Body::from(bytes))
    }
}

/// The header a client sends to have an operation estimated, not run.
pub const DRY_RUN_HEADER: &str = "x-graphql-dry-run";

/// Whether the request asks for a dry run by header (`true` or `1`).
fn dry_run_header(headers: &HeaderMap) -> bool {
    headers
        .get(DRY_RUN_HEADER)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("true") || value == "1")
}

/// Refuses a POST whose body is not declared as `application/json` (UTF-8).
fn require_json_content_type(headers: &HeaderMap) -> Result<(), EdgeError> {
    let value = headers.get(header::CONTENT_TYPE);
    let text = value.and_then(|value| value.to_str().ok()).unwrap_or("");
    let mut parts = text.split(';');
    let essence = parts.next().unwrap_or("").trim();
    let charset_ok = parts.all(|parameter| match parameter.split_once('=') {
        Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
            let value = value.trim().trim_matches('"');
            value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8")
        }
        _ => true,
    });
    if essence.eq_ignore_ascii_case("application/json") && charset_ok {
        return Ok(());
    }
    Err(EdgeError::UnsupportedMediaType {
        content_type: match value {
            None => "no Content-Type".into(),
            Some(_) if text.is_empty() => "an unreadable Content-Type".into(),
            Some(_) => text.to_string(),
        },
    })
}

/// The answer to a method `/graphql` does not serve.
pub async fn method_not_allowed(method: Method) -> Response {
    EdgeError::MethodNotAllowed {
        method: method.to_string(),
        allow: "GET, POST",
    }
    .into_response(ResponseMediaType::Json)
}

/// The answer to a path the gateway does not serve.
pub async fn not_found() -> Response {
    EdgeError::NotFound.into_response(ResponseMediaType::Json)
}

/// Rewrites the body limit layer's bare 413 (sent when a declared length
/// is over the limit, before the handler runs) as a GraphQL-shaped error.
pub async fn payload_too_large_as_json(limit: usize, response: Response) -> Response {
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE
        && !response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.contains("json"))
    {
        return EdgeError::PayloadTooLarge { limit }.into_response(ResponseMediaType::Json);
    }
    response.into_response()
}
