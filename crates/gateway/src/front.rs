//! The MCP face agents talk to: `tools/list` filtered to the mandate, `tools/call` through the pipeline.
//!
//! rmcp handles both protocol revisions (2026-07-28 stateless, 2025-11-25 sessions) on the wire.

use crate::Gateway;
use crate::principal::Principal;
use crate::record;
use crate::rescue::CallError;
use mandate_core::{CallTarget, check_scope};
use mandate_policy::PolicyVerdict;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CustomRequest, CustomResult, ErrorCode,
    Implementation, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
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
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
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
        let mut span = self
            .gw
            .telemetry
            .tool_span(&request.name, &principal, &context);
        // A call held for a human waits as the client's revision allows (see `approval`).
        let patience = crate::approval::Patience::of(request.request_state, &context);
        // Boxed: the pipeline's state (decision, write-ahead, upstream call) is large, and
        // rmcp moves the handler's future several times per request (into a task, and
        // between its layers); boxed, each move copies a pointer instead of kilobytes.
        let pipeline = Box::pin(self.gw.call_tool(
            &principal,
            &request.name,
            request.arguments,
            patience,
            &mut span,
        ));
        let reply = match pipeline.await {
            Err(CallError::AwaitingApproval(pending)) => {
                return Ok(CallToolResponse::InputRequired(pending.input_required()));
            }
            other => other.map_err(ErrorData::from),
        };
        span.finish(reply.as_ref());
        Ok(CallToolResponse::Complete(reply?))
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

impl Gateway {
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
