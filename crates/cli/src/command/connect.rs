//! `mandate connect`: a stdio MCP server that bridges to a remote Mandate over streamable
//! HTTP, for clients that only launch local servers (desktop agents). stdout is MCP only.

mod bearer;
mod bridge;
mod credentials;
mod oauth;

use anyhow::Context as _;
use credentials::Credentials;
use reqwest::Url;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `mandate connect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The gateway's MCP endpoint, e.g. `https://mandate.example/mcp`.
    pub url: String,
    /// Read the bearer token from this file (trimmed); it is read again when the gateway
    /// refuses the token, so an operator may rotate it. Without it, connect signs in with
    /// OAuth: it prints a URL to open in a browser on stderr.
    #[arg(long, value_name = "FILE", conflicts_with = "login")]
    pub token_file: Option<PathBuf>,
    /// Sign in now (even if stored credentials exist), store the credentials and exit
    /// without bridging: run this in a terminal before a desktop client launches connect.
    #[arg(long)]
    pub login: bool,
    /// Where OAuth credentials are kept (mode 0600). Default: one file per gateway under
    /// `$XDG_CONFIG_HOME/mandate/connect/` (or `~/.config/mandate/connect/`).
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// The scope to ask for (space-separated tool patterns, e.g. `crm.*`). Default: none,
    /// which offers every tool; the human narrows on the consent page.
    #[arg(long)]
    pub scope: Option<String>,
    /// How long to wait for the browser to come back from the consent page.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_timeout)]
    pub login_timeout: Duration,
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    mandate_gateway::config::parse_duration(text)
}

/// Runs the bridge until the client closes stdin (or the gateway goes away).
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let url = gateway_url(&args.url)?;
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .context("cannot build the HTTP client")?;
    let credentials = match &args.token_file {
        Some(path) => Credentials::from_token_file(path)?,
        None => {
            let login = oauth::Login {
                http: http.clone(),
                resource: url.clone(),
                scope: args.scope.clone(),
                timeout: args.login_timeout,
            };
            let path = match &args.credentials {
                Some(path) => path.clone(),
                None => oauth::default_credentials_path(&url)?,
            };
            let session = oauth::Session::open(login, path, args.login).await?;
            if args.login {
                eprintln!(
                    "mandate connect: signed in; credentials stored in `{}`",
                    session.path().display()
                );
                return Ok(ExitCode::SUCCESS);
            }
            Credentials::from_oauth(session)
        }
    };
    bridge::run(url, http, Arc::new(credentials)).await
}

/// The gateway URL, checked before anything is sent to it.
fn gateway_url(text: &str) -> anyhow::Result<Url> {
    let url = Url::parse(text).with_context(|| {
        format!("`{text}` is not a URL; give the gateway's MCP endpoint, e.g. https://mandate.example/mcp")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        anyhow::bail!("`{text}` is not an http(s) URL of the gateway's MCP endpoint");
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        eprintln!(
            "mandate connect: warning: `{text}` is plain http; tokens cross the network unencrypted"
        );
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}
