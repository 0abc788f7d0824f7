//! A realistic log for the OCSF tests: one entry of every kind, as the gateway writes
//! them, under a two-link mandate chain (alice@corp > planner > support-bot).

use mandate_audit::{AuditEvent, EventKind, StoredEvent, to_ocsf};
use mandate_core::{
    AgentId, Grantor, HumanId, Mandate, MandateChain, MandateId, MandateStatus, Timestamp,
    ToolClass, ToolPattern,
};
use serde_json::{Value, json};

pub(crate) const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn agent(id: &str) -> AgentId {
    AgentId::new(id).unwrap()
}

fn root_mandate() -> Mandate {
    Mandate {
        id: MandateId::from_u128(1),
        grantor: Grantor::Human {
            human: HumanId::new("alice@corp").unwrap(),
        },
        root_human: HumanId::new("alice@corp").unwrap(),
        agent: agent("planner"),
        tools: vec![
            ToolPattern::new("crm.*").unwrap(),
            ToolPattern::new("tickets.create").unwrap(),
        ],
        ceiling: ToolClass::Orchestrate,
        constraints: vec![],
        approvals: Vec::new(),
        issued_at: Timestamp::from_millis(T0),
        expires_at: Timestamp::from_millis(T0 + 3_600_000),
        purpose: "quarterly review".into(),
        budget: Some(100),
        uses: 0,
        depth: 0,
        depth_remaining: 2,
        status: MandateStatus::Active,
    }
}

fn child_mandate() -> Mandate {
    Mandate {
        id: MandateId::from_u128(2),
        grantor: Grantor::Mandate {
            parent: MandateId::from_u128(1),
            by: "planner".into(),
        },
        agent: agent("support-bot"),
        tools: vec![
            ToolPattern::new("crm.lookup_customer").unwrap(),
            ToolPattern::new("crm.read_config").unwrap(),
        ],
        ceiling: ToolClass::Read,
        depth: 1,
        depth_remaining: 1,
        ..root_mandate()
    }
}

fn chain() -> MandateChain {
    MandateChain::new(vec![root_mandate(), child_mandate()]).unwrap()
}

fn event(kind: EventKind, offset: i64) -> AuditEvent {
    AuditEvent::new(kind, Timestamp::from_millis(T0 + offset), "gw-1".into())
}

fn call(kind: EventKind, offset: i64, tool: &str, class: Option<ToolClass>) -> AuditEvent {
    let mut e = event(kind, offset).with_chain(&chain());
    e.session = Some("s_7f3a".into());
    e.tool = Some(tool.into());
    e.class = class;
    e
}

/// Every kind of entry, as the gateway writes them, sealed into a log.
fn log() -> Vec<StoredEvent> {
    let mut events = Vec::new();
    events.push(event(EventKind::GatewayStarted, 0));

    let mut registered = event(EventKind::AgentRegistered, 10);
    registered.agent = Some(agent("support-bot"));
    registered.detail = Some(json!({
        "by": "ops@corp",
        "name": "Support bot",
        "owners": [{"role": "business", "human": "ana@corp"}],
    }));
    events.push(registered);

    let mut granted = event(EventKind::MandateGranted, 20);
    granted.human = Some(HumanId::new("alice@corp").unwrap());
    granted.agent = Some(agent("planner"));
    granted.mandate = Some(MandateId::from_u128(1));
    granted.detail = Some(serde_json::to_value(root_mandate()).unwrap());
    events.push(granted);

    let mut delegated = event(EventKind::MandateDelegated, 30).with_chain(&chain());
    delegated.detail = Some(serde_json::to_value(child_mandate()).unwrap());
    events.push(delegated);

    let root_only = MandateChain::new(vec![root_mandate()]).unwrap();
    let mut refused = event(EventKind::DelegationRefused, 40).with_chain(&root_only);
    refused.decision = Some("deny".into());
    refused.reasons = vec!["`crm.purge_customers` is not within the parent's tools".into()];
    refused.detail = Some(json!({"by": "planner", "worker": "rogue-bot"}));
    events.push(refused);

    let mut token = event(EventKind::TokenIssued, 45).with_chain(&chain());
    token.detail = Some(json!({"by": "planner"}));
    events.push(token);

    let mut allowed = call(
        EventKind::Decided,
        50,
        "crm.read_config",
        Some(ToolClass::Read),
    );
    allowed.decision = Some("allow".into());
    allowed.args_digest = Some(format!("sha256:{}", "ab".repeat(32)));
    events.push(allowed);

    let mut completed = call(
        EventKind::Completed,
        60,
        "crm.read_config",
        Some(ToolClass::Read),
    );
    completed.latency_us = Some(12_345);
    completed.result_size = Some(180);
    completed.result_digest = Some(format!("sha256:{}", "cd".repeat(32)));
    completed.labels = vec![
        "credential/aws_access_key".into(),
        "personal_data/email".into(),
        "personal_data/payment_card".into(),
    ];
    completed.detail = Some(json!({"decided_seq": 7}));
    events.push(completed);

    let mut denied = call(
        EventKind::Decided,
        70,
        "crm.send_email",
        Some(ToolClass::Write),
    );
    denied.decision = Some("deny".into());
    denied.reasons = vec!["mandate `m_2` has no grant for tool `crm.send_email`".into()];
    events.push(denied);

    let mut approval = call(
        EventKind::Decided,
        75,
        "crm.spawn_worker",
        Some(ToolClass::Orchestrate),
    );
    approval.decision = Some("needs_approval".into());
    approval.reasons = vec!["policy `approve-orchestration` asks a human".into()];
    events.push(approval);

    let mut granted = call(
        EventKind::ApprovalGranted,
        76,
        "crm.spawn_worker",
        Some(ToolClass::Orchestrate),
    );
    granted.decision = Some("allow".into());
    granted.reasons = vec!["ticket 4521".into()];
    granted.detail = Some(json!({"approval": "apr_0193", "by": "sec@corp"}));
    events.push(granted);
    let mut refused = call(
        EventKind::ApprovalRefused,
        76,
        "crm.spawn_worker",
        Some(ToolClass::Orchestrate),
    );
    refused.error = Some("`bob@corp` is not an approver".into());
    events.push(refused);
    let mut denied_approval = call(
        EventKind::ApprovalDenied,
        76,
        "crm.spawn_worker",
        Some(ToolClass::Orchestrate),
    );
    denied_approval.decision = Some("deny".into());
    events.push(denied_approval);
    let mut expired = call(
        EventKind::ApprovalExpired,
        76,
        "crm.spawn_worker",
        Some(ToolClass::Orchestrate),
    );
    expired.decision = Some("deny".into());
    events.push(expired);

    let mut unknown = call(EventKind::Decided, 77, "crm.no_such_tool", None);
    unknown.decision = Some("deny".into());
    unknown.reasons = vec!["no upstream offers a tool named `crm.no_such_tool`".into()];
    unknown.labels = vec!["credential/github_token".into()];
    events.push(unknown);

    let mut failed = call(
        EventKind::Completed,
        80,
        "crm.read_config",
        Some(ToolClass::Read),
    );
    failed.latency_us = Some(900);
    failed.error = Some("upstream timed out".into());
    events.push(failed);

    let mut rejected = event(EventKind::RequestRejected, 90).with_chain(&chain());
    rejected.session = Some("s_7f3a".into());
    rejected.error = Some("unknown method `tools/frobnicate`".into());
    events.push(rejected);

    let mut revoked = event(EventKind::MandateRevoked, 100).with_chain(&chain());
    revoked.reasons = vec!["incident 42".into()];
    revoked.detail = Some(json!({"by": "sec@corp"}));
    events.push(revoked);

    let mut pinned = event(EventKind::ToolPinned, 110);
    pinned.tool = Some("crm.lookup_customer".into());
    pinned.class = Some(ToolClass::Read);
    pinned.detail = Some(json!({"digest": "ab".repeat(32), "by": "trust-on-first-use"}));
    events.push(pinned);

    let mut held = event(EventKind::ToolHeld, 120);
    held.tool = Some("crm.lookup_customer".into());
    held.class = Some(ToolClass::Read);
    held.reasons = vec!["its definition changed since it was accepted".into()];
    held.detail = Some(json!({
        "digest": "cd".repeat(32),
        "accepted_digest": "ab".repeat(32),
        "flags": [{"kind": "injection", "at": "description", "excerpt": "<IMPORTANT>"}],
    }));
    events.push(held);

    let mut accepted = event(EventKind::ToolAccepted, 130);
    accepted.tool = Some("crm.lookup_customer".into());
    accepted.class = Some(ToolClass::Read);
    accepted.detail = Some(json!({"digest": "cd".repeat(32), "by": "sec@corp"}));
    events.push(accepted);

    let mut sealed: Vec<StoredEvent> = Vec::new();
    for e in &events {
        let head = sealed.last().map(|s| (s.seq, s.hash));
        sealed.push(StoredEvent::after(head, e).unwrap());
    }
    sealed
}

pub(crate) fn all_records() -> Vec<(StoredEvent, Vec<Value>)> {
    log()
        .into_iter()
        .map(|s| {
            let records = to_ocsf(&s).unwrap();
            (s, records)
        })
        .collect()
}

pub(crate) fn record_of(kind: &str, tool: Option<&str>, class_uid: u64) -> Value {
    all_records()
        .into_iter()
        .flat_map(|(_, records)| records)
        .find(|r| {
            r["metadata"]["event_code"] == kind
                && r["class_uid"] == class_uid
                && tool.is_none_or(|t| r["unmapped"]["mandate"]["tool"] == t)
        })
        .unwrap_or_else(|| panic!("no {class_uid} record for {kind} {tool:?}"))
}
