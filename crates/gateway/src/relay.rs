//! Resources and prompts relayed from the upstreams, governed under two read-class names per
//! upstream, `U.resources` and `U.prompts`: an agent sees and reads them only where its mandate reaches.
//!
//! A grant of `U.*` reaches them as it reaches U's tools; `U.resources` alone reaches only the
//! resources. Every read, prompt fetch and subscription is decided and audited like a call.

use crate::Gateway;
use crate::principal::Principal;
use crate::record;
use crate::upstream::{ResourceUpdate, UpstreamError};
use mandate_core::{BlastRadius, CallTarget, Decision, DenyReason, ToolClass, ToolName};
use mandate_policy::PolicyVerdict;
use rmcp::{ErrorData, Peer, RoleServer};
use rmcp::model::{
    GetPromptRequestParams, GetPromptResult, Prompt, ReadResourceRequestParams,
    ReadResourceResult, Resource, ResourceTemplate, ResourceUpdatedNotificationParam,
    SubscribeRequestParams,
    UnsubscribeRequestParams,
};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

/// The name under which an upstream's resources are governed.
pub const RESOURCES: &str = "resources";
/// The name under which an upstream's prompts are governed.
pub const PROMPTS: &str = "prompts";

/// Reading context is a read, whatever the upstream: it changes nothing.
const RELAY_RADIUS: BlastRadius = BlastRadius {
    class: ToolClass::Read,
    destructive: false,
    open_world: false,
};

/// Which upstream listed which resource URI (and template prefix), to route reads; and who
/// subscribed to which resource, to relay its updates.
#[derive(Default)]
pub struct ResourceRoutes {
    exact: Mutex<BTreeMap<String, String>>,
    prefixes: Mutex<BTreeMap<String, String>>,
    /// (upstream, uri) → the subscribed agents' sessions and connections.
    subscribers: Mutex<BTreeMap<(String, String), Vec<(String, Peer<RoleServer>)>>>,
}

impl ResourceRoutes {
    fn subscribe(&self, upstream: &str, uri: &str, session: &str, peer: Peer<RoleServer>) {
        if let Ok(mut subs) = self.subscribers.lock() {
            let entry = subs.entry((upstream.to_owned(), uri.to_owned())).or_default();
            entry.retain(|(s, _)| s != session);
            entry.push((session.to_owned(), peer));
        }
    }

    /// Forgets a session's subscription; true when nobody else still wants the resource.
    fn unsubscribe(&self, upstream: &str, uri: &str, session: &str) -> bool {
        let Ok(mut subs) = self.subscribers.lock() else {
            return false;
        };
        let key = (upstream.to_owned(), uri.to_owned());
        let left = subs.get_mut(&key).map_or(0, |entry| {
            entry.retain(|(s, _)| s != session);
            entry.len()
        });
        if left == 0 {
            subs.remove(&key);
        }
        left == 0
    }

    fn subscribed(&self, update: &ResourceUpdate) -> Vec<Peer<RoleServer>> {
        let key = (update.upstream.clone(), update.uri.clone());
        self.subscribers
            .lock()
            .ok()
            .and_then(|subs| subs.get(&key).map(|e| e.iter().map(|(_, p)| p.clone()).collect()))
            .unwrap_or_default()
    }

    fn learn(&self, upstream: &str, uris: impl Iterator<Item = String>) {
        if let Ok(mut exact) = self.exact.lock() {
            exact.extend(uris.map(|uri| (uri, upstream.to_owned())));
        }
    }

    fn learn_templates(&self, upstream: &str, templates: &[ResourceTemplate]) {
        if let Ok(mut prefixes) = self.prefixes.lock() {
            for t in templates {
                // `test://dynamic/{id}` routes every URI that starts `test://dynamic/`.
                let prefix = t.uri_template.split('{').next().unwrap_or_default();
                if !prefix.is_empty() {
                    prefixes.insert(prefix.to_owned(), upstream.to_owned());
                }
            }
        }
    }

    fn route(&self, uri: &str) -> Option<String> {
        if let Some(up) = self.exact.lock().ok()?.get(uri) {
            return Some(up.clone());
        }
        let prefixes = self.prefixes.lock().ok()?;
        // The longest matching prefix wins.
        prefixes
            .iter()
            .filter(|(prefix, _)| uri.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, up)| up.clone())
    }
}

/// Why a relayed request failed, as the agent sees it.
fn refused(reasons: Vec<DenyReason>) -> ErrorData {
    crate::rescue::CallError::Refused(Decision::Deny(reasons)).into()
}

/// The upstream's answer as the agent sees it: its own JSON-RPC errors pass through (e.g.
/// "resource not found"); Mandate's failures to reach it say the upstream is unavailable.
fn answered<T>(
    upstream: &str,
    result: Result<Result<T, rmcp::ServiceError>, UpstreamError>,
) -> Result<T, ErrorData> {
    match result {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(rmcp::ServiceError::McpError(own))) => Err(own),
        Ok(Err(e)) => {
            tracing::warn!(upstream, error = %e, "a relayed request failed upstream");
            Err(unavailable(upstream))
        }
        Err(e) => {
            tracing::warn!(upstream, error = %e, "a relayed request failed upstream");
            Err(unavailable(upstream))
        }
    }
}

fn unavailable(upstream: &str) -> ErrorData {
    crate::rescue::CallError::Upstream {
        upstream: upstream.to_owned(),
    }
    .into()
}

impl Gateway {
    /// May this principal reach `U.resources` / `U.prompts`? The mandate's scope and Cedar.
    fn relay_check(&self, principal: &Principal, governed: &ToolName) -> Result<(), Vec<DenyReason>> {
        let target = CallTarget {
            tool: governed.clone(),
            radius: RELAY_RADIUS,
            arguments: None,
        };
        mandate_core::check_scope(&principal.chain, &target, crate::now())?;
        let facts = mandate_policy::CallFacts {
            chain: &principal.chain,
            target: &target,
            approved: false,
        };
        match self.policy.evaluate_call(&facts) {
            PolicyVerdict::Permit { .. } => Ok(()),
            PolicyVerdict::Forbid { policies } => {
                Err(vec![DenyReason::ForbiddenByPolicy { policies }])
            }
        }
    }

    /// The upstreams whose `kind` this principal reaches, with the governed name.
    fn relayed_upstreams(&self, principal: &Principal, kind: &str) -> Vec<(String, ToolName)> {
        self.upstreams
            .names()
            .filter_map(|up| ToolName::from_parts(up, kind).ok().map(|n| (up.to_owned(), n)))
            .filter(|(_, governed)| self.relay_check(principal, governed).is_ok())
            .collect()
    }

    /// Every resource the principal may read, from every upstream that offers resources.
    pub async fn relayed_resources(&self, principal: &Principal) -> Vec<Resource> {
        let mut all = Vec::new();
        for (upstream, _) in self.relayed_upstreams(principal, RESOURCES) {
            match self.upstreams
                .with_peer(&upstream, |p| async move {
                    if !offers(&p, |c| c.resources.is_some()) {
                        return Ok(Vec::new());
                    }
                    p.list_all_resources().await
                })
                .await {
                Ok(Ok(found)) => {
                    self.resource_routes
                        .learn(&upstream, found.iter().map(|r| r.uri.clone()));
                    all.extend(found);
                }
                other => tracing::debug!(upstream, failed = ?other.err(), "no resources listed"),
            }
        }
        all
    }

    /// Every resource template the principal may read.
    pub async fn relayed_templates(&self, principal: &Principal) -> Vec<ResourceTemplate> {
        let mut all = Vec::new();
        for (upstream, _) in self.relayed_upstreams(principal, RESOURCES) {
            match self.upstreams
                .with_peer(&upstream, |p| async move {
                    if !offers(&p, |c| c.resources.is_some()) {
                        return Ok(Vec::new());
                    }
                    p.list_all_resource_templates().await
                })
                .await {
                Ok(Ok(found)) => {
                    self.resource_routes.learn_templates(&upstream, &found);
                    all.extend(found);
                }
                other => tracing::debug!(upstream, failed = ?other.err(), "no templates listed"),
            }
        }
        all
    }

    /// Every prompt the principal may fetch, named `upstream.prompt` like tools.
    pub async fn relayed_prompts(&self, principal: &Principal) -> Vec<Prompt> {
        let mut all = Vec::new();
        for (upstream, _) in self.relayed_upstreams(principal, PROMPTS) {
            match self.upstreams
                .with_peer(&upstream, |p| async move {
                    if !offers(&p, |c| c.prompts.is_some()) {
                        return Ok(Vec::new());
                    }
                    p.list_all_prompts().await
                })
                .await {
                Ok(Ok(found)) => all.extend(found.into_iter().map(|mut p| {
                    p.name = format!("{upstream}.{}", p.name);
                    p
                })),
                other => tracing::debug!(upstream, failed = ?other.err(), "no prompts listed"),
            }
        }
        all
    }

    /// Which upstream serves `uri`: the one that listed it, else the only one that offers
    /// resources to this principal.
    async fn resource_upstream(&self, principal: &Principal, uri: &str) -> Option<String> {
        if let Some(up) = self.resource_routes.route(uri) {
            return Some(up);
        }
        // Not listed yet (a fresh gateway, or a templated URI): list, then look again.
        let _ = self.relayed_resources(principal).await;
        let _ = self.relayed_templates(principal).await;
        if let Some(up) = self.resource_routes.route(uri) {
            return Some(up);
        }
        // Unlisted (a server may serve more than it lists): the only upstream offering
        // resources to this principal answers for itself.
        let mut offering = Vec::new();
        for (upstream, _) in self.relayed_upstreams(principal, RESOURCES) {
            let offers_resources = self
                .upstreams
                .with_peer(&upstream, |p| async move { Ok(offers(&p, |c| c.resources.is_some())) })
                .await;
            if matches!(offers_resources, Ok(Ok(true))) {
                offering.push(upstream);
            }
        }
        match <[String; 1]>::try_from(offering) {
            Ok([only]) => Some(only),
            Err(_) => None,
        }
    }

    /// Decides and audits one relayed request; on allow, returns the decided event's seq.
    async fn relay_decide(
        &self,
        principal: &Principal,
        governed: &ToolName,
        what: serde_json::Value,
    ) -> Result<u64, ErrorData> {
        let digest = crate::pipeline::digest_arguments(&self.digester, what.as_object());
        let decision = match self.relay_check(principal, governed) {
            Ok(()) => Decision::Allow,
            Err(reasons) => Decision::Deny(reasons),
        };
        let mut event = record::decided(self, principal, governed.as_str(), None, &digest, &decision);
        event.class = Some(ToolClass::Read);
        event.detail = Some(what);
        let seq = self.store.append(event).await.map_err(|e| {
            tracing::error!(error = %e, "cannot record a relayed request; not forwarding");
            ErrorData::from(crate::rescue::CallError::NotRecorded)
        })?;
        match decision {
            Decision::Allow => Ok(seq),
            Decision::Deny(reasons) => Err(refused(reasons)),
            Decision::NeedsApproval(_) => Err(refused(Vec::new())),
        }
    }

    async fn relay_completed(
        &self,
        principal: &Principal,
        governed: &ToolName,
        decided_seq: u64,
        started: Instant,
        error: Option<&'static str>,
    ) {
        let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let event = record::relay_completed(self, principal, governed, decided_seq, latency_us, error);
        if let Err(e) = self.store.append(event).await {
            tracing::error!(error = %e, "cannot record a relayed completion");
        }
    }

    /// `resources/read`, decided and audited, forwarded to the upstream that serves the URI.
    pub async fn relay_read(
        &self,
        principal: &Principal,
        request: ReadResourceRequestParams,
    ) -> Result<ReadResourceResult, ErrorData> {
        let Some(upstream) = self.resource_upstream(principal, &request.uri).await else {
            return Err(ErrorData::resource_not_found(
                format!("no upstream offers the resource `{}`", request.uri),
                None,
            ));
        };
        let governed = governed_name(&upstream, RESOURCES)?;
        let what = serde_json::json!({ "method": "resources/read", "uri": request.uri });
        let seq = self.relay_decide(principal, &governed, what).await?;
        let started = Instant::now();
        let result = self
            .upstreams
            .with_peer(&upstream, |p| async move { p.read_resource(request).await })
            .await;
        let error = (!matches!(result, Ok(Ok(_)))).then_some("upstream_failed");
        self.relay_completed(principal, &governed, seq, started, error).await;
        answered(&upstream, result)
    }

    /// `prompts/get` for `upstream.prompt`, decided and audited.
    pub async fn relay_prompt(
        &self,
        principal: &Principal,
        mut request: GetPromptRequestParams,
    ) -> Result<GetPromptResult, ErrorData> {
        let unknown = || {
            ErrorData::invalid_params(format!("no upstream offers a prompt named `{}`", request.name), None)
        };
        let (upstream, prompt) = request.name.split_once('.').ok_or_else(unknown)?;
        if !self.upstreams.names().any(|n| n == upstream) {
            return Err(unknown());
        }
        let (upstream, prompt) = (upstream.to_owned(), prompt.to_owned());
        let governed = governed_name(&upstream, PROMPTS)?;
        let what = serde_json::json!({ "method": "prompts/get", "prompt": request.name });
        let seq = self.relay_decide(principal, &governed, what).await?;
        request.name = prompt;
        let started = Instant::now();
        let result = self
            .upstreams
            .with_peer(&upstream, |p| async move { p.get_prompt(request).await })
            .await;
        let error = (!matches!(result, Ok(Ok(_)))).then_some("upstream_failed");
        self.relay_completed(principal, &governed, seq, started, error).await;
        answered(&upstream, result)
    }

    /// `resources/subscribe` (with the agent's connection, to relay updates on) or, with
    /// `None`, unsubscribe; decided and audited. The upstream's subscription (one connection
    /// serves every agent) ends only when its last subscriber leaves.
    // The 2025 revisions' subscriptions (2026-07-28 clients use `subscriptions/listen`).
    #[allow(deprecated)]
    pub async fn relay_subscription(
        &self,
        principal: &Principal,
        uri: String,
        subscriber: Option<Peer<RoleServer>>,
    ) -> Result<(), ErrorData> {
        let on = subscriber.is_some();
        let Some(upstream) = self.resource_upstream(principal, &uri).await else {
            return Err(ErrorData::resource_not_found(
                format!("no upstream offers the resource `{uri}`"),
                None,
            ));
        };
        let governed = governed_name(&upstream, RESOURCES)?;
        let method = if on { "resources/subscribe" } else { "resources/unsubscribe" };
        let what = serde_json::json!({ "method": method, "uri": uri });
        let seq = self.relay_decide(principal, &governed, what).await?;
        let started = Instant::now();
        // The 2025 revisions' subscriptions (2026-07-28 clients use `subscriptions/listen`).
        #[allow(deprecated)]
        let session = principal.session();
        let last = !on && self.resource_routes.unsubscribe(&upstream, &uri, session);
        let result = if on {
            let params = SubscribeRequestParams::new(uri.clone());
            self.upstreams
                .with_peer(&upstream, |p| async move { p.subscribe(params).await })
                .await
        } else if !last {
            Ok(Ok(()))
        } else {
            let params = UnsubscribeRequestParams::new(uri.clone());
            self.upstreams
                .with_peer(&upstream, |p| async move { p.unsubscribe(params).await })
                .await
        };
        let error = (!matches!(result, Ok(Ok(_)))).then_some("upstream_failed");
        self.relay_completed(principal, &governed, seq, started, error).await;
        answered(&upstream, result)?;
        if let Some(peer) = subscriber {
            self.resource_routes.subscribe(&upstream, &uri, session, peer);
        }
        Ok(())
    }
}

/// Relays each upstream resource update to the agents subscribed to it, until `shutdown`.
/// A subscriber whose connection is gone is dropped.
pub async fn relay_updates(gw: std::sync::Arc<Gateway>, shutdown: tokio_util::sync::CancellationToken) {
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

/// Did the upstream declare the capability? (Asking one that did not would only fail.)
fn offers(
    peer: &Peer<rmcp::RoleClient>,
    declared: impl Fn(&rmcp::model::ServerCapabilities) -> bool,
) -> bool {
    peer.peer_info().is_some_and(|info| declared(&info.capabilities))
}

fn governed_name(upstream: &str, kind: &str) -> Result<ToolName, ErrorData> {
    ToolName::from_parts(upstream, kind)
        .map_err(|_| ErrorData::internal_error("an upstream's name cannot be governed", None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_uri_routes_to_its_upstream_and_a_template_by_its_longest_prefix() {
        let routes = ResourceRoutes::default();
        routes.learn("a", ["test://static/1".to_owned()].into_iter());
        let template = |uri: &str| ResourceTemplate::new(uri, "t");
        routes.learn_templates("b", &[template("test://dyn/{id}")]);
        routes.learn_templates("c", &[template("test://dyn/deep/{id}")]);
        assert_eq!(routes.route("test://static/1").as_deref(), Some("a"));
        assert_eq!(routes.route("test://dyn/7").as_deref(), Some("b"));
        assert_eq!(routes.route("test://dyn/deep/7").as_deref(), Some("c"));
        assert_eq!(routes.route("test://static/2"), None);
    }
}
