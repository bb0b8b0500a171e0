//! Test helpers: spawn a sandbox on a free loopback port and talk to it.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};

use contact_gateway::sandbox::{SandboxOptions, SandboxServer};
use serde_json::Value;

/// A sandbox running in this test's runtime, on its own port, with fresh data.
pub struct TestSandbox {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub client: reqwest::Client,
    /// What `/_sandbox/credentials` serves.
    pub credentials: Value,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// Starts a sandbox with the default options (seed 1, no latency).
pub async fn spawn_sandbox() -> TestSandbox {
    spawn_sandbox_with(SandboxOptions::default()).await
}

/// Starts a sandbox with the given options.
pub async fn spawn_sandbox_with(options: SandboxOptions) -> TestSandbox {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let server = SandboxServer::bind(address, options)
        .await
        .expect("bind sandbox");
    let url = format!("http://{}", server.local_addr().expect("local addr"));
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("client");
    let credentials = client
        .get(format!("{url}/_sandbox/credentials"))
        .send()
        .await
        .expect("credentials request")
        .json()
        .await
        .expect("credentials body");
    TestSandbox {
        url,
        client,
        credentials,
        _shutdown: shutdown,
    }
}

impl TestSandbox {
    /// The base URL of one source (`opentoclose`, `djangocrm`, `winnerr`, `spark`),
    /// as a gateway would be configured with it.
    pub fn base(&self, source: &str) -> String {
        let suffix = match source {
            "opentoclose" => "/opentoclose/v1",
            "djangocrm" => "/djangocrm/api",
            "winnerr" => "/winnerr/v1",
            "spark" => "/spark/v1",
            other => panic!("unknown source {other}"),
        };
        format!("{}{}", self.url, suffix)
    }

    /// A credential value, e.g. `credential("spark", "token")`.
    pub fn credential(&self, source: &str, key: &str) -> String {
        self.credentials[source][key]
            .as_str()
            .unwrap_or_else(|| panic!("no credential {source}.{key}"))
            .to_string()
    }

    /// `GET /_sandbox/stats`.
    pub async fn stats(&self) -> Value {
        self.client
            .get(format!("{}/_sandbox/stats", self.url))
            .send()
            .await
            .expect("stats request")
            .json()
            .await
            .expect("stats body")
    }

    /// How many requests one route template has received.
    pub async fn route_count(&self, source: &str, method: &str, route: &str) -> u64 {
        let stats = self.stats().await;
        stats["by_route"]
            .as_array()
            .expect("by_route")
            .iter()
            .filter(|row| {
                row["source"] == source && row["method"] == method && row["route"] == route
            })
            .map(|row| row["count"].as_u64().expect("count"))
            .sum()
    }

    /// `POST /_sandbox/reset`.
    pub async fn reset(&self) {
        let response = self
            .client
            .post(format!("{}/_sandbox/reset", self.url))
            .send()
            .await
            .expect("reset request");
        assert!(
            response.status().is_success(),
            "reset failed: {}",
            response.status()
        );
    }

    /// `POST /_sandbox/config` with a behaviour update; panics unless accepted.
    pub async fn configure(&self, update: Value) {
        let response = self
            .client
            .post(format!("{}/_sandbox/config", self.url))
            .json(&update)
            .send()
            .await
            .expect("config request");
        assert!(
            response.status().is_success(),
            "config rejected: {}",
            response.status()
        );
    }
}

/// A gateway running in this test's runtime, pointed at a sandbox.
pub struct TestGateway {
    /// `http://127.0.0.1:PORT/graphql`
    pub graphql_url: String,
    pub url: String,
    pub sandbox: TestSandbox,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// Starts a sandbox and a gateway configured with every source, with the
/// response cache off: every count of upstream requests a test makes is
/// then what the loaders and adapters cost on their own.
pub async fn spawn_gateway() -> TestGateway {
    spawn_gateway_configured(|_| {}).await
}

/// Starts a sandbox and a gateway configured with every source and the
/// response cache on, as the demo runs.
pub async fn spawn_cached_gateway() -> TestGateway {
    spawn_gateway_configured(|config| config.cache.enabled = true).await
}

/// Starts a sandbox and a gateway with the demo configuration for it, cache
/// off, as changed by `edit`.
pub async fn spawn_gateway_configured(
    edit: impl FnOnce(&mut contact_gateway::config::GatewayConfig),
) -> TestGateway {
    let sandbox = spawn_sandbox().await;
    let mut config = contact_gateway::demo::gateway_config(
        &sandbox.url,
        &contact_gateway::sandbox::Credentials::default(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    );
    config.cache.enabled = false;
    edit(&mut config);
    spawn_gateway_with(sandbox, config).await
}

/// Starts a gateway with loaders switched off (one upstream call per
/// resolver, no reuse of nested data: the benchmark baseline) in front of a
/// fresh sandbox.
pub async fn spawn_baseline_gateway() -> TestGateway {
    spawn_gateway_configured(|config| config.loaders.enabled = false).await
}

/// Starts a gateway with the given configuration in front of `sandbox`.
pub async fn spawn_gateway_with(
    sandbox: TestSandbox,
    config: contact_gateway::config::GatewayConfig,
) -> TestGateway {
    let server = contact_gateway::app::GatewayServer::bind(&config)
        .await
        .expect("bind gateway");
    let url = format!("http://{}", server.local_addr().expect("local addr"));
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));
    TestGateway {
        graphql_url: format!("{url}/graphql"),
        url,
        sandbox,
        _shutdown: shutdown,
    }
}

impl TestGateway {
    /// Posts a GraphQL request and returns the whole response body.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        let response = self
            .sandbox
            .client
            .post(&self.graphql_url)
            .json(&serde_json::json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("graphql request");
        assert!(response.status().is_success(), "HTTP {}", response.status());
        response.json().await.expect("graphql body")
    }

    /// Like [`TestGateway::graphql`], but panics on any GraphQL error and returns `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.graphql(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }
}
