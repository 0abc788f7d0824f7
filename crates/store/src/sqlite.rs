//! The embedded backend: one SQLite file in WAL mode, shared safely by several processes.
//!
//! Every write runs in a `BEGIN IMMEDIATE` transaction, which takes SQLite's
//! write lock before reading anything. So the audit head read inside it is
//! the true last entry even when the gateway and the CLI write at once, and
//! their events form one unbroken chain. Writes go to one writer thread that
//! commits them in groups (see `writer`); reads go to one reader thread (see `reader`).

mod agents;
mod approvals;
mod log;
mod mandates;
mod oauth;
mod pins;
mod reader;
mod schema;
mod writer;

use crate::oauth::{ClientRecord, RefreshGrant, Rotation, UserRecord};
use crate::{
    ApprovalRefusal, ApprovalVerdict, PinnedDefinition, Queued, RevokeOutcome, Spend, Store,
    StoreError, ToolPin,
};
use async_trait::async_trait;
use mandate_audit::{AuditEvent, EventHash, StoredEvent};
use mandate_core::{
    Agent, AgentId, Approval, ApprovalDecision, ApprovalId, HumanId, Mandate, MandateId,
    Revocation, Timestamp, ToolName,
};
use reader::Reader;
use rusqlite::{Connection, ErrorCode};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
pub use writer::WriteStats;
use writer::{Finish, Urgency, Writer};

/// The SQLite store. Cheap to clone: clones share the connections.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Connections>,
}

struct Connections {
    path: PathBuf,
    writer: Writer,
    reader: Reader,
    /// Answers [`Store::liveness_epoch`] inline: one point read, never queued behind a scan.
    probe: Mutex<Connection>,
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
        SqliteStore::open_lingering(path, writer::LINGER)
    }

    /// [`SqliteStore::open`], with unhurried appends waiting up to `linger` for company.
    fn open_lingering(path: &Path, linger: Duration) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Io(format!("cannot create `{}`: {e}", dir.display())))?;
        }
        let mut writer = schema::connect(path)?;
        schema::migrate(&mut writer)?;
        let reader = schema::connect(path)?;
        reader.pragma_update(None, "query_only", true)?;
        let probe = schema::connect(path)?;
        probe.pragma_update(None, "query_only", true)?;
        tracing::info!(path = %path.display(), "opened sqlite store");
        Ok(SqliteStore {
            inner: Arc::new(Connections {
                path: path.to_owned(),
                writer: Writer::start(writer, linger)?,
                reader: Reader::start(reader)?,
                probe: Mutex::new(probe),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// How this process's writes were grouped into commits (one fsync each).
    pub fn write_stats(&self) -> WriteStats {
        self.inner.writer.stats()
    }

    /// Runs `f` inside the writer's next group commit, and returns once the group
    /// is durable. An error or [`Finish::Rollback`] undoes `f`'s changes only.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<Finish<T>, StoreError> + Send + 'static,
    {
        self.inner.writer.write(Urgency::Now, f).await
    }

    /// Runs `f` on the read connection, on the reader thread.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let result = self.inner.reader.read(f).await;
        if let Err(e @ (StoreError::DiskFull | StoreError::Io(_) | StoreError::Corrupt(_))) =
            &result
        {
            tracing::error!(error = %e, "sqlite store failed");
        }
        result
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn add_agent(&self, agent: &Agent, event: AuditEvent) -> Result<u64, StoreError> {
        let agent = agent.clone();
        self.write(move |tx| {
            agents::insert(tx, &agent)?;
            Ok(Finish::Commit(log::append(tx, &event)?))
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
            mandates::insert(tx, &mandate)?;
            Ok(Finish::Commit(log::append(tx, &event)?))
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
            mandates::revoke(tx, &id, &revocation)?;
            let descendants = mandates::subtree(tx, &id)?
                .into_iter()
                .map(|m| m.id)
                .filter(|d| *d != id)
                .collect();
            let seq = log::append(tx, &event)?;
            Ok(Finish::Commit(RevokeOutcome { seq, descendants }))
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
            // job of a group committed with `synchronous=FULL` (the WAL is
            // fsynced), and the answer waits for that commit, so an allowed
            // call is durable before it is forwarded; a refused spend rolls
            // back its savepoint and leaves neither uses nor an event behind.
            for id in &chain {
                if let Some(cause) = mandates::spend_one(tx, id)? {
                    tracing::debug!(mandate = %id, ?cause, "spend refused");
                    return Ok(Finish::Rollback(Spend::Refused {
                        mandate: id.clone(),
                        cause,
                    }));
                }
            }
            let seq = log::append(tx, &event)?;
            Ok(Finish::Commit(Spend::Recorded { seq }))
        })
        .await
    }

    async fn record_approved(
        &self,
        chain: &[MandateId],
        approval: &ApprovalId,
        binding: &str,
        now: Timestamp,
        event: AuditEvent,
    ) -> Result<Spend, StoreError> {
        let chain = chain.to_vec();
        let (approval, binding) = (approval.clone(), binding.to_owned());
        self.write(move |tx| {
            // INVARIANT: an approval is spent in the same transaction as the call it allows,
            // so it allows at most one call, and a refused spend leaves it unspent.
            if let Err(refusal) = approvals::spend(tx, &approval, &binding, now)? {
                return Ok(Finish::Rollback(Spend::ApprovalRefused(refusal)));
            }
            for id in &chain {
                if let Some(cause) = mandates::spend_one(tx, id)? {
                    return Ok(Finish::Rollback(Spend::Refused {
                        mandate: id.clone(),
                        cause,
                    }));
                }
            }
            let seq = log::append(tx, &event)?;
            Ok(Finish::Commit(Spend::Recorded { seq }))
        })
        .await
    }

    async fn insert_approval(
        &self,
        approval: &Approval,
        event: AuditEvent,
    ) -> Result<u64, StoreError> {
        let approval = approval.clone();
        self.write(move |tx| {
            approvals::insert(tx, &approval)?;
            Ok(Finish::Commit(log::append(tx, &event)?))
        })
        .await
    }

    async fn approval(&self, id: &ApprovalId) -> Result<Option<Approval>, StoreError> {
        let id = id.clone();
        self.read(move |conn| approvals::one(conn, &id)).await
    }

    async fn approvals(&self) -> Result<Vec<Approval>, StoreError> {
        self.read(approvals::all).await
    }

    async fn decide_approval(
        &self,
        id: &ApprovalId,
        verdict: ApprovalVerdict,
        decision: ApprovalDecision,
        event: AuditEvent,
    ) -> Result<Result<u64, ApprovalRefusal>, StoreError> {
        let id = id.clone();
        self.write(
            move |tx| match approvals::decide(tx, &id, verdict, &decision)? {
                Ok(()) => Ok(Finish::Commit(Ok(log::append(tx, &event)?))),
                Err(refusal) => Ok(Finish::Rollback(Err(refusal))),
            },
        )
        .await
    }

    async fn expire_approval(
        &self,
        id: &ApprovalId,
        now: Timestamp,
        event: AuditEvent,
    ) -> Result<Result<u64, ApprovalRefusal>, StoreError> {
        let id = id.clone();
        self.write(move |tx| match approvals::expire(tx, &id, now)? {
            Ok(()) => Ok(Finish::Commit(Ok(log::append(tx, &event)?))),
            Err(refusal) => Ok(Finish::Rollback(Err(refusal))),
        })
        .await
    }

    async fn append(&self, event: AuditEvent) -> Result<u64, StoreError> {
        self.write(move |tx| Ok(Finish::Commit(log::append(tx, &event)?)))
            .await
    }

    fn append_unhurried(&self, event: AuditEvent) -> Queued<u64> {
        let queued = self.inner.writer.queue(Urgency::Unhurried, move |tx| {
            Ok(Finish::Commit(log::append(tx, &event)?))
        });
        match queued {
            Ok(reply) => Box::pin(writer::answer(reply)),
            Err(error) => {
                // Logged here, as the writer logs the failures of queued writes: the caller
                // may drop this future unpolled.
                tracing::error!(%error, "cannot queue a write nobody may wait for");
                Box::pin(std::future::ready(Err(error)))
            }
        }
    }

    async fn flush(&self) -> Result<(), StoreError> {
        // The writer runs jobs in the order queued: an empty one answers after all before it.
        self.write(|_| Ok(Finish::Commit(()))).await
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
            Ok(Finish::Commit(()))
        })
        .await
    }

    async fn add_user(&self, user: &UserRecord, event: AuditEvent) -> Result<u64, StoreError> {
        let user = user.clone();
        self.write(move |tx| {
            oauth::insert_user(tx, &user)?;
            Ok(Finish::Commit(log::append(tx, &event)?))
        })
        .await
    }

    async fn user(&self, id: &HumanId) -> Result<Option<UserRecord>, StoreError> {
        let id = id.clone();
        self.read(move |conn| oauth::user(conn, &id)).await
    }

    async fn users(&self) -> Result<Vec<HumanId>, StoreError> {
        self.read(oauth::user_ids).await
    }

    async fn add_client(
        &self,
        client: &ClientRecord,
        event: AuditEvent,
    ) -> Result<u64, StoreError> {
        let client = client.clone();
        self.write(move |tx| {
            oauth::insert_client(tx, &client)?;
            Ok(Finish::Commit(log::append(tx, &event)?))
        })
        .await
    }

    async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let id = id.to_owned();
        self.read(move |conn| oauth::client(conn, &id)).await
    }

    async fn add_refresh(&self, grant: &RefreshGrant) -> Result<(), StoreError> {
        let grant = grant.clone();
        self.write(move |tx| Ok(Finish::Commit(oauth::insert_refresh(tx, &grant)?)))
            .await
    }

    async fn rotate_refresh(
        &self,
        digest: &str,
        client_id: &str,
        next_digest: &str,
        now: Timestamp,
    ) -> Result<Rotation, StoreError> {
        let (digest, client_id, next) = (
            digest.to_owned(),
            client_id.to_owned(),
            next_digest.to_owned(),
        );
        // INVARIANT: the check and the spend are one transaction on the one writer, so two
        // requests presenting the same token cannot both rotate it.
        self.write(move |tx| {
            Ok(Finish::Commit(oauth::rotate(
                tx, &digest, &client_id, &next, now,
            )?))
        })
        .await
    }

    fn liveness_epoch(&self) -> Result<u64, StoreError> {
        let conn = self.inner.probe.lock().unwrap_or_else(|p| p.into_inner());
        let epoch = conn
            .prepare_cached("SELECT epoch FROM liveness WHERE id = 1")?
            .query_row([], |r| r.get(0))?;
        Ok(epoch)
    }

    async fn tool_pins(&self) -> Result<Vec<ToolPin>, StoreError> {
        self.read(pins::all).await
    }

    async fn tool_pin(&self, tool: &ToolName) -> Result<Option<ToolPin>, StoreError> {
        let tool = tool.clone();
        self.read(move |conn| pins::one(conn, &tool)).await
    }

    async fn pin_first_sight(
        &self,
        tool: &ToolName,
        definition: PinnedDefinition,
        by: &str,
        at: Timestamp,
        event: AuditEvent,
    ) -> Result<Option<u64>, StoreError> {
        let (tool, by) = (tool.clone(), by.to_owned());
        self.write(move |tx| {
            if !pins::insert_accepted(tx, &tool, &definition, &by, at)? {
                return Ok(Finish::Rollback(None));
            }
            Ok(Finish::Commit(Some(log::append(tx, &event)?)))
        })
        .await
    }

    async fn hold_definition(
        &self,
        tool: &ToolName,
        definition: PinnedDefinition,
        why: &str,
        at: Timestamp,
        event: AuditEvent,
    ) -> Result<Option<u64>, StoreError> {
        let (tool, why) = (tool.clone(), why.to_owned());
        self.write(move |tx| {
            if !pins::hold(tx, &tool, &definition, &why, at)? {
                return Ok(Finish::Rollback(None));
            }
            Ok(Finish::Commit(Some(log::append(tx, &event)?)))
        })
        .await
    }

    async fn accept_definition(
        &self,
        tool: &ToolName,
        digest: &str,
        by: &str,
        at: Timestamp,
        event: AuditEvent,
    ) -> Result<u64, StoreError> {
        let (tool, digest, by) = (tool.clone(), digest.to_owned(), by.to_owned());
        self.write(move |tx| {
            pins::accept(tx, &tool, &digest, &by, at)?;
            Ok(Finish::Commit(log::append(tx, &event)?))
        })
        .await
    }

    fn pins_revision(&self) -> Result<u64, StoreError> {
        let conn = self.inner.probe.lock().unwrap_or_else(|p| p.into_inner());
        let revision = conn
            .prepare_cached("SELECT revision FROM tool_pins_revision WHERE id = 1")?
            .query_row([], |r| r.get(0))?;
        Ok(revision)
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
mod tests;
