//! Loaders for contacts' activities (Winnerr activities, Django-CRM comments
//! and attachments).
//!
//! [`ActivitiesOfContactLoader`] is keyed by the contact's global id. For
//! Winnerr it reads `GET /contacts/{id}/activities` per contact (there is no
//! batch endpoint), all contacts of a batch at once. For Django-CRM it reads
//! the contact detail, which lists the comments and attachments, and hands
//! the contact back with them so that the resolver can prime the contact
//! loader: within one request the detail is then read once, whether it was
//! asked for as the contact or for its activities (the resolver asks the
//! contact loader first, see `graphql::activity`). Open To Close and Spark
//! keep no activities; their keys load an empty list without a request. A
//! key asked for again while its load is still running joins that load.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use futures::future::{join_all, BoxFuture, Shared};
use futures::FutureExt;

use super::{per_key_loader, LoadResult};
use crate::config::LoaderSettings;
use crate::domain::{Activity, Contact, GlobalId, NodeType, SourceKind};
use crate::sources::djangocrm::DjangoCrm;
use crate::sources::winnerr::Winnerr;
use crate::sources::{Source, SourceError, SourceSet};

/// The activity loaders of one request.
pub struct ActivityLoaders {
    /// Every activity of a contact, by the contact's global id.
    pub of_contact: DataLoader<ActivitiesOfContactLoader, HashMapCache>,
}

impl ActivityLoaders {
    pub fn new(sources: &SourceSet, settings: LoaderSettings) -> Self {
        Self {
            of_contact: per_key_loader(ActivitiesOfContactLoader::new(sources, settings), settings),
        }
    }
}

/// A contact's activities, as one load found them.
#[derive(Clone, Debug)]
pub struct ContactActivities {
    /// Every activity, in the upstream's order.
    pub activities: Arc<Vec<Activity>>,
    /// The contact itself, when the same answer carried it (Django-CRM's
    /// detail), for the contact loader.
    pub contact: Option<Arc<Contact>>,
}

impl ContactActivities {
    fn only(activities: Vec<Activity>) -> Self {
        Self {
            activities: Arc::new(activities),
            contact: None,
        }
    }
}

/// Loads every activity of contacts, by contact global id. A contact the
/// source does not know is left out of the answer.
pub struct ActivitiesOfContactLoader {
    fetcher: Arc<ActivityFetcher>,
    /// The loads this request started, so that a key asked for again while
    /// its first load is still running (the dataloader caches only finished
    /// loads, and a resolver level larger than one poll is split into several
    /// batches) joins that load instead of fetching again. `None` with
    /// loaders switched off, where nothing is remembered.
    started: Option<Mutex<HashMap<GlobalId, SharedLoad>>>,
}

type SharedLoad = Shared<BoxFuture<'static, Option<LoadResult<ContactActivities>>>>;

impl ActivitiesOfContactLoader {
    fn new(sources: &SourceSet, settings: LoaderSettings) -> Self {
        Self {
            fetcher: Arc::new(ActivityFetcher {
                winnerr: sources.winnerr.clone(),
                djangocrm: sources.djangocrm.clone(),
            }),
            started: settings.enabled.then(Mutex::default),
        }
    }

    fn start(&self, key: &GlobalId) -> SharedLoad {
        let fetch = || {
            let fetcher = self.fetcher.clone();
            let key = key.clone();
            async move { fetcher.fetch(&key).await }.boxed().shared()
        };
        match &self.started {
            None => fetch(),
            Some(started) => started
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .entry(key.clone())
                .or_insert_with(fetch)
                .clone(),
        }
    }
}

/// The adapters activities are read from.
struct ActivityFetcher {
    winnerr: Option<Arc<Winnerr>>,
    djangocrm: Option<Arc<DjangoCrm>>,
}

impl ActivityFetcher {
    async fn fetch(&self, key: &GlobalId) -> Option<LoadResult<ContactActivities>> {
        let id = key.source_id.as_str();
        match key.source {
            SourceKind::Winnerr => {
                let source = self.winnerr.as_ref()?;
                match source.activities_of_contact(id).await {
                    Ok(found) => found.map(|list| Ok(ContactActivities::only(list))),
                    Err(error) => Some(Err(Arc::new(error))),
                }
            }
            SourceKind::DjangoCrm => {
                let source = self.djangocrm.as_ref()?;
                match source.contacts_by_id(&[id.to_string()]).await {
                    Ok(mut found) => {
                        let contact = found.pop().flatten()?;
                        let activities = contact.activities.clone().unwrap_or_default();
                        Some(Ok(ContactActivities {
                            activities,
                            contact: Some(Arc::new(contact)),
                        }))
                    }
                    Err(error) => Some(Err(Arc::new(error))),
                }
            }
            SourceKind::OpenToClose | SourceKind::Spark => {
                Some(Ok(ContactActivities::only(Vec::new())))
            }
        }
    }
}

impl Loader<GlobalId> for ActivitiesOfContactLoader {
    type Value = LoadResult<ContactActivities>;
    type Error = Arc<SourceError>;

    async fn load(
        &self,
        keys: &[GlobalId],
    ) -> Result<HashMap<GlobalId, LoadResult<ContactActivities>>, Self::Error> {
        // Each contact is its own request and its own outcome: one failing
        // contact fails only its key. The upstream layer bounds concurrency.
        let keys: Vec<&GlobalId> = keys
            .iter()
            .filter(|key| key.node_type == NodeType::Contact)
            .collect();
        let loaded = join_all(keys.iter().map(|key| self.start(key))).await;
        Ok(keys
            .into_iter()
            .zip(loaded)
            .filter_map(|(key, value)| value.map(|value| (key.clone(), value)))
            .collect())
    }
}
