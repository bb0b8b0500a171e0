//! Field validation for contact and comment writes, with Django REST
//! framework's messages.
//!
//! Validation here only looks at the request; the checks that need the
//! organization's data (a duplicate `primary_email`, which assignees and teams
//! exist) are made by the handler afterwards. Errors collect per field, as a
//! serializer's `errors` do, and are answered as
//! `{"error": true, "errors": {field: [message, ...]}}`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::data::CONTACT_TEXT_FIELDS;

/// Per-field error messages, keyed by field name.
pub(super) type FieldErrors = BTreeMap<String, Vec<String>>;

pub(super) const REQUIRED: &str = "This field is required.";
pub(super) const BLANK: &str = "This field may not be blank.";
const NULL: &str = "This field may not be null.";
const NOT_A_STRING: &str = "Not a valid string.";
const INVALID_EMAIL: &str = "Enter a valid email address.";
const INVALID_PHONE: &str = "Enter a valid phone number (e.g. +12125552368).";
pub(super) const DUPLICATE_EMAIL: &str = "Contact with this primary email already exists.";

/// Whether a write creates a contact (names required) or updates one
/// (only the fields present change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WriteMode {
    Create,
    Update,
}

/// The validated changes of a contact write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct ContactChanges {
    /// New values of [`CONTACT_TEXT_FIELDS`], already normalised.
    pub text: Vec<(&'static str, String)>,
    /// Requested assignees (user UUIDs, lower case), when the field was sent.
    pub assigned_to: Option<Vec<String>>,
    /// Requested teams (team UUIDs, lower case), when the field was sent.
    pub teams: Option<Vec<String>>,
}

/// The non-object JSON message of a serializer given `type_name` data.
pub(super) fn non_object_errors(type_name: &str) -> FieldErrors {
    let message = if type_name == "NoneType" {
        "No data provided".to_string()
    } else {
        format!("Invalid data. Expected a dictionary, but got {type_name}.")
    };
    BTreeMap::from([("non_field_errors".to_string(), vec![message])])
}

fn add(errors: &mut FieldErrors, field: &str, message: impl Into<String>) {
    errors
        .entry(field.to_string())
        .or_default()
        .push(message.into());
}

/// A `CharField` value: text, or a number written as text; anything else is
/// not a valid string. `Ok(None)` means JSON `null`.
fn char_value(value: &Value) -> Result<Option<String>, &'static str> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(text.clone())),
        Value::Number(number) => Ok(Some(number.to_string())),
        _ => Err(NOT_A_STRING),
    }
}

/// Validates the contact fields of a create or update body.
pub(super) fn validate_contact(
    fields: &Map<String, Value>,
    from_form: bool,
    mode: WriteMode,
) -> Result<ContactChanges, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut changes = ContactChanges::default();
    for &field in CONTACT_TEXT_FIELDS {
        let required = matches!(field, "first_name" | "last_name");
        let Some(raw) = fields.get(field) else {
            if required && mode == WriteMode::Create {
                add(&mut errors, field, REQUIRED);
            }
            continue;
        };
        let text = match char_value(raw) {
            Err(message) => {
                add(&mut errors, field, message);
                continue;
            }
            Ok(None) if required => {
                add(&mut errors, field, NULL);
                continue;
            }
            Ok(None) => String::new(),
            // The framework trims surrounding whitespace from every CharField.
            Ok(Some(text)) => text.trim().to_string(),
        };
        if required && text.is_empty() {
            add(&mut errors, field, BLANK);
            continue;
        }
        let limit = if field.ends_with("email") { 254 } else { 255 };
        if text.chars().count() > limit {
            add(
                &mut errors,
                field,
                format!("Ensure this field has no more than {limit} characters."),
            );
            continue;
        }
        let text = match field {
            "primary_email" | "secondary_email" if !text.is_empty() => {
                if !is_valid_email(&text) {
                    add(&mut errors, field, INVALID_EMAIL);
                    continue;
                }
                text
            }
            "mobile_number" if !text.is_empty() => match normalize_phone(&text) {
                Some(normalized) => normalized,
                None => {
                    add(&mut errors, field, INVALID_PHONE);
                    continue;
                }
            },
            _ => text,
        };
        changes.text.push((field, text));
    }
    for field in ["assigned_to", "teams"] {
        let Some(raw) = fields.get(field) else {
            continue;
        };
        match uuid_list(raw, from_form) {
            Ok(ids) if field == "assigned_to" => changes.assigned_to = Some(ids),
            Ok(ids) => changes.teams = Some(ids),
            Err(message) => add(&mut errors, field, message),
        }
    }
    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(errors)
    }
}

/// A list of UUIDs: a JSON array, or (as Django-CRM's form handling reads it)
/// a text holding a JSON array. A form may also repeat the field or send a
/// single bare UUID.
fn uuid_list(raw: &Value, from_form: bool) -> Result<Vec<String>, String> {
    let items: Vec<Value> = match raw {
        // A JSON array, or a repeated form field with one UUID per value.
        Value::Array(items) => items.clone(),
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => items,
            _ if from_form && !text.trim().is_empty() => vec![Value::String(text.clone())],
            _ if from_form => Vec::new(),
            _ => return Err("Expected a list of items but got type \"str\".".to_string()),
        },
        Value::Null => return Err(NULL.to_string()),
        Value::Bool(_) => return Err("Expected a list of items but got type \"bool\".".into()),
        Value::Number(_) => return Err("Expected a list of items but got type \"int\".".into()),
        Value::Object(_) => return Err("Expected a list of items but got type \"dict\".".into()),
    };
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::String(text) if is_uuid(text.trim()) => {
                let id = text.trim().to_ascii_lowercase();
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            Value::String(text) => return Err(format!("“{text}” is not a valid UUID.")),
            other => return Err(format!("“{other}” is not a valid UUID.")),
        }
    }
    Ok(ids)
}

/// A comment's text: required, text, not blank.
pub(super) fn validate_comment(fields: &Map<String, Value>) -> Result<String, FieldErrors> {
    let mut errors = FieldErrors::new();
    match fields.get("comment").map(char_value) {
        None => add(&mut errors, "comment", REQUIRED),
        Some(Err(message)) => add(&mut errors, "comment", message),
        Some(Ok(None)) => add(&mut errors, "comment", NULL),
        Some(Ok(Some(text))) if text.trim().is_empty() => add(&mut errors, "comment", BLANK),
        Some(Ok(Some(text))) => return Ok(text.trim().to_string()),
    }
    Err(errors)
}

/// Any UUID in hyphenated form, either case (what Django's `UUIDField`
/// accepts in data).
pub(super) fn is_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            8 | 13 | 18 | 23 => *byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        })
}

/// A UUID as Django's `<uuid:pk>` path converter matches it: lower-case hex
/// only, so an upper-case id in a path does not resolve.
pub(super) fn is_path_uuid(text: &str) -> bool {
    is_uuid(text)
        && !text
            .bytes()
            .any(|byte| byte.is_ascii_alphabetic() && byte.is_ascii_uppercase())
}

/// A pragmatic form of Django's `EmailValidator`: one `@`, a non-empty local
/// part without spaces, and a dotted domain of letters, digits and hyphens.
pub(super) fn is_valid_email(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && !tld.chars().all(|c| c.is_ascii_digit()));
    local_ok && domain_ok
}

/// Normalises a phone number to E.164 the way Django-CRM's `PhoneNumberField`
/// stores it. Numbers with a `+` keep their country code; ten digits (or
/// eleven starting with 1) are taken as North American. Separators
/// (spaces, dashes, dots, parentheses) are dropped.
pub(super) fn normalize_phone(text: &str) -> Option<String> {
    let (has_plus, rest) = match text.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if !rest
        .chars()
        .all(|c| c.is_ascii_digit() || " -.()".contains(c))
    {
        return None;
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    match (has_plus, digits.len()) {
        (true, 8..=15) if !digits.starts_with('0') => Some(format!("+{digits}")),
        (false, 10) if !digits.starts_with(['0', '1']) => Some(format!("+1{digits}")),
        (false, 11) if digits.starts_with('1') => Some(format!("+{digits}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn create_requires_names_and_checks_formats() {
        let errors = validate_contact(
            &object(json!({"first_name": "  ", "primary_email": "nope", "mobile_number": "call me", "city": ["x"]})),
            false,
            WriteMode::Create,
        )
        .unwrap_err();
        assert_eq!(errors["first_name"], vec![BLANK]);
        assert_eq!(errors["last_name"], vec![REQUIRED]);
        assert_eq!(errors["primary_email"], vec![INVALID_EMAIL]);
        assert_eq!(errors["mobile_number"], vec![INVALID_PHONE]);
        assert_eq!(errors["city"], vec![NOT_A_STRING]);
    }

    #[test]
    fn update_takes_only_present_fields() {
        let changes = validate_contact(
            &object(json!({"mobile_number": "(305) 555-0100", "department": null, "teams": "[]"})),
            true,
            WriteMode::Update,
        )
        .unwrap();
        assert_eq!(
            changes.text,
            vec![
                ("mobile_number", "+13055550100".to_string()),
                ("department", String::new())
            ]
        );
        assert_eq!(changes.teams, Some(vec![]));
        assert_eq!(changes.assigned_to, None);
    }

    #[test]
    fn uuid_lists_accept_arrays_and_json_text() {
        let id = "6f1c2a4e-9b7d-4c3e-8a21-5d0f7e9b1c2a";
        assert_eq!(uuid_list(&json!([id, id]), false), Ok(vec![id.to_string()]));
        assert_eq!(
            uuid_list(&json!(format!("[\"{id}\"]")), false),
            Ok(vec![id.to_string()])
        );
        assert_eq!(uuid_list(&json!(id), true), Ok(vec![id.to_string()]));
        assert_eq!(
            uuid_list(&json!(id), false),
            Err("Expected a list of items but got type \"str\".".to_string())
        );
        assert_eq!(
            uuid_list(&json!(["x"]), false),
            Err("“x” is not a valid UUID.".to_string())
        );
    }

    #[test]
    fn emails_phones_and_path_uuids() {
        assert!(is_valid_email("jane.smith@client.com"));
        assert!(is_valid_email("JANE@CLIENT.COM"));
        assert!(!is_valid_email("jane@client"));
        assert!(!is_valid_email("jane smith@client.com"));
        assert!(!is_valid_email("@client.com"));
        assert_eq!(normalize_phone("+1234567890"), Some("+1234567890".into()));
        assert_eq!(
            normalize_phone("1-305-555-0100"),
            Some("+13055550100".into())
        );
        assert_eq!(normalize_phone("555-0100"), None);
        assert!(is_path_uuid("6f1c2a4e-9b7d-4c3e-8a21-5d0f7e9b1c2a"));
        assert!(!is_path_uuid("6F1C2A4E-9B7D-4C3E-8A21-5D0F7E9B1C2A"));
        assert!(is_uuid("6F1C2A4E-9B7D-4C3E-8A21-5D0F7E9B1C2A"));
        assert!(!is_uuid("not-a-uuid"));
    }
}
