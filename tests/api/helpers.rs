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

/// Starts a sandbox and a gateway configured with every source.
pub async fn spawn_gateway() -> TestGateway {
    spawn_gateway_configured(|_| {}).await
}

/// Starts a sandbox and a gateway with the demo configuration for it, as
/// changed by `edit`.
pub async fn spawn_gateway_configured(
    edit: impl FnOnce(&mut contact_gateway::config::GatewayConfig),
) -> TestGateway {
    let sandbox = spawn_sandbox().await;
    let mut config = contact_gateway::demo::gateway_config(
        &sandbox.url,
        &contact_gateway::sandbox::Credentials::default(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    );
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

/// An HTTP answer from the gateway, read whole.
#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    /// The body as JSON (`Value::Null` when it is not JSON).
    pub body: Value,
}

impl HttpAnswer {
    async fn read(response: reqwest::Response) -> HttpAnswer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("answer body");
        HttpAnswer {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// A response header as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|value| value.to_str().expect("header text"))
            .unwrap_or("")
    }

    /// `extensions.code` of the first error.
    pub fn first_code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code in {}", self.body))
    }
}

impl TestGateway {
    /// Posts `body` to `/graphql` with exactly the given headers.
    pub async fn post_with(
        &self,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> HttpAnswer {
        let mut request = self.sandbox.client.post(&self.graphql_url).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        HttpAnswer::read(request.send().await.expect("post")).await
    }

    /// `GET /graphql` with the given query parameters and headers.
    pub async fn get_with(&self, params: &[(&str, &str)], headers: &[(&str, &str)]) -> HttpAnswer {
        let mut request = self.sandbox.client.get(&self.graphql_url).query(params);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        HttpAnswer::read(request.send().await.expect("get")).await
    }

    /// Sends a request of any method to any path of the gateway.
    pub async fn request_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> HttpAnswer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self
            .sandbox
            .client
            .request(method, format!("{}{path}", self.url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        HttpAnswer::read(request.send().await.expect("request")).await
    }

    /// The sandbox's total upstream request count.
    pub async fn upstream_requests(&self) -> u64 {
        self.sandbox.stats().await["total"].as_u64().expect("total")
    }
}
