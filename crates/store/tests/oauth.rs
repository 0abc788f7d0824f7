//! The authorization server's rows: users and clients round-trip with their audit events;
//! refresh tokens rotate once, and a reused one revokes its family.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use mandate_audit::{AuditEvent, EventKind};
use mandate_core::{
    AgentId, Grantor, HumanId, Mandate, MandateId, MandateStatus, Timestamp, ToolClass, ToolPattern,
};
use mandate_store::oauth::{ClientRecord, RefreshGrant, Rotation, UserRecord};
use mandate_store::{SqliteStore, Store, StoreError};

const NOW: Timestamp = Timestamp::from_millis(1_800_000_000_000);

fn open() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("mandate.db")).unwrap();
    (store, dir)
}

fn event(kind: EventKind) -> AuditEvent {
    AuditEvent::new(kind, NOW, "node-a".into())
}

#[tokio::test]
async fn users_and_clients_round_trip_and_ids_are_unique() {
    let (store, _dir) = open();
    let alice = HumanId::new("alice@corp").unwrap();
    let user = UserRecord {
        id: alice.clone(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        added_at: NOW,
    };
    assert_eq!(
        store
            .add_user(&user, event(EventKind::UserAdded))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.user(&alice).await.unwrap(), Some(user.clone()));
    assert!(matches!(
        store.add_user(&user, event(EventKind::UserAdded)).await,
        Err(StoreError::Conflict { what: "user", .. })
    ));
    assert_eq!(store.users().await.unwrap(), vec![alice]);
    assert!(
        !format!("{user:?}").contains("argon2"),
        "the hash stays out of logs"
    );

    let client = ClientRecord {
        id: "mcl_1".into(),
        name: "Client".into(),
        redirect_uris: vec!["http://127.0.0.1:9/cb".into()],
        registered_at: NOW,
    };
    store
        .add_client(&client, event(EventKind::ClientRegistered))
        .await
        .unwrap();
    assert_eq!(store.client("mcl_1").await.unwrap(), Some(client.clone()));
    assert_eq!(store.client("mcl_2").await.unwrap(), None);
    assert!(
        store
            .add_client(&client, event(EventKind::ClientRegistered))
            .await
            .is_err()
    );
    // Only the successful additions were logged.
    assert_eq!(
        store.audit_head().await.unwrap().map(|(seq, _)| seq),
        Some(2)
    );
}

async fn with_mandate(store: &SqliteStore) -> MandateId {
    let id = MandateId::new("m-1").unwrap();
    let mandate = Mandate {
        constraints: Vec::new(),
        approvals: Vec::new(),
        id: id.clone(),
        grantor: Grantor::Human {
            human: HumanId::new("alice@corp").unwrap(),
        },
        root_human: HumanId::new("alice@corp").unwrap(),
        agent: AgentId::new("bot").unwrap(),
        tools: vec![ToolPattern::new("crm.*").unwrap()],
        ceiling: ToolClass::Read,
        issued_at: NOW,
        expires_at: NOW.plus_millis(3_600_000),
        purpose: "p".into(),
        budget: None,
        uses: 0,
        depth: 0,
        depth_remaining: 0,
        status: MandateStatus::Active,
    };
    store
        .insert_mandate(&mandate, event(EventKind::MandateGranted))
        .await
        .unwrap();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_tokens_rotate_once_and_reuse_revokes_the_family() {
    let (store, _dir) = open();
    let mandate = with_mandate(&store).await;
    let first = RefreshGrant {
        digest: "d1".into(),
        family: "d1".into(),
        client_id: "mcl_1".into(),
        mandate: mandate.clone(),
        scope: "crm.lookup_customer".into(),
        issued_at: NOW,
    };
    store.add_refresh(&first).await.unwrap();
    // Another client's attempt changes nothing.
    assert_eq!(
        store.rotate_refresh("d1", "mcl_2", "x", NOW).await.unwrap(),
        Rotation::Unknown
    );
    assert_eq!(
        store
            .rotate_refresh("nope", "mcl_1", "x", NOW)
            .await
            .unwrap(),
        Rotation::Unknown
    );
    // Two rotations of one token at once: exactly one wins.
    let (a, b) = tokio::join!(
        store.rotate_refresh("d1", "mcl_1", "d2", NOW),
        store.rotate_refresh("d1", "mcl_1", "d3", NOW),
    );
    let outcomes = [a.unwrap(), b.unwrap()];
    let rotated = outcomes
        .iter()
        .filter(|o| matches!(o, Rotation::Rotated(_)))
        .count();
    let reused = outcomes
        .iter()
        .filter(|o| matches!(o, Rotation::Reused(_)))
        .count();
    assert_eq!((rotated, reused), (1, 1), "{outcomes:?}");
    if let Rotation::Rotated(spent) = &outcomes[0] {
        assert_eq!(spent, &first);
    }
    // The reuse revoked the family: the successor is dead too.
    for successor in ["d2", "d3"] {
        assert!(matches!(
            store
                .rotate_refresh(successor, "mcl_1", "d4", NOW)
                .await
                .unwrap(),
            Rotation::Reused(_) | Rotation::Unknown
        ));
    }
}

#[tokio::test]
async fn a_successor_keeps_the_family_mandate_and_scope() {
    let (store, _dir) = open();
    let mandate = with_mandate(&store).await;
    let first = RefreshGrant {
        digest: "d1".into(),
        family: "d1".into(),
        client_id: "mcl_1".into(),
        mandate: mandate.clone(),
        scope: "crm.a crm.b".into(),
        issued_at: NOW,
    };
    store.add_refresh(&first).await.unwrap();
    assert!(matches!(
        store
            .rotate_refresh("d1", "mcl_1", "d2", NOW)
            .await
            .unwrap(),
        Rotation::Rotated(_)
    ));
    let later = NOW.plus_millis(5);
    match store
        .rotate_refresh("d2", "mcl_1", "d3", later)
        .await
        .unwrap()
    {
        Rotation::Rotated(spent) => {
            assert_eq!(spent.family, "d1");
            assert_eq!(spent.mandate, mandate);
            assert_eq!(spent.scope, "crm.a crm.b");
            assert_eq!(spent.issued_at, NOW);
        }
        other => panic!("{other:?}"),
    }
    // The first, spent long ago, revokes d3 too.
    assert!(matches!(
        store
            .rotate_refresh("d1", "mcl_1", "d9", NOW)
            .await
            .unwrap(),
        Rotation::Reused(_)
    ));
    assert!(matches!(
        store
            .rotate_refresh("d3", "mcl_1", "d9", NOW)
            .await
            .unwrap(),
        Rotation::Reused(_)
    ));
}
