//! Who a `client_id` is: a client registered here (RFC 7591), or an `https://` URL whose
//! Client ID Metadata Document the gateway fetches and checks.
//!
//! Redirect URIs are compared exactly, as strings: no prefixes, no wildcards, and no
//! loopback port leeway.

use crate::Gateway;
use crate::config::ClientIdSchemes;
use reqwest::Url;
use serde::Deserialize;
use std::time::Duration;

/// The largest metadata document fetched.
const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// How long fetching one may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The most redirect URIs a client may have.
pub(super) const MAX_REDIRECT_URIS: usize = 10;
/// The longest client name kept.
pub(super) const MAX_NAME_CHARS: usize = 100;

/// A client the gateway knows, however it learned of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Client {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) redirect_uris: Vec<String>,
}

/// Why a `client_id` names no usable client. Shown on an error page, never redirected.
#[derive(Debug, thiserror::Error)]
pub(super) enum ClientError {
    #[error("`client_id` is required")]
    Missing,
    #[error("no client `{0}` is registered here")]
    Unknown(String),
    #[error("client id URL `{0}` is not allowed: {1}")]
    BadUrl(String, &'static str),
    #[error("cannot fetch the client's metadata document at `{0}`")]
    Unreachable(String),
    #[error("the client's metadata document at `{0}` is invalid: {1}")]
    BadDocument(String, String),
    #[error("the gateway cannot look clients up right now")]
    Unavailable,
}

/// A Client ID Metadata Document, the fields Mandate reads.
#[derive(Debug, Deserialize)]
struct Document {
    client_id: String,
    client_name: Option<String>,
    redirect_uris: Vec<String>,
    token_endpoint_auth_method: Option<String>,
}

/// Resolves a `client_id`.
pub(super) async fn resolve(gw: &Gateway, id: Option<&str>) -> Result<Client, ClientError> {
    let id = id.filter(|i| !i.is_empty()).ok_or(ClientError::Missing)?;
    if id.starts_with("https://") || id.starts_with("http://") {
        return fetch(id, gw.config.oauth.client_ids).await;
    }
    match gw.store.client(id).await {
        Ok(Some(c)) => Ok(Client {
            id: c.id,
            name: c.name,
            redirect_uris: c.redirect_uris,
        }),
        Ok(None) => Err(ClientError::Unknown(id.to_owned())),
        Err(e) => {
            tracing::error!(error = %e, "cannot read an oauth client");
            Err(ClientError::Unavailable)
        }
    }
}

/// Checks a client id URL, then fetches and checks its document.
async fn fetch(id: &str, schemes: ClientIdSchemes) -> Result<Client, ClientError> {
    let bad = |why| ClientError::BadUrl(id.to_owned(), why);
    let url = Url::parse(id).map_err(|_| bad("it is not a URL"))?;
    let loopback = url.host_str() == Some("127.0.0.1");
    match (url.scheme(), schemes) {
        (_, ClientIdSchemes::Refused) => {
            return Err(bad("this gateway serves registered clients only"));
        }
        ("https", _) => {}
        ("http", ClientIdSchemes::DangerAlsoLoopbackHttp) if loopback => {}
        _ => return Err(bad("it must be an https:// URL")),
    }
    if url.path() == "/" || url.fragment().is_some() || !url.username().is_empty() {
        return Err(bad("it must have a path, and no fragment or credentials"));
    }
    let unreachable = |e: reqwest::Error| {
        tracing::info!(client_id = id, error = %e, "cannot fetch a client metadata document");
        ClientError::Unreachable(id.to_owned())
    };
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(FETCH_TIMEOUT)
        .build()
        .map_err(unreachable)?;
    let mut response = client.get(url).send().await.map_err(unreachable)?;
    if !response.status().is_success() {
        return Err(ClientError::Unreachable(id.to_owned()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(ClientError::BadDocument(
                id.to_owned(),
                "it is too large".into(),
            ));
        }
    }
    let doc: Document = serde_json::from_slice(&body)
        .map_err(|e| ClientError::BadDocument(id.to_owned(), e.to_string()))?;
    check_document(id, doc)
}

fn check_document(id: &str, doc: Document) -> Result<Client, ClientError> {
    let bad = |why: &str| ClientError::BadDocument(id.to_owned(), why.to_owned());
    if doc.client_id != id {
        return Err(bad("its `client_id` is not the URL it was fetched from"));
    }
    if doc
        .token_endpoint_auth_method
        .as_deref()
        .is_some_and(|m| m != "none")
    {
        return Err(bad(
            "only public clients (`token_endpoint_auth_method` `none`) are served",
        ));
    }
    check_redirect_uris(&doc.redirect_uris).map_err(|why| bad(&why))?;
    Ok(Client {
        id: id.to_owned(),
        name: clean_name(doc.client_name.as_deref(), id),
        redirect_uris: doc.redirect_uris,
    })
}

/// Redirect URIs a client may register: `https://`, or `http://` to the loopback
/// interface (RFC 8252 §7.3, the port included in the exact match); no fragments.
pub(super) fn check_redirect_uris(uris: &[String]) -> Result<(), String> {
    if uris.is_empty() {
        return Err("`redirect_uris` must name at least one URI".into());
    }
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(format!("at most {MAX_REDIRECT_URIS} `redirect_uris`"));
    }
    for uri in uris {
        let url = Url::parse(uri).map_err(|_| format!("redirect URI `{uri}` is not a URL"))?;
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
        if !scheme_ok || url.fragment().is_some() {
            return Err(format!(
                "redirect URI `{uri}` must be https://, or http:// to the loopback interface, without a fragment"
            ));
        }
    }
    Ok(())
}

/// A client's name as shown to humans: printable, bounded, or else its id.
pub(super) fn clean_name(name: Option<&str>, id: &str) -> String {
    let name: String = name
        .unwrap_or(id)
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    if name.trim().is_empty() {
        id.chars().take(MAX_NAME_CHARS).collect()
    } else {
        name
    }
}

impl Client {
    /// The redirect URI an authorization request uses: given, it must be registered
    /// exactly; absent, the client must have exactly one.
    pub(super) fn redirect_uri(&self, asked: Option<&str>) -> Option<String> {
        match asked.filter(|a| !a.is_empty()) {
            Some(asked) => self.redirect_uris.iter().find(|u| *u == asked).cloned(),
            None => match self.redirect_uris.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            },
        }
    }
}
