//! Wiring a sandbox and a gateway together, for the demo, the integration
//! tests and the benchmarks.
//!
//! This is the only module that knows both sides: it reads the sandbox's demo
//! credentials and writes them into a gateway configuration, as an operator
//! would write them into environment variables.

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::{
    AuthConfig, CacheSettings, CorsSettings, CsrfSettings, GatewayConfig, GraphqlSettings, Limits,
    LoaderSettings, OperationSettings, PrincipalConfig, Secret, SourceConfig, SourceCredentials,
};
use crate::domain::SourceKind;
use crate::sandbox::Credentials;

/// A gateway configuration pointing every source at a sandbox at `sandbox_url`
/// (`http://127.0.0.1:PORT`), with GraphiQL and introspection on and
/// front ends on loopback origins (a dev server) allowed to call it.
pub fn gateway_config(
    sandbox_url: &str,
    credentials: &Credentials,
    listen: SocketAddr,
) -> GatewayConfig {
    let source = |kind: SourceKind, path: &str, credentials: SourceCredentials| SourceConfig {
        kind,
        base_url: format!("{sandbox_url}{path}"),
        timeout: Duration::from_secs(10),
        max_concurrent_requests: 128,
        retry: crate::config::RetrySettings::default(),
        credentials,
    };
    GatewayConfig {
        listen,
        limits: Limits::default(),
        loaders: LoaderSettings::default(),
        cache: CacheSettings::default(),
        cors: CorsSettings {
            allow_loopback_origins: true,
            ..CorsSettings::default()
        },
        csrf: CsrfSettings::default(),
        operations: OperationSettings::default(),
        graphql: GraphqlSettings {
            introspection: true,
            graphiql: true,
            ..GraphqlSettings::default()
        },
        readiness: Default::default(),
        // Open, written out: the tests and benchmarks built on this
        // configuration call without keys. `contact-gateway demo` replaces
        // it with a key of its own.
        auth: AuthConfig::open(),
        telemetry: Default::default(),
        sources: vec![
            source(
                SourceKind::OpenToClose,
                "/opentoclose/v1",
                SourceCredentials::OpenToClose {
                    api_token: Secret::new(&credentials.opentoclose.api_token),
                },
            ),
            source(
                SourceKind::DjangoCrm,
                "/djangocrm/api",
                SourceCredentials::DjangoCrm {
                    token: Secret::new(&credentials.djangocrm.token),
                    organization_id: Secret::new(&credentials.djangocrm.organization_id),
                },
            ),
            source(
                SourceKind::Winnerr,
                "/winnerr/v1",
                SourceCredentials::Winnerr {
                    token: Secret::new(&credentials.winnerr.token),
                },
            ),
            source(
                SourceKind::Spark,
                "/spark/v1",
                SourceCredentials::Spark {
                    token: Secret::new(&credentials.spark.token),
                    user_agent: credentials.spark.user_agent.clone(),
                },
            ),
        ],
    }
}

/// The demo's callers: one principal, `demo`, with `key`, every source and
/// the sandbox's credentials.
pub fn demo_auth(key: &Secret) -> AuthConfig {
    AuthConfig::keys(vec![PrincipalConfig::new(
        "demo",
        crate::auth::keys::KeyHash::of(key.expose()),
    )])
}
