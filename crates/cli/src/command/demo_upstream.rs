//! `mandate demo-upstream`: the demo MCP server, shipped inside the binary.
//!
//! stdio by default; `--http ADDR` serves streamable HTTP at `/mcp`.

use std::process::ExitCode;

/// Arguments of `mandate demo-upstream`: the demo server's own.
pub type Args = mandate_demo::DemoArgs;

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    mandate_demo::run(args).await?;
    Ok(ExitCode::SUCCESS)
}
