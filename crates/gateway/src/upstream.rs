//! Connections to upstream MCP servers, each negotiated on its own (stdio or HTTP), and
//! each behind its own circuit breaker ([`breaker`]) so a dead one costs its callers
//! microseconds, not a handshake each.
//!
//! Mandate speaks to upstreams with its own credentials; an agent's token never goes here.

mod breaker;
mod connect;
mod direct_http;
mod session_tap;

use crate::config::UpstreamConfig;
use breaker::{Admission, Breaker, Outcome, Refusal, Ticket};
use direct_http::{DirectError, DirectHttp, Eligible};
use mandate_policy::Authorized;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, JsonObject, ResourceUpdatedNotificationParam, Tool,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::{ClientHandler, RoleClient};
use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};
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
    /// The upstream's breaker is open: it was not contacted.
    #[error("upstream `{upstream}` is not tried after {failures} connection failures in a row")]
    Unavailable {
        /// The upstream.
        upstream: String,
        /// Connection failures in a row so far.
        failures: u32,
        /// How long until a call is let through to try it again; `None` while one is.
        retry_in: Option<Duration>,
    },
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

/// One live connection: rmcp's client session and, for an HTTP upstream, the direct
/// sender its tool calls take ([`direct_http`]).
struct Client {
    service: RunningService<RoleClient, ChangeNotifier>,
    direct: Option<DirectHttp>,
}

impl Client {
    fn peer(&self) -> &rmcp::Peer<RoleClient> {
        self.service.peer()
    }

    fn is_closed(&self) -> bool {
        self.service.is_closed()
    }
}

/// How one request failed, by the client that sent it.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Service(#[from] rmcp::ServiceError),
    #[error(transparent)]
    Direct(#[from] DirectError),
}

/// One upstream: its config, its breaker and, while connected, its client.
struct Upstream {
    config: UpstreamConfig,
    // Held only for a state change, never across an await: a refused call never waits.
    breaker: std::sync::Mutex<Breaker>,
    // Held across a connect (up to the handshake timeout): only this upstream's callers wait.
    client: Mutex<Option<Arc<Client>>>,
    // The tools whose calls may skip rmcp's client, from the last listing.
    eligible: Arc<Eligible>,
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
                    breaker: std::sync::Mutex::new(Breaker::new(c.breaker)),
                    client: Mutex::new(None),
                    eligible: Arc::default(),
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

    /// The upstreams' names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Lists an upstream's tools (connecting first if needed).
    pub async fn list_tools(&self, upstream: &str) -> Result<Vec<Tool>, UpstreamError> {
        let tools = self
            .request(upstream, |client| async move {
                Ok(client.peer().list_all_tools().await?)
            })
            .await?;
        if let Some(up) = self.by_name.get(upstream) {
            up.eligible.learn(&tools);
        }
        Ok(tools)
    }

    /// Forwards an authorised call. The proof must name this very tool.
    pub async fn call(
        &self,
        authorized: &Authorized,
        arguments: Option<JsonObject>,
    ) -> Result<CallToolResult, UpstreamError> {
        let tool = authorized.tool();
        let mut params = CallToolRequestParams::new(tool.tool().to_owned());
        params.arguments = arguments;
        let up = self.upstream(tool.upstream())?;
        self.request(tool.upstream(), |client| async move {
            let Some(direct) = client.direct.as_ref().filter(|d| d.takes(&params.name)) else {
                return Ok(client.peer().call_tool(params).await?);
            };
            let answer = direct.call(params.clone()).await;
            if answer.tools_changed {
                // rmcp's peer caches listings and did not see the notice: the next
                // listing must come from a fresh session.
                up.forget(&client).await;
            }
            match answer.result {
                // The upstream lost the session (restarted, say) and ran nothing: rmcp's
                // client opens a new one and sends the call again, once.
                Err(DirectError::SessionExpired) => Ok(client.peer().call_tool(params).await?),
                result => Ok(result?),
            }
        })
        .await
    }

    fn upstream(&self, name: &str) -> Result<&Arc<Upstream>, UpstreamError> {
        self.by_name
            .get(name)
            .ok_or_else(|| UpstreamError::Unknown(name.to_owned()))
    }

    /// Sends one request through the upstream's breaker, connecting first if needed.
    async fn request<T, F, Fut>(&self, name: &str, send: F) -> Result<T, UpstreamError>
    where
        F: FnOnce(Arc<Client>) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let up = self.upstream(name)?;
        let attempt = Attempt::admit(up, Instant::now())?;
        let client = match self.client(up, &attempt).await {
            Ok(client) => client,
            Err(e) => {
                let outcome = match e {
                    UpstreamError::Unavailable { .. } => Outcome::Inconclusive,
                    _ => Outcome::Unreachable,
                };
                attempt.finish(outcome);
                return Err(e);
            }
        };
        // A hung upstream costs its own callers this long, and nobody else anything.
        let answer = tokio::time::timeout(up.config.call_timeout, send(Arc::clone(&client))).await;
        match answer {
            Err(_) => {
                attempt.finish(Outcome::Inconclusive);
                Err(UpstreamError::Timeout(name.to_owned()))
            }
            Ok(Ok(answer)) => {
                attempt.finish(Outcome::Answered);
                Ok(answer)
            }
            Ok(Err(e)) => {
                let outcome = reachability(&e);
                if outcome == Outcome::Unreachable {
                    // The connection is dead: drop it so the next call reconnects.
                    up.forget(&client).await;
                }
                attempt.finish(outcome);
                Err(UpstreamError::Request {
                    upstream: name.to_owned(),
                    detail: e.to_string(),
                })
            }
        }
    }

    /// Runs one request (resources, prompts: see [`crate::relay`]) through the upstream's
    /// breaker, bounded by its call timeout. The outer error is Mandate's (cannot connect,
    /// breaker open, timed out, connection broken); the inner result is the upstream's own
    /// answer, its JSON-RPC errors included.
    pub(crate) async fn with_peer<T, F, Fut>(
        &self,
        upstream: &str,
        request: F,
    ) -> Result<Result<T, rmcp::ServiceError>, UpstreamError>
    where
        F: FnOnce(rmcp::Peer<RoleClient>) -> Fut,
        Fut: Future<Output = Result<T, rmcp::ServiceError>>,
    {
        self.request(upstream, |client| async move {
            match request(client.peer().clone()).await {
                Ok(value) => Ok(Ok(value)),
                // The upstream answered (with an error): it is alive, and its words pass on.
                Err(rmcp::ServiceError::McpError(own)) => {
                    Ok(Err(rmcp::ServiceError::McpError(own)))
                }
                Err(other) => Err(other.into()),
            }
        })
        .await
    }

    /// The live client for an upstream, connecting if there is none or it closed.
    async fn client(
        &self,
        up: &Upstream,
        attempt: &Attempt<'_>,
    ) -> Result<Arc<Client>, UpstreamError> {
        let mut slot = up.client.lock().await;
        if let Some(client) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(Arc::clone(client));
        }
        // Callers that queued behind a connect which opened the breaker give up now,
        // instead of each trying again in turn.
        if let Some(refusal) = attempt.overtaken() {
            return Err(up.unavailable(refusal, Instant::now()));
        }
        let notifier = ChangeNotifier {
            upstream: up.config.name.clone(),
            changes: self.changes.clone(),
            updates: self.updates.clone(),
        };
        let client = Arc::new(connect::connect(&up.config, notifier, &up.eligible).await?);
        *slot = Some(Arc::clone(&client));
        Ok(client)
    }
}

impl Upstream {
    fn breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        self.breaker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops `stale` if it is still the upstream's client (another caller may have
    /// reconnected meanwhile).
    async fn forget(&self, stale: &Arc<Client>) {
        let mut slot = self.client.lock().await;
        if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, stale)) {
            *slot = None;
        }
    }

    fn unavailable(&self, refusal: Refusal, now: Instant) -> UpstreamError {
        UpstreamError::Unavailable {
            upstream: self.config.name.clone(),
            failures: refusal.failures,
            retry_in: refusal.retry_at.map(|at| at.saturating_duration_since(now)),
        }
    }
}

/// One call let through an upstream's breaker; it reports what it found out exactly once.
/// Dropped without a report (the caller gave up), a probe is abandoned so the next call
/// probes instead: a cancelled probe never leaves the breaker half-open for ever.
struct Attempt<'a> {
    upstream: &'a Upstream,
    ticket: Ticket,
    reported: bool,
}

impl<'a> Attempt<'a> {
    fn admit(upstream: &'a Upstream, now: Instant) -> Result<Self, UpstreamError> {
        let ticket = match upstream.breaker().admit(now) {
            Admission::Pass => Ticket::Pass,
            Admission::Probe => {
                tracing::info!(upstream = %upstream.config.name, "probing an unreachable upstream");
                Ticket::Probe
            }
            Admission::Refuse(refusal) => return Err(upstream.unavailable(refusal, now)),
        };
        Ok(Self {
            upstream,
            ticket,
            reported: false,
        })
    }

    /// For a call let through while closed: the breaker's refusal if it opened since.
    fn overtaken(&self) -> Option<Refusal> {
        match self.ticket {
            Ticket::Pass => self.upstream.breaker().refusal(),
            Ticket::Probe => None,
        }
    }

    fn finish(mut self, outcome: Outcome) {
        self.reported = true;
        let mut breaker = self.upstream.breaker();
        let was_open = breaker.refusal().is_some();
        breaker.record(self.ticket, outcome, Instant::now());
        match (was_open, breaker.refusal().is_some()) {
            (false, true) => {
                tracing::warn!(upstream = %self.upstream.config.name, "upstream unreachable: calls to it are refused until it is retried");
            }
            (true, false) => {
                tracing::info!(upstream = %self.upstream.config.name, "upstream reachable again");
            }
            _ => {}
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.reported && self.ticket == Ticket::Probe {
            self.upstream.breaker().abandon();
        }
    }
}

/// What a failed request says about the upstream's reachability.
fn reachability(failure: &Failure) -> Outcome {
    match failure {
        Failure::Service(
            rmcp::ServiceError::TransportClosed | rmcp::ServiceError::TransportSend(_),
        )
        | Failure::Direct(DirectError::Transport(_)) => Outcome::Unreachable,
        Failure::Service(
            rmcp::ServiceError::McpError(_) | rmcp::ServiceError::UnexpectedResponse,
        )
        | Failure::Direct(DirectError::Upstream(_) | DirectError::Unexpected(_)) => {
            Outcome::Answered
        }
        Failure::Direct(DirectError::SessionExpired) => Outcome::Inconclusive,
        Failure::Service(_) => Outcome::Inconclusive,
    }
}
