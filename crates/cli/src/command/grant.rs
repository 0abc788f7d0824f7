//! `mandate grant`: a human grants an agent a root mandate; prints its id and token.
//!
//! Tool patterns are checked against the live catalog, so a typo is refused, not silently empty.

use crate::context::GlobalArgs;
use crate::output;
use mandate_core::{AgentId, ArgConstraint, HumanId, ToolClass, ToolPattern};
use mandate_gateway::config::parse_duration;
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
    /// Comma-separated tool patterns, e.g. `crm.lookup_*,crm.update_customer`.
    #[arg(long)]
    tools: String,
    /// The highest class of tool it may call: read, write or orchestrate.
    #[arg(long, default_value = "read")]
    max_class: ToolClass,
    /// A limit on an argument, repeatable: `TOOLS:ARG under /path`, `TOOLS:ARG prefix TEXT`
    /// or `TOOLS:ARG in A,B` (e.g. `fs.read_file:path under /srv/reports`).
    #[arg(long = "arg", value_name = "CONSTRAINT")]
    constraints: Vec<String>,
    /// How long it lasts, e.g. `30m`, `8h`, `7d`.
    #[arg(long)]
    expires: String,
    /// Why it is granted.
    #[arg(long)]
    purpose: String,
    /// The most calls it may make.
    #[arg(long)]
    budget: Option<u64>,
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let lasts = parse_duration(&args.expires).map_err(|p| anyhow::anyhow!("--expires: {p}"))?;
    let request = GrantRequest {
        human: HumanId::new(args.human)?,
        agent: AgentId::new(args.agent)?,
        tools: ToolPattern::parse_list(&args.tools)?,
        ceiling: args.max_class,
        constraints: args
            .constraints
            .iter()
            .map(|c| ArgConstraint::parse(c))
            .collect::<Result<_, _>>()?,
        lasts,
        purpose: args.purpose,
        budget: args.budget,
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
