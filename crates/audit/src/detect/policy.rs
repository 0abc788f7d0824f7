//! What to do about a finding: record it, redact it from the reply, or block the reply.
//!
//! Operators choose per label and per tool class; by default credentials are
//! redacted and personal data is only recorded.

use super::{Finding, LabelKind, json, known_labels, labels};
use mandate_core::ToolClass;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the gateway does with a finding. Ordered: `Record < Redact < Block`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Put the label in the audit event; pass the data through.
    Record,
    /// Record, and replace the data with `[REDACTED:<label>]` in the reply.
    Redact,
    /// Record, and withhold the whole reply from the agent.
    Block,
}

/// The `[sensitivity]` config table as written.
///
/// ```toml
/// [sensitivity]
/// default_credential = "redact"
/// default_personal_data = "record"
/// [sensitivity.labels]
/// email = "redact"
/// [sensitivity.classes.read]
/// payment_card = "block"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSensitivityPolicy {
    /// Action for credential labels not named elsewhere (default `redact`).
    pub default_credential: Option<Action>,
    /// Action for personal data labels not named elsewhere (default `record`).
    pub default_personal_data: Option<Action>,
    /// Action per label, for every tool class.
    #[serde(default)]
    pub labels: BTreeMap<String, Action>,
    /// Action per label for one tool class, keyed by class name.
    #[serde(default)]
    pub classes: BTreeMap<String, BTreeMap<String, Action>>,
}

/// A `[sensitivity]` table names something that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SensitivityConfigError {
    /// A key names no label any detector produces.
    #[error("`{key}` names no detector label: expected one of {known}")]
    UnknownLabel {
        /// The full config key, such as `sensitivity.labels.emial`.
        key: String,
        /// The labels that exist, comma-separated.
        known: String,
    },
    /// A `classes` key is not a tool class.
    #[error("`{key}` is not a tool class: expected `read`, `write` or `orchestrate`")]
    UnknownClass {
        /// The full config key, such as `sensitivity.classes.raed`.
        key: String,
    },
}

/// Validated sensitivity policy: every label it names exists.
///
/// The most specific setting wins: class and label, then label, then the
/// default for the label's kind.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawSensitivityPolicy")]
pub struct SensitivityPolicy {
    default_credential: Action,
    default_personal_data: Action,
    labels: BTreeMap<String, Action>,
    classes: BTreeMap<ToolClass, BTreeMap<String, Action>>,
}

/// What screening a reply found and did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Screening {
    /// Every label found, sorted and deduplicated: for the audit event.
    pub labels: Vec<String>,
    /// The labels that were redacted in place, sorted and deduplicated.
    pub redacted: Vec<String>,
    /// The strictest action any finding called for (`Record` if none):
    /// on `Block` the caller must withhold the whole reply.
    pub action: Action,
}

impl Default for SensitivityPolicy {
    fn default() -> Self {
        SensitivityPolicy {
            default_credential: Action::Redact,
            default_personal_data: Action::Record,
            labels: BTreeMap::new(),
            classes: BTreeMap::new(),
        }
    }
}

impl SensitivityPolicy {
    /// What to do with a finding of `label` in a call to a tool of `class`.
    pub fn action(&self, class: ToolClass, kind: LabelKind, label: &str) -> Action {
        let by_class = self
            .classes
            .get(&class)
            .and_then(|labels| labels.get(label));
        match (by_class, self.labels.get(label)) {
            (Some(action), _) | (None, Some(action)) => *action,
            (None, None) => match kind {
                LabelKind::Credential => self.default_credential,
                LabelKind::PersonalData => self.default_personal_data,
            },
        }
    }

    /// Scans `value` and redacts in place what this policy says to redact.
    pub fn screen_json(&self, class: ToolClass, value: &mut serde_json::Value) -> Screening {
        let mut found = Vec::new();
        let mut redacted = Vec::new();
        let mut action = Action::Record;
        json::rewrite(
            value,
            None,
            &mut |f: &Finding| {
                let chosen = self.action(class, f.kind, &f.label);
                action = action.max(chosen);
                let redact = chosen >= Action::Redact;
                if redact {
                    redacted.push(f.clone());
                }
                redact
            },
            &mut found,
        );
        Screening {
            labels: labels(&found),
            redacted: labels(&redacted),
            action,
        }
    }
}

impl TryFrom<RawSensitivityPolicy> for SensitivityPolicy {
    type Error = SensitivityConfigError;

    fn try_from(raw: RawSensitivityPolicy) -> Result<Self, Self::Error> {
        let known = known_labels();
        let check = |section: &str, labels: &BTreeMap<String, Action>| match labels
            .keys()
            .find(|label| !known.contains(label))
        {
            Some(label) => Err(SensitivityConfigError::UnknownLabel {
                key: format!("sensitivity.{section}.{label}"),
                known: known.join(", "),
            }),
            None => Ok(()),
        };
        check("labels", &raw.labels)?;
        let mut classes = BTreeMap::new();
        for (name, labels) in raw.classes {
            let key = format!("sensitivity.classes.{name}");
            let class: ToolClass = name
                .parse()
                .map_err(|_| SensitivityConfigError::UnknownClass { key: key.clone() })?;
            check(&format!("classes.{name}"), &labels)?;
            classes.insert(class, labels);
        }
        let defaults = SensitivityPolicy::default();
        Ok(SensitivityPolicy {
            default_credential: raw
                .default_credential
                .unwrap_or(defaults.default_credential),
            default_personal_data: raw
                .default_personal_data
                .unwrap_or(defaults.default_personal_data),
            labels: raw.labels,
            classes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Deserialize)]
    struct Config {
        sensitivity: SensitivityPolicy,
    }

    fn parse(text: &str) -> Result<SensitivityPolicy, String> {
        toml::from_str::<Config>(text)
            .map(|c| c.sensitivity)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_redact_credentials_and_record_personal_data() {
        let policy = SensitivityPolicy::default();
        assert_eq!(
            policy.action(ToolClass::Read, LabelKind::Credential, "jwt"),
            Action::Redact
        );
        assert_eq!(
            policy.action(ToolClass::Write, LabelKind::PersonalData, "email"),
            Action::Record
        );
    }

    #[test]
    fn most_specific_setting_wins() {
        let policy = parse(
            "[sensitivity]\ndefault_personal_data = \"redact\"\n\
             [sensitivity.labels]\nemail = \"record\"\n\
             [sensitivity.classes.read]\npayment_card = \"block\"\nemail = \"block\"\n",
        )
        .unwrap();
        let pd = LabelKind::PersonalData;
        assert_eq!(
            policy.action(ToolClass::Read, pd, "payment_card"),
            Action::Block
        );
        assert_eq!(
            policy.action(ToolClass::Write, pd, "payment_card"),
            Action::Redact
        );
        assert_eq!(policy.action(ToolClass::Read, pd, "email"), Action::Block);
        assert_eq!(policy.action(ToolClass::Write, pd, "email"), Action::Record);
        assert_eq!(
            policy.action(ToolClass::Write, LabelKind::Credential, "jwt"),
            Action::Redact
        );
    }

    #[test]
    fn errors_name_the_key() {
        let err = parse("[sensitivity.labels]\nemial = \"redact\"\n").unwrap_err();
        assert!(
            err.contains("`sensitivity.labels.emial` names no detector label"),
            "{err}"
        );
        let err = parse("[sensitivity.classes.raed]\nemail = \"redact\"\n").unwrap_err();
        assert!(
            err.contains("`sensitivity.classes.raed` is not a tool class"),
            "{err}"
        );
        let err = parse("[sensitivity.classes.read]\nemial = \"redact\"\n").unwrap_err();
        assert!(err.contains("`sensitivity.classes.read.emial`"), "{err}");
        let err = parse("[sensitivity]\ndefault_credential = \"hide\"\n").unwrap_err();
        assert!(err.contains("unknown variant `hide`"), "{err}");
        let err = parse("[sensitivity]\ndefault_credentials = \"redact\"\n").unwrap_err();
        assert!(err.contains("default_credentials"), "{err}");
    }

    #[test]
    fn screen_redacts_what_the_policy_says() {
        let policy = parse("[sensitivity.classes.write]\nemail = \"block\"\n").unwrap();
        let original = json!({"content": [{"type": "text", "text": "AKIAIOSFODNN7EXAMPLE for ops@example.com"}]});
        let mut reply = original.clone();
        let read = policy.screen_json(ToolClass::Read, &mut reply);
        assert_eq!(read.labels, ["aws_access_key", "email"]);
        assert_eq!(read.redacted, ["aws_access_key"]);
        assert_eq!(read.action, Action::Redact);
        assert_eq!(
            reply,
            json!({"content": [{"type": "text", "text": "[REDACTED:aws_access_key] for ops@example.com"}]})
        );
        let mut reply = original;
        assert_eq!(
            policy.screen_json(ToolClass::Write, &mut reply).action,
            Action::Block
        );
    }
}
