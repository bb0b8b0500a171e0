//! Parsed documents kept by their text, so that a query a client sends again
//! is neither lexed, parsed nor validated again: what Apollo Router does
//! with its query plans, for the same reason. A front end sends the same few
//! operations over and over; parsing and validating them was a fifth of the
//! gateway's CPU for a single-contact query.
//!
//! The key is the whole query text, compared whole (moka hashes it and then
//! compares it with `Eq`), so a document is never served for any other text.
//! An entry is made only for a text that passed every check of the edge,
//! text and document: what is kept is what would be parsed again.
//!
//! Validation (async-graphql's rules, its depth and complexity limits) and
//! the upstream estimate are functions of the document, the operation name
//! and the variables. With no variables, an operation that passed them all
//! and ran is kept on the entry as *known*, with its estimate; the next
//! request for it runs on the schema without extensions and with fast
//! validation (`graphql::build_known_document_schema`). An operation that
//! passed them all and ran with variables is a *known shape*: with new
//! variables, the edge estimates it again and it is validated in full (the
//! rules check the variables' values), on the schema without extensions
//! (`graphql::build_known_document_schema` with strict validation).
//! Only operation names the document defines (or none) are kept, so an
//! entry's size is bounded by its own text.
//!
//! The cache is bounded by weight: each entry weighs its text's length
//! times [`DOCUMENT_WEIGHT_FACTOR`] (a parsed document, with its positions
//! and names, is about that much larger than its text).

use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument};

use super::estimate::UpstreamEstimate;

/// Bytes of memory a document's text is weighed at, per byte of text.
pub const DOCUMENT_WEIGHT_FACTOR: u32 = 12;

/// A bounded cache of parsed documents by query text.
#[derive(Clone)]
pub struct DocumentCache {
    documents: Option<moka::sync::Cache<Arc<str>, Arc<PreparedDocument>>>,
}

impl std::fmt::Debug for DocumentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentCache")
            .field("enabled", &self.documents.is_some())
            .finish()
    }
}

/// A parsed document that passed the edge's checks once, and its operations
/// known to pass every check when sent without variables.
#[derive(Debug)]
pub struct PreparedDocument {
    document: ExecutableDocument,
    /// The known operations, by name, with their upstream estimates.
    known: Mutex<Vec<(Option<String>, UpstreamEstimate)>>,
    /// Operations that passed every check and ran with variables, by name.
    known_shapes: Mutex<Vec<Option<String>>>,
}

impl DocumentCache {
    /// A cache holding at most about `max_bytes` (0 keeps nothing).
    pub fn new(max_bytes: u64) -> Self {
        let documents = (max_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|text: &Arc<str>, _: &Arc<PreparedDocument>| {
                    u32::try_from(text.len())
                        .unwrap_or(u32::MAX)
                        .saturating_mul(DOCUMENT_WEIGHT_FACTOR)
                })
                .build()
        });
        Self { documents }
    }

    /// The document kept for exactly this text.
    pub fn get(&self, text: &str) -> Option<Arc<PreparedDocument>> {
        self.documents.as_ref()?.get(text)
    }

    /// Keeps `document` as the parse of `text`.
    pub fn insert(&self, text: &str, document: Arc<PreparedDocument>) {
        if let Some(documents) = &self.documents {
            documents.insert(Arc::from(text), document);
        }
    }

    /// The weight of what is kept, after pending evictions ran.
    pub fn weighted_size(&self) -> u64 {
        self.documents.as_ref().map_or(0, |documents| {
            documents.run_pending_tasks();
            documents.weighted_size()
        })
    }
}

impl PreparedDocument {
    /// A document that has passed the edge's checks.
    pub fn new(document: ExecutableDocument) -> Self {
        Self {
            document,
            known: Mutex::new(Vec::new()),
            known_shapes: Mutex::new(Vec::new()),
        }
    }

    /// The parsed document.
    pub fn document(&self) -> &ExecutableDocument {
        &self.document
    }

    /// The estimate of `operation_name` when it is known to pass every check
    /// without variables.
    pub fn known(&self, operation_name: Option<&str>) -> Option<UpstreamEstimate> {
        self.lock()
            .iter()
            .find(|(name, _)| name.as_deref() == operation_name)
            .map(|(_, estimate)| estimate.clone())
    }

    /// Records that `operation_name`, sent without variables, passed every
    /// check, when it is an operation the document defines (or none).
    pub fn keep_known(&self, operation_name: Option<&str>, estimate: UpstreamEstimate) {
        if !self.defines(operation_name) {
            return;
        }
        let mut known = self.lock();
        if !known
            .iter()
            .any(|(name, _)| name.as_deref() == operation_name)
        {
            known.push((operation_name.map(str::to_string), estimate));
        }
    }

    /// Whether `operation_name` passed every check and ran with some
    /// variables: with others, only their values are new.
    pub fn is_known_shape(&self, operation_name: Option<&str>) -> bool {
        self.shapes()
            .iter()
            .any(|name| name.as_deref() == operation_name)
    }

    /// Records that `operation_name` passed every check and ran with
    /// variables, when it is an operation the document defines (or none).
    pub fn keep_known_shape(&self, operation_name: Option<&str>) {
        if !self.defines(operation_name) {
            return;
        }
        let mut shapes = self.shapes();
        if !shapes.iter().any(|name| name.as_deref() == operation_name) {
            shapes.push(operation_name.map(str::to_string));
        }
    }

    fn defines(&self, operation_name: Option<&str>) -> bool {
        match (&self.document.operations, operation_name) {
            (_, None) => true,
            (DocumentOperations::Single(_), Some(_)) => false,
            (DocumentOperations::Multiple(operations), Some(name)) => operations
                .keys()
                .any(|candidate| candidate.as_str() == name),
        }
    }

    fn shapes(&self) -> std::sync::MutexGuard<'_, Vec<Option<String>>> {
        // As for `lock`.
        self.known_shapes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Option<String>, UpstreamEstimate)>> {
        // The list is appended to in one statement; a panic while it is
        // held cannot leave it half-written.
        self.known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(text: &str) -> Arc<PreparedDocument> {
        Arc::new(PreparedDocument::new(
            async_graphql::parser::parse_query(text).unwrap(),
        ))
    }

    fn estimate(requests: u64) -> UpstreamEstimate {
        UpstreamEstimate {
            by_source: [(crate::domain::SourceKind::Spark, requests)].into(),
        }
    }

    #[test]
    fn a_document_is_served_only_for_its_own_text() {
        let cache = DocumentCache::new(1 << 20);
        cache.insert("{ a }", prepared("{ a }"));
        assert!(cache.get("{ a }").is_some());
        assert!(cache.get("{ a } ").is_none());
        assert!(cache.get("{ b }").is_none());
        assert!(cache.get("{ A }").is_none());
    }

    #[test]
    fn the_cache_stays_within_its_byte_budget() {
        let budget = 64 * 1024;
        let cache = DocumentCache::new(budget);
        for n in 0..5_000 {
            let text = format!("{{ field{n} }}");
            cache.insert(&text, prepared(&text));
        }
        assert!(cache.weighted_size() <= budget);
        assert!(cache.weighted_size() > 0);
    }

    #[test]
    fn a_zero_budget_keeps_nothing() {
        let cache = DocumentCache::new(0);
        cache.insert("{ a }", prepared("{ a }"));
        assert!(cache.get("{ a }").is_none());
    }

    #[test]
    fn only_operations_the_document_defines_become_known() {
        let document = prepared("query One { a } query Two { b }");
        document.keep_known(Some("One"), estimate(1));
        document.keep_known(Some("Three"), estimate(3));
        document.keep_known(None, estimate(0));
        assert_eq!(document.known(Some("One")), Some(estimate(1)));
        assert!(document.known(Some("Two")).is_none());
        assert!(document.known(Some("Three")).is_none());
        assert_eq!(document.known(None), Some(estimate(0)));

        let anonymous = prepared("{ a }");
        anonymous.keep_known(Some("One"), estimate(1));
        assert!(anonymous.known(Some("One")).is_none());

        document.keep_known_shape(Some("Two"));
        document.keep_known_shape(Some("Three"));
        assert!(document.is_known_shape(Some("Two")));
        assert!(!document.is_known_shape(Some("One")));
        assert!(!document.is_known_shape(Some("Three")));
    }
}
