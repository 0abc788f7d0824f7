//! A decision is never a `bool`: `Allow`, `Deny` with reasons, or `NeedsApproval`.
//!
//! Reasons are written for the operator who has to act on them.

use crate::{
    ApprovalId, ArgConstraint, HumanId, Inactive, MandateId, ToolClass, ToolName, ToolPattern,
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The outcome of deciding one tool call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", content = "reasons", rename_all = "snake_case")]
pub enum Decision {
    /// The call may go ahead.
    Allow,
    /// The call is refused, for these reasons (never empty).
    Deny(Vec<DenyReason>),
    /// A human must approve the call first; the strings say which rule asked.
    NeedsApproval(Vec<String>),
}

impl Decision {
    /// The decision's name as recorded: `allow`, `deny` or `needs_approval`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny(_) => "deny",
            Decision::NeedsApproval(_) => "needs_approval",
        }
    }

    /// The reasons as sentences.
    pub fn reason_texts(&self) -> Vec<String> {
        match self {
            Decision::Allow => Vec::new(),
            Decision::Deny(reasons) => reasons.iter().map(ToString::to_string).collect(),
            Decision::NeedsApproval(rules) => rules.clone(),
        }
    }
}

/// One reason a call was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum DenyReason {
    /// The mandate or an ancestor is revoked, expired or out of budget.
    NotInForce(Inactive),
    /// No grant of the mandate names the tool.
    NoGrant {
        /// The mandate that lacks it.
        mandate: MandateId,
        /// The tool called.
        tool: ToolName,
        /// What the mandate does grant.
        granted: Vec<ToolPattern>,
    },
    /// The tool's class is above the mandate's ceiling.
    AboveCeiling {
        /// The mandate whose ceiling it is.
        mandate: MandateId,
        /// The tool called.
        tool: ToolName,
        /// The tool's class.
        class: ToolClass,
        /// The mandate's ceiling.
        ceiling: ToolClass,
    },
    /// An argument breaks a constraint of the mandate's.
    ArgumentConstraint {
        /// The mandate whose constraint it is.
        mandate: MandateId,
        /// The tool called.
        tool: ToolName,
        /// The constraint.
        constraint: ArgConstraint,
    },
    /// The organisation's policies forbid the call.
    ForbiddenByPolicy {
        /// The ids of the policies that forbade it, or that failed to evaluate.
        policies: Vec<String>,
    },
    /// No upstream offers the tool.
    UnknownTool {
        /// The name the agent asked for.
        tool: String,
    },
    /// The tool's definition waits for an operator's review (new, changed or suspicious).
    DefinitionPending {
        /// The tool called.
        tool: ToolName,
        /// Why it waits, in words an operator can act on.
        why: String,
    },
    /// A human refused the approval this call needed.
    ApprovalDenied {
        /// The approval request.
        approval: ApprovalId,
        /// Who refused it.
        by: HumanId,
        /// Why, in their words (may be empty).
        comment: String,
    },
    /// Nobody approved the call in time.
    ApprovalExpired {
        /// The approval request.
        approval: ApprovalId,
    },
    /// The approval presented cannot allow this call.
    ApprovalUnusable {
        /// The approval presented.
        approval: String,
        /// Why: unknown, bound to another call, already spent, still pending...
        why: String,
    },
    /// The call needs a human's approval and no approvers are configured.
    NoApprovers {
        /// The rules that asked for approval.
        rules: Vec<String>,
    },
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenyReason::NotInForce(inactive) => inactive.fmt(f),
            DenyReason::NoGrant {
                mandate,
                tool,
                granted,
            } => {
                let granted: Vec<&str> = granted.iter().map(ToolPattern::as_str).collect();
                write!(
                    f,
                    "mandate `{mandate}` has no grant for tool `{tool}` (it grants: {})",
                    granted.join(", ")
                )
            }
            DenyReason::AboveCeiling {
                mandate,
                tool,
                class,
                ceiling,
            } => write!(
                f,
                "tool `{tool}` is class `{class}`, above mandate `{mandate}`'s ceiling `{ceiling}`"
            ),
            DenyReason::ArgumentConstraint {
                mandate,
                tool,
                constraint,
            } => write!(
                f,
                "argument `{}` of tool `{tool}` breaks mandate `{mandate}`'s constraint `{constraint}`",
                constraint.arg
            ),
            DenyReason::ForbiddenByPolicy { policies } => write!(
                f,
                "forbidden by organisation policy {}",
                policies
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            DenyReason::UnknownTool { tool } => {
                write!(f, "no upstream offers a tool named `{tool}`")
            }
            DenyReason::DefinitionPending { tool, why } => write!(
                f,
                "tool `{tool}` is withheld until an operator reviews its definition ({why}): \
                 `mandate tools diff {tool}`, then `mandate tools accept {tool}`"
            ),
            DenyReason::ApprovalDenied {
                approval,
                by,
                comment,
            } if comment.is_empty() => write!(f, "approval `{approval}` was denied by {by}"),
            DenyReason::ApprovalDenied {
                approval,
                by,
                comment,
            } => write!(f, "approval `{approval}` was denied by {by}: {comment}"),
            DenyReason::ApprovalExpired { approval } => {
                write!(
                    f,
                    "approval `{approval}` expired before a human approved it"
                )
            }
            DenyReason::ApprovalUnusable { approval, why } => {
                write!(f, "approval `{approval}` cannot allow this call: {why}")
            }
            DenyReason::NoApprovers { rules } => write!(
                f,
                "this call needs a human's approval ({}) and no approvers are configured (`[approvals] approvers`)",
                rules.join("; ")
            ),
        }
    }
}
