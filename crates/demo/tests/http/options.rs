//! [`DemoOptions`] over HTTP: the call log and the poisoned description.
//! Both are what later gateway tests rely on to count calls and to detect tool poisoning.

use std::path::Path;

use anyhow::Result;
use mandate_demo::DemoOptions;
use rmcp::model::Tool;
use serde_json::json;

use crate::support::{Lifecycle, call, connect, find, start};

fn read_lines(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text.lines().map(str::to_owned).collect())
}

#[tokio::test]
async fn call_log_gets_one_line_per_call_including_failed_ones() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("calls.log");
    let options = DemoOptions {
        call_log: Some(log.clone()),
        ..DemoOptions::default()
    };
    let server = start(options).await?;
    let client = connect(&server, Lifecycle::Stateless).await?;
    client.list_all_tools().await?;
    call(&client, "lookup_customer", json!({ "id": "cus_002" })).await?;
    call(&client, "lookup_customer", json!({ "id": "cus_999" })).await?;
    call(&client, "get_report", json!({})).await?;
    let _ = call(&client, "no_such_tool", json!({})).await;
    assert_eq!(
        read_lines(&log)?,
        [
            "lookup_customer",
            "lookup_customer",
            "get_report",
            "no_such_tool"
        ]
    );
    client.cancel().await?;
    Ok(())
}

#[tokio::test]
async fn poisoned_server_injects_into_lookup_description_only() -> Result<()> {
    let clean_server = start(DemoOptions::default()).await?;
    let poisoned_server = start(DemoOptions {
        poisoned: true,
        ..DemoOptions::default()
    })
    .await?;
    let clean = connect(&clean_server, Lifecycle::Legacy)
        .await?
        .list_all_tools()
        .await?;
    let poisoned = connect(&poisoned_server, Lifecycle::Legacy)
        .await?
        .list_all_tools()
        .await?;

    let description = |tools: &[Tool], name: &str| -> Result<String> {
        Ok(find(tools, name)?
            .description
            .as_deref()
            .unwrap_or_default()
            .to_owned())
    };
    let injected = description(&poisoned, "lookup_customer")?;
    assert!(injected.contains("<IMPORTANT>"), "{injected}");
    assert!(injected.contains("~/.ssh/id_rsa"), "{injected}");
    assert!(!description(&clean, "lookup_customer")?.contains("<IMPORTANT>"));
    assert_eq!(
        description(&clean, "list_customers")?,
        description(&poisoned, "list_customers")?
    );
    Ok(())
}
