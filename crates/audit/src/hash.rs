//! Sealing events into the log: canonical bytes and the hash chain.
//!
//! Each entry's hash covers the previous entry's hash and the entry's canonical
//! JSON, which holds its own sequence number. A later step replaces the chain
//! with an RFC 6962 Merkle tree over the same canonical bytes; only
//! [`chain_hash`] and [`crate::verify`] need to change for that.

use crate::{AuditError, AuditEvent};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// Domain separation: these hashes can never be confused with any other SHA-256 use.
const DOMAIN: &[u8] = b"mandate.audit.v1\0";

/// The key under which an entry's sequence number sits inside its canonical JSON.
const SEQ_KEY: &str = "seq";

/// A SHA-256 hash of one log entry, shown as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventHash([u8; 32]);

impl EventHash {
    /// The "previous hash" of the first entry: all zeros.
    pub const GENESIS: EventHash = EventHash([0; 32]);

    /// Wraps 32 raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl TryFrom<&[u8]> for EventHash {
    type Error = AuditError;
    fn try_from(bytes: &[u8]) -> Result<Self, AuditError> {
        <[u8; 32]>::try_from(bytes)
            .map(Self)
            .map_err(|_| AuditError::BadHash(hex::encode(bytes)))
    }
}

impl std::str::FromStr for EventHash {
    type Err = AuditError;
    fn from_str(s: &str) -> Result<Self, AuditError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| AuditError::BadHash(s.to_owned()))?;
        Ok(Self(bytes))
    }
}

impl TryFrom<String> for EventHash {
    type Error = AuditError;
    fn try_from(s: String) -> Result<Self, AuditError> {
        s.parse()
    }
}

impl From<EventHash> for String {
    fn from(h: EventHash) -> String {
        h.to_string()
    }
}

impl fmt::Display for EventHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for EventHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventHash({self})")
    }
}

/// The RFC 8785 canonical JSON of `event` with `"seq": seq` added.
///
/// The sequence number is inside the hashed bytes, so moving an entry's
/// content to another position is detected even when its hash is moved along.
pub fn canonical_bytes(seq: u64, event: &AuditEvent) -> Result<Vec<u8>, AuditError> {
    let mut value = serde_json::to_value(event).map_err(|e| AuditError::Encode(e.to_string()))?;
    let serde_json::Value::Object(fields) = &mut value else {
        return Err(AuditError::Encode(
            "an event must be a json object".to_owned(),
        ));
    };
    if fields.insert(SEQ_KEY.to_owned(), seq.into()).is_some() {
        return Err(AuditError::Encode(format!(
            "an event must not have its own `{SEQ_KEY}` field"
        )));
    }
    let mut canonical = Vec::with_capacity(1024);
    crate::canonical::write(&value, &mut canonical)
        .map_err(|e| AuditError::Encode(e.to_string()))?;
    Ok(canonical)
}

/// SHA-256(`mandate.audit.v1\0` ‖ prev ‖ canonical): the hash of the entry after `prev`.
pub fn chain_hash(prev: &EventHash, canonical: &[u8]) -> EventHash {
    let digest = Sha256::new()
        .chain_update(DOMAIN)
        .chain_update(prev.0)
        .chain_update(canonical)
        .finalize();
    EventHash(digest.into())
}

/// The sequence number written inside an entry's canonical bytes, if they hold one.
pub(crate) fn embedded_seq(canonical: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct Seq {
        seq: u64,
    }
    serde_json::from_slice::<Seq>(canonical).ok().map(|s| s.seq)
}

/// One sealed entry of the log, as a store keeps it.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Its position, from 1.
    pub seq: u64,
    /// The hash of the entry before it ([`EventHash::GENESIS`] for entry 1).
    pub prev_hash: EventHash,
    /// [`chain_hash`] of `prev_hash` and `canonical`.
    pub hash: EventHash,
    /// [`canonical_bytes`] of `seq` and the event.
    pub canonical: Vec<u8>,
}

impl StoredEvent {
    /// Seals `event` as the entry that follows `head` (the last entry's seq and
    /// hash; `None` for an empty log).
    pub fn after(head: Option<(u64, EventHash)>, event: &AuditEvent) -> Result<Self, AuditError> {
        let (last, prev_hash) = head.unwrap_or((0, EventHash::GENESIS));
        let seq = last.checked_add(1).ok_or(AuditError::SeqExhausted(last))?;
        let canonical = canonical_bytes(seq, event)?;
        let hash = chain_hash(&prev_hash, &canonical);
        Ok(Self {
            seq,
            prev_hash,
            hash,
            canonical,
        })
    }

    /// Parses the event back out of the canonical bytes.
    pub fn event(&self) -> Result<AuditEvent, AuditError> {
        let mut value: serde_json::Value = serde_json::from_slice(&self.canonical)
            .map_err(|e| AuditError::Decode(e.to_string()))?;
        if let serde_json::Value::Object(fields) = &mut value {
            fields.remove(SEQ_KEY);
        }
        serde_json::from_value(value).map_err(|e| AuditError::Decode(e.to_string()))
    }
}

impl fmt::Debug for StoredEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredEvent")
            .field("seq", &self.seq)
            .field("prev_hash", &self.prev_hash)
            .field("hash", &self.hash)
            .field("canonical", &String::from_utf8_lossy(&self.canonical))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventKind;
    use mandate_core::{ChainLink, Timestamp, ToolClass};

    fn sample() -> AuditEvent {
        let mut e = AuditEvent::new(
            EventKind::Decided,
            Timestamp::from_millis(1_700_000_000_123),
            "node-a".into(),
        );
        e.tool = Some("crm.lookup_customer".into());
        e.class = Some(ToolClass::Read);
        e.decision = Some("allow".into());
        e.chain = vec![ChainLink {
            mandate: "m_1".parse().unwrap(),
            agent: "bot".parse().unwrap(),
        }];
        e.detail = Some(serde_json::json!({"z": 1, "a": [true, null, 1.5]}));
        e
    }

    #[test]
    fn canonical_bytes_sort_keys_and_hold_the_seq() {
        let bytes = canonical_bytes(42, &sample()).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            r#"{"chain":[{"agent":"bot","mandate":"m_1"}],"class":"read","decision":"allow","detail":{"a":[true,null,1.5],"z":1},"kind":"decided","node":"node-a","seq":42,"time":1700000000123,"tool":"crm.lookup_customer"}"#
        );
        assert_eq!(embedded_seq(text.as_bytes()), Some(42));
    }

    #[test]
    fn stored_event_parses_back() {
        let stored = StoredEvent::after(Some((4, EventHash::GENESIS)), &sample()).unwrap();
        assert_eq!(stored.seq, 5);
        assert_eq!(stored.event().unwrap(), sample());
    }

    #[test]
    fn chain_hash_depends_on_prev_and_bytes() {
        let a = chain_hash(&EventHash::GENESIS, b"{}");
        assert_ne!(a, chain_hash(&a, b"{}"));
        assert_ne!(a, chain_hash(&EventHash::GENESIS, b"{ }"));
        assert_eq!(a, chain_hash(&EventHash::GENESIS, b"{}"));
    }

    #[test]
    fn hash_round_trips_through_hex() {
        let h = chain_hash(&EventHash::GENESIS, b"x");
        let text = h.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text.parse::<EventHash>().unwrap(), h);
        assert_eq!(EventHash::try_from(&h.as_bytes()[..]).unwrap(), h);
        assert!("abc".parse::<EventHash>().is_err());
        assert!(EventHash::try_from(&[0u8; 31][..]).is_err());
        assert_eq!(
            EventHash::GENESIS.to_string(),
            "0000000000000000000000000000000000000000000000000000000000000000"
        );
    }
}
