//! Open To Close records as they come over the wire, read without building a
//! `serde_json::Value` for them.
//!
//! A list answer is split into the records' JSON texts ([`records_of`]); each
//! record is then read into a borrowed struct of the fields the gateway maps
//! ([`ContactFields`], [`PropertyFields`], [`LinkFields`]), and its text is
//! kept as the record's `raw` form, parsed only if a query asks for it. This
//! reads a W1 answer for a fraction of what parsing every record into a
//! `Value` (an allocation per key, string and object) and copying the mapped
//! fields out of it cost.
//!
//! Every field is a [`Field`], which accepts any JSON value, so that an
//! unexpected type in one field leaves that field empty (as the `Value`
//! lookups did) rather than failing the record.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Number;

use super::unusable;
use crate::sources::SourceError;

/// One field's value, whatever JSON type the upstream sent.
#[derive(Debug, Default)]
pub enum Field<'a> {
    Text(Cow<'a, str>),
    Number(Number),
    Bool(bool),
    /// `null`, an object or an array: nothing the mapping reads.
    #[default]
    Other,
}

impl<'a> Field<'a> {
    /// A string field, trimmed; `None` when absent, blank or not a string.
    pub fn text(&self) -> Option<String> {
        match self {
            Self::Text(text) => Some(text.trim())
                .filter(|text| !text.is_empty())
                .map(str::to_string),
            _ => None,
        }
    }

    /// An RFC 3339 timestamp field.
    pub fn timestamp(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Text(text) => DateTime::parse_from_rfc3339(text.trim())
                .ok()
                .map(|t| t.with_timezone(&Utc)),
            _ => None,
        }
    }

    /// An id as the upstream writes it: a number, or a non-blank string
    /// (trimmed).
    pub fn id(&self) -> Option<String> {
        match self {
            Self::Number(number) => Some(number.to_string()),
            Self::Text(text) if !text.trim().is_empty() => Some(text.trim().to_string()),
            _ => None,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;

        impl<'de> Visitor<'de> for FieldVisitor {
            type Value = Field<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Field::Text(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Field::Text(Cow::Owned(text.to_string())))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
                Ok(Field::Text(Cow::Owned(text)))
            }
            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
                Ok(Field::Bool(value))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
                Ok(Field::Number(value.into()))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
                Ok(Field::Number(value.into()))
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
                Ok(Number::from_f64(value).map_or(Field::Other, Field::Number))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Field::Other)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Field::Other)
            }
            fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Self::Value, D::Error> {
                Deserialize::deserialize(inner)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Field::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Field::Other)
            }
        }

        deserializer.deserialize_any(FieldVisitor)
    }
}

/// The fields of a contact record the mapping reads.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContactFields<'a> {
    #[serde(borrow)]
    pub id: Field<'a>,
    #[serde(borrow)]
    pub first_name: Field<'a>,
    #[serde(borrow)]
    pub last_name: Field<'a>,
    #[serde(borrow)]
    pub email: Field<'a>,
    #[serde(borrow)]
    pub phone: Field<'a>,
    #[serde(borrow)]
    pub address: Field<'a>,
    #[serde(borrow)]
    pub city: Field<'a>,
    #[serde(borrow)]
    pub state: Field<'a>,
    #[serde(borrow)]
    pub zip_code: Field<'a>,
    #[serde(borrow)]
    pub company: Field<'a>,
    #[serde(borrow)]
    pub title: Field<'a>,
    #[serde(borrow)]
    pub contact_type: Field<'a>,
    #[serde(borrow)]
    pub status: Field<'a>,
    #[serde(borrow)]
    pub notes: Field<'a>,
    #[serde(borrow)]
    pub created: Field<'a>,
    #[serde(borrow)]
    pub created_at: Field<'a>,
    #[serde(borrow)]
    pub updated: Field<'a>,
    #[serde(borrow)]
    pub updated_at: Field<'a>,
}

/// The fields of a property record the mapping reads.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PropertyFields<'a> {
    #[serde(borrow)]
    pub id: Field<'a>,
    #[serde(borrow)]
    pub title: Field<'a>,
    #[serde(borrow)]
    pub address: Field<'a>,
    #[serde(borrow)]
    pub city: Field<'a>,
    #[serde(borrow)]
    pub state: Field<'a>,
    #[serde(borrow)]
    pub zip_code: Field<'a>,
    #[serde(borrow)]
    pub postal_code: Field<'a>,
    #[serde(borrow)]
    pub status: Field<'a>,
    #[serde(borrow)]
    pub price: Field<'a>,
    #[serde(borrow)]
    pub created: Field<'a>,
    #[serde(borrow)]
    pub created_at: Field<'a>,
}

/// The fields of a property-contact association the mapping reads, with the
/// nested contact and property left as JSON text.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LinkFields<'a> {
    #[serde(borrow)]
    pub contact_id: Field<'a>,
    #[serde(borrow)]
    pub property_id: Field<'a>,
    #[serde(borrow)]
    pub role: Field<'a>,
    #[serde(borrow)]
    pub primary: Field<'a>,
    #[serde(borrow)]
    pub start_date: Field<'a>,
    #[serde(borrow)]
    pub notes: Field<'a>,
    #[serde(borrow)]
    pub contact: Option<&'a RawValue>,
    #[serde(borrow)]
    pub property: Option<&'a RawValue>,
}

/// Whether `record` is a JSON object.
pub fn is_object(record: &RawValue) -> bool {
    record.get().trim_start().starts_with('{')
}

/// Reads the fields of `record`, an object, or says what `what` was instead.
pub fn fields_of<'a, T: Deserialize<'a>>(
    record: &'a RawValue,
    what: &str,
) -> Result<T, SourceError> {
    if !is_object(record) {
        return Err(unusable(&format!("{what} that is not a JSON object")));
    }
    serde_json::from_str(record.get())
        .map_err(|error| unusable(&format!("{what} that cannot be read: {error}")))
}

/// The records of a list answer: a bare array, or `{"data": [...]}`.
pub fn records_of(body: &RawValue) -> Result<Vec<Box<RawValue>>, SourceError> {
    #[derive(Deserialize)]
    struct Wrapped {
        data: Option<Vec<Box<RawValue>>>,
    }
    let neither = || unusable("a contact list that is neither an array nor {\"data\": [...]}");
    let text = body.get().trim_start();
    if text.starts_with('[') {
        serde_json::from_str(text).map_err(|_| neither())
    } else if text.starts_with('{') {
        serde_json::from_str::<Wrapped>(text)
            .ok()
            .and_then(|wrapped| wrapped.data)
            .ok_or_else(neither)
    } else {
        Err(neither())
    }
}

/// Accepts both the bare record and the `{"data": record}` form.
pub fn unwrap_data(body: Box<RawValue>) -> Box<RawValue> {
    if !is_object(&body) {
        return body;
    }
    // The values stay borrowed from the body: only `data`, when it is the
    // one key, is copied out.
    let data = match serde_json::from_str::<HashMap<Cow<'_, str>, &RawValue>>(body.get()) {
        Ok(map) if map.len() == 1 => map.get("data").map(|data| (*data).to_owned()),
        _ => None,
    };
    data.unwrap_or(body)
}

/// A record's JSON text, as a list answer hands it to the mapping.
#[cfg(test)]
pub fn text_of(record: &serde_json::Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(record).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    #[test]
    fn a_field_takes_any_json_value() {
        let fields: ContactFields = serde_json::from_str(
            r#"{"id": 7, "first_name": " Ann ", "last_name": "", "email": ["x"],
                "phone": {"n": 1}, "city": null, "state": true, "title": "a\"b",
                "zip_code": 1.5, "unknown": [1, {"a": 2}]}"#,
        )
        .unwrap();
        assert_eq!(fields.id.id().as_deref(), Some("7"));
        assert_eq!(fields.first_name.text().as_deref(), Some("Ann"));
        assert_eq!(fields.last_name.text(), None);
        assert_eq!(fields.email.text(), None);
        assert_eq!(fields.phone.text(), None);
        assert_eq!(fields.city.text(), None);
        assert_eq!(fields.state.text(), None);
        assert_eq!(fields.title.text().as_deref(), Some("a\"b"));
        assert_eq!(fields.zip_code.text(), None);
        assert_eq!(fields.company.text(), None);
    }

    #[test]
    fn lists_come_bare_or_wrapped_in_data() {
        assert_eq!(
            records_of(&raw(r#"[{"id": 1}, {"id": 2}]"#)).unwrap().len(),
            2
        );
        assert_eq!(
            records_of(&raw(r#"{"data": [{"id": 1}], "meta": {}}"#))
                .unwrap()
                .len(),
            1
        );
        assert!(records_of(&raw("[]")).unwrap().is_empty());
        for wrong in [r#"{"data": 5}"#, r#"{"items": []}"#, "7", r#""x""#] {
            assert!(
                matches!(records_of(&raw(wrong)), Err(SourceError::Upstream { .. })),
                "{wrong}"
            );
        }
    }

    #[test]
    fn a_record_comes_bare_or_wrapped_in_data() {
        assert_eq!(
            unwrap_data(raw(r#"{"data": {"id": 1}}"#)).get(),
            r#"{"id": 1}"#
        );
        assert_eq!(unwrap_data(raw(r#"{"id": 1}"#)).get(), r#"{"id": 1}"#);
        assert_eq!(
            unwrap_data(raw(r#"{"data": 1, "id": 2}"#)).get(),
            r#"{"data": 1, "id": 2}"#
        );
    }
}
