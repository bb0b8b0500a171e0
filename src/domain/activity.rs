//! Things that happened to a contact: Winnerr activities, Django-CRM comments
//! and attachments.
//!
//! Activities are served only through their contact, so an activity's global
//! id carries the contact's id as well ([`activity_key`]). Lists of
//! activities are shown newest first ([`compare_newest_first`]): by the time
//! the activity happened (or, lacking that, the time it is scheduled for),
//! activities without either time last, ties broken by the activity's own id.

use std::cmp::Ordering;

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
    /// An activity with only its identity and kind, for adapters to fill in.
    pub fn new(
        source: SourceKind,
        contact_id: impl Into<String>,
        source_id: impl Into<String>,
        kind: ActivityKind,
        raw: serde_json::Value,
    ) -> Self {
        Self {
            source,
            contact_id: contact_id.into(),
            source_id: source_id.into(),
            kind,
            source_type: None,
            description: None,
            occurred_at: None,
            scheduled_at: None,
            metadata: None,
            author: None,
            file_name: None,
            raw,
        }
    }

    /// The activity's global id. It carries the contact's id too, because the
    /// sources serve activities only through their contact.
    pub fn global_id(&self) -> GlobalId {
        GlobalId::new(
            NodeType::Activity,
            self.source,
            activity_key(&self.contact_id, &self.source_id),
        )
    }

    /// The contact's global id.
    pub fn contact_global_id(&self) -> GlobalId {
        GlobalId::new(NodeType::Contact, self.source, self.contact_id.clone())
    }

    /// The time lists are ordered by: when it happened, else when it is
    /// scheduled for.
    pub fn sort_time(&self) -> Option<DateTime<Utc>> {
        self.occurred_at.or(self.scheduled_at)
    }
}

/// Newest first by [`Activity::sort_time`], activities without a time last,
/// ties by the activity's own id ascending (so the order is total and stable
/// between requests).
pub fn compare_newest_first(a: &Activity, b: &Activity) -> Ordering {
    compare_keys_newest_first(
        (a.sort_time(), a.source_id.as_str()),
        (b.sort_time(), b.source_id.as_str()),
    )
}

/// [`compare_newest_first`] on the sort keys alone, for cursors that hold a
/// key rather than an activity.
pub fn compare_keys_newest_first(
    (time_a, id_a): (Option<DateTime<Utc>>, &str),
    (time_b, id_b): (Option<DateTime<Utc>>, &str),
) -> Ordering {
    let by_time = match (time_a, time_b) {
        (Some(a), Some(b)) => b.cmp(&a),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    by_time.then_with(|| id_a.cmp(id_b))
}

/// What a client asks to record on a contact. Each source refuses, before any
/// upstream call, the parts it cannot store.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityInput {
    pub kind: ActivityKind,
    pub description: String,
    pub occurred_at: Option<DateTime<Utc>>,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub metadata: Option<serde_json::Value>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn activity(id: &str, occurred_hour: Option<u32>, scheduled_hour: Option<u32>) -> Activity {
        let at = |hour| Utc.with_ymd_and_hms(2024, 1, 15, hour, 0, 0).unwrap();
        let mut activity = Activity::new(
            SourceKind::Winnerr,
            "contact_1",
            id,
            ActivityKind::Note,
            serde_json::Value::Null,
        );
        activity.occurred_at = occurred_hour.map(at);
        activity.scheduled_at = scheduled_hour.map(at);
        activity
    }

    #[test]
    fn newest_first_then_id_with_timeless_last() {
        let mut list = [
            activity("a", Some(1), None),
            activity("z", None, None),
            activity("c", None, Some(5)),
            activity("b", Some(3), None),
            activity("a2", Some(3), Some(1)),
            activity("y", None, None),
        ];
        list.sort_by(compare_newest_first);
        let ids: Vec<&str> = list.iter().map(|a| a.source_id.as_str()).collect();
        assert_eq!(ids, ["c", "a2", "b", "a", "y", "z"]);
    }

    #[test]
    fn keys_round_trip_and_refuse_other_forms() {
        let key = activity_key("contact_1", "activity_2");
        assert_eq!(split_activity_key(&key), Some(("contact_1", "activity_2")));
        for bad in ["", "x", "/a", "a/", "a/b/c"] {
            assert_eq!(split_activity_key(bad), None, "{bad}");
        }
        let activity = activity("activity_2", None, None);
        let decoded = GlobalId::decode(&activity.global_id().encode()).unwrap();
        assert_eq!(decoded.node_type, NodeType::Activity);
        assert_eq!(decoded.source_id, key);
        assert_eq!(activity.contact_global_id().source_id, "contact_1");
    }
}
