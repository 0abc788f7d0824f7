//! Approval rows: recording a held call, a human's decision, expiry, and spending it once.
//!
//! Every change is a conditional `UPDATE` on the status it leaves, so two deciders (or a
//! decider and the clock) can never both win.

use crate::{ApprovalRefusal, ApprovalVerdict, StoreError};
use mandate_core::{
    AgentId, Approval, ApprovalDecision, ApprovalId, ApprovalStatus, HumanId, MandateId, Timestamp,
    ToolName,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

const COLUMNS: &str = "id, binding, human, agent, mandate, chain, session, tool, radius,
    arguments, args_digest, rules, requested_at, expires_at, status, decided_by,
    decided_reason, decided_at, spent_at";

fn encode(what: &str, json: serde_json::Result<String>) -> Result<String, StoreError> {
    json.map_err(|e| StoreError::Sqlite(format!("cannot encode {what}: {e}")))
}

/// Records a new pending request ([`StoreError::Conflict`] on a taken id).
pub(crate) fn insert(tx: &Connection, a: &Approval) -> Result<(), StoreError> {
    if one(tx, &a.id)?.is_some() {
        return Err(StoreError::Conflict {
            what: "approval",
            id: a.id.to_string(),
        });
    }
    tx.prepare_cached(&format!(
        "INSERT INTO approvals ({COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 'pending',
                 NULL, NULL, NULL, NULL)"
    ))?
    .execute(params![
        a.id.as_str(),
        a.binding,
        a.human.as_str(),
        a.agent.as_str(),
        a.mandate.as_str(),
        encode("chain", serde_json::to_string(&a.chain))?,
        a.session,
        a.tool.as_str(),
        encode("blast radius", serde_json::to_string(&a.radius))?,
        encode("arguments", serde_json::to_string(&a.arguments))?,
        a.args_digest,
        encode("rules", serde_json::to_string(&a.rules))?,
        a.requested_at.as_millis(),
        a.expires_at.as_millis(),
    ])?;
    Ok(())
}

/// One request.
pub(crate) fn one(conn: &Connection, id: &ApprovalId) -> Result<Option<Approval>, StoreError> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM approvals WHERE id = ?1"))?
        .query_row([id.as_str()], raw)
        .optional()?
        .map(decode)
        .transpose()
}

/// Every request, oldest first.
pub(crate) fn all(conn: &Connection) -> Result<Vec<Approval>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM approvals ORDER BY requested_at, rowid"
    ))?;
    let rows = stmt.query_map([], raw)?.collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(decode).collect()
}

/// Records a human's decision on a request still pending at `decision.at`.
pub(crate) fn decide(
    tx: &Connection,
    id: &ApprovalId,
    verdict: ApprovalVerdict,
    decision: &ApprovalDecision,
) -> Result<Result<(), ApprovalRefusal>, StoreError> {
    let status = match verdict {
        ApprovalVerdict::Approve => "approved",
        ApprovalVerdict::Deny => "denied",
    };
    let changed = tx
        .prepare_cached(
            "UPDATE approvals SET status = ?2, decided_by = ?3, decided_reason = ?4, decided_at = ?5
             WHERE id = ?1 AND status = 'pending' AND expires_at > ?5",
        )?
        .execute(params![
            id.as_str(),
            status,
            decision.by.as_str(),
            decision.reason,
            decision.at.as_millis()
        ])?;
    if changed == 1 {
        return Ok(Ok(()));
    }
    refusal(tx, id, decision.at)
}

/// Marks a pending request past its expiry as expired.
pub(crate) fn expire(
    tx: &Connection,
    id: &ApprovalId,
    now: Timestamp,
) -> Result<Result<(), ApprovalRefusal>, StoreError> {
    let changed = tx
        .prepare_cached(
            "UPDATE approvals SET status = 'expired'
             WHERE id = ?1 AND status = 'pending' AND expires_at <= ?2",
        )?
        .execute(params![id.as_str(), now.as_millis()])?;
    if changed == 1 {
        return Ok(Ok(()));
    }
    refusal(tx, id, now)
}

/// Spends an approved request bound to `binding`, once, before its expiry.
pub(crate) fn spend(
    tx: &Connection,
    id: &ApprovalId,
    binding: &str,
    now: Timestamp,
) -> Result<Result<(), ApprovalRefusal>, StoreError> {
    let changed = tx
        .prepare_cached(
            "UPDATE approvals SET status = 'spent', spent_at = ?3
             WHERE id = ?1 AND status = 'approved' AND binding = ?2 AND expires_at > ?3",
        )?
        .execute(params![id.as_str(), binding, now.as_millis()])?;
    if changed == 1 {
        return Ok(Ok(()));
    }
    match one(tx, id)? {
        Some(a) if a.binding != binding => Ok(Err(ApprovalRefusal::OtherCall)),
        _ => refusal(tx, id, now),
    }
}

/// Why a conditional update changed nothing.
fn refusal(
    conn: &Connection,
    id: &ApprovalId,
    now: Timestamp,
) -> Result<Result<(), ApprovalRefusal>, StoreError> {
    Ok(Err(match one(conn, id)? {
        None => ApprovalRefusal::Missing,
        Some(a) => ApprovalRefusal::Not(a.status_at(now)),
    }))
}

struct RawApproval {
    text: [String; 12],
    requested_at: i64,
    expires_at: i64,
    status: String,
    decided_by: Option<String>,
    decided_reason: Option<String>,
    decided_at: Option<i64>,
    spent_at: Option<i64>,
}

fn raw(r: &Row<'_>) -> rusqlite::Result<RawApproval> {
    Ok(RawApproval {
        text: [
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
            r.get(9)?,
            r.get(10)?,
            r.get(11)?,
        ],
        requested_at: r.get(12)?,
        expires_at: r.get(13)?,
        status: r.get(14)?,
        decided_by: r.get(15)?,
        decided_reason: r.get(16)?,
        decided_at: r.get(17)?,
        spent_at: r.get(18)?,
    })
}

fn decode(row: RawApproval) -> Result<Approval, StoreError> {
    let [
        id,
        binding,
        human,
        agent,
        mandate,
        chain,
        session,
        tool,
        radius,
        arguments,
        args_digest,
        rules,
    ] = row.text;
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!("approval `{id}` has an unreadable {what}: {e}"))
    };
    let decision = match (row.decided_by, row.decided_at) {
        (Some(by), Some(at)) => Some(ApprovalDecision {
            by: HumanId::new(by).map_err(|e| bad("decider", &e))?,
            reason: row.decided_reason.unwrap_or_default(),
            at: Timestamp::from_millis(at),
        }),
        _ => None,
    };
    let status = match (row.status.as_str(), decision, row.spent_at) {
        ("pending", None, None) => ApprovalStatus::Pending,
        ("expired", None, None) => ApprovalStatus::Expired,
        ("approved", Some(d), None) => ApprovalStatus::Approved(d),
        ("denied", Some(d), None) => ApprovalStatus::Denied(d),
        ("spent", Some(decision), Some(at)) => ApprovalStatus::Spent {
            decision,
            spent_at: Timestamp::from_millis(at),
        },
        (other, _, _) => return Err(bad("status", &other)),
    };
    Ok(Approval {
        binding,
        human: HumanId::new(human).map_err(|e| bad("human", &e))?,
        agent: AgentId::new(agent).map_err(|e| bad("agent", &e))?,
        mandate: MandateId::new(mandate).map_err(|e| bad("mandate", &e))?,
        chain: serde_json::from_str(&chain).map_err(|e| bad("chain", &e))?,
        session,
        tool: ToolName::new(tool).map_err(|e| bad("tool", &e))?,
        radius: serde_json::from_str(&radius).map_err(|e| bad("blast radius", &e))?,
        arguments: serde_json::from_str(&arguments).map_err(|e| bad("arguments", &e))?,
        args_digest,
        rules: serde_json::from_str(&rules).map_err(|e| bad("rule list", &e))?,
        requested_at: Timestamp::from_millis(row.requested_at),
        expires_at: Timestamp::from_millis(row.expires_at),
        status,
        id: ApprovalId::new(id.clone()).map_err(|e| bad("id", &e))?,
    })
}
