//! The Django-CRM endpoint handlers.
//!
//! Every handler follows the framework's order: the path must resolve (else
//! Django's 404 page), the caller must authenticate (else 403), the body must
//! parse (else 400/415), the record must exist in the caller's organization
//! (else 404), the caller must be allowed (else 403), and the fields must
//! validate (else 400). Bodies are read by hand so that no axum rejection
//! ever answers in a shape the real service would not use.

use axum::body::Body;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::Utc;
use serde_json::{json, Value};

use super::body::{parse_body, ParsedBody, UploadedFile};
use super::data::{attachment_url, Attachment, Comment, Contact, DjangoCrmData};
use super::listing::{page_links, parse_list_query};
use super::validate::{
    non_object_errors, validate_comment, validate_contact, ContactChanges, FieldErrors, WriteMode,
    DUPLICATE_EMAIL, REQUIRED,
};
use super::{
    authenticate, detail_response, django_not_found_page, forbidden_errors, not_found, ok_json,
    path_id, validation_errors, Caller, EmulatorState, ErrorAnswer, OrganizationHeader,
    MAX_BODY_BYTES,
};

/// Where the id sits among the `/`-separated segments of each path.
const CONTACT_ID_SEGMENT: usize = 3;
const CHILD_ID_SEGMENT: usize = 4;

/// The multipart field names that carry a contact attachment: the seed's and
/// the real service's.
const ATTACHMENT_FIELDS: &[&str] = &["attachment", "contact_attachment"];

/// Reads the whole body, refusing more than [`MAX_BODY_BYTES`].
async fn read_body(body: Body) -> Result<Bytes, ErrorAnswer> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            detail_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body is larger than 10485760 bytes.",
            )
        })
}

/// Parses a write body and rejects non-object JSON as the serializer would.
fn parse_write_body(headers: &HeaderMap, bytes: &[u8]) -> Result<ParsedBody, ErrorAnswer> {
    let parsed =
        parse_body(headers, bytes).map_err(|error| detail_response(error.status, &error.detail))?;
    if let Some(type_name) = parsed.non_object_type {
        return Err(validation_errors(non_object_errors(type_name)));
    }
    Ok(parsed)
}

fn attachment_files(parsed: &ParsedBody) -> Vec<&UploadedFile> {
    parsed
        .files
        .iter()
        .filter(|file| ATTACHMENT_FIELDS.contains(&file.field_name.as_str()))
        .collect()
}

/// A file name as Django's storage writes it: spaces become underscores and
/// anything but letters, digits, `-`, `_` and `.` is dropped.
fn storage_file_name(file_name: &str) -> String {
    let cleaned: String = file_name
        .trim()
        .replace(' ', "_")
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '.') {
        "attachment".to_string()
    } else {
        cleaned
    }
}

/// Adds uploaded files to a contact as attachments by `caller`.
fn add_attachments(
    data: &mut DjangoCrmData,
    contact_id: &str,
    caller: &Caller,
    files: &[&UploadedFile],
) {
    for file in files {
        let id = data.next_id();
        let attachment = Attachment {
            id: id.clone(),
            contact_id: contact_id.to_string(),
            attachment: attachment_url(&id, &storage_file_name(&file.file_name)),
            file_name: file.file_name.clone(),
            created_on: Utc::now(),
            created_by: caller.user_id.clone(),
        };
        if let Some(contact) = data.contacts.get_mut(contact_id) {
            contact.attachments.push(attachment);
            data.attachment_contacts.insert(id, contact_id.to_string());
        }
    }
}

/// Whether another contact of the organization already uses `email`.
fn email_taken(data: &DjangoCrmData, organization_id: &str, email: &str, except: &str) -> bool {
    let wanted = email.trim().to_lowercase();
    !wanted.is_empty()
        && data.contacts.values().any(|contact| {
            contact.organization_id == organization_id
                && contact.id != except
                && contact.text("primary_email").trim().to_lowercase() == wanted
        })
}

/// Checks what needs the organization's data, then applies the changes.
fn apply_changes(
    data: &mut DjangoCrmData,
    caller: &Caller,
    contact_id: &str,
    changes: ContactChanges,
) -> Result<(), FieldErrors> {
    if let Some((_, email)) = changes
        .text
        .iter()
        .find(|(field, _)| *field == "primary_email")
    {
        if email_taken(data, &caller.organization_id, email, contact_id) {
            return Err(FieldErrors::from([(
                "primary_email".to_string(),
                vec![DUPLICATE_EMAIL.to_string()],
            )]));
        }
    }
    // Like the real service, ids from other organizations (or none at all)
    // are dropped rather than refused.
    let assigned_to = changes.assigned_to.map(|ids| {
        ids.into_iter()
            .filter(|id| {
                data.users
                    .iter()
                    .any(|user| &user.id == id && user.organization_id == caller.organization_id)
            })
            .collect::<Vec<_>>()
    });
    let teams = changes.teams.map(|ids| {
        ids.into_iter()
            .filter(|id| {
                data.teams
                    .iter()
                    .any(|team| &team.id == id && team.organization_id == caller.organization_id)
            })
            .collect::<Vec<_>>()
    });
    if let Some(contact) = data.contacts.get_mut(contact_id) {
        for (field, value) in changes.text {
            contact.set_text(field, value);
        }
        if let Some(assigned_to) = assigned_to {
            contact.assigned_to = assigned_to;
        }
        if let Some(teams) = teams {
            contact.teams = teams;
        }
    }
    Ok(())
}

/// `GET /api/contacts/`
pub(super) async fn list_contacts(
    State(state): State<EmulatorState>,
    OriginalUri(original): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ErrorAnswer> {
    let data = state.store.read();
    let caller = authenticate(&data, &headers, OrganizationHeader::Required)?;
    let query = parse_list_query(original.query()).map_err(validation_errors)?;
    let contains = |haystack: &str, needle: &Option<String>| match needle {
        None => true,
        Some(needle) => haystack.to_lowercase().contains(needle.as_str()),
    };
    let mut matching: Vec<&Contact> = data
        .contacts
        .values()
        .filter(|contact| contact.organization_id == caller.organization_id)
        .filter(|contact| match &query.name {
            None => true,
            Some(_) => {
                contains(contact.text("first_name"), &query.name)
                    || contains(contact.text("last_name"), &query.name)
            }
        })
        .filter(|contact| contains(contact.text("city"), &query.city))
        .filter(|contact| contains(contact.text("mobile_number"), &query.phone))
        .filter(|contact| contains(contact.text("primary_email"), &query.email))
        .filter(|contact| {
            query.assigned_to.is_empty()
                || contact
                    .assigned_to
                    .iter()
                    .any(|user| query.assigned_to.contains(user))
        })
        .collect();
    matching.sort_by(|a, b| {
        b.created_on
            .cmp(&a.created_on)
            .then_with(|| b.id.cmp(&a.id))
    });
    let count = matching.len();
    let results: Vec<Value> = matching
        .iter()
        .skip(query.offset)
        .take(query.limit)
        .map(|contact| contact.to_json())
        .collect();
    let (next, previous) = page_links(original.path(), &query, count);
    Ok(ok_json(json!({
        "count": count,
        "next": next,
        "previous": previous,
        "results": results,
    })))
}

/// `POST /api/contacts/`
pub(super) async fn create_contact(
    State(state): State<EmulatorState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ErrorAnswer> {
    {
        let data = state.store.read();
        authenticate(&data, &headers, OrganizationHeader::Required)?;
    }
    let bytes = read_body(body).await?;
    let mut data = state.store.write();
    let caller = authenticate(&data, &headers, OrganizationHeader::Required)?;
    let parsed = parse_write_body(&headers, &bytes)?;
    let changes = validate_contact(&parsed.fields, parsed.from_form, WriteMode::Create)
        .map_err(validation_errors)?;
    let id = data.next_id();
    data.contacts.insert(
        id.clone(),
        Contact {
            id: id.clone(),
            organization_id: caller.organization_id.clone(),
            text: vec![String::new(); super::data::CONTACT_TEXT_FIELDS.len()],
            created_on: Utc::now(),
            created_by: caller.user_id.clone(),
            assigned_to: Vec::new(),
            teams: Vec::new(),
            comments: Vec::new(),
            attachments: Vec::new(),
            tasks: Vec::new(),
        },
    );
    if let Err(errors) = apply_changes(&mut data, &caller, &id, changes) {
        data.contacts.remove(&id);
        return Err(validation_errors(errors));
    }
    add_attachments(&mut data, &id, &caller, &attachment_files(&parsed));
    let created = data.contacts.get(&id).map(Contact::to_json);
    Ok(ok_json(created.unwrap_or(Value::Null)))
}

/// `GET /api/contacts/{uuid}/`
pub(super) async fn get_contact(
    State(state): State<EmulatorState>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ErrorAnswer> {
    let id = path_id(&uri, CONTACT_ID_SEGMENT).ok_or_else(django_not_found_page)?;
    let data = state.store.read();
    let caller = authenticate(&data, &headers, OrganizationHeader::Required)?;
    let contact = data
        .contact_in(&caller.organization_id, &id)
        .ok_or_else(not_found)?;
    let assigned_to: Vec<Value> = contact
        .assigned_to
        .iter()
        .filter_map(|user_id| data.user(user_id))
        .map(|user| user.to_json())
        .collect();
    let teams: Vec<Value> = contact
        .teams
        .iter()
        .filter_map(|team_id| data.teams.iter().find(|team| &team.id == team_id))
        .map(|team| json!({ "id": team.id, "name": team.name }))
        .collect();
    let users_mention: Vec<Value> = data
        .users
        .iter()
        .filter(|user| user.organization_id == caller.organization_id)
        .map(|user| json!({ "user__email": user.email }))
        .collect();
    let tasks: Vec<Value> = contact.tasks.iter().map(|task| task.to_json()).collect();
    Ok(ok_json(json!({
        "contact_obj": contact.to_json(),
        "address_obj": contact.address_json(),
        "assigned_to": assigned_to,
        "teams": teams,
        "comments": contact.comments_json(),
        "attachments": contact.attachments_json(),
        "tasks": tasks,
        "users_mention": users_mention,
    })))
}

/// Reads the body of a write, after checking the credentials once without the
/// write lock, so a refused caller never makes the emulator wait on an upload.
async fn authenticated_body(
    state: &EmulatorState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, ErrorAnswer> {
    {
        let data = state.store.read();
        authenticate(&data, headers, OrganizationHeader::Required)?;
    }
    read_body(body).await
}

/// The checks every write to one contact makes under the write lock, in the
/// emulator's order: credentials again (they may have changed while the body
/// arrived), then the body, then the contact's existence in the caller's org.
fn open_contact_write(
    data: &DjangoCrmData,
    headers: &HeaderMap,
    bytes: &[u8],
    id: &str,
) -> Result<(Caller, ParsedBody), ErrorAnswer> {
    let caller = authenticate(data, headers, OrganizationHeader::Required)?;
    let parsed = parse_write_body(headers, bytes)?;
    if data.contact_in(&caller.organization_id, id).is_none() {
        return Err(not_found());
    }
    Ok((caller, parsed))
}

/// `PUT /api/contacts/{uuid}/`
pub(super) async fn update_contact(
    State(state): State<EmulatorState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ErrorAnswer> {
    let id = path_id(&uri, CONTACT_ID_SEGMENT).ok_or_else(django_not_found_page)?;
    let bytes = authenticated_body(&state, &headers, body).await?;
    let mut data = state.store.write();
    let (caller, parsed) = open_contact_write(&data, &headers, &bytes, &id)?;
    let changes = validate_contact(&parsed.fields, parsed.from_form, WriteMode::Update)
        .map_err(validation_errors)?;
    apply_changes(&mut data, &caller, &id, changes).map_err(validation_errors)?;
    add_attachments(&mut data, &id, &caller, &attachment_files(&parsed));
    let updated = data.contacts.get(&id).map(Contact::to_json);
    Ok(ok_json(updated.unwrap_or(Value::Null)))
}

/// `DELETE /api/contacts/{uuid}/`
pub(super) async fn delete_contact(
    State(state): State<EmulatorState>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ErrorAnswer> {
    let id = path_id(&uri, CONTACT_ID_SEGMENT).ok_or_else(django_not_found_page)?;
    let mut data = state.store.write();
    let caller = authenticate(&data, &headers, OrganizationHeader::Required)?;
    if data.contact_in(&caller.organization_id, &id).is_none() {
        return Err(not_found());
    }
    if let Some(contact) = data.contacts.remove(&id) {
        for comment in &contact.comments {
            data.comment_contacts.remove(&comment.id);
        }
        for attachment in &contact.attachments {
            data.attachment_contacts.remove(&attachment.id);
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/contacts/{uuid}/`: a comment and/or an attachment.
pub(super) async fn add_comment_or_attachment(
    State(state): State<EmulatorState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ErrorAnswer> {
    let id = path_id(&uri, CONTACT_ID_SEGMENT).ok_or_else(django_not_found_page)?;
    let bytes = authenticated_body(&state, &headers, body).await?;
    let mut data = state.store.write();
    let (caller, parsed) = open_contact_write(&data, &headers, &bytes, &id)?;
    let files = attachment_files(&parsed);
    let comment = if parsed.fields.contains_key("comment") {
        Some(validate_comment(&parsed.fields).map_err(validation_errors)?)
    } else if files.is_empty() {
        return Err(validation_errors(FieldErrors::from([(
            "comment".to_string(),
            vec![REQUIRED.to_string()],
        )])));
    } else {
        None
    };
    if let Some(text) = comment {
        let comment_id = data.next_id();
        if let Some(contact) = data.contacts.get_mut(&id) {
            contact.comments.push(Comment {
                id: comment_id.clone(),
                contact_id: id.clone(),
                comment: text,
                commented_on: Utc::now(),
                commented_by: caller.user_id.clone(),
            });
            data.comment_contacts.insert(comment_id, id.clone());
        }
    }
    add_attachments(&mut data, &id, &caller, &files);
    let contact = data.contacts.get(&id).ok_or_else(not_found)?;
    Ok(ok_json(json!({
        "contact_obj": contact.to_json(),
        "comments": contact.comments_json(),
        "attachments": contact.attachments_json(),
    })))
}

/// The contact holding a comment, if both are in the caller's organization.
fn comment_location(
    data: &DjangoCrmData,
    caller: &Caller,
    comment_id: &str,
) -> Option<(String, usize)> {
    let contact_id = data.comment_contacts.get(comment_id)?;
    let contact = data.contact_in(&caller.organization_id, contact_id)?;
    let index = contact
        .comments
        .iter()
        .position(|comment| comment.id == comment_id)?;
    Some((contact_id.clone(), index))
}

/// `PUT /api/contacts/comment/{uuid}/`
pub(super) async fn edit_comment(
    State(state): State<EmulatorState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ErrorAnswer> {
    let id = path_id(&uri, CHILD_ID_SEGMENT).ok_or_else(django_not_found_page)?;
    {
        let data = state.store.read();
        authenticate(&data, &headers, OrganizationHeader::Optional)?;
    }
    let bytes = read_body(body).await?;
    let mut data = state.store.write();
    let caller = authenticate(&data, &headers, OrganizationHeader::Optional)?;
    let parsed = parse_write_body(&headers, &bytes)?;
    let (contact_id, index) = comment_location(&data, &caller, &id).ok_or_else(not_found)?;
    let comment = data
        .contacts
        .get_mut(&contact_id)
        .and_then(|contact| contact.comments.get_mut(index))
        .ok_or_else(not_found)?;
    if comment.commented_by != caller.user_id {
        return Err(forbidden_errors(
            "You don't have permission to edit this Comment",
        ));
    }
    comment.comment = validate_comment(&parsed.fields).map_err(validation_errors)?;
    Ok(ok_json(comment.to_json()))
}

/// `DELETE /api/contacts/comment/{uuid}/`
pub(super) async fn delete_comment(
    State(state): State<EmulatorState>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ErrorAnswer> {
    let id = path_id(&uri, CHILD_ID_SEGMENT).ok_or_else(django_not_found_page)?;
    let mut data = state.store.write();
    let caller = authenticate(&data, &headers, OrganizationHeader::Optional)?;
    let (contact_id, index) = comment_location(&data, &caller, &id).ok_or_else(not_found)?;
    let contact = data.contacts.get_mut(&contact_id).ok_or_else(not_found)?;
    if contact.comments[index].commented_by != caller.user_id {
        return Err(forbidden_errors(
            "You don't have permission to perform this action",
        ));
    }
    contact.comments.remove(index);
    data.comment_contacts.remove(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /api/contacts/attachment/{uuid}/`
pub(super) async fn delete_attachment(
    State(state): State<EmulatorState>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ErrorAnswer> {
    let id = path_id(&uri, CHILD_ID_SEGMENT).ok_or_else(django_not_found_page)?;
    let mut data = state.store.write();
    let caller = authenticate(&data, &headers, OrganizationHeader::Optional)?;
    let contact_id = data
        .attachment_contacts
        .get(&id)
        .cloned()
        .ok_or_else(not_found)?;
    let contact = data
        .contact_in_mut(&caller.organization_id, &contact_id)
        .ok_or_else(not_found)?;
    let index = contact
        .attachments
        .iter()
        .position(|attachment| attachment.id == id)
        .ok_or_else(not_found)?;
    if contact.attachments[index].created_by != caller.user_id {
        return Err(forbidden_errors(
            "You don't have permission to delete this Attachment",
        ));
    }
    contact.attachments.remove(index);
    data.attachment_contacts.remove(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_names_are_sanitised() {
        assert_eq!(storage_file_name("my deed (1).pdf"), "my_deed_1.pdf");
        assert_eq!(storage_file_name(".."), "attachment");
        assert_eq!(storage_file_name(""), "attachment");
    }
}
