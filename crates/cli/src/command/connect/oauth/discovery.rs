//! Finding the authorization server the way the MCP authorization spec says: the 401's
//! `resource_metadata` (RFC 9728), then the server's own metadata (RFC 8414).

use crate::command::connect::credentials::challenge_param;
use anyhow::Context as _;
use reqwest::Url;
use serde::Deserialize;

/// The endpoints a sign-in uses, from the authorization server's metadata.
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    pub issuer: String,
    pub authorization_endpoint: Url,
    pub token_endpoint: String,
    pub registration_endpoint: Option<String>,
    /// RFC 9207: the server puts `iss` in its redirects, so connect must find it there.
    pub iss_in_response: bool,
}

#[derive(Deserialize)]
struct ResourceMetadata {
    resource: String,
    #[serde(default)]
    authorization_servers: Vec<String>,
}

#[derive(Deserialize)]
struct ServerMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    registration_endpoint: Option<String>,
    #[serde(default)]
    code_challenge_methods_supported: Vec<String>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

/// Asks the gateway, unauthenticated, how to get a token, and follows its metadata.
pub(crate) async fn discover(http: &reqwest::Client, resource: &Url) -> anyhow::Result<Endpoints> {
    let probe = http
        .post(resource.clone())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":0,"method":"ping"}"#)
        .send()
        .await
        .map_err(|e| unreachable(resource, &e))?;
    if probe.status() != reqwest::StatusCode::UNAUTHORIZED {
        anyhow::bail!(
            "{resource} answered HTTP {} without a token, not 401: is it a Mandate MCP endpoint?",
            probe.status().as_u16()
        );
    }
    let challenge = probe
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let metadata_url = match challenge_param(challenge, "resource_metadata") {
        Some(url) => Url::parse(&url)
            .with_context(|| format!("the gateway's resource_metadata `{url}` is not a URL"))?,
        None => well_known(resource, "oauth-protected-resource"),
    };
    let prm: ResourceMetadata = fetch_json(http, &metadata_url).await?;
    // RFC 9728 §3.3: metadata for another resource must not be used.
    if Url::parse(&prm.resource).ok().as_ref() != Some(resource) {
        anyhow::bail!(
            "the protected resource metadata at {metadata_url} is for `{}`, not {resource}",
            prm.resource
        );
    }
    let issuer = prm.authorization_servers.first().with_context(|| {
        format!("the protected resource metadata at {metadata_url} names no authorization server")
    })?;
    let issuer_url = Url::parse(issuer)
        .with_context(|| format!("the authorization server `{issuer}` is not a URL"))?;
    let asm: ServerMetadata =
        fetch_json(http, &well_known(&issuer_url, "oauth-authorization-server")).await?;
    // RFC 8414 §3.3: the metadata must name the issuer it was fetched for.
    if asm.issuer != *issuer {
        anyhow::bail!(
            "the authorization server metadata names issuer `{}`, not `{issuer}`",
            asm.issuer
        );
    }
    if !asm
        .code_challenge_methods_supported
        .iter()
        .any(|m| m == "S256")
    {
        anyhow::bail!("the authorization server `{issuer}` does not offer PKCE with S256");
    }
    Ok(Endpoints {
        issuer: asm.issuer,
        authorization_endpoint: Url::parse(&asm.authorization_endpoint).with_context(|| {
            format!(
                "authorization_endpoint `{}` is not a URL",
                asm.authorization_endpoint
            )
        })?,
        token_endpoint: asm.token_endpoint,
        registration_endpoint: asm.registration_endpoint,
        iss_in_response: asm.authorization_response_iss_parameter_supported,
    })
}

/// A clear error for a gateway that cannot be reached at all.
pub(crate) fn unreachable(url: &Url, error: &reqwest::Error) -> anyhow::Error {
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    anyhow::anyhow!("cannot reach the gateway at {url}: {cause}")
}

async fn fetch_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &Url,
) -> anyhow::Result<T> {
    let answer = http
        .get(url.clone())
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| unreachable(url, &e))?;
    if !answer.status().is_success() {
        anyhow::bail!("{url} answered HTTP {}", answer.status().as_u16());
    }
    answer
        .json()
        .await
        .with_context(|| format!("{url} did not answer with the expected JSON metadata"))
}

/// RFC 8414 §3.1 / RFC 9728 §3.1: `/.well-known/<name>` inserted before the URL's path.
fn well_known(url: &Url, name: &str) -> Url {
    let path = url.path().trim_end_matches('/');
    let mut found = url.clone();
    found.set_path(&format!("/.well-known/{name}{path}"));
    found.set_query(None);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_urls_keep_the_path_after_the_name() {
        let mcp = Url::parse("https://gw.example/mcp").unwrap();
        assert_eq!(
            well_known(&mcp, "oauth-protected-resource").as_str(),
            "https://gw.example/.well-known/oauth-protected-resource/mcp"
        );
        let issuer = Url::parse("https://gw.example").unwrap();
        assert_eq!(
            well_known(&issuer, "oauth-authorization-server").as_str(),
            "https://gw.example/.well-known/oauth-authorization-server"
        );
    }
}
