//! What the authorization server keeps only in this node's memory, and only briefly:
//! pending authorization requests, sign-in sessions and authorization codes.
//!
//! Each map is bounded; a full map refuses new entries rather than grow. A restart
//! forgets them all: people sign in again, clients start their flow again.

use super::authorize::AuthorizationRequest;
use mandate_auth::pkce::CodeChallenge;
use mandate_auth::secret::{Secret, SecretDigest};
use mandate_core::{HumanId, MandateId};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a human has between opening the authorization page and approving.
pub(super) const PENDING_TTL: Duration = Duration::from_secs(10 * 60);
/// How long a sign-in lasts.
pub(super) const SESSION_TTL: Duration = Duration::from_secs(30 * 60);
/// How long an authorization code can be redeemed (it is single-use besides).
pub(super) const CODE_TTL: Duration = Duration::from_secs(60);
/// How long a redeemed code is remembered, so that a replay is recognised.
const SPENT_CODE_MEMORY: Duration = Duration::from_secs(10 * 60);
/// The most entries any one map holds.
const MAX_ENTRIES: usize = 10_000;

/// A signed-in human, and the CSRF token its consent forms must carry.
#[derive(Debug, Clone)]
pub(super) struct Session {
    pub(super) human: HumanId,
    pub(super) csrf: String,
    created: Instant,
}

/// An authorization request waiting for its human, bound to a session once signed in.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub(super) request: AuthorizationRequest,
    pub(super) session: Option<SecretDigest>,
    created: Instant,
}

/// What a code stands for until it is redeemed.
#[derive(Debug, Clone)]
pub(super) struct IssuedCode {
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    pub(super) challenge: CodeChallenge,
    pub(super) mandate: MandateId,
    pub(super) scope: String,
}

#[derive(Debug)]
enum CodeState {
    Issued(IssuedCode),
    Spent(MandateId),
}

/// What presenting a code found.
#[derive(Debug)]
pub(super) enum Redemption {
    /// The code was live; it is spent now.
    Live(IssuedCode),
    /// The code was redeemed before: whoever holds it second may have stolen it.
    Replayed(MandateId),
    /// No such code, or it expired.
    Unknown,
}

/// The maps were full.
#[derive(Debug)]
pub(super) struct Full;

/// The in-memory state, shared by the authorization and token endpoints.
#[derive(Debug, Default)]
pub(super) struct Memory {
    pending: Mutex<HashMap<SecretDigest, Pending>>,
    sessions: Mutex<HashMap<SecretDigest, Session>>,
    codes: Mutex<HashMap<SecretDigest, (CodeState, Instant)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Memory {
    /// Keeps a validated authorization request; returns the id the pages carry.
    pub(super) fn add_pending(
        &self,
        request: AuthorizationRequest,
        now: Instant,
    ) -> Result<Secret, Full> {
        let mut pending = lock(&self.pending);
        pending.retain(|_, p| now.duration_since(p.created) < PENDING_TTL);
        if pending.len() >= MAX_ENTRIES {
            return Err(Full);
        }
        let id = Secret::generate();
        let entry = Pending {
            request,
            session: None,
            created: now,
        };
        pending.insert(id.digest(), entry);
        Ok(id)
    }

    /// The pending request `id` names, if it has not expired.
    pub(super) fn pending(&self, id: &str, now: Instant) -> Option<Pending> {
        let pending = lock(&self.pending);
        pending
            .get(&SecretDigest::of(id))
            .filter(|p| now.duration_since(p.created) < PENDING_TTL)
            .cloned()
    }

    /// Binds a pending request to the session that signed in for it.
    pub(super) fn bind(&self, id: &str, session: SecretDigest) {
        if let Some(p) = lock(&self.pending).get_mut(&SecretDigest::of(id)) {
            p.session = Some(session);
        }
    }

    /// Forgets a pending request (approved or declined).
    pub(super) fn finish(&self, id: &str) {
        lock(&self.pending).remove(&SecretDigest::of(id));
    }

    /// Starts a session for `human`; returns the cookie value.
    pub(super) fn sign_in(&self, human: HumanId, now: Instant) -> Result<Secret, Full> {
        let mut sessions = lock(&self.sessions);
        sessions.retain(|_, s| now.duration_since(s.created) < SESSION_TTL);
        if sessions.len() >= MAX_ENTRIES {
            return Err(Full);
        }
        let id = Secret::generate();
        let session = Session {
            human,
            csrf: Secret::generate().as_str().to_owned(),
            created: now,
        };
        sessions.insert(id.digest(), session);
        Ok(id)
    }

    /// The live session a cookie names.
    pub(super) fn session(&self, cookie: &str, now: Instant) -> Option<(SecretDigest, Session)> {
        let digest = SecretDigest::of(cookie);
        let sessions = lock(&self.sessions);
        let session = sessions
            .get(&digest)
            .filter(|s| now.duration_since(s.created) < SESSION_TTL)?
            .clone();
        Some((digest, session))
    }

    /// Issues a code for an approved request; returns it.
    pub(super) fn issue_code(&self, code: IssuedCode, now: Instant) -> Result<Secret, Full> {
        let mut codes = lock(&self.codes);
        codes.retain(|_, (_, at)| now.duration_since(*at) < SPENT_CODE_MEMORY);
        if codes.len() >= MAX_ENTRIES {
            return Err(Full);
        }
        let secret = Secret::generate();
        codes.insert(secret.digest(), (CodeState::Issued(code), now));
        Ok(secret)
    }

    /// Redeems a code: at most once, and only within [`CODE_TTL`] of its issue.
    pub(super) fn redeem(&self, code: &str, now: Instant) -> Redemption {
        let mut codes = lock(&self.codes);
        let Some((state, issued)) = codes.get_mut(&SecretDigest::of(code)) else {
            return Redemption::Unknown;
        };
        // INVARIANT: single use. Whatever the outcome, a live code is spent here, under
        // the lock, before anything is checked about it.
        let spent = CodeState::Spent(match state {
            CodeState::Issued(c) => c.mandate.clone(),
            CodeState::Spent(m) => return Redemption::Replayed(m.clone()),
        });
        let live = now.duration_since(*issued) < CODE_TTL;
        match std::mem::replace(state, spent) {
            CodeState::Issued(c) if live => Redemption::Live(c),
            CodeState::Issued(_) | CodeState::Spent(_) => Redemption::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code() -> IssuedCode {
        IssuedCode {
            client_id: "c".into(),
            redirect_uri: "http://127.0.0.1:1/cb".into(),
            challenge: CodeChallenge::parse(
                Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
                Some("S256"),
            )
            .unwrap(),
            mandate: MandateId::from_u128(7),
            scope: "crm.lookup_customer".into(),
        }
    }

    #[test]
    fn a_code_is_redeemed_once_and_a_replay_names_its_mandate() {
        let memory = Memory::default();
        let now = Instant::now();
        let secret = memory.issue_code(code(), now).unwrap();
        assert!(matches!(
            memory.redeem(secret.as_str(), now),
            Redemption::Live(_)
        ));
        assert!(matches!(
            memory.redeem(secret.as_str(), now),
            Redemption::Replayed(m) if m == MandateId::from_u128(7)
        ));
        assert!(matches!(memory.redeem("made-up", now), Redemption::Unknown));
    }

    #[test]
    fn a_code_expires_after_sixty_seconds() {
        let memory = Memory::default();
        let now = Instant::now();
        let secret = memory.issue_code(code(), now).unwrap();
        let late = now + CODE_TTL;
        assert!(matches!(
            memory.redeem(secret.as_str(), late),
            Redemption::Unknown
        ));
        // ... and is spent by the attempt.
        assert!(matches!(
            memory.redeem(secret.as_str(), now),
            Redemption::Replayed(_)
        ));
    }

    #[test]
    fn sessions_expire() {
        let memory = Memory::default();
        let now = Instant::now();
        let cookie = memory
            .sign_in(HumanId::new("alice@corp").unwrap(), now)
            .unwrap();
        assert!(memory.session(cookie.as_str(), now).is_some());
        assert!(memory.session(cookie.as_str(), now + SESSION_TTL).is_none());
        assert!(memory.session("forged", now).is_none());
    }
}
