//! Raw HTTP tests: the JSON-RPC a client without rmcp sends, and what it gets back.
//! They pin that legacy requests get a session and 2026-07-28 requests need none.

use anyhow::{Context, Result};
use mandate_demo::DemoOptions;
use serde_json::{Value, json};

use crate::support::start;

/// The JSON-RPC message in a response, whether sent as JSON or as SSE.
async fn message(response: reqwest::Response) -> Result<Value> {
    let body = response.text().await?;
    let json = match body.trim_start().starts_with('{') {
        true => body.as_str(),
        false => body
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(str::trim)
            .find(|data| !data.is_empty())
            .context("no SSE data")?,
    };
    Ok(serde_json::from_str(json)?)
}

#[tokio::test]
async fn legacy_initialize_opens_a_session() -> Result<()> {
    let server = start(DemoOptions::default()).await?;
    let response = reqwest::Client::new()
        .post(&server.url)
        .header("Accept", "application/json, text/event-stream")
        .json(&json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": { "name": "wire-test", "version": "0" },
            },
        }))
        .send()
        .await?;
    assert!(response.status().is_success(), "{}", response.status());
    assert!(response.headers().contains_key("mcp-session-id"));
    let reply = message(response).await?;
    assert_eq!(reply["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(
        reply["result"]["serverInfo"]["name"],
        "mandate-demo-upstream"
    );
    Ok(())
}

#[tokio::test]
async fn stateless_request_is_served_without_a_session() -> Result<()> {
    let server = start(DemoOptions::default()).await?;
    let response = reqwest::Client::new()
        .post(&server.url)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2026-07-28")
        // SEP-2243: 2026-07-28 requests name their method (and tool) in headers too.
        .header("Mcp-Method", "tools/call")
        .header("Mcp-Name", "lookup_customer")
        .json(&json!({
            "jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {
                "name": "lookup_customer",
                "arguments": { "id": "cus_004" },
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientCapabilities": {},
                    "io.modelcontextprotocol/clientInfo": { "name": "wire-test", "version": "0" },
                },
            },
        }))
        .send()
        .await?;
    let status = response.status();
    if !status.is_success() {
        anyhow::bail!("{status}: {}", response.text().await?);
    }
    assert!(!response.headers().contains_key("mcp-session-id"));
    let reply = message(response).await?;
    assert_eq!(reply["id"], 7);
    assert_eq!(reply["result"]["isError"], false);
    let text = reply["result"]["content"][0]["text"]
        .as_str()
        .context("no text")?;
    assert!(text.contains("Katherine Johnson"), "{text}");
    Ok(())
}
