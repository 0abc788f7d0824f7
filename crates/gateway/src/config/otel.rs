//! The `[otel]` table: where tool-call spans are exported, validated like the rest of the config.
//!
//! Only OTLP over HTTP with protobuf bodies is offered (no gRPC), so the endpoint is a base URL.

use super::{ConfigError, invalid, parse_duration};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOtel {
    endpoint: Option<String>,
    service_name: Option<String>,
    protocol: Option<String>,
    export_interval: Option<String>,
}

/// Where and how tool-call spans are exported (OTLP over HTTP with protobuf bodies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtelConfig {
    /// The full traces URL: the configured base endpoint with `/v1/traces` appended.
    pub traces_url: String,
    /// The `service.name` of the spans' resource.
    pub service_name: String,
    /// How often queued spans are sent; `None` keeps the SDK's default of 5 s
    /// (or `OTEL_BSP_SCHEDULE_DELAY`).
    pub export_interval: Option<Duration>,
}

pub(super) fn validate(raw: RawOtel) -> Result<OtelConfig, ConfigError> {
    let endpoint = raw
        .endpoint
        .ok_or_else(|| invalid("otel.endpoint", "is required in `[otel]`"))?;
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        return Err(invalid(
            "otel.endpoint",
            format!("`{endpoint}` must be an OTLP/HTTP base URL like `http://127.0.0.1:4318`"),
        ));
    }
    match raw.protocol.as_deref() {
        None | Some("http/protobuf") => {}
        Some(other) => {
            return Err(invalid(
                "otel.protocol",
                format!("`{other}` is not supported: use `http/protobuf`"),
            ));
        }
    }
    let service_name = raw.service_name.unwrap_or_else(|| "mandate".to_owned());
    if service_name.is_empty() {
        return Err(invalid("otel.service_name", "must not be empty"));
    }
    let export_interval = match raw.export_interval {
        None => None,
        Some(text) => Some(parse_duration(&text).map_err(|p| invalid("otel.export_interval", p))?),
    };
    Ok(OtelConfig {
        // As `OTEL_EXPORTER_OTLP_ENDPOINT`: a base URL, to which the signal's path is appended.
        traces_url: format!("{}/v1/traces", endpoint.trim_end_matches('/')),
        service_name,
        export_interval,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::GatewayConfig;
    use std::path::Path;
    use std::time::Duration;

    fn otel(text: &str) -> Result<Option<super::OtelConfig>, String> {
        GatewayConfig::parse(text, Path::new("/etc/mandate"))
            .map(|c| c.otel)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn otel_is_off_unless_configured() {
        assert_eq!(otel(""), Ok(None));
    }

    #[test]
    fn otel_endpoint_is_a_base_url() {
        let otel = otel("[otel]\nendpoint = \"http://127.0.0.1:4318/\"\nexport_interval = \"1s\"")
            .unwrap()
            .unwrap();
        assert_eq!(otel.traces_url, "http://127.0.0.1:4318/v1/traces");
        assert_eq!(otel.service_name, "mandate");
        assert_eq!(otel.export_interval, Some(Duration::from_secs(1)));
    }

    #[test]
    fn bad_otel_tables_name_the_key() {
        let cases = [
            ("[otel]\nservice_name = \"m\"", "otel.endpoint"),
            ("[otel]\nendpoint = \"localhost:4318\"", "otel.endpoint"),
            (
                "[otel]\nendpoint = \"http://c:4318\"\nprotocol = \"grpc\"",
                "otel.protocol",
            ),
            (
                "[otel]\nendpoint = \"http://c:4318\"\nservice_name = \"\"",
                "otel.service_name",
            ),
            (
                "[otel]\nendpoint = \"http://c:4318\"\nexport_interval = \"soon\"",
                "otel.export_interval",
            ),
        ];
        for (text, key) in cases {
            let err = otel(text).unwrap_err();
            assert!(err.contains(&format!("`{key}`")), "{text:?} gave {err}");
        }
        assert!(otel("[otel]\nendpoint = \"http://c\"\nheaders = 1").is_err());
    }
}
