//! `mandate delegate`: an operator hands a narrower mandate from an orchestrator's to a worker.
//!
//! The child must be within its parent in every dimension; any widening is refused and audited.

use crate::context::GlobalArgs;
use crate::output;
use mandate_core::{AgentId, ArgConstraint, ChildRequest, MandateId, ToolClass, ToolPattern};
use mandate_gateway::config::parse_duration;
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
    /// Comma-separated tool patterns, each within the parent's.
    #[arg(long)]
    tools: String,
    /// The child's class ceiling (default: read).
    #[arg(long, default_value = "read")]
    max_class: ToolClass,
    /// A limit on an argument, repeatable: `TOOLS:ARG under /path`, `TOOLS:ARG prefix TEXT`
    /// or `TOOLS:ARG in A,B` (e.g. `fs.read_file:path under /srv/reports`).
    #[arg(long = "arg", value_name = "CONSTRAINT")]
    constraints: Vec<String>,
    /// How long it lasts (never past the parent's expiry).
    #[arg(long)]
    expires: String,
    /// The most calls it may make.
    #[arg(long)]
    budget: Option<u64>,
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
    let lasts = parse_duration(&args.expires).map_err(|p| anyhow::anyhow!("--expires: {p}"))?;
    let gateway = global.open()?;
    let now = mandate_gateway::now();
    let request = ChildRequest {
        agent: AgentId::new(args.agent)?,
        tools: ToolPattern::parse_list(&args.tools)?,
        ceiling: args.max_class,
        constraints: args
            .constraints
            .iter()
            .map(|c| ArgConstraint::parse(c))
            .collect::<Result<_, _>>()?,
        expires_at: now.plus_millis(i64::try_from(lasts.as_millis()).unwrap_or(i64::MAX)),
        budget: args.budget,
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
