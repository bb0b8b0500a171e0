//! `Property`, `PropertyContact`, the property queries and the property-link
//! mutations (Open To Close).

use std::sync::Arc;

use async_graphql::{Context, Object, Result, ID};

use super::contacts::bad_input;
use crate::domain::{self, GlobalId};

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
}

/// The role a contact plays on a property.
pub struct PropertyContactObject(pub Arc<domain::PropertyContact>);

/// The role a contact plays on a property (buyer, seller, agent...).
#[Object(name = "PropertyContact")]
impl PropertyContactObject {
    /// The role as Open To Close writes it.
    async fn role(&self) -> Option<&str> {
        self.0.role.as_deref()
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
        let id = GlobalId::decode_as(&id, domain::NodeType::Property)
            .map_err(|e| super::error::id_error(&e))?;
        load_property(ctx, id).await
    }
}

/// The property-link mutations.
#[derive(Default)]
pub struct PropertyMutations;

/// Links between contacts and properties.
#[Object]
impl PropertyMutations {
    /// Links a contact to a property with a role.
    async fn link_contact_to_property(&self, _property_id: ID) -> Result<bool> {
        Err(bad_input("not available".into()))
    }
}

/// Loads a property by global id, for `node` and `property`.
pub async fn load_property(_ctx: &Context<'_>, _id: GlobalId) -> Result<Option<PropertyObject>> {
    Err(bad_input("not available".into()))
}

/// The properties a contact is linked to, for `Contact.properties`.
pub async fn contact_properties(
    _ctx: &Context<'_>,
    _contact: &Arc<domain::Contact>,
) -> Result<Vec<PropertyContactObject>> {
    Ok(Vec::new())
}
