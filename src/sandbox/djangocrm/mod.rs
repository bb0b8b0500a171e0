//! Emulator of the Django-CRM contacts API (per the Django-CRM contact management API documentation), served under `/djangocrm`.
//!
//! Endpoints, relative to the prefix:
//! - `GET /api/contacts/`: filters `name` (first or last name), `city`, `phone`
//!   (on `mobile_number`), `email` (on `primary_email`), all case-insensitive
//!   partial matches, and `assigned_to` (user UUIDs; repeat the parameter or
//!   separate with commas; any of them matches); `limit` (default 10, at most
//!   [`listing::MAX_LIMIT`]) and `offset`; newest first (`created_on`
//!   descending, ties by id descending). Answer: `{count, next, previous, results}`.
//! - `POST /api/contacts/`: create (JSON, multipart or URL-encoded form).
//! - `GET|PUT|POST|DELETE /api/contacts/{uuid}/`: detail, update, add a
//!   comment and/or attachment, delete.
//! - `PUT|DELETE /api/contacts/comment/{uuid}/`, `DELETE /api/contacts/attachment/{uuid}/`.
//!
//! **Authentication.** `Authorization: Bearer TOKEN` plus `organization-id:
//! UUID` (the older `org` header is accepted when `organization-id` is absent).
//! Failures are 403 `{"detail": ...}` with the framework's texts: no header or
//! another scheme, "Authentication credentials were not provided."; `Bearer`
//! alone, "Invalid token header. No credentials provided."; a token with
//! spaces, "Invalid token header. Token string should not contain spaces.";
//! an unknown token, "Invalid token."; a missing organization header (on the
//! `/api/contacts/` and `/api/contacts/{uuid}/` routes) or an organization the
//! token's user is not a member of, "You do not have permission to perform
//! this action.". The comment and attachment routes need only the token (the
//! seed lists only `Authorization` for them); an organization header sent
//! there is still checked.
//!
//! **Credentials** (*ours*): `credentials.djangocrm.token` is the demo user of
//! the demo organization `credentials.djangocrm.organization_id`. Derived ones:
//! the token plus [`SECOND_USER_TOKEN_SUFFIX`] is a second user of the same
//! organization (to test the comment-author rules), see [`second_user_token`];
//! the token plus [`OTHER_ORGANIZATION_TOKEN_SUFFIX`] is a user of the second
//! organization [`SECOND_ORGANIZATION_ID`], see [`other_organization_token`].
//! Each user belongs to exactly one organization.
//!
//! **Seed data:** the demo organization holds the 600 people of
//! `World::people_for(DjangoCrm)` (emails as entered, phones in E.164, country
//! `USA`); the second organization holds 40 people the demo organization does
//! not. Six users in the demo organization and two in the second, three teams
//! and one team; 0-5 comments and 0-2 attachments per contact by various users,
//! tasks on about a tenth of the contacts.
//!
//! **Choices** (*ours* unless marked *real* or *seed*):
//! - IDs are UUIDs. A path id that is not a lower-case hyphenated UUID does not
//!   resolve (Django's `<uuid:pk>` converter), nor does an unknown path: both
//!   get Django's plain HTML 404 page (*real*). A path missing only its
//!   trailing slash is redirected with 301 to the slashed path (*real*,
//!   `APPEND_SLASH`). A well-formed id that is unknown, or that belongs to
//!   another organization, is 404 `{"detail": "Not found."}`.
//! - URL resolution comes first, then authentication, then the method: an
//!   unauthenticated request with a method the route lacks is a 403, an
//!   authenticated one a 405 `{"detail": "Method \"X\" not allowed."}` with an
//!   `Allow` header (*real*). `OPTIONS` answers the view's metadata (*real*).
//! - Bad `limit`/`offset`/`assigned_to` query values are 400 in the validation
//!   envelope (the real pagination silently falls back to defaults); a `limit`
//!   above the maximum is cut to it (*real*). `next`/`previous` are paths from
//!   the host root (including `/djangocrm`) with the query parameters sorted
//!   by name, as the framework writes them (*seed*: relative links).
//! - Contact objects (list results, `contact_obj`, write answers) carry `id`,
//!   the fourteen text fields of the seed (`first_name`, `last_name`,
//!   `primary_email`, `secondary_email`, `mobile_number`, `organization`,
//!   `department`, `designation`, `address_line`, `street`, `city`, `state`,
//!   `postcode`, `country`; empty text when unset), `org`, `created_on`,
//!   `created_by` (user UUID), `assigned_to` and `teams` (UUID lists).
//!   Timestamps are ISO 8601 UTC with `Z`, microseconds only when non-zero.
//! - Create answers 200 (*real* status) with the created contact object (*seed*
//!   body). `first_name` and `last_name` are required (*seed*); text fields are
//!   trimmed; emails are checked for format; `mobile_number` is stored in
//!   E.164 (ten-digit numbers are taken as North American); a `primary_email`
//!   already used in the organization, compared case-insensitively after
//!   trimming, is "Contact with this primary email already exists." (*real*
//!   text). `assigned_to`/`teams` take UUID arrays (or a text holding a JSON
//!   array, as forms send them); ids not in the organization are dropped
//!   silently (*real*). A multipart file field named `attachment` (*seed*) or
//!   `contact_attachment` (*real*) adds an attachment.
//! - Validation errors are 400 `{"error": true, "errors": {field: [messages]}}`;
//!   a JSON body that is not an object gives `non_field_errors`. Unreadable
//!   bodies are 400 `{"detail": "JSON parse error - ..."}` or
//!   `{"detail": "Multipart form parse error - ..."}`; other media types 415
//!   `{"detail": "Unsupported media type \"...\" in request."}`; bodies over
//!   [`MAX_BODY_BYTES`] 413 `{"detail": ...}`.
//! - `PUT /api/contacts/{uuid}/` is a partial update: fields left out keep
//!   their values, the names may not be blanked, `assigned_to`/`teams` are
//!   replaced when sent. It answers 200 with the updated contact object (*seed*).
//! - Detail: `{contact_obj, address_obj, assigned_to, teams, comments,
//!   attachments, tasks, users_mention}`; `assigned_to` users are
//!   `{id, email, first_name, last_name}`, teams `{id, name}`, comments
//!   `{id, comment, contact, commented_on, commented_by}` with `commented_by`
//!   a user UUID (*seed*), attachments `{id, attachment, file_name, contact,
//!   created_on, created_by}` with `attachment` the file's URL path, tasks
//!   `{id, title, status, priority, due_date, created_on}`, `users_mention`
//!   `[{"user__email"}]` for every user of the organization (*real*). Comments
//!   and attachments are listed newest first.
//! - `POST /api/contacts/{uuid}/` takes `comment` (JSON or form) and/or an
//!   attachment file (multipart) and answers 200 `{contact_obj, comments,
//!   attachments}` (*real*), the new records first. With neither it is a 400
//!   `comment: ["This field is required."]`.
//! - `PUT /api/contacts/comment/{uuid}/` with `{"comment"}` answers 200 with the
//!   updated comment object (*seed*: "Updated comment"). Only the author may
//!   edit or delete a comment and only the creator may delete an attachment;
//!   otherwise 403 in Django-CRM's own shape `{"error": true, "errors":
//!   "You don't have permission to edit this Comment"}` (delete: "... to
//!   perform this action", attachment: "... to delete this Attachment")
//!   (*real*). Nobody is an organization admin here, so there is no override.
//! - Any member of the organization may read, update and delete any of its
//!   contacts (the real per-role visibility rules are not emulated). Deletes
//!   answer 204 with no body (*seed*).

mod body;
mod data;
mod handlers;
mod listing;
pub mod openapi;
mod validate;

use std::sync::Arc;

use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use serde_json::{json, Value};

use self::data::DjangoCrmData;
use self::validate::{is_path_uuid, FieldErrors};
use super::credentials::Credentials;
use super::people::World;
use super::store::{Resettable, Store};

/// Route templates, relative to the source prefix.
pub const ROUTES: &[&str] = &[
    "/api/contacts/",
    "/api/contacts/{id}/",
    "/api/contacts/comment/{id}/",
    "/api/contacts/attachment/{id}/",
];

/// The second organization's id; only [`other_organization_token`] is a member.
pub const SECOND_ORGANIZATION_ID: &str = "0b7e4c1d-2f3a-4e5b-9c6d-7e8f9a0b1c2d";

/// Appended to the demo token, gives a second user of the demo organization.
pub const SECOND_USER_TOKEN_SUFFIX: &str = "-second-user";

/// Appended to the demo token, gives a user of [`SECOND_ORGANIZATION_ID`].
pub const OTHER_ORGANIZATION_TOKEN_SUFFIX: &str = "-other-org";

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// The token of the second user of the demo organization.
pub fn second_user_token(credentials: &Credentials) -> String {
    format!("{}{SECOND_USER_TOKEN_SUFFIX}", credentials.djangocrm.token)
}

/// The token of the user of [`SECOND_ORGANIZATION_ID`].
pub fn other_organization_token(credentials: &Credentials) -> String {
    format!(
        "{}{OTHER_ORGANIZATION_TOKEN_SUFFIX}",
        credentials.djangocrm.token
    )
}

/// Seeds the data and builds the router.
pub fn build(world: &World, credentials: &Credentials) -> (Router, Arc<dyn Resettable>) {
    let store = Arc::new(Store::new(data::seed(world, credentials)));
    let state = EmulatorState {
        store: store.clone(),
    };
    let router = Router::new()
        .route(
            ROUTES[0],
            get(handlers::list_contacts)
                .post(handlers::create_contact)
                .fallback(
                    |state: State<EmulatorState>, method: Method, uri: Uri, headers: HeaderMap| async move {
                        other_method(&state, &method, &uri, &headers, &CONTACT_LIST_VIEW)
                    },
                ),
        )
        .route(
            ROUTES[1],
            get(handlers::get_contact)
                .put(handlers::update_contact)
                .post(handlers::add_comment_or_attachment)
                .delete(handlers::delete_contact)
                .fallback(
                    |state: State<EmulatorState>, method: Method, uri: Uri, headers: HeaderMap| async move {
                        other_method(&state, &method, &uri, &headers, &CONTACT_DETAIL_VIEW)
                    },
                ),
        )
        .route(
            ROUTES[2],
            put(handlers::edit_comment)
                .delete(handlers::delete_comment)
                .fallback(
                    |state: State<EmulatorState>, method: Method, uri: Uri, headers: HeaderMap| async move {
                        other_method(&state, &method, &uri, &headers, &COMMENT_VIEW)
                    },
                ),
        )
        .route(
            ROUTES[3],
            delete(handlers::delete_attachment).fallback(
                |state: State<EmulatorState>, method: Method, uri: Uri, headers: HeaderMap| async move {
                    other_method(&state, &method, &uri, &headers, &ATTACHMENT_VIEW)
                },
            ),
        )
        .fallback(unknown_path)
        .with_state(state);
    (router, store)
}

#[derive(Clone)]
struct EmulatorState {
    store: Arc<Store<DjangoCrmData>>,
}

/// What the framework knows about one view: its name (for `OPTIONS`), its
/// methods (for `Allow`), where its id sits in the path, and whether it needs
/// the organization header.
struct ViewDescription {
    name: &'static str,
    allow: &'static str,
    /// Index of the id among the path's `/`-separated segments, if any.
    id_segment: Option<usize>,
    organization: OrganizationHeader,
}

const CONTACT_LIST_VIEW: ViewDescription = ViewDescription {
    name: "Contacts List",
    allow: "GET, POST, HEAD, OPTIONS",
    id_segment: None,
    organization: OrganizationHeader::Required,
};

const CONTACT_DETAIL_VIEW: ViewDescription = ViewDescription {
    name: "Contact Detail",
    allow: "GET, POST, PUT, DELETE, HEAD, OPTIONS",
    id_segment: Some(3),
    organization: OrganizationHeader::Required,
};

const COMMENT_VIEW: ViewDescription = ViewDescription {
    name: "Contact Comment",
    allow: "PUT, DELETE, OPTIONS",
    id_segment: Some(4),
    organization: OrganizationHeader::Optional,
};

const ATTACHMENT_VIEW: ViewDescription = ViewDescription {
    name: "Contact Attachment",
    allow: "DELETE, OPTIONS",
    id_segment: Some(4),
    organization: OrganizationHeader::Optional,
};

/// Whether a route insists on an organization header or can take the
/// organization from the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrganizationHeader {
    Required,
    Optional,
}

/// Who is calling, once authenticated.
#[derive(Debug, Clone)]
struct Caller {
    pub user_id: String,
    pub organization_id: String,
}

const PERMISSION_DENIED: &str = "You do not have permission to perform this action.";

/// Checks the token and the organization header.
fn authenticate(
    data: &DjangoCrmData,
    headers: &HeaderMap,
    organization: OrganizationHeader,
) -> Result<Caller, ErrorAnswer> {
    let Some(raw) = headers.get(header::AUTHORIZATION) else {
        return Err(forbidden_detail(
            "Authentication credentials were not provided.",
        ));
    };
    let Ok(text) = raw.to_str() else {
        return Err(forbidden_detail(
            "Invalid token header. Token string should not contain invalid characters.",
        ));
    };
    let parts: Vec<&str> = text.split_whitespace().collect();
    match parts.as_slice() {
        [scheme, ..] if !scheme.eq_ignore_ascii_case("bearer") => Err(forbidden_detail(
            "Authentication credentials were not provided.",
        )),
        [] => Err(forbidden_detail(
            "Authentication credentials were not provided.",
        )),
        [_] => Err(forbidden_detail(
            "Invalid token header. No credentials provided.",
        )),
        [_, token] => {
            let user = data
                .user_by_token(token)
                .ok_or_else(|| forbidden_detail("Invalid token."))?;
            let requested = headers
                .get("organization-id")
                .or_else(|| headers.get("org"))
                .map(|value| {
                    String::from_utf8_lossy(value.as_bytes())
                        .trim()
                        .to_lowercase()
                });
            match requested {
                None if organization == OrganizationHeader::Required => {
                    Err(forbidden_detail(PERMISSION_DENIED))
                }
                Some(requested) if requested != user.organization_id => {
                    Err(forbidden_detail(PERMISSION_DENIED))
                }
                _ => Ok(Caller {
                    user_id: user.id.clone(),
                    organization_id: user.organization_id.clone(),
                }),
            }
        }
        _ => Err(forbidden_detail(
            "Invalid token header. Token string should not contain spaces.",
        )),
    }
}

fn forbidden_detail(detail: &str) -> ErrorAnswer {
    detail_response(StatusCode::FORBIDDEN, detail)
}

/// An error answer in one of the shapes the real service uses; turned into a
/// response only at the end, which keeps handler results small.
#[derive(Debug)]
enum ErrorAnswer {
    /// `{"detail": ...}`: the framework's own errors.
    Detail(StatusCode, String),
    /// 400 `{"error": true, "errors": {field: [messages]}}`.
    Validation(FieldErrors),
    /// 403 `{"error": true, "errors": "..."}`: a permission Django-CRM checks itself.
    Forbidden(&'static str),
    /// Django's HTML 404 page for a path no URL pattern matches.
    DjangoNotFoundPage,
}

impl IntoResponse for ErrorAnswer {
    fn into_response(self) -> Response {
        match self {
            ErrorAnswer::Detail(status, detail) => {
                (status, Json(json!({ "detail": detail }))).into_response()
            }
            ErrorAnswer::Validation(errors) => (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": true, "errors": errors })),
            )
                .into_response(),
            ErrorAnswer::Forbidden(message) => (
                StatusCode::FORBIDDEN,
                Json(json!({ "error": true, "errors": message })),
            )
                .into_response(),
            ErrorAnswer::DjangoNotFoundPage => (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                "<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Not Found</title>\n</head>\n\
                 <body>\n  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n\
                 </body>\n</html>\n",
            )
                .into_response(),
        }
    }
}

/// `{"detail": ...}` with the given status: the framework's error shape.
fn detail_response(status: StatusCode, detail: &str) -> ErrorAnswer {
    ErrorAnswer::Detail(status, detail.to_string())
}

/// 404 `{"detail": "Not found."}`: a well-formed id with no record behind it.
fn not_found() -> ErrorAnswer {
    detail_response(StatusCode::NOT_FOUND, "Not found.")
}

/// 400 `{"error": true, "errors": {field: [messages]}}`.
fn validation_errors(errors: FieldErrors) -> ErrorAnswer {
    ErrorAnswer::Validation(errors)
}

/// Django-CRM's own 403 shape for a permission it checks itself.
fn forbidden_errors(message: &'static str) -> ErrorAnswer {
    ErrorAnswer::Forbidden(message)
}

/// Django's 404 page for a path no URL pattern matches (`DEBUG = False`).
fn django_not_found_page() -> ErrorAnswer {
    ErrorAnswer::DjangoNotFoundPage
}

/// 200 with a JSON body.
fn ok_json(body: Value) -> Response {
    (StatusCode::OK, Json(body)).into_response()
}

/// The id segment of a request path, if it is one Django's `<uuid:pk>` matches.
fn path_id(uri: &Uri, segment: usize) -> Option<String> {
    uri.path()
        .split('/')
        .nth(segment)
        .filter(|id| is_path_uuid(id))
        .map(str::to_string)
}

/// Whether a path (relative to the prefix) resolves to one of the views.
fn resolves(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    ROUTES.iter().any(|template| {
        let parts: Vec<&str> = template.split('/').collect();
        parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(part, segment)| match *part {
                    "{id}" => is_path_uuid(segment),
                    literal => literal == *segment,
                })
    })
}

/// A method the view does not define: `OPTIONS` metadata, or 405.
fn other_method(
    state: &EmulatorState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    view: &ViewDescription,
) -> Response {
    if let Some(segment) = view.id_segment {
        if path_id(uri, segment).is_none() {
            return django_not_found_page().into_response();
        }
    }
    let data = state.store.read();
    if let Err(error) = authenticate(&data, headers, view.organization) {
        return error.into_response();
    }
    let mut response = if method == Method::OPTIONS {
        ok_json(json!({
            "name": view.name,
            "description": "",
            "renders": ["application/json"],
            "parses": ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
        }))
    } else {
        detail_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("Method \"{method}\" not allowed."),
        )
        .into_response()
    };
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(view.allow));
    response
}

/// Unknown paths: Django's `APPEND_SLASH` redirect when the slashed path
/// resolves, otherwise its 404 page.
async fn unknown_path(uri: Uri, OriginalUri(original): OriginalUri) -> Response {
    let path = uri.path();
    if !path.ends_with('/') && resolves(&format!("{path}/")) {
        let location = match original.query() {
            Some(query) => format!("{}/?{query}", original.path()),
            None => format!("{}/", original.path()),
        };
        if let Ok(location) = HeaderValue::from_str(&location) {
            return (
                StatusCode::MOVED_PERMANENTLY,
                [(header::LOCATION, location)],
            )
                .into_response();
        }
    }
    django_not_found_page().into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_only_with_lower_case_uuids() {
        let id = "6f1c2a4e-9b7d-4c3e-8a21-5d0f7e9b1c2a";
        assert!(resolves("/api/contacts/"));
        assert!(resolves(&format!("/api/contacts/{id}/")));
        assert!(resolves(&format!("/api/contacts/comment/{id}/")));
        assert!(resolves(&format!("/api/contacts/attachment/{id}/")));
        assert!(!resolves(&format!(
            "/api/contacts/{}/",
            id.to_ascii_uppercase()
        )));
        assert!(!resolves("/api/contacts/42/"));
        assert!(!resolves("/api/contacts/comment/"));
    }

    #[test]
    fn derived_tokens_follow_the_documented_rule() {
        let credentials = Credentials::default();
        assert_eq!(
            second_user_token(&credentials),
            format!("{}-second-user", credentials.djangocrm.token)
        );
        assert_eq!(
            other_organization_token(&credentials),
            format!("{}-other-org", credentials.djangocrm.token)
        );
    }
}
