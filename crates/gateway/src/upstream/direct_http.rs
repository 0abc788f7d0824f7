//! A `tools/call` to an HTTP upstream as one POST and one bounded read, without rmcp's client
//! worker; rmcp keeps the handshake, the session, listings and everything else.
//!
//! rmcp's client hands every request through two tasks and their channels. For the one request
//! the gateway sends per agent call, this path sends the message rmcp would send, with its
//! headers, in its session ([`super::session_tap`]), through rmcp's own reqwest transport
//! function (its size limits and SSE parser included), and reads the one answer itself. A call
//! it cannot send exactly as rmcp would (see [`Eligible`]) goes to rmcp.

use super::ChangeNotifier;
use super::session_tap::Session;
use futures::StreamExt;
use http::{HeaderName, HeaderValue};
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, ClientJsonRpcMessage, ClientRequest,
    ErrorData, JsonObject, JsonRpcRequest, ProtocolVersion, RequestId, RequestMetaObject,
    ServerJsonRpcMessage, ServerNotification, ServerRequest, ServerResult, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use rmcp::{Peer, RoleClient};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

/// Why a direct call failed; its reachability decides what the breaker learns.
#[derive(Debug, thiserror::Error)]
pub(super) enum DirectError {
    /// The upstream answered with a JSON-RPC error: its words pass on (worded as rmcp words them).
    #[error("Mcp error: {0}")]
    Upstream(ErrorData),
    /// The POST or the read of its answer failed below MCP (connection, HTTP status, stream).
    #[error("{0}")]
    Transport(String),
    /// The upstream answered with something that is not this call's result.
    #[error("{0}")]
    Unexpected(String),
    /// The upstream no longer knows the session (HTTP 404): it did not run the call, and
    /// rmcp's client, which opens a new session and sends again, should have it.
    #[error("the upstream's session expired")]
    SessionExpired,
}

/// The tools of one upstream whose calls this path may send: listed, and with no
/// `x-mcp-header` anywhere in their input schema (rmcp would add `Mcp-Param-*` headers,
/// and those are left to it). Kept by the upstream across reconnects.
#[derive(Default)]
pub(super) struct Eligible(RwLock<HashSet<String>>);

impl Eligible {
    /// Replaces the set from a fresh listing.
    pub(super) fn learn(&self, tools: &[Tool]) {
        let plain = tools
            .iter()
            .filter(|tool| plain_header_value(&tool.name) && !annotates_headers(&tool.input_schema))
            .map(|tool| tool.name.to_string())
            .collect();
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = plain;
    }

    fn contains(&self, tool: &str) -> bool {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(tool)
    }
}

/// One connection's direct sender.
pub(super) struct DirectHttp {
    client: reqwest::Client,
    uri: Arc<str>,
    // The operator's headers and `Mcp-Protocol-Version`, as rmcp sends them.
    headers: HashMap<HeaderName, HeaderValue>,
    // rmcp's session, if the upstream keeps sessions (revisions before 2026-07-28).
    session: Session,
    // Revisions from 2026-07-28: what rmcp's peer puts in every request's `_meta`.
    meta: Option<RequestMetaObject>,
    // Revisions from 2026-07-28: `Mcp-Method` and `Mcp-Name` (SEP-2243).
    standard_headers: bool,
    eligible: Arc<Eligible>,
    notifier: ChangeNotifier,
    // Answers the upstream's own requests (ping, roots, elicitation) as rmcp's client would.
    peer: Peer<RoleClient>,
    // Ids only need to be unique per session; negative ones never meet rmcp's own counter.
    next_id: AtomicI64,
}

/// What a direct call found out besides its result.
pub(super) struct Answer {
    pub(super) result: Result<CallToolResult, DirectError>,
    /// The upstream said its tool list changed: rmcp's cached listing is stale.
    pub(super) tools_changed: bool,
}

/// What [`DirectHttp::for_connection`] needs from the connection rmcp just opened.
pub(super) struct Opened<'a> {
    pub(super) client: reqwest::Client,
    pub(super) uri: &'a str,
    pub(super) operator_headers: HashMap<HeaderName, HeaderValue>,
    pub(super) session: Session,
    pub(super) peer: &'a Peer<RoleClient>,
}

impl DirectHttp {
    /// A sender for the connection rmcp opened, in the revision it agreed.
    pub(super) fn for_connection(
        opened: Opened<'_>,
        eligible: Arc<Eligible>,
        notifier: ChangeNotifier,
    ) -> Option<Self> {
        let version = opened.peer.peer_info()?.protocol_version.clone();
        let meta = (!version.has_initialize()).then(|| {
            let info = rmcp::ClientHandler::get_info(&notifier);
            let mut meta = RequestMetaObject::default();
            meta.set_protocol_version(version.clone());
            meta.set_client_info(info.client_info);
            meta.set_client_capabilities(info.capabilities);
            meta
        });
        let mut headers = opened.operator_headers;
        headers.insert(
            HeaderName::from_static("mcp-protocol-version"),
            HeaderValue::from_str(version.as_str()).ok()?,
        );
        Some(Self {
            client: opened.client,
            uri: opened.uri.into(),
            headers,
            session: opened.session,
            meta,
            standard_headers: version >= ProtocolVersion::STANDARD_HEADERS,
            eligible,
            notifier,
            peer: opened.peer.clone(),
            next_id: AtomicI64::new(-1),
        })
    }

    /// Whether this path may send a call to `tool`.
    pub(super) fn takes(&self, tool: &str) -> bool {
        self.eligible.contains(tool)
    }

    /// Sends one call and reads its answer, passing on the notifications before it and
    /// answering the upstream's own requests as rmcp's client would.
    pub(super) async fn call(&self, mut params: CallToolRequestParams) -> Answer {
        let id = RequestId::Number(self.next_id.fetch_sub(1, Ordering::Relaxed));
        let mut headers = self.headers.clone();
        if self.standard_headers {
            headers.insert(
                HeaderName::from_static("mcp-method"),
                HeaderValue::from_static("tools/call"),
            );
            if let Ok(name) = HeaderValue::from_str(&params.name) {
                headers.insert(HeaderName::from_static("mcp-name"), name);
            }
        }
        params.meta = self.meta.clone();
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        let mut tools_changed = false;
        let result = match self
            .post(ClientJsonRpcMessage::request(request, id.clone()), headers)
            .await
        {
            Err(e) => Err(transport_failure(e)),
            Ok(StreamableHttpPostResponse::Json(message, _)) => {
                match self.read(message, &id, &mut tools_changed).await {
                    Some(answer) => answer,
                    None => Err(DirectError::Unexpected(
                        "the upstream answered another request".to_owned(),
                    )),
                }
            }
            Ok(StreamableHttpPostResponse::Sse(mut events, _)) => loop {
                let Some(event) = events.next().await else {
                    break Err(DirectError::Transport(
                        "the upstream's event stream ended before its answer".to_owned(),
                    ));
                };
                let data = match event {
                    Ok(event) => event.data.unwrap_or_default(),
                    Err(e) => break Err(DirectError::Transport(e.to_string())),
                };
                // Priming events (resumability) carry no message.
                if data.trim().is_empty() {
                    continue;
                }
                if let Some((answered, result)) = plain_answer(&data) {
                    if answered == id {
                        break Ok(result);
                    }
                    continue;
                }
                let message = match serde_json::from_str::<ServerJsonRpcMessage>(&data) {
                    Ok(message) => message,
                    Err(e) => break Err(DirectError::Unexpected(e.to_string())),
                };
                if let Some(answer) = self.read(message, &id, &mut tools_changed).await {
                    break answer;
                }
            },
            // `Accepted`, or a form added to rmcp after this was written.
            Ok(_) => Err(DirectError::Unexpected(
                "the upstream accepted the call without answering it".to_owned(),
            )),
        };
        Answer {
            result,
            tools_changed,
        }
    }

    /// POSTs one message in rmcp's session with rmcp's default response limits.
    async fn post(
        &self,
        message: ClientJsonRpcMessage,
        headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<reqwest::Error>> {
        self.client
            .post_message_with_response_limits(
                Arc::clone(&self.uri),
                message,
                self.session.current(),
                None,
                headers,
                StreamableHttpResponseLimits::default(),
            )
            .await
    }

    /// This call's answer from one message, or `None` to keep reading.
    async fn read(
        &self,
        message: ServerJsonRpcMessage,
        id: &RequestId,
        tools_changed: &mut bool,
    ) -> Option<Result<CallToolResult, DirectError>> {
        match message {
            ServerJsonRpcMessage::Response(response) if &response.id == id => {
                Some(call_result(response.result))
            }
            ServerJsonRpcMessage::Error(error) if error.id.as_ref().is_none_or(|e| e == id) => {
                Some(Err(DirectError::Upstream(error.error)))
            }
            ServerJsonRpcMessage::Notification(notification) => {
                *tools_changed |= self.relay(notification.notification);
                None
            }
            ServerJsonRpcMessage::Request(request) => {
                self.reply(request).await;
                None
            }
            ServerJsonRpcMessage::Response(_) | ServerJsonRpcMessage::Error(_) => None,
        }
    }

    /// Answers a request the upstream sent in the middle of a call through the gateway's
    /// client handler, as rmcp's client does, and posts the answer back in the session.
    async fn reply(&self, request: JsonRpcRequest<ServerRequest>) {
        let context = RequestContext::new(request.id.clone(), self.peer.clone());
        let handled =
            rmcp::Service::<RoleClient>::handle_request(&self.notifier, request.request, context)
                .await;
        let reply = match handled {
            Ok(result) => ClientJsonRpcMessage::response(result, request.id),
            Err(error) => ClientJsonRpcMessage::error(error, Some(request.id)),
        };
        if let Err(e) = self.post(reply, self.headers.clone()).await {
            tracing::warn!(upstream = %self.notifier.upstream, error = %e, "cannot answer an upstream's request");
        }
    }

    /// Passes on what rmcp's client handler would; true when the tool list changed.
    fn relay(&self, notification: ServerNotification) -> bool {
        match notification {
            ServerNotification::ToolListChangedNotification(_) => {
                tracing::info!(upstream = %self.notifier.upstream, "upstream tool list changed");
                let _ = self.notifier.changes.send(self.notifier.upstream.clone());
                true
            }
            ServerNotification::ResourceUpdatedNotification(updated) => {
                let _ = self.notifier.updates.send(super::ResourceUpdate {
                    upstream: self.notifier.upstream.clone(),
                    uri: updated.params.uri,
                });
                false
            }
            _ => false,
        }
    }
}

/// The result rmcp's `Peer::call_tool` gives for one answer.
fn call_result(result: ServerResult) -> Result<CallToolResult, DirectError> {
    match result {
        ServerResult::CallToolResult(result) => Ok(result),
        // A content-less success reads as an empty result, as rmcp reads it.
        ServerResult::EmptyResult(_) => Ok(CallToolResult::default()),
        _ => Err(DirectError::Unexpected(
            "the upstream answered a tool call with another kind of result".to_owned(),
        )),
    }
}

fn transport_failure(error: StreamableHttpError<reqwest::Error>) -> DirectError {
    match error {
        StreamableHttpError::SessionExpired => DirectError::SessionExpired,
        StreamableHttpError::Deserialize(e) => DirectError::Unexpected(e.to_string()),
        StreamableHttpError::UnexpectedContentType(kind) => {
            DirectError::Unexpected(format!("the upstream answered with content type {kind:?}"))
        }
        StreamableHttpError::ResponseBodyTooLarge { max_size } => {
            DirectError::Unexpected(format!("the upstream's answer exceeds {max_size} bytes"))
        }
        other => DirectError::Transport(other.to_string()),
    }
}

/// The common answer, read without rmcp's untagged `ServerResult`, which tries fifteen other
/// result shapes (each failure an allocated error) before a tool result's.
///
/// Taken only for `{"jsonrpc": "2.0", "id": …, "result": {…}}` whose result has `content` and no
/// key but `content`, `structuredContent`, `isError`, `_meta` and, without `_meta`, `resultType`:
/// every shape `ServerResult` tries before a tool result's needs a key outside that set (or, for
/// `subscriptions/listen`, `resultType` with `_meta`), so such a result reads exactly as rmcp
/// reads it; a property test in `tests.rs` holds the two readings equal. Anything else returns
/// `None` and is read rmcp's way.
fn plain_answer(data: &str) -> Option<(RequestId, CallToolResult)> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Reply<'a> {
        #[serde(rename = "jsonrpc")]
        _version: rmcp::model::JsonRpcVersion2_0,
        id: RequestId,
        #[serde(borrow)]
        result: &'a serde_json::value::RawValue,
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ToolResultKeys {
        #[serde(rename = "content")]
        _content: serde::de::IgnoredAny,
        #[serde(rename = "structuredContent")]
        _structured_content: Option<serde::de::IgnoredAny>,
        #[serde(rename = "isError")]
        _is_error: Option<serde::de::IgnoredAny>,
        #[serde(rename = "_meta")]
        meta: Option<serde::de::IgnoredAny>,
        #[serde(rename = "resultType")]
        result_type: Option<serde::de::IgnoredAny>,
    }
    let reply: Reply<'_> = serde_json::from_str(data).ok()?;
    let keys = serde_json::from_str::<ToolResultKeys>(reply.result.get()).ok()?;
    if keys.meta.is_some() && keys.result_type.is_some() {
        return None;
    }
    let result = serde_json::from_str::<CallToolResult>(reply.result.get()).ok()?;
    Some((reply.id, result))
}

/// Whether rmcp would send `name` as `Mcp-Name` unchanged (not Base64-wrapped).
fn plain_header_value(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| (0x21..=0x7e).contains(&b)) && !name.starts_with("=?")
}

/// Whether a schema carries an `x-mcp-header` annotation anywhere.
fn annotates_headers(schema: &JsonObject) -> bool {
    fn walk(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::Object(map) => {
                map.contains_key("x-mcp-header") || map.values().any(walk)
            }
            serde_json::Value::Array(items) => items.iter().any(walk),
            _ => false,
        }
    }
    schema.contains_key("x-mcp-header") || schema.values().any(walk)
}

#[cfg(test)]
mod tests;
