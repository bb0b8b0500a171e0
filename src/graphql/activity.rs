//! `Activity`, `Contact.activities` and the activity mutations (Winnerr
//! activities, Django-CRM comments and attachments).

use std::sync::Arc;

use async_graphql::{Context, Enum, Object, Result, SimpleObject, ID};

use super::contacts::bad_input;
use crate::domain::{self, ActivityKind, GlobalId};

/// What kind of activity this is.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "ActivityType")]
pub enum ActivityTypeEnum {
    /// A phone call.
    Call,
    /// An email.
    Email,
    /// A meeting.
    Meeting,
    /// A note or comment.
    Note,
    /// A task.
    Task,
    /// A text message.
    Sms,
    /// A file attached to the contact.
    Attachment,
    /// A type the gateway has no name for; `sourceType` says what the source calls it.
    Other,
}

impl From<ActivityKind> for ActivityTypeEnum {
    fn from(kind: ActivityKind) -> Self {
        match kind {
            ActivityKind::Call => Self::Call,
            ActivityKind::Email => Self::Email,
            ActivityKind::Meeting => Self::Meeting,
            ActivityKind::Note => Self::Note,
            ActivityKind::Task => Self::Task,
            ActivityKind::Sms => Self::Sms,
            ActivityKind::Attachment => Self::Attachment,
            ActivityKind::Other => Self::Other,
        }
    }
}

impl From<ActivityTypeEnum> for ActivityKind {
    fn from(kind: ActivityTypeEnum) -> Self {
        match kind {
            ActivityTypeEnum::Call => Self::Call,
            ActivityTypeEnum::Email => Self::Email,
            ActivityTypeEnum::Meeting => Self::Meeting,
            ActivityTypeEnum::Note => Self::Note,
            ActivityTypeEnum::Task => Self::Task,
            ActivityTypeEnum::Sms => Self::Sms,
            ActivityTypeEnum::Attachment => Self::Attachment,
            ActivityTypeEnum::Other => Self::Other,
        }
    }
}

/// An activity of a contact. Shared, never copied per field.
pub struct ActivityObject(pub Arc<domain::Activity>);

/// Something that happened to a contact: a Winnerr activity, or a Django-CRM
/// comment (`NOTE`) or attachment (`ATTACHMENT`).
#[Object(name = "Activity")]
impl ActivityObject {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        ID(self.0.global_id().encode())
    }
}

/// A page of a contact's activities.
#[derive(SimpleObject)]
pub struct ActivityConnection {
    /// How many activities of the requested types the contact has.
    pub total_count: i32,
}

/// The activity mutations.
#[derive(Default)]
pub struct ActivityMutations;

/// Writes to activities, comments and attachments.
#[Object]
impl ActivityMutations {
    /// Records an activity on a contact.
    async fn record_activity(&self, _contact_id: ID) -> Result<bool> {
        Err(bad_input("not available".into()))
    }
}

/// Loads an activity by global id, for `node`.
pub async fn load_activity(_ctx: &Context<'_>, _id: GlobalId) -> Result<Option<ActivityObject>> {
    Err(bad_input("not available".into()))
}

/// A contact's activities, for `Contact.activities`.
pub async fn contact_activities(
    _ctx: &Context<'_>,
    _contact: &Arc<domain::Contact>,
    _first: Option<i32>,
    _after: Option<String>,
    _types: Option<Vec<ActivityTypeEnum>>,
) -> Result<ActivityConnection> {
    Ok(ActivityConnection { total_count: 0 })
}
