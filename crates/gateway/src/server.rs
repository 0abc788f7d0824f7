//! `mandate serve`: the HTTP server, its layers in order, and the catalog's upkeep
//! (tool-list changes, upstreams coming back, pins accepted in another process).
//!
//! Layers, outermost first: load shedding → authentication → the direct `tools/call`
//! path ([`crate::direct_call`]) → MCP (rmcp streamable HTTP).

use crate::direct_call::{DirectCalls, direct_call};
use crate::front::Front;
use crate::{Gateway, GatewayError};
use crate::{oauth, principal};
use axum::Router;
use axum::serve::ListenerExt as _;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Builds the router: `/mcp` behind authentication; the OAuth authorization server
/// (`/oauth/*` and the `/.well-known/` metadata) beside it.
pub fn router(gw: Arc<Gateway>, shutdown: CancellationToken) -> Router {
    // A reply that is one JSON-RPC message goes out as plain JSON, not as an event stream
    // (rmcp still streams when a handler sends notifications first, e.g. progress).
    let mut config = StreamableHttpServerConfig::default()
        .with_max_request_body_bytes(gw.config.max_body_bytes)
        .with_json_response(true);
    config.cancellation_token = shutdown;
    config.allowed_hosts = allowed_hosts(&gw);
    let direct = Arc::new(DirectCalls::new(Arc::clone(&gw), &config.allowed_hosts));
    let front_gw = Arc::clone(&gw);
    let mcp = SharedRmcp(Arc::new(StreamableHttpService::new(
        move || Ok(Front::new(Arc::clone(&front_gw))),
        Arc::new(LocalSessionManager::default()),
        config,
    )));
    Router::new()
        .nest_service("/mcp", mcp)
        // A plain stateless `tools/call` is answered here; everything else goes to rmcp.
        .layer(axum::middleware::from_fn_with_state(direct, direct_call))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&gw),
            principal::authenticate,
        ))
        // Outermost on /mcp: overload is refused before any work.
        .layer(axum::middleware::from_fn_with_state(
            crate::shed::InFlight::new(gw.config.max_in_flight),
            crate::shed::shed,
        ))
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        // The OAuth authorization server and its metadata: outside the bearer layer.
        .merge(oauth::router(Arc::clone(&gw)))
}

/// rmcp's MCP service, as mounted on `/mcp`.
type Rmcp = StreamableHttpService<Front, LocalSessionManager>;

/// rmcp's service behind an `Arc`. Each middleware layer on `/mcp` clones the service
/// inside it for every request, and rmcp's clone copies its configuration (the allowed
/// hosts, a cancellation token whose count sits behind a mutex): a cost even the calls
/// the direct path answers without rmcp used to pay, three times each. This clones in one
/// reference count, and clones rmcp itself only for a request that reaches it.
#[derive(Clone)]
struct SharedRmcp(Arc<Rmcp>);

impl tower::Service<axum::extract::Request> for SharedRmcp {
    type Response = <Rmcp as tower::Service<axum::extract::Request>>::Response;
    type Error = <Rmcp as tower::Service<axum::extract::Request>>::Error;
    type Future = <Rmcp as tower::Service<axum::extract::Request>>::Future;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        // rmcp's service is always ready; the clone `call` makes is polled by nobody else.
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: axum::extract::Request) -> Self::Future {
        tower::Service::call(&mut Rmcp::clone(&self.0), request)
    }
}

/// Hosts the MCP endpoint answers to: loopback plus the public URL's host
/// (rmcp refuses others, which defends local gateways against DNS rebinding).
fn allowed_hosts(gw: &Gateway) -> Vec<String> {
    let mut hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let public = &gw.config.public_url;
    if let Some(rest) = public.split("://").nth(1) {
        let authority = rest.split('/').next().unwrap_or(rest);
        hosts.push(authority.to_owned());
        if let Some((host, _port)) = authority.rsplit_once(':') {
            hosts.push(host.to_owned());
        }
    }
    hosts.push(gw.config.listen.ip().to_string());
    hosts
}

/// Serves until `shutdown` is cancelled. The catalog is built first; upstreams
/// that fail are retried in the background and their tools appear when they answer.
pub async fn serve(
    gw: Arc<Gateway>,
    listener: TcpListener,
    mut changes: tokio::sync::mpsc::UnboundedReceiver<String>,
    shutdown: CancellationToken,
) -> Result<(), GatewayError> {
    // Read before the pins are: an acceptance landing after this is seen by the upkeep.
    let mut pins_seen = gw.store.pins_revision().ok();
    let failures = gw.refresh_catalog().await;
    for failure in &failures {
        tracing::warn!(error = %failure, "upstream not available yet; retrying in the background");
    }
    tracing::info!(tools = gw.catalog.snapshot().len(), "catalog ready");
    let upkeep_gw = Arc::clone(&gw);
    let upkeep_stop = shutdown.clone();
    let mut missing = !failures.is_empty();
    tokio::spawn(async move {
        let mut retry = tokio::time::interval(Duration::from_secs(5));
        // An acceptance by `mandate tools accept` (any process) moves the pins' revision.
        let mut pins = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                () = upkeep_stop.cancelled() => break,
                Some(upstream) = changes.recv() => {
                    tracing::info!(%upstream, "refreshing the catalog");
                    missing = !upkeep_gw.refresh_catalog().await.is_empty();
                }
                _ = retry.tick(), if missing => {
                    missing = !upkeep_gw.refresh_catalog().await.is_empty();
                }
                _ = pins.tick() => {
                    let now = upkeep_gw.store.pins_revision().ok();
                    if now != pins_seen {
                        pins_seen = now;
                        upkeep_gw.recheck_pins().await;
                    }
                }
            }
        }
    });
    tokio::spawn(keep_checkpointing(Arc::clone(&gw), shutdown.clone()));
    tokio::spawn(crate::relay::relay_updates(
        Arc::clone(&gw),
        shutdown.clone(),
    ));
    let app = router(Arc::clone(&gw), shutdown.clone());
    // Replies are written in pieces (SSE framing); with Nagle's algorithm on, a later piece
    // waits for the client's delayed ACK, about 40 ms on Linux.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    // The client's address is kept for the sign-in rate limits.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .map_err(|source| GatewayError::Listen {
            addr: gw.config.listen.to_string(),
            source,
        });
    // Completions are queued without holding replies: let the last ones reach the disk.
    if let Err(e) = gw.store.flush().await {
        tracing::error!(error = %e, "cannot flush the last audit events");
    }
    // The last tool-call spans still queued go to the collector (bounded wait).
    gw.telemetry.shutdown().await;
    served
}

/// Signs a checkpoint whenever `checkpoint_every` events are unsigned, or
/// `checkpoint_interval` has passed with any unsigned; and once more at shutdown.
async fn keep_checkpointing(gw: Arc<Gateway>, shutdown: CancellationToken) {
    let config = gw.checkpointer.config().clone();
    let mut tick =
        tokio::time::interval(Duration::from_millis(250).min(config.checkpoint_interval));
    let mut last = tokio::time::Instant::now();
    loop {
        let stopping = tokio::select! {
            () = shutdown.cancelled() => true,
            _ = tick.tick() => false,
        };
        let unsigned = gw
            .checkpointer
            .unsigned(gw.store.as_ref())
            .await
            .unwrap_or(0);
        // On the interval, `checkpoint` itself finds out whether anything is unsigned (the
        // count above is only known after the first checkpoint has read the store).
        let due = stopping
            || unsigned >= config.checkpoint_every
            || last.elapsed() >= config.checkpoint_interval;
        if due {
            last = tokio::time::Instant::now();
            let now = crate::now().as_secs();
            if let Err(e) = gw.checkpointer.checkpoint(gw.store.as_ref(), now).await {
                tracing::error!(error = %e, "cannot sign an audit checkpoint");
            }
        }
        if stopping {
            break;
        }
    }
}
