//! The Winnerr records (contacts with their activities, deals and
//! communications), the server-computed lead score, and the seeding of the
//! emulator's data from the shared population.
//!
//! Enumerated values (contact types, statuses, sources, activity types, ...)
//! are kept as the upper-case strings the API speaks; the lists below are the
//! single place that says which values are valid.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, SubsecRound, TimeZone, Utc};
use serde::{Serialize, Serializer};
use serde_json::{json, Map, Value};

use crate::sandbox::people::{PhoneStyle, SourceName, World};
use crate::sandbox::rng::SeededRng;

/// Contact types, from the seed's table.
pub const CONTACT_TYPES: &[&str] = &["LEAD", "CLIENT", "PAST_CLIENT", "REFERRAL", "VENDOR"];

/// Contact statuses, from the seed's table.
pub const CONTACT_STATUSES: &[&str] = &[
    "ACTIVE",
    "INACTIVE",
    "CONVERTED",
    "DISQUALIFIED",
    "DO_NOT_CONTACT",
];

/// Lead sources: the seed's examples plus the usual real-estate channels.
pub const LEAD_SOURCES: &[&str] = &[
    "WEBSITE",
    "REFERRAL",
    "ZILLOW",
    "REALTOR_COM",
    "OPEN_HOUSE",
    "SOCIAL_MEDIA",
    "SIGN_CALL",
    "WALK_IN",
    "COLD_CALL",
    "OTHER",
];

/// Preferred communication channels.
pub const COMMUNICATION_METHODS: &[&str] = &["EMAIL", "PHONE", "SMS"];

/// Property types a contact may be interested in.
pub const PROPERTY_TYPES: &[&str] = &[
    "SINGLE_FAMILY",
    "CONDO",
    "TOWNHOUSE",
    "MULTI_FAMILY",
    "LAND",
    "COMMERCIAL",
];

/// Activity types accepted by `POST /v1/contacts/{id}/activities`.
pub const ACTIVITY_TYPES: &[&str] = &[
    "EMAIL_SENT",
    "EMAIL_RECEIVED",
    "PHONE_CALL",
    "MEETING",
    "NOTE",
    "SMS",
    "SHOWING",
];

/// The tag vocabulary with its display colours. Tags outside it get a colour
/// from [`CUSTOM_TAG_PALETTE`].
pub const TAG_VOCABULARY: &[(&str, &str)] = &[
    ("first-time-buyer", "#2563eb"),
    ("luxury-market", "#dc2626"),
    ("investor", "#059669"),
    ("cash-buyer", "#d97706"),
    ("relocation", "#7c3aed"),
    ("downsizing", "#0891b2"),
    ("past-client", "#4b5563"),
    ("referral-source", "#db2777"),
    ("waterfront", "#0284c7"),
    ("pre-approved", "#16a34a"),
];

/// Colours for tags outside the vocabulary, chosen by a hash of the tag name
/// so that a tag keeps its colour for the life of the data.
pub const CUSTOM_TAG_PALETTE: &[&str] = &[
    "#64748b", "#ea580c", "#65a30d", "#0d9488", "#4f46e5", "#c026d3", "#e11d48", "#ca8a04",
];

/// Seeded timestamps never go past this instant, so the data looks the same
/// whenever the sandbox is started.
fn seeding_ceiling() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 30, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// The current time at the precision the API stores (whole seconds).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// How the API writes timestamps: `2024-01-15T10:30:00Z`.
pub fn format_timestamp(instant: &DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn serialize_timestamp<S: Serializer>(
    instant: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_timestamp(instant))
}

fn serialize_optional_timestamp<S: Serializer>(
    instant: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match instant {
        Some(instant) => serializer.serialize_str(&format_timestamp(instant)),
        None => serializer.serialize_none(),
    }
}

/// A postal address; every part may be missing.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip_code: Option<String>,
    pub country: Option<String>,
}

/// A budget; either bound may be missing.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PriceRange {
    pub min: Option<u64>,
    pub max: Option<u64>,
}

/// What the contact is looking for and how to reach them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preferences {
    pub communication_method: Option<String>,
    pub property_types: Vec<String>,
    pub price_range: Option<PriceRange>,
    pub locations: Vec<String>,
}

/// One contact, in the field order of the seed's first example.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub id: String,
    pub organization_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: Option<String>,
    pub secondary_phone: Option<String>,
    pub address: Option<Address>,
    #[serde(rename = "type")]
    pub contact_type: String,
    pub status: String,
    pub source: Option<String>,
    pub lead_score: i64,
    pub tags: Vec<String>,
    pub notes: Option<String>,
    pub preferences: Preferences,
    pub assigned_to: Option<String>,
    #[serde(serialize_with = "serialize_timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serialize_timestamp")]
    pub updated_at: DateTime<Utc>,
    #[serde(serialize_with = "serialize_optional_timestamp")]
    pub last_contacted_at: Option<DateTime<Utc>>,
}

/// The top-level keys of a contact as served, for validating `fields=`.
pub const CONTACT_KEYS: &[&str] = &[
    "id",
    "organizationId",
    "firstName",
    "lastName",
    "email",
    "phone",
    "secondaryPhone",
    "address",
    "type",
    "status",
    "source",
    "leadScore",
    "tags",
    "notes",
    "preferences",
    "assignedTo",
    "createdAt",
    "updatedAt",
    "lastContactedAt",
];

impl Contact {
    /// The contact as a JSON object.
    pub fn to_json(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            // A struct of strings, numbers and vectors always serializes to an object.
            _ => Map::new(),
        }
    }

    /// Recomputes the server-owned lead score after any change.
    pub fn refresh_lead_score(&mut self) {
        self.lead_score = lead_score(self);
    }
}

/// One entry of a contact's activity history.
#[derive(Debug, Clone)]
pub struct Activity {
    pub id: String,
    pub activity_type: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub metadata: Map<String, Value>,
    /// Insertion order, which breaks ties between activities created in the
    /// same second so that "newest first" is well defined.
    pub sequence: u64,
}

impl Activity {
    /// The activity as served; `scheduledAt` appears only when it was given.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("id".into(), json!(self.id));
        object.insert("type".into(), json!(self.activity_type));
        object.insert("description".into(), json!(self.description));
        object.insert(
            "createdAt".into(),
            json!(format_timestamp(&self.created_at)),
        );
        if let Some(scheduled_at) = &self.scheduled_at {
            object.insert("scheduledAt".into(), json!(format_timestamp(scheduled_at)));
        }
        object.insert("metadata".into(), Value::Object(self.metadata.clone()));
        Value::Object(object)
    }

    /// Whether this activity counts as contacting the person: anything but a
    /// note, once it has happened.
    pub fn is_past_interaction(&self, now: DateTime<Utc>) -> bool {
        self.activity_type != "NOTE" && self.scheduled_at.is_none_or(|at| at <= now)
    }

    /// When the interaction happened: the scheduled time if given, else creation.
    pub fn happened_at(&self) -> DateTime<Utc> {
        self.scheduled_at.unwrap_or(self.created_at)
    }
}

/// A deal attached to a contact (served only through `include=deals`).
#[derive(Debug, Clone, Serialize)]
pub struct Deal {
    pub id: String,
    pub title: String,
    pub amount: u64,
    pub stage: String,
}

/// A communication with a contact (served only through `include=communications`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Communication {
    pub id: String,
    #[serde(rename = "type")]
    pub communication_type: String,
    pub subject: String,
    #[serde(serialize_with = "serialize_timestamp")]
    pub created_at: DateTime<Utc>,
}

/// A contact together with the records that hang off it.
#[derive(Debug, Clone)]
pub struct ContactEntry {
    pub contact: Contact,
    /// Oldest first, in insertion order.
    pub activities: Vec<Activity>,
    pub deals: Vec<Deal>,
    pub communications: Vec<Communication>,
}

impl ContactEntry {
    /// The activities newest first (by creation time, then insertion order).
    pub fn activities_newest_first(&self) -> Vec<&Activity> {
        let mut activities: Vec<&Activity> = self.activities.iter().collect();
        activities.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then(b.sequence.cmp(&a.sequence))
        });
        activities
    }
}

/// Everything the emulator serves; one `Store` holds it so reset restores it.
#[derive(Debug, Clone)]
pub struct WinnerrData {
    pub organization_id: String,
    pub agents: Vec<String>,
    /// Keyed by contact id.
    pub contacts: BTreeMap<String, ContactEntry>,
    /// Generates ids for records created through the API.
    pub id_generator: SeededRng,
    pub next_activity_sequence: u64,
}

impl WinnerrData {
    /// A fresh `prefix_<uuid>` id.
    pub fn new_id(&mut self, prefix: &str) -> String {
        format!("{prefix}_{}", self.id_generator.uuid())
    }

    /// The contact whose email matches `email` once both are trimmed and
    /// lower-cased, other than `except_id`.
    pub fn contact_with_email(&self, email: &str, except_id: Option<&str>) -> Option<&Contact> {
        let wanted = normalize_email(email);
        self.contacts
            .values()
            .map(|entry| &entry.contact)
            .find(|contact| {
                Some(contact.id.as_str()) != except_id && normalize_email(&contact.email) == wanted
            })
    }

    /// Every tag in use or in the vocabulary, with its colour and live count,
    /// most used first (ties by name).
    pub fn tag_summary(&self) -> Vec<(String, String, u64)> {
        let mut counts: BTreeMap<String, u64> = TAG_VOCABULARY
            .iter()
            .map(|(name, _)| (name.to_string(), 0))
            .collect();
        for entry in self.contacts.values() {
            for tag in &entry.contact.tags {
                *counts.entry(tag.clone()).or_default() += 1;
            }
        }
        let mut summary: Vec<(String, String, u64)> = counts
            .into_iter()
            .map(|(name, count)| {
                let color = tag_color(&name);
                (name, color, count)
            })
            .collect();
        summary.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        summary
    }
}

/// The colour a tag is shown in.
pub fn tag_color(name: &str) -> String {
    if let Some((_, color)) = TAG_VOCABULARY.iter().find(|(known, _)| *known == name) {
        return color.to_string();
    }
    let hash = fnv1a(name.as_bytes());
    CUSTOM_TAG_PALETTE[(hash % CUSTOM_TAG_PALETTE.len() as u64) as usize].to_string()
}

/// FNV-1a, 64 bits: a stable hash for tag colours and cursor checksums.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The form in which emails are compared for uniqueness.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The lead score, 0 to 100, computed from the contact's own fields only:
///
/// - type: LEAD 30, REFERRAL 35, CLIENT 45, PAST_CLIENT 25, VENDOR 5;
/// - status: ACTIVE +5, CONVERTED +10, INACTIVE -10, DISQUALIFIED -25, DO_NOT_CONTACT -30;
/// - source: REFERRAL +15, OPEN_HOUSE +12, WALK_IN +10, SIGN_CALL +10, WEBSITE +8,
///   ZILLOW +8, REALTOR_COM +8, SOCIAL_MEDIA +5, COLD_CALL +2, OTHER or none 0;
/// - tags: +3 per tag (at most +15), and +5 more for `cash-buyer`;
/// - preferences: a price range +5, and +5 more when its max exceeds 1,000,000;
///   property types +2; locations +2 (the communication method adds nothing);
/// - the sum is clamped to 0..=100.
///
/// The seed's create example (a LEAD from REFERRAL with one tag, a price range
/// up to 1,000,000 and one property type) scores 60, as the seed shows.
pub fn lead_score(contact: &Contact) -> i64 {
    let type_points = match contact.contact_type.as_str() {
        "LEAD" => 30,
        "REFERRAL" => 35,
        "CLIENT" => 45,
        "PAST_CLIENT" => 25,
        "VENDOR" => 5,
        _ => 0,
    };
    let status_points = match contact.status.as_str() {
        "ACTIVE" => 5,
        "CONVERTED" => 10,
        "INACTIVE" => -10,
        "DISQUALIFIED" => -25,
        "DO_NOT_CONTACT" => -30,
        _ => 0,
    };
    let source_points = match contact.source.as_deref() {
        Some("REFERRAL") => 15,
        Some("OPEN_HOUSE") => 12,
        Some("WALK_IN") | Some("SIGN_CALL") => 10,
        Some("WEBSITE") | Some("ZILLOW") | Some("REALTOR_COM") => 8,
        Some("SOCIAL_MEDIA") => 5,
        Some("COLD_CALL") => 2,
        _ => 0,
    };
    let mut tag_points = (3 * contact.tags.len() as i64).min(15);
    if contact.tags.iter().any(|tag| tag == "cash-buyer") {
        tag_points += 5;
    }
    let preferences = &contact.preferences;
    let mut preference_points = 0;
    if let Some(range) = &preferences.price_range {
        preference_points += 5;
        if range.max.is_some_and(|max| max > 1_000_000) {
            preference_points += 5;
        }
    }
    if !preferences.property_types.is_empty() {
        preference_points += 2;
    }
    if !preferences.locations.is_empty() {
        preference_points += 2;
    }
    (type_points + status_points + source_points + tag_points + preference_points).clamp(0, 100)
}

const AGENT_COUNT: usize = 8;

const NOTES: &[&str] = &[
    "Interested in waterfront properties",
    "Prefers evening calls",
    "Pre-approved with Harbor Lending",
    "Relocating for work in the spring",
    "Wants a home office and a large yard",
    "Looking to downsize after retirement",
    "Investor; focused on rental yield",
    "Met at the Sunday open house",
    "Referred by a past client",
    "Needs to sell current home first",
];

const DEAL_TITLES: &[&str] = &[
    "Condo Purchase",
    "Single Family Purchase",
    "Townhouse Listing",
    "Investment Property",
    "Home Sale",
    "Rental Portfolio",
];

const DEAL_STAGES: &[&str] = &[
    "PROSPECTING",
    "QUALIFICATION",
    "SHOWING",
    "OFFER",
    "NEGOTIATION",
    "UNDER_CONTRACT",
    "CLOSED_WON",
    "CLOSED_LOST",
];

const COMMUNICATION_TYPES: &[(&str, &[&str])] = &[
    (
        "EMAIL",
        &[
            "Property Inquiry",
            "New Listings This Week",
            "Market Update",
            "Showing Confirmation",
        ],
    ),
    ("SMS", &["Running 10 minutes late", "Showing reminder"]),
    ("PHONE", &["Follow-up call", "Offer discussion"]),
];

/// Seeds 600 contacts from the shared population, with agents, tags,
/// activities, deals and communications.
pub fn seed(world: &World) -> WinnerrData {
    let mut rng = world.rng_for("winnerr");
    let organization_id = format!("org_{}", rng.uuid());
    let agents: Vec<String> = (0..AGENT_COUNT)
        .map(|_| format!("agent_{}", rng.uuid()))
        .collect();
    let ceiling = seeding_ceiling();
    let mut sequence = 0u64;
    let mut contacts = BTreeMap::new();
    for person in world.people_for(SourceName::Winnerr) {
        let id = format!("contact_{}", rng.uuid());
        let contact_type = weighted(
            &mut rng,
            &[
                ("LEAD", 45),
                ("CLIENT", 20),
                ("PAST_CLIENT", 15),
                ("REFERRAL", 12),
                ("VENDOR", 8),
            ],
        );
        let status = match contact_type {
            "CLIENT" => weighted(
                &mut rng,
                &[("ACTIVE", 70), ("CONVERTED", 25), ("INACTIVE", 5)],
            ),
            "PAST_CLIENT" => weighted(&mut rng, &[("INACTIVE", 60), ("ACTIVE", 40)]),
            _ => weighted(
                &mut rng,
                &[
                    ("ACTIVE", 60),
                    ("INACTIVE", 15),
                    ("CONVERTED", 10),
                    ("DISQUALIFIED", 10),
                    ("DO_NOT_CONTACT", 5),
                ],
            ),
        };
        let source = rng.pick(LEAD_SOURCES).to_string();
        let mut tags: Vec<String> = Vec::new();
        match contact_type {
            "PAST_CLIENT" if rng.chance(0.7) => tags.push("past-client".into()),
            "REFERRAL" if rng.chance(0.7) => tags.push("referral-source".into()),
            _ => {}
        }
        for _ in 0..rng.range(0, 4) {
            let (tag, _) = rng.pick(TAG_VOCABULARY);
            if !tags.iter().any(|existing| existing == tag) {
                tags.push(tag.to_string());
            }
        }
        let price_range = rng.chance(0.7).then(|| {
            let min = rng.range(1, 30) * 50_000;
            PriceRange {
                min: Some(min),
                max: Some(min + rng.range(1, 20) * 50_000),
            }
        });
        let mut property_types: Vec<String> = Vec::new();
        for _ in 0..rng.range(0, 3) {
            let kind = rng.pick(PROPERTY_TYPES).to_string();
            if !property_types.contains(&kind) {
                property_types.push(kind);
            }
        }
        let mut locations: Vec<String> = Vec::new();
        if rng.chance(0.6) {
            locations.push(person.city.clone());
        }
        let preferences = Preferences {
            communication_method: rng
                .chance(0.85)
                .then(|| rng.pick(COMMUNICATION_METHODS).to_string()),
            property_types,
            price_range,
            locations,
        };
        let secondary_phone = rng.chance(0.3).then(|| {
            format!(
                "+1-{}-{}-{}",
                &person.phone_digits[0..3],
                rng.range(200, 999),
                rng.digits(4)
            )
        });
        let created_at = (person.created_at + Duration::seconds(rng.range(0, 14 * 86_400) as i64))
            .min(ceiling)
            .trunc_subsecs(0);
        let updated_at = (created_at + Duration::seconds(rng.range(0, 120 * 86_400) as i64))
            .min(ceiling)
            .max(created_at);
        let activities = seed_activities(&mut rng, created_at, ceiling, &mut sequence);
        let last_contacted_at = activities
            .iter()
            .filter(|activity| activity.is_past_interaction(ceiling))
            .map(Activity::happened_at)
            .max();
        let deals = (0..rng.range(0, 3))
            .map(|_| Deal {
                id: format!("deal_{}", rng.uuid()),
                title: format!("{} {}", person.city, rng.pick(DEAL_TITLES)),
                amount: rng.range(4, 60) * 25_000,
                stage: rng.pick(DEAL_STAGES).to_string(),
            })
            .collect();
        let mut communications: Vec<Communication> = (0..rng.range(0, 5))
            .map(|_| {
                let (kind, subjects) = *rng.pick(COMMUNICATION_TYPES);
                let span = (ceiling - created_at).num_seconds().max(1) as u64;
                Communication {
                    id: format!("comm_{}", rng.uuid()),
                    communication_type: kind.to_string(),
                    subject: rng.pick(subjects).to_string(),
                    created_at: created_at + Duration::seconds(rng.range(0, span) as i64),
                }
            })
            .collect();
        communications.sort_by_key(|communication| std::cmp::Reverse(communication.created_at));
        let mut contact = Contact {
            id: id.clone(),
            organization_id: organization_id.clone(),
            first_name: person.first_name.clone(),
            last_name: person.last_name.clone(),
            email: person.email_as_entered(SourceName::Winnerr),
            phone: Some(person.phone(PhoneStyle::DashedWithCountry)),
            secondary_phone,
            address: Some(Address {
                street: Some(person.street.clone()),
                city: Some(person.city.clone()),
                state: Some(person.state.clone()),
                zip_code: Some(person.postal_code.clone()),
                country: Some("US".to_string()),
            }),
            contact_type: contact_type.to_string(),
            status: status.to_string(),
            source: Some(source),
            lead_score: 0,
            tags,
            notes: rng.chance(0.5).then(|| rng.pick(NOTES).to_string()),
            preferences,
            assigned_to: rng.chance(0.8).then(|| rng.pick(&agents).clone()),
            created_at,
            updated_at,
            last_contacted_at,
        };
        contact.refresh_lead_score();
        contacts.insert(
            id,
            ContactEntry {
                contact,
                activities,
                deals,
                communications,
            },
        );
    }
    WinnerrData {
        organization_id,
        agents,
        contacts,
        id_generator: world.rng_for("winnerr-ids"),
        next_activity_sequence: sequence,
    }
}

/// 3 to 10 past activities for most contacts (none for about one in eight),
/// oldest first.
fn seed_activities(
    rng: &mut SeededRng,
    created_at: DateTime<Utc>,
    ceiling: DateTime<Utc>,
    sequence: &mut u64,
) -> Vec<Activity> {
    if rng.chance(0.125) {
        return Vec::new();
    }
    let span = (ceiling - created_at).num_seconds().clamp(1, 365 * 86_400) as u64;
    let mut activities: Vec<Activity> = (0..rng.range(3, 11))
        .map(|_| {
            let activity_type = *rng.pick(ACTIVITY_TYPES);
            let (description, metadata) = activity_details(rng, activity_type);
            Activity {
                id: format!("activity_{}", rng.uuid()),
                activity_type: activity_type.to_string(),
                description: description.to_string(),
                created_at: created_at + Duration::seconds(rng.range(0, span) as i64),
                scheduled_at: None,
                metadata,
                sequence: 0,
            }
        })
        .collect();
    activities.sort_by_key(|activity| activity.created_at);
    for activity in &mut activities {
        activity.sequence = *sequence;
        *sequence += 1;
    }
    activities
}

fn activity_details(
    rng: &mut SeededRng,
    activity_type: &str,
) -> (&'static str, Map<String, Value>) {
    let (description, metadata) = match activity_type {
        "EMAIL_SENT" => (
            "Property inquiry follow-up email sent",
            json!({"subject": "Re: New listings", "emailId": format!("email_{}", rng.digits(6))}),
        ),
        "EMAIL_RECEIVED" => (
            "Reply received about showing times",
            json!({"subject": "Showing times", "emailId": format!("email_{}", rng.digits(6))}),
        ),
        "PHONE_CALL" => (
            "Discussed property preferences",
            json!({"duration": rng.range(60, 3600), "callId": format!("call_{}", rng.digits(6))}),
        ),
        "MEETING" => (
            "Met at the office to review options",
            json!({"location": "Main office"}),
        ),
        "SMS" => (
            "Sent a showing reminder by text",
            json!({"messageId": format!("sms_{}", rng.digits(6))}),
        ),
        "SHOWING" => (
            "Property showing",
            json!({"propertyId": format!("property_{}", rng.digits(5))}),
        ),
        _ => ("Internal note added", json!({})),
    };
    match metadata {
        Value::Object(map) => (description, map),
        _ => (description, Map::new()),
    }
}

fn weighted<'a>(rng: &mut SeededRng, choices: &[(&'a str, u64)]) -> &'a str {
    let total: u64 = choices.iter().map(|(_, weight)| weight).sum();
    let mut roll = rng.range(0, total.max(1));
    for (choice, weight) in choices {
        if roll < *weight {
            return choice;
        }
        roll -= weight;
    }
    choices.first().map_or("", |(choice, _)| choice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeding_is_deterministic_and_complete() {
        let world = World::generate(1);
        let a = seed(&world);
        let b = seed(&world);
        assert_eq!(a.contacts.len(), 600);
        let first_a = a.contacts.values().next().unwrap();
        let first_b = b.contacts.values().next().unwrap();
        assert_eq!(first_a.contact.id, first_b.contact.id);
        assert_eq!(first_a.contact.email, first_b.contact.email);
        assert!(first_a.contact.id.starts_with("contact_"));
        let with_activities = a
            .contacts
            .values()
            .filter(|entry| !entry.activities.is_empty())
            .count();
        assert!(with_activities > 450 && with_activities < 600);
        for entry in a.contacts.values() {
            assert_eq!(entry.contact.lead_score, lead_score(&entry.contact));
            assert!(entry.contact.updated_at >= entry.contact.created_at);
        }
    }

    #[test]
    fn lead_score_matches_the_seed_create_example() {
        let world = World::generate(1);
        let data = seed(&world);
        let mut contact = data.contacts.values().next().unwrap().contact.clone();
        contact.contact_type = "LEAD".into();
        contact.status = "ACTIVE".into();
        contact.source = Some("REFERRAL".into());
        contact.tags = vec!["luxury-market".into()];
        contact.preferences = Preferences {
            communication_method: Some("PHONE".into()),
            property_types: vec!["SINGLE_FAMILY".into()],
            price_range: Some(PriceRange {
                min: Some(500_000),
                max: Some(1_000_000),
            }),
            locations: vec![],
        };
        assert_eq!(lead_score(&contact), 60);
        contact.status = "DO_NOT_CONTACT".into();
        contact.contact_type = "VENDOR".into();
        contact.source = None;
        contact.tags.clear();
        contact.preferences = Preferences::default();
        assert_eq!(lead_score(&contact), 0);
    }

    #[test]
    fn custom_tags_get_a_stable_palette_colour() {
        assert_eq!(tag_color("investor"), "#059669");
        assert_eq!(tag_color("boat-owner"), tag_color("boat-owner"));
        assert!(CUSTOM_TAG_PALETTE.contains(&tag_color("boat-owner").as_str()));
    }
}
