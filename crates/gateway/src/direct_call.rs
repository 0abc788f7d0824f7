//! A stateless (2026-07-28) `tools/call` answered without rmcp's per-request server
//! machinery, which cost about a fifth of the gateway's CPU per call (docs/performance.md).
//!
//! It only takes requests it is sure of; anything else goes on to rmcp unchanged, so rmcp
//! stays the reference for every check and every error. The answer is the same
//! [`Gateway::answer_call`] that [`crate::front::Front`] gives, serialised by rmcp's model.

use crate::Gateway;
use crate::approval::Patience;
use crate::principal::Principal;
use crate::telemetry::ToolSpan;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, StatusCode, header};
use rmcp::model::{
    CallToolRequestParams, ErrorCode, RequestId, ServerJsonRpcMessage, ServerResult,
};
use std::sync::Arc;

/// The protocol revision without sessions; earlier ones always go to rmcp.
const STATELESS: &str = "2026-07-28";

/// The `_meta` keys a 2026-07-28 request must carry (rmcp answers their absence).
const REQUIRED_META: [&str; 3] = [
    "io.modelcontextprotocol/protocolVersion",
    "io.modelcontextprotocol/clientCapabilities",
    "io.modelcontextprotocol/clientInfo",
];

/// What the direct path needs besides the gateway: the hosts rmcp admits.
pub struct DirectCalls {
    gw: Arc<Gateway>,
    hosts: Hosts,
}

impl DirectCalls {
    /// For `gw`, answering to `hosts` (the list rmcp's DNS-rebinding check is given).
    pub fn new(gw: Arc<Gateway>, hosts: &[String]) -> Self {
        Self {
            gw,
            hosts: Hosts::new(hosts),
        }
    }
}

/// Host names the direct path answers to, on any port.
struct Hosts(Vec<String>);

impl Hosts {
    /// rmcp admits an entry without a port on any port, and one with a port on that port
    /// only; the direct path takes the first kind (compared exactly) and leaves the rest
    /// to rmcp. (`server::allowed_hosts` also lists every `host:port` entry's host.)
    fn new(allowed: &[String]) -> Self {
        let names = allowed
            .iter()
            .filter(|h| !h.contains(':') || h.parse::<std::net::Ipv6Addr>().is_ok())
            .cloned()
            .collect();
        Self(names)
    }

    /// Whether a `Host` header names one of them.
    fn admits(&self, host: &str) -> bool {
        let name = match host.strip_prefix('[') {
            Some(v6) => match v6.split_once(']') {
                Some((address, _port)) => address,
                None => return false,
            },
            None => host.rsplit_once(':').map_or(host, |(name, _port)| name),
        };
        self.0.iter().any(|h| h == name)
    }
}

/// The parts of a JSON-RPC request the direct path reads.
#[derive(serde::Deserialize)]
struct Envelope {
    jsonrpc: String,
    id: RequestId,
    method: String,
    params: CallToolRequestParams,
}

/// Middleware on `/mcp`, inside authentication: answers a plain stateless `tools/call`
/// itself and passes every other request to rmcp.
pub async fn direct_call(
    State(direct): State<Arc<DirectCalls>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(length) = candidate(&direct, &request) else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, length).await {
        Ok(bytes) => bytes,
        // The client went away or sent more than it announced: nothing was decided.
        Err(_) => return status(StatusCode::BAD_REQUEST),
    };
    let call = match serde_json::from_slice::<Envelope>(&bytes) {
        Ok(call) if plain_call(&call, &parts.headers) => call,
        _ => {
            return next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
        }
    };
    let Some(principal) = parts.extensions.get::<Principal>().cloned() else {
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    };
    let params = call.params;
    let patience = Patience::Retry {
        resume: params.request_state,
    };
    let answer = direct
        .gw
        .answer_call(
            &principal,
            &params.name,
            params.arguments,
            patience,
            ToolSpan::default(),
        )
        .await;
    let (code, message) = match answer {
        Ok(response) => (
            StatusCode::OK,
            ServerJsonRpcMessage::response(ServerResult::from(response), call.id),
        ),
        Err(error) => (
            http_status(error.code),
            ServerJsonRpcMessage::error(error, Some(call.id)),
        ),
    };
    match serde_json::to_vec(&message) {
        Ok(body) => Response::builder()
            .status(code)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR)),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise a tool call's answer");
            status(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// The body's announced length if the headers make this a candidate: a POST of JSON in
/// the stateless revision, to an admitted host, from no browser, not traced, not too big.
fn candidate(direct: &DirectCalls, request: &Request) -> Option<usize> {
    let headers = request.headers();
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let length = text(header::CONTENT_LENGTH)?.parse::<usize>().ok()?;
    // Like rmcp, the host is `Host`'s, whatever the target's form; rmcp falls back to an
    // absolute-form target's authority only without `Host`, and then this path declines.
    let sure = request.method() == http::Method::POST
        && headers.get("mcp-protocol-version").is_some_and(|v| v == STATELESS)
        && !headers.contains_key("mcp-session-id")
        // Browsers send Origin; rmcp judges those requests.
        && !headers.contains_key(header::ORIGIN)
        && !headers.keys().any(|k| k.as_str().starts_with("mcp-param-"))
        && text(header::HOST).is_some_and(|host| direct.hosts.admits(host))
        && accepts_json_and_sse(headers)
        && text(header::CONTENT_TYPE).is_some_and(|t| {
            t.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case("application/json")
        })
        && !direct.gw.telemetry.is_on()
        && length <= direct.gw.config.max_body_bytes;
    sure.then_some(length)
}

/// Whether the `Accept` headers plainly name both media types the revision requires.
///
/// rmcp weighs quality values and quoted parameters; rather than copy that grammar, the
/// direct path takes only items without parameters or quotes and leaves the rest to rmcp,
/// so it never answers a request rmcp would refuse with 406.
fn accepts_json_and_sse(headers: &HeaderMap) -> bool {
    let (mut json, mut sse) = (false, false);
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else {
            return false;
        };
        if value.contains(['"', ';']) {
            return false;
        }
        for essence in value.split(',').map(str::trim) {
            json |= essence.eq_ignore_ascii_case("application/json");
            sse |= essence.eq_ignore_ascii_case("text/event-stream");
        }
    }
    json && sse
}

/// A plain `tools/call`: JSON-RPC 2.0, the revision's `_meta`, no progress wanted, and
/// the `Mcp-Method` / `Mcp-Name` headers agreeing with the body.
fn plain_call(call: &Envelope, headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let meta = call.params.meta.as_ref();
    call.jsonrpc == "2.0"
        && call.method == "tools/call"
        && meta.is_some_and(|m| {
            REQUIRED_META.iter().all(|key| m.contains_key(*key))
                && m.get(REQUIRED_META[0]).and_then(|v| v.as_str()) == Some(STATELESS)
                && !m.contains_key("progressToken")
        })
        // 2026-07-28 requires both headers (SEP-2243); rmcp answers their absence.
        && header("mcp-method") == Some("tools/call")
        && header("mcp-name") == Some(&*call.params.name)
}

/// The HTTP status rmcp gives a 2026-07-28 JSON-RPC error (`jsonrpc_http_status`).
fn http_status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::UNSUPPORTED_PROTOCOL_VERSION
        | ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY
        | ErrorCode::HEADER_MISMATCH => StatusCode::BAD_REQUEST,
        ErrorCode::METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    }
}

fn status(code: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = code;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Hosts {
        let allowed = [
            "localhost",
            "127.0.0.1",
            "::1",
            "mandate.example:8443",
            "mandate.example",
        ];
        Hosts::new(&allowed.map(str::to_owned))
    }

    #[test]
    fn only_listed_host_names_are_taken_whatever_the_port() {
        let hosts = hosts();
        for host in [
            "127.0.0.1:8080",
            "localhost:1",
            "[::1]:9000",
            "mandate.example:8443",
            "127.0.0.1",
        ] {
            assert!(hosts.admits(host), "{host}");
        }
        // Left to rmcp (which refuses them or judges them itself): another name, a
        // suffix trick, another case, an IPv6 address not listed, an empty header.
        for host in [
            "evil.example:80",
            "localhost.evil.example",
            "LOCALHOST:80",
            "[::2]:80",
            "",
            "[::1",
        ] {
            assert!(!hosts.admits(host), "{host}");
        }
    }

    #[test]
    fn an_entry_with_a_port_is_left_to_rmcp() {
        let hosts = Hosts::new(&["only.example:8443".to_owned()]);
        assert!(!hosts.admits("only.example:8443"));
    }

    fn envelope(meta: serde_json::Value) -> Envelope {
        serde_json::from_value(serde_json::json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "crm.lookup", "arguments": {}, "_meta": meta}
        }))
        .unwrap_or_else(|e| unreachable!("{e}"))
    }

    fn modern_meta() -> serde_json::Value {
        serde_json::json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"}
        })
    }

    #[test]
    fn a_plain_call_is_taken_and_anything_unusual_is_not() {
        let mut none = HeaderMap::new();
        none.insert("mcp-method", http::HeaderValue::from_static("tools/call"));
        none.insert("mcp-name", http::HeaderValue::from_static("crm.lookup"));
        assert!(plain_call(&envelope(modern_meta()), &none));
        assert!(!plain_call(&envelope(modern_meta()), &HeaderMap::new()));

        let mut progress = modern_meta();
        progress["progressToken"] = serde_json::json!(7);
        assert!(!plain_call(&envelope(progress), &none));

        let mut older = modern_meta();
        older["io.modelcontextprotocol/protocolVersion"] = serde_json::json!("2025-11-25");
        assert!(!plain_call(&envelope(older), &none));

        let mut missing = modern_meta();
        missing
            .as_object_mut()
            .map(|m| m.remove("io.modelcontextprotocol/clientInfo"));
        assert!(!plain_call(&envelope(missing), &none));

        let mut other_name = HeaderMap::new();
        other_name.insert("mcp-name", http::HeaderValue::from_static("crm.refund"));
        assert!(!plain_call(&envelope(modern_meta()), &other_name));

        let mut other_method = HeaderMap::new();
        other_method.insert("mcp-method", http::HeaderValue::from_static("tools/list"));
        assert!(!plain_call(&envelope(modern_meta()), &other_method));

        let mut agreeing = HeaderMap::new();
        agreeing.insert("mcp-method", http::HeaderValue::from_static("tools/call"));
        agreeing.insert("mcp-name", http::HeaderValue::from_static("crm.lookup"));
        assert!(plain_call(&envelope(modern_meta()), &agreeing));
    }

    fn accept(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::ACCEPT, http::HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn only_a_plain_accept_naming_both_types_is_taken() {
        for taken in [
            &["application/json, text/event-stream"][..],
            &["Text/Event-Stream,APPLICATION/JSON"],
            &["application/json", "text/event-stream"],
            &["text/html, application/json ,text/event-stream"],
        ] {
            assert!(accepts_json_and_sse(&accept(taken)), "{taken:?}");
        }
        // Left to rmcp: look-alikes it refuses with 406, one type missing, wildcards,
        // and anything with weights or quoted parameters, whose grammar rmcp owns.
        for left in [
            &["application/jsonx, text/event-streamy"][..],
            &["application/json"],
            &["*/*"],
            &[],
            &["application/json;q=0, text/event-stream"],
            &["application/json, text/event-stream;q=0.5"],
            &["application/json, text/event-stream; x=\"a,b\""],
        ] {
            assert!(!accepts_json_and_sse(&accept(left)), "{left:?}");
        }
    }

    #[test]
    fn errors_get_the_status_rmcp_gives_them() {
        assert_eq!(
            http_status(ErrorCode::METHOD_NOT_FOUND),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            http_status(ErrorCode::HEADER_MISMATCH),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(http_status(ErrorCode::INVALID_PARAMS), StatusCode::OK);
    }
}
