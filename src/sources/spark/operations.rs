//! Spark's contact operations beyond create, update and delete (per the Spark Platform Contacts service documentation):
//! adding tags, transferring a contact to another owner, and the current
//! user's own contact (`/my/contact`).
//!
//! - **Tags:** Spark has no "add tags" request, only the writable `Tags`
//!   list. Adding reads the contact (`GET /contacts/{Id}`), and when a tag is
//!   new, writes the union (`PUT /contacts/{Id}` with `Tags` alone) and reads
//!   the contact back: three requests, or one when every tag is already
//!   there. Tags compare ignoring case and surrounding spaces, as the
//!   gateway's tag filter does; existing tags keep their spelling. A change
//!   to the tags made by someone else between the read and the write is
//!   overwritten, since Spark offers no conditional write.
//! - **Transfer:** `PUT /contacts/{Id}` with `OwnerId` alone, which also sets
//!   `RecordStatus` to `Connected`; then the contact is read back. The owner
//!   is a Spark user id, 24 or 26 digits, checked before any request.
//! - **My contact:** `GET /my/contact` and `PUT /my/contact` with only the
//!   seventeen attributes the seed lists, which [`MyContactChanges`] holds
//!   and nothing else; an update is followed by a read.

use reqwest::Method;
use serde_json::{json, Map, Value};

use super::envelope::read_answer;
use super::mapping::{is_spark_id, map_contact};
use super::writes::{bad_input, check_lengths, check_tag, LONG_LIMIT, SHORT_LIMIT};
use super::{Spark, KIND};
use crate::cache::{Change, Freshness, Resource, Tag};
use crate::domain::{Contact, ContactInput};
use crate::sources::{Source, SourceError};
use crate::upstream::Parsed;
use crate::upstream::{route, Route};

/// The most characters of `MobilePhoneCountryCode`.
pub const COUNTRY_CODE_LIMIT: usize = 2;

fn not_found(id: &str) -> SourceError {
    SourceError::NotFound {
        source_kind: KIND,
        what: format!("contact {id}"),
    }
}

/// Checks tags against Spark's rules: non-blank, at most 75 characters each
/// once trimmed, as [`tag_union`] writes them.
pub fn check_tags(tags: &[String]) -> Result<(), SourceError> {
    tags.iter().try_for_each(|tag| check_tag(tag.trim()))
}

/// The existing tags followed by the added ones the contact lacks (ignoring
/// case and surrounding spaces), or `None` when nothing is new.
pub fn tag_union(existing: &[String], added: &[String]) -> Option<Vec<String>> {
    let normalized = |tag: &str| tag.trim().to_lowercase();
    let mut union: Vec<String> = existing.to_vec();
    let mut changed = false;
    for tag in added {
        if !union.iter().any(|have| normalized(have) == normalized(tag)) {
            union.push(tag.trim().to_string());
            changed = true;
        }
    }
    changed.then_some(union)
}

impl Spark {
    /// Adds tags to a contact: a read, then (when a tag is new) a write of
    /// the union and a read back.
    pub async fn add_tags(&self, id: &str, tags: &[String]) -> Result<Contact, SourceError> {
        check_tags(tags)?;
        if !is_spark_id(id) {
            return Err(not_found(id));
        }
        let current = self.fetch_current(id).await?.ok_or_else(|| not_found(id))?;
        match tag_union(&current.tags, tags) {
            None => Ok(current),
            Some(union) => {
                let change = ContactInput {
                    tags: Some(union),
                    ..Default::default()
                };
                self.update_contact(id, &change).await
            }
        }
    }

    /// Transfers a contact to another owner, which connects it.
    pub async fn transfer_contact(&self, id: &str, owner_id: &str) -> Result<Contact, SourceError> {
        if !is_spark_id(owner_id.trim()) {
            return Err(bad_input(
                "ownerId",
                "a Spark owner is a user id of 24 or 26 digits",
            ));
        }
        if !is_spark_id(id) {
            return Err(not_found(id));
        }
        let request = self
            .request(Method::PUT, route!("/contacts/{id}"))
            .json(json!({ "D": { "OwnerId": owner_id.trim() } }))
            .changes([Change::Record(Resource::Contact, id.to_string())]);
        let response = self.send(request).await?;
        read_answer(&response).map_err(|error| owner_field(error, "ownerId"))?;
        self.fetch_one(id).await?.ok_or_else(|| not_found(id))
    }

    /// `GET /my/contact`: the contact of the user the gateway's key belongs to.
    pub async fn my_contact(&self) -> Result<Contact, SourceError> {
        let request = self
            .request(Method::GET, Route::from("/my/contact"))
            .query("_expand", "Notes");
        let contact = self
            .upstream
            .read_record(
                KIND,
                request,
                Resource::MyContact,
                "",
                Freshness::MyContact,
                |response| {
                    let results = read_answer(response)?.into_results(response.status)?;
                    let record =
                        results
                            .into_iter()
                            .next()
                            .ok_or_else(|| SourceError::Upstream {
                                source_kind: KIND,
                                message:
                                    "the answer for the current user's contact holds no record"
                                        .into(),
                                upstream_status: Some(response.status),
                            })?;
                    let contact = map_contact(record)?;
                    let tags = vec![Tag::record(Resource::Contact, &contact.source_id)];
                    Ok::<_, SourceError>(Parsed::new(contact, tags))
                },
            )
            .await?;
        Ok(Contact::clone(&contact))
    }

    /// `PUT /my/contact` (after [`MyContactChanges::check`] passed), then a read.
    pub async fn update_my_contact(
        &self,
        changes: &MyContactChanges,
    ) -> Result<Contact, SourceError> {
        let request = self
            .request(Method::PUT, Route::from("/my/contact"))
            .json(json!({ "D": changes.body() }))
            // The user's own contact is also one of the contacts, whose id
            // the write does not name.
            .changes([
                Change::Record(Resource::MyContact, String::new()),
                Change::Every(Resource::Contact),
            ]);
        let response = self.send(request).await?;
        read_answer(&response).map_err(name_my_contact_field)?;
        self.my_contact().await
    }
}

/// A refusal of a transfer names `field` when Spark's message names `OwnerId`.
fn owner_field(error: SourceError, field: &str) -> SourceError {
    match error {
        SourceError::BadInput {
            source_kind,
            field: None,
            message,
            upstream_status,
        } if message.contains("OwnerId") => SourceError::BadInput {
            source_kind,
            field: Some(field.to_string()),
            message,
            upstream_status,
        },
        other => other,
    }
}

/// A refusal of a `/my/contact` write names the input field of the
/// attribute Spark's message names, in this input's terms (the general
/// mapping would say `address.city` where this input says
/// `homeAddress.city`).
fn name_my_contact_field(error: SourceError) -> SourceError {
    match error {
        SourceError::BadInput {
            source_kind,
            field,
            message,
            upstream_status,
        } => SourceError::BadInput {
            source_kind,
            field: my_contact_field_named_in(&message).or(field),
            message,
            upstream_status,
        },
        other => other,
    }
}

/// The input field of the first `/my/contact` attribute `message` names as a
/// whole word (so `UniquePrimaryEmail` does not name `email`).
fn my_contact_field_named_in(message: &str) -> Option<String> {
    let is_word_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    MY_CONTACT_ATTRIBUTES
        .iter()
        .filter_map(|(attribute, field)| {
            message
                .match_indices(attribute)
                .find(|(start, matched)| {
                    let before = message[..*start].chars().next_back();
                    let after = message[start + matched.len()..].chars().next();
                    !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
                })
                .map(|(start, _)| (start, *field))
        })
        .min_by_key(|(start, _)| *start)
        .map(|(_, field)| field.to_string())
}

/// The seventeen attributes `PUT /my/contact` accepts (the seed's list) and
/// the GraphQL input fields they are written from.
pub const MY_CONTACT_ATTRIBUTES: &[(&str, &str)] = &[
    (
        "AdditionalNotificationEmails",
        "additionalNotificationEmails",
    ),
    ("FamilyName", "lastName"),
    ("GivenName", "firstName"),
    ("HomeLocality", "homeAddress.city"),
    ("HomePhoneNumber", "homePhone"),
    ("HomePostalCode", "homeAddress.postalCode"),
    ("HomeRegion", "homeAddress.region"),
    ("HomeStreetAddress", "homeAddress.street"),
    ("MiddleName", "middleName"),
    ("MobilePhoneCountryCode", "mobilePhoneCountryCode"),
    ("MobilePhoneNumber", "mobilePhone"),
    ("OtherPhoneNumber", "otherPhone"),
    ("PagerPhoneNumber", "pagerPhone"),
    ("PrimaryEmail", "email"),
    ("PrimaryPhoneNumber", "phone"),
    ("SecondaryEmails", "secondaryEmails"),
    ("WorkPhoneNumber", "workPhone"),
];

/// A change to the current user's own contact: exactly the attributes the
/// seed lets a user write through `/my/contact`. `None` leaves an attribute
/// unchanged; a blank text removes it (except the required email); an empty
/// list empties it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MyContactChanges {
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub secondary_emails: Option<Vec<String>>,
    pub additional_notification_emails: Option<Vec<String>>,
    pub phone: Option<String>,
    pub home_phone: Option<String>,
    pub work_phone: Option<String>,
    pub mobile_phone: Option<String>,
    pub mobile_phone_country_code: Option<String>,
    pub other_phone: Option<String>,
    pub pager_phone: Option<String>,
    pub home_street: Option<String>,
    pub home_city: Option<String>,
    pub home_region: Option<String>,
    pub home_postal_code: Option<String>,
}

impl MyContactChanges {
    /// The text attributes with their input field names and limits.
    fn texts(&self) -> [(&'static str, &'static str, Option<&str>, usize); 15] {
        [
            (
                "GivenName",
                "firstName",
                self.first_name.as_deref(),
                LONG_LIMIT,
            ),
            (
                "MiddleName",
                "middleName",
                self.middle_name.as_deref(),
                LONG_LIMIT,
            ),
            (
                "FamilyName",
                "lastName",
                self.last_name.as_deref(),
                LONG_LIMIT,
            ),
            ("PrimaryEmail", "email", self.email.as_deref(), SHORT_LIMIT),
            (
                "PrimaryPhoneNumber",
                "phone",
                self.phone.as_deref(),
                LONG_LIMIT,
            ),
            (
                "HomePhoneNumber",
                "homePhone",
                self.home_phone.as_deref(),
                LONG_LIMIT,
            ),
            (
                "WorkPhoneNumber",
                "workPhone",
                self.work_phone.as_deref(),
                LONG_LIMIT,
            ),
            (
                "MobilePhoneNumber",
                "mobilePhone",
                self.mobile_phone.as_deref(),
                LONG_LIMIT,
            ),
            (
                "MobilePhoneCountryCode",
                "mobilePhoneCountryCode",
                self.mobile_phone_country_code.as_deref(),
                COUNTRY_CODE_LIMIT,
            ),
            (
                "OtherPhoneNumber",
                "otherPhone",
                self.other_phone.as_deref(),
                LONG_LIMIT,
            ),
            (
                "PagerPhoneNumber",
                "pagerPhone",
                self.pager_phone.as_deref(),
                LONG_LIMIT,
            ),
            (
                "HomeStreetAddress",
                "homeAddress.street",
                self.home_street.as_deref(),
                LONG_LIMIT,
            ),
            (
                "HomeLocality",
                "homeAddress.city",
                self.home_city.as_deref(),
                LONG_LIMIT,
            ),
            (
                "HomeRegion",
                "homeAddress.region",
                self.home_region.as_deref(),
                LONG_LIMIT,
            ),
            (
                "HomePostalCode",
                "homeAddress.postalCode",
                self.home_postal_code.as_deref(),
                LONG_LIMIT,
            ),
        ]
    }

    /// The list attributes with their input field names.
    fn lists(&self) -> [(&'static str, &'static str, Option<&[String]>); 2] {
        [
            (
                "SecondaryEmails",
                "secondaryEmails",
                self.secondary_emails.as_deref(),
            ),
            (
                "AdditionalNotificationEmails",
                "additionalNotificationEmails",
                self.additional_notification_emails.as_deref(),
            ),
        ]
    }

    /// Whether the change sets nothing.
    pub fn is_empty(&self) -> bool {
        *self == MyContactChanges::default()
    }

    /// Checks the seed's rules, naming the first offending field: the length
    /// limits (75 for emails, 2 for the country code, 300 for the rest), a
    /// required email that cannot be removed, no blank list entries, and
    /// notification emails that are among the secondary emails when both
    /// lists are given.
    pub fn check(&self) -> Result<(), SourceError> {
        if self
            .email
            .as_deref()
            .is_some_and(|email| email.trim().is_empty())
        {
            return Err(bad_input(
                "email",
                "Spark requires an email (PrimaryEmail); it cannot be removed",
            ));
        }
        check_lengths(self.texts())?;
        for (_, field, values) in self.lists() {
            for value in values.unwrap_or_default() {
                if value.trim().is_empty() {
                    return Err(bad_input(
                        field,
                        format!("{field} may not hold blank emails"),
                    ));
                }
                if value.chars().count() > SHORT_LIMIT {
                    return Err(bad_input(
                        field,
                        format!(
                            "Spark takes at most {SHORT_LIMIT} characters per email in {field}"
                        ),
                    ));
                }
            }
        }
        if let (Some(secondary), Some(notified)) =
            (&self.secondary_emails, &self.additional_notification_emails)
        {
            let known = |email: &String| {
                secondary
                    .iter()
                    .any(|other| other.trim().eq_ignore_ascii_case(email.trim()))
            };
            if let Some(stray) = notified.iter().find(|email| !known(email)) {
                return Err(bad_input(
                    "additionalNotificationEmails",
                    format!("`{stray}` is not one of the secondaryEmails"),
                ));
            }
        }
        Ok(())
    }

    /// The attributes of the `PUT /my/contact` body: only those set, a blank
    /// text as `null` (removed).
    pub fn body(&self) -> Map<String, Value> {
        let mut body = Map::new();
        for (attribute, _, value, _) in self.texts() {
            if let Some(value) = value {
                let value = if value.trim().is_empty() {
                    Value::Null
                } else {
                    Value::String(value.to_string())
                };
                body.insert(attribute.to_string(), value);
            }
        }
        for (attribute, _, values) in self.lists() {
            if let Some(values) = values {
                body.insert(attribute.to_string(), json!(values));
            }
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(result: Result<(), SourceError>) -> String {
        match result {
            Err(SourceError::BadInput { field, .. }) => field.unwrap_or_default(),
            other => panic!("expected BadInput, got {other:?}"),
        }
    }

    #[test]
    fn tags_are_checked_and_merged_ignoring_case() {
        assert!(check_tags(&["Buyer".into(), "t".repeat(75)]).is_ok());
        assert_eq!(field_of(check_tags(&["t".repeat(76)])), "tags");
        assert_eq!(field_of(check_tags(&[" ".into()])), "tags");
        let existing = vec!["IDX Lead".to_string(), "Buyer".to_string()];
        assert_eq!(
            tag_union(&existing, &[" buyer ".into(), "idx lead".into()]),
            None
        );
        assert_eq!(
            tag_union(&existing, &["buyer".into(), " Investor ".into()]),
            Some(vec!["IDX Lead".into(), "Buyer".into(), "Investor".into()])
        );
    }

    #[test]
    fn every_my_contact_attribute_is_in_the_table_once() {
        let changes = MyContactChanges {
            first_name: Some("a".into()),
            middle_name: Some("a".into()),
            last_name: Some("a".into()),
            email: Some("a@b.c".into()),
            secondary_emails: Some(vec!["x@y.z".into()]),
            additional_notification_emails: Some(vec!["x@y.z".into()]),
            phone: Some("1".into()),
            home_phone: Some("1".into()),
            work_phone: Some("1".into()),
            mobile_phone: Some("1".into()),
            mobile_phone_country_code: Some("1".into()),
            other_phone: Some("1".into()),
            pager_phone: Some("1".into()),
            home_street: Some("s".into()),
            home_city: Some("c".into()),
            home_region: Some("r".into()),
            home_postal_code: Some("p".into()),
        };
        assert!(changes.check().is_ok());
        let body = changes.body();
        assert_eq!(body.len(), MY_CONTACT_ATTRIBUTES.len());
        for (attribute, _) in MY_CONTACT_ATTRIBUTES {
            assert!(body.contains_key(*attribute), "{attribute}");
        }
        // Every input field the checks name is the one the table gives.
        for (attribute, field, _, _) in changes.texts() {
            assert!(MY_CONTACT_ATTRIBUTES.contains(&(attribute, field)));
        }
    }

    #[test]
    fn my_contact_limits_name_the_field() {
        let cases = [
            (
                MyContactChanges {
                    email: Some(format!("{}@x.com", "a".repeat(70))),
                    ..Default::default()
                },
                "email",
            ),
            (
                MyContactChanges {
                    email: Some(" ".into()),
                    ..Default::default()
                },
                "email",
            ),
            (
                MyContactChanges {
                    first_name: Some("x".repeat(301)),
                    ..Default::default()
                },
                "firstName",
            ),
            (
                MyContactChanges {
                    mobile_phone_country_code: Some("123".into()),
                    ..Default::default()
                },
                "mobilePhoneCountryCode",
            ),
            (
                MyContactChanges {
                    home_city: Some("x".repeat(301)),
                    ..Default::default()
                },
                "homeAddress.city",
            ),
            (
                MyContactChanges {
                    secondary_emails: Some(vec![format!("{}@x.com", "a".repeat(70))]),
                    ..Default::default()
                },
                "secondaryEmails",
            ),
            (
                MyContactChanges {
                    secondary_emails: Some(vec!["a@b.c".into()]),
                    additional_notification_emails: Some(vec!["d@e.f".into()]),
                    ..Default::default()
                },
                "additionalNotificationEmails",
            ),
        ];
        for (changes, field) in cases {
            assert_eq!(field_of(changes.check()), field);
        }
    }

    #[test]
    fn blanks_remove_attributes() {
        let changes = MyContactChanges {
            middle_name: Some("".into()),
            pager_phone: Some("555".into()),
            secondary_emails: Some(vec![]),
            ..Default::default()
        };
        assert_eq!(
            Value::Object(changes.body()),
            json!({"MiddleName": null, "PagerPhoneNumber": "555", "SecondaryEmails": []})
        );
    }

    #[test]
    fn refusals_name_the_my_contact_field() {
        let error = SourceError::BadInput {
            source_kind: KIND,
            field: None,
            message: "Each value of 'AdditionalNotificationEmails' must be at most 75 characters."
                .into(),
            upstream_status: Some(400),
        };
        match name_my_contact_field(error) {
            SourceError::BadInput { field, .. } => {
                assert_eq!(field.as_deref(), Some("additionalNotificationEmails"))
            }
            other => panic!("{other:?}"),
        }
        let general = SourceError::BadInput {
            source_kind: KIND,
            field: Some("address.city".into()),
            message: "Attribute 'HomeLocality' must be at most 300 characters.".into(),
            upstream_status: Some(400),
        };
        match name_my_contact_field(general) {
            SourceError::BadInput { field, .. } => {
                assert_eq!(field.as_deref(), Some("homeAddress.city"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            my_contact_field_named_in("UniquePrimaryEmail is read-only"),
            None
        );
        assert_eq!(
            my_contact_field_named_in("Missing required parameter: PrimaryEmail.").as_deref(),
            Some("email")
        );
    }
}
