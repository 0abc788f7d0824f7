//! `mandate approvals list|show|approve|deny`: the calls held for a human, and deciding them.
//!
//! Runs against the same store as a running `mandate serve`, which sees a decision within
//! a fraction of a second. Only an approver (`[approvals] approvers`) may decide.

use crate::context::GlobalArgs;
use crate::output;
use mandate_core::{Approval, ApprovalId, ApprovalStatus, HumanId};
use mandate_store::ApprovalVerdict;
use std::process::ExitCode;

/// `mandate approvals …`
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List approval requests: pending ones, or every one with `--all`.
    List {
        /// Include decided, spent and expired requests.
        #[arg(long)]
        all: bool,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Show one request: the agent, its chain up to the human, the tool, its class and the
    /// arguments (detected secrets redacted).
    Show {
        /// The approval id (`apr_…`).
        id: String,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Approve a held call: it may go ahead, once, with exactly these arguments.
    Approve(Decide),
    /// Deny a held call.
    Deny(Decide),
}

/// Who decides, and why.
#[derive(Debug, clap::Args)]
pub struct Decide {
    /// The approval id (`apr_…`).
    id: String,
    /// The approver deciding.
    #[arg(long)]
    by: String,
    /// Why (recorded in the audit log and shown to the agent on a denial).
    #[arg(long, default_value = "")]
    reason: String,
}

pub async fn run(command: Command, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let gateway = global.open()?;
    match command {
        Command::List { all, json } => {
            let approvals: Vec<Approval> = gateway
                .approvals()
                .await?
                .into_iter()
                .filter(|a| all || a.status == ApprovalStatus::Pending)
                .collect();
            if json {
                output::json(&approvals)?;
            } else if approvals.is_empty() {
                println!("no approval requests{}", if all { "" } else { " pending" });
            } else {
                for a in &approvals {
                    println!("{}", summary(a));
                }
            }
        }
        Command::Show { id, json } => {
            let approval = gateway.approval(&ApprovalId::new(id)?).await?;
            if json {
                output::json(&approval)?;
            } else {
                print!("{}", details(&approval)?);
            }
        }
        Command::Approve(d) => decide(&gateway, d, ApprovalVerdict::Approve).await?,
        Command::Deny(d) => decide(&gateway, d, ApprovalVerdict::Deny).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn decide(
    gateway: &mandate_gateway::Gateway,
    args: Decide,
    verdict: ApprovalVerdict,
) -> anyhow::Result<()> {
    let id = ApprovalId::new(args.id)?;
    let by = HumanId::new(args.by)?;
    let seq = gateway
        .decide_approval(&id, verdict, &by, &args.reason)
        .await?;
    let word = match verdict {
        ApprovalVerdict::Approve => "approved",
        ApprovalVerdict::Deny => "denied",
    };
    println!("{word} {id} as {by} (audit event #{seq})");
    Ok(())
}

fn summary(a: &Approval) -> String {
    format!(
        "{} [{}] {} → {} calls {} ({}) expires {}",
        a.id,
        a.status.as_str(),
        a.human,
        a.agent,
        a.tool,
        radius(a),
        output::relative(a.expires_at)
    )
}

fn details(a: &Approval) -> anyhow::Result<String> {
    let chain: Vec<String> = std::iter::once(a.human.to_string())
        .chain(
            a.chain
                .iter()
                .map(|l| format!("{} ({})", l.agent, l.mandate)),
        )
        .collect();
    let mut text = format!(
        "approval {}  [{}]\n  agent:     {}\n  chain:     {}\n  tool:      {} ({})\n  rules:     {}\n  arguments: {}\n  requested: {}\n  expires:   {}\n",
        a.id,
        a.status.as_str(),
        a.agent,
        chain.join(" → "),
        a.tool,
        radius(a),
        a.rules.join("; "),
        serde_json::to_string(&a.arguments)?,
        output::relative(a.requested_at),
        output::relative(a.expires_at),
    );
    let decided = match &a.status {
        ApprovalStatus::Approved(d) | ApprovalStatus::Denied(d) => Some(d),
        ApprovalStatus::Spent { decision, .. } => Some(decision),
        ApprovalStatus::Pending | ApprovalStatus::Expired => None,
    };
    if let Some(d) = decided {
        text.push_str(&format!(
            "  decided:   by {} {} {}\n",
            d.by,
            output::relative(d.at),
            d.reason
        ));
    }
    Ok(text)
}

fn radius(a: &Approval) -> String {
    let mut text = a.radius.class.to_string();
    if a.radius.destructive {
        text.push_str(", destructive");
    }
    if a.radius.open_world {
        text.push_str(", open world");
    }
    text
}
