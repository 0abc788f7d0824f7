//! Tool pinning as OCSF Application Lifecycle (6002): a tool's definition pinned on first
//! sight is an Install, a withheld tool a Disable, an operator's acceptance an Enable.
//!
//! `app` is the tool itself: its `upstream.tool` name, the upstream as vendor, and the
//! definition's digest as its version, so a SIEM sees which definition was let in.

use super::{APPLICATION_LIFECYCLE, Activity, Entry, Outcome, Record, Severity};
use crate::EventKind;
use serde_json::{Value, json};

/// A `tool_pinned`, `tool_held` or `tool_accepted` entry.
pub(super) fn tool_lifecycle(entry: &Entry<'_>) -> Value {
    let e = &entry.event;
    let tool = e.tool.as_deref().unwrap_or("unknown");
    let flagged = entry
        .detail("flags")
        .and_then(Value::as_array)
        .is_some_and(|flags| !flags.is_empty());
    let why = e.reasons.join("; ");
    let by = entry
        .detail("by")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let (activity, severity, outcome, message) = match e.kind {
        EventKind::ToolHeld => (
            Activity(7, "Disable"),
            if flagged {
                Severity::High
            } else {
                Severity::Medium
            },
            Outcome::Other("Withheld", Some(why.clone())),
            format!("tool {tool} withheld until an operator reviews it: {why}"),
        ),
        EventKind::ToolAccepted => (
            Activity(6, "Enable"),
            Severity::Informational,
            Outcome::Success,
            format!("{by} accepted the definition of tool {tool}"),
        ),
        _ => (
            Activity(1, "Install"),
            Severity::Informational,
            Outcome::Success,
            format!("tool {tool} pinned on first sight"),
        ),
    };
    let mut app = json!({ "name": tool, "uid": tool });
    if let Some(fields) = app.as_object_mut() {
        if let Some((upstream, _)) = tool.split_once('.') {
            fields.insert("vendor_name".into(), upstream.into());
        }
        if let Some(digest) = entry.detail("digest").and_then(Value::as_str) {
            fields.insert("version".into(), digest.into());
        }
    }
    let mut record = Record::new(
        entry,
        APPLICATION_LIFECYCLE,
        activity,
        severity,
        &entry.stored.hash.to_string(),
    );
    record
        .set("app", app)
        .set("message", message)
        .outcome(outcome);
    record.into_value()
}
