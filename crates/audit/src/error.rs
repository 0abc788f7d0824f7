//! What can go wrong sealing, reading or exporting an audit event.

/// An audit event could not be encoded, decoded or addressed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// The event could not be turned into canonical JSON.
    #[error("cannot encode audit event as canonical json: {0}")]
    Encode(String),
    /// Stored bytes are not an audit event.
    #[error("stored audit entry is not a valid event: {0}")]
    Decode(String),
    /// A string or byte run is not a 32-byte hash.
    #[error("`{0}` is not an event hash: expected 64 hex digits")]
    BadHash(String),
    /// The log has used every sequence number.
    #[error("audit log is full: no sequence number follows {0}")]
    SeqExhausted(u64),
    /// An export format name that is not `jsonl` or `ocsf`.
    #[error("`{0}` is not an export format: expected `jsonl` or `ocsf`")]
    UnknownFormat(String),
}
