//! Small builders for mandates, chains, call targets and policy folders.

use mandate_core::{
    AgentId, BlastRadius, CallTarget, Grantor, HumanId, Mandate, MandateChain, MandateId,
    MandateStatus, Revocation, Timestamp, ToolClass, ToolName, ToolPattern,
};
use std::path::Path;

/// The time every test decides at.
pub const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);

/// A root mandate from `human` to `agent`, valid for an hour, with this much depth to hand on.
pub fn root(
    human: &str,
    agent: &str,
    tools: &[&str],
    ceiling: ToolClass,
    depth_remaining: u32,
) -> Mandate {
    Mandate {
        constraints: Vec::new(),
        approvals: Vec::new(),
        id: MandateId::new(format!("m_{agent}")).unwrap(),
        grantor: Grantor::Human {
            human: HumanId::new(human).unwrap(),
        },
        root_human: HumanId::new(human).unwrap(),
        agent: AgentId::new(agent).unwrap(),
        tools: tools
            .iter()
            .map(|t| ToolPattern::new(*t).unwrap())
            .collect(),
        ceiling,
        issued_at: NOW.plus_millis(-60_000),
        expires_at: NOW.plus_millis(3_600_000),
        purpose: "quarterly report".to_owned(),
        budget: None,
        uses: 0,
        depth: 0,
        depth_remaining,
        status: MandateStatus::Active,
    }
}

/// A mandate `parent`'s agent hands to `agent`, one level deeper with one less depth to hand on.
pub fn child(parent: &Mandate, agent: &str, tools: &[&str], ceiling: ToolClass) -> Mandate {
    Mandate {
        id: MandateId::new(format!("m_{agent}")).unwrap(),
        grantor: Grantor::Mandate {
            parent: parent.id.clone(),
            by: parent.agent.to_string(),
        },
        agent: AgentId::new(agent).unwrap(),
        tools: tools
            .iter()
            .map(|t| ToolPattern::new(*t).unwrap())
            .collect(),
        ceiling,
        depth: parent.depth + 1,
        depth_remaining: parent.depth_remaining.saturating_sub(1),
        ..parent.clone()
    }
}

/// Marks a mandate revoked.
pub fn revoke(mandate: &mut Mandate) {
    mandate.status = MandateStatus::Revoked(Revocation {
        by: "security@corp".to_owned(),
        reason: "incident".to_owned(),
        at: NOW.plus_millis(-1_000),
    });
}

/// A chain of these mandates, root first.
pub fn chain(mandates: Vec<Mandate>) -> MandateChain {
    MandateChain::new(mandates).unwrap()
}

/// A tool of this class, possibly destructive.
pub fn tool(name: &str, class: ToolClass, destructive: bool) -> CallTarget {
    CallTarget {
        arguments: Some(Default::default()),
        tool: ToolName::new(name).unwrap(),
        radius: BlastRadius {
            class,
            destructive,
            open_world: false,
        },
    }
}

/// A temporary policy folder holding these files.
pub fn policy_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        write(dir.path(), name, text);
    }
    dir
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}
