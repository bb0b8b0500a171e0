//! Contact lists from `GET /contacts`: which filters go upstream, which sort
//! is asked for, and the positions handed to the federation layer.
//!
//! **Ordering.** Winnerr sorts by several keys and always breaks the final
//! tie by `id` ascending, whatever the direction; text keys compare trimmed
//! and lower-cased, timestamps as whole seconds. That is exactly
//! [`ContactOrder::compare`] (key, then upstream id ascending as text) for
//! `NAME` (`lastName,firstName` in the requested direction), `CREATED_AT` and
//! `UPDATED_AT`, as long as every contact has the key the gateway compares:
//! a contact without a last name is ordered by its display name in the
//! gateway but by an empty last name upstream, and a contact without a
//! timestamp sorts last in the gateway. Winnerr requires both names and
//! stamps both times, so neither happens against the emulator; should an
//! upstream page ever hold such a contact (or come back out of order), the
//! adapter switches that list to reading every matching record and sorting
//! locally. Under `NAME ASC` an empty last name sorts first upstream, so the
//! switch happens on the first page and the list stays exact; under the other
//! orders such contacts would be met late and earlier pages may already have
//! been served in upstream order.
//!
//! **Positions.** Winnerr's cursor is an opaque keyset cursor for the end of
//! the page it came with; a cursor for any other entry cannot be made. So a
//! position records the cursor the entry's page was fetched with, how many
//! entries of that page precede the resume point (to size the re-fetch), and
//! the entry's own sort key and id. Resuming re-fetches that page and keeps
//! only what sorts after the recorded key and id, which stays exact when
//! contacts are inserted, deleted or changed between requests. The last entry
//! of an upstream page resumes from the page's `nextCursor` directly.
//! Positions of a list read locally carry a flag and no cursor.
//!
//! **Filters.** `type` and `status` go upstream when they name a value of
//! the seed's tables (Winnerr stores those spellings only, so equality
//! ignoring case is the same); one tag goes upstream (Winnerr matches ANY of
//! the given tags, so one of the wanted tags is a superset of "all of them");
//! `createdAfter`/`createdBefore` go as the inclusive `createdAt[gte|lte]`.
//! City, email, phone and search have no Winnerr parameter and are applied
//! here. `total` is Winnerr's `pagination.total` only when the upstream's
//! matching equals the whole filter.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::activities::map_listed_contact;
use super::wire::{unusable, ListBody};
use super::writes::{table_value, CONTACT_STATUSES, CONTACT_TYPES};
use super::{Winnerr, KIND};
use crate::domain::query::compare_ids;
use crate::domain::{Contact, ContactOrder, Direction, OrderField, SortKey};
use crate::sources::{ListEntry, ListPage, ListQuery, SourceError};

/// Winnerr's largest page.
pub const MAX_PAGE_SIZE: usize = 100;

/// Stops a local read that never ends (an upstream handing out cursors in a
/// loop) instead of reading forever.
const MAX_PAGES_PER_LOCAL_READ: usize = 1_000;

/// How one list query is asked of Winnerr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPlan {
    /// The `sort` parameter.
    pub sort: &'static str,
    /// Filter parameters pushed down.
    pub filters: Vec<(&'static str, String)>,
    /// Whether Winnerr's matching equals the whole gateway filter, so that
    /// its `total` is the gateway's count and no contact is dropped here.
    pub exact: bool,
    /// Whether each page asks for the contacts' activities too
    /// (`include=activities`, in the same request).
    pub include_activities: bool,
}

impl ListPlan {
    pub fn new(query: &ListQuery) -> ListPlan {
        let filter = &query.filter;
        let mut filters = Vec::new();
        let mut exact = filter.search.is_none()
            && filter.email.is_none()
            && filter.phone.is_none()
            && filter.city.is_none();
        let enumerations = [
            ("type", &filter.contact_type, CONTACT_TYPES),
            ("status", &filter.status, CONTACT_STATUSES),
        ];
        for (parameter, wanted, table) in enumerations {
            if let Some(wanted) = wanted {
                match table_value(table, wanted) {
                    Some(value) => filters.push((parameter, value.to_string())),
                    None => exact = false,
                }
            }
        }
        // Winnerr splits `tags` on commas and trims each, so only a tag that
        // survives that unchanged is sent.
        let pushable =
            |tag: &&String| !tag.is_empty() && !tag.contains(',') && tag.trim() == tag.as_str();
        match filter.tags.iter().find(pushable) {
            Some(tag) => {
                filters.push(("tags", tag.clone()));
                // Winnerr lower-cases beyond ASCII, the gateway does not.
                exact &= filter.tags.len() == 1 && tag.is_ascii();
            }
            None => exact &= filter.tags.is_empty(),
        }
        let instant = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        if let Some(after) = &filter.created_after {
            filters.push(("createdAt[gte]", instant(after)));
            exact = false;
        }
        if let Some(before) = &filter.created_before {
            filters.push(("createdAt[lte]", instant(before)));
            exact = false;
        }
        ListPlan {
            sort: sort_parameter(query.order),
            filters,
            exact,
            include_activities: query.include_activities,
        }
    }
}

/// The `sort` parameter that orders like [`ContactOrder::compare`].
pub fn sort_parameter(order: ContactOrder) -> &'static str {
    match (order.field, order.direction) {
        (OrderField::Name, Direction::Asc) => "lastName:asc,firstName:asc",
        (OrderField::Name, Direction::Desc) => "lastName:desc,firstName:desc",
        (OrderField::CreatedAt, Direction::Asc) => "createdAt:asc",
        (OrderField::CreatedAt, Direction::Desc) => "createdAt:desc",
        (OrderField::UpdatedAt, Direction::Asc) => "updatedAt:asc",
        (OrderField::UpdatedAt, Direction::Desc) => "updatedAt:desc",
    }
}

/// Where a list resumes: right after the contact with `key` and `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The list is read whole and sorted here.
    #[serde(rename = "l", default, skip_serializing_if = "std::ops::Not::not")]
    pub local: bool,
    /// The upstream cursor the next page is fetched with (`None`: the start).
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// How many entries of that page precede the resume point.
    #[serde(rename = "s", default)]
    pub skip: usize,
    #[serde(rename = "k")]
    pub key: StoredKey,
    #[serde(rename = "i")]
    pub id: String,
}

/// A [`SortKey`] in a form that survives a round trip through text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredKey {
    #[serde(rename = "n")]
    Name(String, String),
    #[serde(rename = "t")]
    Time(DateTime<Utc>),
    #[serde(rename = "m")]
    Missing,
}

impl From<SortKey> for StoredKey {
    fn from(key: SortKey) -> Self {
        match key {
            SortKey::Name(last, first) => StoredKey::Name(last, first),
            SortKey::Time(time) => StoredKey::Time(time),
            SortKey::Missing => StoredKey::Missing,
        }
    }
}

impl From<StoredKey> for SortKey {
    fn from(key: StoredKey) -> Self {
        match key {
            StoredKey::Name(last, first) => SortKey::Name(last, first),
            StoredKey::Time(time) => SortKey::Time(time),
            StoredKey::Missing => SortKey::Missing,
        }
    }
}

/// Positions start with this, so a position of another adapter or version is
/// recognised as foreign.
const POSITION_PREFIX: &str = "w1.";

impl Position {
    fn after(contact: &Contact, order: ContactOrder, cursor: Option<String>, skip: usize) -> Self {
        Position {
            local: false,
            cursor,
            skip,
            key: order.key(contact).into(),
            id: contact.source_id.clone(),
        }
    }

    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("{POSITION_PREFIX}{}", URL_SAFE_NO_PAD.encode(json))
    }

    /// Reads a position made by [`Position::encode`] for a list in `order`.
    pub fn decode(text: &str, order: ContactOrder) -> Result<Position, SourceError> {
        let foreign = || SourceError::BadInput {
            source_kind: KIND,
            field: Some("after".into()),
            message: "the cursor does not belong to this list".into(),
            upstream_status: None,
        };
        let encoded = text.strip_prefix(POSITION_PREFIX).ok_or_else(foreign)?;
        let json = URL_SAFE_NO_PAD
            .decode(encoded.as_bytes())
            .map_err(|_| foreign())?;
        let position: Position = serde_json::from_slice(&json).map_err(|_| foreign())?;
        let key_fits = matches!(
            (&position.key, order.field),
            (StoredKey::Missing, _)
                | (StoredKey::Name(..), OrderField::Name)
                | (
                    StoredKey::Time(_),
                    OrderField::CreatedAt | OrderField::UpdatedAt
                )
        );
        if !key_fits || position.skip > MAX_PAGE_SIZE || position.id.is_empty() {
            return Err(foreign());
        }
        Ok(position)
    }

    /// Whether `contact` comes after this position in `order`.
    fn precedes(&self, contact: &Contact, order: ContactOrder) -> bool {
        let key: SortKey = self.key.clone().into();
        order
            .compare_keys(&key, &order.key(contact))
            .then_with(|| compare_ids(&self.id, &contact.source_id))
            .is_lt()
    }
}

/// Whether Winnerr's order of `contacts` is the gateway's: every contact has
/// the key the gateway compares, in the form Winnerr compares, and each one
/// sorts strictly after the one before.
pub fn natively_ordered(contacts: &[Contact], order: ContactOrder) -> bool {
    let has_native_key = |contact: &Contact| match order.field {
        OrderField::Name => contact.last_name.is_some(),
        OrderField::CreatedAt => contact.created_at.is_some(),
        OrderField::UpdatedAt => contact.updated_at.is_some(),
    };
    contacts.iter().all(has_native_key)
        && contacts
            .windows(2)
            .all(|pair| order.compare(&pair[0], &pair[1]).is_lt())
}

/// One page as fetched and mapped.
pub(super) struct FetchedPage {
    pub(super) contacts: Vec<Contact>,
    next_cursor: Option<String>,
    total: Option<u64>,
}

impl FetchedPage {
    /// Maps the records of a list answer.
    pub(super) fn from_body(body: ListBody) -> Result<Self, SourceError> {
        let contacts = body
            .records
            .into_iter()
            .map(map_listed_contact)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FetchedPage {
            contacts,
            next_cursor: body.next_cursor,
            total: body.total,
        })
    }
}

impl Winnerr {
    /// Fetches one upstream page of the plan's list.
    async fn fetch_page(
        &self,
        plan: &ListPlan,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<std::sync::Arc<FetchedPage>, SourceError> {
        self.list_request(plan, cursor, limit).await
    }

    /// The next stretch of the list in `query.order`; see the module docs.
    pub(super) async fn list(&self, query: &ListQuery) -> Result<ListPage, SourceError> {
        let plan = ListPlan::new(query);
        let after = query
            .after
            .as_deref()
            .map(|text| Position::decode(text, query.order))
            .transpose()?;
        if after.as_ref().is_some_and(|position| position.local) {
            return self.local_page(query, &plan, after.as_ref()).await;
        }
        let wanted = query.limit.max(1);
        let mut cursor = after.as_ref().and_then(|p| p.cursor.clone());
        let mut skip = after.as_ref().map_or(0, |p| p.skip);
        let mut entries: Vec<ListEntry> = Vec::new();
        let mut total = None;
        let mut first_fetch = true;
        loop {
            // With the whole filter upstream, every record fetched is served,
            // so the page is sized to what is wanted; otherwise the largest
            // page saves requests while matches are searched for here.
            let size = if plan.exact {
                (skip + wanted).min(MAX_PAGE_SIZE)
            } else {
                MAX_PAGE_SIZE
            };
            let page = self.fetch_page(&plan, cursor.as_deref(), size).await?;
            if first_fetch && plan.exact {
                total = page.total;
            }
            first_fetch = false;
            if !natively_ordered(&page.contacts, query.order) {
                return self.local_page(query, &plan, after.as_ref()).await;
            }
            let count = page.contacts.len();
            for (index, contact) in page.contacts.iter().cloned().enumerate() {
                if entries.len() == wanted {
                    return Ok(ListPage {
                        entries,
                        has_more: true,
                        total,
                    });
                }
                let is_after = after
                    .as_ref()
                    .is_none_or(|position| position.precedes(&contact, query.order));
                if !is_after || !query.filter.matches(&contact) {
                    continue;
                }
                let position = match (&page.next_cursor, index + 1 == count) {
                    (Some(next), true) => {
                        Position::after(&contact, query.order, Some(next.clone()), 0)
                    }
                    _ => Position::after(&contact, query.order, cursor.clone(), index + 1),
                };
                entries.push(ListEntry {
                    contact,
                    position: position.encode(),
                });
            }
            let Some(next) = page.next_cursor.clone() else {
                return Ok(ListPage {
                    entries,
                    has_more: false,
                    total,
                });
            };
            // One upstream request per call is enough when the whole filter
            // is upstream: the federation asks again if it needs more.
            if entries.len() == wanted || (plan.exact && !entries.is_empty()) {
                return Ok(ListPage {
                    entries,
                    has_more: true,
                    total,
                });
            }
            cursor = Some(next);
            skip = 0;
        }
    }

    /// Reads every matching record, sorts locally and returns the stretch
    /// after `after`, for lists Winnerr cannot order like the gateway.
    async fn local_page(
        &self,
        query: &ListQuery,
        plan: &ListPlan,
        after: Option<&Position>,
    ) -> Result<ListPage, SourceError> {
        let mut all: Vec<Contact> = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES_PER_LOCAL_READ {
            let page = self
                .fetch_page(plan, cursor.as_deref(), MAX_PAGE_SIZE)
                .await?;
            all.extend(
                page.contacts
                    .iter()
                    .filter(|contact| query.filter.matches(contact))
                    .cloned(),
            );
            match page.next_cursor.clone() {
                Some(next) => cursor = Some(next),
                None => {
                    all.sort_by(|a, b| query.order.compare(a, b));
                    let total = all.len() as u64;
                    let wanted = query.limit.max(1);
                    let mut remaining = all
                        .into_iter()
                        .filter(|contact| after.is_none_or(|p| p.precedes(contact, query.order)));
                    let entries: Vec<ListEntry> = remaining
                        .by_ref()
                        .take(wanted)
                        .map(|contact| {
                            let mut position = Position::after(&contact, query.order, None, 0);
                            position.local = true;
                            ListEntry {
                                position: position.encode(),
                                contact,
                            }
                        })
                        .collect();
                    return Ok(ListPage {
                        entries,
                        has_more: remaining.next().is_some(),
                        total: Some(total),
                    });
                }
            }
        }
        Err(unusable("the contact list did not end"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ContactFilter;
    use chrono::TimeZone;

    fn query(filter: ContactFilter, order: ContactOrder) -> ListQuery {
        ListQuery {
            filter,
            order,
            after: None,
            limit: 51,
            include_activities: false,
        }
    }

    fn contact(id: &str, last: Option<&str>, first: &str, created_hour: Option<u32>) -> Contact {
        let mut contact = Contact::new(KIND, id, serde_json::Value::Null);
        contact.last_name = last.map(str::to_string);
        contact.first_name = Some(first.to_string());
        contact.created_at =
            created_hour.map(|h| Utc.with_ymd_and_hms(2024, 1, 15, h, 0, 0).unwrap());
        contact.updated_at = contact.created_at;
        contact
    }

    #[test]
    fn sort_parameters() {
        let order = |field, direction| ContactOrder { field, direction };
        assert_eq!(
            sort_parameter(order(OrderField::Name, Direction::Asc)),
            "lastName:asc,firstName:asc"
        );
        assert_eq!(
            sort_parameter(order(OrderField::Name, Direction::Desc)),
            "lastName:desc,firstName:desc"
        );
        assert_eq!(
            sort_parameter(order(OrderField::CreatedAt, Direction::Desc)),
            "createdAt:desc"
        );
        assert_eq!(
            sort_parameter(order(OrderField::UpdatedAt, Direction::Asc)),
            "updatedAt:asc"
        );
    }

    #[test]
    fn pushdown_plan() {
        let plan = ListPlan::new(&query(ContactFilter::default(), Default::default()));
        assert!(plan.exact && plan.filters.is_empty());

        let plan = ListPlan::new(&query(
            ContactFilter {
                contact_type: Some("lead".into()),
                status: Some("Do_Not_Contact".into()),
                tags: vec!["Investor".into()],
                ..Default::default()
            },
            Default::default(),
        ));
        assert_eq!(
            plan.filters,
            vec![
                ("type", "LEAD".to_string()),
                ("status", "DO_NOT_CONTACT".to_string()),
                ("tags", "Investor".to_string())
            ]
        );
        assert!(plan.exact);

        // Two tags: one goes upstream (a superset), the rest is checked here.
        let plan = ListPlan::new(&query(
            ContactFilter {
                tags: vec![" a".into(), "x,y".into(), "b".into(), "c".into()],
                ..Default::default()
            },
            Default::default(),
        ));
        assert_eq!(plan.filters, vec![("tags", "b".to_string())]);
        assert!(!plan.exact);

        // A value outside Winnerr's table cannot be asked for; checked here.
        let plan = ListPlan::new(&query(
            ContactFilter {
                contact_type: Some("Buyer".into()),
                ..Default::default()
            },
            Default::default(),
        ));
        assert!(plan.filters.is_empty() && !plan.exact);

        let after = Utc.with_ymd_and_hms(2024, 1, 15, 10, 30, 0).unwrap();
        let plan = ListPlan::new(&query(
            ContactFilter {
                created_after: Some(after),
                created_before: Some(after + chrono::Duration::milliseconds(1500)),
                city: Some("Miami".into()),
                ..Default::default()
            },
            Default::default(),
        ));
        assert_eq!(
            plan.filters,
            vec![
                ("createdAt[gte]", "2024-01-15T10:30:00Z".to_string()),
                ("createdAt[lte]", "2024-01-15T10:30:01.500Z".to_string())
            ]
        );
        assert!(!plan.exact);
        for gateway_only in [
            ContactFilter {
                search: Some("ann".into()),
                ..Default::default()
            },
            ContactFilter {
                email: Some("a@b.c".into()),
                ..Default::default()
            },
            ContactFilter {
                phone: Some("555".into()),
                ..Default::default()
            },
        ] {
            let plan = ListPlan::new(&query(gateway_only, Default::default()));
            assert!(plan.filters.is_empty() && !plan.exact);
        }
    }

    #[test]
    fn positions_round_trip_and_reject_foreign_text() {
        let order = ContactOrder::default();
        let ann = contact("contact_a", Some("Adams"), "Ann", Some(1));
        let position = Position::after(&ann, order, Some("cursor==".into()), 7);
        let text = position.encode();
        assert!(text.starts_with("w1."));
        assert_eq!(Position::decode(&text, order).unwrap(), position);
        let local = Position {
            local: true,
            cursor: None,
            skip: 0,
            ..position.clone()
        };
        assert_eq!(Position::decode(&local.encode(), order).unwrap(), local);
        let by_time = ContactOrder {
            field: OrderField::CreatedAt,
            direction: Direction::Desc,
        };
        let foreign = [
            "".to_string(),
            "12".to_string(),
            "w1.!!!".to_string(),
            format!("w1.{}", URL_SAFE_NO_PAD.encode("{\"x\":1}")),
            // A name position used for a time order.
            text.clone(),
        ];
        for (index, bad) in foreign.iter().enumerate() {
            let order = if index == foreign.len() - 1 {
                by_time
            } else {
                order
            };
            assert!(
                matches!(
                    Position::decode(bad, order),
                    Err(SourceError::BadInput { field: Some(ref f), .. }) if f == "after"
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn positions_resume_strictly_after_their_contact() {
        let order = ContactOrder::default();
        let ann = contact("contact_b", Some("Adams"), "Ann", Some(1));
        let position = Position::after(&ann, order, None, 1);
        assert!(!position.precedes(&ann, order));
        assert!(position.precedes(&contact("contact_c", Some("adams"), "ann", None), order));
        assert!(!position.precedes(&contact("contact_a", Some("Adams"), "Ann", None), order));
        assert!(position.precedes(&contact("contact_a", Some("Baker"), "Al", None), order));
        // Ties break by id ascending in both directions.
        let descending = ContactOrder {
            field: OrderField::CreatedAt,
            direction: Direction::Desc,
        };
        let position = Position::after(&ann, descending, None, 1);
        assert!(position.precedes(&contact("contact_c", Some("Z"), "Z", Some(1)), descending));
        assert!(position.precedes(&contact("contact_a", Some("Z"), "Z", Some(0)), descending));
        assert!(!position.precedes(&contact("contact_a", Some("Z"), "Z", Some(1)), descending));
    }

    #[test]
    fn native_order_check() {
        let order = ContactOrder::default();
        let a = contact("contact_2", Some("Adams"), "Ann", Some(1));
        let b = contact("contact_1", Some("adams "), "Bob", Some(2));
        let c = contact("contact_3", Some("Adams"), "bob", Some(3));
        assert!(natively_ordered(&[a.clone(), b.clone(), c.clone()], order));
        assert!(!natively_ordered(&[b.clone(), a.clone()], order));
        let nameless = contact("contact_4", None, "Cy", Some(4));
        assert!(!natively_ordered(std::slice::from_ref(&nameless), order));
        let by_time = ContactOrder {
            field: OrderField::CreatedAt,
            direction: Direction::Asc,
        };
        assert!(natively_ordered(&[a.clone(), b.clone(), nameless], by_time));
        assert!(!natively_ordered(
            &[a, contact("contact_5", Some("X"), "Y", None)],
            by_time
        ));
    }

    /// A stand-in upstream whose records include one without a last name:
    /// Winnerr sorts it first (empty text), the gateway by its display name.
    async fn spawn_stub_with_a_nameless_contact() -> Winnerr {
        use axum::extract::Query;
        use std::collections::HashMap;
        let records = serde_json::json!([
            {"id": "contact_1", "firstName": "Zed", "lastName": null, "createdAt": "2024-01-01T00:00:00Z"},
            {"id": "contact_2", "firstName": "Ann", "lastName": "Adams", "createdAt": "2024-01-02T00:00:00Z"},
            {"id": "contact_4", "firstName": "Bo", "lastName": "Baker", "createdAt": "2024-01-03T00:00:00Z"},
            {"id": "contact_3", "firstName": "Al", "lastName": "Young", "createdAt": "2024-01-04T00:00:00Z"}
        ]);
        let list = move |Query(params): Query<HashMap<String, String>>| {
            let records = records.as_array().cloned().unwrap_or_default();
            async move {
                // The stub's cursor is a plain offset.
                let start: usize = params
                    .get("cursor")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0);
                let limit: usize = params
                    .get("limit")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(25);
                let end = records.len().min(start + limit);
                let more = end < records.len();
                axum::Json(serde_json::json!({
                    "success": true,
                    "data": records[start..end],
                    "pagination": {"hasMore": more, "nextCursor": more.then(|| end.to_string()),
                        "total": records.len(), "limit": limit}
                }))
            }
        };
        let router = axum::Router::new().route("/contacts", axum::routing::get(list));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        let config = crate::config::SourceConfig {
            kind: KIND,
            base_url: format!("http://{address}"),
            timeout: std::time::Duration::from_secs(5),
            max_concurrent_requests: 4,
            retry: crate::config::RetrySettings::default(),
            credentials: crate::config::SourceCredentials::Winnerr {
                token: crate::config::Secret::new("t"),
            },
        };
        let upstream = std::sync::Arc::new(crate::upstream::Upstream::new(
            &[config],
            &crate::config::CacheSettings::default(),
        ));
        Winnerr::new(upstream, crate::config::Secret::new("t"))
    }

    #[tokio::test]
    async fn a_contact_without_last_name_switches_the_list_to_a_local_sort() {
        let adapter = spawn_stub_with_a_nameless_contact().await;
        let mut query = query(ContactFilter::default(), ContactOrder::default());
        query.limit = 2;
        let page = adapter.list(&query).await.unwrap();
        let ids = |page: &ListPage| -> Vec<String> {
            page.entries
                .iter()
                .map(|e| e.contact.source_id.clone())
                .collect()
        };
        assert_eq!(ids(&page), vec!["contact_2", "contact_4"]);
        assert!(page.has_more);
        assert_eq!(page.total, Some(4));
        query.after = Some(page.entries[1].position.clone());
        let page = adapter.list(&query).await.unwrap();
        // "zed" (the display name) sorts after "young".
        assert_eq!(ids(&page), vec!["contact_3", "contact_1"]);
        assert!(!page.has_more);

        // The same upstream ordered by creation time needs no local sort.
        let mut by_time = query.clone();
        by_time.order = ContactOrder {
            field: OrderField::CreatedAt,
            direction: Direction::Asc,
        };
        by_time.after = None;
        let page = adapter.list(&by_time).await.unwrap();
        assert_eq!(ids(&page), vec!["contact_1", "contact_2"]);
        assert!(
            !Position::decode(&page.entries[1].position, by_time.order)
                .unwrap()
                .local
        );
    }
}
