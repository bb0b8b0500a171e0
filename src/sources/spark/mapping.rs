//! Maps a Spark contact record (`DisplayName`, `GivenName`, `PrimaryEmail`,
//! `Home*`...) to the unified [`Contact`].
//!
//! Spark leaves attributes without a value out of a record, so every attribute
//! is optional here. Beyond what the emulator sends, the mapping tolerates ids
//! sent as JSON numbers, list attributes sent as a single string, timestamps
//! without an offset (taken as UTC, as Spark's own `_filter` does), and a
//! `Note` attribute on the record itself besides the `Notes` expansion.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

use super::KIND;
use crate::domain::{Address, Contact, Email, Phone};
use crate::sources::SourceError;

/// The phone attributes of a record and the labels the gateway gives them.
pub const PHONE_ATTRIBUTES: &[(&str, &str)] = &[
    ("PrimaryPhoneNumber", "primary"),
    ("MobilePhoneNumber", "mobile"),
    ("HomePhoneNumber", "home"),
    ("WorkPhoneNumber", "work"),
    ("OtherPhoneNumber", "other"),
    ("FaxPhoneNumber", "fax"),
    ("PagerPhoneNumber", "pager"),
];

/// Whether `id` has the form of a Spark id: 24 or 26 decimal digits.
pub fn is_spark_id(id: &str) -> bool {
    matches!(id.len(), 24 | 26) && id.bytes().all(|byte| byte.is_ascii_digit())
}

/// The `Id` of a record, as text.
pub fn record_id(record: &Value) -> Option<String> {
    match record.get("Id") {
        Some(Value::String(id)) if !id.trim().is_empty() => Some(id.trim().to_string()),
        Some(Value::Number(number)) if number.is_u64() => Some(number.to_string()),
        _ => None,
    }
}

/// A character attribute, trimmed; `None` when absent or blank.
pub fn text(record: &Value, key: &str) -> Option<String> {
    match record.get(key) {
        Some(Value::String(value)) => {
            Some(value.trim().to_string()).filter(|value| !value.is_empty())
        }
        Some(Value::Number(number)) => Some(number.to_string()),
        _ => None,
    }
}

/// A list attribute: a JSON list of strings, or a single string.
fn text_list(record: &Value, key: &str) -> Vec<String> {
    let values: Vec<&str> = match record.get(key) {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(value)) => vec![value.as_str()],
        _ => Vec::new(),
    };
    values
        .into_iter()
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_string)
        .collect()
}

/// Parses a Spark timestamp: RFC 3339, or without an offset (UTC).
pub fn parse_timestamp(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(parsed) = DateTime::parse_from_rfc3339(value) {
        return Some(parsed.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|naive| naive.and_utc())
}

/// A timestamp attribute.
pub fn timestamp(record: &Value, key: &str) -> Option<DateTime<Utc>> {
    text(record, key).and_then(|value| parse_timestamp(&value))
}

/// The most recent note: from the `Notes` expansion (`[{Id, Note,
/// CreatedTimestamp}]`, the latest by `CreatedTimestamp`, the later in the list
/// on a tie), else a `Note` attribute. Spark keeps notes as a history and the
/// gateway's `notes` is one text; the latest note is what was written last, and
/// `raw` keeps the whole history.
fn latest_note(record: &Value) -> Option<String> {
    let from_expansion = match record.get("Notes") {
        Some(Value::Array(notes)) => notes
            .iter()
            .enumerate()
            .filter_map(|(index, note)| {
                let text = text(note, "Note")?;
                Some((timestamp(note, "CreatedTimestamp"), index, text))
            })
            .max_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)))
            .map(|(_, _, text)| text),
        _ => None,
    };
    from_expansion.or_else(|| text(record, "Note"))
}

/// Maps one Spark contact record.
pub fn map_contact(record: Value) -> Result<Contact, SourceError> {
    if !record.is_object() {
        return Err(SourceError::Upstream {
            source_kind: KIND,
            message: "a contact record is not a JSON object".into(),
            upstream_status: Some(200),
        });
    }
    let id = record_id(&record).ok_or_else(|| SourceError::Upstream {
        source_kind: KIND,
        message: "a contact record has no `Id`".into(),
        upstream_status: Some(200),
    })?;
    let mut contact = Contact::new(KIND, id, Value::Null);
    contact.display_name = text(&record, "DisplayName");
    contact.first_name = text(&record, "GivenName");
    contact.last_name = text(&record, "FamilyName");
    if let Some(address) = text(&record, "PrimaryEmail") {
        contact.emails.push(Email {
            address,
            label: None,
            primary: true,
        });
    }
    for address in text_list(&record, "SecondaryEmails") {
        contact.emails.push(Email {
            address,
            label: Some("secondary".into()),
            primary: false,
        });
    }
    for (attribute, label) in PHONE_ATTRIBUTES {
        if let Some(number) = text(&record, attribute) {
            contact.phones.push(Phone::new(number, Some(label)));
        }
    }
    // The contact's home address is its address; the work address stays in `raw`.
    contact.address = Address {
        street: text(&record, "HomeStreetAddress"),
        city: text(&record, "HomeLocality"),
        region: text(&record, "HomeRegion"),
        postal_code: text(&record, "HomePostalCode"),
        country: None,
    }
    .non_empty();
    contact.organization = text(&record, "Organization");
    contact.title = text(&record, "Position");
    contact.status = text(&record, "RecordStatus");
    contact.tags = text_list(&record, "Tags");
    contact.notes = latest_note(&record);
    contact.assigned_to = text(&record, "OwnerId");
    contact.created_at = timestamp(&record, "CreatedTimestamp");
    contact.updated_at = timestamp(&record, "ModificationTimestamp");
    contact.raw = record.into();
    Ok(contact)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn full_record() -> Value {
        json!({
            "ResourceUri": "/v1/contacts/20240115103000123456000000",
            "Id": "20240115103000123456000000",
            "DisplayName": "Neddy Nederlander",
            "GivenName": "Neddy",
            "FamilyName": "Nederlander",
            "PrimaryEmail": " Neddy@Example.com ",
            "SecondaryEmails": ["neddy@work.com"],
            "AdditionalNotificationEmails": [],
            "InvalidEmails": [],
            "PrimaryPhoneNumber": "305-555-0100",
            "MobilePhoneNumber": "305-555-0101",
            "HomePhoneNumber": "305-555-0102",
            "WorkPhoneNumber": "305-555-0103",
            "OtherPhoneNumber": "305-555-0104",
            "HomeStreetAddress": "1405 Main Street\nApt 112",
            "HomeLocality": "Miami",
            "HomeRegion": "FL",
            "HomePostalCode": "33101",
            "WorkLocality": "Doral",
            "Organization": "Acme Realty",
            "Position": "Buyer",
            "RecordStatus": "Connected",
            "OwnerId": "20090815223215294334000000",
            "Tags": ["IDX Lead", "Buyer"],
            "CreatedTimestamp": "2024-01-15T10:30:00Z",
            "ModificationTimestamp": "2024-02-01T08:00:00Z",
            "Settings": {"ReverseProspecting": false},
            "Notes": [
                {"Id": "1", "Note": "Second", "CreatedTimestamp": "2024-03-01T00:00:00Z"},
                {"Id": "2", "Note": "First", "CreatedTimestamp": "2024-02-01T00:00:00Z"}
            ]
        })
    }

    #[test]
    fn maps_every_attribute_the_gateway_has_a_field_for() {
        let record = full_record();
        let contact = map_contact(record.clone()).unwrap();
        assert_eq!(contact.source_id, "20240115103000123456000000");
        assert_eq!(contact.display_name.as_deref(), Some("Neddy Nederlander"));
        assert_eq!(contact.first_name.as_deref(), Some("Neddy"));
        assert_eq!(contact.last_name.as_deref(), Some("Nederlander"));
        assert_eq!(contact.emails.len(), 2);
        assert_eq!(contact.emails[0].address, "Neddy@Example.com");
        assert!(contact.emails[0].primary);
        assert_eq!(contact.emails[1].label.as_deref(), Some("secondary"));
        let labels: Vec<_> = contact
            .phones
            .iter()
            .map(|phone| phone.label.as_deref().unwrap())
            .collect();
        assert_eq!(labels, ["primary", "mobile", "home", "work", "other"]);
        assert_eq!(contact.phones[0].e164.as_deref(), Some("+13055550100"));
        let address = contact.address.clone().unwrap();
        assert_eq!(address.city.as_deref(), Some("Miami"));
        assert_eq!(address.region.as_deref(), Some("FL"));
        assert_eq!(address.postal_code.as_deref(), Some("33101"));
        assert_eq!(address.country, None);
        assert_eq!(contact.organization.as_deref(), Some("Acme Realty"));
        assert_eq!(contact.title.as_deref(), Some("Buyer"));
        assert_eq!(contact.status.as_deref(), Some("Connected"));
        assert_eq!(contact.tags, ["IDX Lead", "Buyer"]);
        assert_eq!(contact.notes.as_deref(), Some("Second"));
        assert_eq!(
            contact.assigned_to.as_deref(),
            Some("20090815223215294334000000")
        );
        assert_eq!(
            contact.created_at.unwrap().to_rfc3339(),
            "2024-01-15T10:30:00+00:00"
        );
        assert!(contact.updated_at.is_some());
        assert_eq!(contact.contact_type, None);
        assert_eq!(contact.lead_score, None);
        assert_eq!(contact.raw, record);
    }

    #[test]
    fn absent_attributes_stay_absent() {
        let contact = map_contact(json!({"Id": "201010122342756895000000"})).unwrap();
        assert_eq!(contact.display_name, None);
        assert!(contact.emails.is_empty());
        assert!(contact.phones.is_empty());
        assert_eq!(contact.address, None);
        assert!(contact.tags.is_empty());
        assert_eq!(contact.notes, None);
        assert_eq!(contact.created_at, None);
        let blank = map_contact(json!({"Id": "201010122342756895000000", "DisplayName": "  ", "Tags": null, "Notes": []})).unwrap();
        assert_eq!(blank.display_name, None);
        assert!(blank.tags.is_empty());
    }

    #[test]
    fn tolerated_shapes_are_read() {
        let contact = map_contact(json!({
            "Id": 201010122342756895u64,
            "SecondaryEmails": "other@example.com",
            "Tags": "Buyer",
            "Note": "Call after five",
            "CreatedTimestamp": "2012-03-07T20:09:37",
            "ModificationTimestamp": "2012-03-07T20:09:37.250-05:00"
        }))
        .unwrap();
        assert_eq!(contact.source_id, "201010122342756895");
        assert_eq!(contact.emails[0].address, "other@example.com");
        assert!(!contact.emails[0].primary);
        assert_eq!(contact.tags, ["Buyer"]);
        assert_eq!(contact.notes.as_deref(), Some("Call after five"));
        assert_eq!(
            contact.created_at.unwrap().to_rfc3339(),
            "2012-03-07T20:09:37+00:00"
        );
        assert_eq!(
            contact.updated_at.unwrap().to_rfc3339(),
            "2012-03-08T01:09:37.250+00:00"
        );
    }

    #[test]
    fn unusable_records_are_upstream_errors() {
        for record in [
            json!("x"),
            json!({"DisplayName": "No id"}),
            json!({"Id": ""}),
        ] {
            assert!(
                matches!(
                    map_contact(record.clone()),
                    Err(SourceError::Upstream { .. })
                ),
                "{record}"
            );
        }
    }

    #[test]
    fn ids_must_have_24_or_26_digits() {
        assert!(is_spark_id("201010122342756895000000"));
        assert!(is_spark_id("20090815223215294334000000"));
        for bad in [
            "",
            "2010101223427568950000000",
            "20101012234275689500000x",
            "２01010122342756895000000",
            "1",
        ] {
            assert!(!is_spark_id(bad), "{bad}");
        }
    }
}
