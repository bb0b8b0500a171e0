//! Open To Close adapter: snake_case records, `api_token` query auth, bare
//! arrays (or `{"data": [...]}`) paged by `limit`/`offset`, errors as
//! `{"message", "errors"|"field_errors"}`.
//!
//! # Lists
//! The upstream pages by offset until an empty page and never says how many
//! records match, so positions are absolute offsets and `total` is unknown
//! on natively paged lists.
//!
//! - `CREATED_AT` and `UPDATED_AT` are paged natively with `sort=created`,
//!   `-created`, `updated` or `-updated`: the upstream breaks ties by id
//!   ascending in both directions, which is exactly [`ContactOrder::compare`],
//!   so a first page of N contacts costs one request when N fits one upstream
//!   page. Every record carries both timestamps, so the "missing values last"
//!   rule never comes into play.
//! - `NAME` (last name, then first name, the display name when there is no
//!   last name) cannot be asked of the upstream: `sort=last_name` breaks ties
//!   by id rather than by first name, places contacts without a last name
//!   together instead of under their first name, and takes a single key. So
//!   every matching record is read (100 per request, until an empty page) and
//!   sorted locally, and the sorted list is kept as a [`SortedSnapshot`] for
//!   the following pages. Having read everything, these lists know and report
//!   the exact `total`.
//!
//! [`SortedSnapshot`]: super::snapshot
//!
//! # Filter pushdown
//! Only what the upstream matches at least as broadly as
//! [`ContactFilter::matches`] is sent; the federation layer re-applies the
//! whole filter.
//!
//! - `type` goes to `contact_type` (both are case-insensitive equality).
//! - `search`, `email` and `phone` share the one `search` parameter, which
//!   matches a case-insensitive substring of the raw first name, last name,
//!   `"first last"`, email or phone, and for phone-like terms also the
//!   phone's digits (ignoring a leading 1). At most one of them is sent, the
//!   most selective first:
//!   - `email` as the trimmed address: every equal email contains it.
//!   - `phone` as its national digits when there are three or more: every
//!     number with those national digits has them among its digits.
//!   - a phone-like `search` as given: the upstream applies the same digit
//!     substring rule (and ignores a leading 1, which only widens it).
//!   - any other `search` as its longest whitespace-free word: the gateway
//!     matches the trimmed names and their join, the upstream the raw names
//!     (which may carry stray spaces, so a term spanning the join could be
//!     missed); a word without spaces that occurs in the gateway's join lies
//!     wholly inside the first or the last name, so the upstream finds it.
//! - `city`, `status`, `createdAfter`/`createdBefore` are applied by the
//!   gateway. In `CREATED_AT` order a natively paged list stops at the first
//!   record past the `createdBefore` (ascending) or `createdAfter`
//!   (descending) bound, since no later record can match. Open To Close has
//!   no tags, so a `tags` filter matches nothing and costs no request.
//!
//! # Writes
//! The upstream stores only `first_name`, `last_name`, `email` and `phone`
//! (per the Open To Close Contacts API documentation: other fields "may not persist", `name` is rejected), so every
//! other input field is refused before any request, naming the field.
//!
//! # Secrets
//! The key travels in the query string. Upstream messages are passed on only
//! after every occurrence of the key (raw or percent-encoded) is removed, and
//! nothing here formats a URL.

pub mod properties;
pub mod wire;

use async_trait::async_trait;
use futures::future::join_all;
use reqwest::Method;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use self::wire::{fields_of, records_of, unwrap_data, ContactFields};

use super::snapshot::SortedSnapshots;
use super::{
    parse_json, status_error, ListEntry, ListPage, ListQuery, SharedUpstream, Source, SourceError,
};
use crate::cache::{Change, Freshness, Resource, Share, Tag};
use crate::config::Secret;
use crate::domain::query::{is_phone_search, national_digits};
use crate::domain::{
    Address, Contact, ContactFilter, ContactInput, ContactOrder, Direction, Email, OrderField,
    Phone, SourceKind,
};
use crate::upstream::{route, Route};
use crate::upstream::{Credential, Parsed, UpstreamRequest, UpstreamResponse};

const KIND: SourceKind = SourceKind::OpenToClose;

/// The largest page the upstream serves; larger `limit` values are clamped.
const MAX_PAGE_SIZE: usize = 100;

/// How many pages a full read may take before the answer is deemed unusable
/// (an upstream that ignored `offset` would otherwise be read forever).
const MAX_FULL_READ_PAGES: usize = 2_000;

/// The longest text the upstream stores in a contact field, in characters.
const MAX_TEXT_LENGTH: usize = 255;

/// The input fields Open To Close stores, by GraphQL name.
const STORED_FIELDS: [&str; 4] = ["firstName", "lastName", "email", "phone"];

/// The Open To Close adapter.
pub struct OpenToClose {
    upstream: SharedUpstream,
    api_token: Secret,
    snapshots: SortedSnapshots,
}

impl OpenToClose {
    /// An adapter sending its requests through `upstream` with `api_token`.
    pub fn new(upstream: SharedUpstream, api_token: Secret) -> Self {
        let fingerprint =
            upstream.fingerprint(&[Credential::Query("api_token", api_token.clone())]);
        Self {
            snapshots: SortedSnapshots::new(KIND, upstream.clone(), fingerprint),
            upstream,
            api_token,
        }
    }

    fn request(&self, method: Method, route: Route) -> UpstreamRequest {
        UpstreamRequest::new(method, route)
            .credential(Credential::Query("api_token", self.api_token.clone()))
    }

    async fn contact_by_id(&self, id: &str) -> Result<Option<Contact>, SourceError> {
        // Ids of a form the gateway never issues cannot name a contact, so
        // they are answered without a request.
        if !is_canonical_id(id) {
            return Ok(None);
        }
        let read = self
            .upstream
            .read_record(
                KIND,
                self.request(Method::GET, route!("/contacts/{id}")),
                Resource::Contact,
                id,
                Freshness::Contact,
                |response| match response.status {
                    200 => Ok(Parsed::new(self.contact_from(response)?, Vec::new())),
                    404 => Err(not_found(id)),
                    _ => Err(self.error_from(response)),
                },
            )
            .await;
        match read {
            Ok(contact) => Ok(Some(Contact::clone(&contact))),
            Err(SourceError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Maps a single-record answer, scrubbing any error message it yields.
    fn contact_from(&self, response: &UpstreamResponse) -> Result<Contact, SourceError> {
        let body: Box<RawValue> = parse_json(KIND, response).map_err(|e| self.scrub_error(e))?;
        map_contact(unwrap_data(body)).map_err(|e| self.scrub_error(e))
    }

    /// One page of `GET /contacts`: the contacts, in the upstream's order.
    /// Each is kept as a record too, for later reads by id.
    async fn fetch_page(
        &self,
        parameters: &[(&'static str, String)],
        offset: u64,
        limit: usize,
    ) -> Result<std::sync::Arc<Vec<Contact>>, SourceError> {
        let mut request = self
            .request(Method::GET, Route::from("/contacts"))
            .query("limit", limit)
            .query("offset", offset);
        for (key, value) in parameters {
            request = request.query(key, value);
        }
        self.upstream
            .read(KIND, request, Freshness::ContactList, |response| {
                if response.status != 200 {
                    return Err(self.error_from(response));
                }
                let body: &RawValue =
                    parse_json(KIND, response).map_err(|e| self.scrub_error(e))?;
                let contacts = records_of(body)?
                    .into_iter()
                    .map(map_contact)
                    .collect::<Result<Vec<_>, _>>()?;
                let shares = contacts.iter().map(share_contact).collect();
                Ok(Parsed::new(contacts, vec![Tag::List(Resource::Contact)]).sharing(shares))
            })
            .await
    }

    /// A natively ordered stretch: one upstream page from the position on.
    async fn list_native(
        &self,
        query: &ListQuery,
        mut parameters: Vec<(&'static str, String)>,
    ) -> Result<ListPage, SourceError> {
        let start = parse_position(query.after.as_deref())?;
        parameters.push(("sort", native_sort(query.order).to_string()));
        let limit = query.limit.clamp(1, MAX_PAGE_SIZE);
        let contacts = self.fetch_page(&parameters, start, limit).await?;
        // The upstream signals the end only by an empty page: a short page
        // may be its own cap rather than the end.
        let mut has_more = !contacts.is_empty();
        let mut entries = Vec::with_capacity(contacts.len());
        for (index, contact) in contacts.iter().enumerate() {
            let contact = contact.clone();
            if is_past_created_bound(&query.filter, query.order, &contact) {
                has_more = false;
            }
            entries.push(ListEntry {
                contact,
                position: (start + index as u64 + 1).to_string(),
            });
        }
        Ok(ListPage {
            entries,
            has_more,
            total: None,
        })
    }

    /// Reads every record the pushed-down filter lets through, then sorts locally.
    async fn list_sorted(
        &self,
        query: &ListQuery,
        parameters: Vec<(&'static str, String)>,
    ) -> Result<ListPage, SourceError> {
        // Checked before reading, so that a foreign cursor costs no request.
        parse_position(query.after.as_deref())?;
        self.snapshots
            .page(query, || self.read_all(&parameters))
            .await
    }

    /// Every record the pushed-down parameters let through, page by page.
    async fn read_all(
        &self,
        parameters: &[(&'static str, String)],
    ) -> Result<Vec<Contact>, SourceError> {
        let mut all = Vec::new();
        let mut offset = 0u64;
        for _ in 0..MAX_FULL_READ_PAGES {
            let contacts = self.fetch_page(parameters, offset, MAX_PAGE_SIZE).await?;
            if contacts.is_empty() {
                return Ok(all);
            }
            offset += contacts.len() as u64;
            all.extend(contacts.iter().cloned());
        }
        Err(SourceError::Upstream {
            source_kind: KIND,
            message: format!(
                "the contact list did not end after {MAX_FULL_READ_PAGES} pages of {MAX_PAGE_SIZE}"
            ),
            upstream_status: Some(200),
        })
    }

    /// Classifies a non-success answer of the contact routes, with the
    /// upstream's field errors mapped back to GraphQL field names.
    fn error_from(&self, response: &UpstreamResponse) -> SourceError {
        self.error_naming_fields(response, graphql_field)
    }

    /// Classifies a non-success answer, naming the offending input field with
    /// `field_name` (upstream field → GraphQL input field).
    fn error_naming_fields(
        &self,
        response: &UpstreamResponse,
        field_name: fn(&str) -> Option<&'static str>,
    ) -> SourceError {
        let body = serde_json::from_slice::<Value>(&response.body).ok();
        let message = body
            .as_ref()
            .and_then(|body| body.get("message"))
            .and_then(Value::as_str)
            .map(|message| self.scrub(message))
            .filter(|message| !message.trim().is_empty())
            .unwrap_or_else(|| format!("HTTP {}", response.status));
        if matches!(response.status, 400 | 422) {
            if let Some((key, detail)) = body.as_ref().and_then(first_problem) {
                let detail = self.scrub(&detail);
                return SourceError::BadInput {
                    source_kind: KIND,
                    field: field_name(&key).map(str::to_string),
                    message: format!("{message}: {}: {detail}", self.scrub(&key)),
                    upstream_status: Some(response.status),
                };
            }
        }
        status_error(KIND, response, message)
    }

    /// Removes the key from text that came from the upstream.
    fn scrub(&self, text: &str) -> String {
        let token = self.api_token.expose();
        if token.is_empty() {
            return text.to_string();
        }
        let encoded = urlencoding::encode(token).into_owned();
        text.replace(token, "[redacted]")
            .replace(&encoded, "[redacted]")
    }

    fn scrub_error(&self, error: SourceError) -> SourceError {
        match error {
            SourceError::Upstream {
                source_kind,
                message,
                upstream_status,
            } => SourceError::Upstream {
                source_kind,
                message: self.scrub(&message),
                upstream_status,
            },
            other => other,
        }
    }

    fn expect_record(&self, response: &UpstreamResponse) -> Result<Contact, SourceError> {
        match response.status {
            200 | 201 => self.contact_from(response),
            _ => Err(self.error_from(response)),
        }
    }
}

#[async_trait]
impl Source for OpenToClose {
    async fn probe(&self) -> Result<(), SourceError> {
        let request = self
            .request(Method::GET, Route::from("/contacts"))
            .query("limit", 1);
        super::probe_with(&self.upstream, KIND, request).await
    }

    fn kind(&self) -> SourceKind {
        KIND
    }

    async fn contacts_by_id(&self, ids: &[String]) -> Result<Vec<Option<Contact>>, SourceError> {
        // Open To Close has no multi-record fetch: the requests run at once,
        // bounded by the source's concurrency limit in the upstream layer.
        join_all(ids.iter().map(|id| self.contact_by_id(id)))
            .await
            .into_iter()
            .collect()
    }

    async fn list_contacts(&self, query: &ListQuery) -> Result<ListPage, SourceError> {
        if can_never_match(&query.filter) {
            parse_position(query.after.as_deref())?;
            return Ok(ListPage {
                entries: Vec::new(),
                has_more: false,
                total: Some(0),
            });
        }
        let parameters = pushed_down_parameters(&query.filter);
        match query.order.field {
            OrderField::CreatedAt | OrderField::UpdatedAt => {
                self.list_native(query, parameters).await
            }
            OrderField::Name => self.list_sorted(query, parameters).await,
        }
    }

    fn check_create(&self, input: &ContactInput) -> Result<(), SourceError> {
        check_write(input, true)
    }

    fn check_update(&self, input: &ContactInput) -> Result<(), SourceError> {
        check_write(input, false)
    }

    async fn create_contact(&self, input: &ContactInput) -> Result<Contact, SourceError> {
        let request = self
            .request(Method::POST, Route::from("/contacts"))
            .json(write_body(input))
            .changes([Change::Lists(Resource::Contact)]);
        let response = self.upstream.send(KIND, request).await?;
        self.expect_record(&response)
    }

    async fn update_contact(&self, id: &str, input: &ContactInput) -> Result<Contact, SourceError> {
        if !is_canonical_id(id) {
            return Err(not_found(id));
        }
        let request = self
            .request(Method::PUT, route!("/contacts/{id}"))
            .json(write_body(input))
            .changes([Change::Record(Resource::Contact, id.to_string())]);
        let response = self.upstream.send(KIND, request).await?;
        match response.status {
            404 => Err(not_found(id)),
            _ => self.expect_record(&response),
        }
    }

    async fn delete_contact(&self, id: &str) -> Result<(), SourceError> {
        if !is_canonical_id(id) {
            return Err(not_found(id));
        }
        let response = self
            .upstream
            .send(
                KIND,
                self.request(Method::DELETE, route!("/contacts/{id}"))
                    .changes([Change::Record(Resource::Contact, id.to_string())]),
            )
            .await?;
        match response.status {
            // The real service answers 204; a 200 or 202 with a confirmation
            // body means the same, and the body is not needed.
            200 | 202 | 204 => Ok(()),
            404 => Err(not_found(id)),
            _ => Err(self.error_from(&response)),
        }
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

fn not_found(id: &str) -> SourceError {
    SourceError::NotFound {
        source_kind: KIND,
        what: format!("contact {id}"),
    }
}

/// Whether `id` is an id this adapter issues: a positive integer without
/// leading zeros that fits the upstream's `u64`. The upstream would also
/// accept `007` for 7, but the gateway names each contact by one id only.
fn is_canonical_id(id: &str) -> bool {
    !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
        && !id.starts_with('0')
        && id.parse::<u64>().is_ok()
}

/// Reads a position this adapter produced: an absolute offset.
fn parse_position(after: Option<&str>) -> Result<u64, SourceError> {
    let Some(position) = after else {
        return Ok(0);
    };
    let is_number = !position.is_empty() && position.bytes().all(|b| b.is_ascii_digit());
    is_number
        .then(|| position.parse::<u64>().ok())
        .flatten()
        .ok_or_else(|| SourceError::BadInput {
            source_kind: KIND,
            field: Some("after".into()),
            message: "the cursor does not belong to this list".into(),
            upstream_status: None,
        })
}

/// The `sort` value of a natively supported order.
fn native_sort(order: ContactOrder) -> &'static str {
    match (order.field, order.direction) {
        (OrderField::UpdatedAt, Direction::Asc) => "updated",
        (OrderField::UpdatedAt, Direction::Desc) => "-updated",
        (_, Direction::Asc) => "created",
        (_, Direction::Desc) => "-created",
    }
}

/// Whether no Open To Close contact can match: it has no tags, and an empty
/// phone number matches nothing in the gateway's semantics.
fn can_never_match(filter: &ContactFilter) -> bool {
    !filter.tags.is_empty()
        || filter
            .phone
            .as_deref()
            .is_some_and(|phone| national_digits(phone).is_empty())
}

/// The query parameters that narrow the upstream's answer without losing a
/// contact the gateway's filter would keep (see the module docs).
fn pushed_down_parameters(filter: &ContactFilter) -> Vec<(&'static str, String)> {
    let mut parameters = Vec::new();
    if let Some(contact_type) = non_blank(filter.contact_type.as_deref()) {
        parameters.push(("contact_type", contact_type.to_string()));
    }
    if let Some(term) = search_term(filter) {
        parameters.push(("search", term));
    }
    parameters
}

/// The one `search` term to send, if any (see the module docs for why each
/// choice finds every contact the gateway would keep).
fn search_term(filter: &ContactFilter) -> Option<String> {
    if let Some(email) = non_blank(filter.email.as_deref()) {
        return Some(email.to_string());
    }
    if let Some(phone) = filter.phone.as_deref() {
        let digits = national_digits(phone);
        if digits.len() >= 3 {
            return Some(digits);
        }
    }
    let search = non_blank(filter.search.as_deref())?;
    if is_phone_search(search) {
        return Some(search.to_string());
    }
    search
        .split_whitespace()
        .max_by_key(|word| word.chars().count())
        .map(str::to_string)
}

fn non_blank(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|text| !text.is_empty())
}

/// Whether `contact`, in `CREATED_AT` order, lies past the filter's bound in
/// the direction of travel, so that no later record can match either.
fn is_past_created_bound(filter: &ContactFilter, order: ContactOrder, contact: &Contact) -> bool {
    if order.field != OrderField::CreatedAt {
        return false;
    }
    let Some(created) = contact.created_at else {
        return false;
    };
    match order.direction {
        Direction::Asc => filter
            .created_before
            .is_some_and(|before| created >= before),
        Direction::Desc => filter.created_after.is_some_and(|after| created <= after),
    }
}

/// Checks a write against what Open To Close stores, before any request.
fn check_write(input: &ContactInput, creating: bool) -> Result<(), SourceError> {
    let bad = |field: &str, message: String| SourceError::BadInput {
        source_kind: KIND,
        field: Some(field.to_string()),
        message,
        upstream_status: None,
    };
    if let Some(field) = input
        .set_fields()
        .into_iter()
        .find(|field| !STORED_FIELDS.contains(field))
    {
        return Err(bad(
            field,
            format!(
                "Open To Close keeps only firstName, lastName, email and phone; `{field}` would not be stored"
            ),
        ));
    }
    let stored = stored_fields(input);
    for (field, _, value) in &stored {
        if let Some(value) = value {
            if value.trim().chars().count() > MAX_TEXT_LENGTH {
                return Err(bad(
                    field,
                    format!("`{field}` may have at most {MAX_TEXT_LENGTH} characters"),
                ));
            }
        }
    }
    if let Some(email) = non_blank(input.email.as_deref()) {
        if !looks_like_email(email) {
            return Err(bad(
                "email",
                "`email` must be an address of the form name@domain.tld".into(),
            ));
        }
    }
    if creating
        && stored
            .iter()
            .all(|(_, _, value)| non_blank(*value).is_none())
    {
        return Err(bad(
            "firstName",
            "Open To Close needs at least one of firstName, lastName, email or phone".into(),
        ));
    }
    Ok(())
}

/// The four stored fields: GraphQL name, upstream name and input value.
fn stored_fields(input: &ContactInput) -> [(&'static str, &'static str, Option<&str>); 4] {
    [
        ("firstName", "first_name", input.first_name.as_deref()),
        ("lastName", "last_name", input.last_name.as_deref()),
        ("email", "email", input.email.as_deref()),
        ("phone", "phone", input.phone.as_deref()),
    ]
}

/// `name@domain.tld` without spaces: the shape the upstream accepts.
fn looks_like_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
}

/// The body of a create or partial update: only the fields given, trimmed,
/// a blank value clearing the field. `name` is never sent (per the Open To Close Contacts API documentation: it is
/// rejected).
fn write_body(input: &ContactInput) -> Value {
    let body: Map<String, Value> = stored_fields(input)
        .into_iter()
        .filter_map(|(_, upstream_name, value)| {
            let value = value?;
            let value = match value.trim() {
                "" => Value::Null,
                trimmed => Value::String(trimmed.to_string()),
            };
            Some((upstream_name.to_string(), value))
        })
        .collect();
    Value::Object(body)
}

/// The GraphQL input field an upstream body field came from.
fn graphql_field(upstream_field: &str) -> Option<&'static str> {
    stored_fields(&ContactInput::default())
        .into_iter()
        .find(|(_, upstream_name, _)| *upstream_name == upstream_field)
        .map(|(graphql_name, _, _)| graphql_name)
}

/// The first problem of a 400 body, `field_errors` before `errors`, the four
/// stored fields before any other key: `(key, message)`. Tolerates each key
/// holding a list of messages, one message, or (for `errors`) a list of
/// `{field, message}` objects.
fn first_problem(body: &Value) -> Option<(String, String)> {
    let message_of = |value: &Value| match value {
        Value::String(text) => Some(text.clone()),
        Value::Array(items) => items
            .iter()
            .find_map(|item| item.as_str().map(str::to_string)),
        _ => None,
    };
    for envelope in ["field_errors", "errors"] {
        match body.get(envelope) {
            Some(Value::Object(problems)) => {
                let preferred = stored_fields(&ContactInput::default())
                    .into_iter()
                    .map(|(_, upstream_name, _)| upstream_name)
                    .find(|name| problems.contains_key(*name));
                let key = preferred
                    .map(str::to_string)
                    .or_else(|| problems.keys().next().cloned())?;
                let message = problems.get(&key).and_then(message_of).unwrap_or_default();
                return Some((key, message));
            }
            Some(Value::Array(items)) => {
                let item = items.first()?;
                let key = item
                    .get("field")
                    .and_then(Value::as_str)
                    .unwrap_or("body")
                    .to_string();
                let message = item
                    .get("message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| item.as_str().map(str::to_string))
                    .unwrap_or_default();
                return Some((key, message));
            }
            _ => {}
        }
    }
    None
}

fn unusable(message: &str) -> SourceError {
    SourceError::Upstream {
        source_kind: KIND,
        message: message.to_string(),
        upstream_status: Some(200),
    }
}

/// Maps one Open To Close contact record to the unified model; the record's
/// text becomes its `raw` form.
pub fn map_contact(record: Box<RawValue>) -> Result<Contact, SourceError> {
    let fields: ContactFields = fields_of(&record, "a contact")?;
    let id = fields
        .id
        .id()
        .ok_or_else(|| unusable("contact without an id"))?;
    let mut contact = Contact::new(KIND, id, Value::Null);
    contact.first_name = fields.first_name.text();
    contact.last_name = fields.last_name.text();
    if let Some(address) = fields.email.text() {
        contact.emails.push(Email {
            address,
            label: None,
            primary: true,
        });
    }
    if let Some(number) = fields.phone.text() {
        contact.phones.push(Phone::new(number, None));
    }
    contact.address = Address {
        street: fields.address.text(),
        city: fields.city.text(),
        region: fields.state.text(),
        postal_code: fields.zip_code.text(),
        country: None,
    }
    .non_empty();
    contact.organization = fields.company.text();
    contact.title = fields.title.text();
    contact.contact_type = fields.contact_type.text();
    contact.status = fields.status.text();
    contact.notes = fields.notes.text();
    contact.created_at = fields
        .created
        .timestamp()
        .or_else(|| fields.created_at.timestamp());
    contact.updated_at = fields
        .updated
        .timestamp()
        .or_else(|| fields.updated_at.timestamp());
    drop(fields);
    contact.raw = record.into();
    Ok(contact)
}

#[cfg(test)]
mod tests {
    use super::wire::text_of;
    use super::*;
    use chrono::Utc;
    use serde_json::json;

    fn adapter(token: &str) -> OpenToClose {
        OpenToClose::new(
            std::sync::Arc::new(crate::upstream::Upstream::new(
                &[],
                &crate::config::CacheSettings::default(),
            )),
            Secret::new(token),
        )
    }

    fn response(status: u16, body: &str) -> UpstreamResponse {
        UpstreamResponse {
            cache_control: None,
            status,
            retry_after: None,
            content_type: Some("application/json".into()),
            body: bytes::Bytes::from(body.to_string()),
        }
    }

    fn filter(edit: impl FnOnce(&mut ContactFilter)) -> ContactFilter {
        let mut filter = ContactFilter::default();
        edit(&mut filter);
        filter
    }

    #[test]
    fn maps_a_record_without_inventing_fields() {
        let record = json!({"id": 7, "first_name": "Jane", "last_name": "Smith", "email": " jane@x.com ", "phone": "+15551234567", "created": "2024-01-15T10:30:00Z"});
        let contact = map_contact(text_of(&record)).unwrap();
        assert_eq!(contact.source_id, "7");
        assert_eq!(contact.emails[0].address, "jane@x.com");
        assert_eq!(contact.phones[0].e164.as_deref(), Some("+15551234567"));
        assert_eq!(contact.address, None);
        assert_eq!(contact.organization, None);
        assert_eq!(contact.updated_at, None);
        assert_eq!(contact.raw, record);
        assert!(contact.created_at.is_some());
    }

    #[test]
    fn maps_every_field_of_a_seeded_record() {
        let record = json!({
            "id": 12, "first_name": "Ann", "last_name": null, "email": null, "phone": "(305) 555-0100",
            "contact_type": "Lender", "company": "ABC Realty", "title": "Loan Officer",
            "address": "1 Main St", "city": "Miami", "state": "FL", "zip_code": "33101",
            "created": "2023-04-05T06:07:08Z", "updated": "2023-04-06T06:07:08+02:00"
        });
        let contact = map_contact(text_of(&record)).unwrap();
        assert_eq!(contact.last_name, None);
        assert!(contact.emails.is_empty());
        assert_eq!(contact.phones[0].e164.as_deref(), Some("+13055550100"));
        let address = contact.address.unwrap();
        assert_eq!(address.city.as_deref(), Some("Miami"));
        assert_eq!(address.postal_code.as_deref(), Some("33101"));
        assert_eq!(contact.organization.as_deref(), Some("ABC Realty"));
        assert_eq!(contact.contact_type.as_deref(), Some("Lender"));
        assert_eq!(
            contact.updated_at.unwrap().to_rfc3339(),
            "2023-04-06T04:07:08+00:00"
        );
    }

    #[test]
    fn tolerates_string_ids_and_alternative_timestamp_names() {
        let contact = map_contact(text_of(
            &json!({"id": "44", "created_at": "2024-01-15T10:30:00Z"}),
        ))
        .unwrap();
        assert_eq!(contact.source_id, "44");
        assert!(contact.created_at.is_some());
    }

    #[test]
    fn unusable_records_are_upstream_errors() {
        for record in [
            json!({"first_name": "X"}),
            json!([1]),
            json!("7"),
            json!({"id": null}),
        ] {
            assert!(
                matches!(
                    map_contact(text_of(&record)),
                    Err(SourceError::Upstream { .. })
                ),
                "accepted"
            );
        }
    }

    #[test]
    fn positions_are_plain_offsets() {
        assert_eq!(parse_position(None).unwrap(), 0);
        assert_eq!(parse_position(Some("0")).unwrap(), 0);
        assert_eq!(parse_position(Some("150")).unwrap(), 150);
        for bad in [
            "",
            "-1",
            "+1",
            "abc",
            "1.5",
            " 1",
            "99999999999999999999999",
        ] {
            match parse_position(Some(bad)) {
                Err(SourceError::BadInput { field, .. }) => {
                    assert_eq!(field.as_deref(), Some("after"))
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn ids_must_be_canonical_positive_integers() {
        assert!(is_canonical_id("1"));
        assert!(is_canonical_id("18446744073709551615"));
        for bad in ["", "0", "007", "-1", "abc", "1.5", "18446744073709551616"] {
            assert!(!is_canonical_id(bad), "{bad}");
        }
    }

    #[test]
    fn native_sort_keys() {
        let order = |field, direction| native_sort(ContactOrder { field, direction });
        assert_eq!(order(OrderField::CreatedAt, Direction::Asc), "created");
        assert_eq!(order(OrderField::CreatedAt, Direction::Desc), "-created");
        assert_eq!(order(OrderField::UpdatedAt, Direction::Asc), "updated");
        assert_eq!(order(OrderField::UpdatedAt, Direction::Desc), "-updated");
    }

    #[test]
    fn pushdown_chooses_one_search_term() {
        let params = |f: ContactFilter| pushed_down_parameters(&f);
        assert!(params(ContactFilter::default()).is_empty());
        assert_eq!(
            params(filter(|f| f.contact_type = Some(" Buyer ".into()))),
            vec![("contact_type", "Buyer".to_string())]
        );
        // The email wins over a phone and a search: it is the most selective.
        assert_eq!(
            params(filter(|f| {
                f.email = Some(" Jane@X.com ".into());
                f.phone = Some("555-123-4567".into());
                f.search = Some("jane".into());
            })),
            vec![("search", "Jane@X.com".to_string())]
        );
        assert_eq!(
            params(filter(|f| f.phone = Some("+1 (555) 123-4567".into()))),
            vec![("search", "5551234567".to_string())]
        );
        // Too few digits to be read as a phone by the upstream: not pushed.
        assert!(params(filter(|f| f.phone = Some("12".into()))).is_empty());
        assert_eq!(
            params(filter(|f| f.search = Some("(555) 123".into()))),
            vec![("search", "(555) 123".to_string())]
        );
        assert_eq!(
            params(filter(|f| f.search = Some("  mary  van der berg ".into()))),
            vec![("search", "berg".to_string())]
        );
        assert_eq!(
            params(filter(|f| {
                f.city = Some("Miami".into());
                f.status = Some("Active".into());
                f.created_after = Some(Utc::now());
            })),
            vec![]
        );
    }

    #[test]
    fn the_longest_word_of_a_search_finds_every_gateway_match() {
        // A contact whose raw names carry stray spaces: the upstream's
        // "first last" has two spaces, so the whole term would miss it.
        let record = json!({"id": 1, "first_name": "Mary ", "last_name": "Jones"});
        let contact = map_contact(text_of(&record)).unwrap();
        let gateway = filter(|f| f.search = Some("mary jones".into()));
        assert!(gateway.matches(&contact));
        let term = search_term(&gateway).unwrap();
        assert!("mary ".contains(&term) || "jones".contains(&term));
    }

    #[test]
    fn tags_and_empty_phones_match_nothing() {
        assert!(can_never_match(&filter(|f| f.tags = vec!["vip".into()])));
        assert!(can_never_match(&filter(|f| f.phone = Some("--".into()))));
        assert!(!can_never_match(&filter(|f| f.phone = Some("555".into()))));
    }

    #[test]
    fn created_bound_stops_a_created_at_scan() {
        let mut contact = map_contact(text_of(
            &json!({"id": 1, "created": "2024-01-15T10:30:00Z"}),
        ))
        .unwrap();
        let bound = contact.created_at.unwrap();
        let asc = ContactOrder {
            field: OrderField::CreatedAt,
            direction: Direction::Asc,
        };
        let desc = ContactOrder {
            field: OrderField::CreatedAt,
            direction: Direction::Desc,
        };
        let before = filter(|f| f.created_before = Some(bound));
        let after = filter(|f| f.created_after = Some(bound));
        assert!(is_past_created_bound(&before, asc, &contact));
        assert!(!is_past_created_bound(&before, desc, &contact));
        assert!(is_past_created_bound(&after, desc, &contact));
        assert!(!is_past_created_bound(&after, asc, &contact));
        let by_update = ContactOrder {
            field: OrderField::UpdatedAt,
            direction: Direction::Asc,
        };
        assert!(!is_past_created_bound(&before, by_update, &contact));
        contact.created_at = None;
        assert!(!is_past_created_bound(&before, asc, &contact));
    }

    fn input(edit: impl FnOnce(&mut ContactInput)) -> ContactInput {
        let mut input = ContactInput::default();
        edit(&mut input);
        input
    }

    fn refused_field(result: Result<(), SourceError>) -> String {
        match result {
            Err(SourceError::BadInput {
                field: Some(field),
                upstream_status: None,
                ..
            }) => field,
            other => panic!("expected a BadInput naming a field, got {other:?}"),
        }
    }

    #[test]
    fn writes_accept_the_four_stored_fields() {
        let full = input(|i| {
            i.first_name = Some("Jane".into());
            i.last_name = Some("Smith".into());
            i.email = Some("jane@x.com".into());
            i.phone = Some("+15551234567".into());
        });
        check_write(&full, true).unwrap();
        check_write(&input(|i| i.phone = Some("555".into())), true).unwrap();
        // An update may clear a field.
        check_write(&input(|i| i.last_name = Some(String::new())), false).unwrap();
    }

    #[test]
    fn writes_refuse_every_field_that_would_not_persist() {
        let cases: Vec<(ContactInput, &str)> = vec![
            (input(|i| i.display_name = Some("J".into())), "displayName"),
            (
                input(|i| i.organization = Some("ABC".into())),
                "organization",
            ),
            (input(|i| i.title = Some("CEO".into())), "title"),
            (input(|i| i.contact_type = Some("Buyer".into())), "type"),
            (input(|i| i.status = Some("Active".into())), "status"),
            (input(|i| i.tags = Some(vec![])), "tags"),
            (input(|i| i.notes = Some("n".into())), "notes"),
            (input(|i| i.assigned_to = Some("a".into())), "assignedTo"),
            (
                input(|i| i.street = Some("1 Main".into())),
                "address.street",
            ),
            (input(|i| i.city = Some("Miami".into())), "address.city"),
            (input(|i| i.region = Some("FL".into())), "address.region"),
            (
                input(|i| i.postal_code = Some("1".into())),
                "address.postalCode",
            ),
            (input(|i| i.country = Some("US".into())), "address.country"),
        ];
        for (mut input, field) in cases {
            input.first_name = Some("Jane".into());
            assert_eq!(refused_field(check_write(&input, true)), field);
            assert_eq!(refused_field(check_write(&input, false)), field);
        }
    }

    #[test]
    fn writes_check_the_upstreams_value_rules() {
        let long = "x".repeat(MAX_TEXT_LENGTH + 1);
        assert_eq!(
            refused_field(check_write(
                &input(|i| i.last_name = Some(long.clone())),
                false
            )),
            "lastName"
        );
        check_write(
            &input(|i| i.last_name = Some("é".repeat(MAX_TEXT_LENGTH))),
            false,
        )
        .unwrap();
        for bad in [
            "jane",
            "jane@x",
            "@x.com",
            "jane@.com",
            "jane@x.com.",
            "ja ne@x.com",
        ] {
            assert_eq!(
                refused_field(check_write(&input(|i| i.email = Some(bad.into())), true)),
                "email",
                "{bad}"
            );
        }
        assert_eq!(
            refused_field(check_write(
                &input(|i| i.first_name = Some("  ".into())),
                true
            )),
            "firstName"
        );
        assert_eq!(
            refused_field(check_write(&ContactInput::default(), true)),
            "firstName"
        );
    }

    #[test]
    fn write_bodies_hold_only_the_given_stored_fields() {
        let body = write_body(&input(|i| {
            i.first_name = Some(" Jane ".into());
            i.phone = Some("".into());
        }));
        assert_eq!(body, json!({"first_name": "Jane", "phone": null}));
        assert!(body.get("name").is_none());
    }

    #[test]
    fn field_errors_map_to_graphql_fields() {
        let otc = adapter("secret-key");
        let error = otc.error_from(&response(
            400,
            r#"{"message":"Bad request","field_errors":{"phone":["Too long."],"email":["Enter a valid email address."]}}"#,
        ));
        match error {
            SourceError::BadInput {
                field,
                message,
                upstream_status,
                ..
            } => {
                assert_eq!(field.as_deref(), Some("email"));
                assert!(
                    message.contains("Enter a valid email address."),
                    "{message}"
                );
                assert_eq!(upstream_status, Some(400));
            }
            other => panic!("{other:?}"),
        }
        let error = otc.error_from(&response(
            400,
            r#"{"message":"Bad request","errors":{"last_name":"Required."}}"#,
        ));
        assert!(matches!(
            error,
            SourceError::BadInput { field: Some(ref f), .. } if f == "lastName"
        ));
        let error = otc.error_from(&response(
            400,
            r#"{"message":"Bad request","errors":{"sort":["Unknown sort field."]}}"#,
        ));
        assert!(matches!(error, SourceError::BadInput { field: None, .. }));
        let error = otc.error_from(&response(
            422,
            r#"{"message":"Invalid","errors":[{"field":"first_name","message":"Too long"}]}"#,
        ));
        assert!(matches!(
            error,
            SourceError::BadInput { field: Some(ref f), .. } if f == "firstName"
        ));
    }

    #[test]
    fn statuses_map_to_error_kinds() {
        let otc = adapter("k");
        assert!(matches!(
            otc.error_from(&response(401, r#"{"message":"Invalid credentials"}"#)),
            SourceError::Unauthenticated {
                upstream_status: 401,
                ..
            }
        ));
        assert!(matches!(
            otc.error_from(&response(404, r#"{"message":"Not found"}"#)),
            SourceError::NotFound { .. }
        ));
        let mut limited = response(429, r#"{"message":"Too many requests"}"#);
        limited.retry_after = Some(3);
        assert!(matches!(
            otc.error_from(&limited),
            SourceError::Unavailable {
                retry_after: Some(3),
                ..
            }
        ));
        assert!(matches!(
            otc.error_from(&response(500, "<html>oops</html>")),
            SourceError::Upstream {
                upstream_status: Some(500),
                ..
            }
        ));
    }

    #[test]
    fn upstream_messages_never_carry_the_key() {
        let token = "s3cret/key+1";
        let otc = adapter(token);
        let body = format!(
            r#"{{"message":"failed GET /contacts?api_token={} ({token})"}}"#,
            urlencoding::encode(token)
        );
        let error = otc.error_from(&response(500, &body));
        let text = error.to_string();
        assert!(!text.contains(token), "{text}");
        assert!(!text.contains(&*urlencoding::encode(token)), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
        let body = format!(
            r#"{{"message":"Bad request","field_errors":{{"email":["{token} is wrong"]}}}}"#
        );
        let text = otc.error_from(&response(400, &body)).to_string();
        assert!(!text.contains(token), "{text}");
    }
}
