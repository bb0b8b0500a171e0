//! The `Source` trait and one adapter module per upstream.
//!
//! An adapter alone knows its upstream's wire format (field names, envelope),
//! auth scheme, paging style and error envelope, and maps them to the unified
//! model in `domain`. It builds [`UpstreamRequest`]s and hands them to
//! [`Upstream`], which alone sends HTTP.
//!
//! **Architecture Invariant:** nothing outside `sources/` parses an upstream's
//! JSON, and nothing in `sources/` opens a connection.

pub mod djangocrm;
pub mod opentoclose;
pub mod snapshot;
pub mod spark;
pub mod winnerr;

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::SourceCredentials;
use crate::domain::{Contact, ContactFilter, ContactInput, ContactOrder, SourceKind};
use crate::upstream::{Upstream, UpstreamError, UpstreamResponse};

/// Operations on one upstream's contacts.
#[async_trait]
pub trait Source: Send + Sync {
    /// Which upstream this is.
    fn kind(&self) -> SourceKind;

    /// Fetches contacts by upstream id: one entry per id, in the same order,
    /// `None` for an id the upstream does not know. Adapters use the
    /// upstream's multi-record request where it has one, chunked to its limits.
    async fn contacts_by_id(&self, ids: &[String]) -> Result<Vec<Option<Contact>>, SourceError>;

    /// [`Source::contacts_by_id`], with each contact's activities in
    /// [`Contact::activities`] where the upstream can send them in the same
    /// request (Winnerr's `include=activities`). Other sources read the
    /// contacts alone.
    async fn contacts_by_id_with_activities(
        &self,
        ids: &[String],
    ) -> Result<Vec<Option<Contact>>, SourceError> {
        self.contacts_by_id(ids).await
    }

    /// Scans the next stretch of this source's contacts in `query.order`.
    ///
    /// The adapter pushes down the parts of `query.filter` the upstream can
    /// apply with matching at least as broad as the gateway's (see
    /// [`ContactFilter::matches`]); the caller applies the whole filter to what
    /// comes back. The entries must be in `query.order` as defined by
    /// [`ContactOrder::compare`]: where the upstream cannot sort that way the
    /// adapter reads every matching record and sorts locally.
    async fn list_contacts(&self, query: &ListQuery) -> Result<ListPage, SourceError>;

    /// A cheap read (a list of one record) that shows the upstream answers
    /// this adapter's credentials; `/readyz` waits for one per source. It
    /// goes past the response cache: a kept answer proves nothing.
    async fn probe(&self) -> Result<(), SourceError>;

    /// Checks the source's write rules for a create, without any upstream call.
    fn check_create(&self, input: &ContactInput) -> Result<(), SourceError>;

    /// Checks the source's write rules for an update, without any upstream call.
    fn check_update(&self, input: &ContactInput) -> Result<(), SourceError>;

    /// Creates a contact (after [`Source::check_create`] passed).
    async fn create_contact(&self, input: &ContactInput) -> Result<Contact, SourceError>;

    /// Changes the given fields of a contact (after [`Source::check_update`] passed).
    async fn update_contact(&self, id: &str, input: &ContactInput) -> Result<Contact, SourceError>;

    /// Deletes a contact. A contact that does not exist is `NotFound`.
    async fn delete_contact(&self, id: &str) -> Result<(), SourceError>;
}

/// One scan request to a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub filter: ContactFilter,
    pub order: ContactOrder,
    /// Where to resume: a position this adapter returned earlier for the same
    /// filter and order; `None` starts at the beginning.
    pub after: Option<String>,
    /// How many entries the caller wants at most. The adapter may return fewer
    /// (one upstream page), but returns at least one when any remain.
    pub limit: usize,
    /// Whether the caller will show the contacts' activities. An adapter whose
    /// list request can carry them (Winnerr's `include=activities`) then asks
    /// for them in the same request and fills [`Contact::activities`]; the
    /// others ignore it.
    pub include_activities: bool,
}

/// One stretch of a source's contacts.
#[derive(Debug, Clone)]
pub struct ListPage {
    /// Scanned contacts in order, each with the position that resumes right
    /// after it.
    pub entries: Vec<ListEntry>,
    /// Whether more contacts follow the last entry.
    pub has_more: bool,
    /// How many contacts match in all, when the upstream says so and the whole
    /// filter was pushed down.
    pub total: Option<u64>,
}

/// A scanned contact and the position right after it.
#[derive(Debug, Clone)]
pub struct ListEntry {
    pub contact: Contact,
    pub position: String,
}

/// Sorts every matching contact locally and returns the stretch after the
/// given position; for adapters whose upstream cannot sort in the requested
/// order. Positions are offsets into the sorted list.
pub fn page_of_sorted(
    source_kind: SourceKind,
    mut all: Vec<Contact>,
    query: &ListQuery,
) -> Result<ListPage, SourceError> {
    all.retain(|contact| query.filter.matches(contact));
    all.sort_by(|a, b| query.order.compare(a, b));
    page_of_sorted_slice(source_kind, &all, query)
}

/// The stretch after `query.after` (an offset) of a list already filtered and
/// sorted in `query.order`.
pub fn page_of_sorted_slice(
    source_kind: SourceKind,
    sorted: &[Contact],
    query: &ListQuery,
) -> Result<ListPage, SourceError> {
    let start = match &query.after {
        None => 0,
        Some(position) => position
            .parse::<usize>()
            .map_err(|_| SourceError::BadInput {
                source_kind,
                field: Some("after".into()),
                message: "the cursor does not belong to this list".into(),
                upstream_status: None,
            })?,
    };
    let total = sorted.len();
    let start = start.min(total);
    let end = total.min(start.saturating_add(query.limit.max(1)));
    let entries = sorted[start..end]
        .iter()
        .enumerate()
        .map(|(index, contact)| ListEntry {
            contact: contact.clone(),
            position: (start + index + 1).to_string(),
        })
        .collect();
    Ok(ListPage {
        entries,
        has_more: end < total,
        total: Some(total as u64),
    })
}

/// The configured adapters: each as a [`Source`], and typed for the
/// operations only its upstream offers (properties, activities, tags, bulk
/// updates, transfers).
#[derive(Clone, Default)]
pub struct SourceSet {
    /// Every configured source, in configuration order.
    pub all: Vec<Arc<dyn Source>>,
    pub opentoclose: Option<Arc<opentoclose::OpenToClose>>,
    pub djangocrm: Option<Arc<djangocrm::DjangoCrm>>,
    pub winnerr: Option<Arc<winnerr::Winnerr>>,
    pub spark: Option<Arc<spark::Spark>>,
}

/// One adapter, typed.
#[derive(Clone)]
pub enum Adapter {
    OpenToClose(Arc<opentoclose::OpenToClose>),
    DjangoCrm(Arc<djangocrm::DjangoCrm>),
    Winnerr(Arc<winnerr::Winnerr>),
    Spark(Arc<spark::Spark>),
}

impl Adapter {
    /// The adapter of `credentials`' source, acting with them.
    pub fn build(upstream: &SharedUpstream, credentials: &SourceCredentials) -> Adapter {
        let upstream = upstream.clone();
        match credentials {
            SourceCredentials::OpenToClose { api_token } => Adapter::OpenToClose(Arc::new(
                opentoclose::OpenToClose::new(upstream, api_token.clone()),
            )),
            SourceCredentials::DjangoCrm {
                token,
                organization_id,
            } => Adapter::DjangoCrm(Arc::new(djangocrm::DjangoCrm::new(
                upstream,
                token.clone(),
                organization_id.clone(),
            ))),
            SourceCredentials::Winnerr { token } => {
                Adapter::Winnerr(Arc::new(winnerr::Winnerr::new(upstream, token.clone())))
            }
            SourceCredentials::Spark { token, user_agent } => Adapter::Spark(Arc::new(
                spark::Spark::new(upstream, token.clone(), user_agent.clone()),
            )),
        }
    }

    /// The adapter as a [`Source`].
    pub fn as_source(&self) -> Arc<dyn Source> {
        match self {
            Adapter::OpenToClose(adapter) => adapter.clone(),
            Adapter::DjangoCrm(adapter) => adapter.clone(),
            Adapter::Winnerr(adapter) => adapter.clone(),
            Adapter::Spark(adapter) => adapter.clone(),
        }
    }
}

impl SourceSet {
    /// Adds `adapter`, or puts it in the place of the adapter of its source.
    pub fn insert(&mut self, adapter: Adapter) {
        let source = adapter.as_source();
        let kind = source.kind();
        match self.all.iter_mut().find(|s| s.kind() == kind) {
            Some(slot) => *slot = source,
            None => self.all.push(source),
        }
        match adapter {
            Adapter::OpenToClose(a) => self.opentoclose = Some(a),
            Adapter::DjangoCrm(a) => self.djangocrm = Some(a),
            Adapter::Winnerr(a) => self.winnerr = Some(a),
            Adapter::Spark(a) => self.spark = Some(a),
        }
    }

    /// The configured source of this kind.
    pub fn get(&self, kind: SourceKind) -> Option<&Arc<dyn Source>> {
        self.all.iter().find(|source| source.kind() == kind)
    }

    /// Adds Open To Close.
    pub fn add_opentoclose(&mut self, adapter: opentoclose::OpenToClose) {
        let adapter = Arc::new(adapter);
        self.all.push(adapter.clone());
        self.opentoclose = Some(adapter);
    }

    /// Adds Django-CRM.
    pub fn add_djangocrm(&mut self, adapter: djangocrm::DjangoCrm) {
        let adapter = Arc::new(adapter);
        self.all.push(adapter.clone());
        self.djangocrm = Some(adapter);
    }

    /// Adds Winnerr.
    pub fn add_winnerr(&mut self, adapter: winnerr::Winnerr) {
        let adapter = Arc::new(adapter);
        self.all.push(adapter.clone());
        self.winnerr = Some(adapter);
    }

    /// Adds Spark.
    pub fn add_spark(&mut self, adapter: spark::Spark) {
        let adapter = Arc::new(adapter);
        self.all.push(adapter.clone());
        self.spark = Some(adapter);
    }
}

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
    /// The upstream accepted the gateway's credentials but does not allow
    /// this operation to the user they belong to (such as editing a comment
    /// another user wrote). Unlike `Unauthenticated`, other operations work.
    #[error("{source_kind}: {message}")]
    Forbidden {
        source_kind: SourceKind,
        message: String,
        upstream_status: u16,
    },
    /// The request's deadline passed before the upstream answered.
    #[error("{source_kind} did not answer before the request's deadline")]
    DeadlineExceeded { source_kind: SourceKind },
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
    /// A write may or may not have taken effect upstream.
    #[error("{source_kind} did not say whether the write took effect; read the record before trying again")]
    OutcomeUnknown {
        source_kind: SourceKind,
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
            | SourceError::Forbidden { source_kind, .. }
            | SourceError::Unavailable { source_kind, .. }
            | SourceError::Upstream { source_kind, .. }
            | SourceError::Unsupported { source_kind, .. }
            | SourceError::OutcomeUnknown { source_kind, .. }
            | SourceError::DeadlineExceeded { source_kind } => *source_kind,
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
            }
            | SourceError::OutcomeUnknown {
                upstream_status, ..
            } => *upstream_status,
            SourceError::Conflict {
                upstream_status, ..
            }
            | SourceError::Unauthenticated {
                upstream_status, ..
            }
            | SourceError::Forbidden {
                upstream_status, ..
            } => Some(*upstream_status),
            SourceError::NotFound { .. }
            | SourceError::Unsupported { .. }
            | SourceError::DeadlineExceeded { .. } => None,
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
            | UpstreamError::InvalidRequest { source_kind, .. }
            | UpstreamError::OutcomeUnknown { source_kind, .. }
            | UpstreamError::DeadlineExceeded { source_kind, .. } => *source_kind,
        };
        match error {
            UpstreamError::DeadlineExceeded { .. } => SourceError::DeadlineExceeded { source_kind },
            UpstreamError::OutcomeUnknown {
                upstream_status, ..
            } => SourceError::OutcomeUnknown {
                source_kind,
                upstream_status,
            },
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

/// Sends a probe (see [`Source::probe`]): any 2xx answer is an answer.
pub async fn probe_with(
    upstream: &crate::upstream::Upstream,
    source_kind: SourceKind,
    request: crate::upstream::UpstreamRequest,
) -> Result<(), SourceError> {
    let response = upstream.send(source_kind, request).await?;
    if (200..300).contains(&response.status) {
        return Ok(());
    }
    Err(status_error(
        source_kind,
        &response,
        format!("the probe was answered with HTTP {}", response.status),
    ))
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
pub fn parse_json<'a, T: serde::Deserialize<'a>>(
    source_kind: SourceKind,
    response: &'a UpstreamResponse,
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
