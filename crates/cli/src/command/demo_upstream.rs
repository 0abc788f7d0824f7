//! `mandate demo-upstream`: the demo MCP server, shipped inside the binary.
//!
//! stdio by default; `--http ADDR` serves streamable HTTP at `/mcp`.

use mandate_demo::DemoOptions;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `mandate demo-upstream`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Serve streamable HTTP on this address instead of stdio.
    #[arg(long)]
    http: Option<String>,
    /// Change `lookup_customer`'s description to a poisoned one.
    #[arg(long)]
    poisoned: bool,
    /// Append one line per tool call received to this file.
    #[arg(long)]
    call_log: Option<PathBuf>,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = DemoOptions {
        poisoned: args.poisoned,
        call_log: args.call_log,
    };
    match args.http {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(&addr).await?;
            eprintln!("listening on http://{}/mcp", listener.local_addr()?);
            mandate_demo::serve_http(listener, options).await?;
        }
        None => mandate_demo::serve_stdio(options).await?,
    }
    Ok(ExitCode::SUCCESS)
}
