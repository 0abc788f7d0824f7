//! `mandate delegate`: an operator hands a narrower mandate from an orchestrator's to a worker.
//!
//! The child must be within its parent in every dimension; any widening is refused and audited.

use crate::context::GlobalArgs;
use crate::output;
use crate::scope_args::ScopeArgs;
use mandate_core::{AgentId, ChildRequest, MandateId};
use std::process::ExitCode;

/// Arguments of `mandate delegate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The parent mandate.
    #[arg(long)]
    from: String,
    /// The worker agent receiving the child mandate.
    #[arg(long)]
    agent: String,
    /// The child's scope: each part within its parent's.
    #[command(flatten)]
    scope: ScopeArgs,
    /// Why.
    #[arg(long, default_value = "delegated by an operator")]
    purpose: String,
    /// Who performs the hand-off (recorded).
    #[arg(long, default_value = "operator")]
    by: String,
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let scope = args.scope.parse()?;
    let gateway = global.open()?;
    let now = mandate_gateway::now();
    let request = ChildRequest {
        agent: AgentId::new(args.agent)?,
        tools: scope.tools,
        ceiling: scope.ceiling,
        constraints: scope.constraints,
        approvals: scope.approvals,
        expires_at: now.plus_millis(i64::try_from(scope.lasts.as_millis()).unwrap_or(i64::MAX)),
        budget: scope.budget,
        depth_remaining: None,
        purpose: args.purpose,
        by: format!("operator:{}", args.by),
    };
    let (child, token) = gateway
        .delegate(&MandateId::new(args.from)?, request)
        .await?;
    if args.json {
        output::json(&serde_json::json!({ "mandate": child, "token": token.token }))?;
    } else {
        println!(
            "mandate {} delegated to {} (depth {})",
            child.id, child.agent, child.depth
        );
        println!("{}", token.token);
    }
    Ok(ExitCode::SUCCESS)
}
