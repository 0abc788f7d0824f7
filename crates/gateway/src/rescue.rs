//! One exhaustive mapping from a call's failure to the JSON-RPC error an agent sees.
//!
//! It never echoes internal error text: details go to the log and the audit log.

use mandate_core::Decision;
use rmcp::ErrorData;
use serde_json::json;

/// JSON-RPC error code for a call Mandate refused.
pub const DENIED: i32 = -32003;
/// JSON-RPC error code for an upstream that failed or is unreachable.
pub const UPSTREAM_UNAVAILABLE: i32 = -32004;
/// JSON-RPC error code for a call that must wait for a human's approval.
pub const NEEDS_APPROVAL: i32 = -32005;
/// JSON-RPC error code for a result withheld because of what it contained.
pub const WITHHELD: i32 = -32006;

/// Why a tool call did not produce a result.
#[derive(Debug)]
pub enum CallError {
    /// The decision was not `allow`.
    Refused(Decision),
    /// The upstream could not be reached or failed.
    Upstream {
        /// Its name.
        upstream: String,
    },
    /// The upstream's breaker is open after connection failures: it was not contacted.
    UpstreamPaused {
        /// Its name.
        upstream: String,
        /// When a call will next be let through to try it; `None` while one is trying.
        retry_in: Option<std::time::Duration>,
    },
    /// The gateway could not record the decision, so it did not forward.
    NotRecorded,
    /// The request lacked its authenticated principal (a wiring fault).
    Unauthenticated,
    /// The tool's arguments are malformed; the text describes the agent's own input.
    BadArguments(String),
    /// The result held data the sensitivity policy blocks; the labels say what kind.
    Withheld(Vec<String>),
    /// A requested hand-off would widen its parent.
    DelegationRefused(Vec<mandate_core::Widening>),
    /// The call waits for a human; the client may retry with the approval id.
    AwaitingApproval(Box<crate::approval::AwaitingApproval>),
}

impl From<CallError> for ErrorData {
    fn from(error: CallError) -> Self {
        match error {
            CallError::Refused(Decision::Deny(reasons)) => {
                let texts: Vec<String> = reasons.iter().map(ToString::to_string).collect();
                ErrorData::new(
                    rmcp::model::ErrorCode(DENIED),
                    format!("denied by Mandate: {}", texts.join("; ")),
                    Some(json!({ "decision": "deny", "reasons": reasons })),
                )
            }
            CallError::Refused(Decision::NeedsApproval(rules)) => ErrorData::new(
                rmcp::model::ErrorCode(NEEDS_APPROVAL),
                format!("this call needs a human's approval: {}", rules.join("; ")),
                Some(json!({ "decision": "needs_approval", "rules": rules })),
            ),
            CallError::Refused(Decision::Allow) => ErrorData::internal_error(
                "the gateway refused an allowed call; see the gateway log",
                None,
            ),
            CallError::Upstream { upstream } => ErrorData::new(
                rmcp::model::ErrorCode(UPSTREAM_UNAVAILABLE),
                format!("upstream `{upstream}` is unavailable; try again later"),
                None,
            ),
            CallError::UpstreamPaused { upstream, retry_in } => {
                let when = match retry_in {
                    Some(wait) => format!("it will be tried again in {:.1} s", wait.as_secs_f64()),
                    None => "it is being tried again now".to_owned(),
                };
                let retry_after_ms = retry_in.map_or(0, |wait| {
                    u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)
                });
                ErrorData::new(
                    rmcp::model::ErrorCode(UPSTREAM_UNAVAILABLE),
                    format!(
                        "upstream `{upstream}` is unavailable: its connections failed, so Mandate is not trying it for now; {when}"
                    ),
                    Some(json!({ "upstream": upstream, "retry_after_ms": retry_after_ms })),
                )
            }
            CallError::NotRecorded => ErrorData::internal_error(
                "the gateway could not record this call, so it was not forwarded",
                None,
            ),
            CallError::Withheld(labels) => ErrorData::new(
                rmcp::model::ErrorCode(WITHHELD),
                format!(
                    "the tool's result was withheld by Mandate: it contained {}",
                    labels.join(", ")
                ),
                Some(json!({ "decision": "withheld", "labels": labels })),
            ),
            CallError::BadArguments(detail) => ErrorData::invalid_params(detail, None),
            CallError::DelegationRefused(widenings) => {
                let texts: Vec<String> = widenings.iter().map(ToString::to_string).collect();
                ErrorData::new(
                    rmcp::model::ErrorCode(DENIED),
                    format!("delegation refused by Mandate: {}", texts.join("; ")),
                    Some(json!({ "decision": "deny", "widenings": widenings })),
                )
            }
            CallError::AwaitingApproval(pending) => ErrorData::new(
                rmcp::model::ErrorCode(NEEDS_APPROVAL),
                format!(
                    "this call waits for a human's approval `{}`: {}",
                    pending.id,
                    pending.rules.join("; ")
                ),
                Some(json!({
                    "decision": "needs_approval",
                    "approval": pending.id,
                    "expires_at": pending.expires_at,
                    "rules": pending.rules,
                })),
            ),
            CallError::Unauthenticated => {
                ErrorData::invalid_request("this request is not authenticated", None)
            }
        }
    }
}
