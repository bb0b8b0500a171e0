//! Dataloaders, one per (entity, key), created per GraphQL request.
//!
//! Within one request a loader fetches each key at most once and groups the
//! keys of one resolver level into one call per source; the adapter then uses
//! the upstream's multi-record request where it has one.
//!
//! **Architecture Invariant:** resolvers reach sources only through loaders
//! (or, for writes, through the mutation helpers); never straight to HTTP.

pub mod activity;
pub mod property;

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use futures::future::{join_all, BoxFuture, Shared};
use futures::FutureExt;

use crate::config::LoaderSettings;
use crate::domain::{Contact, GlobalId, NodeType, SourceKind};
use crate::sources::{Source, SourceError, SourceSet};

/// The loaders of one GraphQL request. Built per request, so nothing one
/// request loaded is ever served to another.
pub struct RequestLoaders {
    pub settings: LoaderSettings,
    /// Contacts by global id.
    pub contacts: DataLoader<ContactLoader, HashMapCache>,
    /// Properties and the links between properties and contacts.
    pub property: property::PropertyLoaders,
    /// Activities of contacts.
    pub activity: activity::ActivityLoaders,
}

impl RequestLoaders {
    pub fn new(sources: &SourceSet, settings: LoaderSettings) -> Self {
        Self {
            settings,
            contacts: data_loader(
                ContactLoader::with_sharing(&sources.all, settings.enabled),
                settings,
            ),
            property: property::PropertyLoaders::new(sources, settings),
            activity: activity::ActivityLoaders::new(sources, settings),
        }
    }

    /// Forgets every contact this request has loaded or been fed, so that
    /// later fields read them afresh.
    pub fn forget_contacts(&self) {
        self.contacts.clear::<GlobalId>();
        self.contacts.loader().forget();
    }

    /// Asks the contact loads of this request to bring each contact's
    /// activities along where the upstream can send them in the same request
    /// (a field about to load contacts whose selection shows `activities`).
    /// Off with loaders switched off, like every reuse of nested data.
    pub fn want_contact_activities(&self) {
        if self.reuse_nested() {
            self.contacts
                .loader()
                .with_activities
                .store(true, Ordering::Relaxed);
        }
    }

    /// Whether data nested in an earlier answer (a contact inside a property
    /// link, a contact's activities inside a list) may serve later fields.
    /// Off only when loaders are switched off, for the baseline benchmark.
    pub fn reuse_nested(&self) -> bool {
        self.settings.enabled
    }
}

/// A dataloader with the configured batching. With loaders switched off it
/// loads each key on its own, at once, and remembers nothing.
pub fn data_loader<K, L>(loader: L, settings: LoaderSettings) -> DataLoader<L, HashMapCache>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K>,
{
    // Batches run on tasks of their own, in the request's cache scope.
    let loader = DataLoader::with_cache(
        loader,
        crate::cache::spawn_in_scope,
        HashMapCache::default(),
    );
    if settings.enabled {
        loader.delay(Duration::from_micros(settings.batch_delay_us))
    } else {
        loader.enable_all_cache(false);
        loader.max_batch_size(1)
    }
}

/// A dataloader for keys the upstream can only fetch one at a time (a
/// property, a property's links, a contact's activities). Each key's load
/// starts the moment it is asked for and answers on its own: gathered into a
/// batch, every key would wait for the slowest request of the batch before
/// its fields could resolve, although the requests are single GETs anyway.
/// Memoisation is as for [`data_loader`], and the upstream layer still
/// bounds how many are sent at once.
pub fn per_key_loader<K, L>(loader: L, settings: LoaderSettings) -> DataLoader<L, HashMapCache>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K>,
{
    data_loader(loader, settings).max_batch_size(1)
}

/// Loads contacts by global id.
///
/// The async-graphql dataloader remembers a key only once its batch has
/// answered; a key asked for again while that batch is still in flight (by a
/// field of another level, or by a second batch of the same level) would be
/// fetched twice. So each key's load is shared from the moment it starts,
/// for the rest of the request, unless loaders are switched off.
pub struct ContactLoader {
    sources: Arc<HashMap<SourceKind, Arc<dyn Source>>>,
    started: Option<Mutex<HashMap<GlobalId, SharedBatch>>>,
    /// Whether loads ask for the contacts' activities too; see
    /// [`RequestLoaders::want_contact_activities`].
    with_activities: AtomicBool,
}

/// The outcome of one batch, shared by every key it loads.
type SharedBatch = Shared<BoxFuture<'static, Arc<HashMap<GlobalId, LoadResult<Arc<Contact>>>>>>;

impl ContactLoader {
    /// A loader that shares loads in flight.
    pub fn new(sources: &[Arc<dyn Source>]) -> Self {
        Self::with_sharing(sources, true)
    }

    /// Forgets every load this request started, so that contacts are read
    /// afresh (after writes that did not answer with the written contact).
    pub fn forget(&self) {
        if let Some(started) = &self.started {
            started.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }

    /// A loader that shares loads in flight only when `share` is true.
    pub fn with_sharing(sources: &[Arc<dyn Source>], share: bool) -> Self {
        Self {
            sources: Arc::new(sources.iter().map(|s| (s.kind(), s.clone())).collect()),
            started: share.then(|| Mutex::new(HashMap::new())),
            with_activities: AtomicBool::new(false),
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
        let with_activities = self.with_activities.load(Ordering::Relaxed);
        let Some(started) = &self.started else {
            let loaded = fetch_contacts(self.sources.clone(), keys.to_vec(), false).await;
            return Ok(loaded.as_ref().clone());
        };
        let waits: Vec<(GlobalId, SharedBatch)> = {
            let mut started = started.lock().unwrap_or_else(|e| e.into_inner());
            let fresh: Vec<GlobalId> = keys
                .iter()
                .filter(|key| !started.contains_key(*key))
                .cloned()
                .collect();
            if !fresh.is_empty() {
                let batch = fetch_contacts(self.sources.clone(), fresh.clone(), with_activities)
                    .boxed()
                    .shared();
                for key in fresh {
                    started.insert(key, batch.clone());
                }
            }
            keys.iter()
                .filter_map(|key| Some((key.clone(), started.get(key)?.clone())))
                .collect()
        };
        let outcomes = join_all(waits.into_iter().map(|(key, batch)| async move {
            let loaded = batch.await;
            loaded.get(&key).cloned().map(|value| (key, value))
        }))
        .await;
        Ok(outcomes.into_iter().flatten().collect())
    }
}

/// Fetches contacts, one adapter call per source, all sources at once, with
/// their activities where a source can add them to the same request.
async fn fetch_contacts(
    sources: Arc<HashMap<SourceKind, Arc<dyn Source>>>,
    keys: Vec<GlobalId>,
    with_activities: bool,
) -> Arc<HashMap<GlobalId, LoadResult<Arc<Contact>>>> {
    let mut by_source: HashMap<SourceKind, Vec<String>> = HashMap::new();
    for key in keys.iter().filter(|k| k.node_type == NodeType::Contact) {
        by_source
            .entry(key.source)
            .or_default()
            .push(key.source_id.clone());
    }
    let batches = by_source.into_iter().filter_map(|(kind, ids)| {
        let source = sources.get(&kind)?.clone();
        Some(async move {
            let result = if with_activities {
                source.contacts_by_id_with_activities(&ids).await
            } else {
                source.contacts_by_id(&ids).await
            };
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
    Arc::new(loaded)
}
