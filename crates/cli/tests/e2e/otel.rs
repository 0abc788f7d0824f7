//! Tool-call spans over OTLP: a real OTLP/HTTP receiver in the test decodes what the gateway
//! exports; the caller's `_meta.traceparent` is continued, and denials are traced too.

use crate::support::*;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::{Span, span::SpanKind, status::StatusCode};
use prost::Message as _;
use rmcp::model::{CallToolRequestParams, RequestMetaObject};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

/// A span as received, with its resource's `service.name`.
#[derive(Clone, Debug)]
struct Received {
    service: String,
    span: Span,
}

/// An OTLP/HTTP trace receiver on 127.0.0.1: POST /v1/traces with protobuf bodies.
struct Collector {
    port: u16,
    spans: Arc<Mutex<Vec<Received>>>,
}

impl Collector {
    async fn start() -> Self {
        let spans: Arc<Mutex<Vec<Received>>> = Arc::default();
        let sink = Arc::clone(&spans);
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: axum::body::Bytes| {
                let sink = Arc::clone(&sink);
                async move {
                    let request = ExportTraceServiceRequest::decode(body).unwrap();
                    for resource in request.resource_spans {
                        let service = resource
                            .resource
                            .iter()
                            .flat_map(|r| &r.attributes)
                            .find(|kv| kv.key == "service.name")
                            .and_then(|kv| string_value(kv.value.as_ref()?))
                            .unwrap_or_default();
                        for scope in resource.scope_spans {
                            for span in scope.spans {
                                let service = service.clone();
                                sink.lock().unwrap().push(Received { service, span });
                            }
                        }
                    }
                    (
                        [("content-type", "application/x-protobuf")],
                        ExportTraceServiceResponse::default().encode_to_vec(),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { port, spans }
    }

    fn config(&self, interval: &str) -> String {
        format!(
            "[otel]\nendpoint = \"http://127.0.0.1:{}\"\nexport_interval = \"{interval}\"\n",
            self.port
        )
    }

    /// Waits (bounded) until a span with this name has arrived.
    async fn span_named(&self, name: &str) -> Received {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = self
                .spans
                .lock()
                .unwrap()
                .iter()
                .find(|r| r.span.name == name)
                .cloned();
            if let Some(found) = found {
                return found;
            }
            assert!(Instant::now() < deadline, "no span `{name}` arrived");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn string_value(value: &opentelemetry_proto::tonic::common::v1::AnyValue) -> Option<String> {
    match value.value.as_ref()? {
        Value::StringValue(s) => Some(s.clone()),
        Value::IntValue(i) => Some(i.to_string()),
        _ => None,
    }
}

/// A span attribute as text (integers included), if present.
fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| string_value(kv.value.as_ref()?))
}

#[tokio::test(flavor = "multi_thread")]
async fn each_call_is_a_span_that_continues_the_callers_trace_and_denials_are_errors() {
    let collector = Collector::start().await;
    let gw = Gateway::start_with(Upstream::Stdio, &collector.config("1s"));
    gw.add_agent("bot");
    let (mandate, token) = gw.grant("bot", "crm.lookup_customer", "read", &[]);
    let client = client_legacy(&gw.url(), &token).await.unwrap();

    let mut params = CallToolRequestParams::new("crm.lookup_customer");
    params.arguments = serde_json::json!({ "id": "cus_001" }).as_object().cloned();
    let mut meta = RequestMetaObject::new();
    meta.set_traceparent(format!("00-{TRACE_ID}-{PARENT_ID}-01"));
    params.meta = Some(meta);
    let result = client.peer().call_tool(params).await.unwrap();
    assert_ne!(result.is_error, Some(true));
    let denied = call(&client, "crm.read_config", serde_json::json!({})).await;
    assert_eq!(error_of(denied).code.0, -32003);

    let allowed = collector
        .span_named("execute_tool crm.lookup_customer")
        .await;
    assert_eq!(allowed.service, "mandate");
    let span = &allowed.span;
    assert_eq!(hex::encode(&span.trace_id), TRACE_ID, "the caller's trace");
    assert_eq!(
        hex::encode(&span.parent_span_id),
        PARENT_ID,
        "the caller's span"
    );
    assert_eq!(span.kind, SpanKind::Server as i32);
    for (key, want) in [
        ("gen_ai.operation.name", "execute_tool"),
        ("gen_ai.tool.name", "crm.lookup_customer"),
        ("gen_ai.agent.id", "bot"),
        ("mcp.method.name", "tools/call"),
        ("mandate.decision", "allow"),
        ("mandate.mandate.id", mandate.as_str()),
        ("mandate.human", "alice@corp"),
    ] {
        assert_eq!(attr(span, key).as_deref(), Some(want), "{key}");
    }
    assert!(attr(span, "mcp.protocol.version").is_some());
    assert!(attr(span, "mcp.session.id").is_some(), "a stateful session");
    assert!(attr(span, "error.type").is_none());
    assert_ne!(
        span.status.as_ref().map(|s| s.code),
        Some(StatusCode::Error as i32)
    );
    // The span names the audit event that recorded the decision.
    let seq = attr(span, "mandate.audit.seq").unwrap();
    let decided = gw
        .audit()
        .into_iter()
        .find(|e| e["kind"] == "decided" && e["tool"] == "crm.lookup_customer")
        .unwrap();
    assert_eq!(seq, decided["seq"].to_string());

    let refused = collector.span_named("execute_tool crm.read_config").await;
    let span = &refused.span;
    assert!(
        span.parent_span_id.is_empty(),
        "no trace context: a new trace"
    );
    assert_ne!(hex::encode(&span.trace_id), TRACE_ID);
    assert_eq!(attr(span, "mandate.decision").as_deref(), Some("deny"));
    assert_eq!(attr(span, "error.type").as_deref(), Some("-32003"));
    let status = span.status.as_ref().unwrap();
    assert_eq!(status.code, StatusCode::Error as i32);
    assert!(status.message.contains("denied by Mandate"), "{status:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn queued_spans_are_flushed_on_graceful_shutdown() {
    let collector = Collector::start().await;
    // The batch timer never fires during the test: only the shutdown flush can deliver.
    let mut gw = Gateway::start_with(Upstream::Stdio, &collector.config("1h"));
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", "crm.lookup_customer", "read", &[]);
    let client = client_legacy(&gw.url(), &token).await.unwrap();
    lookup(&client, "cus_001").await.unwrap();
    assert!(collector.spans.lock().unwrap().is_empty());
    gw.terminate();
    collector
        .span_named("execute_tool crm.lookup_customer")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_collector_never_fails_a_call() {
    // Nothing listens there.
    let config = format!(
        "[otel]\nendpoint = \"http://127.0.0.1:{}\"\nexport_interval = \"1s\"\n",
        free_port()
    );
    let gw = Gateway::start_with(Upstream::Stdio, &config);
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", "crm.lookup_customer", "read", &[]);
    let client = client_legacy(&gw.url(), &token).await.unwrap();
    // Calls keep succeeding, no slower than usual, while the exporter retries in vain (its
    // timeout is 10 s); the failure is logged at warn.
    let log = gw.dir.path().join("serve.log");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut slowest = Duration::ZERO;
    loop {
        let started = Instant::now();
        lookup(&client, "cus_001").await.unwrap();
        slowest = slowest.max(started.elapsed());
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        if logged.contains("cannot export tool-call spans") {
            assert!(logged.contains("WARN"), "{logged}");
            break;
        }
        assert!(Instant::now() < deadline, "no warning about the collector");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(slowest < Duration::from_secs(5), "a call took {slowest:?}");
}
