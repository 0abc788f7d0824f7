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
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The SQLite store. Cheap to clone: clones share the connections.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Connections>,
}

struct Connections {
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
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
                writer: Mutex::new(writer),
                reader: Mutex::new(reader),
            }),
        })
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

    async fn insert_mandate(&self, mandate: &Mandate, event: AuditEvent) -> Result<u64, StoreError> {
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

    async fn record_allowed(&self, chain: &[MandateId], event: AuditEvent) -> Result<Spend, StoreError> {
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
        self.read(move |conn| log::events(conn, after_seq, limit)).await
    }

    async fn audit_head(&self) -> Result<Option<(u64, EventHash)>, StoreError> {
        self.read(log::head).await
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
            Some(ErrorCode::SystemIoFailure | ErrorCode::CannotOpen) => StoreError::Io(e.to_string()),
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
                StoreError::Corrupt(e.to_string())
            }
            _ => StoreError::Sqlite(e.to_string()),
        }
    }
}
