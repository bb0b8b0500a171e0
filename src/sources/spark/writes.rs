//! Spark's write rules and the `{"D": {...}}` bodies of creates and updates.
//!
//! The rules come from the seed's attribute table: `DisplayName` and
//! `PrimaryEmail` are required and at most 75 characters, as is each tag; the
//! other character attributes take at most 300, `Note` 10,000. They are
//! checked before any request so that a client learns which field is wrong
//! without a round trip, and errors name the GraphQL field.
//!
//! What Spark cannot store is refused by name, never dropped:
//! - `type`: Spark contacts have no type;
//! - `assignedTo`: `OwnerId` changes only through a transfer (a PUT with
//!   `OwnerId` alone), which is a separate operation from a contact update;
//! - `status` other than `Connected`: `RecordStatus` may go from `Unconnected`
//!   to `Connected` but never back, and new contacts are always Connected;
//! - `address.country`: the home address has no country attribute;
//! - a blank `notes` on update: Spark keeps notes as a history, so writing
//!   `notes` adds a note and no note can be removed.
//!
//! A create without `displayName` derives Spark's required `DisplayName` from
//! the first and last name ("First Last"), as the seed's own contacts are named.

use serde_json::{json, Map, Value};

use super::KIND;
use crate::domain::ContactInput;
use crate::sources::SourceError;

/// The most characters of `DisplayName`, `PrimaryEmail` and each tag.
pub const SHORT_LIMIT: usize = 75;
/// The most characters of the other character attributes.
pub const LONG_LIMIT: usize = 300;
/// The most characters of a note.
pub const NOTE_LIMIT: usize = 10_000;

pub(super) fn bad_input(field: &str, message: impl Into<String>) -> SourceError {
    SourceError::BadInput {
        source_kind: KIND,
        field: Some(field.to_string()),
        message: message.into(),
        upstream_status: None,
    }
}

fn blank(value: &str) -> bool {
    value.trim().is_empty()
}

/// Refuses the first value longer than its attribute's limit, naming the
/// input field: `(attribute, input field, value, limit)`.
pub(super) fn check_lengths<'a>(
    fields: impl IntoIterator<Item = (&'static str, &'static str, Option<&'a str>, usize)>,
) -> Result<(), SourceError> {
    for (_, field, value, limit) in fields {
        if value.is_some_and(|value| value.chars().count() > limit) {
            return Err(bad_input(
                field,
                format!("Spark takes at most {limit} characters for {field}"),
            ));
        }
    }
    Ok(())
}

/// Refuses a blank tag, or one longer than Spark allows as it will be sent.
pub(super) fn check_tag(tag: &str) -> Result<(), SourceError> {
    if blank(tag) {
        return Err(bad_input("tags", "Spark does not take empty tags"));
    }
    if tag.chars().count() > SHORT_LIMIT {
        return Err(bad_input(
            "tags",
            format!("Spark takes at most {SHORT_LIMIT} characters per tag"),
        ));
    }
    Ok(())
}

/// The character attributes written from plain input fields, with their
/// GraphQL field names and limits.
fn character_fields(
    input: &ContactInput,
) -> [(&'static str, &'static str, Option<&str>, usize); 12] {
    [
        (
            "DisplayName",
            "displayName",
            input.display_name.as_deref(),
            SHORT_LIMIT,
        ),
        ("PrimaryEmail", "email", input.email.as_deref(), SHORT_LIMIT),
        (
            "GivenName",
            "firstName",
            input.first_name.as_deref(),
            LONG_LIMIT,
        ),
        (
            "FamilyName",
            "lastName",
            input.last_name.as_deref(),
            LONG_LIMIT,
        ),
        (
            "PrimaryPhoneNumber",
            "phone",
            input.phone.as_deref(),
            LONG_LIMIT,
        ),
        (
            "Organization",
            "organization",
            input.organization.as_deref(),
            LONG_LIMIT,
        ),
        ("Position", "title", input.title.as_deref(), LONG_LIMIT),
        (
            "HomeStreetAddress",
            "address.street",
            input.street.as_deref(),
            LONG_LIMIT,
        ),
        (
            "HomeLocality",
            "address.city",
            input.city.as_deref(),
            LONG_LIMIT,
        ),
        (
            "HomeRegion",
            "address.region",
            input.region.as_deref(),
            LONG_LIMIT,
        ),
        (
            "HomePostalCode",
            "address.postalCode",
            input.postal_code.as_deref(),
            LONG_LIMIT,
        ),
        ("Note", "notes", input.notes.as_deref(), NOTE_LIMIT),
    ]
}

/// The rules shared by create and update.
fn check_common(input: &ContactInput) -> Result<(), SourceError> {
    if input.contact_type.is_some() {
        return Err(bad_input("type", "Spark contacts have no contact type"));
    }
    if input.assigned_to.is_some() {
        return Err(bad_input(
            "assignedTo",
            "Spark changes a contact's owner only by a transfer, not by an update",
        ));
    }
    if input.country.is_some() {
        return Err(bad_input(
            "address.country",
            "Spark's home address has no country",
        ));
    }
    if let Some(status) = &input.status {
        if !status.trim().eq_ignore_ascii_case("connected") {
            return Err(bad_input(
                "status",
                "Spark's status (RecordStatus) can only be set to Connected; a Connected contact never becomes Unconnected again",
            ));
        }
    }
    check_lengths(character_fields(input))?;
    for tag in input.tags.iter().flatten() {
        check_tag(tag)?;
    }
    Ok(())
}

/// The `DisplayName` of a create: the given one, else "First Last".
fn create_display_name(input: &ContactInput) -> Option<String> {
    if let Some(name) = input.display_name.as_deref().filter(|name| !blank(name)) {
        return Some(name.to_string());
    }
    let joined = [input.first_name.as_deref(), input.last_name.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!joined.is_empty()).then_some(joined)
}

/// Spark's rules for a create.
pub fn check_create(input: &ContactInput) -> Result<(), SourceError> {
    check_common(input)?;
    if input.email.as_deref().is_none_or(blank) {
        return Err(bad_input("email", "Spark requires an email (PrimaryEmail)"));
    }
    match create_display_name(input) {
        None => Err(bad_input(
            "displayName",
            "Spark requires a display name: give displayName, or firstName or lastName to derive it from",
        )),
        Some(name) if name.chars().count() > SHORT_LIMIT => Err(bad_input(
            "displayName",
            format!(
                "Spark takes at most {SHORT_LIMIT} characters for the display name, derived here from firstName and lastName"
            ),
        )),
        Some(_) => Ok(()),
    }
}

/// Spark's rules for an update.
pub fn check_update(input: &ContactInput) -> Result<(), SourceError> {
    check_common(input)?;
    if input.display_name.as_deref().is_some_and(blank) {
        return Err(bad_input(
            "displayName",
            "Spark requires a display name; it cannot be removed",
        ));
    }
    if input.email.as_deref().is_some_and(blank) {
        return Err(bad_input(
            "email",
            "Spark requires an email (PrimaryEmail); it cannot be removed",
        ));
    }
    if input.notes.as_deref().is_some_and(blank) {
        return Err(bad_input(
            "notes",
            "Spark keeps notes as a history: writing notes adds a note, and notes cannot be removed",
        ));
    }
    Ok(())
}

/// The attributes an input sets. On update a blank value removes the attribute
/// (`null`); a blank value on create is simply not sent.
fn attributes(input: &ContactInput, creating: bool) -> Map<String, Value> {
    let mut body = Map::new();
    for (attribute, _, value, _) in character_fields(input) {
        match value {
            Some(value) if !blank(value) => {
                body.insert(attribute.to_string(), Value::String(value.to_string()));
            }
            Some(_) if !creating && attribute != "Note" => {
                body.insert(attribute.to_string(), Value::Null);
            }
            _ => {}
        }
    }
    if let Some(tags) = &input.tags {
        body.insert("Tags".into(), json!(tags));
    }
    if input.status.is_some() {
        body.insert("RecordStatus".into(), Value::String("Connected".into()));
    }
    body
}

/// The body of `POST /contacts` (after [`check_create`] passed).
pub fn create_body(input: &ContactInput) -> Value {
    let mut body = attributes(input, true);
    if let Some(name) = create_display_name(input) {
        body.insert("DisplayName".into(), Value::String(name));
    }
    json!({ "D": body })
}

/// The body of `PUT /contacts/{Id}` (after [`check_update`] passed).
pub fn update_body(input: &ContactInput) -> Value {
    json!({ "D": attributes(input, false) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_create() -> ContactInput {
        ContactInput {
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            email: Some("ada@example.com".into()),
            ..Default::default()
        }
    }

    fn field_of(result: Result<(), SourceError>) -> String {
        match result {
            Err(SourceError::BadInput { field, .. }) => field.unwrap_or_default(),
            other => panic!("expected BadInput, got {other:?}"),
        }
    }

    #[test]
    fn create_derives_the_display_name() {
        assert!(check_create(&valid_create()).is_ok());
        let body = create_body(&valid_create());
        assert_eq!(body["D"]["DisplayName"], "Ada Lovelace");
        assert_eq!(body["D"]["GivenName"], "Ada");
        assert_eq!(body["D"]["PrimaryEmail"], "ada@example.com");
        let only_last = ContactInput {
            first_name: None,
            ..valid_create()
        };
        assert_eq!(create_body(&only_last)["D"]["DisplayName"], "Lovelace");
        let given = ContactInput {
            display_name: Some("Countess".into()),
            ..valid_create()
        };
        assert_eq!(create_body(&given)["D"]["DisplayName"], "Countess");
    }

    #[test]
    fn create_requires_email_and_a_name() {
        let no_email = ContactInput {
            email: None,
            ..valid_create()
        };
        assert_eq!(field_of(check_create(&no_email)), "email");
        let blank_email = ContactInput {
            email: Some("  ".into()),
            ..valid_create()
        };
        assert_eq!(field_of(check_create(&blank_email)), "email");
        let nameless = ContactInput {
            email: Some("a@b.c".into()),
            ..Default::default()
        };
        assert_eq!(field_of(check_create(&nameless)), "displayName");
        let long_derived = ContactInput {
            first_name: Some("a".repeat(40)),
            last_name: Some("b".repeat(40)),
            ..valid_create()
        };
        assert_eq!(field_of(check_create(&long_derived)), "displayName");
    }

    #[test]
    fn length_limits_name_the_field() {
        let cases: Vec<(ContactInput, &str)> = vec![
            (
                ContactInput {
                    display_name: Some("x".repeat(76)),
                    ..valid_create()
                },
                "displayName",
            ),
            (
                ContactInput {
                    email: Some(format!("{}@x.com", "a".repeat(70))),
                    ..valid_create()
                },
                "email",
            ),
            (
                ContactInput {
                    first_name: Some("x".repeat(301)),
                    ..valid_create()
                },
                "firstName",
            ),
            (
                ContactInput {
                    title: Some("x".repeat(301)),
                    ..valid_create()
                },
                "title",
            ),
            (
                ContactInput {
                    city: Some("x".repeat(301)),
                    ..valid_create()
                },
                "address.city",
            ),
            (
                ContactInput {
                    postal_code: Some("x".repeat(301)),
                    ..valid_create()
                },
                "address.postalCode",
            ),
            (
                ContactInput {
                    notes: Some("x".repeat(10_001)),
                    ..valid_create()
                },
                "notes",
            ),
            (
                ContactInput {
                    tags: Some(vec!["ok".into(), "x".repeat(76)]),
                    ..valid_create()
                },
                "tags",
            ),
            (
                ContactInput {
                    tags: Some(vec![" ".into()]),
                    ..valid_create()
                },
                "tags",
            ),
        ];
        for (input, field) in cases {
            assert_eq!(field_of(check_create(&input)), field);
            assert_eq!(field_of(check_update(&input)), field);
        }
        let at_limits = ContactInput {
            display_name: Some("é".repeat(75)),
            notes: Some("n".repeat(10_000)),
            tags: Some(vec!["t".repeat(75)]),
            organization: Some("o".repeat(300)),
            ..valid_create()
        };
        assert!(check_create(&at_limits).is_ok());
    }

    #[test]
    fn fields_spark_cannot_store_are_refused() {
        let cases: Vec<(ContactInput, &str)> = vec![
            (
                ContactInput {
                    contact_type: Some("lead".into()),
                    ..valid_create()
                },
                "type",
            ),
            (
                ContactInput {
                    assigned_to: Some("20090815223215294334000000".into()),
                    ..valid_create()
                },
                "assignedTo",
            ),
            (
                ContactInput {
                    country: Some("US".into()),
                    ..valid_create()
                },
                "address.country",
            ),
            (
                ContactInput {
                    status: Some("Unconnected".into()),
                    ..valid_create()
                },
                "status",
            ),
        ];
        for (input, field) in cases {
            assert_eq!(field_of(check_create(&input)), field);
            assert_eq!(field_of(check_update(&input)), field);
        }
        let connected = ContactInput {
            status: Some("connected".into()),
            ..valid_create()
        };
        assert!(check_create(&connected).is_ok());
        assert_eq!(create_body(&connected)["D"]["RecordStatus"], "Connected");
    }

    #[test]
    fn updates_send_only_what_changes() {
        let input = ContactInput {
            title: Some("Broker".into()),
            organization: Some("".into()),
            tags: Some(vec![]),
            notes: Some("Called".into()),
            ..Default::default()
        };
        assert!(check_update(&input).is_ok());
        let body = update_body(&input);
        assert_eq!(
            body,
            json!({"D": {"Position": "Broker", "Organization": null, "Tags": [], "Note": "Called"}})
        );
        for (input, field) in [
            (
                ContactInput {
                    display_name: Some(" ".into()),
                    ..Default::default()
                },
                "displayName",
            ),
            (
                ContactInput {
                    email: Some("".into()),
                    ..Default::default()
                },
                "email",
            ),
            (
                ContactInput {
                    notes: Some("".into()),
                    ..Default::default()
                },
                "notes",
            ),
        ] {
            assert_eq!(field_of(check_update(&input)), field);
        }
    }
}
