//! `mandate tools diff NAME`: the accepted definition beside the one waiting for review,
//! line by line, with what the suspicious-description check found in the waiting one.
//!
//! Reads the store only. Invisible characters are printed as `\u{…}`, so nothing hides.

use super::accept::short;
use crate::context::GlobalArgs;
use crate::output;
use mandate_core::ToolName;
use mandate_gateway::tool_review::{self, Flag, visible};
use mandate_store::{PinnedDefinition, ToolPin};
use std::process::ExitCode;

/// Arguments of `mandate tools diff`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tool, as `upstream.tool`.
    tool: String,
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
}

/// Unchanged lines shown around each change.
const CONTEXT: usize = 3;

pub async fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let gateway = global.open()?;
    let tool = ToolName::new(args.tool)?;
    let pin = gateway.store.tool_pin(&tool).await?.ok_or_else(|| {
        anyhow::anyhow!("no definition of tool `{tool}` has been seen (see `mandate tools`)")
    })?;
    let flags = pin.pending.as_ref().map(|p| flags_of(&p.definition));
    if args.json {
        output::json(&as_json(&pin, flags.as_deref()))?;
        return Ok(ExitCode::SUCCESS);
    }
    let Some(pending) = &pin.pending else {
        let accepted = pin.accepted.as_ref().map_or_else(String::new, |a| {
            format!(
                " ({}, by {}, {})",
                short(&a.definition.digest),
                a.by,
                output::relative(a.at)
            )
        });
        println!("{tool}: accepted{accepted}; no definition waits for review");
        return Ok(ExitCode::SUCCESS);
    };
    println!(
        "{tool}: a definition waits for an operator's review: {}",
        pending.why
    );
    match &pin.accepted {
        Some(a) => println!(
            "  accepted  {}  by {}, {}",
            short(&a.definition.digest),
            a.by,
            output::relative(a.at)
        ),
        None => println!("  accepted  (nothing yet)"),
    }
    println!(
        "  waiting   {}  seen {}",
        short(&pending.definition.digest),
        output::relative(pending.seen_at)
    );
    let flags = flags.unwrap_or_default();
    if !flags.is_empty() {
        println!("  flags in the waiting definition:");
        for flag in &flags {
            println!("    {flag}");
        }
    }
    let old = pin.accepted.as_ref().map(|a| lines(&a.definition));
    let new = lines(&pending.definition);
    println!("\n--- accepted\n+++ waiting");
    for line in line_diff(&old.unwrap_or_default(), &new, CONTEXT) {
        println!("{line}");
    }
    println!(
        "\naccept it with: mandate tools accept {tool} --by <you> --digest {}",
        short(&pending.definition.digest)
    );
    Ok(ExitCode::SUCCESS)
}

/// What the check finds in a stored definition.
fn flags_of(definition: &PinnedDefinition) -> Vec<Flag> {
    serde_json::from_value::<rmcp::model::Tool>(definition.definition.clone())
        .map(|t| tool_review::review(&t))
        .unwrap_or_default()
}

/// A definition as pretty JSON lines, invisible characters made visible.
fn lines(definition: &PinnedDefinition) -> Vec<String> {
    serde_json::to_string_pretty(&definition.definition)
        .unwrap_or_default()
        .lines()
        .map(visible)
        .collect()
}

fn as_json(pin: &ToolPin, flags: Option<&[Flag]>) -> serde_json::Value {
    let status = if pin.pending.is_some() {
        "withheld"
    } else {
        "accepted"
    };
    serde_json::json!({
        "tool": pin.tool,
        "status": status,
        "accepted": pin.accepted.as_ref().map(|a| serde_json::json!({
            "digest": a.definition.digest,
            "by": a.by,
            "at": a.at,
            "definition": a.definition.definition,
        })),
        "waiting": pin.pending.as_ref().map(|p| serde_json::json!({
            "digest": p.definition.digest,
            "why": p.why,
            "seen_at": p.seen_at,
            "definition": p.definition.definition,
            "flags": flags,
        })),
    })
}

/// A unified-style line diff (`-` old, `+` new, ` ` both), keeping `context` unchanged
/// lines around each change and `…` where lines are left out.
fn line_diff(old: &[String], new: &[String], context: usize) -> Vec<String> {
    let ops = lcs_ops(old, new);
    let changed: Vec<bool> = ops.iter().map(|(mark, _)| *mark != ' ').collect();
    let near = |i: usize| {
        let from = i.saturating_sub(context);
        let to = (i + context + 1).min(changed.len());
        changed.get(from..to).is_some_and(|w| w.iter().any(|c| *c))
    };
    let mut out = Vec::new();
    let mut skipped = false;
    for (i, (mark, line)) in ops.iter().enumerate() {
        if near(i) {
            if skipped {
                out.push("  …".to_owned());
                skipped = false;
            }
            out.push(format!("{mark} {line}"));
        } else {
            skipped = true;
        }
    }
    if skipped && !out.is_empty() {
        out.push("  …".to_owned());
    }
    out
}

/// The edit script of a longest common subsequence; both sides in full when too large.
fn lcs_ops<'a>(old: &'a [String], new: &'a [String]) -> Vec<(char, &'a str)> {
    let (n, m) = (old.len(), new.len());
    if n.saturating_mul(m) > 4_000_000 {
        return old
            .iter()
            .map(|l| ('-', l.as_str()))
            .chain(new.iter().map(|l| ('+', l.as_str())))
            .collect();
    }
    // lengths[i][j]: the LCS of old[i..] and new[j..], flattened.
    let width = m + 1;
    let mut lengths = vec![0usize; (n + 1) * width];
    let at = |i: usize, j: usize| i * width + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            let value = if old.get(i) == new.get(j) {
                lengths.get(at(i + 1, j + 1)).copied().unwrap_or(0) + 1
            } else {
                let down = lengths.get(at(i + 1, j)).copied().unwrap_or(0);
                let right = lengths.get(at(i, j + 1)).copied().unwrap_or(0);
                down.max(right)
            };
            if let Some(cell) = lengths.get_mut(at(i, j)) {
                *cell = value;
            }
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::with_capacity(n + m);
    while i < n || j < m {
        match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) if a == b => {
                ops.push((' ', a.as_str()));
                i += 1;
                j += 1;
            }
            (Some(a), Some(_))
                if lengths.get(at(i + 1, j)).copied().unwrap_or(0)
                    >= lengths.get(at(i, j + 1)).copied().unwrap_or(0) =>
            {
                ops.push(('-', a.as_str()));
                i += 1;
            }
            (_, Some(b)) => {
                ops.push(('+', b.as_str()));
                j += 1;
            }
            (Some(a), None) => {
                ops.push(('-', a.as_str()));
                i += 1;
            }
            (None, None) => break,
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn a_changed_line_shows_as_minus_then_plus_with_context() {
        let old = strings("a\nb\nc\nd\ne\nf\ng\nh\ni");
        let new = strings("a\nb\nc\nd\nE\nf\ng\nh\ni");
        let diff = line_diff(&old, &new, 1);
        assert_eq!(diff, ["  …", "  d", "- e", "+ E", "  f", "  …"]);
    }

    #[test]
    fn nothing_accepted_shows_everything_added() {
        let new = strings("x\ny");
        assert_eq!(line_diff(&[], &new, 3), ["+ x", "+ y"]);
        assert!(line_diff(&new, &new, 3).is_empty(), "no change, no lines");
    }
}
