//! Exports of the log for the tools security teams already run: JSON Lines that keep
//! each entry's sequence number and hashes, and OCSF 1.8.0 records for SIEMs.
//!
//! Both are pure functions of one [`StoredEvent`], so a caller streams the log page
//! by page and writes one JSON object per line. A JSON Lines export can be checked
//! offline: [`from_jsonl`] rebuilds each entry and [`crate::verify`] walks the chain.

mod ocsf;

pub use ocsf::{OCSF_VERSION, to_ocsf};

use crate::{AuditError, EventHash, StoredEvent};
use serde_json::{Map, Value};
use std::fmt;

/// The keys a JSON Lines entry adds to the canonical event (which already holds `seq`).
const HASH_KEY: &str = "hash";
const PREV_HASH_KEY: &str = "prev_hash";
const SEQ_KEY: &str = "seq";

/// How `mandate audit export` writes the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// One object per entry: the canonical event with `seq`, `hash` and `prev_hash`.
    Jsonl,
    /// OCSF 1.8.0 records: none, one or several per entry (see [`to_ocsf`]).
    Ocsf,
}

impl ExportFormat {
    /// Every format, in the order help text lists them.
    pub const ALL: [ExportFormat; 2] = [ExportFormat::Jsonl, ExportFormat::Ocsf];

    /// The format's name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Ocsf => "ocsf",
        }
    }

    /// The records one entry becomes in this format, each written as one line.
    pub fn records(self, stored: &StoredEvent) -> Result<Vec<Value>, AuditError> {
        match self {
            ExportFormat::Jsonl => Ok(vec![to_jsonl(stored)?]),
            ExportFormat::Ocsf => to_ocsf(stored),
        }
    }
}

impl std::str::FromStr for ExportFormat {
    type Err = AuditError;
    fn from_str(s: &str) -> Result<Self, AuditError> {
        ExportFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| AuditError::UnknownFormat(s.to_owned()))
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The entry as one JSON Lines object: its canonical event (with `seq`) plus `hash` and
/// `prev_hash` as 64 hex digits.
///
/// Dropping `hash` and `prev_hash` and serialising the rest per RFC 8785 gives back the
/// exact bytes that were hashed, so anyone can recompute the chain (see [`from_jsonl`]).
pub fn to_jsonl(stored: &StoredEvent) -> Result<Value, AuditError> {
    let mut fields = canonical_fields(stored)?;
    for (key, hash) in [(HASH_KEY, stored.hash), (PREV_HASH_KEY, stored.prev_hash)] {
        if fields
            .insert(key.to_owned(), hash.to_string().into())
            .is_some()
        {
            return Err(AuditError::Encode(format!(
                "an event must not have its own `{key}` field"
            )));
        }
    }
    Ok(Value::Object(fields))
}

/// Rebuilds the entry a [`to_jsonl`] object came from, so an exported log can be
/// checked offline with [`crate::verify`] and [`crate::MerkleLog`].
pub fn from_jsonl(line: &Value) -> Result<StoredEvent, AuditError> {
    let Value::Object(fields) = line else {
        return Err(AuditError::Decode(
            "an export line must be a json object".to_owned(),
        ));
    };
    let mut fields = fields.clone();
    let mut take_hash = |key: &str| -> Result<EventHash, AuditError> {
        match fields.remove(key) {
            Some(Value::String(hex)) => hex.parse(),
            _ => Err(AuditError::Decode(format!(
                "an export line must have `{key}` as a string"
            ))),
        }
    };
    let hash = take_hash(HASH_KEY)?;
    let prev_hash = take_hash(PREV_HASH_KEY)?;
    let seq = fields
        .get(SEQ_KEY)
        .and_then(Value::as_u64)
        .ok_or_else(|| AuditError::Decode(format!("an export line must have `{SEQ_KEY}`")))?;
    let canonical =
        serde_jcs::to_vec(&Value::Object(fields)).map_err(|e| AuditError::Decode(e.to_string()))?;
    Ok(StoredEvent {
        seq,
        prev_hash,
        hash,
        canonical,
    })
}

/// The canonical JSON of an entry as an object (it holds `seq`).
fn canonical_fields(stored: &StoredEvent) -> Result<Map<String, Value>, AuditError> {
    match serde_json::from_slice(&stored.canonical) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(AuditError::Decode(
            "stored audit entry is not a json object".to_owned(),
        )),
        Err(e) => Err(AuditError::Decode(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuditEvent, EventKind, verify};
    use mandate_core::Timestamp;

    fn log() -> Vec<StoredEvent> {
        let mut log: Vec<StoredEvent> = Vec::new();
        for (i, kind) in [
            EventKind::GatewayStarted,
            EventKind::Decided,
            EventKind::Completed,
        ]
        .into_iter()
        .enumerate()
        {
            let mut e =
                AuditEvent::new(kind, Timestamp::from_millis(1_000 + i as i64), "n1".into());
            e.detail = Some(serde_json::json!({"ratio": 0.1, "nested": {"b": 1, "a": "é\n"}}));
            let head = log.last().map(|s| (s.seq, s.hash));
            log.push(StoredEvent::after(head, &e).unwrap());
        }
        log
    }

    #[test]
    fn a_jsonl_line_holds_the_seq_and_both_hashes() {
        let entry = log().remove(1);
        let line = to_jsonl(&entry).unwrap();
        assert_eq!(line["seq"], 2);
        assert_eq!(line["kind"], "decided");
        assert_eq!(line["hash"], entry.hash.to_string());
        assert_eq!(line["prev_hash"], entry.prev_hash.to_string());
    }

    #[test]
    fn an_exported_log_verifies_after_a_round_trip_through_text() {
        let original = log();
        let head = original.last().map(|s| (s.seq, s.hash));
        let text: Vec<String> = original
            .iter()
            .map(|s| serde_json::to_string(&to_jsonl(s).unwrap()).unwrap())
            .collect();
        let back: Vec<StoredEvent> = text
            .iter()
            .map(|l| from_jsonl(&serde_json::from_str(l).unwrap()).unwrap())
            .collect();
        assert_eq!(back, original);
        assert_eq!(verify(back, head).unwrap().events, 3);
    }

    #[test]
    fn an_edited_line_no_longer_verifies() {
        let original = log();
        let head = original.last().map(|s| (s.seq, s.hash));
        let mut lines: Vec<Value> = original.iter().map(|s| to_jsonl(s).unwrap()).collect();
        lines[1]["node"] = "n2".into();
        let back: Vec<StoredEvent> = lines.iter().map(|l| from_jsonl(l).unwrap()).collect();
        assert!(verify(back, head).is_err());
    }

    #[test]
    fn a_line_without_hashes_is_refused() {
        let mut line = to_jsonl(&log()[0]).unwrap();
        line.as_object_mut().unwrap().remove("hash");
        assert!(matches!(from_jsonl(&line), Err(AuditError::Decode(_))));
        assert!(from_jsonl(&Value::Null).is_err());
    }

    #[test]
    fn formats_parse_by_name() {
        for format in ExportFormat::ALL {
            assert_eq!(format.to_string().parse::<ExportFormat>().unwrap(), format);
        }
        assert_eq!(
            "csv".parse::<ExportFormat>(),
            Err(AuditError::UnknownFormat("csv".into()))
        );
    }

    #[test]
    fn jsonl_records_are_one_per_entry() {
        let entry = &log()[0];
        let records = ExportFormat::Jsonl.records(entry).unwrap();
        assert_eq!(records, vec![to_jsonl(entry).unwrap()]);
    }
}
