//! Authority as OCSF IAM records: grants, hand-offs, refusals, revocations and tokens as
//! Authorize Session (3003), and agent registration as Account Change (3001).
//!
//! `user` is the agent that receives (or, refused, would have received) the authority;
//! `actor.user` is who gave it: the human for a grant, the parent's agent for a hand-off,
//! whoever revoked. `privileges` are the mandate's tool patterns, or `mandate:<id>` when
//! the entry does not list them (revocations, refusals, tokens). The mandate is `session`.

use super::{
    ACCOUNT_CHANGE, AUTHORIZE_SESSION, Activity, Entry, Outcome, Record, Severity, agent_user,
    gateway_endpoint, human_user, named_user,
};
use crate::{AuditEvent, EventKind};
use serde_json::{Map, Value, json};

/// Authorize Session's activity for every grant of authority (1.8.0 has no revoke).
const ASSIGN_PRIVILEGES: Activity = Activity(1, "Assign Privileges");

/// A grant, hand-off, refused hand-off, revocation or token issuance.
pub(super) fn authorize_session(entry: &Entry<'_>) -> Value {
    let e = &entry.event;
    let reasons = Some(e.reasons.join("; "));
    let (activity, outcome, severity) = match e.kind {
        EventKind::DelegationRefused => (
            ASSIGN_PRIVILEGES,
            Outcome::Failure(reasons),
            Severity::Medium,
        ),
        EventKind::MandateRevoked => (
            Activity(99, "Revoke Privileges"),
            Outcome::Success,
            Severity::Informational,
        ),
        _ => (ASSIGN_PRIVILEGES, Outcome::Success, Severity::Informational),
    };
    // A refused hand-off names the worker that would have received it in `detail`.
    let user = match e.kind {
        EventKind::DelegationRefused => entry
            .detail("worker")
            .and_then(Value::as_str)
            .unwrap_or(entry.agent()),
        _ => entry.agent(),
    };
    let mut record = Record::new(
        entry,
        AUTHORIZE_SESSION,
        activity,
        severity,
        &entry.stored.hash.to_string(),
    );
    record
        .set("user", agent_user(user))
        .set("privileges", privileges(entry))
        .set("dst_endpoint", gateway_endpoint(&e.node))
        .set("message", message(e, user))
        .outcome(outcome);
    if let Some(grantor) = grantor(entry) {
        record.set("actor", json!({ "user": grantor }));
    }
    if let Some(session) = session(entry) {
        record.set("session", session);
    }
    record.into_value()
}

/// `agent_registered`: a new non-human identity.
pub(super) fn account_change(entry: &Entry<'_>) -> Value {
    let agent = entry.agent();
    let mut user = agent_user(agent);
    if let (Some(name), Some(fields)) = (
        entry.detail("name").and_then(Value::as_str),
        user.as_object_mut(),
    ) {
        fields.insert("display_name".into(), name.into());
    }
    let by = entry.detail("by").and_then(Value::as_str);
    let mut record = Record::new(
        entry,
        ACCOUNT_CHANGE,
        Activity(1, "Create"),
        Severity::Informational,
        &entry.stored.hash.to_string(),
    );
    record
        .set("user", user)
        .set(
            "message",
            format!(
                "agent {agent} registered by {}",
                by.unwrap_or("an unknown operator")
            ),
        )
        .outcome(Outcome::Success);
    if let Some(by) = by {
        record.set("actor", json!({ "user": named_user(by) }));
    }
    record.into_value()
}

/// The tool patterns granted, else the mandate the entry is about.
fn privileges(entry: &Entry<'_>) -> Vec<String> {
    let tools: Vec<String> = entry
        .detail("tools")
        .and_then(Value::as_array)
        .map(|tools| {
            tools
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if !tools.is_empty() {
        return tools;
    }
    let mandate = entry
        .event
        .mandate
        .as_ref()
        .map_or("unknown", |m| m.as_str());
    vec![format!("mandate:{mandate}")]
}

/// Who gave (or took away) the authority.
fn grantor(entry: &Entry<'_>) -> Option<Value> {
    let e = &entry.event;
    let by = entry.detail("by").and_then(Value::as_str);
    match e.kind {
        EventKind::MandateGranted | EventKind::TokenIssued => {
            e.human.as_ref().map(|h| human_user(h.as_str()))
        }
        // The chain ends with the new mandate; the link before it is the delegator.
        EventKind::MandateDelegated => e
            .chain
            .iter()
            .rev()
            .nth(1)
            .map(|link| agent_user(link.agent.as_str()))
            .or_else(|| by.map(named_user)),
        EventKind::DelegationRefused => e.agent.as_ref().map(|a| agent_user(a.as_str())),
        _ => by.map(named_user),
    }
}

/// The mandate as the session the authority lives in: issued, expiring, by whom.
fn session(entry: &Entry<'_>) -> Option<Value> {
    let e = &entry.event;
    let mandate = e.mandate.as_ref()?;
    let mut session = Map::new();
    session.insert("uid".into(), mandate.as_str().into());
    for (from, to) in [
        ("issued_at", "created_time"),
        ("expires_at", "expiration_time"),
    ] {
        if let Some(ms) = entry.detail(from).and_then(Value::as_i64) {
            session.insert(to.into(), ms.into());
        }
    }
    let grantor = entry.detail("grantor");
    let issuer = grantor
        .and_then(|g| g.get("human").or_else(|| g.get("parent")))
        .and_then(Value::as_str);
    if let Some(issuer) = issuer {
        session.insert("issuer".into(), issuer.into());
    }
    if e.kind == EventKind::MandateRevoked && !e.reasons.is_empty() {
        session.insert(
            "expiration_reason".into(),
            format!("revoked: {}", e.reasons.join("; ")).into(),
        );
    }
    Some(Value::Object(session))
}

fn message(e: &AuditEvent, user: &str) -> String {
    let mandate = e.mandate.as_ref().map_or("unknown", |m| m.as_str());
    let human = e.human.as_ref().map_or("unknown", |h| h.as_str());
    match e.kind {
        EventKind::MandateGranted => format!("{human} granted mandate {mandate} to {user}"),
        EventKind::MandateDelegated => {
            format!("mandate {mandate} handed on to {user} (root: {human})")
        }
        EventKind::DelegationRefused => format!(
            "hand-off from mandate {mandate} to {user} refused: {}",
            e.reasons.join("; ")
        ),
        EventKind::MandateRevoked => format!(
            "mandate {mandate} of {user} revoked: {}",
            e.reasons.join("; ")
        ),
        _ => format!("token issued to {user} under mandate {mandate}"),
    }
}
