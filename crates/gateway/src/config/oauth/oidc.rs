//! `[oauth.oidc]`: an external OpenID Connect provider people may sign in with beside the
//! local users, and which of its claims becomes their Mandate human id.

use crate::config::{ConfigError, invalid};
use mandate_core::HumanId;
use reqwest::Url;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// The prefix of human ids taken from `sub` unless `subject_prefix` says otherwise.
pub const DEFAULT_SUBJECT_PREFIX: &str = "oidc:";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOidc {
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret_file: Option<PathBuf>,
    client_secret_env: Option<String>,
    name: Option<String>,
    human_claim: Option<String>,
    subject_prefix: Option<String>,
    danger_http_loopback_issuer: Option<bool>,
}

/// Which claim of the ID token names the human.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HumanClaim {
    /// `email`, only when the provider says `email_verified: true` (the default).
    VerifiedEmail,
    /// `sub`, the provider's stable subject id, after a prefix that keeps these humans
    /// apart from local users.
    Subject {
        /// Put before the subject, e.g. `oidc:`.
        prefix: String,
    },
}

/// Which issuer URLs are allowed (the provider's endpoints are held to the same rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuerSchemes {
    /// `https://` only (the default).
    HttpsOnly,
    /// Also `http://` on a loopback address (`danger_http_loopback_issuer = true`): a test
    /// provider on this machine. Never in production.
    DangerAlsoLoopbackHttp,
}

impl IssuerSchemes {
    /// Whether `url` may be used under this rule.
    pub fn allows(self, url: &Url) -> bool {
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        match (url.scheme(), self) {
            ("https", _) => true,
            ("http", Self::DangerAlsoLoopbackHttp) => loopback,
            _ => false,
        }
    }
}

/// The client secret Mandate holds at the provider. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// The secret, to send to the provider's token endpoint.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(…)")
    }
}

/// The validated `[oauth.oidc]` table.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The issuer identifier, exactly as the provider's metadata must repeat it.
    pub issuer: String,
    /// Mandate's client id at the provider.
    pub client_id: String,
    /// Mandate's client secret at the provider (read from a file or the environment).
    pub client_secret: ClientSecret,
    /// Shown on the sign-in button: "Sign in with {name}".
    pub name: String,
    /// Which claim names the human.
    pub human: HumanClaim,
    /// Which issuer and endpoint URLs are allowed.
    pub schemes: IssuerSchemes,
}

pub(super) fn validate(raw: RawOidc, base: &Path) -> Result<OidcConfig, ConfigError> {
    let schemes = match raw.danger_http_loopback_issuer {
        Some(true) => IssuerSchemes::DangerAlsoLoopbackHttp,
        Some(false) | None => IssuerSchemes::HttpsOnly,
    };
    let issuer = raw
        .issuer
        .ok_or_else(|| invalid("oauth.oidc.issuer", "is required"))?;
    let url = Url::parse(&issuer).map_err(|e| invalid("oauth.oidc.issuer", e.to_string()))?;
    if !schemes.allows(&url) {
        let why = "must be an https:// URL (`danger_http_loopback_issuer` allows http://127.0.0.1 for tests)";
        return Err(invalid("oauth.oidc.issuer", why));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(invalid(
            "oauth.oidc.issuer",
            "must have no query, fragment or credentials",
        ));
    }
    let client_id = raw
        .client_id
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| invalid("oauth.oidc.client_id", "is required"))?;
    let client_secret = secret(raw.client_secret_file, raw.client_secret_env, base)?;
    let name = match raw.name {
        Some(n) if n.trim().is_empty() => {
            return Err(invalid("oauth.oidc.name", "must not be empty"));
        }
        Some(n) => n.trim().to_owned(),
        None => url.host_str().unwrap_or("OpenID Connect").to_owned(),
    };
    let human = human_claim(raw.human_claim.as_deref(), raw.subject_prefix)?;
    Ok(OidcConfig {
        issuer,
        client_id,
        client_secret,
        name,
        human,
        schemes,
    })
}

/// The secret from exactly one of `client_secret_file` and `client_secret_env`; never
/// inline in the config file.
fn secret(
    file: Option<PathBuf>,
    env: Option<String>,
    base: &Path,
) -> Result<ClientSecret, ConfigError> {
    let (key, text) = match (file, env) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "oauth.oidc.client_secret_file",
                "give either `client_secret_file` or `client_secret_env`, not both",
            ));
        }
        (None, None) => {
            return Err(invalid(
                "oauth.oidc.client_secret_file",
                "is required (or `client_secret_env`)",
            ));
        }
        (Some(file), None) => {
            let path = base.join(file);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                invalid(
                    "oauth.oidc.client_secret_file",
                    format!("cannot read `{}`: {e}", path.display()),
                )
            })?;
            ("oauth.oidc.client_secret_file", text)
        }
        (None, Some(var)) => {
            let text = std::env::var(&var).map_err(|_| {
                invalid(
                    "oauth.oidc.client_secret_env",
                    format!("the environment variable `{var}` is not set"),
                )
            })?;
            ("oauth.oidc.client_secret_env", text)
        }
    };
    let secret = text.trim_end_matches(['\n', '\r']);
    if secret.is_empty() {
        return Err(invalid(key, "the secret is empty"));
    }
    Ok(ClientSecret(secret.to_owned()))
}

fn human_claim(claim: Option<&str>, prefix: Option<String>) -> Result<HumanClaim, ConfigError> {
    match (claim.unwrap_or("email"), prefix) {
        ("email", None) => Ok(HumanClaim::VerifiedEmail),
        ("email", Some(_)) => Err(invalid(
            "oauth.oidc.subject_prefix",
            "applies only with `human_claim = \"sub\"`",
        )),
        ("sub", prefix) => {
            let prefix = prefix.unwrap_or_else(|| DEFAULT_SUBJECT_PREFIX.to_owned());
            if prefix.is_empty() {
                let why =
                    "must not be empty: it keeps the provider's people apart from local users";
                return Err(invalid("oauth.oidc.subject_prefix", why));
            }
            HumanId::new(format!("{prefix}x"))
                .map_err(|e| invalid("oauth.oidc.subject_prefix", e.to_string()))?;
            Ok(HumanClaim::Subject { prefix })
        }
        (other, _) => Err(invalid(
            "oauth.oidc.human_claim",
            format!("`{other}` is not `email` or `sub`"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GatewayConfig;

    fn parse_in(dir: &Path, table: &str) -> Result<OidcConfig, ConfigError> {
        let text = format!("[oauth.oidc]\n{table}");
        GatewayConfig::parse(&text, dir).map(|c| c.oauth.oidc.expect("an [oauth.oidc]"))
    }

    fn with_secret_file() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("oidc.secret"), "s3cret-value\n").unwrap();
        dir
    }

    const MINIMAL: &str = "issuer = \"https://login.example.com\"\nclient_id = \"mandate\"\nclient_secret_file = \"oidc.secret\"\n";

    #[test]
    fn a_minimal_table_takes_verified_email_and_names_the_button_after_the_host() {
        let dir = with_secret_file();
        let c = parse_in(dir.path(), MINIMAL).unwrap();
        assert_eq!(c.issuer, "https://login.example.com");
        assert_eq!(c.client_secret.expose(), "s3cret-value");
        assert_eq!(c.name, "login.example.com");
        assert_eq!(c.human, HumanClaim::VerifiedEmail);
        assert_eq!(c.schemes, IssuerSchemes::HttpsOnly);
        assert!(
            !format!("{c:?}").contains("s3cret"),
            "the secret is never logged"
        );
        let none = GatewayConfig::parse("[oauth]\n", dir.path()).unwrap();
        assert!(none.oauth.oidc.is_none(), "the provider is optional");
    }

    #[test]
    fn subject_ids_get_a_prefix() {
        let dir = with_secret_file();
        let c = parse_in(dir.path(), &format!("{MINIMAL}human_claim = \"sub\"")).unwrap();
        assert_eq!(
            c.human,
            HumanClaim::Subject {
                prefix: DEFAULT_SUBJECT_PREFIX.into()
            }
        );
        let table = format!(
            "{MINIMAL}human_claim = \"sub\"\nsubject_prefix = \"okta:\"\nname = \"Corp SSO\""
        );
        let c = parse_in(dir.path(), &table).unwrap();
        assert_eq!(
            c.human,
            HumanClaim::Subject {
                prefix: "okta:".into()
            }
        );
        assert_eq!(c.name, "Corp SSO");
    }

    #[test]
    fn http_issuers_need_the_danger_flag_and_loopback() {
        let dir = with_secret_file();
        let http = MINIMAL.replace("https://login.example.com", "http://127.0.0.1:4000");
        let err = parse_in(dir.path(), &http).unwrap_err().to_string();
        assert!(err.contains("`oauth.oidc.issuer`"), "{err}");
        let c = parse_in(
            dir.path(),
            &format!("{http}danger_http_loopback_issuer = true"),
        )
        .unwrap();
        assert_eq!(c.schemes, IssuerSchemes::DangerAlsoLoopbackHttp);
        let remote = MINIMAL.replace("https://login.example.com", "http://login.example.com");
        let err = parse_in(
            dir.path(),
            &format!("{remote}danger_http_loopback_issuer = true"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`oauth.oidc.issuer`"), "{err}");
    }

    #[test]
    fn bad_oidc_keys_are_named() {
        let dir = with_secret_file();
        std::fs::write(dir.path().join("empty.secret"), "\n").unwrap();
        let cases = [
            (
                "client_id = \"m\"\nclient_secret_file = \"oidc.secret\"",
                "oauth.oidc.issuer",
            ),
            (
                &MINIMAL.replace("https://login.example.com", "login.example.com"),
                "oauth.oidc.issuer",
            ),
            (
                &MINIMAL.replace("login.example.com", "login.example.com/?tenant=1"),
                "oauth.oidc.issuer",
            ),
            (
                &MINIMAL.replace("client_id = \"mandate\"\n", ""),
                "oauth.oidc.client_id",
            ),
            (
                &MINIMAL.replace("client_secret_file = \"oidc.secret\"\n", ""),
                "oauth.oidc.client_secret_file",
            ),
            (
                &MINIMAL.replace("oidc.secret", "missing.secret"),
                "oauth.oidc.client_secret_file",
            ),
            (
                &MINIMAL.replace("oidc.secret", "empty.secret"),
                "oauth.oidc.client_secret_file",
            ),
            (
                &format!("{MINIMAL}client_secret_env = \"X\""),
                "oauth.oidc.client_secret_file",
            ),
            (
                &MINIMAL.replace(
                    "client_secret_file = \"oidc.secret\"",
                    "client_secret_env = \"MANDATE_TEST_UNSET_OIDC_SECRET\"",
                ),
                "oauth.oidc.client_secret_env",
            ),
            (
                &format!("{MINIMAL}human_claim = \"name\""),
                "oauth.oidc.human_claim",
            ),
            (
                &format!("{MINIMAL}subject_prefix = \"x:\""),
                "oauth.oidc.subject_prefix",
            ),
            (
                &format!("{MINIMAL}human_claim = \"sub\"\nsubject_prefix = \"\""),
                "oauth.oidc.subject_prefix",
            ),
            (
                &format!("{MINIMAL}human_claim = \"sub\"\nsubject_prefix = \"a b\""),
                "oauth.oidc.subject_prefix",
            ),
            (&format!("{MINIMAL}name = \" \""), "oauth.oidc.name"),
        ];
        for (table, key) in cases {
            let err = parse_in(dir.path(), table).unwrap_err().to_string();
            assert!(err.contains(&format!("`{key}`")), "{table:?} gave {err}");
        }
        let err = parse_in(dir.path(), &format!("{MINIMAL}client_secret = \"inline\""))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("client_secret"),
            "an inline secret is refused: {err}"
        );
    }
}
