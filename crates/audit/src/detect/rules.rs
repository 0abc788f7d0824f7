//! Credential rules: `rules/credentials.toml`, in gitleaks' format, compiled once.
//!
//! A rule runs only when the text holds one of its keywords; a match counts when
//! its secret clears the rule's entropy floor and no allowlist excuses it.

use super::{Candidate, DetectError, LabelKind};
use aho_corasick::{AhoCorasick, Input, MatchKind};
use regex::bytes::{Regex, RegexBuilder};
use serde::Deserialize;

/// The rule file, compiled into the binary.
const RULES_TOML: &str = include_str!("../../rules/credentials.toml");

/// Most a compiled regex may take, in bytes (the `regex` default is 10 MiB).
const REGEX_SIZE_LIMIT: usize = 16 * 1024 * 1024;

/// The rule file as written.
#[derive(Debug, Deserialize)]
struct RawRuleFile {
    #[serde(default, rename = "title")]
    _title: Option<String>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

/// One `[[rules]]` table as written (gitleaks field names).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRule {
    id: String,
    label: Option<String>,
    #[serde(default, rename = "description")]
    _description: Option<String>,
    regex: String,
    secret_group: Option<usize>,
    entropy: Option<f64>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    allowlists: Vec<RawAllowlist>,
}

/// One `[[rules.allowlists]]` table as written.
#[derive(Debug, Deserialize)]
struct RawAllowlist {
    #[serde(default, rename = "description")]
    _description: Option<String>,
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default)]
    stopwords: Vec<String>,
}

/// A compiled credential rule.
#[derive(Debug)]
struct Rule {
    label: String,
    regex: Regex,
    secret_group: Option<usize>,
    entropy: Option<f64>,
    /// Lowercase; the rule runs only when the text holds one of them, or always when empty.
    keywords: Vec<String>,
    /// Searches lowercased text for `keywords`; `None` when there are none.
    keyword_search: Option<AhoCorasick>,
    allow_regexes: Vec<Regex>,
    /// Lowercase.
    stopwords: Vec<String>,
}

/// Every credential rule, compiled.
#[derive(Debug)]
pub(crate) struct Rules {
    rules: Vec<Rule>,
    /// Every rule's keywords in one automaton, searched first: most texts hold none, and
    /// one search for them all costs about a quarter of a search per rule (148 ns against
    /// 586 ns on the demo report). The rules' own searches start at its first hit.
    any_keyword: Option<AhoCorasick>,
}

impl Rules {
    /// Parses and compiles the built-in rule file.
    pub(crate) fn builtin() -> Result<Rules, DetectError> {
        Rules::parse(RULES_TOML)
    }

    /// Parses and compiles a rule file in gitleaks' format.
    pub(crate) fn parse(toml_text: &str) -> Result<Rules, DetectError> {
        let raw: RawRuleFile =
            toml::from_str(toml_text).map_err(|e| DetectError::RuleFile(e.message().to_owned()))?;
        let mut rules = Vec::with_capacity(raw.rules.len());
        let mut ids = std::collections::BTreeSet::new();
        for raw_rule in raw.rules {
            if !ids.insert(raw_rule.id.clone()) {
                return Err(DetectError::DuplicateRule(raw_rule.id));
            }
            rules.push(compile_rule(raw_rule)?);
        }
        let all: Vec<&String> = rules.iter().flat_map(|r| &r.keywords).collect();
        let any_keyword = keyword_search("(all rules)", &all)?;
        Ok(Rules { rules, any_keyword })
    }

    /// The labels these rules can produce, in file order, deduplicated.
    pub(crate) fn labels(&self) -> Vec<&str> {
        let mut seen = Vec::new();
        for rule in &self.rules {
            if !seen.contains(&rule.label.as_str()) {
                seen.push(rule.label.as_str());
            }
        }
        seen
    }

    /// Every credential match in `text`; `rank` orders rules for tie-breaking.
    pub(crate) fn scan(&self, text: &str, out: &mut Vec<Candidate>) {
        let bytes = text.as_bytes();
        // Keywords are lowercase; searching a lowercase copy keeps SIMD prefilters on.
        let lower = bytes.to_ascii_lowercase();
        let first = self.first_keyword(&lower);
        for (rank, rule) in self.rules.iter().enumerate() {
            if rule.runs(&lower, first) {
                rule.scan(bytes, rank, out);
            }
        }
    }

    /// Where the first keyword of any rule starts in the lowercased text `lower`: no rule's
    /// keyword starts before it. `Some(0)` when no rule has keywords.
    fn first_keyword(&self, lower: &[u8]) -> Option<usize> {
        match &self.any_keyword {
            Some(any) => any.find(lower).map(|m| m.start()),
            None => Some(0),
        }
    }
}

/// One automaton finding any of `keywords` (lowercase); `None` when there are none.
fn keyword_search<K: AsRef<[u8]>>(
    rule: &str,
    keywords: &[K],
) -> Result<Option<AhoCorasick>, DetectError> {
    if keywords.is_empty() {
        return Ok(None);
    }
    let automaton = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostFirst)
        .build(keywords)
        .map_err(|e| DetectError::BadRegex {
            rule: rule.to_owned(),
            reason: format!("keywords: {e}"),
        })?;
    Ok(Some(automaton))
}

impl Rule {
    /// Whether the rule runs on the lowercased text `lower`, whose first keyword of any
    /// rule starts at `first`: when it has no keyword, or `lower` holds one of them.
    fn runs(&self, lower: &[u8], first: Option<usize>) -> bool {
        match (&self.keyword_search, first) {
            (None, _) => true,
            (Some(_), None) => false,
            // The search stops at its first hit: cheap beside the regex.
            (Some(search), Some(from)) => search.is_match(Input::new(lower).range(from..)),
        }
    }

    fn scan(&self, bytes: &[u8], rank: usize, out: &mut Vec<Candidate>) {
        let mut at = 0;
        while let Some(caps) = self.regex.captures_at(bytes, at) {
            let Some(whole) = caps.get(0) else { break };
            let secret = match self.secret_group {
                Some(group) => caps.get(group),
                None => caps
                    .iter()
                    .skip(1)
                    .flatten()
                    .find(|m| !m.is_empty())
                    .or(Some(whole)),
            };
            let found = secret.filter(|s| !s.is_empty() && self.counts(s.as_bytes()));
            at = match (found, secret) {
                (Some(secret), _) => {
                    out.push(Candidate {
                        label: self.label.clone(),
                        kind: LabelKind::Credential,
                        start: secret.start(),
                        end: secret.end(),
                        rank,
                    });
                    whole.end()
                }
                // A rejected match may hide a real one that starts inside it
                // (`key = low_entropy_name = <secret>`): look again from its secret.
                (None, Some(secret)) if secret.start() > whole.start() => secret.start(),
                (None, _) => whole.start().saturating_add(1),
            }
            .max(whole.start().saturating_add(1));
        }
    }

    /// Whether a secret clears the entropy floor and no allowlist excuses it.
    fn counts(&self, secret: &[u8]) -> bool {
        if let Some(floor) = self.entropy
            && shannon_entropy(secret) < floor
        {
            return false;
        }
        if self.allow_regexes.iter().any(|r| r.is_match(secret)) {
            return false;
        }
        if !self.stopwords.is_empty() {
            let lower = secret.to_ascii_lowercase();
            let has = |word: &str| lower.windows(word.len()).any(|w| w == word.as_bytes());
            if self.stopwords.iter().any(|w| has(w)) {
                return false;
            }
        }
        true
    }
}

fn compile_rule(raw: RawRule) -> Result<Rule, DetectError> {
    let label = match raw.label {
        Some(label) => label,
        None => raw.id.replace('-', "_"),
    };
    if label.is_empty()
        || !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(DetectError::BadLabel {
            rule: raw.id,
            label,
        });
    }
    let regex = build(&raw.id, &raw.regex)?;
    if let Some(group) = raw.secret_group
        && group >= regex.captures_len()
    {
        return Err(DetectError::BadSecretGroup {
            rule: raw.id,
            group,
        });
    }
    if let Some(entropy) = raw.entropy
        && !(0.0..=8.0).contains(&entropy)
    {
        return Err(DetectError::BadEntropy {
            rule: raw.id,
            entropy,
        });
    }
    if raw.keywords.iter().any(String::is_empty) {
        return Err(DetectError::EmptyKeyword(raw.id));
    }
    let keywords: Vec<String> = raw
        .keywords
        .iter()
        .map(|k| k.to_ascii_lowercase())
        .collect();
    let keyword_search = keyword_search(&raw.id, &keywords)?;
    let mut allow_regexes = Vec::new();
    let mut stopwords = Vec::new();
    for allowlist in raw.allowlists {
        for pattern in allowlist.regexes {
            allow_regexes.push(build(&raw.id, &pattern)?);
        }
        stopwords.extend(
            allowlist
                .stopwords
                .iter()
                .filter(|w| !w.is_empty())
                .map(|w| w.to_ascii_lowercase()),
        );
    }
    Ok(Rule {
        label,
        regex,
        secret_group: raw.secret_group,
        entropy: raw.entropy,
        keywords,
        keyword_search,
        allow_regexes,
        stopwords,
    })
}

/// Compiles a pattern with RE2's ASCII classes, as gitleaks (Go) reads it.
fn build(rule: &str, pattern: &str) -> Result<Regex, DetectError> {
    RegexBuilder::new(pattern)
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| DetectError::BadRegex {
            rule: rule.to_owned(),
            reason: e.to_string(),
        })
}

/// Shannon entropy of a byte string, in bits per byte (gitleaks' measure for ASCII secrets).
pub(crate) fn shannon_entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in data {
        if let Some(c) = counts.get_mut(usize::from(b)) {
            *c = c.saturating_add(1);
        }
    }
    #[expect(clippy::cast_precision_loss, reason = "lengths far below 2^52")]
    let len = data.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_load() {
        let rules = Rules::builtin().unwrap();
        assert!(rules.rules.len() >= 15);
        assert!(rules.labels().contains(&"aws_access_key"));
        assert!(rules.labels().contains(&"generic_api_key"));
    }

    #[test]
    fn entropy_of_known_strings() {
        assert!((shannon_entropy(b"aaaa") - 0.0).abs() < 1e-9);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
        assert!((shannon_entropy(b"0123456789abcdef") - 4.0).abs() < 1e-9);
        assert!(shannon_entropy(b"") < 1e-9);
    }

    #[test]
    fn bad_rule_files_name_the_problem() {
        let dup = "[[rules]]\nid = \"a\"\nregex = 'x'\n[[rules]]\nid = \"a\"\nregex = 'y'\n";
        assert!(matches!(Rules::parse(dup), Err(DetectError::DuplicateRule(id)) if id == "a"));
        let bad = "[[rules]]\nid = \"b\"\nregex = '('\n";
        assert!(
            matches!(Rules::parse(bad), Err(DetectError::BadRegex { rule, .. }) if rule == "b")
        );
        let group = "[[rules]]\nid = \"c\"\nregex = 'x'\nsecretGroup = 1\n";
        assert!(matches!(
            Rules::parse(group),
            Err(DetectError::BadSecretGroup { group: 1, .. })
        ));
        let label = "[[rules]]\nid = \"d\"\nlabel = \"Bad-Label\"\nregex = 'x'\n";
        assert!(matches!(
            Rules::parse(label),
            Err(DetectError::BadLabel { .. })
        ));
    }

    #[test]
    fn keywords_gate_rules() {
        let rules =
            Rules::parse("[[rules]]\nid = \"z\"\nregex = 'zz[0-9]+'\nkeywords = [\"ZZ1\"]\n")
                .unwrap();
        let mut out = Vec::new();
        rules.scan("zz2", &mut out);
        assert!(out.is_empty());
        rules.scan("zz12", &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn a_keyword_lets_every_rule_that_holds_it_run_even_inside_a_longer_one() {
        let file = "[[rules]]\nid = \"long\"\nregex = 'apikey=([0-9]+)'\nkeywords = [\"apikey\"]\n\
                    [[rules]]\nid = \"short\"\nregex = 'key=([0-9]+)'\nkeywords = [\"KEY\"]\n\
                    [[rules]]\nid = \"shared\"\nregex = 'y=([0-9]+)'\nkeywords = [\"key\", \"zz\"]\n";
        let rules = Rules::parse(file).unwrap();
        let mut out = Vec::new();
        rules.scan("apikey=123", &mut out);
        let labels: Vec<&str> = out.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["long", "short", "shared"]);
        out.clear();
        rules.scan("y=1 zz", &mut out);
        let labels: Vec<&str> = out.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["shared"]);
    }

    proptest::proptest! {
        /// A rule runs exactly when the text holds one of its keywords.
        #[test]
        fn a_rule_runs_exactly_when_the_text_holds_one_of_its_keywords(
            text in "(key|apiKEY|tok|AWS|akia|ghp_|EyJ|sk_live|xoxb-|-----begin|[A-Za-z0-9 =_-]){0,24}",
        ) {
            let rules = Rules::builtin().unwrap();
            let lower = text.to_ascii_lowercase();
            let first = rules.first_keyword(lower.as_bytes());
            for rule in &rules.rules {
                let own = rule.keywords.iter().any(|k| lower.contains(k.as_str()));
                proptest::prop_assert_eq!(rule.runs(lower.as_bytes(), first), own, "rule {}", rule.label);
            }
        }
    }
}
