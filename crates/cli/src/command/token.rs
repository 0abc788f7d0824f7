//! `mandate token`: a fresh access token for a mandate whose chain is still in force.
//!
//! Tokens are short-lived; this is how an agent's operator renews one.

use crate::context::GlobalArgs;
use crate::output;
use mandate_core::MandateId;
use std::process::ExitCode;

/// Arguments of `mandate token`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The mandate.
    #[arg(long)]
    mandate: String,
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let gateway = global.open()?;
    let token = gateway.issue_token(&MandateId::new(args.mandate)?).await?;
    if args.json {
        output::json(&serde_json::json!({ "token": token.token, "claims": token.claims }))?;
    } else {
        println!("{}", token.token);
    }
    Ok(ExitCode::SUCCESS)
}
