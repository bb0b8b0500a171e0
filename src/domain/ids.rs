//! Opaque global ids: `base64url("Type:source:upstream-id")`.
//!
//! Clients must treat them as opaque; the gateway decodes them to route a
//! `node(id:)` to the right source without calling any upstream first.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::SourceKind;

/// The node types that carry global ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeType {
    Contact,
    Property,
    Activity,
}

impl NodeType {
    fn as_str(self) -> &'static str {
        match self {
            NodeType::Contact => "Contact",
            NodeType::Property => "Property",
            NodeType::Activity => "Activity",
        }
    }

    fn parse(name: &str) -> Option<NodeType> {
        [NodeType::Contact, NodeType::Property, NodeType::Activity]
            .into_iter()
            .find(|t| t.as_str() == name)
    }
}

/// A decoded global id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GlobalId {
    pub node_type: NodeType,
    pub source: SourceKind,
    pub source_id: String,
}

/// Why a string is not a global id of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobalIdError {
    /// The id is not one this gateway issued.
    #[error("`{0}` is not a valid id")]
    Malformed(String),
    /// The id names another type than the one asked for.
    #[error("id `{id}` names a {found}, not a {expected}")]
    WrongType {
        id: String,
        found: &'static str,
        expected: &'static str,
    },
}

impl GlobalId {
    pub fn new(node_type: NodeType, source: SourceKind, source_id: impl Into<String>) -> Self {
        Self {
            node_type,
            source,
            source_id: source_id.into(),
        }
    }

    /// The opaque string form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{}:{}:{}",
            self.node_type.as_str(),
            self.source.as_str(),
            self.source_id
        ))
    }

    /// Decodes an id produced by [`GlobalId::encode`].
    pub fn decode(id: &str) -> Result<GlobalId, GlobalIdError> {
        let malformed = || GlobalIdError::Malformed(truncate(id));
        let bytes = URL_SAFE_NO_PAD
            .decode(id.as_bytes())
            .map_err(|_| malformed())?;
        let text = String::from_utf8(bytes).map_err(|_| malformed())?;
        let mut parts = text.splitn(3, ':');
        let node_type = parts
            .next()
            .and_then(NodeType::parse)
            .ok_or_else(malformed)?;
        let source = parts
            .next()
            .and_then(SourceKind::parse)
            .ok_or_else(malformed)?;
        let source_id = parts
            .next()
            .filter(|s| !s.is_empty())
            .ok_or_else(malformed)?;
        if source_id.chars().any(char::is_control) {
            return Err(malformed());
        }
        Ok(GlobalId::new(node_type, source, source_id))
    }

    /// Decodes and checks the type.
    pub fn decode_as(id: &str, expected: NodeType) -> Result<GlobalId, GlobalIdError> {
        let decoded = Self::decode(id)?;
        if decoded.node_type != expected {
            return Err(GlobalIdError::WrongType {
                id: truncate(id),
                found: decoded.node_type.as_str(),
                expected: expected.as_str(),
            });
        }
        Ok(decoded)
    }
}

/// Error messages quote the id, but never an unbounded amount of client input.
fn truncate(id: &str) -> String {
    if id.chars().count() <= 64 {
        id.to_string()
    } else {
        format!("{}…", id.chars().take(64).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let id = GlobalId::new(NodeType::Contact, SourceKind::Winnerr, "contact_ab:cd");
        assert_eq!(GlobalId::decode(&id.encode()).unwrap(), id);
    }

    #[test]
    fn rejects_foreign_and_malformed_ids() {
        for bad in [
            "",
            "abc",
            "!!!",
            &URL_SAFE_NO_PAD.encode("Contact:nosuch:1"),
            &URL_SAFE_NO_PAD.encode("Contact:spark:"),
            &URL_SAFE_NO_PAD.encode("User:spark:1"),
        ] {
            assert!(GlobalId::decode(bad).is_err(), "{bad}");
        }
        let property = GlobalId::new(NodeType::Property, SourceKind::OpenToClose, "1").encode();
        assert!(matches!(
            GlobalId::decode_as(&property, NodeType::Contact),
            Err(GlobalIdError::WrongType { .. })
        ));
    }
}
