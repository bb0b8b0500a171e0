//! Deterministic seeding of the Open To Close data: 600 contacts from the shared
//! population, 200 properties, and the links between them.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Number;

use super::data::{Contact, OpenToCloseData, Property, PropertyContact, PROPERTY_STATUSES};
use crate::sandbox::people::{Person, PhoneStyle, SourceName, World};
use crate::sandbox::rng::SeededRng;

/// How many properties are seeded.
pub(super) const SEEDED_PROPERTY_COUNT: u64 = 200;

/// The roles of a transaction file, most essential first: a property with `n`
/// links has the first `n` roles (an eighth link is a co-buyer).
const ROLES_BY_PRIORITY: &[&str] = &[
    "Seller",
    "Listing Agent",
    "Buyer",
    "Buyer Agent",
    "Lender",
    "Title Officer",
    "Inspector",
    "Buyer",
];

/// Professionals work on many files, so their roles draw from a small pool of
/// contacts of that type, which makes them recur across properties.
const PROFESSIONAL_POOL_SIZE: usize = 12;

/// Builds the whole seeded data set for `world`.
pub(super) fn seed(world: &World) -> OpenToCloseData {
    let contacts = seed_contacts(world);
    let properties = seed_properties(world);
    let property_contacts = seed_property_contacts(world, &contacts, &properties);
    OpenToCloseData {
        next_contact_id: contacts.len() as u64 + 1,
        next_property_id: properties.len() as u64 + 1,
        next_property_contact_id: property_contacts.len() as u64 + 1,
        contacts,
        properties,
        property_contacts,
    }
}

fn seed_contacts(world: &World) -> BTreeMap<u64, Contact> {
    let mut rng = world.rng_for("opentoclose.contacts");
    world
        .people_for(SourceName::OpenToClose)
        .into_iter()
        .enumerate()
        .map(|(position, person)| {
            let id = position as u64 + 1;
            // Most numbers were entered in E.164 by an integration; the rest
            // were typed by hand in whatever style the agent prefers.
            let style = if rng.chance(0.8) {
                PhoneStyle::E164
            } else {
                *rng.pick(&[
                    PhoneStyle::DashedWithCountry,
                    PhoneStyle::Dashed,
                    PhoneStyle::Parenthesized,
                    PhoneStyle::Spaced,
                ])
            };
            let created = person.created_at + Duration::minutes(rng.range(0, 60 * 24 * 14) as i64);
            let updated = created + Duration::minutes(rng.range(0, 60 * 24 * 120) as i64);
            let contact = Contact {
                id,
                first_name: Some(person.first_name.clone()),
                last_name: Some(person.last_name.clone()),
                email: Some(person.email_as_entered(SourceName::OpenToClose)),
                phone: Some(person.phone(style)),
                contact_type: Some(contact_type_for(person).to_string()),
                company: Some(person.company.clone()),
                title: Some(person.job_title.clone()),
                address: Some(person.street.clone()),
                city: Some(person.city.clone()),
                state: Some(person.state.clone()),
                zip_code: Some(person.postal_code.clone()),
                created,
                updated,
            };
            (id, contact)
        })
        .collect()
}

/// The contact type an agent would have picked for this person in the web
/// interface, judging by their job.
fn contact_type_for(person: &Person) -> &'static str {
    match person.job_title.as_str() {
        "Buyer" | "Investor" => "Buyer",
        "Seller" => "Seller",
        "Loan Officer" => "Lender",
        "Home Inspector" => "Inspector",
        "Escrow Officer" => "Title Officer",
        "Appraiser" => "Appraiser",
        "Attorney" => "Attorney",
        "Listing Agent" => "Listing Agent",
        "Buyer Agent" => "Buyer Agent",
        _ => "Lead",
    }
}

fn seed_properties(world: &World) -> BTreeMap<u64, Property> {
    let mut rng = world.rng_for("opentoclose.properties");
    let base = Utc
        .with_ymd_and_hms(2022, 2, 1, 8, 0, 0)
        .single()
        .unwrap_or_default();
    (1..=SEEDED_PROPERTY_COUNT)
        .map(|id| {
            let (city, state, zip_prefix) = *rng.pick(PROPERTY_CITIES);
            let street_name = *rng.pick(PROPERTY_STREETS);
            let suffix = *rng.pick(PROPERTY_STREET_SUFFIXES);
            let number = rng.range(100, 9900);
            let address = if rng.chance(0.15) {
                format!("{number} {street_name} {suffix} Unit {}", rng.range(1, 40))
            } else {
                format!("{number} {street_name} {suffix}")
            };
            let bedrooms = rng.range(1, 6);
            let style = *rng.pick(HOME_STYLES);
            let title = format!("{bedrooms}BR {style} on {street_name} {suffix}");
            let status = *rng.pick(&[
                "Active",
                "Active",
                "Active",
                "Pending",
                "Under Contract",
                "Under Contract",
                "Closed",
                "Closed",
                "Closed",
                "Withdrawn",
            ]);
            debug_assert!(PROPERTY_STATUSES.contains(&status));
            // Listings are priced in round thousands or just below them (449,900).
            let thousands = rng.range(150, 2500);
            let price = if rng.chance(0.4) {
                thousands * 1000 - 100
            } else {
                thousands * 1000
            };
            let created = base
                + Duration::minutes(rng.range(0, 60 * 24 * 365 * 3) as i64)
                + Duration::seconds(rng.range(0, 60) as i64);
            let property = Property {
                id,
                title: Some(title),
                address: Some(address),
                city: Some(city.to_string()),
                state: Some(state.to_string()),
                zip_code: Some(format!("{zip_prefix}{:02}", rng.range(0, 100))),
                status: status.to_string(),
                price: Some(Number::from(price)),
                created,
            };
            (id, property)
        })
        .collect()
}

fn seed_property_contacts(
    world: &World,
    contacts: &BTreeMap<u64, Contact>,
    properties: &BTreeMap<u64, Property>,
) -> BTreeMap<(u64, u64), PropertyContact> {
    let mut rng = world.rng_for("opentoclose.property_contacts");
    let all_contact_ids: Vec<u64> = contacts.keys().copied().collect();
    let pool_for = |role: &str| -> Vec<u64> {
        let pool: Vec<u64> = contacts
            .values()
            .filter(|contact| contact.contact_type.as_deref() == Some(role))
            .map(|contact| contact.id)
            .collect();
        let professional = !matches!(role, "Buyer" | "Seller");
        match (pool.is_empty(), professional) {
            (true, _) => all_contact_ids.clone(),
            (false, true) => pool.into_iter().take(PROFESSIONAL_POOL_SIZE).collect(),
            (false, false) => pool,
        }
    };
    let pools: BTreeMap<&str, Vec<u64>> = ROLES_BY_PRIORITY
        .iter()
        .map(|role| (*role, pool_for(role)))
        .collect();

    let mut links = BTreeMap::new();
    let mut next_link_id = 1;
    for property in properties.values() {
        let link_count = rng.range(1, ROLES_BY_PRIORITY.len() as u64 + 1) as usize;
        let mut on_this_property = HashSet::new();
        let mut roles_with_primary = HashSet::new();
        for role in &ROLES_BY_PRIORITY[..link_count] {
            let pool = &pools[role];
            // A few draws avoid putting one person on a file twice; when the
            // pool is that crowded the role is simply left out.
            let Some(contact_id) = (0..8)
                .map(|_| *rng.pick(pool))
                .find(|candidate| !on_this_property.contains(candidate))
            else {
                continue;
            };
            on_this_property.insert(contact_id);
            let notes = rng.chance(0.35).then(|| rng.pick(LINK_NOTES).to_string());
            let start_date = start_date_for(&mut rng, property.created);
            links.insert(
                (property.id, contact_id),
                PropertyContact {
                    id: next_link_id,
                    property_id: property.id,
                    contact_id,
                    role: Some(role.to_string()),
                    primary: roles_with_primary.insert(*role),
                    start_date,
                    notes,
                },
            );
            next_link_id += 1;
        }
    }
    links
}

/// A start date shortly after the file was opened; a few links have none.
fn start_date_for(rng: &mut SeededRng, opened: DateTime<Utc>) -> Option<chrono::NaiveDate> {
    if rng.chance(0.1) {
        return None;
    }
    Some((opened + Duration::days(rng.range(0, 60) as i64)).date_naive())
}

const LINK_NOTES: &[&str] = &[
    "Decision maker",
    "Primary decision maker",
    "Prefers email",
    "Prefers text messages",
    "Pre-approved",
    "Relocating from out of state",
    "First-time buyer",
    "Cash offer",
    "Available weekdays after 5pm",
    "Handles the appraisal order",
    "Send closing documents by courier",
];

const HOME_STYLES: &[&str] = &[
    "Colonial",
    "Ranch",
    "Craftsman",
    "Townhouse",
    "Condo",
    "Bungalow",
    "Cape Cod",
    "Split-Level",
    "Victorian",
    "Contemporary",
];

/// (city, state, first three digits of the ZIP code)
const PROPERTY_CITIES: &[(&str, &str, &str)] = &[
    ("Miami", "FL", "331"),
    ("Coral Gables", "FL", "331"),
    ("Fort Lauderdale", "FL", "333"),
    ("Orlando", "FL", "328"),
    ("Tampa", "FL", "336"),
    ("Austin", "TX", "787"),
    ("Round Rock", "TX", "786"),
    ("Dallas", "TX", "752"),
    ("Plano", "TX", "750"),
    ("Houston", "TX", "770"),
    ("Denver", "CO", "802"),
    ("Boulder", "CO", "803"),
    ("Phoenix", "AZ", "850"),
    ("Scottsdale", "AZ", "852"),
    ("Atlanta", "GA", "303"),
    ("Nashville", "TN", "372"),
    ("Charlotte", "NC", "282"),
    ("Raleigh", "NC", "276"),
    ("San Diego", "CA", "921"),
    ("Sacramento", "CA", "958"),
    ("Seattle", "WA", "981"),
    ("Portland", "OR", "972"),
];

const PROPERTY_STREETS: &[&str] = &[
    "Main",
    "Oak",
    "Maple",
    "Cedar",
    "Pine",
    "Elm",
    "Birch",
    "Walnut",
    "Magnolia",
    "Dogwood",
    "Sycamore",
    "Lakeview",
    "Riverside",
    "Hillcrest",
    "Sunset",
    "Meadowbrook",
    "Willow Creek",
    "Park",
    "Highland",
    "Orchard",
    "Bayshore",
    "Coral Way",
    "Palmetto",
    "Briarwood",
];

const PROPERTY_STREET_SUFFIXES: &[&str] = &[
    "St", "Ave", "Blvd", "Dr", "Ln", "Rd", "Ct", "Way", "Pl", "Ter",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeding_is_deterministic_and_complete() {
        let world = World::generate(1);
        let first = seed(&world);
        let second = seed(&world);
        assert_eq!(first.contacts.len(), 600);
        assert_eq!(first.properties.len(), 200);
        assert_eq!(first.contacts[&17].email, second.contacts[&17].email);
        assert_eq!(
            first.property_contacts.keys().collect::<Vec<_>>(),
            second.property_contacts.keys().collect::<Vec<_>>()
        );
        assert_eq!(first.next_contact_id, 601);
        assert_eq!(first.next_property_id, 201);
    }

    #[test]
    fn every_property_has_links_with_one_primary_per_role_and_contacts_recur() {
        let data = seed(&World::generate(1));
        let mut properties_per_contact: BTreeMap<u64, usize> = BTreeMap::new();
        for property_id in data.properties.keys() {
            let links: Vec<&PropertyContact> = data
                .property_contacts
                .range((*property_id, 0)..=(*property_id, u64::MAX))
                .map(|(_, link)| link)
                .collect();
            assert!((1..=8).contains(&links.len()), "property {property_id}");
            let mut primaries = HashSet::new();
            for link in &links {
                assert!(data.contacts.contains_key(&link.contact_id));
                *properties_per_contact.entry(link.contact_id).or_default() += 1;
                if link.primary {
                    assert!(primaries.insert(link.role.clone()), "two primaries");
                }
            }
        }
        assert!(properties_per_contact.values().any(|count| *count >= 5));
        let link_ids: HashSet<u64> = data.property_contacts.values().map(|l| l.id).collect();
        assert_eq!(link_ids.len(), data.property_contacts.len());
    }

    #[test]
    fn phones_are_mostly_e164_with_other_styles() {
        let data = seed(&World::generate(1));
        let e164 = data
            .contacts
            .values()
            .filter(|c| {
                let phone = c.phone.as_deref().unwrap_or("");
                phone.starts_with("+1") && phone.len() == 12
            })
            .count();
        assert!((400..600).contains(&e164), "{e164}");
    }
}
