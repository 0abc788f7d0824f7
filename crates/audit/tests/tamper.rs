//! Property tests of DESIGN.md invariant 6: any single tampering is detected
//! and names the first bad entry; an untouched log verifies.
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use mandate_audit::{AuditEvent, EventHash, EventKind, StoredEvent, TamperError, verify};
use mandate_core::{Timestamp, ToolClass};
use proptest::prelude::*;
use proptest::sample::Index;

fn event() -> impl Strategy<Value = AuditEvent> {
    (
        0i64..2_000_000_000_000,
        prop_oneof![
            Just(EventKind::Decided),
            Just(EventKind::Completed),
            Just(EventKind::MandateRevoked)
        ],
        proptest::option::of("[a-z]{1,8}\\.[a-z_]{1,12}"),
        proptest::option::of(prop_oneof![Just(ToolClass::Read), Just(ToolClass::Write)]),
        proptest::collection::vec("[ -~]{0,20}", 0..3),
        proptest::option::of(any::<u64>().prop_map(|n| n % (1 << 53))),
    )
        .prop_map(|(time, kind, tool, class, reasons, size)| {
            let mut e = AuditEvent::new(kind, Timestamp::from_millis(time), "node-a".into());
            e.tool = tool;
            e.class = class;
            e.reasons = reasons;
            e.result_size = size;
            e
        })
}

fn seal(events: &[AuditEvent]) -> Vec<StoredEvent> {
    let mut log: Vec<StoredEvent> = Vec::with_capacity(events.len());
    for e in events {
        let head = log.last().map(|s| (s.seq, s.hash));
        log.push(StoredEvent::after(head, e).unwrap());
    }
    log
}

fn head(log: &[StoredEvent]) -> Option<(u64, EventHash)> {
    log.last().map(|s| (s.seq, s.hash))
}

#[derive(Debug, Clone)]
enum Tamper {
    FlipByte { entry: Index, byte: Index, mask: u8 },
    Delete { entry: Index },
    Swap { a: Index, b: Index },
    Truncate { keep: Index },
}

fn tamper() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (any::<Index>(), any::<Index>(), 1u8..=255)
            .prop_map(|(entry, byte, mask)| Tamper::FlipByte { entry, byte, mask }),
        any::<Index>().prop_map(|entry| Tamper::Delete { entry }),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Tamper::Swap { a, b }),
        any::<Index>().prop_map(|keep| Tamper::Truncate { keep }),
    ]
}

/// Applies the tampering as a store's rows would suffer it (seq stays the
/// row's key) and returns the error `verify` must report, or `None` if the
/// tampering turned out to be a no-op.
fn apply(log: &mut Vec<StoredEvent>, t: &Tamper) -> Option<TamperError> {
    let n = log.len();
    match t {
        Tamper::FlipByte { entry, byte, mask } => {
            let i = entry.index(n);
            let row = &mut log[i];
            let j = byte.index(row.canonical.len());
            row.canonical[j] ^= mask;
            Some(TamperError::Modified { seq: row.seq })
        }
        Tamper::Delete { entry } => {
            let i = entry.index(n);
            log.remove(i);
            Some(if i + 1 == n {
                TamperError::Truncated {
                    head_seq: n as u64,
                    last_seq: i as u64,
                }
            } else {
                TamperError::Missing {
                    expected: i as u64 + 1,
                    found: i as u64 + 2,
                }
            })
        }
        Tamper::Swap { a, b } => {
            let (a, b) = (a.index(n), b.index(n));
            if a == b {
                return None;
            }
            let (lo, hi) = (a.min(b), a.max(b));
            let (x, y) = (log[lo].clone(), log[hi].clone());
            log[lo] = StoredEvent { seq: x.seq, ..y };
            log[hi] = StoredEvent {
                seq: log[hi].seq,
                ..x
            };
            Some(TamperError::Reordered { seq: lo as u64 + 1 })
        }
        Tamper::Truncate { keep } => {
            let keep = keep.index(n);
            log.truncate(keep);
            Some(TamperError::Truncated {
                head_seq: n as u64,
                last_seq: keep as u64,
            })
        }
    }
}

proptest! {
    #[test]
    fn untouched_log_verifies(events in proptest::collection::vec(event(), 0..24)) {
        let log = seal(&events);
        let h = head(&log);
        let report = verify(log.clone(), h).unwrap();
        prop_assert_eq!(report.events, events.len() as u64);
        prop_assert_eq!(report.head, h);
        for (stored, original) in log.iter().zip(&events) {
            prop_assert_eq!(&stored.event().unwrap(), original);
        }
    }

    #[test]
    fn any_single_tampering_is_detected(
        events in proptest::collection::vec(event(), 1..24),
        t in tamper(),
    ) {
        let mut log = seal(&events);
        let h = head(&log);
        if let Some(expected) = apply(&mut log, &t) {
            let err = verify(log, h).unwrap_err();
            prop_assert_eq!(&err, &expected);
            let named = match err {
                TamperError::Truncated { last_seq, .. } => last_seq,
                _ => err.seq(),
            };
            prop_assert!(err.to_string().contains(&format!("entry {named}")), "{}", err);
        }
    }
}
