//! The `Source` trait and one adapter module per upstream.
//!
//! An adapter alone knows its upstream's wire format (field names, envelope),
//! auth scheme, paging style and error envelope, and maps them to the unified
//! model in `domain`. It builds [`UpstreamRequest`]s and hands them to
//! [`Upstream`], which alone sends HTTP.
//!
//! **Architecture Invariant:** nothing outside `sources/` parses an upstream's
//! JSON, and nothing in `sources/` opens a connection.

pub mod opentoclose;

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{Contact, SourceKind};
use crate::upstream::{Upstream, UpstreamError, UpstreamResponse};

/// Operations on one upstream's contacts.
#[async_trait]
pub trait Source: Send + Sync {
    /// Which upstream this is.
    fn kind(&self) -> SourceKind;

    /// Fetches contacts by upstream id: one entry per id, in the same order,
    /// `None` for an id the upstream does not know. Adapters use the
    /// upstream's multi-record request where it has one.
    async fn contacts_by_id(&self, ids: &[String]) -> Result<Vec<Option<Contact>>, SourceError>;
}

/// The adapters that are configured, by kind.
pub type Sources = Vec<Arc<dyn Source>>;

/// Failures of a source operation, already classified for clients.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    /// The upstream does not know the record.
    #[error("{source_kind}: {what} was not found")]
    NotFound {
        source_kind: SourceKind,
        what: String,
    },
    /// The input broke one of the upstream's rules; `field` names the input field.
    #[error("{source_kind}: {message}")]
    BadInput {
        source_kind: SourceKind,
        field: Option<String>,
        message: String,
        upstream_status: Option<u16>,
    },
    /// The write conflicts with existing data (for example a duplicate email).
    #[error("{source_kind}: {message}")]
    Conflict {
        source_kind: SourceKind,
        message: String,
        upstream_status: u16,
    },
    /// The upstream refused the gateway's credentials.
    #[error("{source_kind} refused the gateway's credentials")]
    Unauthenticated {
        source_kind: SourceKind,
        upstream_status: u16,
    },
    /// The upstream is overloaded, down or unreachable; retrying later may work.
    #[error("{source_kind} is unavailable: {message}")]
    Unavailable {
        source_kind: SourceKind,
        message: String,
        upstream_status: Option<u16>,
        retry_after: Option<u64>,
    },
    /// The upstream answered something the gateway cannot use.
    #[error("{source_kind} sent an unusable answer: {message}")]
    Upstream {
        source_kind: SourceKind,
        message: String,
        upstream_status: Option<u16>,
    },
    /// The source does not offer this operation.
    #[error("{source_kind} does not support {operation}")]
    Unsupported {
        source_kind: SourceKind,
        operation: &'static str,
    },
}

impl SourceError {
    /// The source the error came from.
    pub fn source_kind(&self) -> SourceKind {
        match self {
            SourceError::NotFound { source_kind, .. }
            | SourceError::BadInput { source_kind, .. }
            | SourceError::Conflict { source_kind, .. }
            | SourceError::Unauthenticated { source_kind, .. }
            | SourceError::Unavailable { source_kind, .. }
            | SourceError::Upstream { source_kind, .. }
            | SourceError::Unsupported { source_kind, .. } => *source_kind,
        }
    }

    /// The upstream's HTTP status, when there was one.
    pub fn upstream_status(&self) -> Option<u16> {
        match self {
            SourceError::BadInput {
                upstream_status, ..
            }
            | SourceError::Unavailable {
                upstream_status, ..
            }
            | SourceError::Upstream {
                upstream_status, ..
            } => *upstream_status,
            SourceError::Conflict {
                upstream_status, ..
            }
            | SourceError::Unauthenticated {
                upstream_status, ..
            } => Some(*upstream_status),
            SourceError::NotFound { .. } | SourceError::Unsupported { .. } => None,
        }
    }
}

impl From<UpstreamError> for SourceError {
    fn from(error: UpstreamError) -> Self {
        let source_kind = match &error {
            UpstreamError::Timeout { source_kind, .. }
            | UpstreamError::Connect { source_kind }
            | UpstreamError::Interrupted { source_kind }
            | UpstreamError::NotConfigured { source_kind }
            | UpstreamError::InvalidRequest { source_kind, .. } => *source_kind,
        };
        match error {
            UpstreamError::InvalidRequest { .. } => SourceError::Upstream {
                source_kind,
                message: error.to_string(),
                upstream_status: None,
            },
            _ => SourceError::Unavailable {
                source_kind,
                message: error.to_string(),
                upstream_status: None,
                retry_after: None,
            },
        }
    }
}

/// Classifies a non-success status the same way for every source; adapters
/// call it after handling the statuses their envelope gives more detail on.
pub fn status_error(
    source_kind: SourceKind,
    response: &UpstreamResponse,
    message: String,
) -> SourceError {
    let status = response.status;
    match status {
        401 | 403 => SourceError::Unauthenticated {
            source_kind,
            upstream_status: status,
        },
        404 => SourceError::NotFound {
            source_kind,
            what: message,
        },
        409 => SourceError::Conflict {
            source_kind,
            message,
            upstream_status: status,
        },
        400 | 422 => SourceError::BadInput {
            source_kind,
            field: None,
            message,
            upstream_status: Some(status),
        },
        429 | 502 | 503 | 504 => SourceError::Unavailable {
            source_kind,
            message,
            upstream_status: Some(status),
            retry_after: response.retry_after,
        },
        _ => SourceError::Upstream {
            source_kind,
            message,
            upstream_status: Some(status),
        },
    }
}

/// Parses a JSON body, treating anything else (an HTML error page served with
/// status 200, a truncated body) as an unusable answer.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    source_kind: SourceKind,
    response: &UpstreamResponse,
) -> Result<T, SourceError> {
    let is_json = response
        .content_type
        .as_deref()
        .is_none_or(|content_type| content_type.contains("json"));
    if !is_json {
        return Err(SourceError::Upstream {
            source_kind,
            message: format!(
                "expected JSON, got `{}`",
                response.content_type.as_deref().unwrap_or_default()
            ),
            upstream_status: Some(response.status),
        });
    }
    serde_json::from_slice(&response.body).map_err(|error| SourceError::Upstream {
        source_kind,
        message: format!("invalid JSON: {error}"),
        upstream_status: Some(response.status),
    })
}

/// The shared upstream client, for adapters.
pub type SharedUpstream = Arc<Upstream>;
