//! Detectors over JSON: tool arguments and MCP results, leaf by leaf.
//!
//! A string under an object key is scanned as `"key": "value"`, so rules that
//! need a name (`api_key = …`) see it; only the value is ever redacted.

use super::{Finding, labels, redact, scan};
use serde_json::Value;

/// Every finding in the string (and number) leaves of `value`, with the RFC 6901
/// JSON pointer of its leaf; offsets are into the leaf's text.
pub fn scan_json(value: &Value) -> Vec<(String, Finding)> {
    let mut out = Vec::new();
    walk(value, None, &mut String::new(), &mut out);
    out
}

/// Redacts every finding in the string and number leaves of `value` in place,
/// keeping its shape (a number with a finding becomes a string); returns the
/// labels found, sorted and deduplicated. Object keys are left as they are.
pub fn redact_json(value: &mut Value) -> Vec<String> {
    let mut found = Vec::new();
    rewrite(value, None, &mut |_| true, &mut found);
    labels(&found)
}

fn walk(value: &Value, key: Option<&str>, pointer: &mut String, out: &mut Vec<(String, Finding)>) {
    match value {
        Value::String(s) => out.extend(scan_leaf(key, s).into_iter().map(|f| (pointer.clone(), f))),
        Value::Number(n) => out.extend(
            scan(&n.to_string())
                .into_iter()
                .map(|f| (pointer.clone(), f)),
        ),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                walk(item, None, pointer, out);
                pointer.truncate(len);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&k.replace('~', "~0").replace('/', "~1"));
                walk(item, Some(k), pointer, out);
                pointer.truncate(len);
            }
        }
        Value::Null | Value::Bool(_) => {}
    }
}

/// Scans every leaf, collecting all findings into `found` and redacting those `chosen` accepts.
pub(crate) fn rewrite(
    value: &mut Value,
    key: Option<&str>,
    chosen: &mut dyn FnMut(&Finding) -> bool,
    found: &mut Vec<Finding>,
) {
    match value {
        Value::String(s) => {
            let findings = scan_leaf(key, s);
            let redacted: Vec<Finding> = findings.iter().filter(|f| chosen(f)).cloned().collect();
            if !redacted.is_empty() {
                *s = redact(s, &redacted);
            }
            found.extend(findings);
        }
        Value::Number(n) => {
            let text = n.to_string();
            let findings = scan(&text);
            let redacted: Vec<Finding> = findings.iter().filter(|f| chosen(f)).cloned().collect();
            if !redacted.is_empty() {
                *value = Value::String(redact(&text, &redacted));
            }
            found.extend(findings);
        }
        Value::Array(items) => {
            for item in items {
                rewrite(item, None, chosen, found);
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                rewrite(item, Some(k), chosen, found);
            }
        }
        Value::Null | Value::Bool(_) => {}
    }
}

/// Findings in a string leaf, scanned with its object key as context.
fn scan_leaf(key: Option<&str>, value: &str) -> Vec<Finding> {
    let Some(key) = key else { return scan(value) };
    let framed = format!("\"{key}\": \"{value}\"");
    let offset = key.len().saturating_add(5);
    let end = offset.saturating_add(value.len());
    scan(&framed)
        .into_iter()
        .filter(|f| f.start < end && f.end > offset)
        .map(|f| Finding {
            start: f.start.max(offset).saturating_sub(offset),
            end: f.end.min(end).saturating_sub(offset),
            ..f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_escape_keys() {
        let value = json!({"a/b": {"c~d": ["ops@example.com"]}});
        let found = scan_json(&value);
        assert_eq!(found.len(), 1);
        assert_eq!(found.first().map(|(p, _)| p.as_str()), Some("/a~1b/c~0d/0"));
    }

    #[test]
    fn key_gives_context_but_is_not_redacted() {
        let mut value = json!({"api_key": "Zx81Qw5PLm72Rt0Yv9"});
        assert_eq!(redact_json(&mut value), ["generic_api_key"]);
        assert_eq!(value, json!({"api_key": "[REDACTED:generic_api_key]"}));
    }

    #[test]
    fn numbers_with_findings_become_strings() {
        let mut value = json!({"n": 4111111111111111u64, "m": 42});
        assert_eq!(redact_json(&mut value), ["payment_card"]);
        assert_eq!(value, json!({"n": "[REDACTED:payment_card]", "m": 42}));
    }
}
