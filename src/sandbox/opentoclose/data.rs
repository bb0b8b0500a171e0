//! The records the Open To Close emulator keeps, and their JSON form.
//!
//! Contacts and properties serialize exactly as the API answers them, so a
//! single-record read is one map lookup and one serialization under the read
//! lock, with nothing copied.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Timelike, Utc};
use serde::Serialize;
use serde_json::Number;

/// Everything the emulator serves, held in one store so that reset restores it.
#[derive(Debug, Clone)]
pub(super) struct OpenToCloseData {
    /// Keyed by id; iteration order is the default list order.
    pub(super) contacts: BTreeMap<u64, Contact>,
    pub(super) properties: BTreeMap<u64, Property>,
    /// Keyed by (property id, contact id): a contact is on a property at most once.
    pub(super) property_contacts: BTreeMap<(u64, u64), PropertyContact>,
    pub(super) next_contact_id: u64,
    pub(super) next_property_id: u64,
    pub(super) next_property_contact_id: u64,
}

/// A contact as the API answers it. Only the first four text fields can be
/// written through the API; the rest come from seeding.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Contact {
    pub(super) id: u64,
    pub(super) first_name: Option<String>,
    pub(super) last_name: Option<String>,
    pub(super) email: Option<String>,
    pub(super) phone: Option<String>,
    pub(super) contact_type: Option<String>,
    pub(super) company: Option<String>,
    pub(super) title: Option<String>,
    pub(super) address: Option<String>,
    pub(super) city: Option<String>,
    pub(super) state: Option<String>,
    pub(super) zip_code: Option<String>,
    #[serde(serialize_with = "serialize_timestamp")]
    pub(super) created: DateTime<Utc>,
    #[serde(serialize_with = "serialize_timestamp")]
    pub(super) updated: DateTime<Utc>,
}

/// A property (a transaction file in the real product).
#[derive(Debug, Clone, Serialize)]
pub(super) struct Property {
    pub(super) id: u64,
    pub(super) title: Option<String>,
    pub(super) address: Option<String>,
    pub(super) city: Option<String>,
    pub(super) state: Option<String>,
    pub(super) zip_code: Option<String>,
    pub(super) status: String,
    pub(super) price: Option<Number>,
    #[serde(serialize_with = "serialize_timestamp")]
    pub(super) created: DateTime<Utc>,
}

/// The statuses a property may have, in their exact spelling.
pub(super) const PROPERTY_STATUSES: &[&str] =
    &["Active", "Pending", "Under Contract", "Closed", "Withdrawn"];

/// One contact's part in one property's transaction.
#[derive(Debug, Clone)]
pub(super) struct PropertyContact {
    pub(super) id: u64,
    pub(super) property_id: u64,
    pub(super) contact_id: u64,
    pub(super) role: Option<String>,
    pub(super) primary: bool,
    pub(super) start_date: Option<NaiveDate>,
    pub(super) notes: Option<String>,
}

/// The association as the API answers it: the link plus both records nested.
#[derive(Serialize)]
pub(super) struct PropertyContactView<'a> {
    id: u64,
    property_id: u64,
    contact_id: u64,
    role: &'a Option<String>,
    primary: bool,
    start_date: Option<String>,
    notes: &'a Option<String>,
    contact: Option<&'a Contact>,
    property: Option<&'a Property>,
}

impl OpenToCloseData {
    /// The JSON form of a link, with its contact and property nested.
    pub(super) fn property_contact_view<'a>(
        &'a self,
        link: &'a PropertyContact,
    ) -> PropertyContactView<'a> {
        PropertyContactView {
            id: link.id,
            property_id: link.property_id,
            contact_id: link.contact_id,
            role: &link.role,
            primary: link.primary,
            start_date: link
                .start_date
                .map(|date| crate::sandbox::timestamps::date(&date).to_string()),
            notes: &link.notes,
            // Deleting a contact or property removes its links, so both are
            // always there; `null` would only show a broken invariant.
            contact: self.contacts.get(&link.contact_id),
            property: self.properties.get(&link.property_id),
        }
    }

    /// Makes `primary_link` the only primary link of its role on its property.
    pub(super) fn demote_other_primaries(&mut self, primary_link: (u64, u64)) {
        let Some(role) = self
            .property_contacts
            .get(&primary_link)
            .map(|link| link.role.clone())
        else {
            return;
        };
        let (property_id, _) = primary_link;
        for (key, link) in self
            .property_contacts
            .range_mut((property_id, 0)..=(property_id, u64::MAX))
        {
            if *key != primary_link && link.role == role {
                link.primary = false;
            }
        }
    }
}

/// The current time at the API's second precision.
pub(super) fn now() -> DateTime<Utc> {
    let now = Utc::now();
    now.with_nanosecond(0).unwrap_or(now)
}

/// `2023-04-05T06:07:08Z`.
fn serialize_timestamp<S: serde::Serializer>(
    timestamp: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&crate::sandbox::timestamps::utc_seconds(timestamp))
}
