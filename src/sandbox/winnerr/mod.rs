//! Emulator of the Winnerr real-estate CRM contacts API (per the Winnerr Contacts API documentation), served
//! under `/winnerr` with the base `/v1`.
//!
//! Endpoints: `GET/POST /v1/contacts`, `GET/PUT/DELETE /v1/contacts/{id}`,
//! `GET/POST /v1/contacts/{id}/activities`, `GET /v1/contacts/tags`,
//! `POST /v1/contacts/{id}/tags` and `PATCH /v1/contacts/bulk`. Every request
//! needs `Authorization: Bearer <credentials.winnerr.token>`. Every failure uses
//! the seed's envelope `{"success": false, "error": {type, title, status,
//! detail}}` (see [`errors`]).
//!
//! Code map: [`model`] holds the records, the lead-score formula and the
//! seeding; [`listing`] the list query (filters, sort, keyset cursors, sparse
//! fieldsets); [`input`] the validation of request bodies; [`errors`] the
//! envelope.
//!
//! Our own choices (*ours* in `upstreams.md`), where neither the seed nor the
//! real API settles the question:
//!
//! - **Authentication** runs before routing: any request under the prefix
//!   without the token, unknown paths included, is 401 (`authentication_error`,
//!   title `Unauthorized`, with `WWW-Authenticate: Bearer`). The scheme word
//!   `Bearer` is case-insensitive; the token must match exactly.
//! - **Routing:** `/v1/contacts/tags` and `/v1/contacts/bulk` win over
//!   `/v1/contacts/{id}`, so `GET /v1/contacts/bulk` is 405, not a contact
//!   lookup. Unknown paths are 404 `not_found_error` (title `Not Found`); a
//!   method a route lacks is 405 `method_not_allowed_error` with an `Allow`
//!   header. A trailing slash is an unknown path.
//! - **Records:** list items, the detail view and every write answer carry the
//!   full contact (all keys of the seed's first example; absent values are
//!   `null` or `[]`, `preferences` is always an object). `fields=` (list and
//!   detail) keeps only the named top-level keys plus `id`; an unknown name is
//!   422 `invalid_field`. Timestamps are whole seconds, `2024-01-15T10:30:00Z`.
//!   Seeded emails keep the casing and stray spaces they were entered with;
//!   emails written through the API are stored trimmed. Tags are stored
//!   trimmed and lower-cased.
//! - **Lead score:** computed by the server on every create and change from
//!   type, status, source, tags and preferences; see [`model::lead_score`] for
//!   the formula. A `leadScore` sent by the client is ignored, as are other
//!   read-only or unknown keys (such as the seed's `calculateLeadScore`).
//! - **List:** default sort `createdAt:desc`. `sort` takes `field[:asc|desc]`
//!   keys separated by commas (direction defaults to `asc`, is
//!   case-insensitive; a field may appear once); `id` ascending always breaks
//!   the final tie. Text keys (`firstName`, `lastName`, `email`) compare
//!   trimmed and lower-cased. `type`, `status` and `source` accept one value
//!   or a comma-separated list (any of them); `tags` is comma-separated and
//!   matches contacts having ANY of the tags; `assignedTo` is an exact agent
//!   id. `leadScore[gte|lte]` are inclusive integers; `createdAt[gte|lte]` are
//!   inclusive ISO 8601 date-times (without an offset: UTC) or dates (a bare
//!   date means the day's first second for `gte`, its last for `lte`). An empty
//!   parameter value (or one of separators only, `tags=,`) counts as absent; a
//!   repeated parameter keeps its last value; unknown parameters are ignored. All invalid parameters are reported
//!   together in one 422. `pagination.total` counts every contact matching the
//!   filters (not only those after the cursor).
//! - **Cursors** are keyset positions, URL-safe base64 without padding of a
//!   JSON document holding the sort, the last item's key values and id, and a
//!   checksum (standard base64 is accepted too). A garbled or modified cursor
//!   is 422 `invalid_cursor`; a cursor made under another `sort` is 422
//!   `cursor_sort_mismatch`. Cursors are not bound to the filters or `limit`,
//!   which may change between pages. Inserts and deletes between pages never
//!   make a walk skip or repeat a contact.
//! - **Create** answers 201; `type` defaults to LEAD, `status` to ACTIVE,
//!   `source` to null. Update (PUT) is partial at the top level: absent keys
//!   stay, `null` clears a nullable key (`tags: null` empties the tags,
//!   `preferences: null` resets them), while `address` and `preferences`
//!   given as objects replace the whole object. `firstName`, `lastName`,
//!   `email`, `type` and `status` cannot be null. Every PUT stamps `updatedAt`.
//!   `status` must come from the status table: the seed's update example sends
//!   `"status": "CLIENT"`, which is a type, and is therefore a 422 here.
//!   `assignedTo` must look like an agent id (`agent_` plus letters, digits,
//!   `-` or `_`); it need not belong to a seeded agent, as the seed's own
//!   examples use `agent_789`. Phones must hold 7 to 15 digits and only
//!   digits, spaces and `+-().`. Duplicate emails (trimmed, case-insensitive)
//!   are 409 with the email as sent (trimmed) in the detail. A body that is not
//!   a JSON object is 400 `invalid_request_error`; `Content-Type` is not
//!   checked. On routes with a contact id, an unknown id is 404 before the
//!   query or body is validated.
//! - **Activities:** `GET` returns every activity of the contact, newest first,
//!   without paging; `include=activities` on the list and the detail embeds
//!   that same complete list in each contact (no cap). `POST` requires `type` (EMAIL_SENT, EMAIL_RECEIVED,
//!   PHONE_CALL, MEETING, NOTE, SMS, SHOWING) and a non-empty `description`;
//!   `scheduledAt` (ISO 8601) and `metadata` (an object) are optional, and
//!   `scheduledAt` is served only on activities that have it. It answers 201
//!   with the activity. An activity other than NOTE that is not scheduled in
//!   the future counts as contact: `lastContactedAt` moves to its time
//!   (`scheduledAt`, else creation) if that is later; `updatedAt` does not
//!   change. The contact's existence is checked before the body (404 first).
//! - **Tags:** `GET /v1/contacts/tags` lists the vocabulary (always, even at
//!   count 0) plus any other tag in use, with live counts, most used first
//!   (ties by name); tags outside the vocabulary get a stable colour from a
//!   small palette. `POST /v1/contacts/{id}/tags` adds the given tags (a
//!   non-empty array of non-empty strings) without duplicates and answers 200
//!   with the updated contact; `updatedAt` changes only if a tag was new.
//! - **Bulk:** `updates` takes the update fields except `email` (422
//!   `not_allowed`: emails are unique) and must change something; up to 100
//!   `contactIds`. Results follow the request order, one per id given;
//!   an unknown id fails with the 404 error object. The answer is 200 with
//!   `success: true` whenever the request itself was valid.
//! - **Ids:** contacts `contact_<uuid>`, activities `activity_<uuid>`, deals
//!   `deal_<uuid>`, communications `comm_<uuid>`, all drawn from a seeded
//!   generator kept in the data (reset restores it).
//! - **Seed data:** 600 contacts from the shared population, one organization,
//!   eight agents (about 80% of contacts assigned), 3 to 10 activities for
//!   about seven in eight contacts, 0 to 2 deals and 0 to 4 communications
//!   each; seeded timestamps never pass 2025-06-30.

pub mod errors;
pub mod input;
pub mod listing;
pub mod model;
pub mod openapi;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use self::errors::{ApiError, FieldError};
use self::input::{json_object, tags_to_add, ActivityInput, BulkInput, ChangeMode, ContactChanges};
use self::listing::{list_envelope, list_page, ListRequest, Presentation, QueryParams};
use self::model::{now, Activity, ContactEntry, WinnerrData};
use super::credentials::Credentials;
use super::people::World;
use super::store::{Resettable, Store};

/// Route templates, relative to the source prefix.
pub const ROUTES: &[&str] = &[
    "/v1/contacts",
    "/v1/contacts/{id}",
    "/v1/contacts/{id}/activities",
    "/v1/contacts/tags",
    "/v1/contacts/{id}/tags",
    "/v1/contacts/bulk",
];

/// Seeds the data and builds the router.
pub fn build(world: &World, credentials: &Credentials) -> (Router, Arc<dyn Resettable>) {
    let store = Arc::new(Store::new(model::seed(world)));
    let state = AppState {
        store: store.clone(),
        token: Arc::from(credentials.winnerr.token.as_str()),
    };
    let router = Router::new()
        .route("/v1/contacts", get(list_contacts).post(create_contact))
        .route("/v1/contacts/tags", get(list_tags))
        .route("/v1/contacts/bulk", patch(bulk_update))
        .route(
            "/v1/contacts/{id}",
            get(get_contact).put(update_contact).delete(delete_contact),
        )
        .route(
            "/v1/contacts/{id}/activities",
            get(list_activities).post(create_activity),
        )
        .route("/v1/contacts/{id}/tags", post(add_tags))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(route_not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ))
        .with_state(state);
    (router, store)
}

#[derive(Clone)]
struct AppState {
    store: Arc<Store<WinnerrData>>,
    token: Arc<str>,
}

type ApiResult = Result<Response, ApiError>;

/// Rejects every request without the configured bearer token.
async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let header_value = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().unwrap_or(""));
    let Some(header_value) = header_value else {
        return ApiError::MissingToken.into_response();
    };
    let token = header_value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    if token != Some(&*state.token) {
        return ApiError::InvalidToken.into_response();
    }
    next.run(request).await
}

async fn route_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::RouteNotFound {
        method: method.to_string(),
        path: uri.path().to_string(),
    }
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
    }
}

/// The path's contact id; a path that does not decode names no contact.
fn contact_id(path: Result<Path<String>, PathRejection>, uri: &Uri) -> String {
    match path {
        Ok(Path(id)) => id,
        Err(_) => uri.path().split('/').nth(3).unwrap_or_default().to_string(),
    }
}

fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::BodyTooLarge
        } else {
            ApiError::MalformedBody
        }
    })
}

fn success(status: StatusCode, data: Value) -> Response {
    (status, Json(json!({ "success": true, "data": data }))).into_response()
}

async fn list_contacts(State(state): State<AppState>, RawQuery(query): RawQuery) -> ApiResult {
    let params = QueryParams::parse(query.as_deref());
    let request = ListRequest::parse(&params)?;
    let data = state.store.read();
    let page = list_page(&data, &request);
    Ok(Json(list_envelope(&page, &request)).into_response())
}

async fn get_contact(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let id = contact_id(path, &uri);
    let params = QueryParams::parse(query.as_deref());
    let mut errors: Vec<FieldError> = Vec::new();
    let presentation = Presentation::parse(&params, &mut errors);
    let data = state.store.read();
    let entry = data
        .contacts
        .get(&id)
        .ok_or_else(|| ApiError::ContactNotFound(id.clone()))?;
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(success(StatusCode::OK, presentation.render(entry)))
}

async fn create_contact(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let body = json_object(&body_bytes(body)?)?;
    let changes = ContactChanges::parse(&body, ChangeMode::Create, "")?;
    let mut data = state.store.write();
    if let Some(email) = &changes.email {
        if data.contact_with_email(email, None).is_some() {
            return Err(ApiError::DuplicateEmail(email.clone()));
        }
    }
    let id = data.new_id("contact");
    let contact = changes.into_new_contact(id.clone(), data.organization_id.clone(), now());
    let entry = ContactEntry {
        contact,
        activities: Vec::new(),
        deals: Vec::new(),
        communications: Vec::new(),
    };
    let rendered = Presentation::default().render(&entry);
    data.contacts.insert(id, entry);
    Ok(success(StatusCode::CREATED, rendered))
}

async fn update_contact(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let id = contact_id(path, &uri);
    let mut data = state.store.write();
    if !data.contacts.contains_key(&id) {
        return Err(ApiError::ContactNotFound(id));
    }
    let body = json_object(&body_bytes(body)?)?;
    let changes = ContactChanges::parse(&body, ChangeMode::Update, "")?;
    if let Some(email) = &changes.email {
        if data.contact_with_email(email, Some(&id)).is_some() {
            return Err(ApiError::DuplicateEmail(email.clone()));
        }
    }
    let entry = data
        .contacts
        .get_mut(&id)
        .ok_or_else(|| ApiError::ContactNotFound(id.clone()))?;
    changes.apply(&mut entry.contact, now());
    Ok(success(
        StatusCode::OK,
        Presentation::default().render(entry),
    ))
}

async fn delete_contact(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> ApiResult {
    let id = contact_id(path, &uri);
    let mut data = state.store.write();
    match data.contacts.remove(&id) {
        Some(_) => Ok(Json(json!({
            "success": true,
            "message": "Contact deleted successfully",
        }))
        .into_response()),
        None => Err(ApiError::ContactNotFound(id)),
    }
}

async fn list_activities(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> ApiResult {
    let id = contact_id(path, &uri);
    let data = state.store.read();
    let entry = data
        .contacts
        .get(&id)
        .ok_or_else(|| ApiError::ContactNotFound(id.clone()))?;
    let activities: Vec<Value> = entry
        .activities_newest_first()
        .into_iter()
        .map(Activity::to_json)
        .collect();
    Ok(success(StatusCode::OK, Value::Array(activities)))
}

async fn create_activity(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let id = contact_id(path, &uri);
    let mut data = state.store.write();
    if !data.contacts.contains_key(&id) {
        return Err(ApiError::ContactNotFound(id));
    }
    let body = json_object(&body_bytes(body)?)?;
    let input = ActivityInput::parse(&body)?;
    let activity_id = data.new_id("activity");
    let sequence = data.next_activity_sequence;
    data.next_activity_sequence += 1;
    let created_at = now();
    let activity = Activity {
        id: activity_id,
        activity_type: input.activity_type,
        description: input.description,
        created_at,
        scheduled_at: input.scheduled_at,
        metadata: input.metadata,
        sequence,
    };
    let rendered = activity.to_json();
    let entry = data
        .contacts
        .get_mut(&id)
        .ok_or_else(|| ApiError::ContactNotFound(id.clone()))?;
    if activity.is_past_interaction(created_at) {
        let happened_at = activity.happened_at();
        let contact = &mut entry.contact;
        if contact
            .last_contacted_at
            .is_none_or(|last| last < happened_at)
        {
            contact.last_contacted_at = Some(happened_at);
        }
    }
    entry.activities.push(activity);
    Ok(success(StatusCode::CREATED, rendered))
}

async fn list_tags(State(state): State<AppState>) -> ApiResult {
    let data = state.store.read();
    let tags: Vec<Value> = data
        .tag_summary()
        .into_iter()
        .map(|(name, color, count)| json!({ "name": name, "color": color, "count": count }))
        .collect();
    Ok(success(StatusCode::OK, Value::Array(tags)))
}

async fn add_tags(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let id = contact_id(path, &uri);
    let mut data = state.store.write();
    let entry = data
        .contacts
        .get_mut(&id)
        .ok_or_else(|| ApiError::ContactNotFound(id.clone()))?;
    let body = json_object(&body_bytes(body)?)?;
    let tags = tags_to_add(&body)?;
    let contact = &mut entry.contact;
    let mut added_any = false;
    for tag in tags {
        if !contact.tags.contains(&tag) {
            contact.tags.push(tag);
            added_any = true;
        }
    }
    if added_any {
        contact.updated_at = now();
        contact.refresh_lead_score();
    }
    Ok(success(
        StatusCode::OK,
        Presentation::default().render(entry),
    ))
}

async fn bulk_update(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let body = json_object(&body_bytes(body)?)?;
    let input = BulkInput::parse(&body)?;
    let mut data = state.store.write();
    let stamp = now();
    let mut results = Vec::with_capacity(input.contact_ids.len());
    let (mut updated, mut failed) = (0u64, 0u64);
    for id in &input.contact_ids {
        match data.contacts.get_mut(id) {
            Some(entry) => {
                input.updates.clone().apply(&mut entry.contact, stamp);
                updated += 1;
                results.push(json!({ "id": id, "success": true }));
            }
            None => {
                failed += 1;
                results.push(json!({
                    "id": id,
                    "success": false,
                    "error": ApiError::ContactNotFound(id.clone()).error_object(),
                }));
            }
        }
    }
    Ok(success(
        StatusCode::OK,
        json!({ "updated": updated, "failed": failed, "results": results }),
    ))
}
