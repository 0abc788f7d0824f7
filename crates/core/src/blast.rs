//! Blast radius: what a tool can do, and how Mandate decides it.
//!
//! Operator overrides win, MCP annotations are untrusted hints, unknown means `write`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How far a tool's effects reach. Ordered: `Read < Write < Orchestrate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolClass {
    /// No side effects.
    Read,
    /// Changes state somewhere.
    Write,
    /// Starts, instructs or delegates to other agents.
    Orchestrate,
}

/// A class name that is not `read`, `write` or `orchestrate`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a tool class: expected `read`, `write` or `orchestrate`")]
pub struct UnknownClassError(pub String);

impl ToolClass {
    /// All classes, lowest first.
    pub const ALL: [ToolClass; 3] = [ToolClass::Read, ToolClass::Write, ToolClass::Orchestrate];

    /// The class's lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolClass::Read => "read",
            ToolClass::Write => "write",
            ToolClass::Orchestrate => "orchestrate",
        }
    }
}

impl std::str::FromStr for ToolClass {
    type Err = UnknownClassError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(ToolClass::Read),
            "write" => Ok(ToolClass::Write),
            "orchestrate" => Ok(ToolClass::Orchestrate),
            other => Err(UnknownClassError(other.to_owned())),
        }
    }
}

impl fmt::Display for ToolClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tool's class plus the flags that make it riskier within its class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BlastRadius {
    /// The tool's class.
    pub class: ToolClass,
    /// The tool may destroy data or state.
    pub destructive: bool,
    /// The tool reaches systems outside the organisation (the open web, e-mail).
    pub open_world: bool,
}

impl BlastRadius {
    /// The radius assumed for a tool nobody described: `write`, unflagged.
    pub const UNKNOWN: BlastRadius = BlastRadius {
        class: ToolClass::Write,
        destructive: false,
        open_world: false,
    };
}

impl fmt::Display for BlastRadius {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.class.as_str())?;
        if self.destructive {
            f.write_str("+destructive")?;
        }
        if self.open_world {
            f.write_str("+open_world")?;
        }
        Ok(())
    }
}

/// Where a tool's class came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassSource {
    /// The operator's catalog override.
    Operator,
    /// The upstream's MCP annotations (untrusted hints).
    Annotations,
    /// Nothing said anything: assumed `write`.
    Default,
    /// Mandate's own governed name for an upstream's resources or prompts: a read.
    Relay,
}

impl fmt::Display for ClassSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClassSource::Operator => "operator override",
            ClassSource::Annotations => "upstream annotations",
            ClassSource::Default => "default (unknown counts as write)",
            ClassSource::Relay => "Mandate (reading resources or prompts)",
        })
    }
}

/// The MCP tool annotations an upstream sent: hints from an untrusted server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolHints {
    /// `readOnlyHint`.
    pub read_only: Option<bool>,
    /// `destructiveHint`.
    pub destructive: Option<bool>,
    /// `openWorldHint`.
    pub open_world: Option<bool>,
}

/// The operator's override for one tool; any field left `None` falls back to the hints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    /// The class the operator assigns.
    pub class: Option<ToolClass>,
    /// Whether the operator marks the tool destructive.
    pub destructive: Option<bool>,
    /// Whether the operator marks the tool open-world.
    pub open_world: Option<bool>,
}

/// Classifies a tool: operator override first, then annotations, otherwise `write`.
///
/// INVARIANT: annotations can never yield `orchestrate`, and `readOnlyHint`
/// alone never lowers a tool the operator classified. A tool whose hints claim
/// both read-only and destructive is contradictory and stays `write`.
pub fn classify(operator: Option<&Override>, hints: &ToolHints) -> (BlastRadius, ClassSource) {
    let hinted_destructive = hints.destructive.unwrap_or(false);
    let hinted_open_world = hints.open_world.unwrap_or(false);
    let (hinted_class, hinted_source) = match hints.read_only {
        Some(true) if !hinted_destructive => (ToolClass::Read, ClassSource::Annotations),
        Some(_) => (ToolClass::Write, ClassSource::Annotations),
        None => (ToolClass::Write, ClassSource::Default),
    };
    let op = operator.copied().unwrap_or_default();
    let (class, source) = match op.class {
        Some(class) => (class, ClassSource::Operator),
        None => (hinted_class, hinted_source),
    };
    let radius = BlastRadius {
        class,
        destructive: op.destructive.unwrap_or(hinted_destructive),
        open_world: op.open_world.unwrap_or(hinted_open_world),
    };
    (radius, source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_tool_counts_as_write() {
        let (r, s) = classify(None, &ToolHints::default());
        assert_eq!(r, BlastRadius::UNKNOWN);
        assert_eq!(s, ClassSource::Default);
    }

    #[test]
    fn read_only_hint_makes_read() {
        let hints = ToolHints {
            read_only: Some(true),
            ..ToolHints::default()
        };
        assert_eq!(classify(None, &hints).0.class, ToolClass::Read);
    }

    #[test]
    fn read_only_and_destructive_hints_contradict_and_stay_write() {
        let hints = ToolHints {
            read_only: Some(true),
            destructive: Some(true),
            open_world: None,
        };
        let (r, _) = classify(None, &hints);
        assert_eq!(r.class, ToolClass::Write);
        assert!(r.destructive);
    }

    #[test]
    fn operator_override_beats_hints() {
        let hints = ToolHints {
            read_only: Some(true),
            ..ToolHints::default()
        };
        let op = Override {
            class: Some(ToolClass::Orchestrate),
            destructive: None,
            open_world: Some(true),
        };
        let (r, s) = classify(Some(&op), &hints);
        assert_eq!(r.class, ToolClass::Orchestrate);
        assert!(r.open_world);
        assert_eq!(s, ClassSource::Operator);
    }

    #[test]
    fn classes_are_ordered_by_reach() {
        assert!(ToolClass::Read < ToolClass::Write);
        assert!(ToolClass::Write < ToolClass::Orchestrate);
    }
}
