//! The whole decision for one `tools/call`, as the gateway makes it: bearer token → verified
//! claims → mandate chain (from the store, or kept while the liveness epoch stands) → scope
//! at every level → Cedar. Chain depth 1, 4 and 8; the defaults plus 97 operator policies.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mandate_core::{
    Agent, AgentId, BlastRadius, CallTarget, ChildRequest, HumanId, Owner, OwnerRole, ToolClass,
    ToolName, ToolPattern,
};
use mandate_gateway::Gateway;
use mandate_gateway::catalog::Catalog;
use mandate_gateway::config::GatewayConfig;
use mandate_gateway::governance::GrantRequest;
use mandate_gateway::principal::resolve;
use mandate_policy::{Verdict, decide_call};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// 97 operator policies shaped like real ones; none fires for the benchmarked call.
fn policies(dir: &std::path::Path) {
    let text: String = (0..97)
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
    std::fs::write(dir.join("org.cedar"), text).unwrap();
}

/// A gateway with a chain `depth` long and the leaf's token.
async fn gateway(dir: &std::path::Path, depth: u32) -> (Gateway, String) {
    let policy_dir = dir.join("policies");
    std::fs::create_dir_all(&policy_dir).unwrap();
    policies(&policy_dir);
    let config =
        GatewayConfig::parse("max_delegation_depth = 8\npolicy_dir = \"policies\"\n", dir).unwrap();
    let (gw, _changes) = Gateway::open(config, &dir.join("data")).unwrap();
    // The catalog an upstream `crm` would list (hand-offs must name tools that exist).
    let schema = std::sync::Arc::new(serde_json::Map::from_iter([(
        "type".to_owned(),
        serde_json::Value::String("object".to_owned()),
    )]));
    let tools = [rmcp::model::Tool::new(
        "lookup_customer",
        "Looks a customer up.",
        schema,
    )];
    gw.catalog.replace(Catalog::build(
        [("crm", tools.as_slice())],
        &std::collections::BTreeMap::new(),
    ));
    let human = HumanId::new("alice@corp").unwrap();
    let agent = |i: u32| Agent {
        id: AgentId::new(format!("agent-{i}")).unwrap(),
        name: format!("agent {i}"),
        owners: vec![Owner {
            role: OwnerRole::Business,
            human: human.clone(),
        }],
        registered_at: mandate_gateway::now(),
    };
    for i in 0..depth {
        gw.register_agent(agent(i), "bench").await.unwrap();
    }
    let (mut mandate, mut token) = gw
        .grant(GrantRequest {
            human: human.clone(),
            agent: agent(0).id,
            tools: vec![ToolPattern::new("crm.*").unwrap()],
            ceiling: if depth > 1 {
                ToolClass::Orchestrate
            } else {
                ToolClass::Read
            },
            constraints: Vec::new(),
            approvals: Vec::new(),
            lasts: Duration::from_secs(3600),
            purpose: "benchmark".into(),
            budget: None,
        })
        .await
        .unwrap();
    for i in 1..depth {
        (mandate, token) = gw
            .delegate(
                &mandate.id,
                ChildRequest {
                    agent: agent(i).id,
                    tools: vec![ToolPattern::new("crm.*").unwrap()],
                    ceiling: if i + 1 < depth {
                        ToolClass::Orchestrate
                    } else {
                        ToolClass::Read
                    },
                    constraints: Vec::new(),
                    approvals: Vec::new(),
                    expires_at: mandate.expires_at,
                    budget: None,
                    depth_remaining: None,
                    purpose: "benchmark".into(),
                    by: format!("agent-{}", i - 1),
                },
            )
            .await
            .unwrap();
    }
    (gw, token.token)
}

fn hot_path(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let target = CallTarget {
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
    };
    for depth in [1, 4, 8] {
        let dir = tempfile::tempdir().unwrap();
        let (gw, token) = runtime.block_on(gateway(dir.path(), depth));
        assert_eq!(gw.policy.len(), 100);
        let decide = || async {
            let principal = resolve(&gw, black_box(&token), mandate_gateway::now())
                .await
                .unwrap();
            let verdict = decide_call(
                &gw.policy,
                &principal.chain,
                &target,
                mandate_gateway::now(),
                false,
            );
            assert!(matches!(verdict, Verdict::Allowed(_)));
            verdict
        };
        let _warm = runtime.block_on(decide());
        c.bench_with_input(
            BenchmarkId::new(
                "token → chain → scope → cedar (warm)",
                format!("depth {depth}, 100 policies"),
            ),
            &(),
            |b, ()| b.iter(|| runtime.block_on(decide())),
        );
        let mut nanos: Vec<u64> = (0..PERCENTILE_SAMPLES)
            .map(|_| {
                let started = Instant::now();
                let verdict = black_box(runtime.block_on(decide()));
                drop(verdict);
                u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX)
            })
            .collect();
        nanos.sort_unstable();
        let at = |q: f64| {
            let rank = ((nanos.len() as f64 * q).ceil() as usize).saturating_sub(1);
            nanos[rank] as f64 / 1000.0
        };
        println!(
            "depth {depth}, 100 policies, {PERCENTILE_SAMPLES} warm decisions one by one: \
             p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs",
            at(0.5),
            at(0.9),
            at(0.99),
            at(0.999),
            at(1.0)
        );
    }
}

/// Decisions timed one by one for the percentiles.
const PERCENTILE_SAMPLES: usize = 100_000;

criterion_group!(benches, hot_path);
criterion_main!(benches);
