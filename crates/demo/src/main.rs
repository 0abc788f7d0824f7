//! `mandate-demo-upstream`: runs the demo MCP server over stdio or streamable HTTP.
//! Logs go to stderr only, because stdout is the MCP channel in stdio mode.

use std::process::ExitCode;

use clap::Parser;
use mandate_demo::{DemoArgs, run};
use tracing_subscriber::EnvFilter;

/// The demo upstream MCP server: a fake customer database with tools of every blast radius.
#[derive(Debug, Parser)]
#[command(name = "mandate-demo-upstream", version)]
struct Cli {
    #[command(flatten)]
    args: DemoArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .init();
    match run(cli.args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", error_chain(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its sources, joined with `: `.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
