//! The direct `tools/call` path answers exactly as rmcp's path does: the same request sent
//! as an agent sends it (taken directly) and with an `Origin` header, as a browser would
//! send it (left to rmcp), gets the same status and the same JSON-RPC message.

use crate::support::*;

const META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"}}"#;

fn call(id: u32, tool: &str, arguments: &str) -> (String, String) {
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{arguments},{META}}}}}"#
    );
    (body, tool.to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_direct_path_answers_as_rmcp_does() {
    let gw = Gateway::start(Upstream::Stdio);
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", "crm.lookup_customer", "read", &[]);
    let cases = [
        call(1, "crm.lookup_customer", r#"{"id":"cus_002"}"#),
        call(
            2,
            "crm.send_email",
            r#"{"to":"a@b.c","subject":"s","body":"b"}"#,
        ),
        call(3, "crm.no_such_tool", "{}"),
        call(4, "crm.lookup_customer", r#"{"id":"cus_404"}"#),
    ];
    for (body, tool) in cases {
        let modern = [
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", tool.as_str()),
        ];
        let direct = post_raw(&gw.url(), Some(&token), body.clone(), &modern).await;
        let via_rmcp = post_raw(
            &gw.url(),
            Some(&token),
            body.clone(),
            &[
                modern[0],
                modern[1],
                modern[2],
                ("origin", "http://127.0.0.1"),
            ],
        )
        .await;
        assert_eq!(
            direct.0, via_rmcp.0,
            "status of {body}: {} / {}",
            direct.2, via_rmcp.2
        );
        let direct_json: serde_json::Value = serde_json::from_str(&direct.2).unwrap();
        let rmcp_json: serde_json::Value = serde_json::from_str(&via_rmcp.2).unwrap();
        assert_eq!(direct_json, rmcp_json, "answer to {body}");
        assert_eq!(
            direct.1.get("content-type").unwrap(),
            via_rmcp.1.get("content-type").unwrap()
        );
    }
    // Both paths audited every call: a decision for each of the eight requests.
    let decided = gw.audit().iter().filter(|e| e["kind"] == "decided").count();
    assert_eq!(decided, 8, "{:#?}", gw.audit());

    // A host rmcp would refuse is refused on the direct path's header set too.
    let (body, tool) = call(5, "crm.lookup_customer", r#"{"id":"cus_002"}"#);
    let headers = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", tool.as_str()),
        ("host", "evil.example"),
    ];
    let (status, _, _) = post_raw(&gw.url(), Some(&token), body, &headers).await;
    assert_eq!(status, 403);
}

/// Sends one raw HTTP/1.1 request and returns its status code.
fn raw_status(port: u16, request: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    let line = String::from_utf8_lossy(&head);
    line.split(' ').nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_host_is_judged_as_rmcp_judges_it_whatever_the_targets_form() {
    let gw = Gateway::start(Upstream::Stdio);
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", "crm.lookup_customer", "read", &[]);
    let (body, _) = call(1, "crm.lookup_customer", r#"{"id":"cus_002"}"#);
    let request = |target: &str, host: Option<&str>| {
        let host = host.map(|h| format!("Host: {h}\r\n")).unwrap_or_default();
        format!(
            "POST {target} HTTP/1.1\r\n{host}Authorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
             MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\n\
             Mcp-Name: crm.lookup_customer\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len(),
        )
    };
    let listed = format!("127.0.0.1:{}", gw.port);
    // Origin form with a listed host: answered.
    assert_eq!(raw_status(gw.port, &request("/mcp", Some(&listed))), 200);
    // rmcp reads `Host` before an absolute-form target's authority, and so does the direct
    // path: this is answered too, whichever of them takes it.
    let absolute = "http://evil.example/mcp";
    assert_eq!(raw_status(gw.port, &request(absolute, Some(&listed))), 200);
    // Without `Host`, rmcp takes the target's authority as the host: refused, and the direct
    // path (which needs `Host`) must not answer it first.
    assert_eq!(raw_status(gw.port, &request(absolute, None)), 403);
    assert_eq!(
        raw_status(gw.port, &request(absolute, Some("evil.example"))),
        403
    );
}
