//! The decision for one `tools/call` (mandate scope at every level, then Cedar), at chain
//! depth 1, 4 and 8 with 10, 100 and 1,000 organisation policies: remembered and afresh.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mandate_core::{
    AgentId, BlastRadius, CallTarget, Grantor, HumanId, Mandate, MandateChain, MandateId,
    MandateStatus, Timestamp, ToolClass, ToolName, ToolPattern,
};
use mandate_policy::{CallFacts, OrgPolicy, Verdict, decide_call};
use std::hint::black_box;

const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);

/// A chain `depth` mandates long, each handing `crm.*` on with depth to spare.
fn chain(depth: u32) -> MandateChain {
    let human = HumanId::new("alice@corp").unwrap();
    let mut mandates: Vec<Mandate> = Vec::new();
    for i in 0..depth {
        let grantor = match mandates.last() {
            None => Grantor::Human {
                human: human.clone(),
            },
            Some(p) => Grantor::Mandate {
                parent: p.id.clone(),
                by: p.agent.to_string(),
            },
        };
        mandates.push(Mandate {
            constraints: Vec::new(),
            approvals: Vec::new(),
            id: MandateId::new(format!("m_{i}")).unwrap(),
            grantor,
            root_human: human.clone(),
            agent: AgentId::new(format!("agent-{i}")).unwrap(),
            tools: vec![ToolPattern::new("crm.*").unwrap()],
            ceiling: ToolClass::Orchestrate,
            issued_at: NOW.plus_millis(-60_000),
            expires_at: NOW.plus_millis(3_600_000),
            purpose: "benchmark".to_owned(),
            budget: Some(1_000_000),
            uses: 10,
            depth: i,
            depth_remaining: 10 - i,
            status: MandateStatus::Active,
        });
    }
    MandateChain::new(mandates).unwrap()
}

/// The defaults plus `n - 3` operator policies shaped like real ones (none fires here).
fn policy(n: usize) -> OrgPolicy {
    let text: String = (0..n.saturating_sub(3))
        .map(|i| match i % 3 {
            0 => format!(
                "@id(\"org.p{i}\") forbid (principal, action == Mandate::Action::\"call_tool\", resource)\n\
                 when {{ resource.upstream == \"svc{i}\" }};\n"
            ),
            1 => format!(
                "@id(\"org.p{i}\") forbid (principal, action == Mandate::Action::\"call_tool\", resource)\n\
                 when {{ context.purpose == \"p{i}\" && resource.class_rank >= 1 }};\n"
            ),
            _ => format!(
                "@id(\"org.p{i}\") forbid (principal == Mandate::Agent::\"rogue-{i}\", action, resource);\n"
            ),
        })
        .collect();
    let policy = OrgPolicy::from_sources(&[("bench.cedar", &text)]).unwrap();
    assert_eq!(policy.len(), n.max(3));
    policy
}

fn target() -> CallTarget {
    CallTarget {
        tool: ToolName::new("crm.lookup_customer").unwrap(),
        radius: BlastRadius {
            class: ToolClass::Read,
            destructive: false,
            open_world: false,
        },
        arguments: Some(serde_json::Map::from_iter([(
            "id".to_owned(),
            serde_json::Value::String("cus_001".to_owned()),
        )])),
    }
}

fn decisions(c: &mut Criterion) {
    let target = target();
    for policies in [10, 100, 1_000] {
        let org = policy(policies);
        for depth in [1, 4, 8] {
            let chain = chain(depth);
            let case = format!("depth {depth}, {policies} policies");
            assert!(matches!(
                decide_call(&org, &chain, &target, NOW, false),
                Verdict::Allowed(_)
            ));
            c.bench_with_input(
                BenchmarkId::new("decide_call (remembered)", &case),
                &(),
                |b, ()| {
                    b.iter(|| decide_call(black_box(&org), black_box(&chain), &target, NOW, false));
                },
            );
            c.bench_with_input(
                BenchmarkId::new("scope + cedar afresh", &case),
                &(),
                |b, ()| {
                    b.iter(|| {
                        let scope = mandate_core::check_scope(black_box(&chain), &target, NOW);
                        let facts = CallFacts {
                            chain: &chain,
                            target: &target,
                            approved: false,
                        };
                        (scope, org.evaluate_call_afresh(black_box(&facts)))
                    });
                },
            );
        }
    }
}

criterion_group!(benches, decisions);
criterion_main!(benches);
