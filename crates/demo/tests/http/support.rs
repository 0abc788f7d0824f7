//! Helpers for the HTTP tests: a demo server on an ephemeral port and rmcp clients for it.
//! Clients connect with either lifecycle, and results are unpacked into text.

use anyhow::{Context, Result, bail};
use mandate_demo::{DemoOptions, serve_http};
use rmcp::model::{CallToolRequestParams, CallToolResult, ProtocolVersion, Tool};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientLifecycleMode, ClientServiceExt, RoleClient, ServiceExt};
use serde_json::Value;
use tokio::task::JoinHandle;

pub(crate) type Client = RunningService<RoleClient, ()>;

/// The two ways a client may start talking to the server.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lifecycle {
    /// `initialize` handshake and an `Mcp-Session-Id` session.
    Legacy,
    /// `server/discover`, then self-contained 2026-07-28 requests.
    Stateless,
}

pub(crate) const LIFECYCLES: [Lifecycle; 2] = [Lifecycle::Legacy, Lifecycle::Stateless];

/// A demo server on an ephemeral port; aborted when dropped.
pub(crate) struct Server {
    pub(crate) url: String,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) async fn start(options: DemoOptions) -> Result<Server> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/mcp", listener.local_addr()?);
    let task = tokio::spawn(async move {
        if let Err(error) = serve_http(listener, options).await {
            eprintln!("demo server failed: {error}");
        }
    });
    Ok(Server { url, task })
}

pub(crate) async fn connect(server: &Server, lifecycle: Lifecycle) -> Result<Client> {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(server.url.as_str()),
    );
    let client = match lifecycle {
        Lifecycle::Legacy => ().serve(transport).await?,
        Lifecycle::Stateless => {
            let mode = ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            };
            ().serve_with_lifecycle(transport, mode).await?
        }
    };
    let version = client
        .peer_info()
        .context("no server info")?
        .protocol_version
        .clone();
    match lifecycle {
        Lifecycle::Legacy => assert!(version < ProtocolVersion::V_2026_07_28, "{version}"),
        Lifecycle::Stateless => assert_eq!(version, ProtocolVersion::V_2026_07_28),
    }
    Ok(client)
}

pub(crate) async fn call(
    client: &Client,
    tool: &'static str,
    args: Value,
) -> Result<CallToolResult> {
    let Value::Object(arguments) = args else {
        bail!("arguments must be a JSON object");
    };
    let params = CallToolRequestParams::new(tool).with_arguments(arguments);
    Ok(client.call_tool(params).await?)
}

/// The text of a result's single text block.
pub(crate) fn text(result: &CallToolResult) -> Result<&str> {
    match result.content.as_slice() {
        [block] => Ok(block
            .as_text()
            .context("content is not text")?
            .text
            .as_str()),
        other => bail!("expected one content block, got {}", other.len()),
    }
}

pub(crate) fn is_error(result: &CallToolResult) -> bool {
    result.is_error == Some(true)
}

pub(crate) fn find<'a>(tools: &'a [Tool], name: &str) -> Result<&'a Tool> {
    tools
        .iter()
        .find(|tool| tool.name == name)
        .with_context(|| format!("no tool `{name}`"))
}

/// (readOnly, destructive, openWorld) hints of a tool.
pub(crate) fn hints(tool: &Tool) -> (Option<bool>, Option<bool>, Option<bool>) {
    let annotations = tool.annotations.clone().unwrap_or_default();
    (
        annotations.read_only_hint,
        annotations.destructive_hint,
        annotations.open_world_hint,
    )
}
