//! The loopback redirect listener (RFC 8252 §7.3): where the browser lands after the
//! consent page. Only an answer carrying this sign-in's `state` is taken; others are refused.

use axum::extract::{Query, State};
use axum::response::Html;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The listener's path; the redirect URI is `http://127.0.0.1:<port>/callback`.
const CALLBACK_PATH: &str = "/callback";

/// A bound listener and the exact redirect URI it answers.
pub(crate) struct Listener {
    listener: TcpListener,
    pub redirect_uri: String,
}

/// What the authorization server sent back, its `state` already checked.
#[derive(Debug)]
pub(crate) enum Answer {
    Code {
        code: String,
        iss: Option<String>,
    },
    Refused {
        error: String,
        description: Option<String>,
        iss: Option<String>,
    },
}

/// Binds 127.0.0.1 on `port` (0: any free one).
pub(crate) async fn bind(port: u16) -> std::io::Result<Listener> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let port = listener.local_addr()?.port();
    Ok(Listener {
        listener,
        redirect_uri: format!("http://127.0.0.1:{port}{CALLBACK_PATH}"),
    })
}

/// The port of a redirect URI this module made.
pub(crate) fn port_of(redirect_uri: &str) -> Option<u16> {
    redirect_uri
        .strip_prefix("http://127.0.0.1:")?
        .strip_suffix(CALLBACK_PATH)?
        .parse()
        .ok()
}

struct Expecting {
    state: String,
    answers: mpsc::Sender<HashMap<String, String>>,
}

/// Serves the redirect until an answer with `state` arrives, or `timeout` passes.
pub(crate) async fn wait(
    listener: Listener,
    state: &str,
    timeout: Duration,
) -> anyhow::Result<Answer> {
    let (answers, mut received) = mpsc::channel(1);
    let expecting = Arc::new(Expecting {
        state: state.to_owned(),
        answers,
    });
    let app = axum::Router::new()
        .route(CALLBACK_PATH, axum::routing::get(callback))
        .with_state(expecting);
    let server = tokio::spawn(async move { axum::serve(listener.listener, app).await });
    // The server stops when this function returns, whichever way.
    let _stop = AbortOnDrop(server);
    let query = match tokio::time::timeout(timeout, received.recv()).await {
        Ok(Some(query)) => query,
        Ok(None) => anyhow::bail!("the redirect listener stopped before the browser came back"),
        Err(_) => anyhow::bail!(
            "timed out after {}s waiting for the browser to come back from the consent page \
             (run connect again, or give more time with --login-timeout)",
            timeout.as_secs()
        ),
    };
    let param = |name: &str| query.get(name).cloned();
    match (param("code"), param("error")) {
        (_, Some(error)) => Ok(Answer::Refused {
            error,
            description: param("error_description"),
            iss: param("iss"),
        }),
        (Some(code), None) => Ok(Answer::Code {
            code,
            iss: param("iss"),
        }),
        (None, None) => {
            anyhow::bail!("the authorization server redirected with neither a code nor an error")
        }
    }
}

async fn callback(
    State(expecting): State<Arc<Expecting>>,
    Query(query): Query<HashMap<String, String>>,
) -> (axum::http::StatusCode, Html<String>) {
    if query.get("state").map(String::as_str) != Some(expecting.state.as_str()) {
        // Not the answer to the request connect made (a forged or stale redirect): its
        // code is never exchanged, and the real answer can still arrive.
        eprintln!(
            "mandate connect: refused a redirect to the sign-in listener whose `state` does not match this sign-in"
        );
        return (
            axum::http::StatusCode::BAD_REQUEST,
            page(
                "This answer does not belong to the sign-in mandate connect started; it was ignored.",
            ),
        );
    }
    let refused = query.contains_key("error");
    if expecting.answers.try_send(query).is_err() {
        return (
            axum::http::StatusCode::CONFLICT,
            page("This sign-in was already answered."),
        );
    }
    let text = if refused {
        "The sign-in was not approved. You may close this window."
    } else {
        "Signed in. You may close this window and return to your agent."
    };
    (axum::http::StatusCode::OK, page(text))
}

/// The page the browser shows (the texts are this module's constants, never input).
fn page(text: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><title>mandate connect</title><p>{text}</p>"
    ))
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
