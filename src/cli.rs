//! The `contact-gateway` command line: parse arguments and run a subcommand.
//!
//! `main` only sets up logging and calls [`run`]; everything a subcommand does
//! lives in the library so tests and benchmarks can drive it in-process.

use std::net::{Ipv4Addr, SocketAddr};

use clap::{Args, Parser, Subcommand};

use crate::sandbox::credentials::{
    DjangoCrmCredentials, OpenToCloseCredentials, SparkCredentials, WinnerrCredentials,
};
use crate::sandbox::{Credentials, SandboxOptions, SandboxServer};
use crate::telemetry::{self, LogFormat, TelemetrySettings};

/// A GraphQL gateway over four real-estate and CRM contact APIs.
#[derive(Debug, Parser)]
#[command(name = "contact-gateway", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// How log lines are written to stderr: `text` (colours only on a
    /// terminal) or `json` (one object per line).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve emulators of all four upstream APIs on one loopback port.
    Sandbox(SandboxArgs),
    /// Serve the GraphQL gateway with the configuration in FILE.
    Serve {
        /// Path of the TOML configuration file.
        #[arg(long)]
        config: std::path::PathBuf,
    },
    /// Load and validate the configuration in FILE, as `serve` would, and
    /// print what the gateway would run with; credentials are never shown.
    /// Exits with 1 and the reason when the configuration is invalid.
    Check {
        /// Path of the TOML configuration file.
        #[arg(long)]
        config: std::path::PathBuf,
    },
    /// The configuration file: `config check FILE` is `check --config FILE`.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the GraphQL schema (SDL).
    Schema,
    /// API keys for callers.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Start the sandbox on a free loopback port and the gateway in front of it.
    Demo {
        /// Port of the gateway (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Seed for the sandbox data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and validate FILE, as `serve` would, and print the effective
    /// configuration with credentials masked; exits with 1 and the reason
    /// when it is invalid.
    Check {
        /// Path of the TOML configuration file.
        file: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print a fresh API key for the principal NAME, and the line with its
    /// SHA-256 to add to the configuration. The key is shown only once.
    New {
        /// The principal the key names (`[auth.principals.NAME]`).
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Seed for the generated data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Latency every source starts with, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Open To Close `api_token` the emulator accepts.
    #[arg(long, env = "SANDBOX_OPENTOCLOSE_API_TOKEN")]
    pub opentoclose_api_token: Option<String>,
    /// Django-CRM Bearer token the emulator accepts.
    #[arg(long, env = "SANDBOX_DJANGOCRM_TOKEN")]
    pub djangocrm_token: Option<String>,
    /// Django-CRM organization id of the demo organisation.
    #[arg(long, env = "SANDBOX_DJANGOCRM_ORGANIZATION_ID")]
    pub djangocrm_organization_id: Option<String>,
    /// Winnerr Bearer token the emulator accepts.
    #[arg(long, env = "SANDBOX_WINNERR_TOKEN")]
    pub winnerr_token: Option<String>,
    /// Spark token (Private role) the emulator accepts.
    #[arg(long, env = "SANDBOX_SPARK_TOKEN")]
    pub spark_token: Option<String>,
    /// Spark `X-SparkApi-User-Agent` value the emulator expects.
    #[arg(long, env = "SANDBOX_SPARK_USER_AGENT")]
    pub spark_user_agent: Option<String>,
}

impl SandboxArgs {
    /// The sandbox options these arguments describe; unset credentials keep
    /// their demo defaults.
    pub fn options(&self) -> SandboxOptions {
        let defaults = Credentials::default();
        let pick = |given: &Option<String>, default: String| given.clone().unwrap_or(default);
        SandboxOptions {
            seed: self.seed,
            latency_ms: self.latency_ms,
            credentials: Credentials {
                opentoclose: OpenToCloseCredentials {
                    api_token: pick(&self.opentoclose_api_token, defaults.opentoclose.api_token),
                },
                djangocrm: DjangoCrmCredentials {
                    token: pick(&self.djangocrm_token, defaults.djangocrm.token),
                    organization_id: pick(
                        &self.djangocrm_organization_id,
                        defaults.djangocrm.organization_id,
                    ),
                },
                winnerr: WinnerrCredentials {
                    token: pick(&self.winnerr_token, defaults.winnerr.token),
                },
                spark: SparkCredentials {
                    token: pick(&self.spark_token, defaults.spark.token),
                    user_agent: pick(&self.spark_user_agent, defaults.spark.user_agent),
                    more_users: defaults.spark.more_users,
                },
            },
        }
    }
}

/// Errors a subcommand can end with.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The listener could not be bound or the server failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
    /// The credentials could not be printed.
    #[error("could not encode credentials: {0}")]
    Json(#[from] serde_json::Error),
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The gateway could not be built or served.
    #[error(transparent)]
    App(#[from] crate::app::AppError),
    /// The operating system's random source failed.
    #[error("could not draw a random key from the operating system")]
    Random,
    /// A principal's name that cannot be a TOML key.
    #[error("a principal's name may hold letters, digits, `-` and `_` only")]
    PrincipalName,
    /// Logging or trace export could not be set up.
    #[error(transparent)]
    Telemetry(#[from] crate::telemetry::TelemetryError),
}

/// The start-up events: the address, and each source with its base URL
/// (without any user information or query string it may hold).
fn log_start(config: &crate::config::GatewayConfig, address: SocketAddr) {
    tracing::info!(
        %address,
        sources = config.sources.len(),
        otlp_endpoint = config.telemetry.otlp_endpoint.as_deref().map(telemetry::display_url),
        "gateway listening"
    );
    for source in &config.sources {
        tracing::info!(
            source = source.kind.as_str(),
            base_url = telemetry::display_url(&source.base_url),
            timeout_ms = source.timeout.as_millis() as u64,
            max_concurrent_requests = source.max_concurrent_requests,
            "source configured"
        );
    }
}

/// Runs the parsed command until it finishes or a shutdown signal arrives.
/// Logging is set up here: for `serve`, once the configuration (which may
/// name a trace collector) has loaded.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let plain_logs = || telemetry::init(cli.log_format, &TelemetrySettings::default());
    match cli.command {
        Command::Sandbox(args) => {
            let _telemetry = plain_logs()?;
            run_sandbox(args).await
        }
        Command::Serve { config: path } => {
            let config = crate::config::GatewayConfig::load(&path)?;
            let _telemetry = telemetry::init(cli.log_format, &config.telemetry)?;
            run_gateway(&config).await
        }
        Command::Check { config } | Command::Config(ConfigCommand::Check { file: config }) => {
            let loaded = crate::config::GatewayConfig::load(&config)?;
            print!("{}", check_summary(&config, &loaded));
            Ok(())
        }
        Command::Demo { port, seed } => {
            let _telemetry = plain_logs()?;
            run_demo(port, seed).await
        }
        Command::Schema => {
            print!("{}", crate::graphql::sdl());
            Ok(())
        }
        Command::Keys(KeysCommand::New { name }) => {
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid {
                return Err(CliError::PrincipalName);
            }
            let key = crate::auth::keys::new_key().map_err(|_| CliError::Random)?;
            print!("{}", crate::auth::keys::new_key_text(&name, &key));
            Ok(())
        }
    }
}

/// What `check` prints for a valid configuration: every setting the gateway
/// would run with, environment overrides applied. Credentials are only said
/// to be set: [`crate::config::Secret`] has no way to print its value, and
/// this function never calls `expose`.
pub fn check_summary(path: &std::path::Path, config: &crate::config::GatewayConfig) -> String {
    use std::fmt::Write;

    use crate::config::SourceCredentials;

    let mut out = String::new();
    // Writing to a `String` cannot fail, so the results are ignored.
    let _ = writeln!(out, "{}: valid", path.display());
    let _ = writeln!(out, "listen: {}", config.listen);
    let _ = writeln!(out, "sources ({}):", config.sources.len());
    for source in &config.sources {
        let credentials = match &source.credentials {
            SourceCredentials::OpenToClose { .. } => "api token set".to_string(),
            SourceCredentials::DjangoCrm { .. } => "token and organization id set".to_string(),
            SourceCredentials::Winnerr { .. } => "token set".to_string(),
            SourceCredentials::Spark { user_agent, .. } => {
                format!("token set, user agent {user_agent:?}")
            }
        };
        let _ = writeln!(
            out,
            "  {}: {} (timeout {} ms, at most {} concurrent requests; {credentials})",
            source.kind,
            source.base_url,
            source.timeout.as_millis(),
            source.max_concurrent_requests,
        );
    }
    let limits = &config.limits;
    let _ = writeln!(
        out,
        "limits: page size {}, depth {}, complexity {}, body {} B, query {} B, {} tokens, \
         {} aliases, {} root fields, {} directives per field, {} selections, \
         {} upstream requests per source (lists assumed up to {} records)",
        limits.max_page_size,
        limits.max_query_depth,
        limits.max_query_complexity,
        limits.max_request_body_bytes,
        limits.max_query_bytes,
        limits.max_query_tokens,
        limits.max_aliases,
        limits.max_root_fields,
        limits.max_directives_per_field,
        limits.max_selections,
        limits.max_upstream_requests,
        limits.estimate_list_size,
    );
    let cors = &config.cors;
    let _ = writeln!(
        out,
        "cors: origins {:?}, loopback origins {}, methods {:?}, headers {:?}, credentials {}, \
         max age {} s",
        cors.allow_origins,
        on_off(cors.allow_loopback_origins),
        cors.allow_methods,
        cors.allow_headers,
        on_off(cors.allow_credentials),
        cors.max_age_secs,
    );
    let _ = writeln!(
        out,
        "csrf: {}, headers {:?}",
        on_off(config.csrf.enabled),
        config.csrf.required_headers
    );
    let _ = writeln!(
        out,
        "operations: automatic persisted queries {} (keeps {})",
        on_off(config.operations.automatic_persisted_queries),
        config.operations.automatic_persisted_queries_capacity
    );
    let _ = writeln!(
        out,
        "graphql: introspection {}, GraphiQL {}",
        on_off(config.graphql.introspection),
        on_off(config.graphql.graphiql)
    );
    let _ = writeln!(
        out,
        "loaders: {}, batch delay {} us",
        on_off(config.loaders.enabled),
        config.loaders.batch_delay_us
    );
    let _ = writeln!(
        out,
        "cache: {}, budget {} B, ttl_ms {:?}",
        on_off(config.cache.enabled),
        config.cache.max_bytes,
        config.cache.ttl_ms
    );
    for source in &config.sources {
        if let Some(settings) = config.cache.sources.of(source.kind) {
            let _ = writeln!(out, "  {} ttl_ms {:?}", source.kind, settings.ttl_ms);
        }
    }
    write_auth_summary(&mut out, &config.auth);
    let _ = match &config.telemetry.otlp_endpoint {
        Some(endpoint) => writeln!(
            out,
            "telemetry: traces to {} as service {:?}",
            telemetry::display_url(endpoint),
            config.telemetry.service_name
        ),
        None => writeln!(out, "telemetry: no trace export"),
    };
    out
}

/// The `auth` lines of `check`: the mode, each principal, each forwarded
/// header. Key hashes and credentials are only counted or said to be set.
fn write_auth_summary(out: &mut String, auth: &crate::config::AuthConfig) {
    use std::fmt::Write;

    use crate::config::AuthMode;

    match auth.mode {
        AuthMode::Open => {
            let _ = writeln!(
                out,
                "auth: open (no key asked; every caller uses the gateway's credentials)"
            );
        }
        AuthMode::Keys => {
            let _ = writeln!(out, "auth: keys ({} principals)", auth.principals.len());
        }
    }
    for principal in &auth.principals {
        let sources = match &principal.allowed_sources {
            None => "every source".to_string(),
            Some(allowed) => allowed
                .iter()
                .map(|kind| kind.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        };
        let own: Vec<&str> = principal
            .credentials
            .iter()
            .map(|credentials| match credentials {
                crate::config::SourceCredentials::OpenToClose { .. } => "opentoclose",
                crate::config::SourceCredentials::DjangoCrm { .. } => "djangocrm",
                crate::config::SourceCredentials::Winnerr { .. } => "winnerr",
                crate::config::SourceCredentials::Spark { .. } => "spark",
            })
            .collect();
        let limits = match principal.rate_limit {
            None => "no rate limit".to_string(),
            Some(limit) => format!(
                "{} requests/s (burst {}), upstream requests/min {}",
                limit.requests_per_second,
                limit.burst,
                limit
                    .upstream_requests_per_minute
                    .map_or("unlimited".to_string(), |n| n.to_string())
            ),
        };
        let _ = writeln!(
            out,
            "  {}: {} key(s), {}, sources: {sources}; own credentials: {}; {limits}",
            principal.name,
            principal.key_hashes.len(),
            if principal.read_only {
                "read-only"
            } else {
                "reads and writes"
            },
            if own.is_empty() {
                "none".to_string()
            } else {
                own.join(", ")
            },
        );
    }
    for forward in &auth.forward {
        let headers: Vec<&str> = [&forward.header, &forward.organization_header]
            .into_iter()
            .flatten()
            .map(|header| header.as_str())
            .collect();
        let _ = writeln!(
            out,
            "  {} forwarded from {}{}",
            forward.source,
            headers.join(" and "),
            if forward.required { " (required)" } else { "" }
        );
    }
}

fn on_off(value: bool) -> &'static str {
    if value {
        "on"
    } else {
        "off"
    }
}

async fn run_sandbox(args: SandboxArgs) -> Result<(), CliError> {
    let options = args.options();
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let credentials = serde_json::to_string(&options.credentials)?;
    let server = SandboxServer::bind(address, options).await?;
    let url = format!("http://{}", server.local_addr()?);
    // Listening for signals before announcing the address: a supervisor may
    // send one as soon as it reads the address.
    let shutdown = shutdown_signal();
    println!("sandbox: {url}");
    println!("credentials: {credentials}");
    println!("base URLs: {url}/opentoclose/v1 {url}/djangocrm/api {url}/winnerr/v1 {url}/spark/v1");
    server.run_until(shutdown).await?;
    Ok(())
}

async fn run_gateway(config: &crate::config::GatewayConfig) -> Result<(), CliError> {
    let server = crate::app::GatewayServer::bind(config).await?;
    let shutdown = shutdown_signal();
    log_start(config, server.local_addr()?);
    println!("GraphiQL: http://{}/graphql", server.local_addr()?);
    server.run_until(shutdown).await?;
    Ok(())
}

async fn run_demo(port: u16, seed: u64) -> Result<(), CliError> {
    let options = SandboxOptions {
        seed,
        ..SandboxOptions::default()
    };
    let credentials = options.credentials.clone();
    let sandbox = SandboxServer::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), options).await?;
    let sandbox_url = format!("http://{}", sandbox.local_addr()?);
    let mut config = crate::demo::gateway_config(
        &sandbox_url,
        &credentials,
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
    );
    let key = crate::auth::keys::new_key().map_err(|_| CliError::Random)?;
    config.auth = crate::demo::demo_auth(&key);
    let gateway = crate::app::GatewayServer::bind(&config).await?;
    let shutdown = shutdown_signal();
    log_start(&config, gateway.local_addr()?);
    println!("sandbox: {sandbox_url}");
    println!("demo key: {}", key.expose());
    // The key travels in the URL's fragment, which browsers never send to
    // a server; GraphiQL's page reads it into its request headers.
    println!(
        "GraphiQL: http://{}/graphql#key={}",
        gateway.local_addr()?,
        key.expose()
    );
    let (stop_sandbox, sandbox_stopped) = tokio::sync::oneshot::channel::<()>();
    let sandbox_task = tokio::spawn(sandbox.run_until(async move {
        let _ = sandbox_stopped.await;
    }));
    gateway.run_until(shutdown).await?;
    let _ = stop_sandbox.send(());
    if let Ok(result) = sandbox_task.await {
        result?;
    }
    Ok(())
}

/// Completes on SIGINT or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled, so a signal that arrives in
/// between is not lost.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                (Ok(mut interrupt), Err(_)) => {
                    interrupt.recv().await;
                }
                (Err(_), Ok(mut terminate)) => {
                    terminate.recv().await;
                }
                (Err(_), Err(_)) => std::future::pending::<()>().await,
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
