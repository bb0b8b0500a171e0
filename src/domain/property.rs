//! Open To Close properties, the links between them and contacts, and the
//! fields a link write may set.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::{Contact, GlobalId, NodeType, RawRecord, SourceKind};

/// A property (a transaction file) in Open To Close.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    /// The upstream's own id, as a string.
    pub source_id: String,
    pub title: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub status: Option<String>,
    /// The price as the upstream sends it (a decimal number).
    pub price: Option<f64>,
    pub created_at: Option<DateTime<Utc>>,
    /// The upstream record exactly as the upstream sent it.
    pub raw: RawRecord,
}

impl Property {
    /// An empty property with the given id, for the adapter to fill in.
    pub fn new(source_id: impl Into<String>, raw: impl Into<RawRecord>) -> Self {
        Self {
            source_id: source_id.into(),
            title: None,
            address: None,
            city: None,
            state: None,
            postal_code: None,
            status: None,
            price: None,
            created_at: None,
            raw: raw.into(),
        }
    }

    /// The property's global id.
    pub fn global_id(&self) -> GlobalId {
        GlobalId::new(
            NodeType::Property,
            SourceKind::OpenToClose,
            self.source_id.clone(),
        )
    }
}

/// The role a contact plays on a property.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyContact {
    /// The property's upstream id.
    pub property_id: String,
    /// The contact's upstream id (an Open To Close contact).
    pub contact_id: String,
    pub role: Option<String>,
    pub primary: Option<bool>,
    pub start_date: Option<NaiveDate>,
    pub notes: Option<String>,
    /// The full contact, when the upstream nested it in the association.
    /// Shared, so that it can serve other paths to the same contact.
    pub contact: Option<Arc<Contact>>,
    /// The full property, when the upstream nested it in the association.
    pub property: Option<Arc<Property>>,
    /// The upstream record exactly as the upstream sent it, the nested
    /// `contact` and `property` objects included.
    pub raw: RawRecord,
}

impl PropertyContact {
    /// The contact's global id.
    pub fn contact_global_id(&self) -> GlobalId {
        GlobalId::new(
            NodeType::Contact,
            SourceKind::OpenToClose,
            self.contact_id.clone(),
        )
    }

    /// Whether the link has `role`, compared as the upstream's `role` filter
    /// does: ignoring case and surrounding spaces.
    pub fn has_role(&self, role: &str) -> bool {
        self.role
            .as_deref()
            .is_some_and(|own| own.trim().to_lowercase() == role.trim().to_lowercase())
    }
}

/// The fields of a link write. Each is a patch: `None` leaves the field as it
/// is (or unset, on a create), `Some(None)` clears it, `Some(Some(v))` sets it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PropertyContactInput {
    pub role: Option<Option<String>>,
    pub primary: Option<bool>,
    pub start_date: Option<Option<NaiveDate>>,
    pub notes: Option<Option<String>>,
}

impl PropertyContactInput {
    /// Whether the input changes anything.
    pub fn is_empty(&self) -> bool {
        self.role.is_none()
            && self.primary.is_none()
            && self.start_date.is_none()
            && self.notes.is_none()
    }
}
