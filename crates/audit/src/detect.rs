//! Sensitivity detectors: find credentials and personal data in tool arguments and results.
//!
//! [`scan`] labels what it finds, [`redact`] replaces it with `[REDACTED:<label>]`,
//! and a [`SensitivityPolicy`] says, per tool class and label, whether to record,
//! redact or block. Credential rules are data (`rules/credentials.toml`, in
//! gitleaks' format); personal data detectors check Luhn and mod-97 digits.
//!
//! ```
//! use mandate_audit::detect;
//!
//! let text = "key id AKIAIOSFODNN7EXAMPLE, mail ops@example.com";
//! let findings = detect::scan(text);
//! assert_eq!(detect::labels(&findings), ["aws_access_key", "email"]);
//! assert_eq!(
//!     detect::redact(text, &findings),
//!     "key id [REDACTED:aws_access_key], mail [REDACTED:email]"
//! );
//! ```

mod json;
mod personal;
mod policy;
mod rules;

pub use json::{redact_json, scan_json};
pub use policy::{
    Action, RawSensitivityPolicy, Screening, SensitivityConfigError, SensitivityPolicy,
};

use personal::Personal;
use rules::Rules;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// The label of the finding [`scan`] returns, over the whole text, if the
/// built-in rules failed to load: unscannable text is treated as a credential.
pub const DETECTOR_UNAVAILABLE: &str = "detector_unavailable";

/// What kind of sensitive data a label names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelKind {
    /// Something that grants access: keys, tokens, passwords.
    Credential,
    /// Something about a person: e-mail, card, phone, bank account.
    PersonalData,
}

/// One piece of sensitive data found in a text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Finding {
    /// The snake_case label, such as `aws_access_key`, `email` or `payment_card`.
    pub label: String,
    /// Whether the label names a credential or personal data.
    pub kind: LabelKind,
    /// Byte offset of the first byte, on a char boundary.
    pub start: usize,
    /// Byte offset one past the last byte, on a char boundary.
    pub end: usize,
}

/// The detectors' rules could not be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DetectError {
    /// The rule file is not valid TOML in gitleaks' shape.
    #[error("credential rule file is invalid: {0}")]
    RuleFile(String),
    /// Two rules share an id.
    #[error("credential rule `{0}` is defined twice")]
    DuplicateRule(String),
    /// A pattern does not compile.
    #[error("rule `{rule}` has an invalid regex: {reason}")]
    BadRegex {
        /// The rule's id.
        rule: String,
        /// What the regex compiler said.
        reason: String,
    },
    /// A label is not snake_case.
    #[error("rule `{rule}` has label `{label}`: expected lowercase letters, digits and `_`")]
    BadLabel {
        /// The rule's id.
        rule: String,
        /// The label.
        label: String,
    },
    /// `secretGroup` names a group the regex does not have.
    #[error("rule `{rule}` has secretGroup {group} but its regex has fewer groups")]
    BadSecretGroup {
        /// The rule's id.
        rule: String,
        /// The group asked for.
        group: usize,
    },
    /// `entropy` is outside 0..=8 bits per byte.
    #[error("rule `{rule}` has entropy {entropy}: expected 0 to 8")]
    BadEntropy {
        /// The rule's id.
        rule: String,
        /// The threshold given.
        entropy: f64,
    },
    /// A keyword is empty (it would match everything).
    #[error("rule `{0}` has an empty keyword")]
    EmptyKeyword(String),
}

/// A match before overlaps are resolved.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) label: String,
    pub(crate) kind: LabelKind,
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// Rule order: lower wins a tie.
    pub(crate) rank: usize,
}

/// Every detector, compiled once.
#[derive(Debug)]
struct Detectors {
    rules: Rules,
    personal: Personal,
}

static DETECTORS: LazyLock<Result<Detectors, DetectError>> = LazyLock::new(|| {
    Ok(Detectors {
        rules: Rules::builtin()?,
        personal: Personal::new()?,
    })
});

/// Loads and compiles the detectors now, so a broken rule file stops start-up
/// rather than the first tool call; returns every label they can produce.
pub fn check() -> Result<Vec<String>, DetectError> {
    let detectors = DETECTORS.as_ref().map_err(Clone::clone)?;
    let mut labels: Vec<String> = detectors
        .rules
        .labels()
        .into_iter()
        .map(str::to_owned)
        .collect();
    labels.extend(personal::LABELS.iter().map(|l| (*l).to_owned()));
    Ok(labels)
}

/// Finds credentials and personal data in `text`, sorted and non-overlapping.
///
/// Where matches overlap, the finding covers all of them and takes the label of
/// the strongest: a credential over personal data, then the longest match, then
/// the earlier rule. So redacting every finding leaves no part of any match.
pub fn scan(text: &str) -> Vec<Finding> {
    if text.is_empty() {
        return Vec::new();
    }
    let detectors = match DETECTORS.as_ref() {
        Ok(detectors) => detectors,
        // Fail closed: the whole text counts as a credential.
        Err(_) => {
            return vec![Finding {
                label: DETECTOR_UNAVAILABLE.to_owned(),
                kind: LabelKind::Credential,
                start: 0,
                end: text.len(),
            }];
        }
    };
    let mut candidates = Vec::new();
    detectors.rules.scan(text, &mut candidates);
    detectors.personal.scan(text, &mut candidates);
    resolve(text, candidates)
}

/// The distinct labels of `findings`, sorted.
pub fn labels(findings: &[Finding]) -> Vec<String> {
    let mut labels: Vec<String> = findings.iter().map(|f| f.label.clone()).collect();
    labels.sort_unstable();
    labels.dedup();
    labels
}

/// `text` with each finding replaced by `[REDACTED:<label>]`.
///
/// Findings may come in any order and overlap; offsets that fall inside a
/// character are widened to it, and offsets past the end are clipped.
pub fn redact(text: &str, findings: &[Finding]) -> String {
    let mut spans: Vec<(usize, usize, &str)> = findings
        .iter()
        .map(|f| {
            (
                floor_boundary(text, f.start),
                ceil_boundary(text, f.end),
                f.label.as_str(),
            )
        })
        .filter(|(start, end, _)| start < end)
        .collect();
    spans.sort_by_key(|&(start, end, _)| (start, std::cmp::Reverse(end)));
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for (start, end, label) in spans {
        if start < done {
            // Overlaps the span just redacted: widen it.
            done = done.max(end);
            continue;
        }
        out.push_str(text.get(done..start).unwrap_or_default());
        out.push_str("[REDACTED:");
        out.push_str(label);
        out.push(']');
        done = end;
    }
    out.push_str(text.get(done..).unwrap_or_default());
    out
}

/// Merges overlapping candidates into findings, each labelled by its strongest member.
fn resolve(text: &str, mut candidates: Vec<Candidate>) -> Vec<Finding> {
    for c in &mut candidates {
        c.start = floor_boundary(text, c.start);
        c.end = ceil_boundary(text, c.end);
    }
    candidates.retain(|c| c.start < c.end);
    candidates.sort_by_key(|c| c.start);
    let mut findings: Vec<Finding> = Vec::with_capacity(candidates.len());
    // The strongest member of the cluster being built.
    let mut best: Option<Candidate> = None;
    let mut cluster_end = 0;
    for c in candidates {
        match best.as_mut() {
            Some(b) if c.start < cluster_end => {
                cluster_end = cluster_end.max(c.end);
                if stronger(&c, b) {
                    *b = Candidate {
                        start: b.start,
                        end: cluster_end,
                        ..c
                    };
                } else {
                    b.end = cluster_end;
                }
            }
            _ => {
                findings.extend(best.take().map(into_finding));
                cluster_end = c.end;
                best = Some(c);
            }
        }
    }
    findings.extend(best.map(into_finding));
    findings
}

/// Whether `a` should name a cluster over `b`.
fn stronger(a: &Candidate, b: &Candidate) -> bool {
    let key = |c: &Candidate| {
        (
            c.kind,
            std::cmp::Reverse(c.end.saturating_sub(c.start)),
            c.rank,
        )
    };
    key(a) < key(b)
}

fn into_finding(c: Candidate) -> Finding {
    Finding {
        label: c.label,
        kind: c.kind,
        start: c.start,
        end: c.end,
    }
}

/// The largest char boundary at or before `at`.
fn floor_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at = at.saturating_sub(1);
    }
    at
}

/// The smallest char boundary at or after `at`.
fn ceil_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at = at.saturating_add(1);
    }
    at
}

/// Every label the detectors can produce, or just the personal data ones if the rules failed.
/// The kind of a label: the personal-data detectors' labels, or else a credential
/// (unknown labels count as credentials, the stricter kind).
pub fn kind_of(label: &str) -> LabelKind {
    if personal::LABELS.contains(&label) {
        LabelKind::PersonalData
    } else {
        LabelKind::Credential
    }
}

/// A label as audit events record it: `credential/aws_access_key`, `personal_data/email`.
pub fn qualified(label: &str) -> String {
    match kind_of(label) {
        LabelKind::Credential => format!("credential/{label}"),
        LabelKind::PersonalData => format!("personal_data/{label}"),
    }
}

pub(crate) fn known_labels() -> Vec<String> {
    check().unwrap_or_else(|_| personal::LABELS.iter().map(|l| (*l).to_owned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(label: &str, kind: LabelKind, start: usize, end: usize, rank: usize) -> Candidate {
        Candidate {
            label: label.to_owned(),
            kind,
            start,
            end,
            rank,
        }
    }

    #[test]
    fn overlaps_merge_under_the_strongest_label() {
        let text = "x".repeat(40);
        let found = resolve(
            &text,
            vec![
                cand("email", LabelKind::PersonalData, 0, 20, usize::MAX),
                cand("jwt", LabelKind::Credential, 5, 10, 3),
                cand("phone_number", LabelKind::PersonalData, 30, 35, usize::MAX),
            ],
        );
        assert_eq!(
            found,
            vec![
                Finding {
                    label: "jwt".into(),
                    kind: LabelKind::Credential,
                    start: 0,
                    end: 20
                },
                Finding {
                    label: "phone_number".into(),
                    kind: LabelKind::PersonalData,
                    start: 30,
                    end: 35
                },
            ]
        );
    }

    #[test]
    fn equal_spans_go_to_the_earlier_rule() {
        let text = "x".repeat(10);
        let found = resolve(
            &text,
            vec![
                cand("generic_api_key", LabelKind::Credential, 2, 8, 16),
                cand("github_pat", LabelKind::Credential, 2, 8, 3),
            ],
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found.first().map(|f| f.label.as_str()), Some("github_pat"));
    }

    #[test]
    fn redact_widens_to_char_boundaries_and_clips() {
        let text = "aé b";
        let findings = [Finding {
            label: "x".into(),
            kind: LabelKind::Credential,
            start: 2,
            end: 99,
        }];
        assert_eq!(redact(text, &findings), "a[REDACTED:x]");
    }

    #[test]
    fn redact_handles_unsorted_overlapping_findings() {
        let text = "0123456789";
        let f = |s, e| Finding {
            label: "l".into(),
            kind: LabelKind::PersonalData,
            start: s,
            end: e,
        };
        assert_eq!(
            redact(text, &[f(6, 8), f(1, 3), f(2, 5)]),
            "0[REDACTED:l]5[REDACTED:l]89"
        );
    }

    #[test]
    fn check_lists_labels() {
        let labels = check();
        assert!(
            labels.as_ref().is_ok_and(|l| l.iter().any(|l| l == "iban")),
            "{labels:?}"
        );
    }
}
