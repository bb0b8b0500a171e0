//! `/v1/properties/{id}/contacts[/{contact_id}]`: who plays which role on a
//! property (per the Open To Close Property Contacts API documentation). Every answer nests the full contact and property.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;

use super::data::{OpenToCloseData, PropertyContact};
use super::error::ApiError;
use super::request::{
    json_object, path_id, path_ids, FieldReader, Page, Patch, QueryParameters, MAX_NOTES_LENGTH,
    MAX_TEXT_LENGTH,
};
use super::{empty_response, json_response, AppState};

/// `GET /v1/properties/{id}/contacts`, optionally filtered by `role`.
pub(super) async fn list(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let property_id = path_id(path)?;
    let query = QueryParameters::parse(query.as_deref().unwrap_or(""));
    let page = Page::from_query(&query)?;
    let role = query.non_empty("role").map(str::to_lowercase);
    let data = state.store.read();
    if !data.properties.contains_key(&property_id) {
        return Err(ApiError::NotFound);
    }
    let mut links: Vec<&PropertyContact> = links_of(&data, property_id)
        .filter(|link| {
            role.as_deref().is_none_or(|wanted| {
                link.role
                    .as_deref()
                    .is_some_and(|actual| actual.to_lowercase() == wanted)
            })
        })
        .collect();
    links.sort_by_key(|link| link.id);
    let views: Vec<_> = page
        .apply(links)
        .into_iter()
        .map(|link| data.property_contact_view(link))
        .collect();
    Ok(json_response(StatusCode::OK, &views))
}

/// `POST /v1/properties/{id}/contacts`: links a contact, 201 with the association.
pub(super) async fn create(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let property_id = path_id(path)?;
    let mut data = state.store.write();
    if !data.properties.contains_key(&property_id) {
        return Err(ApiError::NotFound);
    }
    let object = json_object(body)?;
    let mut reader = FieldReader::new(&object);
    let contact_id = if reader.has("contact_id") {
        reader.positive_integer("contact_id")
    } else {
        reader.problem("contact_id", "This field is required.");
        None
    };
    if let Some(contact_id) = contact_id {
        if !data.contacts.contains_key(&contact_id) {
            reader.problem(
                "contact_id",
                format!("Contact {contact_id} does not exist."),
            );
        } else if data
            .property_contacts
            .contains_key(&(property_id, contact_id))
        {
            reader.problem(
                "contact_id",
                format!("Contact {contact_id} is already linked to this property."),
            );
        }
    }
    let fields = LinkFields::read(&mut reader);
    reader.finish()?;
    let Some(contact_id) = contact_id else {
        // `finish` has answered every case where the id is missing or wrong.
        return Err(ApiError::invalid_field(
            "contact_id",
            "This field is required.",
        ));
    };
    let id = data.next_property_contact_id;
    data.next_property_contact_id += 1;
    let link = PropertyContact {
        id,
        property_id,
        contact_id,
        role: fields.role.flatten(),
        primary: fields.primary.unwrap_or(false),
        start_date: fields.start_date.flatten(),
        notes: fields.notes.flatten(),
    };
    let primary = link.primary;
    data.property_contacts
        .insert((property_id, contact_id), link);
    if primary {
        data.demote_other_primaries((property_id, contact_id));
    }
    answer_link(&data, (property_id, contact_id), StatusCode::CREATED)
}

/// `GET /v1/properties/{id}/contacts/{contact_id}`.
pub(super) async fn retrieve(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let key = path_ids(path)?;
    let data = state.store.read();
    answer_link(&data, key, StatusCode::OK)
}

/// `PUT /v1/properties/{id}/contacts/{contact_id}`: a partial update of the link.
pub(super) async fn update(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let key = path_ids(path)?;
    let mut data = state.store.write();
    if !data.property_contacts.contains_key(&key) {
        return Err(ApiError::NotFound);
    }
    let object = json_object(body)?;
    let mut reader = FieldReader::new(&object);
    let fields = LinkFields::read(&mut reader);
    reader.finish()?;
    let link = data
        .property_contacts
        .get_mut(&key)
        .ok_or(ApiError::NotFound)?;
    if let Some(role) = fields.role {
        link.role = role;
    }
    if let Some(primary) = fields.primary {
        link.primary = primary;
    }
    if let Some(start_date) = fields.start_date {
        link.start_date = start_date;
    }
    if let Some(notes) = fields.notes {
        link.notes = notes;
    }
    // A role change can also make this link collide with another primary.
    if link.primary {
        data.demote_other_primaries(key);
    }
    answer_link(&data, key, StatusCode::OK)
}

/// `DELETE /v1/properties/{id}/contacts/{contact_id}`: 204; the contact stays.
pub(super) async fn delete(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let key = path_ids(path)?;
    let mut data = state.store.write();
    data.property_contacts
        .remove(&key)
        .ok_or(ApiError::NotFound)?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

/// The links of one property, in contact-id order.
fn links_of(data: &OpenToCloseData, property_id: u64) -> impl Iterator<Item = &PropertyContact> {
    data.property_contacts
        .range((property_id, 0)..=(property_id, u64::MAX))
        .map(|(_, link)| link)
}

fn answer_link(
    data: &OpenToCloseData,
    key: (u64, u64),
    status: StatusCode,
) -> Result<Response, ApiError> {
    let link = data.property_contacts.get(&key).ok_or(ApiError::NotFound)?;
    Ok(json_response(status, &data.property_contact_view(link)))
}

/// The writable fields of a link; `contact_id` is read separately because
/// only a create may set it.
struct LinkFields {
    role: Patch<String>,
    primary: Option<bool>,
    start_date: Patch<NaiveDate>,
    notes: Patch<String>,
}

impl LinkFields {
    fn read(reader: &mut FieldReader<'_>) -> LinkFields {
        LinkFields {
            role: reader.text("role", MAX_TEXT_LENGTH),
            primary: reader.boolean("primary"),
            start_date: reader.date("start_date"),
            notes: reader.text("notes", MAX_NOTES_LENGTH),
        }
    }
}
