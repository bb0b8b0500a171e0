//! The one mapping from the gateway's error enums to GraphQL errors.
//!
//! Every error a client sees carries `extensions.code`; errors from a source
//! also carry `source` and, when the upstream answered, `upstreamStatus`.
//! Messages come from the error enums, which never hold a credential or URL.

use async_graphql::{Error, ErrorExtensions};

use crate::domain::GlobalIdError;
use crate::sources::SourceError;

/// Stable error codes, as clients match on them.
pub mod codes {
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const CONFLICT: &str = "CONFLICT";
    /// The upstream refused the gateway's own credentials.
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    /// The upstream accepted the gateway's credentials but does not allow
    /// this operation to its user (such as editing another user's comment).
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const UPSTREAM_ERROR: &str = "UPSTREAM_ERROR";
    pub const UPSTREAM_UNAVAILABLE: &str = "UPSTREAM_UNAVAILABLE";
    pub const UNSUPPORTED_BY_SOURCE: &str = "UNSUPPORTED_BY_SOURCE";
    /// A write was sent and no answer said whether it took effect.
    pub const OUTCOME_UNKNOWN: &str = "OUTCOME_UNKNOWN";
    /// The request's deadline passed before the source answered.
    pub const DEADLINE_EXCEEDED: &str = "DEADLINE_EXCEEDED";
}

/// Maps a source failure.
pub fn source_error(error: &SourceError) -> Error {
    let code = match error {
        SourceError::NotFound { .. } => codes::NOT_FOUND,
        SourceError::BadInput { .. } => codes::BAD_USER_INPUT,
        SourceError::Conflict { .. } => codes::CONFLICT,
        SourceError::Unauthenticated { .. } => codes::UNAUTHENTICATED,
        SourceError::Forbidden { .. } => codes::FORBIDDEN,
        SourceError::Unavailable { .. } => codes::UPSTREAM_UNAVAILABLE,
        SourceError::Upstream { .. } => codes::UPSTREAM_ERROR,
        SourceError::Unsupported { .. } => codes::UNSUPPORTED_BY_SOURCE,
        SourceError::OutcomeUnknown { .. } => codes::OUTCOME_UNKNOWN,
        SourceError::DeadlineExceeded { .. } => codes::DEADLINE_EXCEEDED,
    };
    let field = match error {
        SourceError::BadInput { field, .. } => field.clone(),
        _ => None,
    };
    let retry_after = match error {
        SourceError::Unavailable { retry_after, .. } => *retry_after,
        _ => None,
    };
    Error::new(error.to_string()).extend_with(|_, extensions| {
        extensions.set("code", code);
        extensions.set("source", error.source_kind().as_str());
        if let Some(status) = error.upstream_status() {
            extensions.set("upstreamStatus", status);
        }
        if let Some(field) = &field {
            extensions.set("field", field.as_str());
        }
        if let Some(seconds) = retry_after {
            extensions.set("retryAfter", seconds);
        }
    })
}

/// Maps a malformed or foreign id.
pub fn id_error(error: &GlobalIdError) -> Error {
    Error::new(error.to_string())
        .extend_with(|_, extensions| extensions.set("code", codes::BAD_USER_INPUT))
}
