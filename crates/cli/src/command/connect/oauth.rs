//! Connect as an OAuth client of Mandate: discovery, dynamic registration, the code flow
//! with PKCE S256 through the user's browser, stored credentials and rotating refresh.

mod discovery;
mod loopback;
mod stored;

use anyhow::Context as _;
use base64::Engine as _;
use discovery::Endpoints;
use reqwest::Url;
use serde::Deserialize;
use sha2::Digest as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use stored::{RegisteredClient, Stored};

/// Refresh this long before the access token's stated expiry.
const EXPIRY_MARGIN_SECS: u64 = 30;

/// How to sign in: where, with which HTTP client, for what, and how long to wait.
pub(crate) struct Login {
    pub http: reqwest::Client,
    /// The gateway's MCP endpoint: the `resource` (RFC 8707) tokens are asked for.
    pub resource: Url,
    pub scope: Option<String>,
    pub timeout: Duration,
}

/// Credentials for one gateway, kept in a file.
pub(crate) struct Session {
    login: Login,
    path: PathBuf,
    stored: Stored,
}

impl Session {
    /// The stored credentials, or a sign-in when there are none (or `fresh` is asked for).
    pub(crate) async fn open(login: Login, path: PathBuf, fresh: bool) -> anyhow::Result<Self> {
        let previous = stored::load(&path, login.resource.as_str());
        if let Some(stored) = previous.clone().filter(|_| !fresh) {
            return Ok(Self {
                login,
                path,
                stored,
            });
        }
        let client = previous.map(|s| s.client);
        let stored = sign_in(&login, client).await?;
        stored::save(&path, &stored)?;
        Ok(Self {
            login,
            path,
            stored,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn access_token(&self) -> &str {
        &self.stored.access_token
    }

    /// Whether the access token is past (or near) the expiry the server stated.
    pub(crate) fn expiring(&self) -> bool {
        self.stored
            .expires_at
            .is_some_and(|at| now_secs() + EXPIRY_MARGIN_SECS >= at)
    }

    /// Trades the refresh token for new tokens; the rotated refresh token is stored.
    pub(crate) async fn refresh(&mut self) -> anyhow::Result<()> {
        let refresh_token = self
            .stored
            .refresh_token
            .clone()
            .context("no refresh token is stored")?;
        let resource = self.login.resource.to_string();
        let answer = token_request(
            &self.login.http,
            &self.stored.token_endpoint,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token),
                ("client_id", &self.stored.client.client_id),
                ("resource", &resource),
            ],
        )
        .await?;
        self.stored.access_token = answer.access_token;
        self.stored.expires_at = answer.expires_in.map(|s| now_secs() + s);
        if answer.refresh_token.is_some() {
            self.stored.refresh_token = answer.refresh_token;
        }
        stored::save(&self.path, &self.stored)
    }

    /// After the gateway refused the access token: refresh, else sign in again.
    pub(crate) async fn renew(&mut self, reason: &str) -> anyhow::Result<()> {
        eprintln!(
            "mandate connect: the gateway refused the access token ({reason}); refreshing it"
        );
        let refreshed = self.refresh().await;
        let Err(why) = refreshed else { return Ok(()) };
        eprintln!("mandate connect: refreshing failed ({why:#}); signing in again");
        self.stored = sign_in(&self.login, Some(self.stored.client.clone()))
            .await
            .context("signing in again failed")?;
        stored::save(&self.path, &self.stored)
    }
}

impl Session {
    /// After a 403 `insufficient_scope`: the browser flow again, asking for `scope` (what
    /// the gateway named: the granted scope plus the tool called), so a human can approve more.
    pub(crate) async fn step_up(&mut self, scope: &str) -> anyhow::Result<()> {
        eprintln!(
            "mandate connect: the call needs more than this token's scope; asking for `{scope}`"
        );
        self.login.scope = Some(scope.to_owned());
        self.stored = sign_in(&self.login, Some(self.stored.client.clone()))
            .await
            .context("asking for the wider scope failed")?;
        stored::save(&self.path, &self.stored)
    }
}

/// The whole browser flow, from discovery to stored tokens.
async fn sign_in(login: &Login, previous: Option<RegisteredClient>) -> anyhow::Result<Stored> {
    let endpoints = discovery::discover(&login.http, &login.resource).await?;
    let (listener, client) = registered_listener(login, &endpoints, previous).await?;
    let verifier = mandate_auth::secret::Secret::generate();
    let state = mandate_auth::secret::Secret::generate();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_str().as_bytes()));
    let mut url = endpoints.authorization_endpoint.clone();
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &client.client_id)
            .append_pair("redirect_uri", &client.redirect_uri)
            .append_pair("state", state.as_str())
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("resource", login.resource.as_str());
        if let Some(scope) = &login.scope {
            query.append_pair("scope", scope);
        }
    }
    eprintln!(
        "mandate connect: sign in to {} to approve this agent: open this URL in a browser:\n\n    {url}\n",
        endpoints.issuer
    );
    let answer = loopback::wait(listener, state.as_str(), login.timeout).await?;
    let code = accepted_code(answer, &endpoints)?;
    let resource = login.resource.to_string();
    let tokens = token_request(
        &login.http,
        &endpoints.token_endpoint,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
            ("client_id", &client.client_id),
            ("code_verifier", verifier.as_str()),
            ("resource", &resource),
        ],
    )
    .await
    .context("the authorization code was not accepted")?;
    eprintln!("mandate connect: signed in");
    Ok(Stored {
        resource,
        issuer: endpoints.issuer,
        token_endpoint: endpoints.token_endpoint,
        client,
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        expires_at: tokens.expires_in.map(|s| now_secs() + s),
    })
}

/// The code of an approval, once `iss` (RFC 9207) shows it came from our server.
fn accepted_code(answer: loopback::Answer, endpoints: &Endpoints) -> anyhow::Result<String> {
    let check_iss = |iss: &Option<String>| match iss {
        Some(iss) if *iss != endpoints.issuer => Err(anyhow::anyhow!(
            "the redirect came from issuer `{iss}`, not `{}`: refused (mix-up attack?)",
            endpoints.issuer
        )),
        None if endpoints.iss_in_response => Err(anyhow::anyhow!(
            "the redirect lacks the `iss` the authorization server promised: refused"
        )),
        _ => Ok(()),
    };
    match answer {
        loopback::Answer::Code { code, iss } => check_iss(&iss).map(|()| code),
        loopback::Answer::Refused {
            error,
            description,
            iss,
        } => {
            check_iss(&iss)?;
            if error == "access_denied" {
                anyhow::bail!("the human denied consent on the authorization page (access_denied)");
            }
            let detail = description.map(|d| format!(": {d}")).unwrap_or_default();
            anyhow::bail!("the authorization server refused the sign-in: {error}{detail}")
        }
    }
}

/// A loopback listener and a client registered for its exact redirect URI: the previous
/// client when its port is free again, else a new registration (RFC 7591).
async fn registered_listener(
    login: &Login,
    endpoints: &Endpoints,
    previous: Option<RegisteredClient>,
) -> anyhow::Result<(loopback::Listener, RegisteredClient)> {
    if let Some(client) = previous
        && let Some(port) = loopback::port_of(&client.redirect_uri)
        && let Ok(listener) = loopback::bind(port).await
    {
        return Ok((listener, client));
    }
    let listener = loopback::bind(0)
        .await
        .context("cannot listen on 127.0.0.1 for the browser's redirect")?;
    let registration = endpoints
        .registration_endpoint
        .as_deref()
        .with_context(|| {
            format!(
                "the authorization server `{}` offers no dynamic client registration",
                endpoints.issuer
            )
        })?;
    let client_id = register(&login.http, registration, &listener.redirect_uri).await?;
    let redirect_uri = listener.redirect_uri.clone();
    Ok((
        listener,
        RegisteredClient {
            client_id,
            redirect_uri,
        },
    ))
}

async fn register(
    http: &reqwest::Client,
    endpoint: &str,
    redirect_uri: &str,
) -> anyhow::Result<String> {
    #[derive(Deserialize)]
    struct Registered {
        client_id: String,
    }
    let body = serde_json::json!({
        "client_name": "mandate connect",
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    let answer = http
        .post(endpoint)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("cannot reach the registration endpoint {endpoint}"))?;
    let status = answer.status();
    if !status.is_success() {
        let text = answer.text().await.unwrap_or_default();
        anyhow::bail!(
            "registering at {endpoint} answered HTTP {}: {text}",
            status.as_u16()
        );
    }
    let registered: Registered = answer
        .json()
        .await
        .context("the registration answer has no client_id")?;
    Ok(registered.client_id)
}

/// What the token endpoint answers.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
    error_description: Option<String>,
}

async fn token_request(
    http: &reqwest::Client,
    endpoint: &str,
    pairs: &[(&str, &str)],
) -> anyhow::Result<TokenAnswer> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let answer = http
        .post(endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot reach the token endpoint {endpoint}"))?;
    let status = answer.status();
    let text = answer.text().await.unwrap_or_default();
    if !status.is_success() {
        let why = match serde_json::from_str::<TokenError>(&text) {
            Ok(e) => match e.error_description {
                Some(d) => format!("{}: {d}", e.error),
                None => e.error,
            },
            Err(_) => format!("HTTP {}", status.as_u16()),
        };
        anyhow::bail!("the token endpoint refused: {why}");
    }
    serde_json::from_str(&text).context("the token endpoint's answer has no access_token")
}

/// One file per gateway under the user's config directory.
pub(crate) fn default_credentials_path(resource: &Url) -> anyhow::Result<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
        .context("neither XDG_CONFIG_HOME nor HOME is set: say where to keep credentials with --credentials")?;
    let name: String = resource
        .as_str()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(config
        .join("mandate")
        .join("connect")
        .join(format!("{name}.json")))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
