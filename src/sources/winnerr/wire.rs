//! Winnerr's wire format: the `{success, data, pagination}` envelope, the
//! camelCase contact record and its mapping to the unified model, and the
//! `{success: false, error: {type, title, status, detail, errors}}` failure
//! envelope with its classification into [`SourceError`].
//!
//! The mapping tolerates more than the emulator sends: the seed's own list
//! example carries only a handful of keys, so every field may be missing or
//! `null`, a lead score may arrive as a whole float or a digit string, and a
//! detail answer may come without its envelope.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::KIND;
use crate::domain::{Address, Contact, Email, Phone};
use crate::sources::{parse_json, status_error, SourceError};
use crate::upstream::UpstreamResponse;

/// Maps one Winnerr contact record to the unified model. `source`,
/// `preferences`, `lastContactedAt` and `organizationId` have no unified
/// field and stay in `raw`.
pub fn map_contact(record: Value) -> Result<Contact, SourceError> {
    let id = match record.get("id") {
        Some(Value::String(id)) if !id.trim().is_empty() => id.trim().to_string(),
        _ => return Err(unusable("a contact record without an id")),
    };
    let mut contact = Contact::new(KIND, id, Value::Null);
    contact.first_name = text(&record, "firstName");
    contact.last_name = text(&record, "lastName");
    if let Some(address) = text(&record, "email") {
        contact.emails.push(Email {
            address,
            label: None,
            primary: true,
        });
    }
    if let Some(number) = untrimmed_text(&record, "phone") {
        contact.phones.push(Phone::new(number, None));
    }
    if let Some(number) = untrimmed_text(&record, "secondaryPhone") {
        contact.phones.push(Phone::new(number, Some("secondary")));
    }
    if let Some(address) = record.get("address").filter(|a| a.is_object()) {
        contact.address = Address {
            street: text(address, "street"),
            city: text(address, "city"),
            region: text(address, "state"),
            postal_code: text(address, "zipCode"),
            country: text(address, "country"),
        }
        .non_empty();
    }
    contact.contact_type = text(&record, "type");
    contact.status = text(&record, "status");
    contact.tags = tags(&record);
    contact.lead_score = lead_score(&record);
    contact.notes = text(&record, "notes");
    contact.assigned_to = text(&record, "assignedTo");
    contact.created_at = timestamp(&record, "createdAt");
    contact.updated_at = timestamp(&record, "updatedAt");
    contact.raw = record.into();
    Ok(contact)
}

/// The body of an answer as JSON; an HTML page or a truncated body is an
/// unusable answer.
pub fn parse_json_body(response: &UpstreamResponse) -> Result<Value, SourceError> {
    parse_json(KIND, response)
}

/// The record of a detail or write answer: `{success: true, data: {...}}`,
/// or (tolerated) the bare record.
pub fn unwrap_record(body: Value) -> Result<Value, SourceError> {
    check_success_flag(&body)?;
    match body {
        Value::Object(mut map) if map.contains_key("data") => match map.remove("data") {
            Some(record @ Value::Object(_)) => Ok(record),
            _ => Err(unusable("`data` is not a contact object")),
        },
        record @ Value::Object(_) if record.get("id").is_some() => Ok(record),
        _ => Err(unusable("the answer holds no contact")),
    }
}

/// One page of `GET /contacts`, as read from the envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct ListBody {
    pub records: Vec<Value>,
    /// The cursor that resumes after the last record, when more follow.
    pub next_cursor: Option<String>,
    /// How many contacts match the filters in all.
    pub total: Option<u64>,
}

/// Reads a list envelope. A `hasMore` without a `nextCursor` cannot be
/// followed, and is reported rather than silently ending the list early.
pub fn parse_list(body: Value) -> Result<ListBody, SourceError> {
    check_success_flag(&body)?;
    let Value::Object(mut map) = body else {
        return Err(unusable("the list answer is not a JSON object"));
    };
    let records = match map.remove("data") {
        Some(Value::Array(records)) => records,
        _ => return Err(unusable("the list answer has no `data` array")),
    };
    let pagination = map.remove("pagination").unwrap_or(Value::Null);
    let next_cursor = pagination
        .get("nextCursor")
        .and_then(Value::as_str)
        .filter(|cursor| !cursor.is_empty())
        .map(str::to_string);
    let has_more = match pagination.get("hasMore") {
        Some(Value::Bool(has_more)) => *has_more,
        // Without the flag, a cursor is the only sign that more follow.
        _ => next_cursor.is_some(),
    };
    if has_more && next_cursor.is_none() {
        return Err(unusable("`hasMore` is true but there is no `nextCursor`"));
    }
    Ok(ListBody {
        records,
        next_cursor: if has_more { next_cursor } else { None },
        total: pagination.get("total").and_then(Value::as_u64),
    })
}

/// A 200 answer that says `success: false` is not a success.
fn check_success_flag(body: &Value) -> Result<(), SourceError> {
    if body.get("success") == Some(&Value::Bool(false)) {
        let detail = error_detail(body).unwrap_or_else(|| "no detail".into());
        return Err(unusable(&format!("the answer reports a failure: {detail}")));
    }
    Ok(())
}

/// Classifies a non-success answer from its status and error envelope. For
/// validation failures the first field error names the GraphQL field.
pub fn error_from(response: &UpstreamResponse) -> SourceError {
    let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let detail = error_detail(&body).unwrap_or_else(|| format!("HTTP {}", response.status));
    let field_errors: Vec<(String, String)> = body
        .pointer("/error/errors")
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .map(|error| {
                    let field = error.get("field").and_then(Value::as_str).unwrap_or("");
                    let message = error
                        .get("message")
                        .and_then(Value::as_str)
                        .or_else(|| error.get("code").and_then(Value::as_str))
                        .unwrap_or("invalid");
                    (field.to_string(), message.to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    match response.status {
        400 | 422 => {
            let message = if field_errors.is_empty() {
                detail
            } else {
                field_errors
                    .iter()
                    .map(|(_, message)| message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            SourceError::BadInput {
                source_kind: KIND,
                field: field_errors
                    .iter()
                    .find_map(|(field, _)| graphql_field(field))
                    .map(str::to_string),
                message,
                upstream_status: Some(response.status),
            }
        }
        _ => status_error(KIND, response, detail),
    }
}

/// The human part of an error envelope: `detail`, else `title`; a plain
/// `message` or a string `error` is accepted too.
fn error_detail(body: &Value) -> Option<String> {
    let error = body.get("error");
    error
        .and_then(|e| e.get("detail"))
        .or_else(|| error.and_then(|e| e.get("title")))
        .or_else(|| error.filter(|e| e.is_string()))
        .or_else(|| body.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The GraphQL input field for a Winnerr field name in a validation error
/// (`address.zipCode` → `address.postalCode`, `tags[2]` → `tags`). The list
/// parameter `cursor` comes from the gateway's `after`.
pub fn graphql_field(upstream_field: &str) -> Option<&'static str> {
    let field = upstream_field.split('[').next().unwrap_or(upstream_field);
    Some(match field {
        "firstName" => "firstName",
        "lastName" => "lastName",
        "email" => "email",
        "phone" => "phone",
        "type" => "type",
        "status" => "status",
        "tags" => "tags",
        "notes" => "notes",
        "assignedTo" => "assignedTo",
        "address.street" => "address.street",
        "address.city" => "address.city",
        "address.state" => "address.region",
        "address.zipCode" => "address.postalCode",
        "address.country" => "address.country",
        "cursor" => "after",
        _ => return None,
    })
}

/// An answer the gateway cannot use.
pub fn unusable(message: &str) -> SourceError {
    SourceError::Upstream {
        source_kind: KIND,
        message: message.to_string(),
        upstream_status: None,
    }
}

/// A trimmed, non-empty string value.
fn text(record: &Value, key: &str) -> Option<String> {
    record
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A non-blank string value kept exactly as sent (phone numbers are shown as
/// the source stores them).
fn untrimmed_text(record: &Value, key: &str) -> Option<String> {
    record
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
}

fn timestamp(record: &Value, key: &str) -> Option<DateTime<Utc>> {
    text(record, key).and_then(|value| {
        DateTime::parse_from_rfc3339(&value)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// Tags as an array of strings; blank or non-string items are skipped.
fn tags(record: &Value) -> Vec<String> {
    record
        .get("tags")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::trim)
                .filter(|tag| !tag.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The lead score as an integer; a whole float or a digit string is accepted,
/// anything else is treated as absent rather than guessed at.
fn lead_score(record: &Value) -> Option<i64> {
    match record.get("leadScore")? {
        Value::Number(number) => number.as_i64().or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        }),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use serde_json::json;

    fn seed_record() -> Value {
        json!({
            "id": "contact_123e4567-e89b-12d3-a456-426614174000",
            "organizationId": "org_123e4567-e89b-12d3-a456-426614174000",
            "firstName": "John",
            "lastName": "Doe",
            "email": " john.doe@example.com ",
            "phone": "+1-555-123-4567",
            "secondaryPhone": "+1-555-987-6543",
            "address": {"street": "123 Main St", "city": "Miami", "state": "FL", "zipCode": "33101", "country": "US"},
            "type": "LEAD",
            "status": "ACTIVE",
            "source": "WEBSITE",
            "leadScore": 85,
            "tags": ["first-time-buyer", "luxury-market"],
            "notes": "Interested in waterfront properties",
            "preferences": {"communicationMethod": "EMAIL"},
            "assignedTo": "agent_123e4567-e89b-12d3-a456-426614174000",
            "createdAt": "2024-01-15T10:30:00Z",
            "updatedAt": "2024-01-15T15:45:00Z",
            "lastContactedAt": "2024-01-15T14:20:00Z"
        })
    }

    fn response(status: u16, body: &str) -> UpstreamResponse {
        UpstreamResponse {
            cache_control: None,
            status,
            retry_after: None,
            content_type: Some("application/json".into()),
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn maps_the_seed_record() {
        let record = seed_record();
        let contact = map_contact(record.clone()).unwrap();
        assert_eq!(
            contact.source_id,
            "contact_123e4567-e89b-12d3-a456-426614174000"
        );
        assert_eq!(contact.first_name.as_deref(), Some("John"));
        assert_eq!(contact.last_name.as_deref(), Some("Doe"));
        assert_eq!(contact.emails.len(), 1);
        assert_eq!(contact.emails[0].address, "john.doe@example.com");
        assert!(contact.emails[0].primary);
        assert_eq!(contact.phones.len(), 2);
        assert_eq!(contact.phones[0].e164.as_deref(), Some("+15551234567"));
        assert_eq!(contact.phones[0].label, None);
        assert_eq!(contact.phones[1].label.as_deref(), Some("secondary"));
        let address = contact.address.clone().unwrap();
        assert_eq!(address.region.as_deref(), Some("FL"));
        assert_eq!(address.postal_code.as_deref(), Some("33101"));
        assert_eq!(address.country.as_deref(), Some("US"));
        assert_eq!(contact.contact_type.as_deref(), Some("LEAD"));
        assert_eq!(contact.status.as_deref(), Some("ACTIVE"));
        assert_eq!(contact.tags, vec!["first-time-buyer", "luxury-market"]);
        assert_eq!(contact.lead_score, Some(85));
        assert_eq!(
            contact.assigned_to.as_deref(),
            Some(record["assignedTo"].as_str().unwrap())
        );
        assert_eq!(
            contact.created_at.unwrap().to_rfc3339(),
            "2024-01-15T10:30:00+00:00"
        );
        assert!(contact.updated_at.is_some());
        assert_eq!(contact.organization, None);
        assert_eq!(contact.title, None);
        assert_eq!(contact.display_name, None);
        assert_eq!(contact.raw, record);
    }

    #[test]
    fn tolerates_the_short_list_item_and_nulls() {
        // The seed's list example: only a few keys.
        let short = json!({"id": "contact_123", "firstName": "John", "lastName": "Doe",
            "email": "john.doe@example.com", "phone": "+1-555-123-4567", "type": "LEAD",
            "status": "ACTIVE", "leadScore": 85, "createdAt": "2024-01-15T10:30:00Z"});
        let contact = map_contact(short).unwrap();
        assert_eq!(contact.address, None);
        assert!(contact.tags.is_empty());
        assert_eq!(contact.updated_at, None);
        let nulls = json!({"id": "contact_1", "firstName": null, "lastName": "  ", "email": null,
            "phone": null, "secondaryPhone": "", "address": null, "type": null, "status": null,
            "leadScore": null, "tags": null, "notes": null, "assignedTo": null,
            "createdAt": null, "updatedAt": "not a time"});
        let contact = map_contact(nulls).unwrap();
        assert_eq!(contact.first_name, None);
        assert_eq!(contact.last_name, None);
        assert!(contact.emails.is_empty() && contact.phones.is_empty());
        assert_eq!(contact.address, None);
        assert_eq!(contact.lead_score, None);
        assert_eq!(contact.created_at, None);
        assert_eq!(contact.updated_at, None);
        let partial_address =
            json!({"id": "contact_2", "address": {"city": "Miami", "street": null}});
        let address = map_contact(partial_address).unwrap().address.unwrap();
        assert_eq!(address.city.as_deref(), Some("Miami"));
        assert_eq!(address.street, None);
        let empty_address = json!({"id": "contact_3", "address": {"city": " ", "zipCode": null}});
        assert_eq!(map_contact(empty_address).unwrap().address, None);
    }

    #[test]
    fn lead_scores_in_other_shapes() {
        let score = |value: Value| lead_score(&json!({ "leadScore": value }));
        assert_eq!(score(json!(60.0)), Some(60));
        assert_eq!(score(json!("72")), Some(72));
        assert_eq!(score(json!(60.5)), None);
        assert_eq!(score(json!(true)), None);
        assert_eq!(lead_score(&json!({})), None);
        assert_eq!(
            map_contact(json!({"id": "contact_1", "createdAt": "2024-01-15T12:30:00.250+02:00"}))
                .unwrap()
                .created_at
                .unwrap()
                .to_rfc3339(),
            "2024-01-15T10:30:00.250+00:00"
        );
    }

    #[test]
    fn a_record_without_id_is_unusable() {
        for record in [
            json!({"firstName": "X"}),
            json!({"id": 7}),
            json!({"id": ""}),
        ] {
            assert!(matches!(
                map_contact(record),
                Err(SourceError::Upstream { .. })
            ));
        }
    }

    #[test]
    fn envelopes() {
        let record = json!({"id": "contact_1"});
        assert_eq!(
            unwrap_record(json!({"success": true, "data": record})).unwrap(),
            record
        );
        assert_eq!(unwrap_record(record.clone()).unwrap(), record);
        for bad in [
            json!({"success": true, "data": [1]}),
            json!({"success": false, "error": {"detail": "x"}}),
            json!([1, 2]),
            json!({"success": true}),
        ] {
            assert!(matches!(
                unwrap_record(bad),
                Err(SourceError::Upstream { .. })
            ));
        }
        let page = parse_list(json!({"success": true, "data": [record],
            "pagination": {"hasMore": true, "nextCursor": "abc", "total": 150, "limit": 25}}))
        .unwrap();
        assert_eq!(page.records.len(), 1);
        assert_eq!(page.next_cursor.as_deref(), Some("abc"));
        assert_eq!(page.total, Some(150));
        let last = parse_list(json!({"success": true, "data": [],
            "pagination": {"hasMore": false, "nextCursor": null, "total": 0}}))
        .unwrap();
        assert_eq!(last.next_cursor, None);
        // No pagination at all: a single, final page without a total.
        let bare = parse_list(json!({"data": []})).unwrap();
        assert_eq!((bare.next_cursor, bare.total), (None, None));
        for bad in [
            json!({"success": true, "data": [], "pagination": {"hasMore": true}}),
            json!({"success": true, "data": {}}),
            json!("text"),
        ] {
            assert!(matches!(parse_list(bad), Err(SourceError::Upstream { .. })));
        }
    }

    #[test]
    fn validation_errors_name_the_graphql_field() {
        let body = r#"{"success":false,"error":{"type":"validation_error","title":"Validation Error","status":422,
            "detail":"Request validation failed","errors":[{"field":"address.zipCode","code":"too_long","message":"address.zipCode must be at most 200 characters"}]}}"#;
        match error_from(&response(422, body)) {
            SourceError::BadInput {
                field,
                message,
                upstream_status,
                ..
            } => {
                assert_eq!(field.as_deref(), Some("address.postalCode"));
                assert!(message.contains("at most 200"));
                assert_eq!(upstream_status, Some(422));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(graphql_field("tags[3]"), Some("tags"));
        assert_eq!(graphql_field("address.state"), Some("address.region"));
        assert_eq!(graphql_field("cursor"), Some("after"));
        assert_eq!(graphql_field("preferences.locations"), None);
    }

    #[test]
    fn other_statuses() {
        let conflict = r#"{"success":false,"error":{"type":"conflict_error","title":"Duplicate Contact","status":409,"detail":"Contact with email 'a@b.c' already exists"}}"#;
        assert!(matches!(
            error_from(&response(409, conflict)),
            SourceError::Conflict { message, .. } if message.contains("a@b.c")
        ));
        let missing = r#"{"success":false,"error":{"type":"not_found_error","title":"Contact Not Found","status":404,"detail":"Contact with ID 'contact_1' was not found"}}"#;
        assert!(matches!(
            error_from(&response(404, missing)),
            SourceError::NotFound { .. }
        ));
        assert!(matches!(
            error_from(&response(401, "{}")),
            SourceError::Unauthenticated { .. }
        ));
        let mut busy = response(429, "<html>slow down</html>");
        busy.retry_after = Some(3);
        assert!(matches!(
            error_from(&busy),
            SourceError::Unavailable {
                retry_after: Some(3),
                ..
            }
        ));
        assert!(matches!(
            error_from(&response(500, "oops")),
            SourceError::Upstream { message, upstream_status: Some(500), .. } if message == "HTTP 500"
        ));
    }
}
