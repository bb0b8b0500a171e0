//! The `contact-gateway` binary: logging, argument parsing, and a call into the library.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = contact_gateway::cli::Cli::parse();
    contact_gateway::cli::run(cli).await?;
    Ok(())
}
