//! `mandate mandates list|tree`: who holds what, and who handed work to whom.
//!
//! The tree shows each mandate's status, expiry, ceiling and use counts.

use crate::context::GlobalArgs;
use crate::output;
use mandate_core::{Mandate, MandateId};
use std::collections::BTreeMap;
use std::process::ExitCode;

/// `mandate mandates …`
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List every mandate.
    List {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Draw the delegation tree below a mandate (default: every root).
    Tree {
        /// The mandate at the top.
        id: Option<String>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: Command, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let gateway = global.open()?;
    let now = mandate_gateway::now();
    match command {
        Command::List { json } => {
            let all = gateway.store.mandates().await?;
            if json {
                output::json(&all)?;
            } else {
                for m in &all {
                    println!("{}", describe(m, now));
                }
            }
        }
        Command::Tree { id, json } => {
            let mandates = match &id {
                Some(id) => gateway.store.subtree(&MandateId::new(id.clone())?).await?,
                None => gateway.store.mandates().await?,
            };
            if json {
                output::json(&mandates)?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut children: BTreeMap<&MandateId, Vec<&Mandate>> = BTreeMap::new();
            let ids: Vec<&MandateId> = mandates.iter().map(|m| &m.id).collect();
            let mut tops = Vec::new();
            for m in &mandates {
                match m.parent() {
                    Some(p) if ids.contains(&p) => children.entry(p).or_default().push(m),
                    _ => tops.push(m),
                }
            }
            for top in tops {
                println!("{}", describe(top, now));
                draw(top, &children, "", now, false);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn draw(
    parent: &Mandate,
    children: &BTreeMap<&MandateId, Vec<&Mandate>>,
    prefix: &str,
    now: mandate_core::Timestamp,
    dead: bool,
) {
    let Some(kids) = children.get(&parent.id) else {
        return;
    };
    let dead = dead || parent.revocation().is_some() || parent.expires_at <= now;
    for (i, kid) in kids.iter().enumerate() {
        let last = i + 1 == kids.len();
        let branch = if last { "└── " } else { "├── " };
        let mut text = describe(kid, now);
        if dead && kid.revocation().is_none() {
            text.push_str("  (dead: an ancestor is revoked or expired)");
        }
        println!("{prefix}{branch}{text}");
        let next = format!("{prefix}{}", if last { "    " } else { "│   " });
        draw(kid, children, &next, now, dead);
    }
}

fn describe(m: &Mandate, now: mandate_core::Timestamp) -> String {
    let status = match m.revocation() {
        Some(r) => format!("REVOKED by {} ({})", r.by, r.reason),
        None if m.expires_at <= now => "EXPIRED".to_owned(),
        None => "active".to_owned(),
    };
    let budget = m.budget.map_or_else(
        || format!("{} uses", m.uses),
        |b| format!("{}/{b} uses", m.uses),
    );
    let limits: String = m.constraints.iter().map(|c| format!(" [{c}]")).collect();
    format!(
        "{} {} → {} [{}] ceiling={} tools={}{limits} expires {} · {}",
        m.id,
        if m.depth == 0 {
            m.root_human.as_str()
        } else {
            "⤷"
        },
        m.agent,
        status,
        m.ceiling,
        m.tools
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(","),
        output::relative(m.expires_at),
        budget,
    )
}
