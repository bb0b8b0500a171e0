//! An upper bound on the upstream requests an operation will send, per
//! source, computed from the operation before it runs.
//!
//! The walk follows the operation's selections (fragments expanded; the
//! cost walk has already bounded their number) and carries, for each
//! object it is inside, how many objects of each source there can be. Each
//! field is charged what its resolver and loader send, as the adapters
//! document it:
//!
//! - `contacts`: per source, one request per upstream page of `first + 1`
//!   contacts (plus one to resume after a cursor) when the source pages the
//!   order natively and there is no filter; otherwise (the `NAME` order on
//!   Open To Close, Django-CRM and Spark, any order but `CREATED_AT DESC` on
//!   Django-CRM, a filter the upstream may not apply, backward paging) the
//!   whole list, read a page at a time until a short page: `list size /
//!   page size + 1`. Pages are 100 contacts, 25 on Spark. Winnerr answers
//!   activities in the same request. Backward paging walks the merged list
//!   forward in pages of `max_page_size`, each page charged as above, except
//!   that a list sorted locally is read once when sorted snapshots keep it.
//! - `contact`, `node`: one request for the source the id names; `nodes`:
//!   one per id, Spark 25 ids per request to each of its two lists.
//! - `Contact.activities`: one per Django-CRM contact not read by id (its
//!   detail) and one per Winnerr contact not read with its activities;
//!   others keep none.
//! - `Contact.properties`: once per request, on Open To Close, every
//!   property (100 per request) and one request per property for its links.
//! - `properties`: pages of `first + 1`, the whole list under a filter;
//!   `property`: one; `Property.contacts`: one per property; contacts and
//!   properties nested in links cost nothing more.
//! - `Activity.contact`: one per Winnerr contact the activities belong to
//!   (a Django-CRM contact's detail was read for its activities already);
//!   `myContact`: one Spark request.
//! - Mutations: three requests to the source the input names (a write, a
//!   read back, and a lookup some writes need), or to every source when the
//!   input names none; `bulkUpdateContacts` one Winnerr request per 100
//!   ids and a read of each Winnerr contact whose `contact` is asked for,
//!   two requests per id elsewhere.
//!
//! Lists the gateway reads whole are bounded by `[limits]
//! estimate_list_size` records per source: the estimate is an upper bound
//! as long as no source holds more. Loaders, which fetch each record once
//! per request, and sorted snapshots, reused across requests, only ever
//! make the actual count smaller.

use std::collections::BTreeMap;

use async_graphql::parser::types::{
    ExecutableDocument, Field, OperationDefinition, OperationType, Selection, SelectionSet,
};
use async_graphql::{Name, Value, Variables};

use crate::domain::{GlobalId, NodeType, SourceKind};

/// Upstream requests per source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamEstimate {
    pub by_source: BTreeMap<SourceKind, u64>,
}

impl UpstreamEstimate {
    fn add(&mut self, source: SourceKind, requests: u64) {
        if requests > 0 {
            let entry = self.by_source.entry(source).or_default();
            *entry = entry.saturating_add(requests);
        }
    }

    /// The estimate over every source.
    pub fn total(&self) -> u64 {
        self.by_source
            .values()
            .fold(0u64, |sum, requests| sum.saturating_add(*requests))
    }

    /// The estimate for one source.
    pub fn of(&self, source: SourceKind) -> u64 {
        self.by_source.get(&source).copied().unwrap_or(0)
    }

    /// The sources whose estimate is above `ceiling`.
    pub fn over(&self, ceiling: u64) -> Vec<SourceKind> {
        self.by_source
            .iter()
            .filter(|(_, requests)| **requests > ceiling)
            .map(|(source, _)| *source)
            .collect()
    }

    /// `{"opentoclose": 1, ...}`, every configured source listed.
    pub fn to_value(&self, sources: &[SourceKind]) -> Value {
        let mut map = async_graphql::indexmap::IndexMap::new();
        for source in sources {
            map.insert(Name::new(source.as_str()), Value::from(self.of(*source)));
        }
        Value::Object(map)
    }
}

/// What the estimate knows of the gateway.
#[derive(Debug, Clone)]
pub struct EstimateSettings {
    /// The configured sources, the default of `contacts(sources:)`.
    pub sources: Vec<SourceKind>,
    /// The sources a caller's `contacts` without `sources:` lists, when
    /// not all of `sources` (a principal's `allowed_sources`). Sources it
    /// names explicitly are still charged, so that the edge can refuse them.
    pub default_sources: Option<Vec<SourceKind>>,
    /// The most records a source is assumed to hold in a list read whole.
    pub list_size: u64,
    /// `[limits] max_page_size`: the page a backward walk reads forward in.
    pub max_page_size: u64,
    /// Whether a list read whole is kept for the request's later pages
    /// (the response cache on).
    pub snapshots: bool,
}

impl EstimateSettings {
    /// The settings for the configured sources (`configured`, in
    /// `SourceKind::ALL` order), the limits and the cache.
    pub fn new(
        configured: Vec<SourceKind>,
        limits: &crate::config::Limits,
        cache: &crate::config::CacheSettings,
    ) -> Self {
        Self {
            sources: configured,
            default_sources: None,
            list_size: limits.estimate_list_size,
            max_page_size: limits.max_page_size as u64,
            // A list sorted locally is read whole once per request and
            // kept for the next ones only with the response cache on.
            snapshots: cache.enabled,
        }
    }
}

/// How many objects of each source a selection set is inside.
type Counts = [u64; 4];

fn index(source: SourceKind) -> usize {
    SourceKind::ALL
        .iter()
        .position(|candidate| *candidate == source)
        .unwrap_or(0)
}

fn page_size(source: SourceKind) -> u64 {
    match source {
        SourceKind::Spark => 25,
        _ => 100,
    }
}

/// The estimate for `operation`.
pub fn estimate(
    document: &ExecutableDocument,
    operation: &OperationDefinition,
    variables: &Variables,
    settings: &EstimateSettings,
) -> UpstreamEstimate {
    let mut walk = EstimateWalk {
        document,
        variables,
        settings,
        estimate: UpstreamEstimate::default(),
        properties_read: false,
    };
    let mutation = operation.ty == OperationType::Mutation;
    walk.root(&operation.selection_set.node, mutation);
    walk.estimate
}

/// The kind of object a selection set is on, as far as costs go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum On {
    /// Contacts listed with Winnerr's activities included.
    ContactConnection,
    /// Contacts; `activities_embedded`: Winnerr's were read with their
    /// activities; `detail_read`: Django-CRM's were read by id, whose detail
    /// lists their comments and attachments.
    Contact {
        activities_embedded: bool,
        detail_read: bool,
    },
    ActivityConnection,
    Activity,
    PropertyConnection,
    Property,
    PropertyContact,
    /// A mutation payload or bulk result holding contacts read back.
    Payload,
    BulkResults,
    /// One outcome of a bulk update.
    BulkResult,
}

struct EstimateWalk<'a> {
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    settings: &'a EstimateSettings,
    estimate: UpstreamEstimate,
    /// `Contact.properties` reads every property's links once per request.
    properties_read: bool,
}

impl<'a> EstimateWalk<'a> {
    /// The fields of a selection set, fragments and inline fragments
    /// expanded (cycles were refused by the cost walk; a spread of an
    /// unknown fragment is left to validation).
    fn fields(&self, set: &'a SelectionSet, out: &mut Vec<&'a Field>, depth: usize) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => out.push(&field.node),
                Selection::InlineFragment(fragment) => {
                    self.fields(&fragment.node.selection_set.node, out, depth)
                }
                Selection::FragmentSpread(spread) => {
                    if depth < 64 {
                        if let Some(fragment) =
                            self.document.fragments.get(&spread.node.fragment_name.node)
                        {
                            self.fields(&fragment.node.selection_set.node, out, depth + 1)
                        }
                    }
                }
            }
        }
    }

    fn default_sources(&self) -> Vec<SourceKind> {
        self.settings
            .default_sources
            .clone()
            .unwrap_or_else(|| self.settings.sources.clone())
    }

    fn argument(&self, field: &Field, name: &str) -> Option<Value> {
        let (_, value) = field.arguments.iter().find(|(n, _)| n.node == name)?;
        value
            .node
            .clone()
            .into_const_with(|variable| self.variables.get(&variable).cloned().ok_or(()))
            .ok()
    }

    fn integer(&self, field: &Field, name: &str) -> Option<u64> {
        match self.argument(field, name)? {
            Value::Number(number) => number.as_u64(),
            _ => None,
        }
    }

    fn id_source(&self, value: &Value) -> Option<(NodeType, SourceKind)> {
        match value {
            Value::String(text) => GlobalId::decode(text)
                .ok()
                .map(|id| (id.node_type, id.source)),
            _ => None,
        }
    }

    fn full_read(&self, source: SourceKind) -> u64 {
        self.settings.list_size / page_size(source) + 1
    }

    fn root(&mut self, set: &'a SelectionSet, mutation: bool) {
        let mut fields = Vec::new();
        self.fields(set, &mut fields, 0);
        for field in fields {
            if mutation {
                self.mutation(field);
            } else {
                self.query_field(field);
            }
        }
    }

    fn query_field(&mut self, field: &'a Field) {
        match field.name.node.as_str() {
            "contacts" => self.contacts(field),
            "contact" | "node" => {
                let id = self.argument(field, "id");
                let counts = self.lookup(id.iter());
                self.node(field, counts);
            }
            "nodes" => {
                let ids = match self.argument(field, "ids") {
                    Some(Value::List(ids)) => ids,
                    _ => Vec::new(),
                };
                let counts = self.lookup(ids.iter());
                self.node(field, counts);
            }
            "properties" => {
                let first = self.integer(field, "first").unwrap_or(20);
                let filtered = self
                    .argument(field, "filter")
                    .is_some_and(|v| v != Value::Null);
                let requests = if filtered {
                    self.full_read(SourceKind::OpenToClose)
                } else {
                    (first + 1).div_ceil(100) + u64::from(self.argument(field, "after").is_some())
                };
                self.estimate.add(SourceKind::OpenToClose, requests);
                let mut counts = [0; 4];
                counts[index(SourceKind::OpenToClose)] = first;
                self.below(field, On::PropertyConnection, counts);
            }
            "property" => {
                self.estimate.add(SourceKind::OpenToClose, 1);
                let mut counts = [0; 4];
                counts[index(SourceKind::OpenToClose)] = 1;
                self.below(field, On::Property, counts);
            }
            "myContact" => {
                self.estimate.add(SourceKind::Spark, 1);
                let mut counts = [0; 4];
                counts[index(SourceKind::Spark)] = 1;
                self.below(
                    field,
                    On::Contact {
                        activities_embedded: false,
                        detail_read: false,
                    },
                    counts,
                );
            }
            _ => {}
        }
    }

    /// Charges the lookups of `ids` and returns how many objects of each
    /// source they may answer.
    fn lookup<'v>(&mut self, ids: impl Iterator<Item = &'v Value>) -> Counts {
        let mut counts = [0; 4];
        for (_, source) in ids.filter_map(|id| self.id_source(id)) {
            counts[index(source)] += 1;
        }
        for source in SourceKind::ALL {
            let ids: u64 = counts[index(source)];
            let requests = match source {
                // Spark asks 25 ids at a time of its list, then of its
                // unconnected contacts; one id is one GET.
                SourceKind::Spark if ids > 1 => ids.div_ceil(25) * 2,
                _ => ids,
            };
            self.estimate.add(source, requests);
        }
        counts
    }

    /// The selections on a node looked up by id: a contact, a property or
    /// an activity, whichever the fragments ask about. The three types have
    /// no costly field name in common, so walking the selections as each of
    /// them charges each costly field once.
    fn node(&mut self, field: &'a Field, counts: Counts) {
        self.below(
            field,
            On::Contact {
                activities_embedded: true,
                detail_read: true,
            },
            counts,
        );
        self.below(field, On::Property, counts);
        self.below(field, On::Activity, counts);
    }

    fn contacts(&mut self, field: &'a Field) {
        let first = self
            .integer(field, "first")
            .or_else(|| self.integer(field, "last"))
            .unwrap_or(20);
        let backward = self
            .argument(field, "last")
            .is_some_and(|v| v != Value::Null)
            || self
                .argument(field, "before")
                .is_some_and(|v| v != Value::Null);
        let resumed = self
            .argument(field, "after")
            .is_some_and(|v| v != Value::Null);
        let filtered = match self.argument(field, "filter") {
            Some(Value::Object(filter)) => !filter.is_empty(),
            _ => false,
        };
        let (order_field, descending) = match self.argument(field, "orderBy") {
            Some(Value::Object(order)) => (
                match order.get("field") {
                    Some(Value::Enum(name)) => name.to_string(),
                    _ => "NAME".to_string(),
                },
                matches!(order.get("direction"), Some(Value::Enum(name)) if name.as_str() == "DESC"),
            ),
            _ => ("NAME".to_string(), false),
        };
        let sources: Vec<SourceKind> = match self.argument(field, "sources") {
            Some(Value::List(names)) => names
                .iter()
                .filter_map(|name| match name {
                    Value::Enum(name) => match name.as_str() {
                        "OPEN_TO_CLOSE" => Some(SourceKind::OpenToClose),
                        "DJANGO_CRM" => Some(SourceKind::DjangoCrm),
                        "WINNERR" => Some(SourceKind::Winnerr),
                        "SPARK" => Some(SourceKind::Spark),
                        _ => None,
                    },
                    _ => None,
                })
                .filter(|source| self.settings.sources.contains(source))
                .collect(),
            _ => self.default_sources(),
        };
        let mut counts = [0; 4];
        let source_count = sources.len() as u64;
        for source in sources {
            let native = match source {
                SourceKind::OpenToClose | SourceKind::Spark => order_field != "NAME",
                SourceKind::DjangoCrm => order_field == "CREATED_AT" && descending,
                SourceKind::Winnerr => true,
            };
            let requests = if backward {
                // The walk reads the merged list forward from its start in
                // pages of the largest page size, resuming each time.
                let pages =
                    self.settings.list_size * source_count / self.settings.max_page_size.max(1) + 1;
                if native && !filtered {
                    pages * ((self.settings.max_page_size + 1).div_ceil(page_size(source)) + 2)
                } else if !native && self.settings.snapshots {
                    self.full_read(source)
                } else {
                    pages * self.full_read(source)
                }
            } else if native && !filtered {
                (first + 1).div_ceil(page_size(source)) + 1 + u64::from(resumed)
            } else {
                self.full_read(source)
            };
            self.estimate.add(source, requests);
            counts[index(source)] = first;
        }
        self.below(field, On::ContactConnection, counts);
    }

    fn mutation(&mut self, field: &'a Field) {
        let input = match self.argument(field, "input") {
            Some(Value::Object(input)) => input,
            _ => Default::default(),
        };
        let mut counts = [0; 4];
        if field.name.node == "bulkUpdateContacts" {
            if let Some(Value::List(ids)) = input.get("ids") {
                let sources: Vec<SourceKind> = ids
                    .iter()
                    .filter_map(|id| self.id_source(id))
                    .map(|(_, source)| source)
                    .collect();
                for source in sources {
                    counts[index(source)] += 1;
                }
            }
            for source in SourceKind::ALL {
                let ids: u64 = counts[index(source)];
                let requests = match source {
                    // `PATCH /contacts/bulk`, 100 ids a request.
                    SourceKind::Winnerr => ids.div_ceil(100),
                    // An update and a read back per id.
                    _ => ids * 2,
                };
                self.estimate.add(source, requests);
            }
            self.below(field, On::BulkResults, counts);
            return;
        }
        let named = input
            .get("id")
            .or_else(|| input.get("contactId"))
            .or_else(|| input.get("propertyId"))
            .and_then(|id| self.id_source(id))
            .map(|(_, source)| source)
            .or_else(|| match input.get("source") {
                Some(Value::Enum(name)) => match name.as_str() {
                    "OPEN_TO_CLOSE" => Some(SourceKind::OpenToClose),
                    "DJANGO_CRM" => Some(SourceKind::DjangoCrm),
                    "WINNERR" => Some(SourceKind::Winnerr),
                    "SPARK" => Some(SourceKind::Spark),
                    _ => None,
                },
                _ => None,
            });
        let touched: Vec<SourceKind> = match named {
            Some(source) => vec![source],
            None if field.name.node == "updateMyContact" => vec![SourceKind::Spark],
            None => self.default_sources(),
        };
        for source in touched {
            self.estimate.add(source, 3);
            counts[index(source)] = 1;
        }
        self.below(field, On::Payload, counts);
    }

    /// Walks the selections of `field`, whose value is `on`, with `counts`
    /// objects of each source.
    fn below(&mut self, field: &'a Field, on: On, counts: Counts) {
        let mut fields = Vec::new();
        self.fields(&field.selection_set.node, &mut fields, 0);
        for child in fields {
            self.child(child, on, counts);
        }
    }

    fn child(&mut self, field: &'a Field, on: On, counts: Counts) {
        let name = field.name.node.as_str();
        match (on, name) {
            (On::ContactConnection, "nodes") | (On::ContactConnection, "edges") => self.below(
                field,
                On::Contact {
                    activities_embedded: true,
                    detail_read: false,
                },
                counts,
            ),
            (On::Contact { .. }, "node") => self.below(field, on, counts),
            (
                On::Contact {
                    activities_embedded,
                    detail_read,
                },
                "activities",
            ) => {
                let django = counts[index(SourceKind::DjangoCrm)];
                let winnerr = counts[index(SourceKind::Winnerr)];
                if !detail_read {
                    self.estimate.add(SourceKind::DjangoCrm, django);
                }
                if !activities_embedded {
                    self.estimate.add(SourceKind::Winnerr, winnerr);
                }
                // Every activity below belongs to one of these contacts, so
                // what is charged per activity's contact is charged per
                // contact.
                let mut contacts = [0; 4];
                contacts[index(SourceKind::DjangoCrm)] = django;
                contacts[index(SourceKind::Winnerr)] = winnerr;
                self.below(field, On::ActivityConnection, contacts);
            }
            (On::Contact { .. }, "properties") => {
                if counts[index(SourceKind::OpenToClose)] > 0 && !self.properties_read {
                    self.properties_read = true;
                    let properties = self.settings.list_size;
                    self.estimate
                        .add(SourceKind::OpenToClose, properties / 100 + 1 + properties);
                }
                let mut links = [0; 4];
                links[index(SourceKind::OpenToClose)] =
                    counts[index(SourceKind::OpenToClose)].saturating_mul(self.settings.list_size);
                self.below(field, On::PropertyContact, links);
            }
            (On::ActivityConnection, "nodes") | (On::ActivityConnection, "edges") => {
                self.below(field, On::Activity, counts)
            }
            (On::Activity, "node") => self.below(field, On::Activity, counts),
            (On::Activity, "contact") => {
                // The contact loader reads an activity's contact by id: one
                // Winnerr request per contact; a Django-CRM contact by id is
                // its detail, which its activities were read from already.
                self.estimate
                    .add(SourceKind::Winnerr, counts[index(SourceKind::Winnerr)]);
                self.below(
                    field,
                    On::Contact {
                        activities_embedded: false,
                        detail_read: false,
                    },
                    counts,
                );
            }
            (On::PropertyConnection, "nodes") | (On::PropertyConnection, "edges") => {
                self.below(field, On::Property, counts)
            }
            (On::Property, "node") => self.below(field, On::Property, counts),
            (On::Property, "contacts") => {
                let properties = counts[index(SourceKind::OpenToClose)];
                self.estimate.add(SourceKind::OpenToClose, properties);
                // A property's links are few; each is an Open To Close
                // contact and property, nested in the links' answer.
                let mut links = [0; 4];
                links[index(SourceKind::OpenToClose)] = properties.saturating_mul(50);
                self.below(field, On::PropertyContact, links);
            }
            (On::PropertyContact, "contact") => self.below(
                field,
                On::Contact {
                    activities_embedded: false,
                    detail_read: false,
                },
                counts,
            ),
            (On::PropertyContact, "property") => self.below(field, On::Property, counts),
            (On::Payload, "contact") => self.below(
                field,
                On::Contact {
                    activities_embedded: false,
                    detail_read: false,
                },
                counts,
            ),
            (On::Payload, "activity") => self.below(field, On::Activity, counts),
            (On::Payload, "propertyContact") => self.below(field, On::PropertyContact, counts),
            (On::BulkResults, "results") => self.below(field, On::BulkResult, counts),
            (On::BulkResult, "contact") => {
                // Winnerr's bulk answer holds outcomes only: each updated
                // contact is read when asked for.
                self.estimate
                    .add(SourceKind::Winnerr, counts[index(SourceKind::Winnerr)]);
                self.below(
                    field,
                    On::Contact {
                        activities_embedded: false,
                        detail_read: false,
                    },
                    counts,
                )
            }
            (On::Payload, _) | (On::BulkResults, _) | (On::BulkResult, _) => {}
            _ => {}
        }
    }
}
