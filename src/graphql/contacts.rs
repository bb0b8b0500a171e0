//! The `contacts` connection and the contact mutations.

use std::sync::Arc;

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::contact::{ContactObject, SourceEnum};
use super::error::{self, codes};
use crate::domain::{
    ContactFilter, ContactInput, ContactOrder, Direction, GlobalId, NodeType, OrderField,
    SourceKind,
};
use crate::federation::{self, FederatedQuery};
use crate::sources::{Source, SourceError, SourceSet};

/// The sources a request uses: the schema holds the gateway's own, and each
/// request puts its caller's in its data.
#[derive(Clone)]
pub struct SourceRegistry {
    pub sources: SourceSet,
    pub max_page_size: usize,
    /// Configured sources the caller may not use.
    pub denied: Vec<SourceKind>,
}

impl SourceRegistry {
    /// The configured source of this kind, or a client error naming it.
    pub fn get(&self, kind: SourceKind) -> Result<&Arc<dyn Source>> {
        if self.denied.contains(&kind) {
            use async_graphql::ErrorExtensions;
            return Err(
                async_graphql::Error::new(format!("this API key may not use {kind}"))
                    .extend_with(|_, e| e.set("code", codes::FORBIDDEN)),
            );
        }
        self.sources.get(kind).ok_or_else(|| {
            bad_input(format!(
                "source {} is not configured in this gateway",
                kind.as_str()
            ))
        })
    }
}

pub(crate) fn bad_input(message: String) -> async_graphql::Error {
    use async_graphql::ErrorExtensions;
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", codes::BAD_USER_INPUT))
}

/// Which contacts a list returns; every criterion given must hold.
#[derive(InputObject, Default)]
pub struct ContactFilterInput {
    /// Part of the name or an email (ignoring case), or three or more digits of a phone number.
    pub search: Option<String>,
    /// One of the contact's emails, ignoring case and surrounding spaces.
    pub email: Option<String>,
    /// One of the contact's phones, however either is written (`+1` prefixes and punctuation ignored).
    pub phone: Option<String>,
    /// The address's city, ignoring case.
    pub city: Option<String>,
    /// The contact type as the source writes it, ignoring case.
    #[graphql(name = "type")]
    pub contact_type: Option<String>,
    /// The status as the source writes it, ignoring case.
    pub status: Option<String>,
    /// Tags the contact must all carry (ignoring case).
    pub tags: Option<Vec<String>>,
    /// Created strictly after this instant.
    pub created_after: Option<DateTime<Utc>>,
    /// Created strictly before this instant.
    pub created_before: Option<DateTime<Utc>>,
}

impl From<ContactFilterInput> for ContactFilter {
    fn from(input: ContactFilterInput) -> Self {
        let clean = |value: Option<String>| {
            value
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        ContactFilter {
            search: clean(input.search),
            email: clean(input.email),
            phone: clean(input.phone),
            city: clean(input.city),
            contact_type: clean(input.contact_type),
            status: clean(input.status),
            tags: input.tags.unwrap_or_default(),
            created_after: input.created_after,
            created_before: input.created_before,
        }
    }
}

/// What to order contacts by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum ContactOrderField {
    /// Last name, then first name (the display name when there is no last name), ignoring case.
    #[default]
    Name,
    /// Creation time in the source.
    CreatedAt,
    /// Last change in the source.
    UpdatedAt,
}

/// Ascending or descending.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum OrderDirection {
    /// Smallest first. Contacts without the value come last.
    #[default]
    Asc,
    /// Largest first. Contacts without the value come last.
    Desc,
}

/// An ordering of contacts. Ties are broken by source, then by the source's own id.
#[derive(InputObject)]
pub struct ContactOrderInput {
    /// The field to order by.
    #[graphql(default)]
    pub field: ContactOrderField,
    /// The direction.
    #[graphql(default)]
    pub direction: OrderDirection,
}

impl From<&ContactOrderInput> for ContactOrder {
    fn from(input: &ContactOrderInput) -> Self {
        ContactOrder {
            field: match input.field {
                ContactOrderField::Name => OrderField::Name,
                ContactOrderField::CreatedAt => OrderField::CreatedAt,
                ContactOrderField::UpdatedAt => OrderField::UpdatedAt,
            },
            direction: match input.direction {
                OrderDirection::Asc => Direction::Asc,
                OrderDirection::Desc => Direction::Desc,
            },
        }
    }
}

/// Paging information of a connection.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// Whether items follow this page.
    pub has_next_page: bool,
    /// Whether items precede this page (true whenever `after` was given).
    pub has_previous_page: bool,
    /// The cursor of the first edge.
    pub start_cursor: Option<String>,
    /// The cursor of the last edge; pass it as `after` for the next page.
    pub end_cursor: Option<String>,
}

/// A contact in a connection, with its cursor.
pub struct ContactEdge {
    cursor: String,
    node: Arc<crate::domain::Contact>,
}

/// A contact in a connection, with its cursor.
#[Object]
impl ContactEdge {
    /// Pass as `after` to continue after this contact.
    async fn cursor(&self) -> &str {
        &self.cursor
    }

    /// The contact.
    async fn node(&self) -> ContactObject {
        ContactObject(self.node.clone())
    }
}

/// A page of contacts merged from several sources.
pub struct ContactConnection {
    edges: Vec<ContactEdge>,
    page_info: PageInfo,
    total: Option<u64>,
}

/// A page of contacts merged from several sources.
#[Object]
impl ContactConnection {
    /// The contacts with their cursors.
    async fn edges(&self) -> &[ContactEdge] {
        &self.edges
    }

    /// The contacts alone.
    async fn nodes(&self) -> Vec<ContactObject> {
        self.edges
            .iter()
            .map(|e| ContactObject(e.node.clone()))
            .collect()
    }

    /// Paging information.
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }

    /// How many contacts match in all sources, when every source can tell.
    async fn total_count(&self) -> Option<u64> {
        self.total
    }
}

/// Arguments of `contacts`, gathered for [`contacts`].
pub struct ContactsArgs {
    pub filter: Option<ContactFilterInput>,
    pub sources: Option<Vec<SourceEnum>>,
    pub order_by: Option<ContactOrderInput>,
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

/// Resolves `contacts`: validates the arguments, merges the sources, and
/// reports failing sources as errors beside the data.
pub async fn contacts(ctx: &Context<'_>, args: ContactsArgs) -> Result<ContactConnection> {
    let registry = ctx.data::<SourceRegistry>()?;
    let page_size_limit = |value: i32, name: &str| {
        if value < 0 || value as usize > registry.max_page_size {
            Err(bad_input(format!(
                "`{name}` must be between 0 and {}",
                registry.max_page_size
            )))
        } else {
            Ok(value as usize)
        }
    };
    let backward = args.last.is_some() || args.before.is_some();
    if backward && (args.first.is_some() || args.after.is_some()) {
        return Err(bad_input(
            "page forward with `first`/`after` or backward with `last`/`before`, not both".into(),
        ));
    }
    let count = if backward {
        page_size_limit(args.last.unwrap_or(20), "last")?
    } else {
        page_size_limit(args.first.unwrap_or(20), "first")?
    };
    let sources: Vec<SourceKind> = match args.sources {
        Some(list) if list.is_empty() => {
            return Err(bad_input("`sources` must name at least one source".into()))
        }
        Some(list) => {
            let kinds: Vec<SourceKind> = list.into_iter().map(SourceKind::from).collect();
            for kind in &kinds {
                registry.get(*kind)?;
            }
            kinds
        }
        None => registry.sources.all.iter().map(|s| s.kind()).collect(),
    };
    let filter: ContactFilter = args.filter.map(Into::into).unwrap_or_default();
    if let (Some(after), Some(before)) = (filter.created_after, filter.created_before) {
        if after >= before {
            return Err(bad_input(
                "`createdAfter` must be before `createdBefore`".into(),
            ));
        }
    }
    let loaders = super::loaders_of(ctx)?;
    // A source whose list can carry the contacts' activities is asked for
    // them in the same request when the page will show them; embedded data is
    // not used at all with loaders switched off.
    let look_ahead = ctx.look_ahead();
    let include_activities = loaders.reuse_nested()
        && (look_ahead
            .field("edges")
            .field("node")
            .field("activities")
            .exists()
            || look_ahead.field("nodes").field("activities").exists());
    let query = FederatedQuery {
        sources,
        filter,
        order: args
            .order_by
            .as_ref()
            .map(ContactOrder::from)
            .unwrap_or_default(),
        first: count,
        after: args.after.clone(),
        include_activities,
    };
    let page = if backward {
        federation::list_contacts_backward(
            &registry.sources.all,
            &query,
            count,
            args.before.as_deref(),
            registry.max_page_size,
        )
        .await
    } else {
        federation::list_contacts(&registry.sources.all, &query).await
    }
    .map_err(|e| {
        bad_input(
            e.to_string()
                .replace("`after`", if backward { "`before`" } else { "`after`" }),
        )
    })?;
    for source_error in &page.errors {
        let server_error = error::source_error(source_error).into_server_error(ctx.item.pos);
        ctx.add_error(ctx.set_error_path(server_error));
    }
    let edges: Vec<ContactEdge> = page
        .edges
        .into_iter()
        .map(|(contact, cursor)| ContactEdge {
            cursor,
            node: Arc::new(contact),
        })
        .collect();
    // Contacts a list returned are not fetched again by a later lookup in the
    // same request. A contact this request already looked up is kept: a
    // lookup may carry more than the list (Django-CRM's detail holds the
    // comments), and replacing it would make a later field fetch it again.
    let already_loaded = loaders.contacts.get_cached_values::<GlobalId>();
    loaders
        .contacts
        .feed_many(
            edges
                .iter()
                .map(|e| (e.node.global_id(), Ok(e.node.clone())))
                .filter(|(id, _)| !matches!(already_loaded.get(id), Some(Ok(_)))),
        )
        .await;
    Ok(ContactConnection {
        page_info: PageInfo {
            has_next_page: page.has_next_page,
            has_previous_page: page.has_previous_page,
            start_cursor: edges.first().map(|e| e.cursor.clone()),
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        },
        edges,
        total: if page.errors.is_empty() {
            page.total
        } else {
            None
        },
    })
}

/// An address to write.
#[derive(InputObject, Default)]
pub struct AddressInput {
    /// Street and number.
    pub street: Option<String>,
    /// City or locality.
    pub city: Option<String>,
    /// State, province or region.
    pub region: Option<String>,
    /// ZIP or postal code.
    pub postal_code: Option<String>,
    /// Country.
    pub country: Option<String>,
}

/// The writable contact fields shared by create and update.
#[derive(InputObject, Default)]
pub struct ContactFieldsInput {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// The name to show (Spark's `DisplayName`).
    pub display_name: Option<String>,
    /// Primary email.
    pub email: Option<String>,
    /// Primary phone.
    pub phone: Option<String>,
    /// Company or organization.
    pub organization: Option<String>,
    /// Job title or position.
    pub title: Option<String>,
    /// Contact type, in the source's vocabulary.
    #[graphql(name = "type")]
    pub contact_type: Option<String>,
    /// Status, in the source's vocabulary.
    pub status: Option<String>,
    /// Tags (replacing the existing ones on update).
    pub tags: Option<Vec<String>>,
    /// Free-text notes.
    pub notes: Option<String>,
    /// Assigned agent or user, as the source identifies them.
    pub assigned_to: Option<String>,
    /// Postal address.
    pub address: Option<AddressInput>,
}

impl From<ContactFieldsInput> for ContactInput {
    fn from(input: ContactFieldsInput) -> Self {
        let address = input.address.unwrap_or_default();
        ContactInput {
            first_name: input.first_name,
            last_name: input.last_name,
            display_name: input.display_name,
            email: input.email,
            phone: input.phone,
            organization: input.organization,
            title: input.title,
            contact_type: input.contact_type,
            status: input.status,
            tags: input.tags,
            notes: input.notes,
            assigned_to: input.assigned_to,
            street: address.street,
            city: address.city,
            region: address.region,
            postal_code: address.postal_code,
            country: address.country,
        }
    }
}

/// Input of `createContact`.
#[derive(InputObject)]
pub struct CreateContactInput {
    /// The source to create the contact in.
    pub source: SourceEnum,
    /// The contact's fields.
    #[graphql(flatten)]
    pub fields: ContactFieldsInput,
    /// Echoed in the payload, for clients that match requests to answers.
    pub client_mutation_id: Option<String>,
}

/// Input of `updateContact`.
#[derive(InputObject)]
pub struct UpdateContactInput {
    /// The contact's global id.
    pub id: ID,
    /// The fields to change; fields left out keep their value.
    #[graphql(flatten)]
    pub fields: ContactFieldsInput,
    /// Echoed in the payload.
    pub client_mutation_id: Option<String>,
}

/// Input of `deleteContact`.
#[derive(InputObject)]
pub struct DeleteContactInput {
    /// The contact's global id.
    pub id: ID,
    /// Echoed in the payload.
    pub client_mutation_id: Option<String>,
}

/// Result of `createContact` and `updateContact`.
#[derive(SimpleObject)]
pub struct ContactPayload {
    /// The contact as the source stored it.
    pub contact: ContactObject,
    /// The `clientMutationId` of the input.
    pub client_mutation_id: Option<String>,
}

/// Result of `deleteContact`.
#[derive(SimpleObject)]
pub struct DeleteContactPayload {
    /// The global id of the deleted contact.
    pub deleted_id: ID,
    /// The `clientMutationId` of the input.
    pub client_mutation_id: Option<String>,
}

/// The contact mutations.
#[derive(Default)]
pub struct ContactMutations;

/// Writes to the sources. Each source's write rules are checked before any
/// upstream call; an error names the offending field.
#[Object]
impl ContactMutations {
    /// Creates a contact in the given source.
    async fn create_contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new contact.")] input: CreateContactInput,
    ) -> Result<ContactPayload> {
        let registry = ctx.data::<SourceRegistry>()?;
        let source = registry.get(input.source.into())?;
        let fields: ContactInput = input.fields.into();
        source
            .check_create(&fields)
            .map_err(|e| error::source_error(&e))?;
        let contact = source
            .create_contact(&fields)
            .await
            .map_err(|e| error::source_error(&e))?;
        Ok(ContactPayload {
            contact: ContactObject(Arc::new(contact)),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Changes the given fields of a contact.
    async fn update_contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The contact and the fields to change.")] input: UpdateContactInput,
    ) -> Result<ContactPayload> {
        let registry = ctx.data::<SourceRegistry>()?;
        let id =
            GlobalId::decode_as(&input.id, NodeType::Contact).map_err(|e| error::id_error(&e))?;
        let source = registry.get(id.source)?;
        let fields: ContactInput = input.fields.into();
        if fields.set_fields().is_empty() {
            return Err(bad_input("the input changes no field".into()));
        }
        source
            .check_update(&fields)
            .map_err(|e| error::source_error(&e))?;
        let contact = source
            .update_contact(&id.source_id, &fields)
            .await
            .map_err(|e| error::source_error(&e))?;
        Ok(ContactPayload {
            contact: ContactObject(Arc::new(contact)),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Deletes a contact.
    async fn delete_contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The contact to delete.")] input: DeleteContactInput,
    ) -> Result<DeleteContactPayload> {
        let registry = ctx.data::<SourceRegistry>()?;
        let id =
            GlobalId::decode_as(&input.id, NodeType::Contact).map_err(|e| error::id_error(&e))?;
        let source = registry.get(id.source)?;
        source
            .delete_contact(&id.source_id)
            .await
            .map_err(|e: SourceError| error::source_error(&e))?;
        Ok(DeleteContactPayload {
            deleted_id: input.id,
            client_mutation_id: input.client_mutation_id,
        })
    }
}
