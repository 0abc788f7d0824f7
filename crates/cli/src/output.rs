//! Small helpers for printing: relative times and JSON for scripts.
//!
//! Human output is plain text; `--json` output is one JSON document on stdout.

use mandate_core::Timestamp;

/// Prints a value as pretty JSON on stdout.
pub fn json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// "in 7h 59m" / "3m ago", relative to now.
pub fn relative(at: Timestamp) -> String {
    let now = mandate_gateway::now();
    let delta = at.as_millis() - now.as_millis();
    let secs = delta.abs() / 1000;
    let text = if secs >= 86_400 {
        format!("{}d {}h", secs / 86_400, (secs % 86_400) / 3600)
    } else if secs >= 3600 {
        format!("{}h {}m", secs / 3600, (secs % 3600) / 60)
    } else if secs >= 60 {
        format!("{}m {}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    };
    if delta >= 0 {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}
