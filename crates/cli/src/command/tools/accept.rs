//! `mandate tools accept NAME --by WHO`: let a withheld tool's waiting definition in.
//!
//! Audited; a running gateway notices within about a second, without a restart.

use crate::context::GlobalArgs;
use mandate_core::ToolName;
use std::process::ExitCode;

/// Arguments of `mandate tools accept`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tool, as `upstream.tool`.
    tool: String,
    /// Who reviewed and accepts the definition.
    #[arg(long)]
    by: String,
    /// The digest (or its start, as `mandate tools diff` prints it) of the definition
    /// reviewed: refused if the waiting definition changed since.
    #[arg(long)]
    digest: Option<String>,
}

pub async fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let gateway = global.open()?;
    let tool = ToolName::new(args.tool)?;
    let (seq, accepted) = gateway
        .accept_tool(&tool, args.digest.as_deref(), &args.by)
        .await?;
    println!(
        "accepted the definition {} of tool {tool} (audit event #{seq}); it is callable again",
        short(&accepted.digest)
    );
    Ok(ExitCode::SUCCESS)
}

/// The first 12 hex digits of a digest, as `diff` prints it.
pub(super) fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}
