//! `Activity`, `Contact.activities` and the activity mutations (Winnerr
//! activities, Django-CRM comments and attachments).
//!
//! A contact's activities come, in this order of preference, from the
//! contact object itself when the answer that produced it carried them (a
//! Winnerr list or detail read with `include=activities`, a Django-CRM
//! detail; used only
//! while [`RequestLoaders::reuse_nested`] holds), for Django-CRM from the
//! contact loader (which reads the detail, so a contact looked up in the same
//! request is not read twice), and else from the activities loader. The
//! connection is then filtered, ordered newest first and paged here, over the
//! whole list: cursors are keyset positions (time and id), so a page resumes
//! after the same activity even when activities were added in between.

use std::sync::Arc;

use async_graphql::{Context, Enum, InputObject, Json, Object, Result, SimpleObject, ID};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::contact::{ContactObject, SourceEnum};
use super::contacts::{bad_input, PageInfo, SourceRegistry};
use super::error::{id_error, source_error};
use super::loaders_of;
use crate::domain::activity::{
    compare_keys_newest_first, compare_newest_first, split_activity_key, ActivityInput,
};
use crate::domain::{self, ActivityKind, GlobalId, GlobalIdError, NodeType, SourceKind};
use crate::sources::SourceError;

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
    /// Opaque global id; pass it to `node` or to the comment mutations.
    pub async fn id(&self) -> ID {
        ID(self.0.global_id().encode())
    }

    /// The system this activity lives in.
    async fn source(&self) -> SourceEnum {
        self.0.source.into()
    }

    /// The activity's id in its own system.
    async fn source_id(&self) -> &str {
        &self.0.source_id
    }

    /// What kind of activity this is.
    #[graphql(name = "type")]
    async fn activity_type(&self) -> ActivityTypeEnum {
        self.0.kind.into()
    }

    /// The type exactly as the source writes it (such as `PHONE_CALL` or `comment`).
    async fn source_type(&self) -> Option<&str> {
        self.0.source_type.as_deref()
    }

    /// What happened: the activity's description or the comment's text.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// When it happened (or was recorded), as the source says.
    async fn occurred_at(&self) -> Option<DateTime<Utc>> {
        self.0.occurred_at
    }

    /// When it is planned for, if it was scheduled.
    async fn scheduled_at(&self) -> Option<DateTime<Utc>> {
        self.0.scheduled_at
    }

    /// Source-specific details (such as a call's duration), as the source sends them.
    async fn metadata(&self) -> Option<Json<serde_json::Value>> {
        self.0.metadata.clone().map(Json)
    }

    /// Who recorded it, as the source identifies them (a Django-CRM user UUID).
    async fn author(&self) -> Option<&str> {
        self.0.author.as_deref()
    }

    /// For attachments, the file's name.
    async fn file_name(&self) -> Option<&str> {
        self.0.file_name.as_deref()
    }

    /// The contact this activity belongs to; null when it no longer exists.
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<ContactObject>> {
        super::load_contact(ctx, self.0.contact_global_id()).await
    }

    /// The upstream record exactly as the upstream sent it.
    async fn raw(&self) -> Json<serde_json::Value> {
        Json(self.0.raw.clone())
    }
}

/// An activity in a connection, with its cursor.
pub struct ActivityEdge {
    cursor: String,
    node: Arc<domain::Activity>,
}

/// An activity in a connection, with its cursor.
#[Object]
impl ActivityEdge {
    /// Pass as `after` to continue after this activity.
    async fn cursor(&self) -> &str {
        &self.cursor
    }

    /// The activity.
    async fn node(&self) -> ActivityObject {
        ActivityObject(self.node.clone())
    }
}

/// A page of a contact's activities, newest first.
pub struct ActivityConnection {
    edges: Vec<ActivityEdge>,
    page_info: PageInfo,
    total_count: usize,
}

/// A page of a contact's activities, newest first.
#[Object]
impl ActivityConnection {
    /// The activities with their cursors.
    async fn edges(&self) -> &[ActivityEdge] {
        &self.edges
    }

    /// The activities alone.
    async fn nodes(&self) -> Vec<ActivityObject> {
        self.edges
            .iter()
            .map(|edge| ActivityObject(edge.node.clone()))
            .collect()
    }

    /// Paging information.
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }

    /// How many activities of the requested types the contact has.
    async fn total_count(&self) -> i32 {
        i32::try_from(self.total_count).unwrap_or(i32::MAX)
    }
}

/// Where a page of activities resumes: after the activity with this sort
/// time and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ActivityCursor {
    #[serde(rename = "t")]
    time: Option<DateTime<Utc>>,
    #[serde(rename = "i")]
    id: String,
}

/// Activity cursors start with this, so a contact cursor is recognised as foreign.
const CURSOR_PREFIX: &str = "a1.";

impl ActivityCursor {
    fn of(activity: &domain::Activity) -> Self {
        Self {
            time: activity.sort_time(),
            id: activity.source_id.clone(),
        }
    }

    fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("{CURSOR_PREFIX}{}", URL_SAFE_NO_PAD.encode(json))
    }

    fn decode(text: &str) -> Option<Self> {
        let encoded = text.strip_prefix(CURSOR_PREFIX)?;
        let json = URL_SAFE_NO_PAD.decode(encoded.as_bytes()).ok()?;
        serde_json::from_slice::<ActivityCursor>(&json)
            .ok()
            .filter(|cursor| !cursor.id.is_empty())
    }
}

/// Loads an activity by global id, for `node`. Null when the contact or the
/// activity does not exist, and for sources that keep no activities.
pub async fn load_activity(ctx: &Context<'_>, id: GlobalId) -> Result<Option<ActivityObject>> {
    let Some((contact_id, activity_id)) = split_activity_key(&id.source_id) else {
        return Err(id_error(&GlobalIdError::Malformed(id.encode())));
    };
    let contact = GlobalId::new(NodeType::Contact, id.source, contact_id);
    let Some(activities) = activities_of(ctx, &contact, None).await? else {
        return Ok(None);
    };
    Ok(activities
        .iter()
        .find(|activity| activity.source_id == activity_id)
        .map(|activity| ActivityObject(Arc::new(activity.clone()))))
}

/// A contact's activities, for `Contact.activities`: null (with an error
/// beside the data) when the source fails, so the contact itself still shows.
pub async fn contact_activities(
    ctx: &Context<'_>,
    contact: &Arc<domain::Contact>,
    first: Option<i32>,
    after: Option<String>,
    types: Option<Vec<ActivityTypeEnum>>,
) -> Result<Option<ActivityConnection>> {
    // Arguments are checked before anything is loaded.
    let registry = ctx.data::<SourceRegistry>()?;
    let max = registry.max_page_size;
    let first = match first {
        None => 20.min(max),
        Some(value) if value < 0 || value as usize > max => {
            return Err(bad_input(format!("`first` must be between 0 and {max}")))
        }
        Some(value) => value as usize,
    };
    let kinds: Option<Vec<ActivityKind>> = match types {
        Some(list) if list.is_empty() => {
            return Err(bad_input("`types` must name at least one type".into()))
        }
        list => list.map(|list| list.into_iter().map(ActivityKind::from).collect()),
    };
    let after = match after {
        None => None,
        Some(text) => Some(
            ActivityCursor::decode(&text)
                .ok_or_else(|| bad_input("`after` is not a valid cursor".into()))?,
        ),
    };
    let all = match activities_of(ctx, &contact.global_id(), Some(contact)).await {
        Ok(Some(all)) => all,
        // The contact is gone since it was read: it has no activities.
        Ok(None) => Arc::default(),
        Err(error) => {
            ctx.add_error(ctx.set_error_path(error.into_server_error(ctx.item.pos)));
            return Ok(None);
        }
    };
    let mut matching: Vec<&domain::Activity> = all
        .iter()
        .filter(|activity| kinds.as_ref().is_none_or(|k| k.contains(&activity.kind)))
        .collect();
    matching.sort_by(|a, b| compare_newest_first(a, b));
    let start = after.as_ref().map_or(0, |cursor| {
        matching.partition_point(|activity| {
            compare_keys_newest_first(
                (activity.sort_time(), activity.source_id.as_str()),
                (cursor.time, cursor.id.as_str()),
            )
            .is_le()
        })
    });
    let end = matching.len().min(start + first);
    let edges: Vec<ActivityEdge> = matching[start..end]
        .iter()
        .map(|activity| ActivityEdge {
            cursor: ActivityCursor::of(activity).encode(),
            node: Arc::new((*activity).clone()),
        })
        .collect();
    Ok(Some(ActivityConnection {
        page_info: PageInfo {
            has_next_page: end < matching.len(),
            has_previous_page: after.is_some(),
            start_cursor: edges.first().map(|edge| edge.cursor.clone()),
            end_cursor: edges.last().map(|edge| edge.cursor.clone()),
        },
        total_count: matching.len(),
        edges,
    }))
}

/// Every activity of a contact; `None` when the contact does not exist.
/// `embedded` is the contact object at hand, whose activities serve when the
/// answer that produced it carried them.
async fn activities_of(
    ctx: &Context<'_>,
    contact_id: &GlobalId,
    embedded: Option<&Arc<domain::Contact>>,
) -> Result<Option<Arc<Vec<domain::Activity>>>> {
    if matches!(
        contact_id.source,
        SourceKind::OpenToClose | SourceKind::Spark
    ) {
        return Ok(Some(Arc::default()));
    }
    let loaders = loaders_of(ctx)?;
    if loaders.reuse_nested() {
        if let Some(list) = embedded.and_then(|contact| contact.activities.clone()) {
            return Ok(Some(list));
        }
    }
    if contact_id.source == SourceKind::DjangoCrm {
        // The contact loader reads Django-CRM's detail, which lists the
        // comments; asking it first shares one read with any lookup of the
        // same contact in this request. A contact a list put there carries
        // no comments, and is then read below.
        match loaders.contacts.load_one(contact_id.clone()).await {
            Ok(None) => return Ok(None),
            Ok(Some(Ok(contact))) => {
                if let Some(list) = &contact.activities {
                    return Ok(Some(list.clone()));
                }
            }
            Ok(Some(Err(error))) | Err(error) => return Err(source_error(&error)),
        }
    }
    match loaders
        .activity
        .of_contact
        .load_one(contact_id.clone())
        .await
    {
        Ok(None) => Ok(None),
        Ok(Some(Ok(found))) => {
            if let Some(contact) = found.contact {
                // Later lookups of this contact get the detail just read.
                loaders
                    .contacts
                    .feed_one(contact_id.clone(), Ok(contact))
                    .await;
            }
            Ok(Some(found.activities))
        }
        Ok(Some(Err(error))) | Err(error) => Err(source_error(&error)),
    }
}

/// Input of `recordActivity`.
#[derive(InputObject)]
pub struct RecordActivityInput {
    /// The contact's global id (Winnerr or Django-CRM).
    pub contact_id: ID,
    /// The kind of activity. Django-CRM records `NOTE` only (as a comment);
    /// Winnerr records `CALL`, `EMAIL` (as sent), `MEETING`, `NOTE` and `SMS`.
    #[graphql(name = "type")]
    pub activity_type: ActivityTypeEnum,
    /// What happened; the comment's text on Django-CRM.
    pub description: String,
    /// When it happened. Both sources stamp this themselves, so neither accepts it.
    pub occurred_at: Option<DateTime<Utc>>,
    /// When it is planned for (Winnerr only).
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Source-specific details as a JSON object (Winnerr only).
    pub metadata: Option<Json<serde_json::Value>>,
    /// Echoed in the payload, for clients that match requests to answers.
    pub client_mutation_id: Option<String>,
}

/// Input of `updateComment`.
#[derive(InputObject)]
pub struct UpdateCommentInput {
    /// The comment's global id (a Django-CRM `NOTE` activity).
    pub id: ID,
    /// The new text.
    pub comment: String,
    /// Echoed in the payload.
    pub client_mutation_id: Option<String>,
}

/// Input of `deleteComment`.
#[derive(InputObject)]
pub struct DeleteCommentInput {
    /// The comment's global id (a Django-CRM `NOTE` activity).
    pub id: ID,
    /// Echoed in the payload.
    pub client_mutation_id: Option<String>,
}

/// Input of `deleteAttachment`.
#[derive(InputObject)]
pub struct DeleteAttachmentInput {
    /// The attachment's global id (a Django-CRM `ATTACHMENT` activity).
    pub id: ID,
    /// Echoed in the payload.
    pub client_mutation_id: Option<String>,
}

/// Result of `recordActivity` and `updateComment`.
#[derive(SimpleObject)]
pub struct ActivityPayload {
    /// The activity as the source stored it.
    pub activity: ActivityObject,
    /// The `clientMutationId` of the input.
    pub client_mutation_id: Option<String>,
}

/// Result of `deleteComment` and `deleteAttachment`.
#[derive(SimpleObject)]
pub struct DeleteActivityPayload {
    /// The global id of the deleted comment or attachment.
    pub deleted_id: ID,
    /// The `clientMutationId` of the input.
    pub client_mutation_id: Option<String>,
}

/// The activity mutations.
#[derive(Default)]
pub struct ActivityMutations;

/// Writes to activities, comments and attachments. Ids of the wrong type or
/// source, and operations a source does not offer, fail before any upstream
/// call.
#[Object]
impl ActivityMutations {
    /// Records an activity on a contact: a Winnerr activity, or a Django-CRM
    /// comment. Open To Close and Spark keep no activities.
    async fn record_activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The contact and the activity.")] input: RecordActivityInput,
    ) -> Result<ActivityPayload> {
        let registry = ctx.data::<SourceRegistry>()?;
        let contact =
            GlobalId::decode_as(&input.contact_id, NodeType::Contact).map_err(|e| id_error(&e))?;
        let activity = ActivityInput {
            kind: input.activity_type.into(),
            description: input.description,
            occurred_at: input.occurred_at,
            scheduled_at: input.scheduled_at,
            metadata: input.metadata.map(|Json(value)| value),
        };
        let recorded = match contact.source {
            SourceKind::Winnerr => {
                let source = configured(registry.sources.winnerr.as_ref(), SourceKind::Winnerr)?;
                source.record_activity(&contact.source_id, &activity).await
            }
            SourceKind::DjangoCrm => {
                let source =
                    configured(registry.sources.djangocrm.as_ref(), SourceKind::DjangoCrm)?;
                source.add_comment(&contact.source_id, &activity).await
            }
            SourceKind::OpenToClose | SourceKind::Spark => Err(SourceError::Unsupported {
                source_kind: contact.source,
                operation: "activities",
            }),
        }
        .map_err(|e| source_error(&e))?;
        Ok(ActivityPayload {
            activity: ActivityObject(Arc::new(recorded)),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Changes the text of a Django-CRM comment. Django-CRM lets only the
    /// comment's author edit it (otherwise `FORBIDDEN`).
    async fn update_comment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The comment and its new text.")] input: UpdateCommentInput,
    ) -> Result<ActivityPayload> {
        let (source, contact_id, comment_id) = django_activity(ctx, &input.id, "comments")?;
        let updated = source
            .update_comment(&contact_id, &comment_id, &input.comment)
            .await
            .map_err(|e| source_error(&e))?;
        Ok(ActivityPayload {
            activity: ActivityObject(Arc::new(updated)),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Deletes a Django-CRM comment. Django-CRM lets only the comment's author
    /// delete it (otherwise `FORBIDDEN`).
    async fn delete_comment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The comment to delete.")] input: DeleteCommentInput,
    ) -> Result<DeleteActivityPayload> {
        let (source, _, comment_id) = django_activity(ctx, &input.id, "comments")?;
        source
            .delete_comment(&comment_id)
            .await
            .map_err(|e| source_error(&e))?;
        Ok(DeleteActivityPayload {
            deleted_id: input.id,
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Deletes a Django-CRM attachment. Django-CRM lets only the user who
    /// attached it delete it (otherwise `FORBIDDEN`).
    async fn delete_attachment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The attachment to delete.")] input: DeleteAttachmentInput,
    ) -> Result<DeleteActivityPayload> {
        let (source, _, attachment_id) = django_activity(ctx, &input.id, "attachments")?;
        source
            .delete_attachment(&attachment_id)
            .await
            .map_err(|e| source_error(&e))?;
        Ok(DeleteActivityPayload {
            deleted_id: input.id,
            client_mutation_id: input.client_mutation_id,
        })
    }
}

/// The Django-CRM adapter, contact id and activity id an activity id names;
/// ids of another type are `BAD_USER_INPUT` and of another source
/// `UNSUPPORTED_BY_SOURCE`, both without an upstream call.
fn django_activity<'a>(
    ctx: &Context<'a>,
    id: &ID,
    operation: &'static str,
) -> Result<(
    &'a Arc<crate::sources::djangocrm::DjangoCrm>,
    String,
    String,
)> {
    let registry = ctx.data::<SourceRegistry>()?;
    let decoded = GlobalId::decode_as(id, NodeType::Activity).map_err(|e| id_error(&e))?;
    let Some((contact_id, activity_id)) = split_activity_key(&decoded.source_id) else {
        return Err(id_error(&GlobalIdError::Malformed(id.to_string())));
    };
    if decoded.source != SourceKind::DjangoCrm {
        return Err(source_error(&SourceError::Unsupported {
            source_kind: decoded.source,
            operation,
        }));
    }
    let source = configured(registry.sources.djangocrm.as_ref(), SourceKind::DjangoCrm)?;
    Ok((source, contact_id.to_string(), activity_id.to_string()))
}

/// The typed adapter, or a client error saying the source is not configured.
fn configured<T>(adapter: Option<&Arc<T>>, kind: SourceKind) -> Result<&Arc<T>> {
    adapter.ok_or_else(|| {
        bad_input(format!(
            "source {} is not configured in this gateway",
            kind.as_str()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_foreign_text() {
        let cursor = ActivityCursor {
            time: Some(Utc::now()),
            id: "activity_1".into(),
        };
        assert_eq!(ActivityCursor::decode(&cursor.encode()), Some(cursor));
        let timeless = ActivityCursor {
            time: None,
            id: "c".into(),
        };
        assert_eq!(ActivityCursor::decode(&timeless.encode()), Some(timeless));
        for bad in [
            "",
            "a1.",
            "a1.!!",
            "eyJ0IjpudWxsfQ",
            "w1.eyJ0IjpudWxsLCJpIjoieCJ9",
        ] {
            assert_eq!(ActivityCursor::decode(bad), None, "{bad}");
        }
    }
}
