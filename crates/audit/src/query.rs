//! Questions security teams ask of the log: which events match these filters, and
//! "what did this agent touch" (tools, upstreams, counts, labels, bytes).
//!
//! Pure functions over events, so the CLI and the admin surface answer alike.

use crate::{AuditEvent, EventKind};
use mandate_core::{AgentId, HumanId, Timestamp, ToolName, ToolPattern};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Filters on events; every filter set must match.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// The human at the root of the chain.
    pub human: Option<HumanId>,
    /// The acting agent, or any agent of the chain.
    pub agent: Option<AgentId>,
    /// The tools, as a pattern (`crm.*`).
    pub tool: Option<ToolPattern>,
    /// At or after this time.
    pub since: Option<Timestamp>,
    /// `allow`, `deny` or `needs_approval`.
    pub decision: Option<String>,
    /// A label (`aws_access_key`) or a kind of label (`credential`, `personal_data`).
    pub label: Option<String>,
    /// The kind of event.
    pub kind: Option<EventKind>,
}

impl EventFilter {
    /// Does the event pass every filter that is set?
    pub fn matches(&self, event: &AuditEvent) -> bool {
        let human = self
            .human
            .as_ref()
            .is_none_or(|h| event.human.as_ref() == Some(h));
        let agent = self.agent.as_ref().is_none_or(|a| {
            event.agent.as_ref() == Some(a) || event.chain.iter().any(|link| &link.agent == a)
        });
        let tool = self.tool.as_ref().is_none_or(|pattern| {
            event
                .tool
                .as_deref()
                .and_then(|t| ToolName::new(t).ok())
                .is_some_and(|t| pattern.matches(&t))
        });
        let since = self.since.is_none_or(|since| event.time >= since);
        let decision = self
            .decision
            .as_ref()
            .is_none_or(|d| event.decision.as_ref() == Some(d));
        let label = self.label.as_ref().is_none_or(|wanted| {
            event.labels.iter().any(|l| {
                l == wanted
                    || l.split_once('/')
                        .is_some_and(|(kind, name)| kind == wanted || name == wanted)
            })
        });
        let kind = self.kind.is_none_or(|k| event.kind == k);
        human && agent && tool && since && decision && label && kind
    }
}

/// What one agent touched through one tool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ToolAccess {
    /// Calls allowed.
    pub allowed: u64,
    /// Calls denied.
    pub denied: u64,
    /// Completed calls whose upstream failed or reported an error.
    pub failed: u64,
    /// Bytes of results returned.
    pub bytes: u64,
    /// Sensitivity labels seen.
    pub labels: BTreeSet<String>,
}

/// "What did agent X touch?": per tool, grouped by upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AccessReport {
    /// The agent.
    pub agent: Option<AgentId>,
    /// The humans on whose authority it acted.
    pub on_behalf_of: BTreeSet<String>,
    /// Per upstream, per tool.
    pub upstreams: BTreeMap<String, BTreeMap<String, ToolAccess>>,
}

/// Builds the access report of `agent` (as the acting agent) from `events` since `since`.
pub fn access_report<'a>(
    events: impl IntoIterator<Item = &'a AuditEvent>,
    agent: &AgentId,
    since: Option<Timestamp>,
) -> AccessReport {
    let mut report = AccessReport {
        agent: Some(agent.clone()),
        ..AccessReport::default()
    };
    let acting =
        |e: &&AuditEvent| e.agent.as_ref() == Some(agent) && since.is_none_or(|s| e.time >= s);
    for event in events.into_iter().filter(acting) {
        let Some(tool) = event.tool.as_deref() else {
            continue;
        };
        let upstream = tool.split_once('.').map_or("", |(u, _)| u).to_owned();
        if let Some(human) = &event.human {
            report.on_behalf_of.insert(human.to_string());
        }
        let entry = report
            .upstreams
            .entry(upstream)
            .or_default()
            .entry(tool.to_owned())
            .or_default();
        match (event.kind, event.decision.as_deref()) {
            (EventKind::Decided, Some("allow")) => entry.allowed += 1,
            (EventKind::Decided, Some(_)) => entry.denied += 1,
            (EventKind::Completed, _) => {
                entry.bytes += event.result_size.unwrap_or(0);
                if event.error.is_some() {
                    entry.failed += 1;
                }
            }
            _ => {}
        }
        entry.labels.extend(event.labels.iter().cloned());
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind, agent: &str, tool: &str, decision: Option<&str>) -> AuditEvent {
        let mut e = AuditEvent::new(kind, Timestamp::from_secs(100), "gw".to_owned());
        e.agent = Some(AgentId::new(agent).unwrap());
        e.human = Some(HumanId::new("alice@corp").unwrap());
        e.tool = Some(tool.to_owned());
        e.decision = decision.map(str::to_owned);
        e
    }

    #[test]
    fn filters_combine_and_labels_match_by_kind_or_name() {
        let mut leaked = event(EventKind::Completed, "bot", "crm.read_config", None);
        leaked.labels = vec!["credential/aws_access_key".to_owned()];
        let denied = event(EventKind::Decided, "bot", "crm.send_email", Some("deny"));
        let by_kind = EventFilter {
            label: Some("credential".to_owned()),
            ..EventFilter::default()
        };
        let by_name = EventFilter {
            label: Some("aws_access_key".to_owned()),
            ..EventFilter::default()
        };
        assert!(by_kind.matches(&leaked) && by_name.matches(&leaked) && !by_kind.matches(&denied));
        let denials = EventFilter {
            decision: Some("deny".to_owned()),
            tool: Some(ToolPattern::new("crm.*").unwrap()),
            agent: Some(AgentId::new("bot").unwrap()),
            ..EventFilter::default()
        };
        assert!(denials.matches(&denied) && !denials.matches(&leaked));
        let later = EventFilter {
            since: Some(Timestamp::from_secs(101)),
            ..EventFilter::default()
        };
        assert!(!later.matches(&denied));
        let other = EventFilter {
            human: Some(HumanId::new("bob@corp").unwrap()),
            ..EventFilter::default()
        };
        assert!(!other.matches(&denied));
    }

    #[test]
    fn access_report_counts_per_upstream_and_tool() {
        let mut done = event(EventKind::Completed, "bot", "crm.read_config", None);
        done.result_size = Some(120);
        done.labels = vec!["credential/aws_access_key".to_owned()];
        let events = [
            event(EventKind::Decided, "bot", "crm.read_config", Some("allow")),
            done,
            event(EventKind::Decided, "bot", "crm.send_email", Some("deny")),
            event(
                EventKind::Decided,
                "other",
                "crm.read_config",
                Some("allow"),
            ),
        ];
        let report = access_report(&events, &AgentId::new("bot").unwrap(), None);
        let crm = &report.upstreams["crm"];
        assert_eq!(crm["crm.read_config"].allowed, 1);
        assert_eq!(crm["crm.read_config"].bytes, 120);
        assert!(
            crm["crm.read_config"]
                .labels
                .contains("credential/aws_access_key")
        );
        assert_eq!(crm["crm.send_email"].denied, 1);
        assert_eq!(report.on_behalf_of.len(), 1);
    }
}
