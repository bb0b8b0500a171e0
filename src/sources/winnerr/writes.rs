//! Winnerr's write rules and the JSON bodies of `POST /contacts` and
//! `PUT /contacts/{id}`.
//!
//! The rules checked here are the ones the seed states (first name, last
//! name and email required on create; the type and status tables) plus the
//! fields Winnerr has no place for. Format rules the upstream owns (email and
//! phone syntax, agent id shape, lengths) are left to its 422 answer, which
//! [`super::wire::error_from`] maps back to the GraphQL field.

use serde_json::{json, Map, Value};

use super::KIND;
use crate::domain::ContactInput;
use crate::sources::SourceError;

/// Contact types, from the seed's table.
pub const CONTACT_TYPES: &[&str] = &["LEAD", "CLIENT", "PAST_CLIENT", "REFERRAL", "VENDOR"];

/// Contact statuses, from the seed's table.
pub const CONTACT_STATUSES: &[&str] = &[
    "ACTIVE",
    "INACTIVE",
    "CONVERTED",
    "DISQUALIFIED",
    "DO_NOT_CONTACT",
];

/// The table value matching `value` (trimmed, ignoring case), as Winnerr
/// spells it.
pub fn table_value(table: &[&'static str], value: &str) -> Option<&'static str> {
    let value = value.trim();
    table
        .iter()
        .copied()
        .find(|entry| entry.eq_ignore_ascii_case(value))
}

/// Whether the write is a create (names and email required) or an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    Create,
    Update,
}

/// Checks `input` against Winnerr's rules, naming the first offending field.
pub fn check(input: &ContactInput, kind: WriteKind) -> Result<(), SourceError> {
    let unsupported = [
        (input.display_name.is_some(), "displayName"),
        (input.organization.is_some(), "organization"),
        (input.title.is_some(), "title"),
    ];
    if let Some((_, field)) = unsupported.iter().find(|(set, _)| *set) {
        return Err(bad_input(
            field,
            format!("Winnerr does not store `{field}`"),
        ));
    }
    let required = [
        (&input.first_name, "firstName"),
        (&input.last_name, "lastName"),
        (&input.email, "email"),
    ];
    for (value, field) in required {
        match value {
            None if kind == WriteKind::Create => {
                return Err(bad_input(field, format!("`{field}` is required")))
            }
            Some(value) if value.trim().is_empty() => {
                return Err(bad_input(field, format!("`{field}` must not be empty")))
            }
            _ => {}
        }
    }
    let tables = [
        (&input.contact_type, "type", CONTACT_TYPES),
        (&input.status, "status", CONTACT_STATUSES),
    ];
    for (value, field, table) in tables {
        if let Some(value) = value {
            if table_value(table, value).is_none() {
                return Err(bad_input(
                    field,
                    format!("`{field}` must be one of: {}", table.join(", ")),
                ));
            }
        }
    }
    if let Some(tags) = &input.tags {
        if tags.iter().any(|tag| tag.trim().is_empty()) {
            return Err(bad_input("tags", "tags must be non-empty strings".into()));
        }
    }
    Ok(())
}

fn bad_input(field: &str, message: String) -> SourceError {
    SourceError::BadInput {
        source_kind: KIND,
        field: Some(field.to_string()),
        message,
        upstream_status: None,
    }
}

/// The `POST /contacts` body (after [`check`] passed). Blank optional fields
/// are left out.
pub fn create_body(input: &ContactInput) -> Value {
    let mut body = Map::new();
    let mut put = |key: &str, value: &Option<String>| {
        if let Some(value) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            body.insert(key.to_string(), json!(value));
        }
    };
    put("firstName", &input.first_name);
    put("lastName", &input.last_name);
    put("email", &input.email);
    put("phone", &input.phone);
    put("notes", &input.notes);
    put("assignedTo", &input.assigned_to);
    insert_enumerations(&mut body, input);
    if let Some(tags) = &input.tags {
        body.insert("tags".into(), tag_array(tags));
    }
    if has_address(input) {
        let address = merged_address(input, None);
        if !address.values().all(Value::is_null) {
            body.insert("address".into(), Value::Object(address));
        }
    }
    Value::Object(body)
}

/// The `PUT /contacts/{id}` body (after [`check`] passed): only the given
/// fields; a blank optional field is `null`, which Winnerr reads as "clear".
///
/// Winnerr replaces `address` as a whole, so a change to one part is merged
/// into `current_address` (the stored address object) to keep the others.
pub fn update_body(input: &ContactInput, current_address: Option<&Value>) -> Value {
    let mut body = Map::new();
    let mut put = |key: &str, value: &Option<String>| {
        if let Some(value) = value {
            let value = value.trim();
            body.insert(
                key.to_string(),
                if value.is_empty() {
                    Value::Null
                } else {
                    json!(value)
                },
            );
        }
    };
    put("firstName", &input.first_name);
    put("lastName", &input.last_name);
    put("email", &input.email);
    put("phone", &input.phone);
    put("notes", &input.notes);
    put("assignedTo", &input.assigned_to);
    insert_enumerations(&mut body, input);
    if let Some(tags) = &input.tags {
        body.insert("tags".into(), tag_array(tags));
    }
    if has_address(input) {
        let address = merged_address(input, current_address);
        body.insert(
            "address".into(),
            if address.values().all(Value::is_null) {
                Value::Null
            } else {
                Value::Object(address)
            },
        );
    }
    Value::Object(body)
}

/// Whether the input touches any part of the address.
pub fn has_address(input: &ContactInput) -> bool {
    [
        &input.street,
        &input.city,
        &input.region,
        &input.postal_code,
        &input.country,
    ]
    .iter()
    .any(|part| part.is_some())
}

fn insert_enumerations(body: &mut Map<String, Value>, input: &ContactInput) {
    if let Some(value) = input
        .contact_type
        .as_deref()
        .and_then(|v| table_value(CONTACT_TYPES, v))
    {
        body.insert("type".into(), json!(value));
    }
    if let Some(value) = input
        .status
        .as_deref()
        .and_then(|v| table_value(CONTACT_STATUSES, v))
    {
        body.insert("status".into(), json!(value));
    }
}

fn tag_array(tags: &[String]) -> Value {
    Value::Array(tags.iter().map(|tag| json!(tag.trim())).collect())
}

/// The full Winnerr address object: the given parts (blank → `null`) over the
/// current ones.
fn merged_address(input: &ContactInput, current: Option<&Value>) -> Map<String, Value> {
    let parts = [
        ("street", &input.street),
        ("city", &input.city),
        ("state", &input.region),
        ("zipCode", &input.postal_code),
        ("country", &input.country),
    ];
    parts
        .into_iter()
        .map(|(key, given)| {
            let value = match given {
                Some(value) if value.trim().is_empty() => Value::Null,
                Some(value) => json!(value.trim()),
                None => current
                    .and_then(|address| address.get(key))
                    .filter(|value| value.is_string())
                    .cloned()
                    .unwrap_or(Value::Null),
            };
            (key.to_string(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(result: Result<(), SourceError>) -> Option<String> {
        match result {
            Err(SourceError::BadInput { field, .. }) => field,
            other => panic!("expected BadInput, got {other:?}"),
        }
    }

    fn valid_create() -> ContactInput {
        ContactInput {
            first_name: Some("Jane".into()),
            last_name: Some("Smith".into()),
            email: Some("jane@example.com".into()),
            ..Default::default()
        }
    }

    #[test]
    fn create_requires_names_and_email() {
        assert!(check(&valid_create(), WriteKind::Create).is_ok());
        for (field, blank) in [("firstName", 0), ("lastName", 1), ("email", 2)] {
            let mut missing = valid_create();
            let mut empty = valid_create();
            match blank {
                0 => (missing.first_name, empty.first_name) = (None, Some(" ".into())),
                1 => (missing.last_name, empty.last_name) = (None, Some("".into())),
                _ => (missing.email, empty.email) = (None, Some("  ".into())),
            }
            assert_eq!(
                field_of(check(&missing, WriteKind::Create)).as_deref(),
                Some(field)
            );
            assert_eq!(
                field_of(check(&empty, WriteKind::Create)).as_deref(),
                Some(field)
            );
            // An update may leave them out, but not blank them.
            assert!(check(&missing_all_but_notes(), WriteKind::Update).is_ok());
            assert_eq!(
                field_of(check(&empty, WriteKind::Update)).as_deref(),
                Some(field)
            );
        }
    }

    fn missing_all_but_notes() -> ContactInput {
        ContactInput {
            notes: Some("x".into()),
            ..Default::default()
        }
    }

    #[test]
    fn fields_winnerr_cannot_store_are_named() {
        for (field, input) in [
            (
                "displayName",
                ContactInput {
                    display_name: Some("J".into()),
                    ..valid_create()
                },
            ),
            (
                "organization",
                ContactInput {
                    organization: Some("Acme".into()),
                    ..valid_create()
                },
            ),
            (
                "title",
                ContactInput {
                    title: Some("CEO".into()),
                    ..valid_create()
                },
            ),
        ] {
            assert_eq!(
                field_of(check(&input, WriteKind::Create)).as_deref(),
                Some(field)
            );
            assert_eq!(
                field_of(check(&input, WriteKind::Update)).as_deref(),
                Some(field)
            );
        }
    }

    #[test]
    fn type_status_and_tags_follow_the_tables() {
        let ok = ContactInput {
            contact_type: Some(" past_client ".into()),
            status: Some("do_not_contact".into()),
            tags: Some(vec!["investor".into()]),
            ..valid_create()
        };
        assert!(check(&ok, WriteKind::Create).is_ok());
        let body = create_body(&ok);
        assert_eq!(body["type"], "PAST_CLIENT");
        assert_eq!(body["status"], "DO_NOT_CONTACT");
        let wrong_status = ContactInput {
            status: Some("CLIENT".into()),
            ..valid_create()
        };
        assert_eq!(
            field_of(check(&wrong_status, WriteKind::Update)).as_deref(),
            Some("status")
        );
        let wrong_type = ContactInput {
            contact_type: Some("BUYER".into()),
            ..Default::default()
        };
        assert_eq!(
            field_of(check(&wrong_type, WriteKind::Update)).as_deref(),
            Some("type")
        );
        let blank_tag = ContactInput {
            tags: Some(vec!["a".into(), " ".into()]),
            ..Default::default()
        };
        assert_eq!(
            field_of(check(&blank_tag, WriteKind::Update)).as_deref(),
            Some("tags")
        );
    }

    #[test]
    fn create_body_leaves_blank_fields_out() {
        let input = ContactInput {
            phone: Some(" ".into()),
            notes: Some("Likes boats".into()),
            city: Some("Miami".into()),
            region: Some("FL".into()),
            postal_code: Some("".into()),
            ..valid_create()
        };
        assert_eq!(
            create_body(&input),
            json!({"firstName": "Jane", "lastName": "Smith", "email": "jane@example.com",
                "notes": "Likes boats",
                "address": {"street": null, "city": "Miami", "state": "FL", "zipCode": null, "country": null}})
        );
    }

    #[test]
    fn update_body_clears_blanks_and_merges_the_address() {
        let input = ContactInput {
            phone: Some("".into()),
            tags: Some(vec![]),
            city: Some("Tampa".into()),
            street: Some(" ".into()),
            ..Default::default()
        };
        let current = json!({"street": "1 Main St", "city": "Miami", "state": "FL", "zipCode": "33101", "country": null});
        assert_eq!(
            update_body(&input, Some(&current)),
            json!({"phone": null, "tags": [],
                "address": {"street": null, "city": "Tampa", "state": "FL", "zipCode": "33101", "country": null}})
        );
        let clear = ContactInput {
            city: Some("".into()),
            ..Default::default()
        };
        assert_eq!(update_body(&clear, None), json!({"address": null}));
        assert_eq!(
            update_body(
                &ContactInput {
                    first_name: Some(" Ann ".into()),
                    ..Default::default()
                },
                None
            ),
            json!({"firstName": "Ann"})
        );
    }
}
