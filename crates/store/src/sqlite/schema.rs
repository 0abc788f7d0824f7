//! Connection settings and schema migrations, numbered by `PRAGMA user_version`.

use crate::StoreError;
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// How long a writer waits for another (process's) writer before [`StoreError::Busy`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Migration `i` brings the schema from version `i` to `i + 1`. Append only.
const MIGRATIONS: &[&str] = &[V1, V2, V3_APPROVALS, V4_TOOL_PINS, V5_OAUTH];

const V1: &str = "
CREATE TABLE agents (
    id            TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    owners        TEXT NOT NULL,             -- JSON array of {role, human}
    registered_at INTEGER NOT NULL           -- unix millis
);

CREATE TABLE mandates (
    id              TEXT PRIMARY KEY NOT NULL,
    parent          TEXT REFERENCES mandates (id),  -- NULL: granted by a human
    granted_by      TEXT NOT NULL,           -- the human (root) or who handed it on
    root_human      TEXT NOT NULL,
    agent           TEXT NOT NULL,
    tools           TEXT NOT NULL,           -- JSON array of tool patterns
    constraints     TEXT NOT NULL DEFAULT '[]', -- JSON array of argument constraints
    ceiling         TEXT NOT NULL CHECK (ceiling IN ('read', 'write', 'orchestrate')),
    issued_at       INTEGER NOT NULL,        -- unix millis
    expires_at      INTEGER NOT NULL,        -- unix millis
    purpose         TEXT NOT NULL,
    budget          INTEGER CHECK (budget >= 0),    -- NULL: unlimited
    uses            INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0),
    depth           INTEGER NOT NULL CHECK (depth >= 0),
    depth_remaining INTEGER NOT NULL CHECK (depth_remaining >= 0),
    status          TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    revoked_by      TEXT,
    revoked_reason  TEXT,
    revoked_at      INTEGER,
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);
CREATE INDEX mandates_parent ON mandates (parent);
CREATE INDEX mandates_agent ON mandates (agent);
CREATE INDEX mandates_root_human ON mandates (root_human);
CREATE INDEX mandates_status_expiry ON mandates (status, expires_at);

CREATE TABLE audit_events (
    seq       INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL,
    canonical TEXT NOT NULL                  -- RFC 8785 JSON, seq inside
);

-- The last entry's seq and hash, written with every append: a log whose
-- entries end before it has been cut. seq 0 is the empty log.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq  INTEGER NOT NULL CHECK (seq >= 0),
    hash BLOB NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

-- Signed checkpoints of the log's Merkle tree (C2SP signed notes), by tree size.
CREATE TABLE audit_checkpoints (
    size INTEGER PRIMARY KEY NOT NULL CHECK (size >= 1),
    note TEXT NOT NULL
);
";

/// The liveness epoch: a counter that moves whenever a mandate may have stopped being in
/// force other than by the clock (revoked, budget spent, removed). Triggers move it, so
/// every writer in every process does, and a reader can keep chains in memory and drop
/// them when the counter moves.
const V2: &str = "
CREATE TABLE liveness (
    id    INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    epoch INTEGER NOT NULL CHECK (epoch >= 0)
);
INSERT INTO liveness (id, epoch) VALUES (1, 0);

CREATE TRIGGER liveness_on_status AFTER UPDATE OF status ON mandates
WHEN NEW.status IS NOT OLD.status
BEGIN UPDATE liveness SET epoch = epoch + 1 WHERE id = 1; END;

CREATE TRIGGER liveness_on_spent AFTER UPDATE OF uses, budget ON mandates
WHEN NEW.budget IS NOT NULL AND NEW.uses >= NEW.budget
BEGIN UPDATE liveness SET epoch = epoch + 1 WHERE id = 1; END;

CREATE TRIGGER liveness_on_delete AFTER DELETE ON mandates
BEGIN UPDATE liveness SET epoch = epoch + 1 WHERE id = 1; END;
";

/// Pinned tool definitions: the accepted one (on first sight or by an operator) and the
/// one waiting for review. A revision counter, moved by triggers whoever writes, lets a
/// running gateway notice an acceptance made by the CLI in another process.
const V4_TOOL_PINS: &str = "
CREATE TABLE tool_pins (
    tool                TEXT PRIMARY KEY NOT NULL,   -- upstream.tool
    status              TEXT NOT NULL CHECK (status IN ('accepted', 'pending')),
    accepted_digest     TEXT,                        -- SHA-256 hex of the pinned parts
    accepted_definition TEXT,                        -- the whole definition, JSON
    accepted_by         TEXT,                        -- an operator, or trust-on-first-use
    accepted_at         INTEGER,                     -- unix millis
    pending_digest      TEXT,
    pending_definition  TEXT,
    pending_why         TEXT,
    pending_seen_at     INTEGER,
    CHECK ((accepted_digest IS NULL) = (accepted_definition IS NULL)
       AND (accepted_digest IS NULL) = (accepted_by IS NULL)
       AND (accepted_digest IS NULL) = (accepted_at IS NULL)),
    CHECK ((pending_digest IS NULL) = (pending_definition IS NULL)
       AND (pending_digest IS NULL) = (pending_why IS NULL)
       AND (pending_digest IS NULL) = (pending_seen_at IS NULL)),
    CHECK ((status = 'pending') = (pending_digest IS NOT NULL)),
    CHECK (status = 'pending' OR accepted_digest IS NOT NULL)
);

CREATE TABLE tool_pins_revision (
    id       INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    revision INTEGER NOT NULL CHECK (revision >= 0)
);
INSERT INTO tool_pins_revision (id, revision) VALUES (1, 0);

CREATE TRIGGER tool_pins_on_insert AFTER INSERT ON tool_pins
BEGIN UPDATE tool_pins_revision SET revision = revision + 1 WHERE id = 1; END;

CREATE TRIGGER tool_pins_on_update AFTER UPDATE ON tool_pins
BEGIN UPDATE tool_pins_revision SET revision = revision + 1 WHERE id = 1; END;

CREATE TRIGGER tool_pins_on_delete AFTER DELETE ON tool_pins
BEGIN UPDATE tool_pins_revision SET revision = revision + 1 WHERE id = 1; END;
";

/// Human approval: each mandate's approval rules, and the requests held for a human. A
/// request is bound to one call by `binding`; `status` only moves forward (see
/// `mandate_core::ApprovalStatus`), and expiry is judged by the reader's clock.
const V3_APPROVALS: &str = "
ALTER TABLE mandates ADD COLUMN approvals TEXT NOT NULL DEFAULT '[]'; -- JSON array of rules

CREATE TABLE approvals (
    id             TEXT PRIMARY KEY NOT NULL,
    binding        TEXT NOT NULL,            -- hex SHA-256 of (chain, tool, args digest, expiry)
    human          TEXT NOT NULL,            -- the chain's root human
    agent          TEXT NOT NULL,
    mandate        TEXT NOT NULL REFERENCES mandates (id),
    chain          TEXT NOT NULL,            -- JSON array of {mandate, agent}, root first
    session        TEXT NOT NULL,
    tool           TEXT NOT NULL,
    radius         TEXT NOT NULL,            -- JSON blast radius
    arguments      TEXT NOT NULL,            -- JSON, detected secrets redacted
    args_digest    TEXT NOT NULL,
    rules          TEXT NOT NULL,            -- JSON array of the rules that asked
    requested_at   INTEGER NOT NULL,         -- unix millis
    expires_at     INTEGER NOT NULL,         -- unix millis
    status         TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'spent', 'expired')),
    decided_by     TEXT,
    decided_reason TEXT,
    decided_at     INTEGER,
    spent_at       INTEGER,
    CHECK ((status IN ('approved', 'denied', 'spent')) = (decided_at IS NOT NULL)),
    CHECK ((status = 'spent') = (spent_at IS NOT NULL))
);
CREATE INDEX approvals_status ON approvals (status, expires_at);
";

/// The OAuth authorization server's rows: local users (argon2id hashes), dynamically
/// registered clients, and refresh tokens kept as SHA-256 digests, one family per
/// authorization (a reused token revokes its family).
const V5_OAUTH: &str = "
CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,             -- argon2id, PHC string form
    added_at      INTEGER NOT NULL           -- unix millis
);

CREATE TABLE oauth_clients (
    id            TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,             -- JSON array, matched exactly
    registered_at INTEGER NOT NULL           -- unix millis
);

CREATE TABLE refresh_tokens (
    digest    TEXT PRIMARY KEY NOT NULL,     -- SHA-256 of the token, hex
    family    TEXT NOT NULL,
    client_id TEXT NOT NULL,
    mandate   TEXT NOT NULL REFERENCES mandates (id),
    scope     TEXT NOT NULL,
    issued_at INTEGER NOT NULL,              -- unix millis
    status    TEXT NOT NULL CHECK (status IN ('current', 'rotated', 'revoked'))
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
";

/// Opens a connection with the settings every connection needs.
pub(crate) fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Io(format!(
            "cannot put `{}` in WAL mode (it stays in `{mode}` mode)",
            path.display()
        )));
    }
    // INVARIANT (DESIGN.md 5): FULL syncs the WAL at every commit, so a
    // committed write-ahead record survives a crash or power loss.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(conn)
}

/// Brings the schema up to date, inside one write transaction so that two
/// processes opening a new file at once migrate it once.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let supported = u32::try_from(MIGRATIONS.len()).unwrap_or(u32::MAX);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > supported {
        return Err(StoreError::NewerSchema { found, supported });
    }
    for (from, sql) in (found..).zip(MIGRATIONS.iter().skip(found as usize)) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", from + 1)?;
        tracing::info!(from, to = from + 1, "migrated store schema");
    }
    tx.commit()?;
    Ok(())
}
