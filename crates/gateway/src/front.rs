//! The MCP face agents talk to: `tools/list` filtered to the mandate, `tools/call` through the pipeline.
//!
//! rmcp handles both protocol revisions (2026-07-28 stateless, 2025-11-25 sessions) on the wire.

use crate::Gateway;
use crate::principal::Principal;
use crate::record;
use crate::rescue::CallError;
use mandate_core::{CallTarget, Decision, DenyReason, check_scope};
use mandate_policy::PolicyVerdict;
#[allow(deprecated)] // `SetLevelRequestParams`: logging is deprecated by SEP-2577.
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, CustomRequest,
    CustomResult, ErrorCode, GetPromptRequestParams, GetPromptResponse, Implementation,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities,
    ServerConfig, SetLevelRequestParams, SubscribeRequestParams, UnsubscribeRequestParams,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use std::sync::Arc;

/// The downstream MCP server: one per transport session, all sharing the gateway.
#[derive(Clone)]
pub struct Front {
    gw: Arc<Gateway>,
}

impl Front {
    /// A front for the gateway.
    pub fn new(gw: Arc<Gateway>) -> Self {
        Self { gw }
    }
}

/// The principal the authentication layer attached to this HTTP request.
fn principal(context: &RequestContext<RoleServer>) -> Result<Principal, CallError> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Principal>())
        .cloned()
        .ok_or(CallError::Unauthenticated)
}

impl ServerHandler for Front {
    fn get_info(&self) -> ServerConfig {
        // Resources and prompts are relayed from the upstreams (see `relay`); logging is
        // accepted so that clients may set a level, but upstream log messages are not relayed
        // (one upstream connection serves every agent: its logs would cross mandates).
        #[allow(deprecated)] // Logging (SEP-2577), for 2025-revision clients.
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_resources()
            .enable_resources_subscribe()
            .enable_prompts()
            .enable_logging()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("mandate", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Mandate governs these tools: each call is checked against your mandate and audited.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let principal = principal(&context)?;
        Ok(ListToolsResult::with_all_items(
            self.gw.reachable_tools(&principal),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let principal = principal(&context)?;
        // Trace the call (when `[otel]` is set), continuing the caller's `_meta.traceparent`.
        let span = self
            .gw
            .telemetry
            .tool_span(&request.name, &principal, &context);
        // A call held for a human waits as the client's revision allows (see `approval`).
        let patience = crate::approval::Patience::of(request.request_state, &context);
        self.gw
            .answer_call(&principal, &request.name, request.arguments, patience, span)
            .await
    }

    // Logging is deprecated (SEP-2577) but 2025-revision clients still set a level.
    #[allow(deprecated)]
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        principal(&context)?;
        tracing::debug!(level = ?request.level, "an agent set its log level");
        Ok(())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let principal = principal(&context)?;
        let resources = self.gw.relayed_resources(&principal).await;
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let principal = principal(&context)?;
        let templates = self.gw.relayed_templates(&principal).await;
        Ok(ListResourceTemplatesResult::with_all_items(templates))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let principal = principal(&context)?;
        let result = self.gw.relay_read(&principal, request).await?;
        Ok(ReadResourceResponse::Complete(result))
    }

    #[allow(deprecated)] // The 2025 revisions' subscriptions, which their clients still send.
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let principal = principal(&context)?;
        let peer = context.peer.clone();
        self.gw
            .relay_subscription(&principal, request.uri, Some(peer))
            .await
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let principal = principal(&context)?;
        self.gw
            .relay_subscription(&principal, request.uri, None)
            .await
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let principal = principal(&context)?;
        let prompts = self.gw.relayed_prompts(&principal).await;
        Ok(ListPromptsResult::with_all_items(prompts))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let principal = principal(&context)?;
        let result = self.gw.relay_prompt(&principal, request).await?;
        Ok(GetPromptResponse::Complete(result))
    }

    async fn on_custom_request(
        &self,
        request: CustomRequest,
        context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        if let Ok(principal) = principal(&context) {
            let what = format!("unknown method `{}`", request.method);
            let event = record::rejected(&self.gw, &principal, &what);
            if let Err(e) = self.gw.store.append(event).await {
                tracing::error!(error = %e, "cannot audit an unknown method");
            }
        }
        Err(ErrorData::new(
            ErrorCode::METHOD_NOT_FOUND,
            format!("method `{}` is not supported by Mandate", request.method),
            None,
        ))
    }
}

/// Is every reason "no such tool"? (A withheld tool is not unknown: it stays a denial.)
fn names_no_tool(reasons: &[DenyReason]) -> bool {
    !reasons.is_empty()
        && reasons
            .iter()
            .all(|r| matches!(r, DenyReason::UnknownTool { .. }))
}

impl Gateway {
    /// A `tools/call`'s answer as MCP puts it, whichever front received it ([`Front`] or
    /// [`crate::direct_call`]): the pipeline's result, an approval hold as `input_required`,
    /// an unknown tool as a tool error, anything else as a JSON-RPC error.
    pub(crate) async fn answer_call(
        &self,
        principal: &Principal,
        name: &str,
        arguments: Option<rmcp::model::JsonObject>,
        patience: crate::approval::Patience,
        mut span: crate::telemetry::ToolSpan,
    ) -> Result<CallToolResponse, ErrorData> {
        // Boxed: the pipeline's state (decision, write-ahead, upstream call) is large, and
        // rmcp moves the handler's future several times per request (into a task, and
        // between its layers); boxed, each move copies a pointer instead of kilobytes.
        let pipeline = Box::pin(self.call_tool(principal, name, arguments, patience, &mut span));
        let reply = match pipeline.await {
            Err(CallError::AwaitingApproval(pending)) => {
                return Ok(CallToolResponse::InputRequired(pending.input_required()));
            }
            // A name no upstream offers is answered the way the official SDK servers answer
            // it (a tool result with `isError`), so a client sees the same through Mandate as
            // directly, and a model can read the text and pick a real tool. Still audited.
            Err(CallError::Refused(Decision::Deny(reasons))) if names_no_tool(&reasons) => {
                let text: Vec<String> = reasons.iter().map(ToString::to_string).collect();
                Ok(CallToolResult::error(vec![ContentBlock::text(
                    text.join("; "),
                )]))
            }
            other => other.map_err(ErrorData::from),
        };
        span.finish(reply.as_ref());
        Ok(CallToolResponse::Complete(reply?))
    }

    /// The tools a principal could call: within the chain's scope and not
    /// unconditionally forbidden by policy. An agent never sees the rest.
    pub fn reachable_tools(&self, principal: &Principal) -> Vec<rmcp::model::Tool> {
        let now = crate::now();
        let own = crate::delegate_tool::offered_to(&principal.chain)
            .then(crate::delegate_tool::definition);
        self.catalog
            .snapshot()
            .tools()
            .filter(|tool| {
                let target = CallTarget {
                    tool: tool.name.clone(),
                    radius: tool.radius,
                    // Listing knows no arguments yet; constraints are checked per call.
                    arguments: None,
                };
                check_scope(&principal.chain, &target, now).is_ok()
                    // Approval-gated tools stay visible: a human may still allow the call.
                    && matches!(
                        self.policy.evaluate_call(&mandate_policy::CallFacts {
                            chain: &principal.chain,
                            target: &target,
                            approved: true,
                        }),
                        PolicyVerdict::Permit { .. }
                    )
            })
            .map(|tool| tool.definition.clone())
            .chain(own)
            .collect()
    }
}
