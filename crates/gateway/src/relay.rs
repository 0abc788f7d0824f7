//! Resources and prompts relayed from the upstreams, governed under two read-class names per
//! upstream, `U.resources` and `U.prompts`: an agent sees and reads them only where its mandate reaches.
//!
//! A grant of `U.*` reaches them as it reaches U's tools; `U.resources` alone reaches only the
//! resources. Every read, prompt fetch and subscription is decided and audited like a call.

use crate::Gateway;
use crate::principal::Principal;
use crate::record;
use crate::upstream::UpstreamError;
use mandate_core::{BlastRadius, CallTarget, Decision, DenyReason, ToolClass, ToolName};
use mandate_policy::PolicyVerdict;
use rmcp::model::{
    GetPromptRequestParams, GetPromptResult, Prompt, ReadResourceRequestParams, ReadResourceResult,
    Resource, ResourceTemplate, SubscribeRequestParams, UnsubscribeRequestParams,
};
use rmcp::{ErrorData, Peer, RoleServer};
use std::time::Instant;

mod routes;
mod updates;
pub use routes::ResourceRoutes;
pub use updates::relay_updates;

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
    /// Notes what an upstream offers besides tools (asked after each catalog refresh), so
    /// that the consent page can offer `U.resources` and `U.prompts` where they exist.
    pub async fn note_relayed(&self, upstream: &str) {
        let offered = self
            .upstreams
            .with_peer(upstream, |p| async move {
                Ok((
                    offers(&p, |c| c.resources.is_some()),
                    offers(&p, |c| c.prompts.is_some()),
                ))
            })
            .await;
        if let Ok(Ok((resources, prompts))) = offered {
            self.resource_routes
                .set_offered(upstream, resources, prompts);
        }
    }

    /// The governed names of the resources and prompts upstreams offer, as catalog entries
    /// (class read) for the consent page; not callable as tools.
    pub fn relay_entries(&self) -> Vec<crate::catalog::CatalogTool> {
        let mut entries = Vec::new();
        for (upstream, resources, prompts) in self.resource_routes.offered() {
            let kinds = [(resources, RESOURCES, "Read"), (prompts, PROMPTS, "Fetch")];
            for (kind, what) in kinds
                .iter()
                .filter(|(on, _, _)| *on)
                .map(|(_, k, w)| (k, w))
            {
                let Ok(name) = ToolName::from_parts(&upstream, kind) else {
                    continue;
                };
                let description = format!(
                    "{what} the {kind} that `{upstream}` offers (through Mandate, audited)"
                );
                let definition = rmcp::model::Tool::new(
                    name.as_str().to_owned(),
                    description,
                    std::sync::Arc::new(rmcp::model::JsonObject::new()),
                );
                entries.push(crate::catalog::CatalogTool {
                    name,
                    radius: RELAY_RADIUS,
                    source: mandate_core::ClassSource::Relay,
                    definition,
                    digest: String::new(),
                });
            }
        }
        entries
    }

    /// A tool the catalog holds, or a governed relay name, by name: what a consent may offer.
    pub fn offerable(&self, name: &str) -> Option<std::sync::Arc<crate::catalog::CatalogTool>> {
        if let Some(tool) = self.catalog.snapshot().get(name) {
            return Some(std::sync::Arc::clone(tool));
        }
        self.relay_entries()
            .into_iter()
            .find(|e| e.name.as_str() == name)
            .map(std::sync::Arc::new)
    }

    /// Does the pattern name an upstream's resources or prompts (e.g. `crm.resources`)?
    pub fn names_relayed(&self, pattern: &mandate_core::ToolPattern) -> bool {
        self.upstreams.names().any(|up| {
            [RESOURCES, PROMPTS]
                .iter()
                .any(|kind| ToolName::from_parts(up, kind).is_ok_and(|name| pattern.matches(&name)))
        })
    }

    /// May this principal reach `U.resources` / `U.prompts`? The mandate's scope and Cedar.
    fn relay_check(
        &self,
        principal: &Principal,
        governed: &ToolName,
    ) -> Result<(), Vec<DenyReason>> {
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
            .filter_map(|up| {
                ToolName::from_parts(up, kind)
                    .ok()
                    .map(|n| (up.to_owned(), n))
            })
            .filter(|(_, governed)| self.relay_check(principal, governed).is_ok())
            .collect()
    }

    /// Every resource the principal may read, from every upstream that offers resources.
    pub async fn relayed_resources(&self, principal: &Principal) -> Vec<Resource> {
        let reached = self.relayed_upstreams(principal, RESOURCES);
        self.resources_of(reached.into_iter().map(|(up, _)| up))
            .await
    }

    /// Every resource template the principal may read.
    pub async fn relayed_templates(&self, principal: &Principal) -> Vec<ResourceTemplate> {
        let reached = self.relayed_upstreams(principal, RESOURCES);
        self.templates_of(reached.into_iter().map(|(up, _)| up))
            .await
    }

    /// The resources these upstreams list, learning where each URI lives.
    async fn resources_of(&self, upstreams: impl Iterator<Item = String>) -> Vec<Resource> {
        let mut all = Vec::new();
        for upstream in upstreams {
            let listed = self
                .list_from(
                    &upstream,
                    |c| c.resources.is_some(),
                    |p| async move { p.list_all_resources().await },
                )
                .await;
            self.resource_routes
                .learn(&upstream, listed.iter().map(|r| r.uri.clone()));
            all.extend(listed);
        }
        all
    }

    /// The resource templates these upstreams list, learning which prefixes they serve.
    async fn templates_of(&self, upstreams: impl Iterator<Item = String>) -> Vec<ResourceTemplate> {
        let mut all = Vec::new();
        for upstream in upstreams {
            let listed = self
                .list_from(
                    &upstream,
                    |c| c.resources.is_some(),
                    |p| async move { p.list_all_resource_templates().await },
                )
                .await;
            self.resource_routes.learn_templates(&upstream, &listed);
            all.extend(listed);
        }
        all
    }

    /// Every prompt the principal may fetch, named `upstream.prompt` like tools.
    pub async fn relayed_prompts(&self, principal: &Principal) -> Vec<Prompt> {
        let mut all = Vec::new();
        for (upstream, _) in self.relayed_upstreams(principal, PROMPTS) {
            let listed = self
                .list_from(
                    &upstream,
                    |c| c.prompts.is_some(),
                    |p| async move { p.list_all_prompts().await },
                )
                .await;
            all.extend(listed.into_iter().map(|mut p| {
                p.name = format!("{upstream}.{}", p.name);
                p
            }));
        }
        all
    }

    /// One upstream's listing, empty when it did not declare the capability (asking would
    /// only fail) or could not answer.
    async fn list_from<T, F, Fut>(
        &self,
        upstream: &str,
        declared: fn(&rmcp::model::ServerCapabilities) -> bool,
        list: F,
    ) -> Vec<T>
    where
        F: FnOnce(Peer<rmcp::RoleClient>) -> Fut,
        Fut: Future<Output = Result<Vec<T>, rmcp::ServiceError>>,
    {
        let listed = self
            .upstreams
            .with_peer(upstream, |p| async move {
                if !offers(&p, declared) {
                    return Ok(Vec::new());
                }
                list(p).await
            })
            .await;
        match listed {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => {
                tracing::debug!(upstream, error = %e, "the upstream listed nothing");
                Vec::new()
            }
            Err(e) => {
                tracing::debug!(upstream, error = %e, "the upstream could not be asked");
                Vec::new()
            }
        }
    }

    /// Which upstream serves `uri`: the one that listed it (or a template covering it),
    /// else the only upstream that offers resources at all. Routing ignores the principal,
    /// so that a refused read is still decided, and audited, against the right upstream.
    async fn resource_upstream(&self, uri: &str) -> Option<String> {
        if let Some(up) = self.resource_routes.route(uri) {
            return Some(up);
        }
        // Not listed yet (a fresh gateway, or a templated URI): list, then look again.
        if self.resource_routes.may_relist(Instant::now()) {
            let everyone = || {
                self.upstreams
                    .names()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            };
            let _ = self.resources_of(everyone().into_iter()).await;
            let _ = self.templates_of(everyone().into_iter()).await;
            if let Some(up) = self.resource_routes.route(uri) {
                return Some(up);
            }
        }
        // Unlisted (a server may serve more than it lists): a sole upstream answers for itself.
        let offering: Vec<String> = self
            .resource_routes
            .offered()
            .into_iter()
            .filter(|(_, resources, _)| *resources)
            .map(|(upstream, _, _)| upstream)
            .collect();
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
        let mut event =
            record::decided(self, principal, governed.as_str(), None, &digest, &decision);
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
        let event =
            record::relay_completed(self, principal, governed, decided_seq, latency_us, error);
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
        let Some(upstream) = self.resource_upstream(&request.uri).await else {
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
        self.relay_completed(principal, &governed, seq, started, error)
            .await;
        answered(&upstream, result)
    }

    /// `prompts/get` for `upstream.prompt`, decided and audited.
    pub async fn relay_prompt(
        &self,
        principal: &Principal,
        mut request: GetPromptRequestParams,
    ) -> Result<GetPromptResult, ErrorData> {
        let unknown = || {
            ErrorData::invalid_params(
                format!("no upstream offers a prompt named `{}`", request.name),
                None,
            )
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
        self.relay_completed(principal, &governed, seq, started, error)
            .await;
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
        let Some(upstream) = self.resource_upstream(&uri).await else {
            return Err(ErrorData::resource_not_found(
                format!("no upstream offers the resource `{uri}`"),
                None,
            ));
        };
        let governed = governed_name(&upstream, RESOURCES)?;
        let method = if on {
            "resources/subscribe"
        } else {
            "resources/unsubscribe"
        };
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
        self.relay_completed(principal, &governed, seq, started, error)
            .await;
        answered(&upstream, result)?;
        if let Some(peer) = subscriber {
            self.resource_routes
                .subscribe(&upstream, &uri, session, peer);
        }
        Ok(())
    }
}

/// Did the upstream declare the capability? (Asking one that did not would only fail.)
fn offers(
    peer: &Peer<rmcp::RoleClient>,
    declared: impl Fn(&rmcp::model::ServerCapabilities) -> bool,
) -> bool {
    peer.peer_info()
        .is_some_and(|info| declared(&info.capabilities))
}

fn governed_name(upstream: &str, kind: &str) -> Result<ToolName, ErrorData> {
    ToolName::from_parts(upstream, kind)
        .map_err(|_| ErrorData::internal_error("an upstream's name cannot be governed", None))
}
