//! Agents and mandates: who may act, on whose authority, with what limits.
//!
//! A mandate is a delegation record; its lifecycle is `Active` → `Revoked` (final).

use crate::{
    AgentId, ApprovalRule, ArgConstraint, HumanId, MandateId, Timestamp, ToolClass, ToolName,
    ToolPattern,
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The role an owner plays for an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OwnerRole {
    /// Answers for what the agent is for.
    Business,
    /// Answers for the agent's risk.
    Security,
    /// Runs the agent.
    Platform,
}

impl std::str::FromStr for OwnerRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "business" => Ok(OwnerRole::Business),
            "security" => Ok(OwnerRole::Security),
            "platform" => Ok(OwnerRole::Platform),
            other => Err(format!(
                "`{other}` is not an owner role: expected `business`, `security` or `platform`"
            )),
        }
    }
}

impl fmt::Display for OwnerRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OwnerRole::Business => "business",
            OwnerRole::Security => "security",
            OwnerRole::Platform => "platform",
        })
    }
}

/// One owner of an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// The owner's role.
    pub role: OwnerRole,
    /// The owner.
    pub human: HumanId,
}

/// A registered non-human identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// The agent's id.
    pub id: AgentId,
    /// A readable name.
    pub name: String,
    /// The people who answer for it. An agent without owners cannot be granted anything.
    pub owners: Vec<Owner>,
    /// When it was registered.
    pub registered_at: Timestamp,
}

/// Who granted a mandate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Grantor {
    /// A human granted it directly: a root mandate.
    Human {
        /// The human.
        human: HumanId,
    },
    /// The agent holding the parent mandate handed it on.
    Mandate {
        /// The parent mandate.
        parent: MandateId,
        /// Who performed the hand-off: the parent's agent, or an operator acting for it.
        by: String,
    },
}

/// Why and by whom a mandate was revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// Who revoked it.
    pub by: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: Timestamp,
}

/// A mandate's lifecycle state. Revocation is final.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum MandateStatus {
    /// In force (subject to expiry and budget).
    Active,
    /// Revoked; it and its whole subtree are dead.
    Revoked(Revocation),
}

/// A delegation record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mandate {
    /// The mandate's id.
    pub id: MandateId,
    /// Who granted it.
    pub grantor: Grantor,
    /// The human at the root of its chain.
    pub root_human: HumanId,
    /// The agent it was granted to.
    pub agent: AgentId,
    /// The tools it reaches.
    pub tools: Vec<ToolPattern>,
    /// The highest class of tool it may call.
    pub ceiling: ToolClass,
    /// Limits on the arguments of the tools it reaches (ancestors' limits apply too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<ArgConstraint>,
    /// Which calls need a human's approval first (ancestors' rules apply too; a child
    /// keeps all its parent's and may add more).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<ApprovalRule>,
    /// When it was granted.
    pub issued_at: Timestamp,
    /// When it ends.
    pub expires_at: Timestamp,
    /// Why it was granted, in the grantor's words.
    pub purpose: String,
    /// How many calls it may make in all (`None`: unlimited, within its ancestors' budgets).
    pub budget: Option<u64>,
    /// Calls made under it and under its descendants.
    pub uses: u64,
    /// Its depth in the chain: 0 for a root mandate.
    pub depth: u32,
    /// How many further hand-offs may happen below it.
    pub depth_remaining: u32,
    /// Its lifecycle state.
    pub status: MandateStatus,
}

impl Mandate {
    /// The parent mandate, if this one was handed on.
    pub fn parent(&self) -> Option<&MandateId> {
        match &self.grantor {
            Grantor::Human { .. } => None,
            Grantor::Mandate { parent, .. } => Some(parent),
        }
    }

    /// Does any of its patterns match the tool?
    pub fn reaches(&self, tool: &ToolName) -> bool {
        self.tools.iter().any(|p| p.matches(tool))
    }

    /// Calls left in its own budget (`None`: unlimited).
    pub fn remaining_budget(&self) -> Option<u64> {
        self.budget.map(|b| b.saturating_sub(self.uses))
    }

    /// Is it revoked?
    pub fn revocation(&self) -> Option<&Revocation> {
        match &self.status {
            MandateStatus::Active => None,
            MandateStatus::Revoked(r) => Some(r),
        }
    }
}
