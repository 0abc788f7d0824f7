//! Tool calls as OCSF API Activity (6003): the decision before forwarding, the
//! completion after it, and requests refused before any decision.
//!
//! The agent is `actor.user` and `src_endpoint`; the mandate that authorised the call is
//! `actor.authorizations[].policy`; the upstream is `api.service`; the tool is the one
//! entry of `resources`. The activity follows the tool's class: `read` is Read, `write`
//! is Update (it changes state somewhere), `orchestrate` is Other; an unclassified tool
//! (an unknown name, a rejected request) is Unknown.

use super::{
    API_ACTIVITY, Activity, Entry, Outcome, Record, Severity, agent_endpoint, agent_user,
    gateway_endpoint, tool_resource,
};
use crate::{AuditEvent, EventKind};
use mandate_core::ToolClass;
use serde_json::{Map, Value, json};

/// The MCP method a governed call is.
const TOOLS_CALL: &str = "tools/call";

/// A `decided`, `completed` or `request_rejected` entry.
pub(super) fn api_activity(entry: &Entry<'_>) -> Value {
    let e = &entry.event;
    let (outcome, severity, operation) = match e.kind {
        EventKind::Decided => {
            let (outcome, severity) = decided(e);
            (outcome, severity, TOOLS_CALL)
        }
        EventKind::Completed => (completed(e), Severity::Informational, TOOLS_CALL),
        // A human's approval of one call: its decision when it has one, else what failed.
        EventKind::ApprovalGranted
        | EventKind::ApprovalDenied
        | EventKind::ApprovalRefused
        | EventKind::ApprovalExpired => {
            let (outcome, severity) = match (&e.decision, &e.error) {
                (None, Some(error)) => (Outcome::Failure(Some(error.clone())), Severity::Medium),
                _ => decided(e),
            };
            (outcome, severity, TOOLS_CALL)
        }
        _ => (Outcome::Failure(e.error.clone()), Severity::Low, "unknown"),
    };
    let mut record = Record::new(
        entry,
        API_ACTIVITY,
        activity(e.class),
        severity,
        &entry.stored.hash.to_string(),
    );
    record
        .set("actor", actor(e, entry.agent()))
        .set("api", api(e, operation))
        .set("src_endpoint", agent_endpoint(entry.agent()))
        .set("dst_endpoint", gateway_endpoint(&e.node))
        .set("message", message(e, entry.agent()))
        .outcome(outcome);
    if let Some(tool) = &e.tool {
        record.set("resources", json!([tool_resource(tool, e.class)]));
    }
    if let Some(us) = e.latency_us {
        record.set("duration", us / 1000);
    }
    record.into_value()
}

fn activity(class: Option<ToolClass>) -> Activity {
    match class {
        Some(ToolClass::Read) => Activity(2, "Read"),
        Some(ToolClass::Write) => Activity(3, "Update"),
        Some(ToolClass::Orchestrate) => Activity(99, "Orchestrate"),
        None => Activity(0, "Unknown"),
    }
}

fn decided(e: &AuditEvent) -> (Outcome, Severity) {
    let reasons = Some(e.reasons.join("; "));
    match e.decision.as_deref() {
        Some("allow") => (Outcome::Success, Severity::Informational),
        Some("deny") => (Outcome::Failure(reasons), Severity::Low),
        Some("needs_approval") => (
            Outcome::Other("Needs Approval", reasons),
            Severity::Informational,
        ),
        _ => (Outcome::Unknown, Severity::Informational),
    }
}

fn completed(e: &AuditEvent) -> Outcome {
    match &e.error {
        Some(error) => Outcome::Failure(Some(error.clone())),
        None => Outcome::Success,
    }
}

/// The agent, its governance session, and the mandate that decided the call.
fn actor(e: &AuditEvent, agent: &str) -> Value {
    let mut actor = Map::new();
    actor.insert("user".into(), agent_user(agent));
    if let Some(session) = &e.session {
        actor.insert("session".into(), json!({ "uid": session }));
    }
    let mut authorization = Map::new();
    if let Some(decision) = &e.decision {
        authorization.insert("decision".into(), decision.as_str().into());
    }
    if let Some(mandate) = &e.mandate {
        authorization.insert(
            "policy".into(),
            json!({ "uid": mandate.as_str(), "name": "Mandate" }),
        );
    }
    if !authorization.is_empty() {
        actor.insert("authorizations".into(), json!([authorization]));
    }
    Value::Object(actor)
}

/// The MCP operation, and the upstream that serves the tool (`crm` of `crm.lookup_customer`).
fn api(e: &AuditEvent, operation: &str) -> Value {
    let mut api = json!({ "operation": operation });
    let upstream = e
        .tool
        .as_deref()
        .and_then(|t| t.split_once('.'))
        .map(|(u, _)| u);
    if let (Some(upstream), Some(fields)) = (upstream, api.as_object_mut()) {
        fields.insert("service".into(), json!({ "name": upstream }));
    }
    api
}

fn message(e: &AuditEvent, agent: &str) -> String {
    let tool = e.tool.as_deref().unwrap_or("an unknown tool");
    let behalf = e
        .human
        .as_ref()
        .map(|h| format!(" on behalf of {h}"))
        .unwrap_or_default();
    match (e.kind, &e.error) {
        (EventKind::Decided, _) => format!(
            "{agent} called {tool}{behalf}: {}",
            e.decision.as_deref().unwrap_or("undecided")
        ),
        (EventKind::Completed, None) => format!("{tool} completed for {agent}{behalf}"),
        (EventKind::Completed, Some(error)) => {
            format!("{tool} failed for {agent}{behalf}: {error}")
        }
        (
            kind @ (EventKind::ApprovalGranted
            | EventKind::ApprovalDenied
            | EventKind::ApprovalRefused
            | EventKind::ApprovalExpired),
            _,
        ) => format!(
            "{} for {agent} calling {tool}{behalf}",
            kind.as_str().replace('_', " ")
        ),
        (_, error) => format!(
            "request from {agent}{behalf} rejected: {}",
            error.as_deref().unwrap_or("no reason recorded")
        ),
    }
}
