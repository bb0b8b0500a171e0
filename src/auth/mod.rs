//! Callers: who sent a request, what they may do, and with which upstream
//! credentials the gateway acts for them.
//!
//! With `[auth] mode = "keys"`, a request names a principal with its API key
//! (`Authorization: Bearer KEY` or `X-Api-Key: KEY`; `keys.rs`); anything
//! else is refused with `UNAUTHENTICATED` before its body is read. With
//! `mode = "open"`, every caller is one principal that acts with the
//! gateway's own credentials. A principal carries:
//! - its sources (`allowed_sources`; the others are refused with
//!   `FORBIDDEN` by the edge, before any upstream call) and whether it may
//!   write (`read_only`);
//! - its credential set: its own credentials for some sources, the
//!   gateway's for the rest, built once at start into one adapter per
//!   source;
//! - its rate limits (`limits.rs`).
//!
//! A source with `forward` takes its credential from a request header a
//! front end sets for its signed-in user; that request alone then uses an
//! adapter built for that credential set. Adapters for forwarded sets are
//! kept in a bounded moka cache keyed by the source and an HMAC of the set
//! (never the credential itself), so repeated requests of one user cost a
//! lookup, not a rebuild.
//!
//! **Architecture Invariant:** every credential set, configured or
//! forwarded, has adapters of its own, and each adapter keys everything it
//! keeps by the fingerprint of its set; a caller never reads what was read
//! with other credentials.

pub mod config;
pub mod keys;
pub mod limits;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderName};

use self::config::{AuthConfig, AuthMode, ForwardConfig, PrincipalConfig};
use self::keys::KeyHash;
use self::limits::PrincipalLimits;
use crate::cache::Fingerprint;
use crate::config::{GatewayConfig, Secret, SourceCredentials};
use crate::domain::SourceKind;
use crate::sources::{Adapter, SourceSet};
use crate::upstream::Upstream;

/// The header a caller may send its key in, instead of `Authorization`.
pub const API_KEY_HEADER: &str = "x-api-key";

/// How many forwarded credential sets keep their adapters at once; the
/// least recently used go first.
const FORWARDED_ADAPTERS_KEPT: u64 = 10_000;

/// How long an unused forwarded credential set keeps its adapters.
const FORWARDED_ADAPTERS_IDLE: Duration = Duration::from_secs(600);

/// The longest forwarded header value read as a credential.
const MAX_FORWARDED_BYTES: usize = 8 * 1024;

/// Refusals of a request for who sent it, before anything else is read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No key was sent.
    #[error(
        "this endpoint needs an API key: send `Authorization: Bearer <key>` or `X-Api-Key: <key>`"
    )]
    MissingKey,
    /// The key names no principal.
    #[error("the API key is not valid")]
    UnknownKey,
    /// A forwarded credential header that cannot be a credential (empty,
    /// not visible ASCII, or too long).
    #[error("the `{header}` header does not hold a usable {source_kind} credential")]
    UnusableForwarded {
        header: HeaderName,
        source_kind: SourceKind,
    },
    /// A required forwarded credential header is missing.
    #[error("this request needs the `{header}` header: {source_kind} acts as the signed-in user")]
    MissingForwarded {
        header: HeaderName,
        source_kind: SourceKind,
    },
    /// The principal is over its requests per second.
    #[error("too many requests with this API key; retry after {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
}

impl AuthError {
    /// The source a refused forwarded credential was for.
    pub fn source_kind(&self) -> Option<SourceKind> {
        match self {
            AuthError::UnusableForwarded { source_kind, .. }
            | AuthError::MissingForwarded { source_kind, .. } => Some(*source_kind),
            _ => None,
        }
    }
}

/// One principal: what it may do and its credential set.
pub struct Principal {
    pub name: String,
    pub read_only: bool,
    /// Configured sources this principal may not use.
    pub denied: Vec<SourceKind>,
    /// Configured sources this principal may use, in configuration order.
    pub allowed: Vec<SourceKind>,
    /// The credentials it acts with, one set per allowed source.
    credentials: Vec<SourceCredentials>,
    pub limits: PrincipalLimits,
    sources: SourceSet,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credentials: only what the principal may do.
        f.debug_struct("Principal")
            .field("name", &self.name)
            .field("read_only", &self.read_only)
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

/// Who sent a request, and the adapters its request uses.
pub struct Caller {
    pub principal: Arc<Principal>,
    pub sources: SourceSet,
}

/// Every principal, the forwarded headers, and the adapters of forwarded
/// credential sets.
pub struct Callers {
    mode: AuthMode,
    by_key: HashMap<KeyHash, Arc<Principal>>,
    /// The principal of open mode.
    open: Arc<Principal>,
    forward: Vec<ForwardConfig>,
    default_sources: SourceSet,
    upstream: Arc<Upstream>,
    forwarded_adapters: moka::future::Cache<(SourceKind, Fingerprint), Adapter>,
}

impl Callers {
    /// Builds every principal's adapters from the configuration.
    pub fn new(config: &GatewayConfig, upstream: &Arc<Upstream>) -> Callers {
        let defaults: Vec<(SourceCredentials, Adapter)> = config
            .sources
            .iter()
            .map(|source| {
                (
                    source.credentials.clone(),
                    Adapter::build(upstream, &source.credentials),
                )
            })
            .collect();
        let mut default_sources = SourceSet::default();
        for (_, adapter) in &defaults {
            default_sources.insert(adapter.clone());
        }
        let AuthConfig {
            mode,
            principals,
            forward,
        } = &config.auth;
        let build = |principal: &PrincipalConfig| {
            let mut credentials = Vec::new();
            let mut sources = SourceSet::default();
            let mut allowed = Vec::new();
            let mut denied = Vec::new();
            for (default_credentials, default_adapter) in &defaults {
                let kind = kind_of(default_credentials);
                let is_allowed = principal
                    .allowed_sources
                    .as_ref()
                    .is_none_or(|allowed| allowed.contains(&kind));
                if !is_allowed {
                    denied.push(kind);
                    continue;
                }
                allowed.push(kind);
                match principal.credentials.iter().find(|c| kind_of(c) == kind) {
                    Some(own) => {
                        sources.insert(Adapter::build(upstream, own));
                        credentials.push(own.clone());
                    }
                    None => {
                        sources.insert(default_adapter.clone());
                        credentials.push(default_credentials.clone());
                    }
                }
            }
            Arc::new(Principal {
                name: principal.name.clone(),
                read_only: principal.read_only,
                denied,
                allowed,
                credentials,
                limits: PrincipalLimits::new(principal.rate_limit),
                sources,
            })
        };
        let mut by_key = HashMap::new();
        for principal in principals {
            let built = build(principal);
            for hash in &principal.key_hashes {
                by_key.insert(*hash, Arc::clone(&built));
            }
        }
        let open = build(&PrincipalConfig {
            name: "open".into(),
            key_hashes: Vec::new(),
            read_only: false,
            allowed_sources: None,
            credentials: Vec::new(),
            rate_limit: None,
        });
        Callers {
            mode: *mode,
            by_key,
            open,
            forward: forward.clone(),
            default_sources,
            upstream: Arc::clone(upstream),
            forwarded_adapters: moka::future::Cache::builder()
                .max_capacity(FORWARDED_ADAPTERS_KEPT)
                .time_to_idle(FORWARDED_ADAPTERS_IDLE)
                .build(),
        }
    }

    /// The adapters of the gateway's own credentials.
    pub fn default_sources(&self) -> &SourceSet {
        &self.default_sources
    }

    /// The headers forwarded credentials arrive in, which a browser's
    /// preflight must be allowed to ask for.
    pub fn forwarded_headers(&self) -> Vec<HeaderName> {
        self.forward
            .iter()
            .flat_map(|f| [f.header.clone(), f.organization_header.clone()])
            .flatten()
            .collect()
    }

    /// Who sent the request and with which adapters it runs: the key's
    /// principal (or the open one), its rate checked, its forwarded
    /// credentials applied.
    pub async fn identify(&self, headers: &HeaderMap) -> Result<Caller, AuthError> {
        let principal = match self.mode {
            AuthMode::Open => Arc::clone(&self.open),
            AuthMode::Keys => {
                let key = presented_key(headers).ok_or(AuthError::MissingKey)?;
                let principal = self
                    .by_key
                    .get(&KeyHash::of(key))
                    .ok_or(AuthError::UnknownKey)?;
                Arc::clone(principal)
            }
        };
        principal
            .limits
            .admit_request()
            .map_err(|wait| AuthError::RateLimited {
                retry_after_seconds: limits::retry_after_seconds(wait),
            })?;
        let mut sources = principal.sources.clone();
        for forward in &self.forward {
            let Some(base) = principal
                .credentials
                .iter()
                .find(|c| kind_of(c) == forward.source)
            else {
                // A source the principal may not use: the edge refuses it.
                continue;
            };
            let token = forwarded(headers, forward.header.as_ref(), forward.source, true)?;
            let organization = forwarded(
                headers,
                forward.organization_header.as_ref(),
                forward.source,
                false,
            )?;
            if token.is_none() && organization.is_none() {
                if forward.required {
                    let header = forward
                        .header
                        .clone()
                        .or_else(|| forward.organization_header.clone());
                    if let Some(header) = header {
                        return Err(AuthError::MissingForwarded {
                            header,
                            source_kind: forward.source,
                        });
                    }
                }
                continue;
            }
            let credentials = with_forwarded(base, token, organization);
            sources.insert(self.forwarded_adapter(&credentials).await);
        }
        Ok(Caller { principal, sources })
    }

    /// The adapter of a forwarded credential set, built on first use.
    async fn forwarded_adapter(&self, credentials: &SourceCredentials) -> Adapter {
        let kind = kind_of(credentials);
        let parts = credential_parts(credentials);
        let fingerprint = self
            .upstream
            .cache()
            .fingerprint(parts.iter().map(|part| part.as_bytes()));
        self.forwarded_adapters
            .get_with((kind, fingerprint), async {
                Adapter::build(&self.upstream, credentials)
            })
            .await
    }
}

/// The key a request carries: `Authorization: Bearer KEY`, else `X-Api-Key`.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim());
    bearer
        .or_else(|| {
            headers
                .get(API_KEY_HEADER)
                .and_then(|value| value.to_str().ok())
                .map(str::trim)
        })
        .filter(|key| !key.is_empty())
}

/// The value of a forwarded credential header, when the request has it. A
/// token may be written `Bearer TOKEN`; the scheme is not part of it.
fn forwarded(
    headers: &HeaderMap,
    name: Option<&HeaderName>,
    source_kind: SourceKind,
    token: bool,
) -> Result<Option<Secret>, AuthError> {
    let Some(name) = name else { return Ok(None) };
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let unusable = || AuthError::UnusableForwarded {
        header: name.clone(),
        source_kind,
    };
    let text = value.to_str().map_err(|_| unusable())?.trim();
    let text = match text.split_once(' ') {
        Some((scheme, rest)) if token && scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        // The scheme alone: a front end that had no token for its user.
        None if token && text.eq_ignore_ascii_case("bearer") => "",
        _ => text,
    };
    if text.is_empty()
        || text.len() > MAX_FORWARDED_BYTES
        || !text.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(unusable());
    }
    Ok(Some(Secret::new(text)))
}

/// `base` with the forwarded parts in place of its own.
fn with_forwarded(
    base: &SourceCredentials,
    token: Option<Secret>,
    organization: Option<Secret>,
) -> SourceCredentials {
    match base.clone() {
        SourceCredentials::OpenToClose { api_token } => SourceCredentials::OpenToClose {
            api_token: token.unwrap_or(api_token),
        },
        SourceCredentials::DjangoCrm {
            token: own_token,
            organization_id,
        } => SourceCredentials::DjangoCrm {
            token: token.unwrap_or(own_token),
            organization_id: organization.unwrap_or(organization_id),
        },
        SourceCredentials::Winnerr { token: own } => SourceCredentials::Winnerr {
            token: token.unwrap_or(own),
        },
        SourceCredentials::Spark {
            token: own,
            user_agent,
        } => SourceCredentials::Spark {
            token: token.unwrap_or(own),
            user_agent,
        },
    }
}

/// The source a credential set is for.
fn kind_of(credentials: &SourceCredentials) -> SourceKind {
    match credentials {
        SourceCredentials::OpenToClose { .. } => SourceKind::OpenToClose,
        SourceCredentials::DjangoCrm { .. } => SourceKind::DjangoCrm,
        SourceCredentials::Winnerr { .. } => SourceKind::Winnerr,
        SourceCredentials::Spark { .. } => SourceKind::Spark,
    }
}

/// Every part of a credential set, in a fixed order, for its fingerprint.
fn credential_parts(credentials: &SourceCredentials) -> Vec<&str> {
    match credentials {
        SourceCredentials::OpenToClose { api_token } => vec!["opentoclose", api_token.expose()],
        SourceCredentials::DjangoCrm {
            token,
            organization_id,
        } => vec!["djangocrm", token.expose(), organization_id.expose()],
        SourceCredentials::Winnerr { token } => vec!["winnerr", token.expose()],
        SourceCredentials::Spark { token, user_agent } => {
            vec!["spark", token.expose(), user_agent]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn the_key_comes_from_a_bearer_authorization_or_x_api_key() {
        assert_eq!(
            presented_key(&headers(&[("authorization", "Bearer cgk_a")])),
            Some("cgk_a")
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", "bearer  cgk_a ")])),
            Some("cgk_a")
        );
        assert_eq!(
            presented_key(&headers(&[("x-api-key", "cgk_b")])),
            Some("cgk_b")
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", "Basic xyz")])),
            None
        );
        assert_eq!(presented_key(&headers(&[("x-api-key", " ")])), None);
        assert_eq!(presented_key(&headers(&[])), None);
    }

    #[test]
    fn a_forwarded_token_drops_its_scheme_and_refuses_what_cannot_be_one() {
        let name = HeaderName::from_static("x-spark-authorization");
        let read = |value: &str| {
            forwarded(
                &headers(&[("x-spark-authorization", value)]),
                Some(&name),
                SourceKind::Spark,
                true,
            )
        };
        assert_eq!(read("Bearer abc").unwrap().unwrap().expose(), "abc");
        assert_eq!(read("abc").unwrap().unwrap().expose(), "abc");
        assert!(read("Bearer ").is_err());
        assert!(read("two words").is_err());
        assert_eq!(
            forwarded(&headers(&[]), Some(&name), SourceKind::Spark, true).unwrap(),
            None
        );
    }

    #[test]
    fn forwarded_parts_replace_only_their_own() {
        let base = SourceCredentials::DjangoCrm {
            token: Secret::new("own-token"),
            organization_id: Secret::new("own-org"),
        };
        let SourceCredentials::DjangoCrm {
            token,
            organization_id,
        } = with_forwarded(&base, None, Some(Secret::new("user-org")))
        else {
            panic!("not Django-CRM");
        };
        assert_eq!(token.expose(), "own-token");
        assert_eq!(organization_id.expose(), "user-org");
    }

    #[test]
    fn errors_never_hold_a_credential() {
        let error = AuthError::UnusableForwarded {
            header: HeaderName::from_static("x-spark-authorization"),
            source_kind: SourceKind::Spark,
        };
        assert_eq!(
            error.to_string(),
            "the `x-spark-authorization` header does not hold a usable spark credential"
        );
    }
}
