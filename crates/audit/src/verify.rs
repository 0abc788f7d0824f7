//! Verification: does a log still hold exactly what was appended, in order?

use crate::hash::embedded_seq;
use crate::{EventHash, StoredEvent, chain_hash};

/// What a clean log looked like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// How many entries were checked.
    pub events: u64,
    /// The last entry's seq and hash (`None` for an empty log).
    pub head: Option<(u64, EventHash)>,
}

/// The first sign of tampering found, naming the first bad entry by seq.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TamperError {
    /// Entries are missing: `expected` came next, `found` was there instead.
    #[error("audit entry {expected} is missing: the log goes on at entry {found}")]
    Missing {
        /// The seq that should have come next.
        expected: u64,
        /// The seq that came instead.
        found: u64,
    },
    /// The entry at `seq` is intact but was written for another position.
    #[error("audit entry {seq} holds an entry written for another position: the log was reordered")]
    Reordered {
        /// The position.
        seq: u64,
    },
    /// The entry's content no longer matches its hash.
    #[error("audit entry {seq} was modified: its content does not match its hash")]
    Modified {
        /// The entry.
        seq: u64,
    },
    /// The entry does not chain to the one before it.
    #[error("audit entry {seq} does not follow the entry before it: the hash chain is broken")]
    BrokenLink {
        /// The entry.
        seq: u64,
    },
    /// The log ends before its recorded head.
    #[error(
        "audit log was truncated: its recorded head is entry {head_seq} but it ends at entry {last_seq}"
    )]
    Truncated {
        /// The recorded head's seq.
        head_seq: u64,
        /// The last entry present (0: none).
        last_seq: u64,
    },
    /// The entry at the recorded head's seq is not the one the head recorded.
    #[error("audit entry {seq} is not the entry its recorded head names: the log was rewritten")]
    HeadMismatch {
        /// The head's seq.
        seq: u64,
    },
    /// The log goes on past its recorded head.
    #[error("audit entry {seq} lies past the recorded head at entry {head_seq}")]
    BeyondHead {
        /// The recorded head's seq.
        head_seq: u64,
        /// The first entry past it.
        seq: u64,
    },
}

impl TamperError {
    /// The seq of the first entry found wrong (for truncation, the first missing one).
    pub fn seq(&self) -> u64 {
        match *self {
            TamperError::Missing { expected, .. } => expected,
            TamperError::Reordered { seq }
            | TamperError::Modified { seq }
            | TamperError::BrokenLink { seq }
            | TamperError::HeadMismatch { seq }
            | TamperError::BeyondHead { seq, .. } => seq,
            TamperError::Truncated { last_seq, .. } => last_seq.saturating_add(1),
        }
    }
}

/// Walks a whole log from entry 1, in ascending seq order, and checks that
/// every entry is intact, in place and chained to its predecessor; with a
/// recorded `head` (the last seq and hash, kept apart from the entries), also
/// that the log ends exactly there.
///
/// Read the head no earlier than the entries' snapshot ends, or pass only the
/// entries up to it: entries appended after the head was read count as
/// [`TamperError::BeyondHead`].
// INVARIANT (DESIGN.md 6): modifying, deleting, reordering or truncating
// entries is reported; proptests in `tests/tamper.rs`. Without a head, losing
// the newest entries cannot be told from never having written them.
pub fn verify(
    events: impl IntoIterator<Item = StoredEvent>,
    head: Option<(u64, EventHash)>,
) -> Result<VerifyReport, TamperError> {
    let mut last: Option<(u64, EventHash)> = None;
    for entry in events {
        let (last_seq, prev) = last.unwrap_or((0, EventHash::GENESIS));
        let expected = last_seq.saturating_add(1);
        let seq = entry.seq;
        if seq > expected {
            return Err(TamperError::Missing {
                expected,
                found: seq,
            });
        }
        if seq < expected {
            return Err(TamperError::Reordered { seq });
        }
        if chain_hash(&entry.prev_hash, &entry.canonical) != entry.hash {
            return Err(TamperError::Modified { seq });
        }
        match embedded_seq(&entry.canonical) {
            Some(embedded) if embedded == seq => {}
            Some(_) => return Err(TamperError::Reordered { seq }),
            None => return Err(TamperError::Modified { seq }),
        }
        if entry.prev_hash != prev {
            return Err(TamperError::BrokenLink { seq });
        }
        if let Some((head_seq, head_hash)) = head {
            if seq > head_seq {
                return Err(TamperError::BeyondHead { head_seq, seq });
            }
            if seq == head_seq && entry.hash != head_hash {
                return Err(TamperError::HeadMismatch { seq });
            }
        }
        last = Some((seq, entry.hash));
    }
    let last_seq = last.map_or(0, |(seq, _)| seq);
    if let Some((head_seq, _)) = head
        && last_seq < head_seq
    {
        return Err(TamperError::Truncated { head_seq, last_seq });
    }
    Ok(VerifyReport {
        events: last_seq,
        head: last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuditEvent, EventKind};
    use mandate_core::Timestamp;

    fn log(n: u64) -> Vec<StoredEvent> {
        let mut out: Vec<StoredEvent> = Vec::new();
        for i in 0..n {
            let mut e = AuditEvent::new(
                EventKind::Decided,
                Timestamp::from_millis(i as i64),
                "n".into(),
            );
            e.tool = Some(format!("crm.tool_{i}"));
            let head = out.last().map(|s| (s.seq, s.hash));
            out.push(StoredEvent::after(head, &e).unwrap());
        }
        out
    }

    fn head(log: &[StoredEvent]) -> Option<(u64, EventHash)> {
        log.last().map(|s| (s.seq, s.hash))
    }

    #[test]
    fn untouched_log_verifies() {
        let l = log(5);
        let h = head(&l);
        assert_eq!(verify(l, h).unwrap(), VerifyReport { events: 5, head: h });
        assert_eq!(
            verify(Vec::new(), None).unwrap(),
            VerifyReport {
                events: 0,
                head: None
            }
        );
    }

    #[test]
    fn modified_entry_is_named() {
        let mut l = log(5);
        let h = head(&l);
        l[2].canonical = String::from_utf8(l[2].canonical.clone())
            .unwrap()
            .replace("tool_2", "tool_9")
            .into_bytes();
        assert_eq!(verify(l, h), Err(TamperError::Modified { seq: 3 }));
    }

    #[test]
    fn rehashed_modification_breaks_the_next_link() {
        let mut l = log(5);
        let h = head(&l);
        l[2].canonical.push(b' ');
        l[2].hash = chain_hash(&l[2].prev_hash, &l[2].canonical);
        assert_eq!(verify(l, h), Err(TamperError::BrokenLink { seq: 4 }));
    }

    #[test]
    fn deleted_entry_is_missing() {
        let mut l = log(5);
        let h = head(&l);
        l.remove(1);
        assert_eq!(
            verify(l, h),
            Err(TamperError::Missing {
                expected: 2,
                found: 3
            })
        );
    }

    #[test]
    fn swapped_entries_are_reordered() {
        let mut l = log(5);
        let h = head(&l);
        let (a, b) = (l[1].clone(), l[3].clone());
        l[1] = StoredEvent { seq: 2, ..b };
        l[3] = StoredEvent { seq: 4, ..a };
        assert_eq!(verify(l, h), Err(TamperError::Reordered { seq: 2 }));
    }

    #[test]
    fn truncation_needs_the_head() {
        let mut l = log(5);
        let h = head(&l);
        l.truncate(3);
        assert!(verify(l.clone(), None).is_ok());
        let err = verify(l, h).unwrap_err();
        assert_eq!(
            err,
            TamperError::Truncated {
                head_seq: 5,
                last_seq: 3
            }
        );
        assert_eq!(err.seq(), 4);
        assert_eq!(
            err.to_string(),
            "audit log was truncated: its recorded head is entry 5 but it ends at entry 3"
        );
    }

    #[test]
    fn head_must_match_and_end_the_log() {
        let l = log(5);
        let other = log(6);
        assert_eq!(
            verify(l.clone(), head(&other[..5])).map(|r| r.events),
            Ok(5),
            "identical content gives identical hashes"
        );
        assert_eq!(
            verify(l.clone(), Some((5, EventHash::GENESIS))),
            Err(TamperError::HeadMismatch { seq: 5 })
        );
        assert_eq!(
            verify(l, head(&other[..3])),
            Err(TamperError::BeyondHead {
                head_seq: 3,
                seq: 4
            })
        );
    }
}
