//! Django-CRM comments and attachments as activities: read from the contact
//! detail, written through the comment and attachment routes.
//!
//! **Reading.** The detail view `{contact_obj, ..., comments, attachments}`
//! is the only place Django-CRM lists them, so every detail read fills
//! [`Contact::activities`] with both (lists carry neither). A comment
//! `{id, comment, contact, commented_on, commented_by}` is a `NOTE` with the
//! comment as its description and `commented_by` (a user UUID, or a user
//! object from other servers) as its author; an attachment `{id, attachment,
//! file_name, contact, created_on, created_by}` is an `ATTACHMENT` with its
//! file name (the last part of the `attachment` URL when `file_name` is
//! missing). `sourceType` says `comment` or `attachment`.
//!
//! **Writing.** A new note is `POST /contacts/{uuid}/` with `comment`; the
//! answer lists the contact's comments newest first, and the new one is the
//! newest with the text sent (read from the detail when an answer does not
//! list them). Edits and deletes go to `/contacts/comment/{uuid}/` and
//! `/contacts/attachment/{uuid}/`. Django-CRM lets only a comment's author
//! edit or delete it and only an attachment's creator delete it; its 403
//! `{"error": true, "errors": "..."}` is [`SourceError::Forbidden`], distinct
//! from the 403 `{"detail": ...}` that refuses the gateway's credentials.
//! Comments have no time, schedule or metadata the client could set, and
//! only notes can be recorded: anything else is refused before any request.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{json, Value};

use super::mapping::{map_contact_body, text, timestamp};
use super::{error_from, path_id, DjangoCrm, KIND};
use crate::cache::{Change, Resource};
use crate::domain::activity::ActivityInput;
use crate::domain::{Activity, ActivityKind, Contact};
use crate::sources::{parse_json, SourceError};
use crate::upstream::route;
use crate::upstream::UpstreamResponse;

impl DjangoCrm {
    /// Adds a comment to a contact and returns it as an activity.
    pub async fn add_comment(
        &self,
        contact_id: &str,
        input: &ActivityInput,
    ) -> Result<Activity, SourceError> {
        check_comment_input(input)?;
        let Some(contact_id) = path_id(contact_id) else {
            return Err(not_found("contact", contact_id));
        };
        let comment = input.description.trim().to_string();
        let request = self
            .request(Method::POST, route!("/contacts/{contact_id}/"))
            .json(json!({ "comment": comment }))
            .changes([Change::Record(Resource::Activities, contact_id.clone())]);
        let response = self.upstream.send(KIND, request).await?;
        match response.status {
            200 | 201 => {}
            404 => return Err(not_found("contact", &contact_id)),
            _ => return Err(write_error(&response, "description")),
        }
        let body: Value = parse_json(KIND, &response)?;
        let listed = activities_of_detail(&contact_id, &body)?;
        if let Some(found) = newest_comment_with_text(listed, &comment) {
            return Ok(found);
        }
        // An answer without the comment list: the detail lists them.
        let detail = self
            .contact_by_id(&contact_id)
            .await?
            .ok_or_else(|| not_found("contact", &contact_id))?;
        detail
            .activities
            .as_deref()
            .cloned()
            .and_then(|listed| newest_comment_with_text(listed, &comment))
            .ok_or_else(|| SourceError::Upstream {
                source_kind: KIND,
                message: "the comment was added but the answer does not show it".into(),
                upstream_status: Some(response.status),
            })
    }

    /// Changes a comment's text (`PUT /contacts/comment/{uuid}/`).
    pub async fn update_comment(
        &self,
        contact_id: &str,
        comment_id: &str,
        comment: &str,
    ) -> Result<Activity, SourceError> {
        if comment.trim().is_empty() {
            return Err(bad_input("comment", "a comment cannot be blank".into()));
        }
        let Some(comment_id) = path_id(comment_id) else {
            return Err(not_found("comment", comment_id));
        };
        let request = self
            .request(Method::PUT, route!("/contacts/comment/{comment_id}/"))
            .json(json!({ "comment": comment.trim() }))
            // The upstream names the comment alone; the contact the caller
            // names may be wrong, so every kept list of activities is stale.
            .changes([Change::Every(Resource::Activities)]);
        let response = self.upstream.send(KIND, request).await?;
        match response.status {
            200 => map_comment(contact_id, parse_json(KIND, &response)?),
            404 => Err(not_found("comment", &comment_id)),
            _ => Err(write_error(&response, "comment")),
        }
    }

    /// Deletes a comment.
    pub async fn delete_comment(&self, comment_id: &str) -> Result<(), SourceError> {
        self.delete_child("comment", comment_id).await
    }

    /// Deletes an attachment.
    pub async fn delete_attachment(&self, attachment_id: &str) -> Result<(), SourceError> {
        self.delete_child("attachment", attachment_id).await
    }

    async fn delete_child(&self, what: &'static str, id: &str) -> Result<(), SourceError> {
        let Some(id) = path_id(id) else {
            return Err(not_found(what, id));
        };
        let response = self
            .upstream
            .send(
                KIND,
                self.request(Method::DELETE, route!("/contacts/{what}/{id}/"))
                    .changes([Change::Every(Resource::Activities)]),
            )
            .await?;
        match response.status {
            200 | 202 | 204 => Ok(()),
            404 => Err(not_found(what, &id)),
            _ => Err(write_error(&response, "id")),
        }
    }
}

/// Maps a detail answer: the contact, with its comments and attachments as
/// its activities when the answer lists them.
pub fn map_detail(contact_id: &str, body: Value, status: u16) -> Result<Contact, SourceError> {
    let activities = if body.get("comments").is_some() || body.get("attachments").is_some() {
        Some(activities_of_detail(contact_id, &body)?)
    } else {
        None
    };
    let mut contact = map_contact_body(body, status)?;
    contact.activities = activities.map(Arc::new);
    Ok(contact)
}

/// The comments and attachments an answer lists, in the answer's order.
pub fn activities_of_detail(contact_id: &str, body: &Value) -> Result<Vec<Activity>, SourceError> {
    let list = |key: &str| -> Result<Vec<Value>, SourceError> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items.clone()),
            Some(_) => Err(unusable(&format!("`{key}` is not an array"))),
        }
    };
    let mut activities = Vec::new();
    for comment in list("comments")? {
        activities.push(map_comment(contact_id, comment)?);
    }
    for attachment in list("attachments")? {
        activities.push(map_attachment(contact_id, attachment)?);
    }
    Ok(activities)
}

/// Maps a comment of `contact_id` (the record's own `contact` wins when set).
pub fn map_comment(contact_id: &str, record: Value) -> Result<Activity, SourceError> {
    let id = record_id(&record, "comment")?;
    let contact_id = text(&record, "contact").unwrap_or_else(|| contact_id.to_string());
    let mut activity = Activity::new(KIND, contact_id, id, ActivityKind::Note, Value::Null);
    activity.source_type = Some("comment".into());
    activity.description = text(&record, "comment");
    activity.occurred_at = timestamp(&record, "commented_on");
    activity.author = user(&record, "commented_by");
    activity.raw = record;
    Ok(activity)
}

/// Maps an attachment of `contact_id`.
pub fn map_attachment(contact_id: &str, record: Value) -> Result<Activity, SourceError> {
    let id = record_id(&record, "attachment")?;
    let contact_id = text(&record, "contact").unwrap_or_else(|| contact_id.to_string());
    let mut activity = Activity::new(KIND, contact_id, id, ActivityKind::Attachment, Value::Null);
    activity.source_type = Some("attachment".into());
    activity.file_name = text(&record, "file_name").or_else(|| {
        text(&record, "attachment").and_then(|url| {
            url.rsplit('/')
                .find(|part| !part.is_empty())
                .map(str::to_string)
        })
    });
    activity.occurred_at = timestamp(&record, "created_on");
    activity.author = user(&record, "created_by");
    activity.raw = record;
    Ok(activity)
}

/// Only notes, with nothing but their text, can be recorded.
fn check_comment_input(input: &ActivityInput) -> Result<(), SourceError> {
    if input.kind != ActivityKind::Note {
        return Err(bad_input(
            "type",
            "Django-CRM records comments only: use the type NOTE".into(),
        ));
    }
    for (given, field) in [
        (input.occurred_at.is_some(), "occurredAt"),
        (input.scheduled_at.is_some(), "scheduledAt"),
        (
            input.metadata.as_ref().is_some_and(|m| !m.is_null()),
            "metadata",
        ),
    ] {
        if given {
            return Err(bad_input(
                field,
                format!("Django-CRM comments have no `{field}`"),
            ));
        }
    }
    if input.description.trim().is_empty() {
        return Err(bad_input("description", "a comment cannot be blank".into()));
    }
    Ok(())
}

fn newest_comment_with_text(listed: Vec<Activity>, comment: &str) -> Option<Activity> {
    let mut comments: Vec<Activity> = listed
        .into_iter()
        .filter(|a| a.kind == ActivityKind::Note && a.description.as_deref() == Some(comment))
        .collect();
    comments.sort_by(crate::domain::activity::compare_newest_first);
    comments.into_iter().next()
}

/// Classifies a failed comment or attachment write. Validation errors on
/// `comment` name `input_field`.
fn write_error(response: &UpstreamResponse, input_field: &str) -> SourceError {
    let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    if response.status == 403 && body.get("error") == Some(&Value::Bool(true)) {
        let message = body
            .get("errors")
            .and_then(Value::as_str)
            .unwrap_or("the upstream does not allow this to the gateway's user")
            .to_string();
        return SourceError::Forbidden {
            source_kind: KIND,
            message,
            upstream_status: 403,
        };
    }
    match error_from(response) {
        SourceError::BadInput {
            source_kind,
            field: None,
            message,
            upstream_status,
        } if body.pointer("/errors/comment").is_some() => SourceError::BadInput {
            source_kind,
            field: Some(input_field.to_string()),
            message,
            upstream_status,
        },
        other => other,
    }
}

/// A user as the record names them: a UUID, or a user object's id or email.
fn user(record: &Value, key: &str) -> Option<String> {
    match record.get(key)? {
        Value::Object(_) => {
            let object = record.get(key)?;
            text(object, "id").or_else(|| text(object, "email"))
        }
        _ => text(record, key),
    }
}

fn record_id(record: &Value, what: &str) -> Result<String, SourceError> {
    match record.get("id") {
        Some(Value::String(id)) if !id.trim().is_empty() => Ok(id.trim().to_string()),
        Some(Value::Number(id)) => Ok(id.to_string()),
        _ => Err(unusable(&format!("a {what} without an id"))),
    }
}

fn unusable(message: &str) -> SourceError {
    SourceError::Upstream {
        source_kind: KIND,
        message: message.to_string(),
        upstream_status: None,
    }
}

fn not_found(what: &str, id: &str) -> SourceError {
    SourceError::NotFound {
        source_kind: KIND,
        what: format!("{what} {id}"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    const CONTACT: &str = "6f1c2a4e-9b7d-4c3e-8a21-5d0f7e9b1c2a";

    fn detail() -> Value {
        json!({
            "contact_obj": {"id": CONTACT, "first_name": "Jane", "last_name": "Smith"},
            "comments": [{"id": "c2", "comment": "Called back", "contact": CONTACT,
                          "commented_on": "2024-02-01T09:00:00Z", "commented_by": "u1"}],
            "attachments": [{"id": "a1", "attachment": "/media/contact_attachments/a1/deed.pdf",
                             "contact": CONTACT, "created_on": "2024-01-01T00:00:00Z",
                             "created_by": {"id": "u2", "email": "u2@example.com"}}],
            "tasks": []
        })
    }

    #[test]
    fn the_detail_fills_the_activities() {
        let contact = map_detail(CONTACT, detail(), 200).unwrap();
        let activities = contact.activities.unwrap();
        assert_eq!(activities.len(), 2);
        let comment = &activities[0];
        assert_eq!(comment.kind, ActivityKind::Note);
        assert_eq!(comment.description.as_deref(), Some("Called back"));
        assert_eq!(comment.author.as_deref(), Some("u1"));
        assert_eq!(comment.source_type.as_deref(), Some("comment"));
        let attachment = &activities[1];
        assert_eq!(attachment.kind, ActivityKind::Attachment);
        assert_eq!(attachment.file_name.as_deref(), Some("deed.pdf"));
        assert_eq!(attachment.author.as_deref(), Some("u2"));
        assert_eq!(attachment.contact_id, CONTACT);
        // A bare contact object carries no activities.
        let bare = map_detail(CONTACT, json!({"id": CONTACT, "first_name": "J"}), 200).unwrap();
        assert!(bare.activities.is_none());
        assert!(map_detail(
            CONTACT,
            json!({"contact_obj": {"id": CONTACT}, "comments": 3}),
            200
        )
        .is_err());
    }

    fn response(status: u16, body: Value) -> UpstreamResponse {
        UpstreamResponse {
            cache_control: None,
            status,
            retry_after: None,
            content_type: Some("application/json".into()),
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn a_refusal_for_this_user_is_not_a_credential_failure() {
        let refused = write_error(
            &response(
                403,
                json!({"error": true, "errors": "You don't have permission to edit this Comment"}),
            ),
            "comment",
        );
        assert!(matches!(
            refused,
            SourceError::Forbidden {
                upstream_status: 403,
                ..
            }
        ));
        let credentials = write_error(
            &response(403, json!({"detail": "Invalid token."})),
            "comment",
        );
        assert!(matches!(credentials, SourceError::Unauthenticated { .. }));
        let blank = write_error(
            &response(
                400,
                json!({"error": true, "errors": {"comment": ["This field may not be blank."]}}),
            ),
            "comment",
        );
        assert!(
            matches!(blank, SourceError::BadInput { field: Some(ref f), .. } if f == "comment")
        );
    }

    #[test]
    fn only_plain_notes_can_be_recorded() {
        let note = ActivityInput {
            kind: ActivityKind::Note,
            description: "Hello".into(),
            occurred_at: None,
            scheduled_at: None,
            metadata: None,
        };
        assert!(check_comment_input(&note).is_ok());
        let field = |input: ActivityInput| match check_comment_input(&input) {
            Err(SourceError::BadInput { field, .. }) => field.unwrap(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(ActivityInput {
                kind: ActivityKind::Call,
                ..note.clone()
            }),
            "type"
        );
        assert_eq!(
            field(ActivityInput {
                metadata: Some(json!({})),
                ..note.clone()
            }),
            "metadata"
        );
        assert_eq!(
            field(ActivityInput {
                description: "".into(),
                ..note
            }),
            "description"
        );
    }
}
