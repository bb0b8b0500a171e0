//! Django-CRM adapter: `Authorization: Bearer TOKEN` plus `organization-id`
//! headers, UUID ids, `{count, next, previous, results}` lists paged by
//! `limit`/`offset` and always newest first, the detail view
//! `{contact_obj, address_obj, ...}`, and errors as 403 `{"detail"}` or 400
//! `{"error": true, "errors": {field: [messages]}}`.
//!
//! - Lookups: the upstream has no multi-record fetch, so ids are fetched with
//!   concurrent `GET /contacts/{uuid}/` (the upstream layer bounds the
//!   concurrency). The detail lists the contact's comments and attachments,
//!   which fill its activities ([`activities`]). An id that is not a UUID cannot exist and is answered
//!   without a request; upper-case UUIDs are lower-cased first, since
//!   Django's path converter only resolves lower case. Details are kept in the
//!   response cache as records; list rows are not, since they lack the
//!   detail's comments and attachments.
//! - Lists: `CREATED_AT DESC` is the upstream's own order and pages natively
//!   (one upstream request for a first page of up to 99 contacts); every other
//!   order reads the whole filtered list in pages of 100 and sorts locally.
//!   What is pushed down, and why, is in [`listing`].
//! - Writes: see [`mapping`] for the field names; `displayName`, `type`,
//!   `status`, `tags` and `notes` cannot be stored and are refused before
//!   any request. A duplicate primary email, which the upstream reports as a
//!   validation error on `primary_email`, is a `Conflict` here so that clients
//!   get the same code from every source.

pub mod activities;
mod listing;
mod mapping;

use async_trait::async_trait;
use futures::future::join_all;
use reqwest::header::{HeaderName, AUTHORIZATION};
use reqwest::Method;
use serde_json::Value;

use self::listing::{
    is_native, native_step, parse_envelope, pushed_down_parameters, NativePosition, NativeStep,
    MAX_PAGE_SIZE,
};
use self::mapping::{
    assignee_ids, graphql_field, is_uuid, map_contact, map_contact_body, unstorable_fields,
    write_body,
};
use super::snapshot::SortedSnapshots;
use super::{
    page_of_sorted, parse_json, status_error, ListPage, ListQuery, SharedUpstream, Source,
    SourceError,
};
use crate::cache::{Change, Freshness, Resource, Tag};
use crate::config::Secret;
use crate::domain::{Contact, ContactInput, SourceKind};
use crate::upstream::{route, Route};
use crate::upstream::{Credential, Parsed, UpstreamRequest, UpstreamResponse};

const KIND: SourceKind = SourceKind::DjangoCrm;

/// The header that names the organization whose contacts are meant.
const ORGANIZATION_HEADER: HeaderName = HeaderName::from_static("organization-id");

/// The Django-CRM adapter.
pub struct DjangoCrm {
    upstream: SharedUpstream,
    /// `Bearer TOKEN`, ready for the `Authorization` header.
    authorization: Secret,
    /// The organization UUID. It is not a secret in itself, but together with
    /// a leaked token it names the data, so it travels as a credential and
    /// stays out of every message.
    organization_id: Secret,
    snapshots: SortedSnapshots,
}

impl DjangoCrm {
    pub fn new(upstream: SharedUpstream, token: Secret, organization_id: Secret) -> Self {
        let authorization = Secret::new(format!("Bearer {}", token.expose()));
        let fingerprint = upstream.fingerprint(&credentials(&authorization, &organization_id));
        Self {
            snapshots: SortedSnapshots::new(KIND, upstream.clone(), fingerprint),
            upstream,
            authorization,
            organization_id,
        }
    }

    fn request(&self, method: Method, route: Route) -> UpstreamRequest {
        let mut request = UpstreamRequest::new(method, route);
        for credential in credentials(&self.authorization, &self.organization_id) {
            request = request.credential(credential);
        }
        request
    }

    /// The detail of a contact, with its comments and attachments as its
    /// activities. List rows lack those, so only details serve reads by id.
    async fn contact_by_id(&self, id: &str) -> Result<Option<Contact>, SourceError> {
        let Some(id) = path_id(id) else {
            return Ok(None);
        };
        let read = self
            .upstream
            .read_record(
                KIND,
                self.request(Method::GET, route!("/contacts/{id}/")),
                Resource::Contact,
                &id,
                Freshness::Contact,
                |response| match response.status {
                    200 => {
                        let contact =
                            activities::map_detail(&id, parse_json(KIND, response)?, 200)?;
                        Ok(Parsed::new(
                            contact,
                            vec![Tag::record(Resource::Activities, &id)],
                        ))
                    }
                    404 => Err(not_found(&id)),
                    _ => Err(error_from(response)),
                },
            )
            .await;
        match read {
            Ok(contact) => Ok(Some(Contact::clone(&contact))),
            Err(SourceError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// One page of `GET /contacts/` with the pushed-down filter parameters.
    async fn list_page(
        &self,
        parameters: &[(&'static str, String)],
        offset: usize,
        limit: usize,
    ) -> Result<(Option<u64>, Vec<Contact>), SourceError> {
        let mut request = self
            .request(Method::GET, Route::from("/contacts/"))
            .query("limit", limit)
            .query("offset", offset);
        for (name, value) in parameters {
            request = request.query(name, value);
        }
        let page = self
            .upstream
            .read(KIND, request, Freshness::ContactList, |response| {
                self.page_of(response)
            })
            .await?;
        Ok((page.0, page.1.clone()))
    }

    /// The count and contacts of a list answer.
    fn page_of(&self, response: &UpstreamResponse) -> Result<Parsed<CountedPage>, SourceError> {
        match response.status {
            200 => {
                let mut envelope = parse_envelope(parse_json(KIND, response)?, 200)?;
                let contacts = std::mem::take(&mut envelope.results)
                    .into_iter()
                    .map(|record| map_contact(record, 200))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Parsed::new(
                    (envelope.count, contacts),
                    vec![Tag::List(Resource::Contact)],
                ))
            }
            // The list always exists: a 404 means a wrong base URL, not an
            // absent record.
            404 => Err(SourceError::Upstream {
                source_kind: KIND,
                message: "the contact list was not found (HTTP 404); check the base URL".into(),
                upstream_status: Some(404),
            }),
            _ => Err(error_from(response)),
        }
    }

    /// A page in the upstream's own order (see [`listing`]).
    async fn native_page(&self, query: &ListQuery) -> Result<ListPage, SourceError> {
        let resume = NativePosition::parse(query.after.as_deref())?;
        let parameters = pushed_down_parameters(&query.filter);
        // One more than asked, so that the run of equal creation times at the
        // end of the page rarely holds back a contact the caller wants.
        let page_size = query.limit.saturating_add(1).clamp(2, MAX_PAGE_SIZE);
        let mut buffer: Vec<Contact> = Vec::new();
        let mut count = None;
        loop {
            let offset = resume.offset + buffer.len();
            let (page_count, contacts) = self.list_page(&parameters, offset, page_size).await?;
            count = page_count.or(count);
            let received = contacts.len();
            for contact in contacts {
                // A contact created between two reads shifts the offsets by
                // one and shows a contact twice; it is kept once.
                if !buffer.iter().any(|c| c.source_id == contact.source_id) {
                    buffer.push(contact);
                }
            }
            let mut complete = received < page_size
                || count.is_some_and(|count| (offset + received) as u64 >= count);
            if let Some(after) = query.filter.created_after {
                // Newest first: from the first contact created at or before
                // `createdAfter` on, nothing can match, so the walk ends there.
                if let Some(cut) = buffer
                    .iter()
                    .position(|c| c.created_at.is_some_and(|created| created <= after))
                {
                    buffer.truncate(cut);
                    complete = true;
                }
            }
            match native_step(
                &buffer,
                resume.offset,
                complete,
                &resume,
                query.limit,
                &query.order,
            )? {
                NativeStep::Answer(mut page) => {
                    if query.filter.is_empty() {
                        page.total = count;
                    }
                    return Ok(page);
                }
                NativeStep::ReadMore => continue,
            }
        }
    }

    /// Every contact the pushed-down filter lets through, in pages of 100:
    /// the first page tells the count, the rest are read at once.
    async fn read_all(&self, query: &ListQuery) -> Result<Vec<Contact>, SourceError> {
        let parameters = pushed_down_parameters(&query.filter);
        let (first_count, mut all) = self.list_page(&parameters, 0, MAX_PAGE_SIZE).await?;
        let received = all.len();
        if received < MAX_PAGE_SIZE {
            return Ok(all);
        }
        match first_count {
            Some(count) => {
                let offsets = (MAX_PAGE_SIZE..count as usize).step_by(MAX_PAGE_SIZE);
                let pages = join_all(
                    offsets.map(|offset| self.list_page(&parameters, offset, MAX_PAGE_SIZE)),
                )
                .await;
                for page in pages {
                    all.extend(page?.1);
                }
            }
            None => {
                // Without a count the pages are read one after another until
                // a short one.
                let mut offset = received;
                loop {
                    let (_, contacts) = self.list_page(&parameters, offset, MAX_PAGE_SIZE).await?;
                    let received = contacts.len();
                    all.extend(contacts);
                    offset += received;
                    if received < MAX_PAGE_SIZE {
                        break;
                    }
                }
            }
        }
        // Contacts created or deleted during the read shift the pages; each
        // contact is kept once.
        let mut seen = std::collections::HashSet::new();
        all.retain(|contact| seen.insert(contact.source_id.clone()));
        Ok(all)
    }

    fn check_common(&self, input: &ContactInput) -> Result<(), SourceError> {
        if let Some(field) = unstorable_fields(input) {
            return Err(bad_input(
                field,
                format!("Django-CRM contacts have no `{field}` field"),
            ));
        }
        if let Some(assigned_to) = &input.assigned_to {
            assignee_ids(assigned_to).map_err(|_| {
                bad_input(
                    "assignedTo",
                    "`assignedTo` takes Django-CRM user UUIDs, separated by commas".into(),
                )
            })?;
        }
        Ok(())
    }
}

#[async_trait]
impl Source for DjangoCrm {
    async fn probe(&self) -> Result<(), SourceError> {
        let request = self
            .request(Method::GET, Route::from("/contacts/"))
            .query("limit", 1);
        super::probe_with(&self.upstream, KIND, request).await
    }

    fn kind(&self) -> SourceKind {
        KIND
    }

    async fn contacts_by_id(&self, ids: &[String]) -> Result<Vec<Option<Contact>>, SourceError> {
        join_all(ids.iter().map(|id| self.contact_by_id(id)))
            .await
            .into_iter()
            .collect()
    }

    async fn list_contacts(&self, query: &ListQuery) -> Result<ListPage, SourceError> {
        if is_native(&query.order) {
            return self.native_page(query).await;
        }
        // A native position in a locally sorted list is refused before any read.
        if let Some(after) = &query.after {
            if after.parse::<usize>().is_err() {
                return page_of_sorted(KIND, Vec::new(), query);
            }
        }
        self.snapshots.page(query, || self.read_all(query)).await
    }

    fn check_create(&self, input: &ContactInput) -> Result<(), SourceError> {
        self.check_common(input)?;
        for (value, field) in [
            (&input.first_name, "firstName"),
            (&input.last_name, "lastName"),
        ] {
            if value.as_deref().is_none_or(|v| v.trim().is_empty()) {
                return Err(bad_input(
                    field,
                    format!("Django-CRM requires `{field}` on a new contact"),
                ));
            }
        }
        Ok(())
    }

    fn check_update(&self, input: &ContactInput) -> Result<(), SourceError> {
        self.check_common(input)?;
        for (value, field) in [
            (&input.first_name, "firstName"),
            (&input.last_name, "lastName"),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                return Err(bad_input(
                    field,
                    format!("Django-CRM does not allow a blank `{field}`"),
                ));
            }
        }
        Ok(())
    }

    async fn create_contact(&self, input: &ContactInput) -> Result<Contact, SourceError> {
        let request = self
            .request(Method::POST, Route::from("/contacts/"))
            .json(write_body(input))
            .changes([Change::Lists(Resource::Contact)]);
        let response = self.upstream.send(KIND, request).await?;
        match response.status {
            200 | 201 => map_contact_body(parse_json(KIND, &response)?, response.status),
            _ => Err(error_from(&response)),
        }
    }

    async fn update_contact(&self, id: &str, input: &ContactInput) -> Result<Contact, SourceError> {
        let Some(id) = path_id(id) else {
            return Err(not_found(id));
        };
        let request = self
            .request(Method::PUT, route!("/contacts/{id}/"))
            .json(write_body(input))
            .changes([Change::Record(Resource::Contact, id.clone())]);
        let response = self.upstream.send(KIND, request).await?;
        match response.status {
            200 => map_contact_body(parse_json(KIND, &response)?, response.status),
            404 => Err(not_found(&id)),
            _ => Err(error_from(&response)),
        }
    }

    async fn delete_contact(&self, id: &str) -> Result<(), SourceError> {
        let Some(id) = path_id(id) else {
            return Err(not_found(id));
        };
        let response = self
            .upstream
            .send(
                KIND,
                self.request(Method::DELETE, route!("/contacts/{id}/"))
                    .changes([Change::Record(Resource::Contact, id.clone())]),
            )
            .await?;
        match response.status {
            // The seed answers 204; a server answering 200 with a body is fine too.
            200 | 202 | 204 => Ok(()),
            404 => Err(not_found(&id)),
            _ => Err(error_from(&response)),
        }
    }
}

/// A list page: how many contacts match in all (when the upstream says),
/// and the page's contacts.
type CountedPage = (Option<u64>, Vec<Contact>);

/// The credentials of every request, in order.
fn credentials(authorization: &Secret, organization_id: &Secret) -> [Credential; 2] {
    [
        Credential::Header(AUTHORIZATION, authorization.clone()),
        Credential::Header(ORGANIZATION_HEADER, organization_id.clone()),
    ]
}

/// The id as it goes into a path: a UUID in lower case, or `None` for an id
/// no Django-CRM record can have.
fn path_id(id: &str) -> Option<String> {
    let id = id.trim();
    is_uuid(id).then(|| id.to_ascii_lowercase())
}

fn not_found(id: &str) -> SourceError {
    SourceError::NotFound {
        source_kind: KIND,
        what: format!("contact {id}"),
    }
}

fn bad_input(field: &str, message: String) -> SourceError {
    SourceError::BadInput {
        source_kind: KIND,
        field: Some(field.to_string()),
        message,
        upstream_status: None,
    }
}

/// Classifies an error answer. Validation errors name the GraphQL field the
/// first mappable upstream field corresponds to; a duplicate primary email is
/// a conflict.
fn error_from(response: &UpstreamResponse) -> SourceError {
    let body: Option<Value> = serde_json::from_slice(&response.body).ok();
    let field_errors = body
        .as_ref()
        .and_then(|body| body.get("errors"))
        .and_then(Value::as_object);
    if let (400 | 422, Some(field_errors)) = (response.status, field_errors) {
        let messages: Vec<(String, String)> = field_errors
            .iter()
            .map(|(field, messages)| {
                let text = match messages {
                    Value::Array(items) => items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(" "),
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                (field.clone(), text)
            })
            .collect();
        let message = messages
            .iter()
            .map(|(field, text)| format!("{field}: {text}"))
            .collect::<Vec<_>>()
            .join("; ");
        let duplicate_email = messages.iter().any(|(field, text)| {
            matches!(field.as_str(), "primary_email" | "email")
                && text.to_lowercase().contains("already exists")
        });
        if duplicate_email {
            return SourceError::Conflict {
                source_kind: KIND,
                message,
                upstream_status: response.status,
            };
        }
        return SourceError::BadInput {
            source_kind: KIND,
            field: messages
                .iter()
                .find_map(|(field, _)| graphql_field(field))
                .map(str::to_string),
            message,
            upstream_status: Some(response.status),
        };
    }
    let message = body
        .as_ref()
        .and_then(|body| {
            body.get("detail")
                .or_else(|| body.get("errors"))
                .and_then(Value::as_str)
        })
        .map(str::to_string)
        .unwrap_or_else(|| format!("HTTP {}", response.status));
    status_error(KIND, response, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use serde_json::json;

    fn response(status: u16, body: Value) -> UpstreamResponse {
        UpstreamResponse {
            cache_control: None,
            status,
            retry_after: Some(3),
            content_type: Some("application/json".into()),
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn validation_errors_name_the_graphql_field() {
        let error = error_from(&response(
            400,
            json!({"error": true, "errors": {"department": ["x"], "mobile_number": ["Enter a valid phone number (e.g. +12125552368)."]}}),
        ));
        match error {
            SourceError::BadInput {
                field,
                message,
                upstream_status,
                ..
            } => {
                assert_eq!(field.as_deref(), Some("phone"));
                assert!(message.contains("mobile_number: Enter a valid phone number"));
                assert_eq!(upstream_status, Some(400));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_duplicate_email_is_a_conflict() {
        let error = error_from(&response(
            400,
            json!({"error": true, "errors": {"primary_email": ["Contact with this primary email already exists."]}}),
        ));
        assert!(matches!(
            error,
            SourceError::Conflict {
                upstream_status: 400,
                ..
            }
        ));
    }

    #[test]
    fn statuses_map_to_their_classes() {
        let denied = error_from(&response(403, json!({"detail": "Invalid token."})));
        assert!(matches!(
            denied,
            SourceError::Unauthenticated {
                upstream_status: 403,
                ..
            }
        ));
        let busy = error_from(&response(429, json!({"detail": "Too many requests"})));
        assert!(matches!(
            busy,
            SourceError::Unavailable {
                retry_after: Some(3),
                ..
            }
        ));
        let broken = error_from(&response(500, json!({"detail": "Internal server error"})));
        assert!(matches!(broken, SourceError::Upstream { .. }));
        let parse = error_from(&response(400, json!({"detail": "JSON parse error - x"})));
        assert!(matches!(parse, SourceError::BadInput { field: None, .. }));
        let html = UpstreamResponse {
            cache_control: None,
            status: 502,
            retry_after: None,
            content_type: Some("text/html".into()),
            body: Bytes::from_static(b"<html>Bad Gateway</html>"),
        };
        assert!(matches!(error_from(&html), SourceError::Unavailable { .. }));
    }

    #[test]
    fn path_ids_are_lower_case_uuids_or_nothing() {
        assert_eq!(
            path_id("6F1C2A4E-9B7D-4C3E-8A21-5D0F7E9B1C2A").as_deref(),
            Some("6f1c2a4e-9b7d-4c3e-8a21-5d0f7e9b1c2a")
        );
        assert_eq!(path_id("42"), None);
        assert_eq!(path_id("../contacts"), None);
    }

    fn adapter() -> DjangoCrm {
        DjangoCrm::new(
            std::sync::Arc::new(crate::upstream::Upstream::new(
                &[],
                &crate::config::CacheSettings::default(),
            )),
            Secret::new("t"),
            Secret::new("o"),
        )
    }

    fn field_of(result: Result<(), SourceError>) -> Option<String> {
        match result {
            Err(SourceError::BadInput { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn write_rules_name_the_field() {
        let source = adapter();
        let named = ContactInput {
            first_name: Some("Jane".into()),
            last_name: Some("Smith".into()),
            ..Default::default()
        };
        assert!(source.check_create(&named).is_ok());
        let no_last = ContactInput {
            last_name: None,
            ..named.clone()
        };
        assert_eq!(
            field_of(source.check_create(&no_last)).as_deref(),
            Some("lastName")
        );
        let blank_first = ContactInput {
            first_name: Some("  ".into()),
            ..named.clone()
        };
        assert_eq!(
            field_of(source.check_create(&blank_first)).as_deref(),
            Some("firstName")
        );
        assert_eq!(
            field_of(source.check_update(&blank_first)).as_deref(),
            Some("firstName")
        );
        assert!(source
            .check_update(&ContactInput {
                city: Some("Miami".into()),
                ..Default::default()
            })
            .is_ok());
        for (input, field) in [
            (
                ContactInput {
                    display_name: Some("J".into()),
                    ..named.clone()
                },
                "displayName",
            ),
            (
                ContactInput {
                    contact_type: Some("Buyer".into()),
                    ..named.clone()
                },
                "type",
            ),
            (
                ContactInput {
                    status: Some("ACTIVE".into()),
                    ..named.clone()
                },
                "status",
            ),
            (
                ContactInput {
                    tags: Some(vec![]),
                    ..named.clone()
                },
                "tags",
            ),
            (
                ContactInput {
                    notes: Some("n".into()),
                    ..named.clone()
                },
                "notes",
            ),
            (
                ContactInput {
                    assigned_to: Some("bob".into()),
                    ..named.clone()
                },
                "assignedTo",
            ),
        ] {
            assert_eq!(
                field_of(source.check_create(&input)).as_deref(),
                Some(field)
            );
            assert_eq!(
                field_of(source.check_update(&input)).as_deref(),
                Some(field)
            );
        }
        let assigned = ContactInput {
            assigned_to: Some("6f1c2a4e-9b7d-4c3e-8a21-5d0f7e9b1c2a".into()),
            ..named
        };
        assert!(source.check_create(&assigned).is_ok());
    }
}
