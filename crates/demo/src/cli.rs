//! The demo server's command line, shared by `mandate-demo-upstream` and `mandate demo-upstream`.
//!
//! stdio by default; `--http ADDR` serves streamable HTTP and prints the bound address.

use crate::{DemoError, DemoOptions, MCP_PATH, serve_http, serve_stdio};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How to run the demo server.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Serve streamable HTTP on this address (e.g. 127.0.0.1:8931) instead of stdio.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// Put a prompt injection in the description of `lookup_customer`.
    #[arg(long)]
    pub poisoned: bool,
    /// Give `lookup_customer` this description instead (an upstream that changed a tool).
    #[arg(long, value_name = "TEXT")]
    pub lookup_description: Option<String>,
    /// Poison `lookup_customer`'s description this many milliseconds into each session,
    /// announcing the change (a rug pull at runtime).
    #[arg(long, value_name = "MILLIS")]
    pub poison_after_ms: Option<u64>,
    /// Append each called tool's name to this file, one per line.
    #[arg(long, value_name = "FILE")]
    pub call_log: Option<PathBuf>,
    /// Add the tool `late_report` this many milliseconds into each session, announcing the change.
    #[arg(long, value_name = "MILLIS")]
    pub add_tool_after_ms: Option<u64>,
    /// Make every tool call wait this many milliseconds first (an upstream that hangs).
    #[arg(long, value_name = "MILLIS")]
    pub delay_ms: Option<u64>,
}

/// Runs the demo server as the arguments say, until its input ends or it fails.
pub async fn run(args: DemoArgs) -> Result<(), DemoError> {
    let options = DemoOptions {
        poisoned: args.poisoned,
        lookup_description: args.lookup_description,
        poison_after: args.poison_after_ms.map(Duration::from_millis),
        call_log: args.call_log,
        add_tool_after: args.add_tool_after_ms.map(Duration::from_millis),
        delay: args.delay_ms.map(Duration::from_millis),
    };
    match args.http {
        None => serve_stdio(options).await,
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(DemoError::Http)?;
            // Print the bound address, so `--http 127.0.0.1:0` tells its port.
            let bound = listener.local_addr().map_err(DemoError::Http)?;
            eprintln!("listening on http://{bound}{MCP_PATH}");
            serve_http(listener, options).await
        }
    }
}
