//! `mandate-demo-upstream`: runs the demo MCP server over stdio or streamable HTTP.
//! Logs go to stderr only, because stdout is the MCP channel in stdio mode.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mandate_demo::{DemoOptions, MCP_PATH, serve_http, serve_stdio};
use tracing_subscriber::EnvFilter;

/// A demo MCP server with a fake customer database.
#[derive(Debug, Parser)]
#[command(name = "mandate-demo-upstream", version)]
struct Args {
    /// Serve streamable HTTP on this address (e.g. 127.0.0.1:8931) instead of stdio.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Put a prompt injection in the description of `lookup_customer`.
    #[arg(long)]
    poisoned: bool,
    /// Append each called tool's name to this file, one per line.
    #[arg(long, value_name = "FILE")]
    call_log: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .init();

    let options = DemoOptions {
        poisoned: args.poisoned,
        call_log: args.call_log,
    };
    let result = match args.http {
        None => serve_stdio(options).await,
        Some(addr) => {
            let listener = match tokio::net::TcpListener::bind(addr).await {
                Ok(listener) => listener,
                Err(error) => {
                    eprintln!("error: cannot listen on {addr}: {error}");
                    return ExitCode::FAILURE;
                }
            };
            // Print the bound address, so `--http 127.0.0.1:0` tells its port.
            match listener.local_addr() {
                Ok(bound) => eprintln!("listening on http://{bound}{MCP_PATH}"),
                Err(_) => eprintln!("listening on http://{addr}{MCP_PATH}"),
            }
            serve_http(listener, options).await
        }
    };
    match result {
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
