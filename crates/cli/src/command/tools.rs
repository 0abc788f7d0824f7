//! `mandate tools`: the catalog grouped by blast radius, with where each class came from.
//!
//! Connects to every upstream named in the config to list what it offers now.

use crate::context::GlobalArgs;
use crate::output;
use mandate_core::ToolClass;
use std::process::ExitCode;

/// Arguments of `mandate tools`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let gateway = global.open_with_catalog().await?;
    let catalog = gateway.catalog.snapshot();
    if args.json {
        let tools: Vec<_> = catalog
            .tools()
            .map(|t| {
                serde_json::json!({
                    "name": t.name,
                    "class": t.radius.class,
                    "destructive": t.radius.destructive,
                    "open_world": t.radius.open_world,
                    "source": t.source,
                    "digest": t.digest,
                })
            })
            .collect();
        output::json(&tools)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} tools from {} upstreams",
        catalog.len(),
        gateway.upstreams.names().count()
    );
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
            let mut flags = Vec::new();
            if t.radius.destructive {
                flags.push("destructive");
            }
            if t.radius.open_world {
                flags.push("open-world");
            }
            let flags = if flags.is_empty() {
                String::new()
            } else {
                format!(" [{}]", flags.join(", "))
            };
            println!(
                "  {:<36}{:<26} class from {}",
                t.name.as_str(),
                flags,
                t.source
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
