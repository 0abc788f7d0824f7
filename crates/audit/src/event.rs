//! Audit events: one entry of the log, as the gateway, CLI and admin API write it.

use mandate_core::{AgentId, ChainLink, HumanId, MandateChain, MandateId, Timestamp, ToolClass};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What kind of thing happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A tool call was decided (allow, deny or needs approval); written before forwarding.
    /// A `needs_approval` decision is recorded with the approval request it opens.
    Decided,
    /// A forwarded tool call finished (or failed) upstream.
    Completed,
    /// An agent was registered.
    AgentRegistered,
    /// A human granted a root mandate.
    MandateGranted,
    /// A mandate was handed on to another agent.
    MandateDelegated,
    /// A hand-off was refused because it would have widened its parent.
    DelegationRefused,
    /// A mandate (and so its subtree) was revoked.
    MandateRevoked,
    /// An access token was issued under a mandate.
    TokenIssued,
    /// A request was refused before any decision (bad token, malformed input).
    RequestRejected,
    /// A gateway node started.
    GatewayStarted,
    /// A tool's definition was pinned on first sight (trusted like an SSH known host).
    ToolPinned,
    /// A tool was withheld: its definition is new (under `new_tools = "hold"`), changed
    /// since it was accepted, or flagged as suspicious; it waits for an operator.
    ToolHeld,
    /// An operator accepted a tool's pending definition; the tool is callable again.
    ToolAccepted,
    /// A human with the approver role approved a held call.
    ApprovalGranted,
    /// A human with the approver role refused a held call.
    ApprovalDenied,
    /// An attempt to decide or use an approval was refused (no approver role, own
    /// agent's human, already decided, expired, bound to another call).
    ApprovalRefused,
    /// Nobody decided a held call in time.
    ApprovalExpired,
    /// A local user (a human who can sign in) was added.
    UserAdded,
    /// An OAuth client registered itself (RFC 7591).
    ClientRegistered,
    /// A human signed in to the authorization server, or was refused (`decision`).
    SignIn,
    /// A human declined an OAuth client's request on the consent page.
    ConsentRefused,
}

impl EventKind {
    /// The kind's snake_case name, as it appears in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Decided => "decided",
            EventKind::Completed => "completed",
            EventKind::AgentRegistered => "agent_registered",
            EventKind::MandateGranted => "mandate_granted",
            EventKind::MandateDelegated => "mandate_delegated",
            EventKind::DelegationRefused => "delegation_refused",
            EventKind::MandateRevoked => "mandate_revoked",
            EventKind::TokenIssued => "token_issued",
            EventKind::RequestRejected => "request_rejected",
            EventKind::GatewayStarted => "gateway_started",
            EventKind::ToolPinned => "tool_pinned",
            EventKind::ToolHeld => "tool_held",
            EventKind::ToolAccepted => "tool_accepted",
            EventKind::ApprovalGranted => "approval_granted",
            EventKind::ApprovalDenied => "approval_denied",
            EventKind::ApprovalRefused => "approval_refused",
            EventKind::ApprovalExpired => "approval_expired",
            EventKind::UserAdded => "user_added",
            EventKind::ClientRegistered => "client_registered",
            EventKind::SignIn => "sign_in",
            EventKind::ConsentRefused => "consent_refused",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the audit log. Fields a call site does not have stay empty
/// and are left out of the serialised (and hashed) form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When it happened.
    pub time: Timestamp,
    /// The gateway node (or CLI host) that recorded it.
    pub node: String,
    /// What happened.
    pub kind: EventKind,
    /// The governance session Mandate assigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The human at the root of the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub human: Option<HumanId>,
    /// The agent acting (the leaf of the chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentId>,
    /// The mandate acted under (the leaf of the chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mandate: Option<MandateId>,
    /// The whole chain, root first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<ChainLink>,
    /// The tool called, as `upstream.tool`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The tool's class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<ToolClass>,
    /// `allow`, `deny` or `needs_approval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// Why, in sentences an operator can act on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// A digest of the call's arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_digest: Option<String>,
    /// A digest of the upstream's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_digest: Option<String>,
    /// The result's size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_size: Option<u64>,
    /// How long the upstream took, in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<u64>,
    /// Sensitivity labels found in the arguments or the result, as `kind/label`
    /// (`credential/aws_access_key`, `personal_data/email`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// What went wrong, for events that record a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Anything else worth keeping (a JSON `null` counts as nothing).
    #[serde(default, skip_serializing_if = "is_absent")]
    pub detail: Option<serde_json::Value>,
}

fn is_absent(detail: &Option<serde_json::Value>) -> bool {
    matches!(detail, None | Some(serde_json::Value::Null))
}

impl AuditEvent {
    /// An event of `kind` at `time` on `node`, with every other field empty.
    pub fn new(kind: EventKind, time: Timestamp, node: String) -> Self {
        Self {
            time,
            node,
            kind,
            session: None,
            human: None,
            agent: None,
            mandate: None,
            chain: Vec::new(),
            tool: None,
            class: None,
            decision: None,
            reasons: Vec::new(),
            labels: Vec::new(),
            args_digest: None,
            result_digest: None,
            result_size: None,
            latency_us: None,
            error: None,
            detail: None,
        }
    }

    /// Fills in the root human, the leaf agent and mandate, and the links of `chain`.
    pub fn with_chain(mut self, chain: &MandateChain) -> Self {
        self.human = Some(chain.root_human().clone());
        self.agent = Some(chain.leaf().agent.clone());
        self.mandate = Some(chain.leaf().id.clone());
        self.chain = chain.links();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_display_as_their_serde_names() {
        for kind in [
            EventKind::Decided,
            EventKind::Completed,
            EventKind::AgentRegistered,
            EventKind::MandateGranted,
            EventKind::MandateDelegated,
            EventKind::DelegationRefused,
            EventKind::MandateRevoked,
            EventKind::TokenIssued,
            EventKind::RequestRejected,
            EventKind::GatewayStarted,
            EventKind::ToolPinned,
            EventKind::ToolHeld,
            EventKind::ToolAccepted,
            EventKind::ApprovalGranted,
            EventKind::ApprovalDenied,
            EventKind::ApprovalRefused,
            EventKind::ApprovalExpired,
        ] {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, serde_json::Value::String(kind.to_string()));
        }
    }

    #[test]
    fn empty_fields_are_left_out() {
        let mut e = AuditEvent::new(EventKind::Decided, Timestamp::from_millis(7), "n1".into());
        e.detail = Some(serde_json::Value::Null);
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"time": 7, "node": "n1", "kind": "decided"})
        );
    }
}
