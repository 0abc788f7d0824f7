//! The direct sender against a scripted HTTP upstream, and its pure parts.

use super::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

fn tool(name: &str, schema: serde_json::Value) -> Tool {
    let schema = schema.as_object().cloned().unwrap_or_default();
    Tool::new(name.to_owned(), "", Arc::new(schema))
}

#[test]
fn only_listed_tools_without_header_annotations_are_taken() {
    let eligible = Eligible::default();
    assert!(!eligible.contains("lookup"), "nothing before a listing");
    eligible.learn(&[
        tool("lookup", serde_json::json!({"type": "object"})),
        tool(
            "routed",
            serde_json::json!({"type": "object", "properties": {
                "region": {"type": "string", "x-mcp-header": "Region"}}}),
        ),
        tool("with space", serde_json::json!({"type": "object"})),
        tool("=?base64?eA==?=", serde_json::json!({"type": "object"})),
    ]);
    assert!(eligible.contains("lookup"));
    assert!(!eligible.contains("routed"));
    assert!(!eligible.contains("with space"));
    assert!(!eligible.contains("=?base64?eA==?="));
    assert!(!eligible.contains("unlisted"));
    eligible.learn(&[]);
    assert!(
        !eligible.contains("lookup"),
        "a new listing replaces the old"
    );
}

#[test]
fn annotations_are_found_at_any_depth() {
    let deep = serde_json::json!({"properties": {"a": {"items": [
        {"properties": {"b": {"x-mcp-header": "B"}}}]}}});
    assert!(annotates_headers(
        deep.as_object().unwrap_or(&JsonObject::new())
    ));
    let none = serde_json::json!({"properties": {"a": {"type": "string"}}});
    assert!(!annotates_headers(
        none.as_object().unwrap_or(&JsonObject::new())
    ));
}

#[test]
fn a_result_other_than_a_tool_result_is_unexpected() {
    assert!(call_result(ServerResult::CallToolResult(CallToolResult::default())).is_ok());
    assert!(call_result(ServerResult::empty(())).is_ok());
    let listing = ServerResult::ListToolsResult(Default::default());
    assert!(matches!(
        call_result(listing),
        Err(DirectError::Unexpected(_))
    ));
}

#[test]
fn an_upstream_error_reads_as_rmcp_words_it() {
    let error = ErrorData::invalid_params("no such customer", None);
    assert_eq!(
        DirectError::Upstream(error.clone()).to_string(),
        rmcp::ServiceError::McpError(error).to_string()
    );
}

#[test]
fn names_rmcp_would_wrap_are_left_to_it() {
    assert!(plain_header_value("crm.lookup"));
    assert!(!plain_header_value(""));
    assert!(!plain_header_value("caf\u{e9}"));
}

/// A scripted upstream: answers each `tools/call` by its tool name with an event stream,
/// and keeps every POST it got (headers and body).
mod scripted {
    use axum::http::HeaderMap;
    use std::sync::{Arc, Mutex, PoisonError};

    pub(super) type Posts = Arc<Mutex<Vec<(HeaderMap, serde_json::Value)>>>;

    pub(super) async fn start() -> (String, Posts) {
        let posts = Posts::default();
        let kept = Arc::clone(&posts);
        let app = axum::Router::new().route(
            "/mcp",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let kept = Arc::clone(&kept);
                async move {
                    let message: serde_json::Value =
                        serde_json::from_str(&body).unwrap_or_default();
                    kept.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((headers, message.clone()));
                    answer(&message)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, posts)
    }

    fn answer(message: &serde_json::Value) -> axum::response::Response {
        use axum::response::IntoResponse;
        let Some(method) = message.get("method") else {
            // The client's reply to our ping.
            return axum::http::StatusCode::ACCEPTED.into_response();
        };
        assert_eq!(method, "tools/call");
        let id = &message["id"];
        let result = serde_json::json!({"jsonrpc": "2.0", "id": id,
            "result": {"content": [{"type": "text", "text": "hi"}]}});
        let events: Vec<serde_json::Value> = match message["params"]["name"].as_str() {
            Some("chatty") => vec![
                serde_json::json!({"jsonrpc": "2.0", "id": 99, "result": {}}),
                serde_json::json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}),
                serde_json::json!({"jsonrpc": "2.0", "id": "srv-1", "method": "ping"}),
                result,
            ],
            Some("fails") => vec![serde_json::json!({"jsonrpc": "2.0", "id": id,
                "error": {"code": -32602, "message": "no such customer"}})],
            Some("garbled") => vec![serde_json::json!("not a message")],
            Some("forgotten") => return axum::http::StatusCode::NOT_FOUND.into_response(),
            _ => vec![],
        };
        let body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
        ([("content-type", "text/event-stream")], body).into_response()
    }
}

struct Quiet;
impl rmcp::ServerHandler for Quiet {}

/// A direct sender to the scripted upstream, with a real rmcp peer (over an in-memory pipe)
/// to answer the upstream's requests, in session `s-1`.
async fn sender(
    url: &str,
) -> (
    DirectHttp,
    rmcp::service::RunningService<RoleClient, ChangeNotifier>,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        if let Ok(server) = rmcp::serve_server(Quiet, tokio::io::split(server_end)).await {
            let _ = server.waiting().await;
        }
    });
    let (changes, changed) = tokio::sync::mpsc::unbounded_channel();
    let notifier = ChangeNotifier {
        upstream: "up".to_owned(),
        changes,
        updates: tokio::sync::broadcast::channel(4).0,
    };
    let service = rmcp::serve_client(notifier.clone(), tokio::io::split(client_end))
        .await
        .unwrap();
    let session = Session::default();
    let given = ServerJsonRpcMessage::response(ServerResult::empty(()), RequestId::Number(0));
    session.note(
        None,
        &Ok(StreamableHttpPostResponse::Json(
            given,
            Some("s-1".to_owned()),
        )),
    );
    let opened = Opened {
        client: reqwest::Client::new(),
        uri: url,
        operator_headers: HashMap::from([(
            HeaderName::from_static("x-operator"),
            HeaderValue::from_static("kept"),
        )]),
        session,
        peer: service.peer(),
    };
    let eligible = Arc::new(Eligible::default());
    let direct = DirectHttp::for_connection(opened, eligible, notifier).unwrap();
    (direct, service, changed)
}

#[tokio::test]
async fn a_call_reads_past_notifications_and_answers_the_upstreams_requests() {
    let (url, posts) = scripted::start().await;
    let (direct, service, mut changed) = sender(&url).await;
    let answer = direct.call(CallToolRequestParams::new("chatty")).await;
    let result = answer.result.unwrap();
    assert_eq!(result.content.len(), 1);
    assert!(answer.tools_changed);
    assert_eq!(changed.try_recv().ok().as_deref(), Some("up"));

    let posts = posts.lock().unwrap_or_else(PoisonError::into_inner).clone();
    assert_eq!(posts.len(), 2, "the call, then the reply to the ping");
    let version = service.peer().peer_info().unwrap().protocol_version.clone();
    for (headers, _) in &posts {
        assert_eq!(headers["mcp-session-id"], "s-1");
        assert_eq!(headers["mcp-protocol-version"], version.as_str());
        assert_eq!(headers["x-operator"], "kept");
    }
    let (_, call) = &posts[0];
    assert_eq!(call["params"]["name"], "chatty");
    assert!(
        call["params"]["_meta"].get("progressToken").is_none(),
        "no progress asked for: {call}"
    );
    let (_, reply) = &posts[1];
    assert_eq!(reply["id"], "srv-1");
    assert_eq!(reply["result"], serde_json::json!({}));
}

#[tokio::test]
async fn errors_are_told_apart_by_what_they_say_about_the_upstream() {
    let (url, _) = scripted::start().await;
    let (direct, _service, _) = sender(&url).await;
    let failure = |name: &'static str| {
        let direct = &direct;
        async move { direct.call(CallToolRequestParams::new(name)).await.result }
    };
    match failure("fails").await {
        Err(DirectError::Upstream(e)) => assert_eq!(e.message, "no such customer"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        failure("garbled").await,
        Err(DirectError::Unexpected(_))
    ));
    assert!(matches!(
        failure("silent").await,
        Err(DirectError::Transport(_))
    ));
    // A 404 in a session: the upstream forgot it, and rmcp's client should send again.
    assert!(matches!(
        failure("forgotten").await,
        Err(DirectError::SessionExpired)
    ));
    // Nobody listens here any more: the connection is refused.
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}/mcp", listener.local_addr().unwrap())
    };
    let (dead, _service, _) = sender(&closed).await;
    assert!(matches!(
        dead.call(CallToolRequestParams::new("chatty")).await.result,
        Err(DirectError::Transport(_))
    ));
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i32>().prop_map(serde_json::Value::from),
        "[a-z ]{0,8}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..3)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A result object as an upstream might send it: tool-result keys with well- or ill-formed
/// values, and now and then a key another result shape needs.
fn any_result() -> impl Strategy<Value = serde_json::Value> {
    let text_block = "[a-z]{0,6}".prop_map(|t| serde_json::json!({"type": "text", "text": t}));
    let content = prop_oneof![
        prop::collection::vec(text_block, 0..3).prop_map(serde_json::Value::from),
        any_json(),
    ];
    let key = prop_oneof![
        Just("structuredContent"),
        Just("isError"),
        Just("_meta"),
        Just("resultType"),
        Just("tools"),
        Just("messages"),
        Just("contents"),
        Just("action"),
        Just("skill"),
        Just("taskId"),
        Just("protocolVersion"),
        Just("completion"),
        Just("other"),
    ];
    let is_error = prop_oneof![any::<bool>().prop_map(serde_json::Value::from), any_json()];
    (
        prop::option::of(content),
        // "complete" now and then: the one `resultType` a tool result may carry.
        prop::collection::vec(
            (
                key,
                prop_oneof![any_json(), Just(serde_json::json!("complete"))],
            ),
            0..3,
        ),
        prop::option::of(is_error),
    )
        .prop_map(|(content, extra, is_error)| {
            let mut result = serde_json::Map::new();
            for (key, value) in extra {
                result.insert(key.to_owned(), value);
            }
            if let Some(content) = content {
                result.insert("content".to_owned(), content);
            }
            if let Some(is_error) = is_error {
                result.insert("isError".to_owned(), is_error);
            }
            serde_json::Value::Object(result)
        })
}

proptest! {
    /// Whenever the shortcut reads an answer, rmcp reads the same message as the same result.
    #[test]
    fn the_shortcut_reads_answers_as_rmcp_does(result in any_result(), id in any::<i64>()) {
        let data = serde_json::json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string();
        if let Some((read_id, read)) = plain_answer(&data) {
            let message = serde_json::from_str::<ServerJsonRpcMessage>(&data);
            let Ok(ServerJsonRpcMessage::Response(response)) = message else {
                return Err(TestCaseError::fail(format!("rmcp does not read {data} as an answer")));
            };
            prop_assert_eq!(&response.id, &read_id);
            let by_rmcp = call_result(response.result).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(by_rmcp, read);
        }
    }
}

#[test]
fn the_shortcut_takes_the_usual_answer_and_leaves_the_rest() {
    let usual = r#"{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"hi"}],"isError":false}}"#;
    let (id, result) = plain_answer(usual).unwrap();
    assert_eq!(id, RequestId::Number(3));
    assert_eq!(result.content.len(), 1);
    let typed = r#"{"jsonrpc":"2.0","id":4,"result":{"content":[],"resultType":"complete"}}"#;
    assert!(plain_answer(typed).is_some(), "{typed}");
    for left in [
        // Another result shape's key, a result type with `_meta`, no content, an error, a
        // request, another JSON-RPC version.
        r#"{"jsonrpc":"2.0","id":3,"result":{"content":[],"tools":[]}}"#,
        r#"{"jsonrpc":"2.0","id":3,"result":{"content":[],"resultType":"complete","_meta":{}}}"#,
        r#"{"jsonrpc":"2.0","id":3,"result":{"isError":true}}"#,
        r#"{"jsonrpc":"2.0","id":3,"error":{"code":-1,"message":"no"}}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#,
        r#"{"jsonrpc":"1.0","id":3,"result":{"content":[]}}"#,
    ] {
        assert!(plain_answer(left).is_none(), "{left}");
    }
}
