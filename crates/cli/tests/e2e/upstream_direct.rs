//! Tool calls to an HTTP upstream skip rmcp's client (`upstream/direct_http.rs`), posting in
//! the session rmcp opened, and answer exactly as calls through it do: the same calls through
//! a gateway whose upstream speaks stdio (rmcp's client) and one whose upstream speaks HTTP
//! (the direct sender) give the agent the same results and the same errors. A third-party
//! HTTP upstream is `everything::server_everything_over_streamable_http_is_governed_the_same`;
//! a dead HTTP upstream is `bad_input::a_dead_upstream_gets_a_clear_error_and_the_gateway_stays_up`;
//! its breaker, `robustness::a_dead_upstream_is_refused_at_once_while_others_serve_and_is_used_again_once_back`.

use crate::support::*;
use serde_json::json;

pub const SENT_DIRECTLY: &str = "tool calls are sent directly";

#[tokio::test(flavor = "multi_thread")]
async fn calls_to_an_http_upstream_answer_as_through_rmcp() {
    let http = Gateway::start(Upstream::Http);
    let stdio = Gateway::start(Upstream::Stdio);
    let mut answers = Vec::new();
    for gw in [&http, &stdio] {
        gw.add_agent("bot");
        let (_, token) = gw.grant("bot", "crm.lookup_customer,crm.list_customers", "read", &[]);
        let client = client_stateless(&gw.url(), &token).await.unwrap();
        let mut seen = Vec::new();
        for (tool, arguments) in [
            ("crm.lookup_customer", json!({"id": "cus_002"})),
            // The upstream's own "not found" result, and its refusal of a wrongly typed
            // argument: both pass through unchanged.
            ("crm.lookup_customer", json!({"id": "cus_404"})),
            ("crm.lookup_customer", json!({"id": 7})),
            ("crm.list_customers", json!({})),
        ] {
            let answer = match call(&client, tool, arguments).await {
                Ok(result) => serde_json::to_value(result).unwrap(),
                Err(e) => json!({"error": serde_json::to_value(error_of(Err(e))).unwrap()}),
            };
            seen.push(answer);
        }
        answers.push(seen);
    }
    assert_eq!(answers[0], answers[1]);
    assert!(
        answers[0][0].to_string().contains("cus_002"),
        "{}",
        answers[0][0]
    );
    assert_eq!(answers[0][2]["isError"], true, "{}", answers[0][2]);
    // All four calls were allowed, forwarded and completed.
    for gw in [&http, &stdio] {
        let completed = gw
            .audit()
            .iter()
            .filter(|e| e["kind"] == "completed")
            .count();
        assert_eq!(completed, 4);
    }
    let log = |gw: &Gateway| std::fs::read_to_string(gw.dir.path().join("serve.log")).unwrap();
    assert!(log(&http).contains(SENT_DIRECTLY), "{}", log(&http));
    assert!(!log(&stdio).contains(SENT_DIRECTLY));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_restarted_under_a_session_is_called_again_at_once() {
    use crate::robustness::{KillOnDrop, demo_over_http};
    let port = free_port();
    let upstream = KillOnDrop(demo_over_http(port));
    let gw = Gateway::start_raw(&format!(
        "[[upstream]]\nname = \"crm\"\nurl = \"http://127.0.0.1:{port}/mcp\"\n"
    ));
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", "crm.lookup_customer", "read", &[]);
    let client = client_stateless(&gw.url(), &token).await.unwrap();
    lookup(&client, "cus_001").await.unwrap();
    // A new upstream process on the same port knows nothing of the gateway's session: it
    // answers the direct POST with 404, and rmcp's client opens a new session and sends
    // the call again. The agent sees an answer, not an error.
    drop(upstream);
    let _upstream = KillOnDrop(demo_over_http(port));
    for id in ["cus_002", "cus_003"] {
        let result = lookup(&client, id).await.unwrap();
        assert!(
            serde_json::to_string(&result.content).unwrap().contains(id),
            "{result:?}"
        );
    }
    let completed: Vec<_> = gw
        .audit()
        .into_iter()
        .filter(|e| e["kind"] == "completed")
        .collect();
    assert_eq!(completed.len(), 3);
    assert!(
        completed.iter().all(|e| e.get("error").is_none()),
        "{completed:#?}"
    );
}
