//! A small demo MCP server: the upstream behind `mandate demo`, whole-binary tests and benchmarks.
//!
//! It serves eight tools over a fake, in-memory customer table (reads, writes,
//! a destructive purge, an orchestration tool, an open-world e-mail tool, a
//! fixed report and a config file with fake credentials). Everything is
//! deterministic: the same calls in the same order give the same answers.
//!
//! Serve it over stdio with [`serve_stdio`] or over streamable HTTP with
//! [`serve_http`]; [`DemoOptions`] can poison a tool description or log every
//! call to a file.

mod call_log;
mod cli;
mod customers;
mod fixtures;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::serve::ListenerExt as _;
use rmcp::ServiceExt;
use rmcp::service::ServerInitializeError;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::server::DemoServer;
pub use cli::{DemoArgs, run};

/// The path the HTTP server serves MCP on.
pub const MCP_PATH: &str = "/mcp";

/// How the demo server behaves.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// Adds a prompt injection to `lookup_customer`'s description, for
    /// tool-poisoning and rug-pull tests.
    pub poisoned: bool,
    /// Replaces `lookup_customer`'s description (an upstream that changed a tool between
    /// restarts).
    pub lookup_description: Option<String>,
    /// After this long in a session, `lookup_customer`'s description becomes the poisoned
    /// one and the client is told the tool list changed (a rug pull at runtime).
    pub poison_after: Option<std::time::Duration>,
    /// A file to which `<tool name>\n` is appended and flushed for every
    /// `tools/call` received, before the tool runs.
    pub call_log: Option<PathBuf>,
    /// After this long in a session, the server adds the read-only tool
    /// `late_report` and tells the client its tool list changed (for
    /// catalog-refresh tests).
    pub add_tool_after: Option<std::time::Duration>,
    /// Every tool call waits this long before answering (an upstream that hangs).
    pub delay: Option<std::time::Duration>,
}

/// Why the demo server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The call log could not be opened for appending.
    #[error("cannot open the call log `{}`", .path.display())]
    CallLog {
        /// The path given in [`DemoOptions::call_log`].
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// The stdio MCP session failed before it was established.
    #[error("the MCP session could not start")]
    Initialize(#[source] Box<ServerInitializeError>),
    /// The task running the stdio MCP session failed.
    #[error("the MCP session task failed")]
    Session(#[source] tokio::task::JoinError),
    /// The HTTP server failed.
    #[error("the HTTP server failed")]
    Http(#[source] std::io::Error),
}

/// Serves MCP on stdin and stdout until stdin reaches end of file.
///
/// Stdout carries the MCP messages, so nothing else may write to it.
pub async fn serve_stdio(options: DemoOptions) -> Result<(), DemoError> {
    let server = DemoServer::new(&options)?;
    let running = match server.serve(rmcp::transport::stdio_pipes()).await {
        Ok(running) => running,
        // The client left before starting a session: that is a normal end.
        Err(ServerInitializeError::ConnectionClosed(_)) => return Ok(()),
        Err(error) => return Err(DemoError::Initialize(Box::new(error))),
    };
    running.waiting().await.map_err(DemoError::Session)?;
    Ok(())
}

/// Serves streamable HTTP MCP at [`MCP_PATH`] on `listener` until the
/// listener fails or the returned future is dropped.
///
/// Requests of the `2026-07-28` revision are served statelessly; older
/// clients get legacy sessions (`Mcp-Session-Id`). All sessions share one
/// customer table. Only loopback `Host` headers are accepted unless the
/// listener is bound to another address, which is then accepted too.
pub async fn serve_http(
    listener: tokio::net::TcpListener,
    options: DemoOptions,
) -> Result<(), DemoError> {
    let server = DemoServer::new(&options)?;
    let local_addr = listener.local_addr().map_err(DemoError::Http)?;
    let shutdown = CancellationToken::new();
    // Dropping this future ends every session the service has open.
    let _shutdown_on_drop = shutdown.clone().drop_guard();
    let config = http_config(local_addr).with_cancellation_token(shutdown);
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let router = axum::Router::new().nest_service(MCP_PATH, service);
    // Nagle off: an answer is written in pieces (headers, then event-stream chunks), and
    // with Nagle a later piece waits for the client's delayed ACK (~40 ms on Linux).
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, router).await.map_err(DemoError::Http)
}

/// Legacy sessions on (2026-07-28 requests stay stateless regardless), and
/// `Host` validation that admits the address the listener is bound to.
fn http_config(local_addr: SocketAddr) -> StreamableHttpServerConfig {
    let config = StreamableHttpServerConfig::default().with_legacy_session_mode(true);
    let ip = local_addr.ip();
    if ip.is_unspecified() {
        // Bound to every interface: any name may reach it.
        config.disable_allowed_hosts()
    } else if ip.is_loopback() {
        config
    } else {
        let mut hosts = config.allowed_hosts.clone();
        hosts.push(ip.to_string());
        config.with_allowed_hosts(hosts)
    }
}
