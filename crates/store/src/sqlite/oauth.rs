//! Rows of the OAuth authorization server: users, clients and refresh tokens.

use crate::StoreError;
use crate::oauth::{ClientRecord, RefreshGrant, Rotation, UserRecord};
use mandate_core::{HumanId, MandateId, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};

/// Inserts a user ([`StoreError::Conflict`] if the id is taken).
pub(crate) fn insert_user(tx: &Connection, user: &UserRecord) -> Result<(), StoreError> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO users (id, password_hash, added_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![
            user.id.as_str(),
            user.password_hash,
            user.added_at.as_millis()
        ])?;
    if inserted == 0 {
        return Err(StoreError::Conflict {
            what: "user",
            id: user.id.to_string(),
        });
    }
    Ok(())
}

/// One user.
pub(crate) fn user(conn: &Connection, id: &HumanId) -> Result<Option<UserRecord>, StoreError> {
    let row: Option<(String, i64)> = conn
        .prepare_cached("SELECT password_hash, added_at FROM users WHERE id = ?1")?
        .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(row.map(|(password_hash, added_at)| UserRecord {
        id: id.clone(),
        password_hash,
        added_at: Timestamp::from_millis(added_at),
    }))
}

/// Every user's id, in the order added.
pub(crate) fn user_ids(conn: &Connection) -> Result<Vec<HumanId>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id FROM users ORDER BY rowid")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.map(|r| HumanId::new(r?).map_err(|e| StoreError::Corrupt(e.to_string())))
        .collect()
}

/// Inserts a client ([`StoreError::Conflict`] if the id is taken).
pub(crate) fn insert_client(tx: &Connection, client: &ClientRecord) -> Result<(), StoreError> {
    let uris = serde_json::to_string(&client.redirect_uris)
        .map_err(|e| StoreError::Sqlite(format!("cannot encode redirect uris: {e}")))?;
    let inserted = tx
        .prepare_cached(
            "INSERT INTO oauth_clients (id, name, redirect_uris, registered_at)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![
            client.id,
            client.name,
            uris,
            client.registered_at.as_millis()
        ])?;
    if inserted == 0 {
        return Err(StoreError::Conflict {
            what: "client",
            id: client.id.clone(),
        });
    }
    Ok(())
}

/// One client.
pub(crate) fn client(conn: &Connection, id: &str) -> Result<Option<ClientRecord>, StoreError> {
    let row: Option<(String, String, i64)> = conn
        .prepare_cached(
            "SELECT name, redirect_uris, registered_at FROM oauth_clients WHERE id = ?1",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    row.map(|(name, uris, registered_at)| {
        let redirect_uris = serde_json::from_str(&uris).map_err(|e| {
            StoreError::Corrupt(format!("client `{id}` has unreadable redirect uris: {e}"))
        })?;
        Ok(ClientRecord {
            id: id.to_owned(),
            name,
            redirect_uris,
            registered_at: Timestamp::from_millis(registered_at),
        })
    })
    .transpose()
}

/// Stores a refresh token as the current one of its family.
pub(crate) fn insert_refresh(tx: &Connection, grant: &RefreshGrant) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO refresh_tokens (digest, family, client_id, mandate, scope, issued_at, status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'current')",
    )?
    .execute(params![
        grant.digest,
        grant.family,
        grant.client_id,
        grant.mandate.as_str(),
        grant.scope,
        grant.issued_at.as_millis()
    ])?;
    Ok(())
}

/// Spends the token `digest` if it is `client_id`'s and current, storing `next` (with the
/// spent token's family, mandate and scope) in its place; a token spent before revokes
/// its whole family.
pub(crate) fn rotate(
    tx: &Connection,
    digest: &str,
    client_id: &str,
    next: &str,
    now: Timestamp,
) -> Result<Rotation, StoreError> {
    let row: Option<(String, String, String, String, i64, String)> = tx
        .prepare_cached(
            "SELECT family, client_id, mandate, scope, issued_at, status
             FROM refresh_tokens WHERE digest = ?1",
        )?
        .query_row([digest], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .optional()?;
    let Some((family, owner, mandate, scope, issued_at, status)) = row else {
        return Ok(Rotation::Unknown);
    };
    if owner != client_id {
        return Ok(Rotation::Unknown);
    }
    let mandate = MandateId::new(mandate).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let spent = RefreshGrant {
        digest: digest.to_owned(),
        family: family.clone(),
        client_id: owner,
        mandate,
        scope,
        issued_at: Timestamp::from_millis(issued_at),
    };
    if status != "current" {
        tx.prepare_cached("UPDATE refresh_tokens SET status = 'revoked' WHERE family = ?1")?
            .execute([&family])?;
        return Ok(Rotation::Reused(spent));
    }
    tx.prepare_cached("UPDATE refresh_tokens SET status = 'rotated' WHERE digest = ?1")?
        .execute([digest])?;
    let successor = RefreshGrant {
        digest: next.to_owned(),
        family,
        client_id: spent.client_id.clone(),
        mandate: spent.mandate.clone(),
        scope: spent.scope.clone(),
        issued_at: now,
    };
    insert_refresh(tx, &successor)?;
    Ok(Rotation::Rotated(spent))
}
