//! Attenuation: the rules a child mandate must meet to be carved out of its parent.
//!
//! A child is a subset of its parent in every dimension; any widening is refused.

use crate::{
    AgentId, ApprovalRule, ArgConstraint, Grantor, Inactive, Mandate, MandateChain, MandateId,
    MandateStatus, Timestamp, ToolClass, ToolPattern,
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What an orchestrator (or an operator acting for it) asks to hand on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildRequest {
    /// The agent that will hold the child mandate.
    pub agent: AgentId,
    /// The tools it reaches.
    pub tools: Vec<ToolPattern>,
    /// Its class ceiling.
    pub ceiling: ToolClass,
    /// Limits on arguments it adds (its ancestors' limits apply to it regardless).
    pub constraints: Vec<ArgConstraint>,
    /// Approval rules it adds; it keeps every rule of its parent's regardless.
    pub approvals: Vec<ApprovalRule>,
    /// When it ends.
    pub expires_at: Timestamp,
    /// Its call budget (`None`: whatever the chain has left).
    pub budget: Option<u64>,
    /// Further hand-offs allowed below it (`None`: one fewer than the parent).
    pub depth_remaining: Option<u32>,
    /// Why.
    pub purpose: String,
    /// Who performs the hand-off.
    pub by: String,
}

/// One way a requested child would be wider than its parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "widening", rename_all = "snake_case")]
pub enum Widening {
    /// The parent chain is not in force.
    ParentNotInForce(Inactive),
    /// The child names no tools at all.
    NoTools,
    /// A child pattern reaches beyond every parent pattern.
    Tool {
        /// The child's pattern.
        pattern: ToolPattern,
        /// The parent's patterns.
        parent: Vec<ToolPattern>,
    },
    /// The child's ceiling is above the parent's.
    Ceiling {
        /// Requested.
        requested: ToolClass,
        /// The parent's.
        parent: ToolClass,
    },
    /// The child would outlive its chain.
    Expiry {
        /// Requested.
        requested: Timestamp,
        /// The chain's earliest expiry.
        limit: Timestamp,
    },
    /// A child constraint admits values an ancestor's constraint on the same argument refuses.
    Constraint {
        /// The child's constraint.
        requested: ArgConstraint,
        /// The ancestor's.
        parent: ArgConstraint,
    },
    /// The child's expiry is not in the future.
    ExpiryPassed {
        /// Requested.
        requested: Timestamp,
    },
    /// The child's budget exceeds what the chain has left.
    Budget {
        /// Requested.
        requested: u64,
        /// The least any ancestor has left.
        remaining: u64,
    },
    /// The parent may not hand on at all.
    NoDepthLeft,
    /// The child asks for as much (or more) delegation depth as the parent has.
    Depth {
        /// Requested.
        requested: u32,
        /// The parent's remaining depth.
        parent: u32,
    },
}

impl fmt::Display for Widening {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Widening::ParentNotInForce(i) => write!(f, "cannot delegate: {i}"),
            Widening::NoTools => f.write_str("a delegation must name at least one tool"),
            Widening::Tool { pattern, parent } => write!(
                f,
                "tools: `{pattern}` reaches beyond the parent's grants ({})",
                parent
                    .iter()
                    .map(ToolPattern::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Widening::Ceiling { requested, parent } => write!(
                f,
                "ceiling: `{requested}` is above the parent's ceiling `{parent}`"
            ),
            Widening::Expiry { requested, limit } => write!(
                f,
                "expiry: {requested} is later than the chain's expiry {limit}"
            ),
            Widening::Constraint { requested, parent } => write!(
                f,
                "constraints: `{requested}` is looser than the parent's `{parent}`"
            ),
            Widening::ExpiryPassed { requested } => {
                write!(f, "expiry: {requested} is not in the future")
            }
            Widening::Budget {
                requested,
                remaining,
            } => write!(
                f,
                "budget: {requested} calls exceed the {remaining} the chain has left"
            ),
            Widening::NoDepthLeft => {
                f.write_str("depth: the parent mandate may not delegate any further")
            }
            Widening::Depth { requested, parent } => write!(
                f,
                "depth: {requested} further hand-offs is not fewer than the parent's {parent}"
            ),
        }
    }
}

/// Carves a child mandate out of the leaf of `parent`, or says every way it would widen.
// INVARIANT (DESIGN.md 2): an accepted child's tools, ceiling, expiry, budget
// and depth are each within its parent's; proptests in `tests/attenuation.rs`.
pub fn attenuate(
    parent: &MandateChain,
    request: ChildRequest,
    id: MandateId,
    now: Timestamp,
) -> Result<Mandate, Vec<Widening>> {
    if let Err(inactive) = parent.check_in_force(now) {
        return Err(vec![Widening::ParentNotInForce(inactive)]);
    }
    let leaf = parent.leaf();
    let mut widenings = Vec::new();
    if request.tools.is_empty() {
        widenings.push(Widening::NoTools);
    }
    for pattern in &request.tools {
        if !leaf.tools.iter().any(|p| pattern.is_within(p)) {
            widenings.push(Widening::Tool {
                pattern: pattern.clone(),
                parent: leaf.tools.clone(),
            });
        }
    }
    for requested in &request.constraints {
        let looser = parent
            .mandates()
            .iter()
            .flat_map(|m| &m.constraints)
            .find(|p| requested.overlaps(p) && !requested.rule_implies(p));
        if let Some(looser) = looser {
            widenings.push(Widening::Constraint {
                requested: requested.clone(),
                parent: looser.clone(),
            });
        }
    }
    if request.ceiling > leaf.ceiling {
        widenings.push(Widening::Ceiling {
            requested: request.ceiling,
            parent: leaf.ceiling,
        });
    }
    let limit = parent.expires_at();
    if request.expires_at > limit {
        widenings.push(Widening::Expiry {
            requested: request.expires_at,
            limit,
        });
    }
    if request.expires_at <= now {
        widenings.push(Widening::ExpiryPassed {
            requested: request.expires_at,
        });
    }
    let chain_remaining = parent
        .mandates()
        .iter()
        .filter_map(Mandate::remaining_budget)
        .min();
    let budget = match (request.budget, chain_remaining) {
        (Some(requested), Some(remaining)) if requested > remaining => {
            widenings.push(Widening::Budget {
                requested,
                remaining,
            });
            None
        }
        (Some(requested), _) => Some(requested),
        (None, remaining) => remaining,
    };
    let depth_remaining = if leaf.depth_remaining == 0 {
        widenings.push(Widening::NoDepthLeft);
        0
    } else {
        let default = leaf.depth_remaining - 1;
        match request.depth_remaining {
            Some(requested) if requested > default => {
                widenings.push(Widening::Depth {
                    requested,
                    parent: leaf.depth_remaining,
                });
                default
            }
            Some(requested) => requested,
            None => default,
        }
    };
    if !widenings.is_empty() {
        return Err(widenings);
    }
    // INVARIANT: a child keeps every approval rule of its parent's (never fewer) and may add more.
    let mut approvals = leaf.approvals.clone();
    for rule in request.approvals {
        if !approvals.contains(&rule) {
            approvals.push(rule);
        }
    }
    Ok(Mandate {
        id,
        grantor: Grantor::Mandate {
            parent: leaf.id.clone(),
            by: request.by,
        },
        root_human: leaf.root_human.clone(),
        agent: request.agent,
        tools: request.tools,
        ceiling: request.ceiling,
        constraints: request.constraints,
        approvals,
        issued_at: now,
        expires_at: request.expires_at,
        purpose: request.purpose,
        budget,
        uses: 0,
        depth: leaf.depth.saturating_add(1),
        depth_remaining,
        status: MandateStatus::Active,
    })
}
