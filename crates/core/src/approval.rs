//! Human approval: the rules that make a call wait for a person, and an approval's lifecycle.
//!
//! An approval is `Pending` → `Approved` → `Spent`, or `Pending` → `Denied`, or it expires.

use crate::{
    AgentId, BlastRadius, ChainLink, HumanId, IdError, MandateChain, MandateId, Timestamp,
    ToolClass, ToolName, ToolPattern,
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Which calls under a mandate need a human's approval first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ApprovalRule {
    /// Every call to a destructive tool.
    Destructive,
    /// Every call to a tool of this class or above (`write` covers `orchestrate` too).
    Class(ToolClass),
    /// Every call to a tool the pattern matches, e.g. `crm.refund`.
    Tool(ToolPattern),
}

/// Why a text is not an approval rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an approval rule: expected `destructive`, a class (`read`, `write`, `orchestrate`) or a tool pattern like `crm.refund`"
)]
pub struct ApprovalRuleError(String);

impl ApprovalRule {
    /// Parses `destructive`, a class name, or a tool pattern (`crm.refund`, `crm.*`, `*`).
    pub fn parse(text: &str) -> Result<Self, ApprovalRuleError> {
        let text = text.trim();
        if text == "destructive" {
            return Ok(ApprovalRule::Destructive);
        }
        if let Ok(class) = text.parse::<ToolClass>() {
            return Ok(ApprovalRule::Class(class));
        }
        // A pattern without `.` or `*` could match no `upstream.tool` name: surely a typo.
        match ToolPattern::new(text) {
            Ok(pattern) if text.contains(['.', '*']) => Ok(ApprovalRule::Tool(pattern)),
            _ => Err(ApprovalRuleError(text.to_owned())),
        }
    }

    /// Parses a comma-separated list, as typed on a command line.
    pub fn parse_list(list: &str) -> Result<Vec<Self>, ApprovalRuleError> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Self::parse)
            .collect()
    }

    /// Does a call to this tool fall under the rule?
    pub fn covers(&self, tool: &ToolName, radius: BlastRadius) -> bool {
        match self {
            ApprovalRule::Destructive => radius.destructive,
            ApprovalRule::Class(class) => radius.class >= *class,
            ApprovalRule::Tool(pattern) => pattern.matches(tool),
        }
    }
}

impl fmt::Display for ApprovalRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApprovalRule::Destructive => f.write_str("destructive"),
            ApprovalRule::Class(class) => class.fmt(f),
            ApprovalRule::Tool(pattern) => pattern.fmt(f),
        }
    }
}

impl TryFrom<String> for ApprovalRule {
    type Error = ApprovalRuleError;
    fn try_from(value: String) -> Result<Self, ApprovalRuleError> {
        Self::parse(&value)
    }
}

impl From<ApprovalRule> for String {
    fn from(rule: ApprovalRule) -> String {
        rule.to_string()
    }
}

/// The mandate rules of a chain that ask for approval of this call, as sentences.
///
/// Every mandate of the chain counts, so a child recorded without its parent's rules
/// still waits for a human.
pub fn approval_rules_for(
    chain: &MandateChain,
    tool: &ToolName,
    radius: BlastRadius,
) -> Vec<String> {
    chain
        .mandates()
        .iter()
        .flat_map(|m| {
            m.approvals
                .iter()
                .filter(|rule| rule.covers(tool, radius))
                .map(|rule| format!("mandate `{}` requires approval for `{rule}`", m.id))
        })
        .collect()
}

/// An approval request's id, e.g. `apr_0193…`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApprovalId(String);

impl ApprovalId {
    /// Parses an id: `apr_` followed by 32 lowercase hex digits.
    pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
        let value = value.into();
        let ok = value.strip_prefix("apr_").is_some_and(|hex| {
            hex.len() == 32
                && hex
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        });
        if ok {
            Ok(Self(value))
        } else {
            Err(IdError::Malformed {
                kind: "approval id",
                value,
                expected: "`apr_` and 32 lowercase hex digits",
            })
        }
    }

    /// An id made from 128 bits the caller chose (a UUID), valid by construction.
    pub fn from_u128(bits: u128) -> Self {
        Self(format!("apr_{bits:032x}"))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ApprovalId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, IdError> {
        Self::new(value)
    }
}

impl From<ApprovalId> for String {
    fn from(id: ApprovalId) -> String {
        id.0
    }
}

impl fmt::Display for ApprovalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for ApprovalId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::new(s)
    }
}

/// A human's decision on an approval request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalDecision {
    /// Who decided.
    pub by: HumanId,
    /// Why, in their words (may be empty).
    pub reason: String,
    /// When.
    pub at: Timestamp,
}

/// Where an approval request is in its life. `Spent`, `Denied` and `Expired` are final.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Waiting for a human.
    Pending,
    /// A human approved it; the call it is bound to may go ahead once.
    Approved(ApprovalDecision),
    /// A human refused it.
    Denied(ApprovalDecision),
    /// The approved call went ahead; it cannot be used again.
    Spent {
        /// The approval it spent.
        decision: ApprovalDecision,
        /// When it was spent.
        spent_at: Timestamp,
    },
    /// Nobody decided in time, or it was approved and not used in time.
    Expired,
}

impl ApprovalStatus {
    /// The status's name as stored and shown.
    pub fn as_str(&self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved(_) => "approved",
            ApprovalStatus::Denied(_) => "denied",
            ApprovalStatus::Spent { .. } => "spent",
            ApprovalStatus::Expired => "expired",
        }
    }
}

/// One call held for a human: what it is, who asks, and where the request stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Its id.
    pub id: ApprovalId,
    /// SHA-256 (hex) over the chain's mandate ids, the tool, the arguments' digest and the
    /// expiry: the one call this approval can allow.
    pub binding: String,
    /// The human at the root of the chain.
    pub human: HumanId,
    /// The agent calling (the chain's leaf).
    pub agent: AgentId,
    /// The leaf mandate.
    pub mandate: MandateId,
    /// The whole chain, root first.
    pub chain: Vec<ChainLink>,
    /// The governance session the call came in.
    pub session: String,
    /// The tool.
    pub tool: ToolName,
    /// The tool's blast radius.
    pub radius: BlastRadius,
    /// The arguments, with detected secrets redacted.
    pub arguments: serde_json::Value,
    /// The arguments' digest, as audit events record it.
    pub args_digest: String,
    /// Which rules asked for approval (policy ids, mandate rules).
    pub rules: Vec<String>,
    /// When it was asked.
    pub requested_at: Timestamp,
    /// When it lapses, decided or not.
    pub expires_at: Timestamp,
    /// Its state as stored.
    pub status: ApprovalStatus,
}

impl Approval {
    /// Its state at `now`: a pending or approved request past its expiry has expired.
    pub fn status_at(&self, now: Timestamp) -> ApprovalStatus {
        match &self.status {
            ApprovalStatus::Pending | ApprovalStatus::Approved(_) if now >= self.expires_at => {
                ApprovalStatus::Expired
            }
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn radius(class: ToolClass, destructive: bool) -> BlastRadius {
        BlastRadius {
            class,
            destructive,
            open_world: false,
        }
    }

    #[test]
    fn rules_parse_and_cover_what_they_say() {
        let tool = ToolName::new("crm.refund").unwrap();
        let rules = ApprovalRule::parse_list("destructive, write,crm.refund").unwrap();
        assert_eq!(
            rules,
            vec![
                ApprovalRule::Destructive,
                ApprovalRule::Class(ToolClass::Write),
                ApprovalRule::Tool(ToolPattern::new("crm.refund").unwrap()),
            ]
        );
        let read = radius(ToolClass::Read, false);
        assert!(!rules[0].covers(&tool, read));
        assert!(rules[0].covers(&tool, radius(ToolClass::Read, true)));
        assert!(!rules[1].covers(&tool, read));
        assert!(rules[1].covers(&tool, radius(ToolClass::Orchestrate, false)));
        assert!(rules[2].covers(&tool, read));
        assert!(!rules[2].covers(&ToolName::new("crm.lookup").unwrap(), read));
        for bad in ["refund", "", "crm refund", "admin"] {
            assert!(ApprovalRule::parse(bad).is_err(), "{bad}");
        }
        let json = serde_json::to_string(&rules).unwrap();
        assert_eq!(json, r#"["destructive","write","crm.refund"]"#);
        assert_eq!(
            serde_json::from_str::<Vec<ApprovalRule>>(&json).unwrap(),
            rules
        );
    }

    #[test]
    fn approval_ids_are_checked() {
        let id = ApprovalId::from_u128(7);
        assert_eq!(ApprovalId::new(id.as_str()).unwrap(), id);
        for bad in [
            "apr_",
            "m_0000",
            "apr_XYZ",
            "apr_0000000000000000000000000000000g",
        ] {
            assert!(ApprovalId::new(bad).is_err(), "{bad}");
        }
    }
}
