//! The `[catalog]` table: whether tools seen for the first time are trusted or wait.
//!
//! A *changed* definition always waits for an operator; only first sight is configurable.

use super::{ConfigError, invalid};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCatalog {
    new_tools: Option<String>,
}

/// What happens to a tool the first time an upstream offers it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NewTools {
    /// Pin its definition and let it be called, like SSH's known hosts (the default).
    /// A definition flagged as suspicious waits all the same.
    #[default]
    Trust,
    /// Withhold it until an operator accepts it (`mandate tools accept`).
    Hold,
}

/// How the catalog treats tool definitions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CatalogConfig {
    /// First sight: trust or hold.
    pub new_tools: NewTools,
}

pub(super) fn validate(raw: RawCatalog) -> Result<CatalogConfig, ConfigError> {
    let new_tools = match raw.new_tools.as_deref() {
        None | Some("trust") => NewTools::Trust,
        Some("hold") => NewTools::Hold,
        Some(other) => {
            return Err(invalid(
                "catalog.new_tools",
                format!("`{other}` is not `trust` or `hold`"),
            ));
        }
    };
    Ok(CatalogConfig { new_tools })
}

#[cfg(test)]
mod tests {
    use crate::config::GatewayConfig;
    use std::path::Path;

    #[test]
    fn new_tools_is_trust_by_default_hold_on_request_and_nothing_else() {
        let parse = |text: &str| GatewayConfig::parse(text, Path::new("."));
        let default = parse("").unwrap();
        assert_eq!(default.catalog.new_tools, super::NewTools::Trust);
        let hold = parse("[catalog]\nnew_tools = \"hold\"").unwrap();
        assert_eq!(hold.catalog.new_tools, super::NewTools::Hold);
        let err = parse("[catalog]\nnew_tools = \"maybe\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`catalog.new_tools`") && err.contains("`maybe`"),
            "{err}"
        );
        let typo = parse("[catalog]\nnew_tool = \"hold\"")
            .unwrap_err()
            .to_string();
        assert!(typo.contains("new_tool"), "{typo}");
    }
}
