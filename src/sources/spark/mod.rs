//! Spark Platform adapter: `Authorization: Bearer` plus the
//! `X-SparkApi-User-Agent` header, records in the `D` envelope, `_filter`
//! (SparkQL) searches, `_limit`/`_page` paging of at most 25 rows.
//!
//! Submodules: [`envelope`] (the envelope and error codes), [`mapping`]
//! (records to [`Contact`]), [`listing`] (filter pushdown, positions, native
//! windows), [`writes`] (write rules and bodies) and [`operations`] (tags,
//! transfers, and the signed-in user's own contact at `/my/contact`).
//!
//! # Lookups
//! Ids are 24 or 26 digits; anything else is unknown without a request. A
//! single id is one `GET /contacts/{Id}`. Several ids are fetched 25 at a time
//! with `GET /contacts?_filter=Id Eq '<id>','<id>',...&_limit=25` (a list of at
//! most 200 values, a page of at most 25 rows). That list holds only Connected
//! contacts, so the ids it does not answer are asked once more, 25 at a time,
//! of `/contacts/unconnected` with the same filter: one request per chunk of
//! missing ids instead of one per id, and none at all when every id was
//! found. An id missing from both is unknown.
//!
//! # Lists
//! Lists are the agent's contacts, `/contacts` (the Connected ones): Spark
//! itself keeps Unconnected contacts out of that list until they are
//! transferred, and listing them too would cost a second request per page.
//! They remain reachable by id. Filters are pushed down as [`listing`] says.
//!
//! - `CREATED_AT` and `UPDATED_AT` use Spark's `_orderby` (`CreatedTimestamp`,
//!   `ModificationTimestamp`, `-` for descending) with native paging and
//!   key-based positions; contacts with equal times are put in the gateway's
//!   order locally (see [`listing::settle_window`]). A page costs one request
//!   unless many contacts share one time.
//! - `NAME` is the last name, then the first name; Spark can only order by
//!   `DisplayName`, which is not that order. So every matching contact is
//!   read (page 1 first, then the other pages at once) and sorted locally.
//!
//! Every read asks for the `Notes` expansion, since notes are written through
//! `Note` but never shown on the record itself.
//!
//! # Writes
//! Create is `POST /contacts`, which answers only `[{ResourceUri, Id}]`, so
//! the new contact is read back with `GET /contacts/{Id}` (one more request)
//! to return it as Spark stored it. Update is `PUT /contacts/{Id}` and a read
//! back, for the same reason; delete is `DELETE /contacts/{Id}`.

mod envelope;
mod listing;
mod mapping;
pub mod operations;
mod writes;

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use futures::future::join_all;
use reqwest::header::{HeaderName, AUTHORIZATION};
use reqwest::Method;

use self::envelope::read_answer;
use self::listing::{
    keyset_expression, pushdown, settle_window, time_attribute, time_key, Keyset, Position,
    Pushdown,
};
use self::mapping::{is_spark_id, map_contact, record_id};
use super::snapshot::SortedSnapshots;
use super::{ListEntry, ListPage, ListQuery, SharedUpstream, Source, SourceError};
use crate::cache::{Change, Fingerprint, Freshness, Resource, Share, Tag};
use crate::config::Secret;
use crate::domain::{Contact, ContactInput, Direction, SourceKind};
use crate::upstream::{route, Route};
use crate::upstream::{Credential, Parsed, UpstreamRequest, UpstreamResponse};

const KIND: SourceKind = SourceKind::Spark;

/// The most rows Spark returns in one page, and the most ids asked at once.
const PAGE_SIZE: usize = 25;

/// A bound on the pages read for one natively ordered window, against an
/// upstream that never stops sending rows with the same time.
const MAX_WINDOW_PAGES: usize = 400;

/// The user agent header Spark requires on every request.
const USER_AGENT_HEADER: HeaderName = HeaderName::from_static("x-sparkapi-user-agent");

/// The Spark Platform adapter.
pub struct Spark {
    upstream: SharedUpstream,
    /// `Bearer TOKEN`, the whole `Authorization` value.
    authorization: Secret,
    user_agent: String,
    /// The fingerprint of the credential, for the keys of kept records.
    fingerprint: Fingerprint,
    snapshots: SortedSnapshots,
}

impl Spark {
    pub fn new(upstream: SharedUpstream, token: Secret, user_agent: String) -> Self {
        let authorization = Secret::new(format!("Bearer {}", token.expose()));
        let fingerprint =
            upstream.fingerprint(&[Credential::Header(AUTHORIZATION, authorization.clone())]);
        Self {
            snapshots: SortedSnapshots::new(KIND, upstream.clone(), fingerprint.clone()),
            upstream,
            authorization,
            user_agent,
            fingerprint,
        }
    }

    fn request(&self, method: Method, route: Route) -> UpstreamRequest {
        UpstreamRequest::new(method, route)
            .credential(Credential::Header(
                AUTHORIZATION,
                self.authorization.clone(),
            ))
            .header(USER_AGENT_HEADER, self.user_agent.clone())
    }

    async fn send(&self, request: UpstreamRequest) -> Result<UpstreamResponse, SourceError> {
        Ok(self.upstream.send(KIND, request).await?)
    }

    /// `GET /contacts/{Id}`: the contact, or `None` when Spark does not know
    /// it. A kept copy serves instead where there is one.
    async fn fetch_one(&self, id: &str) -> Result<Option<Contact>, SourceError> {
        let read = self
            .upstream
            .read_record(
                KIND,
                self.one_request(id),
                Resource::Contact,
                id,
                Freshness::Contact,
                |response| Ok(Parsed::new(one_contact(id, response)?, Vec::new())),
            )
            .await;
        match read {
            Ok(contact) => Ok(Some(Contact::clone(&contact))),
            Err(SourceError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `GET /contacts/{Id}` straight from Spark, for a write that must start
    /// from what Spark holds now.
    async fn fetch_current(&self, id: &str) -> Result<Option<Contact>, SourceError> {
        let response = self.send(self.one_request(id)).await?;
        match one_contact(id, &response) {
            Ok(contact) => Ok(Some(contact)),
            Err(SourceError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    fn one_request(&self, id: &str) -> UpstreamRequest {
        self.request(Method::GET, route!("/contacts/{id}"))
            .query("_expand", "Notes")
    }

    /// The contacts among `ids` (at most [`PAGE_SIZE`]) that one list holds.
    /// The answer depends on each id asked for (a contact transferred later
    /// moves between the lists), and each contact in it is kept on its own.
    async fn fetch_batch(
        &self,
        path: &'static str,
        ids: &[String],
    ) -> Result<Vec<Contact>, SourceError> {
        let values: Vec<String> = ids.iter().map(|id| format!("'{id}'")).collect();
        let request = self
            .request(Method::GET, Route::from(path))
            .query("_filter", format!("Id Eq {}", values.join(",")))
            .query("_limit", PAGE_SIZE)
            .query("_expand", "Notes");
        let contacts = self
            .upstream
            .read(KIND, request, Freshness::Contact, |response| {
                let results = read_answer(response)?.into_results(response.status)?;
                let contacts = results
                    .into_iter()
                    .map(map_contact)
                    .collect::<Result<Vec<_>, _>>()?;
                let tags = ids
                    .iter()
                    .map(|id| Tag::record(Resource::Contact, id))
                    .collect();
                let shares = contacts.iter().map(share_contact).collect();
                Ok::<_, SourceError>(Parsed::new(contacts, tags).sharing(shares))
            })
            .await?;
        Ok(Vec::clone(&contacts))
    }

    /// Looks `ids` up in one list, 25 at a time, all chunks at once.
    async fn fetch_batches(
        &self,
        path: &'static str,
        ids: &[String],
    ) -> Result<HashMap<String, Contact>, SourceError> {
        let chunks = ids
            .chunks(PAGE_SIZE)
            .map(|chunk| self.fetch_batch(path, chunk));
        let mut found = HashMap::new();
        for batch in join_all(chunks).await {
            for contact in batch? {
                found.insert(contact.source_id.clone(), contact);
            }
        }
        Ok(found)
    }

    /// One page of a contact list.
    async fn fetch_page(
        &self,
        filter: Option<&str>,
        order_by: Option<String>,
        page: usize,
    ) -> Result<(Vec<Contact>, Option<u64>), SourceError> {
        let mut request = self
            .request(Method::GET, Route::from("/contacts"))
            .query("_limit", PAGE_SIZE)
            .query("_page", page)
            .query("_pagination", 1)
            .query("_expand", "Notes");
        if let Some(filter) = filter {
            request = request.query("_filter", filter);
        }
        if let Some(order_by) = order_by {
            request = request.query("_orderby", order_by);
        }
        let page = self
            .upstream
            .read(KIND, request, Freshness::ContactList, |response| {
                let answer = read_answer(response)?;
                let total_rows = answer.total_rows;
                let results = answer.into_results(response.status)?;
                let contacts = results
                    .into_iter()
                    .map(map_contact)
                    .collect::<Result<Vec<_>, _>>()?;
                let shares = contacts.iter().map(share_contact).collect();
                Ok::<_, SourceError>(
                    Parsed::new((contacts, total_rows), vec![Tag::List(Resource::Contact)])
                        .sharing(shares),
                )
            })
            .await?;
        Ok((page.0.clone(), page.1))
    }

    /// Every contact the pushed filter matches: page 1, then the remaining
    /// pages at once when Spark says how many there are, else one after
    /// another until a short page.
    async fn fetch_all(&self, filter: Option<&str>) -> Result<Vec<Contact>, SourceError> {
        let (mut contacts, total_rows) = self.fetch_page(filter, None, 1).await?;
        match total_rows {
            Some(total_rows) => {
                let pages = (total_rows as usize).div_ceil(PAGE_SIZE);
                let rest = (2..=pages).map(|page| self.fetch_page(filter, None, page));
                for page in join_all(rest).await {
                    contacts.extend(page?.0);
                }
            }
            None => {
                let mut last_page_len = contacts.len();
                let mut page = 1;
                while last_page_len == PAGE_SIZE {
                    page += 1;
                    let (more, _) = self.fetch_page(filter, None, page).await?;
                    last_page_len = more.len();
                    contacts.extend(more);
                }
            }
        }
        // Contacts added or removed between the pages may shift a row onto two pages.
        let mut seen = HashSet::new();
        contacts.retain(|contact| seen.insert(contact.source_id.clone()));
        Ok(contacts)
    }

    /// Name order: read everything, sort locally.
    async fn list_sorted_locally(
        &self,
        query: &ListQuery,
        pushed: &Pushdown,
    ) -> Result<ListPage, SourceError> {
        let offset = match query.after.as_deref() {
            None => None,
            Some(text) => match Position::decode(text, &query.order)? {
                Position::Sorted(offset) => Some(offset.to_string()),
                Position::After(_) => None,
            },
        };
        let offset_query = ListQuery {
            after: offset,
            ..query.clone()
        };
        let filter = pushed.filter_parameter(None);
        let mut page = self
            .snapshots
            .page(&offset_query, || self.fetch_all(filter.as_deref()))
            .await?;
        for entry in &mut page.entries {
            let offset = entry.position.parse().unwrap_or_default();
            entry.position = Position::Sorted(offset).encode();
        }
        Ok(page)
    }

    /// Time orders: Spark's `_orderby` and paging, resumed by key.
    async fn list_natively(
        &self,
        query: &ListQuery,
        pushed: &Pushdown,
        attribute: &str,
    ) -> Result<ListPage, SourceError> {
        let order = &query.order;
        let after = match query.after.as_deref() {
            None => None,
            Some(text) => match Position::decode(text, order)? {
                Position::After(keyset) => Some(keyset),
                Position::Sorted(_) => None,
            },
        };
        let filter = pushed.filter_parameter(
            after
                .as_ref()
                .and_then(|keyset| keyset_expression(order, keyset)),
        );
        let order_by = match order.direction {
            Direction::Asc => attribute.to_string(),
            Direction::Desc => format!("-{attribute}"),
        };
        let mut rows: Vec<Contact> = Vec::new();
        let mut seen = HashSet::new();
        let mut total_rows = None;
        let mut page = 1;
        let (settled, exhausted) = loop {
            let (contacts, page_total) = self
                .fetch_page(filter.as_deref(), Some(order_by.clone()), page)
                .await?;
            if page == 1 {
                total_rows = page_total;
            }
            let short_page = contacts.len() < PAGE_SIZE;
            for contact in contacts {
                if seen.insert(contact.source_id.clone()) {
                    check_native_order(order, rows.last(), &contact)?;
                    rows.push(contact);
                }
            }
            let exhausted =
                short_page || total_rows.is_some_and(|total| (page * PAGE_SIZE) as u64 >= total);
            let settled = settle_window(order, after.as_ref(), &rows, exhausted);
            if exhausted || !settled.ready.is_empty() {
                break (settled, exhausted);
            }
            if page >= MAX_WINDOW_PAGES {
                return Err(SourceError::Upstream {
                    source_kind: KIND,
                    message: format!(
                        "more than {} contacts share one {attribute}",
                        MAX_WINDOW_PAGES * PAGE_SIZE
                    ),
                    upstream_status: None,
                });
            }
            page += 1;
        };
        let handed_out_before = after.as_ref().map_or(0, |keyset| keyset.handed_out);
        let take = settled.ready.len().min(query.limit.max(1));
        let has_more = take < settled.ready.len() || settled.held_back > 0 || !exhausted;
        // Contacts before the keyset's time, plus all Spark counts from it on.
        let total = total_rows.filter(|_| pushed.exact).map(|rows_from_key| {
            handed_out_before.saturating_sub(settled.seen_at_key) + rows_from_key
        });
        let entries = settled
            .ready
            .into_iter()
            .take(take)
            .enumerate()
            .map(|(index, contact)| {
                let position = Position::After(Keyset {
                    handed_out: handed_out_before + index as u64 + 1,
                    key: time_key(order, &contact).unwrap_or_default(),
                    id: contact.source_id.clone(),
                });
                ListEntry {
                    position: position.encode(),
                    contact,
                }
            })
            .collect();
        Ok(ListPage {
            entries,
            has_more,
            total,
        })
    }
}

/// Native order needs every row to carry its time (Spark always sends both
/// timestamps) and Spark's rows to come in the order's direction.
fn check_native_order(
    order: &crate::domain::ContactOrder,
    previous: Option<&Contact>,
    row: &Contact,
) -> Result<(), SourceError> {
    let unusable = |message: String| SourceError::Upstream {
        source_kind: KIND,
        message,
        upstream_status: Some(200),
    };
    if time_key(order, row).is_none() {
        return Err(unusable(format!(
            "contact {} has no readable timestamp to order by",
            row.source_id
        )));
    }
    if let Some(previous) = previous {
        if order.compare_keys(&order.key(previous), &order.key(row)) == std::cmp::Ordering::Greater
        {
            return Err(unusable(
                "Spark returned contacts out of the requested order".into(),
            ));
        }
    }
    Ok(())
}

/// The contact of a `GET /contacts/{Id}` answer; `NotFound` for a 404.
fn one_contact(id: &str, response: &UpstreamResponse) -> Result<Contact, SourceError> {
    if response.status == 404 {
        return Err(SourceError::NotFound {
            source_kind: KIND,
            what: format!("contact {id}"),
        });
    }
    let results = read_answer(response)?.into_results(response.status)?;
    match results.into_iter().next() {
        Some(record) => map_contact(record),
        None => Err(SourceError::Upstream {
            source_kind: KIND,
            message: "the answer for one contact holds no record".into(),
            upstream_status: Some(response.status),
        }),
    }
}

/// A contact to keep as a record of its own, for later reads by id.
fn share_contact(contact: &Contact) -> Share {
    Share::new(
        Resource::Contact,
        &contact.source_id,
        std::sync::Arc::new(contact.clone()),
        Vec::new(),
        Freshness::Contact,
    )
}

#[async_trait]
impl Source for Spark {
    async fn probe(&self) -> Result<(), SourceError> {
        let request = self
            .request(Method::GET, Route::from("/contacts"))
            .query("_limit", 1);
        super::probe_with(&self.upstream, KIND, request).await
    }

    fn kind(&self) -> SourceKind {
        KIND
    }

    async fn contacts_by_id(&self, ids: &[String]) -> Result<Vec<Option<Contact>>, SourceError> {
        let mut unique: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for id in ids.iter().filter(|id| is_spark_id(id)) {
            if seen.insert(id.as_str()) {
                unique.push(id.clone());
            }
        }
        // Contacts kept from earlier answers need no request.
        let mut found: HashMap<String, Contact> = HashMap::new();
        let mut unique_missing = Vec::with_capacity(unique.len());
        for id in unique {
            match self
                .upstream
                .cached_record::<Contact>(KIND, &self.fingerprint, Resource::Contact, &id)
                .await
            {
                Some(contact) => {
                    found.insert(id, Contact::clone(&contact));
                }
                None => unique_missing.push(id),
            }
        }
        let unique = unique_missing;
        if let [only] = unique.as_slice() {
            if let Some(contact) = self.fetch_one(only).await? {
                found.insert(only.clone(), contact);
            }
        } else if !unique.is_empty() {
            found.extend(self.fetch_batches("/contacts", &unique).await?);
            let missing: Vec<String> = unique
                .iter()
                .filter(|id| !found.contains_key(*id))
                .cloned()
                .collect();
            if !missing.is_empty() {
                found.extend(
                    self.fetch_batches("/contacts/unconnected", &missing)
                        .await?,
                );
            }
        }
        Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
    }

    async fn list_contacts(&self, query: &ListQuery) -> Result<ListPage, SourceError> {
        // A position is checked even when no request follows.
        if let Some(after) = &query.after {
            Position::decode(after, &query.order)?;
        }
        let pushed = pushdown(&query.filter);
        if pushed.matches_nothing {
            return Ok(ListPage {
                entries: Vec::new(),
                has_more: false,
                total: Some(0),
            });
        }
        match time_attribute(query.order.field) {
            Some(attribute) => self.list_natively(query, &pushed, attribute).await,
            None => self.list_sorted_locally(query, &pushed).await,
        }
    }

    fn check_create(&self, input: &ContactInput) -> Result<(), SourceError> {
        writes::check_create(input)
    }

    fn check_update(&self, input: &ContactInput) -> Result<(), SourceError> {
        writes::check_update(input)
    }

    async fn create_contact(&self, input: &ContactInput) -> Result<Contact, SourceError> {
        let request = self
            .request(Method::POST, Route::from("/contacts"))
            .json(writes::create_body(input))
            .changes([Change::Lists(Resource::Contact)]);
        let response = self.send(request).await?;
        let results = read_answer(&response)?.into_results(response.status)?;
        let id = results
            .first()
            .and_then(record_id)
            .ok_or_else(|| SourceError::Upstream {
                source_kind: KIND,
                message: "the create answer names no `Id`".into(),
                upstream_status: Some(response.status),
            })?;
        self.fetch_one(&id)
            .await?
            .ok_or_else(|| SourceError::Upstream {
                source_kind: KIND,
                message: format!("the created contact {id} could not be read back"),
                upstream_status: Some(404),
            })
    }

    async fn update_contact(&self, id: &str, input: &ContactInput) -> Result<Contact, SourceError> {
        let not_found = || SourceError::NotFound {
            source_kind: KIND,
            what: format!("contact {id}"),
        };
        if !is_spark_id(id) {
            return Err(not_found());
        }
        let request = self
            .request(Method::PUT, route!("/contacts/{id}"))
            .json(writes::update_body(input))
            .changes([Change::Record(Resource::Contact, id.to_string())]);
        let response = self.send(request).await?;
        read_answer(&response)?;
        self.fetch_one(id).await?.ok_or_else(not_found)
    }

    async fn delete_contact(&self, id: &str) -> Result<(), SourceError> {
        if !is_spark_id(id) {
            return Err(SourceError::NotFound {
                source_kind: KIND,
                what: format!("contact {id}"),
            });
        }
        let response = self
            .send(
                self.request(Method::DELETE, route!("/contacts/{id}"))
                    .changes([Change::Record(Resource::Contact, id.to_string())]),
            )
            .await?;
        read_answer(&response)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::OrderField;
    use serde_json::Value;

    #[test]
    fn natively_ordered_rows_must_carry_their_time_in_order() {
        use crate::domain::ContactOrder;
        use chrono::{TimeZone, Utc};
        let order = ContactOrder {
            field: OrderField::CreatedAt,
            direction: Direction::Desc,
        };
        let mut older = Contact::new(KIND, "1", Value::Null);
        older.created_at = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).single();
        let mut newer = older.clone();
        newer.source_id = "2".into();
        newer.created_at = Utc.with_ymd_and_hms(2021, 1, 1, 0, 0, 0).single();
        assert!(check_native_order(&order, Some(&newer), &older).is_ok());
        assert!(matches!(
            check_native_order(&order, Some(&older), &newer),
            Err(SourceError::Upstream { .. })
        ));
        let timeless = Contact::new(KIND, "3", Value::Null);
        assert!(check_native_order(&order, None, &timeless).is_err());
    }
}
