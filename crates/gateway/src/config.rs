//! Gateway configuration in two stages: raw TOML structs, then validated types.
//!
//! Every error names the key and the problem, so a bad file is refused at start.

use mandate_core::{Override, ToolClass, ToolName};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod approvals;
mod breaker;
mod catalog;
mod oauth;
mod otel;
pub use approvals::{ApprovalsConfig, Approver, DEFAULT_APPROVAL_TIMEOUT};
pub use breaker::BreakerConfig;
pub use catalog::{CatalogConfig, NewTools};
pub use oauth::{
    ClientIdSchemes, ClientSecret, DEFAULT_SUBJECT_PREFIX, HumanClaim, IssuerSchemes, OAuthConfig,
    OidcConfig, Registration,
};
pub use otel::OtelConfig;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown or mistyped keys.
    #[error("config file `{path}`: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What the parser said, with the key and line.
        message: String,
    },
    /// A key holds a value that is not allowed.
    #[error("config key `{key}`: {problem}")]
    Invalid {
        /// The key, e.g. `upstream[1].name`.
        key: String,
        /// What is wrong.
        problem: String,
    },
}

fn invalid(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        problem: problem.into(),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    public_url: Option<String>,
    node: Option<String>,
    policy_dir: Option<PathBuf>,
    max_body_bytes: Option<u64>,
    max_in_flight: Option<u64>,
    token_ttl: Option<String>,
    max_delegation_depth: Option<u32>,
    #[serde(default)]
    upstream: Vec<RawUpstream>,
    #[serde(default)]
    tools: BTreeMap<String, RawToolOverride>,
    #[serde(default)]
    audit: RawAudit,
    #[serde(default)]
    sensitivity: mandate_audit::detect::RawSensitivityPolicy,
    otel: Option<otel::RawOtel>,
    #[serde(default)]
    catalog: catalog::RawCatalog,
    #[serde(default)]
    approvals: approvals::RawApprovals,
    oauth: Option<oauth::RawOAuth>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    checkpoint_every: Option<u64>,
    checkpoint_interval: Option<String>,
    checkpoint_file: Option<PathBuf>,
    checkpoint_url: Option<String>,
    origin: Option<String>,
    record_arguments: Option<bool>,
    keyed_digests: Option<bool>,
}

/// How the audit log is checkpointed.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// Sign a checkpoint once this many events have been appended since the last one.
    pub checkpoint_every: u64,
    /// ... or this long has passed with new events.
    pub checkpoint_interval: Duration,
    /// Append every signed checkpoint to this file too (publish it outside the store).
    pub checkpoint_file: Option<PathBuf>,
    /// POST every signed checkpoint (as `text/plain`) to this URL too: a witness or a
    /// collector the gateway's operators do not control.
    pub checkpoint_url: Option<reqwest::Url>,
    /// The log's name in its checkpoints.
    pub origin: String,
    /// Keep each call's arguments in its decision event (with detected secrets redacted).
    pub record_arguments: bool,
    /// Digest arguments and results with HMAC-SHA256 under a key in the data directory.
    pub keyed_digests: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUpstream {
    name: Option<String>,
    command: Option<Vec<String>>,
    url: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    headers: Option<BTreeMap<String, String>>,
    timeout: Option<String>,
    breaker_failures: Option<u32>,
    breaker_retry: Option<String>,
    breaker_retry_max: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToolOverride {
    class: Option<String>,
    destructive: Option<bool>,
    open_world: Option<bool>,
}

/// How Mandate reaches an upstream MCP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamTransport {
    /// A child process speaking MCP on stdio.
    Stdio {
        /// The program.
        program: String,
        /// Its arguments.
        args: Vec<String>,
        /// Extra environment for it (Mandate's credentials for the upstream).
        env: BTreeMap<String, String>,
    },
    /// A streamable-HTTP MCP endpoint.
    Http {
        /// The endpoint URL.
        url: String,
        /// Headers Mandate sends (its own credentials); never the agent's token.
        headers: BTreeMap<String, String>,
    },
}

/// One upstream MCP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamConfig {
    /// Its name: tools appear to agents as `name.tool`.
    pub name: String,
    /// How to reach it.
    pub transport: UpstreamTransport,
    /// How long one request to it may take before the agent is told it failed.
    pub call_timeout: Duration,
    /// When calls to it stop being tried after connection failures, and when it is retried.
    pub breaker: BreakerConfig,
}

/// The validated gateway configuration.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Where `mandate serve` listens.
    pub listen: SocketAddr,
    /// The gateway's public base URL; tokens are bound to `{public_url}/mcp`.
    pub public_url: String,
    /// This node's name in audit events.
    pub node: String,
    /// The operator's Cedar policy folder, if any.
    pub policy_dir: Option<PathBuf>,
    /// The largest request body accepted.
    pub max_body_bytes: usize,
    /// MCP requests served at once; more are refused at once with 503 and `Retry-After`.
    pub max_in_flight: usize,
    /// How long an access token lives (never past its mandate).
    pub token_ttl: Duration,
    /// The most hand-offs a root mandate allows below it.
    pub max_delegation_depth: u32,
    /// The upstream servers, in file order.
    pub upstreams: Vec<UpstreamConfig>,
    /// The operator's blast-radius overrides, by `upstream.tool`.
    pub overrides: BTreeMap<ToolName, Override>,
    /// Audit checkpoints.
    pub audit: AuditConfig,
    /// What to do with credentials and personal data found in calls and results.
    pub sensitivity: mandate_audit::SensitivityPolicy,
    /// OpenTelemetry export of tool-call spans, when `[otel]` is set.
    pub otel: Option<OtelConfig>,
    /// How tool definitions are pinned (`[catalog]`).
    pub catalog: CatalogConfig,
    /// Who approves held calls, and how long calls wait for them.
    pub approvals: ApprovalsConfig,
    /// The OAuth authorization server (`[oauth]`).
    pub oauth: OAuthConfig,
}

impl GatewayConfig {
    /// The default listen address.
    pub const DEFAULT_LISTEN: &'static str = "127.0.0.1:7070";

    /// Reads and validates a config file; relative paths in it are resolved
    /// against the file's folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base).map_err(|e| match e {
            ConfigError::Syntax { message, .. } => ConfigError::Syntax {
                path: path.to_owned(),
                message,
            },
            other => other,
        })
    }

    /// Parses config text; `base` resolves relative paths.
    pub fn parse(text: &str, base: &Path) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: PathBuf::from("<config>"),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        validate(raw, base)
    }

    /// The audience tokens must carry: this gateway's MCP endpoint.
    pub fn audience(&self) -> String {
        format!("{}/mcp", self.public_url)
    }

    /// The issuer tokens carry: this gateway's base URL.
    pub fn issuer(&self) -> String {
        self.public_url.clone()
    }
}

fn validate(raw: RawConfig, base: &Path) -> Result<GatewayConfig, ConfigError> {
    let listen_text = raw
        .listen
        .unwrap_or_else(|| GatewayConfig::DEFAULT_LISTEN.to_owned());
    let listen: SocketAddr = listen_text.parse().map_err(|_| {
        invalid(
            "listen",
            format!("`{listen_text}` is not an address like `127.0.0.1:7070`"),
        )
    })?;
    let public_url = match raw.public_url {
        Some(url) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(invalid(
                    "public_url",
                    format!("`{url}` must start with http:// or https://"),
                ));
            }
            url.trim_end_matches('/').to_owned()
        }
        None => format!("http://{listen}"),
    };
    let node = raw.node.unwrap_or_else(|| "gw-1".to_owned());
    if node.is_empty() {
        return Err(invalid("node", "must not be empty"));
    }
    let max_body_bytes = match raw.max_body_bytes {
        None => 4 * 1024 * 1024,
        Some(0) => return Err(invalid("max_body_bytes", "must be above zero")),
        Some(n) => usize::try_from(n).map_err(|_| invalid("max_body_bytes", "is too large"))?,
    };
    let max_in_flight = match raw.max_in_flight {
        None => 1024,
        Some(0) => return Err(invalid("max_in_flight", "must be above zero")),
        Some(n) => usize::try_from(n).map_err(|_| invalid("max_in_flight", "is too large"))?,
    };
    let token_ttl = match raw.token_ttl {
        None => Duration::from_secs(15 * 60),
        Some(text) => parse_duration(&text).map_err(|p| invalid("token_ttl", p))?,
    };
    let max_delegation_depth = raw.max_delegation_depth.unwrap_or(4);
    if max_delegation_depth > 16 {
        return Err(invalid("max_delegation_depth", "must be at most 16"));
    }
    let upstreams = validate_upstreams(raw.upstream, base)?;
    let overrides = validate_overrides(raw.tools, &upstreams)?;
    let policy_dir = raw.policy_dir.map(|p| base.join(p));
    let audit = validate_audit(raw.audit, base, &public_url, &node)?;
    // The error already names the full key (`sensitivity.labels.emial`).
    let sensitivity = mandate_audit::SensitivityPolicy::try_from(raw.sensitivity)
        .map_err(|e| invalid("sensitivity", e.to_string()))?;
    let otel = raw.otel.map(otel::validate).transpose()?;
    let catalog = catalog::validate(raw.catalog)?;
    let approvals = approvals::validate(raw.approvals)?;
    let oauth = oauth::validate(raw.oauth.unwrap_or_default(), base)?;
    Ok(GatewayConfig {
        listen,
        public_url,
        node,
        policy_dir,
        max_body_bytes,
        max_in_flight,
        token_ttl,
        max_delegation_depth,
        upstreams,
        overrides,
        audit,
        sensitivity,
        otel,
        catalog,
        approvals,
        oauth,
    })
}

fn validate_audit(
    raw: RawAudit,
    base: &Path,
    public_url: &str,
    node: &str,
) -> Result<AuditConfig, ConfigError> {
    let checkpoint_every = match raw.checkpoint_every {
        None => 1000,
        Some(0) => return Err(invalid("audit.checkpoint_every", "must be above zero")),
        Some(n) => n,
    };
    let checkpoint_interval = match raw.checkpoint_interval {
        None => Duration::from_secs(10),
        Some(text) => parse_duration(&text).map_err(|p| invalid("audit.checkpoint_interval", p))?,
    };
    let host = public_url.split("://").nth(1).unwrap_or(public_url);
    let origin = raw.origin.unwrap_or_else(|| format!("{host}/{node}"));
    // The origin also names the signing key, so it must be a valid signed-note key name.
    mandate_audit::NoteSigner::check_name(&origin)
        .map_err(|e| invalid("audit.origin", e.to_string()))?;
    let checkpoint_url = match raw.checkpoint_url {
        None => None,
        Some(text) => match reqwest::Url::parse(&text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => Some(url),
            Ok(_) => return Err(invalid("audit.checkpoint_url", "must be an http(s) URL")),
            Err(e) => return Err(invalid("audit.checkpoint_url", e.to_string())),
        },
    };
    Ok(AuditConfig {
        checkpoint_every,
        checkpoint_interval,
        checkpoint_file: raw.checkpoint_file.map(|p| base.join(p)),
        checkpoint_url,
        origin,
        record_arguments: raw.record_arguments.unwrap_or(false),
        keyed_digests: raw.keyed_digests.unwrap_or(false),
    })
}

/// How long a request to an upstream may take unless its `timeout` says otherwise.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

fn validate_upstreams(
    raw: Vec<RawUpstream>,
    base: &Path,
) -> Result<Vec<UpstreamConfig>, ConfigError> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, up) in raw.into_iter().enumerate() {
        let key = |field: &str| format!("upstream[{i}].{field}");
        let name = up.name.ok_or_else(|| invalid(key("name"), "is required"))?;
        let name_ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            return Err(invalid(
                key("name"),
                format!("`{name}` may only hold letters, digits, `-` and `_`"),
            ));
        }
        if name == "mandate" {
            return Err(invalid(
                key("name"),
                "`mandate` is reserved for the gateway's own tools",
            ));
        }
        if !seen.insert(name.clone()) {
            return Err(invalid(key("name"), format!("`{name}` is used twice")));
        }
        let transport = match (up.command, up.url) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    key("command"),
                    "give either `command` or `url`, not both",
                ));
            }
            (None, None) => {
                return Err(invalid(
                    key("command"),
                    "give either `command` (stdio) or `url` (HTTP)",
                ));
            }
            (Some(command), None) => {
                let mut parts = command.into_iter();
                let program = parts
                    .next()
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| invalid(key("command"), "must name a program"))?;
                // A relative program path with a slash is relative to the config file.
                let program = if program.contains('/') && Path::new(&program).is_relative() {
                    base.join(&program).to_string_lossy().into_owned()
                } else {
                    program
                };
                UpstreamTransport::Stdio {
                    program,
                    args: parts.collect(),
                    env: up.env,
                }
            }
            (None, Some(url)) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(invalid(
                        key("url"),
                        format!("`{url}` must start with http:// or https://"),
                    ));
                }
                UpstreamTransport::Http {
                    url,
                    headers: up.headers.unwrap_or_default(),
                }
            }
        };
        let call_timeout = match up.timeout {
            None => DEFAULT_UPSTREAM_TIMEOUT,
            Some(text) => match parse_duration(&text) {
                Ok(d) if !d.is_zero() => d,
                Ok(_) => return Err(invalid(key("timeout"), "must be above zero")),
                Err(problem) => return Err(invalid(key("timeout"), problem)),
            },
        };
        let raw_breaker = breaker::RawBreaker {
            failures: up.breaker_failures,
            retry: up.breaker_retry,
            retry_max: up.breaker_retry_max,
        };
        let breaker = breaker::validate(raw_breaker, key)?;
        out.push(UpstreamConfig {
            name,
            transport,
            call_timeout,
            breaker,
        });
    }
    Ok(out)
}

fn validate_overrides(
    raw: BTreeMap<String, RawToolOverride>,
    upstreams: &[UpstreamConfig],
) -> Result<BTreeMap<ToolName, Override>, ConfigError> {
    let mut out = BTreeMap::new();
    for (name, o) in raw {
        let key = format!("tools.\"{name}\"");
        let tool = ToolName::new(name.clone()).map_err(|e| invalid(&key, e.to_string()))?;
        if !upstreams.iter().any(|u| u.name == tool.upstream()) {
            return Err(invalid(
                &key,
                format!("no upstream is named `{}`", tool.upstream()),
            ));
        }
        let class = match o.class {
            None => None,
            Some(c) => Some(
                c.parse::<ToolClass>()
                    .map_err(|e| invalid(format!("{key}.class"), e.to_string()))?,
            ),
        };
        out.insert(
            tool,
            Override {
                class,
                destructive: o.destructive,
                open_world: o.open_world,
            },
        );
    }
    Ok(out)
}

/// Parses `90s`, `15m`, `8h`, `7d` (or a bare number of seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like `30m`, `8h` or `7d`"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => {
            return Err(format!(
                "`{text}` has unknown unit `{unit}`: use s, m, h or d"
            ));
        }
    };
    if secs == 0 {
        return Err(format!("`{text}` must be longer than zero"));
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<GatewayConfig, ConfigError> {
        GatewayConfig::parse(text, Path::new("/etc/mandate"))
    }

    #[test]
    fn every_table_but_the_upstreams_may_be_left_out() {
        let c = parse("[[upstream]]\nname = \"crm\"\ncommand = [\"server\"]\n").unwrap();
        assert_eq!(c.upstreams.len(), 1);
        assert_eq!(c.approvals.timeout, DEFAULT_APPROVAL_TIMEOUT);
        assert!(parse("").is_ok(), "an empty file is a valid config");
    }

    #[test]
    fn example_from_the_issue_parses() {
        let c = parse(
            r#"
            [[upstream]]
            name = "crm"
            command = ["path/to/server", "--flag"]
            [[upstream]]
            name = "docs"
            url = "http://127.0.0.1:9000/mcp"
            [tools."crm.purge_customers"]
            class = "write"
            destructive = true
            "#,
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:7070");
        assert_eq!(c.audience(), "http://127.0.0.1:7070/mcp");
        assert_eq!(c.upstreams.len(), 2);
        assert!(
            matches!(&c.upstreams[0].transport, UpstreamTransport::Stdio { program, .. } if program == "/etc/mandate/path/to/server")
        );
        let o = c.overrides[&ToolName::new("crm.purge_customers").unwrap()];
        assert_eq!(o.class, Some(ToolClass::Write));
        assert_eq!(o.destructive, Some(true));
        assert_eq!(c.max_body_bytes, 4 * 1024 * 1024);
    }

    #[test]
    fn bad_configs_name_the_key() {
        let cases = [
            ("listen = \"nowhere\"", "listen"),
            ("[[upstream]]\ncommand = [\"x\"]", "upstream[0].name"),
            (
                "[[upstream]]\nname = \"a\"\n[[upstream]]\nname = \"a\"\ncommand=[\"x\"]",
                "upstream[0].command",
            ),
            (
                "[[upstream]]\nname = \"a\"\ncommand=[\"x\"]\n[[upstream]]\nname = \"a\"\ncommand=[\"x\"]",
                "upstream[1].name",
            ),
            (
                "[[upstream]]\nname = \"a b\"\ncommand=[\"x\"]",
                "upstream[0].name",
            ),
            (
                "[[upstream]]\nname = \"a\"\nurl=\"ftp://x\"",
                "upstream[0].url",
            ),
            (
                "[[upstream]]\nname = \"a\"\ncommand=[\"x\"]\n[tools.\"a.t\"]\nclass = \"admin\"",
                "tools.\"a.t\".class",
            ),
            (
                "[[upstream]]\nname = \"a\"\ncommand=[\"x\"]\n[tools.\"b.t\"]\nclass = \"read\"",
                "tools.\"b.t\"",
            ),
            ("token_ttl = \"5 parsecs\"", "token_ttl"),
        ];
        for (text, key) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(&format!("`{key}`")), "{text:?} gave {err}");
        }
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let err = parse("lisen = \"127.0.0.1:1\"").unwrap_err().to_string();
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("8h").unwrap(), Duration::from_secs(8 * 3600));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("h").is_err());
    }
}
