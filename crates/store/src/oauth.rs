//! What the OAuth authorization server keeps: local users, registered clients, and
//! refresh tokens (as digests), each refresh token in a family that dies together.

use mandate_core::{HumanId, MandateId, Timestamp};
use std::fmt;

/// A local user who can sign in to approve agents.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// The human's stable id (`alice@corp`).
    pub id: HumanId,
    /// The argon2id hash of the password, PHC string form.
    pub password_hash: String,
    /// When the user was added.
    pub added_at: Timestamp,
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("added_at", &self.added_at)
            .finish_non_exhaustive()
    }
}

/// An OAuth client registered dynamically (RFC 7591). Public clients only: no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    /// The `client_id` handed out.
    pub id: String,
    /// The `client_name` it gave (or its id).
    pub name: String,
    /// The redirect URIs it registered, matched exactly.
    pub redirect_uris: Vec<String>,
    /// When it registered.
    pub registered_at: Timestamp,
}

/// One refresh token, by digest. A family is every token rotated from one authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshGrant {
    /// SHA-256 of the token, hex.
    pub digest: String,
    /// The family (the first token's digest).
    pub family: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The mandate it refreshes tokens for; it dies with it.
    pub mandate: MandateId,
    /// The scope granted, space-separated tool patterns.
    pub scope: String,
    /// When it was issued.
    pub issued_at: Timestamp,
}

/// The outcome of [`crate::Store::rotate_refresh`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: it is now spent and its successor is stored.
    Rotated(RefreshGrant),
    /// The token was spent (or its family revoked) before: the whole family is revoked now.
    Reused(RefreshGrant),
    /// No such token, or not this client's: nothing changed.
    Unknown,
}
