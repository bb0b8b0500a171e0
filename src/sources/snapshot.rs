//! Sorted snapshots: a source's whole matching list, read and sorted once and
//! then reused for the following pages of the same list.
//!
//! Where an upstream cannot sort in the requested order, the adapter must read
//! every matching record to serve even one page. Walking such a list page by
//! page would read everything again for each page; a snapshot makes the walk
//! cost one full read. Snapshots are entries of the response cache
//! ([`crate::cache`]), keyed by the credential set, the filter and the order,
//! and held for the `contact_list` time to live: a write through the gateway
//! that can change a contact list makes them stale at once, concurrent
//! requests for the same missing snapshot share one read, and they count
//! against the cache's one byte budget. With the cache off, every page reads
//! the whole list again.

use std::future::Future;

use super::{page_of_sorted_slice, ListPage, ListQuery, SharedUpstream, SourceError};
use crate::cache::{CacheKey, Directive, Fetched, Fingerprint, Freshness, Resource, Tag};
use crate::domain::{Contact, SourceKind};

/// What a kept contact is taken to weigh, in bytes: the record's text and
/// the fields read from it.
const CONTACT_WEIGHT: usize = 4_096;

/// The sorted snapshots of one adapter.
pub struct SortedSnapshots {
    kind: SourceKind,
    upstream: SharedUpstream,
    credentials: Fingerprint,
}

impl SortedSnapshots {
    /// Snapshots for `kind`'s adapter, whose credential set has the
    /// fingerprint `credentials`.
    pub fn new(kind: SourceKind, upstream: SharedUpstream, credentials: Fingerprint) -> Self {
        Self {
            kind,
            upstream,
            credentials,
        }
    }

    /// The page of `query` from the snapshot of its list, taking the snapshot
    /// with `read_all` (every record the pushed-down filter lets through) when
    /// there is none. `query.after` must be an offset into the sorted list.
    pub async fn page<F, Fut>(
        &self,
        query: &ListQuery,
        read_all: F,
    ) -> Result<ListPage, SourceError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Vec<Contact>, SourceError>>,
    {
        let key = CacheKey::derived(
            self.kind,
            &self.credentials,
            Resource::Contact,
            format!("sorted|{:?}|{:?}", query.filter, query.order),
        );
        let sorted = self
            .upstream
            .cache()
            .read(key, Freshness::ContactList, || async {
                let sorted = sorted_matching(read_all().await?, query);
                let weight = sorted.len().saturating_mul(CONTACT_WEIGHT);
                Ok::<_, SourceError>(Fetched {
                    value: sorted,
                    tags: vec![Tag::List(Resource::Contact)],
                    shares: Vec::new(),
                    weight,
                    directive: Directive::Default,
                })
            })
            .await?;
        page_of_sorted_slice(self.kind, &sorted, query)
    }
}

/// The contacts that match the whole filter, in the query's order.
fn sorted_matching(mut all: Vec<Contact>, query: &ListQuery) -> Vec<Contact> {
    all.retain(|contact| query.filter.matches(contact));
    all.sort_by(|a, b| query.order.compare(a, b));
    all
}
