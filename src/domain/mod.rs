//! The unified model every source maps into: contacts, their emails, phones and
//! addresses, and the opaque global ids that name them. No I/O happens here.

pub mod activity;
pub mod ids;
pub mod phone;
pub mod property;
pub mod query;
pub mod raw;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use self::activity::{Activity, ActivityKind};
pub use self::ids::{GlobalId, GlobalIdError, NodeType};
pub use self::property::{Property, PropertyContact, PropertyContactInput};
pub use self::query::{ContactFilter, ContactInput, ContactOrder, Direction, OrderField, SortKey};
pub use self::raw::RawRecord;

/// The upstream systems the gateway aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    #[serde(rename = "opentoclose")]
    OpenToClose,
    #[serde(rename = "djangocrm")]
    DjangoCrm,
    Winnerr,
    Spark,
}

impl SourceKind {
    /// Every source, in the gateway's fixed order (also the merge tie-break order).
    pub const ALL: [SourceKind; 4] = [
        SourceKind::OpenToClose,
        SourceKind::DjangoCrm,
        SourceKind::Winnerr,
        SourceKind::Spark,
    ];

    /// The short name used in configuration, ids and error extensions.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::OpenToClose => "opentoclose",
            SourceKind::DjangoCrm => "djangocrm",
            SourceKind::Winnerr => "winnerr",
            SourceKind::Spark => "spark",
        }
    }

    /// Parses [`SourceKind::as_str`]'s form.
    pub fn parse(name: &str) -> Option<SourceKind> {
        SourceKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

impl std::fmt::Display for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A contact as the gateway presents it, whichever source it came from.
///
/// A field a source does not have is `None` or empty: never invented.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub source: SourceKind,
    /// The upstream's own id, as a string.
    pub source_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub emails: Vec<Email>,
    pub phones: Vec<Phone>,
    pub address: Option<Address>,
    pub organization: Option<String>,
    pub title: Option<String>,
    pub contact_type: Option<String>,
    pub status: Option<String>,
    pub tags: Vec<String>,
    pub lead_score: Option<i64>,
    pub notes: Option<String>,
    pub assigned_to: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// The upstream record exactly as the upstream sent it.
    pub raw: RawRecord,
    /// Every activity of the contact, when the upstream answer that produced
    /// this contact carried them (a Winnerr list with `include=activities`, a
    /// Django-CRM detail); `None` when it did not.
    pub activities: Option<std::sync::Arc<Vec<Activity>>>,
}

impl Contact {
    /// An empty contact of `source` with the given id, for adapters to fill in.
    pub fn new(
        source: SourceKind,
        source_id: impl Into<String>,
        raw: impl Into<RawRecord>,
    ) -> Self {
        Self {
            source,
            source_id: source_id.into(),
            first_name: None,
            last_name: None,
            display_name: None,
            emails: Vec::new(),
            phones: Vec::new(),
            address: None,
            organization: None,
            title: None,
            contact_type: None,
            status: None,
            tags: Vec::new(),
            lead_score: None,
            notes: None,
            assigned_to: None,
            created_at: None,
            updated_at: None,
            raw: raw.into(),
            activities: None,
        }
    }

    /// The contact's global id.
    pub fn global_id(&self) -> GlobalId {
        GlobalId::new(NodeType::Contact, self.source, self.source_id.clone())
    }

    /// The display name if the source has one, else first and last name joined.
    pub fn effective_display_name(&self) -> Option<String> {
        if let Some(name) = self.display_name.as_ref().filter(|n| !n.trim().is_empty()) {
            return Some(name.clone());
        }
        let joined = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|part| !part.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        (!joined.is_empty()).then_some(joined)
    }
}

/// One email address of a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// The address as the source has it, trimmed.
    pub address: String,
    pub label: Option<String>,
    pub primary: bool,
}

/// One phone number of a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    /// The number as the source has it.
    pub number: String,
    /// The E.164 form, when it can be derived without guessing.
    pub e164: Option<String>,
    pub label: Option<String>,
}

impl Phone {
    /// A phone as given, with its E.164 form derived where possible.
    pub fn new(number: impl Into<String>, label: Option<&str>) -> Self {
        let number = number.into();
        Self {
            e164: phone::to_e164(&number),
            number,
            label: label.map(str::to_string),
        }
    }
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    pub street: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

impl Address {
    /// `None` when every part is empty, so an absent address is not shown as a
    /// filled-in one.
    pub fn non_empty(self) -> Option<Address> {
        let parts = [
            &self.street,
            &self.city,
            &self.region,
            &self.postal_code,
            &self.country,
        ];
        parts
            .iter()
            .any(|part| part.as_deref().is_some_and(|p| !p.trim().is_empty()))
            .then_some(self)
    }
}
