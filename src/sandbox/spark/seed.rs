//! Deterministic seeding of the Spark emulator's data from the shared population.
//!
//! The 600 people `World::people_for(SourceName::Spark)` gives become the agent's
//! Connected contacts; 55 people Spark does not otherwise hold, plus 5 consumers
//! who signed up again with an email already on file, become Unconnected
//! contacts; one extra record is the agent's own account contact. Further
//! agents are seeded the same way from small populations of their own.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::attributes::normalized_email;
use super::records::{format_timestamp, ContactNote, PortalAccount, SparkData, StoredContact};
use crate::sandbox::people::{Person, PhoneStyle, SourceName, World};
use crate::sandbox::rng::SeededRng;

/// The agent the sandbox's tokens belong to: the `OwnerId` of every seeded
/// contact and the `Id` of the agent's own contact record (the seed's example id).
pub const AGENT_USER_ID: &str = "20090815223215294334000000";

/// How many Unconnected contacts come from people Spark does not hold otherwise.
const UNCONNECTED_NEW_PEOPLE: usize = 55;
/// How many Unconnected contacts duplicate the email of a Connected one.
const UNCONNECTED_DUPLICATES: usize = 5;

/// No seeded modification is later than this, so every write made while the
/// sandbox runs is the most recent modification.
fn latest_seeded_modification() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 30, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

const TAGS: &[&str] = &[
    "IDX Lead",
    "Buyer",
    "Seller",
    "Investor",
    "First-time Buyer",
    "Relocation",
    "Past Client",
    "Hot Lead",
    "Open House",
    "Referral",
    "Luxury",
    "Vacation Home",
];

const REFERRERS: &[&str] = &[
    "Open house",
    "Website",
    "Past client",
    "Zillow",
    "Mr. Crowley",
    "Office walk-in",
];

const NOTES: &[&str] = &[
    "Prefers to be contacted by email.",
    "Looking in the 300-400k range, pre-approved.",
    "Asked about school districts.",
    "Needs a garage and a fenced yard.",
    "Relocating for work in the spring.",
    "Wants to sell before buying.",
];

/// Builds the seeded data for `world`.
pub fn seed(world: &World) -> SparkData {
    let mut rng = world.rng_for("spark-contacts");
    let mut contacts = BTreeMap::new();
    let mut login_names = HashSet::new();
    let spark_people = world.people_for(SourceName::Spark);

    let mut connected_ids = Vec::with_capacity(spark_people.len());
    for person in &spark_people {
        let created = person.created_at + Duration::minutes(rng.range(0, 60 * 24 * 30) as i64);
        let id = unique_id(&mut rng, &contacts, created);
        let mut contact = person_contact(&mut rng, person, &id, created, "Connected");
        let email = person.email_as_entered(SourceName::Spark);
        contact.set_text("PrimaryEmail", Some(email));
        add_connected_details(&mut rng, &mut contact, person, connected_ids.len());
        if rng.chance(0.3) {
            let portal = portal_account(&mut rng, person, created, &mut login_names);
            contact.set_portal(Some(portal));
            contact.set_text(
                "PortalInvitationTimestamp",
                Some(format_timestamp(created + Duration::hours(1))),
            );
        }
        let note_count = if rng.chance(0.2) { rng.range(1, 3) } else { 0 };
        for _ in 0..note_count {
            let note = ContactNote {
                id: rng.digits(26),
                note: rng.pick(NOTES).to_string(),
                created: format_timestamp(created + Duration::days(rng.range(1, 60) as i64)),
            };
            contact.notes.push(note);
        }
        connected_ids.push(id.clone());
        contacts.insert(id, contact);
    }

    // The VOW and Portal tokens belong to the first two Connected contacts, who
    // therefore have enabled, recently used portal accounts.
    for (position, id) in connected_ids.iter().take(2).enumerate() {
        if let (Some(contact), Some(person)) = (contacts.get_mut(id), spark_people.get(position)) {
            let created = person.created_at;
            let mut portal = contact
                .portal
                .clone()
                .unwrap_or_else(|| portal_account(&mut rng, person, created, &mut login_names));
            portal.enabled = true;
            portal.recently_active = true;
            contact.set_portal(Some(portal));
        }
    }

    seed_unconnected(
        world,
        &mut rng,
        &mut contacts,
        &spark_people,
        &mut login_names,
    );

    let account_contact = agent_account_contact(world);
    SparkData {
        contacts,
        account_contact,
        vow_user_contact_id: connected_ids.first().cloned().unwrap_or_default(),
        portal_user_contact_id: connected_ids.get(1).cloned().unwrap_or_default(),
        id_generator: world.rng_for("spark-new-ids"),
    }
}

/// How many people a further agent's population has.
const FURTHER_AGENT_PEOPLE: usize = 40;

/// The data of a further agent (ours): seeded as the first agent's is, from
/// a small population of its own (a world generated from a seed of its
/// own), so that no person, contact or id is shared with another agent.
/// Every contact is owned by `user_id`, which is also the id of the agent's
/// own contact record, named `name`.
pub fn seed_further_agent(world: &World, number: usize, user_id: &str, name: &str) -> SparkData {
    let mut own_world = World::generate(
        world
            .seed
            .wrapping_mul(31)
            .wrapping_add(1_000 + number as u64),
    );
    own_world.people.truncate(FURTHER_AGENT_PEOPLE);
    let mut data = seed(&own_world);
    for contact in data.contacts.values_mut() {
        contact.set_text("OwnerId", Some(user_id.to_string()));
    }
    let account = &mut data.account_contact;
    account.set_text("Id", Some(user_id.to_string()));
    account.set_text("OwnerId", Some(user_id.to_string()));
    account.set_text("DisplayName", Some(format!("Agent {name}")));
    account.set_text("GivenName", Some("Agent".to_string()));
    account.set_text("FamilyName", Some(name.to_string()));
    account.set_text("PrimaryEmail", Some(format!("{name}@northstar-realty.com")));
    data
}

/// A Spark id derived from the creation time, as real ids are: 26 digits
/// (`YYYYMMDDhhmmss`, six digits, six zeros) or, for one contact in eight, the
/// older 24-digit form (`YYYYMMDDhhmm`, six digits, six zeros).
fn unique_id(
    rng: &mut SeededRng,
    contacts: &BTreeMap<String, StoredContact>,
    created: DateTime<Utc>,
) -> String {
    let short = rng.chance(0.125);
    loop {
        let fraction = rng.range(0, 1_000_000);
        let id = if short {
            format!("{}{fraction:06}000000", created.format("%Y%m%d%H%M"))
        } else {
            format!("{}{fraction:06}000000", created.format("%Y%m%d%H%M%S"))
        };
        if !contacts.contains_key(&id) && id != AGENT_USER_ID {
            return id;
        }
    }
}

/// The attributes every contact made from a person has.
fn person_contact(
    rng: &mut SeededRng,
    person: &Person,
    id: &str,
    created: DateTime<Utc>,
    record_status: &str,
) -> StoredContact {
    let modified = (created + Duration::minutes(rng.range(0, 60 * 24 * 400) as i64))
        .min(latest_seeded_modification())
        .max(created);
    let mut contact = StoredContact::new(
        id,
        format!("/v1/contacts/{id}"),
        AGENT_USER_ID,
        record_status,
        &format_timestamp(created),
        &format_timestamp(modified),
        rng.next_u64(),
    );
    contact.set_text("DisplayName", Some(person.display_name()));
    contact.set_text("GivenName", Some(person.first_name.clone()));
    contact.set_text("FamilyName", Some(person.last_name.clone()));
    contact.set_text("PrimaryEmail", Some(person.email.clone()));
    contact
}

/// What an agent typically records about a Connected contact.
fn add_connected_details(
    rng: &mut SeededRng,
    contact: &mut StoredContact,
    person: &Person,
    position: usize,
) {
    let phone = person.phone(PhoneStyle::Dashed);
    contact.set_text("PrimaryPhoneNumber", Some(phone.clone()));
    if rng.chance(0.5) {
        contact.set_text("MobilePhoneNumber", Some(phone));
        contact.set_text("MobilePhoneCountryCode", Some("US".to_string()));
    }
    contact.set_text("HomeStreetAddress", Some(person.street.clone()));
    contact.set_text("HomeLocality", Some(person.city.clone()));
    contact.set_text("HomeRegion", Some(person.state.clone()));
    contact.set_text("HomePostalCode", Some(person.postal_code.clone()));
    contact.set_text("Organization", Some(person.company.clone()));
    contact.set_text("Position", Some(person.job_title.clone()));
    if rng.chance(0.1) {
        contact.set_text("ReferredBy", Some(rng.pick(REFERRERS).to_string()));
    }
    if rng.chance(0.15) {
        let domain: String = person
            .company
            .to_lowercase()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let local: String = format!("{}.{}", person.first_name, person.last_name)
            .to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        let secondary = serde_json::Value::String(format!("{local}@{domain}.com"));
        contact
            .record
            .insert("SecondaryEmails".into(), serde_json::json!([secondary]));
        if rng.chance(0.5) {
            contact.record.insert(
                "AdditionalNotificationEmails".into(),
                serde_json::json!([secondary]),
            );
        }
    }
    if rng.chance(0.03) {
        contact.record.insert(
            "InvalidEmails".into(),
            serde_json::json!([normalized_email(&person.email)]),
        );
    }
    // The seed's example contact is an "IDX Lead"; early contacts often are.
    let mut tags: Vec<&str> = Vec::new();
    if position < 50 && rng.chance(0.5) {
        tags.push("IDX Lead");
    }
    for _ in 0..rng.range(0, 3) {
        let tag = *rng.pick(TAGS);
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    contact
        .record
        .insert("Tags".into(), serde_json::json!(tags));
    if rng.chance(0.1) {
        contact.record.insert(
            "Settings".into(),
            serde_json::json!({ "ReverseProspecting": true }),
        );
    }
}

fn portal_account(
    rng: &mut SeededRng,
    person: &Person,
    created: DateTime<Utc>,
    login_names: &mut HashSet<String>,
) -> PortalAccount {
    let base = normalized_email(&person.email)
        .split('@')
        .next()
        .unwrap_or_default()
        .to_string();
    let mut login_name = base.clone();
    let mut suffix = 2;
    while !login_names.insert(login_name.clone()) {
        login_name = format!("{base}{suffix}");
        suffix += 1;
    }
    PortalAccount {
        login_name,
        enabled: rng.chance(0.9),
        recently_active: rng.chance(0.4),
        created: format_timestamp(created + Duration::hours(1)),
    }
}

/// Consumers linked to the agent who are not yet the agent's contacts. They
/// signed up themselves, so they carry little more than a name and an email, and
/// all have a portal account.
fn seed_unconnected(
    world: &World,
    rng: &mut SeededRng,
    contacts: &mut BTreeMap<String, StoredContact>,
    spark_people: &[&Person],
    login_names: &mut HashSet<String>,
) {
    let held: HashSet<usize> = spark_people.iter().map(|person| person.index).collect();
    let mut others: Vec<&Person> = world
        .people
        .iter()
        .filter(|person| !held.contains(&person.index))
        .collect();
    rng.shuffle(&mut others);
    others.truncate(UNCONNECTED_NEW_PEOPLE);
    let mut duplicates: Vec<&Person> = spark_people.to_vec();
    rng.shuffle(&mut duplicates);
    duplicates.truncate(UNCONNECTED_DUPLICATES);
    for person in others.into_iter().chain(duplicates) {
        let created = person.created_at + Duration::days(rng.range(30, 400) as i64);
        let id = unique_id(rng, contacts, created);
        let mut contact = person_contact(rng, person, &id, created, "Unconnected");
        if rng.chance(0.5) {
            contact.set_text("PrimaryPhoneNumber", Some(person.phone(PhoneStyle::Dashed)));
        }
        let mut portal = portal_account(rng, person, created, login_names);
        portal.enabled = true;
        contact.set_portal(Some(portal));
        contacts.insert(id, contact);
    }
}

/// The agent's own contact record.
fn agent_account_contact(world: &World) -> StoredContact {
    let mut rng = world.rng_for("spark-agent");
    let created = Utc
        .with_ymd_and_hms(2009, 8, 15, 22, 32, 15)
        .single()
        .unwrap_or_default();
    let timestamp = format_timestamp(created);
    let mut contact = StoredContact::new(
        AGENT_USER_ID,
        "/v1/my/contact".to_string(),
        AGENT_USER_ID,
        "Connected",
        &timestamp,
        &timestamp,
        rng.next_u64(),
    );
    let phone = format!("612-555-{}", rng.digits(4));
    for (name, value) in [
        ("DisplayName", "Jordan Whitfield"),
        ("GivenName", "Jordan"),
        ("FamilyName", "Whitfield"),
        ("PrimaryEmail", "jordan.whitfield@northstar-realty.com"),
        ("PrimaryPhoneNumber", phone.as_str()),
        ("WorkPhoneNumber", phone.as_str()),
        ("Organization", "Northstar Realty"),
        ("Position", "Broker Associate"),
        ("HomeLocality", "Minneapolis"),
        ("HomeRegion", "MN"),
    ] {
        contact.set_text(name, Some(value.to_string()));
    }
    contact
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::spark::attributes::is_spark_id;

    #[test]
    fn seeding_is_deterministic_and_shaped_as_documented() {
        let world = World::generate(1);
        let data = seed(&world);
        let again = seed(&world);
        assert_eq!(
            data.contacts.keys().collect::<Vec<_>>(),
            again.contacts.keys().collect::<Vec<_>>()
        );
        let connected = data.contacts.values().filter(|c| c.is_connected()).count();
        assert_eq!(connected, 600);
        assert_eq!(data.contacts.len(), 660);
        assert!(data.contacts.keys().all(|id| is_spark_id(id)));
        assert!(data.contacts.keys().any(|id| id.len() == 24));
        assert!(data.contacts.keys().any(|id| id.len() == 26));
        let counts = data.email_counts();
        assert_eq!(counts.values().filter(|count| **count > 1).count(), 5);
        let vow = &data.contacts[&data.vow_user_contact_id];
        assert!(vow.is_connected() && vow.portal.is_some());
    }
}
