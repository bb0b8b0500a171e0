//! The Spark contact attribute table (per the Spark Platform Contacts service documentation) and the validation of write bodies.
//!
//! Everything the emulator knows about an attribute (its type, whether it can be
//! written, searched or selected, its length limit) lives in [`ATTRIBUTES`], so
//! that the `_filter` field types, the `_select` names and the write checks
//! cannot drift apart.

use serde_json::{Map, Value};

use super::envelope::SparkError;
use super::filter::FieldType;

/// The data type column of the seed's attribute table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeKind {
    Character,
    CharacterList,
    Timestamp,
    Boolean,
    /// `Settings.ReverseProspecting`, carried on the wire as
    /// `"Settings": {"ReverseProspecting": bool}`.
    Settings,
}

/// The "Writeable" column of the seed's attribute table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writability {
    Writable,
    ReadOnly,
    /// `OwnerId`: only through a transfer (a PUT carrying `OwnerId` alone).
    TransferOnly,
    /// `Notify`: accepted on create only, never stored.
    CreateOnly,
}

/// One row of the attribute table.
#[derive(Debug, Clone, Copy)]
pub struct Attribute {
    pub name: &'static str,
    pub kind: AttributeKind,
    pub writability: Writability,
    pub searchable: bool,
    /// Maximum length in characters of the value (of each element for lists).
    pub max_chars: Option<usize>,
}

const fn attribute(
    name: &'static str,
    kind: AttributeKind,
    writability: Writability,
    searchable: bool,
    max_chars: Option<usize>,
) -> Attribute {
    Attribute {
        name,
        kind,
        writability,
        searchable,
        max_chars,
    }
}

/// A writable, searchable character attribute of at most 300 characters, the
/// most common row of the table.
const fn text300(name: &'static str) -> Attribute {
    attribute(
        name,
        AttributeKind::Character,
        Writability::Writable,
        true,
        Some(300),
    )
}

use AttributeKind::{Boolean, Character, CharacterList, Settings, Timestamp};
use Writability::{CreateOnly, ReadOnly, TransferOnly, Writable};

/// The seed's attribute table, in its order. The email lists have no limit in the
/// seed; each address in them is held to the 75 characters of `PrimaryEmail`.
pub const ATTRIBUTES: &[Attribute] = &[
    attribute("ResourceUri", Character, ReadOnly, false, None),
    attribute("Id", Character, ReadOnly, true, None),
    attribute("DisplayName", Character, Writable, true, Some(75)),
    attribute("OwnerId", Character, TransferOnly, false, None),
    attribute("RecordStatus", Character, Writable, false, None),
    attribute("PrimaryEmail", Character, Writable, true, Some(75)),
    attribute("SecondaryEmails", CharacterList, Writable, false, Some(75)),
    attribute(
        "AdditionalNotificationEmails",
        CharacterList,
        Writable,
        false,
        Some(75),
    ),
    attribute("InvalidEmails", CharacterList, ReadOnly, true, Some(75)),
    text300("GivenName"),
    text300("MiddleName"),
    text300("FamilyName"),
    text300("SpouseGivenName"),
    text300("SpouseMiddleName"),
    text300("SpouseFamilyName"),
    text300("PrimaryPhoneNumber"),
    text300("HomePhoneNumber"),
    text300("WorkPhoneNumber"),
    text300("FaxPhoneNumber"),
    attribute("MobilePhoneCountryCode", Character, Writable, true, Some(2)),
    text300("MobilePhoneNumber"),
    text300("PagerPhoneNumber"),
    text300("OtherPhoneNumber"),
    text300("HomeStreetAddress"),
    text300("HomeLocality"),
    text300("HomeRegion"),
    text300("HomePostalCode"),
    text300("WorkStreetAddress"),
    text300("WorkLocality"),
    text300("WorkRegion"),
    text300("WorkPostalCode"),
    text300("Organization"),
    text300("Position"),
    text300("Birthday"),
    text300("Anniversary"),
    text300("Assistant"),
    text300("Children"),
    text300("Status"),
    text300("Other"),
    text300("Pets"),
    text300("ReferredBy"),
    text300("Salutation"),
    attribute("ModificationTimestamp", Timestamp, ReadOnly, true, None),
    attribute("CreatedTimestamp", Timestamp, ReadOnly, true, None),
    attribute("Tags", CharacterList, Writable, true, Some(75)),
    attribute("NewsFeedNotificationUI", Character, ReadOnly, false, None),
    attribute(
        "PortalInvitationTimestamp",
        Timestamp,
        ReadOnly,
        false,
        None,
    ),
    attribute("Notify", Boolean, CreateOnly, false, None),
    attribute("Settings", Settings, Writable, false, None),
    attribute("Note", Character, Writable, false, Some(10_000)),
    attribute("VowActive", Boolean, ReadOnly, true, None),
    attribute("VowExists", Boolean, ReadOnly, false, None),
    attribute("PortalLoginName", Character, ReadOnly, true, None),
    attribute("UniquePrimaryEmail", Boolean, ReadOnly, false, None),
];

/// The attributes a user may change on their own record through `PUT /my/contact`
/// (the seed's list).
pub const MY_CONTACT_WRITABLE: &[&str] = &[
    "AdditionalNotificationEmails",
    "FamilyName",
    "GivenName",
    "HomeLocality",
    "HomePhoneNumber",
    "HomePostalCode",
    "HomeRegion",
    "HomeStreetAddress",
    "MiddleName",
    "MobilePhoneCountryCode",
    "MobilePhoneNumber",
    "OtherPhoneNumber",
    "PagerPhoneNumber",
    "PrimaryEmail",
    "PrimaryPhoneNumber",
    "SecondaryEmails",
    "WorkPhoneNumber",
];

/// Record keys that exist only so that `_filter` can search them (`VowActive`,
/// `PortalLoginName`); they are shown only through the matching expansion.
pub const SEARCH_ONLY_KEYS: &[&str] = &["VowActive", "PortalLoginName"];

/// The row for `name`, if the table has one. Names are case-sensitive, as Spark's are.
pub fn find(name: &str) -> Option<&'static Attribute> {
    ATTRIBUTES.iter().find(|attribute| attribute.name == name)
}

/// The `_filter` type of a searchable attribute; `None` for anything else, which
/// makes the parser reject the field.
pub fn filter_field_type(name: &str) -> Option<FieldType> {
    let attribute = find(name).filter(|attribute| attribute.searchable)?;
    Some(match attribute.kind {
        Character => FieldType::Text,
        CharacterList => FieldType::TextList,
        Timestamp => FieldType::Timestamp,
        Boolean => FieldType::Boolean,
        Settings => return None,
    })
}

/// Which request a write body belongs to; it decides which attributes are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteContext {
    /// `POST /contacts`.
    Create,
    /// `PUT /contacts/{Id}` without `OwnerId`.
    Update,
    /// `PUT /my/contact`.
    MyContact,
}

/// A validated write body: attribute values to store (`Value::Null` removes the
/// attribute) and the note to append, if any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    pub values: Map<String, Value>,
    pub note: Option<String>,
}

/// Checks every attribute of a write body against the table.
///
/// Errors, in the order they are looked for: an attribute the table does not
/// know, one the context may not write, a wrong type, a length limit (all 1053),
/// then a required attribute missing or blank (1050).
pub fn validate_changes(
    body: &Map<String, Value>,
    context: WriteContext,
) -> Result<Changes, SparkError> {
    let mut changes = Changes::default();
    for (name, value) in body {
        let attribute = find(name)
            .ok_or_else(|| SparkError::constraint(format!("Unknown attribute '{name}'.")))?;
        if context == WriteContext::MyContact && !MY_CONTACT_WRITABLE.contains(&name.as_str()) {
            return Err(SparkError::constraint(format!(
                "Attribute '{name}' may not be changed through /my/contact."
            )));
        }
        match attribute.writability {
            Writable => {}
            ReadOnly => {
                return Err(SparkError::constraint(format!(
                    "Attribute '{name}' is not writable."
                )))
            }
            TransferOnly => {
                return Err(SparkError::constraint(format!(
                    "Attribute '{name}' can only be set by a transfer, alone in the request."
                )))
            }
            CreateOnly => {
                if context != WriteContext::Create {
                    return Err(SparkError::constraint(format!(
                        "Attribute '{name}' is only accepted when creating a contact."
                    )));
                }
                if !value.is_boolean() {
                    return Err(SparkError::constraint(format!(
                        "Attribute '{name}' must be a boolean."
                    )));
                }
                // Notifications are not emulated: the flag is checked, then dropped.
                continue;
            }
        }
        if name == "Note" {
            match value {
                Value::Null => {}
                Value::String(note) => {
                    check_length(attribute, note)?;
                    changes.note = Some(note.clone());
                }
                _ => return Err(must_be(name, "a string")),
            }
            continue;
        }
        let stored = match attribute.kind {
            Character => validate_character(attribute, value)?,
            CharacterList => validate_list(attribute, value)?,
            Settings => validate_settings(value)?,
            // No writable attribute has these types.
            Timestamp | Boolean => {
                return Err(SparkError::constraint(format!(
                    "Attribute '{name}' is not writable."
                )))
            }
        };
        if name == "RecordStatus" {
            match stored.as_str() {
                Some("Connected") => {}
                Some("Unconnected") if context != WriteContext::Create => {}
                Some("Unconnected") => return Err(SparkError::constraint(
                    "New contacts are always Connected; RecordStatus 'Unconnected' is not allowed.",
                )),
                _ => {
                    return Err(SparkError::constraint(
                        "RecordStatus must be 'Connected' or 'Unconnected'.",
                    ))
                }
            }
        }
        changes.values.insert(name.clone(), stored);
    }
    for required in ["DisplayName", "PrimaryEmail"] {
        let blank = match changes.values.get(required) {
            None => context == WriteContext::Create,
            Some(Value::String(text)) => text.trim().is_empty(),
            Some(_) => true,
        };
        if blank {
            return Err(SparkError::missing_parameter(format!(
                "Missing required parameter: {required}."
            )));
        }
    }
    Ok(changes)
}

fn must_be(name: &str, what: &str) -> SparkError {
    SparkError::constraint(format!("Attribute '{name}' must be {what}."))
}

fn check_length(attribute: &Attribute, text: &str) -> Result<(), SparkError> {
    match attribute.max_chars {
        Some(limit) if text.chars().count() > limit => Err(SparkError::constraint(format!(
            "Attribute '{}' must be at most {limit} characters.",
            attribute.name
        ))),
        _ => Ok(()),
    }
}

fn validate_character(attribute: &Attribute, value: &Value) -> Result<Value, SparkError> {
    match value {
        Value::Null => Ok(Value::Null),
        Value::String(text) => {
            check_length(attribute, text)?;
            Ok(value.clone())
        }
        _ => Err(must_be(attribute.name, "a string")),
    }
}

fn validate_list(attribute: &Attribute, value: &Value) -> Result<Value, SparkError> {
    let items = match value {
        // Clearing a list leaves it empty: lists are always present on the wire.
        Value::Null => return Ok(Value::Array(Vec::new())),
        Value::Array(items) => items,
        _ => return Err(must_be(attribute.name, "a list of strings")),
    };
    for item in items {
        let Value::String(text) = item else {
            return Err(must_be(attribute.name, "a list of strings"));
        };
        if text.trim().is_empty() {
            return Err(SparkError::constraint(format!(
                "Attribute '{}' may not contain empty values.",
                attribute.name
            )));
        }
        if let Some(limit) = attribute.max_chars {
            if text.chars().count() > limit {
                return Err(SparkError::constraint(format!(
                    "Each value of '{}' must be at most {limit} characters.",
                    attribute.name
                )));
            }
        }
    }
    Ok(value.clone())
}

fn validate_settings(value: &Value) -> Result<Value, SparkError> {
    let invalid = || {
        must_be(
            "Settings",
            "an object such as {\"ReverseProspecting\": true}",
        )
    };
    let Value::Object(settings) = value else {
        return Err(invalid());
    };
    let mut stored = Map::new();
    for (key, setting) in settings {
        match (key.as_str(), setting) {
            ("ReverseProspecting", Value::Bool(flag)) => {
                stored.insert(key.clone(), Value::Bool(*flag));
            }
            _ => return Err(invalid()),
        }
    }
    Ok(Value::Object(stored))
}

/// How Spark compares email addresses for uniqueness: trimmed, case-insensitive.
pub fn normalized_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Whether `id` has the shape of a Spark id: 24 or 26 decimal digits.
pub fn is_spark_id(id: &str) -> bool {
    matches!(id.len(), 24 | 26) && id.bytes().all(|byte| byte.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn field_types_follow_the_table() {
        assert_eq!(filter_field_type("DisplayName"), Some(FieldType::Text));
        assert_eq!(filter_field_type("Id"), Some(FieldType::Text));
        assert_eq!(filter_field_type("Tags"), Some(FieldType::TextList));
        assert_eq!(
            filter_field_type("InvalidEmails"),
            Some(FieldType::TextList)
        );
        assert_eq!(
            filter_field_type("CreatedTimestamp"),
            Some(FieldType::Timestamp)
        );
        assert_eq!(filter_field_type("VowActive"), Some(FieldType::Boolean));
        assert_eq!(filter_field_type("SecondaryEmails"), None);
        assert_eq!(filter_field_type("RecordStatus"), None);
        assert_eq!(filter_field_type("displayname"), None);
    }

    #[test]
    fn create_requires_display_name_and_primary_email() {
        let error =
            validate_changes(&body(json!({"DisplayName": "A"})), WriteContext::Create).unwrap_err();
        assert_eq!(error.code, 1050);
        assert!(error.message.contains("PrimaryEmail"));
        let ok = validate_changes(
            &body(json!({"DisplayName": "A", "PrimaryEmail": "a@b.c", "Notify": true})),
            WriteContext::Create,
        )
        .unwrap();
        assert_eq!(ok.values.len(), 2);
    }

    #[test]
    fn limits_types_and_writability_are_constraints() {
        for bad in [
            json!({"DisplayName": "x".repeat(76)}),
            json!({"Tags": ["t".repeat(76)]}),
            json!({"MobilePhoneCountryCode": "123"}),
            json!({"GivenName": 5}),
            json!({"Id": "1"}),
            json!({"CreatedTimestamp": "2020-01-01T00:00:00Z"}),
            json!({"OwnerId": "20090815223215294334000000"}),
            json!({"Nickname": "x"}),
            json!({"RecordStatus": "Gone"}),
            json!({"Note": "n".repeat(10_001)}),
            json!({"Notify": true}),
        ] {
            let error = validate_changes(&body(bad.clone()), WriteContext::Update).unwrap_err();
            assert_eq!(error.code, 1053, "{bad}");
        }
        let ok = validate_changes(
            &body(json!({"DisplayName": "x".repeat(75), "Note": "n".repeat(10_000)})),
            WriteContext::Update,
        )
        .unwrap();
        assert_eq!(ok.note.map(|note| note.len()), Some(10_000));
    }

    #[test]
    fn my_contact_accepts_only_the_listed_attributes() {
        assert!(
            validate_changes(&body(json!({"GivenName": "A"})), WriteContext::MyContact).is_ok()
        );
        let error =
            validate_changes(&body(json!({"Tags": []})), WriteContext::MyContact).unwrap_err();
        assert_eq!(error.code, 1053);
    }

    #[test]
    fn ids_are_24_or_26_digits() {
        assert!(is_spark_id("201010122342756895000000"));
        assert!(is_spark_id("20090815223215294334000000"));
        assert!(!is_spark_id("2009081522321529433400000"));
        assert!(!is_spark_id("2009081522321529433400000x"));
        assert!(!is_spark_id("tags"));
    }
}
