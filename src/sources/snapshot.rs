//! Sorted snapshots: a source's whole matching list, read and sorted once and
//! then reused for the following pages of the same list.
//!
//! Where an upstream cannot sort in the requested order, the adapter must read
//! every matching record to serve even one page. Walking such a list page by
//! page would read everything again for each page; a snapshot makes the walk
//! cost one full read. A snapshot lives for the configured time
//! (`[lists] sorted_snapshot_ttl_ms`), and one taken before a write through
//! the gateway to the same source is never served after that write: the key
//! carries the source's [`Upstream::write_generation`]. Concurrent requests
//! for the same missing snapshot share one read. The total number of kept
//! contacts per source is bounded (`sorted_snapshot_max_contacts`).
//!
//! Every adapter holds one credential, and its snapshots stay inside it, so a
//! snapshot is never served to a caller with other upstream credentials.
//!
//! [`Upstream::write_generation`]: crate::upstream::Upstream::write_generation

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use super::{page_of_sorted_slice, ListPage, ListQuery, SharedUpstream, SourceError};
use crate::config::ListSettings;
use crate::domain::{Contact, SourceKind};

/// The sorted snapshots of one adapter.
pub struct SortedSnapshots {
    kind: SourceKind,
    upstream: SharedUpstream,
    cache: Option<Cache<String, Arc<Vec<Contact>>>>,
}

impl SortedSnapshots {
    /// Snapshots for `kind`'s adapter; none are kept when the time to live is 0.
    pub fn new(kind: SourceKind, upstream: SharedUpstream, settings: ListSettings) -> Self {
        let cache = (settings.sorted_snapshot_ttl_ms > 0).then(|| {
            Cache::builder()
                .max_capacity(settings.sorted_snapshot_max_contacts)
                .weigher(|_key: &String, contacts: &Arc<Vec<Contact>>| {
                    u32::try_from(contacts.len().max(1)).unwrap_or(u32::MAX)
                })
                .time_to_live(Duration::from_millis(settings.sorted_snapshot_ttl_ms))
                .build()
        });
        Self {
            kind,
            upstream,
            cache,
        }
    }

    /// The page of `query` from the snapshot of its list, taking the snapshot
    /// with `read_all` (every record the pushed-down filter lets through) when
    /// there is none. `query.after` must be an offset into the sorted list.
    pub async fn page<F>(&self, query: &ListQuery, read_all: F) -> Result<ListPage, SourceError>
    where
        F: Future<Output = Result<Vec<Contact>, SourceError>>,
    {
        let Some(cache) = &self.cache else {
            let sorted = sorted_matching(read_all.await?, query);
            return page_of_sorted_slice(self.kind, &sorted, query);
        };
        let key = format!(
            "{}|{:?}|{:?}",
            self.upstream.write_generation(self.kind),
            query.filter,
            query.order
        );
        let sorted = cache
            .try_get_with(key, async {
                Ok::<_, SourceError>(Arc::new(sorted_matching(read_all.await?, query)))
            })
            .await
            .map_err(|error: Arc<SourceError>| (*error).clone())?;
        page_of_sorted_slice(self.kind, &sorted, query)
    }
}

/// The contacts that match the whole filter, in the query's order.
fn sorted_matching(mut all: Vec<Contact>, query: &ListQuery) -> Vec<Contact> {
    all.retain(|contact| query.filter.matches(contact));
    all.sort_by(|a, b| query.order.compare(a, b));
    all
}
