//! The refusals of the HTTP edge and their one mapping to HTTP answers and
//! GraphQL errors.
//!
//! An [`EdgeError`] is a refusal decided before a request reaches
//! async-graphql (the caller, method, media types, CSRF, body size,
//! parameters); it is
//! written as a GraphQL-shaped JSON body (`{"errors": [{"message",
//! "extensions": {"code"}}]}`) with the status its variant names. Refusals
//! decided on the parsed operation (limits, the upstream estimate, a
//! mutation over GET, what the caller's principal may do) are GraphQL errors built by [`refusal`] with a code
//! from [`codes`]; the edge picks their status from the request's media type.
//! Every code a client can see from this layer is listed in [`codes`].

use async_graphql::{ErrorExtensionValues, ServerError};
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

use super::negotiate::ResponseMediaType;
use crate::auth::AuthError;

/// Stable error codes of the HTTP edge, as clients match on them.
pub mod codes {
    /// The request is malformed: not JSON, a parameter of the wrong type, no query.
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    /// The request's method cannot run this operation (a mutation over GET).
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    /// The request body is not `application/json`.
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "UNSUPPORTED_MEDIA_TYPE";
    /// The `Accept` header names no media type the gateway writes.
    pub const NOT_ACCEPTABLE: &str = "NOT_ACCEPTABLE";
    /// A request a browser could send cross-site carried no CSRF header.
    pub const CSRF_PREVENTION: &str = "CSRF_PREVENTION";
    /// The request body is larger than `[limits] max_request_body_bytes`.
    pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
    /// A JSON array of operations: the gateway does not batch.
    pub const BATCHING_NOT_SUPPORTED: &str = "BATCHING_NOT_SUPPORTED";
    /// No such route.
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// The query text is not valid GraphQL.
    pub const GRAPHQL_PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    /// The operation is not valid against the schema, or its variables do
    /// not fit their types.
    pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
    /// The operation is nested deeper than `[limits] max_query_depth`.
    pub const QUERY_TOO_DEEP: &str = "QUERY_TOO_DEEP";
    /// The operation is more complex than `[limits] max_query_complexity`.
    pub const QUERY_TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
    /// The query text is longer than `[limits] max_query_bytes`.
    pub const QUERY_TOO_LARGE: &str = "QUERY_TOO_LARGE";
    /// The query text has more tokens than `[limits] max_query_tokens`.
    pub const TOO_MANY_TOKENS: &str = "TOO_MANY_TOKENS";
    /// An operation aliases more fields than `[limits] max_aliases`.
    pub const TOO_MANY_ALIASES: &str = "TOO_MANY_ALIASES";
    /// An operation selects more root fields than `[limits] max_root_fields`.
    pub const TOO_MANY_ROOT_FIELDS: &str = "TOO_MANY_ROOT_FIELDS";
    /// A selection carries more directives than `[limits] max_directives_per_field`.
    pub const TOO_MANY_DIRECTIVES: &str = "TOO_MANY_DIRECTIVES";
    /// The operations, fragments expanded, select more than `[limits] max_selections` times.
    pub const TOO_MANY_SELECTIONS: &str = "TOO_MANY_SELECTIONS";
    /// The operation is estimated to send more upstream requests to a
    /// source than `[limits] max_upstream_requests`.
    pub const UPSTREAM_BUDGET_EXCEEDED: &str = "UPSTREAM_BUDGET_EXCEEDED";
    /// A persisted query's hash (or `documentId`) the gateway does not know.
    pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
    /// With `[operations] only_trusted`, an operation that is not in the
    /// trusted documents manifest.
    pub const OPERATION_NOT_TRUSTED: &str = "OPERATION_NOT_TRUSTED";
    /// The operation asks for `__schema` or `__type` where introspection is off.
    pub const INTROSPECTION_DISABLED: &str = "INTROSPECTION_DISABLED";
    /// A value in the request does not fit its type.
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    /// An error the gateway did not expect; its message says no more.
    pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";
    /// No API key, an unknown one, or a forwarded credential header that is
    /// missing or cannot be a credential (401).
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    /// The caller's principal may not do this: a mutation with a read-only
    /// key, or a source outside its `allowed_sources` (403).
    pub const FORBIDDEN: &str = "FORBIDDEN";
    /// The caller's principal is over its requests per second or its
    /// upstream requests per minute (429, with `Retry-After`).
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
}

/// A request refused by the HTTP edge before it reaches async-graphql.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    /// The route exists but not for this HTTP method.
    #[error("{method} is not allowed here; use {allow}")]
    MethodNotAllowed { method: String, allow: &'static str },
    /// A mutation sent over GET, which must only read.
    #[error("mutations are only accepted over POST")]
    MutationOverGet,
    /// No media type the gateway writes is acceptable.
    #[error(
        "the Accept header allows neither application/graphql-response+json nor application/json"
    )]
    NotAcceptable,
    /// The body's media type is not `application/json` (or no content type).
    #[error(
        "a POST body must be application/json (with charset utf-8 if any); got {content_type}"
    )]
    UnsupportedMediaType { content_type: String },
    /// A request a browser could send cross-site, without a CSRF header.
    #[error("this request has been refused as a possible cross-site request forgery: send it with Content-Type: application/json, or with one of these headers: {headers}")]
    CsrfPrevention { headers: String },
    /// The body is larger than the limit; it was not read past the limit.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The body could not be read (the client went away mid-body).
    #[error("the request body could not be read")]
    BodyUnreadable,
    /// The body is not valid JSON (or not UTF-8).
    #[error("the request body is not valid JSON: {reason}")]
    InvalidJson { reason: String },
    /// A GraphQL-over-HTTP parameter has the wrong type.
    #[error("the `{name}` parameter must be {expected}")]
    InvalidParameter {
        name: &'static str,
        expected: &'static str,
    },
    /// Neither a query nor a persisted document was given.
    #[error("the request has no `query` parameter")]
    MissingQuery,
    /// A `documentId` that names no trusted document.
    #[error("no persisted document has the id `{hash}`")]
    PersistedDocumentNotFound { hash: String },
    /// With only trusted documents allowed, a request for anything else.
    #[error("this endpoint runs only trusted documents: {reason}")]
    OperationNotTrusted { reason: String },
    /// A JSON array of operations.
    #[error("batched requests (a JSON array of operations) are not supported; send one operation per request")]
    BatchingNotSupported,
    /// No such route.
    #[error("no such route; GraphQL is served at /graphql")]
    NotFound,
    /// The query text is too long or has too many tokens.
    #[error(transparent)]
    Cost(#[from] super::cost::CostError),
    /// The caller is not known, or is over its rate.
    #[error(transparent)]
    Caller(#[from] crate::auth::AuthError),
}

impl EdgeError {
    /// The HTTP status of this refusal (under `application/json`, a refused
    /// operation is answered 200, as every GraphQL request error is).
    pub fn status(&self) -> StatusCode {
        match self {
            EdgeError::MethodNotAllowed { .. } | EdgeError::MutationOverGet => {
                StatusCode::METHOD_NOT_ALLOWED
            }
            EdgeError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            EdgeError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            EdgeError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            EdgeError::NotFound => StatusCode::NOT_FOUND,
            EdgeError::Caller(AuthError::RateLimited { .. }) => StatusCode::TOO_MANY_REQUESTS,
            EdgeError::Caller(_) => StatusCode::UNAUTHORIZED,
            EdgeError::CsrfPrevention { .. }
            | EdgeError::BodyUnreadable
            | EdgeError::InvalidJson { .. }
            | EdgeError::InvalidParameter { .. }
            | EdgeError::MissingQuery
            | EdgeError::BatchingNotSupported
            | EdgeError::PersistedDocumentNotFound { .. }
            | EdgeError::OperationNotTrusted { .. }
            | EdgeError::Cost(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The `extensions.code` of this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            EdgeError::MethodNotAllowed { .. } | EdgeError::MutationOverGet => {
                codes::METHOD_NOT_ALLOWED
            }
            EdgeError::NotAcceptable => codes::NOT_ACCEPTABLE,
            EdgeError::UnsupportedMediaType { .. } => codes::UNSUPPORTED_MEDIA_TYPE,
            EdgeError::CsrfPrevention { .. } => codes::CSRF_PREVENTION,
            EdgeError::PayloadTooLarge { .. } => codes::PAYLOAD_TOO_LARGE,
            EdgeError::BatchingNotSupported => codes::BATCHING_NOT_SUPPORTED,
            EdgeError::NotFound => codes::NOT_FOUND,
            EdgeError::PersistedDocumentNotFound { .. } => codes::PERSISTED_QUERY_NOT_FOUND,
            EdgeError::OperationNotTrusted { .. } => codes::OPERATION_NOT_TRUSTED,
            EdgeError::Cost(error) => error.code(),
            EdgeError::Caller(AuthError::RateLimited { .. }) => codes::RATE_LIMITED,
            EdgeError::Caller(_) => codes::UNAUTHENTICATED,
            EdgeError::BodyUnreadable
            | EdgeError::InvalidJson { .. }
            | EdgeError::InvalidParameter { .. }
            | EdgeError::MissingQuery => codes::BAD_REQUEST,
        }
    }

    /// The GraphQL-shaped JSON answer, in `media_type`.
    pub fn into_response(self, media_type: ResponseMediaType) -> Response {
        let mut error = serde_json::json!({
            "message": self.to_string(),
            "extensions": { "code": self.code() },
        });
        if let EdgeError::Caller(refusal) = &self {
            if let Some(source) = refusal.source_kind() {
                error["extensions"]["source"] = source.as_str().into();
            }
        }
        // A refused operation is a GraphQL request error, whose status
        // follows the media type; the other refusals are HTTP's.
        let status = match (&self, media_type) {
            (
                EdgeError::Cost(_)
                | EdgeError::PersistedDocumentNotFound { .. }
                | EdgeError::OperationNotTrusted { .. },
                ResponseMediaType::Json,
            ) => StatusCode::OK,
            _ => self.status(),
        };
        let mut response =
            json_response(status, media_type, serde_json::json!({ "errors": [error] }));
        if let EdgeError::MethodNotAllowed { allow, .. } = &self {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if let EdgeError::MutationOverGet = &self {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        match &self {
            EdgeError::Caller(AuthError::RateLimited {
                retry_after_seconds,
            }) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_seconds));
            }
            EdgeError::Caller(_) => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"contact-gateway\""),
                );
            }
            _ => {}
        }
        response
    }
}

/// A JSON answer with `status` and the media type's content type.
pub fn json_response(
    status: StatusCode,
    media_type: ResponseMediaType,
    body: serde_json::Value,
) -> Response {
    // A `serde_json::Value` always serialises.
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, media_type.header_value());
    response
}

/// A GraphQL error refusing an operation before it runs, with `code`.
pub fn refusal(message: impl Into<String>, code: &'static str) -> ServerError {
    let mut error = ServerError::new(message, None);
    with_code(&mut error, code);
    error
}

/// Sets `extensions.code` on `error`.
pub fn with_code(error: &mut ServerError, code: &'static str) {
    error
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default)
        .set("code", code);
}

/// Whether `error` already carries `extensions.code`.
pub fn has_code(error: &ServerError) -> bool {
    error
        .extensions
        .as_ref()
        .is_some_and(|extensions| extensions.get("code").is_some())
}

/// The code of an error of the persisted-query extension, which gives none.
pub fn persisted_query_code(error: &ServerError) -> &'static str {
    if error.message == "PersistedQueryNotFound" {
        codes::PERSISTED_QUERY_NOT_FOUND
    } else {
        codes::BAD_REQUEST
    }
}

/// The code of a parse error: the parser's nesting limit is a depth limit.
pub fn parse_code(error: &ServerError) -> &'static str {
    // The parser's own nesting limit, then async-graphql's.
    if error.message == "recursion limit exceeded."
        || error
            .message
            .starts_with("The recursion depth of the query")
    {
        codes::QUERY_TOO_DEEP
    } else {
        codes::GRAPHQL_PARSE_FAILED
    }
}

/// The code of a validation error async-graphql wrote without one: its
/// depth and complexity limits, or a rule of the GraphQL specification.
pub fn validation_code(error: &ServerError) -> &'static str {
    match error.message.as_str() {
        "Query is nested too deep." => codes::QUERY_TOO_DEEP,
        "Query is too complex." => codes::QUERY_TOO_COMPLEX,
        _ => codes::GRAPHQL_VALIDATION_FAILED,
    }
}

/// The code of an error raised while executing that carries none: input
/// that does not fit its type, or an error the gateway did not expect.
pub fn execution_code(error: &ServerError) -> &'static str {
    if error.message.starts_with("Failed to parse")
        || error.message.starts_with("Invalid value for argument")
    {
        codes::BAD_USER_INPUT
    } else {
        codes::INTERNAL_SERVER_ERROR
    }
}
