//! Dataloaders, one per (entity, key), created per GraphQL request.
//!
//! Within one request a loader fetches each key at most once and groups the
//! keys of one resolver level into one call per source; the adapter then uses
//! the upstream's multi-record request where it has one.
//!
//! **Architecture Invariant:** resolvers reach sources only through loaders
//! (or, for writes, through the mutation helpers); never straight to HTTP.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use futures::future::join_all;

use crate::domain::{Contact, GlobalId, NodeType, SourceKind};
use crate::sources::{Source, SourceError};

/// Loads contacts by global id.
pub struct ContactLoader {
    sources: HashMap<SourceKind, Arc<dyn Source>>,
}

impl ContactLoader {
    pub fn new(sources: &[Arc<dyn Source>]) -> Self {
        Self {
            sources: sources.iter().map(|s| (s.kind(), s.clone())).collect(),
        }
    }
}

/// One key's outcome: a failing source fails only its own keys, so a list that
/// names contacts of several sources still gets the healthy sources' contacts.
pub type LoadResult<T> = Result<T, Arc<SourceError>>;

impl Loader<GlobalId> for ContactLoader {
    type Value = LoadResult<Arc<Contact>>;
    type Error = Arc<SourceError>;

    async fn load(
        &self,
        keys: &[GlobalId],
    ) -> Result<HashMap<GlobalId, LoadResult<Arc<Contact>>>, Self::Error> {
        let mut by_source: HashMap<SourceKind, Vec<String>> = HashMap::new();
        for key in keys.iter().filter(|k| k.node_type == NodeType::Contact) {
            by_source
                .entry(key.source)
                .or_default()
                .push(key.source_id.clone());
        }
        let batches = by_source.into_iter().filter_map(|(kind, ids)| {
            let source = self.sources.get(&kind)?.clone();
            Some(async move {
                let result = source.contacts_by_id(&ids).await;
                (kind, ids, result)
            })
        });
        let mut loaded = HashMap::new();
        for (kind, ids, result) in join_all(batches).await {
            match result {
                Ok(found) => {
                    for (id, contact) in ids.into_iter().zip(found) {
                        if let Some(contact) = contact {
                            loaded.insert(
                                GlobalId::new(NodeType::Contact, kind, id),
                                Ok(Arc::new(contact)),
                            );
                        }
                    }
                }
                Err(error) => {
                    let error = Arc::new(error);
                    for id in ids {
                        loaded.insert(
                            GlobalId::new(NodeType::Contact, kind, id),
                            Err(error.clone()),
                        );
                    }
                }
            }
        }
        Ok(loaded)
    }
}
