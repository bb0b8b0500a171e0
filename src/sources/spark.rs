//! Spark Platform adapter (contact lookups, lists and writes are being built).

use async_trait::async_trait;

use super::{ListPage, ListQuery, SharedUpstream, Source, SourceError};
use crate::domain::{Contact, ContactInput, SourceKind};

const KIND: SourceKind = SourceKind::Spark;

fn unsupported(operation: &'static str) -> SourceError {
    SourceError::Unsupported {
        source_kind: KIND,
        operation,
    }
}

/// The Spark Platform adapter.
pub struct Spark {
    #[allow(dead_code)]
    upstream: SharedUpstream,
}

impl Spark {
    pub fn new(
        upstream: SharedUpstream,
        _token: crate::config::Secret,
        _user_agent: String,
    ) -> Self {
        Self { upstream }
    }
}

#[async_trait]
impl Source for Spark {
    fn kind(&self) -> SourceKind {
        KIND
    }

    async fn contacts_by_id(&self, _ids: &[String]) -> Result<Vec<Option<Contact>>, SourceError> {
        Err(unsupported("contact lookups"))
    }

    async fn list_contacts(&self, _query: &ListQuery) -> Result<ListPage, SourceError> {
        Err(unsupported("listing contacts"))
    }

    fn check_create(&self, _input: &ContactInput) -> Result<(), SourceError> {
        Err(unsupported("creating contacts"))
    }

    fn check_update(&self, _input: &ContactInput) -> Result<(), SourceError> {
        Err(unsupported("updating contacts"))
    }

    async fn create_contact(&self, _input: &ContactInput) -> Result<Contact, SourceError> {
        Err(unsupported("creating contacts"))
    }

    async fn update_contact(
        &self,
        _id: &str,
        _input: &ContactInput,
    ) -> Result<Contact, SourceError> {
        Err(unsupported("updating contacts"))
    }

    async fn delete_contact(&self, _id: &str) -> Result<(), SourceError> {
        Err(unsupported("deleting contacts"))
    }
}
