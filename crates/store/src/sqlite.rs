//! The embedded backend: one SQLite file in WAL mode, shared safely by several processes.
//!
//! Every write runs in a `BEGIN IMMEDIATE` transaction, which takes SQLite's
//! write lock before reading anything. So the audit head read inside it is
//! the true last entry even when the gateway and the CLI write at once, and
//! their events form one unbroken chain. Blocking calls run on tokio's
//! blocking pool, over one write and one read connection.

mod agents;
mod log;
mod mandates;
mod schema;

use crate::{RevokeOutcome, Spend, Store, StoreError};
use async_trait::async_trait;
use mandate_audit::{AuditEvent, EventHash, StoredEvent};
use mandate_core::{Agent, AgentId, Mandate, MandateId, Revocation};
use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The SQLite store. Cheap to clone: clones share the connections.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Connections>,
}

struct Connections {
    path: PathBuf,
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if need be) the store at `path`: the file, its
    /// directory and the schema. Blocks briefly; call it at start-up.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Io(format!("cannot create `{}`: {e}", dir.display())))?;
        }
        let mut writer = schema::connect(path)?;
        schema::migrate(&mut writer)?;
        let reader = schema::connect(path)?;
        reader.pragma_update(None, "query_only", true)?;
        tracing::info!(path = %path.display(), "opened sqlite store");
        Ok(SqliteStore {
            inner: Arc::new(Connections {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                reader: Mutex::new(reader),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction on the blocking pool. `f`
    /// commits; returning without committing rolls back.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        run_blocking(move || {
            let mut conn = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            f(tx)
        })
        .await
    }

    /// Runs `f` on the read connection on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        run_blocking(move || {
            let conn = inner.reader.lock().unwrap_or_else(|p| p.into_inner());
            f(&conn)
        })
        .await
    }
}

async fn run_blocking<T, F>(f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    let result = tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?;
    if let Err(e @ (StoreError::DiskFull | StoreError::Io(_) | StoreError::Corrupt(_))) = &result {
        tracing::error!(error = %e, "sqlite store failed");
    }
    result
}

#[async_trait]
impl Store for SqliteStore {
    async fn add_agent(&self, agent: &Agent, event: AuditEvent) -> Result<u64, StoreError> {
        let agent = agent.clone();
        self.write(move |tx| {
            agents::insert(&tx, &agent)?;
            let seq = log::append(&tx, &event)?;
            tx.commit()?;
            Ok(seq)
        })
        .await
    }

    async fn agent(&self, id: &AgentId) -> Result<Option<Agent>, StoreError> {
        let id = id.clone();
        self.read(move |conn| agents::one(conn, &id)).await
    }

    async fn agents(&self) -> Result<Vec<Agent>, StoreError> {
        self.read(agents::all).await
    }

    async fn insert_mandate(
        &self,
        mandate: &Mandate,
        event: AuditEvent,
    ) -> Result<u64, StoreError> {
        let mandate = mandate.clone();
        self.write(move |tx| {
            mandates::insert(&tx, &mandate)?;
            let seq = log::append(&tx, &event)?;
            tx.commit()?;
            Ok(seq)
        })
        .await
    }

    async fn mandate(&self, id: &MandateId) -> Result<Option<Mandate>, StoreError> {
        let id = id.clone();
        self.read(move |conn| mandates::one(conn, &id)).await
    }

    async fn chain(&self, id: &MandateId) -> Result<Option<Vec<Mandate>>, StoreError> {
        let id = id.clone();
        self.read(move |conn| mandates::chain(conn, &id)).await
    }

    async fn subtree(&self, id: &MandateId) -> Result<Vec<Mandate>, StoreError> {
        let id = id.clone();
        self.read(move |conn| mandates::subtree(conn, &id)).await
    }

    async fn mandates(&self) -> Result<Vec<Mandate>, StoreError> {
        self.read(mandates::all).await
    }

    async fn revoke(
        &self,
        id: &MandateId,
        revocation: Revocation,
        event: AuditEvent,
    ) -> Result<RevokeOutcome, StoreError> {
        let id = id.clone();
        self.write(move |tx| {
            mandates::revoke(&tx, &id, &revocation)?;
            let descendants = mandates::subtree(&tx, &id)?
                .into_iter()
                .map(|m| m.id)
                .filter(|d| *d != id)
                .collect();
            let seq = log::append(&tx, &event)?;
            tx.commit()?;
            Ok(RevokeOutcome { seq, descendants })
        })
        .await
    }

    async fn record_allowed(
        &self,
        chain: &[MandateId],
        event: AuditEvent,
    ) -> Result<Spend, StoreError> {
        let chain = chain.to_vec();
        self.write(move |tx| {
            // INVARIANT (DESIGN.md 5): the spend and the decision are one
            // transaction, committed with `synchronous=FULL` (the WAL is
            // fsynced), so an allowed call is durable before it is forwarded
            // and a refused spend leaves neither uses nor an event behind.
            for id in &chain {
                if let Some(cause) = mandates::spend_one(&tx, id)? {
                    tx.rollback()?;
                    tracing::debug!(mandate = %id, ?cause, "spend refused");
                    return Ok(Spend::Refused {
                        mandate: id.clone(),
                        cause,
                    });
                }
            }
            let seq = log::append(&tx, &event)?;
            tx.commit()?;
            Ok(Spend::Recorded { seq })
        })
        .await
    }

    async fn append(&self, event: AuditEvent) -> Result<u64, StoreError> {
        self.write(move |tx| {
            let seq = log::append(&tx, &event)?;
            tx.commit()?;
            Ok(seq)
        })
        .await
    }

    async fn events(&self, after_seq: u64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        self.read(move |conn| log::events(conn, after_seq, limit))
            .await
    }

    async fn audit_head(&self) -> Result<Option<(u64, EventHash)>, StoreError> {
        self.read(log::head).await
    }

    async fn add_checkpoint(&self, size: u64, note: String) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.execute(
                "INSERT OR IGNORE INTO audit_checkpoints (size, note) VALUES (?1, ?2)",
                rusqlite::params![size, note],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn checkpoints(&self) -> Result<Vec<(u64, String)>, StoreError> {
        self.read(|conn| {
            let mut statement =
                conn.prepare_cached("SELECT size, note FROM audit_checkpoints ORDER BY size")?;
            let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        let code = match &e {
            rusqlite::Error::SqliteFailure(failure, _) => Some(failure.code),
            _ => None,
        };
        match code {
            Some(ErrorCode::DiskFull) => StoreError::DiskFull,
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy,
            Some(ErrorCode::SystemIoFailure | ErrorCode::CannotOpen) => {
                StoreError::Io(e.to_string())
            }
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
                StoreError::Corrupt(e.to_string())
            }
            _ => StoreError::Sqlite(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn connections_are_durable_and_wait_for_each_other() {
        let (_dir, store) = open();
        for conn in [&store.inner.writer, &store.inner.reader] {
            let conn = conn.lock().unwrap();
            let pragma = |name: &str| -> String {
                conn.query_row(&format!("PRAGMA {name}"), [], |r| {
                    r.get::<_, rusqlite::types::Value>(0)
                })
                .map(|v| format!("{v:?}"))
                .unwrap()
            };
            assert_eq!(pragma("journal_mode"), r#"Text("wal")"#);
            assert_eq!(pragma("synchronous"), "Integer(2)", "FULL");
            assert_eq!(pragma("foreign_keys"), "Integer(1)");
            assert_eq!(pragma("busy_timeout"), "Integer(5000)");
        }
    }

    #[tokio::test]
    async fn a_full_disk_is_reported_and_loses_nothing() {
        let (_dir, store) = open();
        store.append(event()).await.unwrap();
        let head = store.audit_head().await.unwrap();
        {
            let conn = store.inner.writer.lock().unwrap();
            let pages: u64 = conn
                .query_row("PRAGMA page_count", [], |r| r.get(0))
                .unwrap();
            conn.pragma_update(None, "max_page_count", pages).unwrap();
        }
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
}
