//! Where connect's bearer token comes from, and how it gets a fresh one when the gateway
//! refuses it: the token file read again, or the OAuth session refreshed (or signed in again).

use super::oauth::Session;
use anyhow::Context as _;
use std::path::{Path, PathBuf};

/// The current token and its source. Renewals are serialised: requests refused together
/// share one renewal (and at most one browser sign-in), and share its failure too.
pub(crate) struct Credentials {
    state: tokio::sync::Mutex<State>,
    /// Why the last renewal failed, in words for the client's error.
    last_failure: std::sync::Mutex<Option<String>>,
}

struct State {
    source: Source,
    /// Renewals finished so far.
    renewals: u64,
    /// The count at the end of the last renewal that failed.
    failed_at: Option<u64>,
}

enum Source {
    File { path: PathBuf, token: String },
    OAuth(Box<Session>),
}

/// A token handed out, and how many renewals had finished when it was.
pub(crate) struct Ticket {
    pub token: String,
    renewals: u64,
}

impl Credentials {
    /// Reads the token file now: a missing or empty file is an error before anything runs.
    pub(crate) fn from_token_file(path: &Path) -> anyhow::Result<Self> {
        let token = read_token_file(path)?;
        Ok(Self::new(Source::File {
            path: path.to_owned(),
            token,
        }))
    }

    pub(crate) fn from_oauth(session: Session) -> Self {
        Self::new(Source::OAuth(Box::new(session)))
    }

    fn new(source: Source) -> Self {
        Self {
            state: tokio::sync::Mutex::new(State {
                source,
                renewals: 0,
                failed_at: None,
            }),
            last_failure: std::sync::Mutex::new(None),
        }
    }

    /// The token to send now. An OAuth access token about to expire is refreshed first;
    /// if that fails the old one is sent and the gateway's 401 leads to [`Self::renew`].
    pub(crate) async fn token(&self) -> Ticket {
        let mut state = self.state.lock().await;
        if let Source::OAuth(session) = &mut state.source
            && session.expiring()
            && let Err(e) = session.refresh().await
        {
            eprintln!("mandate connect: cannot refresh the expiring access token: {e:#}");
        }
        Ticket {
            token: current(&state.source).to_owned(),
            renewals: state.renewals,
        }
    }

    /// The gateway refused the ticket's token with this `WWW-Authenticate` challenge: a
    /// fresh token to retry with, or `None` (the reason is kept for [`Self::last_failure`]).
    pub(crate) async fn renew(&self, refused: &Ticket, challenge: &str) -> Option<String> {
        let reason = challenge_description(challenge);
        let mut state = self.state.lock().await;
        if current(&state.source) != refused.token {
            // Another request renewed it while this one waited for the lock.
            return Some(current(&state.source).to_owned());
        }
        if state.failed_at.is_some_and(|at| at > refused.renewals) {
            // A renewal failed after this token was handed out: one failure, one sign-in.
            return None;
        }
        let renewed = match &mut state.source {
            Source::File { path, token } => match read_token_file(path) {
                Ok(fresh) if fresh != refused.token => {
                    eprintln!(
                        "mandate connect: the gateway refused the token ({reason}); using the new one in `{}`",
                        path.display()
                    );
                    *token = fresh.clone();
                    Ok(fresh)
                }
                Ok(_) => Err(format!(
                    "the gateway refused the token in `{}`: {reason}; put a fresh token in the file",
                    path.display()
                )),
                Err(e) => Err(format!(
                    "the gateway refused the token ({reason}) and {e:#}"
                )),
            },
            Source::OAuth(session) => session
                .renew(&reason)
                .await
                .map(|()| session.access_token().to_owned())
                .map_err(|e| format!("the gateway refused the access token ({reason}); {e:#}")),
        };
        state.renewals += 1;
        match renewed {
            Ok(token) => Some(token),
            Err(why) => {
                state.failed_at = Some(state.renewals);
                eprintln!("mandate connect: {why}");
                if let Ok(mut slot) = self.last_failure.lock() {
                    *slot = Some(why);
                }
                None
            }
        }
    }

    /// The gateway answered 403 `insufficient_scope` to the ticket's token, asking for
    /// `scope`: a token with the wider scope (after a human approved it in the browser), or
    /// `None` when there is no flow to step up with (a token file) or the human declined.
    pub(crate) async fn step_up(&self, refused: &Ticket, scope: Option<&str>) -> Option<String> {
        let mut state = self.state.lock().await;
        if current(&state.source) != refused.token {
            // Another request stepped up while this one waited for the lock.
            return Some(current(&state.source).to_owned());
        }
        let Source::OAuth(session) = &mut state.source else {
            return None;
        };
        let scope = scope?;
        let stepped = session
            .step_up(scope)
            .await
            .map(|()| session.access_token().to_owned());
        state.renewals += 1;
        match stepped {
            Ok(token) => Some(token),
            Err(e) => {
                let why = format!("the wider scope was not granted: {e:#}");
                eprintln!("mandate connect: {why}");
                if let Ok(mut slot) = self.last_failure.lock() {
                    *slot = Some(why);
                }
                None
            }
        }
    }

    /// Why the last renewal failed, if one did.
    pub(crate) fn last_failure(&self) -> Option<String> {
        self.last_failure.lock().ok().and_then(|slot| slot.clone())
    }
}

fn current(source: &Source) -> &str {
    match source {
        Source::File { token, .. } => token,
        Source::OAuth(session) => session.access_token(),
    }
}

fn read_token_file(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the token file `{}`", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        anyhow::bail!("the token file `{}` is empty", path.display());
    }
    Ok(token.to_owned())
}

/// The `error_description` of a `WWW-Authenticate: Bearer …` challenge (the gateway's
/// reason), else the challenge's `error`, else a generic phrase.
pub(crate) fn challenge_description(challenge: &str) -> String {
    challenge_param(challenge, "error_description")
        .or_else(|| challenge_param(challenge, "error"))
        .unwrap_or_else(|| "no token was accepted".to_owned())
}

/// One `name="value"` parameter of a `WWW-Authenticate` challenge.
pub(crate) fn challenge_param(challenge: &str, name: &str) -> Option<String> {
    let marker = format!("{name}=\"");
    let start = challenge.find(&marker)? + marker.len();
    let rest = challenge.get(start..)?;
    rest.find('"')
        .and_then(|end| rest.get(..end))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateways_reason_is_read_from_the_challenge() {
        let challenge = "Bearer realm=\"mandate\", resource_metadata=\"http://x/.well-known/oauth-protected-resource\", error=\"invalid_token\", error_description=\"mandate `m1` was revoked\"";
        assert_eq!(challenge_description(challenge), "mandate `m1` was revoked");
        assert_eq!(
            challenge_description("Bearer error=\"invalid_token\""),
            "invalid_token"
        );
        assert_eq!(
            challenge_description("Bearer realm=\"mandate\""),
            "no token was accepted"
        );
    }
}
