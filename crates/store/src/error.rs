//! What can go wrong keeping agents, mandates and the log.

use mandate_audit::AuditError;

/// A store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The thing named does not exist.
    #[error("{what} `{id}` does not exist")]
    NotFound {
        /// What kind of thing.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The id is already taken.
    #[error("{what} `{id}` already exists")]
    Conflict {
        /// What kind of thing.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The mandate was revoked before.
    #[error("mandate `{0}` is already revoked")]
    AlreadyRevoked(String),
    /// A child mandate names a parent the store does not hold.
    #[error("parent mandate `{0}` does not exist")]
    UnknownParent(String),
    /// The definition waiting for review is no longer the one reviewed.
    #[error(
        "the pending definition of tool `{tool}` is now `{found}`, not `{expected}`: review it again"
    )]
    PendingChanged {
        /// The tool.
        tool: String,
        /// The digest the caller reviewed.
        expected: String,
        /// The digest pending now.
        found: String,
    },
    /// The disk is full; nothing was written.
    #[error("the disk holding the store is full: free some space and retry")]
    DiskFull,
    /// The operating system failed to read or write the store.
    #[error("cannot read or write the store: {0}")]
    Io(String),
    /// Another writer held the store for longer than the wait allows.
    #[error("the store is locked by another writer: gave up after waiting 5 seconds")]
    Busy,
    /// The store holds data it cannot have written.
    #[error("the store is corrupt: {0}")]
    Corrupt(String),
    /// The store was written by a newer build of Mandate.
    #[error("the store's schema version {found} is newer than this build supports ({supported})")]
    NewerSchema {
        /// The store's version.
        found: u32,
        /// The newest this build knows.
        supported: u32,
    },
    /// Any other database failure.
    #[error("database error: {0}")]
    Sqlite(String),
    /// An audit event could not be sealed or read.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The blocking task running the operation failed.
    #[error("store task failed: {0}")]
    Task(String),
}
