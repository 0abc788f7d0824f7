//! The `[approvals]` table: who may decide a held call, whether the agent's own human may,
//! and how long a call waits for them.
//!
//! Approvers are named humans or groups of the policy folder's `groups.json` (`group:NAME`).

use super::{ConfigError, invalid, parse_duration};
use mandate_core::HumanId;
use serde::Deserialize;
use std::time::Duration;

/// How long a call waits for a human unless `[approvals] timeout` says otherwise.
pub const DEFAULT_APPROVAL_TIMEOUT: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApprovals {
    approvers: Option<Vec<String>>,
    allow_self_approval: Option<bool>,
    timeout: Option<String>,
}

/// Someone who holds the approver role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approver {
    /// A named human.
    Human(HumanId),
    /// Every member of a group of `groups.json`.
    Group(String),
}

/// Who decides held calls, and for how long a call is held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalsConfig {
    /// Who holds the approver role. Empty: nobody can approve, so a call that needs
    /// approval is refused at once.
    pub approvers: Vec<Approver>,
    /// May the human at the root of the calling agent's chain approve its calls?
    /// (Separation of duties says no, the default.)
    pub allow_self_approval: bool,
    /// How long a call waits for a decision, and how long an approval stays usable.
    pub timeout: Duration,
}

impl Default for ApprovalsConfig {
    fn default() -> Self {
        Self {
            approvers: Vec::new(),
            allow_self_approval: false,
            timeout: DEFAULT_APPROVAL_TIMEOUT,
        }
    }
}

pub(super) fn validate(raw: RawApprovals) -> Result<ApprovalsConfig, ConfigError> {
    let mut approvers = Vec::new();
    for (i, text) in raw.approvers.unwrap_or_default().into_iter().enumerate() {
        let key = format!("approvals.approvers[{i}]");
        let approver = match text.strip_prefix("group:") {
            Some(group) if !group.trim().is_empty() => Approver::Group(group.to_owned()),
            Some(_) => return Err(invalid(key, "`group:` must name a group of `groups.json`")),
            None => Approver::Human(HumanId::new(text).map_err(|e| invalid(key, e.to_string()))?),
        };
        if !approvers.contains(&approver) {
            approvers.push(approver);
        }
    }
    let timeout = match raw.timeout {
        None => DEFAULT_APPROVAL_TIMEOUT,
        Some(text) => parse_duration(&text).map_err(|p| invalid("approvals.timeout", p))?,
    };
    if timeout > Duration::from_secs(24 * 3600) {
        return Err(invalid("approvals.timeout", "must be at most `24h`"));
    }
    Ok(ApprovalsConfig {
        approvers,
        allow_self_approval: raw.allow_self_approval.unwrap_or(false),
        timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ApprovalsConfig, ConfigError> {
        validate(toml::from_str(text).unwrap())
    }

    #[test]
    fn approvers_are_humans_or_groups_and_the_defaults_are_strict() {
        let c = parse(r#"approvers = ["sec@corp", "group:security", "sec@corp"]"#).unwrap();
        assert_eq!(
            c.approvers,
            vec![
                Approver::Human(HumanId::new("sec@corp").unwrap()),
                Approver::Group("security".into())
            ]
        );
        assert!(!c.allow_self_approval);
        assert_eq!(c.timeout, DEFAULT_APPROVAL_TIMEOUT);
        assert_eq!(parse("").unwrap(), ApprovalsConfig::default());
    }

    #[test]
    fn bad_approvers_and_timeouts_name_their_key() {
        for (text, key) in [
            (r#"approvers = ["bad human"]"#, "approvals.approvers[0]"),
            (r#"approvers = ["a@b", "group:"]"#, "approvals.approvers[1]"),
            (r#"timeout = "soon""#, "approvals.timeout"),
            (r#"timeout = "30d""#, "approvals.timeout"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(&format!("`{key}`")), "{text}: {err}");
        }
    }
}
