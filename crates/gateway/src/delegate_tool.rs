//! `mandate.delegate`: the gateway's own MCP tool, through which an orchestrator hands a
//! narrower mandate to a worker from inside its session.
//!
//! Offered only to mandates with an `orchestrate` ceiling and delegation depth left.

use crate::Gateway;
use crate::principal::Principal;
use crate::record;
use crate::rescue::CallError;
use mandate_core::{AgentId, ChildRequest, Decision, MandateChain, ToolClass, ToolPattern};
use mandate_policy::decide_delegation;
use mandate_store::Spend;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations};
use serde::Deserialize;
use std::sync::Arc;

/// The tool's name as agents see it.
pub const NAME: &str = "mandate.delegate";

/// What an orchestrator asks for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DelegateArgs {
    agent: String,
    tools: Vec<String>,
    #[serde(default = "default_class")]
    max_class: ToolClass,
    expires_in: u64,
    budget: Option<u64>,
    purpose: String,
}

fn default_class() -> ToolClass {
    ToolClass::Read
}

/// The tool's definition, as listed to orchestrators.
pub fn definition() -> Tool {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "agent": { "type": "string", "description": "the worker agent's id" },
            "tools": { "type": "array", "items": { "type": "string" }, "description": "tool patterns, each within your own grants, e.g. crm.lookup_*" },
            "max_class": { "type": "string", "enum": ["read", "write", "orchestrate"], "description": "the worker's class ceiling (default read), at most yours" },
            "expires_in": { "type": "integer", "minimum": 1, "description": "seconds until the worker's mandate ends; never past yours" },
            "budget": { "type": "integer", "minimum": 0, "description": "the most calls the worker may make" },
            "purpose": { "type": "string", "description": "why, in your words; recorded" }
        },
        "required": ["agent", "tools", "expires_in", "purpose"],
        "additionalProperties": false
    });
    let mut tool = Tool::default();
    tool.name = NAME.into();
    tool.description = Some(
        "Hand a narrower mandate to a worker agent. Returns the child mandate id and an access token for the worker. Every hand-off is recorded and audited; the worker's mandate dies with yours."
            .into(),
    );
    if let serde_json::Value::Object(map) = schema {
        tool.input_schema = Arc::new(map);
    }
    let mut annotations = ToolAnnotations::default();
    annotations.read_only_hint = Some(false);
    annotations.destructive_hint = Some(false);
    annotations.open_world_hint = Some(false);
    tool.annotations = Some(annotations);
    tool
}

/// May this chain's leaf hand on at all? (`orchestrate` ceiling and depth left.)
pub fn offered_to(chain: &MandateChain) -> bool {
    let leaf = chain.leaf();
    leaf.ceiling == ToolClass::Orchestrate && leaf.depth_remaining > 0
}

impl Gateway {
    /// Runs `mandate.delegate` for a principal: decide, record, attenuate, issue.
    pub(crate) async fn delegate_in_session(
        &self,
        principal: &Principal,
        arguments: Option<JsonObject>,
        args_digest: &str,
    ) -> Result<CallToolResult, CallError> {
        let args: DelegateArgs =
            serde_json::from_value(serde_json::Value::Object(arguments.unwrap_or_default()))
                .map_err(|e| CallError::BadArguments(format!("`{NAME}` arguments: {e}")))?;
        let worker =
            AgentId::new(args.agent).map_err(|e| CallError::BadArguments(e.to_string()))?;
        let tools = args
            .tools
            .into_iter()
            .map(ToolPattern::new)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CallError::BadArguments(e.to_string()))?;
        // 1. Decide: the mandate may orchestrate, and the organisation allows this hand-off.
        let chain = &principal.chain;
        let decision = if !offered_to(chain) {
            Decision::Deny(vec![mandate_core::DenyReason::AboveCeiling {
                mandate: chain.leaf().id.clone(),
                tool: delegate_tool_name(),
                class: ToolClass::Orchestrate,
                ceiling: chain.leaf().ceiling,
            }])
        } else {
            decide_delegation(&self.policy, chain, &worker)
                .err()
                .unwrap_or(Decision::Allow)
        };
        if decision != Decision::Allow {
            let event = record::decided(self, principal, NAME, None, args_digest, &decision);
            self.store
                .append(event)
                .await
                .map_err(|_| CallError::NotRecorded)?;
            return Err(CallError::Refused(decision));
        }
        // 2. Write ahead, spending one call from the chain's budgets.
        let ids: Vec<_> = chain.mandates().iter().map(|m| m.id.clone()).collect();
        let event = record::decided(self, principal, NAME, None, args_digest, &Decision::Allow);
        match self.store.record_allowed(&ids, event).await {
            Ok(Spend::Recorded { .. }) => {}
            Ok(Spend::Refused { .. }) | Err(_) => return Err(CallError::NotRecorded),
        }
        // 3. Attenuate and record the child (a refused widening is audited there).
        let lasts = i64::try_from(args.expires_in.saturating_mul(1000)).unwrap_or(i64::MAX);
        let request = ChildRequest {
            agent: worker,
            tools,
            ceiling: args.max_class,
            expires_at: crate::now().plus_millis(lasts),
            budget: args.budget,
            depth_remaining: None,
            purpose: args.purpose,
            by: chain.leaf().agent.to_string(),
        };
        let (child, token) =
            self.delegate(&chain.leaf().id, request)
                .await
                .map_err(|e| match e {
                    crate::governance::GovernanceError::Widening(w) => {
                        CallError::DelegationRefused(w)
                    }
                    crate::governance::GovernanceError::UnknownAgent(a)
                    | crate::governance::GovernanceError::NoOwners(a) => CallError::BadArguments(
                        format!("agent `{a}` is not registered with owners"),
                    ),
                    other => {
                        tracing::error!(error = %other, "delegation failed");
                        CallError::NotRecorded
                    }
                })?;
        let reply = serde_json::json!({
            "mandate": child.id,
            "agent": child.agent,
            "token": token.token,
            "token_expires_at": token.claims.exp,
            "expires_at": child.expires_at,
            "depth": child.depth,
        });
        let mut result = CallToolResult::success(vec![ContentBlock::text(reply.to_string())]);
        result.structured_content = Some(reply);
        Ok(result)
    }
}

#[expect(
    clippy::expect_used,
    reason = "a constant name that is valid by construction"
)]
fn delegate_tool_name() -> mandate_core::ToolName {
    mandate_core::ToolName::new(NAME).expect("constant tool name is valid")
}
