//! Mandate's audit log: what happened, on whose authority, in a tamper-evident order.
//!
//! Every tool call, grant, hand-off and revocation becomes an [`AuditEvent`].
//! A store seals each event into a [`StoredEvent`]: its sequence number, the
//! RFC 8785 canonical JSON of the event with that number inside it, and a hash
//! chained to the previous entry's. [`verify`] walks a log from entry 1 and
//! names the first entry that was modified, deleted, reordered or cut off.
//!
//! [`ExportFormat`] turns entries into what security tools read: JSON Lines that keep
//! each entry's hashes ([`to_jsonl`], and [`from_jsonl`] to verify an export offline),
//! and OCSF 1.8.0 records ([`to_ocsf`]: API Activity for calls, Authorize Session for
//! grants and hand-offs, Data Security Finding per sensitivity label).
//!
//! This crate does no I/O; the `mandate-store` crate keeps the log.
//!
//! ```
//! use mandate_audit::{AuditEvent, EventKind, StoredEvent, verify};
//! use mandate_core::Timestamp;
//!
//! let first = AuditEvent::new(EventKind::GatewayStarted, Timestamp::from_millis(1), "node-a".into());
//! let one = StoredEvent::after(None, &first)?;
//! let two = StoredEvent::after(Some((one.seq, one.hash)), &first)?;
//! let head = Some((two.seq, two.hash));
//! let report = verify([one, two], head)?;
//! assert_eq!(report.events, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod canonical;
mod checkpoint;
mod error;
mod event;
mod export;
mod frontier;
mod hash;
mod merkle;
mod query;
mod verify;

pub use checkpoint::{Checkpoint, CheckpointError, NoteSigner, NoteVerifier};
pub use error::AuditError;
pub use event::{AuditEvent, EventKind};
pub use export::{ExportFormat, OCSF_VERSION, from_jsonl, to_jsonl, to_ocsf};
pub use frontier::MerkleFrontier;
pub use hash::{EventHash, StoredEvent, canonical_bytes, chain_hash};
pub use merkle::{ConsistencyProof, InclusionProof, MerkleError, MerkleLog, leaf_hash};
pub use query::{AccessReport, EventFilter, ToolAccess, access_report};
pub use verify::{TamperError, VerifyReport, verify};

pub mod detect;
pub use detect::{Action, Finding, LabelKind, SensitivityPolicy};
