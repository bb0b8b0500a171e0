//! `GET /v1/contacts`: query parsing, filters, multi-key sort, keyset cursors
//! and sparse fieldsets.
//!
//! **Cursor invariant:** a cursor names a *position* in one sort order (the
//! sort key values and id of the last item served), never an offset. The next
//! page is "every matching contact strictly after that position", so inserts
//! and deletes between pages never make a walk skip or repeat a contact that
//! existed throughout, and the final tie-break on `id` makes every position
//! unique. The cursor carries the canonical sort it was made for and a
//! checksum; a cursor that does not decode or fails its checksum is
//! `invalid_cursor`, one made for another sort is `cursor_sort_mismatch`, both
//! answered as 422 field errors on `cursor`.

use std::cmp::Ordering;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde_json::{json, Value};

use super::errors::FieldError;
use super::model::{
    fnv1a, Contact, ContactEntry, WinnerrData, CONTACT_KEYS, CONTACT_STATUSES, CONTACT_TYPES,
    LEAD_SOURCES,
};

/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 25;
/// Largest `limit` accepted.
pub const MAX_LIMIT: usize = 100;
/// Mixed into cursor checksums so that a hand-built cursor is recognised as forged.
const CURSOR_CHECKSUM_SALT: &str = "winnerr-sandbox-cursor-v1";

/// The decoded query string. A repeated parameter keeps its last value.
#[derive(Debug, Default, Clone)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    /// Decodes a raw query string (`+` is a space; bad escapes and invalid
    /// UTF-8 are kept lossily rather than rejected).
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .unwrap_or("")
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode_component(key), decode_component(value))
            })
            .collect();
        Self { pairs }
    }

    /// The last value given for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }

    /// The value for `key`, treating an empty value as absent.
    fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|value| !value.trim().is_empty())
    }
}

fn decode_component(text: &str) -> String {
    let spaced = text.replace('+', " ");
    String::from_utf8_lossy(&urlencoding::decode_binary(spaced.as_bytes())).into_owned()
}

/// A field contacts can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    CreatedAt,
    UpdatedAt,
    LeadScore,
    FirstName,
    LastName,
    Email,
}

impl SortField {
    const ALL: [SortField; 6] = [
        SortField::CreatedAt,
        SortField::UpdatedAt,
        SortField::LeadScore,
        SortField::FirstName,
        SortField::LastName,
        SortField::Email,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SortField::CreatedAt => "createdAt",
            SortField::UpdatedAt => "updatedAt",
            SortField::LeadScore => "leadScore",
            SortField::FirstName => "firstName",
            SortField::LastName => "lastName",
            SortField::Email => "email",
        }
    }

    fn parse(name: &str) -> Option<SortField> {
        Self::ALL.into_iter().find(|field| field.name() == name)
    }

    /// Whether the key is text (compared case-insensitively) or a number
    /// (timestamps are compared as Unix seconds).
    fn is_text(self) -> bool {
        matches!(
            self,
            SortField::FirstName | SortField::LastName | SortField::Email
        )
    }

    /// The value this field contributes to a contact's sort position. Text is
    /// trimmed and lower-cased, so `" Ann@X.com "` sorts as `ann@x.com`.
    fn key(self, contact: &Contact) -> SortValue {
        match self {
            SortField::CreatedAt => SortValue::Integer(contact.created_at.timestamp()),
            SortField::UpdatedAt => SortValue::Integer(contact.updated_at.timestamp()),
            SortField::LeadScore => SortValue::Integer(contact.lead_score),
            SortField::FirstName => SortValue::Text(contact.first_name.trim().to_lowercase()),
            SortField::LastName => SortValue::Text(contact.last_name.trim().to_lowercase()),
            SortField::Email => SortValue::Text(contact.email.trim().to_lowercase()),
        }
    }
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ascending,
    Descending,
}

/// One sort key's value for one contact.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SortValue {
    Integer(i64),
    Text(String),
}

impl SortValue {
    fn to_json(&self) -> Value {
        match self {
            SortValue::Integer(number) => json!(number),
            SortValue::Text(text) => json!(text),
        }
    }
}

/// Where a contact sits in a sort order: its key values, then its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub values: Vec<SortValue>,
    pub id: String,
}

/// A parsed `sort` parameter: one or more keys, each used once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortSpec {
    keys: Vec<(SortField, Direction)>,
}

impl Default for SortSpec {
    /// Newest first.
    fn default() -> Self {
        Self {
            keys: vec![(SortField::CreatedAt, Direction::Descending)],
        }
    }
}

impl SortSpec {
    /// Parses `createdAt:desc,leadScore:desc`. A key without a direction is
    /// ascending; directions are case-insensitive; field names are not.
    pub fn parse(text: &str) -> Result<SortSpec, FieldError> {
        let mut keys: Vec<(SortField, Direction)> = Vec::new();
        for part in text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let (name, direction) = part.split_once(':').unwrap_or((part, "asc"));
            let Some(field) = SortField::parse(name.trim()) else {
                let allowed: Vec<&str> = SortField::ALL.iter().map(|f| f.name()).collect();
                return Err(FieldError::new(
                    "sort",
                    "invalid_sort",
                    format!(
                        "Cannot sort by '{}'; sortable fields are: {}",
                        name.trim(),
                        allowed.join(", ")
                    ),
                ));
            };
            let direction = match direction.trim().to_ascii_lowercase().as_str() {
                "asc" => Direction::Ascending,
                "desc" => Direction::Descending,
                other => {
                    return Err(FieldError::new(
                        "sort",
                        "invalid_sort",
                        format!("Sort direction '{other}' must be 'asc' or 'desc'"),
                    ))
                }
            };
            if keys.iter().any(|(existing, _)| *existing == field) {
                return Err(FieldError::new(
                    "sort",
                    "invalid_sort",
                    format!("Sort field '{}' is given more than once", field.name()),
                ));
            }
            keys.push((field, direction));
        }
        if keys.is_empty() {
            return Ok(SortSpec::default());
        }
        Ok(SortSpec { keys })
    }

    /// `createdAt:desc,leadScore:asc`: what a cursor is bound to.
    pub fn canonical(&self) -> String {
        self.keys
            .iter()
            .map(|(field, direction)| {
                let direction = match direction {
                    Direction::Ascending => "asc",
                    Direction::Descending => "desc",
                };
                format!("{}:{direction}", field.name())
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn position(&self, contact: &Contact) -> Position {
        Position {
            values: self
                .keys
                .iter()
                .map(|(field, _)| field.key(contact))
                .collect(),
            id: contact.id.clone(),
        }
    }

    /// The total order: each key in its direction, then id ascending.
    pub fn compare(&self, a: &Position, b: &Position) -> Ordering {
        for (index, (_, direction)) in self.keys.iter().enumerate() {
            let ordering = match (a.values.get(index), b.values.get(index)) {
                (Some(left), Some(right)) => left.cmp(right),
                _ => Ordering::Equal,
            };
            let ordering = match direction {
                Direction::Ascending => ordering,
                Direction::Descending => ordering.reverse(),
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        a.id.cmp(&b.id)
    }

    /// The opaque cursor for "after `position`" in this order: URL-safe
    /// base64 (no padding) of a small JSON document.
    pub fn encode_cursor(&self, position: &Position) -> String {
        let sort = self.canonical();
        let after = Value::Array(position.values.iter().map(SortValue::to_json).collect());
        let check = cursor_checksum(&sort, &after, &position.id);
        let document = json!({ "sort": sort, "after": after, "id": position.id, "check": check });
        URL_SAFE_NO_PAD.encode(document.to_string())
    }

    /// Reads a cursor made by [`SortSpec::encode_cursor`] for this same order.
    /// Standard and URL-safe base64, padded or not, are both accepted.
    pub fn decode_cursor(&self, token: &str) -> Result<Position, FieldError> {
        let invalid = || {
            FieldError::new(
                "cursor",
                "invalid_cursor",
                "Cursor is invalid or has been modified",
            )
        };
        let normalized: String = token
            .trim()
            .trim_end_matches('=')
            .chars()
            .map(|c| match c {
                '+' => '-',
                '/' => '_',
                other => other,
            })
            .collect();
        let bytes = URL_SAFE_NO_PAD.decode(normalized).map_err(|_| invalid())?;
        let document: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        let sort = document["sort"].as_str().ok_or_else(invalid)?;
        let id = document["id"].as_str().ok_or_else(invalid)?;
        let check = document["check"].as_str().ok_or_else(invalid)?;
        let after = &document["after"];
        if check != cursor_checksum(sort, after, id) {
            return Err(invalid());
        }
        if sort != self.canonical() {
            return Err(FieldError::new(
                "cursor",
                "cursor_sort_mismatch",
                format!(
                    "Cursor was issued for sort '{sort}' and cannot be used with sort '{}'",
                    self.canonical()
                ),
            ));
        }
        let raw_values = after.as_array().ok_or_else(invalid)?;
        if raw_values.len() != self.keys.len() {
            return Err(invalid());
        }
        let values = self
            .keys
            .iter()
            .zip(raw_values)
            .map(|((field, _), raw)| {
                if field.is_text() {
                    raw.as_str().map(|text| SortValue::Text(text.to_string()))
                } else {
                    raw.as_i64().map(SortValue::Integer)
                }
            })
            .collect::<Option<Vec<SortValue>>>()
            .ok_or_else(invalid)?;
        Ok(Position {
            values,
            id: id.to_string(),
        })
    }
}

fn cursor_checksum(sort: &str, after: &Value, id: &str) -> String {
    let text = format!("{CURSOR_CHECKSUM_SALT}|{sort}|{after}|{id}");
    format!("{:016x}", fnv1a(text.as_bytes()))
}

/// The `include` parameter: related arrays added to each contact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Includes {
    pub deals: bool,
    pub communications: bool,
    pub activities: bool,
}

/// How to present each contact: related arrays and a sparse fieldset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Presentation {
    pub include: Includes,
    /// `None` means every field.
    pub fields: Option<Vec<String>>,
}

impl Presentation {
    /// Reads `include` and `fields` (used by the list and the detail view).
    pub fn parse(params: &QueryParams, errors: &mut Vec<FieldError>) -> Presentation {
        let mut include = Includes::default();
        if let Some(text) = params.non_empty("include") {
            for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                match name {
                    "deals" => include.deals = true,
                    "communications" => include.communications = true,
                    "activities" => include.activities = true,
                    other => errors.push(FieldError::new(
                        "include",
                        "invalid_include",
                        format!(
                            "Cannot include '{other}'; includable relations are: deals, communications, activities"
                        ),
                    )),
                }
            }
        }
        let fields = params.non_empty("fields").map(|text| {
            let mut fields: Vec<String> = Vec::new();
            for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                if !CONTACT_KEYS.contains(&name) {
                    errors.push(FieldError::new(
                        "fields",
                        "invalid_field",
                        format!("Unknown field '{name}'"),
                    ));
                } else if !fields.iter().any(|existing| existing == name) {
                    fields.push(name.to_string());
                }
            }
            fields
        });
        Presentation { include, fields }
    }

    /// One contact as served: its fields (all, or `id` plus those asked for),
    /// then the included arrays.
    pub fn render(&self, entry: &ContactEntry) -> Value {
        let mut object = entry.contact.to_json();
        if let Some(fields) = &self.fields {
            object.retain(|key, _| key == "id" || fields.iter().any(|field| field == key));
        }
        if self.include.deals {
            object.insert("deals".into(), json!(entry.deals));
        }
        if self.include.communications {
            object.insert("communications".into(), json!(entry.communications));
        }
        if self.include.activities {
            let activities: Vec<Value> = entry
                .activities_newest_first()
                .into_iter()
                .map(|activity| activity.to_json())
                .collect();
            object.insert("activities".into(), Value::Array(activities));
        }
        Value::Object(object)
    }
}

/// The list filters; all given filters must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub types: Option<Vec<String>>,
    pub statuses: Option<Vec<String>>,
    pub sources: Option<Vec<String>>,
    pub assigned_to: Option<String>,
    /// Any of these tags (compared in lower case).
    pub tags: Option<Vec<String>>,
    pub lead_score_min: Option<i64>,
    pub lead_score_max: Option<i64>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
}

impl Filters {
    pub fn matches(&self, contact: &Contact) -> bool {
        let in_list = |list: &Option<Vec<String>>, value: Option<&str>| {
            list.as_ref()
                .is_none_or(|list| value.is_some_and(|value| list.iter().any(|item| item == value)))
        };
        in_list(&self.types, Some(&contact.contact_type))
            && in_list(&self.statuses, Some(&contact.status))
            && in_list(&self.sources, contact.source.as_deref())
            && self
                .assigned_to
                .as_ref()
                .is_none_or(|agent| contact.assigned_to.as_ref() == Some(agent))
            && self.tags.as_ref().is_none_or(|tags| {
                contact
                    .tags
                    .iter()
                    .any(|tag| tags.iter().any(|wanted| *wanted == tag.to_lowercase()))
            })
            && self
                .lead_score_min
                .is_none_or(|min| contact.lead_score >= min)
            && self
                .lead_score_max
                .is_none_or(|max| contact.lead_score <= max)
            && self
                .created_from
                .is_none_or(|from| contact.created_at >= from)
            && self.created_to.is_none_or(|to| contact.created_at <= to)
    }
}

/// A fully validated list request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    pub limit: usize,
    pub after: Option<Position>,
    pub filters: Filters,
    pub sort: SortSpec,
    pub presentation: Presentation,
}

impl ListRequest {
    /// Validates every list parameter, collecting all problems at once.
    pub fn parse(params: &QueryParams) -> Result<ListRequest, Vec<FieldError>> {
        let mut errors = Vec::new();
        let limit = match params.get("limit") {
            None => DEFAULT_LIMIT,
            Some(text) => match text.trim().parse::<i64>() {
                Ok(number) if (1..=MAX_LIMIT as i64).contains(&number) => number as usize,
                Ok(_) => {
                    errors.push(FieldError::new(
                        "limit",
                        "out_of_range",
                        format!("limit must be between 1 and {MAX_LIMIT}"),
                    ));
                    DEFAULT_LIMIT
                }
                Err(_) => {
                    errors.push(FieldError::new(
                        "limit",
                        "invalid_integer",
                        "limit must be an integer",
                    ));
                    DEFAULT_LIMIT
                }
            },
        };
        let sort = match params.non_empty("sort").map(SortSpec::parse) {
            None => Some(SortSpec::default()),
            Some(Ok(sort)) => Some(sort),
            Some(Err(error)) => {
                errors.push(error);
                None
            }
        };
        // A cursor can only be checked against a valid sort.
        let after = match (params.non_empty("cursor"), &sort) {
            (Some(token), Some(sort)) => match sort.decode_cursor(token) {
                Ok(position) => Some(position),
                Err(error) => {
                    errors.push(error);
                    None
                }
            },
            _ => None,
        };
        let filters = Filters {
            types: enum_list(params, "type", CONTACT_TYPES, &mut errors),
            statuses: enum_list(params, "status", CONTACT_STATUSES, &mut errors),
            sources: enum_list(params, "source", LEAD_SOURCES, &mut errors),
            assigned_to: params.non_empty("assignedTo").map(|a| a.trim().to_string()),
            tags: params
                .non_empty("tags")
                .map(|text| {
                    text.split(',')
                        .map(|tag| tag.trim().to_lowercase())
                        .filter(|tag| !tag.is_empty())
                        .collect::<Vec<String>>()
                })
                .filter(|tags| !tags.is_empty()),
            lead_score_min: integer_param(params, "leadScore[gte]", &mut errors),
            lead_score_max: integer_param(params, "leadScore[lte]", &mut errors),
            created_from: datetime_param(params, "createdAt[gte]", false, &mut errors),
            created_to: datetime_param(params, "createdAt[lte]", true, &mut errors),
        };
        let presentation = Presentation::parse(params, &mut errors);
        match sort {
            Some(sort) if errors.is_empty() => Ok(ListRequest {
                limit,
                after,
                filters,
                sort,
                presentation,
            }),
            _ => Err(errors),
        }
    }
}

fn enum_list(
    params: &QueryParams,
    key: &str,
    allowed: &[&str],
    errors: &mut Vec<FieldError>,
) -> Option<Vec<String>> {
    let text = params.non_empty(key)?;
    let mut values = Vec::new();
    for value in text.split(',').map(str::trim).filter(|v| !v.is_empty()) {
        if allowed.contains(&value) {
            values.push(value.to_string());
        } else {
            errors.push(FieldError::new(
                key,
                "invalid_value",
                format!("{key} must be one of: {}", allowed.join(", ")),
            ));
        }
    }
    // Only separators (`type=,`) filter nothing, like an empty value.
    (!values.is_empty()).then_some(values)
}

fn integer_param(params: &QueryParams, key: &str, errors: &mut Vec<FieldError>) -> Option<i64> {
    let text = params.non_empty(key)?;
    match text.trim().parse::<i64>() {
        Ok(number) => Some(number),
        Err(_) => {
            errors.push(FieldError::new(
                key,
                "invalid_integer",
                format!("{key} must be an integer"),
            ));
            None
        }
    }
}

fn datetime_param(
    params: &QueryParams,
    key: &str,
    end_of_day: bool,
    errors: &mut Vec<FieldError>,
) -> Option<DateTime<Utc>> {
    let text = params.non_empty(key)?;
    let parsed = parse_iso8601(text, end_of_day);
    if parsed.is_none() {
        errors.push(FieldError::new(
            key,
            "invalid_datetime",
            format!("{key} must be an ISO 8601 date or date-time"),
        ));
    }
    parsed
}

/// Reads an ISO 8601 date-time with an offset (`2024-01-15T10:30:00Z`,
/// `...+02:00`), one without (taken as UTC), or a bare date (`2024-01-15`),
/// which means the start of that day, or its last second when `end_of_day`.
pub fn parse_iso8601(text: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Some(instant.with_timezone(&Utc));
    }
    if let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(naive.and_utc());
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let time = if end_of_day {
        NaiveTime::from_hms_opt(23, 59, 59)?
    } else {
        NaiveTime::MIN
    };
    Some(date.and_time(time).and_utc())
}

/// One page of results.
pub struct ListPage<'a> {
    pub entries: Vec<&'a ContactEntry>,
    /// All contacts matching the filters, whatever the cursor.
    pub total: usize,
    pub next_cursor: Option<String>,
}

/// Filters, sorts, and cuts the page after the cursor's position.
pub fn list_page<'a>(data: &'a WinnerrData, request: &ListRequest) -> ListPage<'a> {
    let mut matching: Vec<(Position, &ContactEntry)> = data
        .contacts
        .values()
        .filter(|entry| request.filters.matches(&entry.contact))
        .map(|entry| (request.sort.position(&entry.contact), entry))
        .collect();
    let total = matching.len();
    matching.sort_by(|a, b| request.sort.compare(&a.0, &b.0));
    let start = match &request.after {
        None => 0,
        Some(after) => {
            matching.partition_point(|(position, _)| request.sort.compare(position, after).is_le())
        }
    };
    let remaining = &matching[start..];
    let page = &remaining[..remaining.len().min(request.limit)];
    let next_cursor = (remaining.len() > page.len())
        .then(|| page.last())
        .flatten()
        .map(|(position, _)| request.sort.encode_cursor(position));
    ListPage {
        entries: page.iter().map(|(_, entry)| *entry).collect(),
        total,
        next_cursor,
    }
}

/// The list envelope.
pub fn list_envelope(page: &ListPage<'_>, request: &ListRequest) -> Value {
    let data: Vec<Value> = page
        .entries
        .iter()
        .map(|entry| request.presentation.render(entry))
        .collect();
    json!({
        "success": true,
        "data": data,
        "pagination": {
            "hasMore": page.next_cursor.is_some(),
            "nextCursor": page.next_cursor,
            "total": page.total,
            "limit": request.limit,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::people::World;
    use crate::sandbox::winnerr::model::seed;
    use base64::engine::general_purpose::STANDARD;

    fn sample_data() -> WinnerrData {
        seed(&World::generate(1))
    }

    fn position(values: Vec<SortValue>, id: &str) -> Position {
        Position {
            values,
            id: id.to_string(),
        }
    }

    #[test]
    fn sort_parsing_defaults_and_errors() {
        assert_eq!(SortSpec::parse("").unwrap().canonical(), "createdAt:desc");
        assert_eq!(
            SortSpec::parse("createdAt:desc, leadScore:DESC,lastName")
                .unwrap()
                .canonical(),
            "createdAt:desc,leadScore:desc,lastName:asc"
        );
        assert_eq!(
            SortSpec::parse("phone:asc").unwrap_err().code,
            "invalid_sort"
        );
        assert_eq!(
            SortSpec::parse("email:sideways").unwrap_err().code,
            "invalid_sort"
        );
        assert_eq!(
            SortSpec::parse("email,email:desc").unwrap_err().code,
            "invalid_sort"
        );
    }

    #[test]
    fn compare_applies_directions_then_id() {
        let sort = SortSpec::parse("leadScore:desc,lastName:asc").unwrap();
        let a = position(
            vec![SortValue::Integer(80), SortValue::Text("adams".into())],
            "contact_b",
        );
        let b = position(
            vec![SortValue::Integer(70), SortValue::Text("adams".into())],
            "contact_a",
        );
        let c = position(
            vec![SortValue::Integer(80), SortValue::Text("baker".into())],
            "contact_a",
        );
        let d = position(
            vec![SortValue::Integer(80), SortValue::Text("adams".into())],
            "contact_c",
        );
        assert_eq!(sort.compare(&a, &b), Ordering::Less);
        assert_eq!(sort.compare(&a, &c), Ordering::Less);
        assert_eq!(sort.compare(&a, &d), Ordering::Less);
        assert_eq!(sort.compare(&a, &a), Ordering::Equal);
    }

    #[test]
    fn cursor_round_trips_and_rejects_tampering_and_other_sorts() {
        let sort = SortSpec::parse("email:asc,createdAt:desc").unwrap();
        let original = position(
            vec![
                SortValue::Text("ann@x.com".into()),
                SortValue::Integer(1_700_000_000),
            ],
            "contact_1",
        );
        let token = sort.encode_cursor(&original);
        assert!(!token.contains(['+', '/', '=']));
        assert_eq!(sort.decode_cursor(&token).unwrap(), original);
        // Standard base64 with padding decodes too.
        let bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        assert_eq!(
            sort.decode_cursor(&STANDARD.encode(&bytes)).unwrap(),
            original
        );

        let other = SortSpec::parse("email:desc,createdAt:desc").unwrap();
        assert_eq!(
            other.decode_cursor(&token).unwrap_err().code,
            "cursor_sort_mismatch"
        );

        let mut document: Value = serde_json::from_slice(&bytes).unwrap();
        document["id"] = json!("contact_2");
        let forged = URL_SAFE_NO_PAD.encode(document.to_string());
        assert_eq!(
            sort.decode_cursor(&forged).unwrap_err().code,
            "invalid_cursor"
        );
        for garbage in ["", "!!!", "bm90IGpzb24", "eyJpZCI6IjEyNCJ9"] {
            assert_eq!(
                sort.decode_cursor(garbage).unwrap_err().code,
                "invalid_cursor",
                "{garbage}"
            );
        }
    }

    #[test]
    fn query_params_decode_brackets_and_keep_the_last_value() {
        let params = QueryParams::parse(Some("leadScore%5Bgte%5D=80&a=1&a=2&q=a+b%20c&bad=%ZZ"));
        assert_eq!(params.get("leadScore[gte]"), Some("80"));
        assert_eq!(params.get("a"), Some("2"));
        assert_eq!(params.get("q"), Some("a b c"));
        assert_eq!(params.get("bad"), Some("%ZZ"));
        assert_eq!(params.get("missing"), None);
    }

    #[test]
    fn iso8601_forms() {
        let start = parse_iso8601("2024-01-15", false).unwrap();
        let end = parse_iso8601("2024-01-15", true).unwrap();
        assert_eq!(start.to_rfc3339(), "2024-01-15T00:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2024-01-15T23:59:59+00:00");
        assert_eq!(
            parse_iso8601("2024-01-15T12:00:00+02:00", false)
                .unwrap()
                .to_rfc3339(),
            "2024-01-15T10:00:00+00:00"
        );
        assert!(parse_iso8601("2024-01-15T10:30:00", false).is_some());
        assert!(parse_iso8601("yesterday", false).is_none());
        assert!(parse_iso8601("2024-13-40", false).is_none());
    }

    #[test]
    fn paging_visits_every_contact_once_even_when_data_changes() {
        let mut data = sample_data();
        let params = QueryParams::parse(Some("limit=7&sort=leadScore:desc,lastName:asc"));
        let mut request = ListRequest::parse(&params).unwrap();
        let expected_total = data.contacts.len();
        let mut seen: Vec<String> = Vec::new();
        let mut deleted: Vec<String> = Vec::new();
        loop {
            let page = list_page(&data, &request);
            assert_eq!(page.total + deleted.len(), expected_total);
            seen.extend(page.entries.iter().map(|entry| entry.contact.id.clone()));
            let Some(cursor) = page.next_cursor else {
                break;
            };
            // Delete the last contact served: the cursor must still work.
            let last = seen.last().unwrap().clone();
            data.contacts.remove(&last);
            deleted.push(last);
            request.after = Some(request.sort.decode_cursor(&cursor).unwrap());
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len());
        assert_eq!(seen.len(), expected_total);
    }

    #[test]
    fn list_parameters_are_validated_together() {
        let params = QueryParams::parse(Some(
            "limit=0&type=LEAD,BUYER&leadScore[gte]=high&createdAt[lte]=soon&include=notes&fields=id,shoeSize",
        ));
        let errors = ListRequest::parse(&params).unwrap_err();
        let codes: Vec<(&str, &str)> = errors
            .iter()
            .map(|error| (error.field.as_str(), error.code))
            .collect();
        assert_eq!(
            codes,
            vec![
                ("limit", "out_of_range"),
                ("type", "invalid_value"),
                ("leadScore[gte]", "invalid_integer"),
                ("createdAt[lte]", "invalid_datetime"),
                ("include", "invalid_include"),
                ("fields", "invalid_field"),
            ]
        );
    }
}
