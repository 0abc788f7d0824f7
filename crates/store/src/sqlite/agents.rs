//! Agent rows.

use crate::StoreError;
use mandate_core::{Agent, AgentId, Owner, Timestamp};
use rusqlite::{Connection, OptionalExtension, Row, params};

const COLUMNS: &str = "id, name, owners, registered_at";

/// Inserts `agent` ([`StoreError::Conflict`] if its id is taken).
pub(crate) fn insert(tx: &Connection, agent: &Agent) -> Result<(), StoreError> {
    let owners = serde_json::to_string(&agent.owners)
        .map_err(|e| StoreError::Sqlite(format!("cannot encode owners: {e}")))?;
    let inserted = tx
        .prepare_cached(
            "INSERT INTO agents (id, name, owners, registered_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![
            agent.id.as_str(),
            agent.name,
            owners,
            agent.registered_at.as_millis()
        ])?;
    if inserted == 0 {
        return Err(StoreError::Conflict {
            what: "agent",
            id: agent.id.to_string(),
        });
    }
    Ok(())
}

/// One agent.
pub(crate) fn one(conn: &Connection, id: &AgentId) -> Result<Option<Agent>, StoreError> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM agents WHERE id = ?1"))?
        .query_row([id.as_str()], raw)
        .optional()?
        .map(decode)
        .transpose()
}

/// Every agent, in registration order.
pub(crate) fn all(conn: &Connection) -> Result<Vec<Agent>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM agents ORDER BY rowid"))?;
    let rows = stmt.query_map([], raw)?;
    rows.map(|r| decode(r?)).collect()
}

type RawAgent = (String, String, String, i64);

fn raw(r: &Row<'_>) -> rusqlite::Result<RawAgent> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn decode((id, name, owners, registered_at): RawAgent) -> Result<Agent, StoreError> {
    let owners: Vec<Owner> = serde_json::from_str(&owners)
        .map_err(|e| StoreError::Corrupt(format!("agent `{id}` has unreadable owners: {e}")))?;
    let id = AgentId::new(id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Agent {
        id,
        name,
        owners,
        registered_at: Timestamp::from_millis(registered_at),
    })
}
