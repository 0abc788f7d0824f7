//! The store's part of human approval: a held call is recorded pending, decided once by a
//! conditional update, expires by the caller's clock, and is spent at most once, in the
//! same transaction as the call it allows (which a dead mandate still refuses).
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use mandate_audit::{AuditEvent, EventKind};
use mandate_core::{
    AgentId, Approval, ApprovalDecision, ApprovalId, ApprovalRule, ApprovalStatus, BlastRadius,
    ChainLink, Grantor, HumanId, Mandate, MandateId, MandateStatus, Revocation, Timestamp,
    ToolClass, ToolName, ToolPattern,
};
use mandate_store::{ApprovalRefusal, ApprovalVerdict, Spend, SpendRefusal, SqliteStore, Store};

const NOW: Timestamp = Timestamp::from_millis(1_800_000_000_000);
const EXPIRES: Timestamp = Timestamp::from_millis(1_800_000_300_000);

fn event(kind: EventKind) -> AuditEvent {
    AuditEvent::new(kind, NOW, "node-a".into())
}

fn open() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("mandate.db")).unwrap();
    (store, dir)
}

fn mandate() -> Mandate {
    Mandate {
        id: MandateId::new("m_root").unwrap(),
        grantor: Grantor::Human {
            human: HumanId::new("alice@corp").unwrap(),
        },
        root_human: HumanId::new("alice@corp").unwrap(),
        agent: AgentId::new("support-bot").unwrap(),
        tools: vec![ToolPattern::new("crm.*").unwrap()],
        ceiling: ToolClass::Write,
        constraints: Vec::new(),
        approvals: ApprovalRule::parse_list("destructive,crm.refund").unwrap(),
        issued_at: NOW,
        expires_at: NOW.plus_millis(3_600_000),
        purpose: "ticket 4521".into(),
        budget: Some(10),
        uses: 0,
        depth: 0,
        depth_remaining: 2,
        status: MandateStatus::Active,
    }
}

fn approval(n: u128) -> Approval {
    Approval {
        id: ApprovalId::from_u128(n),
        binding: "b".repeat(64),
        human: HumanId::new("alice@corp").unwrap(),
        agent: AgentId::new("support-bot").unwrap(),
        mandate: MandateId::new("m_root").unwrap(),
        chain: vec![ChainLink {
            mandate: MandateId::new("m_root").unwrap(),
            agent: AgentId::new("support-bot").unwrap(),
        }],
        session: "s-1".into(),
        tool: ToolName::new("crm.purge_customers").unwrap(),
        radius: BlastRadius {
            class: ToolClass::Write,
            destructive: true,
            open_world: false,
        },
        arguments: serde_json::json!({ "confirm": true, "token": "[REDACTED:github_pat]" }),
        args_digest: "sha256:00".into(),
        rules: vec!["mandate.forbid-destructive-without-approval".into()],
        requested_at: NOW,
        expires_at: EXPIRES,
        status: ApprovalStatus::Pending,
    }
}

fn decision(at: Timestamp) -> ApprovalDecision {
    ApprovalDecision {
        by: HumanId::new("sec@corp").unwrap(),
        reason: "ticket 4521".into(),
        at,
    }
}

async fn with_one(store: &SqliteStore) -> (Mandate, Approval) {
    let m = mandate();
    store
        .insert_mandate(&m, event(EventKind::MandateGranted))
        .await
        .unwrap();
    let a = approval(1);
    store
        .insert_approval(&a, event(EventKind::Decided))
        .await
        .unwrap();
    (m, a)
}

async fn head(store: &SqliteStore) -> u64 {
    store.audit_head().await.unwrap().map_or(0, |(s, _)| s)
}

#[tokio::test]
async fn approvals_and_mandate_rules_round_trip_and_are_decided_once() {
    let (store, _dir) = open();
    let (m, a) = with_one(&store).await;
    assert_eq!(store.mandate(&m.id).await.unwrap(), Some(m));
    assert_eq!(store.approval(&a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.approvals().await.unwrap(), vec![a.clone()]);
    assert!(
        store
            .approval(&ApprovalId::from_u128(9))
            .await
            .unwrap()
            .is_none()
    );

    let approve = store
        .decide_approval(
            &a.id,
            ApprovalVerdict::Approve,
            decision(NOW.plus_millis(1)),
            event(EventKind::ApprovalGranted),
        )
        .await
        .unwrap();
    assert_eq!(approve, Ok(3));
    let approved = store.approval(&a.id).await.unwrap().unwrap().status;
    assert_eq!(
        approved,
        ApprovalStatus::Approved(decision(NOW.plus_millis(1)))
    );
    // A second decision, either way, changes nothing and appends nothing.
    let again = store
        .decide_approval(
            &a.id,
            ApprovalVerdict::Deny,
            decision(NOW.plus_millis(2)),
            event(EventKind::ApprovalDenied),
        )
        .await
        .unwrap();
    assert_eq!(again, Err(ApprovalRefusal::Not(approved.clone())));
    assert_eq!(head(&store).await, 3);
    let missing = store
        .decide_approval(
            &ApprovalId::from_u128(9),
            ApprovalVerdict::Approve,
            decision(NOW),
            event(EventKind::ApprovalGranted),
        )
        .await
        .unwrap();
    assert_eq!(missing, Err(ApprovalRefusal::Missing));
}

#[tokio::test]
async fn an_approval_is_spent_once_for_its_own_call_with_the_call_record() {
    let (store, _dir) = open();
    let (m, a) = with_one(&store).await;
    let chain = [m.id.clone()];
    store
        .decide_approval(
            &a.id,
            ApprovalVerdict::Approve,
            decision(NOW),
            event(EventKind::ApprovalGranted),
        )
        .await
        .unwrap()
        .unwrap();
    let before = head(&store).await;
    // Another call's binding: refused, nothing spent, nothing appended.
    let other = store
        .record_approved(
            &chain,
            &a.id,
            &"c".repeat(64),
            NOW,
            event(EventKind::Decided),
        )
        .await
        .unwrap();
    assert_eq!(other, Spend::ApprovalRefused(ApprovalRefusal::OtherCall));
    assert_eq!(head(&store).await, before);
    assert_eq!(store.mandate(&m.id).await.unwrap().unwrap().uses, 0);
    // Its own call: spent with the budget and the decision, in one step.
    let spent = store
        .record_approved(&chain, &a.id, &a.binding, NOW, event(EventKind::Decided))
        .await
        .unwrap();
    assert_eq!(spent, Spend::Recorded { seq: before + 1 });
    assert_eq!(store.mandate(&m.id).await.unwrap().unwrap().uses, 1);
    let status = store.approval(&a.id).await.unwrap().unwrap().status;
    assert!(matches!(status, ApprovalStatus::Spent { spent_at, .. } if spent_at == NOW));
    // A replay of the very same call is refused.
    let replay = store
        .record_approved(&chain, &a.id, &a.binding, NOW, event(EventKind::Decided))
        .await
        .unwrap();
    assert!(matches!(
        replay,
        Spend::ApprovalRefused(ApprovalRefusal::Not(ApprovalStatus::Spent { .. }))
    ));
    assert_eq!(store.mandate(&m.id).await.unwrap().unwrap().uses, 1);
}

#[tokio::test]
async fn expired_requests_can_be_neither_decided_nor_spent() {
    let (store, _dir) = open();
    let (m, a) = with_one(&store).await;
    // Not yet past expiry: nothing to expire.
    let early = store
        .expire_approval(&a.id, NOW, event(EventKind::ApprovalExpired))
        .await
        .unwrap();
    assert_eq!(early, Err(ApprovalRefusal::Not(ApprovalStatus::Pending)));
    let late = store
        .decide_approval(
            &a.id,
            ApprovalVerdict::Approve,
            decision(EXPIRES),
            event(EventKind::ApprovalGranted),
        )
        .await
        .unwrap();
    assert_eq!(late, Err(ApprovalRefusal::Not(ApprovalStatus::Expired)));
    assert!(
        store
            .expire_approval(&a.id, EXPIRES, event(EventKind::ApprovalExpired))
            .await
            .unwrap()
            .is_ok()
    );
    assert_eq!(
        store.approval(&a.id).await.unwrap().unwrap().status,
        ApprovalStatus::Expired
    );

    // Approved in time but used too late.
    let b = approval(2);
    store
        .insert_approval(&b, event(EventKind::Decided))
        .await
        .unwrap();
    store
        .decide_approval(
            &b.id,
            ApprovalVerdict::Approve,
            decision(NOW),
            event(EventKind::ApprovalGranted),
        )
        .await
        .unwrap()
        .unwrap();
    let spent = store
        .record_approved(
            &[m.id],
            &b.id,
            &b.binding,
            EXPIRES,
            event(EventKind::Decided),
        )
        .await
        .unwrap();
    assert_eq!(
        spent,
        Spend::ApprovalRefused(ApprovalRefusal::Not(ApprovalStatus::Expired))
    );
}

#[tokio::test]
async fn an_approved_call_under_a_revoked_mandate_is_refused_and_leaves_the_approval_unspent() {
    let (store, _dir) = open();
    let (m, a) = with_one(&store).await;
    store
        .decide_approval(
            &a.id,
            ApprovalVerdict::Approve,
            decision(NOW),
            event(EventKind::ApprovalGranted),
        )
        .await
        .unwrap()
        .unwrap();
    let revocation = Revocation {
        by: "sec@corp".into(),
        reason: "incident".into(),
        at: NOW,
    };
    store
        .revoke(&m.id, revocation, event(EventKind::MandateRevoked))
        .await
        .unwrap();
    let before = head(&store).await;
    let spent = store
        .record_approved(
            std::slice::from_ref(&m.id),
            &a.id,
            &a.binding,
            NOW,
            event(EventKind::Decided),
        )
        .await
        .unwrap();
    assert_eq!(
        spent,
        Spend::Refused {
            mandate: m.id,
            cause: SpendRefusal::Revoked
        }
    );
    assert_eq!(head(&store).await, before);
    let status = store.approval(&a.id).await.unwrap().unwrap().status;
    assert!(matches!(status, ApprovalStatus::Approved(_)), "{status:?}");
}
