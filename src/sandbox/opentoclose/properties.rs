//! `/v1/properties[/]` and `/v1/properties/{id}`: the transaction files that
//! contacts are linked to.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Number, Value};

use super::data::{now, Property, PROPERTY_STATUSES};
use super::error::ApiError;
use super::request::{
    json_object, path_id, FieldReader, Page, Patch, QueryParameters, MAX_TEXT_LENGTH,
};
use super::{empty_response, json_response, AppState};

/// `GET /v1/properties`, optionally filtered by `status`.
pub(super) async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = QueryParameters::parse(query.as_deref().unwrap_or(""));
    let page = Page::from_query(&query)?;
    let status = query.non_empty("status").map(str::to_lowercase);
    let data = state.store.read();
    let matching = data.properties.values().filter(|property| {
        status
            .as_deref()
            .is_none_or(|wanted| property.status.to_lowercase() == wanted)
    });
    Ok(json_response(StatusCode::OK, &page.apply(matching)))
}

/// `POST /v1/properties/` (and without the slash): 201 with the record.
pub(super) async fn create(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let object = json_object(body)?;
    let fields = PropertyFields::read(&object, true)?;
    let mut data = state.store.write();
    let id = data.next_property_id;
    data.next_property_id += 1;
    let property = Property {
        id,
        title: fields.title,
        address: fields.address.flatten(),
        city: fields.city.flatten(),
        state: fields.state.flatten(),
        zip_code: fields.zip_code.flatten(),
        status: fields.status.unwrap_or_else(|| "Active".to_string()),
        price: fields.price.flatten(),
        created: now(),
    };
    let response = json_response(StatusCode::CREATED, &property);
    data.properties.insert(id, property);
    Ok(response)
}

/// `GET /v1/properties/{id}`.
pub(super) async fn retrieve(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(path)?;
    let data = state.store.read();
    let property = data.properties.get(&id).ok_or(ApiError::NotFound)?;
    Ok(json_response(StatusCode::OK, property))
}

/// `PUT /v1/properties/{id}`: a partial update.
pub(super) async fn update(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(path)?;
    let mut data = state.store.write();
    let property = data.properties.get_mut(&id).ok_or(ApiError::NotFound)?;
    let object = json_object(body)?;
    let fields = PropertyFields::read(&object, false)?;
    if fields.title.is_some() {
        property.title = fields.title;
    }
    for (target, patch) in [
        (&mut property.address, fields.address),
        (&mut property.city, fields.city),
        (&mut property.state, fields.state),
        (&mut property.zip_code, fields.zip_code),
    ] {
        if let Some(value) = patch {
            *target = value;
        }
    }
    if let Some(status) = fields.status {
        property.status = status;
    }
    if let Some(price) = fields.price {
        property.price = price;
    }
    Ok(json_response(StatusCode::OK, &*property))
}

/// `DELETE /v1/properties/{id}`: 204, and the property's links go with it.
pub(super) async fn delete(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(path)?;
    let mut data = state.store.write();
    data.properties.remove(&id).ok_or(ApiError::NotFound)?;
    data.property_contacts
        .retain(|(property_id, _), _| *property_id != id);
    Ok(empty_response(StatusCode::NO_CONTENT))
}

/// The writable fields of a property body.
struct PropertyFields {
    /// A title can be replaced but never cleared.
    title: Option<String>,
    address: Patch<String>,
    city: Patch<String>,
    state: Patch<String>,
    zip_code: Patch<String>,
    status: Option<String>,
    price: Patch<Number>,
}

impl PropertyFields {
    fn read(object: &Map<String, Value>, creating: bool) -> Result<PropertyFields, ApiError> {
        let mut reader = FieldReader::new(object);
        let title = match reader.text("title", MAX_TEXT_LENGTH) {
            Some(Some(title)) if !title.trim().is_empty() => Some(title),
            Some(_) => {
                reader.problem("title", "This field may not be blank.");
                None
            }
            None if creating && !reader.has_problem("title") => {
                reader.problem("title", "This field is required.");
                None
            }
            None => None,
        };
        let address = reader.text("address", MAX_TEXT_LENGTH);
        let city = reader.text("city", MAX_TEXT_LENGTH);
        let state = reader.text("state", MAX_TEXT_LENGTH);
        let zip_code = reader.text("zip_code", MAX_TEXT_LENGTH);
        let status = match object.get("status") {
            None => None,
            Some(Value::String(status)) if PROPERTY_STATUSES.contains(&status.as_str()) => {
                Some(status.clone())
            }
            Some(_) => {
                reader.problem(
                    "status",
                    format!("Must be one of: {}.", PROPERTY_STATUSES.join(", ")),
                );
                None
            }
        };
        let price = reader.non_negative_number("price");
        reader.finish()?;
        Ok(PropertyFields {
            title,
            address,
            city,
            state,
            zip_code,
            status,
            price,
        })
    }
}
