//! Winnerr's contact operations beyond create, update and delete: adding
//! tags with `POST /contacts/{id}/tags`, and bulk updates with
//! `PATCH /contacts/bulk` (per the Winnerr Contacts API documentation).
//!
//! The bulk endpoint takes at most [`BULK_MAX_IDS`] ids and one `updates`
//! object applied to all of them, and answers one `{id, success, error}`
//! entry per id. It cannot carry every update: it refuses `email` (emails
//! are unique, so one email for many contacts makes no sense to Winnerr), and
//! it replaces `address` as a whole, while the gateway's address parts change
//! one part and keep the others. [`Winnerr::bulk_carries`] says whether an
//! update fits; the caller sends the others one `PUT` at a time.

use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use super::wire::{error_from, parse_json_body, unusable, unwrap_record};
use super::writes::{has_address, update_body};
use super::{is_contact_id, not_found, Winnerr, KIND};
use crate::cache::{Change, Resource};
use crate::domain::{Contact, ContactInput};
use crate::sources::SourceError;
use crate::upstream::UpstreamResponse;
use crate::upstream::{route, Route};

/// The most contact ids one `PATCH /contacts/bulk` may name (the emulator's
/// documented limit, the same as the list's largest page).
pub const BULK_MAX_IDS: usize = 100;

impl Winnerr {
    /// Adds tags to a contact with Winnerr's own endpoint, which keeps the
    /// existing tags and skips the ones the contact already has. The tags
    /// must be non-blank (checked by the caller); Winnerr trims and
    /// lower-cases them and enforces its own length limit (a 422 naming
    /// `tags`).
    pub async fn add_tags(&self, id: &str, tags: &[String]) -> Result<Contact, SourceError> {
        if !is_contact_id(id) {
            return Err(not_found(id));
        }
        let tags: Vec<&str> = tags.iter().map(|tag| tag.trim()).collect();
        let request = self
            .request(Method::POST, route!("/contacts/{id}/tags"))
            .json(json!({ "tags": tags }))
            .changes([Change::Record(Resource::Contact, id.to_string())]);
        self.write(request).await
    }

    /// Whether `PATCH /contacts/bulk` can carry this update: not when it
    /// changes the email (refused by the endpoint) or part of the address
    /// (the endpoint would replace the whole address and lose the others).
    pub fn bulk_carries(input: &ContactInput) -> bool {
        input.email.is_none() && !has_address(input)
    }

    /// Applies one update to at most [`BULK_MAX_IDS`] distinct contacts with
    /// one `PATCH /contacts/bulk` (after `check_update` passed and
    /// [`Winnerr::bulk_carries`] said yes). Answers one outcome per id, in
    /// order: `Ok` when Winnerr reports the contact updated. Ids that cannot
    /// be Winnerr contact ids are not found without being sent; a failure of
    /// the whole request is the outcome of every id sent in it; an id the
    /// answer does not mention is never reported as updated.
    pub async fn bulk_update(
        &self,
        ids: &[String],
        input: &ContactInput,
    ) -> Vec<Result<(), SourceError>> {
        let sendable: Vec<&str> = ids
            .iter()
            .map(String::as_str)
            .filter(|id| is_contact_id(id))
            .collect();
        let mut answered = Vec::new();
        for chunk in sendable.chunks(BULK_MAX_IDS) {
            answered.push(self.bulk_request(chunk, input));
        }
        let answered = join_all(answered).await;
        let mut outcomes = std::collections::HashMap::new();
        for (chunk, answer) in sendable.chunks(BULK_MAX_IDS).zip(answered) {
            for (id, outcome) in chunk.iter().zip(per_id_outcomes(chunk, answer)) {
                outcomes.insert(*id, outcome);
            }
        }
        ids.iter()
            .map(|id| {
                outcomes
                    .remove(id.as_str())
                    .unwrap_or_else(|| Err(not_found(id)))
            })
            .collect()
    }

    /// One `PATCH /contacts/bulk`; the `results` of its answer.
    async fn bulk_request(
        &self,
        ids: &[&str],
        input: &ContactInput,
    ) -> Result<Vec<Value>, SourceError> {
        let request = self
            .request(Method::PATCH, Route::from("/contacts/bulk"))
            .json(json!({ "contactIds": ids, "updates": update_body(input, None) }))
            .changes(
                ids.iter()
                    .map(|id| Change::Record(Resource::Contact, id.to_string())),
            );
        let response = self.upstream.send(KIND, request).await?;
        if response.status != 200 {
            return Err(error_from(&without_updates_prefix(response)));
        }
        let data = unwrap_record(parse_json_body(&response)?)?;
        match data.get("results") {
            Some(Value::Array(results)) => Ok(results.clone()),
            _ => Err(unusable("the bulk answer has no `results` list")),
        }
    }
}

/// The bulk endpoint names the fields of a refused change `updates.status`;
/// without the prefix they are the update's own field names, which the
/// general mapping turns into GraphQL input fields.
fn without_updates_prefix(mut response: UpstreamResponse) -> UpstreamResponse {
    let Ok(mut body) = serde_json::from_slice::<Value>(&response.body) else {
        return response;
    };
    if let Some(errors) = body
        .pointer_mut("/error/errors")
        .and_then(Value::as_array_mut)
    {
        for error in errors {
            let stripped = error
                .get("field")
                .and_then(Value::as_str)
                .and_then(|field| field.strip_prefix("updates."))
                .map(str::to_string);
            if let Some(field) = stripped {
                error["field"] = Value::String(field);
            }
        }
        response.body = body.to_string().into();
    }
    response
}

/// The outcome of each id of one bulk request, from its answer.
fn per_id_outcomes(
    ids: &[&str],
    answer: Result<Vec<Value>, SourceError>,
) -> Vec<Result<(), SourceError>> {
    let results = match answer {
        Ok(results) => results,
        Err(error) => return ids.iter().map(|_| Err(error.clone())).collect(),
    };
    ids.iter()
        .map(|id| {
            let entry = results
                .iter()
                .find(|entry| entry.get("id").and_then(Value::as_str) == Some(*id));
            match entry {
                None => Err(unusable(&format!(
                    "the bulk answer does not report contact `{id}`"
                ))),
                Some(entry) if entry.get("success") == Some(&Value::Bool(true)) => Ok(()),
                Some(entry) => Err(entry_error(entry)),
            }
        })
        .collect()
}

/// Classifies the `error` of a failed bulk entry. It is the error object of
/// Winnerr's failure envelope, so it is read exactly as a failed request
/// with that status would be: a 404 is not found, a 422 names the field.
fn entry_error(entry: &Value) -> SourceError {
    let error = entry.get("error").cloned().unwrap_or(Value::Null);
    let status = error
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|status| u16::try_from(status).ok())
        .filter(|status| (400..600).contains(status));
    match status {
        Some(status) => error_from(&UpstreamResponse {
            cache_control: None,
            status,
            retry_after: None,
            content_type: Some("application/json".into()),
            body: json!({ "success": false, "error": error })
                .to_string()
                .into(),
        }),
        None => unusable("a bulk entry failed without a usable error status"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "contact_123e4567-e89b-12d3-a456-426614174000";
    const B: &str = "contact_223e4567-e89b-12d3-a456-426614174000";
    const C: &str = "contact_323e4567-e89b-12d3-a456-426614174000";

    #[test]
    fn bulk_carries_neither_email_nor_address_parts() {
        let notes = ContactInput {
            notes: Some("n".into()),
            status: Some("ACTIVE".into()),
            ..Default::default()
        };
        assert!(Winnerr::bulk_carries(&notes));
        let email = ContactInput {
            email: Some("a@b.c".into()),
            ..Default::default()
        };
        assert!(!Winnerr::bulk_carries(&email));
        let city = ContactInput {
            city: Some("Miami".into()),
            ..Default::default()
        };
        assert!(!Winnerr::bulk_carries(&city));
    }

    #[test]
    fn entries_map_to_outcomes_by_id() {
        let results = vec![
            json!({"id": B, "success": false, "error": {"type": "not_found_error",
                "title": "Contact Not Found", "status": 404, "detail": "gone"}}),
            json!({"id": A, "success": true}),
        ];
        let outcomes = per_id_outcomes(&[A, B, C], Ok(results));
        assert!(outcomes[0].is_ok());
        assert!(matches!(outcomes[1], Err(SourceError::NotFound { .. })));
        // An id the answer leaves out is never reported as updated.
        assert!(matches!(outcomes[2], Err(SourceError::Upstream { .. })));
    }

    #[test]
    fn entry_errors_keep_their_class() {
        let conflict = json!({"id": A, "success": false, "error": {"status": 409,
            "detail": "Contact with email 'x' already exists"}});
        assert!(matches!(
            entry_error(&conflict),
            SourceError::Conflict { .. }
        ));
        let invalid = json!({"id": A, "success": false, "error": {"status": 422,
            "errors": [{"field": "status", "message": "bad"}]}});
        match entry_error(&invalid) {
            SourceError::BadInput { field, .. } => assert_eq!(field.as_deref(), Some("status")),
            other => panic!("{other:?}"),
        }
        let shapeless = json!({"id": A, "success": false});
        assert!(matches!(
            entry_error(&shapeless),
            SourceError::Upstream { .. }
        ));
    }

    #[test]
    fn refused_bulk_changes_name_the_update_field() {
        let body = json!({"success": false, "error": {"type": "validation_error", "status": 422,
            "errors": [{"field": "updates.assignedTo", "code": "invalid_agent", "message": "bad agent"}]}});
        let response = UpstreamResponse {
            cache_control: None,
            status: 422,
            retry_after: None,
            content_type: Some("application/json".into()),
            body: body.to_string().into(),
        };
        match error_from(&without_updates_prefix(response)) {
            SourceError::BadInput { field, .. } => {
                assert_eq!(field.as_deref(), Some("assignedTo"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_failed_request_is_the_outcome_of_every_id_in_it() {
        let failure = SourceError::Unavailable {
            source_kind: KIND,
            message: "down".into(),
            upstream_status: Some(503),
            retry_after: None,
        };
        let outcomes = per_id_outcomes(&[A, B], Err(failure));
        assert!(outcomes
            .iter()
            .all(|outcome| matches!(outcome, Err(SourceError::Unavailable { .. }))));
    }
}
