//! What crosses the gateway, looked at: the result's size, digest and sensitivity labels
//! (redacted or withheld as the operator's policy says), and the labels of arguments.
//!
//! Digests and sizes describe what the upstream returned; the agent may see less.

use crate::Gateway;
use crate::record::Outcome;
use crate::rescue::CallError;
use crate::upstream::UpstreamError;
use mandate_audit::{Action, detect};
use mandate_core::ToolClass;
use rmcp::model::{CallToolResult, JsonObject};

/// Arguments as the decision event records them.
pub(crate) struct ArgumentRecord {
    /// Labels found in them, qualified (`credential/aws_access_key`).
    pub(crate) labels: Vec<String>,
    /// The arguments with detected secrets redacted, when the operator keeps arguments.
    pub(crate) kept: Option<serde_json::Value>,
}

impl Gateway {
    /// Labels the arguments and, if configured, keeps a redacted copy for the log.
    pub(crate) fn inspect_arguments(&self, arguments: Option<&JsonObject>) -> ArgumentRecord {
        let Some(arguments) = arguments else {
            return ArgumentRecord {
                labels: Vec::new(),
                kept: None,
            };
        };
        let mut copy = serde_json::Value::Object(arguments.clone());
        // Redacting a copy both finds the labels and makes it safe to keep.
        let labels = detect::redact_json(&mut copy);
        ArgumentRecord {
            labels: labels.iter().map(|l| detect::qualified(l)).collect(),
            kept: self.config.audit.record_arguments.then_some(copy),
        }
    }

    /// Measures, labels and screens an upstream's answer; says what the agent gets.
    pub(crate) fn inspect_result(
        &self,
        class: ToolClass,
        upstream: &str,
        forwarded: Result<CallToolResult, UpstreamError>,
        latency_us: u64,
    ) -> (Outcome, Result<CallToolResult, CallError>) {
        let result = match forwarded {
            Ok(result) => result,
            Err(e) => {
                tracing::warn!(error = %e, upstream, "upstream call failed");
                let (why, error) = match e {
                    UpstreamError::Timeout(_) => ("upstream did not answer in time", None),
                    UpstreamError::Unavailable { retry_in, .. } => (
                        "upstream unavailable: not tried (breaker open)",
                        Some(retry_in),
                    ),
                    _ => ("upstream failed", None),
                };
                let upstream = upstream.to_owned();
                let error = match error {
                    Some(retry_in) => CallError::UpstreamPaused { upstream, retry_in },
                    None => CallError::Upstream { upstream },
                };
                return (Outcome::failed(latency_us, why), Err(error));
            }
        };
        let mut value = serde_json::to_value(&result).unwrap_or_default();
        let bytes = serde_json::to_vec(&value).unwrap_or_default();
        let screening = self.config.sensitivity.screen_json(class, &mut value);
        let mut outcome = Outcome {
            latency_us,
            result_digest: Some(self.digester.digest(&bytes)),
            result_size: u64::try_from(bytes.len()).ok(),
            error: result
                .is_error
                .unwrap_or(false)
                .then_some("tool reported an error"),
            labels: screening
                .labels
                .iter()
                .map(|l| detect::qualified(l))
                .collect(),
        };
        if screening.action == Action::Block {
            outcome.error = Some("result withheld");
            return (outcome, Err(CallError::Withheld(screening.labels)));
        }
        if screening.redacted.is_empty() {
            return (outcome, Ok(result));
        }
        // INVARIANT: fail closed: a redacted result that no longer parses is withheld whole.
        match serde_json::from_value::<CallToolResult>(value) {
            Ok(redacted) => (outcome, Ok(redacted)),
            Err(_) => {
                outcome.error = Some("result withheld");
                (outcome, Err(CallError::Withheld(screening.labels)))
            }
        }
    }
}
