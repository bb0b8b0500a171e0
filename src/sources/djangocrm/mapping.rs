//! Django-CRM wire shapes: contact records to the unified model, and contact
//! inputs to write bodies.
//!
//! Records come in the seed's names (`primary_email`, `mobile_number`,
//! `designation`, `created_on`, ...) and, from current servers, in other names
//! (`email`, `phone`, `title`, `created_at`, `updated_at`, `tags`,
//! `is_active`); both are read, the seed's name winning when both are set.
//! The choices where the upstream's model and the unified one differ:
//! - `address_line` and `street` (the seed's "additional address line") are
//!   joined with ", " into the one unified street; a write of the street puts
//!   it in `address_line` and blanks `street`, so it reads back unchanged.
//! - `assigned_to` (user UUIDs, or user objects with an `id` in the detail
//!   view) becomes the UUIDs joined with ", " in the upstream's order; a write
//!   of `assignedTo` takes the same form back (comma-separated user UUIDs).
//! - `is_active`, when the record has it, is the status `ACTIVE`/`INACTIVE`;
//!   the seed's records have no status, so theirs is null.
//! - `description` (the real model's free text) is the notes when present.
//! - `department`, `teams`, `org` and `created_by` have no unified field and
//!   stay in `raw`.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use super::KIND;
use crate::domain::{Address, Contact, ContactInput, Email, Phone};
use crate::sources::SourceError;

/// Maps a contact as the upstream sends it: a bare contact object (list
/// results, write answers) or the detail view `{contact_obj, address_obj,
/// assigned_to, ...}`. `raw` is the contact object itself, so a contact reads
/// the same from a list and from a lookup; the detail's comments, tasks and
/// mention lists are not contact fields.
pub fn map_contact_body(body: Value, status: u16) -> Result<Contact, SourceError> {
    match body {
        Value::Object(mut detail) if detail.contains_key("contact_obj") => {
            let record = detail.remove("contact_obj").unwrap_or(Value::Null);
            let mut contact = map_contact(record, status)?;
            // The detail view lists the address and the assignees beside the
            // contact; they fill in what the contact object itself leaves out.
            if contact.address.is_none() {
                if let Some(address) = detail.get("address_obj") {
                    contact.address = address_of(address);
                }
            }
            if contact.assigned_to.is_none() {
                if let Some(users) = detail.get("assigned_to") {
                    contact.assigned_to = assignees(users);
                }
            }
            Ok(contact)
        }
        record => map_contact(record, status),
    }
}

/// Maps one contact object to the unified model.
pub fn map_contact(record: Value, status: u16) -> Result<Contact, SourceError> {
    let unusable = |message: &str| SourceError::Upstream {
        source_kind: KIND,
        message: message.to_string(),
        upstream_status: Some(status),
    };
    if !record.is_object() {
        return Err(unusable("a contact is not a JSON object"));
    }
    let id = match record.get("id") {
        Some(Value::String(id)) if !id.trim().is_empty() => id.trim().to_string(),
        Some(Value::Number(id)) => id.to_string(),
        _ => return Err(unusable("a contact has no id")),
    };
    let mut contact = Contact::new(KIND, id, Value::Null);
    contact.first_name = text(&record, "first_name");
    contact.last_name = text(&record, "last_name");
    contact.emails = emails_of(&record);
    contact.phones = phones_of(&record);
    contact.address = address_of(&record);
    contact.organization = text(&record, "organization").or_else(|| {
        record
            .get("organization")
            .and_then(|organization| text(organization, "name"))
    });
    contact.title = text(&record, "designation").or_else(|| text(&record, "title"));
    contact.status = record
        .get("is_active")
        .and_then(Value::as_bool)
        .map(|active| if active { "ACTIVE" } else { "INACTIVE" }.to_string());
    contact.tags = tags_of(&record);
    contact.notes = text(&record, "description");
    contact.assigned_to = record.get("assigned_to").and_then(assignees);
    contact.created_at =
        timestamp(&record, "created_on").or_else(|| timestamp(&record, "created_at"));
    contact.updated_at =
        timestamp(&record, "updated_at").or_else(|| timestamp(&record, "updated_on"));
    contact.raw = record.into();
    Ok(contact)
}

fn emails_of(record: &Value) -> Vec<Email> {
    let mut emails: Vec<Email> = Vec::new();
    let mut push = |address: Option<String>, label: Option<&str>| {
        let Some(address) = address else { return };
        if emails
            .iter()
            .any(|known| known.address.eq_ignore_ascii_case(&address))
        {
            return;
        }
        emails.push(Email {
            primary: emails.is_empty(),
            address,
            label: label.map(str::to_string),
        });
    };
    push(text(record, "primary_email"), None);
    // Current servers call the primary address `email`; when a record has
    // both names with different addresses, the second is kept, not primary.
    push(text(record, "email"), None);
    push(text(record, "secondary_email"), Some("secondary"));
    emails
}

fn phones_of(record: &Value) -> Vec<Phone> {
    let mut phones: Vec<Phone> = Vec::new();
    if let Some(number) = text(record, "mobile_number") {
        phones.push(Phone::new(number, Some("mobile")));
    }
    if let Some(number) = text(record, "phone") {
        let digits = crate::domain::phone::digits(&number);
        if !phones
            .iter()
            .any(|known| crate::domain::phone::digits(&known.number) == digits)
        {
            phones.push(Phone::new(number, None));
        }
    }
    phones
}

/// The address of a contact object or of the detail's `address_obj`.
fn address_of(record: &Value) -> Option<Address> {
    let street_parts: Vec<String> = ["address_line", "street"]
        .iter()
        .filter_map(|key| text(record, key))
        .collect();
    Address {
        street: (!street_parts.is_empty()).then(|| street_parts.join(", ")),
        city: text(record, "city"),
        region: text(record, "state"),
        postal_code: text(record, "postcode"),
        country: text(record, "country"),
    }
    .non_empty()
}

/// Tags as strings or as objects with a `name` (current servers' tag objects).
fn tags_of(record: &Value) -> Vec<String> {
    record
        .get("tags")
        .and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(|tag| match tag {
                    Value::String(name) => Some(name.trim().to_string()),
                    Value::Object(_) => text(tag, "name"),
                    _ => None,
                })
                .filter(|name| !name.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// User UUIDs, or user objects with an `id`, joined with ", "; `None` when
/// nobody is assigned.
fn assignees(value: &Value) -> Option<String> {
    let ids: Vec<String> = match value {
        Value::Array(users) => users
            .iter()
            .filter_map(|user| match user {
                Value::String(id) => Some(id.trim().to_string()),
                Value::Object(_) => text(user, "id"),
                _ => None,
            })
            .filter(|id| !id.is_empty())
            .collect(),
        Value::String(id) => vec![id.trim().to_string()],
        _ => Vec::new(),
    };
    let ids: Vec<String> = ids.into_iter().filter(|id| !id.is_empty()).collect();
    (!ids.is_empty()).then(|| ids.join(", "))
}

/// A non-empty, trimmed text field.
pub fn text(record: &Value, key: &str) -> Option<String> {
    record
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// An ISO 8601 timestamp: with an offset as the framework writes it, or
/// without one (taken as UTC, Django's storage zone).
pub fn timestamp(record: &Value, key: &str) -> Option<DateTime<Utc>> {
    let value = text(record, key)?;
    if let Ok(moment) = DateTime::parse_from_rfc3339(&value) {
        return Some(moment.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(&value, format).ok())
        .map(|naive| naive.and_utc())
}

/// Whether `id` is a UUID in hyphenated form (either case), the only form a
/// Django-CRM id can take.
pub fn is_uuid(id: &str) -> bool {
    let bytes = id.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            8 | 13 | 18 | 23 => *byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        })
}

/// The fields Django-CRM has no place for, by GraphQL name.
pub fn unstorable_fields(input: &ContactInput) -> Option<&'static str> {
    [
        (input.display_name.is_some(), "displayName"),
        (input.contact_type.is_some(), "type"),
        (input.status.is_some(), "status"),
        (input.tags.is_some(), "tags"),
        (input.notes.is_some(), "notes"),
    ]
    .into_iter()
    .find(|(set, _)| *set)
    .map(|(_, field)| field)
}

/// The user UUIDs of an `assignedTo` input (comma-separated), lower case;
/// `Err` with the offending part when one is not a UUID.
pub fn assignee_ids(assigned_to: &str) -> Result<Vec<String>, String> {
    assigned_to
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            if is_uuid(part) {
                Ok(part.to_ascii_lowercase())
            } else {
                Err(part.to_string())
            }
        })
        .collect()
}

/// The JSON body of a create or a partial update: only the fields set.
/// Call after the write rules passed (they reject what cannot be stored).
pub fn write_body(input: &ContactInput) -> Value {
    let mut body = Map::new();
    let mut put = |key: &str, value: &Option<String>| {
        if let Some(value) = value {
            body.insert(key.to_string(), Value::String(value.trim().to_string()));
        }
    };
    put("first_name", &input.first_name);
    put("last_name", &input.last_name);
    put("primary_email", &input.email);
    put("mobile_number", &input.phone);
    put("organization", &input.organization);
    put("designation", &input.title);
    put("address_line", &input.street);
    put("city", &input.city);
    put("state", &input.region);
    put("postcode", &input.postal_code);
    put("country", &input.country);
    if input.street.is_some() {
        // The unified street is `address_line` and `street` joined; writing
        // it whole into `address_line` means the second line must go.
        body.insert("street".into(), Value::String(String::new()));
    }
    if let Some(assigned_to) = &input.assigned_to {
        let ids = assignee_ids(assigned_to).unwrap_or_default();
        body.insert(
            "assigned_to".into(),
            Value::Array(ids.into_iter().map(Value::String).collect()),
        );
    }
    Value::Object(body)
}

/// The GraphQL input field an upstream field name corresponds to.
pub fn graphql_field(upstream_field: &str) -> Option<&'static str> {
    Some(match upstream_field {
        "first_name" => "firstName",
        "last_name" => "lastName",
        "primary_email" | "email" => "email",
        "mobile_number" | "phone" => "phone",
        "organization" => "organization",
        "designation" | "title" => "title",
        "address_line" | "street" => "address.street",
        "city" => "address.city",
        "state" => "address.region",
        "postcode" => "address.postalCode",
        "country" => "address.country",
        "assigned_to" => "assignedTo",
        "tags" => "tags",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "6f1c2a4e-9b7d-4c3e-8a21-5d0f7e9b1c2a";
    const USER: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

    fn seed_record() -> Value {
        json!({
            "id": ID,
            "first_name": "Jane", "last_name": "Smith",
            "primary_email": "jane.smith@client.com",
            "secondary_email": "j.smith@client.com",
            "mobile_number": "+13055550100",
            "organization": "Client Corp", "department": "Marketing",
            "designation": "Marketing Manager",
            "address_line": "456 Business Ave", "street": "Suite 200",
            "city": "Boston", "state": "MA", "postcode": "02101", "country": "USA",
            "org": "org-uuid", "created_on": "2023-01-15T10:30:00.250000Z",
            "created_by": USER, "assigned_to": [USER], "teams": ["team-uuid"]
        })
    }

    #[test]
    fn maps_the_seed_shape() {
        let record = seed_record();
        let contact = map_contact(record.clone(), 200).unwrap();
        assert_eq!(contact.source_id, ID);
        assert_eq!(contact.first_name.as_deref(), Some("Jane"));
        assert_eq!(contact.emails.len(), 2);
        assert!(contact.emails[0].primary);
        assert_eq!(contact.emails[0].address, "jane.smith@client.com");
        assert_eq!(contact.emails[1].label.as_deref(), Some("secondary"));
        assert!(!contact.emails[1].primary);
        assert_eq!(contact.phones[0].e164.as_deref(), Some("+13055550100"));
        assert_eq!(contact.phones[0].label.as_deref(), Some("mobile"));
        assert_eq!(contact.title.as_deref(), Some("Marketing Manager"));
        let address = contact.address.clone().unwrap();
        assert_eq!(
            address.street.as_deref(),
            Some("456 Business Ave, Suite 200")
        );
        assert_eq!(address.region.as_deref(), Some("MA"));
        assert_eq!(address.postal_code.as_deref(), Some("02101"));
        assert_eq!(contact.assigned_to.as_deref(), Some(USER));
        assert_eq!(
            contact.created_at.unwrap().to_rfc3339(),
            "2023-01-15T10:30:00.250+00:00"
        );
        assert_eq!(contact.status, None);
        assert_eq!(contact.updated_at, None);
        assert!(contact.tags.is_empty());
        assert_eq!(contact.raw, record);
    }

    #[test]
    fn empty_texts_are_absent_not_invented() {
        let record = json!({"id": ID, "first_name": "A", "last_name": "B",
            "primary_email": "", "secondary_email": "", "mobile_number": "",
            "address_line": "", "street": "", "city": " ", "state": "", "postcode": "",
            "country": "", "assigned_to": [], "created_on": "2023-01-15T10:30:00Z"});
        let contact = map_contact(record, 200).unwrap();
        assert!(contact.emails.is_empty());
        assert!(contact.phones.is_empty());
        assert_eq!(contact.address, None);
        assert_eq!(contact.assigned_to, None);
        assert_eq!(contact.organization, None);
    }

    #[test]
    fn maps_the_current_names() {
        let record = json!({
            "id": ID, "first_name": "Jane", "last_name": "Smith",
            "email": "jane@client.com", "phone": "(305) 555-0100", "title": "CTO",
            "created_at": "2024-02-01T08:00:00+01:00", "updated_at": "2024-03-01T08:00:00",
            "tags": ["vip", {"id": 3, "name": "Investor"}, {"slug": "x"}, 7],
            "is_active": false, "description": "Met at the fair.",
            "assigned_to": [{"id": USER, "email": "u@x.com"}],
            "organization": {"id": "o", "name": "Acme"}
        });
        let contact = map_contact(record, 200).unwrap();
        assert_eq!(contact.emails[0].address, "jane@client.com");
        assert!(contact.emails[0].primary);
        assert_eq!(contact.phones[0].e164.as_deref(), Some("+13055550100"));
        assert_eq!(contact.title.as_deref(), Some("CTO"));
        assert_eq!(contact.tags, vec!["vip", "Investor"]);
        assert_eq!(contact.status.as_deref(), Some("INACTIVE"));
        assert_eq!(contact.notes.as_deref(), Some("Met at the fair."));
        assert_eq!(contact.assigned_to.as_deref(), Some(USER));
        assert_eq!(contact.organization.as_deref(), Some("Acme"));
        assert_eq!(
            contact.created_at.unwrap().to_rfc3339(),
            "2024-02-01T07:00:00+00:00"
        );
        assert_eq!(
            contact.updated_at.unwrap().to_rfc3339(),
            "2024-03-01T08:00:00+00:00"
        );
        let active = map_contact(json!({"id": ID, "is_active": true}), 200).unwrap();
        assert_eq!(active.status.as_deref(), Some("ACTIVE"));
    }

    #[test]
    fn both_names_at_once_keep_the_seed_name_primary() {
        let record = json!({"id": ID, "primary_email": "a@x.com", "email": "A@X.com",
            "mobile_number": "+13055550100", "phone": "+1 305 555 0100"});
        let contact = map_contact(record, 200).unwrap();
        assert_eq!(contact.emails.len(), 1);
        assert_eq!(contact.phones.len(), 1);
        let record = json!({"id": ID, "primary_email": "a@x.com", "email": "b@x.com",
            "assigned_to": [USER, "11111111-2222-4333-8444-555555555555"]});
        let contact = map_contact(record, 200).unwrap();
        assert_eq!(contact.emails[1].address, "b@x.com");
        assert!(!contact.emails[1].primary);
        assert_eq!(
            contact.assigned_to.as_deref(),
            Some("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d, 11111111-2222-4333-8444-555555555555")
        );
    }

    #[test]
    fn maps_the_detail_shape_with_raw_as_the_contact_object() {
        let record = seed_record();
        let detail = json!({"contact_obj": record.clone(), "address_obj": {}, "assigned_to": [],
            "teams": [], "comments": [], "attachments": [], "tasks": [], "users_mention": []});
        let contact = map_contact_body(detail, 200).unwrap();
        assert_eq!(contact.raw, record);
        assert_eq!(contact.address.unwrap().city.as_deref(), Some("Boston"));
        // An older contact object without address or assignees: the detail's lists fill in.
        let detail = json!({"contact_obj": {"id": ID, "first_name": "A"},
            "address_obj": {"address_line": "1 Main St", "city": "Miami"},
            "assigned_to": [{"id": USER, "email": "u@x.com"}]});
        let contact = map_contact_body(detail, 200).unwrap();
        assert_eq!(
            contact.address.unwrap().street.as_deref(),
            Some("1 Main St")
        );
        assert_eq!(contact.assigned_to.as_deref(), Some(USER));
        let bare = map_contact_body(seed_record(), 200).unwrap();
        assert_eq!(bare.source_id, ID);
    }

    #[test]
    fn records_without_id_or_of_another_type_are_upstream_errors() {
        for record in [
            json!({"first_name": "X"}),
            json!([1]),
            json!("x"),
            json!({"id": ""}),
        ] {
            assert!(matches!(
                map_contact_body(record, 200),
                Err(SourceError::Upstream { .. })
            ));
        }
        assert!(matches!(
            map_contact_body(json!({"contact_obj": null}), 200),
            Err(SourceError::Upstream { .. })
        ));
    }

    #[test]
    fn write_bodies_use_the_seed_names() {
        let input = ContactInput {
            first_name: Some(" Jane ".into()),
            email: Some("jane@x.com".into()),
            phone: Some("305-555-0100".into()),
            title: Some("CTO".into()),
            street: Some("1 Main St".into()),
            region: Some("FL".into()),
            postal_code: Some("33101".into()),
            assigned_to: Some(format!("{}, ", USER.to_uppercase())),
            ..Default::default()
        };
        assert_eq!(
            write_body(&input),
            json!({"first_name": "Jane", "primary_email": "jane@x.com",
                "mobile_number": "305-555-0100", "designation": "CTO",
                "address_line": "1 Main St", "street": "", "state": "FL",
                "postcode": "33101", "assigned_to": [USER]})
        );
        let clear = ContactInput {
            assigned_to: Some(String::new()),
            ..Default::default()
        };
        assert_eq!(write_body(&clear), json!({"assigned_to": []}));
    }

    #[test]
    fn field_names_map_back_and_ids_are_checked() {
        assert_eq!(graphql_field("primary_email"), Some("email"));
        assert_eq!(graphql_field("state"), Some("address.region"));
        assert_eq!(graphql_field("department"), None);
        assert!(is_uuid(ID));
        assert!(is_uuid(&ID.to_uppercase()));
        assert!(!is_uuid("42"));
        assert!(!is_uuid("6f1c2a4e-9b7d-4c3e-8a21-5d0f7e9b1c2"));
        assert!(!is_uuid("6f1c2a4e+9b7d-4c3e-8a21-5d0f7e9b1c2a"));
        assert_eq!(assignee_ids("nope, x"), Err("nope".into()));
        assert_eq!(assignee_ids(" "), Ok(vec![]));
    }
}
