//! The GraphQL schema: object types, queries, and the error mapping.
//!
//! Per request the HTTP layer adds [`RequestLoaders`] (in an `Arc`) to the request data;
//! resolvers read through them.

pub mod activity;
pub mod contact;
pub mod contacts;
pub mod error;
pub mod null_propagation;
pub mod operations;
pub mod property;

use async_graphql::extensions::apollo_persisted_queries::{
    ApolloPersistedQueries, LruCacheStorage,
};
use async_graphql::{
    Context, EmptySubscription, Interface, MergedObject, Object, Result, Schema, ID,
};

use self::activity::{ActivityMutations, ActivityObject};
use self::contact::{ContactObject, SourceEnum};
use self::contacts::{
    ContactConnection, ContactFilterInput, ContactMutations, ContactOrderInput, ContactsArgs,
    SourceRegistry,
};
use self::operations::{ContactOperationMutations, MyContactQueries};
use self::property::{PropertyMutations, PropertyObject, PropertyQueries};
use crate::config::{CacheSettings, Limits, OperationSettings};
use crate::domain::{GlobalId, NodeType, SourceKind};
pub use crate::loaders::RequestLoaders;
use crate::sources::SourceSet;

/// The gateway's schema type.
pub type GatewaySchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// Builds the schema over the configured sources. It holds no per-request state.
pub fn build_schema(
    limits: &Limits,
    cache: &CacheSettings,
    operations: &OperationSettings,
    sources: SourceSet,
) -> GatewaySchema {
    let configured: Vec<SourceKind> = SourceKind::ALL
        .into_iter()
        .filter(|kind| sources.get(*kind).is_some())
        .collect();
    let builder = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
    .data(SourceRegistry {
        sources,
        max_page_size: limits.max_page_size,
        denied: Vec::new(),
    })
    .limit_depth(limits.max_query_depth)
    .limit_complexity(limits.max_query_complexity)
    .extension(crate::edge::EdgeExtension::new(
        crate::edge::EdgeExtensionSettings {
            limits: crate::edge::cost::CostLimits::from_limits(limits),
            estimate: crate::edge::estimate::EstimateSettings::new(configured, limits, cache),
            max_upstream_requests: limits.max_upstream_requests,
        },
    ))
    // Inside the edge's extension: a dry run, which the edge answers
    // without executing, has nothing to propagate.
    .extension(null_propagation::NullPropagation);
    // Registered after the edge's extension, which therefore sees (and
    // gives codes to) the errors of persisted-query lookups. With only
    // trusted documents allowed, no other query may be registered.
    if operations.automatic_persisted_queries && !operations.only_trusted {
        builder
            .extension(ApolloPersistedQueries::new(LruCacheStorage::new(
                operations.automatic_persisted_queries_capacity.max(1),
            )))
            .finish()
    } else {
        builder.finish()
    }
}

/// The schema without extensions, for operations the edge knows
/// ([`crate::edge::KnownOperation`], chosen in `edge::documents`): with
/// `ValidationMode::Fast` (fragment cycles, depth and complexity only) for
/// a text and operation name sent again without variables, which passed
/// every check before; with `ValidationMode::Strict` for one sent again with
/// new variables, whose values must still be validated (the edge has
/// estimated it with them). Their answers are finished by
/// [`crate::edge::extension::finish_known_execution`].
///
/// Why: with any extension registered, async-graphql runs every field and
/// every list item through the extension chain (a boxed future per
/// extension and a type lookup per field), which was a tenth of the CPU of
/// a property board; and validating a document again finds what it found
/// before.
pub fn build_known_document_schema(
    limits: &Limits,
    sources: SourceSet,
    validation: async_graphql::ValidationMode,
) -> GatewaySchema {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
    .data(SourceRegistry {
        sources,
        max_page_size: limits.max_page_size,
        denied: Vec::new(),
    })
    .limit_depth(limits.max_query_depth)
    .limit_complexity(limits.max_query_complexity)
    .validation_mode(validation)
    .finish()
}

/// The schema's types, for walking an answer outside async-graphql (null
/// propagation of the answers of [`build_known_document_schema`]).
pub fn type_registry() -> async_graphql::registry::Registry {
    use async_graphql::OutputType;
    let mut registry = async_graphql::registry::Registry {
        query_type: <QueryRoot as OutputType>::type_name().to_string(),
        mutation_type: Some(<MutationRoot as OutputType>::type_name().to_string()),
        ..Default::default()
    };
    <QueryRoot as OutputType>::create_type_info(&mut registry);
    <MutationRoot as OutputType>::create_type_info(&mut registry);
    registry
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    build_schema(
        &Limits::default(),
        &CacheSettings::default(),
        &OperationSettings::default(),
        SourceSet::default(),
    )
    .sdl()
}

/// An object with a global id.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global id."))]
pub enum Node {
    /// A contact.
    Contact(ContactObject),
    /// An Open To Close property.
    Property(PropertyObject),
    /// An activity of a contact.
    Activity(ActivityObject),
}

/// The root of all queries.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(ContactQueries, PropertyQueries, MyContactQueries);

/// The root of all mutations.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    ContactMutations,
    PropertyMutations,
    ActivityMutations,
    ContactOperationMutations,
);

/// The entry points for reading contacts and other nodes.
#[derive(Default)]
pub struct ContactQueries;

/// The entry points for reading contacts and other nodes.
#[Object]
impl ContactQueries {
    /// Fetches any object by its global id; null when it does not exist.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global id from any node.")] id: ID,
    ) -> Result<Option<Node>> {
        let global_id = GlobalId::decode(&id).map_err(|e| error::id_error(&e))?;
        want_activities_if_shown(ctx)?;
        load_node(ctx, global_id).await
    }

    /// Fetches several objects by global id, in the order given; null entries
    /// for ids that do not exist. One malformed id fails the whole field
    /// before any upstream call.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global ids, of any node type.")] ids: Vec<ID>,
    ) -> Result<Vec<Option<Node>>> {
        let global_ids = ids
            .iter()
            .map(|id| GlobalId::decode(id).map_err(|e| error::id_error(&e)))
            .collect::<Result<Vec<_>>>()?;
        want_activities_if_shown(ctx)?;
        let loaded =
            futures::future::join_all(global_ids.into_iter().map(|id| load_node(ctx, id))).await;
        loaded.into_iter().collect()
    }

    /// Contacts from the chosen sources (default: all), merged into one list in
    /// the requested order (default: by name). Walking the connection with
    /// `first`/`after` to its end yields every matching contact exactly once.
    /// A source that fails is left out of the page and reported in `errors`.
    #[allow(clippy::too_many_arguments)]
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Criteria every returned contact meets.")] filter: Option<
            ContactFilterInput,
        >,
        #[graphql(desc = "Sources to read (default: every configured source).")] sources: Option<
            Vec<SourceEnum>,
        >,
        #[graphql(desc = "Ordering (default: by name, ascending).")] order_by: Option<
            ContactOrderInput,
        >,
        #[graphql(desc = "Page size (default 20, at most the configured maximum).")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
        #[graphql(
            desc = "Backward page size. Backward paging reads the list forward from its start, so it costs as much as reading every contact before the cursor."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "The `startCursor` of the page after the wanted one, for backward paging."
        )]
        before: Option<String>,
    ) -> Result<ContactConnection> {
        contacts::contacts(
            ctx,
            ContactsArgs {
                filter,
                sources,
                order_by,
                first,
                after,
                last,
                before,
            },
        )
        .await
    }

    /// Fetches one contact by global id; null when it does not exist.
    async fn contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The contact's global id.")] id: ID,
    ) -> Result<Option<ContactObject>> {
        let global_id =
            GlobalId::decode_as(&id, NodeType::Contact).map_err(|e| error::id_error(&e))?;
        want_activities_if_shown(ctx)?;
        load_contact(ctx, global_id).await
    }
}

/// Asks the contact loads for activities when the field's selection shows a
/// contact's `activities`, so that a source that can embed them (Winnerr's
/// `include=activities`) answers both in one request.
fn want_activities_if_shown(ctx: &Context<'_>) -> Result<()> {
    if ctx.look_ahead().field("activities").exists() {
        loaders_of(ctx)?.want_contact_activities();
    }
    Ok(())
}

async fn load_node(ctx: &Context<'_>, id: GlobalId) -> Result<Option<Node>> {
    match id.node_type {
        NodeType::Contact => Ok(load_contact(ctx, id).await?.map(Node::Contact)),
        NodeType::Property => Ok(property::load_property(ctx, id).await?.map(Node::Property)),
        NodeType::Activity => Ok(activity::load_activity(ctx, id).await?.map(Node::Activity)),
    }
}

/// The loaders of the request `ctx` belongs to.
pub(crate) fn loaders_of<'a>(ctx: &Context<'a>) -> Result<&'a RequestLoaders> {
    Ok(ctx.data::<std::sync::Arc<RequestLoaders>>()?)
}

pub(crate) async fn load_contact(ctx: &Context<'_>, id: GlobalId) -> Result<Option<ContactObject>> {
    let loaders = loaders_of(ctx)?;
    match loaders.contacts.load_one(id).await {
        Ok(None) => Ok(None),
        Ok(Some(Ok(contact))) => Ok(Some(ContactObject(contact))),
        Ok(Some(Err(error))) | Err(error) => Err(error::source_error(&error)),
    }
}
