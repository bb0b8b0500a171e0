//! Contact operations beyond create, update and delete: tags, bulk updates,
//! Spark transfers and the Spark user's own contact.

use async_graphql::{Object, Result, ID};

use super::contact::ContactObject;
use super::contacts::bad_input;

/// The Spark current user's contact.
#[derive(Default)]
pub struct MyContactQueries;

/// The Spark current user's contact.
#[Object]
impl MyContactQueries {
    /// The contact of the Spark user the gateway is signed in as.
    async fn my_contact(&self) -> Result<Option<ContactObject>> {
        Err(bad_input("not available".into()))
    }
}

/// The contact operation mutations.
#[derive(Default)]
pub struct ContactOperationMutations;

/// Tags, bulk updates and transfers.
#[Object]
impl ContactOperationMutations {
    /// Adds tags to a contact.
    async fn add_contact_tags(&self, _id: ID) -> Result<bool> {
        Err(bad_input("not available".into()))
    }
}
