//! The mandate layer of a decision: is this call within the chain's scope now?
//!
//! Organisation policy (Cedar) is the second layer, in the `mandate-policy` crate.

use crate::{BlastRadius, DenyReason, MandateChain, Timestamp, ToolName};
use serde_json::{Map, Value};

/// The tool a call is for, as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallTarget {
    /// The tool's `upstream.tool` name.
    pub tool: ToolName,
    /// Its blast radius, as classified by the catalog.
    pub radius: BlastRadius,
    /// The call's arguments. `None` only where they are not known yet (listing
    /// tools), so argument constraints are not checked; every call passes `Some`.
    pub arguments: Option<Map<String, Value>>,
}

/// Checks a call against the mandate chain: every mandate in force, and every
/// mandate (not just the leaf) granting the tool at or above its class.
///
/// Returns every reason that applies, so an operator sees the whole picture.
// INVARIANT: deny by default: `Ok` only when no rule objects. Ancestors are
// checked too, so a child recorded wider than its parent still cannot act
// beyond the parent.
pub fn check_scope(
    chain: &MandateChain,
    target: &CallTarget,
    now: Timestamp,
) -> Result<(), Vec<DenyReason>> {
    if let Err(inactive) = chain.check_in_force(now) {
        return Err(vec![DenyReason::NotInForce(inactive)]);
    }
    let mut reasons = Vec::new();
    // Leaf first: its reasons are the ones the caller can act on.
    for m in chain.mandates().iter().rev() {
        if !m.reaches(&target.tool) {
            reasons.push(DenyReason::NoGrant {
                mandate: m.id.clone(),
                tool: target.tool.clone(),
                granted: m.tools.clone(),
            });
        } else if target.radius.class > m.ceiling {
            reasons.push(DenyReason::AboveCeiling {
                mandate: m.id.clone(),
                tool: target.tool.clone(),
                class: target.radius.class,
                ceiling: m.ceiling,
            });
        }
        if let Some(arguments) = &target.arguments {
            let broken = m
                .constraints
                .iter()
                .filter(|c| c.applies_to(&target.tool) && !c.admits(arguments.get(&c.arg)));
            for constraint in broken {
                reasons.push(DenyReason::ArgumentConstraint {
                    mandate: m.id.clone(),
                    tool: target.tool.clone(),
                    constraint: constraint.clone(),
                });
            }
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons)
    }
}
