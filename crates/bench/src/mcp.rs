//! One MCP `tools/call` on the stateless 2026-07-28 revision: the request a worker sends,
//! and the check that its answer (JSON or a server-sent event stream) is a successful result.

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

/// The MCP revision spoken: each POST stands alone (no `initialize`, no session).
pub const PROTOCOL_VERSION: &str = "2026-07-28";

/// A prepared `tools/call`: the same headers and body bytes for every call, since
/// stateless requests need no per-call state.
#[derive(Debug, Clone)]
pub struct ToolCall {
    tool: String,
    headers: HeaderMap,
    body: Bytes,
}

impl ToolCall {
    /// A call of `tool` (as the server names it, e.g. `get_report` or `demo.get_report`)
    /// without arguments.
    pub fn new(tool: &str) -> Self {
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {
                "name": tool,
                "arguments": {},
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": PROTOCOL_VERSION,
                    "io.modelcontextprotocol/clientCapabilities": {},
                    "io.modelcontextprotocol/clientInfo": {
                        "name": "mandate-bench",
                        "version": env!("CARGO_PKG_VERSION"),
                    },
                },
            },
        });
        let mut headers = HeaderMap::new();
        let fixed = [
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
            ("mcp-protocol-version", PROTOCOL_VERSION),
            ("mcp-method", "tools/call"),
        ];
        for (name, value) in fixed {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        // A tool name that is not a valid header value is sent without `mcp-name`; the
        // server then refuses the call, which the benchmark counts as an error.
        if let Ok(value) = HeaderValue::from_str(tool) {
            headers.insert(HeaderName::from_static("mcp-name"), value);
        }
        Self {
            tool: tool.to_owned(),
            headers,
            body: Bytes::from(body.to_string()),
        }
    }

    /// The tool's name.
    pub fn tool(&self) -> &str {
        &self.tool
    }

    pub(crate) fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    pub(crate) fn body(&self) -> Bytes {
        self.body.clone()
    }
}

/// What kind of failure a call met, as counted in [`crate::Sample::failures`]: enough to
/// tell load shedding (`http 503`) from an upstream that failed behind the gateway
/// (`rpc -32004`) from a connection that broke (`transport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailureClass {
    /// An HTTP status other than 200.
    Http(u16),
    /// A JSON-RPC error, by code.
    Rpc(i64),
    /// A result flagged `isError`.
    ToolError,
    /// A 200 answer that is not a usable JSON-RPC result.
    Malformed,
    /// No answer: the connection failed or the call timed out.
    Transport,
}

impl std::fmt::Display for FailureClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailureClass::Http(status) => write!(f, "http {status}"),
            FailureClass::Rpc(code) => write!(f, "rpc {code}"),
            FailureClass::ToolError => f.write_str("tool error"),
            FailureClass::Malformed => f.write_str("malformed"),
            FailureClass::Transport => f.write_str("transport"),
        }
    }
}

/// A failed call: its class and a description for the first-error line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What kind of failure.
    pub class: FailureClass,
    /// What went wrong, in words.
    pub detail: String,
}

impl Failure {
    fn new(class: FailureClass, detail: String) -> Self {
        Self { class, detail }
    }
}

/// Checks one HTTP answer to a `tools/call`: status 200, a JSON-RPC response with a
/// `result` that is not a tool error and has content. Returns why it is not, otherwise.
pub(crate) fn check_answer(status: u16, content_type: &str, body: &[u8]) -> Result<(), Failure> {
    let malformed = |detail: String| Failure::new(FailureClass::Malformed, detail);
    if status != 200 {
        return Err(Failure::new(
            FailureClass::Http(status),
            format!("HTTP {status}: {}", snippet(body)),
        ));
    }
    let message = if content_type.starts_with("text/event-stream") {
        response_in_stream(body).ok_or_else(|| {
            malformed(format!(
                "no JSON-RPC response in the event stream: {}",
                snippet(body)
            ))
        })?
    } else {
        serde_json::from_slice(body)
            .map_err(|e| malformed(format!("not JSON ({e}): {}", snippet(body))))?
    };
    if let Some(error) = message.get("error") {
        let code = error.get("code").and_then(Value::as_i64);
        let class = code.map_or(FailureClass::Malformed, FailureClass::Rpc);
        return Err(Failure::new(class, format!("JSON-RPC error: {error}")));
    }
    let Some(result) = message.get("result") else {
        return Err(malformed(format!("no result: {}", snippet(body))));
    };
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        return Err(Failure::new(
            FailureClass::ToolError,
            format!(
                "tool error: {}",
                result.get("content").unwrap_or(&Value::Null)
            ),
        ));
    }
    match result.get("content").and_then(Value::as_array) {
        Some(content) if !content.is_empty() => Ok(()),
        _ => Err(malformed(format!("empty result: {}", snippet(body)))),
    }
}

/// The first JSON-RPC response (a message with `result` or `error`) among the stream's
/// `data:` lines; priming events and notifications are skipped.
fn response_in_stream(body: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(body).ok()?;
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find(|m| m.get("result").is_some() || m.get("error").is_some())
}

/// The start of a body, for error messages.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(200).collect();
    if text.chars().nth(200).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str =
        r#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hi"}]}}"#;

    #[test]
    fn json_and_event_stream_answers_are_both_read() {
        assert_eq!(check_answer(200, "application/json", OK.as_bytes()), Ok(()));
        let stream = format!("id: 0\nretry: 3000\ndata:\n\ndata: {OK}\n\n");
        assert_eq!(
            check_answer(200, "text/event-stream", stream.as_bytes()),
            Ok(())
        );
    }

    #[test]
    fn failures_are_not_mistaken_for_success() {
        let rpc = |rest: &str| format!(r#"{{"jsonrpc":"2.0","id":1,{rest}}}"#);
        let json = "application/json";
        let cases = [
            (401, json, OK.to_owned()),
            (
                200,
                json,
                rpc(r#""error":{"code":-32602,"message":"no such tool"}"#),
            ),
            (
                200,
                json,
                rpc(r#""result":{"isError":true,"content":[{"type":"text"}]}"#),
            ),
            (200, json, rpc(r#""result":{"content":[]}"#)),
            (200, json, "<html>bad gateway</html>".to_owned()),
            (
                200,
                "text/event-stream",
                format!(
                    "data: {}\n\n",
                    r#"{"jsonrpc":"2.0","method":"notifications/progress"}"#
                ),
            ),
        ];
        let expected = [
            FailureClass::Http(401),
            FailureClass::Rpc(-32602),
            FailureClass::ToolError,
            FailureClass::Malformed,
            FailureClass::Malformed,
            FailureClass::Malformed,
        ];
        for ((status, content_type, body), class) in cases.into_iter().zip(expected) {
            let failure = check_answer(status, content_type, body.as_bytes());
            assert_eq!(failure.map_err(|f| f.class), Err(class), "{status} {body}");
        }
    }

    #[test]
    fn failure_classes_read_as_their_counting_keys() {
        assert_eq!(FailureClass::Http(503).to_string(), "http 503");
        assert_eq!(FailureClass::Rpc(-32004).to_string(), "rpc -32004");
        assert_eq!(FailureClass::Transport.to_string(), "transport");
    }

    #[test]
    fn the_request_names_the_tool_in_header_and_body() {
        let call = ToolCall::new("demo.get_report");
        assert_eq!(
            call.headers().get("mcp-name").map(|v| v.as_bytes()),
            Some(&b"demo.get_report"[..])
        );
        let body: Value = serde_json::from_slice(&call.body()).unwrap_or_default();
        assert_eq!(
            body.pointer("/params/name"),
            Some(&Value::from("demo.get_report"))
        );
        assert!(
            body.pointer("/params/_meta/io.modelcontextprotocol~1protocolVersion")
                .is_some()
        );
    }
}
