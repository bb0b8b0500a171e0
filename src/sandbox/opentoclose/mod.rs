//! Emulator of the Open To Close API (seeds 000 and 001): contacts, properties
//! and the links between them, served under `/opentoclose/v1`.
//!
//! What the seeds and the real API settle is followed as is; everything below
//! marked *ours* is this emulator's own choice where neither says anything.
//!
//! # Authentication
//! Every request, including unknown paths and wrong methods, must carry
//! `?api_token=KEY` equal to `credentials.opentoclose.api_token` (*real*).
//! A missing, empty or wrong key answers 401 `{"message":"Invalid
//! credentials"}` before anything else is looked at (*ours* for the body and
//! for checking it first). The key is never echoed in any answer.
//!
//! # Envelopes (*ours*, shaped after the public client's exceptions)
//! - 400 `{"message":"Bad request","errors":{KEY:[MESSAGE]}}` for problems
//!   with the request as a whole: KEY is the offending query parameter
//!   (`limit`, `offset`, `sort`) or `body` when the body is not a JSON object.
//! - 400 `{"message":"Bad request","field_errors":{FIELD:[MESSAGE]}}` for
//!   problems with body fields; every bad field is reported at once.
//! - 401 `{"message":"Invalid credentials"}`.
//! - 404 `{"message":"Not found"}` for unknown paths, unknown records, and ids
//!   in a path that are not positive integers (`0`, `-1`, `abc`, `1.5`, or
//!   anything beyond `u64`); leading zeros are accepted (`007` is 7).
//! - 405 `{"message":"Method not allowed"}` with an `Allow` header when the
//!   path exists but not for that method.
//! - 413 `{"message":"Request entity too large"}` for bodies over 2 MiB.
//! - 429 and 5xx come from the sandbox's fault layer, never from here.
//!
//! # Lists (*real*: bare JSON arrays, offset paging until an empty page)
//! `limit` defaults to 50; values above 100 are clamped to 100; zero, negative
//! or non-integer values are 400 (*ours*). `offset` defaults to 0 and must be a
//! non-negative integer; an offset past the end gives an empty array. An empty
//! query parameter (`limit=`) counts as absent; unknown parameters are ignored.
//!
//! # Contacts
//! - Record: `id`, `first_name`, `last_name`, `email`, `phone`, `contact_type`,
//!   `company`, `title`, `address`, `city`, `state`, `zip_code`, `created`,
//!   `updated`; every key is always present, `null` when unset (*ours*).
//!   Timestamps are ISO 8601 in UTC with second precision (`2023-04-05T06:07:08Z`).
//! - Seeded: the 600 people of [`World::people_for`] as ids 1..=600 in that
//!   order, emails as typed in ([`Person::email_as_entered`]: some capitalised,
//!   some with stray spaces), phones mostly E.164 with about one in five in
//!   another style. The seeded records carry `contact_type`, `company`,
//!   `title`, `address`, `city`, `state` and `zip_code`, as set through the
//!   real product's web interface (*ours*: `contact_type` follows the job title).
//! - `GET /v1/contacts` filters: `contact_type` (case-insensitive exact match),
//!   `search` (case-insensitive substring of `first_name`, `last_name`,
//!   `"first last"`, `email` or `phone`; when the term is only digits and phone
//!   punctuation `+-(). ` with at least three digits, its digits are also
//!   matched against the phone's digits, ignoring a leading country code 1, so
//!   `5551234` finds `+1 (555) 123-4567`). `sort` is one of `id`, `first_name`,
//!   `last_name`, `email`, `created`, `updated`, each optionally prefixed with
//!   `-` for descending; anything else is 400. Text sorts ignore case, missing
//!   values sort as empty text, and ties always fall back to `id` ascending.
//!   The default order is `id` ascending.
//! - `POST /v1/contacts` answers 201 with the record. Only `first_name`,
//!   `last_name`, `email` and `phone` are stored; each must be a string or
//!   `null`, at most 255 characters, and a non-blank email must look like
//!   `local@domain` (after trimming; it is stored as typed). At least one of
//!   the four must be non-blank (else `field_errors` on all four). A `name`
//!   key is rejected (seed: "Bad request"). `contact_type`, `company` and
//!   `address` are accepted with any value but not persisted (seed: "may not
//!   persist"), and every other key is accepted and ignored (*ours*), so
//!   `contact_type`, `company`, `title`, `address`, `city`, `state` and
//!   `zip_code` of a created contact are `null`.
//! - `PUT /v1/contacts/{id}` is a partial update with the same rules (without
//!   the "at least one" rule); it never changes the seeded-only fields and
//!   always moves `updated`. `DELETE` answers 204 with an empty body and also
//!   removes every property link of the contact (*ours*).
//!
//! # Properties (*real* routes; *ours* fields)
//! - Record: `id`, `title`, `address`, `city`, `state`, `zip_code`, `status`,
//!   `price`, `created`. 200 are seeded. `status` is one of `Active`,
//!   `Pending`, `Under Contract`, `Closed`, `Withdrawn` (exact spelling);
//!   `price` is a non-negative JSON number or `null`; the text fields are
//!   strings or `null` (at most 255 characters).
//! - `GET /v1/properties` with `limit`, `offset` and `status` (case-insensitive
//!   exact match), ordered by id. `POST /v1/properties/` (the real client's
//!   trailing slash; the path without it is served identically) answers 201;
//!   `title` is required and `status` defaults to `Active`. `PUT` is partial;
//!   `DELETE` answers 204 and removes the property's contact links.
//!
//! # Property contacts (per the Open To Close Property Contacts API documentation)
//! - The association object: `id` (the link's own id), `property_id`,
//!   `contact_id`, `role`, `primary`, `start_date` (`YYYY-MM-DD` or `null`),
//!   `notes`, plus the nested `contact` and `property` records (*real*).
//! - Seeded: every property links 1 to 8 contacts in the roles `Seller`,
//!   `Listing Agent`, `Buyer`, `Buyer Agent`, `Lender`, `Title Officer`,
//!   `Inspector` (and a second, non-primary `Buyer` on the largest files);
//!   contacts are chosen by their `contact_type`, and agents, lenders,
//!   inspectors and title officers come from a small pool so they recur
//!   across many properties.
//! - `GET /v1/properties/{id}/contacts` takes `role` (case-insensitive exact
//!   match), `limit` and `offset`, ordered by link id. `POST` answers 201:
//!   `contact_id` is required, a positive integer naming an existing contact
//!   (a missing contact is a 400 field error, *ours*), and linking a contact
//!   already on the property is a 400 field error (*ours*); `role` and
//!   `notes` are strings or `null` (any role text is accepted, since teams
//!   configure their own roles), `primary` a boolean (default `false`),
//!   `start_date` a `YYYY-MM-DD` date or `null`. A `contact_id` in a `PUT`
//!   body is ignored: the path names the link. Setting `primary` to `true`
//!   clears it on the property's other links with the same role, so each role
//!   has at most one primary contact (*ours*). An unknown property is 404
//!   whatever the body.
//!
//! Every write takes the store's lock once, so a write that has answered is
//! visible to every later read; `POST /_sandbox/reset` restores the seed.
//!
//! [`World::people_for`]: super::people::World::people_for
//! [`Person::email_as_entered`]: super::people::Person::email_as_entered

mod contacts;
mod data;
mod error;
pub mod openapi;
mod properties;
mod property_contacts;
mod request;
mod seed;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Router;

use self::data::OpenToCloseData;
use self::error::ApiError;
use super::credentials::Credentials;
use super::people::World;
use super::store::{Resettable, Store};

/// Route templates relative to the source prefix; used for stats.
pub const ROUTES: &[&str] = &[
    "/v1/contacts",
    "/v1/contacts/{id}",
    "/v1/properties",
    "/v1/properties/",
    "/v1/properties/{id}",
    "/v1/properties/{id}/contacts",
    "/v1/properties/{id}/contacts/{contact_id}",
];

/// Seeds the data deterministically from `world` and builds the router.
pub fn build(world: &World, credentials: &Credentials) -> (Router, Arc<dyn Resettable>) {
    let store = Arc::new(Store::new(seed::seed(world)));
    let state = AppState {
        store: store.clone(),
        api_token: Arc::from(credentials.opentoclose.api_token.as_str()),
    };
    (router(state), store)
}

/// What every handler shares: the data and the one accepted key.
#[derive(Clone)]
struct AppState {
    store: Arc<Store<OpenToCloseData>>,
    api_token: Arc<str>,
}

fn router(state: AppState) -> Router {
    let property_collection = || {
        with_method_fallback(
            get(properties::list).post(properties::create),
            "GET, HEAD, POST",
        )
    };
    Router::new()
        .route(
            "/v1/contacts",
            with_method_fallback(
                get(contacts::list).post(contacts::create),
                "GET, HEAD, POST",
            ),
        )
        .route(
            "/v1/contacts/{id}",
            with_method_fallback(
                get(contacts::retrieve)
                    .put(contacts::update)
                    .delete(contacts::delete),
                "GET, HEAD, PUT, DELETE",
            ),
        )
        .route("/v1/properties", property_collection())
        .route("/v1/properties/", property_collection())
        .route(
            "/v1/properties/{id}",
            with_method_fallback(
                get(properties::retrieve)
                    .put(properties::update)
                    .delete(properties::delete),
                "GET, HEAD, PUT, DELETE",
            ),
        )
        .route(
            "/v1/properties/{id}/contacts",
            with_method_fallback(
                get(property_contacts::list).post(property_contacts::create),
                "GET, HEAD, POST",
            ),
        )
        .route(
            "/v1/properties/{id}/contacts/{contact_id}",
            with_method_fallback(
                get(property_contacts::retrieve)
                    .put(property_contacts::update)
                    .delete(property_contacts::delete),
                "GET, HEAD, PUT, DELETE",
            ),
        )
        .fallback(|| async { ApiError::NotFound })
        // Applied with `layer` rather than `route_layer` so that unknown paths
        // and wrong methods are authenticated first too, as behind the real
        // service's gateway.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ))
        .with_state(state)
}

/// Answers a method the route lacks with the source's own 405 envelope.
fn with_method_fallback(
    method_router: MethodRouter<AppState>,
    allow: &'static str,
) -> MethodRouter<AppState> {
    method_router.fallback(move || async move { ApiError::MethodNotAllowed { allow } })
}

/// A JSON answer serialized straight from borrowed records, so that reads
/// copy nothing out of the store.
fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        // The records hold only strings, numbers and dates, so this cannot
        // happen; if it ever does, the client gets the service's 500 envelope.
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(serde_json::json!({ "message": "Internal server error" })),
        )
            .into_response(),
    }
}

/// An answer without a body, such as DELETE's 204.
fn empty_response(status: StatusCode) -> Response {
    status.into_response()
}

/// Rejects every request whose `api_token` query parameter is not the key.
async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let query = request.uri().query().unwrap_or("");
    let parameters = request::QueryParameters::parse(query);
    match parameters.get("api_token") {
        Some(token) if !token.is_empty() && token == &*state.api_token => next.run(request).await,
        _ => ApiError::Unauthorized.into_response(),
    }
}
