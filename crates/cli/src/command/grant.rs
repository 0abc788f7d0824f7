//! `mandate grant`: a human grants an agent a root mandate; prints its id and token.
//!
//! Tool patterns are checked against the live catalog, so a typo is refused, not silently empty.

use crate::context::GlobalArgs;
use crate::output;
use crate::scope_args::ScopeArgs;
use mandate_core::{AgentId, HumanId, ToolPattern};
use mandate_gateway::governance::GrantRequest;
use std::process::ExitCode;

/// Arguments of `mandate grant`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The human granting it (required: nothing is granted without one).
    #[arg(long)]
    human: String,
    /// The agent receiving it.
    #[arg(long)]
    agent: String,
    /// What it reaches and for how long.
    #[command(flatten)]
    scope: ScopeArgs,
    /// Why it is granted.
    #[arg(long)]
    purpose: String,
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let scope = args.scope.parse()?;
    let request = GrantRequest {
        human: HumanId::new(args.human)?,
        agent: AgentId::new(args.agent)?,
        tools: scope.tools,
        ceiling: scope.ceiling,
        constraints: scope.constraints,
        approvals: scope.approvals,
        lasts: scope.lasts,
        purpose: args.purpose,
        budget: scope.budget,
    };
    let gateway = global.open_with_catalog().await?;
    let (mandate, token) = gateway.grant(request).await?;
    if args.json {
        output::json(&serde_json::json!({
            "mandate": mandate,
            "token": token.token,
            "token_expires_at": token.claims.exp,
        }))?;
    } else {
        println!(
            "mandate {} granted by {} to {}",
            mandate.id, mandate.root_human, mandate.agent
        );
        println!(
            "  tools: {}  ceiling: {}  expires {} ({})",
            mandate
                .tools
                .iter()
                .map(ToolPattern::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            mandate.ceiling,
            mandate.expires_at,
            output::relative(mandate.expires_at)
        );
        println!(
            "access token (valid until {}):",
            mandate_core::Timestamp::from_secs(token.claims.exp)
        );
        println!("{}", token.token);
    }
    Ok(ExitCode::SUCCESS)
}
