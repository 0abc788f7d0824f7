//! Mandate's gateway: the MCP endpoint agents call, the upstreams it fronts, and the
//! governed path every tool call takes between them.
//!
//! Where a tool call is decided, in reading order:
//! [`principal`] (who is calling, on which mandate chain) → [`pipeline`]
//! (resolve tool → decide → [`approval`] when a human must agree → record → forward →
//! record) → [`rescue`] (what the agent sees when it fails). [`front`] adapts that to MCP; [`server`] puts the
//! layers together; [`governance`] holds the operator's actions (grant, revoke);
//! [`telemetry`] traces each call over OpenTelemetry when configured; [`pins`] withholds
//! tools whose definition is new, changed or suspicious ([`tool_review`]) until accepted.

pub mod approval;
pub mod catalog;
pub mod checkpoints;
pub mod config;
pub mod delegate_tool;
pub mod digest;
mod direct_call;
pub mod front;
pub mod governance;
mod inspect;
pub mod live_chains;
pub mod oauth;
pub mod pins;
pub mod pipeline;
pub mod principal;
mod record;
pub mod relay;
pub mod rescue;
mod scope_challenge;
pub mod server;
pub mod shed;
pub mod telemetry;
pub mod tool_review;
pub mod upstream;

use catalog::{Catalog, SharedCatalog};
use config::GatewayConfig;
use mandate_auth::{TokenIssuer, TokenKey, TokenVerifier};
use mandate_core::Timestamp;
use mandate_policy::{OrgPolicy, PolicyError};
use mandate_store::{SqliteStore, Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use upstream::{UpstreamError, Upstreams};

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The data directory could not be created.
    #[error("cannot use data directory `{path}`: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    /// The token signing key could not be loaded.
    #[error("cannot load the token signing key: {0}")]
    Key(#[from] mandate_auth::KeyError),
    /// The organisation's policies are invalid.
    #[error("organisation policy: {0}")]
    Policy(#[from] PolicyError),
    /// The listener could not be bound.
    #[error("cannot listen on `{addr}`: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Issues and checks the gateway's access tokens.
pub struct Tokens {
    /// Signs new tokens.
    pub issuer: TokenIssuer,
    /// Checks presented tokens.
    pub verifier: TokenVerifier,
}

/// Everything a running gateway holds.
pub struct Gateway {
    /// The validated configuration.
    pub config: GatewayConfig,
    /// Where mandates and the audit log live.
    pub store: Arc<dyn Store>,
    /// The organisation's Cedar policies.
    pub policy: OrgPolicy,
    /// The live tool catalog.
    pub catalog: SharedCatalog,
    /// Connections to the upstreams.
    pub upstreams: Upstreams,
    /// Access tokens.
    pub tokens: Tokens,
    /// Signs checkpoints of the audit log.
    pub checkpointer: checkpoints::Checkpointer,
    /// Makes the digests audit events record.
    pub digester: digest::Digester,
    /// Mandate chains between calls, until the store's liveness epoch moves.
    pub live_chains: live_chains::LiveChains,
    /// Tool-call spans over OTLP; off until [`telemetry::Telemetry::start`] replaces it.
    pub telemetry: telemetry::Telemetry,
    /// Which upstream serves which resource URI (see [`relay`]).
    pub resource_routes: relay::ResourceRoutes,
}

/// The current time. The core never reads a clock; the gateway, at the edge, does.
pub fn now() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Timestamp::from_millis(millis)
}

impl Gateway {
    /// Opens the store and key in `data_dir`, loads the policies; contacts no upstream yet.
    /// Upstream tool-list changes arrive on the returned receiver.
    pub fn open(
        config: GatewayConfig,
        data_dir: &Path,
    ) -> Result<(Self, tokio::sync::mpsc::UnboundedReceiver<String>), GatewayError> {
        std::fs::create_dir_all(data_dir).map_err(|source| GatewayError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let store = SqliteStore::open(&data_dir.join("mandate.db"))?;
        let key = TokenKey::load_or_create(&data_dir.join("keys"))?;
        let verifier =
            TokenVerifier::new(config.issuer(), config.audience(), vec![key.verifier_key()]);
        let issuer =
            TokenIssuer::new(key, config.issuer(), config.audience()).with_ttl(config.token_ttl);
        let policy = OrgPolicy::load(config.policy_dir.as_deref())?;
        let checkpointer = checkpoints::Checkpointer::open(&data_dir.join("keys"), &config.audit)?;
        let digester = if config.audit.keyed_digests {
            digest::Digester::keyed(&data_dir.join("keys"))?
        } else {
            digest::Digester::Plain
        };
        let (upstreams, changes) = Upstreams::new(&config.upstreams);
        let gateway = Self {
            config,
            store: Arc::new(store),
            policy,
            catalog: SharedCatalog::default(),
            upstreams,
            tokens: Tokens { issuer, verifier },
            checkpointer,
            digester,
            live_chains: live_chains::LiveChains::default(),
            telemetry: telemetry::Telemetry::off(),
            resource_routes: relay::ResourceRoutes::default(),
        };
        Ok((gateway, changes))
    }

    /// Lists every upstream's tools and rebuilds the catalog, checked against the pinned
    /// definitions (see [`pins`]). Upstreams that fail keep their previous tools out of
    /// the catalog and are reported.
    pub async fn refresh_catalog(&self) -> Vec<UpstreamError> {
        let mut listings = Vec::new();
        let mut failures = Vec::new();
        for name in self.upstreams.names() {
            match self.upstreams.list_tools(name).await {
                Ok(tools) => {
                    listings.push((name.to_owned(), tools));
                    self.note_relayed(name).await;
                }
                Err(e) => failures.push(e),
            }
        }
        let catalog = Catalog::build(
            listings.iter().map(|(n, t)| (n.as_str(), t.as_slice())),
            &self.config.overrides,
        );
        let catalog = self.apply_pins(catalog).await;
        self.catalog.replace(catalog);
        failures
    }
}
