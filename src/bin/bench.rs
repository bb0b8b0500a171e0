//! Benchmarks: start servers on loopback, drive them with a small closed-loop
//! load generator, and print throughput, latency percentiles, upstream
//! requests per query and peak memory.
//!
//! `cargo run --release --bin bench -- sandbox-get` measures the sandbox alone
//! on a single-contact GET, the cheapest request it serves, to show it can
//! never be the bottleneck of a gateway benchmark. The gateway workloads start
//! the sandbox in this process with the chosen latency and the real
//! `contact-gateway serve` binary as a child process (so that its peak RSS is
//! its own), configured with the chosen loader settings:
//!
//! - `gateway-contacts`: the first 50 contacts of all four sources by creation.
//! - `w1`: the property board, 50 properties with each linked contact.
//! - `contact-by-id`: one contact by id, where there is nothing to batch; run
//!   it with and without `--no-loaders` to see what the loader path costs.
//! - `flood`: `gateway-contacts` measured alone, then again while
//!   `--flood-concurrency` clients send the hostile requests of the hostile
//!   input tests (deep, aliased, fanned-out, oversized, batched) as fast as
//!   they are refused; every one of them must be refused.
//! - `peers`: the same sandbox and load generator in front of our gateway,
//!   Tailcall and Hive Gateway in turn, in one markdown table (see the
//!   `peers` module and `bench/peers/run.sh`).

// A directory beside this file rather than `src/bin/peers.rs`, which Cargo
// would build as a binary of its own.
#[path = "bench/peers.rs"]
mod peers;

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use contact_gateway::sandbox::{Credentials, SandboxOptions, SandboxServer};

#[derive(Debug, Parser)]
#[command(name = "bench", about = "contact-gateway benchmarks")]
struct BenchCli {
    #[command(subcommand)]
    workload: Workload,
    /// Concurrent connections of the load generator.
    #[arg(long, default_value_t = 8, global = true)]
    concurrency: usize,
    /// Seconds of measurement after a one-second warm-up.
    #[arg(long, default_value_t = 5, global = true)]
    seconds: u64,
    /// Latency of every upstream, in milliseconds (default: 0 for
    /// `sandbox-get`, 5 for the other workloads).
    #[arg(long, global = true)]
    latency_ms: Option<u64>,
    /// Turn the dataloaders off: one upstream call per resolver (the baseline).
    #[arg(long, global = true)]
    no_loaders: bool,
    /// The loaders' batching delay, in microseconds.
    #[arg(long, default_value_t = 0, global = true)]
    batch_delay_us: u64,
    /// The most concurrent requests the gateway sends to each upstream (its
    /// adaptive limit starts at 16 and grows up to this).
    #[arg(long, default_value_t = 128, global = true)]
    max_concurrent_requests: usize,
    /// Turn the response cache off (`[cache] enabled = false`): the cold
    /// baseline, every query read from the upstreams.
    #[arg(long, global = true)]
    no_cache: bool,
    /// The response cache's byte budget.
    #[arg(long, default_value_t = 64 * 1024 * 1024, global = true)]
    cache_max_bytes: u64,
    /// Concurrent clients sending hostile requests (`flood` only).
    #[arg(long, default_value_t = 4, global = true)]
    flood_concurrency: usize,
}

#[derive(Debug, Subcommand)]
enum Workload {
    /// Single-contact GETs against the Open To Close emulator.
    SandboxGet,
    /// The first 50 contacts of all four sources by creation time, through the gateway.
    GatewayContacts,
    /// W1, the property board: 50 properties, each with its linked contacts.
    W1,
    /// W1's upstream requests sent straight to the sandbox, with the gateway's
    /// per-upstream concurrency limit and no parsing beyond the property ids:
    /// the floor any gateway on this machine starts from.
    W1Direct,
    /// One Open To Close contact by id through the gateway.
    ContactById,
    /// `gateway-contacts` alone, then beside a flood of hostile requests.
    Flood,
    /// Distinct contact lists, one after another, until ten times the
    /// cache's byte budget has been stored; reports the cache's weighted
    /// size and the gateway's peak RSS.
    CacheMemory,
    /// Side by side with Tailcall and Hive Gateway over the same sandbox:
    /// one markdown table (install the peers with `bench/peers/run.sh`).
    Peers(peers::PeersArgs),
}

const GATEWAY_CONTACTS: &str = "{ contacts(first: 50, orderBy: {field: CREATED_AT, direction: DESC}) { totalCount edges { node { id displayName emails { address } phones { number } } } } }";

const W1: &str = "{ properties(first: 50) { nodes { title contacts { role primary contact { displayName emails { address } phones { number } } } } } }";

fn main() -> anyhow::Result<()> {
    let cli = BenchCli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.workload {
            Workload::SandboxGet => sandbox_get(&cli).await,
            Workload::GatewayContacts => {
                gateway_workload(&cli, "gateway-contacts", GATEWAY_CONTACTS.to_string()).await
            }
            Workload::W1 => gateway_workload(&cli, "w1", W1.to_string()).await,
            Workload::W1Direct => w1_direct(&cli).await,
            Workload::CacheMemory => cache_memory(&cli).await,
            Workload::Flood => flood(&cli).await,
            Workload::Peers(ref args) => peers::peers(args, cli.seconds).await,
            Workload::ContactById => {
                let id = contact_gateway::domain::GlobalId::new(
                    contact_gateway::domain::NodeType::Contact,
                    contact_gateway::domain::SourceKind::OpenToClose,
                    "42",
                )
                .encode();
                let query = format!(
                    "{{ contact(id: \"{id}\") {{ id displayName emails {{ address }} }} }}"
                );
                gateway_workload(&cli, "contact-by-id", query).await
            }
        }
    })
}

/// The sandbox on a free loopback port, served until [`RunningSandbox::stop`].
struct RunningSandbox {
    url: String,
    credentials: Credentials,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningSandbox {
    async fn start(latency_ms: u64) -> anyhow::Result<Self> {
        let options = SandboxOptions {
            latency_ms,
            ..SandboxOptions::default()
        };
        let credentials = options.credentials.clone();
        // A deep accept queue: a peer gateway without a per-upstream limit
        // opens hundreds of connections at once on W1 (16 queries of 50 link
        // reads), and with tokio's default backlog of 1,024 the overflow is
        // dropped and retried by the kernel a second later, which would be
        // measured as the gateway's latency.
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        let server = SandboxServer::from_listener(socket.listen(65_535)?, options);
        let url = format!("http://{}", server.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.run_until(async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            url,
            credentials,
            stop,
            serving,
        })
    }

    async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.serving.await??;
        Ok(())
    }
}

async fn sandbox_get(cli: &BenchCli) -> anyhow::Result<()> {
    let latency_ms = cli.latency_ms.unwrap_or(0);
    let sandbox = RunningSandbox::start(latency_ms).await?;
    let target = format!(
        "{}/opentoclose/v1/contacts/42?api_token={}",
        sandbox.url, sandbox.credentials.opentoclose.api_token
    );
    let report = load(cli, move |client| {
        let target = target.clone();
        async move {
            let response = client.get(&target).send().await?;
            let ok = response.status().is_success();
            response.bytes().await?;
            Ok(ok)
        }
    })
    .await;
    println!(
        "workload: sandbox-get (GET /opentoclose/v1/contacts/{{id}}, {latency_ms} ms latency)"
    );
    report.print();
    println!(
        "peak RSS of the process (sandbox and load generator): {} kB",
        peak_rss_kb("self")
    );
    sandbox.stop().await?;
    Ok(())
}

/// The gateway as a child process; killed when dropped.
struct GatewayProcess {
    child: Child,
    graphql_url: String,
    _config_dir: TempDir,
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    /// A new directory under the system's temporary directory, named after
    /// `what`, this process and a counter, so that several can coexist.
    fn new(what: &str) -> anyhow::Result<Self> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "contact-gateway-bench-{what}-{}-{n}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What decides how `contact-gateway serve` is configured for a run.
struct GatewaySettings {
    loaders: bool,
    batch_delay_us: u64,
    max_concurrent_requests: usize,
    cache: bool,
    cache_max_bytes: u64,
}

impl GatewaySettings {
    fn from_cli(cli: &BenchCli) -> Self {
        Self {
            loaders: !cli.no_loaders,
            batch_delay_us: cli.batch_delay_us,
            max_concurrent_requests: cli.max_concurrent_requests,
            cache: !cli.no_cache,
            cache_max_bytes: cli.cache_max_bytes,
        }
    }
}

/// Starts `contact-gateway serve` (next to this binary) in front of the sandbox.
fn start_gateway(
    settings: &GatewaySettings,
    sandbox_url: &str,
    credentials: &Credentials,
) -> anyhow::Result<GatewayProcess> {
    let binary = std::env::current_exe()?
        .parent()
        .context("the bench binary has no directory")?
        .join("contact-gateway");
    anyhow::ensure!(
        binary.exists(),
        "{} is missing: build it first with `cargo build --release`",
        binary.display()
    );
    let dir = TempDir::new("contact-gateway")?;
    let config_path = dir.0.join("gateway.toml");
    let concurrency = settings.max_concurrent_requests;
    let config = format!(
        r#"listen = "127.0.0.1:0"

[auth]
mode = "open"

# The start-up probes would count as the first queries' upstream requests.
[readiness]
probe = false

[loaders]
enabled = {enabled}
batch_delay_us = {delay}

[cache]
enabled = {cache}
max_bytes = {cache_max_bytes}

[sources.opentoclose]
base_url = "{sandbox_url}/opentoclose/v1"
api_token_env = "BENCH_OPENTOCLOSE_API_TOKEN"
max_concurrent_requests = {concurrency}

[sources.djangocrm]
base_url = "{sandbox_url}/djangocrm/api"
token_env = "BENCH_DJANGOCRM_TOKEN"
organization_id_env = "BENCH_DJANGOCRM_ORGANIZATION_ID"
max_concurrent_requests = {concurrency}

[sources.winnerr]
base_url = "{sandbox_url}/winnerr/v1"
token_env = "BENCH_WINNERR_TOKEN"
max_concurrent_requests = {concurrency}

[sources.spark]
base_url = "{sandbox_url}/spark/v1"
token_env = "BENCH_SPARK_TOKEN"
user_agent = "{user_agent}"
max_concurrent_requests = {concurrency}
"#,
        enabled = settings.loaders,
        delay = settings.batch_delay_us,
        cache = settings.cache,
        cache_max_bytes = settings.cache_max_bytes,
        user_agent = credentials.spark.user_agent,
    );
    std::fs::write(&config_path, config)?;
    let mut child = Command::new(&binary)
        .arg("serve")
        .arg("--config")
        .arg(&config_path)
        .env(
            "BENCH_OPENTOCLOSE_API_TOKEN",
            &credentials.opentoclose.api_token,
        )
        .env("BENCH_DJANGOCRM_TOKEN", &credentials.djangocrm.token)
        .env(
            "BENCH_DJANGOCRM_ORGANIZATION_ID",
            &credentials.djangocrm.organization_id,
        )
        .env("BENCH_WINNERR_TOKEN", &credentials.winnerr.token)
        .env("BENCH_SPARK_TOKEN", &credentials.spark.token)
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut first_line = String::new();
    BufReader::new(stdout).read_line(&mut first_line)?;
    let graphql_url = first_line
        .trim()
        .strip_prefix("GraphiQL: ")
        .with_context(|| format!("unexpected gateway output `{}`", first_line.trim()))?
        .to_string();
    Ok(GatewayProcess {
        child,
        graphql_url,
        _config_dir: dir,
    })
}

/// W1's 51 upstream requests without a gateway: the properties page, then
/// every property's links, at most `--max-concurrent-requests` at a time.
async fn w1_direct(cli: &BenchCli) -> anyhow::Result<()> {
    let latency_ms = cli.latency_ms.unwrap_or(5);
    let sandbox = RunningSandbox::start(latency_ms).await?;
    let url = format!("{}/opentoclose/v1", sandbox.url);
    let token = sandbox.credentials.opentoclose.api_token.clone();
    let permits = cli.max_concurrent_requests;
    // Its own client, whose pool keeps a connection for each of the up to
    // `permits` concurrent requests, as the gateway's does.
    let upstream = reqwest::Client::new();
    let report = load(cli, move |_| {
        let url = url.clone();
        let token = token.clone();
        let client = upstream.clone();
        async move {
            let properties: Vec<serde_json::Value> = client
                .get(format!(
                    "{url}/properties?limit=50&offset=0&api_token={token}"
                ))
                .send()
                .await?
                .json()
                .await?;
            let limit = Arc::new(tokio::sync::Semaphore::new(permits));
            let links = properties
                .iter()
                .filter_map(|p| p["id"].as_u64())
                .map(|id| {
                    let (client, limit) = (client.clone(), limit.clone());
                    let target = format!(
                        "{url}/properties/{id}/contacts?limit=100&offset=0&api_token={token}"
                    );
                    tokio::spawn(async move {
                        let _permit = limit.acquire_owned().await;
                        let response = client.get(target).send().await?;
                        let ok = response.status().is_success();
                        response.bytes().await?;
                        Ok::<_, reqwest::Error>(ok)
                    })
                });
            let mut ok = properties.len() == 50;
            for link in futures::future::join_all(links.collect::<Vec<_>>()).await {
                ok &= matches!(link, Ok(Ok(true)));
            }
            Ok(ok)
        }
    })
    .await;
    println!(
        "workload: w1-direct ({latency_ms} ms upstream latency, {permits} concurrent requests)"
    );
    report.print();
    sandbox.stop().await?;
    Ok(())
}

async fn gateway_workload(cli: &BenchCli, name: &str, query: String) -> anyhow::Result<()> {
    let latency_ms = cli.latency_ms.unwrap_or(5);
    let sandbox = RunningSandbox::start(latency_ms).await?;
    let sandbox_url = sandbox.url.clone();
    let gateway = start_gateway(
        &GatewaySettings::from_cli(cli),
        &sandbox_url,
        &sandbox.credentials,
    )?;
    let body = serde_json::json!({ "query": query });
    // One query first, to fail loudly on an error rather than measure errors.
    let client = reqwest::Client::new();
    let answer: serde_json::Value = client
        .post(&gateway.graphql_url)
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    anyhow::ensure!(
        answer.get("errors").is_none(),
        "the workload's query failed: {answer}"
    );
    let graphql = gateway.graphql_url.clone();
    let pid = gateway.child.id().to_string();
    let cpu_before = cpu_time_ms(&pid);
    let report = load(cli, move |client| {
        let graphql = graphql.clone();
        let body = body.clone();
        async move {
            let response = client.post(&graphql).json(&body).send().await?;
            let ok = response.status().is_success();
            let answer: serde_json::Value = response.json().await?;
            Ok(ok && answer.get("errors").is_none())
        }
    })
    .await;
    let stats: serde_json::Value = client
        .get(format!("{sandbox_url}/_sandbox/stats"))
        .send()
        .await?
        .json()
        .await?;
    let upstream_total = stats["total"].as_f64().unwrap_or(0.0);
    let cpu_ms = cpu_time_ms(&pid).saturating_sub(cpu_before);
    println!(
        "workload: {name} ({latency_ms} ms upstream latency, loaders {}, cache {}, batch delay {} us, {} concurrent requests per upstream)",
        if cli.no_loaders { "off" } else { "on" },
        if cli.no_cache { "off" } else { "on" },
        cli.batch_delay_us,
        cli.max_concurrent_requests
    );
    report.print();
    println!(
        "upstream requests per query: {:.2}",
        upstream_total / (report.requests + report.warm_up_requests + 1).max(1) as f64
    );
    println!(
        "gateway CPU time per query: {:.2} ms (warm-up included)",
        cpu_ms as f64 / (report.requests + report.warm_up_requests).max(1) as f64
    );
    println!("peak RSS of the gateway process: {} kB", peak_rss_kb(&pid));
    drop(gateway);
    sandbox.stop().await?;
    Ok(())
}

/// One hostile request: a JSON body, sent as it is.
struct HostileRequest {
    name: &'static str,
    body: bytes::Bytes,
}

fn repeat_joined(count: usize, item: impl Fn(usize) -> String) -> String {
    (0..count).map(item).collect::<Vec<_>>().join(" ")
}

/// The hostile requests of the hostile input tests, as JSON bodies. The
/// streamed 10 MB variable is sent with its length declared here, which the
/// body limit refuses the same way.
fn hostile_requests() -> Vec<HostileRequest> {
    let json = |name: &'static str, body: serde_json::Value| HostileRequest {
        name,
        body: bytes::Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
    };
    let deep = format!(
        "{{ {} id {} }}",
        "contacts { nodes {".repeat(50),
        "} }".repeat(50)
    );
    let mut fan_out = String::from("query { contacts(first: 1) { nodes { ...F0 } } }\n");
    for level in 0..30 {
        fan_out.push_str(&format!(
            "fragment F{level} on Contact {{ ...F{next} ...F{next} }}\n",
            next = level + 1
        ));
    }
    fan_out.push_str("fragment F30 on Contact { id }\n");
    let mut fifty_megabytes =
        b"{\"query\": \"{ __typename }\", \"extensions\": {\"pad\": \"".to_vec();
    fifty_megabytes.resize(50 * 1024 * 1024, b'a');
    fifty_megabytes.extend_from_slice(b"\"}}");
    let batch: Vec<serde_json::Value> = (0..1000)
        .map(|_| serde_json::json!({ "query": "{ contacts(first: 100) { nodes { id } } }" }))
        .collect();
    let contact = contact_gateway::domain::GlobalId::new(
        contact_gateway::domain::NodeType::Contact,
        contact_gateway::domain::SourceKind::OpenToClose,
        "1",
    )
    .encode();
    vec![
        json("depth 100", serde_json::json!({ "query": deep })),
        json(
            "10,000 aliases",
            serde_json::json!({ "query": format!("{{ {} }}", repeat_joined(10_000, |i| format!("a{i}: __typename"))) }),
        ),
        json(
            "1,000 aliases of a list field with distinct arguments",
            serde_json::json!({ "query": format!("{{ {} }}", repeat_joined(1000, |i| format!(
                "c{i}: contacts(first: 100, filter: {{city: \"city {i}\"}}) {{ nodes {{ id }} }}"
            ))) }),
        ),
        json(
            "fragment fan-out, 30 levels",
            serde_json::json!({ "query": fan_out }),
        ),
        json(
            "a 2 MB query",
            serde_json::json!({ "query": format!("{{ __typename {} }}", "#".repeat(2 * 1024 * 1024)) }),
        ),
        json(
            "fragment cycle",
            serde_json::json!({ "query": "{ ...A } fragment A on Query { ...B ...B } fragment B on Query { ...A ...A }" }),
        ),
        json(
            "first: 1000000",
            serde_json::json!({ "query": "{ contacts(first: 1000000) { nodes { id } } }" }),
        ),
        HostileRequest {
            name: "invalid UTF-8",
            body: bytes::Bytes::from_static(
                b"{\"query\": \"{ contacts { nodes { id \xff\xfe } } }\"}",
            ),
        },
        HostileRequest {
            name: "a 50 MB JSON body",
            body: bytes::Bytes::from(fifty_megabytes),
        },
        json(
            "a 10 MB variable",
            serde_json::json!({
                "query": "query($v: String) { __typename }",
                "variables": { "v": "a".repeat(10 * 1024 * 1024) }
            }),
        ),
        json(
            "a batch of 1,000 operations",
            serde_json::Value::Array(batch),
        ),
        json(
            "a contact's properties, estimated over the ceiling",
            serde_json::json!({
                "query": "query($id: ID!) { contact(id: $id) { properties { role } } }",
                "variables": { "id": contact }
            }),
        ),
    ]
}

/// How one hostile request ended.
enum Refusal {
    /// A 4xx, or a GraphQL error with a code and no `data`.
    Refused,
    /// The gateway closed the connection while the body was still being
    /// sent (it answers 413 on a declared length before reading the body).
    ClosedMidBody,
    /// Anything else: the request was not refused as it must be.
    NotRefused(String),
}

async fn send_hostile(client: &reqwest::Client, url: &str, request: &HostileRequest) -> Refusal {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(request.body.clone())
        .send()
        .await;
    let response = match response {
        Ok(response) => response,
        Err(error) if error.is_request() || error.is_body() => return Refusal::ClosedMidBody,
        Err(error) => return Refusal::NotRefused(format!("{}: {error}", request.name)),
    };
    let status = response.status();
    let answer: serde_json::Value = match response.json().await {
        Ok(answer) => answer,
        Err(error) => return Refusal::NotRefused(format!("{}: {error}", request.name)),
    };
    let coded = answer["errors"][0]["extensions"]["code"].is_string();
    if coded && (status.is_client_error() || answer.get("data").is_none()) {
        Refusal::Refused
    } else {
        Refusal::NotRefused(format!("{}: {status} {answer}", request.name))
    }
}

/// `gateway-contacts` measured alone, then beside a flood of hostile requests.
async fn flood(cli: &BenchCli) -> anyhow::Result<()> {
    let latency_ms = cli.latency_ms.unwrap_or(5);
    let sandbox = RunningSandbox::start(latency_ms).await?;
    let gateway = start_gateway(
        &GatewaySettings::from_cli(cli),
        &sandbox.url,
        &sandbox.credentials,
    )?;
    let client = reqwest::Client::new();
    let body = serde_json::json!({ "query": GATEWAY_CONTACTS });
    let normal = {
        let graphql = gateway.graphql_url.clone();
        let body = body.clone();
        move |client: reqwest::Client| {
            let graphql = graphql.clone();
            let body = body.clone();
            async move {
                let response = client.post(&graphql).json(&body).send().await?;
                let ok = response.status().is_success();
                let answer: serde_json::Value = response.json().await?;
                Ok(ok && answer.get("errors").is_none())
            }
        }
    };
    // One query first, to fail loudly on an error rather than measure errors.
    let answer: serde_json::Value = client
        .post(&gateway.graphql_url)
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    anyhow::ensure!(
        answer.get("errors").is_none(),
        "the normal query failed: {answer}"
    );
    let hostile = Arc::new(hostile_requests());
    for request in hostile.iter() {
        if let Refusal::NotRefused(what) =
            send_hostile(&client, &gateway.graphql_url, request).await
        {
            anyhow::bail!("a hostile request was not refused: {what}");
        }
    }
    let pid = gateway.child.id().to_string();
    let baseline = load(cli, normal.clone()).await;

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut flooders = Vec::new();
    for offset in 0..cli.flood_concurrency {
        let stop = Arc::clone(&stop);
        let hostile = Arc::clone(&hostile);
        let url = gateway.graphql_url.clone();
        flooders.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let (mut refused, mut closed, mut not_refused) = (0u64, 0u64, Vec::new());
            // Each client starts at a different case, so the mix is even.
            for request in hostile.iter().cycle().skip(offset) {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                match send_hostile(&client, &url, request).await {
                    Refusal::Refused => refused += 1,
                    Refusal::ClosedMidBody => closed += 1,
                    Refusal::NotRefused(what) => not_refused.push(what),
                }
            }
            (refused, closed, not_refused)
        }));
    }
    let flood_started = Instant::now();
    let flooded = load(cli, normal).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let flood_elapsed = flood_started.elapsed();
    let (mut refused, mut closed, mut not_refused) = (0u64, 0u64, Vec::new());
    for flooder in flooders {
        let (r, c, n) = flooder.await?;
        refused += r;
        closed += c;
        not_refused.extend(n);
    }
    println!(
        "workload: flood (gateway-contacts, {latency_ms} ms upstream latency, cache {}, {} hostile clients)",
        if cli.no_cache { "off" } else { "on" },
        cli.flood_concurrency
    );
    println!("alone:");
    baseline.print();
    println!("beside the flood:");
    flooded.print();
    let total = refused + closed + not_refused.len() as u64;
    println!(
        "hostile requests: {total} ({:.0}/s): {refused} refused with a code, {closed} cut off mid-body after the early 413, {} not refused",
        total as f64 / flood_elapsed.as_secs_f64(),
        not_refused.len()
    );
    for what in not_refused.iter().take(5) {
        println!("  not refused: {what}");
    }
    println!(
        "p99 beside the flood / p99 alone: {:.2}",
        flooded.percentile(0.99).as_secs_f64() / baseline.percentile(0.99).as_secs_f64()
    );
    println!("peak RSS of the gateway process: {} kB", peak_rss_kb(&pid));
    drop(gateway);
    sandbox.stop().await?;
    Ok(())
}

/// Distinct contact lists until ten times the byte budget has been stored.
async fn cache_memory(cli: &BenchCli) -> anyhow::Result<()> {
    anyhow::ensure!(
        !cli.no_cache,
        "the cache-memory workload needs the cache on"
    );
    let latency_ms = cli.latency_ms.unwrap_or(0);
    let sandbox = RunningSandbox::start(latency_ms).await?;
    let gateway = start_gateway(
        &GatewaySettings::from_cli(cli),
        &sandbox.url,
        &sandbox.credentials,
    )?;
    let pid = gateway.child.id().to_string();
    let client = reqwest::Client::new();
    let target = cli.cache_max_bytes.saturating_mul(10);
    let fields = ["CREATED_AT", "UPDATED_AT", "NAME"];
    let directions = ["ASC", "DESC"];
    let searches = ["", "a", "e", "i", "o", "n", "r", "s", "t", "l"];
    let mut stored = 0u64;
    let mut largest_weight = 0u64;
    let mut queries = 0u64;
    'outer: for search in searches {
        for first in 1..=100 {
            for field in fields {
                for direction in directions {
                    let query = format!(
                        "{{ contacts(first: {first}, orderBy: {{field: {field}, direction: {direction}}}, filter: {{search: \"{search}\"}}) {{ nodes {{ id displayName emails {{ address }} }} }} }}"
                    );
                    let answer: serde_json::Value = client
                        .post(&gateway.graphql_url)
                        .header("x-cache-debug", "1")
                        .json(&serde_json::json!({ "query": query }))
                        .send()
                        .await?
                        .json()
                        .await?;
                    let report = &answer["extensions"]["cache"];
                    stored += report["storedBytes"].as_u64().unwrap_or(0);
                    let weight = report["cacheWeightedBytes"].as_u64().unwrap_or(0);
                    largest_weight = largest_weight.max(weight);
                    queries += 1;
                    if stored >= target {
                        break 'outer;
                    }
                }
            }
        }
    }
    println!(
        "workload: cache-memory (budget {} bytes, {latency_ms} ms upstream latency)",
        cli.cache_max_bytes
    );
    println!("queries: {queries}");
    println!(
        "stored: {stored} bytes ({:.1}x the budget)",
        stored as f64 / cli.cache_max_bytes as f64
    );
    println!(
        "largest weighted size seen: {largest_weight} bytes ({:.2}x the budget)",
        largest_weight as f64 / cli.cache_max_bytes as f64
    );
    println!("peak RSS of the gateway process: {} kB", peak_rss_kb(&pid));
    drop(gateway);
    sandbox.stop().await?;
    Ok(())
}

/// User plus system CPU time of a process so far, in milliseconds, from
/// `/proc/<process>/stat`; 0 where it is not available.
fn cpu_time_ms(process: &str) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{process}/stat")) else {
        return 0;
    };
    // The fields after the parenthesised command name; utime and stime are
    // the 14th and 15th fields of the whole line, in clock ticks (100 per
    // second on Linux).
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index).and_then(|f| f.parse::<u64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => (user + system) * 10,
        _ => 0,
    }
}

/// `VmHWM` from `/proc/<process>/status`, or 0 where it is not available.
fn peak_rss_kb(process: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{process}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse().ok())
        })
        .unwrap_or(0)
}

/// The outcome of one load run.
struct Report {
    requests: usize,
    /// Requests sent during the warm-up, which are not measured.
    warm_up_requests: usize,
    failures: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    concurrency: usize,
}

impl Report {
    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[rank]
    }

    fn print(&self) {
        println!("concurrency: {}", self.concurrency);
        println!("requests: {} ({} failed)", self.requests, self.failures);
        println!(
            "throughput: {:.0} req/s",
            self.requests as f64 / self.elapsed.as_secs_f64()
        );
        println!(
            "latency: p50 {:.3} ms, p95 {:.3} ms, p99 {:.3} ms",
            self.percentile(0.50).as_secs_f64() * 1000.0,
            self.percentile(0.95).as_secs_f64() * 1000.0,
            self.percentile(0.99).as_secs_f64() * 1000.0
        );
    }
}

/// A closed loop: `concurrency` tasks each send one request at a time for the
/// configured duration (after a warm-up whose requests are not recorded).
async fn load<F, Fut>(cli: &BenchCli, request: F) -> Report
where
    F: Fn(reqwest::Client) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<bool, reqwest::Error>> + Send,
{
    load_with(cli.concurrency, cli.seconds, request).await
}

/// [`load`] with the concurrency and the measured seconds given.
async fn load_with<F, Fut>(concurrency: usize, seconds: u64, request: F) -> Report
where
    F: Fn(reqwest::Client) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<bool, reqwest::Error>> + Send,
{
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let request = Arc::new(request);
    let warm_up = Duration::from_secs(1);
    let measure = Duration::from_secs(seconds);
    let started = Instant::now();
    let measure_from = started + warm_up;
    let deadline = measure_from + measure;
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let client = client.clone();
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0usize;
            let mut warm_up = 0usize;
            loop {
                let sent = Instant::now();
                if sent >= deadline {
                    break;
                }
                let ok = matches!(request(client.clone()).await, Ok(true));
                if sent >= measure_from {
                    latencies.push(sent.elapsed());
                    if !ok {
                        failures += 1;
                    }
                } else {
                    warm_up += 1;
                }
            }
            (latencies, failures, warm_up)
        }));
    }
    let mut latencies = Vec::new();
    let mut failures = 0;
    let mut warm_up_requests = 0;
    for task in tasks {
        if let Ok((task_latencies, task_failures, task_warm_up)) = task.await {
            latencies.extend(task_latencies);
            failures += task_failures;
            warm_up_requests += task_warm_up;
        }
    }
    latencies.sort_unstable();
    Report {
        requests: latencies.len(),
        warm_up_requests,
        failures,
        elapsed: measure,
        latencies,
        concurrency,
    }
}
