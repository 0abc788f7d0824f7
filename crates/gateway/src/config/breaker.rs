//! An upstream's circuit-breaker keys: how many failures in a row open it, and how long
//! the gateway waits before it tries a dead upstream again.
//!
//! The keys sit in the `[[upstream]]` table beside `timeout`; all are optional.

use super::{ConfigError, invalid, parse_duration};
use std::time::Duration;

/// Connection failures in a row after which an upstream's breaker opens, by default.
pub const DEFAULT_BREAKER_FAILURES: u32 = 3;
/// How long an open breaker waits before its first probe, by default.
pub const DEFAULT_BREAKER_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between probes, by default; each failed probe doubles the wait up to it.
pub const DEFAULT_BREAKER_RETRY_MAX: Duration = Duration::from_secs(30);

/// When the gateway stops trying an unreachable upstream, and when it tries again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Connection or transport failures in a row that open the breaker (at least 1).
    pub failures: u32,
    /// How long the breaker stays open before one call probes the upstream.
    pub retry: Duration,
    /// The longest wait: each failed probe doubles the wait, up to this.
    pub retry_max: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failures: DEFAULT_BREAKER_FAILURES,
            retry: DEFAULT_BREAKER_RETRY,
            retry_max: DEFAULT_BREAKER_RETRY_MAX,
        }
    }
}

/// The three raw keys of one `[[upstream]]` table.
pub(super) struct RawBreaker {
    pub(super) failures: Option<u32>,
    pub(super) retry: Option<String>,
    pub(super) retry_max: Option<String>,
}

/// Validates the keys; `key` names a field of this upstream's table (`upstream[0].…`).
pub(super) fn validate(
    raw: RawBreaker,
    key: impl Fn(&str) -> String,
) -> Result<BreakerConfig, ConfigError> {
    let failures = match raw.failures {
        None => DEFAULT_BREAKER_FAILURES,
        Some(0) => return Err(invalid(key("breaker_failures"), "must be at least 1")),
        Some(n) => n,
    };
    let duration = |text: Option<String>, field: &str, default: Duration| match text {
        None => Ok(default),
        Some(text) => parse_duration(&text).map_err(|problem| invalid(key(field), problem)),
    };
    let retry = duration(raw.retry, "breaker_retry", DEFAULT_BREAKER_RETRY)?;
    let retry_max = duration(
        raw.retry_max,
        "breaker_retry_max",
        DEFAULT_BREAKER_RETRY_MAX.max(retry),
    )?;
    if retry_max < retry {
        return Err(invalid(
            key("breaker_retry_max"),
            "must be at least `breaker_retry`",
        ));
    }
    Ok(BreakerConfig {
        failures,
        retry,
        retry_max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GatewayConfig;
    use std::path::Path;

    fn breaker_of(keys: &str) -> Result<BreakerConfig, String> {
        let text = format!("[[upstream]]\nname = \"a\"\ncommand = [\"x\"]\n{keys}\n");
        GatewayConfig::parse(&text, Path::new("."))
            .map(|c| c.upstreams[0].breaker)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_breaker_keys_have_defaults_and_are_read_when_given() {
        assert_eq!(breaker_of("").unwrap(), BreakerConfig::default());
        let set =
            breaker_of("breaker_failures = 5\nbreaker_retry = \"2s\"\nbreaker_retry_max = \"1m\"")
                .unwrap();
        assert_eq!(
            set,
            BreakerConfig {
                failures: 5,
                retry: Duration::from_secs(2),
                retry_max: Duration::from_secs(60),
            }
        );
        // A first wait above the default longest wait raises the longest wait with it.
        let long = breaker_of("breaker_retry = \"2m\"").unwrap();
        assert_eq!(long.retry_max, Duration::from_secs(120));
    }

    #[test]
    fn bad_breaker_keys_are_refused_by_name() {
        for (keys, named) in [
            ("breaker_failures = 0", "upstream[0].breaker_failures"),
            ("breaker_retry = \"soon\"", "upstream[0].breaker_retry"),
            (
                "breaker_retry = \"10s\"\nbreaker_retry_max = \"5s\"",
                "upstream[0].breaker_retry_max",
            ),
        ] {
            let err = breaker_of(keys).unwrap_err();
            assert!(err.contains(named), "{keys}: {err}");
        }
    }
}
