//! Property: the organisation layer can never bypass the mandate layer.

use crate::support::NOW;
use mandate_core::{
    AgentId, BlastRadius, CallTarget, Decision, Grantor, HumanId, Mandate, MandateChain, MandateId,
    MandateStatus, Revocation, ToolClass, ToolName, ToolPattern, check_scope,
};
use mandate_policy::{OrgPolicy, Verdict, decide_call};
use proptest::prelude::*;
use std::sync::OnceLock;

const TOOLS: [&str; 5] = [
    "crm.lookup_customer",
    "crm.purge_customers",
    "fs.read_file",
    "agents.start",
    "mail.send",
];
const PATTERNS: [&str; 7] = [
    "*",
    "crm.*",
    "crm.lookup_*",
    "fs.read_file",
    "agents.*",
    "mail.*",
    "nope.*",
];

/// A permissive operator file, so that Cedar permits as often as it can:
/// only the defaults stand in the way, and approval lifts one of them.
fn policy() -> &'static OrgPolicy {
    static POLICY: OnceLock<OrgPolicy> = OnceLock::new();
    POLICY.get_or_init(|| {
        OrgPolicy::from_sources(&[(
            "extra.cedar",
            r#"@id("ops.extra-permit") permit (principal, action, resource);"#,
        )])
        .unwrap()
    })
}

fn class() -> impl Strategy<Value = ToolClass> {
    prop::sample::select(ToolClass::ALL.to_vec())
}

#[derive(Debug, Clone)]
struct Link {
    patterns: Vec<&'static str>,
    ceiling: ToolClass,
    depth_remaining: u32,
    revoked: bool,
    expired: bool,
    budget: Option<(u64, u64)>,
}

fn link() -> impl Strategy<Value = Link> {
    (
        prop::collection::vec(prop::sample::select(PATTERNS.to_vec()), 0..3),
        class(),
        0u32..4,
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.1),
        prop::option::weighted(0.2, (0u64..3, 0u64..3)),
    )
        .prop_map(
            |(patterns, ceiling, depth_remaining, revoked, expired, budget)| Link {
                patterns,
                ceiling,
                depth_remaining,
                revoked,
                expired,
                budget,
            },
        )
}

fn build(links: &[Link]) -> MandateChain {
    let human = HumanId::new("alice@corp").unwrap();
    let mut mandates: Vec<Mandate> = Vec::new();
    for (i, l) in links.iter().enumerate() {
        let grantor = match mandates.last() {
            None => Grantor::Human {
                human: human.clone(),
            },
            Some(parent) => Grantor::Mandate {
                parent: parent.id.clone(),
                by: parent.agent.to_string(),
            },
        };
        mandates.push(Mandate {
            constraints: Vec::new(),
            approvals: Vec::new(),
            id: MandateId::new(format!("m_{i}")).unwrap(),
            grantor,
            root_human: human.clone(),
            agent: AgentId::new(format!("agent-{i}")).unwrap(),
            tools: l
                .patterns
                .iter()
                .map(|p| ToolPattern::new(*p).unwrap())
                .collect(),
            ceiling: l.ceiling,
            issued_at: NOW.plus_millis(-1_000),
            expires_at: if l.expired {
                NOW
            } else {
                NOW.plus_millis(60_000)
            },
            purpose: "property".to_owned(),
            budget: l.budget.map(|(b, _)| b),
            uses: l.budget.map_or(0, |(_, u)| u),
            depth: u32::try_from(i).unwrap(),
            depth_remaining: l.depth_remaining,
            status: if l.revoked {
                MandateStatus::Revoked(Revocation {
                    by: "security@corp".to_owned(),
                    reason: "property".to_owned(),
                    at: NOW,
                })
            } else {
                MandateStatus::Active
            },
        });
    }
    MandateChain::new(mandates).unwrap()
}

proptest! {
    #[test]
    fn decide_call_never_allows_what_the_mandate_layer_denies(
        links in prop::collection::vec(link(), 1..4),
        tool in prop::sample::select(TOOLS.to_vec()),
        class in class(),
        destructive in any::<bool>(),
        open_world in any::<bool>(),
        approved in any::<bool>(),
    ) {
        let chain = build(&links);
        let target = CallTarget {
            arguments: Some(Default::default()),
            tool: ToolName::new(tool).unwrap(),
            radius: BlastRadius { class, destructive, open_world },
        };
        let scope = check_scope(&chain, &target, NOW);
        let verdict = decide_call(policy(), &chain, &target, NOW, approved);
        match (scope, verdict) {
            (Err(scope_reasons), Verdict::Refused(Decision::Deny(reasons))) => {
                // The mandate layer's reasons come first and are all kept.
                prop_assert_eq!(reasons.get(..scope_reasons.len()), Some(scope_reasons.as_slice()));
            }
            (Err(_), other) => prop_assert!(false, "scope denied but decide_call gave {:?}", other),
            (Ok(()), Verdict::Allowed(authorized)) => {
                prop_assert_eq!(authorized.tool(), &target.tool);
                prop_assert_eq!(authorized.mandate(), &chain.leaf().id);
            }
            (Ok(()), Verdict::Refused(Decision::NeedsApproval(rules))) => {
                // Only an unapproved call waits, and a human's approval is then enough.
                prop_assert!(!approved && !rules.is_empty());
                let again = decide_call(policy(), &chain, &target, NOW, true);
                prop_assert!(matches!(again, Verdict::Allowed(_)), "approved, yet {:?}", again);
            }
            (Ok(()), Verdict::Refused(decision)) => {
                prop_assert_eq!(decision.as_str(), "deny");
            }
        }
    }
}

proptest! {
    /// The memo never changes an answer: the same policy, asked repeatedly about chains that
    /// reuse mandate ids with other facts, answers as Cedar does when asked afresh.
    #[test]
    fn remembered_verdicts_equal_fresh_ones(
        cases in prop::collection::vec((
            prop::collection::vec(link(), 1..4),
            prop::sample::select(TOOLS.to_vec()),
            class(),
            any::<bool>(),
            any::<bool>(),
        ), 1..6),
    ) {
        for (links, tool, class, destructive, approved) in cases {
            let chain = build(&links);
            let target = CallTarget {
                arguments: Some(Default::default()),
                tool: ToolName::new(tool).unwrap(),
                radius: BlastRadius { class, destructive, open_world: false },
            };
            let facts = mandate_policy::CallFacts { chain: &chain, target: &target, approved };
            // Asked of another instance, so that this very question is not yet in `defaults()`'s memo.
            let fresh = OrgPolicy::load(None).unwrap().evaluate_call_afresh(&facts);
            for _ in 0..2 {
                prop_assert_eq!(&defaults().evaluate_call(&facts), &fresh);
            }
        }
    }
}

/// The shipped defaults only, shared by every case so that its memo sees them all.
fn defaults() -> &'static OrgPolicy {
    static POLICY: OnceLock<OrgPolicy> = OnceLock::new();
    POLICY.get_or_init(|| OrgPolicy::load(None).unwrap())
}
