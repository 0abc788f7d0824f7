//! `mandate audit verify [--checkpoint FILE]`: the hash chain, the Merkle tree and every
//! signed checkpoint, so an edit, an insertion, a reordering or a cut end is named.
//!
//! Exits 2 when anything is wrong, after printing every problem found.

use crate::context::GlobalArgs;
use mandate_audit::StoredEvent;
use mandate_gateway::checkpoints::{check_note, tree_of};
use mandate_store::Store;
use std::path::Path;
use std::process::ExitCode;

/// Every event up to the recorded head (a gateway may append meanwhile), with progress on stderr.
pub async fn events_to_head(
    store: &dyn Store,
) -> anyhow::Result<(Vec<StoredEvent>, Option<(u64, mandate_audit::EventHash)>)> {
    let head = store.audit_head().await?;
    let last_seq = head.as_ref().map_or(0, |(seq, _)| *seq);
    let mut all = Vec::new();
    let mut after = 0;
    while after < last_seq {
        let batch = store.events(after, 10_000).await?;
        let Some(last) = batch.last() else { break };
        after = last.seq;
        all.extend(batch.into_iter().filter(|e| e.seq <= last_seq));
        if last_seq > 100_000 {
            eprint!("\rreading events: {after}/{last_seq}");
        }
    }
    if last_seq > 100_000 {
        eprintln!();
    }
    Ok((all, head))
}

pub async fn run(global: &GlobalArgs, published: Option<&Path>) -> anyhow::Result<ExitCode> {
    let gateway = global.open()?;
    let (events, head) = events_to_head(gateway.store.as_ref()).await?;
    let tree = tree_of(&events);
    let mut problems = Vec::new();
    let chain = match mandate_audit::verify(events, head) {
        Ok(report) => Some(report),
        Err(tamper) => {
            problems.push(format!("hash chain: {tamper}"));
            None
        }
    };
    let checkpointer = &gateway.checkpointer;
    let kept = gateway.store.checkpoints().await?;
    for (size, note) in &kept {
        let verifier = checkpointer.verifier_for(note);
        if let Err(mismatch) = check_note(&verifier, &tree, note, &format!("#{size}")) {
            problems.push(mismatch.to_string());
        }
    }
    if let Some(path) = published {
        let note = std::fs::read_to_string(path)?;
        if let Err(mismatch) = check_note(
            &checkpointer.verifier_for(&note),
            &tree,
            &note,
            &format!("in `{}`", path.display()),
        ) {
            problems.push(mismatch.to_string());
        }
    }
    if problems.is_empty() {
        let events = chain.map_or(0, |r| r.events);
        println!("audit log verified: {events} events, hash chain unbroken");
        println!("  merkle root {} over {} events", tree.root(), tree.len());
        println!(
            "  {} signed checkpoint(s) match{}",
            kept.len(),
            if published.is_some() {
                ", and so does the published one"
            } else {
                ""
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("AUDIT LOG TAMPERED:");
    for problem in problems {
        println!("  - {problem}");
    }
    Ok(ExitCode::from(2))
}
