//! Validation of request bodies: contact create/update, bulk updates,
//! activities and tags.
//!
//! Bodies are read as raw bytes and parsed here, so that every problem is
//! answered in the Winnerr envelope: a body that is not a JSON object is 400,
//! a well-formed object with bad fields is 422 listing every bad field.
//! Unknown keys are ignored (the seed's own example sends
//! `calculateLeadScore: true`), and so are read-only keys such as `id`,
//! `leadScore` and `createdAt`.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::errors::{ApiError, FieldError};
use super::listing::parse_iso8601;
use super::model::{
    Address, Contact, Preferences, PriceRange, ACTIVITY_TYPES, COMMUNICATION_METHODS,
    CONTACT_STATUSES, CONTACT_TYPES, LEAD_SOURCES, PROPERTY_TYPES,
};

/// Most contact ids one bulk request may name.
pub const MAX_BULK_IDS: usize = 100;
const MAX_NAME_LENGTH: usize = 100;
const MAX_TAG_LENGTH: usize = 50;
const MAX_NOTES_LENGTH: usize = 10_000;
const MAX_TEXT_LENGTH: usize = 200;
const MAX_DESCRIPTION_LENGTH: usize = 2_000;

/// Parses a body that must be a JSON object.
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(ApiError::MalformedBody),
    }
}

/// Which request the contact fields come from: creation requires the names
/// and email, updates make everything optional, and bulk updates may not
/// change the (unique) email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeMode {
    Create,
    Update,
    Bulk,
}

/// Validated contact fields. `Some(None)` clears a nullable field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactChanges {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<Option<String>>,
    pub secondary_phone: Option<Option<String>>,
    pub address: Option<Option<Address>>,
    pub contact_type: Option<String>,
    pub status: Option<String>,
    pub source: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub notes: Option<Option<String>>,
    pub preferences: Option<Preferences>,
    pub assigned_to: Option<Option<String>>,
}

impl ContactChanges {
    /// Reads the contact fields of `body`; `prefix` names nested fields in
    /// errors (`updates.` for bulk).
    pub fn parse(
        body: &Map<String, Value>,
        mode: ChangeMode,
        prefix: &str,
    ) -> Result<ContactChanges, Vec<FieldError>> {
        let mut check = Checker {
            errors: Vec::new(),
            prefix,
        };
        let required = mode == ChangeMode::Create;
        let changes = ContactChanges {
            first_name: check.name(body, "firstName", required),
            last_name: check.name(body, "lastName", required),
            email: match (mode, body.get("email")) {
                (ChangeMode::Bulk, Some(_)) => {
                    check.push(
                        "email",
                        "not_allowed",
                        "email cannot be changed in a bulk update",
                    );
                    None
                }
                _ => check.email(body, required),
            },
            phone: check.nullable(body, "phone", Checker::phone),
            secondary_phone: check.nullable(body, "secondaryPhone", Checker::phone),
            address: check.nullable(body, "address", Checker::address),
            contact_type: check.enumerated(body, "type", CONTACT_TYPES),
            status: check.enumerated(body, "status", CONTACT_STATUSES),
            source: check.nullable(body, "source", |check, field, value| {
                check.enum_value(field, value, LEAD_SOURCES)
            }),
            tags: match body.get("tags") {
                None => None,
                Some(Value::Null) => Some(Vec::new()),
                Some(value) => check.tag_list("tags", value, false),
            },
            notes: check.nullable(body, "notes", |check, field, value| {
                check.text(field, value, MAX_NOTES_LENGTH)
            }),
            preferences: match body.get("preferences") {
                None => None,
                Some(Value::Null) => Some(Preferences::default()),
                Some(value) => check.preferences(value),
            },
            assigned_to: check.nullable(body, "assignedTo", Checker::agent),
        };
        if check.errors.is_empty() {
            Ok(changes)
        } else {
            Err(check.errors)
        }
    }

    /// Whether nothing at all would change.
    pub fn is_empty(&self) -> bool {
        *self == ContactChanges::default()
    }

    /// A new contact from a validated create body (type defaults to LEAD,
    /// status to ACTIVE).
    pub fn into_new_contact(
        self,
        id: String,
        organization_id: String,
        now: DateTime<Utc>,
    ) -> Contact {
        let mut contact = Contact {
            id,
            organization_id,
            first_name: String::new(),
            last_name: String::new(),
            email: String::new(),
            phone: None,
            secondary_phone: None,
            address: None,
            contact_type: "LEAD".to_string(),
            status: "ACTIVE".to_string(),
            source: None,
            lead_score: 0,
            tags: Vec::new(),
            notes: None,
            preferences: Preferences::default(),
            assigned_to: None,
            created_at: now,
            updated_at: now,
            last_contacted_at: None,
        };
        self.apply(&mut contact, now);
        contact
    }

    /// Applies the changes, recomputes the lead score and stamps `updatedAt`.
    pub fn apply(self, contact: &mut Contact, now: DateTime<Utc>) {
        if let Some(value) = self.first_name {
            contact.first_name = value;
        }
        if let Some(value) = self.last_name {
            contact.last_name = value;
        }
        if let Some(value) = self.email {
            contact.email = value;
        }
        if let Some(value) = self.phone {
            contact.phone = value;
        }
        if let Some(value) = self.secondary_phone {
            contact.secondary_phone = value;
        }
        if let Some(value) = self.address {
            contact.address = value;
        }
        if let Some(value) = self.contact_type {
            contact.contact_type = value;
        }
        if let Some(value) = self.status {
            contact.status = value;
        }
        if let Some(value) = self.source {
            contact.source = value;
        }
        if let Some(value) = self.tags {
            contact.tags = value;
        }
        if let Some(value) = self.notes {
            contact.notes = value;
        }
        if let Some(value) = self.preferences {
            contact.preferences = value;
        }
        if let Some(value) = self.assigned_to {
            contact.assigned_to = value;
        }
        contact.updated_at = now;
        contact.refresh_lead_score();
    }
}

/// A validated `POST /v1/contacts/{id}/activities` body.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityInput {
    pub activity_type: String,
    pub description: String,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub metadata: Map<String, Value>,
}

impl ActivityInput {
    /// `type` and `description` are required; `scheduledAt` and `metadata`
    /// are optional (null is the same as absent).
    pub fn parse(body: &Map<String, Value>) -> Result<ActivityInput, Vec<FieldError>> {
        let mut check = Checker {
            errors: Vec::new(),
            prefix: "",
        };
        let activity_type = match body.get("type") {
            None | Some(Value::Null) => {
                check.push("type", "required", "type is required");
                None
            }
            Some(value) => check.enum_value("type", value, ACTIVITY_TYPES),
        };
        let description = match body.get("description") {
            None | Some(Value::Null) => {
                check.push("description", "required", "description is required");
                None
            }
            Some(Value::String(text)) if text.trim().is_empty() => {
                check.push("description", "required", "description is required");
                None
            }
            Some(value) => check.text("description", value, MAX_DESCRIPTION_LENGTH),
        };
        let scheduled_at = match body.get("scheduledAt") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => {
                let parsed = parse_iso8601(text, false);
                if parsed.is_none() {
                    check.push(
                        "scheduledAt",
                        "invalid_datetime",
                        "scheduledAt must be an ISO 8601 date-time",
                    );
                }
                parsed
            }
            Some(_) => {
                check.push(
                    "scheduledAt",
                    "invalid_type",
                    "scheduledAt must be a string",
                );
                None
            }
        };
        let metadata = match body.get("metadata") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(object)) => object.clone(),
            Some(_) => {
                check.push("metadata", "invalid_type", "metadata must be an object");
                Map::new()
            }
        };
        match (activity_type, description) {
            (Some(activity_type), Some(description)) if check.errors.is_empty() => {
                Ok(ActivityInput {
                    activity_type,
                    description,
                    scheduled_at,
                    metadata,
                })
            }
            _ => Err(check.errors),
        }
    }
}

/// The tags of a `POST /v1/contacts/{id}/tags` body: a non-empty array of
/// non-empty strings, trimmed, lower-cased and de-duplicated.
pub fn tags_to_add(body: &Map<String, Value>) -> Result<Vec<String>, Vec<FieldError>> {
    let mut check = Checker {
        errors: Vec::new(),
        prefix: "",
    };
    let tags = match body.get("tags") {
        None | Some(Value::Null) => {
            check.push("tags", "required", "tags is required");
            None
        }
        Some(value) => check.tag_list("tags", value, true),
    };
    match tags {
        Some(tags) if check.errors.is_empty() => Ok(tags),
        _ => Err(check.errors),
    }
}

/// A validated `PATCH /v1/contacts/bulk` body.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkInput {
    pub contact_ids: Vec<String>,
    pub updates: ContactChanges,
}

impl BulkInput {
    /// `contactIds`: 1 to 100 strings; `updates`: a non-empty object with the
    /// fields of an update except `email`.
    pub fn parse(body: &Map<String, Value>) -> Result<BulkInput, Vec<FieldError>> {
        let mut check = Checker {
            errors: Vec::new(),
            prefix: "",
        };
        let contact_ids = match body.get("contactIds") {
            None | Some(Value::Null) => {
                check.push("contactIds", "required", "contactIds is required");
                None
            }
            Some(Value::Array(items)) if items.is_empty() => {
                check.push("contactIds", "empty", "contactIds must not be empty");
                None
            }
            Some(Value::Array(items)) if items.len() > MAX_BULK_IDS => {
                check.push(
                    "contactIds",
                    "too_many",
                    format!("contactIds must contain at most {MAX_BULK_IDS} IDs"),
                );
                None
            }
            Some(Value::Array(items)) => {
                let mut ids = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    match item.as_str().map(str::trim) {
                        Some(id) if !id.is_empty() => ids.push(id.to_string()),
                        _ => check.push(
                            &format!("contactIds[{index}]"),
                            "invalid_type",
                            "each contact ID must be a non-empty string",
                        ),
                    }
                }
                Some(ids)
            }
            Some(_) => {
                check.push("contactIds", "invalid_type", "contactIds must be an array");
                None
            }
        };
        let updates = match body.get("updates") {
            None | Some(Value::Null) => {
                check.push("updates", "required", "updates is required");
                None
            }
            Some(Value::Object(object)) => {
                match ContactChanges::parse(object, ChangeMode::Bulk, "updates.") {
                    Ok(changes) if changes.is_empty() => {
                        check.push("updates", "empty", "updates must change at least one field");
                        None
                    }
                    Ok(changes) => Some(changes),
                    Err(errors) => {
                        check.errors.extend(errors);
                        None
                    }
                }
            }
            Some(_) => {
                check.push("updates", "invalid_type", "updates must be an object");
                None
            }
        };
        match (contact_ids, updates) {
            (Some(contact_ids), Some(updates)) if check.errors.is_empty() => Ok(BulkInput {
                contact_ids,
                updates,
            }),
            _ => Err(check.errors),
        }
    }
}

/// Collects field errors while reading one body.
struct Checker<'a> {
    errors: Vec<FieldError>,
    prefix: &'a str,
}

impl Checker<'_> {
    fn push(&mut self, field: &str, code: &'static str, message: impl Into<String>) {
        let message = message.into();
        // A message that opens with the field's name names it as the client
        // sent it, prefix included (`updates.status must be ...`).
        let message = if message.starts_with(field) {
            format!("{}{message}", self.prefix)
        } else {
            message
        };
        let field = format!("{}{field}", self.prefix);
        self.errors.push(FieldError::new(field, code, message));
    }

    /// A required-on-create name: a non-empty string.
    fn name(&mut self, body: &Map<String, Value>, field: &str, required: bool) -> Option<String> {
        match body.get(field) {
            None if !required => None,
            None | Some(Value::Null) => {
                self.push(field, "required", format!("{field} is required"));
                None
            }
            Some(Value::String(text)) if text.trim().is_empty() => {
                self.push(field, "required", format!("{field} is required"));
                None
            }
            Some(value) => self.text(field, value, MAX_NAME_LENGTH),
        }
    }

    fn email(&mut self, body: &Map<String, Value>, required: bool) -> Option<String> {
        match body.get("email") {
            None if !required => None,
            None | Some(Value::Null) => {
                self.push("email", "required", "email is required");
                None
            }
            Some(Value::String(text)) if text.trim().is_empty() => {
                self.push("email", "required", "email is required");
                None
            }
            Some(Value::String(text)) if is_valid_email(text.trim()) => {
                Some(text.trim().to_string())
            }
            Some(Value::String(_)) => {
                self.push(
                    "email",
                    "invalid_email",
                    "Email must be a valid email address",
                );
                None
            }
            Some(_) => {
                self.push("email", "invalid_type", "email must be a string");
                None
            }
        }
    }

    /// A trimmed string of at most `max_length` characters.
    fn text(&mut self, field: &str, value: &Value, max_length: usize) -> Option<String> {
        match value {
            Value::String(text) if text.trim().chars().count() > max_length => {
                self.push(
                    field,
                    "too_long",
                    format!("{field} must be at most {max_length} characters"),
                );
                None
            }
            Value::String(text) => Some(text.trim().to_string()),
            _ => {
                self.push(field, "invalid_type", format!("{field} must be a string"));
                None
            }
        }
    }

    /// A field that may be absent (unchanged), null (cleared) or a value.
    fn nullable<T>(
        &mut self,
        body: &Map<String, Value>,
        field: &str,
        read: impl FnOnce(&mut Self, &str, &Value) -> Option<T>,
    ) -> Option<Option<T>> {
        match body.get(field) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(value) => read(self, field, value).map(Some),
        }
    }

    /// A non-null enumerated field, if present.
    fn enumerated(
        &mut self,
        body: &Map<String, Value>,
        field: &str,
        allowed: &[&str],
    ) -> Option<String> {
        body.get(field)
            .and_then(|value| self.enum_value(field, value, allowed))
    }

    fn enum_value(&mut self, field: &str, value: &Value, allowed: &[&str]) -> Option<String> {
        match value.as_str() {
            Some(text) if allowed.contains(&text) => Some(text.to_string()),
            _ => {
                self.push(
                    field,
                    "invalid_value",
                    format!("{field} must be one of: {}", allowed.join(", ")),
                );
                None
            }
        }
    }

    fn phone(&mut self, field: &str, value: &Value) -> Option<String> {
        let Some(text) = value.as_str() else {
            self.push(field, "invalid_type", format!("{field} must be a string"));
            return None;
        };
        let text = text.trim();
        let digits = text.chars().filter(char::is_ascii_digit).count();
        let allowed_characters = text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')' | '.'));
        if allowed_characters && (7..=15).contains(&digits) {
            Some(text.to_string())
        } else {
            self.push(
                field,
                "invalid_phone",
                format!("{field} must be a valid phone number"),
            );
            None
        }
    }

    fn agent(&mut self, field: &str, value: &Value) -> Option<String> {
        let valid = value.as_str().map(str::trim).filter(|text| {
            text.strip_prefix("agent_").is_some_and(|rest| {
                !rest.is_empty()
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            })
        });
        if valid.is_none() {
            self.push(
                field,
                "invalid_agent",
                format!("{field} must be an agent ID such as 'agent_123'"),
            );
        }
        valid.map(str::to_string)
    }

    fn address(&mut self, field: &str, value: &Value) -> Option<Address> {
        let Value::Object(object) = value else {
            self.push(field, "invalid_type", format!("{field} must be an object"));
            return None;
        };
        let errors_before = self.errors.len();
        let part = |check: &mut Self, key: &str| -> Option<String> {
            let name = format!("{field}.{key}");
            check
                .nullable(object, key, |check, _, value| {
                    check.text(&name, value, MAX_TEXT_LENGTH)
                })
                .flatten()
        };
        let address = Address {
            street: part(self, "street"),
            city: part(self, "city"),
            state: part(self, "state"),
            zip_code: part(self, "zipCode"),
            country: part(self, "country"),
        };
        (self.errors.len() == errors_before).then_some(address)
    }

    fn preferences(&mut self, value: &Value) -> Option<Preferences> {
        let Value::Object(object) = value else {
            self.push(
                "preferences",
                "invalid_type",
                "preferences must be an object",
            );
            return None;
        };
        let errors_before = self.errors.len();
        let communication_method = self
            .nullable(object, "communicationMethod", |check, _, value| {
                check.enum_value(
                    "preferences.communicationMethod",
                    value,
                    COMMUNICATION_METHODS,
                )
            })
            .flatten();
        let property_types = self
            .nullable(object, "propertyTypes", |check, _, value| {
                check.string_list("preferences.propertyTypes", value, |check, field, item| {
                    check.enum_value(field, item, PROPERTY_TYPES)
                })
            })
            .flatten()
            .unwrap_or_default();
        let price_range = self
            .nullable(object, "priceRange", |check, _, value| {
                check.price_range(value)
            })
            .flatten();
        let locations = self
            .nullable(object, "locations", |check, _, value| {
                check.string_list(
                    "preferences.locations",
                    value,
                    |check, field, item| match item.as_str().map(str::trim) {
                        Some(text) if !text.is_empty() => check.text(field, item, MAX_TEXT_LENGTH),
                        _ => {
                            check.push(
                                field,
                                "invalid_type",
                                format!("{field} must be a non-empty string"),
                            );
                            None
                        }
                    },
                )
            })
            .flatten()
            .unwrap_or_default();
        (self.errors.len() == errors_before).then_some(Preferences {
            communication_method,
            property_types,
            price_range,
            locations,
        })
    }

    fn price_range(&mut self, value: &Value) -> Option<PriceRange> {
        let field = "preferences.priceRange";
        let Value::Object(object) = value else {
            self.push(field, "invalid_type", format!("{field} must be an object"));
            return None;
        };
        let errors_before = self.errors.len();
        let bound = |check: &mut Self, key: &str| -> Option<u64> {
            match object.get(key) {
                None | Some(Value::Null) => None,
                Some(value) => {
                    let amount = value.as_u64().or_else(|| {
                        value
                            .as_f64()
                            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= 1e15)
                            .map(|f| f as u64)
                    });
                    if amount.is_none() {
                        check.push(
                            &format!("{field}.{key}"),
                            "invalid_integer",
                            format!("{field}.{key} must be a non-negative integer"),
                        );
                    }
                    amount
                }
            }
        };
        let range = PriceRange {
            min: bound(self, "min"),
            max: bound(self, "max"),
        };
        if let (Some(min), Some(max)) = (range.min, range.max) {
            if min > max {
                self.push(
                    field,
                    "invalid_range",
                    format!("{field}.min must not exceed the maximum"),
                );
            }
        }
        (self.errors.len() == errors_before).then_some(range)
    }

    /// An array whose items are each read by `read` (errors name `field[i]`),
    /// de-duplicated in order.
    fn string_list(
        &mut self,
        field: &str,
        value: &Value,
        mut read: impl FnMut(&mut Self, &str, &Value) -> Option<String>,
    ) -> Option<Vec<String>> {
        let Value::Array(items) = value else {
            self.push(field, "invalid_type", format!("{field} must be an array"));
            return None;
        };
        let errors_before = self.errors.len();
        let mut values: Vec<String> = Vec::new();
        for (index, item) in items.iter().enumerate() {
            if let Some(text) = read(self, &format!("{field}[{index}]"), item) {
                if !values.contains(&text) {
                    values.push(text);
                }
            }
        }
        (self.errors.len() == errors_before).then_some(values)
    }

    /// Tags: non-empty strings, trimmed and lower-cased, de-duplicated.
    fn tag_list(
        &mut self,
        field: &str,
        value: &Value,
        must_be_non_empty: bool,
    ) -> Option<Vec<String>> {
        if must_be_non_empty && value.as_array().is_some_and(Vec::is_empty) {
            self.push(
                field,
                "empty",
                format!("{field} must contain at least one tag"),
            );
            return None;
        }
        self.string_list(field, value, |check, item_field, item| {
            match item.as_str().map(str::trim).filter(|tag| !tag.is_empty()) {
                Some(tag) if tag.chars().count() > MAX_TAG_LENGTH => {
                    check.push(
                        item_field,
                        "too_long",
                        format!("Tags must be at most {MAX_TAG_LENGTH} characters"),
                    );
                    None
                }
                Some(tag) => Some(tag.to_lowercase()),
                None => {
                    check.push(item_field, "invalid_tag", "Tags must be non-empty strings");
                    None
                }
            }
        })
    }
}

/// A pragmatic address check: one `@`, a plausible local part, and a domain
/// of dot-separated labels ending in a top-level domain of two or more letters.
pub fn is_valid_email(email: &str) -> bool {
    if email.len() > 254 || email.chars().any(char::is_whitespace) {
        return false;
    }
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
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
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
    local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn email_validation() {
        for good in ["john.doe@example.com", "A+b@sub.example.co", "x@y.io"] {
            assert!(is_valid_email(good), "{good}");
        }
        for bad in [
            "",
            "plain",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            ".a@b.com",
            "a@b.c",
            "a@-b.com",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn create_requires_names_and_email() {
        let errors = ContactChanges::parse(&object(json!({})), ChangeMode::Create, "").unwrap_err();
        let fields: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            fields,
            vec![
                ("firstName", "required"),
                ("lastName", "required"),
                ("email", "required")
            ]
        );
        assert!(
            ContactChanges::parse(&object(json!({})), ChangeMode::Update, "")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn nested_errors_are_named_by_path_and_bulk_refuses_email() {
        let errors = ContactChanges::parse(
            &object(json!({
                "email": "x@y.com",
                "address": {"city": 5},
                "preferences": {"priceRange": {"min": 10, "max": 5}, "propertyTypes": ["CASTLE"]},
                "tags": ["ok", ""],
            })),
            ChangeMode::Bulk,
            "updates.",
        )
        .unwrap_err();
        let fields: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            fields,
            vec![
                ("updates.email", "not_allowed"),
                ("updates.address.city", "invalid_type"),
                ("updates.tags[1]", "invalid_tag"),
                ("updates.preferences.propertyTypes[0]", "invalid_value"),
                ("updates.preferences.priceRange", "invalid_range"),
            ]
        );
        assert_eq!(
            errors[0].message,
            "updates.email cannot be changed in a bulk update"
        );
    }

    #[test]
    fn tags_are_normalized_and_deduplicated() {
        let tags = tags_to_add(&object(
            json!({"tags": [" Investor ", "investor", "cash-buyer"]}),
        ))
        .unwrap();
        assert_eq!(tags, vec!["investor", "cash-buyer"]);
        assert_eq!(
            tags_to_add(&object(json!({"tags": []}))).unwrap_err()[0].code,
            "empty"
        );
        assert_eq!(
            tags_to_add(&object(json!({"tags": [3]}))).unwrap_err()[0].field,
            "tags[0]"
        );
    }
}
