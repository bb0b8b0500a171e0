//! Federated contact lists: a k-way merge of the sources' ordered streams.
//!
//! Each source pages in its own way (offsets, opaque cursors, page numbers);
//! adapters hide that behind positions (see [`ListEntry`]). This module merges
//! the sources' streams by the requested order and records, in one composite
//! cursor, each source's position after the last contact it contributed. So
//! walking a connection to its end yields every matching contact exactly once:
//! a source's contacts come out in that source's order, each once, whatever
//! the other sources do; the order across sources follows [`ContactOrder`].
//!
//! A failing source is left out of the page, its position kept where it was so
//! that the next page retries it, and its error is reported beside the data.

use std::collections::{BTreeMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures::future::join_all;
use serde::{Deserialize, Serialize};

use crate::domain::{Contact, ContactFilter, ContactOrder, SortKey, SourceKind};
use crate::sources::{ListEntry, ListQuery, Source, SourceError};

/// One page request over several sources.
#[derive(Debug, Clone)]
pub struct FederatedQuery {
    pub sources: Vec<SourceKind>,
    pub filter: ContactFilter,
    pub order: ContactOrder,
    pub first: usize,
    pub after: Option<String>,
    /// Passed to every source as [`ListQuery::include_activities`]. It does
    /// not change which contacts the list holds, so cursors ignore it.
    pub include_activities: bool,
}

/// One page of the merged list.
#[derive(Debug, Clone)]
pub struct FederatedPage {
    /// Contacts in order, each with the cursor that resumes after it.
    pub edges: Vec<(Contact, String)>,
    pub has_next_page: bool,
    /// Whether contacts precede this page.
    pub has_previous_page: bool,
    /// The sum of the sources' totals, when every source could tell.
    pub total: Option<u64>,
    /// Sources that failed; their contacts are missing from this page.
    pub errors: Vec<SourceError>,
}

/// Why a cursor was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    /// Not a cursor this gateway issued.
    #[error("`after` is not a valid cursor")]
    Malformed,
    /// A cursor from a list with another filter, order or set of sources.
    #[error("`after` belongs to a list with another filter, order or set of sources")]
    Mismatch,
}

/// Where one source stands in the merged list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Position {
    /// Nothing of this source consumed yet.
    Start,
    /// Resume after this adapter position.
    At(String),
    /// Every contact of this source has been consumed.
    Done,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CompositeCursor {
    /// Fingerprint of the filter, order and sources the cursor belongs to.
    list: u64,
    positions: BTreeMap<SourceKind, Position>,
    /// The contact at the cursor, for backward paging.
    edge: EdgeKey,
}

/// Where a contact stands in the merged order: key, then source, then id.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EdgeKey {
    key: SortKey,
    source: SourceKind,
    id: String,
}

impl EdgeKey {
    fn of(order: &ContactOrder, contact: &Contact) -> Self {
        Self {
            key: order.key(contact),
            source: contact.source,
            id: contact.source_id.clone(),
        }
    }

    /// The merged order of two contacts, as the merge produces it.
    fn compare(&self, other: &EdgeKey, order: &ContactOrder) -> std::cmp::Ordering {
        order
            .compare_keys(&self.key, &other.key)
            .then_with(|| self.source.cmp(&other.source))
            .then_with(|| crate::domain::query::compare_ids(&self.id, &other.id))
    }
}

impl CompositeCursor {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(text: &str) -> Result<Self, CursorError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map_err(|_| CursorError::Malformed)?;
        serde_json::from_slice(&bytes).map_err(|_| CursorError::Malformed)
    }
}

fn fingerprint(query: &FederatedQuery) -> u64 {
    // The order of `sources` does not change the list, so it is sorted first.
    let mut sources = query.sources.clone();
    sources.sort();
    sources.dedup();
    let mut hasher = Fnv1a64::default();
    (sources, &query.filter, query.order).hash(&mut hasher);
    hasher.finish()
}

/// FNV-1a, 64 bits: a specified hash, so that a cursor issued by one build
/// decodes in the next (std's `DefaultHasher` may change between releases).
struct Fnv1a64(u64);

impl Default for Fnv1a64 {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv1a64 {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The state of one source during a merge.
struct Stream {
    source: Arc<dyn Source>,
    /// Position after the last contact handed out (what the cursor records).
    emitted: Position,
    /// Position after the last contact scanned (where the next fetch resumes).
    scanned: Position,
    /// Scanned contacts that match the filter and are not handed out yet.
    buffer: VecDeque<ListEntry>,
    exhausted: bool,
    total: Option<u64>,
    failed: bool,
}

/// Fetches one merged page.
pub async fn list_contacts(
    sources: &[Arc<dyn Source>],
    query: &FederatedQuery,
) -> Result<FederatedPage, CursorError> {
    let list = fingerprint(query);
    let mut positions: BTreeMap<SourceKind, Position> = match &query.after {
        None => BTreeMap::new(),
        Some(text) => {
            let cursor = CompositeCursor::decode(text)?;
            if cursor.list != list {
                return Err(CursorError::Mismatch);
            }
            cursor.positions
        }
    };
    let mut streams: Vec<Stream> = sources
        .iter()
        .filter(|s| query.sources.contains(&s.kind()))
        .map(|source| {
            let position = positions.remove(&source.kind()).unwrap_or(Position::Start);
            Stream {
                source: source.clone(),
                exhausted: position == Position::Done,
                emitted: position.clone(),
                scanned: position,
                buffer: VecDeque::new(),
                total: None,
                failed: false,
            }
        })
        .collect();
    let mut errors = Vec::new();
    let mut edges = Vec::with_capacity(query.first);
    // One more than the page so that `has_next_page` is known without an extra round.
    let wanted = query.first + 1;
    let mut first_round = true;
    loop {
        refill(&mut streams, query, wanted, &mut errors, first_round).await;
        first_round = false;
        if edges.len() == query.first {
            break;
        }
        // Every live stream now has a buffered contact or is exhausted.
        let Some(next) = pick(&streams, &query.order) else {
            break;
        };
        let stream = &mut streams[next];
        let Some(entry) = stream.buffer.pop_front() else {
            break;
        };
        stream.emitted = Position::At(entry.position);
        if stream.buffer.is_empty() && stream.exhausted {
            stream.emitted = Position::Done;
        }
        let cursor = CompositeCursor {
            list,
            edge: EdgeKey::of(&query.order, &entry.contact),
            positions: streams
                .iter()
                .map(|s| {
                    // A finished stream whose every match was handed out is done,
                    // so later pages need not ask it again.
                    let done = s.exhausted && s.buffer.is_empty() && !s.failed;
                    let position = if done {
                        Position::Done
                    } else {
                        s.emitted.clone()
                    };
                    (s.source.kind(), position)
                })
                .collect(),
        };
        edges.push((entry.contact, cursor.encode()));
    }
    let has_next_page = streams
        .iter()
        .any(|s| !s.failed && (!s.buffer.is_empty() || !s.exhausted));
    let total = streams
        .iter()
        .map(|s| if s.failed { None } else { s.total })
        .sum::<Option<u64>>();
    Ok(FederatedPage {
        edges,
        has_next_page,
        has_previous_page: query.after.is_some(),
        total,
        errors,
    })
}

/// A backward page: the `last` contacts before the cursor `before` (or at the
/// end of the list when there is none).
///
/// Positions only lead forward, so this walks the list forward from its start
/// in pages of `page_size` and keeps the last `last` contacts that come before
/// the cursor's contact in the merged order. It costs as much as reading every
/// contact before the cursor; the edges carry ordinary forward cursors.
pub async fn list_contacts_backward(
    sources: &[Arc<dyn Source>],
    query: &FederatedQuery,
    last: usize,
    before: Option<&str>,
    page_size: usize,
) -> Result<FederatedPage, CursorError> {
    let limit = match before {
        None => None,
        Some(text) => {
            let cursor = CompositeCursor::decode(text)?;
            if cursor.list != fingerprint(query) {
                return Err(CursorError::Mismatch);
            }
            Some(cursor.edge)
        }
    };
    let mut kept: VecDeque<(Contact, String)> = VecDeque::with_capacity(last + 1);
    let mut dropped_any = false;
    let mut errors = Vec::new();
    let mut total = None;
    let mut forward = FederatedQuery {
        first: page_size.max(1),
        after: None,
        ..query.clone()
    };
    'pages: loop {
        let page = list_contacts(sources, &forward).await?;
        if forward.after.is_none() {
            total = page.total;
        }
        errors.extend(page.errors);
        let next = page.edges.last().map(|(_, cursor)| cursor.clone());
        for (contact, cursor) in page.edges {
            if let Some(limit) = &limit {
                let here = EdgeKey::of(&query.order, &contact);
                if here.compare(limit, &query.order) != std::cmp::Ordering::Less {
                    break 'pages;
                }
            }
            kept.push_back((contact, cursor));
            if kept.len() > last {
                kept.pop_front();
                dropped_any = true;
            }
        }
        if !page.has_next_page || next.is_none() || !errors.is_empty() {
            break;
        }
        forward.after = next;
    }
    Ok(FederatedPage {
        edges: kept.into_iter().collect(),
        has_next_page: limit.is_some(),
        has_previous_page: dropped_any,
        total: if errors.is_empty() { total } else { None },
        errors,
    })
}

/// Fetches, concurrently, for every live stream whose buffer is empty, until
/// each live stream has a matching contact buffered or is exhausted.
async fn refill(
    streams: &mut [Stream],
    query: &FederatedQuery,
    wanted: usize,
    errors: &mut Vec<SourceError>,
    first_round: bool,
) {
    loop {
        let needy: Vec<usize> = streams
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.failed && !s.exhausted && s.buffer.is_empty())
            .map(|(i, _)| i)
            .collect();
        if needy.is_empty() {
            return;
        }
        let fetches = needy.iter().map(|&i| {
            let stream = &streams[i];
            let list_query = ListQuery {
                filter: query.filter.clone(),
                order: query.order,
                after: match &stream.scanned {
                    Position::At(position) => Some(position.clone()),
                    Position::Start | Position::Done => None,
                },
                limit: wanted,
                include_activities: query.include_activities,
            };
            let source = stream.source.clone();
            async move { source.list_contacts(&list_query).await }
        });
        let results = join_all(fetches).await;
        for (i, result) in needy.into_iter().zip(results) {
            let stream = &mut streams[i];
            match result {
                Ok(page) => {
                    if first_round || stream.total.is_none() {
                        stream.total = page.total;
                    }
                    if let Some(last) = page.entries.last() {
                        stream.scanned = Position::At(last.position.clone());
                    }
                    let scanned_any = !page.entries.is_empty();
                    stream.buffer.extend(
                        page.entries
                            .into_iter()
                            .filter(|entry| query.filter.matches(&entry.contact)),
                    );
                    // An adapter that claims more but returns nothing would loop forever.
                    stream.exhausted = !page.has_more || !scanned_any;
                }
                Err(error) => {
                    stream.failed = true;
                    errors.push(error);
                }
            }
        }
    }
}

/// The stream whose head comes first: by the order's key, then by source.
fn pick(streams: &[Stream], order: &ContactOrder) -> Option<usize> {
    streams
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            s.buffer
                .front()
                .map(|entry| (i, s.source.kind(), order.key(&entry.contact)))
        })
        .min_by(|(_, kind_a, key_a), (_, kind_b, key_b)| {
            order
                .compare_keys(key_a, key_b)
                .then_with(|| kind_a.cmp(kind_b))
        })
        .map(|(i, _, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ContactInput, Direction, OrderField};
    use crate::sources::{page_of_sorted, ListPage};
    use async_trait::async_trait;
    use chrono::{Duration, TimeZone, Utc};

    /// A source that holds contacts in memory and returns at most `page_size` per call.
    struct FakeSource {
        kind: SourceKind,
        contacts: Vec<Contact>,
        page_size: usize,
        calls: std::sync::atomic::AtomicUsize,
    }

    #[async_trait]
    impl Source for FakeSource {
        fn kind(&self) -> SourceKind {
            self.kind
        }
        async fn contacts_by_id(&self, _: &[String]) -> Result<Vec<Option<Contact>>, SourceError> {
            unreachable!("not used by lists")
        }
        async fn probe(&self) -> Result<(), SourceError> {
            Ok(())
        }
        async fn list_contacts(&self, query: &ListQuery) -> Result<ListPage, SourceError> {
            self.calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut limited = query.clone();
            limited.limit = query.limit.min(self.page_size);
            page_of_sorted(self.kind, self.contacts.clone(), &limited)
        }
        fn check_create(&self, _: &ContactInput) -> Result<(), SourceError> {
            Ok(())
        }
        fn check_update(&self, _: &ContactInput) -> Result<(), SourceError> {
            Ok(())
        }
        async fn create_contact(&self, _: &ContactInput) -> Result<Contact, SourceError> {
            unreachable!()
        }
        async fn update_contact(&self, _: &str, _: &ContactInput) -> Result<Contact, SourceError> {
            unreachable!()
        }
        async fn delete_contact(&self, _: &str) -> Result<(), SourceError> {
            unreachable!()
        }
    }

    fn fake(kind: SourceKind, count: usize, page_size: usize, seed: u64) -> Arc<dyn Source> {
        let names = ["Smith", "Lee", "Adams", "Young", "Kim", "Baker", "Ng"];
        let base = Utc.with_ymd_and_hms(2023, 1, 1, 0, 0, 0).unwrap();
        let contacts = (0..count)
            .map(|i| {
                let mut c = Contact::new(kind, (i + 1).to_string(), serde_json::Value::Null);
                let n = (i as u64 * 7 + seed) as usize;
                c.last_name = Some(names[n % names.len()].to_string());
                c.first_name = Some(format!("P{}", n % 5));
                c.created_at = Some(base + Duration::hours(((n * 13) % 97) as i64));
                c.tags = if i % 3 == 0 {
                    vec!["vip".into()]
                } else {
                    vec![]
                };
                c
            })
            .collect();
        Arc::new(FakeSource {
            kind,
            contacts,
            page_size,
            calls: Default::default(),
        })
    }

    async fn walk(
        sources: &[Arc<dyn Source>],
        order: ContactOrder,
        filter: ContactFilter,
        first: usize,
    ) -> Vec<(SourceKind, String)> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let query = FederatedQuery {
                sources: SourceKind::ALL.to_vec(),
                filter: filter.clone(),
                order,
                first,
                after: after.clone(),
                include_activities: false,
            };
            let page = list_contacts(sources, &query).await.unwrap();
            assert!(page.errors.is_empty());
            assert!(page.edges.len() <= first);
            out.extend(
                page.edges
                    .iter()
                    .map(|(c, _)| (c.source, c.source_id.clone())),
            );
            if !page.has_next_page {
                break;
            }
            after = page.edges.last().map(|(_, cursor)| cursor.clone());
            assert!(after.is_some(), "a page with a next page must have edges");
        }
        out
    }

    #[tokio::test]
    async fn walking_yields_every_contact_once_in_order() {
        let sources = vec![
            fake(SourceKind::OpenToClose, 23, 100, 1),
            fake(SourceKind::DjangoCrm, 17, 10, 2),
            fake(SourceKind::Winnerr, 31, 3, 3),
            fake(SourceKind::Spark, 0, 25, 4),
        ];
        let all: Vec<Contact> = {
            let mut all = Vec::new();
            for s in &sources {
                let mut after = None;
                loop {
                    let page = s
                        .list_contacts(&ListQuery {
                            filter: Default::default(),
                            order: Default::default(),
                            after,
                            limit: 1000,
                            include_activities: false,
                        })
                        .await
                        .unwrap();
                    after = page.entries.last().map(|e| e.position.clone());
                    all.extend(page.entries.into_iter().map(|e| e.contact));
                    if !page.has_more {
                        break;
                    }
                }
            }
            assert_eq!(all.len(), 23 + 17 + 31);
            all
        };
        for field in [OrderField::Name, OrderField::CreatedAt] {
            for direction in [Direction::Asc, Direction::Desc] {
                let order = ContactOrder { field, direction };
                for filter in [
                    ContactFilter::default(),
                    ContactFilter {
                        tags: vec!["VIP".into()],
                        ..Default::default()
                    },
                ] {
                    let mut expected: Vec<&Contact> =
                        all.iter().filter(|c| filter.matches(c)).collect();
                    expected.sort_by(|a, b| {
                        order
                            .compare_keys(&order.key(a), &order.key(b))
                            .then_with(|| a.source.cmp(&b.source))
                            .then_with(|| order.compare(a, b))
                    });
                    let expected: Vec<(SourceKind, String)> = expected
                        .iter()
                        .map(|c| (c.source, c.source_id.clone()))
                        .collect();
                    for first in [1, 7, 50] {
                        let got = walk(&sources, order, filter.clone(), first).await;
                        assert_eq!(got, expected, "{order:?} first={first} filter={filter:?}");
                    }
                }
            }
        }
    }

    #[tokio::test]
    async fn backward_pages_are_the_forward_list_read_from_the_end() {
        let sources = vec![
            fake(SourceKind::OpenToClose, 11, 4, 1),
            fake(SourceKind::Spark, 9, 2, 5),
        ];
        let order = ContactOrder {
            field: OrderField::CreatedAt,
            direction: Direction::Desc,
        };
        let forward = walk(&sources, order, ContactFilter::default(), 50).await;
        let query = FederatedQuery {
            sources: SourceKind::ALL.to_vec(),
            filter: ContactFilter::default(),
            order,
            first: 0,
            after: None,
            include_activities: false,
        };
        // From the end, three at a time, back to the start.
        let mut backward = Vec::new();
        let mut before: Option<String> = None;
        loop {
            let page = list_contacts_backward(&sources, &query, 3, before.as_deref(), 5)
                .await
                .unwrap();
            let ids: Vec<(SourceKind, String)> = page
                .edges
                .iter()
                .map(|(c, _)| (c.source, c.source_id.clone()))
                .collect();
            backward.splice(0..0, ids);
            if !page.has_previous_page {
                break;
            }
            before = page.edges.first().map(|(_, cursor)| cursor.clone());
        }
        assert_eq!(backward, forward);
    }

    #[tokio::test]
    async fn cursors_from_another_list_are_refused() {
        let sources = vec![fake(SourceKind::Winnerr, 5, 2, 1)];
        let query = FederatedQuery {
            sources: vec![SourceKind::Winnerr],
            filter: Default::default(),
            order: Default::default(),
            first: 2,
            after: None,
            include_activities: false,
        };
        let page = list_contacts(&sources, &query).await.unwrap();
        let cursor = page.edges[1].1.clone();
        let other = FederatedQuery {
            order: ContactOrder {
                field: OrderField::CreatedAt,
                direction: Direction::Asc,
            },
            after: Some(cursor),
            ..query.clone()
        };
        assert_eq!(
            list_contacts(&sources, &other).await.unwrap_err(),
            CursorError::Mismatch
        );
        let bad = FederatedQuery {
            after: Some("nonsense".into()),
            ..query
        };
        assert_eq!(
            list_contacts(&sources, &bad).await.unwrap_err(),
            CursorError::Malformed
        );
    }

    #[test]
    fn the_cursor_fingerprint_is_the_same_in_every_build() {
        let query = FederatedQuery {
            sources: vec![SourceKind::Spark, SourceKind::OpenToClose],
            filter: ContactFilter {
                city: Some("Miami".into()),
                ..ContactFilter::default()
            },
            order: ContactOrder::default(),
            first: 10,
            after: None,
            include_activities: false,
        };
        // Pinned: a different value means cursors issued earlier stop
        // decoding, which CHANGELOG.md must then say.
        assert_eq!(fingerprint(&query), 3_490_403_324_075_516_021);
    }
}
