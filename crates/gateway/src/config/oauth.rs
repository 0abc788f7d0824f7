//! `[oauth]`: how the gateway's OAuth authorization server treats clients and consents.

mod oidc;

pub use oidc::{ClientSecret, DEFAULT_SUBJECT_PREFIX, HumanClaim, IssuerSchemes, OidcConfig};

use super::{ConfigError, invalid, parse_duration};
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOAuth {
    max_lifetime: Option<String>,
    dynamic_registration: Option<bool>,
    client_id_documents: Option<bool>,
    danger_http_client_ids: Option<bool>,
    oidc: Option<oidc::RawOidc>,
}

/// Which client ids that are URLs (Client ID Metadata Documents) are fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientIdSchemes {
    /// None (`client_id_documents = false`): only registered clients.
    Refused,
    /// Client ID metadata documents only at `https://` URLs (the default).
    HttpsOnly,
    /// Also at `http://127.0.0.1:…` URLs (`danger_http_client_ids = true`): a test
    /// harness serving its own document. Never in production.
    DangerAlsoLoopbackHttp,
}

/// Whether clients may register themselves (RFC 7591).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// `POST /oauth/register` is open (the default: most MCP clients still need it).
    Open,
    /// Closed: only client ID metadata documents.
    Closed,
}

/// The validated `[oauth]` table.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// The longest mandate a human can approve on the consent page.
    pub max_lifetime: Duration,
    /// Dynamic client registration.
    pub registration: Registration,
    /// Which client id URLs are fetched.
    pub client_ids: ClientIdSchemes,
    /// The external OpenID Connect provider people may sign in with (`[oauth.oidc]`).
    pub oidc: Option<OidcConfig>,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            max_lifetime: Duration::from_secs(8 * 3600),
            registration: Registration::Open,
            client_ids: ClientIdSchemes::HttpsOnly,
            oidc: None,
        }
    }
}

pub(super) fn validate(raw: RawOAuth, base: &Path) -> Result<OAuthConfig, ConfigError> {
    let defaults = OAuthConfig::default();
    let max_lifetime = match raw.max_lifetime {
        None => defaults.max_lifetime,
        Some(text) => parse_duration(&text).map_err(|p| invalid("oauth.max_lifetime", p))?,
    };
    if max_lifetime < Duration::from_secs(60) {
        return Err(invalid("oauth.max_lifetime", "must be at least 1 minute"));
    }
    Ok(OAuthConfig {
        max_lifetime,
        registration: match raw.dynamic_registration {
            Some(false) => Registration::Closed,
            Some(true) | None => Registration::Open,
        },
        client_ids: match (raw.client_id_documents, raw.danger_http_client_ids) {
            (Some(false), Some(true)) => {
                return Err(invalid(
                    "oauth.danger_http_client_ids",
                    "needs `client_id_documents` (it is false)",
                ));
            }
            (Some(false), _) => ClientIdSchemes::Refused,
            (_, Some(true)) => ClientIdSchemes::DangerAlsoLoopbackHttp,
            (_, Some(false) | None) => ClientIdSchemes::HttpsOnly,
        },
        oidc: raw.oidc.map(|o| oidc::validate(o, base)).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GatewayConfig;
    use std::path::Path;

    fn parse(text: &str) -> Result<GatewayConfig, ConfigError> {
        GatewayConfig::parse(text, Path::new("/etc/mandate"))
    }

    #[test]
    fn defaults_are_https_documents_open_registration_and_eight_hours() {
        let c = parse("").unwrap().oauth;
        assert_eq!(c.max_lifetime, Duration::from_secs(8 * 3600));
        assert_eq!(c.registration, Registration::Open);
        assert_eq!(c.client_ids, ClientIdSchemes::HttpsOnly);
        let c = parse("[oauth]\ndynamic_registration = false\nclient_id_documents = false")
            .unwrap()
            .oauth;
        assert_eq!(c.registration, Registration::Closed);
        assert_eq!(c.client_ids, ClientIdSchemes::Refused);
    }

    #[test]
    fn bad_oauth_keys_are_named() {
        for (text, key) in [
            ("[oauth]\nmax_lifetime = \"30s\"", "oauth.max_lifetime"),
            ("[oauth]\nmax_lifetime = \"soon\"", "oauth.max_lifetime"),
            (
                "[oauth]\nclient_id_documents = false\ndanger_http_client_ids = true",
                "oauth.danger_http_client_ids",
            ),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(&format!("`{key}`")), "{text:?} gave {err}");
        }
        assert!(parse("[oauth]\nmax_lifetim = \"1h\"").is_err());
    }
}
