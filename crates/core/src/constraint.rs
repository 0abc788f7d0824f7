//! Argument constraints: a grant's limits on what a tool's arguments may hold
//! (`fs.read_file: path under /srv/reports/`, `crm.*: id in cus_001,cus_002`).
//!
//! Every mandate of a chain enforces its own constraints, so a child can only add limits.

use crate::{ToolName, ToolPattern};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What an argument's value must satisfy. Values must be strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", content = "value", rename_all = "snake_case")]
pub enum ArgRule {
    /// A path at or below this folder, with no `.`/`..` segments or empty segments.
    Under(String),
    /// A string that starts with this text.
    Prefix(String),
    /// One of these exact strings.
    OneOf(Vec<String>),
}

/// One constraint: for the tools `tools` matches, argument `arg` must satisfy `rule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgConstraint {
    /// The tools it applies to.
    pub tools: ToolPattern,
    /// The argument's name.
    pub arg: String,
    /// What its value must satisfy.
    pub rule: ArgRule,
}

/// Why a constraint could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "constraint `{text}`: {problem} (write `tools:arg under /path/`, `tools:arg prefix text` or `tools:arg in a,b`)"
)]
pub struct ConstraintError {
    /// The text given.
    pub text: String,
    /// What is wrong.
    pub problem: String,
}

impl ArgConstraint {
    /// Parses `crm.*:id in cus_001,cus_002`, `fs.read_file:path under /srv/reports/`
    /// or `crm.lookup_customer:id prefix cus_00`.
    pub fn parse(text: &str) -> Result<Self, ConstraintError> {
        let fail = |problem: &str| ConstraintError {
            text: text.to_owned(),
            problem: problem.to_owned(),
        };
        let (tools, rest) = text
            .split_once(':')
            .ok_or_else(|| fail("missing `:` after the tool pattern"))?;
        let tools = ToolPattern::new(tools.trim()).map_err(|e| fail(&e.to_string()))?;
        let mut words = rest.trim().splitn(3, ' ');
        let arg = words
            .next()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| fail("missing argument name"))?;
        let op = words
            .next()
            .ok_or_else(|| fail("missing `under`, `prefix` or `in`"))?;
        let value = words
            .next()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| fail("missing value"))?;
        let rule = match op {
            "under" => {
                if !value.starts_with('/') || !is_clean_path(value) {
                    return Err(fail(
                        "`under` needs an absolute path without `.` or `..` segments",
                    ));
                }
                ArgRule::Under(value.to_owned())
            }
            "prefix" => ArgRule::Prefix(value.to_owned()),
            "in" => ArgRule::OneOf(
                value
                    .split(',')
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
                    .collect(),
            ),
            _ => return Err(fail("the operator must be `under`, `prefix` or `in`")),
        };
        Ok(Self {
            tools,
            arg: arg.to_owned(),
            rule,
        })
    }

    /// Does this constraint apply to calls of `tool`?
    pub fn applies_to(&self, tool: &ToolName) -> bool {
        self.tools.matches(tool)
    }

    /// Does the call's argument value satisfy the rule? A missing or non-string value does not.
    pub fn admits(&self, value: Option<&serde_json::Value>) -> bool {
        value
            .and_then(serde_json::Value::as_str)
            .is_some_and(|v| self.rule.admits(v))
    }

    /// Does it limit the same argument of some tool `other` limits too?
    pub fn overlaps(&self, other: &ArgConstraint) -> bool {
        self.arg == other.arg
            && (self.tools.is_within(&other.tools) || other.tools.is_within(&self.tools))
    }

    /// Does every value this constraint admits satisfy `other`'s rule?
    pub fn rule_implies(&self, other: &ArgConstraint) -> bool {
        self.rule.implies(&other.rule)
    }

    /// Is this constraint at least as strict as `looser`, for every tool both name?
    // INVARIANT: sound: when true, every value this admits for a tool this
    // applies to is admitted by `looser` too (or `looser` does not apply).
    pub fn is_at_least_as_strict_as(&self, looser: &ArgConstraint) -> bool {
        self.arg == looser.arg
            && looser.tools.is_within(&self.tools)
            && self.rule.implies(&looser.rule)
    }
}

impl ArgRule {
    fn admits(&self, value: &str) -> bool {
        match self {
            ArgRule::Under(folder) => is_clean_path(value) && path_is_under(value, folder),
            ArgRule::Prefix(prefix) => value.starts_with(prefix.as_str()),
            ArgRule::OneOf(values) => values.iter().any(|v| v == value),
        }
    }

    /// Does every value this rule admits satisfy `other`?
    fn implies(&self, other: &ArgRule) -> bool {
        match (self, other) {
            (ArgRule::OneOf(values), other) => values.iter().all(|v| other.admits(v)),
            (ArgRule::Under(narrow), ArgRule::Under(wide)) => path_is_under(narrow, wide),
            (ArgRule::Prefix(narrow), ArgRule::Prefix(wide)) => narrow.starts_with(wide.as_str()),
            // Every path under `narrow` starts with `narrow`, so with `wide` if `narrow` does.
            (ArgRule::Under(narrow), ArgRule::Prefix(wide)) => narrow.starts_with(wide.as_str()),
            (ArgRule::Prefix(_) | ArgRule::Under(_), ArgRule::OneOf(_))
            | (ArgRule::Prefix(_), ArgRule::Under(_)) => false,
        }
    }
}

/// No `.` or `..` segments, no empty segments inside, no NUL: what you read is where it points.
fn is_clean_path(path: &str) -> bool {
    let inner = path.trim_start_matches('/').trim_end_matches('/');
    !path.contains('\0')
        && (inner.is_empty()
            || inner
                .split('/')
                .all(|segment| !segment.is_empty() && segment != "." && segment != ".."))
}

/// Is `path` the folder itself or below it, segment-wise (`/srv/reportsX` is not under `/srv/reports`)?
fn path_is_under(path: &str, folder: &str) -> bool {
    let folder = folder.trim_end_matches('/');
    path == folder
        || path
            .strip_prefix(folder)
            .is_some_and(|rest| rest.starts_with('/'))
}

impl fmt::Display for ArgConstraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rule {
            ArgRule::Under(p) => write!(f, "{}:{} under {p}", self.tools, self.arg),
            ArgRule::Prefix(p) => write!(f, "{}:{} prefix {p}", self.tools, self.arg),
            ArgRule::OneOf(vs) => write!(f, "{}:{} in {}", self.tools, self.arg, vs.join(",")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn c(text: &str) -> ArgConstraint {
        ArgConstraint::parse(text).unwrap()
    }

    #[test]
    fn parses_and_prints_round_trip() {
        for text in [
            "fs.read_file:path under /srv/reports",
            "crm.*:id in cus_001,cus_002",
            "crm.*:id prefix cus_00",
        ] {
            assert_eq!(c(text).to_string(), text);
        }
        for bad in [
            "fs.read_file path under /x",
            "fs.read_file:path",
            "fs.read_file:path near /x",
            "fs.read_file:path under relative",
            "fs.read_file:path under /a/../b",
        ] {
            assert!(ArgConstraint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn under_refuses_traversal_and_sibling_folders() {
        let under = c("fs.read_file:path under /srv/reports/");
        assert!(under.admits(Some(&json!("/srv/reports/q3.pdf"))));
        assert!(under.admits(Some(&json!("/srv/reports"))));
        for bad in [
            "/srv/reports/../../etc/passwd",
            "/srv/reportsX/a",
            "/srv/reports//a",
            "/srv/reports/./a",
            "/etc/passwd",
        ] {
            assert!(!under.admits(Some(&json!(bad))), "{bad}");
        }
        assert!(!under.admits(None), "a missing argument is not admitted");
        assert!(
            !under.admits(Some(&json!(["/srv/reports/a"]))),
            "a non-string is not admitted"
        );
    }

    #[test]
    fn strictness_compares_rules_and_tools() {
        let parent = c("fs.*:path under /srv/");
        assert!(c("fs.*:path under /srv/reports").is_at_least_as_strict_as(&parent));
        assert!(c("fs.*:path in /srv/a,/srv/b").is_at_least_as_strict_as(&parent));
        assert!(!c("fs.*:path under /").is_at_least_as_strict_as(&parent));
        assert!(
            !c("fs.read_file:path under /srv/x").is_at_least_as_strict_as(&parent),
            "covers fewer tools"
        );
        assert!(
            !c("fs.*:file under /srv/x").is_at_least_as_strict_as(&parent),
            "another argument"
        );
        assert!(
            !c("fs.*:path prefix /srv/").is_at_least_as_strict_as(&parent),
            "a prefix admits traversal"
        );
    }

    fn rule() -> impl proptest::strategy::Strategy<Value = ArgRule> {
        use proptest::prelude::*;
        let path = prop::collection::vec(
            prop::sample::select(vec!["srv", "reports", "a", "..", "."]),
            0..4,
        )
        .prop_map(|segments| format!("/{}", segments.join("/")));
        prop_oneof![
            path.clone()
                .prop_filter("clean", |p| is_clean_path(p))
                .prop_map(ArgRule::Under),
            path.clone().prop_map(ArgRule::Prefix),
            prop::collection::vec(path, 1..3).prop_map(ArgRule::OneOf),
        ]
    }

    proptest::proptest! {
        // Soundness of attenuation's strictness check: a rule that implies another
        // admits nothing the other refuses.
        #[test]
        fn implied_rules_admit_nothing_more(
            narrow in rule(),
            wide in rule(),
            segments in proptest::collection::vec(proptest::sample::select(vec!["srv", "reports", "a", "..", ".", ""]), 0..5),
        ) {
            let value = format!("/{}", segments.join("/"));
            if narrow.implies(&wide) && narrow.admits(&value) {
                proptest::prop_assert!(wide.admits(&value), "{narrow:?} implies {wide:?} but admits {value}");
            }
        }
    }
}
