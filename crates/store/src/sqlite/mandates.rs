//! Mandate rows: inserting, walking chains and subtrees, revoking and spending.

use crate::{SpendRefusal, StoreError};
use mandate_core::{
    ApprovalRule, ArgConstraint, Grantor, HumanId, Mandate, MandateId, MandateStatus, Revocation,
    Timestamp, ToolClass, ToolPattern,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

/// The columns [`decode`] reads, from a table aliased `m`.
const COLUMNS: &str = "m.id, m.parent, m.granted_by, m.root_human, m.agent, m.tools, m.ceiling,
    m.issued_at, m.expires_at, m.purpose, m.budget, m.uses, m.depth, m.depth_remaining,
    m.status, m.revoked_by, m.revoked_reason, m.revoked_at, m.constraints, m.approvals";

/// Inserts `m` ([`StoreError::Conflict`] on a taken id, [`StoreError::UnknownParent`]).
pub(crate) fn insert(tx: &Connection, m: &Mandate) -> Result<(), StoreError> {
    if exists(tx, &m.id)? {
        return Err(StoreError::Conflict {
            what: "mandate",
            id: m.id.to_string(),
        });
    }
    let (parent, granted_by) = match &m.grantor {
        Grantor::Human { human } => (None, human.as_str()),
        Grantor::Mandate { parent, by } => (Some(parent), by.as_str()),
    };
    if let Some(parent) = parent
        && !exists(tx, parent)?
    {
        return Err(StoreError::UnknownParent(parent.to_string()));
    }
    let tools = serde_json::to_string(&m.tools)
        .map_err(|e| StoreError::Sqlite(format!("cannot encode tools: {e}")))?;
    let constraints = serde_json::to_string(&m.constraints)
        .map_err(|e| StoreError::Sqlite(format!("cannot encode constraints: {e}")))?;
    let approvals = serde_json::to_string(&m.approvals)
        .map_err(|e| StoreError::Sqlite(format!("cannot encode approval rules: {e}")))?;
    let revocation = m.revocation();
    tx.prepare_cached(
        "INSERT INTO mandates (id, parent, granted_by, root_human, agent, tools, ceiling,
            issued_at, expires_at, purpose, budget, uses, depth, depth_remaining,
            status, revoked_by, revoked_reason, revoked_at, constraints, approvals)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
    )?
    .execute(params![
        m.id.as_str(),
        parent.map(MandateId::as_str),
        granted_by,
        m.root_human.as_str(),
        m.agent.as_str(),
        tools,
        m.ceiling.as_str(),
        m.issued_at.as_millis(),
        m.expires_at.as_millis(),
        m.purpose,
        m.budget,
        m.uses,
        m.depth,
        m.depth_remaining,
        if revocation.is_some() {
            "revoked"
        } else {
            "active"
        },
        revocation.map(|r| r.by.as_str()),
        revocation.map(|r| r.reason.as_str()),
        revocation.map(|r| r.at.as_millis()),
        constraints,
        approvals,
    ])?;
    Ok(())
}

fn exists(conn: &Connection, id: &MandateId) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM mandates WHERE id = ?1")?
        .exists([id.as_str()])?)
}

/// One mandate.
pub(crate) fn one(conn: &Connection, id: &MandateId) -> Result<Option<Mandate>, StoreError> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM mandates m WHERE m.id = ?1"))?
        .query_row([id.as_str()], raw)
        .optional()?
        .map(decode)
        .transpose()
}

/// Every mandate, in the order recorded.
pub(crate) fn all(conn: &Connection) -> Result<Vec<Mandate>, StoreError> {
    collect(
        conn,
        &format!("SELECT {COLUMNS} FROM mandates m ORDER BY m.rowid"),
        None,
    )
}

/// The mandate and its ancestors, root first.
pub(crate) fn chain(conn: &Connection, id: &MandateId) -> Result<Option<Vec<Mandate>>, StoreError> {
    // The depth guard only stops a loop that a hand-edited file could hold:
    // a parent must exist before its child, so recorded chains never loop.
    let sql = format!(
        "WITH RECURSIVE up (id, lvl) AS (
             SELECT id, 0 FROM mandates WHERE id = ?1
             UNION ALL
             SELECT p.parent, up.lvl + 1 FROM mandates p JOIN up ON p.id = up.id
             WHERE p.parent IS NOT NULL AND up.lvl < 10000
         )
         SELECT {COLUMNS} FROM up JOIN mandates m ON m.id = up.id ORDER BY up.lvl DESC"
    );
    let chain = collect(conn, &sql, Some(id))?;
    Ok(if chain.is_empty() { None } else { Some(chain) })
}

/// The mandate and its descendants, parents before children.
pub(crate) fn subtree(conn: &Connection, id: &MandateId) -> Result<Vec<Mandate>, StoreError> {
    let sql = format!(
        "WITH RECURSIVE down (id, lvl) AS (
             SELECT id, 0 FROM mandates WHERE id = ?1
             UNION ALL
             SELECT c.id, down.lvl + 1 FROM mandates c JOIN down ON c.parent = down.id
             WHERE down.lvl < 10000
         )
         SELECT {COLUMNS} FROM down JOIN mandates m ON m.id = down.id ORDER BY down.lvl, m.rowid"
    );
    collect(conn, &sql, Some(id))
}

/// Marks `id` revoked ([`StoreError::AlreadyRevoked`], [`StoreError::NotFound`]).
pub(crate) fn revoke(tx: &Connection, id: &MandateId, r: &Revocation) -> Result<(), StoreError> {
    let changed = tx
        .prepare_cached(
            "UPDATE mandates SET status = 'revoked', revoked_by = ?2, revoked_reason = ?3, revoked_at = ?4
             WHERE id = ?1 AND status = 'active'",
        )?
        .execute(params![id.as_str(), r.by, r.reason, r.at.as_millis()])?;
    if changed == 1 {
        Ok(())
    } else if exists(tx, id)? {
        Err(StoreError::AlreadyRevoked(id.to_string()))
    } else {
        Err(StoreError::NotFound {
            what: "mandate",
            id: id.to_string(),
        })
    }
}

/// Spends one call of `id` if it is active and within budget; otherwise says why not.
pub(crate) fn spend_one(
    tx: &Connection,
    id: &MandateId,
) -> Result<Option<SpendRefusal>, StoreError> {
    let changed = tx
        .prepare_cached(
            "UPDATE mandates SET uses = uses + 1
             WHERE id = ?1 AND status = 'active' AND (budget IS NULL OR uses < budget)",
        )?
        .execute([id.as_str()])?;
    if changed == 1 {
        return Ok(None);
    }
    let row = tx
        .prepare_cached("SELECT status, budget FROM mandates WHERE id = ?1")?
        .query_row([id.as_str()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<u64>>(1)?))
        })
        .optional()?;
    match row {
        None => Ok(Some(SpendRefusal::Missing)),
        Some((status, _)) if status == "revoked" => Ok(Some(SpendRefusal::Revoked)),
        Some((_, Some(budget))) => Ok(Some(SpendRefusal::BudgetSpent { budget })),
        Some((status, None)) => Err(StoreError::Corrupt(format!(
            "mandate `{id}` has status `{status}` and no budget, yet cannot spend"
        ))),
    }
}

fn collect(
    conn: &Connection,
    sql: &str,
    id: Option<&MandateId>,
) -> Result<Vec<Mandate>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = match id {
        Some(id) => stmt
            .query_map([id.as_str()], raw)?
            .collect::<Result<Vec<_>, _>>()?,
        None => stmt.query_map([], raw)?.collect::<Result<Vec<_>, _>>()?,
    };
    rows.into_iter().map(decode).collect()
}

/// A row as SQLite holds it, before the domain types check it.
struct RawMandate {
    id: String,
    parent: Option<String>,
    granted_by: String,
    root_human: String,
    agent: String,
    tools: String,
    ceiling: String,
    issued_at: i64,
    expires_at: i64,
    purpose: String,
    budget: Option<u64>,
    uses: u64,
    depth: u32,
    depth_remaining: u32,
    status: String,
    revoked_by: Option<String>,
    revoked_reason: Option<String>,
    revoked_at: Option<i64>,
    constraints: String,
    approvals: String,
}

fn raw(r: &Row<'_>) -> rusqlite::Result<RawMandate> {
    Ok(RawMandate {
        id: r.get(0)?,
        parent: r.get(1)?,
        granted_by: r.get(2)?,
        root_human: r.get(3)?,
        agent: r.get(4)?,
        tools: r.get(5)?,
        ceiling: r.get(6)?,
        issued_at: r.get(7)?,
        expires_at: r.get(8)?,
        purpose: r.get(9)?,
        budget: r.get(10)?,
        uses: r.get(11)?,
        depth: r.get(12)?,
        depth_remaining: r.get(13)?,
        status: r.get(14)?,
        revoked_by: r.get(15)?,
        revoked_reason: r.get(16)?,
        revoked_at: r.get(17)?,
        constraints: r.get(18)?,
        approvals: r.get(19)?,
    })
}

fn decode(row: RawMandate) -> Result<Mandate, StoreError> {
    let id = row.id;
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!("mandate `{id}` has an unreadable {what}: {e}"))
    };
    let grantor = match row.parent {
        None => Grantor::Human {
            human: HumanId::new(row.granted_by).map_err(|e| bad("grantor", &e))?,
        },
        Some(parent) => Grantor::Mandate {
            parent: MandateId::new(parent).map_err(|e| bad("parent", &e))?,
            by: row.granted_by,
        },
    };
    let status = match (row.status.as_str(), row.revoked_at) {
        ("active", None) => MandateStatus::Active,
        ("revoked", Some(at)) => MandateStatus::Revoked(Revocation {
            by: row.revoked_by.unwrap_or_default(),
            reason: row.revoked_reason.unwrap_or_default(),
            at: Timestamp::from_millis(at),
        }),
        (other, _) => return Err(bad("status", &other)),
    };
    let tools: Vec<ToolPattern> =
        serde_json::from_str(&row.tools).map_err(|e| bad("tool list", &e))?;
    let ceiling: ToolClass = row.ceiling.parse().map_err(|e| bad("ceiling", &e))?;
    let constraints: Vec<ArgConstraint> =
        serde_json::from_str(&row.constraints).map_err(|e| bad("constraint list", &e))?;
    let approvals: Vec<ApprovalRule> =
        serde_json::from_str(&row.approvals).map_err(|e| bad("approval rule list", &e))?;
    Ok(Mandate {
        grantor,
        root_human: HumanId::new(row.root_human).map_err(|e| bad("root human", &e))?,
        agent: row.agent.parse().map_err(|e| bad("agent", &e))?,
        tools,
        ceiling,
        constraints,
        approvals,
        issued_at: Timestamp::from_millis(row.issued_at),
        expires_at: Timestamp::from_millis(row.expires_at),
        purpose: row.purpose,
        budget: row.budget,
        uses: row.uses,
        depth: row.depth,
        depth_remaining: row.depth_remaining,
        status,
        id: MandateId::new(id.clone()).map_err(|e| bad("id", &e))?,
    })
}
