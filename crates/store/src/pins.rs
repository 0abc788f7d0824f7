//! Pinned tool definitions: the definition of each tool that was accepted (on first sight
//! or by an operator), and the one that waits for review when an upstream changed it.
//!
//! A tool is callable only while the definition its upstream offers is the accepted one.

use mandate_core::{Timestamp, ToolName};

/// One definition of a tool, as agents see it, and its digest.
#[derive(Debug, Clone, PartialEq)]
pub struct PinnedDefinition {
    /// SHA-256 (hex) of the parts that steer a model or a call (description, schema,
    /// annotations), as the catalog computes it.
    pub digest: String,
    /// The whole definition as JSON, so a later change can be shown beside it.
    pub definition: serde_json::Value,
}

/// A definition someone let in.
#[derive(Debug, Clone, PartialEq)]
pub struct Acceptance {
    /// What was accepted.
    pub definition: PinnedDefinition,
    /// Who accepted it: an operator, or [`FIRST_SIGHT`].
    pub by: String,
    /// When.
    pub at: Timestamp,
}

/// A definition an upstream offers that nobody accepted yet.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingDefinition {
    /// What the upstream offers.
    pub definition: PinnedDefinition,
    /// Why it waits, in words an operator can act on.
    pub why: String,
    /// When it was first seen.
    pub seen_at: Timestamp,
}

/// Who accepted a definition that was trusted on first sight.
pub const FIRST_SIGHT: &str = "trust-on-first-use";

/// A tool's pin: what was accepted and what waits.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolPin {
    /// `upstream.tool`.
    pub tool: ToolName,
    /// The accepted definition (none for a tool held since its first sight).
    pub accepted: Option<Acceptance>,
    /// The definition waiting for review, if any.
    pub pending: Option<PendingDefinition>,
}

impl ToolPin {
    /// Does `digest` name the accepted definition?
    pub fn accepts(&self, digest: &str) -> bool {
        self.accepted
            .as_ref()
            .is_some_and(|a| a.definition.digest == digest)
    }
}
