//! Open To Close properties and the links between them and contacts.

use chrono::{DateTime, NaiveDate, Utc};

use super::{Contact, GlobalId, NodeType, SourceKind};

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
    pub raw: serde_json::Value,
}

impl Property {
    /// An empty property with the given id, for the adapter to fill in.
    pub fn new(source_id: impl Into<String>, raw: serde_json::Value) -> Self {
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
            raw,
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
    pub contact: Option<Contact>,
    /// The full property, when the upstream nested it in the association.
    pub property: Option<Property>,
    /// The upstream record exactly as the upstream sent it.
    pub raw: serde_json::Value,
}
