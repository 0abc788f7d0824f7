//! Both layers of a decision, and the proof value that a call was allowed.
//!
//! The gateway's forwarder takes an [`Authorized`], which only this module
//! can build, so no code path can forward a call nobody decided.

use crate::facts::CallFacts;
use crate::org::{OrgPolicy, PolicyVerdict};
use mandate_core::{
    AgentId, CallTarget, Decision, DenyReason, MandateChain, MandateId, Timestamp, ToolName,
    approval_rules_for, check_scope,
};

/// Proof that one call, by the holder of one mandate, to one tool, was allowed
/// by both layers. Only this crate can build it; it is neither `Clone` nor
/// `Default`, so each decision yields exactly one.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "an allowed call that is not forwarded should be recorded as such"]
pub struct Authorized {
    mandate: MandateId,
    tool: ToolName,
    policies: Vec<String>,
}

impl Authorized {
    /// The leaf mandate the call was made under.
    pub fn mandate(&self) -> &MandateId {
        &self.mandate
    }

    /// The tool the call may reach.
    pub fn tool(&self) -> &ToolName {
        &self.tool
    }

    /// The organisation policies that permitted it.
    pub fn policies(&self) -> &[String] {
        &self.policies
    }
}

/// The outcome of deciding one call.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Verdict {
    /// Both layers allow: here is the proof to forward with.
    Allowed(Authorized),
    /// Refused, or waiting for a human (`Decision::NeedsApproval`): never `Decision::Allow`.
    Refused(Decision),
}

impl Verdict {
    /// The decision as audit events record it.
    pub fn decision(&self) -> Decision {
        match self {
            Verdict::Allowed(_) => Decision::Allow,
            Verdict::Refused(decision) => decision.clone(),
        }
    }
}

/// Decides a tool call: the mandate's scope first, then the organisation's
/// policies. Both must allow.
///
/// A scope denial is final, but the policies are still evaluated so that the
/// reasons also name any policy that would have forbidden the call.
///
/// Unless `approved`, a call in scope waits for a human (`NeedsApproval`, naming the rules)
/// when a mandate of the chain has an approval rule covering it, or when the only policies
/// forbidding it are ones that `context.approved = true` lifts (Cedar is asked both ways).
// INVARIANT: `Allowed` only when `check_scope` is `Ok` and Cedar permits, and, unless a
// human approved this very call, no approval rule of the chain covers it.
pub fn decide_call(
    policy: &OrgPolicy,
    chain: &MandateChain,
    target: &CallTarget,
    now: Timestamp,
    approved: bool,
) -> Verdict {
    // Layer 1: the mandate chain's scope, in Rust.
    let scope = check_scope(chain, target, now);
    // Layer 2: the organisation's policies, in Cedar.
    let facts = CallFacts {
        chain,
        target,
        approved,
    };
    let org = policy.evaluate_call(&facts);
    let mandate_rules = if approved {
        Vec::new()
    } else {
        approval_rules_for(chain, &target.tool, target.radius)
    };
    match (scope, org) {
        (Ok(()), PolicyVerdict::Permit { .. }) if !mandate_rules.is_empty() => {
            Verdict::Refused(Decision::NeedsApproval(mandate_rules))
        }
        (Ok(()), PolicyVerdict::Permit { policies }) => Verdict::Allowed(Authorized {
            mandate: chain.leaf().id.clone(),
            tool: target.tool.clone(),
            policies,
        }),
        (Ok(()), PolicyVerdict::Forbid { policies }) => {
            // Would a human's approval lift every forbid? Ask Cedar again (remembered apart).
            let lifted = !approved
                && matches!(
                    policy.evaluate_call(&CallFacts {
                        approved: true,
                        ..facts
                    }),
                    PolicyVerdict::Permit { .. }
                );
            if lifted {
                let mut rules = policies;
                rules.extend(mandate_rules);
                Verdict::Refused(Decision::NeedsApproval(rules))
            } else {
                Verdict::Refused(Decision::Deny(vec![DenyReason::ForbiddenByPolicy {
                    policies,
                }]))
            }
        }
        (Err(mut reasons), PolicyVerdict::Forbid { policies }) => {
            reasons.push(DenyReason::ForbiddenByPolicy { policies });
            Verdict::Refused(Decision::Deny(reasons))
        }
        (Err(reasons), PolicyVerdict::Permit { .. }) => Verdict::Refused(Decision::Deny(reasons)),
    }
}

/// Decides the organisation layer of a hand-off from the chain's leaf agent
/// to `worker`. The mandate layer (attenuation) is `mandate_core::attenuate`.
pub fn decide_delegation(
    policy: &OrgPolicy,
    chain: &MandateChain,
    worker: &AgentId,
) -> Result<(), Decision> {
    match policy.evaluate_delegation(chain, worker) {
        PolicyVerdict::Permit { .. } => Ok(()),
        PolicyVerdict::Forbid { policies } => {
            Err(Decision::Deny(vec![DenyReason::ForbiddenByPolicy {
                policies,
            }]))
        }
    }
}
