//! Mandate's store: agents, mandates and the audit log, kept together so they never disagree.
//!
//! [`Store`] is the contract every backend meets: each mutation appends its
//! audit event in the same transaction as the change it records, and
//! [`Store::record_allowed`] spends a call against every mandate of a chain and
//! durably records the decision in one step, before the call is forwarded.
//! [`SqliteStore`] is the embedded default (SQLite in WAL mode, safe to open
//! from several processes at once); PostgreSQL comes later behind the same trait.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use mandate_audit::{AuditEvent, EventKind};
//! use mandate_core::Timestamp;
//! use mandate_store::{SqliteStore, Store};
//!
//! let dir = tempfile::tempdir()?;
//! let store = SqliteStore::open(&dir.path().join("mandate.db"))?;
//! let started = AuditEvent::new(EventKind::GatewayStarted, Timestamp::from_millis(0), "node-a".into());
//! assert_eq!(store.append(started).await?, 1);
//! assert_eq!(store.audit_head().await?.map(|(seq, _)| seq), Some(1));
//! # Ok(())
//! # }
//! ```

mod error;
pub mod oauth;
mod pins;
mod sqlite;

pub use error::StoreError;
pub use pins::{Acceptance, FIRST_SIGHT, PendingDefinition, PinnedDefinition, ToolPin};
pub use sqlite::{SqliteStore, WriteStats};

use async_trait::async_trait;
use mandate_audit::{AuditEvent, EventHash, StoredEvent};
use mandate_core::{
    Agent, AgentId, Approval, ApprovalDecision, ApprovalId, ApprovalStatus, HumanId, Mandate,
    MandateId, Revocation, Timestamp, ToolName,
};
use oauth::{ClientRecord, RefreshGrant, Rotation, UserRecord};

/// The outcome of [`Store::record_allowed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spend {
    /// Every mandate of the chain spent one call and the event was appended at `seq`.
    Recorded {
        /// The event's sequence number.
        seq: u64,
    },
    /// Nothing was spent and nothing appended, because the approval could not be spent.
    ApprovalRefused(ApprovalRefusal),
    /// Nothing was spent and nothing appended, because this mandate could not spend.
    Refused {
        /// The first mandate of the chain (root first) that could not spend.
        mandate: MandateId,
        /// Why.
        cause: SpendRefusal,
    },
}

/// Why a mandate could not spend a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpendRefusal {
    /// Its budget is used up.
    BudgetSpent {
        /// The budget.
        budget: u64,
    },
    /// It was revoked.
    Revoked,
    /// It is not in the store.
    Missing,
}

/// A human's answer to an approval request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalVerdict {
    /// The call may go ahead, once.
    Approve,
    /// The call is refused.
    Deny,
}

/// Why an approval could not be decided, expired or spent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalRefusal {
    /// No approval has that id.
    Missing,
    /// It is bound to another call (other chain, tool, arguments or expiry).
    OtherCall,
    /// It is not in the state the change needs; this is its state now.
    Not(ApprovalStatus),
}

/// The outcome of [`Store::revoke`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeOutcome {
    /// The revocation event's sequence number.
    pub seq: u64,
    /// Every mandate below the revoked one, parents before children: dead too,
    /// because a mandate is valid only while its whole chain is.
    pub descendants: Vec<MandateId>,
}

/// A write already queued: it answers once durable (or failed), whether awaited or not.
pub type Queued<T> = std::pin::Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send>>;

/// Where agents, mandates and the audit log live.
///
/// Every mutation appends its `event` in the same transaction as the change,
/// so state and log never disagree: the returned `u64` is the event's seq.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Registers an agent ([`StoreError::Conflict`] if its id is taken).
    async fn add_agent(&self, agent: &Agent, event: AuditEvent) -> Result<u64, StoreError>;

    /// One agent.
    async fn agent(&self, id: &AgentId) -> Result<Option<Agent>, StoreError>;

    /// Every agent, in registration order.
    async fn agents(&self) -> Result<Vec<Agent>, StoreError>;

    /// Records a mandate ([`StoreError::Conflict`] on a taken id,
    /// [`StoreError::UnknownParent`] if its parent is not recorded).
    async fn insert_mandate(&self, mandate: &Mandate, event: AuditEvent)
    -> Result<u64, StoreError>;

    /// One mandate.
    async fn mandate(&self, id: &MandateId) -> Result<Option<Mandate>, StoreError>;

    /// The mandate and all its ancestors, root first (`None` if it is unknown).
    async fn chain(&self, id: &MandateId) -> Result<Option<Vec<Mandate>>, StoreError>;

    /// The mandate and all its descendants, parents before children (empty if unknown).
    async fn subtree(&self, id: &MandateId) -> Result<Vec<Mandate>, StoreError>;

    /// Every mandate, in the order recorded (parents before children).
    async fn mandates(&self) -> Result<Vec<Mandate>, StoreError>;

    /// Revokes one mandate ([`StoreError::AlreadyRevoked`], [`StoreError::NotFound`]).
    async fn revoke(
        &self,
        id: &MandateId,
        revocation: Revocation,
        event: AuditEvent,
    ) -> Result<RevokeOutcome, StoreError>;

    /// The write-ahead record of an allowed call: in one transaction, spends one
    /// call of every mandate in `chain` (each must be active and within budget)
    /// and appends `event`. If any mandate cannot spend, nothing changes and the
    /// event is not appended. Durable when it returns. Expiry is the caller's
    /// check (the store has no clock); an empty chain spends nothing.
    async fn record_allowed(
        &self,
        chain: &[MandateId],
        event: AuditEvent,
    ) -> Result<Spend, StoreError>;

    /// The same as [`Store::record_allowed`], for a call a human approved: in the same
    /// transaction, spends approval `approval` (it must be approved, bound to `binding` and
    /// unexpired at `now`). Nothing changes unless everything can.
    async fn record_approved(
        &self,
        chain: &[MandateId],
        approval: &ApprovalId,
        binding: &str,
        now: Timestamp,
        event: AuditEvent,
    ) -> Result<Spend, StoreError>;

    /// Records a call held for a human's approval, pending ([`StoreError::Conflict`] on a taken id).
    async fn insert_approval(
        &self,
        approval: &Approval,
        event: AuditEvent,
    ) -> Result<u64, StoreError>;

    /// One approval request.
    async fn approval(&self, id: &ApprovalId) -> Result<Option<Approval>, StoreError>;

    /// Every approval request, oldest first.
    async fn approvals(&self) -> Result<Vec<Approval>, StoreError>;

    /// Records a human's decision on a request pending (and unexpired) at `decision.at`,
    /// with its event; otherwise changes nothing and says why.
    async fn decide_approval(
        &self,
        id: &ApprovalId,
        verdict: ApprovalVerdict,
        decision: ApprovalDecision,
        event: AuditEvent,
    ) -> Result<Result<u64, ApprovalRefusal>, StoreError>;

    /// Marks a request still pending past its expiry as expired, with its event.
    async fn expire_approval(
        &self,
        id: &ApprovalId,
        now: Timestamp,
        event: AuditEvent,
    ) -> Result<Result<u64, ApprovalRefusal>, StoreError>;

    /// Appends an event that changes no state.
    async fn append(&self, event: AuditEvent) -> Result<u64, StoreError>;

    /// Queues an event that no caller waits on before answering (a tool call's
    /// completion), at once, before anything is awaited. It may wait a few milliseconds to
    /// share the commit, and the fsync, of the next write someone does wait on. The future
    /// answers, like [`Store::append`], once the event is durable; dropping it does not
    /// cancel the write, and the store logs a failure nobody heard.
    fn append_unhurried(&self, event: AuditEvent) -> Queued<u64>;

    /// Returns once every write this store was handed before the call is durable.
    async fn flush(&self) -> Result<(), StoreError>;

    /// Up to `limit` entries with seq above `after_seq`, ascending.
    async fn events(&self, after_seq: u64, limit: u32) -> Result<Vec<StoredEvent>, StoreError>;

    /// The recorded head of the log (last seq and hash), kept apart from the
    /// entries so that cutting entries off the end is detected.
    async fn audit_head(&self) -> Result<Option<(u64, EventHash)>, StoreError>;

    /// Keeps a signed checkpoint (a C2SP signed note) of the log at `size`
    /// entries. A second checkpoint for the same size is ignored.
    async fn add_checkpoint(&self, size: u64, note: String) -> Result<(), StoreError>;

    /// Every kept checkpoint, smallest size first.
    async fn checkpoints(&self) -> Result<Vec<(u64, String)>, StoreError>;

    /// Adds a local user ([`StoreError::Conflict`] if the id is taken).
    async fn add_user(&self, user: &UserRecord, event: AuditEvent) -> Result<u64, StoreError>;

    /// One local user.
    async fn user(&self, id: &HumanId) -> Result<Option<UserRecord>, StoreError>;

    /// Every local user's id, in the order added.
    async fn users(&self) -> Result<Vec<HumanId>, StoreError>;

    /// Registers an OAuth client ([`StoreError::Conflict`] if the id is taken).
    async fn add_client(&self, client: &ClientRecord, event: AuditEvent)
    -> Result<u64, StoreError>;

    /// One registered OAuth client.
    async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError>;

    /// Stores the first refresh token of a family. Durable when it returns.
    async fn add_refresh(&self, grant: &RefreshGrant) -> Result<(), StoreError>;

    /// Spends refresh token `digest` for `client_id` and stores its successor `next_digest`
    /// (same family, mandate and scope, issued `now`) in one transaction; a token spent
    /// before revokes its whole family instead ([`Rotation::Reused`]).
    async fn rotate_refresh(
        &self,
        digest: &str,
        client_id: &str,
        next_digest: &str,
        now: Timestamp,
    ) -> Result<Rotation, StoreError>;

    /// A counter that moves whenever any mandate may have stopped being in force other
    /// than by the clock: revoked, budget spent, removed, by any writer in any process.
    /// While it stands still, a chain read earlier is still in force if its times are.
    ///
    /// Cheap enough to call on every request without leaving the async task (a point
    /// read, or a value a backend keeps current by notification).
    fn liveness_epoch(&self) -> Result<u64, StoreError>;

    /// Every tool's pin, by name.
    async fn tool_pins(&self) -> Result<Vec<ToolPin>, StoreError>;

    /// One tool's pin.
    async fn tool_pin(&self, tool: &ToolName) -> Result<Option<ToolPin>, StoreError>;

    /// Pins a tool seen for the first time, accepted `by` (usually [`FIRST_SIGHT`]), and
    /// appends `event`. If the tool has a pin already, nothing changes: `None`.
    async fn pin_first_sight(
        &self,
        tool: &ToolName,
        definition: PinnedDefinition,
        by: &str,
        at: Timestamp,
        event: AuditEvent,
    ) -> Result<Option<u64>, StoreError>;

    /// Records `definition` as waiting for review (`why` says for what) and appends
    /// `event`. If it is already the accepted or the pending definition, nothing changes:
    /// `None`.
    async fn hold_definition(
        &self,
        tool: &ToolName,
        definition: PinnedDefinition,
        why: &str,
        at: Timestamp,
        event: AuditEvent,
    ) -> Result<Option<u64>, StoreError>;

    /// Accepts the pending definition, which must be the one with `digest`
    /// ([`StoreError::PendingChanged`] otherwise; [`StoreError::NotFound`] when nothing
    /// waits), and appends `event`.
    async fn accept_definition(
        &self,
        tool: &ToolName,
        digest: &str,
        by: &str,
        at: Timestamp,
        event: AuditEvent,
    ) -> Result<u64, StoreError>;

    /// A counter that moves whenever any tool pin changes, by any writer in any process.
    /// As cheap as [`Store::liveness_epoch`].
    fn pins_revision(&self) -> Result<u64, StoreError>;
}
