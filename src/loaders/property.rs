//! Loaders for Open To Close properties and property-contact links.
//!
//! - [`PropertyLoader`]: properties by upstream id. Open To Close has no
//!   multi-property fetch, so a batch becomes single GETs sent at once.
//! - [`PropertyLinksLoader`]: every link of a property, keyed by the property
//!   id alone; `Property.contacts(role:)` filters by role locally, so asking
//!   for several roles of one property still reads its links once.
//! - [`ContactLinksLoader`]: the links of contacts, for `Contact.properties`.
//!   Open To Close cannot look up a contact's properties, so the first load
//!   of a request reads every property and every property's links (through
//!   the two loaders above, so nothing is read twice) and builds an index
//!   from contact to links; every later contact of the request is served
//!   from that index.
//!
//! The async-graphql dataloader remembers a key only once its batch has
//! answered, so a key asked for while its batch is still in flight would be
//! fetched again. The first two loaders therefore also share one in-flight
//! fetch per key ([`InFlight`]), which keeps "no record fetched twice per
//! request" true whatever the timing. With loaders switched off none of this
//! memoisation applies: every resolver makes its own calls, as the baseline
//! needs.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use futures::future::join_all;
use tokio::sync::OnceCell;

use super::{data_loader, per_key_loader, LoadResult};
use crate::config::LoaderSettings;
use crate::domain::{Property, PropertyContact, SourceKind};
use crate::sources::opentoclose::OpenToClose;
use crate::sources::{SourceError, SourceSet};
use crate::upstream::UpstreamError;

/// The links of one property (or of one contact), shared.
pub type Links = Arc<Vec<Arc<PropertyContact>>>;

/// The property loaders of one request.
pub struct PropertyLoaders {
    /// Properties by upstream id.
    pub by_id: Arc<DataLoader<PropertyLoader, HashMapCache>>,
    /// Every link of a property, by property upstream id.
    pub links: Arc<DataLoader<PropertyLinksLoader, HashMapCache>>,
    /// Every link of a contact, by contact upstream id.
    pub contact_links: DataLoader<ContactLinksLoader, HashMapCache>,
}

impl PropertyLoaders {
    pub fn new(sources: &SourceSet, settings: LoaderSettings) -> Self {
        let source = sources.opentoclose.clone();
        let by_id = Arc::new(per_key_loader(
            PropertyLoader {
                source: source.clone(),
                in_flight: InFlight::new(settings.enabled),
            },
            settings,
        ));
        let links = Arc::new(per_key_loader(
            PropertyLinksLoader {
                source: source.clone(),
                in_flight: InFlight::new(settings.enabled),
            },
            settings,
        ));
        let contact_links = data_loader(
            ContactLinksLoader {
                source,
                by_id: by_id.clone(),
                links: links.clone(),
                index: OnceCell::new(),
                build_once: settings.enabled,
            },
            settings,
        );
        Self {
            by_id,
            links,
            contact_links,
        }
    }
}

/// One shared fetch per key for the lifetime of a request, or none at all
/// when memoisation is off.
pub struct InFlight<K, V> {
    enabled: bool,
    cells: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K: Hash + Eq + Clone, V: Clone> InFlight<K, V> {
    fn new(enabled: bool) -> Self {
        Self {
            enabled,
            cells: Mutex::new(HashMap::new()),
        }
    }

    /// The value of `key`: fetched by the first caller, awaited by the others.
    async fn get_or_fetch<F, Fut>(&self, key: &K, fetch: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = V>,
    {
        if !self.enabled {
            return fetch().await;
        }
        let cell = {
            let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
            cells.entry(key.clone()).or_default().clone()
        };
        cell.get_or_init(fetch).await.clone()
    }
}

fn not_configured() -> Arc<SourceError> {
    Arc::new(SourceError::from(UpstreamError::NotConfigured {
        source_kind: SourceKind::OpenToClose,
    }))
}

/// Loads Open To Close properties by upstream id.
pub struct PropertyLoader {
    source: Option<Arc<OpenToClose>>,
    in_flight: InFlight<String, Option<LoadResult<Arc<Property>>>>,
}

impl Loader<String> for PropertyLoader {
    type Value = LoadResult<Arc<Property>>;
    type Error = Arc<SourceError>;

    async fn load(
        &self,
        keys: &[String],
    ) -> Result<HashMap<String, LoadResult<Arc<Property>>>, Self::Error> {
        let Some(source) = &self.source else {
            return Err(not_configured());
        };
        let loads = keys.iter().map(|id| async move {
            let value = self
                .in_flight
                .get_or_fetch(id, || async {
                    match source.properties_by_id(std::slice::from_ref(id)).await {
                        Ok(mut found) => found.pop().flatten().map(|p| Ok(Arc::new(p))),
                        Err(error) => Some(Err(Arc::new(error))),
                    }
                })
                .await;
            (id.clone(), value)
        });
        Ok(join_all(loads)
            .await
            .into_iter()
            .filter_map(|(id, value)| Some((id, value?)))
            .collect())
    }
}

/// Loads every link of Open To Close properties, by property upstream id.
pub struct PropertyLinksLoader {
    source: Option<Arc<OpenToClose>>,
    in_flight: InFlight<String, LoadResult<Links>>,
}

impl Loader<String> for PropertyLinksLoader {
    type Value = LoadResult<Links>;
    type Error = Arc<SourceError>;

    async fn load(
        &self,
        keys: &[String],
    ) -> Result<HashMap<String, LoadResult<Links>>, Self::Error> {
        let Some(source) = &self.source else {
            return Err(not_configured());
        };
        let loads = keys.iter().map(|id| async move {
            let value = self
                .in_flight
                .get_or_fetch(id, || async {
                    source
                        .property_links(id, None)
                        .await
                        .map(Arc::new)
                        .map_err(Arc::new)
                })
                .await;
            (id.clone(), value)
        });
        Ok(join_all(loads).await.into_iter().collect())
    }
}

/// Every link of every contact, by contact upstream id.
type ContactIndex = HashMap<String, Vec<Arc<PropertyContact>>>;

/// Loads the links of contacts from an index of every property's links,
/// built once per request (or once per load, with loaders switched off).
pub struct ContactLinksLoader {
    source: Option<Arc<OpenToClose>>,
    by_id: Arc<DataLoader<PropertyLoader, HashMapCache>>,
    links: Arc<DataLoader<PropertyLinksLoader, HashMapCache>>,
    index: OnceCell<LoadResult<Arc<ContactIndex>>>,
    build_once: bool,
}

impl ContactLinksLoader {
    /// Reads every property, then every property's links at once, and
    /// indexes the links by contact. The properties read prime the property
    /// loader, and the links go through the links loader, so other fields of
    /// the request reuse both.
    async fn build_index(&self) -> LoadResult<Arc<ContactIndex>> {
        let source = self.source.as_ref().ok_or_else(not_configured)?;
        let properties = source.all_properties().await.map_err(Arc::new)?;
        let property_ids: Vec<String> = properties.iter().map(|p| p.source_id.clone()).collect();
        self.by_id
            .feed_many(
                properties
                    .into_iter()
                    .map(|p| (p.source_id.clone(), Ok(Arc::new(p)))),
            )
            .await;
        let links = self.links.load_many(property_ids.iter().cloned()).await?;
        let mut index = ContactIndex::new();
        // Property order, then the upstream's link order within a property.
        for property_id in &property_ids {
            match links.get(property_id) {
                Some(Ok(property_links)) => {
                    for link in property_links.iter() {
                        index
                            .entry(link.contact_id.clone())
                            .or_default()
                            .push(link.clone());
                    }
                }
                // A property deleted between the two reads has no links.
                Some(Err(error)) if matches!(**error, SourceError::NotFound { .. }) => {}
                Some(Err(error)) => return Err(error.clone()),
                None => {}
            }
        }
        Ok(Arc::new(index))
    }
}

impl Loader<String> for ContactLinksLoader {
    type Value = LoadResult<Links>;
    type Error = Arc<SourceError>;

    async fn load(
        &self,
        keys: &[String],
    ) -> Result<HashMap<String, LoadResult<Links>>, Self::Error> {
        let index = if self.build_once {
            self.index.get_or_init(|| self.build_index()).await.clone()
        } else {
            self.build_index().await
        };
        Ok(keys
            .iter()
            .map(|contact_id| {
                let value = index
                    .as_ref()
                    .map_err(Clone::clone)
                    .map(|index| Arc::new(index.get(contact_id).cloned().unwrap_or_default()));
                (contact_id.clone(), value)
            })
            .collect())
    }
}
