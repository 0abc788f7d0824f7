//! Tool patterns: what a grant names (`crm.*`, `crm.lookup_*`, `fs.read_file`).
//!
//! `*` matches any run of characters; everything else matches itself.

use crate::ToolName;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a tool pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// The pattern is empty.
    #[error("tool pattern must not be empty")]
    Empty,
    /// The pattern holds a character tools cannot have.
    #[error("tool pattern `{0}` may only hold letters, digits, `-_./` and `*`")]
    BadCharacter(String),
    /// The pattern is too long to be a tool pattern.
    #[error("tool pattern `{0}` is longer than 256 characters")]
    TooLong(String),
}

/// A glob over `upstream.tool` names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ToolPattern(String);

impl ToolPattern {
    /// Parses a pattern.
    pub fn new(value: impl Into<String>) -> Result<Self, PatternError> {
        let value = value.into();
        if value.is_empty() {
            return Err(PatternError::Empty);
        }
        if value.len() > 256 {
            return Err(PatternError::TooLong(value));
        }
        if !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./*".contains(c))
        {
            return Err(PatternError::BadCharacter(value));
        }
        // Runs of `*` mean the same as one; keep one so comparisons stay simple.
        let mut collapsed = String::with_capacity(value.len());
        for c in value.chars() {
            if !(c == '*' && collapsed.ends_with('*')) {
                collapsed.push(c);
            }
        }
        Ok(Self(collapsed))
    }

    /// Parses a comma-separated list, as typed on a command line.
    pub fn parse_list(list: &str) -> Result<Vec<Self>, PatternError> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Self::new)
            .collect()
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Does this pattern match the tool?
    pub fn matches(&self, tool: &ToolName) -> bool {
        glob_match(self.0.as_bytes(), tool.as_str().as_bytes(), false)
    }

    /// Is every tool this pattern can ever match also matched by `wider`?
    ///
    /// This compares patterns as languages, not as today's catalog, so a tool
    /// added later cannot slip in under a child pattern that looked narrow.
    // INVARIANT: sound and complete for `*`-only globs: `wider` must match this
    // pattern's text with each of our `*` consumable only by a `*` of `wider`.
    pub fn is_within(&self, wider: &ToolPattern) -> bool {
        glob_match(wider.0.as_bytes(), self.0.as_bytes(), true)
    }
}

/// Matches `text` against `pattern`. With `star_is_symbol`, a `*` in `text`
/// stands for "any run" and only a `*` in the pattern may absorb it.
fn glob_match(pattern: &[u8], text: &[u8], star_is_symbol: bool) -> bool {
    // Classic two-pointer glob matching with backtracking to the last star:
    // linear in practice, no recursion, no allocation.
    let (mut p, mut t) = (0usize, 0usize);
    let mut resume: Option<(usize, usize)> = None;
    while t < text.len() {
        let pc = pattern.get(p).copied();
        let tc = text.get(t).copied();
        let literal_ok = match (pc, tc) {
            (Some(b'*'), _) => false,
            (Some(a), Some(b)) => a == b && !(star_is_symbol && b == b'*'),
            _ => false,
        };
        if pc == Some(b'*') {
            resume = Some((p, t));
            p += 1;
        } else if literal_ok {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = resume {
            p = sp + 1;
            t = st + 1;
            resume = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

impl TryFrom<String> for ToolPattern {
    type Error = PatternError;
    fn try_from(value: String) -> Result<Self, PatternError> {
        Self::new(value)
    }
}

impl From<ToolPattern> for String {
    fn from(p: ToolPattern) -> String {
        p.0
    }
}

impl fmt::Display for ToolPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pat(s: &str) -> ToolPattern {
        ToolPattern::new(s).unwrap()
    }

    fn tool(s: &str) -> ToolName {
        ToolName::new(s).unwrap()
    }

    #[test]
    fn matches_globs() {
        assert!(pat("crm.*").matches(&tool("crm.lookup_customer")));
        assert!(pat("crm.lookup_*").matches(&tool("crm.lookup_customer")));
        assert!(!pat("crm.lookup_*").matches(&tool("crm.update_customer")));
        assert!(pat("*").matches(&tool("fs.read_file")));
        assert!(pat("*.read_*").matches(&tool("fs.read_file")));
        assert!(!pat("crm.lookup").matches(&tool("crm.lookup_customer")));
        assert!(pat("crm.lookup_customer").matches(&tool("crm.lookup_customer")));
    }

    #[test]
    fn subset_compares_languages() {
        assert!(pat("crm.lookup_*").is_within(&pat("crm.*")));
        assert!(pat("crm.lookup_customer").is_within(&pat("crm.lookup_*")));
        assert!(!pat("crm.*").is_within(&pat("crm.lookup_*")));
        assert!(!pat("*").is_within(&pat("crm.*")));
        assert!(pat("crm.*").is_within(&pat("*")));
        // A literal `x` in the wider pattern cannot absorb a narrower `*`.
        assert!(!pat("crm.a*").is_within(&pat("crm.ab*")));
        assert!(pat("crm.a*b").is_within(&pat("crm.a*")));
    }

    fn tool_text() -> impl Strategy<Value = String> {
        "[ab]{1,3}\\.[ab_]{1,6}"
    }

    fn pattern_text() -> impl Strategy<Value = String> {
        "[ab*]{0,2}\\.?[ab_*]{0,5}".prop_filter("non-empty", |s| !s.is_empty())
    }

    proptest! {
        // Soundness of the subset check: whenever `narrow` is within `wide`,
        // every tool that `narrow` matches is matched by `wide` too.
        #[test]
        fn within_implies_every_match_is_wider(n in pattern_text(), w in pattern_text(), t in tool_text()) {
            let (n, w, t) = (pat(&n), pat(&w), tool(&t));
            if n.is_within(&w) && n.matches(&t) {
                prop_assert!(w.matches(&t));
            }
        }

        #[test]
        fn every_pattern_is_within_itself_and_star(p in pattern_text()) {
            let p = pat(&p);
            prop_assert!(p.is_within(&p));
            prop_assert!(p.is_within(&pat("*")));
        }
    }
}
