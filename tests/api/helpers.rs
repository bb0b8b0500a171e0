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
    /// How many `method` requests `source` has counted, on any route.
    pub async fn method_count(&self, source: &str, method: &str) -> u64 {
        self.stats().await["by_route"]
            .as_array()
            .expect("by_route")
            .iter()
            .filter(|row| row["source"] == source && row["method"] == method)
            .map(|row| row["count"].as_u64().expect("count"))
            .sum()
    }

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
    /// The running gateway, for what tests inspect in process.
    pub gateway: std::sync::Arc<contact_gateway::app::Gateway>,
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
    // No start-up probes: tests count the upstream requests they cause.
    config.readiness.probe = false;
    // Written out, as a file must: tests that are not about callers call
    // without keys.
    config.auth = contact_gateway::config::AuthConfig::open();
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
    let gateway = server.gateway();
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));
    TestGateway {
        graphql_url: format!("{url}/graphql"),
        url,
        sandbox,
        gateway,
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

    /// The global ids of the newest `count` contacts of `source` (its
    /// GraphQL enum name, such as `SPARK`).
    pub async fn newest_contact_ids(&self, source: &str, count: usize) -> Vec<String> {
        let query = format!(
            "{{ contacts(sources: [{source}], first: {count}, orderBy: {{field: CREATED_AT, direction: DESC}}) {{ nodes {{ id }} }} }}"
        );
        let data = self.data(&query, serde_json::json!({})).await;
        data["contacts"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|node| node["id"].as_str().expect("id").to_string())
            .collect()
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
    pub async fn read(response: reqwest::Response) -> HttpAnswer {
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

/// The `contact-gateway serve` binary running as a child process in front of
/// a sandbox, so its memory can be read apart from the test's.
pub struct ProcessGateway {
    /// `http://127.0.0.1:PORT/graphql`
    pub graphql_url: String,
    pub sandbox: TestSandbox,
    child: tokio::process::Child,
    directory: std::path::PathBuf,
    logs: tokio::sync::mpsc::UnboundedReceiver<String>,
}

/// Starts `contact-gateway serve` with every source of a fresh sandbox
/// configured, and `extra_toml` appended to its configuration file.
pub async fn spawn_gateway_process(extra_toml: &str) -> ProcessGateway {
    spawn_gateway_process_with(extra_toml, &[], &[]).await
}

/// Like [`spawn_gateway_process`], with more arguments after `serve` and
/// more environment variables; the process's stderr lines are kept, to be
/// read with [`ProcessGateway::next_log_line`].
pub async fn spawn_gateway_process_with(
    extra_toml: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> ProcessGateway {
    use tokio::io::AsyncBufReadExt;
    let sandbox = spawn_sandbox().await;
    let directory = std::env::temp_dir().join(format!(
        "contact-gateway-process-{}-{}",
        std::process::id(),
        sandbox.url.rsplit(':').next().expect("port")
    ));
    std::fs::create_dir_all(&directory).expect("temp dir");
    let path = directory.join("gateway.toml");
    let config = format!(
        "listen = \"127.0.0.1:0\"\n{extra_toml}\n[auth]\nmode = \"open\"\n\
         [sources.opentoclose]\nbase_url = \"{}\"\napi_token_env = \"T_OTC\"\n\
         [sources.djangocrm]\nbase_url = \"{}\"\ntoken_env = \"T_DJ\"\norganization_id_env = \"T_DJ_ORG\"\n\
         [sources.winnerr]\nbase_url = \"{}\"\ntoken_env = \"T_WIN\"\n\
         [sources.spark]\nbase_url = \"{}\"\ntoken_env = \"T_SPARK\"\nuser_agent = \"{}\"\n",
        sandbox.base("opentoclose"),
        sandbox.base("djangocrm"),
        sandbox.base("winnerr"),
        sandbox.base("spark"),
        sandbox.credential("spark", "user_agent"),
    );
    std::fs::write(&path, config).expect("config file");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_contact-gateway"))
        .args(["serve", "--config", path.to_str().expect("path")])
        .env("T_OTC", sandbox.credential("opentoclose", "api_token"))
        .env("T_DJ", sandbox.credential("djangocrm", "token"))
        .env(
            "T_DJ_ORG",
            sandbox.credential("djangocrm", "organization_id"),
        )
        .env("T_WIN", sandbox.credential("winnerr", "token"))
        .env("T_SPARK", sandbox.credential("spark", "token"))
        .args(args)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start contact-gateway serve");
    let (log_lines, logs) = tokio::sync::mpsc::unbounded_channel();
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            if log_lines.send(line).is_err() {
                return;
            }
        }
    });
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let graphql_url = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("stdout line") {
            if let Some(url) = line.strip_prefix("GraphiQL: ") {
                return url.to_string();
            }
        }
        panic!("contact-gateway serve ended without printing its address");
    })
    .await
    .expect("the gateway never printed its address");
    ProcessGateway {
        graphql_url,
        sandbox,
        child,
        directory,
        logs,
    }
}

impl ProcessGateway {
    /// The next line the process wrote to stderr; panics when none comes
    /// within ten seconds.
    pub async fn next_log_line(&mut self) -> String {
        tokio::time::timeout(std::time::Duration::from_secs(10), self.logs.recv())
            .await
            .expect("a log line within ten seconds")
            .expect("the process's stderr is open")
    }

    /// The gateway process's peak resident set size so far, in bytes
    /// (`VmHWM` in `/proc/PID/status`).
    pub fn peak_rss_bytes(&self) -> u64 {
        let pid = self.child.id().expect("the gateway is running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
        let line = status
            .lines()
            .find(|line| line.starts_with("VmHWM:"))
            .expect("VmHWM line");
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|value| value.parse().ok())
            .expect("VmHWM value");
        kib * 1024
    }
}

impl Drop for ProcessGateway {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.directory).ok();
    }
}

/// Sends `head` and then up to `body_bytes` of body in 64 KiB writes
/// (chunk-framed when `chunked`), stopping when the server stops reading;
/// returns the answer's text. For bodies no ordinary client would finish
/// sending.
pub async fn send_raw(url: &str, head: String, chunked: bool, body_bytes: usize) -> String {
    send_raw_with_prefix(url, head, "", chunked, body_bytes).await
}

/// Like [`send_raw`], with `prefix` as the body's first bytes.
pub async fn send_raw_with_prefix(
    url: &str,
    head: String,
    prefix: &str,
    chunked: bool,
    body_bytes: usize,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .expect("host and port");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream.write_all(head.as_bytes()).await.expect("head");
    if !prefix.is_empty() {
        let framed = if chunked {
            format!("{:x}\r\n{prefix}\r\n", prefix.len())
        } else {
            prefix.to_string()
        };
        stream
            .write_all(framed.as_bytes())
            .await
            .expect("body prefix");
    }
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = prefix.len();
    while sent < body_bytes {
        let written = if chunked {
            let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
            framed.extend_from_slice(&chunk);
            framed.extend_from_slice(b"\r\n");
            stream.write_all(&framed).await
        } else {
            stream.write_all(&chunk).await
        };
        if written.is_err() {
            break;
        }
        sent += chunk.len();
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}
