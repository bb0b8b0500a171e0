//! The `_filter` language of the Spark API (SparkQL): parser and evaluator.
//!
//! (Interface only; the parser lands with its tests.)

use serde_json::{Map, Value};

/// The type of a searchable attribute, which decides the operators it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Takes `Eq` and `Ne` only; supports `*` wildcards.
    Text,
    /// A list of text values (`Tags`): matches when any element matches.
    TextList,
    /// A timestamp or date: all comparison operators and `Bt`.
    Timestamp,
    Boolean,
    Integer,
}

/// A parsed filter, ready to evaluate against records.
#[derive(Debug, Clone)]
pub struct Filter {}

/// Why a filter was rejected; answered as Spark code 1040.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub message: String,
}

/// Parses `input`. `field_type` names the searchable attributes and their types;
/// any other attribute is an error.
pub fn parse(
    input: &str,
    field_type: &dyn Fn(&str) -> Option<FieldType>,
) -> Result<Filter, FilterError> {
    let _ = (input, field_type);
    Err(FilterError {
        message: "filters are not supported yet".to_string(),
    })
}

impl Filter {
    /// Whether `record` (a Spark contact in its wire form) satisfies the filter.
    pub fn matches(&self, record: &Map<String, Value>) -> bool {
        let _ = record;
        false
    }
}
