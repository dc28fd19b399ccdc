//! The `keyway` binary: parses the command line and runs one command. Everything else lives in
//! the library crates.

mod analytics_seed;
mod args;
mod audit;
mod backends;
mod cli;
mod revoke;
mod serve;
mod vault;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEYWAY_LOG").unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("keyway: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line an operator can act on; no backtrace.
            eprintln!("keyway: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
