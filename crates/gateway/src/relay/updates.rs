//! Resource updates from the upstreams, relayed to the agents that subscribed.

use crate::Gateway;
use rmcp::model::ResourceUpdatedNotificationParam;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Relays each upstream resource update to the agents subscribed to it, until `shutdown`.
/// A subscriber whose connection is gone is dropped (see `ResourceRoutes::subscribed`).
pub async fn relay_updates(gw: Arc<Gateway>, shutdown: CancellationToken) {
    let mut updates = gw.upstreams.resource_updates();
    loop {
        let update = tokio::select! {
            () = shutdown.cancelled() => break,
            next = updates.recv() => match next {
                Ok(update) => update,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "resource updates were dropped: the relay fell behind");
                    continue;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        };
        for peer in gw.resource_routes.subscribed(&update) {
            let params = ResourceUpdatedNotificationParam::new(update.uri.clone());
            if peer.notify_resource_updated(params).await.is_err() {
                tracing::debug!(uri = %update.uri, "a subscriber is gone");
            }
        }
    }
}
