//! Winnerr activities: `GET/POST /contacts/{id}/activities`, and the
//! `activities` array that `include=activities` embeds in list items.
//!
//! **Mapping.** The seed's activity is `{id, type, description, createdAt,
//! scheduledAt?, metadata}`. `createdAt` is when it happened (`occurredAt`),
//! `scheduledAt` when it is planned for; `type` becomes the gateway's kind
//! (`EMAIL_SENT`/`EMAIL_RECEIVED` → `EMAIL`, `PHONE_CALL` → `CALL`,
//! `MEETING`, `NOTE`, `SMS`; anything else, such as `SHOWING`, → `OTHER`)
//! and is kept as `sourceType`. The seed names no author; an author key
//! (`createdBy`, `agentId`, `author`) is read when a server sends one.
//!
//! **Completeness.** The emulator's `include=activities` embeds every
//! activity of each contact, the same list `GET /contacts/{id}/activities`
//! serves (the seed shows included arrays whole, with no cap or paging), so a
//! contact read with the include carries its complete history and needs no
//! further request. The activity list itself is one unpaged array in the
//! seed; an answer in the list envelope with a `nextCursor` is followed to
//! its end.
//!
//! **Writes.** `POST` takes `type`, `description`, `scheduledAt` and
//! `metadata`. Winnerr stamps `createdAt` itself, so an `occurredAt` cannot
//! be stored and is refused before any request, as are the kinds Winnerr has
//! no type for (`TASK`, `ATTACHMENT`, `OTHER`). A new `EMAIL` is recorded as
//! `EMAIL_SENT`: the gateway records what the user did.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Map, Value};

use super::wire::{error_from, map_contact, parse_json_body, parse_list, unusable, unwrap_record};
use super::{is_contact_id, Winnerr, KIND};
use crate::cache::{CacheKey, Change, Directive, Fetched, Freshness, Resource, Tag};
use crate::domain::activity::ActivityInput;
use crate::domain::{Activity, ActivityKind, Contact};
use crate::sources::SourceError;
use crate::upstream::route;

/// Stops following activity pages that never end.
const MAX_ACTIVITY_PAGES: usize = 1_000;

impl Winnerr {
    /// Every activity of a contact, as the upstream lists them; `None` when
    /// the contact does not exist. A kept list (read on its own, or carried
    /// by a contact read with `include=activities`) serves instead where
    /// there is one.
    pub async fn activities_of_contact(
        &self,
        contact_id: &str,
    ) -> Result<Option<Vec<Activity>>, SourceError> {
        if !is_contact_id(contact_id) {
            return Ok(None);
        }
        let key = CacheKey::record(KIND, &self.fingerprint, Resource::Activities, contact_id);
        let read = self
            .upstream
            .cache()
            .read(key, Freshness::Activities, || async {
                let (activities, bytes) = self.read_activities(contact_id).await?;
                Ok::<_, SourceError>(Fetched {
                    value: activities,
                    tags: vec![Tag::record(Resource::Activities, contact_id)],
                    shares: Vec::new(),
                    weight: bytes.saturating_mul(crate::cache::ANSWER_WEIGHT_FACTOR),
                    directive: Directive::Default,
                })
            })
            .await;
        match read {
            Ok(activities) => Ok(Some(Vec::clone(&activities))),
            Err(SourceError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Reads every page of a contact's activities, and how many bytes the
    /// answers held; `NotFound` when the contact does not exist.
    async fn read_activities(
        &self,
        contact_id: &str,
    ) -> Result<(Vec<Activity>, usize), SourceError> {
        let mut activities = Vec::new();
        let mut bytes = 0;
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_ACTIVITY_PAGES {
            let mut request =
                self.request(Method::GET, route!("/contacts/{contact_id}/activities"));
            if let Some(cursor) = &cursor {
                request = request.query("cursor", cursor);
            }
            let response = self.upstream.send(KIND, request).await?;
            match response.status {
                200 => {}
                404 => return Err(contact_not_found(contact_id)),
                _ => return Err(error_from(&response)),
            }
            bytes += response.body.len();
            let (records, next_cursor) = match parse_json_body(&response)? {
                // The seed's answer is the envelope; a bare array is tolerated.
                Value::Array(records) => (records, None),
                body => {
                    let page = parse_list(body)?;
                    (page.records, page.next_cursor)
                }
            };
            for record in records {
                activities.push(map_activity(contact_id, record)?);
            }
            match next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok((activities, bytes)),
            }
        }
        Err(unusable("the activity list did not end"))
    }

    /// Records an activity on a contact (`POST /contacts/{id}/activities`).
    pub async fn record_activity(
        &self,
        contact_id: &str,
        input: &ActivityInput,
    ) -> Result<Activity, SourceError> {
        let body = activity_body(input)?;
        if !is_contact_id(contact_id) {
            return Err(contact_not_found(contact_id));
        }
        let request = self
            .request(Method::POST, route!("/contacts/{contact_id}/activities"))
            .json(body)
            .changes([Change::Record(Resource::Activities, contact_id.to_string())]);
        let response = self.upstream.send(KIND, request).await?;
        match response.status {
            200 | 201 => map_activity(contact_id, unwrap_record(parse_json_body(&response)?)?),
            404 => Err(contact_not_found(contact_id)),
            _ => Err(activity_error(&response)),
        }
    }
}

/// Maps a list item or a detail: the contact, with its embedded activities
/// (when the record carries them) moved out of `raw` into
/// [`Contact::activities`], so that `raw` reads the same with and without the
/// include.
pub fn map_listed_contact(mut record: Value) -> Result<Contact, SourceError> {
    let embedded = record
        .as_object_mut()
        .and_then(|object| object.remove("activities"));
    let mut contact = map_contact(record)?;
    match embedded {
        Some(Value::Array(items)) => {
            let activities = items
                .into_iter()
                .map(|item| map_activity(&contact.source_id, item))
                .collect::<Result<Vec<_>, _>>()?;
            contact.activities = Some(Arc::new(activities));
        }
        // An include the server ignored says nothing about the activities.
        None | Some(Value::Null) => {}
        Some(_) => return Err(unusable("`activities` is not an array")),
    }
    Ok(contact)
}

/// Maps one activity record of `contact_id`.
pub fn map_activity(contact_id: &str, record: Value) -> Result<Activity, SourceError> {
    let id = match record.get("id") {
        Some(Value::String(id)) if !id.trim().is_empty() => id.trim().to_string(),
        _ => return Err(unusable("an activity record without an id")),
    };
    let source_type = text(&record, "type");
    let kind = source_type
        .as_deref()
        .map_or(ActivityKind::Other, kind_of_type);
    let mut activity = Activity::new(KIND, contact_id, id, kind, Value::Null);
    activity.source_type = source_type;
    activity.description = text(&record, "description");
    activity.occurred_at = timestamp(&record, "createdAt");
    activity.scheduled_at = timestamp(&record, "scheduledAt");
    activity.metadata = record.get("metadata").filter(|m| !m.is_null()).cloned();
    activity.author = ["createdBy", "agentId", "author"]
        .iter()
        .find_map(|key| text(&record, key));
    activity.raw = record;
    Ok(activity)
}

/// The gateway's kind for a Winnerr activity type.
pub fn kind_of_type(activity_type: &str) -> ActivityKind {
    match activity_type.trim().to_ascii_uppercase().as_str() {
        "EMAIL_SENT" | "EMAIL_RECEIVED" | "EMAIL" => ActivityKind::Email,
        "PHONE_CALL" | "CALL" => ActivityKind::Call,
        "MEETING" => ActivityKind::Meeting,
        "NOTE" => ActivityKind::Note,
        "SMS" => ActivityKind::Sms,
        "TASK" => ActivityKind::Task,
        _ => ActivityKind::Other,
    }
}

/// The Winnerr type a new activity of `kind` is recorded as, if any.
pub fn type_of_kind(kind: ActivityKind) -> Option<&'static str> {
    Some(match kind {
        ActivityKind::Email => "EMAIL_SENT",
        ActivityKind::Call => "PHONE_CALL",
        ActivityKind::Meeting => "MEETING",
        ActivityKind::Note => "NOTE",
        ActivityKind::Sms => "SMS",
        ActivityKind::Task | ActivityKind::Attachment | ActivityKind::Other => return None,
    })
}

/// Checks Winnerr's write rules and builds the `POST` body.
pub fn activity_body(input: &ActivityInput) -> Result<Value, SourceError> {
    let Some(activity_type) = type_of_kind(input.kind) else {
        return Err(bad_input(
            "type",
            "Winnerr records calls, emails, meetings, notes and text messages only".into(),
        ));
    };
    if input.occurred_at.is_some() {
        return Err(bad_input(
            "occurredAt",
            "Winnerr stamps an activity's time itself; give `scheduledAt` for a planned one".into(),
        ));
    }
    if input.description.trim().is_empty() {
        return Err(bad_input(
            "description",
            "Winnerr requires a description".into(),
        ));
    }
    let mut body = Map::new();
    body.insert("type".into(), Value::from(activity_type));
    body.insert("description".into(), Value::from(input.description.clone()));
    if let Some(at) = input.scheduled_at {
        body.insert(
            "scheduledAt".into(),
            Value::from(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        );
    }
    match &input.metadata {
        None | Some(Value::Null) => {}
        Some(metadata @ Value::Object(_)) => {
            body.insert("metadata".into(), metadata.clone());
        }
        Some(_) => {
            return Err(bad_input(
                "metadata",
                "Winnerr takes `metadata` as a JSON object".into(),
            ))
        }
    }
    Ok(Value::Object(body))
}

/// Classifies a failed activity write; validation errors name the input
/// field of `recordActivity`.
fn activity_error(response: &crate::upstream::UpstreamResponse) -> SourceError {
    match error_from(response) {
        SourceError::BadInput {
            source_kind,
            field: _,
            message,
            upstream_status,
        } => {
            let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
            let field = body
                .pointer("/error/errors")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|error| error.get("field").and_then(Value::as_str))
                .find_map(activity_field)
                .map(str::to_string);
            SourceError::BadInput {
                source_kind,
                field,
                message,
                upstream_status,
            }
        }
        other => other,
    }
}

/// The `recordActivity` input field for a Winnerr activity field.
fn activity_field(upstream_field: &str) -> Option<&'static str> {
    Some(match upstream_field {
        "type" => "type",
        "description" => "description",
        "scheduledAt" => "scheduledAt",
        field if field == "metadata" || field.starts_with("metadata.") => "metadata",
        _ => return None,
    })
}

fn bad_input(field: &str, message: String) -> SourceError {
    SourceError::BadInput {
        source_kind: KIND,
        field: Some(field.to_string()),
        message,
        upstream_status: None,
    }
}

fn contact_not_found(id: &str) -> SourceError {
    SourceError::NotFound {
        source_kind: KIND,
        what: format!("contact `{id}`"),
    }
}

fn text(record: &Value, key: &str) -> Option<String> {
    record
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn timestamp(record: &Value, key: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    text(record, key).and_then(|value| {
        chrono::DateTime::parse_from_rfc3339(&value)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn maps_the_seed_activity() {
        let record = json!({
            "id": "activity_124",
            "type": "PHONE_CALL",
            "description": "Discussed property preferences",
            "createdAt": "2024-01-15T10:15:00Z",
            "metadata": {"duration": 900, "callId": "call_789"}
        });
        let activity = map_activity("contact_1", record.clone()).unwrap();
        assert_eq!(activity.kind, ActivityKind::Call);
        assert_eq!(activity.source_type.as_deref(), Some("PHONE_CALL"));
        assert_eq!(activity.contact_id, "contact_1");
        assert_eq!(activity.source_id, "activity_124");
        assert_eq!(
            activity.occurred_at,
            Some(Utc.with_ymd_and_hms(2024, 1, 15, 10, 15, 0).unwrap())
        );
        assert_eq!(activity.scheduled_at, None);
        assert_eq!(
            activity.metadata,
            Some(json!({"duration": 900, "callId": "call_789"}))
        );
        assert_eq!(activity.author, None);
        assert_eq!(activity.raw, record);
        assert!(map_activity("contact_1", json!({"type": "NOTE"})).is_err());
        assert_eq!(kind_of_type("SHOWING"), ActivityKind::Other);
        assert_eq!(kind_of_type("EMAIL_RECEIVED"), ActivityKind::Email);
    }

    use chrono::Utc;

    #[test]
    fn listed_contacts_carry_their_activities_outside_raw() {
        let with = map_listed_contact(json!({
            "id": "contact_1", "firstName": "A", "lastName": "B",
            "activities": [{"id": "activity_1", "type": "NOTE", "description": "x"}]
        }))
        .unwrap();
        let activities = with.activities.unwrap();
        assert_eq!(activities.len(), 1);
        assert_eq!(activities[0].contact_id, "contact_1");
        assert!(with.raw.field("activities").is_none());
        let without = map_listed_contact(json!({"id": "contact_1"})).unwrap();
        assert!(without.activities.is_none());
        assert!(map_listed_contact(json!({"id": "contact_1", "activities": {}})).is_err());
    }

    #[test]
    fn write_rules() {
        let input = ActivityInput {
            kind: ActivityKind::Meeting,
            description: "Showing at 123 Ocean Drive".into(),
            occurred_at: None,
            scheduled_at: Some(Utc.with_ymd_and_hms(2024, 1, 20, 14, 0, 0).unwrap()),
            metadata: Some(json!({"propertyId": "property_456"})),
        };
        assert_eq!(
            activity_body(&input).unwrap(),
            json!({"type": "MEETING", "description": "Showing at 123 Ocean Drive",
                   "scheduledAt": "2024-01-20T14:00:00Z", "metadata": {"propertyId": "property_456"}})
        );
        let field = |input: ActivityInput| match activity_body(&input) {
            Err(SourceError::BadInput { field, .. }) => field.unwrap(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(ActivityInput {
                kind: ActivityKind::Task,
                ..input.clone()
            }),
            "type"
        );
        assert_eq!(
            field(ActivityInput {
                occurred_at: input.scheduled_at,
                ..input.clone()
            }),
            "occurredAt"
        );
        assert_eq!(
            field(ActivityInput {
                description: " ".into(),
                ..input.clone()
            }),
            "description"
        );
        assert_eq!(
            field(ActivityInput {
                metadata: Some(json!([1])),
                ..input
            }),
            "metadata"
        );
    }

    #[test]
    fn validation_errors_name_the_input_field() {
        let response = crate::upstream::UpstreamResponse {
            cache_control: None,
            status: 422,
            retry_after: None,
            content_type: Some("application/json".into()),
            body: Bytes::from(
                json!({"success": false, "error": {"type": "validation_error", "status": 422,
                    "errors": [{"field": "description", "code": "too_long",
                                "message": "description must be at most 2000 characters"}]}})
                .to_string(),
            ),
        };
        match activity_error(&response) {
            SourceError::BadInput { field, message, .. } => {
                assert_eq!(field.as_deref(), Some("description"));
                assert!(message.contains("2000"));
            }
            other => panic!("{other:?}"),
        }
    }
}
