//! Connections to upstream MCP servers, each negotiated on its own (stdio or HTTP).
//!
//! Mandate speaks to upstreams with its own credentials; an agent's token never goes here.

use crate::config::{UpstreamConfig, UpstreamTransport};
use mandate_policy::Authorized;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, JsonObject, ResourceUpdatedNotificationParam, Tool,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, broadcast, mpsc};

/// Why an upstream could not be used.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No upstream has that name.
    #[error("no upstream is named `{0}`")]
    Unknown(String),
    /// Connecting (spawning, handshaking) failed.
    #[error("cannot connect to upstream `{upstream}`: {detail}")]
    Connect {
        /// The upstream.
        upstream: String,
        /// What failed.
        detail: String,
    },
    /// The upstream failed to answer a request.
    #[error("upstream `{upstream}` failed: {detail}")]
    Request {
        /// The upstream.
        upstream: String,
        /// What failed.
        detail: String,
    },
    /// The upstream took too long.
    #[error("upstream `{0}` did not answer in time")]
    Timeout(String),
    /// The proof of authorisation names another tool.
    #[error("authorisation for `{authorized}` cannot forward `{requested}`")]
    WrongAuthorization {
        /// The tool the proof is for.
        authorized: String,
        /// The tool asked for.
        requested: String,
    },
}

/// An upstream's resource changed (`notifications/resources/updated`): relayed to the
/// agents that subscribed to it (see [`crate::relay`]).
#[derive(Debug, Clone)]
pub struct ResourceUpdate {
    /// The upstream.
    pub upstream: String,
    /// The resource's URI.
    pub uri: String,
}

/// Tells the gateway that an upstream's tool list changed, or one of its resources.
#[derive(Clone)]
struct ChangeNotifier {
    upstream: String,
    changes: mpsc::UnboundedSender<String>,
    updates: broadcast::Sender<ResourceUpdate>,
}

impl ClientHandler for ChangeNotifier {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        tracing::info!(upstream = %self.upstream, "upstream tool list changed");
        let _ = self.changes.send(self.upstream.clone());
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        // No receiver means no agent subscribed: nothing to relay.
        let _ = self.updates.send(ResourceUpdate {
            upstream: self.upstream.clone(),
            uri: params.uri,
        });
    }
}

type Client = RunningService<RoleClient, ChangeNotifier>;

/// One upstream: its config and, while connected, its client.
struct Upstream {
    config: UpstreamConfig,
    client: Mutex<Option<Arc<Client>>>,
}

/// All upstreams, by name.
pub struct Upstreams {
    by_name: BTreeMap<String, Arc<Upstream>>,
    changes: mpsc::UnboundedSender<String>,
    updates: broadcast::Sender<ResourceUpdate>,
}

impl Upstreams {
    /// Prepares connections; nothing is contacted until first use.
    /// Tool-list changes are reported on the returned receiver.
    pub fn new(configs: &[UpstreamConfig]) -> (Self, mpsc::UnboundedReceiver<String>) {
        let (changes, rx) = mpsc::unbounded_channel();
        let by_name = configs
            .iter()
            .map(|c| {
                let up = Upstream {
                    config: c.clone(),
                    client: Mutex::new(None),
                };
                (c.name.clone(), Arc::new(up))
            })
            .collect();
        // Bounded: a relay that falls this far behind drops the oldest updates.
        let (updates, _) = broadcast::channel(256);
        let upstreams = Self {
            by_name,
            changes,
            updates,
        };
        (upstreams, rx)
    }

    /// Resource updates from every upstream, from now on.
    pub fn resource_updates(&self) -> broadcast::Receiver<ResourceUpdate> {
        self.updates.subscribe()
    }

    fn timeout_of(&self, upstream: &str) -> Duration {
        self.by_name
            .get(upstream)
            .map_or(crate::config::DEFAULT_UPSTREAM_TIMEOUT, |u| {
                u.config.call_timeout
            })
    }

    /// The upstreams' names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Lists an upstream's tools (connecting first if needed).
    pub async fn list_tools(&self, upstream: &str) -> Result<Vec<Tool>, UpstreamError> {
        let client = self.client(upstream).await?;
        let limit = self.timeout_of(upstream);
        match tokio::time::timeout(limit, client.peer().list_all_tools()).await {
            Err(_) => Err(UpstreamError::Timeout(upstream.to_owned())),
            Ok(Ok(tools)) => Ok(tools),
            Ok(Err(e)) => {
                self.forget(upstream).await;
                Err(UpstreamError::Request {
                    upstream: upstream.to_owned(),
                    detail: e.to_string(),
                })
            }
        }
    }

    /// Forwards an authorised call. The proof must name this very tool.
    pub async fn call(
        &self,
        authorized: &Authorized,
        arguments: Option<JsonObject>,
    ) -> Result<CallToolResult, UpstreamError> {
        let tool = authorized.tool();
        let client = self.client(tool.upstream()).await?;
        let mut params = CallToolRequestParams::new(tool.tool().to_owned());
        params.arguments = arguments;
        let call = client.peer().call_tool(params);
        // A hung upstream costs its own callers this long, and nobody else anything.
        let limit = self.timeout_of(tool.upstream());
        match tokio::time::timeout(limit, call).await {
            Err(_) => Err(UpstreamError::Timeout(tool.upstream().to_owned())),
            Ok(Ok(result)) => Ok(result),
            Ok(Err(e)) => {
                // The connection may be dead: drop it so the next call reconnects.
                if matches!(
                    e,
                    rmcp::ServiceError::TransportClosed | rmcp::ServiceError::TransportSend(_)
                ) {
                    self.forget(tool.upstream()).await;
                }
                Err(UpstreamError::Request {
                    upstream: tool.upstream().to_owned(),
                    detail: e.to_string(),
                })
            }
        }
    }

    /// Runs one request (resources, prompts: see [`crate::relay`]) on an upstream's live
    /// connection, bounded by its call timeout. The outer error is Mandate's (cannot connect,
    /// timed out); the inner result is the upstream's own answer, errors included.
    pub(crate) async fn with_peer<T, F, Fut>(
        &self,
        upstream: &str,
        request: F,
    ) -> Result<Result<T, rmcp::ServiceError>, UpstreamError>
    where
        F: FnOnce(rmcp::Peer<RoleClient>) -> Fut,
        Fut: Future<Output = Result<T, rmcp::ServiceError>>,
    {
        let client = self.client(upstream).await?;
        let limit = self.timeout_of(upstream);
        tokio::time::timeout(limit, request(client.peer().clone()))
            .await
            .map_err(|_| UpstreamError::Timeout(upstream.to_owned()))
    }

    async fn forget(&self, upstream: &str) {
        if let Some(up) = self.by_name.get(upstream) {
            *up.client.lock().await = None;
        }
    }

    /// The live client for an upstream, connecting if there is none or it closed.
    async fn client(&self, upstream: &str) -> Result<Arc<Client>, UpstreamError> {
        let up = self
            .by_name
            .get(upstream)
            .ok_or_else(|| UpstreamError::Unknown(upstream.to_owned()))?;
        let mut slot = up.client.lock().await;
        if let Some(client) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(Arc::clone(client));
        }
        let notifier = ChangeNotifier {
            upstream: upstream.to_owned(),
            changes: self.changes.clone(),
            updates: self.updates.clone(),
        };
        let client = Arc::new(connect(&up.config, notifier).await?);
        *slot = Some(Arc::clone(&client));
        Ok(client)
    }
}

async fn connect(
    config: &UpstreamConfig,
    handler: ChangeNotifier,
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
                handler
                    .serve(transport)
                    .await
                    .map_err(|e| fail(e.to_string()))
            }
            UpstreamTransport::Http { url, headers } => {
                let mut cfg = StreamableHttpClientTransportConfig::with_uri(url.as_str());
                for (name, value) in headers {
                    let name = http::HeaderName::try_from(name.as_str())
                        .map_err(|_| fail(format!("bad header name `{name}`")))?;
                    let value = http::HeaderValue::try_from(value.as_str())
                        .map_err(|_| fail(format!("bad value for header `{name}`")))?;
                    cfg.custom_headers.insert(name, value);
                }
                let transport =
                    StreamableHttpClientTransport::with_client(reqwest::Client::new(), cfg);
                handler
                    .serve(transport)
                    .await
                    .map_err(|e| fail(e.to_string()))
            }
        }
    };
    match tokio::time::timeout(Duration::from_secs(30), handshake).await {
        Ok(result) => result,
        Err(_) => Err(UpstreamError::Timeout(config.name.clone())),
    }
}
