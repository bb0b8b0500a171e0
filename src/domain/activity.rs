//! Things that happened to a contact: Winnerr activities, Django-CRM comments
//! and attachments.

use chrono::{DateTime, Utc};

use super::{GlobalId, NodeType, SourceKind};

/// What kind of activity this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActivityKind {
    Call,
    Email,
    Meeting,
    Note,
    Task,
    Sms,
    Attachment,
    /// A type the source reports that the gateway has no name for.
    Other,
}

/// One activity of a contact.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub source: SourceKind,
    /// The contact's upstream id.
    pub contact_id: String,
    /// The activity's own upstream id.
    pub source_id: String,
    pub kind: ActivityKind,
    /// The type exactly as the source writes it.
    pub source_type: Option<String>,
    pub description: Option<String>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Source-specific details (such as a call's duration).
    pub metadata: Option<serde_json::Value>,
    /// Who recorded it, as the source identifies them.
    pub author: Option<String>,
    /// For attachments, the file name.
    pub file_name: Option<String>,
    /// The upstream record exactly as the upstream sent it.
    pub raw: serde_json::Value,
}

impl Activity {
    /// The activity's global id. It carries the contact's id too, because the
    /// sources serve activities only through their contact.
    pub fn global_id(&self) -> GlobalId {
        GlobalId::new(
            NodeType::Activity,
            self.source,
            activity_key(&self.contact_id, &self.source_id),
        )
    }
}

/// The upstream-id part of an activity's global id: `contact-id/activity-id`.
pub fn activity_key(contact_id: &str, activity_id: &str) -> String {
    format!("{contact_id}/{activity_id}")
}

/// Splits [`activity_key`]'s form; `None` when it is not of that form.
pub fn split_activity_key(key: &str) -> Option<(&str, &str)> {
    let (contact, activity) = key.split_once('/')?;
    (!contact.is_empty() && !activity.is_empty() && !activity.contains('/'))
        .then_some((contact, activity))
}
