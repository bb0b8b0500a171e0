//! Open To Close properties and property-contact links (per the Open To Close Property Contacts API documentation): the
//! `/properties` and `/properties/{id}/contacts[/{contact_id}]` routes, their
//! records, and the mapping of their errors.
//!
//! # Reads
//! - Lists are offset paged like contacts, but a page shorter than the
//!   `limit` asked for ends the list: the gateway never asks for more than the
//!   upstream's cap of 100 records, and the upstream serves fewer than asked
//!   only at the end. So a property's links cost one request whenever they fit
//!   one page, instead of one more request for the empty page.
//! - There is no multi-property fetch: properties by id are single GETs sent
//!   at once, bounded by the source's concurrency limit in the upstream layer.
//! - There is no reverse lookup (from a contact to its properties): finding a
//!   contact's properties means reading every property and every property's
//!   links. The loaders do that at most once per GraphQL request.
//!
//! # Records (*tolerate*)
//! A property carries `id`, `title`, `address`, `city`, `state`, `zip_code`
//! (or `postal_code`), `status`, `price` (a number, or a decimal string) and
//! `created` (or `created_at`). An association carries `contact_id`, `role`,
//! `primary`, `start_date` and `notes`, and in the real service also the
//! nested `contact` and `property` records, which are kept when present. A
//! flat association without `contact_id` takes the nested contact's id; one
//! without `property_id` belongs to the property whose route answered it.
//!
//! # Writes
//! `role` may have at most 255 characters and `notes` at most 10,000, as the
//! upstream stores them; both are checked before any request. A blank role or
//! note clears it. A 400 naming `contact_id` (an unknown contact, or one
//! already linked to the property) becomes a client error naming `contactId`.

use std::sync::Arc;

use chrono::NaiveDate;
use futures::future::join_all;
use reqwest::Method;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::wire::{fields_of, records_of, unwrap_data, Field, LinkFields, PropertyFields};
use super::{
    is_canonical_id, map_contact, unusable, OpenToClose, KIND, MAX_FULL_READ_PAGES, MAX_PAGE_SIZE,
    MAX_TEXT_LENGTH,
};
use crate::cache::{Change, Freshness, Resource, Share, Tag};
use crate::domain::{Property, PropertyContact, PropertyContactInput};
use crate::sources::{parse_json, SourceError};
use crate::upstream::{route, Route};
use crate::upstream::{Parsed, UpstreamRequest, UpstreamResponse};

/// The longest note the upstream stores on a link, in characters.
const MAX_NOTES_LENGTH: usize = 10_000;

/// A stretch of the property list.
#[derive(Debug, Clone)]
pub struct PropertyWindow {
    /// The properties from the requested offset on, in the upstream's order.
    pub properties: Vec<Property>,
    /// Whether the list ended within the window (a short page came back).
    pub reached_end: bool,
}

impl OpenToClose {
    /// Reads up to `count` properties from `offset` on, optionally only those
    /// with `status` (the upstream matches it ignoring case). Several
    /// requests only when `count` exceeds one upstream page.
    pub async fn list_properties(
        &self,
        status: Option<&str>,
        offset: u64,
        count: usize,
    ) -> Result<PropertyWindow, SourceError> {
        let mut properties = Vec::new();
        while properties.len() < count {
            let limit = (count - properties.len()).min(MAX_PAGE_SIZE);
            let page_offset = offset + properties.len() as u64;
            let mut request = self
                .request(Method::GET, Route::from("/properties"))
                .query("limit", limit)
                .query("offset", page_offset);
            if let Some(status) = status {
                request = request.query("status", status);
            }
            let page = self.property_page(request).await?;
            let short = page.len() < limit;
            properties.extend(page.iter().cloned());
            if short {
                return Ok(PropertyWindow {
                    properties,
                    reached_end: true,
                });
            }
        }
        Ok(PropertyWindow {
            properties,
            reached_end: false,
        })
    }

    /// Reads every property, a full page at a time.
    pub async fn all_properties(&self) -> Result<Vec<Property>, SourceError> {
        let mut all = Vec::new();
        for _ in 0..MAX_FULL_READ_PAGES {
            let window = self
                .list_properties(None, all.len() as u64, MAX_PAGE_SIZE)
                .await?;
            all.extend(window.properties);
            if window.reached_end {
                return Ok(all);
            }
        }
        Err(SourceError::Upstream {
            source_kind: KIND,
            message: format!(
                "the property list did not end after {MAX_FULL_READ_PAGES} pages of {MAX_PAGE_SIZE}"
            ),
            upstream_status: Some(200),
        })
    }

    /// Fetches properties by upstream id: one entry per id, in order, `None`
    /// for an id the upstream does not know (or that the gateway never issues).
    pub async fn properties_by_id(
        &self,
        ids: &[String],
    ) -> Result<Vec<Option<Property>>, SourceError> {
        join_all(ids.iter().map(|id| self.property_by_id(id)))
            .await
            .into_iter()
            .collect()
    }

    async fn property_by_id(&self, id: &str) -> Result<Option<Property>, SourceError> {
        if !is_canonical_id(id) {
            return Ok(None);
        }
        let read = self
            .upstream
            .read_record(
                KIND,
                self.request(Method::GET, route!("/properties/{id}")),
                Resource::Property,
                id,
                Freshness::Property,
                |response| match response.status {
                    200 => {
                        let body: Box<RawValue> =
                            parse_json(KIND, response).map_err(|e| self.scrub_error(e))?;
                        Ok(Parsed::new(map_property(unwrap_data(body))?, Vec::new()))
                    }
                    404 => Err(property_not_found(id)),
                    _ => Err(self.link_error_from(response)),
                },
            )
            .await;
        match read {
            Ok(property) => Ok(Some(Property::clone(&property))),
            Err(SourceError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Every link of a property, all pages, optionally only those with `role`
    /// (the upstream matches it ignoring case). An unknown property is `NotFound`.
    pub async fn property_links(
        &self,
        property_id: &str,
        role: Option<&str>,
    ) -> Result<Vec<Arc<PropertyContact>>, SourceError> {
        if !is_canonical_id(property_id) {
            return Err(property_not_found(property_id));
        }
        let mut links = Vec::new();
        for _ in 0..MAX_FULL_READ_PAGES {
            let mut request = self
                .request(Method::GET, route!("/properties/{property_id}/contacts"))
                .query("limit", MAX_PAGE_SIZE)
                .query("offset", links.len());
            if let Some(role) = role {
                request = request.query("role", role);
            }
            let page = match self.link_page(request, property_id).await {
                Err(SourceError::NotFound { .. }) => return Err(property_not_found(property_id)),
                other => other?,
            };
            let short = page.len() < MAX_PAGE_SIZE;
            links.extend(page.iter().cloned());
            if short {
                return Ok(links);
            }
        }
        Err(SourceError::Upstream {
            source_kind: KIND,
            message: format!(
                "the links of property {property_id} did not end after {MAX_FULL_READ_PAGES} pages"
            ),
            upstream_status: Some(200),
        })
    }

    /// Links a contact to a property (after [`check_link_write`] passed).
    pub async fn link_contact(
        &self,
        property_id: &str,
        contact_id: &str,
        input: &PropertyContactInput,
    ) -> Result<PropertyContact, SourceError> {
        if !is_canonical_id(property_id) {
            return Err(property_not_found(property_id));
        }
        let mut body = link_body(input);
        if let Value::Object(map) = &mut body {
            // The upstream takes the id as an integer; the id is canonical,
            // so it parses.
            let id = contact_id
                .parse::<u64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::String(contact_id.to_string()));
            map.insert("contact_id".into(), id);
        }
        let request = self
            .request(Method::POST, route!("/properties/{property_id}/contacts"))
            .json(body)
            .changes([Change::Record(
                Resource::PropertyLinks,
                property_id.to_string(),
            )]);
        let response = self.upstream.send(KIND, request).await?;
        match response.status {
            200 | 201 => self.link_from(&response, property_id),
            404 => Err(property_not_found(property_id)),
            _ => Err(self.link_error_from(&response)),
        }
    }

    /// Changes the given fields of a link (after [`check_link_write`] passed).
    pub async fn update_link(
        &self,
        property_id: &str,
        contact_id: &str,
        input: &PropertyContactInput,
    ) -> Result<PropertyContact, SourceError> {
        if !is_canonical_id(property_id) || !is_canonical_id(contact_id) {
            return Err(link_not_found(property_id, contact_id));
        }
        let request = self
            .request(
                Method::PUT,
                route!("/properties/{property_id}/contacts/{contact_id}"),
            )
            .json(link_body(input))
            .changes([Change::Record(
                Resource::PropertyLinks,
                property_id.to_string(),
            )]);
        let response = self.upstream.send(KIND, request).await?;
        match response.status {
            200 | 201 => self.link_from(&response, property_id),
            404 => Err(link_not_found(property_id, contact_id)),
            _ => Err(self.link_error_from(&response)),
        }
    }

    /// Removes a contact from a property; the contact itself stays.
    pub async fn unlink_contact(
        &self,
        property_id: &str,
        contact_id: &str,
    ) -> Result<(), SourceError> {
        if !is_canonical_id(property_id) || !is_canonical_id(contact_id) {
            return Err(link_not_found(property_id, contact_id));
        }
        let request = self
            .request(
                Method::DELETE,
                route!("/properties/{property_id}/contacts/{contact_id}"),
            )
            .changes([Change::Record(
                Resource::PropertyLinks,
                property_id.to_string(),
            )]);
        let response = self.upstream.send(KIND, request).await?;
        match response.status {
            // The seed's client returns a dict; 204 without a body means the same.
            200 | 202 | 204 => Ok(()),
            404 => Err(link_not_found(property_id, contact_id)),
            _ => Err(self.link_error_from(&response)),
        }
    }

    /// The records of a list answer.
    fn list_records<'a>(
        &self,
        response: &'a UpstreamResponse,
    ) -> Result<Vec<Box<RawValue>>, SourceError> {
        if response.status != 200 {
            return Err(self.link_error_from(response));
        }
        let body: &'a RawValue = parse_json(KIND, response).map_err(|e| self.scrub_error(e))?;
        records_of(body)
    }

    /// One page of the property list; each property is kept as a record too.
    async fn property_page(
        &self,
        request: UpstreamRequest,
    ) -> Result<Arc<Vec<Property>>, SourceError> {
        self.upstream
            .read(KIND, request, Freshness::PropertyList, |response| {
                let properties = self
                    .list_records(response)?
                    .into_iter()
                    .map(map_property)
                    .collect::<Result<Vec<_>, _>>()?;
                let shares = properties
                    .iter()
                    .map(|property| {
                        Share::new(
                            Resource::Property,
                            &property.source_id,
                            Arc::new(property.clone()),
                            Vec::new(),
                            Freshness::Property,
                        )
                    })
                    .collect();
                Ok(Parsed::new(properties, vec![Tag::List(Resource::Property)]).sharing(shares))
            })
            .await
    }

    /// One page of a property's links. The answer holds the linked contacts
    /// (and the property) as the upstream sent them, so it is stale when any
    /// of them changes, and each contact is kept as a record of its own.
    async fn link_page(
        &self,
        request: UpstreamRequest,
        property_id: &str,
    ) -> Result<Arc<Vec<Arc<PropertyContact>>>, SourceError> {
        self.upstream
            .read(KIND, request, Freshness::PropertyLinks, |response| {
                let links = self
                    .list_records(response)?
                    .into_iter()
                    .map(|record| map_property_contact(record, property_id).map(Arc::new))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut tags = vec![
                    Tag::record(Resource::PropertyLinks, property_id),
                    Tag::record(Resource::Property, property_id),
                ];
                let mut shares = Vec::new();
                for link in &links {
                    tags.push(Tag::record(Resource::Contact, &link.contact_id));
                    if let Some(contact) = &link.contact {
                        shares.push(Share::new(
                            Resource::Contact,
                            &contact.source_id,
                            Arc::clone(contact),
                            Vec::new(),
                            Freshness::Contact,
                        ));
                    }
                }
                Ok(Parsed::new(links, tags).sharing(shares))
            })
            .await
    }

    fn link_from(
        &self,
        response: &UpstreamResponse,
        property_id: &str,
    ) -> Result<PropertyContact, SourceError> {
        let body: Box<RawValue> = parse_json(KIND, response).map_err(|e| self.scrub_error(e))?;
        map_property_contact(unwrap_data(body), property_id).map_err(|e| self.scrub_error(e))
    }

    /// Classifies a non-success answer of the property routes, with the
    /// upstream's field errors mapped back to GraphQL input field names.
    fn link_error_from(&self, response: &UpstreamResponse) -> SourceError {
        self.error_naming_fields(response, link_graphql_field)
    }
}

/// Whether `id` is an id of the form Open To Close issues (a positive integer
/// written without leading zeros), so that other ids are refused before any
/// request.
pub fn is_upstream_id(id: &str) -> bool {
    is_canonical_id(id)
}

/// Checks a link write against what the upstream stores, before any request.
pub fn check_link_write(input: &PropertyContactInput) -> Result<(), SourceError> {
    let too_long = |field: &str, value: &Option<Option<String>>, limit: usize| {
        let length = value
            .as_ref()
            .and_then(Option::as_deref)
            .map_or(0, |text| text.trim().chars().count());
        (length > limit).then(|| SourceError::BadInput {
            source_kind: KIND,
            field: Some(field.to_string()),
            message: format!("`{field}` may have at most {limit} characters"),
            upstream_status: None,
        })
    };
    if let Some(error) = too_long("role", &input.role, MAX_TEXT_LENGTH) {
        return Err(error);
    }
    if let Some(error) = too_long("notes", &input.notes, MAX_NOTES_LENGTH) {
        return Err(error);
    }
    Ok(())
}

fn property_not_found(id: &str) -> SourceError {
    SourceError::NotFound {
        source_kind: KIND,
        what: format!("property {id}"),
    }
}

fn link_not_found(property_id: &str, contact_id: &str) -> SourceError {
    SourceError::NotFound {
        source_kind: KIND,
        what: format!("a link between property {property_id} and contact {contact_id}"),
    }
}

/// The GraphQL input field an upstream link or property field came from.
fn link_graphql_field(upstream_field: &str) -> Option<&'static str> {
    match upstream_field {
        "contact_id" => Some("contactId"),
        "property_id" => Some("propertyId"),
        "role" => Some("role"),
        "primary" => Some("primary"),
        "start_date" => Some("startDate"),
        "notes" => Some("notes"),
        "status" => Some("status"),
        _ => None,
    }
}

/// The body of a link write: only the given fields, text trimmed, a blank
/// or null value clearing the field.
fn link_body(input: &PropertyContactInput) -> Value {
    let text = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map_or(Value::Null, |text| Value::String(text.to_string()))
    };
    let mut body = Map::new();
    if let Some(role) = &input.role {
        body.insert("role".into(), text(role));
    }
    if let Some(primary) = input.primary {
        body.insert("primary".into(), Value::Bool(primary));
    }
    if let Some(start_date) = &input.start_date {
        let date = start_date.map_or(Value::Null, |date| {
            Value::String(date.format("%Y-%m-%d").to_string())
        });
        body.insert("start_date".into(), date);
    }
    if let Some(notes) = &input.notes {
        body.insert("notes".into(), text(notes));
    }
    Value::Object(body)
}

/// Maps one Open To Close property record to the unified model; the record's
/// text becomes its `raw` form.
pub fn map_property(record: Box<RawValue>) -> Result<Property, SourceError> {
    let fields: PropertyFields = fields_of(&record, "a property")?;
    let id = fields
        .id
        .id()
        .ok_or_else(|| unusable("property without an id"))?;
    let mut property = Property::new(id, Value::Null);
    property.title = fields.title.text();
    property.address = fields.address.text();
    property.city = fields.city.text();
    property.state = fields.state.text();
    property.postal_code = fields.zip_code.text().or_else(|| fields.postal_code.text());
    property.status = fields.status.text();
    property.price = match &fields.price {
        Field::Number(number) => number.as_f64(),
        Field::Text(price) => price.trim().parse::<f64>().ok(),
        _ => None,
    };
    property.created_at = fields
        .created
        .timestamp()
        .or_else(|| fields.created_at.timestamp());
    drop(fields);
    property.raw = record.into();
    Ok(property)
}

/// Maps a record nested in a link, when it is an object; anything else there
/// (a bare id, `null`) maps to nothing.
fn nested<T>(
    record: Option<&RawValue>,
    map: fn(Box<RawValue>) -> Result<T, SourceError>,
) -> Result<Option<Arc<T>>, SourceError> {
    match record {
        Some(record) if super::wire::is_object(record) => {
            Ok(Some(Arc::new(map(record.to_owned())?)))
        }
        _ => Ok(None),
    }
}

/// Maps one association record, flat or with the contact and property
/// nested; `route_property_id` is the property whose route answered it.
pub fn map_property_contact(
    record: Box<RawValue>,
    route_property_id: &str,
) -> Result<PropertyContact, SourceError> {
    let fields: LinkFields = fields_of(&record, "a property contact")?;
    let contact = nested(fields.contact, map_contact)?;
    let property = nested(fields.property, map_property)?;
    let contact_id = fields
        .contact_id
        .id()
        .or_else(|| contact.as_ref().map(|c| c.source_id.clone()))
        .ok_or_else(|| unusable("a property contact without a contact id"))?;
    let property_id = fields
        .property_id
        .id()
        .or_else(|| property.as_ref().map(|p| p.source_id.clone()))
        .unwrap_or_else(|| route_property_id.to_string());
    let primary = match &fields.primary {
        Field::Bool(primary) => Some(*primary),
        Field::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        Field::Number(number) => number.as_u64().map(|n| n != 0),
        Field::Other => None,
    };
    // A date, or a timestamp whose date part is the date.
    let start_date = fields.start_date.text().and_then(|date| {
        date.get(..10)
            .and_then(|day| NaiveDate::parse_from_str(day, "%Y-%m-%d").ok())
    });
    let role = fields.role.text();
    let notes = fields.notes.text();
    drop(fields);
    Ok(PropertyContact {
        property_id,
        contact_id,
        role,
        primary,
        start_date,
        notes,
        contact,
        property,
        raw: record.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::wire::text_of;
    use super::*;
    use crate::config::Secret;
    use serde_json::json;

    fn adapter(token: &str) -> OpenToClose {
        OpenToClose::new(
            Arc::new(crate::upstream::Upstream::new(
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

    #[test]
    fn maps_a_property_record() {
        let record = json!({
            "id": 12, "title": "12 Oak St", "address": "12 Oak St", "city": "Miami",
            "state": "FL", "zip_code": "33101", "status": "Pending", "price": 350000.5,
            "created": "2024-01-15T10:30:00Z"
        });
        let property = map_property(text_of(&record)).unwrap();
        assert_eq!(property.source_id, "12");
        assert_eq!(property.postal_code.as_deref(), Some("33101"));
        assert_eq!(property.status.as_deref(), Some("Pending"));
        assert_eq!(property.price, Some(350000.5));
        assert!(property.created_at.is_some());
        assert_eq!(property.raw, record);
    }

    #[test]
    fn tolerates_alternative_property_shapes() {
        let property = map_property(text_of(&json!({
            "id": "7", "postal_code": "10001", "price": "1200.00", "created_at": "2024-01-15T10:30:00Z"
        })))
        .unwrap();
        assert_eq!(property.source_id, "7");
        assert_eq!(property.postal_code.as_deref(), Some("10001"));
        assert_eq!(property.price, Some(1200.0));
        assert!(property.created_at.is_some());
        assert_eq!(
            map_property(text_of(&json!({"id": 1, "price": null})))
                .unwrap()
                .price,
            None
        );
        for bad in [json!({"title": "x"}), json!([1]), json!({"id": ""})] {
            assert!(matches!(
                map_property(text_of(&bad)),
                Err(SourceError::Upstream { .. })
            ));
        }
    }

    #[test]
    fn maps_the_nested_association_form() {
        let record = json!({
            "id": 91, "property_id": 3, "contact_id": 8, "role": "Buyer", "primary": true,
            "start_date": "2024-02-01", "notes": "Decision maker",
            "contact": {"id": 8, "first_name": "Ann", "email": "ann@x.com"},
            "property": {"id": 3, "title": "3 Elm St"}
        });
        let link = map_property_contact(text_of(&record), "3").unwrap();
        assert_eq!(link.property_id, "3");
        assert_eq!(link.contact_id, "8");
        assert_eq!(link.role.as_deref(), Some("Buyer"));
        assert_eq!(link.primary, Some(true));
        assert_eq!(link.start_date, NaiveDate::from_ymd_opt(2024, 2, 1));
        assert_eq!(link.raw, record, "raw keeps the nested records");
        let contact = link.contact.unwrap();
        assert_eq!(contact.first_name.as_deref(), Some("Ann"));
        assert_eq!(contact.raw, record["contact"]);
        assert_eq!(link.property.unwrap().title.as_deref(), Some("3 Elm St"));
    }

    #[test]
    fn maps_the_flat_association_form() {
        let link = map_property_contact(
            text_of(&json!({"contact_id": "8", "role": "Seller", "primary": "false", "start_date": "2024-02-01T00:00:00Z"})),
            "3",
        )
        .unwrap();
        assert_eq!(link.property_id, "3");
        assert_eq!(link.contact_id, "8");
        assert_eq!(link.primary, Some(false));
        assert_eq!(link.start_date, NaiveDate::from_ymd_opt(2024, 2, 1));
        assert!(link.contact.is_none() && link.property.is_none());
        // The nested contact names the contact when the flat id is missing.
        let link = map_property_contact(text_of(&json!({"contact": {"id": 5}})), "3").unwrap();
        assert_eq!(link.contact_id, "5");
        assert!(matches!(
            map_property_contact(text_of(&json!({"role": "Buyer"})), "3"),
            Err(SourceError::Upstream { .. })
        ));
    }

    #[test]
    fn roles_compare_ignoring_case_and_spaces() {
        let link = map_property_contact(
            text_of(&json!({"contact_id": 1, "role": "Listing Agent"})),
            "1",
        )
        .unwrap();
        assert!(link.has_role(" listing agent"));
        assert!(!link.has_role("Agent"));
    }

    #[test]
    fn link_bodies_hold_only_the_given_fields() {
        let input = PropertyContactInput {
            role: Some(Some(" Buyer ".into())),
            primary: None,
            start_date: Some(None),
            notes: Some(Some("  ".into())),
        };
        assert_eq!(
            link_body(&input),
            json!({"role": "Buyer", "start_date": null, "notes": null})
        );
        let input = PropertyContactInput {
            primary: Some(true),
            start_date: Some(NaiveDate::from_ymd_opt(2024, 1, 5)),
            ..Default::default()
        };
        assert_eq!(
            link_body(&input),
            json!({"primary": true, "start_date": "2024-01-05"})
        );
    }

    #[test]
    fn link_writes_check_lengths() {
        let long_role = PropertyContactInput {
            role: Some(Some("r".repeat(MAX_TEXT_LENGTH + 1))),
            ..Default::default()
        };
        assert!(matches!(
            check_link_write(&long_role),
            Err(SourceError::BadInput { field: Some(ref f), .. }) if f == "role"
        ));
        let long_notes = PropertyContactInput {
            notes: Some(Some("n".repeat(MAX_NOTES_LENGTH + 1))),
            ..Default::default()
        };
        assert!(matches!(
            check_link_write(&long_notes),
            Err(SourceError::BadInput { field: Some(ref f), .. }) if f == "notes"
        ));
        check_link_write(&PropertyContactInput::default()).unwrap();
    }

    #[test]
    fn link_field_errors_name_graphql_fields_and_never_the_key() {
        let token = "s3cret-key";
        let otc = adapter(token);
        let body = format!(
            r#"{{"message":"Bad request","field_errors":{{"contact_id":["Contact 9 is already linked ({token})."]}}}}"#
        );
        match otc.link_error_from(&response(400, &body)) {
            SourceError::BadInput {
                field,
                message,
                upstream_status,
                ..
            } => {
                assert_eq!(field.as_deref(), Some("contactId"));
                assert!(message.contains("already linked"), "{message}");
                assert!(!message.contains(token), "{message}");
                assert_eq!(upstream_status, Some(400));
            }
            other => panic!("{other:?}"),
        }
        let error = otc.link_error_from(&response(
            400,
            r#"{"message":"Bad request","field_errors":{"start_date":["Enter a date."]}}"#,
        ));
        assert!(matches!(
            error,
            SourceError::BadInput { field: Some(ref f), .. } if f == "startDate"
        ));
        assert!(matches!(
            otc.link_error_from(&response(404, r#"{"message":"Not found"}"#)),
            SourceError::NotFound { .. }
        ));
        assert!(matches!(
            otc.link_error_from(&response(503, "<html></html>")),
            SourceError::Unavailable { .. }
        ));
    }
}
