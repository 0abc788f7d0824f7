//! Builders for the audit events the gateway writes, so every call site records the same facts.
//!
//! Events name the whole chain (root human .. leaf agent) so the log alone answers "who handed work to whom".

use crate::Gateway;
use crate::catalog::CatalogTool;
use crate::principal::Principal;
use mandate_audit::{AuditEvent, EventKind};
use mandate_core::Decision;

/// An event about a principal's request, with the chain filled in.
fn about(gw: &Gateway, kind: EventKind, principal: &Principal) -> AuditEvent {
    let mut event = AuditEvent::new(kind, crate::now(), gw.config.node.clone());
    let chain = &principal.chain;
    event.session = Some(principal.session().to_owned());
    event.human = Some(chain.root_human().clone());
    event.agent = Some(chain.leaf().agent.clone());
    event.mandate = Some(chain.leaf().id.clone());
    event.chain = chain.links();
    event
}

/// The decision on a call to a catalogued tool (or an unknown name).
pub(crate) fn decided(
    gw: &Gateway,
    principal: &Principal,
    tool_name: &str,
    tool: Option<&CatalogTool>,
    args_digest: &str,
    decision: &Decision,
) -> AuditEvent {
    let mut event = about(gw, EventKind::Decided, principal);
    event.tool = Some(tool_name.to_owned());
    event.class = tool.map(|t| t.radius.class);
    event.args_digest = Some(args_digest.to_owned());
    event.decision = Some(decision.as_str().to_owned());
    event.reasons = decision.reason_texts();
    event
}

/// What came of a forwarded call.
pub(crate) struct Outcome {
    pub(crate) latency_us: u64,
    pub(crate) result_digest: Option<String>,
    pub(crate) result_size: Option<u64>,
    pub(crate) error: Option<&'static str>,
    pub(crate) labels: Vec<String>,
}

impl Outcome {
    /// A call whose upstream gave no result.
    pub(crate) fn failed(latency_us: u64, error: &'static str) -> Self {
        Self {
            latency_us,
            result_digest: None,
            result_size: None,
            error: Some(error),
            labels: Vec::new(),
        }
    }
}

/// The completion of a forwarded call.
pub(crate) fn completed(
    gw: &Gateway,
    principal: &Principal,
    tool: &CatalogTool,
    decided_seq: u64,
    outcome: Outcome,
) -> AuditEvent {
    let mut event = about(gw, EventKind::Completed, principal);
    event.tool = Some(tool.name.to_string());
    event.class = Some(tool.radius.class);
    event.latency_us = Some(outcome.latency_us);
    event.result_digest = outcome.result_digest;
    event.result_size = outcome.result_size;
    event.error = outcome.error.map(str::to_owned);
    event.labels = outcome.labels;
    event.detail = Some(serde_json::json!({ "decided_seq": decided_seq }));
    event
}

/// A request an authenticated agent sent that the gateway rejected.
pub(crate) fn rejected(gw: &Gateway, principal: &Principal, what: &str) -> AuditEvent {
    let mut event = about(gw, EventKind::RequestRejected, principal);
    event.error = Some(what.to_owned());
    event
}

/// A validly signed token whose mandate chain is no longer in force.
pub(crate) fn refused_token(
    gw: &Gateway,
    principal: &Principal,
    why: &str,
    attempted: Option<&str>,
) -> AuditEvent {
    let mut event = about(gw, EventKind::Decided, principal);
    event.tool = attempted.map(str::to_owned);
    event.decision = Some("deny".to_owned());
    event.reasons = vec![why.to_owned()];
    event
}

/// The completion of a relayed resource read, prompt fetch or subscription (see `relay`).
pub(crate) fn relay_completed(
    gw: &Gateway,
    principal: &Principal,
    governed: &mandate_core::ToolName,
    decided_seq: u64,
    latency_us: u64,
    error: Option<&'static str>,
) -> AuditEvent {
    let mut event = about(gw, EventKind::Completed, principal);
    event.tool = Some(governed.to_string());
    event.class = Some(mandate_core::ToolClass::Read);
    event.latency_us = Some(latency_us);
    event.error = error.map(str::to_owned);
    event.detail = Some(serde_json::json!({ "decided_seq": decided_seq }));
    event
}
