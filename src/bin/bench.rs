//! Benchmarks: start servers in-process on loopback, drive them with a small
//! closed-loop load generator, and print throughput and latency percentiles.
//!
//! `cargo run --release --bin bench -- sandbox-get` measures the sandbox alone
//! on a single-contact GET, the cheapest request it serves, to show it can
//! never be the bottleneck of a gateway benchmark. `gateway-contacts` measures
//! the gateway's federated `contacts` list in front of a sandbox with latency.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use contact_gateway::sandbox::{SandboxOptions, SandboxServer};

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
}

#[derive(Debug, Subcommand)]
enum Workload {
    /// Single-contact GETs against the Open To Close emulator, 0 ms latency.
    SandboxGet,
    /// The first 50 contacts of all four sources by creation time, through the gateway.
    GatewayContacts {
        /// Latency of every upstream, in milliseconds.
        #[arg(long, default_value_t = 5)]
        latency_ms: u64,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = BenchCli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.workload {
            Workload::SandboxGet => sandbox_get(&cli).await,
            Workload::GatewayContacts { latency_ms } => gateway_contacts(&cli, latency_ms).await,
        }
    })
}

async fn sandbox_get(cli: &BenchCli) -> anyhow::Result<()> {
    let options = SandboxOptions::default();
    let token = options.credentials.opentoclose.api_token.clone();
    let server = SandboxServer::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), options).await?;
    let url = format!("http://{}", server.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));
    let target = format!("{url}/opentoclose/v1/contacts/42?api_token={token}");
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
    println!("workload: sandbox-get (GET /opentoclose/v1/contacts/{{id}}, 0 ms latency)");
    report.print();
    let _ = stop.send(());
    serving.await??;
    Ok(())
}

async fn gateway_contacts(cli: &BenchCli, latency_ms: u64) -> anyhow::Result<()> {
    let options = SandboxOptions {
        latency_ms,
        ..SandboxOptions::default()
    };
    let credentials = options.credentials.clone();
    let sandbox = SandboxServer::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), options).await?;
    let sandbox_url = format!("http://{}", sandbox.local_addr()?);
    let (stop_sandbox, sandbox_stopped) = tokio::sync::oneshot::channel::<()>();
    let sandbox_task = tokio::spawn(sandbox.run_until(async move {
        let _ = sandbox_stopped.await;
    }));
    let config = contact_gateway::demo::gateway_config(
        &sandbox_url,
        &credentials,
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    );
    let gateway = contact_gateway::app::GatewayServer::bind(&config).await?;
    let graphql = format!("http://{}/graphql", gateway.local_addr()?);
    let (stop_gateway, gateway_stopped) = tokio::sync::oneshot::channel::<()>();
    let gateway_task = tokio::spawn(gateway.run_until(async move {
        let _ = gateway_stopped.await;
    }));
    let body = serde_json::json!({
        "query": "{ contacts(first: 50, orderBy: {field: CREATED_AT, direction: DESC}) { totalCount edges { node { id displayName emails { address } phones { number } } } } }"
    });
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
    let stats: serde_json::Value = reqwest::get(format!("{sandbox_url}/_sandbox/stats"))
        .await?
        .json()
        .await?;
    let upstream_total = stats["total"].as_f64().unwrap_or(0.0);
    println!("workload: gateway-contacts (contacts first 50 by creation, all four sources, {latency_ms} ms upstream latency)");
    report.print();
    println!(
        "upstream requests per query: {:.2} (warm-up included)",
        upstream_total / (report.requests + report.warm_up_requests).max(1) as f64
    );
    println!(
        "peak RSS of the process (sandbox, gateway and load generator): {} kB",
        peak_rss_kb()
    );
    let _ = stop_gateway.send(());
    let _ = stop_sandbox.send(());
    gateway_task.await??;
    sandbox_task.await??;
    Ok(())
}

/// `VmHWM` from `/proc/self/status`, or 0 where it is not available.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
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
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(cli.concurrency)
        .build()
        .expect("client");
    let request = Arc::new(request);
    let warm_up = Duration::from_secs(1);
    let measure = Duration::from_secs(cli.seconds);
    let started = Instant::now();
    let measure_from = started + warm_up;
    let deadline = measure_from + measure;
    let mut tasks = Vec::with_capacity(cli.concurrency);
    for _ in 0..cli.concurrency {
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
        concurrency: cli.concurrency,
    }
}
