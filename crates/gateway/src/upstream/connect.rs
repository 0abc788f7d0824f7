//! Opening one MCP client session to an upstream: spawning a child process or
//! handshaking over streamable HTTP, with Mandate's own credentials.
//!
//! A handshake that does not finish in [`HANDSHAKE_TIMEOUT`] counts as a failed connect.

use super::direct_http::{DirectHttp, Eligible, Opened};
use super::session_tap::{Session, SessionTap};
use super::{ChangeNotifier, Client, UpstreamError};
use crate::config::{UpstreamConfig, UpstreamTransport};
use rmcp::ServiceExt;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The longest a connect (spawn or handshake) may take.
pub(super) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Connects to an upstream and completes the MCP handshake.
pub(super) async fn connect(
    config: &UpstreamConfig,
    handler: ChangeNotifier,
    eligible: &Arc<Eligible>,
) -> Result<Client, UpstreamError> {
    let fail = |detail: String| UpstreamError::Connect {
        upstream: config.name.clone(),
        detail,
    };
    let handshake = async {
        match &config.transport {
            UpstreamTransport::Stdio { program, args, env } => {
                let mut command = tokio::process::Command::new(program);
                command.args(args).envs(env).kill_on_drop(true);
                let (transport, _stderr) = TokioChildProcess::builder(command)
                    .stderr(std::process::Stdio::inherit())
                    .spawn()
                    .map_err(|e| fail(format!("cannot start `{program}`: {e}")))?;
                let service = handler
                    .serve(transport)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                Ok(Client {
                    service,
                    direct: None,
                })
            }
            UpstreamTransport::Http { url, headers } => {
                let mut operator_headers = HashMap::new();
                for (name, value) in headers {
                    let name = http::HeaderName::try_from(name.as_str())
                        .map_err(|_| fail(format!("bad header name `{name}`")))?;
                    let value = http::HeaderValue::try_from(value.as_str())
                        .map_err(|_| fail(format!("bad value for header `{name}`")))?;
                    operator_headers.insert(name, value);
                }
                let mut cfg = StreamableHttpClientTransportConfig::with_uri(url.as_str());
                cfg.custom_headers = operator_headers.clone();
                // One connection pool for rmcp's transport and the direct sender, which
                // posts in the session rmcp's transport opened.
                let http = reqwest::Client::new();
                let session = Session::default();
                let tap = SessionTap {
                    http: http.clone(),
                    session: session.clone(),
                };
                let transport = StreamableHttpClientTransport::with_client(tap, cfg);
                let notifier = handler.clone();
                let service = handler
                    .serve(transport)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                let opened = Opened {
                    client: http,
                    uri: url.as_str(),
                    operator_headers,
                    session,
                    peer: service.peer(),
                };
                let direct = DirectHttp::for_connection(opened, Arc::clone(eligible), notifier);
                if direct.is_some() {
                    tracing::info!(upstream = %config.name, "tool calls are sent directly, one POST each");
                }
                Ok(Client { service, direct })
            }
        }
    };
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(result) => result,
        Err(_) => Err(UpstreamError::Timeout(config.name.clone())),
    }
}
