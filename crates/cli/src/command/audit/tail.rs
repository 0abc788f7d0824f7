//! `mandate audit tail [--follow]`: the latest events, one readable line each.
//!
//! `--json` prints JSON Lines with the sequence number, for scripts.

use crate::context::GlobalArgs;
use mandate_audit::{AuditEvent, StoredEvent};
use std::process::ExitCode;
use std::time::Duration;

pub async fn run(
    global: &GlobalArgs,
    lines: u64,
    follow: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let gateway = global.open()?;
    let store = &gateway.store;
    let head = store.audit_head().await?.map_or(0, |(seq, _)| seq);
    let mut after = head.saturating_sub(lines);
    loop {
        let batch = store.events(after, 500).await?;
        for stored in &batch {
            print_event(stored, json)?;
            after = stored.seq;
        }
        if batch.is_empty() {
            if !follow {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_event(stored: &StoredEvent, json: bool) -> anyhow::Result<()> {
    let event = stored.event()?;
    if json {
        let mut value = serde_json::to_value(&event)?;
        if let Some(obj) = value.as_object_mut() {
            obj.insert("seq".into(), stored.seq.into());
        }
        println!("{}", serde_json::to_string(&value)?);
        return Ok(());
    }
    println!("{}", line(stored.seq, &event));
    Ok(())
}

/// One readable line: `#12 14:03:07 decided allow support-bot crm.lookup_customer (alice@corp)`.
pub fn line(seq: u64, e: &AuditEvent) -> String {
    let time = e.time.to_string();
    let clock = time.get(11..19).unwrap_or(&time);
    let mut parts = vec![format!("#{seq:<4} {clock} {:<18}", e.kind.to_string())];
    if let Some(d) = &e.decision {
        parts.push(d.to_uppercase());
    }
    if let Some(agent) = &e.agent {
        parts.push(format!("agent={agent}"));
    }
    if let Some(tool) = &e.tool {
        parts.push(format!("tool={tool}"));
    }
    if let Some(h) = &e.human {
        parts.push(format!("for={h}"));
    }
    if e.chain.len() > 1 {
        let chain: Vec<&str> = e.chain.iter().map(|l| l.agent.as_str()).collect();
        parts.push(format!("chain={}", chain.join(">")));
    }
    if let Some(us) = e.latency_us {
        parts.push(format!("{:.1}ms", us as f64 / 1000.0));
    }
    if let Some(size) = e.result_size {
        parts.push(format!("{size}B"));
    }
    if let Some(err) = &e.error {
        parts.push(format!("error=\"{err}\""));
    }
    let mut text = parts.join(" ");
    for r in &e.reasons {
        text.push_str(&format!("\n        reason: {r}"));
    }
    text
}
