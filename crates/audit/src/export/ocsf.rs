//! The log as OCSF 1.8.0 records: what each kind of entry becomes, and the fields every
//! record shares (classification, time, metadata, the original entry under `unmapped`).
//!
//! | entry kind | OCSF class |
//! |---|---|
//! | `decided`, `completed`, `request_rejected` | API Activity (6003) |
//! | `mandate_granted`, `mandate_delegated`, `delegation_refused`, `mandate_revoked`, `token_issued` | Authorize Session (3003) |
//! | `agent_registered` | Account Change (3001), activity Create |
//! | `gateway_started` | Application Lifecycle (6002), activity Start |
//! | `tool_pinned`, `tool_held`, `tool_accepted` | Application Lifecycle (6002), activity Install, Disable, Enable |
//! | each sensitivity label on any entry | Data Security Finding (2006), one per label |
//!
//! Every record keeps the whole entry (with `seq`, `hash` and `prev_hash`) under
//! `unmapped.mandate`, so nothing Mandate knows is lost and the record can be traced back
//! to a verifiable log position.

mod accounts;
mod calls;
mod findings;
mod identity;
mod tools;

use crate::{AuditError, AuditEvent, EventKind, StoredEvent};
use mandate_core::ToolClass;
use serde_json::{Map, Value, json};

/// The OCSF schema version the records follow (`metadata.version`).
pub const OCSF_VERSION: &str = "1.8.0";

/// `metadata.product` and `app` name and vendor.
const PRODUCT: &str = "Mandate";

/// Where every record keeps the original entry, under `unmapped`.
const UNMAPPED_KEY: &str = "mandate";

/// The OCSF records one entry becomes: its activity (every kind has one) followed by a
/// Data Security Finding per sensitivity label.
pub fn to_ocsf(stored: &StoredEvent) -> Result<Vec<Value>, AuditError> {
    let entry = Entry::new(stored)?;
    let primary = match entry.event.kind {
        EventKind::Decided
        | EventKind::Completed
        | EventKind::RequestRejected
        | EventKind::ApprovalGranted
        | EventKind::ApprovalDenied
        | EventKind::ApprovalRefused
        | EventKind::ApprovalExpired => calls::api_activity(&entry),
        EventKind::MandateGranted
        | EventKind::MandateDelegated
        | EventKind::DelegationRefused
        | EventKind::MandateRevoked
        | EventKind::TokenIssued => identity::authorize_session(&entry),
        EventKind::AgentRegistered => identity::account_change(&entry),
        EventKind::GatewayStarted => application_lifecycle(&entry),
        EventKind::ToolPinned | EventKind::ToolHeld | EventKind::ToolAccepted => {
            tools::tool_lifecycle(&entry)
        }
        EventKind::SignIn | EventKind::ConsentRefused => accounts::authentication(&entry),
        EventKind::UserAdded | EventKind::ClientRegistered => accounts::account_change(&entry),
    };
    let findings = findings::data_security(&entry, &primary);
    let mut records = Vec::with_capacity(1 + findings.len());
    records.push(primary);
    records.extend(findings);
    Ok(records)
}

/// One log entry being mapped: the event, and the entry as a JSON Lines object.
struct Entry<'a> {
    stored: &'a StoredEvent,
    event: AuditEvent,
    line: Value,
}

impl<'a> Entry<'a> {
    fn new(stored: &'a StoredEvent) -> Result<Self, AuditError> {
        Ok(Self {
            stored,
            event: stored.event()?,
            line: super::to_jsonl(stored)?,
        })
    }

    /// A field of the event's `detail`.
    fn detail(&self, key: &str) -> Option<&Value> {
        self.event.detail.as_ref().and_then(|d| d.get(key))
    }

    /// The acting agent, or `unknown` for an entry that names none.
    fn agent(&self) -> &str {
        self.event.agent.as_ref().map_or("unknown", |a| a.as_str())
    }

    /// Ties a call's decision, completion and findings together: `node:seq` of the decision.
    fn call_id(&self) -> Option<String> {
        let seq = match self.event.kind {
            EventKind::Decided => Some(self.stored.seq),
            EventKind::Completed => self.detail("decided_seq").and_then(Value::as_u64),
            _ => None,
        };
        seq.map(|s| format!("{}:{s}", self.event.node))
    }
}

/// An OCSF event class.
#[derive(Clone, Copy)]
struct Class {
    uid: u32,
    name: &'static str,
    category_uid: u32,
    category: &'static str,
}

const API_ACTIVITY: Class = Class {
    uid: 6003,
    name: "API Activity",
    category_uid: 6,
    category: "Application Activity",
};
const APPLICATION_LIFECYCLE: Class = Class {
    uid: 6002,
    name: "Application Lifecycle",
    category_uid: 6,
    category: "Application Activity",
};
const AUTHORIZE_SESSION: Class = Class {
    uid: 3003,
    name: "Authorize Session",
    category_uid: 3,
    category: "Identity & Access Management",
};
const ACCOUNT_CHANGE: Class = Class {
    uid: 3001,
    name: "Account Change",
    category_uid: 3,
    category: "Identity & Access Management",
};
const AUTHENTICATION: Class = Class {
    uid: 3002,
    name: "Authentication",
    category_uid: 3,
    category: "Identity & Access Management",
};
const DATA_SECURITY_FINDING: Class = Class {
    uid: 2006,
    name: "Data Security Finding",
    category_uid: 2,
    category: "Findings",
};

/// A class's `activity_id` and its caption (for `99`, the source's own label).
#[derive(Clone, Copy)]
struct Activity(u32, &'static str);

/// `severity_id`, with its caption.
#[derive(Clone, Copy)]
enum Severity {
    Informational,
    Low,
    Medium,
    High,
}

impl Severity {
    fn id(self) -> u32 {
        match self {
            Severity::Informational => 1,
            Severity::Low => 2,
            Severity::Medium => 3,
            Severity::High => 4,
        }
    }

    fn caption(self) -> &'static str {
        match self {
            Severity::Informational => "Informational",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
        }
    }
}

/// An activity's `status_id`, `status` and `status_detail`.
enum Outcome {
    Success,
    Failure(Option<String>),
    Other(&'static str, Option<String>),
    Unknown,
}

/// A record under construction, with the fields every class shares already set.
struct Record(Map<String, Value>);

impl Record {
    fn new(
        entry: &Entry<'_>,
        class: Class,
        activity: Activity,
        severity: Severity,
        uid: &str,
    ) -> Self {
        let Activity(activity_id, activity_name) = activity;
        let mut metadata = json!({
            "version": OCSF_VERSION,
            "product": product(),
            "uid": uid,
            "original_event_uid": entry.stored.seq.to_string(),
            "sequence": entry.stored.seq,
            "event_code": entry.event.kind.as_str(),
            "logged_time": entry.event.time.as_millis(),
            "log_name": "audit",
            "log_provider": PRODUCT,
        });
        if let (Some(id), Some(fields)) = (entry.call_id(), metadata.as_object_mut()) {
            fields.insert("correlation_uid".into(), id.into());
        }
        let mut record = Record(Map::new());
        record
            .set("class_uid", class.uid)
            .set("class_name", class.name)
            .set("category_uid", class.category_uid)
            .set("category_name", class.category)
            .set("activity_id", activity_id)
            .set("activity_name", activity_name)
            .set(
                "type_uid",
                u64::from(class.uid) * 100 + u64::from(activity_id),
            )
            .set("type_name", format!("{}: {activity_name}", class.name))
            .set("severity_id", severity.id())
            .set("severity", severity.caption())
            .set("time", entry.event.time.as_millis())
            .set("timezone_offset", 0)
            .set("metadata", metadata)
            .set("unmapped", json!({ UNMAPPED_KEY: entry.line }));
        record
    }

    fn set(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        self.0.insert(key.to_owned(), value.into());
        self
    }

    fn outcome(&mut self, outcome: Outcome) -> &mut Self {
        let (id, caption, detail) = match outcome {
            Outcome::Success => (1, "Success", None),
            Outcome::Failure(detail) => (2, "Failure", detail),
            Outcome::Other(caption, detail) => (99, caption, detail),
            Outcome::Unknown => (0, "Unknown", None),
        };
        self.set("status_id", id).set("status", caption);
        if let Some(detail) = detail.filter(|d| !d.is_empty()) {
            self.set("status_detail", detail);
        }
        self
    }

    /// Adds `observables` for the people and agents the record names, so a SIEM can
    /// search every class by user name.
    fn into_value(self) -> Value {
        let mut record = Value::Object(self.0);
        let observables: Vec<Value> = ["actor.user.name", "user.name", "unmapped.mandate.human"]
            .into_iter()
            .filter_map(|path| {
                let value = path.split('.').try_fold(&record, |v, key| v.get(key))?;
                value.as_str().map(|name| {
                    json!({ "name": path, "type_id": 4, "type": "User Name", "value": name })
                })
            })
            .collect();
        if let (false, Some(fields)) = (observables.is_empty(), record.as_object_mut()) {
            fields.insert("observables".into(), observables.into());
        }
        record
    }
}

fn product() -> Value {
    json!({ "name": PRODUCT, "vendor_name": PRODUCT, "version": env!("CARGO_PKG_VERSION") })
}

/// An agent as an OCSF user: a non-human principal.
fn agent_user(agent: &str) -> Value {
    json!({ "name": agent, "uid": agent, "type_id": 99, "type": "AI Agent" })
}

/// A human as an OCSF user.
fn human_user(human: &str) -> Value {
    json!({ "name": human, "uid": human, "type_id": 1, "type": "User" })
}

/// Someone named by the log without saying what they are (an operator, `by`).
fn named_user(who: &str) -> Value {
    json!({ "name": who, "uid": who })
}

/// The agent's side of a call: all the log knows of it is its name.
fn agent_endpoint(agent: &str) -> Value {
    json!({ "name": agent })
}

/// The gateway node that recorded the entry.
fn gateway_endpoint(node: &str) -> Value {
    json!({ "name": node, "svc_name": "mandate" })
}

/// A tool as an affected resource.
fn tool_resource(tool: &str, class: Option<ToolClass>) -> Value {
    let mut resource = json!({ "uid": tool, "name": tool, "type": "MCP Tool" });
    if let (Some(class), Some(fields)) = (class, resource.as_object_mut()) {
        fields.insert("labels".into(), json!([format!("class:{class}")]));
    }
    resource
}

/// `gateway_started`: the gateway application started on a node.
fn application_lifecycle(entry: &Entry<'_>) -> Value {
    let mut record = Record::new(
        entry,
        APPLICATION_LIFECYCLE,
        Activity(3, "Start"),
        Severity::Informational,
        &entry.stored.hash.to_string(),
    );
    record
        .set("app", product())
        .set(
            "message",
            format!("gateway node {} started", entry.event.node),
        )
        .outcome(Outcome::Success);
    record.into_value()
}
