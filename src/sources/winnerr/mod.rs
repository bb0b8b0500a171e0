//! Winnerr adapter (per the Winnerr Contacts API documentation): `Authorization: Bearer JWT`, camelCase
//! records in a `{success, data, pagination}` envelope, keyset-cursor lists
//! with multi-key sorts, and errors in a `{success: false, error: {...}}`
//! envelope.
//!
//! Code map: [`wire`] reads and classifies what Winnerr sends and maps the
//! contact record; [`activities`] maps and writes a contact's activities;
//! [`listing`] decides what a list asks of Winnerr and makes
//! the positions the federation layer resumes from; [`writes`] holds the
//! write rules and request bodies; [`operations`] adds tags and runs bulk
//! updates through `PATCH /contacts/bulk`. This file wires them to the [`Source`]
//! trait and builds every request.
//!
//! Winnerr has no multi-record fetch, so lookups by id are concurrent
//! `GET /contacts/{id}` requests; ids not of the form `contact_<uuid>` cannot
//! exist and are answered without a request.

pub mod activities;
pub mod listing;
pub mod operations;
pub mod wire;
pub mod writes;

use async_trait::async_trait;
use futures::future::join_all;
use reqwest::header::AUTHORIZATION;
use reqwest::Method;
use serde_json::Value;

use self::activities::map_listed_contact;
use self::listing::ListPlan;
use self::wire::{error_from, map_contact, parse_json_body, parse_list, unwrap_record, ListBody};
use self::writes::{check, create_body, has_address, update_body, WriteKind};
use super::{ListPage, ListQuery, SharedUpstream, Source, SourceError};
use crate::cache::{Change, Fingerprint, Freshness, Resource, Share, Tag};
use crate::config::Secret;
use crate::domain::{Activity, Contact, ContactInput, SourceKind};
use crate::upstream::{route, Route};
use crate::upstream::{Credential, Parsed, UpstreamRequest, UpstreamResponse};

const KIND: SourceKind = SourceKind::Winnerr;

/// The Winnerr adapter.
pub struct Winnerr {
    upstream: SharedUpstream,
    /// The whole `Authorization` value, `Bearer <token>`.
    authorization: Secret,
    /// The fingerprint of the credential, for the keys of kept records.
    fingerprint: Fingerprint,
}

impl Winnerr {
    pub fn new(upstream: SharedUpstream, token: Secret) -> Self {
        let authorization = Secret::new(format!("Bearer {}", token.expose()));
        let fingerprint =
            upstream.fingerprint(&[Credential::Header(AUTHORIZATION, authorization.clone())]);
        Self {
            upstream,
            authorization,
            fingerprint,
        }
    }

    fn request(&self, method: Method, route: Route) -> UpstreamRequest {
        UpstreamRequest::new(method, route).credential(Credential::Header(
            AUTHORIZATION,
            self.authorization.clone(),
        ))
    }

    /// `GET /contacts` for one page of `plan`, with the contacts' activities
    /// when the plan asks for them. Sparse fieldsets would be added here.
    async fn list_request(
        &self,
        plan: &ListPlan,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<std::sync::Arc<listing::FetchedPage>, SourceError> {
        let mut request = self
            .request(Method::GET, Route::from("/contacts"))
            .query("limit", limit)
            .query("sort", plan.sort);
        if let Some(cursor) = cursor {
            request = request.query("cursor", cursor);
        }
        if plan.include_activities {
            request = request.query("include", "activities");
        }
        for (parameter, value) in &plan.filters {
            request = request.query(parameter, value);
        }
        self.upstream
            .read(KIND, request, Freshness::ContactList, |response| {
                if response.status != 200 {
                    return Err(error_from(response));
                }
                let body: ListBody = parse_list(parse_json_body(response)?)?;
                let page = listing::FetchedPage::from_body(body)?;
                let mut tags = vec![Tag::List(Resource::Contact)];
                let mut shares = Vec::new();
                for contact in &page.contacts {
                    shares.extend(shares_of_contact(contact));
                    if contact.activities.is_some() {
                        tags.push(Tag::record(Resource::Activities, &contact.source_id));
                    }
                }
                Ok(Parsed::new(page, tags).sharing(shares))
            })
            .await
    }

    async fn contact_by_id(&self, id: &str) -> Result<Option<Contact>, SourceError> {
        self.contact_by_id_including(id, false).await
    }

    /// `GET /contacts/{id}`, with `include=activities` when `activities`:
    /// the detail then carries the contact's whole activity list, which moves
    /// into [`Contact::activities`]. A kept copy of the contact (with its
    /// activities, when asked for) serves instead where there is one.
    async fn contact_by_id_including(
        &self,
        id: &str,
        activities: bool,
    ) -> Result<Option<Contact>, SourceError> {
        if !is_contact_id(id) {
            return Ok(None);
        }
        let kept = self
            .upstream
            .cached_record::<Contact>(KIND, &self.fingerprint, Resource::Contact, id)
            .await;
        if let Some(kept) = &kept {
            if !activities || kept.activities.is_some() {
                return Ok(Some(Contact::clone(kept)));
            }
            if let Some(listed) = self
                .upstream
                .cached_record::<Vec<Activity>>(KIND, &self.fingerprint, Resource::Activities, id)
                .await
            {
                let mut contact = Contact::clone(kept);
                contact.activities = Some(listed);
                return Ok(Some(contact));
            }
        }
        let mut request = self.request(Method::GET, contact_route(id));
        if activities {
            request = request.query("include", "activities");
        }
        let parse = |response: &UpstreamResponse| match response.status {
            200 => {
                let contact = map_listed_contact(unwrap_record(parse_json_body(response)?)?)?;
                let mut tags = vec![Tag::record(Resource::Contact, id)];
                if contact.activities.is_some() {
                    tags.push(Tag::record(Resource::Activities, id));
                }
                let shares = shares_of_contact(&contact);
                Ok(Parsed::new(contact, tags).sharing(shares))
            }
            404 => Err(not_found(id)),
            _ => Err(error_from(response)),
        };
        let read = self
            .upstream
            .read(KIND, request, Freshness::Contact, parse)
            .await;
        match read {
            Ok(contact) => Ok(Some(Contact::clone(&contact))),
            Err(SourceError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `GET /contacts/{id}` straight from the upstream, for a write that
    /// must start from what the upstream holds now.
    async fn current_contact(&self, id: &str) -> Result<Option<Contact>, SourceError> {
        let response = self
            .upstream
            .send(KIND, self.request(Method::GET, contact_route(id)))
            .await?;
        match response.status {
            200 => map_listed_contact(unwrap_record(parse_json_body(&response)?)?).map(Some),
            404 => Ok(None),
            _ => Err(error_from(&response)),
        }
    }

    /// Sends a write and maps the contact it answers with.
    async fn write(&self, request: UpstreamRequest) -> Result<Contact, SourceError> {
        let response = self.upstream.send(KIND, request).await?;
        match response.status {
            200 | 201 => map_contact(unwrap_record(parse_json_body(&response)?)?),
            _ => Err(error_from(&response)),
        }
    }
}

/// A contact to keep as a record of its own, and its activities, when the
/// answer carried them, as the contact's activity list.
fn shares_of_contact(contact: &Contact) -> Vec<Share> {
    let id = &contact.source_id;
    let mut shares = Vec::with_capacity(2);
    let mut tags = Vec::new();
    if let Some(activities) = &contact.activities {
        tags.push(Tag::record(Resource::Activities, id));
        shares.push(Share::new(
            Resource::Activities,
            id,
            std::sync::Arc::clone(activities),
            Vec::new(),
            Freshness::Activities,
        ));
    }
    shares.push(Share::new(
        Resource::Contact,
        id,
        std::sync::Arc::new(contact.clone()),
        tags,
        Freshness::Contact,
    ));
    shares
}

/// Whether `id` has Winnerr's form `contact_<uuid>` (hex digits in the
/// 8-4-4-4-12 groups, either case).
pub fn is_contact_id(id: &str) -> bool {
    let Some(uuid) = id.strip_prefix("contact_") else {
        return false;
    };
    uuid.len() == 36
        && uuid.char_indices().all(|(index, c)| match index {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The path of one contact; the id has been checked to need no escaping.
fn contact_route(id: &str) -> Route {
    route!("/contacts/{id}")
}

fn not_found(id: &str) -> SourceError {
    SourceError::NotFound {
        source_kind: KIND,
        what: format!("contact `{id}`"),
    }
}

#[async_trait]
impl Source for Winnerr {
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
        // No multi-record fetch: the requests run at once, bounded by the
        // source's concurrency limit in the upstream layer.
        join_all(ids.iter().map(|id| self.contact_by_id(id)))
            .await
            .into_iter()
            .collect()
    }

    async fn contacts_by_id_with_activities(
        &self,
        ids: &[String],
    ) -> Result<Vec<Option<Contact>>, SourceError> {
        join_all(ids.iter().map(|id| self.contact_by_id_including(id, true)))
            .await
            .into_iter()
            .collect()
    }

    async fn list_contacts(&self, query: &ListQuery) -> Result<ListPage, SourceError> {
        self.list(query).await
    }

    fn check_create(&self, input: &ContactInput) -> Result<(), SourceError> {
        check(input, WriteKind::Create)
    }

    fn check_update(&self, input: &ContactInput) -> Result<(), SourceError> {
        check(input, WriteKind::Update)
    }

    async fn create_contact(&self, input: &ContactInput) -> Result<Contact, SourceError> {
        let request = self
            .request(Method::POST, Route::from("/contacts"))
            .json(create_body(input))
            .changes([Change::Lists(Resource::Contact)]);
        self.write(request).await
    }

    async fn update_contact(&self, id: &str, input: &ContactInput) -> Result<Contact, SourceError> {
        if !is_contact_id(id) {
            return Err(not_found(id));
        }
        // Winnerr replaces the address as a whole; a change to one part needs
        // the other parts, read just before. A concurrent change of the
        // address between the two requests would be overwritten.
        let current_address = if has_address(input) {
            let current = self
                .current_contact(id)
                .await?
                .ok_or_else(|| not_found(id))?;
            Some(current.raw.field("address").unwrap_or(Value::Null))
        } else {
            None
        };
        let request = self
            .request(Method::PUT, contact_route(id))
            .json(update_body(input, current_address.as_ref()))
            .changes([Change::Record(Resource::Contact, id.to_string())]);
        self.write(request).await
    }

    async fn delete_contact(&self, id: &str) -> Result<(), SourceError> {
        if !is_contact_id(id) {
            return Err(not_found(id));
        }
        let response = self
            .upstream
            .send(
                KIND,
                self.request(Method::DELETE, contact_route(id))
                    .changes([Change::Record(Resource::Contact, id.to_string())]),
            )
            .await?;
        match response.status {
            // The seed answers `{success: true, message}`; a bare 204 is fine too.
            200 | 202 | 204 => Ok(()),
            _ => Err(error_from(&response)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_id_form() {
        assert!(is_contact_id(
            "contact_123e4567-e89b-12d3-a456-426614174000"
        ));
        assert!(is_contact_id(
            "contact_123E4567-E89B-12D3-A456-426614174000"
        ));
        for id in [
            "",
            "contact_",
            "contact_123",
            "123e4567-e89b-12d3-a456-426614174000",
            "org_123e4567-e89b-12d3-a456-426614174000",
            "contact_123e4567-e89b-12d3-a456-42661417400g",
            "contact_123e4567e89b-12d3-a456-4266141740000",
            "contact_123e4567-e89b-12d3-a456-426614174000/x",
            "contact_../../contacts/tags-00000000000000000000",
        ] {
            assert!(!is_contact_id(id), "{id}");
        }
    }

    #[test]
    fn the_authorization_header_is_a_secret() {
        let upstream = std::sync::Arc::new(crate::upstream::Upstream::new(
            &[],
            &crate::config::CacheSettings::default(),
        ));
        let adapter = Winnerr::new(upstream, Secret::new("jwt-value"));
        let request = adapter.request(Method::GET, Route::from("/contacts"));
        assert!(!format!("{request:?}").contains("jwt-value"));
        match &request.credentials[..] {
            [Credential::Header(name, value)] => {
                assert_eq!(name, AUTHORIZATION);
                assert_eq!(value.expose(), "Bearer jwt-value");
            }
            other => panic!("{other:?}"),
        }
    }
}
