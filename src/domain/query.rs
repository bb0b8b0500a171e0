//! Contact filters, orderings and write inputs, with the gateway's own
//! semantics. Adapters push filters down into an upstream query only where the
//! upstream's matching is at least as broad as these; the federation layer then
//! applies [`ContactFilter::matches`] to everything that comes back, so the
//! result is the same whether or not a source could push a filter down.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

use super::phone;
use super::Contact;

/// Which contacts a list returns. Every set criterion must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ContactFilter {
    /// Case-insensitive substring of the name or an email; or, when it holds
    /// three or more digits and nothing but digits and phone punctuation, a
    /// substring of a phone number's digits.
    pub search: Option<String>,
    /// Equal to one of the emails, ignoring case and surrounding spaces.
    pub email: Option<String>,
    /// The same national number as one of the phones, however written.
    pub phone: Option<String>,
    /// Equal to the address's city, ignoring case.
    pub city: Option<String>,
    /// Equal to the contact type, ignoring case.
    pub contact_type: Option<String>,
    /// Equal to the status, ignoring case.
    pub status: Option<String>,
    /// Carries every one of these tags (ignoring case).
    pub tags: Vec<String>,
    /// Created strictly after this instant.
    pub created_after: Option<DateTime<Utc>>,
    /// Created strictly before this instant.
    pub created_before: Option<DateTime<Utc>>,
}

impl ContactFilter {
    /// Whether no criterion is set.
    pub fn is_empty(&self) -> bool {
        *self == ContactFilter::default()
    }

    /// The gateway's semantics of the filter.
    pub fn matches(&self, contact: &Contact) -> bool {
        let eq = |wanted: &Option<String>, actual: Option<&str>| match wanted {
            None => true,
            Some(wanted) => actual.is_some_and(|a| a.trim().eq_ignore_ascii_case(wanted.trim())),
        };
        if !eq(
            &self.city,
            contact.address.as_ref().and_then(|a| a.city.as_deref()),
        ) || !eq(&self.contact_type, contact.contact_type.as_deref())
            || !eq(&self.status, contact.status.as_deref())
        {
            return false;
        }
        if let Some(email) = &self.email {
            let wanted = email.trim().to_lowercase();
            if !contact
                .emails
                .iter()
                .any(|e| e.address.trim().to_lowercase() == wanted)
            {
                return false;
            }
        }
        if let Some(number) = &self.phone {
            let wanted = national_digits(number);
            if wanted.is_empty()
                || !contact
                    .phones
                    .iter()
                    .any(|p| national_digits(&p.number) == wanted)
            {
                return false;
            }
        }
        for tag in &self.tags {
            if !contact.tags.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
                return false;
            }
        }
        if let Some(after) = self.created_after {
            if contact.created_at.is_none_or(|c| c <= after) {
                return false;
            }
        }
        if let Some(before) = self.created_before {
            if contact.created_at.is_none_or(|c| c >= before) {
                return false;
            }
        }
        if let Some(search) = &self.search {
            if !matches_search(contact, search) {
                return false;
            }
        }
        true
    }
}

/// Whether `search` is a phone-number search: three or more digits and
/// nothing but digits, spaces and `+-().`.
pub fn is_phone_search(search: &str) -> bool {
    let digits = phone::digits(search);
    digits.len() >= 3
        && search
            .trim()
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
}

fn matches_search(contact: &Contact, search: &str) -> bool {
    let needle = search.trim().to_lowercase();
    if needle.is_empty() {
        return true;
    }
    if is_phone_search(&needle) {
        let digits = phone::digits(&needle);
        return contact
            .phones
            .iter()
            .any(|p| phone::digits(&p.number).contains(&digits));
    }
    let names = [
        contact.first_name.clone(),
        contact.last_name.clone(),
        contact.effective_display_name(),
    ];
    names
        .iter()
        .flatten()
        .any(|name| name.to_lowercase().contains(&needle))
        || contact
            .emails
            .iter()
            .any(|e| e.address.to_lowercase().contains(&needle))
}

/// The ten-digit national number of a North American phone, or all digits
/// for other numbers.
pub fn national_digits(number: &str) -> String {
    let digits = phone::digits(number);
    if digits.len() == 11 && digits.starts_with('1') {
        digits[1..].to_string()
    } else {
        digits
    }
}

/// What a contact list is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OrderField {
    /// Last name, then first name (falling back to the display name), ignoring case.
    #[default]
    Name,
    CreatedAt,
    UpdatedAt,
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    #[default]
    Asc,
    Desc,
}

/// A list ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ContactOrder {
    pub field: OrderField,
    pub direction: Direction,
}

/// The part of a contact an ordering compares. Contacts without the value
/// sort after all contacts with it, in either direction.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum SortKey {
    Name(String, String),
    Time(DateTime<Utc>),
    Missing,
}

impl ContactOrder {
    /// The key of `contact` under this ordering.
    pub fn key(&self, contact: &Contact) -> SortKey {
        match self.field {
            OrderField::Name => {
                let last = contact
                    .last_name
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty());
                let first = contact.first_name.as_deref().map(str::trim).unwrap_or("");
                match last {
                    Some(last) => SortKey::Name(last.to_lowercase(), first.to_lowercase()),
                    None => match contact.effective_display_name() {
                        Some(name) => SortKey::Name(name.trim().to_lowercase(), String::new()),
                        None => SortKey::Missing,
                    },
                }
            }
            OrderField::CreatedAt => contact.created_at.map_or(SortKey::Missing, SortKey::Time),
            OrderField::UpdatedAt => contact.updated_at.map_or(SortKey::Missing, SortKey::Time),
        }
    }

    /// Compares two keys in this ordering's direction, missing values last.
    pub fn compare_keys(&self, a: &SortKey, b: &SortKey) -> Ordering {
        match (a, b) {
            (SortKey::Missing, SortKey::Missing) => Ordering::Equal,
            (SortKey::Missing, _) => Ordering::Greater,
            (_, SortKey::Missing) => Ordering::Less,
            _ => match self.direction {
                Direction::Asc => a.cmp(b),
                Direction::Desc => b.cmp(a),
            },
        }
    }

    /// Compares two contacts of the same source for a local sort: by key, then
    /// by upstream id, so the order is total and stable across requests.
    pub fn compare(&self, a: &Contact, b: &Contact) -> Ordering {
        self.compare_keys(&self.key(a), &self.key(b))
            .then_with(|| compare_ids(&a.source_id, &b.source_id))
    }
}

/// Compares upstream ids numerically when both are numbers, else as text.
pub fn compare_ids(a: &str, b: &str) -> Ordering {
    match (a.parse::<u128>(), b.parse::<u128>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

/// The writable fields of a contact, as a mutation gives them. `None` leaves
/// a field unset (create) or unchanged (update).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactInput {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub organization: Option<String>,
    pub title: Option<String>,
    pub contact_type: Option<String>,
    pub status: Option<String>,
    pub tags: Option<Vec<String>>,
    pub notes: Option<String>,
    pub assigned_to: Option<String>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

impl ContactInput {
    /// The GraphQL names of the fields that are set, for "not supported" errors.
    pub fn set_fields(&self) -> Vec<&'static str> {
        let mut fields = Vec::new();
        let mut add = |set: bool, name: &'static str| {
            if set {
                fields.push(name);
            }
        };
        add(self.first_name.is_some(), "firstName");
        add(self.last_name.is_some(), "lastName");
        add(self.display_name.is_some(), "displayName");
        add(self.email.is_some(), "email");
        add(self.phone.is_some(), "phone");
        add(self.organization.is_some(), "organization");
        add(self.title.is_some(), "title");
        add(self.contact_type.is_some(), "type");
        add(self.status.is_some(), "status");
        add(self.tags.is_some(), "tags");
        add(self.notes.is_some(), "notes");
        add(self.assigned_to.is_some(), "assignedTo");
        add(self.street.is_some(), "address.street");
        add(self.city.is_some(), "address.city");
        add(self.region.is_some(), "address.region");
        add(self.postal_code.is_some(), "address.postalCode");
        add(self.country.is_some(), "address.country");
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Email, Phone, SourceKind};

    fn contact() -> Contact {
        let mut c = Contact::new(SourceKind::Spark, "1", serde_json::Value::Null);
        c.first_name = Some("Neddy".into());
        c.last_name = Some("Nederlander".into());
        c.emails.push(Email {
            address: " Neddy@Example.com ".into(),
            label: None,
            primary: true,
        });
        c.phones.push(Phone::new("+1-305-555-0100", None));
        c.tags = vec!["investor".into(), "luxury-market".into()];
        c
    }

    #[test]
    fn filter_semantics() {
        let c = contact();
        let f = |f: ContactFilter| f.matches(&c);
        assert!(f(ContactFilter {
            search: Some("neder".into()),
            ..Default::default()
        }));
        assert!(f(ContactFilter {
            search: Some("example.COM".into()),
            ..Default::default()
        }));
        assert!(f(ContactFilter {
            search: Some("555-01".into()),
            ..Default::default()
        }));
        assert!(!f(ContactFilter {
            search: Some("zed".into()),
            ..Default::default()
        }));
        assert!(f(ContactFilter {
            email: Some("neddy@example.com".into()),
            ..Default::default()
        }));
        assert!(!f(ContactFilter {
            email: Some("neddy@example".into()),
            ..Default::default()
        }));
        assert!(f(ContactFilter {
            phone: Some("(305) 555-0100".into()),
            ..Default::default()
        }));
        assert!(f(ContactFilter {
            tags: vec!["Investor".into()],
            ..Default::default()
        }));
        assert!(!f(ContactFilter {
            tags: vec!["investor".into(), "nope".into()],
            ..Default::default()
        }));
        assert!(!f(ContactFilter {
            created_after: Some(Utc::now()),
            ..Default::default()
        }));
        assert!(!f(ContactFilter {
            city: Some("Miami".into()),
            ..Default::default()
        }));
    }

    #[test]
    fn missing_values_sort_last_in_both_directions() {
        let with = contact();
        let mut without = contact();
        without.last_name = None;
        without.first_name = None;
        for direction in [Direction::Asc, Direction::Desc] {
            let order = ContactOrder {
                field: OrderField::Name,
                direction,
            };
            assert_eq!(order.compare(&with, &without), Ordering::Less);
            let order = ContactOrder {
                field: OrderField::CreatedAt,
                direction,
            };
            assert_eq!(
                order.compare_keys(&order.key(&with), &SortKey::Missing),
                Ordering::Equal
            );
        }
    }
}
