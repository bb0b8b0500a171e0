//! The callers' part of the configuration: `[auth]` (the mode, the
//! principals, their key hashes, credentials, sources and rate limits) and
//! the `forward` table of each source section, read from the file and
//! resolved against the configured sources and the environment.
//!
//! A file without `[auth]` is refused: a gateway that anyone on the network
//! can call is an open proxy to four CRMs, so being open must be written
//! down (`mode = "open"`).

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::http::HeaderName;
use serde::Deserialize;

use super::keys::KeyHash;
use crate::config::{ConfigError, Secret, SourceConfig, SourceCredentials};
use crate::domain::SourceKind;

/// `[auth]` as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthFile {
    /// `keys` (every request needs a key) or `open`.
    #[serde(default)]
    pub mode: AuthMode,
    /// `[auth.principals.NAME]`, one per caller.
    #[serde(default)]
    pub principals: BTreeMap<String, PrincipalFile>,
}

/// Whether callers need a key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Every request names a principal with its key; others are refused.
    #[default]
    Keys,
    /// No key is asked for: every caller acts with the gateway's own
    /// credentials (and any forwarded ones), on every source, unlimited.
    Open,
}

/// `[auth.principals.NAME]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalFile {
    /// `sha256:HEX` of each key that names this principal.
    pub key_hashes: Vec<String>,
    /// Mutations are refused with `FORBIDDEN`.
    #[serde(default)]
    pub read_only: bool,
    /// The sources this principal may use; every configured one when unset.
    pub allowed_sources: Option<Vec<SourceKind>>,
    /// The principal's own credentials, by source; a source without them
    /// uses the gateway's.
    #[serde(default)]
    pub credentials: PrincipalCredentialsFile,
    /// Requests per second and upstream requests per minute.
    pub rate_limit: Option<RateLimitFile>,
}

/// `[auth.principals.NAME.credentials.*]`: environment variable names, as in
/// the source sections.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalCredentialsFile {
    pub opentoclose: Option<OpenToCloseCredentialsFile>,
    pub djangocrm: Option<DjangoCrmCredentialsFile>,
    pub winnerr: Option<TokenCredentialsFile>,
    pub spark: Option<TokenCredentialsFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenToCloseCredentialsFile {
    pub api_token_env: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DjangoCrmCredentialsFile {
    pub token_env: String,
    pub organization_id_env: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenCredentialsFile {
    pub token_env: String,
}

/// `rate_limit = { ... }` of a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitFile {
    /// Requests per second, sustained.
    pub requests_per_second: u32,
    /// Requests allowed at once above the sustained rate; by default one
    /// second's worth.
    pub burst: Option<u32>,
    /// Upstream requests per minute, as the edge estimates each operation
    /// before it runs; unlimited when unset.
    pub upstream_requests_per_minute: Option<u32>,
}

/// `forward = { ... }` of a source section: credentials a front end sends
/// for its signed-in user, in request headers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardFile {
    /// The header carrying the token (`Bearer ` before it is optional).
    pub header: Option<String>,
    /// Django-CRM only: the header carrying the `organization-id`.
    pub organization_header: Option<String>,
    /// Refuse a request without the header(s) instead of using the
    /// principal's credentials for this source.
    #[serde(default)]
    pub required: bool,
}

/// The callers' configuration the gateway runs with.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub mode: AuthMode,
    pub principals: Vec<PrincipalConfig>,
    /// Forwarded credentials, by source.
    pub forward: Vec<ForwardConfig>,
}

impl AuthConfig {
    /// Open: no key asked, nothing forwarded. Written explicitly wherever it
    /// is used (the demo's configuration in code, tests).
    pub fn open() -> AuthConfig {
        AuthConfig {
            mode: AuthMode::Open,
            principals: Vec::new(),
            forward: Vec::new(),
        }
    }

    /// Keys: the given principals and nothing forwarded.
    pub fn keys(principals: Vec<PrincipalConfig>) -> AuthConfig {
        AuthConfig {
            mode: AuthMode::Keys,
            principals,
            forward: Vec::new(),
        }
    }
}

/// One principal, resolved.
#[derive(Debug, Clone)]
pub struct PrincipalConfig {
    pub name: String,
    pub key_hashes: Vec<KeyHash>,
    pub read_only: bool,
    /// `None`: every configured source.
    pub allowed_sources: Option<Vec<SourceKind>>,
    /// The principal's own credentials (secrets read), by source.
    pub credentials: Vec<SourceCredentials>,
    pub rate_limit: Option<RateLimit>,
}

impl PrincipalConfig {
    /// A principal with one key, every source, the gateway's credentials,
    /// no limits.
    pub fn new(name: impl Into<String>, key_hash: KeyHash) -> PrincipalConfig {
        PrincipalConfig {
            name: name.into(),
            key_hashes: vec![key_hash],
            read_only: false,
            allowed_sources: None,
            credentials: Vec::new(),
            rate_limit: None,
        }
    }
}

/// A principal's rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests_per_second: u32,
    pub burst: u32,
    pub upstream_requests_per_minute: Option<u32>,
}

/// Which headers carry forwarded credentials for one source.
#[derive(Debug, Clone)]
pub struct ForwardConfig {
    pub source: SourceKind,
    /// The token (the `api_token` on Open To Close).
    pub header: Option<HeaderName>,
    /// Django-CRM's `organization-id`.
    pub organization_header: Option<HeaderName>,
    pub required: bool,
}

/// Headers the gateway reads itself, which a forward may not name.
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "x-api-key",
    "cookie",
    "content-type",
    "accept",
    "host",
];

/// Resolves `[auth]` and the sources' `forward` tables.
pub fn resolve(
    file: Option<AuthFile>,
    forwards: Vec<(SourceKind, ForwardFile)>,
    sources: &[SourceConfig],
    path: &str,
    env: &HashMap<String, String>,
) -> Result<AuthConfig, ConfigError> {
    let Some(file) = file else {
        return Err(ConfigError::NoAuth {
            path: path.to_string(),
        });
    };
    let forward = forwards
        .into_iter()
        .map(|(source, forward)| resolve_forward(source, forward))
        .collect::<Result<Vec<_>, _>>()?;
    let mut headers = HashSet::new();
    for header in forward
        .iter()
        .flat_map(|f| [&f.header, &f.organization_header])
        .flatten()
    {
        if !headers.insert(header.clone()) {
            return Err(ConfigError::Invalid(format!(
                "the header `{header}` is forwarded for two credentials; give each its own"
            )));
        }
    }
    if file.mode == AuthMode::Open {
        if !file.principals.is_empty() {
            return Err(ConfigError::Invalid(
                "auth: mode = \"open\" asks for no key, so principals would never be used; \
                 remove them or use mode = \"keys\""
                    .into(),
            ));
        }
        return Ok(AuthConfig {
            mode: AuthMode::Open,
            principals: Vec::new(),
            forward,
        });
    }
    if file.principals.is_empty() {
        return Err(ConfigError::Invalid(
            "auth: mode = \"keys\" needs at least one [auth.principals.NAME] with key_hashes \
             (`contact-gateway keys new NAME` prints a key and its line), or mode = \"open\""
                .into(),
        ));
    }
    let mut seen_hashes = HashSet::new();
    let mut principals = Vec::new();
    for (name, principal) in file.principals {
        let context =
            |message: String| ConfigError::Invalid(format!("auth.principals.{name}: {message}"));
        if principal.key_hashes.is_empty() {
            return Err(context(
                "key_hashes is empty, so no caller could act as this principal".into(),
            ));
        }
        let mut key_hashes = Vec::new();
        for text in &principal.key_hashes {
            let hash = KeyHash::parse(text).map_err(|message| context(message.to_string()))?;
            if !seen_hashes.insert(hash) {
                return Err(context(
                    "a key hash is listed twice; a key names one principal".into(),
                ));
            }
            key_hashes.push(hash);
        }
        let configured = |kind: SourceKind| sources.iter().find(|s| s.kind == kind);
        if let Some(allowed) = &principal.allowed_sources {
            if let Some(kind) = allowed.iter().find(|kind| configured(**kind).is_none()) {
                return Err(context(format!(
                    "allowed_sources names {kind}, which has no [sources.{kind}] section"
                )));
            }
        }
        let secret = |variable: &str| {
            env.get(variable)
                .filter(|value| !value.is_empty())
                .map(|value| Secret::new(value.clone()))
                .ok_or_else(|| ConfigError::MissingPrincipalEnv {
                    principal: name.clone(),
                    variable: variable.to_string(),
                })
        };
        let needs_source = |kind: SourceKind| {
            configured(kind).ok_or_else(|| {
                context(format!(
                    "credentials for {kind}, which has no [sources.{kind}] section"
                ))
            })
        };
        let own = principal.credentials;
        let mut credentials = Vec::new();
        if let Some(c) = own.opentoclose {
            needs_source(SourceKind::OpenToClose)?;
            credentials.push(SourceCredentials::OpenToClose {
                api_token: secret(&c.api_token_env)?,
            });
        }
        if let Some(c) = own.djangocrm {
            needs_source(SourceKind::DjangoCrm)?;
            credentials.push(SourceCredentials::DjangoCrm {
                token: secret(&c.token_env)?,
                organization_id: secret(&c.organization_id_env)?,
            });
        }
        if let Some(c) = own.winnerr {
            needs_source(SourceKind::Winnerr)?;
            credentials.push(SourceCredentials::Winnerr {
                token: secret(&c.token_env)?,
            });
        }
        if let Some(c) = own.spark {
            let spark = needs_source(SourceKind::Spark)?;
            // Spark's user agent names the gateway, not the user.
            let user_agent = match &spark.credentials {
                SourceCredentials::Spark { user_agent, .. } => user_agent.clone(),
                _ => String::new(),
            };
            credentials.push(SourceCredentials::Spark {
                token: secret(&c.token_env)?,
                user_agent,
            });
        }
        let rate_limit = match principal.rate_limit {
            None => None,
            Some(limit) => {
                if limit.requests_per_second == 0
                    || limit.burst == Some(0)
                    || limit.upstream_requests_per_minute == Some(0)
                {
                    return Err(context(
                        "rate_limit values must be at least 1 (leave a limit out to have none)"
                            .into(),
                    ));
                }
                Some(RateLimit {
                    requests_per_second: limit.requests_per_second,
                    burst: limit.burst.unwrap_or(limit.requests_per_second),
                    upstream_requests_per_minute: limit.upstream_requests_per_minute,
                })
            }
        };
        principals.push(PrincipalConfig {
            name: name.clone(),
            key_hashes,
            read_only: principal.read_only,
            allowed_sources: principal.allowed_sources,
            credentials,
            rate_limit,
        });
    }
    Ok(AuthConfig {
        mode: AuthMode::Keys,
        principals,
        forward,
    })
}

fn resolve_forward(source: SourceKind, file: ForwardFile) -> Result<ForwardConfig, ConfigError> {
    let invalid =
        |message: String| ConfigError::Invalid(format!("sources.{source}.forward: {message}"));
    let header = |name: &Option<String>| -> Result<Option<HeaderName>, ConfigError> {
        let Some(name) = name else { return Ok(None) };
        let header = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| invalid(format!("`{name}` is not a header name")))?;
        if RESERVED_HEADERS.contains(&header.as_str()) {
            return Err(invalid(format!(
                "`{header}` is read by the gateway itself; name a header of its own, such as x-{source}-authorization"
            )));
        }
        Ok(Some(header))
    };
    let token_header = header(&file.header)?;
    let organization_header = header(&file.organization_header)?;
    if organization_header.is_some() && source != SourceKind::DjangoCrm {
        return Err(invalid("organization_header is Django-CRM's alone".into()));
    }
    if token_header.is_none() && organization_header.is_none() {
        return Err(invalid(
            "name the header that carries the credential".into(),
        ));
    }
    Ok(ForwardConfig {
        source,
        header: token_header,
        organization_header,
        required: file.required,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::{ConfigError, GatewayConfig};
    use crate::domain::SourceKind;

    use super::AuthMode;

    const SOURCES: &str = r#"
        [sources.winnerr]
        base_url = "http://127.0.0.1:9/winnerr/v1"
        token_env = "W_TOKEN"
        [sources.spark]
        base_url = "http://127.0.0.1:9/spark/v1"
        token_env = "S_TOKEN"
        user_agent = "Test/1.0"
    "#;

    const HASH: &str = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    fn load(auth: &str) -> Result<GatewayConfig, ConfigError> {
        let env = [
            ("W_TOKEN", "w"),
            ("S_TOKEN", "s"),
            ("S_TOKEN_ALICE", "s-alice"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        GatewayConfig::from_toml(&format!("{SOURCES}\n{auth}"), "test.toml", &env)
    }

    #[test]
    fn a_file_without_auth_is_refused_and_told_how_to_be_open() {
        let error = load("").unwrap_err();
        assert!(matches!(error, ConfigError::NoAuth { .. }), "{error}");
        assert!(error.to_string().contains("mode = \"open\""), "{error}");
        assert_eq!(
            load("[auth]\nmode = \"open\"").unwrap().auth.mode,
            AuthMode::Open
        );
    }

    #[test]
    fn principals_read_their_keys_sources_credentials_and_limits() {
        let config = load(&format!(
            "[auth]\n\
             [auth.principals.alice]\n\
             key_hashes = [\"{HASH}\"]\n\
             read_only = true\n\
             allowed_sources = [\"spark\"]\n\
             rate_limit = {{ requests_per_second = 5 }}\n\
             [auth.principals.alice.credentials.spark]\n\
             token_env = \"S_TOKEN_ALICE\"\n"
        ))
        .unwrap();
        assert_eq!(config.auth.mode, AuthMode::Keys);
        let alice = &config.auth.principals[0];
        assert_eq!(alice.name, "alice");
        assert!(alice.read_only);
        assert_eq!(alice.allowed_sources, Some(vec![SourceKind::Spark]));
        let limit = alice.rate_limit.unwrap();
        assert_eq!((limit.requests_per_second, limit.burst), (5, 5));
        assert_eq!(limit.upstream_requests_per_minute, None);
        assert_eq!(alice.credentials.len(), 1);
        assert!(!format!("{config:?}").contains("s-alice"));
    }

    #[test]
    fn forward_tables_name_headers_of_their_own() {
        let forward = |table: &str| {
            let sources = SOURCES.replace(
                "user_agent = \"Test/1.0\"",
                &format!("user_agent = \"Test/1.0\"\nforward = {table}"),
            );
            let env = [("W_TOKEN", "w"), ("S_TOKEN", "s")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            GatewayConfig::from_toml(
                &format!("{sources}\n[auth]\nmode = \"open\""),
                "t.toml",
                &env,
            )
        };
        let config = forward("{ header = \"X-Spark-Authorization\", required = true }").unwrap();
        assert_eq!(config.auth.forward[0].source, SourceKind::Spark);
        assert_eq!(
            config.auth.forward[0].header.as_ref().map(|h| h.as_str()),
            Some("x-spark-authorization")
        );
        assert!(config.auth.forward[0].required);
        for (table, expected) in [
            (
                "{ header = \"authorization\" }",
                "read by the gateway itself",
            ),
            ("{ header = \"x-api-key\" }", "read by the gateway itself"),
            ("{ organization_header = \"x-org\" }", "Django-CRM's alone"),
            ("{ required = true }", "name the header"),
            ("{ header = \"bad header\" }", "not a header name"),
        ] {
            let error = forward(table).unwrap_err().to_string();
            assert!(error.contains(expected), "{table}: {error}");
        }
    }

    #[test]
    fn mistakes_in_auth_are_refused_with_their_reason() {
        let principal = |body: &str| {
            load(&format!(
                "[auth]\n[auth.principals.bob]\nkey_hashes = [\"{HASH}\"]\n{body}"
            ))
        };
        for (config, expected) in [
            (
                load("[auth]\nmode = \"open\"\n[auth.principals.bob]\nkey_hashes = []\n"),
                "principals would never be used",
            ),
            (load("[auth]\n"), "needs at least one"),
            (
                load("[auth]\n[auth.principals.bob]\nkey_hashes = []\n"),
                "key_hashes is empty",
            ),
            (
                load("[auth]\n[auth.principals.bob]\nkey_hashes = [\"abc\"]\n"),
                "64 hexadecimal digits",
            ),
            (
                principal("allowed_sources = [\"opentoclose\"]"),
                "has no [sources.opentoclose] section",
            ),
            (
                principal("[auth.principals.bob.credentials.spark]\ntoken_env = \"UNSET\""),
                "principal `bob`: environment variable `UNSET` is not set",
            ),
            (
                principal("rate_limit = { requests_per_second = 0 }"),
                "at least 1",
            ),
            (
                load(&format!(
                    "[auth]\n[auth.principals.a]\nkey_hashes = [\"{HASH}\"]\n[auth.principals.b]\nkey_hashes = [\"{HASH}\"]\n"
                )),
                "listed twice",
            ),
        ] {
            let error = config.unwrap_err().to_string();
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }
}
