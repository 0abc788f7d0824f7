//! The span of one tool call: its remote parent (`params._meta.traceparent`, else the HTTP
//! header), the GenAI and MCP semantic-convention attributes, Mandate's own, and its outcome.

use super::Telemetry;
use crate::principal::Principal;
use mandate_core::Decision;
use opentelemetry::propagation::{Extractor, TextMapPropagator as _};
use opentelemetry::trace::{Link, Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use rmcp::model::{CallToolResult, JsonObject};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};

/// The span of one `tools/call`, or nothing when tracing is off. Dropping it ends it.
#[derive(Debug, Default)]
pub struct ToolSpan {
    span: Option<opentelemetry_sdk::trace::Span>,
}

impl Telemetry {
    /// Starts the `execute_tool {tool}` span of a call, continuing the caller's trace.
    ///
    /// Kind `SERVER`, as the MCP conventions say for a request a peer initiated; the name
    /// and `gen_ai.*` attributes are the GenAI `execute_tool` span's.
    pub fn tool_span(
        &self,
        tool: &str,
        principal: &Principal,
        context: &RequestContext<RoleServer>,
    ) -> ToolSpan {
        let Some(on) = &self.on else {
            return ToolSpan::default();
        };
        let headers = context
            .extensions
            .get::<http::request::Parts>()
            .map(|parts| &parts.headers);
        let (parent, link) = remote_parent(&context.meta.0.0, headers);
        let chain = &principal.chain;
        let mut attributes = vec![
            KeyValue::new("gen_ai.operation.name", "execute_tool"),
            KeyValue::new("gen_ai.tool.name", tool.to_owned()),
            KeyValue::new("gen_ai.agent.id", chain.leaf().agent.as_str().to_owned()),
            KeyValue::new("mcp.method.name", "tools/call"),
            KeyValue::new("jsonrpc.request.id", context.id.to_string()),
            KeyValue::new("network.transport", "tcp"),
            KeyValue::new("network.protocol.name", "http"),
            KeyValue::new("mandate.mandate.id", chain.leaf().id.as_str().to_owned()),
            KeyValue::new("mandate.human", chain.root_human().as_str().to_owned()),
            KeyValue::new("mandate.session.id", principal.session().to_owned()),
        ];
        if let Some(version) = context.protocol_version() {
            attributes.push(KeyValue::new("mcp.protocol.version", version.to_string()));
        }
        let session = headers
            .and_then(|h| h.get("mcp-session-id"))
            .and_then(|v| v.to_str().ok());
        if let Some(session) = session {
            attributes.push(KeyValue::new("mcp.session.id", session.to_owned()));
        }
        let span = on
            .tracer
            .span_builder(format!("execute_tool {tool}"))
            .with_kind(SpanKind::Server)
            .with_attributes(attributes)
            .with_links(link.into_iter().collect())
            .start_with_context(&on.tracer, &parent);
        ToolSpan { span: Some(span) }
    }
}

impl ToolSpan {
    /// The decision on the call and the sequence number of the audit event that records it.
    pub(crate) fn decided(&mut self, decision: &Decision, audit_seq: u64) {
        if let Some(span) = &mut self.span {
            span.set_attribute(KeyValue::new("mandate.decision", decision.as_str()));
            span.set_attribute(KeyValue::new(
                "mandate.audit.seq",
                i64::try_from(audit_seq).unwrap_or(i64::MAX),
            ));
        }
    }

    /// Ends the span with what the agent is about to receive. A JSON-RPC error (a denial
    /// included) or a tool result flagged `isError` sets `error.type` and the status `Error`.
    pub fn finish(mut self, reply: Result<&CallToolResult, &ErrorData>) {
        let Some(span) = &mut self.span else {
            return;
        };
        match reply {
            Ok(result) if result.is_error == Some(true) => {
                span.set_attribute(KeyValue::new("error.type", "tool_error"));
                span.set_status(Status::error("tool_error"));
            }
            Ok(_) => {}
            Err(error) => {
                let code = error.code.0.to_string();
                span.set_attribute(KeyValue::new("error.type", code.clone()));
                span.set_attribute(KeyValue::new("rpc.response.status_code", code));
                span.set_status(Status::error(error.message.to_string()));
            }
        }
        span.end();
    }
}

/// The context a call continues: W3C trace context from `params._meta` (the MCP convention,
/// SEP-414), else from the HTTP request's headers. When both are there and differ, the HTTP
/// one becomes a link, so the transport's trace stays reachable.
pub(crate) fn remote_parent(
    meta: &JsonObject,
    headers: Option<&http::HeaderMap>,
) -> (Context, Option<Link>) {
    let propagator = TraceContextPropagator::new();
    let from_meta = propagator.extract(&MetaCarrier(meta));
    let from_http = headers.map(|h| propagator.extract(&HeaderCarrier(h)));
    let valid = |cx: &Context| cx.span().span_context().is_valid();
    match from_http {
        Some(http) if valid(&from_meta) => {
            let meta_span = from_meta.span().span_context().clone();
            let http_span = http.span().span_context().clone();
            let link = (http_span.is_valid() && http_span != meta_span)
                .then(|| Link::with_context(http_span));
            (from_meta, link)
        }
        Some(http) => (http, None),
        None => (from_meta, None),
    }
}

/// `params._meta` as a propagation carrier: string values only, keys unprefixed.
struct MetaCarrier<'a>(&'a JsonObject);

impl Extractor for MetaCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(serde_json::Value::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// HTTP request headers as a propagation carrier.
struct HeaderCarrier<'a>(&'a http::HeaderMap);

impl Extractor for HeaderCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceId};

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const PARENT: &str = "00f067aa0ba902b7";

    fn meta(value: serde_json::Value) -> JsonObject {
        value.as_object().cloned().unwrap()
    }

    fn ids(cx: &Context) -> (TraceId, SpanId, bool) {
        let span = cx.span();
        let sc = span.span_context();
        (sc.trace_id(), sc.span_id(), sc.is_remote())
    }

    #[test]
    fn traceparent_in_meta_is_the_remote_parent() {
        let meta = meta(serde_json::json!({
            "traceparent": format!("00-{TRACE}-{PARENT}-01"),
            "tracestate": "rojo=00f067aa0ba902b7",
            "progressToken": 3,
        }));
        let (cx, link) = remote_parent(&meta, None);
        let (trace, span, remote) = ids(&cx);
        assert_eq!(trace, TraceId::from_hex(TRACE).unwrap());
        assert_eq!(span, SpanId::from_hex(PARENT).unwrap());
        assert!(remote);
        assert!(cx.span().span_context().is_sampled());
        assert_eq!(
            cx.span().span_context().trace_state().get("rojo"),
            Some("00f067aa0ba902b7")
        );
        assert!(link.is_none());
    }

    #[test]
    fn without_meta_the_http_header_is_the_parent() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "traceparent",
            format!("00-{TRACE}-{PARENT}-01").parse().unwrap(),
        );
        let (cx, link) = remote_parent(&JsonObject::new(), Some(&headers));
        assert_eq!(ids(&cx).0, TraceId::from_hex(TRACE).unwrap());
        assert!(link.is_none());
    }

    #[test]
    fn meta_wins_over_the_header_which_becomes_a_link() {
        let other = "0af7651916cd43dd8448eb211c80319c";
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "traceparent",
            format!("00-{other}-b7ad6b7169203331-01").parse().unwrap(),
        );
        let meta = meta(serde_json::json!({ "traceparent": format!("00-{TRACE}-{PARENT}-01") }));
        let (cx, link) = remote_parent(&meta, Some(&headers));
        assert_eq!(ids(&cx).0, TraceId::from_hex(TRACE).unwrap());
        let link = link.unwrap();
        assert_eq!(
            link.span_context.trace_id(),
            TraceId::from_hex(other).unwrap()
        );
    }

    #[test]
    fn malformed_or_absent_trace_context_starts_a_new_trace() {
        for bad in [
            serde_json::json!({}),
            serde_json::json!({ "traceparent": "00-not-a-trace-01" }),
            serde_json::json!({ "traceparent": format!("00-{}-{PARENT}-01", "0".repeat(32)) }),
            serde_json::json!({ "traceparent": 42 }),
            // Prefixed keys are not trace context (SEP-414 keeps these unprefixed).
            serde_json::json!({ "io.modelcontextprotocol/traceparent": format!("00-{TRACE}-{PARENT}-01") }),
        ] {
            let (cx, link) = remote_parent(&meta(bad.clone()), None);
            assert!(!cx.span().span_context().is_valid(), "{bad}");
            assert!(link.is_none());
        }
    }

    #[test]
    fn spans_are_free_when_tracing_is_off() {
        let telemetry = Telemetry::off();
        assert!(!telemetry.is_on());
        let mut span = ToolSpan::default();
        span.decided(&Decision::Allow, 7);
        span.finish(Err(&ErrorData::internal_error("x", None)));
    }
}
