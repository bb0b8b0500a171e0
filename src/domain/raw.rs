//! Upstream records kept exactly as the upstream sent them.

use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::Value;

/// An upstream record exactly as the upstream sent it. Adapters that read
/// their records as [`Value`] keep that; others keep the record's JSON text,
/// which is parsed only when someone asks for it (the `raw` field), since
/// most queries never do and parsing every record into a [`Value`] costs
/// more than the rest of the mapping. Either is shared, not copied, when a
/// contact is cloned (as every read served from the cache does).
#[derive(Debug, Clone)]
pub enum RawRecord {
    Parsed(Arc<Value>),
    /// JSON text, checked to be JSON when it was read.
    Text(Arc<str>),
}

impl RawRecord {
    /// The record as a JSON value.
    pub fn to_value(&self) -> Value {
        match self {
            Self::Parsed(value) => Value::clone(value),
            // The text was checked to be JSON when it was read.
            Self::Text(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        }
    }

    /// One top-level field of the record, when the record is an object.
    pub fn field(&self, key: &str) -> Option<Value> {
        match self {
            Self::Parsed(value) => value.get(key).cloned(),
            Self::Text(_) => self.to_value().get_mut(key).map(Value::take),
        }
    }
}

impl Default for RawRecord {
    fn default() -> Self {
        Self::Parsed(Arc::new(Value::Null))
    }
}

impl From<Value> for RawRecord {
    fn from(value: Value) -> Self {
        Self::Parsed(Arc::new(value))
    }
}

impl From<Box<RawValue>> for RawRecord {
    fn from(text: Box<RawValue>) -> Self {
        Self::Text(Arc::from(text.get()))
    }
}

impl PartialEq for RawRecord {
    fn eq(&self, other: &Self) -> bool {
        self.to_value() == other.to_value()
    }
}

impl PartialEq<Value> for RawRecord {
    fn eq(&self, other: &Value) -> bool {
        match self {
            Self::Parsed(value) => value.as_ref() == other,
            Self::Text(_) => &self.to_value() == other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_and_parsed_records_read_the_same() {
        let value = json!({"id": 7, "name": "Ann", "tags": ["a"], "nested": {"x": null}});
        let text = RawRecord::from(serde_json::value::to_raw_value(&value).unwrap());
        let parsed = RawRecord::from(value.clone());
        assert_eq!(text, value);
        assert_eq!(text, parsed);
        assert_eq!(text.field("name"), Some(json!("Ann")));
        assert_eq!(parsed.field("nested"), Some(json!({"x": null})));
        assert_eq!(text.field("missing"), None);
        assert_eq!(RawRecord::default(), Value::Null);
    }
}
