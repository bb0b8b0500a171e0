//! The `contact-gateway` binary: logging, argument parsing, and a call into the library.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = contact_gateway::cli::Cli::parse();
    match contact_gateway::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line with the reason, and no backtrace: an operator reads
            // this, and every error's message already names what to fix.
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
