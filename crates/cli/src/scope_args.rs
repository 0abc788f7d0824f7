//! The scope flags `grant` and `delegate` share: tools, ceiling, argument limits, approval
//! rules, expiry, budget.
//!
//! Parsed once here into domain types, so both commands refuse bad input the same way.

use mandate_core::{ApprovalRule, ArgConstraint, ToolClass, ToolPattern};
use mandate_gateway::config::parse_duration;
use std::time::Duration;

/// What a mandate reaches and for how long.
#[derive(Debug, clap::Args)]
pub struct ScopeArgs {
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
    /// Calls that need a human's approval first, repeatable or comma-separated:
    /// `destructive`, a class (`write` covers `orchestrate` too) or a tool pattern (`crm.refund`).
    /// A delegated mandate keeps its parent's rules and may add more.
    #[arg(long = "approve", value_name = "RULE")]
    approve: Vec<String>,
    /// How long it lasts, e.g. `30m`, `8h`, `7d`.
    #[arg(long)]
    expires: String,
    /// The most calls it may make.
    #[arg(long)]
    budget: Option<u64>,
}

/// [`ScopeArgs`] as domain values.
pub struct Scope {
    pub tools: Vec<ToolPattern>,
    pub ceiling: ToolClass,
    pub constraints: Vec<ArgConstraint>,
    pub approvals: Vec<ApprovalRule>,
    pub lasts: Duration,
    pub budget: Option<u64>,
}

impl ScopeArgs {
    /// Parses the flags; each error names the flag.
    pub fn parse(&self) -> anyhow::Result<Scope> {
        Ok(Scope {
            tools: ToolPattern::parse_list(&self.tools)?,
            ceiling: self.max_class,
            constraints: self
                .constraints
                .iter()
                .map(|c| ArgConstraint::parse(c))
                .collect::<Result<_, _>>()?,
            approvals: self.approve.iter().try_fold(Vec::new(), |mut all, list| {
                for rule in
                    ApprovalRule::parse_list(list).map_err(|e| anyhow::anyhow!("--approve: {e}"))?
                {
                    if !all.contains(&rule) {
                        all.push(rule);
                    }
                }
                anyhow::Ok(all)
            })?,
            lasts: parse_duration(&self.expires).map_err(|p| anyhow::anyhow!("--expires: {p}"))?,
            budget: self.budget,
        })
    }
}
