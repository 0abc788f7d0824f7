//! Tool pin rows: first sight, holding a definition for review, and accepting it.

use crate::StoreError;
use crate::pins::{Acceptance, PendingDefinition, PinnedDefinition, ToolPin};
use mandate_core::{Timestamp, ToolName};
use rusqlite::{Connection, OptionalExtension, Row, params};

const COLUMNS: &str = "tool, accepted_digest, accepted_definition, accepted_by, accepted_at,
    pending_digest, pending_definition, pending_why, pending_seen_at";

/// Every pin, by tool name.
pub(crate) fn all(conn: &Connection) -> Result<Vec<ToolPin>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM tool_pins ORDER BY tool"))?;
    let rows = stmt.query_map([], raw)?;
    rows.map(|r| decode(r?)).collect()
}

/// One tool's pin.
pub(crate) fn one(conn: &Connection, tool: &ToolName) -> Result<Option<ToolPin>, StoreError> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM tool_pins WHERE tool = ?1"))?
        .query_row([tool.as_str()], raw)
        .optional()?
        .map(decode)
        .transpose()
}

/// Inserts an accepted pin; `false` (nothing written) if the tool has a pin already.
pub(crate) fn insert_accepted(
    tx: &Connection,
    tool: &ToolName,
    definition: &PinnedDefinition,
    by: &str,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO tool_pins (tool, status, accepted_digest, accepted_definition,
                accepted_by, accepted_at)
             VALUES (?1, 'accepted', ?2, ?3, ?4, ?5) ON CONFLICT (tool) DO NOTHING",
        )?
        .execute(params![
            tool.as_str(),
            definition.digest,
            encode(definition)?,
            by,
            at.as_millis()
        ])?;
    Ok(inserted == 1)
}

/// Records `definition` as pending; `false` (nothing written) if it is already the
/// accepted or the pending one.
pub(crate) fn hold(
    tx: &Connection,
    tool: &ToolName,
    definition: &PinnedDefinition,
    why: &str,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let changed = tx
        .prepare_cached(
            "INSERT INTO tool_pins (tool, status, pending_digest, pending_definition,
                pending_why, pending_seen_at)
             VALUES (?1, 'pending', ?2, ?3, ?4, ?5)
             ON CONFLICT (tool) DO UPDATE SET status = 'pending',
                pending_digest = excluded.pending_digest,
                pending_definition = excluded.pending_definition,
                pending_why = excluded.pending_why,
                pending_seen_at = excluded.pending_seen_at
             WHERE accepted_digest IS NOT excluded.pending_digest
               AND pending_digest IS NOT excluded.pending_digest",
        )?
        .execute(params![
            tool.as_str(),
            definition.digest,
            encode(definition)?,
            why,
            at.as_millis()
        ])?;
    Ok(changed == 1)
}

/// Makes the pending definition the accepted one, if its digest is `digest`.
pub(crate) fn accept(
    tx: &Connection,
    tool: &ToolName,
    digest: &str,
    by: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    let pin = one(tx, tool)?.ok_or_else(|| StoreError::NotFound {
        what: "tool pin",
        id: tool.to_string(),
    })?;
    let pending = pin.pending.ok_or_else(|| StoreError::NotFound {
        what: "pending definition of tool",
        id: tool.to_string(),
    })?;
    if pending.definition.digest != digest {
        return Err(StoreError::PendingChanged {
            tool: tool.to_string(),
            expected: digest.to_owned(),
            found: pending.definition.digest,
        });
    }
    tx.prepare_cached(
        "UPDATE tool_pins SET status = 'accepted',
            accepted_digest = pending_digest, accepted_definition = pending_definition,
            accepted_by = ?2, accepted_at = ?3,
            pending_digest = NULL, pending_definition = NULL, pending_why = NULL,
            pending_seen_at = NULL
         WHERE tool = ?1",
    )?
    .execute(params![tool.as_str(), by, at.as_millis()])?;
    Ok(())
}

fn encode(definition: &PinnedDefinition) -> Result<String, StoreError> {
    serde_json::to_string(&definition.definition)
        .map_err(|e| StoreError::Sqlite(format!("cannot encode a tool definition: {e}")))
}

type RawPin = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

fn raw(r: &Row<'_>) -> rusqlite::Result<RawPin> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn decode(raw: RawPin) -> Result<ToolPin, StoreError> {
    let (tool, a_digest, a_def, a_by, a_at, p_digest, p_def, p_why, p_at) = raw;
    let definition = |digest: String, text: String| -> Result<PinnedDefinition, StoreError> {
        let definition = serde_json::from_str(&text).map_err(|e| {
            StoreError::Corrupt(format!("tool `{tool}` has an unreadable definition: {e}"))
        })?;
        Ok(PinnedDefinition { digest, definition })
    };
    let accepted = match (a_digest, a_def, a_by, a_at) {
        (Some(digest), Some(text), Some(by), Some(at)) => Some(Acceptance {
            definition: definition(digest, text)?,
            by,
            at: Timestamp::from_millis(at),
        }),
        _ => None,
    };
    let pending = match (p_digest, p_def, p_why, p_at) {
        (Some(digest), Some(text), Some(why), Some(at)) => Some(PendingDefinition {
            definition: definition(digest, text)?,
            why,
            seen_at: Timestamp::from_millis(at),
        }),
        _ => None,
    };
    let tool = ToolName::new(tool).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(ToolPin {
        tool,
        accepted,
        pending,
    })
}
