//! The emulator's data: stored contacts in their wire form, and how a stored
//! contact is rendered with `_select` and `_expand`.
//!
//! A contact is kept as the JSON object the API returns (plus two search-only
//! keys, see [`attributes::SEARCH_ONLY_KEYS`]), because Spark's attribute set is
//! wide and mostly free-form, and because `_filter` evaluates that same form.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

use super::attributes::{self, SEARCH_ONLY_KEYS};
use super::query::{Expansion, Presentation};
use crate::sandbox::rng::SeededRng;

/// A consumer's VOW/Portal account, shown by the `Portal` expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalAccount {
    pub login_name: String,
    pub enabled: bool,
    /// Logged in within the last 30 days (the `VowActive` expansion).
    pub recently_active: bool,
    pub created: String,
}

/// A note attached to a contact (the `Notes` expansion; written through `Note`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactNote {
    pub id: String,
    pub note: String,
    pub created: String,
}

/// One contact as stored.
#[derive(Debug, Clone)]
pub struct StoredContact {
    /// The wire form, plus the search-only keys.
    pub record: Map<String, Value>,
    pub portal: Option<PortalAccount>,
    pub notes: Vec<ContactNote>,
    /// Seeds the generated expansion data (activity scores, news feed counts).
    pub detail_seed: u64,
}

impl StoredContact {
    /// A contact with the attributes every record carries: `ResourceUri`, `Id`,
    /// the lists, `Settings`, owner, status and timestamps.
    pub fn new(
        id: &str,
        resource_uri: String,
        owner_id: &str,
        record_status: &str,
        created: &str,
        modified: &str,
        detail_seed: u64,
    ) -> Self {
        let mut record = Map::new();
        record.insert("ResourceUri".into(), Value::String(resource_uri));
        record.insert("Id".into(), Value::String(id.to_string()));
        for list in [
            "SecondaryEmails",
            "AdditionalNotificationEmails",
            "InvalidEmails",
            "Tags",
        ] {
            record.insert(list.into(), Value::Array(Vec::new()));
        }
        record.insert("OwnerId".into(), Value::String(owner_id.to_string()));
        record.insert(
            "RecordStatus".into(),
            Value::String(record_status.to_string()),
        );
        record.insert(
            "CreatedTimestamp".into(),
            Value::String(created.to_string()),
        );
        record.insert(
            "ModificationTimestamp".into(),
            Value::String(modified.to_string()),
        );
        record.insert("Settings".into(), json!({ "ReverseProspecting": false }));
        let mut contact = Self {
            record,
            portal: None,
            notes: Vec::new(),
            detail_seed,
        };
        contact.set_portal(None);
        contact
    }

    pub fn id(&self) -> &str {
        self.text("Id")
    }

    /// A character attribute, or `""` when it has no value.
    pub fn text(&self, name: &str) -> &str {
        self.record
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// Sets a character attribute; `None` or an empty value removes it, since
    /// attributes without a value are left out of the wire form.
    pub fn set_text(&mut self, name: &str, value: Option<String>) {
        match value {
            Some(value) if !value.is_empty() => {
                self.record.insert(name.to_string(), Value::String(value));
            }
            _ => {
                self.record.remove(name);
            }
        }
    }

    pub fn is_connected(&self) -> bool {
        self.text("RecordStatus") == "Connected"
    }

    /// Replaces the portal account and keeps the search-only keys in step.
    pub fn set_portal(&mut self, portal: Option<PortalAccount>) {
        let active = portal.as_ref().is_some_and(|portal| portal.recently_active);
        self.record
            .insert("VowActive".to_string(), Value::Bool(active));
        match &portal {
            Some(portal) => {
                self.record.insert(
                    "PortalLoginName".to_string(),
                    Value::String(portal.login_name.clone()),
                );
            }
            None => {
                self.record.remove("PortalLoginName");
            }
        }
        self.portal = portal;
    }

    /// Applies validated attribute values: `null` removes an attribute (lists
    /// become empty, which validation already arranged).
    pub fn apply(&mut self, values: &Map<String, Value>) {
        for (name, value) in values {
            match value {
                Value::Null => {
                    self.record.remove(name);
                }
                Value::String(text) if text.is_empty() => {
                    self.record.remove(name);
                }
                _ => {
                    self.record.insert(name.clone(), value.clone());
                }
            }
        }
    }

    /// The record as the API shows it with the given `_select` and `_expand`.
    /// `email_counts` (normalized primary email to number of contacts) is needed
    /// only for the `UniquePrimaryEmail` expansion.
    pub fn render(
        &self,
        presentation: &Presentation,
        email_counts: Option<&HashMap<String, usize>>,
    ) -> Value {
        let mut shown: Map<String, Value> = self
            .record
            .iter()
            .filter(|(name, _)| !SEARCH_ONLY_KEYS.contains(&name.as_str()))
            .filter(|(name, _)| match &presentation.select {
                None => true,
                Some(selected) => {
                    name.as_str() == "Id"
                        || name.as_str() == "ResourceUri"
                        || selected.iter().any(|selected| selected == *name)
                }
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        for expansion in &presentation.expansions {
            match expansion {
                Expansion::Activity => {
                    shown.insert("Activity".into(), self.activity());
                }
                Expansion::NewsFeedSummary => {
                    shown.insert("NewsFeedSummary".into(), self.news_feed_summary(false));
                }
                Expansion::NewsFeedNotificationSummary => {
                    shown.insert(
                        "NewsFeedNotificationSummary".into(),
                        self.news_feed_summary(true),
                    );
                }
                Expansion::Notes => {
                    let notes = self
                        .notes
                        .iter()
                        .map(|note| {
                            json!({
                                "Id": note.id,
                                "Note": note.note,
                                "CreatedTimestamp": note.created,
                            })
                        })
                        .collect();
                    shown.insert("Notes".into(), Value::Array(notes));
                }
                Expansion::Portal => {
                    let portal = match &self.portal {
                        None => Value::Null,
                        Some(portal) => json!({
                            "LoginName": portal.login_name,
                            "Enabled": portal.enabled,
                            "CreatedTimestamp": portal.created,
                        }),
                    };
                    shown.insert("Portal".into(), portal);
                }
                Expansion::VowActive => {
                    let active = self.portal.as_ref().is_some_and(|p| p.recently_active);
                    shown.insert("VowActive".into(), Value::Bool(active));
                }
                Expansion::VowEnabled => {
                    let enabled = self.portal.as_ref().is_some_and(|p| p.enabled);
                    shown.insert("VowEnabled".into(), Value::Bool(enabled));
                    shown.insert("VowExists".into(), Value::Bool(self.portal.is_some()));
                }
                Expansion::UniquePrimaryEmail => {
                    let email = attributes::normalized_email(self.text("PrimaryEmail"));
                    let count = email_counts
                        .and_then(|counts| counts.get(&email))
                        .copied()
                        .unwrap_or(1);
                    shown.insert("UniquePrimaryEmail".into(), Value::Bool(count <= 1));
                }
            }
        }
        Value::Object(shown)
    }

    /// `Activity`: an overall score and 30 daily scores, oldest first, drawn
    /// deterministically from the contact's seed.
    fn activity(&self) -> Value {
        let mut rng = SeededRng::new(self.detail_seed).fork("activity");
        let engaged = rng.chance(0.4);
        let daily: Vec<(u64, u64)> = (0..30)
            .map(|_| {
                if engaged && rng.chance(0.5) {
                    let score = rng.range(1, 20);
                    (score, (score * 5).min(100))
                } else {
                    (0, 0)
                }
            })
            .collect();
        let score: u64 = daily.iter().map(|(score, _)| score).sum();
        json!({
            "Score": score,
            "RelativeScore": (score / 3).min(100),
            "DailyActivity": daily
                .iter()
                .map(|(score, relative)| json!({ "Score": score, "RelativeScore": relative }))
                .collect::<Vec<_>>(),
        })
    }

    /// `NewsFeedSummary` or `NewsFeedNotificationSummary`. Only contacts with a
    /// portal account have news feeds; the others show zero counts.
    fn news_feed_summary(&self, notifications: bool) -> Value {
        let mut rng = SeededRng::new(self.detail_seed).fork("news-feed");
        let (unapproved, unread, days_after) = if self.portal.is_some() {
            (rng.range(0, 6), rng.range(0, 30), rng.range(1, 300) as i64)
        } else {
            (0, 0, 0)
        };
        let last_event = if self.portal.is_some() {
            parse_timestamp(self.text("CreatedTimestamp"))
                .map(|created| {
                    Value::String(format_timestamp(created + Duration::days(days_after)))
                })
                .unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        if notifications {
            json!({
                "LastListingNotificationEventTimestamp": last_event,
                "UnapprovedListingNotificationEventCount": unapproved / 2,
                "UnreadListingNotificationEventCount": unread / 2,
            })
        } else {
            json!({
                "LastListingEventTimestamp": last_event,
                "UnapprovedListingEventCount": unapproved,
                "UnreadListingEventCount": unread,
            })
        }
    }
}

/// Everything the emulator serves; reset restores the seeded copy.
#[derive(Debug, Clone)]
pub struct SparkData {
    /// Connected and Unconnected contacts by `Id`.
    pub contacts: BTreeMap<String, StoredContact>,
    /// The agent's own contact record, `/my/contact` for the Private, IDX and
    /// Public tokens. It is not one of the agent's contacts.
    pub account_contact: StoredContact,
    /// The contact that is `/my/contact` for the VOW token.
    pub vow_user_contact_id: String,
    /// The contact that is `/my/contact` for the Portal token.
    pub portal_user_contact_id: String,
    /// Draws the ids of created contacts and notes, so they are deterministic.
    pub id_generator: SeededRng,
}

impl SparkData {
    /// A fresh 26-digit id not used by any contact.
    pub fn new_contact_id(&mut self) -> String {
        loop {
            let id = self.id_generator.digits(26);
            if !self.contacts.contains_key(&id) && id != self.account_contact.id() {
                return id;
            }
        }
    }

    /// A fresh 26-digit note id.
    pub fn new_note_id(&mut self) -> String {
        self.id_generator.digits(26)
    }

    /// How many contacts use each (normalized) primary email.
    pub fn email_counts(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for contact in self.contacts.values() {
            *counts
                .entry(attributes::normalized_email(contact.text("PrimaryEmail")))
                .or_insert(0) += 1;
        }
        counts
    }

    /// Whether another contact (not `except_id`) already uses `email`.
    pub fn email_taken(&self, email: &str, except_id: Option<&str>) -> bool {
        let wanted = attributes::normalized_email(email);
        self.contacts.values().any(|contact| {
            Some(contact.id()) != except_id
                && attributes::normalized_email(contact.text("PrimaryEmail")) == wanted
        })
    }
}

/// Spark's timestamp form: `2012-03-07T20:09:37Z`.
pub fn format_timestamp(time: DateTime<Utc>) -> String {
    crate::sandbox::timestamps::utc_seconds(&time).to_string()
}

fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StoredContact {
        let mut contact = StoredContact::new(
            "20200101000000000000000000",
            "/v1/contacts/20200101000000000000000000".into(),
            "20090815223215294334000000",
            "Connected",
            "2020-01-01T00:00:00Z",
            "2020-01-02T00:00:00Z",
            7,
        );
        contact.set_text("DisplayName", Some("Neddy Nederlander".into()));
        contact.set_text("PrimaryEmail", Some("neddy@example.com".into()));
        contact
    }

    #[test]
    fn search_only_keys_are_hidden_and_select_keeps_id() {
        let contact = sample();
        assert_eq!(contact.record["VowActive"], false);
        let full = contact.render(&Presentation::default(), None);
        assert!(full.get("VowActive").is_none());
        assert_eq!(full["DisplayName"], "Neddy Nederlander");
        let selected = contact.render(
            &Presentation {
                select: Some(vec!["DisplayName".into()]),
                expansions: vec![],
            },
            None,
        );
        let keys: Vec<&String> = selected.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["DisplayName", "Id", "ResourceUri"]);
    }

    #[test]
    fn expansions_are_deterministic() {
        let contact = sample();
        let presentation = Presentation {
            select: None,
            expansions: vec![
                Expansion::Activity,
                Expansion::VowEnabled,
                Expansion::Portal,
            ],
        };
        let first = contact.render(&presentation, None);
        assert_eq!(first, contact.render(&presentation, None));
        assert_eq!(
            first["Activity"]["DailyActivity"].as_array().unwrap().len(),
            30
        );
        assert_eq!(first["VowExists"], false);
        assert_eq!(first["Portal"], Value::Null);
    }
}
