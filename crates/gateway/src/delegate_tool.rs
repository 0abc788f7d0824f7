//! `mandate.delegate`: the gateway's own MCP tool, through which an orchestrator hands a
//! narrower mandate to a worker from inside its session.
//!
//! Offered only to mandates with an `orchestrate` ceiling and delegation depth left.

use crate::Gateway;
use crate::governance::GovernanceError;
use crate::principal::Principal;
use crate::rescue::CallError;
use mandate_core::{
    AgentId, ArgConstraint, ChildRequest, Decision, DenyReason, MandateChain, ToolClass,
    ToolPattern,
};
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
    #[serde(default)]
    constraints: Vec<String>,
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
            "constraints": { "type": "array", "items": { "type": "string" }, "description": "argument limits, e.g. `crm.*:id in cus_001,cus_002` or `fs.read_file:path under /srv/reports`" },
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
    /// Runs `mandate.delegate` for a principal: the hand-off's own checks, recorded, then the token.
    pub(crate) async fn delegate_in_session(
        &self,
        principal: &Principal,
        arguments: Option<JsonObject>,
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
        let constraints = args
            .constraints
            .iter()
            .map(|c| ArgConstraint::parse(c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CallError::BadArguments(e.to_string()))?;
        // The hand-off's own path decides (ceiling, organisation policy, attenuation),
        // records the child or the refusal, and issues the worker's token.
        let chain = &principal.chain;
        let lasts = i64::try_from(args.expires_in.saturating_mul(1000)).unwrap_or(i64::MAX);
        let request = ChildRequest {
            agent: worker,
            tools,
            ceiling: args.max_class,
            constraints,
            approvals: Vec::new(),
            expires_at: crate::now().plus_millis(lasts),
            budget: args.budget,
            depth_remaining: None,
            purpose: args.purpose,
            by: chain.leaf().agent.to_string(),
        };
        let (child, token) = self
            .delegate(&chain.leaf().id, request)
            .await
            .map_err(refusal)?;
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

/// What a refused hand-off means to the agent that asked.
fn refusal(error: GovernanceError) -> CallError {
    match error {
        GovernanceError::Widening(w) => CallError::DelegationRefused(w),
        GovernanceError::CannotOrchestrate { mandate, ceiling } => {
            CallError::Refused(Decision::Deny(vec![DenyReason::AboveCeiling {
                mandate,
                tool: delegate_tool_name(),
                class: ToolClass::Orchestrate,
                ceiling,
            }]))
        }
        GovernanceError::Forbidden(policies) => {
            CallError::Refused(Decision::Deny(vec![DenyReason::ForbiddenByPolicy {
                policies,
            }]))
        }
        GovernanceError::UnknownAgent(a) | GovernanceError::NoOwners(a) => {
            CallError::BadArguments(format!("agent `{a}` is not registered with owners"))
        }
        GovernanceError::NotInForce(inactive) => {
            CallError::Refused(Decision::Deny(vec![DenyReason::NotInForce(inactive)]))
        }
        GovernanceError::ExpiryPassed
        | GovernanceError::NoTools
        | GovernanceError::MatchesNothing(_) => CallError::BadArguments(error.to_string()),
        GovernanceError::UnknownMandate(_)
        | GovernanceError::Store(_)
        | GovernanceError::Token(_)
        | GovernanceError::BrokenChain(_) => {
            tracing::error!(error = %error, "delegation failed");
            CallError::NotRecorded
        }
    }
}

#[expect(
    clippy::expect_used,
    reason = "a constant name that is valid by construction"
)]
fn delegate_tool_name() -> mandate_core::ToolName {
    mandate_core::ToolName::new(NAME).expect("constant tool name is valid")
}
