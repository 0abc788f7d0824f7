//! Bad input gets a clear error, is audited when it came from an authenticated agent,
//! and never takes the gateway down.

use crate::support::*;

const MODERN: [(&str, &str); 2] = [
    ("mcp-protocol-version", "2026-07-28"),
    ("mcp-method", "tools/list"),
];

async fn healthy(gw: &Gateway) {
    let r = reqwest::get(format!("{}/healthz", gw.base()))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_get_clear_errors_and_are_audited() {
    let gw = Gateway::start_with(Upstream::Stdio, "max_body_bytes = 20000");
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", "crm.lookup_customer", "read", &[]);
    let before = gw.audit().len();

    let (status, _, body) = post_raw(&gw.url(), Some(&token), "this is not json", &MODERN).await;
    assert!(
        (400..500).contains(&status) || body.contains("-32700"),
        "{status} {body}"
    );
    healthy(&gw).await;

    let (status, _, body) =
        post_raw(&gw.url(), Some(&token), r#"{"hello":"world"}"#, &MODERN).await;
    assert!(
        (400..500).contains(&status) || body.contains("\"error\""),
        "{status} {body}"
    );

    let oversize = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{"pad":"{}"}}}}"#,
        "x".repeat(40_000)
    );
    let (status, _, body) = post_raw(&gw.url(), Some(&token), oversize, &MODERN).await;
    assert_eq!(status, 413, "{body}");

    let unknown = r#"{"jsonrpc":"2.0","id":7,"method":"mandate/steal","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"}}}}"#;
    let (status, _, body) = post_raw(
        &gw.url(),
        Some(&token),
        unknown,
        &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "mandate/steal"),
        ],
    )
    .await;
    assert!(
        body.contains("-32601") || (400..500).contains(&status),
        "{status} {body}"
    );

    // Mcp-Method must match the body.
    let list = r#"{"jsonrpc":"2.0","id":8,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"}}}}"#;
    let (status, _, body) = post_raw(
        &gw.url(),
        Some(&token),
        list,
        &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
        ],
    )
    .await;
    assert!(
        (400..500).contains(&status) || body.contains("\"error\""),
        "{status} {body}"
    );

    healthy(&gw).await;
    let rejected = gw
        .audit()
        .into_iter()
        .skip(before)
        .filter(|e| e["kind"] == "request_rejected")
        .count();
    assert!(
        rejected >= 4,
        "each bad request from an authenticated agent is audited, got {rejected}"
    );
    // And the agent can still work.
    let client = client_stateless(&gw.url(), &token).await.unwrap();
    lookup(&client, "cus_001").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_upstream_gets_a_clear_error_and_the_gateway_stays_up() {
    let mut gw = Gateway::start(Upstream::Http);
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", "crm.lookup_customer", "read", &[]);
    let client = client_legacy(&gw.url(), &token).await.unwrap();
    lookup(&client, "cus_001").await.unwrap();
    gw.kill_upstream();
    let e = error_of(lookup(&client, "cus_001").await);
    assert_eq!(e.code.0, -32004, "{}", e.message);
    assert!(
        e.message.contains("upstream `crm` is unavailable"),
        "{}",
        e.message
    );
    healthy(&gw).await;
    let events = gw.audit();
    let last = events
        .iter()
        .rev()
        .find(|e| e["kind"] == "completed")
        .unwrap();
    assert_eq!(last["error"], "upstream failed");
}
