//! The pump: JSON-RPC messages from the client on stdin to the gateway over streamable HTTP,
//! and the gateway's messages back to stdout, as rmcp's typed messages, unchanged.

// Connect is no MCP server of its own: initialize, protocol versions, notifications,
// progress and the gateway's errors (a -32003 denial and its data) pass through. Only
// a request the gateway never answered (unreachable, token refused) gets connect's error.

use super::bearer::BearerClient;
use super::credentials::Credentials;
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use reqwest::Url;
use rmcp::model::{ClientJsonRpcMessage, ErrorData, RequestId, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_client::{
    StreamableHttpClientTransportConfig, StreamableHttpError,
};
use rmcp::transport::{StreamableHttpClientTransport, Transport};
use rmcp::{RoleClient, RoleServer};
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;

type HttpError = StreamableHttpError<reqwest::Error>;

/// How long ending the gateway session may take once the client has left.
const GOODBYE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// A message on its way to the gateway: the request it answers for, and how it went.
type Sending = Pin<Box<dyn Future<Output = (Option<RequestId>, Result<(), HttpError>)> + Send>>;

/// Bridges until the client closes stdin (success) or the gateway's side ends (failure).
pub(crate) async fn run(
    url: Url,
    http: reqwest::Client,
    credentials: Arc<Credentials>,
) -> anyhow::Result<ExitCode> {
    let config = StreamableHttpClientTransportConfig::with_uri(url.as_str());
    let client = BearerClient::new(http, Arc::clone(&credentials));
    let mut gateway = StreamableHttpClientTransport::with_client(client, config);
    let (stdin, stdout) = rmcp::transport::stdio_pipes();
    let mut local =
        rmcp::transport::async_rw::AsyncRwTransport::<RoleServer, _, _>::new_server(stdin, stdout);
    let mut sending = FuturesUnordered::<Sending>::new();
    let end = loop {
        tokio::select! {
            from_client = Transport::<RoleServer>::receive(&mut local) => {
                let Some(message) = from_client else { break End::ClientLeft };
                let request = request_id(&message);
                let mut send = Box::pin(Transport::<RoleClient>::send(&mut gateway, message));
                // Polled once here so messages reach the transport in the client's order.
                match futures::poll!(send.as_mut()) {
                    std::task::Poll::Ready(result) => {
                        sending.push(Box::pin(async move { (request, result) }));
                    }
                    std::task::Poll::Pending => {
                        sending.push(Box::pin(async move { (request, send.await) }));
                    }
                }
            }
            from_gateway = Transport::<RoleClient>::receive(&mut gateway) => {
                let Some(message) = from_gateway else {
                    break End::GatewayEnded;
                };
                if let Err(e) = local.send(message).await {
                    eprintln!("mandate connect: cannot write to the client: {e}");
                    break End::ClientUnwritable;
                }
            }
            Some((request, result)) = sending.next(), if !sending.is_empty() => {
                if let Err(error) = result
                    && answer_unsent(&mut local, request, &error, &url, &credentials).await.is_err()
                {
                    break End::ClientUnwritable;
                }
            }
        }
    };
    if matches!(end, End::GatewayEnded) {
        // The transport is gone, so every send still in flight fails at once: each request
        // among them (an initialize the gateway refused, say) gets its answer.
        while let Some((request, result)) = sending.next().await {
            if let Err(error) = result {
                let _ = answer_unsent(&mut local, request, &error, &url, &credentials).await;
            }
        }
        eprintln!("mandate connect: the connection to the gateway at {url} ended");
        return Ok(ExitCode::FAILURE);
    }
    // The client is done: what it still waits for is moot. Say goodbye (rmcp ends the
    // session with a DELETE), bounded, as a worker still starting up would not notice.
    drop(sending);
    let goodbye = Transport::<RoleClient>::close(&mut gateway);
    let _ = tokio::time::timeout(GOODBYE_TIMEOUT, goodbye).await;
    Ok(match end {
        End::ClientLeft => ExitCode::SUCCESS,
        End::GatewayEnded | End::ClientUnwritable => ExitCode::FAILURE,
    })
}

/// Why the pump stopped.
enum End {
    /// The client closed stdin: the normal end of a stdio MCP server.
    ClientLeft,
    /// The streamable-HTTP transport ended (its first request failed, or it was closed).
    GatewayEnded,
    /// stdout is gone.
    ClientUnwritable,
}

/// Says on stderr why a message did not reach the gateway; a request gets an error
/// answer with its id, so the client is not left waiting.
async fn answer_unsent(
    local: &mut impl Transport<RoleServer>,
    request: Option<RequestId>,
    error: &HttpError,
    url: &Url,
    credentials: &Credentials,
) -> Result<(), ()> {
    let why = explain(error, url, credentials);
    if !matches!(error, StreamableHttpError::AuthRequired(_)) {
        // A refused token was already explained when renewing it failed.
        eprintln!("mandate connect: {why}");
    }
    let Some(id) = request else { return Ok(()) };
    let reply = ServerJsonRpcMessage::error(
        ErrorData::internal_error(format!("mandate connect: {why}"), None),
        Some(id),
    );
    local.send(reply).await.map_err(|_| ())
}

fn request_id(message: &ClientJsonRpcMessage) -> Option<RequestId> {
    match message {
        ClientJsonRpcMessage::Request(request) => Some(request.id.clone()),
        _ => None,
    }
}

/// Why a message did not reach the gateway, in words for the person reading stderr and
/// for the client's error.
fn explain(error: &HttpError, url: &Url, credentials: &Credentials) -> String {
    match error {
        StreamableHttpError::AuthRequired(refusal) => {
            credentials.last_failure().unwrap_or_else(|| {
                format!(
                    "the gateway refused the token: {}",
                    super::credentials::challenge_description(&refusal.www_authenticate_header)
                )
            })
        }
        StreamableHttpError::Client(e) if e.is_connect() || e.is_timeout() => {
            format!("cannot reach the gateway at {url}: {}", root_cause(e))
        }
        StreamableHttpError::HttpStatus(status) => {
            format!("the gateway at {url} answered HTTP {}", status.status)
        }
        other => format!("the gateway at {url} could not be used: {other}"),
    }
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
