//! Mandate's domain core: who may call which tool, on whose authority, until when.
//!
//! Everything here is pure: no I/O, no clock, no async. Callers pass `now` in,
//! so every rule about mandates, grants, blast radius and decisions can be
//! tested (and property-tested) exhaustively. The gateway, store and policy
//! crates build on these types; nothing here knows about them.
//!
//! Reading order for a newcomer: [`ToolClass`] and [`BlastRadius`] (what a tool
//! can do), [`ToolPattern`] (what a grant names), [`Mandate`] (a delegation
//! record), [`MandateChain`] (a mandate with all its ancestors), then
//! [`check_scope`] (the mandate layer of a decision) and [`Decision`].

mod approval;
mod attenuation;
mod blast;
mod chain;
mod constraint;
mod decision;
mod ids;
mod mandate;
mod pattern;
mod scope;
mod time_point;

pub use approval::{
    Approval, ApprovalDecision, ApprovalId, ApprovalRule, ApprovalRuleError, ApprovalStatus,
    approval_rules_for,
};
pub use attenuation::{ChildRequest, Widening, attenuate};
pub use blast::{
    BlastRadius, ClassSource, Override, ToolClass, ToolHints, UnknownClassError, classify,
};
pub use chain::{ChainError, ChainLink, Inactive, InactiveCause, MandateChain};
pub use constraint::{ArgConstraint, ArgRule, ConstraintError};
pub use decision::{Decision, DenyReason};
pub use ids::{AgentId, HumanId, IdError, MandateId, ToolName};
pub use mandate::{Agent, Grantor, Mandate, MandateStatus, Owner, OwnerRole, Revocation};
pub use pattern::{PatternError, ToolPattern};
pub use scope::{CallTarget, check_scope};
pub use time_point::Timestamp;
