//! Both layers of a decision, and the proof value that a call was allowed.
//!
//! The gateway's forwarder takes an [`Authorized`], which only this module
//! can build, so no code path can forward a call nobody decided.

use crate::facts::CallFacts;
use crate::org::{OrgPolicy, PolicyVerdict};
use mandate_core::{
    AgentId, CallTarget, Decision, DenyReason, MandateChain, MandateId, Timestamp, ToolName,
    check_scope,
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
    /// Refused (or, later, waiting for approval): never `Decision::Allow`.
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
// INVARIANT: `Allowed` only when `check_scope` is `Ok` and Cedar permits.
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
    // SEAM (needs approval): when only forbids that `context.approved` lifts
    // stand in the way, this is where `Decision::NeedsApproval` will be
    // returned instead of a denial.
    match (scope, org) {
        (Ok(()), PolicyVerdict::Permit { policies }) => Verdict::Allowed(Authorized {
            mandate: chain.leaf().id.clone(),
            tool: target.tool.clone(),
            policies,
        }),
        (Ok(()), PolicyVerdict::Forbid { policies }) => {
            Verdict::Refused(Decision::Deny(vec![DenyReason::ForbiddenByPolicy {
                policies,
            }]))
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
