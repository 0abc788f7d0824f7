//! A mandate with all its ancestors, root first: the unit every decision checks.
//!
//! A mandate is valid only while every ancestor is active, unexpired and within budget.

use crate::{AgentId, Grantor, HumanId, Mandate, MandateId, Revocation, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a list of mandates is not a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// No mandates at all.
    #[error("a mandate chain needs at least one mandate")]
    Empty,
    /// The first mandate was not granted by a human.
    #[error("mandate `{0}` heads the chain but was not granted by a human")]
    RootNotHuman(MandateId),
    /// The root mandate names a root human other than the human who granted it.
    #[error("root mandate `{0}` names a root human other than the human who granted it")]
    RootNotGrantor(MandateId),
    /// A mandate's parent is not the one before it.
    #[error("mandate `{child}` does not descend from `{expected}`")]
    BrokenLink {
        /// The mandate whose parent is wrong.
        child: MandateId,
        /// The mandate that should be its parent.
        expected: MandateId,
    },
    /// A mandate names a different root human from its chain's.
    #[error("mandate `{0}` names a different root human from its chain")]
    RootMismatch(MandateId),
}

/// One link of a chain as audit events and policies see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    /// The mandate.
    pub mandate: MandateId,
    /// The agent holding it.
    pub agent: AgentId,
}

/// Why a chain is not in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum InactiveCause {
    /// The mandate was revoked.
    Revoked(Revocation),
    /// The mandate expired.
    Expired {
        /// When.
        at: Timestamp,
    },
    /// The mandate's budget is spent.
    BudgetSpent {
        /// Its budget.
        budget: u64,
    },
}

/// The first mandate of a chain (root first) that is not in force, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inactive {
    /// The mandate.
    pub mandate: MandateId,
    /// Is it the leaf itself (rather than an ancestor)?
    pub is_leaf: bool,
    /// Why.
    pub cause: InactiveCause,
}

impl fmt::Display for Inactive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whose = if self.is_leaf {
            "mandate"
        } else {
            "ancestor mandate"
        };
        match &self.cause {
            InactiveCause::Revoked(r) => write!(
                f,
                "{whose} `{}` was revoked by {} at {}: {}",
                self.mandate, r.by, r.at, r.reason
            ),
            InactiveCause::Expired { at } => {
                write!(f, "{whose} `{}` expired at {at}", self.mandate)
            }
            InactiveCause::BudgetSpent { budget } => write!(
                f,
                "{whose} `{}` has spent its budget of {budget} calls",
                self.mandate
            ),
        }
    }
}

/// A mandate and its ancestors, root first, with every link checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MandateChain {
    // INVARIANT: non-empty; element 0 was granted by a human and names that
    // human as its root human (DESIGN.md 1); each later element's parent is
    // the one before it; all share the root human.
    mandates: Vec<Mandate>,
}

impl MandateChain {
    /// Checks the links of `mandates` (root first).
    pub fn new(mandates: Vec<Mandate>) -> Result<Self, ChainError> {
        let first = mandates.first().ok_or(ChainError::Empty)?;
        match &first.grantor {
            Grantor::Human { human } if *human == first.root_human => {}
            Grantor::Human { .. } => return Err(ChainError::RootNotGrantor(first.id.clone())),
            Grantor::Mandate { .. } => return Err(ChainError::RootNotHuman(first.id.clone())),
        }
        for pair in mandates.windows(2) {
            if let [parent, child] = pair {
                if child.parent() != Some(&parent.id) {
                    return Err(ChainError::BrokenLink {
                        child: child.id.clone(),
                        expected: parent.id.clone(),
                    });
                }
                if child.root_human != first.root_human {
                    return Err(ChainError::RootMismatch(child.id.clone()));
                }
            }
        }
        Ok(Self { mandates })
    }

    /// The mandate the caller holds: the last of the chain.
    pub fn leaf(&self) -> &Mandate {
        // The constructor refuses an empty chain, so `last` always exists;
        // falling back to the root keeps this free of panics all the same.
        self.mandates.last().unwrap_or_else(|| self.root())
    }

    /// The root mandate, granted by a human.
    pub fn root(&self) -> &Mandate {
        #[expect(
            clippy::indexing_slicing,
            reason = "the constructor refuses an empty chain"
        )]
        &self.mandates[0]
    }

    /// The human who granted the root mandate.
    pub fn root_human(&self) -> &HumanId {
        &self.root().root_human
    }

    /// All mandates, root first.
    pub fn mandates(&self) -> &[Mandate] {
        &self.mandates
    }

    /// The links, root first, as audit events record them.
    pub fn links(&self) -> Vec<ChainLink> {
        self.mandates
            .iter()
            .map(|m| ChainLink {
                mandate: m.id.clone(),
                agent: m.agent.clone(),
            })
            .collect()
    }

    /// Is every mandate in the chain active, unexpired and within budget at `now`?
    /// Returns the first (closest to the root) that is not.
    pub fn check_in_force(&self, now: Timestamp) -> Result<(), Inactive> {
        let last = self.mandates.len().saturating_sub(1);
        for (i, m) in self.mandates.iter().enumerate() {
            let cause = if let Some(r) = m.revocation() {
                Some(InactiveCause::Revoked(r.clone()))
            } else if m.expires_at <= now {
                Some(InactiveCause::Expired { at: m.expires_at })
            } else {
                match m.budget {
                    Some(budget) if m.uses >= budget => Some(InactiveCause::BudgetSpent { budget }),
                    _ => None,
                }
            };
            if let Some(cause) = cause {
                return Err(Inactive {
                    mandate: m.id.clone(),
                    is_leaf: i == last,
                    cause,
                });
            }
        }
        Ok(())
    }

    /// The chain's earliest expiry: no token under it may outlive this.
    pub fn expires_at(&self) -> Timestamp {
        self.mandates
            .iter()
            .map(|m| m.expires_at)
            .min()
            .unwrap_or(self.leaf().expires_at)
    }
}
