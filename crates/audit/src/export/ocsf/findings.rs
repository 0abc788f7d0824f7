//! Sensitivity labels as OCSF Data Security Findings (2006): one per label on an entry,
//! linked to the call's API Activity through `finding_info.related_events`.
//!
//! Credentials are High severity, category Security, and alertable; personal data is
//! Medium, category Personal (payment cards and IBANs: Financial). The data was in transit
//! (arguments going to, or a result coming from, an upstream), seen in-line by the gateway.

use super::{
    Activity, DATA_SECURITY_FINDING, Entry, Record, Severity, agent_endpoint, agent_user,
    tool_resource,
};
use crate::EventKind;
use serde_json::{Value, json};

/// One finding for each label on the entry; `primary` is the entry's own record.
pub(super) fn data_security(entry: &Entry<'_>, primary: &Value) -> Vec<Value> {
    entry
        .event
        .labels
        .iter()
        .map(|label| finding(entry, primary, label))
        .collect()
}

/// What a label's kind means for a finding.
struct Sensitivity {
    kind: &'static str,
    category: (u32, &'static str),
    severity: Severity,
    alert: bool,
}

impl Sensitivity {
    fn of(kind: &str, name: &str) -> Self {
        match (kind, name) {
            ("credential", _) => Sensitivity {
                kind: "Credential",
                category: (6, "Security"),
                severity: Severity::High,
                alert: true,
            },
            ("personal_data", "payment_card" | "iban") => Sensitivity {
                kind: "Personal data",
                category: (3, "Financial"),
                severity: Severity::Medium,
                alert: false,
            },
            ("personal_data", _) => Sensitivity {
                kind: "Personal data",
                category: (1, "Personal"),
                severity: Severity::Medium,
                alert: false,
            },
            _ => Sensitivity {
                kind: "Sensitive data",
                category: (0, "Unknown"),
                severity: Severity::Low,
                alert: false,
            },
        }
    }
}

fn finding(entry: &Entry<'_>, primary: &Value, label: &str) -> Value {
    let e = &entry.event;
    let (kind, name) = label.split_once('/').unwrap_or(("", label));
    let sensitivity = Sensitivity::of(kind, name);
    let uid = format!("{}/{label}", entry.stored.hash);
    let place = match e.kind {
        EventKind::Decided => "the arguments of",
        EventKind::Completed => "the result of",
        _ => "an entry about",
    };
    let tool = e.tool.as_deref().unwrap_or("an unknown tool");
    let title = format!("{} `{name}` in {place} {tool}", sensitivity.kind);
    let (category_id, category) = sensitivity.category;
    let mut record = Record::new(
        entry,
        DATA_SECURITY_FINDING,
        Activity(1, "Create"),
        sensitivity.severity,
        &uid,
    );
    record
        .set(
            "finding_info",
            json!({
                "uid": uid,
                "title": title,
                "types": [if kind.is_empty() { "unknown" } else { kind }],
                "created_time": e.time.as_millis(),
                "analytic": { "uid": label, "name": name, "type_id": 1, "type": "Rule" },
                "related_events": [related(primary)],
            }),
        )
        .set(
            "data_security",
            json!({
                "category_id": category_id,
                "category": category,
                "data_lifecycle_state_id": 2,
                "data_lifecycle_state": "Data in-Transit",
                "detection_system_id": 2,
                "detection_system": "DLP Gateway",
                "detection_pattern": name,
            }),
        )
        .set("actor", json!({ "user": agent_user(entry.agent()) }))
        .set("src_endpoint", agent_endpoint(entry.agent()))
        .set("status_id", 1)
        .set("status", "New")
        .set("message", title);
    if sensitivity.alert {
        record.set("is_alert", true);
    }
    if let Some(tool) = &e.tool {
        record.set("resources", json!([tool_resource(tool, e.class)]));
    }
    record.into_value()
}

/// The entry's own record, as a related event of the finding.
fn related(primary: &Value) -> Value {
    let field = |path: &[&str]| {
        path.iter()
            .try_fold(primary, |v, key| v.get(key))
            .cloned()
            .unwrap_or(Value::Null)
    };
    json!({
        "uid": field(&["metadata", "uid"]),
        "type_uid": field(&["type_uid"]),
        "type_name": field(&["type_name"]),
        "severity_id": field(&["severity_id"]),
    })
}
