//! The audit log's rows: appending inside a write transaction, and reading back.

use crate::StoreError;
use mandate_audit::{AuditEvent, EventHash, StoredEvent};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Row, params};

/// Appends `event` after the recorded head and moves the head, inside the
/// writer's open transaction.
// INVARIANT (DESIGN.md 6): the writer runs every job inside a `BEGIN IMMEDIATE`
// transaction, so the head read here is the last entry of every writer, in
// every process (and of the jobs before this one in the same group), and the
// new entry chains to it.
pub(crate) fn append(tx: &Connection, event: &AuditEvent) -> Result<u64, StoreError> {
    let sealed = StoredEvent::after(head(tx)?, event)?;
    let canonical = std::str::from_utf8(&sealed.canonical)
        .map_err(|e| StoreError::Corrupt(format!("canonical json is not utf-8: {e}")))?;
    let inserted = tx
        .prepare_cached(
            "INSERT INTO audit_events (seq, prev_hash, hash, canonical) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (seq) DO NOTHING",
        )?
        .execute(params![
            sealed.seq,
            &sealed.prev_hash.as_bytes()[..],
            &sealed.hash.as_bytes()[..],
            canonical
        ])?;
    if inserted == 0 {
        return Err(StoreError::Corrupt(format!(
            "audit entry {} already exists past the recorded head: run `mandate audit verify`",
            sealed.seq
        )));
    }
    tx.prepare_cached("UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1")?
        .execute(params![sealed.seq, &sealed.hash.as_bytes()[..]])?;
    Ok(sealed.seq)
}

/// The recorded head (`None`: the log is empty).
pub(crate) fn head(conn: &Connection) -> Result<Option<(u64, EventHash)>, StoreError> {
    let row = conn
        .prepare_cached("SELECT seq, hash FROM audit_head WHERE id = 1")?
        .query_row([], |r| Ok((r.get::<_, u64>(0)?, blob(r, 1)?)))
        .optional()?;
    let Some((seq, hash)) = row else {
        return Err(StoreError::Corrupt(
            "the audit head record is missing".to_owned(),
        ));
    };
    if seq == 0 {
        return Ok(None);
    }
    let hash = EventHash::try_from(hash.as_slice())
        .map_err(|_| StoreError::Corrupt("the audit head's hash is not 32 bytes".to_owned()))?;
    Ok(Some((seq, hash)))
}

/// Up to `limit` entries after `after_seq`, ascending.
pub(crate) fn events(
    conn: &Connection,
    after_seq: u64,
    limit: u32,
) -> Result<Vec<StoredEvent>, StoreError> {
    let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(
        "SELECT seq, prev_hash, hash, canonical FROM audit_events
         WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after, limit], |r| {
        Ok((r.get::<_, u64>(0)?, blob(r, 1)?, blob(r, 2)?, blob(r, 3)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, prev_hash, hash, canonical) = row?;
        let hash_of = |bytes: Vec<u8>, which: &str| {
            EventHash::try_from(bytes.as_slice()).map_err(|_| {
                StoreError::Corrupt(format!("audit entry {seq}: its {which} is not 32 bytes"))
            })
        };
        out.push(StoredEvent {
            seq,
            prev_hash: hash_of(prev_hash, "previous hash")?,
            hash: hash_of(hash, "hash")?,
            canonical,
        });
    }
    Ok(out)
}

/// A column's bytes, whether SQLite holds them as a blob or as text.
fn blob(row: &Row<'_>, i: usize) -> rusqlite::Result<Vec<u8>> {
    match row.get_ref(i)? {
        ValueRef::Blob(b) | ValueRef::Text(b) => Ok(b.to_vec()),
        other => Err(rusqlite::Error::InvalidColumnType(
            i,
            format!("column {i}"),
            other.data_type(),
        )),
    }
}
