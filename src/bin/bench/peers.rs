//! The side-by-side comparison with peer gateways: Tailcall and Hive Gateway
//! (GraphQL Mesh) over the same sandbox, with the same load generator and
//! the same workloads, in one markdown table.
//!
//! The peers are installed by `bench/peers/run.sh` (npm packages pinned in
//! `bench/peers/package-lock.json`, and Debian 13's glibc unpacked privately
//! for Tailcall's binary). For each workload every gateway in it is started
//! once over the in-process sandbox, its answers to every request body of
//! the workload are compared with the sandbox's own records, and then the
//! gateways are measured in turn, the first one rotating round by round.
//! Each cell of the table is the median over the rounds. Before each run the
//! sandbox's counters are reset, so that upstream requests per query are
//! those of the run alone; CPU time is read from `/proc/<pid>/stat` for the
//! gateway and every process below it (Node's workers included).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use contact_gateway::domain::{GlobalId, NodeType, SourceKind};
use contact_gateway::sandbox::Credentials;
use serde_json::{json, Value};

use super::{load_with, start_gateway, GatewayProcess, GatewaySettings, RunningSandbox, TempDir};

/// Options of the `peers` subcommand.
#[derive(Debug, clap::Args)]
pub struct PeersArgs {
    /// Concurrent connections of the load generator, the same for every gateway.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Measured runs of each gateway on each workload; the table shows medians.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Where `run.sh` installed the peers.
    #[arg(long, default_value = "bench/peers")]
    peers_dir: PathBuf,
    /// Leave Tailcall out.
    #[arg(long)]
    skip_tailcall: bool,
    /// Leave Hive Gateway out.
    #[arg(long)]
    skip_hive: bool,
    /// Only these workloads (by id, comma-separated); default all.
    #[arg(long, value_delimiter = ',')]
    workloads: Vec<String>,
    /// Also write the table to this file.
    #[arg(long)]
    output: Option<PathBuf>,
}

/// The contacts read by id: Open To Close ids 1 to 500.
const CONTACT_IDS: u64 = 500;
/// Properties per page on the property board (W1).
const PAGE: u64 = 50;
/// W1's distinct pages: 200 seeded properties, 50 a page.
const PAGES: u64 = 4;
/// The federated search's term and page size.
const SEARCH_TERM: &str = "an";
const SEARCH_FIRST: u64 = 20;

/// The gateways measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Peer {
    /// `contact-gateway serve`, with its response cache on or off.
    Ours { cache: bool },
    /// Tailcall with one of its configurations.
    Tailcall(TailcallVariant),
    /// Hive Gateway over the supergraph composed from the OpenAPI documents;
    /// `per_id` reads each link's contact again by id.
    Hive { per_id: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TailcallVariant {
    /// The link's contact read as the upstream nests it.
    Nested,
    /// Each link's contact read by id.
    PerId,
    /// Nested, with `dedupe: true` on every `@http`.
    Dedupe,
    /// Nested, with `dedupe: true` and `@cache` on the Query fields.
    Cache,
}

impl Peer {
    fn label(self) -> &'static str {
        match self {
            Peer::Ours { cache: false } => "contact-gateway (cache off)",
            Peer::Ours { cache: true } => "contact-gateway (cache on)",
            Peer::Tailcall(TailcallVariant::Nested) => "Tailcall",
            Peer::Tailcall(TailcallVariant::PerId) => "Tailcall (per id)",
            Peer::Tailcall(TailcallVariant::Dedupe) => "Tailcall (dedupe)",
            Peer::Tailcall(TailcallVariant::Cache) => "Tailcall (@cache + dedupe)",
            Peer::Hive { per_id: false } => "Hive Gateway",
            Peer::Hive { per_id: true } => "Hive Gateway (per id)",
        }
    }

    fn is_ours(self) -> bool {
        matches!(self, Peer::Ours { .. })
    }

    /// The query dialect: our schema, Tailcall's configuration, or the
    /// supergraph Mesh composes from the OpenAPI documents.
    fn dialect(self) -> Dialect {
        match self {
            Peer::Ours { .. } => Dialect::Ours,
            Peer::Tailcall(_) => Dialect::Tailcall,
            Peer::Hive { per_id } => Dialect::Hive { per_id },
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Dialect {
    Ours,
    Tailcall,
    Hive { per_id: bool },
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    ContactById,
    W1Same,
    W1Pages,
    Search,
}

struct Workload {
    id: &'static str,
    title: &'static str,
    kind: Kind,
    latency_ms: u64,
    peers: Vec<Peer>,
}

fn workloads() -> Vec<Workload> {
    use Peer::*;
    use TailcallVariant::*;
    let cold = || {
        vec![
            Ours { cache: false },
            Tailcall(Nested),
            Hive { per_id: false },
        ]
    };
    let cached = || vec![Ours { cache: true }, Tailcall(Dedupe), Tailcall(Cache)];
    vec![
        Workload {
            id: "contact",
            title: "single contact by id, 500 distinct ids",
            kind: Kind::ContactById,
            latency_ms: 0,
            peers: cold(),
        },
        Workload {
            id: "w1",
            title: "W1, same query",
            kind: Kind::W1Same,
            latency_ms: 0,
            peers: cold(),
        },
        Workload {
            id: "w1-per-id",
            title: "W1, same query, peers read each contact by id",
            kind: Kind::W1Same,
            latency_ms: 0,
            peers: vec![
                Ours { cache: false },
                Tailcall(PerId),
                Hive { per_id: true },
            ],
        },
        Workload {
            id: "w1-pages",
            title: "W1, 4 distinct pages",
            kind: Kind::W1Pages,
            latency_ms: 0,
            peers: cold(),
        },
        Workload {
            id: "w1-5ms",
            title: "W1, same query, 5 ms upstream latency",
            kind: Kind::W1Same,
            latency_ms: 5,
            peers: cold(),
        },
        Workload {
            id: "search",
            title: "federated search, four sources",
            kind: Kind::Search,
            latency_ms: 0,
            peers: cold(),
        },
        Workload {
            id: "contact-cache",
            title: "single contact by id, 500 distinct ids, cache on",
            kind: Kind::ContactById,
            latency_ms: 0,
            peers: cached(),
        },
        Workload {
            id: "w1-cache",
            title: "W1, same query, cache on",
            kind: Kind::W1Same,
            latency_ms: 0,
            peers: cached(),
        },
    ]
}

/// One measured run.
#[derive(Debug, Clone)]
struct Run {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    failures: usize,
    upstream_per_query: f64,
    cpu_ms_per_query: f64,
    peak_rss_kb: u64,
}

/// Runs the comparison and prints the table.
pub async fn peers(args: &PeersArgs, seconds: u64) -> anyhow::Result<()> {
    let peers_dir = args
        .peers_dir
        .canonicalize()
        .with_context(|| format!("{} (run bench/peers/run.sh)", args.peers_dir.display()))?;
    let selected: Vec<Workload> = workloads()
        .into_iter()
        .filter(|w| args.workloads.is_empty() || args.workloads.iter().any(|id| id == w.id))
        .map(|mut w| {
            w.peers.retain(|peer| match peer {
                Peer::Tailcall(_) => !args.skip_tailcall,
                Peer::Hive { .. } => !args.skip_hive,
                Peer::Ours { .. } => true,
            });
            w
        })
        .collect();
    anyhow::ensure!(!selected.is_empty(), "no workload selected");
    let sandbox = RunningSandbox::start(0).await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let work = TempDir::new("peers")?;
    let needs_hive = selected
        .iter()
        .any(|w| w.peers.iter().any(|p| matches!(p, Peer::Hive { .. })));
    let supergraph = if needs_hive {
        eprintln!("composing Hive Gateway's supergraph from the sandbox's OpenAPI documents");
        Some(compose_supergraph(&peers_dir, &sandbox, &work.0)?)
    } else {
        None
    };
    let mut results: Vec<(usize, Peer, Vec<Run>)> = Vec::new();
    let mut refused: Vec<(usize, Peer, String)> = Vec::new();
    let started = Instant::now();
    for (index, workload) in selected.iter().enumerate() {
        eprintln!("workload {}: {}", workload.id, workload.title);
        let mut processes = Vec::new();
        for &peer in &workload.peers {
            let prepared = prepare(
                peer,
                workload,
                &peers_dir,
                &sandbox,
                supergraph.as_deref(),
                &client,
            )
            .await;
            match prepared {
                Ok((process, bodies)) => {
                    eprintln!(
                        "  {}: {} distinct requests, every answer checked",
                        peer.label(),
                        bodies.len()
                    );
                    processes.push((peer, process, Arc::new(bodies), Vec::new()));
                }
                // A gateway that cannot start or answers wrongly is not
                // measured; the table says why.
                Err(error) => {
                    eprintln!("  {}: not measured: {error:#}", peer.label());
                    refused.push((index, peer, format!("not measured: {error:#}")));
                }
            }
        }
        for round in 0..args.rounds {
            let count = processes.len();
            for offset in 0..count {
                let (peer, process, bodies, runs) = &mut processes[(round + offset) % count];
                reset_sandbox(&sandbox, workload.latency_ms, &client).await?;
                let run = measure(
                    process,
                    bodies.clone(),
                    args.connections,
                    seconds,
                    &sandbox,
                    &client,
                )
                .await?;
                eprintln!(
                    "  round {} {}: {:.0} req/s, p99 {:.2} ms, {:.3} ms CPU/query, {:.1} upstream/query{}",
                    round + 1,
                    peer.label(),
                    run.requests_per_second,
                    run.p99_ms,
                    run.cpu_ms_per_query,
                    run.upstream_per_query,
                    if run.failures > 0 { format!(", {} failed", run.failures) } else { String::new() }
                );
                runs.push(run);
            }
        }
        for (peer, process, bodies, runs) in processes {
            // Checked again after the load, when caches are warm: a cache
            // that serves one record for another shows here.
            let after = check(
                workload.kind,
                peer.dialect(),
                &process.graphql_url,
                &bodies,
                &sandbox,
                &client,
            )
            .await;
            if let Err(error) = after {
                eprintln!("  {}: wrong after the runs: {error:#}", peer.label());
                refused.push((
                    index,
                    peer,
                    format!("measured above, but after the runs its answers differ from the sandbox's records: {error:#}"),
                ));
            }
            drop(process);
            results.push((index, peer, runs));
        }
    }
    reset_sandbox(&sandbox, 0, &client).await?;
    sandbox.stop().await?;
    let table = table(&selected, &results, &refused);
    println!("{table}");
    eprintln!("finished in {:.0} s", started.elapsed().as_secs_f64());
    if let Some(output) = &args.output {
        std::fs::write(output, &table)?;
    }
    Ok(())
}

/// Starts a gateway, builds its requests and checks every answer.
async fn prepare(
    peer: Peer,
    workload: &Workload,
    peers_dir: &Path,
    sandbox: &RunningSandbox,
    supergraph: Option<&Path>,
    client: &reqwest::Client,
) -> anyhow::Result<(GatewayProcess, Vec<Bytes>)> {
    let process = start_peer(peer, peers_dir, sandbox, supergraph, client)
        .await
        .context("starting")?;
    let bodies = bodies(workload.kind, peer.dialect(), &process.graphql_url, client)
        .await
        .context("building the requests")?;
    check(
        workload.kind,
        peer.dialect(),
        &process.graphql_url,
        &bodies,
        sandbox,
        client,
    )
    .await
    .context("answers differ from the sandbox's records")?;
    Ok((process, bodies))
}

/// Counters back to zero, and the workload's latency on every source.
async fn reset_sandbox(
    sandbox: &RunningSandbox,
    latency_ms: u64,
    client: &reqwest::Client,
) -> anyhow::Result<()> {
    client
        .post(format!("{}/_sandbox/reset", sandbox.url))
        .send()
        .await?
        .error_for_status()?;
    if latency_ms > 0 {
        let behaviour = json!({ "latency_ms": latency_ms });
        client
            .post(format!("{}/_sandbox/config", sandbox.url))
            .json(&json!({
                "opentoclose": behaviour, "djangocrm": behaviour,
                "winnerr": behaviour, "spark": behaviour,
            }))
            .send()
            .await?
            .error_for_status()?;
    }
    Ok(())
}

/// One run: the load, then the counters.
async fn measure(
    process: &GatewayProcess,
    bodies: Arc<Vec<Bytes>>,
    connections: usize,
    seconds: u64,
    sandbox: &RunningSandbox,
    client: &reqwest::Client,
) -> anyhow::Result<Run> {
    let pid = process.child.id();
    let cpu_before = tree_cpu_ms(pid);
    let url = process.graphql_url.clone();
    let next = Arc::new(AtomicUsize::new(0));
    let report = load_with(connections, seconds, move |client| {
        let url = url.clone();
        let body = bodies[next.fetch_add(1, Ordering::Relaxed) % bodies.len()].clone();
        async move {
            let response = client
                .post(&url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await?;
            let ok = response.status().is_success();
            let answer: Value = response.json().await?;
            Ok(ok && answer.get("errors").is_none() && !answer["data"].is_null())
        }
    })
    .await;
    let cpu_ms = tree_cpu_ms(pid).saturating_sub(cpu_before);
    let stats: Value = client
        .get(format!("{}/_sandbox/stats", sandbox.url))
        .send()
        .await?
        .json()
        .await?;
    let queries = (report.requests + report.warm_up_requests).max(1) as f64;
    Ok(Run {
        requests_per_second: report.requests as f64 / report.elapsed.as_secs_f64(),
        p50_ms: report.percentile(0.50).as_secs_f64() * 1000.0,
        p99_ms: report.percentile(0.99).as_secs_f64() * 1000.0,
        failures: report.failures,
        upstream_per_query: stats["total"].as_f64().unwrap_or(0.0) / queries,
        cpu_ms_per_query: cpu_ms as f64 / queries,
        peak_rss_kb: tree_peak_rss_kb(pid),
    })
}

/// A free loopback port for a peer that cannot be told to pick its own and
/// report it.
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Starts one gateway and waits until it answers a query.
async fn start_peer(
    peer: Peer,
    peers_dir: &Path,
    sandbox: &RunningSandbox,
    supergraph: Option<&Path>,
    client: &reqwest::Client,
) -> anyhow::Result<GatewayProcess> {
    match peer {
        Peer::Ours { cache } => {
            let settings = GatewaySettings {
                loaders: true,
                batch_delay_us: 0,
                max_concurrent_requests: 128,
                cache,
                cache_max_bytes: 64 * 1024 * 1024,
            };
            start_gateway(&settings, &sandbox.url, &sandbox.credentials)
        }
        Peer::Tailcall(variant) => {
            let dir = TempDir::new("tailcall")?;
            let port = free_port()?;
            let config = tailcall_config(peers_dir, variant, port, sandbox)?;
            let config_path = dir.0.join("gateway.graphql");
            std::fs::write(&config_path, config)?;
            let glibc = peers_dir.join(".work/glibc/usr/lib/x86_64-linux-gnu");
            let log = std::fs::File::create(dir.0.join("tailcall.log"))?;
            let child = Command::new(glibc.join("ld-linux-x86-64.so.2"))
                .arg("--library-path")
                .arg(&glibc)
                .arg(peers_dir.join("node_modules/@tailcallhq/core-linux-x64-gnu/bin/tailcall"))
                .arg("start")
                .arg(&config_path)
                // Tailcall logs every upstream request at its default level.
                .env("TAILCALL_LOG_LEVEL", "error")
                .env("TAILCALL_TRACKER", "false")
                .stdout(Stdio::from(log.try_clone()?))
                .stderr(Stdio::from(log))
                .spawn()
                .context("starting Tailcall (run bench/peers/run.sh first)")?;
            let process = GatewayProcess {
                child,
                graphql_url: format!("http://127.0.0.1:{port}/graphql"),
                _config_dir: dir,
            };
            wait_until_ready(process, client, Duration::from_secs(30)).await
        }
        Peer::Hive { .. } => {
            let supergraph = supergraph.context("no supergraph")?;
            let dir = TempDir::new("hive")?;
            let port = free_port()?;
            let log = std::fs::File::create(dir.0.join("hive.log"))?;
            let child = Command::new(peers_dir.join("node_modules/.bin/hive-gateway"))
                .arg("supergraph")
                .arg(supergraph)
                .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--jit"])
                .current_dir(&dir.0)
                .env("NODE_ENV", "production")
                .stdout(Stdio::from(log.try_clone()?))
                .stderr(Stdio::from(log))
                .spawn()
                .context("starting Hive Gateway (run bench/peers/run.sh first)")?;
            let process = GatewayProcess {
                child,
                graphql_url: format!("http://127.0.0.1:{port}/graphql"),
                _config_dir: dir,
            };
            wait_until_ready(process, client, Duration::from_secs(90)).await
        }
    }
}

/// Polls `{ __typename }` until the gateway answers it, the process exits, or
/// `limit` passes.
async fn wait_until_ready(
    mut process: GatewayProcess,
    client: &reqwest::Client,
    limit: Duration,
) -> anyhow::Result<GatewayProcess> {
    let deadline = Instant::now() + limit;
    loop {
        let answer = client
            .post(&process.graphql_url)
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await;
        if matches!(answer, Ok(ref response) if response.status().is_success()) {
            return Ok(process);
        }
        if let Some(status) = process.child.try_wait()? {
            let log = std::fs::read_dir(&process._config_dir.0)?
                .filter_map(Result::ok)
                .filter(|entry| entry.path().extension().is_some_and(|e| e == "log"))
                .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
                .collect::<String>();
            anyhow::bail!("exited with {status} before answering:\n{log}");
        }
        anyhow::ensure!(Instant::now() < deadline, "not ready after {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Tailcall's configuration for one variant, from `tailcall/gateway.graphql`.
fn tailcall_config(
    peers_dir: &Path,
    variant: TailcallVariant,
    port: u16,
    sandbox: &RunningSandbox,
) -> anyhow::Result<String> {
    let template = std::fs::read_to_string(peers_dir.join("tailcall/gateway.graphql"))?;
    let credentials = &sandbox.credentials;
    let dedupe = matches!(variant, TailcallVariant::Dedupe | TailcallVariant::Cache);
    let dedupe_argument = if dedupe { ", dedupe: true" } else { "" };
    let cache = if variant == TailcallVariant::Cache {
        "@cache(maxAge: 60000)"
    } else {
        ""
    };
    let link_contact = if variant == TailcallVariant::PerId {
        format!(
            r#"@http(url: "@SANDBOX@/opentoclose/v1/contacts/{{{{.value.contact_id}}}}", query: [{{key: "api_token", value: "@OTC_TOKEN@"}}]{dedupe_argument})"#
        )
    } else {
        String::new()
    };
    Ok(template
        .lines()
        .filter(|line| !line.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("@LINK_CONTACT@", &link_contact)
        .replace("@DEDUPE@", dedupe_argument)
        .replace("@CACHE@", cache)
        .replace("@PORT@", &port.to_string())
        .replace("@SANDBOX@", &sandbox.url)
        .replace("@OTC_TOKEN@", &credentials.opentoclose.api_token)
        .replace("@DJANGO_TOKEN@", &credentials.djangocrm.token)
        .replace("@DJANGO_ORG@", &credentials.djangocrm.organization_id)
        .replace("@WINNERR_TOKEN@", &credentials.winnerr.token)
        .replace("@SPARK_TOKEN@", &credentials.spark.token)
        .replace("@SPARK_AGENT@", &credentials.spark.user_agent))
}

/// Runs `mesh-compose` over `hive/mesh.config.ts` against the running sandbox.
fn compose_supergraph(
    peers_dir: &Path,
    sandbox: &RunningSandbox,
    work: &Path,
) -> anyhow::Result<PathBuf> {
    let output = work.join("supergraph.graphql");
    let credentials: &Credentials = &sandbox.credentials;
    let status = Command::new(peers_dir.join("node_modules/.bin/mesh-compose"))
        .arg("-c")
        .arg(peers_dir.join("hive/mesh.config.ts"))
        .arg("-o")
        .arg(&output)
        .current_dir(peers_dir)
        .env("SANDBOX_URL", &sandbox.url)
        .env("OTC_TOKEN", &credentials.opentoclose.api_token)
        .env("DJANGO_TOKEN", &credentials.djangocrm.token)
        .env("DJANGO_ORG", &credentials.djangocrm.organization_id)
        .env("WINNERR_TOKEN", &credentials.winnerr.token)
        .env("SPARK_TOKEN", &credentials.spark.token)
        .env("SPARK_AGENT", &credentials.spark.user_agent)
        .stdout(Stdio::null())
        .status()
        .context("running mesh-compose (run bench/peers/run.sh first)")?;
    anyhow::ensure!(status.success(), "mesh-compose failed: {status}");
    Ok(output)
}

fn body(query: &str, variables: Value) -> Bytes {
    Bytes::from(
        serde_json::to_vec(&json!({ "query": query, "variables": variables })).unwrap_or_default(),
    )
}

/// The selection of a property board page in each dialect.
fn board_selection(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Ours => "title contacts { role primary contact { displayName emails { address } phones { number } } }",
        Dialect::Tailcall | Dialect::Hive { per_id: false } => {
            "title contacts { role primary contact { first_name last_name email phone } }"
        }
        Dialect::Hive { per_id: true } => {
            "title contacts { role primary contactById { first_name last_name email phone } }"
        }
    }
}

/// The distinct request bodies of a workload for one gateway, sent in turn.
async fn bodies(
    kind: Kind,
    dialect: Dialect,
    graphql_url: &str,
    client: &reqwest::Client,
) -> anyhow::Result<Vec<Bytes>> {
    Ok(match (kind, dialect) {
        (Kind::ContactById, Dialect::Ours) => (1..=CONTACT_IDS)
            .map(|id| {
                let id = GlobalId::new(NodeType::Contact, SourceKind::OpenToClose, id.to_string()).encode();
                body(
                    "query($id: ID!) { contact(id: $id) { id displayName emails { address } } }",
                    json!({ "id": id }),
                )
            })
            .collect(),
        (Kind::ContactById, Dialect::Tailcall) => (1..=CONTACT_IDS)
            .map(|id| {
                body(
                    "query($id: Int!) { contact(id: $id) { id first_name last_name email } }",
                    json!({ "id": id }),
                )
            })
            .collect(),
        (Kind::ContactById, Dialect::Hive { .. }) => (1..=CONTACT_IDS)
            .map(|id| {
                body(
                    "query($id: PositiveInt!) { getContact(id: $id) { id first_name last_name email } }",
                    json!({ "id": id }),
                )
            })
            .collect(),
        (Kind::W1Same | Kind::W1Pages, Dialect::Ours) => {
            let pages = if matches!(kind, Kind::W1Same) { 1 } else { PAGES };
            let query = format!(
                "query($after: String) {{ properties(first: {PAGE}, after: $after) {{ nodes {{ {} }} }} }}",
                board_selection(dialect)
            );
            // The cursors of the pages, walked once.
            let mut after = Value::Null;
            let mut bodies = Vec::new();
            for _ in 0..pages {
                bodies.push(body(&query, json!({ "after": after })));
                let answer: Value = client
                    .post(graphql_url)
                    .json(&json!({
                        "query": format!("query($after: String) {{ properties(first: {PAGE}, after: $after) {{ pageInfo {{ endCursor }} }} }}"),
                        "variables": { "after": after },
                    }))
                    .send()
                    .await?
                    .json()
                    .await?;
                after = answer["data"]["properties"]["pageInfo"]["endCursor"].clone();
            }
            bodies
        }
        (Kind::W1Same | Kind::W1Pages, _) => {
            let pages = if matches!(kind, Kind::W1Same) { 1 } else { PAGES };
            let field = if matches!(dialect, Dialect::Tailcall) { "properties" } else { "listProperties" };
            let offset_type = if matches!(dialect, Dialect::Tailcall) { "Int!" } else { "NonNegativeInt" };
            let query = format!(
                "query($offset: {offset_type}) {{ {field}(limit: {PAGE}, offset: $offset) {{ {} }} }}",
                board_selection(dialect)
            );
            (0..pages).map(|page| body(&query, json!({ "offset": page * PAGE }))).collect()
        }
        (Kind::Search, Dialect::Ours) => vec![body(
            &format!("{{ contacts(first: {SEARCH_FIRST}, filter: {{search: \"{SEARCH_TERM}\"}}) {{ nodes {{ displayName emails {{ address }} }} }} }}"),
            Value::Null,
        )],
        (Kind::Search, Dialect::Tailcall) => vec![body(
            &format!(
                "{{ opentocloseSearch(search: \"{SEARCH_TERM}\", limit: {SEARCH_FIRST}) {{ first_name last_name email }} \
                 djangocrmSearch(name: \"{SEARCH_TERM}\", limit: {SEARCH_FIRST}) {{ results {{ first_name last_name primary_email }} }} \
                 winnerrContacts(limit: {SEARCH_FIRST}) {{ data {{ firstName lastName email }} }} \
                 sparkSearch(filter: \"DisplayName Eq '*{SEARCH_TERM}*'\", limit: {SEARCH_FIRST}) {{ D {{ Results {{ DisplayName PrimaryEmail }} }} }} }}"
            ),
            Value::Null,
        )],
        (Kind::Search, Dialect::Hive { .. }) => vec![body(
            &format!(
                "{{ listContacts(search: \"{SEARCH_TERM}\", limit: {SEARCH_FIRST}) {{ first_name last_name email }} \
                 DjangoCrm_listContacts(name: \"{SEARCH_TERM}\", limit: {SEARCH_FIRST}) {{ results {{ first_name last_name primary_email }} }} \
                 Winnerr_listContacts(limit: {SEARCH_FIRST}) {{ data {{ firstName lastName email }} }} \
                 Spark_listContacts(_filter: \"DisplayName Eq '*{SEARCH_TERM}*'\", _limit: {SEARCH_FIRST}) {{ D {{ Results {{ DisplayName PrimaryEmail }} }} }} }}"
            ),
            Value::Null,
        )],
    })
}

/// A name compared without regard to case or spacing.
fn name_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// An email compared as the gateways may normalise it.
fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("")
}

/// A contact as `(name, email)`, read from a record in any dialect.
fn contact_key(contact: &Value, dialect: Dialect) -> (String, String) {
    match dialect {
        Dialect::Ours => (
            name_key(text(&contact["displayName"])),
            email_key(text(&contact["emails"][0]["address"])),
        ),
        _ => (
            name_key(&format!(
                "{} {}",
                text(&contact["first_name"]),
                text(&contact["last_name"])
            )),
            email_key(text(&contact["email"])),
        ),
    }
}

/// A property board page as `(title, sorted (role, primary, name, email))`.
type Board = Vec<(String, Vec<(String, bool, String, String)>)>;

fn board_key(properties: &Value, dialect: Dialect) -> Board {
    let contact_field = match dialect {
        Dialect::Hive { per_id: true } => "contactById",
        _ => "contact",
    };
    let key_dialect = match dialect {
        Dialect::Ours => Dialect::Ours,
        _ => Dialect::Tailcall,
    };
    properties
        .as_array()
        .map(|properties| {
            properties
                .iter()
                .map(|property| {
                    let mut links: Vec<_> = property["contacts"]
                        .as_array()
                        .map(|links| {
                            links
                                .iter()
                                .map(|link| {
                                    let (name, email) =
                                        contact_key(&link[contact_field], key_dialect);
                                    (
                                        text(&link["role"]).to_string(),
                                        link["primary"].as_bool().unwrap_or(false),
                                        name,
                                        email,
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    links.sort();
                    (text(&property["title"]).to_string(), links)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Open To Close read straight from the sandbox.
async fn sandbox_get(
    sandbox: &RunningSandbox,
    client: &reqwest::Client,
    path: &str,
    query: &[(&str, String)],
) -> anyhow::Result<Value> {
    let mut parameters = query.to_vec();
    parameters.push((
        "api_token",
        sandbox.credentials.opentoclose.api_token.clone(),
    ));
    Ok(client
        .get(format!("{}/opentoclose/v1{path}", sandbox.url))
        .query(&parameters)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// Sends every body once and compares each answer with the sandbox's records.
async fn check(
    kind: Kind,
    dialect: Dialect,
    graphql_url: &str,
    bodies: &[Bytes],
    sandbox: &RunningSandbox,
    client: &reqwest::Client,
) -> anyhow::Result<()> {
    for (index, request) in bodies.iter().enumerate() {
        let answer: Value = client
            .post(graphql_url)
            .header("content-type", "application/json")
            .body(request.clone())
            .send()
            .await?
            .json()
            .await?;
        anyhow::ensure!(
            answer.get("errors").is_none() && !answer["data"].is_null(),
            "request {index} failed: {answer}"
        );
        let data = &answer["data"];
        match kind {
            Kind::ContactById => {
                let id = index as u64 + 1;
                let record = sandbox_get(sandbox, client, &format!("/contacts/{id}"), &[]).await?;
                let expected = contact_key(&record, Dialect::Tailcall);
                let contact = match dialect {
                    Dialect::Ours | Dialect::Tailcall => &data["contact"],
                    Dialect::Hive { .. } => &data["getContact"],
                };
                let got = contact_key(contact, dialect);
                anyhow::ensure!(
                    got == expected,
                    "contact {id}: got {got:?}, the sandbox has {expected:?}"
                );
            }
            Kind::W1Same | Kind::W1Pages => {
                let offset = index as u64 * PAGE;
                let properties = sandbox_get(
                    sandbox,
                    client,
                    "/properties",
                    &[("limit", PAGE.to_string()), ("offset", offset.to_string())],
                )
                .await?;
                let mut expected = Vec::new();
                for property in properties.as_array().context("properties")? {
                    let id = property["id"].as_u64().context("property id")?;
                    let links = sandbox_get(
                        sandbox,
                        client,
                        &format!("/properties/{id}/contacts"),
                        &[("limit", "100".to_string())],
                    )
                    .await?;
                    expected.push(json!({ "title": property["title"], "contacts": links }));
                }
                let expected = board_key(&Value::Array(expected), Dialect::Tailcall);
                let page = match dialect {
                    Dialect::Ours => &data["properties"]["nodes"],
                    Dialect::Tailcall => &data["properties"],
                    Dialect::Hive { .. } => &data["listProperties"],
                };
                let got = board_key(page, dialect);
                anyhow::ensure!(
                    expected.len() == PAGE as usize,
                    "the sandbox served {} properties",
                    expected.len()
                );
                anyhow::ensure!(
                    got == expected,
                    "page at offset {offset} differs from the sandbox's records: got {} properties, first {:?}; expected first {:?}",
                    got.len(),
                    got.first(),
                    expected.first()
                );
            }
            Kind::Search => check_search(dialect, data, sandbox, client).await?,
        }
    }
    Ok(())
}

/// The federated search: our merged page holds only matching contacts; the
/// peers' per-source lists are what each upstream answers to the same filter.
async fn check_search(
    dialect: Dialect,
    data: &Value,
    sandbox: &RunningSandbox,
    client: &reqwest::Client,
) -> anyhow::Result<()> {
    let matches = |text: &str| text.to_lowercase().contains(SEARCH_TERM);
    match dialect {
        Dialect::Ours => {
            let nodes = data["contacts"]["nodes"].as_array().context("nodes")?;
            anyhow::ensure!(
                nodes.len() == SEARCH_FIRST as usize,
                "{} contacts",
                nodes.len()
            );
            for node in nodes {
                let emails = node["emails"].as_array().cloned().unwrap_or_default();
                anyhow::ensure!(
                    matches(text(&node["displayName"]))
                        || emails.iter().any(|e| matches(text(&e["address"]))),
                    "{node} does not match `{SEARCH_TERM}`"
                );
            }
        }
        Dialect::Tailcall | Dialect::Hive { .. } => {
            let hive = matches!(dialect, Dialect::Hive { .. });
            let field = |tailcall: &str, hive_name: &str| {
                data[if hive { hive_name } else { tailcall }].clone()
            };
            let expected = sandbox_get(
                sandbox,
                client,
                "/contacts",
                &[
                    ("search", SEARCH_TERM.to_string()),
                    ("limit", SEARCH_FIRST.to_string()),
                ],
            )
            .await?;
            let expected: Vec<_> = expected
                .as_array()
                .context("contacts")?
                .iter()
                .map(|c| contact_key(c, Dialect::Tailcall))
                .collect();
            let got: Vec<_> = field("opentocloseSearch", "listContacts")
                .as_array()
                .context("Open To Close list")?
                .iter()
                .map(|c| contact_key(c, Dialect::Tailcall))
                .collect();
            anyhow::ensure!(
                got == expected,
                "Open To Close: got {got:?}, the sandbox has {expected:?}"
            );
            let django = field("djangocrmSearch", "DjangoCrm_listContacts");
            for contact in django["results"].as_array().context("Django-CRM list")? {
                anyhow::ensure!(
                    matches(text(&contact["first_name"])) || matches(text(&contact["last_name"])),
                    "Django-CRM: {contact}"
                );
            }
            let spark = field("sparkSearch", "Spark_listContacts");
            for contact in spark["D"]["Results"].as_array().context("Spark list")? {
                anyhow::ensure!(matches(text(&contact["DisplayName"])), "Spark: {contact}");
            }
            let winnerr = field("winnerrContacts", "Winnerr_listContacts");
            anyhow::ensure!(
                winnerr["data"].as_array().context("Winnerr list")?.len() == SEARCH_FIRST as usize,
                "Winnerr: {winnerr}"
            );
        }
    }
    Ok(())
}

/// The processes of the tree under `root`, itself included.
fn process_tree(root: u32) -> Vec<u32> {
    let mut parents: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.filter_map(Result::ok) {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let parent = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|ppid| ppid.parse::<u32>().ok());
            if let Some(parent) = parent {
                parents.entry(parent).or_default().push(pid);
            }
        }
    }
    let mut tree = vec![root];
    let mut next = 0;
    while next < tree.len() {
        if let Some(children) = parents.get(&tree[next]) {
            tree.extend(children);
        }
        next += 1;
    }
    tree
}

/// User plus system CPU time of the tree under `root`, in milliseconds: the
/// live processes' own time plus the time of the children the root has
/// already waited for.
fn tree_cpu_ms(root: u32) -> u64 {
    let field = |pid: u32, index: usize| -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                stat.rsplit_once(')').and_then(|(_, rest)| {
                    rest.split_whitespace()
                        .nth(index)
                        .and_then(|f| f.parse().ok())
                })
            })
            .unwrap_or(0)
    };
    // utime, stime, cutime and cstime are fields 14 to 17 of the line, in
    // clock ticks (100 per second on Linux); counted from after the command.
    let mut ticks = field(root, 13) + field(root, 14);
    for pid in process_tree(root) {
        ticks += field(pid, 11) + field(pid, 12);
    }
    ticks * 10
}

/// The peak resident set of every process in the tree, added up.
fn tree_peak_rss_kb(root: u32) -> u64 {
    process_tree(root)
        .into_iter()
        .map(|pid| super::peak_rss_kb(&pid.to_string()))
        .sum()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    if values.is_empty() {
        return 0.0;
    }
    values[values.len() / 2]
}

/// The medians of each gateway's runs, one markdown row each.
fn table(
    workloads: &[Workload],
    results: &[(usize, Peer, Vec<Run>)],
    refused: &[(usize, Peer, String)],
) -> String {
    let medians = |runs: &[Run], metric: fn(&Run) -> f64| median(runs.iter().map(metric).collect());
    let mut out = String::from(
        "| workload | gateway | req/s | p50 ms | p99 ms | upstream req/query | CPU ms/query | peak RSS MB | ours / peer req/s | ours / peer CPU/query |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for (index, workload) in workloads.iter().enumerate() {
        let rows: Vec<_> = results.iter().filter(|(w, _, _)| *w == index).collect();
        let ours = rows.iter().find(|(_, peer, _)| peer.is_ours());
        let ours_rps = ours.map(|(_, _, runs)| medians(runs, |r| r.requests_per_second));
        let ours_cpu = ours.map(|(_, _, runs)| medians(runs, |r| r.cpu_ms_per_query));
        for (_, peer, runs) in rows {
            let rps = medians(runs, |r| r.requests_per_second);
            let cpu = medians(runs, |r| r.cpu_ms_per_query);
            let failures: usize = runs.iter().map(|r| r.failures).sum();
            let rss = runs.iter().map(|r| r.peak_rss_kb).max().unwrap_or(0);
            let ratio = |ours: Option<f64>, peer: f64| match ours {
                Some(ours) if peer.is_finite() && peer > 0.0 => format!("{:.2}x", ours / peer),
                _ => String::from("–"),
            };
            let (rps_ratio, cpu_ratio) = if peer.is_ours() {
                ("–".to_string(), "–".to_string())
            } else {
                (ratio(ours_rps, rps), ratio(ours_cpu, cpu))
            };
            out.push_str(&format!(
                "| {} ({} ms) | {} | {:.0}{} | {:.2} | {:.2} | {:.2} | {:.3} | {:.0} | {} | {} |\n",
                workload.title,
                workload.latency_ms,
                peer.label(),
                rps,
                if failures > 0 {
                    format!(" ({failures} failed)")
                } else {
                    String::new()
                },
                medians(runs, |r| r.p50_ms),
                medians(runs, |r| r.p99_ms),
                medians(runs, |r| r.upstream_per_query),
                cpu,
                rss as f64 / 1024.0,
                rps_ratio,
                cpu_ratio,
            ));
        }
        for (_, peer, why) in refused.iter().filter(|(w, _, _)| *w == index) {
            // The first line of the error chain is enough for a table cell.
            let why = why.lines().next().unwrap_or("").replace('|', "/");
            out.push_str(&format!(
                "| {} ({} ms) | {} | {why} | | | | | | | |\n",
                workload.title,
                workload.latency_ms,
                peer.label(),
            ));
        }
    }
    out
}
