//! `mandate tools`: the catalog grouped by blast radius, with where each class came from,
//! and the tools withheld until an operator reviews them (`diff`) and accepts them (`accept`).
//!
//! Listing connects to every upstream named in the config to see what it offers now (and
//! records what it sees, as the gateway would); `diff` and `accept` read the store only.

mod accept;
mod diff;

use crate::context::GlobalArgs;
use crate::output;
use mandate_core::ToolClass;
use mandate_gateway::catalog::CatalogTool;
use mandate_gateway::tool_review::{self, Flag};
use std::process::ExitCode;

/// Arguments of `mandate tools`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    action: Option<Action>,
}

/// `mandate tools …`
#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Show how a tool's waiting definition differs from the accepted one, and what in it
    /// looks aimed at the model.
    Diff(diff::Args),
    /// Accept a tool's waiting definition: the tool becomes callable, on a running
    /// gateway too, and the acceptance is audited.
    Accept(accept::Args),
}

pub async fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        Some(Action::Diff(diff)) => diff::run(diff, global).await,
        Some(Action::Accept(accept)) => accept::run(accept, global).await,
        None => list(args.json, global).await,
    }
}

async fn list(json: bool, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let gateway = global.open_with_catalog().await?;
    let catalog = gateway.catalog.snapshot();
    if json {
        let callable = catalog
            .tools()
            .map(|t| describe(t, "callable", None, &tool_review::review(&t.definition)));
        let held = catalog
            .held()
            .map(|h| describe(&h.tool, "withheld", Some(&h.why), &h.flags));
        output::json(&callable.chain(held).collect::<Vec<_>>())?;
        return Ok(ExitCode::SUCCESS);
    }
    let withheld = catalog.held().count();
    println!(
        "{} tools from {} upstreams{}",
        catalog.len(),
        gateway.upstreams.names().count(),
        if withheld == 0 {
            String::new()
        } else {
            format!(", {withheld} withheld")
        }
    );
    // One column for every name, however long (third-party servers have long tool names).
    let name_width = catalog
        .tools()
        .map(|t| t.name.as_str().chars().count() + 2)
        .chain(
            catalog
                .held()
                .map(|h| h.tool.name.as_str().chars().count() + 2),
        )
        .max()
        .unwrap_or(0)
        .max(36);
    for class in ToolClass::ALL {
        let tools: Vec<_> = catalog
            .tools()
            .filter(|t| t.radius.class == class)
            .collect();
        if tools.is_empty() {
            continue;
        }
        println!("\n{} ({})", class.as_str().to_uppercase(), tools.len());
        for t in tools {
            println!(
                "  {:<name_width$}{:<26} class from {}",
                t.name.as_str(),
                marks(t, &tool_review::review(&t.definition)),
                t.source
            );
        }
    }
    if withheld > 0 {
        println!("\nWITHHELD ({withheld}): not listed to agents, calls refused, until accepted");
        for held in catalog.held() {
            println!("  {:<name_width$}{}", held.tool.name.as_str(), held.why);
            for flag in &held.flags {
                println!("      flag: {flag}");
            }
            println!("      review: mandate tools diff {}", held.tool.name);
        }
    }
    let relayed = gateway.relay_entries();
    if !relayed.is_empty() {
        println!(
            "\nRESOURCES AND PROMPTS ({}): read class, granted by name like tools",
            relayed.len()
        );
        for entry in &relayed {
            println!(
                "  {:<name_width$}{:<26} {}",
                entry.name.as_str(),
                "",
                entry.definition.description.as_deref().unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The bracketed marks after a tool's name: its blast-radius flags, and suspicious text.
fn marks(t: &CatalogTool, flags: &[Flag]) -> String {
    let mut marks = Vec::new();
    if t.radius.destructive {
        marks.push("destructive".to_owned());
    }
    if t.radius.open_world {
        marks.push("open-world".to_owned());
    }
    if !flags.is_empty() {
        marks.push(format!("flagged: {}", kinds(flags)));
    }
    if marks.is_empty() {
        String::new()
    } else {
        format!(" [{}]", marks.join(", "))
    }
}

/// The kinds of `flags`, once each, comma-separated.
pub(crate) fn kinds(flags: &[Flag]) -> String {
    let mut kinds: Vec<&str> = flags.iter().map(|f| f.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    kinds.join(", ")
}

fn describe(t: &CatalogTool, status: &str, why: Option<&str>, flags: &[Flag]) -> serde_json::Value {
    serde_json::json!({
        "name": t.name,
        "class": t.radius.class,
        "destructive": t.radius.destructive,
        "open_world": t.radius.open_world,
        "source": t.source,
        "digest": t.digest,
        "status": status,
        "why": why,
        "flags": flags,
    })
}
