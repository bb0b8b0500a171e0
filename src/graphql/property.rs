//! `Property`, `PropertyContact`, the property queries and the property-link
//! mutations (Open To Close).
//!
//! Every read goes through the per-request property loaders
//! (`loaders::property`). The contacts nested in a link answer serve
//! `PropertyContact.contact` and are fed to the contact loader, so other
//! paths to the same contacts in the request cost nothing more (both only
//! while loaders are on: the baseline loads every contact on its own).
//!
//! Mutations check every id and field before any upstream call. A contact id
//! of another source is refused with `UNSUPPORTED_BY_SOURCE`: only Open To
//! Close contacts can be linked to Open To Close properties.

use std::sync::Arc;

use async_graphql::{
    Context, ErrorExtensions, InputObject, MaybeUndefined, Object, Result, SimpleObject, ID,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};

use super::contact::ContactObject;
use super::contacts::{PageInfo, SourceRegistry};
use super::error::{self, codes};
use super::{loaders_of, RequestLoaders};
use crate::domain::{self, GlobalId, NodeType, PropertyContactInput, SourceKind};
use crate::sources::opentoclose::properties::{check_link_write, is_upstream_id};
use crate::sources::opentoclose::OpenToClose;
use crate::sources::SourceError;

/// An Open To Close property. Shared, so that a property reached through
/// several fields of one response is never copied.
pub struct PropertyObject(pub Arc<domain::Property>);

/// A property (transaction file) in Open To Close.
#[Object(name = "Property")]
impl PropertyObject {
    /// Opaque global id; pass it to `node`, `property` or mutations.
    pub async fn id(&self) -> ID {
        ID(self.0.global_id().encode())
    }

    /// The property's id in Open To Close.
    async fn source_id(&self) -> &str {
        &self.0.source_id
    }

    /// The title of the transaction file.
    async fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }

    /// Street address.
    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }

    /// City.
    async fn city(&self) -> Option<&str> {
        self.0.city.as_deref()
    }

    /// State.
    async fn state(&self) -> Option<&str> {
        self.0.state.as_deref()
    }

    /// ZIP code.
    async fn postal_code(&self) -> Option<&str> {
        self.0.postal_code.as_deref()
    }

    /// Status as Open To Close writes it (such as `Active`, `Pending`, `Closed`).
    async fn status(&self) -> Option<&str> {
        self.0.status.as_deref()
    }

    /// Price.
    async fn price(&self) -> Option<f64> {
        self.0.price
    }

    /// When the property was created in Open To Close.
    async fn created_at(&self) -> Option<DateTime<Utc>> {
        self.0.created_at
    }

    /// The upstream record exactly as the upstream sent it.
    async fn raw(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.raw.to_value())
    }

    /// The contacts linked to this property with their roles, in the
    /// upstream's order. All of a property's links are read once per request,
    /// whatever roles are asked for.
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only links with this role (ignoring case), such as `Buyer`.")]
        role: Option<String>,
    ) -> Result<Vec<PropertyContactObject>> {
        let loaders = loaders_of(ctx)?;
        let links = match loaders
            .property
            .links
            .load_one(self.0.source_id.clone())
            .await
        {
            Ok(Some(Ok(links))) => links,
            Ok(None) => return Ok(Vec::new()),
            Ok(Some(Err(error))) | Err(error) => return Err(error::source_error(&error)),
        };
        let role = role.filter(|role| !role.trim().is_empty());
        let selected = links
            .iter()
            .filter(|link| role.as_deref().is_none_or(|role| link.has_role(role)))
            .cloned()
            .collect();
        Ok(link_objects(loaders, selected).await)
    }
}

/// The role a contact plays on a property.
pub struct PropertyContactObject(pub Arc<domain::PropertyContact>);

/// The role a contact plays on a property (buyer, seller, agent...).
#[Object(name = "PropertyContact")]
impl PropertyContactObject {
    /// The property.
    async fn property(&self, ctx: &Context<'_>) -> Result<PropertyObject> {
        let loaders = loaders_of(ctx)?;
        if loaders.reuse_nested() {
            if let Some(property) = &self.0.property {
                return Ok(PropertyObject(property.clone()));
            }
        }
        load_property_by_source_id(ctx, &self.0.property_id)
            .await?
            .ok_or_else(|| {
                error::source_error(&SourceError::NotFound {
                    source_kind: SourceKind::OpenToClose,
                    what: format!("property {}", self.0.property_id),
                })
            })
    }

    /// The contact; null if it no longer exists.
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<ContactObject>> {
        let loaders = loaders_of(ctx)?;
        if loaders.reuse_nested() {
            if let Some(contact) = &self.0.contact {
                return Ok(Some(ContactObject(contact.clone())));
            }
        }
        super::load_contact(ctx, self.0.contact_global_id()).await
    }

    /// The role as Open To Close writes it.
    async fn role(&self) -> Option<&str> {
        self.0.role.as_deref()
    }

    /// Whether this is the primary contact for its role on the property.
    async fn primary(&self) -> Option<bool> {
        self.0.primary
    }

    /// When the contact's part in the transaction began, as `YYYY-MM-DD`.
    async fn start_date(&self) -> Option<String> {
        self.0
            .start_date
            .map(|date| date.format("%Y-%m-%d").to_string())
    }

    /// Notes on the contact's part.
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }

    /// The upstream association record exactly as the upstream sent it.
    async fn raw(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.raw.to_value())
    }
}

/// Which properties a list returns.
#[derive(InputObject, Default)]
pub struct PropertyFilterInput {
    /// The status, ignoring case (such as `Active` or `Under Contract`).
    pub status: Option<String>,
}

/// A property in a connection, with its cursor.
pub struct PropertyEdge {
    cursor: String,
    node: Arc<domain::Property>,
}

/// A property in a connection, with its cursor.
#[Object]
impl PropertyEdge {
    /// Pass as `after` to continue after this property.
    async fn cursor(&self) -> &str {
        &self.cursor
    }

    /// The property.
    async fn node(&self) -> PropertyObject {
        PropertyObject(self.node.clone())
    }
}

/// A page of Open To Close properties, in the upstream's order (by id).
pub struct PropertyConnection {
    edges: Vec<PropertyEdge>,
    page_info: PageInfo,
    total: Option<u64>,
}

/// A page of Open To Close properties, in the upstream's order (by id).
#[Object]
impl PropertyConnection {
    /// The properties with their cursors.
    async fn edges(&self) -> &[PropertyEdge] {
        &self.edges
    }

    /// The properties alone.
    async fn nodes(&self) -> Vec<PropertyObject> {
        self.edges
            .iter()
            .map(|edge| PropertyObject(edge.node.clone()))
            .collect()
    }

    /// Paging information.
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }

    /// How many properties match, known only once a page reaches the end of
    /// the list (Open To Close does not say).
    async fn total_count(&self) -> Option<u64> {
        self.total
    }
}

/// The property entry points.
#[derive(Default)]
pub struct PropertyQueries;

/// The property entry points.
#[Object]
impl PropertyQueries {
    /// Fetches one property by global id; null when it does not exist.
    async fn property(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The property's global id.")] id: ID,
    ) -> Result<Option<PropertyObject>> {
        let id = GlobalId::decode_as(&id, NodeType::Property).map_err(|e| error::id_error(&e))?;
        load_property(ctx, id).await
    }

    /// Open To Close properties in the upstream's order (by id). Costs one
    /// upstream request per page of up to 100 properties.
    async fn properties(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Criteria every returned property meets.")] filter: Option<
            PropertyFilterInput,
        >,
        #[graphql(desc = "Page size (default 20, at most the configured maximum).")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<PropertyConnection> {
        let registry = ctx.data::<SourceRegistry>()?;
        let first = first.unwrap_or(20);
        if first < 0 || first as usize > registry.max_page_size {
            return Err(bad_field(
                "first",
                format!("`first` must be between 0 and {}", registry.max_page_size),
            ));
        }
        let first = first as usize;
        let offset = match after.as_deref() {
            None => 0,
            Some(cursor) => decode_cursor(cursor).ok_or_else(|| {
                bad_field("after", "the cursor does not belong to this list".into())
            })?,
        };
        let status = filter
            .and_then(|filter| filter.status)
            .map(|status| status.trim().to_string())
            .filter(|status| !status.is_empty());
        let source = opentoclose(ctx)?;
        // One record more than the page tells whether another page follows.
        let mut window = source
            .list_properties(status.as_deref(), offset, first + 1)
            .await
            .map_err(|e| error::source_error(&e))?;
        let has_next_page = window.properties.len() > first;
        window.properties.truncate(first);
        let total =
            (window.reached_end && !has_next_page).then(|| offset + window.properties.len() as u64);
        let edges: Vec<PropertyEdge> = window
            .properties
            .into_iter()
            .enumerate()
            .map(|(index, property)| PropertyEdge {
                cursor: encode_cursor(offset + index as u64 + 1),
                node: Arc::new(property),
            })
            .collect();
        // Properties a list returned are not fetched again by a later lookup.
        let loaders = loaders_of(ctx)?;
        loaders
            .property
            .by_id
            .feed_many(
                edges
                    .iter()
                    .map(|edge| (edge.node.source_id.clone(), Ok(edge.node.clone()))),
            )
            .await;
        Ok(PropertyConnection {
            page_info: PageInfo {
                has_next_page,
                has_previous_page: offset > 0,
                start_cursor: edges.first().map(|edge| edge.cursor.clone()),
                end_cursor: edges.last().map(|edge| edge.cursor.clone()),
            },
            edges,
            total,
        })
    }
}

/// Input of `linkContactToProperty`.
#[derive(InputObject)]
pub struct LinkContactToPropertyInput {
    /// The property's global id.
    pub property_id: ID,
    /// The global id of an Open To Close contact.
    pub contact_id: ID,
    /// The contact's role, such as `Buyer` or `Listing Agent` (any text; teams define their own roles).
    pub role: Option<String>,
    /// Whether the contact is the primary one for its role (default false). Setting it makes
    /// the property's other contacts with that role non-primary.
    pub primary: Option<bool>,
    /// When the contact's part began, as `YYYY-MM-DD`.
    pub start_date: Option<String>,
    /// Notes on the contact's part.
    pub notes: Option<String>,
    /// Echoed in the payload, for clients that match requests to answers.
    pub client_mutation_id: Option<String>,
}

/// Input of `updatePropertyContact`. Fields left out keep their value; an
/// explicit null clears `role`, `startDate` or `notes`. At least one change
/// is required.
#[derive(InputObject)]
pub struct UpdatePropertyContactInput {
    /// The property's global id.
    pub property_id: ID,
    /// The global id of the linked Open To Close contact.
    pub contact_id: ID,
    /// The new role; null clears it.
    pub role: MaybeUndefined<String>,
    /// Whether the contact is the primary one for its role.
    pub primary: Option<bool>,
    /// The new start date as `YYYY-MM-DD`; null clears it.
    pub start_date: MaybeUndefined<String>,
    /// The new notes; null clears them.
    pub notes: MaybeUndefined<String>,
    /// Echoed in the payload.
    pub client_mutation_id: Option<String>,
}

/// Input of `unlinkContactFromProperty`.
#[derive(InputObject)]
pub struct UnlinkContactFromPropertyInput {
    /// The property's global id.
    pub property_id: ID,
    /// The global id of the linked Open To Close contact.
    pub contact_id: ID,
    /// Echoed in the payload.
    pub client_mutation_id: Option<String>,
}

/// Result of `linkContactToProperty` and `updatePropertyContact`.
#[derive(SimpleObject)]
pub struct PropertyContactPayload {
    /// The link as Open To Close stored it.
    pub property_contact: PropertyContactObject,
    /// The `clientMutationId` of the input.
    pub client_mutation_id: Option<String>,
}

/// Result of `unlinkContactFromProperty`.
#[derive(SimpleObject)]
pub struct UnlinkContactFromPropertyPayload {
    /// The property's global id.
    pub property_id: ID,
    /// The global id of the contact that was unlinked (the contact itself stays).
    pub contact_id: ID,
    /// The `clientMutationId` of the input.
    pub client_mutation_id: Option<String>,
}

/// The property-link mutations.
#[derive(Default)]
pub struct PropertyMutations;

/// Links between contacts and properties (Open To Close). Ids and fields are
/// checked before any upstream call; errors name the offending input field.
#[Object]
impl PropertyMutations {
    /// Links an Open To Close contact to a property with a role. Linking a
    /// contact already on the property, or a contact that does not exist, is
    /// a `BAD_USER_INPUT` naming `contactId`.
    async fn link_contact_to_property(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The property, the contact and the link's fields.")]
        input: LinkContactToPropertyInput,
    ) -> Result<PropertyContactPayload> {
        let property_id = property_source_id(&input.property_id)?;
        let contact_id = contact_source_id(&input.contact_id)?;
        let fields = PropertyContactInput {
            role: input.role.map(Some),
            primary: input.primary,
            start_date: parse_start_date(input.start_date.as_deref())?.map(Some),
            notes: input.notes.map(Some),
        };
        check_link_write(&fields).map_err(|e| error::source_error(&e))?;
        let link = opentoclose(ctx)?
            .link_contact(&property_id, &contact_id, &fields)
            .await
            .map_err(|e| error::source_error(&e))?;
        Ok(PropertyContactPayload {
            property_contact: PropertyContactObject(Arc::new(link)),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Changes the role, primary flag, start date or notes of a link.
    async fn update_property_contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The link and the fields to change.")] input: UpdatePropertyContactInput,
    ) -> Result<PropertyContactPayload> {
        let property_id = property_source_id(&input.property_id)?;
        let contact_id = contact_source_id(&input.contact_id)?;
        let start_date = match input.start_date {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(date) => Some(parse_start_date(Some(&date))?),
        };
        let fields = PropertyContactInput {
            role: patch(input.role),
            primary: input.primary,
            start_date,
            notes: patch(input.notes),
        };
        if fields.is_empty() {
            return Err(bad_field(
                "input",
                "the input changes nothing: give role, primary, startDate or notes".into(),
            ));
        }
        check_link_write(&fields).map_err(|e| error::source_error(&e))?;
        let link = opentoclose(ctx)?
            .update_link(&property_id, &contact_id, &fields)
            .await
            .map_err(|e| error::source_error(&e))?;
        Ok(PropertyContactPayload {
            property_contact: PropertyContactObject(Arc::new(link)),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Removes a contact from a property; the contact itself stays. A link
    /// that does not exist is `NOT_FOUND`.
    async fn unlink_contact_from_property(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The property and the contact to unlink.")]
        input: UnlinkContactFromPropertyInput,
    ) -> Result<UnlinkContactFromPropertyPayload> {
        let property_id = property_source_id(&input.property_id)?;
        let contact_id = contact_source_id(&input.contact_id)?;
        opentoclose(ctx)?
            .unlink_contact(&property_id, &contact_id)
            .await
            .map_err(|e| error::source_error(&e))?;
        Ok(UnlinkContactFromPropertyPayload {
            property_id: input.property_id,
            contact_id: input.contact_id,
            client_mutation_id: input.client_mutation_id,
        })
    }
}

/// Loads a property by global id, for `node` and `property`. A property id
/// the gateway cannot have issued is null, without any upstream call.
pub async fn load_property(ctx: &Context<'_>, id: GlobalId) -> Result<Option<PropertyObject>> {
    if id.source != SourceKind::OpenToClose || !is_upstream_id(&id.source_id) {
        return Ok(None);
    }
    opentoclose(ctx)?;
    load_property_by_source_id(ctx, &id.source_id).await
}

/// The properties a contact is linked to, for `Contact.properties`: empty,
/// without any upstream call, for contacts of other sources.
pub async fn contact_properties(
    ctx: &Context<'_>,
    contact: &Arc<domain::Contact>,
) -> Result<Vec<PropertyContactObject>> {
    if contact.source != SourceKind::OpenToClose {
        return Ok(Vec::new());
    }
    let loaders = loaders_of(ctx)?;
    match loaders
        .property
        .contact_links
        .load_one(contact.source_id.clone())
        .await
    {
        Ok(Some(Ok(links))) => Ok(link_objects(loaders, links.iter().cloned().collect()).await),
        Ok(None) => Ok(Vec::new()),
        Ok(Some(Err(error))) | Err(error) => Err(error::source_error(&error)),
    }
}

async fn load_property_by_source_id(
    ctx: &Context<'_>,
    source_id: &str,
) -> Result<Option<PropertyObject>> {
    let loaders = loaders_of(ctx)?;
    match loaders.property.by_id.load_one(source_id.to_string()).await {
        Ok(None) => Ok(None),
        Ok(Some(Ok(property))) => Ok(Some(PropertyObject(property))),
        Ok(Some(Err(error))) | Err(error) => Err(error::source_error(&error)),
    }
}

/// Wraps links for GraphQL. The contacts nested in them are fed to the
/// contact loader, so that other paths to them in the request reuse them.
async fn link_objects(
    loaders: &RequestLoaders,
    links: Vec<Arc<domain::PropertyContact>>,
) -> Vec<PropertyContactObject> {
    if loaders.reuse_nested() {
        loaders
            .contacts
            .feed_many(
                links
                    .iter()
                    .filter_map(|link| link.contact.clone())
                    .map(|contact| (contact.global_id(), Ok(contact))),
            )
            .await;
    }
    links.into_iter().map(PropertyContactObject).collect()
}

/// The Open To Close adapter, or a clear error when it is not configured.
fn opentoclose<'a>(ctx: &Context<'a>) -> Result<&'a Arc<OpenToClose>> {
    let registry = ctx.data::<SourceRegistry>()?;
    registry.sources.opentoclose.as_ref().ok_or_else(|| {
        async_graphql::Error::new(
            "Open To Close is not configured in this gateway, so properties are unavailable",
        )
        .extend_with(|_, extensions| {
            extensions.set("code", codes::UNSUPPORTED_BY_SOURCE);
            extensions.set("source", SourceKind::OpenToClose.as_str());
        })
    })
}

/// A client error naming the input field at fault.
fn bad_field(field: &str, message: String) -> async_graphql::Error {
    let field = field.to_string();
    async_graphql::Error::new(message).extend_with(|_, extensions| {
        extensions.set("code", codes::BAD_USER_INPUT);
        extensions.set("field", field.as_str());
    })
}

/// The upstream id of an Open To Close property id given as `propertyId`.
fn property_source_id(id: &ID) -> Result<String> {
    let global_id = GlobalId::decode_as(id, NodeType::Property)
        .map_err(|e| bad_field("propertyId", e.to_string()))?;
    if global_id.source != SourceKind::OpenToClose || !is_upstream_id(&global_id.source_id) {
        return Err(bad_field(
            "propertyId",
            format!("`{}` is not an Open To Close property id", id.as_str()),
        ));
    }
    Ok(global_id.source_id)
}

/// The upstream id of an Open To Close contact id given as `contactId`. A
/// contact of another source cannot be linked to a property.
fn contact_source_id(id: &ID) -> Result<String> {
    let global_id = GlobalId::decode_as(id, NodeType::Contact)
        .map_err(|e| bad_field("contactId", e.to_string()))?;
    if global_id.source != SourceKind::OpenToClose {
        let error = error::source_error(&SourceError::Unsupported {
            source_kind: global_id.source,
            operation:
                "links to Open To Close properties (only Open To Close contacts can be linked)",
        });
        return Err(error.extend_with(|_, extensions| extensions.set("field", "contactId")));
    }
    if !is_upstream_id(&global_id.source_id) {
        return Err(bad_field(
            "contactId",
            format!("`{}` is not an Open To Close contact id", id.as_str()),
        ));
    }
    Ok(global_id.source_id)
}

/// Reads a `YYYY-MM-DD` start date.
fn parse_start_date(date: Option<&str>) -> Result<Option<NaiveDate>> {
    let Some(date) = date.map(str::trim).filter(|date| !date.is_empty()) else {
        return Ok(None);
    };
    let well_formed = date.len() == 10
        && date.bytes().enumerate().all(|(index, byte)| {
            matches!(index, 4 | 7) == (byte == b'-') && (byte == b'-' || byte.is_ascii_digit())
        });
    well_formed
        .then(|| NaiveDate::parse_from_str(date, "%Y-%m-%d").ok())
        .flatten()
        .map(Some)
        .ok_or_else(|| {
            bad_field(
                "startDate",
                format!("`startDate` must be a date written YYYY-MM-DD, not `{date}`"),
            )
        })
}

/// A text patch: left out keeps, null clears, a value sets.
fn patch(value: MaybeUndefined<String>) -> Option<Option<String>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(text) => Some(Some(text)),
    }
}

/// `base64url("properties:OFFSET")`: opaque to clients.
fn encode_cursor(offset: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("properties:{offset}"))
}

fn decode_cursor(cursor: &str) -> Option<u64> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.as_bytes()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let offset = text.strip_prefix("properties:")?;
    if offset.is_empty() || !offset.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    offset.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_others() {
        assert_eq!(decode_cursor(&encode_cursor(0)), Some(0));
        assert_eq!(decode_cursor(&encode_cursor(150)), Some(150));
        for bad in [
            "",
            "abc",
            &URL_SAFE_NO_PAD.encode("properties:"),
            &URL_SAFE_NO_PAD.encode("properties:-1"),
            &URL_SAFE_NO_PAD.encode("contacts:1"),
        ] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }

    #[test]
    fn start_dates_are_strict() {
        assert_eq!(
            parse_start_date(Some("2024-01-15")).unwrap(),
            NaiveDate::from_ymd_opt(2024, 1, 15)
        );
        assert_eq!(parse_start_date(None).unwrap(), None);
        assert_eq!(parse_start_date(Some(" ")).unwrap(), None);
        for bad in [
            "2024-1-15",
            "2024-02-30",
            "15/01/2024",
            "2024-01-15T00:00:00Z",
            "20240115ab",
        ] {
            assert!(parse_start_date(Some(bad)).is_err(), "{bad}");
        }
    }
}
