//! The `contact-gateway` binary: argument parsing and a call into the library
//! (which sets up logging once it knows the configuration).

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
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
