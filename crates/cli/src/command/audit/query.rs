//! `mandate audit query|access`: the log filtered, and "what did agent X touch".
//!
//! Both read the store and apply `mandate_audit`'s filters, as the admin surface will.

use super::tail::line;
use super::verify::events_to_head;
use crate::context::GlobalArgs;
use crate::output;
use mandate_audit::{AuditEvent, EventFilter, EventKind, access_report};
use mandate_core::{AgentId, HumanId, Timestamp, ToolPattern};
use mandate_gateway::config::parse_duration;
use std::process::ExitCode;

/// Filters for `mandate audit query`.
#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// The human at the root of the chain.
    #[arg(long)]
    human: Option<String>,
    /// The acting agent, or any agent in the chain.
    #[arg(long)]
    agent: Option<String>,
    /// Tools, as a pattern (`crm.*`).
    #[arg(long)]
    tool: Option<String>,
    /// How far back, e.g. `24h`, `7d`.
    #[arg(long)]
    since: Option<String>,
    /// `allow`, `deny` or `needs_approval`.
    #[arg(long)]
    decision: Option<String>,
    /// A label (`aws_access_key`) or a kind (`credential`, `personal_data`).
    #[arg(long)]
    label: Option<String>,
    /// The kind of event, e.g. `decided`, `completed`, `mandate_revoked`.
    #[arg(long)]
    kind: Option<String>,
    /// Print JSON Lines instead.
    #[arg(long)]
    json: bool,
}

/// The time `text` (`24h`, `7d`) before now, for `--since`.
pub(super) fn since(text: Option<&str>) -> anyhow::Result<Option<Timestamp>> {
    let Some(text) = text else { return Ok(None) };
    let back = parse_duration(text).map_err(|p| anyhow::anyhow!("--since: {p}"))?;
    let millis = i64::try_from(back.as_millis()).unwrap_or(i64::MAX);
    Ok(Some(mandate_gateway::now().plus_millis(-millis)))
}

async fn all_events(global: &GlobalArgs) -> anyhow::Result<Vec<(u64, AuditEvent)>> {
    let gateway = global.open()?;
    let (stored, _) = events_to_head(gateway.store.as_ref()).await?;
    stored.iter().map(|s| Ok((s.seq, s.event()?))).collect()
}

pub async fn query(global: &GlobalArgs, args: QueryArgs) -> anyhow::Result<ExitCode> {
    let kind = match args.kind.as_deref() {
        None => None,
        Some(k) => Some(
            serde_json::from_value::<EventKind>(serde_json::Value::String(k.to_owned()))
                .map_err(|_| anyhow::anyhow!("--kind: `{k}` is not an event kind"))?,
        ),
    };
    let filter = EventFilter {
        human: args.human.map(HumanId::new).transpose()?,
        agent: args.agent.map(AgentId::new).transpose()?,
        tool: args.tool.map(ToolPattern::new).transpose()?,
        since: since(args.since.as_deref())?,
        decision: args.decision,
        label: args.label,
        kind,
    };
    let mut found = 0;
    for (seq, event) in all_events(global).await? {
        if !filter.matches(&event) {
            continue;
        }
        found += 1;
        if args.json {
            let mut value = serde_json::to_value(&event)?;
            if let Some(obj) = value.as_object_mut() {
                obj.insert("seq".into(), seq.into());
            }
            println!("{}", serde_json::to_string(&value)?);
        } else {
            println!("{}", line(seq, &event));
        }
    }
    if !args.json {
        eprintln!("{found} event(s) matched");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn access(
    global: &GlobalArgs,
    agent: &str,
    since_text: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let agent = AgentId::new(agent)?;
    let events: Vec<AuditEvent> = all_events(global)
        .await?
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    let report = access_report(&events, &agent, since(since_text)?);
    if json {
        output::json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let humans: Vec<&str> = report.on_behalf_of.iter().map(String::as_str).collect();
    println!(
        "agent {agent} acted on behalf of: {}",
        if humans.is_empty() {
            "nobody (no calls)".to_owned()
        } else {
            humans.join(", ")
        }
    );
    for (upstream, tools) in &report.upstreams {
        println!("\n{upstream}");
        for (tool, a) in tools {
            let labels: Vec<&str> = a.labels.iter().map(String::as_str).collect();
            println!(
                "  {tool:<34} {:>5} allowed {:>5} denied {:>4} failed {:>9} bytes{}",
                a.allowed,
                a.denied,
                a.failed,
                a.bytes,
                if labels.is_empty() {
                    String::new()
                } else {
                    format!("  labels: {}", labels.join(", "))
                }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
