//! `mandate audit prove|check-proof|consistency`: proofs about the log that anyone can
//! check offline with only the checkpoint key (`mandate keys show`).
//!
//! A proof bundle is JSON: the event as recorded, the signed checkpoint, the Merkle path.

use super::verify::events_to_head;
use crate::context::GlobalArgs;
use crate::output;
use anyhow::Context as _;
use mandate_audit::{InclusionProof, NoteVerifier, leaf_hash};
use mandate_gateway::checkpoints::{check_note, tree_of};
use serde::{Deserialize, Serialize};
use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;

/// What `prove` prints and `check-proof` reads.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Bundle {
    /// The event's sequence number.
    seq: u64,
    /// The event exactly as hashed (RFC 8785 JSON).
    event: String,
    /// The signed checkpoint the proof leads to.
    checkpoint: String,
    /// The Merkle path from the event to the checkpoint's root.
    proof: InclusionProof,
}

pub async fn prove(global: &GlobalArgs, seq: u64) -> anyhow::Result<ExitCode> {
    let gateway = global.open()?;
    let (events, _) = events_to_head(gateway.store.as_ref()).await?;
    let tree = tree_of(&events);
    let (size, note) = gateway.store.checkpoints().await?.pop().context(
        "no checkpoint has been signed yet; run `mandate serve` (it signs them) and retry",
    )?;
    anyhow::ensure!(
        (1..=size).contains(&seq),
        "event #{seq} is not covered by the latest checkpoint (it covers #1..#{size})"
    );
    check_note(
        &gateway.checkpointer.verifier_for(&note),
        &tree,
        &note,
        &format!("#{size}"),
    )?;
    let event = events
        .iter()
        .find(|e| e.seq == seq)
        .context("the event is missing from the log; run `mandate audit verify`")?;
    let bundle = Bundle {
        seq,
        event: String::from_utf8(event.canonical.clone())?,
        checkpoint: note,
        proof: tree.inclusion_proof(seq - 1, size)?,
    };
    output::json(&bundle)?;
    Ok(ExitCode::SUCCESS)
}

pub fn check(file: &Path, key: &str) -> anyhow::Result<ExitCode> {
    let mut text = String::new();
    if file == Path::new("-") {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read `{}`", file.display()))?;
    }
    let bundle: Bundle =
        serde_json::from_str(&text).context("not a proof printed by `mandate audit prove`")?;
    let verifier = NoteVerifier::from_vkey(key)?;
    let outcome = (|| -> anyhow::Result<u64> {
        let checkpoint = verifier.verify(&bundle.checkpoint)?;
        let event: serde_json::Value = serde_json::from_str(&bundle.event)?;
        anyhow::ensure!(
            event.get("seq").and_then(serde_json::Value::as_u64) == Some(bundle.seq),
            "the event's own sequence number is not #{}",
            bundle.seq
        );
        anyhow::ensure!(
            bundle.proof.index + 1 == bundle.seq,
            "the proof is for another position in the log"
        );
        anyhow::ensure!(
            bundle.proof.size == checkpoint.size,
            "the proof leads to a tree of another size than the checkpoint's"
        );
        bundle
            .proof
            .verify(&leaf_hash(bundle.event.as_bytes()), &checkpoint.root)?;
        Ok(checkpoint.size)
    })();
    match outcome {
        Ok(size) => {
            println!(
                "proof verified: event #{} is in the log signed by `{}` at size {size}",
                bundle.seq,
                key.split('+').next().unwrap_or(key)
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("PROOF REJECTED: {e:#}");
            Ok(ExitCode::from(2))
        }
    }
}

pub async fn consistency(global: &GlobalArgs, old: u64, new: u64) -> anyhow::Result<ExitCode> {
    let gateway = global.open()?;
    let (events, _) = events_to_head(gateway.store.as_ref()).await?;
    let tree = tree_of(&events);
    let proof = tree.consistency_proof(old, new)?;
    let (old_root, new_root) = (tree.root_at(old)?, tree.root_at(new)?);
    proof.verify(&old_root, &new_root)?;
    output::json(&serde_json::json!({
        "old_size": old,
        "new_size": new,
        "old_root": old_root,
        "new_root": new_root,
        "proof": proof,
    }))?;
    Ok(ExitCode::SUCCESS)
}
