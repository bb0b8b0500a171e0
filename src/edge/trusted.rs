//! Trusted documents: a manifest of the operations a front end was built
//! with, and the lookup that lets only those run.
//!
//! The manifest is the JSON file GraphQL Code Generator's client preset
//! writes with `persistedDocuments: true`: one object mapping each
//! document's hash to its text. A key is the lowercase hex SHA-256 of the
//! text, either bare or with the `sha256:` prefix some tools add; both spell
//! the same document, and a client may send either. A manifest whose key
//! is not such a hash, or whose key does not match its text, is refused at
//! start: it would otherwise let a hash run a document nobody reviewed
//! under it.
//!
//! A client names a document by `documentId` (GraphQL over HTTP's persisted
//! documents) or by `extensions.persistedQuery.sha256Hash` (Apollo's
//! protocol); it may also send the full text of a manifest document, which
//! is recognised by its hash. With `[operations] only_trusted = true` a
//! request that names no manifest document is refused with
//! `OPERATION_NOT_TRUSTED` before it is parsed, so it costs no upstream
//! request and no work that grows with its text.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

/// The prefix some tools put before a SHA-256 document hash.
const SHA256_PREFIX: &str = "sha256:";

/// The operations a manifest allows, by the hex SHA-256 of their text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedDocuments {
    by_hash: HashMap<String, Arc<str>>,
}

/// Why a manifest could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TrustedDocumentsError {
    /// The file could not be read.
    #[error("cannot read the trusted documents manifest: {0}")]
    Read(#[from] std::io::Error),
    /// The file is not a JSON object of strings.
    #[error(
        "the trusted documents manifest is not a JSON object mapping hashes to documents: {0}"
    )]
    NotAManifest(#[from] serde_json::Error),
    /// A key is not a SHA-256 hash, bare or `sha256:`-prefixed.
    #[error("the trusted documents manifest key `{key}` is not a SHA-256 hash (64 hex digits, optionally prefixed by `sha256:`)")]
    BadKey { key: String },
    /// A key is not the SHA-256 of its document.
    #[error("the trusted documents manifest key `{key}` is not the SHA-256 of its document (which hashes to {actual})")]
    HashMismatch { key: String, actual: String },
    /// The manifest allows nothing, which is almost surely the wrong file.
    #[error("the trusted documents manifest is empty")]
    Empty,
}

impl TrustedDocuments {
    /// Reads and checks the manifest at `path`.
    pub fn load(path: &Path) -> Result<TrustedDocuments, TrustedDocumentsError> {
        let text = std::fs::read_to_string(path)?;
        Self::from_json(&text)
    }

    /// Reads and checks a manifest's JSON text.
    pub fn from_json(text: &str) -> Result<TrustedDocuments, TrustedDocumentsError> {
        let entries: HashMap<String, String> = serde_json::from_str(text)?;
        if entries.is_empty() {
            return Err(TrustedDocumentsError::Empty);
        }
        let mut by_hash = HashMap::with_capacity(entries.len());
        for (key, document) in entries {
            let Some(hash) = normalise_hash(&key) else {
                return Err(TrustedDocumentsError::BadKey { key });
            };
            let actual = sha256_hex(&document);
            if actual != hash {
                return Err(TrustedDocumentsError::HashMismatch { key, actual });
            }
            by_hash.insert(hash, Arc::from(document));
        }
        Ok(TrustedDocuments { by_hash })
    }

    /// The document a hash (bare or `sha256:`-prefixed, any case) names.
    pub fn document(&self, hash: &str) -> Option<Arc<str>> {
        self.by_hash.get(&normalise_hash(hash)?).cloned()
    }

    /// Whether `query` is, byte for byte, a manifest document.
    pub fn contains_text(&self, query: &str) -> bool {
        self.by_hash.contains_key(&sha256_hex(query))
    }

    /// How many documents the manifest allows.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether the manifest allows nothing (never true of a loaded one).
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

/// The lowercase hex SHA-256 of `text`, as the manifest keys it.
pub fn sha256_hex(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

/// A hash as the manifest keys it: prefix removed, lowercase; `None` when it
/// is not 64 hex digits.
fn normalise_hash(hash: &str) -> Option<String> {
    let bare = hash.strip_prefix(SHA256_PREFIX).unwrap_or(hash);
    (bare.len() == 64 && bare.bytes().all(|byte| byte.is_ascii_hexdigit()))
        .then(|| bare.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCUMENT: &str = "query Names { contacts(first: 2) { nodes { displayName } } }";

    #[test]
    fn reads_bare_and_prefixed_keys_and_finds_a_document_by_either() {
        let hash = sha256_hex(DOCUMENT);
        let other = "query Other { __typename }";
        let manifest = serde_json::json!({
            hash.clone(): DOCUMENT,
            format!("sha256:{}", sha256_hex(other)): other,
        })
        .to_string();
        let trusted = TrustedDocuments::from_json(&manifest).unwrap();
        assert_eq!(trusted.len(), 2);
        assert_eq!(trusted.document(&hash).as_deref(), Some(DOCUMENT));
        assert_eq!(
            trusted
                .document(&format!("sha256:{}", hash.to_uppercase()))
                .as_deref(),
            Some(DOCUMENT)
        );
        assert_eq!(trusted.document(&sha256_hex(other)).as_deref(), Some(other));
        assert!(trusted.contains_text(DOCUMENT));
        assert!(!trusted.contains_text("query Names { __typename }"));
        assert_eq!(trusted.document(&sha256_hex("{ a }")), None);
        assert_eq!(trusted.document("not a hash"), None);
    }

    #[test]
    fn refuses_manifests_that_are_not_hashes_of_their_documents() {
        let hash = sha256_hex(DOCUMENT);
        assert!(matches!(
            TrustedDocuments::from_json("[]"),
            Err(TrustedDocumentsError::NotAManifest(_))
        ));
        assert!(matches!(
            TrustedDocuments::from_json(r#"{"a": 1}"#),
            Err(TrustedDocumentsError::NotAManifest(_))
        ));
        assert!(matches!(
            TrustedDocuments::from_json("{}"),
            Err(TrustedDocumentsError::Empty)
        ));
        assert!(matches!(
            TrustedDocuments::from_json(&serde_json::json!({ "Names": DOCUMENT }).to_string()),
            Err(TrustedDocumentsError::BadKey { .. })
        ));
        assert!(matches!(
            TrustedDocuments::from_json(
                &serde_json::json!({ hash: "query Names { __typename }" }).to_string()
            ),
            Err(TrustedDocumentsError::HashMismatch { .. })
        ));
    }
}
