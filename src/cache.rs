//! The response cache: one moka cache in front of every upstream read.
//!
//! Adapters read through [`ResponseCache::read`] (by way of
//! [`Upstream::read`](crate::upstream::Upstream::read)), which keeps what an
//! upstream answered, already mapped to domain values, so that a repeated
//! read costs neither a request nor the parsing. Three kinds of entries share
//! the one cache and its one byte budget:
//!
//! - **answers**, keyed by the whole normalised request (path, sorted query
//!   parameters, sorted non-credential headers);
//! - **records**, keyed by resource and id: every record that arrived in any
//!   answer (a list page, a Spark batch, a contact nested in a property link,
//!   a Winnerr contact with its activities) serves a later read of that record
//!   by id;
//! - **derived** lists, keyed by a description, such as a whole list the
//!   gateway sorted itself (the sorted snapshots).
//!
//! Every key also holds the source and the fingerprint of the credential set
//! the answer was read with (a keyed HMAC-SHA-256 under a random key drawn at
//! start, so it cannot be reversed or compared across processes). Keys are
//! compared whole, never by a hash alone, so one caller's answer can never be
//! served to a caller with other credentials.
//!
//! # Coalescing
//! Concurrent identical misses share one upstream request (moka's
//! `entry().or_try_insert_with`). A failure is handed to every waiter and
//! kept by none.
//!
//! # Invalidation
//! Every write through the gateway says what it may change ([`Change`]); the
//! upstream layer reports it here when the write ends, whether it succeeded,
//! failed or its outcome is unknown. Each source has a generation that such a
//! report advances, and each entry remembers the generation at which its read
//! *started* and what it holds ([`Tag`]s). An entry is served only while no
//! change to what it holds has been reported since its read started. This is
//! checked on every hit, so there is no window in which a read that started
//! before a write, and ended after it, can store what the upstream held
//! before the write; and a caller that joins a read already in flight gets
//! its answer only if no relevant write ended in between.
//!
//! Writes made in an upstream directly, outside the gateway, are seen once
//! the entries holding the old data expire: the time to live is the bound.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::future::Cache;
use moka::notification::RemovalCause;
use moka::Expiry;
use ring::hmac;
use tracing::Instrument;

use crate::config::{CacheSettings, TtlTable};
use crate::domain::SourceKind;

/// What an entry's records are, for invalidation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    Contact,
    Property,
    /// The links between one property and its contacts.
    PropertyLinks,
    /// The activities (notes, comments, calls) of one contact.
    Activities,
    /// The signed-in user's own contact.
    MyContact,
}

/// How long an entry is served: each freshness class has its own time to
/// live in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Freshness {
    Contact,
    ContactList,
    Property,
    PropertyList,
    PropertyLinks,
    Activities,
    MyContact,
}

impl Freshness {
    const ALL: [Freshness; 7] = [
        Freshness::Contact,
        Freshness::ContactList,
        Freshness::Property,
        Freshness::PropertyList,
        Freshness::PropertyLinks,
        Freshness::Activities,
        Freshness::MyContact,
    ];

    /// The built-in time to live. Contacts change in the upstreams' own user
    /// interfaces too, so a contact is trusted for half a minute and a list,
    /// whose membership any new contact changes, for a quarter; properties
    /// and their links change far less often than the people on them.
    fn default_ttl_ms(self) -> u64 {
        match self {
            Freshness::Contact | Freshness::Activities | Freshness::MyContact => 30_000,
            Freshness::ContactList => 15_000,
            Freshness::Property => 120_000,
            Freshness::PropertyList | Freshness::PropertyLinks => 60_000,
        }
    }

    fn configured(self, table: &TtlTable) -> Option<u64> {
        match self {
            Freshness::Contact => table.contact,
            Freshness::ContactList => table.contact_list,
            Freshness::Property => table.property,
            Freshness::PropertyList => table.property_list,
            Freshness::PropertyLinks => table.property_links,
            Freshness::Activities => table.activities,
            Freshness::MyContact => table.my_contact,
        }
    }
}

/// What an entry holds: a record, or a list of a resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Tag {
    /// The record of `resource` with this upstream id.
    Record(Resource, Arc<str>),
    /// A list of `resource`: any create, delete or change of one of them can
    /// change which records it holds or their order.
    List(Resource),
}

impl Tag {
    pub fn record(resource: Resource, id: &str) -> Self {
        Tag::Record(resource, Arc::from(id))
    }
}

/// What a write may have changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// One record: entries holding it, and lists of its resource, are stale.
    Record(Resource, String),
    /// Lists of a resource only (a new record).
    Lists(Resource),
    /// Every entry holding any record or list of the resource (a write whose
    /// record the gateway cannot name, such as a comment edited by its id).
    Every(Resource),
}

/// The fingerprint of one credential set: an HMAC-SHA-256 under a key drawn
/// at start. It never prints.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprint(..)")
    }
}

/// A cache key. Compared whole.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    source: SourceKind,
    credentials: Fingerprint,
    entry: EntryKey,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum EntryKey {
    Answer {
        path: String,
        query: Vec<(String, String)>,
        headers: Vec<(String, String)>,
    },
    Record {
        resource: Resource,
        id: String,
    },
    Derived {
        resource: Resource,
        description: String,
    },
}

impl CacheKey {
    /// The key of an answer to `GET path?query` with `headers` (credentials
    /// excluded: they are in the fingerprint). Parameters and headers are
    /// sorted, so their order never splits one answer into two entries.
    pub fn answer(
        source: SourceKind,
        credentials: Fingerprint,
        path: &str,
        mut query: Vec<(String, String)>,
        mut headers: Vec<(String, String)>,
    ) -> Self {
        query.sort();
        headers.sort();
        Self {
            source,
            credentials,
            entry: EntryKey::Answer {
                path: path.to_string(),
                query,
                headers,
            },
        }
    }

    /// The key of one record.
    pub fn record(
        source: SourceKind,
        credentials: &Fingerprint,
        resource: Resource,
        id: &str,
    ) -> Self {
        Self {
            source,
            credentials: credentials.clone(),
            entry: EntryKey::Record {
                resource,
                id: id.to_string(),
            },
        }
    }

    /// The key of something the gateway derived from answers.
    pub fn derived(
        source: SourceKind,
        credentials: &Fingerprint,
        resource: Resource,
        description: String,
    ) -> Self {
        Self {
            source,
            credentials: credentials.clone(),
            entry: EntryKey::Derived {
                resource,
                description,
            },
        }
    }

    /// The source whose data the key names.
    pub fn source(&self) -> SourceKind {
        self.source
    }
}

/// The generation of a source when a read started; records shared from that
/// read carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp(u64);

/// What the upstream said about keeping its answer (`Cache-Control`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Directive {
    /// Nothing: the configured time to live applies.
    #[default]
    Default,
    /// `no-store` or `no-cache`: not kept (concurrent waiters still share it).
    NoStore,
    /// `max-age`: kept no longer than this.
    MaxAge(Duration),
}

impl Directive {
    /// Reads a `Cache-Control` header value.
    pub fn parse(header: Option<&str>) -> Self {
        let Some(header) = header else {
            return Directive::Default;
        };
        let mut directive = Directive::Default;
        for part in header.split(',') {
            let part = part.trim().to_ascii_lowercase();
            if part == "no-store" || part == "no-cache" {
                return Directive::NoStore;
            }
            if let Some(seconds) = part
                .strip_prefix("max-age=")
                .or_else(|| part.strip_prefix("s-maxage="))
            {
                match seconds.trim_matches('"').parse::<u64>() {
                    Ok(0) => return Directive::NoStore,
                    Ok(seconds) => directive = Directive::MaxAge(Duration::from_secs(seconds)),
                    Err(_) => return Directive::NoStore,
                }
            }
        }
        directive
    }
}

/// A record an answer held, to be kept under its own key.
pub struct Share {
    resource: Resource,
    id: String,
    value: Arc<dyn Any + Send + Sync>,
    tags: Vec<Tag>,
    freshness: Freshness,
}

impl Share {
    /// `value` is the record of `resource` with upstream id `id`; `tags` says
    /// what it holds besides itself (a contact's activities, say).
    pub fn new<T: Send + Sync + 'static>(
        resource: Resource,
        id: &str,
        value: Arc<T>,
        mut tags: Vec<Tag>,
        freshness: Freshness,
    ) -> Self {
        tags.push(Tag::record(resource, id));
        Self {
            resource,
            id: id.to_string(),
            value,
            tags,
            freshness,
        }
    }
}

/// What a read produced, ready to keep.
pub struct Fetched<T> {
    pub value: T,
    /// What the value holds, for invalidation.
    pub tags: Vec<Tag>,
    /// Records to keep under their own keys as well.
    pub shares: Vec<Share>,
    /// An estimate of the memory the value holds, in bytes.
    pub weight: usize,
    pub directive: Directive,
}

/// The counters of one source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceCacheMetrics {
    pub hits: u64,
    pub misses: u64,
    pub coalesced_waits: u64,
    pub evictions: u64,
    pub entries: u64,
    pub weighted_bytes: u64,
}

/// What one GraphQL request read from the cache, for `extensions.cache`.
#[derive(Debug, Clone, Default)]
pub struct CacheReport {
    pub hits: u64,
    pub upstream_reads: u64,
    pub coalesced_waits: u64,
    /// The age of the oldest entry served, in milliseconds.
    pub oldest_age_ms: Option<u64>,
    /// The weight of the entries this request added.
    pub stored_bytes: u64,
}

/// Per GraphQL request: whether the client asked for fresh data, and where
/// to report what the request read.
#[derive(Debug, Default)]
pub struct RequestScope {
    /// `Cache-Control: no-cache` on the client's request: every read goes
    /// upstream and refreshes its entry.
    pub refresh: bool,
    report: Option<Mutex<CacheReport>>,
    /// When the request must be answered: the upstream layer ends each
    /// exchange (and wait for a permit, and retry) by it.
    deadline: Option<tokio::time::Instant>,
}

impl RequestScope {
    pub fn new(refresh: bool, report: bool) -> Self {
        Self {
            refresh,
            report: report.then(|| Mutex::new(CacheReport::default())),
            deadline: None,
        }
    }

    /// The scope of a request that must be answered by `deadline`.
    pub fn with_deadline(mut self, deadline: tokio::time::Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// What the request read so far, when it asked for a report.
    pub fn report(&self) -> Option<CacheReport> {
        self.report
            .as_ref()
            .map(|report| report.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    fn note(&self, outcome: Outcome, age: Option<Duration>) {
        let Some(report) = &self.report else { return };
        let mut report = report.lock().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Outcome::Hit => report.hits += 1,
            Outcome::Miss => report.upstream_reads += 1,
            Outcome::Coalesced => report.coalesced_waits += 1,
        }
        if let Some(age) = age {
            let age = age.as_millis() as u64;
            report.oldest_age_ms = Some(report.oldest_age_ms.map_or(age, |old| old.max(age)));
        }
    }
}

tokio::task_local! {
    static SCOPE: Arc<RequestScope>;
}

/// Runs `future` with `scope` as its request scope; reads made by it (and by
/// tasks spawned through [`spawn_in_scope`]) follow and report to it.
pub async fn with_scope<F: Future>(scope: Arc<RequestScope>, future: F) -> F::Output {
    SCOPE.scope(scope, future).await
}

/// The current request's deadline, if it runs in a scope that has one.
pub fn current_deadline() -> Option<tokio::time::Instant> {
    SCOPE.try_with(|scope| scope.deadline).ok().flatten()
}

/// Spawns `future` in the current request scope, if any.
pub fn spawn_in_scope<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match SCOPE.try_with(Arc::clone) {
        // The task stays in the request's span, so that its upstream
        // exchanges are traced as the request's children.
        Ok(scope) => tokio::spawn(SCOPE.scope(scope, future.in_current_span())),
        Err(_) => tokio::spawn(future.in_current_span()),
    }
}

fn current_scope() -> Option<Arc<RequestScope>> {
    SCOPE.try_with(Arc::clone).ok()
}

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Hit,
    Miss,
    Coalesced,
}

/// One kept value.
#[derive(Clone)]
struct Entry(Arc<EntryInner>);

struct EntryInner {
    value: Arc<dyn Any + Send + Sync>,
    tags: Box<[Tag]>,
    stamp: u64,
    stored_at: Instant,
    ttl: Duration,
    weight: u32,
}

struct EntryExpiry;

impl Expiry<CacheKey, Entry> for EntryExpiry {
    fn expire_after_create(&self, _: &CacheKey, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.0.ttl)
    }

    fn expire_after_update(
        &self,
        _: &CacheKey,
        entry: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.0.ttl)
    }
}

/// The changes reported for one source.
struct SourceState {
    /// Advanced by every reported write; a read's stamp is its value when
    /// the read started.
    generation: AtomicU64,
    changes: Mutex<Changes>,
    counters: Counters,
    ttls: HashMap<Freshness, Duration>,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    coalesced_waits: AtomicU64,
    evictions: AtomicU64,
    entries: AtomicU64,
    weighted_bytes: AtomicU64,
}

/// The generation at which each thing last changed. A record's generation is
/// kept as long as an entry read before it could still be alive (the longest
/// time to live); older ones are dropped when the map grows.
#[derive(Default)]
struct Changes {
    records: HashMap<(Resource, Arc<str>), (u64, Instant)>,
    lists: HashMap<Resource, u64>,
    every: HashMap<Resource, u64>,
}

/// How many bytes of memory a value mapped from an upstream answer is taken
/// to hold per byte of the answer. Records read into JSON values (Django-CRM,
/// Winnerr, Spark) hold a node, a map entry and a key string for every field,
/// besides the fields the gateway reads from them, and the allocator rounds
/// each up, and memory an evicted entry freed is not always reused at once.
/// Measured with the `cache-memory` benchmark, the process grew by up to
/// three times the weight that three bytes per answer byte gave; twelve
/// keeps the process within the budget plus its working memory.
pub const ANSWER_WEIGHT_FACTOR: usize = 12;

/// A bound on remembered record changes before old ones are dropped.
const MAX_REMEMBERED_CHANGES: usize = 100_000;

impl Changes {
    fn newer_than(&self, tag: &Tag, stamp: u64) -> bool {
        let (resource, record_generation) = match tag {
            Tag::Record(resource, id) => (
                resource,
                self.records
                    .get(&(*resource, Arc::clone(id)))
                    .map(|(generation, _)| *generation),
            ),
            Tag::List(resource) => (resource, self.lists.get(resource).copied()),
        };
        record_generation.is_some_and(|generation| generation > stamp)
            || self
                .every
                .get(resource)
                .is_some_and(|generation| *generation > stamp)
    }
}

/// The response cache of one gateway.
pub struct ResponseCache {
    entries: Option<Cache<CacheKey, Entry>>,
    max_bytes: u64,
    key: hmac::Key,
    sources: Arc<HashMap<SourceKind, SourceState>>,
    longest_ttl: Duration,
}

impl ResponseCache {
    /// A cache with `settings`; with `enabled = false` every read goes
    /// upstream and nothing is kept.
    pub fn new(settings: &CacheSettings) -> Self {
        let mut longest_ttl = Duration::ZERO;
        let sources: HashMap<SourceKind, SourceState> = SourceKind::ALL
            .into_iter()
            .map(|kind| {
                let own = settings.sources.of(kind).map(|s| s.ttl_ms);
                let ttls = Freshness::ALL
                    .into_iter()
                    .map(|freshness| {
                        let ms = own
                            .as_ref()
                            .and_then(|table| freshness.configured(table))
                            .or_else(|| freshness.configured(&settings.ttl_ms))
                            .unwrap_or_else(|| freshness.default_ttl_ms());
                        let ttl = Duration::from_millis(ms);
                        longest_ttl = longest_ttl.max(ttl);
                        (freshness, ttl)
                    })
                    .collect();
                (
                    kind,
                    SourceState {
                        generation: AtomicU64::new(0),
                        changes: Mutex::new(Changes::default()),
                        counters: Counters::default(),
                        ttls,
                    },
                )
            })
            .collect();
        let sources = Arc::new(sources);
        let entries = settings.enabled.then(|| {
            let listener_sources = Arc::clone(&sources);
            Cache::builder()
                .max_capacity(settings.max_bytes)
                .weigher(|_: &CacheKey, entry: &Entry| entry.0.weight)
                .expire_after(EntryExpiry)
                .eviction_listener(move |key: Arc<CacheKey>, entry: Entry, cause| {
                    if let Some(state) = listener_sources.get(&key.source) {
                        let counters = &state.counters;
                        counters.entries.fetch_sub(1, Ordering::Relaxed);
                        counters
                            .weighted_bytes
                            .fetch_sub(u64::from(entry.0.weight), Ordering::Relaxed);
                        if cause == RemovalCause::Size {
                            counters.evictions.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
                .build()
        });
        let rng = ring::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            // The system's random source failing is not recoverable; a fixed
            // key would still never reveal a credential, only make
            // fingerprints comparable across processes.
            .unwrap_or_else(|_| hmac::Key::new(hmac::HMAC_SHA256, b"contact-gateway"));
        Self {
            entries,
            max_bytes: settings.max_bytes,
            key,
            sources,
            longest_ttl,
        }
    }

    /// Whether anything is kept.
    pub fn enabled(&self) -> bool {
        self.entries.is_some()
    }

    /// The fingerprint of a credential set given as its parts in order.
    pub fn fingerprint<'a>(&self, parts: impl IntoIterator<Item = &'a [u8]>) -> Fingerprint {
        let mut context = hmac::Context::with_key(&self.key);
        for part in parts {
            // Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
            context.update(&(part.len() as u64).to_be_bytes());
            context.update(part);
        }
        let tag = context.sign();
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(tag.as_ref());
        Fingerprint(bytes)
    }

    /// The current stamp of `source`: what a read starting now carries.
    fn stamp(&self, source: SourceKind) -> Stamp {
        Stamp(
            self.sources
                .get(&source)
                .map_or(0, |state| state.generation.load(Ordering::Acquire)),
        )
    }

    /// The value under `key`, read with `fetch` when missing or stale.
    ///
    /// Concurrent callers with the same key share one `fetch`; a failing
    /// fetch is handed to each of them and kept by none. With the request's
    /// scope asking for fresh data, the read goes upstream whatever is kept,
    /// and what it reads replaces the entry.
    pub async fn read<T, E, F, Fut>(
        &self,
        key: CacheKey,
        freshness: Freshness,
        fetch: F,
    ) -> Result<Arc<T>, E>
    where
        T: Send + Sync + 'static,
        E: Clone + Send + Sync + 'static,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Fetched<T>, E>>,
    {
        let source = key.source;
        let Some(entries) = &self.entries else {
            return fetch().await.map(|f| Arc::new(f.value));
        };
        let scope = current_scope();
        if scope.as_ref().is_some_and(|scope| scope.refresh) {
            return self
                .refetch(entries, key, freshness, scope.as_deref(), &fetch)
                .await;
        }
        if let Some(entry) = entries.get(&key).await {
            if let Some(value) = self.serve::<T>(source, &entry, Outcome::Hit, scope.as_deref()) {
                return Ok(value);
            }
            entries.invalidate(&key).await;
        }
        let stamp = self.stamp(source);
        let kept = entries
            .entry(key.clone())
            .or_try_insert_with(async {
                let fetched = fetch().await?;
                Ok::<_, E>(self.keep(entries, &key, stamp, freshness, fetched).await.0)
            })
            .await
            .map_err(|error| (*error).clone())?;
        let outcome = if kept.is_fresh() {
            self.count_insert(source, kept.value());
            self.settle(entries).await;
            Outcome::Miss
        } else {
            Outcome::Coalesced
        };
        if let Some(value) = self.serve::<T>(source, kept.value(), outcome, scope.as_deref()) {
            return Ok(value);
        }
        // A write that can have changed this answer ended after its read
        // started and before this caller asked: read it again.
        self.refetch(entries, key, freshness, scope.as_deref(), &fetch)
            .await
    }

    /// A kept record, when it is there and current.
    pub async fn record<T: Send + Sync + 'static>(&self, key: &CacheKey) -> Option<Arc<T>> {
        let entries = self.entries.as_ref()?;
        let scope = current_scope();
        if scope.as_ref().is_some_and(|scope| scope.refresh) {
            return None;
        }
        let entry = entries.get(key).await?;
        self.serve::<T>(key.source, &entry, Outcome::Hit, scope.as_deref())
    }

    /// Reports that a write to `source` has ended (or was abandoned) and may
    /// have made `changes`. Entries whose read started before this call and
    /// that hold anything changed are never served again.
    pub fn report_changes(&self, source: SourceKind, changes: &[Change]) {
        let Some(state) = self.sources.get(&source) else {
            return;
        };
        let mut kept = state.changes.lock().unwrap_or_else(|e| e.into_inner());
        let generation = state.generation.load(Ordering::Acquire) + 1;
        let now = Instant::now();
        for change in changes {
            match change {
                Change::Record(resource, id) => {
                    kept.records
                        .insert((*resource, Arc::from(id.as_str())), (generation, now));
                    kept.lists.insert(*resource, generation);
                }
                Change::Lists(resource) => {
                    kept.lists.insert(*resource, generation);
                }
                Change::Every(resource) => {
                    kept.every.insert(*resource, generation);
                }
            }
        }
        if kept.records.len() > MAX_REMEMBERED_CHANGES {
            let longest = self.longest_ttl;
            kept.records
                .retain(|_, (_, at)| now.duration_since(*at) <= longest);
        }
        // Published after the changes, so that a reader who sees the new
        // generation also sees what changed at it.
        state.generation.store(generation, Ordering::Release);
    }

    /// The counters of `source`.
    pub fn metrics(&self, source: SourceKind) -> SourceCacheMetrics {
        let Some(state) = self.sources.get(&source) else {
            return SourceCacheMetrics::default();
        };
        let c = &state.counters;
        SourceCacheMetrics {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            coalesced_waits: c.coalesced_waits.load(Ordering::Relaxed),
            evictions: c.evictions.load(Ordering::Relaxed),
            entries: c.entries.load(Ordering::Relaxed),
            weighted_bytes: c.weighted_bytes.load(Ordering::Relaxed),
        }
    }

    /// The weighted size of every entry together, after pending evictions.
    pub async fn weighted_size(&self) -> u64 {
        match &self.entries {
            Some(entries) => {
                entries.run_pending_tasks().await;
                entries.weighted_size()
            }
            None => 0,
        }
    }

    /// Reads upstream whatever is kept, and keeps the answer.
    async fn refetch<T, E, F, Fut>(
        &self,
        entries: &Cache<CacheKey, Entry>,
        key: CacheKey,
        freshness: Freshness,
        scope: Option<&RequestScope>,
        fetch: &F,
    ) -> Result<Arc<T>, E>
    where
        T: Send + Sync + 'static,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Fetched<T>, E>>,
    {
        let source = key.source;
        let stamp = self.stamp(source);
        let fetched = fetch().await?;
        let (entry, value) = self.keep(entries, &key, stamp, freshness, fetched).await;
        entries.insert(key, entry.clone()).await;
        self.count_insert(source, &entry);
        self.settle(entries).await;
        self.note(source, Outcome::Miss, None, scope);
        Ok(value)
    }

    /// Turns what a read produced into an entry, keeping the records it
    /// shared under their own keys with the same stamp.
    async fn keep<T: Send + Sync + 'static>(
        &self,
        entries: &Cache<CacheKey, Entry>,
        key: &CacheKey,
        stamp: Stamp,
        freshness: Freshness,
        fetched: Fetched<T>,
    ) -> (Entry, Arc<T>) {
        let source = key.source;
        let ttl = self.ttl(source, freshness, fetched.directive);
        let now = Instant::now();
        let share_weight = if fetched.shares.is_empty() {
            0
        } else {
            fetched.weight / fetched.shares.len()
        };
        if !ttl.is_zero() {
            for share in fetched.shares {
                let ttl = self.ttl(source, share.freshness, fetched.directive);
                if ttl.is_zero() {
                    continue;
                }
                let entry = Entry(Arc::new(EntryInner {
                    value: share.value,
                    tags: share.tags.into_boxed_slice(),
                    stamp: stamp.0,
                    stored_at: now,
                    ttl,
                    weight: weight_of(share_weight),
                }));
                let record_key =
                    CacheKey::record(source, &key.credentials, share.resource, &share.id);
                entries.insert(record_key, entry.clone()).await;
                self.count_insert(source, &entry);
            }
        }
        let value = Arc::new(fetched.value);
        let entry = Entry(Arc::new(EntryInner {
            value: value.clone(),
            tags: fetched.tags.into_boxed_slice(),
            stamp: stamp.0,
            stored_at: now,
            ttl,
            weight: weight_of(fetched.weight),
        }));
        (entry, value)
    }

    /// Applies pending evictions once the entries weigh more than the
    /// budget. moka evicts in batches, on its own schedule; without this, a
    /// burst of large answers could hold several budgets' worth of memory
    /// until its next housekeeping.
    async fn settle(&self, entries: &Cache<CacheKey, Entry>) {
        let held: u64 = self
            .sources
            .values()
            .map(|state| state.counters.weighted_bytes.load(Ordering::Relaxed))
            .sum();
        if held > self.max_bytes {
            entries.run_pending_tasks().await;
        }
    }

    /// The entry's value when no change to what it holds has been reported
    /// since its read started.
    fn serve<T: Send + Sync + 'static>(
        &self,
        source: SourceKind,
        entry: &Entry,
        outcome: Outcome,
        scope: Option<&RequestScope>,
    ) -> Option<Arc<T>> {
        let state = self.sources.get(&source)?;
        if state.generation.load(Ordering::Acquire) != entry.0.stamp {
            let changes = state.changes.lock().unwrap_or_else(|e| e.into_inner());
            if entry
                .0
                .tags
                .iter()
                .any(|tag| changes.newer_than(tag, entry.0.stamp))
            {
                return None;
            }
        }
        let value = entry.0.value.clone().downcast::<T>().ok()?;
        let age = match outcome {
            Outcome::Hit => Some(entry.0.stored_at.elapsed()),
            _ => None,
        };
        self.note(source, outcome, age, scope);
        Some(value)
    }

    fn note(
        &self,
        source: SourceKind,
        outcome: Outcome,
        age: Option<Duration>,
        scope: Option<&RequestScope>,
    ) {
        if let Some(state) = self.sources.get(&source) {
            let counter = match outcome {
                Outcome::Hit => &state.counters.hits,
                Outcome::Miss => &state.counters.misses,
                Outcome::Coalesced => &state.counters.coalesced_waits,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(scope) = scope {
            scope.note(outcome, age);
        }
    }

    fn count_insert(&self, source: SourceKind, entry: &Entry) {
        if let Some(report) = current_scope()
            .as_ref()
            .and_then(|scope| scope.report.as_ref())
        {
            report
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .stored_bytes += u64::from(entry.0.weight);
        }
        if let Some(state) = self.sources.get(&source) {
            state.counters.entries.fetch_add(1, Ordering::Relaxed);
            state
                .counters
                .weighted_bytes
                .fetch_add(u64::from(entry.0.weight), Ordering::Relaxed);
        }
    }

    fn ttl(&self, source: SourceKind, freshness: Freshness, directive: Directive) -> Duration {
        let configured = self
            .sources
            .get(&source)
            .and_then(|state| state.ttls.get(&freshness).copied())
            .unwrap_or(Duration::ZERO);
        match directive {
            Directive::Default => configured,
            Directive::NoStore => Duration::ZERO,
            Directive::MaxAge(max_age) => configured.min(max_age),
        }
    }
}

/// The weight of an entry: its estimated bytes plus what the cache itself
/// spends on it (key, entry, bookkeeping).
fn weight_of(bytes: usize) -> u32 {
    u32::try_from(bytes.saturating_add(256)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    fn cache() -> ResponseCache {
        ResponseCache::new(&CacheSettings::default())
    }

    fn fetched(value: &str, tags: Vec<Tag>) -> Fetched<String> {
        Fetched {
            value: value.to_string(),
            tags,
            shares: Vec::new(),
            weight: value.len(),
            directive: Directive::Default,
        }
    }

    /// Reads `key`, counting how often the fetch runs.
    async fn read(
        cache: &ResponseCache,
        key: &CacheKey,
        fetches: &AtomicUsize,
        tags: Vec<Tag>,
    ) -> Result<Arc<String>, String> {
        cache
            .read(key.clone(), Freshness::Contact, || {
                let tags = tags.clone();
                async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, String>(fetched("value", tags))
                }
            })
            .await
    }

    fn answer_key(cache: &ResponseCache, credential: &[u8], path: &str) -> CacheKey {
        CacheKey::answer(
            SourceKind::Winnerr,
            cache.fingerprint([credential]),
            path,
            vec![("b".into(), "2".into()), ("a".into(), "1".into())],
            Vec::new(),
        )
    }

    #[tokio::test]
    async fn two_credential_sets_never_share_an_entry() {
        let cache = cache();
        let fetches = AtomicUsize::new(0);
        let alice = answer_key(&cache, b"token-a", "/contacts");
        let bob = answer_key(&cache, b"token-b", "/contacts");
        assert_ne!(alice, bob);
        read(&cache, &alice, &fetches, vec![]).await.unwrap();
        read(&cache, &bob, &fetches, vec![]).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        read(&cache, &alice, &fetches, vec![]).await.unwrap();
        read(&cache, &bob, &fetches, vec![]).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn fingerprints_are_keyed_per_process_and_length_prefixed() {
        let one = cache();
        let other = cache();
        assert_ne!(
            one.fingerprint([b"t".as_slice()]),
            other.fingerprint([b"t".as_slice()])
        );
        assert_ne!(
            one.fingerprint([b"ab".as_slice(), b"c"]),
            one.fingerprint([b"a".as_slice(), b"bc"])
        );
        assert_eq!(
            format!("{:?}", one.fingerprint([b"t".as_slice()])),
            "Fingerprint(..)"
        );
    }

    #[test]
    fn query_order_does_not_split_an_answer() {
        let cache = cache();
        let fingerprint = cache.fingerprint([b"t".as_slice()]);
        let one = CacheKey::answer(
            SourceKind::Spark,
            fingerprint.clone(),
            "/contacts",
            vec![("a".into(), "1".into()), ("b".into(), "2".into())],
            vec![],
        );
        let other = CacheKey::answer(
            SourceKind::Spark,
            fingerprint,
            "/contacts",
            vec![("b".into(), "2".into()), ("a".into(), "1".into())],
            vec![],
        );
        assert_eq!(one, other);
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_fetch_and_a_failure_is_not_kept() {
        let cache = cache();
        let key = answer_key(&cache, b"t", "/contacts");
        let fetches = AtomicUsize::new(0);
        let (gate, opened) = tokio::sync::watch::channel(false);
        let fail = || {
            let mut opened = opened.clone();
            let fetches = &fetches;
            async move {
                fetches.fetch_add(1, Ordering::SeqCst);
                let _ = opened.wait_for(|open| *open).await;
                Err::<Fetched<String>, String>("down".into())
            }
        };
        let readers = (0..10).map(|_| cache.read(key.clone(), Freshness::Contact, fail));
        let all = futures::future::join_all(readers);
        let opener = async {
            tokio::task::yield_now().await;
            let _ = gate.send(true);
        };
        let (results, ()) = tokio::join!(all, opener);
        assert!(results
            .iter()
            .all(|result| result.as_deref() == Err(&"down".to_string())));
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        // Nothing was kept: the next read fetches again.
        let fetches = AtomicUsize::new(0);
        read(&cache, &key, &fetches, vec![]).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_change_makes_stale_exactly_what_holds_it() {
        let cache = cache();
        let fetches = AtomicUsize::new(0);
        let contact = |id: &str| Tag::record(Resource::Contact, id);
        let one = answer_key(&cache, b"t", "/contacts/1");
        let two = answer_key(&cache, b"t", "/contacts/2");
        let list = answer_key(&cache, b"t", "/contacts");
        let links = answer_key(&cache, b"t", "/properties/9/contacts");
        read(&cache, &one, &fetches, vec![contact("1")])
            .await
            .unwrap();
        read(&cache, &two, &fetches, vec![contact("2")])
            .await
            .unwrap();
        read(&cache, &list, &fetches, vec![Tag::List(Resource::Contact)])
            .await
            .unwrap();
        read(
            &cache,
            &links,
            &fetches,
            vec![Tag::record(Resource::PropertyLinks, "9"), contact("1")],
        )
        .await
        .unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 4);

        cache.report_changes(
            SourceKind::Winnerr,
            &[Change::Record(Resource::Contact, "1".into())],
        );
        // The contact, the list and the links holding it are read again...
        for key in [&one, &list, &links] {
            read(&cache, key, &fetches, vec![]).await.unwrap();
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 7);
        // ...the other contact is not, nor is any other source's data.
        read(&cache, &two, &fetches, vec![]).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 7);
        cache.report_changes(SourceKind::Spark, &[Change::Every(Resource::Contact)]);
        read(&cache, &two, &fetches, vec![]).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 7);
    }

    #[tokio::test]
    async fn a_read_that_started_before_a_write_is_not_served_after_it() {
        let cache = cache();
        let key = answer_key(&cache, b"t", "/contacts/1");
        // The write ends while the read is in flight.
        let value = cache
            .read(key.clone(), Freshness::Contact, || async {
                cache.report_changes(
                    SourceKind::Winnerr,
                    &[Change::Record(Resource::Contact, "1".into())],
                );
                Ok::<_, String>(fetched("before", vec![Tag::record(Resource::Contact, "1")]))
            })
            .await
            .unwrap();
        assert_eq!(*value, "before");
        let fetches = AtomicUsize::new(0);
        read(&cache, &key, &fetches, vec![]).await.unwrap();
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            1,
            "the old answer was served"
        );
    }

    #[tokio::test]
    async fn records_shared_by_an_answer_serve_reads_by_id() {
        let cache = cache();
        let fingerprint = cache.fingerprint([b"t".as_slice()]);
        let list = CacheKey::answer(
            SourceKind::Spark,
            fingerprint.clone(),
            "/contacts",
            vec![],
            vec![],
        );
        cache
            .read(list, Freshness::ContactList, || async {
                let mut page = fetched("page", vec![Tag::List(Resource::Contact)]);
                page.shares = vec![Share::new(
                    Resource::Contact,
                    "7",
                    Arc::new("seven".to_string()),
                    Vec::new(),
                    Freshness::Contact,
                )];
                Ok::<_, String>(page)
            })
            .await
            .unwrap();
        let record = CacheKey::record(SourceKind::Spark, &fingerprint, Resource::Contact, "7");
        assert_eq!(
            cache.record::<String>(&record).await.as_deref(),
            Some(&"seven".to_string())
        );
        let stranger = cache.fingerprint([b"other".as_slice()]);
        let theirs = CacheKey::record(SourceKind::Spark, &stranger, Resource::Contact, "7");
        assert!(cache.record::<String>(&theirs).await.is_none());
        let metrics = cache.metrics(SourceKind::Spark);
        assert_eq!(metrics.misses, 1);
        assert_eq!(metrics.hits, 1);
        assert_eq!(metrics.entries, 2);
    }

    #[tokio::test]
    async fn the_byte_budget_holds_whatever_is_read() {
        let settings = CacheSettings {
            max_bytes: 64 * 1024,
            ..CacheSettings::default()
        };
        let cache = ResponseCache::new(&settings);
        for n in 0..1_000 {
            let key = answer_key(&cache, b"t", &format!("/contacts/{n}"));
            cache
                .read(key, Freshness::Contact, || async {
                    Ok::<_, String>(Fetched {
                        value: vec![0u8; 1024],
                        tags: vec![],
                        shares: vec![],
                        weight: 1024,
                        directive: Directive::Default,
                    })
                })
                .await
                .unwrap();
        }
        assert!(cache.weighted_size().await <= settings.max_bytes);
        assert!(cache.metrics(SourceKind::Winnerr).evictions > 0);
    }

    #[tokio::test]
    async fn the_off_switch_keeps_nothing() {
        let cache = ResponseCache::new(&CacheSettings {
            enabled: false,
            ..CacheSettings::default()
        });
        let key = answer_key(&cache, b"t", "/contacts");
        let fetches = AtomicUsize::new(0);
        read(&cache, &key, &fetches, vec![]).await.unwrap();
        read(&cache, &key, &fetches, vec![]).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn upstream_cache_control_is_honoured() {
        assert_eq!(Directive::parse(None), Directive::Default);
        assert_eq!(
            Directive::parse(Some("private, no-store")),
            Directive::NoStore
        );
        assert_eq!(Directive::parse(Some("no-cache")), Directive::NoStore);
        assert_eq!(Directive::parse(Some("max-age=0")), Directive::NoStore);
        assert_eq!(
            Directive::parse(Some("public, max-age=5")),
            Directive::MaxAge(Duration::from_secs(5))
        );
        assert_eq!(Directive::parse(Some("max-age=soon")), Directive::NoStore);
        let cache = cache();
        assert_eq!(
            cache.ttl(
                SourceKind::Spark,
                Freshness::Contact,
                Directive::MaxAge(Duration::from_secs(5))
            ),
            Duration::from_secs(5)
        );
        assert_eq!(
            cache.ttl(SourceKind::Spark, Freshness::Contact, Directive::Default),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn a_source_table_overrides_the_global_one() {
        let mut settings = CacheSettings::default();
        settings.ttl_ms.contact = Some(1_000);
        settings.sources.spark = Some(crate::config::SourceCacheSettings {
            ttl_ms: TtlTable {
                contact: Some(2_000),
                ..TtlTable::default()
            },
        });
        let cache = ResponseCache::new(&settings);
        let ttl = |source| cache.ttl(source, Freshness::Contact, Directive::Default);
        assert_eq!(ttl(SourceKind::Spark), Duration::from_secs(2));
        assert_eq!(ttl(SourceKind::Winnerr), Duration::from_secs(1));
    }
}
