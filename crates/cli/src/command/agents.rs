//! `mandate agents add|list`: register agents with their owners.
//!
//! An agent without owners can be registered but never granted anything.

use crate::context::GlobalArgs;
use crate::output;
use anyhow::Context as _;
use mandate_core::{Agent, AgentId, HumanId, Owner, OwnerRole};
use std::process::ExitCode;

/// `mandate agents …`
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Register an agent.
    Add {
        /// The agent's id, e.g. `support-bot`.
        id: String,
        /// A readable name (default: the id).
        #[arg(long)]
        name: Option<String>,
        /// An owner as `role=human`; roles: business, security, platform. Repeat it.
        #[arg(long = "owner", value_name = "ROLE=HUMAN")]
        owners: Vec<String>,
        /// Who registers it (recorded in the audit log).
        #[arg(long, default_value = "operator")]
        by: String,
    },
    /// List registered agents.
    List {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: Command, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let gateway = global.open()?;
    match command {
        Command::Add {
            id,
            name,
            owners,
            by,
        } => {
            let owners = owners
                .iter()
                .map(|o| parse_owner(o))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let agent = Agent {
                id: AgentId::new(id.clone())?,
                name: name.unwrap_or(id),
                owners,
                registered_at: mandate_gateway::now(),
            };
            if agent.owners.is_empty() {
                eprintln!(
                    "warning: agent `{}` has no owners; it cannot be granted anything until it has",
                    agent.id
                );
            }
            gateway.register_agent(agent.clone(), &by).await?;
            println!("registered agent {}", agent.id);
        }
        Command::List { json } => {
            let agents = gateway.store.agents().await?;
            if json {
                output::json(&agents)?;
            } else {
                for a in agents {
                    let owners: Vec<String> = a
                        .owners
                        .iter()
                        .map(|o| format!("{}={}", o.role, o.human))
                        .collect();
                    println!(
                        "{:<24} {:<24} owners: {}",
                        a.id.as_str(),
                        a.name,
                        if owners.is_empty() {
                            "NONE".to_owned()
                        } else {
                            owners.join(", ")
                        }
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_owner(text: &str) -> anyhow::Result<Owner> {
    let (role, human) = text.split_once('=').with_context(|| {
        format!("owner `{text}` must be written `role=human`, e.g. `security=sec@corp`")
    })?;
    let role: OwnerRole = role.parse().map_err(anyhow::Error::msg)?;
    Ok(Owner {
        role,
        human: HumanId::new(human)?,
    })
}
