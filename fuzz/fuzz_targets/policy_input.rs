//! Feeds arbitrary text to `OrgPolicy::from_sources` as an operator's policy
//! file, then decides a fixed set of calls under whatever loaded.
//!
//! Nothing may panic, and whatever an operator writes can only add refusals:
//! a call the mandate layer denies, or a destructive call without approval,
//! or an orchestrate call without depth left, is never allowed, because
//! `forbid` wins and scope is checked first.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mandate_core::{
    AgentId, BlastRadius, CallTarget, Grantor, HumanId, Mandate, MandateChain, MandateId,
    MandateStatus, Timestamp, ToolClass, ToolName, ToolPattern,
};
use mandate_policy::{OrgPolicy, Verdict, decide_call, decide_delegation};

const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);

struct Fixture {
    /// alice → planner (crm.*, orchestrate, no depth left).
    chain: MandateChain,
    worker: AgentId,
    /// (target, approved, may the result ever be `Allowed`?)
    calls: Vec<(CallTarget, bool, bool)>,
}

fn target(name: &str, class: ToolClass, destructive: bool) -> Option<CallTarget> {
    Some(CallTarget {
        tool: ToolName::new(name).ok()?,
        radius: BlastRadius {
            class,
            destructive,
            open_world: false,
        },
    })
}

fn fixture() -> Option<Fixture> {
    let human = HumanId::new("alice@corp").ok()?;
    let root = Mandate {
        id: MandateId::new("m_planner").ok()?,
        grantor: Grantor::Human {
            human: human.clone(),
        },
        root_human: human,
        agent: AgentId::new("planner").ok()?,
        tools: vec![ToolPattern::new("crm.*").ok()?],
        ceiling: ToolClass::Orchestrate,
        issued_at: NOW.plus_millis(-1_000),
        expires_at: NOW.plus_millis(60_000),
        purpose: "fuzz".to_owned(),
        budget: None,
        uses: 0,
        depth: 0,
        depth_remaining: 0,
        status: MandateStatus::Active,
    };
    Some(Fixture {
        chain: MandateChain::new(vec![root]).ok()?,
        worker: AgentId::new("worker").ok()?,
        calls: vec![
            (target("crm.lookup", ToolClass::Read, false)?, false, true),
            (target("crm.delete", ToolClass::Write, true)?, false, false),
            (target("crm.delete", ToolClass::Write, true)?, true, true),
            (target("crm.spawn", ToolClass::Orchestrate, false)?, true, false),
            (target("fs.read_file", ToolClass::Read, false)?, true, false),
        ],
    })
}

static FIXTURE: LazyLock<Option<Fixture>> = LazyLock::new(fixture);

fuzz_target!(|data: &[u8]| {
    let Some(fixture) = FIXTURE.as_ref() else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    let Ok(policy) = OrgPolicy::from_sources(&[("fuzz.cedar", &text)]) else {
        return;
    };
    for (target, approved, may_allow) in &fixture.calls {
        let verdict = decide_call(&policy, &fixture.chain, target, NOW, *approved);
        if let Verdict::Allowed(authorized) = &verdict {
            assert!(*may_allow, "operator policy let {} through", target.tool);
            assert_eq!(authorized.tool(), &target.tool);
        }
    }
    // No depth left: no operator policy can allow a hand-off.
    assert!(decide_delegation(&policy, &fixture.chain, &fixture.worker).is_err());
});
