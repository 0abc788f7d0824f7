//! What only the SQLite backend has to show: several processes writing one
//! chain, durability across reopening, and tampering with the file itself.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use mandate_audit::{AuditEvent, EventKind, StoredEvent, TamperError, VerifyReport, verify};
use mandate_core::{AgentId, Timestamp};
use mandate_store::{SqliteStore, Store, StoreError};
use std::path::{Path, PathBuf};

const NOW: Timestamp = Timestamp::from_millis(1_800_000_000_000);

/// Set in a child test process: the database it appends to.
const CHILD_DB: &str = "MANDATE_STORE_TEST_CHILD_DB";
/// How many events each child process appends.
const CHILD_EVENTS: u64 = 40;
/// How long each writer pauses between appends.
const PAUSE: std::time::Duration = std::time::Duration::from_millis(2);

fn event(node: &str, n: u64) -> AuditEvent {
    let mut e = AuditEvent::new(EventKind::RequestRejected, NOW, node.into());
    e.result_size = Some(n);
    e
}

fn db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mandate.db");
    (dir, path)
}

async fn all_events(store: &dyn Store) -> Vec<StoredEvent> {
    store.events(0, u32::MAX).await.unwrap()
}

async fn verify_store(store: &dyn Store) -> Result<VerifyReport, TamperError> {
    let head = store.audit_head().await.unwrap();
    verify(all_events(store).await, head)
}

/// A store at `path` holding six events.
async fn six_events(path: &Path) -> SqliteStore {
    let store = SqliteStore::open(path).unwrap();
    for n in 1..=6 {
        store.append(event("node-a", n)).await.unwrap();
    }
    assert_eq!(verify_store(&store).await.unwrap().events, 6);
    store
}

fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_write_one_chain() {
    let (_dir, path) = db();
    let a = SqliteStore::open(&path).unwrap();
    let b = SqliteStore::open(&path).unwrap();
    let writers = [("node-a", a.clone()), ("node-b", b.clone())].map(|(node, store)| {
        tokio::spawn(async move {
            for n in 0..50 {
                store.append(event(node, n)).await.unwrap();
            }
        })
    });
    for w in writers {
        w.await.unwrap();
    }
    let report = verify_store(&a).await.unwrap();
    assert_eq!(report.events, 100);
    assert_eq!(b.audit_head().await.unwrap(), report.head);
    let nodes: Vec<String> = all_events(&b)
        .await
        .iter()
        .map(|e| e.event().unwrap().node)
        .collect();
    assert_eq!(nodes.iter().filter(|n| *n == "node-b").count(), 50);
}

/// Runs only as a child of `two_processes_write_one_chain`.
#[tokio::test]
#[ignore = "a child process of two_processes_write_one_chain"]
async fn child_appends() {
    let Some(path) = std::env::var_os(CHILD_DB) else {
        return;
    };
    let store = SqliteStore::open(Path::new(&path)).unwrap();
    let node = format!("pid-{}", std::process::id());
    for n in 0..CHILD_EVENTS {
        store.append(event(&node, n)).await.unwrap();
        // A pause lets the other processes in, so their writes interleave.
        tokio::time::sleep(PAUSE).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_write_one_chain() {
    let (_dir, path) = db();
    let store = SqliteStore::open(&path).unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<std::process::Child> = (0..2)
        .map(|_| {
            std::process::Command::new(&exe)
                .args(["--ignored", "--exact", "child_appends"])
                .env(CHILD_DB, &path)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    tokio::time::sleep(PAUSE * 50).await;
    for n in 0..CHILD_EVENTS {
        store.append(event("parent", n)).await.unwrap();
        tokio::time::sleep(PAUSE).await;
    }
    for child in children {
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{stdout}"
        );
    }
    let report = verify_store(&store).await.unwrap();
    assert_eq!(report.events, 3 * CHILD_EVENTS);
}

#[tokio::test]
async fn everything_survives_reopening() {
    let (_dir, path) = db();
    let agent = mandate_core::Agent {
        id: AgentId::new("support-bot").unwrap(),
        name: "Support".into(),
        owners: Vec::new(),
        registered_at: NOW,
    };
    let head = {
        let store = six_events(&path).await;
        store.add_agent(&agent, event("node-a", 7)).await.unwrap();
        store.audit_head().await.unwrap()
    };
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.audit_head().await.unwrap(), head);
    assert_eq!(store.agent(&agent.id).await.unwrap(), Some(agent));
    assert_eq!(store.append(event("node-a", 8)).await.unwrap(), 8);
    assert_eq!(verify_store(&store).await.unwrap().events, 8);
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let (_dir, path) = db();
    drop(SqliteStore::open(&path).unwrap());
    raw(&path).pragma_update(None, "user_version", 99).unwrap();
    let err = SqliteStore::open(&path).err().unwrap();
    assert_eq!(
        err,
        StoreError::NewerSchema {
            found: 99,
            supported: 5
        }
    );
}

#[tokio::test]
async fn an_edited_event_is_named() {
    let (_dir, path) = db();
    let store = six_events(&path).await;
    let changed = raw(&path)
        .execute(
            "UPDATE audit_events SET canonical = replace(canonical, '\"result_size\":3', '\"result_size\":30') WHERE seq = 3",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    let err = verify_store(&store).await.unwrap_err();
    assert_eq!(err, TamperError::Modified { seq: 3 });
    assert_eq!(
        err.to_string(),
        "audit entry 3 was modified: its content does not match its hash"
    );
}

#[tokio::test]
async fn a_deleted_middle_event_is_named() {
    let (_dir, path) = db();
    let store = six_events(&path).await;
    raw(&path)
        .execute("DELETE FROM audit_events WHERE seq = 3", [])
        .unwrap();
    let err = verify_store(&store).await.unwrap_err();
    assert_eq!(
        err,
        TamperError::Missing {
            expected: 3,
            found: 4
        }
    );
    assert!(err.to_string().starts_with("audit entry 3 is missing"));
}

/// Swaps the named columns of rows `a` and `b`.
fn swap(path: &Path, a: u64, b: u64, columns: &str) {
    let mut conn = raw(path);
    let tx = conn.transaction().unwrap();
    let read = |seq: u64| -> Vec<rusqlite::types::Value> {
        tx.query_row(
            &format!("SELECT {columns} FROM audit_events WHERE seq = ?1"),
            [seq],
            |r| (0..r.as_ref().column_count()).map(|i| r.get(i)).collect(),
        )
        .unwrap()
    };
    let (row_a, row_b) = (read(a), read(b));
    let set: Vec<String> = columns
        .split(", ")
        .enumerate()
        .map(|(i, c)| format!("{c} = ?{}", i + 2))
        .collect();
    let sql = format!("UPDATE audit_events SET {} WHERE seq = ?1", set.join(", "));
    for (seq, values) in [(a, row_b), (b, row_a)] {
        let mut params: Vec<rusqlite::types::Value> =
            vec![rusqlite::types::Value::Integer(seq as i64)];
        params.extend(values);
        tx.execute(&sql, rusqlite::params_from_iter(params))
            .unwrap();
    }
    tx.commit().unwrap();
}

#[tokio::test]
async fn swapped_rows_are_named() {
    let (_dir, path) = db();
    let store = six_events(&path).await;
    swap(&path, 2, 5, "prev_hash, hash, canonical");
    let err = verify_store(&store).await.unwrap_err();
    assert_eq!(err, TamperError::Reordered { seq: 2 });
    assert!(
        err.to_string()
            .starts_with("audit entry 2 holds an entry written for another position")
    );
}

#[tokio::test]
async fn swapped_contents_alone_are_named() {
    let (_dir, path) = db();
    let store = six_events(&path).await;
    swap(&path, 2, 5, "canonical");
    assert_eq!(
        verify_store(&store).await.unwrap_err(),
        TamperError::Modified { seq: 2 }
    );
}

#[tokio::test]
async fn a_deleted_last_event_is_named() {
    let (_dir, path) = db();
    let store = six_events(&path).await;
    raw(&path)
        .execute("DELETE FROM audit_events WHERE seq = 6", [])
        .unwrap();
    let err = verify_store(&store).await.unwrap_err();
    assert_eq!(
        err,
        TamperError::Truncated {
            head_seq: 6,
            last_seq: 5
        }
    );
    assert_eq!(
        err.to_string(),
        "audit log was truncated: its recorded head is entry 6 but it ends at entry 5"
    );

    // Writing goes on after the recorded head, so the gap stays in evidence.
    assert_eq!(store.append(event("node-a", 7)).await.unwrap(), 7);
    let err = verify_store(&store).await.unwrap_err();
    assert_eq!(
        err,
        TamperError::Missing {
            expected: 6,
            found: 7
        }
    );
}

#[tokio::test]
async fn a_rolled_back_head_stops_appends() {
    let (_dir, path) = db();
    let store = six_events(&path).await;
    raw(&path)
        .execute("UPDATE audit_head SET seq = 4 WHERE id = 1", [])
        .unwrap();
    let err = store.append(event("node-a", 7)).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    assert_eq!(
        verify_store(&store).await.unwrap_err(),
        TamperError::HeadMismatch { seq: 4 }
    );
}
