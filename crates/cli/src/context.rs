//! What every subcommand shares: where the config and data live, and opening the gateway.
//!
//! Commands that change state run against the same SQLite file as a running `mandate serve`.

use anyhow::Context as _;
use mandate_gateway::Gateway;
use mandate_gateway::config::GatewayConfig;
use std::path::{Path, PathBuf};

/// Options every subcommand takes.
#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// The gateway's config file (default: `./mandate.toml` if it exists).
    #[arg(long, global = true, env = "MANDATE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the store and keys live.
    #[arg(
        long,
        global = true,
        env = "MANDATE_DATA_DIR",
        default_value = "./mandate-data"
    )]
    pub data_dir: PathBuf,
}

impl GlobalArgs {
    /// Loads the config: the named file, or `./mandate.toml`, or the defaults.
    pub fn load_config(&self) -> anyhow::Result<GatewayConfig> {
        match &self.config {
            Some(path) => Ok(GatewayConfig::load(path)?),
            None if Path::new("mandate.toml").exists() => {
                Ok(GatewayConfig::load(Path::new("mandate.toml"))?)
            }
            None => Ok(GatewayConfig::parse("", Path::new("."))?),
        }
    }

    /// Opens the gateway's state without contacting upstreams.
    pub fn open(&self) -> anyhow::Result<Gateway> {
        let config = self.load_config()?;
        let (gateway, _changes) = Gateway::open(config, &self.data_dir)
            .with_context(|| format!("cannot open data directory `{}`", self.data_dir.display()))?;
        Ok(gateway)
    }

    /// Opens the gateway and lists every upstream's tools.
    pub async fn open_with_catalog(&self) -> anyhow::Result<Gateway> {
        let gateway = self.open()?;
        for failure in gateway.refresh_catalog().await {
            eprintln!("warning: {failure}");
        }
        Ok(gateway)
    }
}
