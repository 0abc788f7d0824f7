//! The SQLite store's own tests: its connections, its writer's groups, its failures.

use super::*;
use mandate_audit::EventKind;
use mandate_core::Timestamp;

fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("m.db")).unwrap();
    (dir, store)
}

fn event() -> AuditEvent {
    let mut e = AuditEvent::new(
        EventKind::GatewayStarted,
        Timestamp::from_millis(1),
        "n".into(),
    );
    e.detail = Some(serde_json::json!({ "padding": "x".repeat(2000) }));
    e
}

fn pragmas(conn: &Connection) -> Vec<String> {
    [
        "journal_mode",
        "synchronous",
        "foreign_keys",
        "busy_timeout",
    ]
    .iter()
    .map(|name| {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| {
            r.get::<_, rusqlite::types::Value>(0)
        })
        .map(|v| format!("{v:?}"))
        .unwrap()
    })
    .collect()
}

#[tokio::test]
async fn connections_are_durable_and_wait_for_each_other() {
    let (_dir, store) = open();
    let expected = [
        r#"Text("wal")"#,
        "Integer(2)",
        "Integer(1)",
        "Integer(5000)",
    ];
    let writer = store
        .write(|conn| Ok(Finish::Commit(pragmas(conn))))
        .await
        .unwrap();
    assert_eq!(
        writer, expected,
        "writer: WAL, synchronous=FULL, fks, busy wait"
    );
    let reader = store.read(|conn| Ok(pragmas(conn))).await.unwrap();
    assert_eq!(reader, expected, "reader");
}

#[tokio::test]
async fn a_full_disk_is_reported_and_loses_nothing() {
    let (_dir, store) = open();
    store.append(event()).await.unwrap();
    let head = store.audit_head().await.unwrap();
    store
        .write(|conn| {
            let pages: u64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            conn.pragma_update(None, "max_page_count", pages)?;
            Ok(Finish::Commit(()))
        })
        .await
        .unwrap();
    let mut err = None;
    for _ in 0..20 {
        if let Err(e) = store.append(event()).await {
            err = Some(e);
            break;
        }
    }
    assert_eq!(err, Some(StoreError::DiskFull));
    assert_eq!(
        err.map(|e| e.to_string()).unwrap_or_default(),
        "the disk holding the store is full: free some space and retry"
    );
    let events = store.events(0, 100).await.unwrap();
    let last = events.last().map(|e| (e.seq, e.hash));
    assert_eq!(store.audit_head().await.unwrap(), last);
    assert!(mandate_audit::verify(events, last).is_ok());
    assert!(last.map(|(s, _)| s) >= head.map(|(s, _)| s));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_share_commits_and_a_refusal_undoes_only_itself() {
    let (_dir, store) = open();
    // Many appends at once: each answer is a distinct seq, and the chain is unbroken.
    let appends: Vec<_> = (0..200)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.append(event()).await.unwrap() })
        })
        .collect();
    let mut seqs = Vec::new();
    for a in appends {
        seqs.push(a.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=200).collect::<Vec<u64>>());
    // Writes queued while the writer is busy share the next commit.
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let (running, started) = std::sync::mpsc::channel::<()>();
    let before = store.write_stats();
    let writer = store.clone();
    let blocker = tokio::spawn(async move {
        writer
            .write(move |_| {
                let _ = running.send(());
                let _ = hold.recv();
                Ok(Finish::Commit(()))
            })
            .await
    });
    // The writer is inside the blocker's group before anything else is queued.
    tokio::task::spawn_blocking(move || started.recv())
        .await
        .unwrap()
        .unwrap();
    let queued: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.append(event()).await.unwrap() })
        })
        .collect();
    // Generous: the 50 tasks only need to reach the queue, which takes microseconds.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    for q in queued {
        q.await.unwrap();
    }
    let after = store.write_stats();
    assert_eq!(after.writes - before.writes, 51);
    assert_eq!(
        after.groups - before.groups,
        2,
        "the blocker's group, then one for all 50"
    );
    // In one group: a job that rolls back and a job that fails leave nothing; their
    // neighbours commit.
    let rolled_back = store.write(|conn| {
        log::append(conn, &event())?;
        Ok(Finish::Rollback("undone"))
    });
    let failed = store.write(|conn| -> Result<Finish<()>, StoreError> {
        log::append(conn, &event())?;
        Err(StoreError::Conflict {
            what: "test",
            id: "x".into(),
        })
    });
    let kept = store.append(event());
    let (rolled_back, failed, kept) = tokio::join!(rolled_back, failed, kept);
    assert_eq!(rolled_back.unwrap(), "undone");
    assert!(matches!(failed, Err(StoreError::Conflict { .. })));
    assert_eq!(kept.unwrap(), 251);
    let events = store.events(0, 1000).await.unwrap();
    assert_eq!(events.len(), 251);
    let head = store.audit_head().await.unwrap();
    assert_eq!(mandate_audit::verify(events, head).unwrap().events, 251);
}

#[test]
fn busy_and_io_failures_map_to_their_own_errors() {
    let failure = |code| rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
    assert_eq!(
        StoreError::from(failure(rusqlite::ffi::SQLITE_BUSY)),
        StoreError::Busy
    );
    assert_eq!(
        StoreError::from(failure(rusqlite::ffi::SQLITE_FULL)),
        StoreError::DiskFull
    );
    assert!(matches!(
        StoreError::from(failure(rusqlite::ffi::SQLITE_IOERR)),
        StoreError::Io(_)
    ));
    assert!(matches!(
        StoreError::from(failure(rusqlite::ffi::SQLITE_CORRUPT)),
        StoreError::Corrupt(_)
    ));
}

fn open_lingering(linger: std::time::Duration) -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_lingering(&dir.path().join("m.db"), linger).unwrap();
    (dir, store)
}

/// Fails a test that would otherwise hang: the writer's waits are bounded.
async fn soon<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(60), f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within a minute"))
}

#[tokio::test]
async fn an_unhurried_append_waits_for_the_next_urgent_write_and_shares_its_commit() {
    let (_dir, store) = open_lingering(std::time::Duration::from_secs(3600));
    let before = store.write_stats();
    let lingering = tokio::spawn({
        let store = store.clone();
        async move { store.append_unhurried(event()).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!lingering.is_finished(), "alone, it waits for company");
    assert_eq!(
        store.write_stats().groups,
        before.groups,
        "nothing committed"
    );
    let urgent = soon("the urgent append", store.append(event())).await;
    let unhurried = soon("the unhurried append", lingering).await.unwrap();
    assert_eq!((unhurried.unwrap(), urgent.unwrap()), (1, 2), "queue order");
    let after = store.write_stats();
    assert_eq!(
        (after.groups - before.groups, after.writes - before.writes),
        (1, 2),
        "one commit, one fsync, for both"
    );
}

#[tokio::test]
async fn an_unhurried_append_alone_commits_when_its_linger_ends() {
    let (_dir, store) = open_lingering(std::time::Duration::from_millis(20));
    let seq = soon("the unhurried append", store.append_unhurried(event())).await;
    assert_eq!(seq.unwrap(), 1);
    assert_eq!(store.write_stats().groups, 1);
    let head = store.audit_head().await.unwrap();
    assert_eq!(head.map(|(seq, _)| seq), Some(1), "durable and readable");
}

#[tokio::test]
async fn a_flush_takes_lingering_appends_with_it() {
    let (_dir, store) = open_lingering(std::time::Duration::from_secs(3600));
    let lingering: Vec<_> = (0..3)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.append_unhurried(event()).await })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    soon("the flush", store.flush()).await.unwrap();
    for append in lingering {
        assert!(soon("an unhurried append", append).await.unwrap().is_ok());
    }
    assert_eq!(
        store.write_stats().groups,
        1,
        "the flush's group carried them"
    );
}

#[tokio::test]
async fn an_unhurried_append_is_queued_at_once_and_kept_when_nobody_awaits_it() {
    let (_dir, store) = open_lingering(std::time::Duration::from_secs(3600));
    // Never polled: queued by the call itself.
    drop(store.append_unhurried(event()));
    soon("the flush", store.flush()).await.unwrap();
    let events = store.events(0, 10).await.unwrap();
    assert_eq!(events.len(), 1, "written though nobody waited");
    assert_eq!(store.write_stats().groups, 1, "in the flush's group");
}
