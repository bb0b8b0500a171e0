//! Contact operations beyond create, update and delete: adding tags, bulk
//! updates, Spark transfers and the Spark user's own contact.
//!
//! Every operation validates its input and the target source's rules before
//! any upstream call; an operation a source does not offer is
//! `UNSUPPORTED_BY_SOURCE` without a call.
//!
//! # Bulk updates
//! `bulkUpdateContacts` applies one change to up to `limits.max_page_size`
//! contacts and reports one outcome per id given, in order:
//! - Ids are decoded first. A malformed id, an id of another type or of a
//!   source this gateway does not have gets its own `BAD_USER_INPUT` result,
//!   without a call; the other ids still go ahead.
//! - Each source's write rules (`Source::check_update`) are checked once for
//!   the change; when they refuse it, every id of that source gets that
//!   refusal as its result, without a call.
//! - A contact named more than once is written once, and that one outcome is
//!   reported at each of its positions, so `succeeded + failed` always equals
//!   the number of ids given.
//! - Winnerr contacts go through `PATCH /contacts/bulk`, up to
//!   [`BULK_MAX_IDS`] per request, when the endpoint can carry the change
//!   (not an email or address change, see [`Winnerr::bulk_carries`]); its
//!   answer says only whether each write succeeded, so their `contact` is
//!   read (through the request's contact loader) only when asked for. Every
//!   other contact is one `Source::update_contact`.
//! - The requests run concurrently, at most [`BULK_UPDATE_CONCURRENCY`] at a
//!   time (a Winnerr bulk request counts as one), and within each source's
//!   own concurrency limit in `upstream.rs`.
//!
//! A write that failed is never reported as a success: an id Winnerr's bulk
//! answer does not mention fails with `UPSTREAM_ERROR`.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};

use super::contact::ContactObject;
use super::contacts::{bad_input, ContactFieldsInput, ContactPayload, SourceRegistry};
use super::error;
use super::{load_contact, loaders_of};
use crate::domain::{Contact, ContactInput, GlobalId, NodeType, SourceKind};
use crate::sources::spark::operations::MyContactChanges;
use crate::sources::spark::Spark;
use crate::sources::winnerr::operations::BULK_MAX_IDS;
use crate::sources::winnerr::Winnerr;
use crate::sources::SourceError;

/// How many upstream writes (or Winnerr bulk requests) one bulk update runs
/// at once, across all sources. Each source's own concurrency limit applies
/// as well.
pub const BULK_UPDATE_CONCURRENCY: usize = 8;

/// The Spark current user's contact.
#[derive(Default)]
pub struct MyContactQueries;

/// The Spark current user's contact.
#[Object]
impl MyContactQueries {
    /// The contact of the Spark user the gateway's Spark key belongs to
    /// (Spark's `/my/contact`). For an agent's key this is the agent's own
    /// record, which is not one of the agent's contacts: `contact(id:)` does
    /// not find it. Null only together with an error (for example when Spark
    /// is not configured).
    async fn my_contact(&self, ctx: &Context<'_>) -> Result<Option<ContactObject>> {
        let spark = spark(ctx)?;
        let contact = spark
            .my_contact()
            .await
            .map_err(|e| error::source_error(&e))?;
        Ok(Some(ContactObject(Arc::new(contact))))
    }
}

/// Input of `addContactTags`.
#[derive(InputObject)]
pub struct AddContactTagsInput {
    /// The contact's global id.
    pub id: ID,
    /// The tags to add; at least one, none blank. Tags the contact already
    /// has are kept once.
    pub tags: Vec<String>,
    /// Echoed in the payload.
    pub client_mutation_id: Option<String>,
}

/// Input of `bulkUpdateContacts`.
#[derive(InputObject)]
pub struct BulkUpdateContactsInput {
    /// The contacts' global ids, from any sources: at least one, at most the
    /// configured largest page size. A contact named twice is written once.
    pub ids: Vec<ID>,
    /// The fields to change on every contact; fields left out keep their value.
    pub changes: ContactFieldsInput,
    /// Echoed in the payload.
    pub client_mutation_id: Option<String>,
}

/// Input of `transferContact`.
#[derive(InputObject)]
pub struct TransferContactInput {
    /// The global id of a Spark contact.
    pub id: ID,
    /// The Spark user id (24 or 26 digits) of the new owner.
    pub owner_id: String,
    /// Echoed in the payload.
    pub client_mutation_id: Option<String>,
}

/// The home address parts a Spark user may change on their own contact.
#[derive(InputObject, Default)]
pub struct MyContactAddressInput {
    /// Street and number (`HomeStreetAddress`), at most 300 characters.
    pub street: Option<String>,
    /// City (`HomeLocality`), at most 300 characters.
    pub city: Option<String>,
    /// State or region (`HomeRegion`), at most 300 characters.
    pub region: Option<String>,
    /// Postal code (`HomePostalCode`), at most 300 characters.
    pub postal_code: Option<String>,
}

/// Input of `updateMyContact`: exactly the attributes Spark lets a user
/// change on their own contact. Fields left out keep their value; a blank
/// text removes the value (except `email`, which Spark requires); an empty
/// list empties it.
#[derive(InputObject)]
pub struct UpdateMyContactInput {
    /// Given name (`GivenName`), at most 300 characters.
    pub first_name: Option<String>,
    /// Middle name (`MiddleName`), at most 300 characters.
    pub middle_name: Option<String>,
    /// Family name (`FamilyName`), at most 300 characters.
    pub last_name: Option<String>,
    /// Primary email (`PrimaryEmail`), at most 75 characters; cannot be removed.
    pub email: Option<String>,
    /// Secondary emails (`SecondaryEmails`), each at most 75 characters.
    pub secondary_emails: Option<Vec<String>>,
    /// The secondary emails that also get notifications
    /// (`AdditionalNotificationEmails`); each must be one of the secondary emails.
    pub additional_notification_emails: Option<Vec<String>>,
    /// Primary phone (`PrimaryPhoneNumber`), at most 300 characters.
    pub phone: Option<String>,
    /// Home phone (`HomePhoneNumber`), at most 300 characters.
    pub home_phone: Option<String>,
    /// Work phone (`WorkPhoneNumber`), at most 300 characters.
    pub work_phone: Option<String>,
    /// Mobile phone (`MobilePhoneNumber`), at most 300 characters.
    pub mobile_phone: Option<String>,
    /// Country calling code of the mobile phone (`MobilePhoneCountryCode`),
    /// at most 2 characters.
    pub mobile_phone_country_code: Option<String>,
    /// Other phone (`OtherPhoneNumber`), at most 300 characters.
    pub other_phone: Option<String>,
    /// Pager (`PagerPhoneNumber`), at most 300 characters.
    pub pager_phone: Option<String>,
    /// Home address parts.
    pub home_address: Option<MyContactAddressInput>,
    /// Echoed in the payload.
    pub client_mutation_id: Option<String>,
}

impl From<&UpdateMyContactInput> for MyContactChanges {
    fn from(input: &UpdateMyContactInput) -> Self {
        let address = input.home_address.as_ref();
        MyContactChanges {
            first_name: input.first_name.clone(),
            middle_name: input.middle_name.clone(),
            last_name: input.last_name.clone(),
            email: input.email.clone(),
            secondary_emails: input.secondary_emails.clone(),
            additional_notification_emails: input.additional_notification_emails.clone(),
            phone: input.phone.clone(),
            home_phone: input.home_phone.clone(),
            work_phone: input.work_phone.clone(),
            mobile_phone: input.mobile_phone.clone(),
            mobile_phone_country_code: input.mobile_phone_country_code.clone(),
            other_phone: input.other_phone.clone(),
            pager_phone: input.pager_phone.clone(),
            home_street: address.and_then(|a| a.street.clone()),
            home_city: address.and_then(|a| a.city.clone()),
            home_region: address.and_then(|a| a.region.clone()),
            home_postal_code: address.and_then(|a| a.postal_code.clone()),
        }
    }
}

/// Why one contact of a bulk update was not updated.
#[derive(SimpleObject, Clone)]
pub struct BulkUpdateError {
    /// The error code, as in `extensions.code` of GraphQL errors
    /// (`NOT_FOUND`, `BAD_USER_INPUT`, `CONFLICT`, `UPSTREAM_ERROR`...).
    pub code: String,
    /// What went wrong.
    pub message: String,
    /// The input field the error is about, when there is one (such as `status`).
    pub field: Option<String>,
}

impl BulkUpdateError {
    /// The code, message and field of a GraphQL error built by `error.rs`.
    fn from_graphql(error: &async_graphql::Error) -> Self {
        let extension = |name: &str| match error.extensions.as_ref().and_then(|e| e.get(name)) {
            Some(async_graphql::Value::String(text)) => Some(text.clone()),
            _ => None,
        };
        BulkUpdateError {
            code: extension("code").unwrap_or_else(|| error::codes::UPSTREAM_ERROR.to_string()),
            message: error.message.clone(),
            field: extension("field"),
        }
    }

    fn from_source(error: &SourceError) -> Self {
        Self::from_graphql(&error::source_error(error))
    }
}

/// The outcome of one id of a bulk update.
pub struct BulkUpdateResult {
    id: ID,
    global_id: Option<GlobalId>,
    contact: Option<Arc<Contact>>,
    error: Option<BulkUpdateError>,
}

/// The outcome of one id of a bulk update: `error` is null exactly when the
/// contact was updated.
#[Object]
impl BulkUpdateResult {
    /// The id as given in the input.
    async fn id(&self) -> &ID {
        &self.id
    }

    /// The contact after the change; null when the update failed. Winnerr's
    /// bulk endpoint answers only with outcomes, so a Winnerr contact updated
    /// that way is read when this field is asked for.
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<ContactObject>> {
        if self.error.is_some() {
            return Ok(None);
        }
        match (&self.contact, &self.global_id) {
            (Some(contact), _) => Ok(Some(ContactObject(contact.clone()))),
            (None, Some(global_id)) => load_contact(ctx, global_id.clone()).await,
            (None, None) => Ok(None),
        }
    }

    /// Why the update failed; null when it succeeded.
    async fn error(&self) -> Option<&BulkUpdateError> {
        self.error.as_ref()
    }
}

/// Result of `bulkUpdateContacts`.
#[derive(SimpleObject)]
pub struct BulkUpdateContactsPayload {
    /// One outcome per id given, in the input's order.
    pub results: Vec<BulkUpdateResult>,
    /// How many results report success.
    pub succeeded: i32,
    /// How many results report an error.
    pub failed: i32,
    /// The `clientMutationId` of the input.
    pub client_mutation_id: Option<String>,
}

/// The contact operation mutations.
#[derive(Default)]
pub struct ContactOperationMutations;

/// Tags, bulk updates, transfers and the Spark user's own contact.
#[Object]
impl ContactOperationMutations {
    /// Adds tags to a contact, keeping the tags it has. Winnerr adds them
    /// natively; Spark reads the contact's tags and writes the union (tags of
    /// at most 75 characters). Open To Close and Django-CRM contacts have no
    /// tags: `UNSUPPORTED_BY_SOURCE`.
    async fn add_contact_tags(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The contact and the tags to add.")] input: AddContactTagsInput,
    ) -> Result<ContactPayload> {
        let registry = ctx.data::<SourceRegistry>()?;
        let id =
            GlobalId::decode_as(&input.id, NodeType::Contact).map_err(|e| error::id_error(&e))?;
        if input.tags.is_empty() {
            return Err(field_error("tags", "give at least one tag to add"));
        }
        if input.tags.iter().any(|tag| tag.trim().is_empty()) {
            return Err(field_error("tags", "tags must not be blank"));
        }
        registry.get(id.source)?;
        let sources = &registry.sources;
        let contact = match (id.source, &sources.winnerr, &sources.spark) {
            (SourceKind::Winnerr, Some(winnerr), _) => {
                winnerr.add_tags(&id.source_id, &input.tags).await
            }
            (SourceKind::Spark, _, Some(spark)) => spark.add_tags(&id.source_id, &input.tags).await,
            (source_kind, _, _) => Err(SourceError::Unsupported {
                source_kind,
                operation: "tags",
            }),
        }
        .map_err(|e| error::source_error(&e))?;
        Ok(ContactPayload {
            contact: ContactObject(Arc::new(contact)),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Changes the same fields on many contacts, from any sources, and
    /// reports one outcome per id in the input's order; a failure of one
    /// contact never hides or undoes the others.
    async fn bulk_update_contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The contacts and the fields to change.")] input: BulkUpdateContactsInput,
    ) -> Result<BulkUpdateContactsPayload> {
        let registry = ctx.data::<SourceRegistry>()?;
        if input.ids.is_empty() {
            return Err(field_error("ids", "give at least one contact id"));
        }
        if input.ids.len() > registry.max_page_size {
            return Err(field_error(
                "ids",
                &format!(
                    "at most {} contacts can be updated at once",
                    registry.max_page_size
                ),
            ));
        }
        let changes: ContactInput = input.changes.into();
        if changes.set_fields().is_empty() {
            return Err(field_error("changes", "the input changes no field"));
        }
        let results = bulk_update(registry, &input.ids, &changes).await;
        // Contacts the writes answered with serve later reads in this request;
        // the others may have changed, so nothing cached for them is reused.
        let loaders = loaders_of(ctx)?;
        if results
            .iter()
            .any(|result| result.error.is_none() && result.contact.is_none())
        {
            loaders.forget_contacts();
        }
        loaders
            .contacts
            .feed_many(results.iter().filter_map(|result| {
                let contact = result.contact.clone()?;
                Some((contact.global_id(), Ok(contact)))
            }))
            .await;
        let failed = results.iter().filter(|r| r.error.is_some()).count();
        Ok(BulkUpdateContactsPayload {
            succeeded: (results.len() - failed) as i32,
            failed: failed as i32,
            results,
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Transfers a Spark contact to another owner, which also makes it
    /// Connected (so it appears in the contact lists). Other sources have no
    /// transfers: `UNSUPPORTED_BY_SOURCE`.
    async fn transfer_contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The contact and its new owner.")] input: TransferContactInput,
    ) -> Result<ContactPayload> {
        let registry = ctx.data::<SourceRegistry>()?;
        let id =
            GlobalId::decode_as(&input.id, NodeType::Contact).map_err(|e| error::id_error(&e))?;
        if id.source != SourceKind::Spark {
            return Err(error::source_error(&SourceError::Unsupported {
                source_kind: id.source,
                operation: "transfers",
            }));
        }
        registry.get(SourceKind::Spark)?;
        let contact = spark(ctx)?
            .transfer_contact(&id.source_id, &input.owner_id)
            .await
            .map_err(|e| error::source_error(&e))?;
        Ok(ContactPayload {
            contact: ContactObject(Arc::new(contact)),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Changes the Spark current user's own contact (Spark's `/my/contact`);
    /// only the attributes Spark lets a user change can be given.
    async fn update_my_contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The attributes to change.")] input: UpdateMyContactInput,
    ) -> Result<ContactPayload> {
        let spark = spark(ctx)?;
        let changes = MyContactChanges::from(&input);
        if changes.is_empty() {
            return Err(bad_input("the input changes no field".into()));
        }
        changes.check().map_err(|e| error::source_error(&e))?;
        let contact = spark
            .update_my_contact(&changes)
            .await
            .map_err(|e| error::source_error(&e))?;
        Ok(ContactPayload {
            contact: ContactObject(Arc::new(contact)),
            client_mutation_id: input.client_mutation_id,
        })
    }
}

/// The configured Spark adapter, or a client error saying it is not configured.
fn spark<'a>(ctx: &'a Context<'_>) -> Result<&'a Arc<Spark>> {
    let registry = ctx.data::<SourceRegistry>()?;
    registry.sources.spark.as_ref().ok_or_else(|| {
        bad_input(format!(
            "source {} is not configured in this gateway",
            SourceKind::Spark.as_str()
        ))
    })
}

/// A `BAD_USER_INPUT` error naming an input field.
fn field_error(field: &str, message: &str) -> async_graphql::Error {
    use async_graphql::ErrorExtensions;
    let field = field.to_string();
    bad_input(format!("`{field}`: {message}"))
        .extend_with(move |_, e| e.set("field", field.clone()))
}

/// The outcome of one distinct contact: the contact when the write answered
/// with it, `None` when it only said the write succeeded.
type Outcome = std::result::Result<Option<Arc<Contact>>, BulkUpdateError>;

/// Runs a bulk update (input already checked for emptiness and size) and
/// builds the results in input order.
async fn bulk_update(
    registry: &SourceRegistry,
    ids: &[ID],
    changes: &ContactInput,
) -> Vec<BulkUpdateResult> {
    let decoded: Vec<std::result::Result<GlobalId, BulkUpdateError>> = ids
        .iter()
        .map(|id| {
            let global_id = GlobalId::decode_as(id, NodeType::Contact)
                .map_err(|e| BulkUpdateError::from_graphql(&error::id_error(&e)))?;
            registry
                .get(global_id.source)
                .map_err(|e| BulkUpdateError::from_graphql(&e))?;
            Ok(global_id)
        })
        .collect();
    // The rules depend on the source and the change only: checked once per source.
    let mut refusals: HashMap<SourceKind, Option<BulkUpdateError>> = HashMap::new();
    let mut targets: Vec<GlobalId> = Vec::new();
    for global_id in decoded.iter().flatten() {
        let refusal = refusals.entry(global_id.source).or_insert_with(|| {
            registry
                .get(global_id.source)
                .ok()
                .and_then(|source| source.check_update(changes).err())
                .map(|e| BulkUpdateError::from_source(&e))
        });
        if refusal.is_none() && !targets.contains(global_id) {
            targets.push(global_id.clone());
        }
    }
    let outcomes = write_all(registry, &targets, changes).await;
    ids.iter()
        .zip(decoded)
        .map(|(id, decoded)| {
            let global_id = match decoded {
                Ok(global_id) => global_id,
                Err(error) => return failure(id, None, error),
            };
            let outcome = match refusals.get(&global_id.source) {
                Some(Some(refusal)) => Err(refusal.clone()),
                _ => outcomes.get(&global_id).cloned().unwrap_or_else(|| {
                    Err(BulkUpdateError {
                        code: error::codes::UPSTREAM_ERROR.to_string(),
                        message: "the update of this contact was not carried out".into(),
                        field: None,
                    })
                }),
            };
            match outcome {
                Ok(contact) => BulkUpdateResult {
                    id: id.clone(),
                    global_id: Some(global_id),
                    contact,
                    error: None,
                },
                Err(error) => failure(id, Some(global_id), error),
            }
        })
        .collect()
}

fn failure(id: &ID, global_id: Option<GlobalId>, error: BulkUpdateError) -> BulkUpdateResult {
    BulkUpdateResult {
        id: id.clone(),
        global_id,
        contact: None,
        error: Some(error),
    }
}

/// Writes every distinct target, at most [`BULK_UPDATE_CONCURRENCY`] requests
/// (or Winnerr bulk requests) at a time.
async fn write_all(
    registry: &SourceRegistry,
    targets: &[GlobalId],
    changes: &ContactInput,
) -> HashMap<GlobalId, Outcome> {
    let winnerr_bulk = registry
        .sources
        .winnerr
        .as_ref()
        .filter(|_| Winnerr::bulk_carries(changes));
    let mut units: Vec<BoxFuture<'_, Vec<(GlobalId, Outcome)>>> = Vec::new();
    let (bulk_targets, single_targets): (Vec<&GlobalId>, Vec<&GlobalId>) = targets
        .iter()
        .partition(|id| id.source == SourceKind::Winnerr && winnerr_bulk.is_some());
    if let Some(winnerr) = winnerr_bulk {
        for chunk in bulk_targets.chunks(BULK_MAX_IDS) {
            let chunk: Vec<GlobalId> = chunk.iter().map(|id| (*id).clone()).collect();
            let winnerr = winnerr.clone();
            units.push(
                async move {
                    let ids: Vec<String> = chunk.iter().map(|id| id.source_id.clone()).collect();
                    let outcomes = winnerr.bulk_update(&ids, changes).await;
                    chunk
                        .into_iter()
                        .zip(outcomes)
                        .map(|(id, outcome)| {
                            let outcome = outcome
                                .map(|()| None)
                                .map_err(|e| BulkUpdateError::from_source(&e));
                            (id, outcome)
                        })
                        .collect()
                }
                .boxed(),
            );
        }
    }
    for global_id in single_targets {
        let Ok(source) = registry.get(global_id.source) else {
            continue;
        };
        let source = source.clone();
        let global_id = global_id.clone();
        units.push(
            async move {
                let outcome = source
                    .update_contact(&global_id.source_id, changes)
                    .await
                    .map(|contact| Some(Arc::new(contact)))
                    .map_err(|e| BulkUpdateError::from_source(&e));
                vec![(global_id, outcome)]
            }
            .boxed(),
        );
    }
    futures::stream::iter(units)
        .buffer_unordered(BULK_UPDATE_CONCURRENCY)
        .flat_map(futures::stream::iter)
        .collect()
        .await
}
