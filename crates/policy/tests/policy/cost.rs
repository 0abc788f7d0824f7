//! A rough measure of what the policy layer costs per call (not a benchmark
//! suite: run `cargo test -p mandate-policy --release -- --ignored --nocapture`).

use crate::support::{NOW, chain, child, root, tool};
use mandate_core::ToolClass;
use mandate_policy::{OrgPolicy, Verdict, decide_call};
use std::time::Instant;

#[test]
#[ignore = "timing, run by hand in release mode"]
fn per_call_cost() {
    let policy = OrgPolicy::load(None).unwrap();
    let planner = root(
        "alice@corp",
        "planner",
        &["crm.*"],
        ToolClass::Orchestrate,
        2,
    );
    let worker = chain(vec![
        planner.clone(),
        child(&planner, "worker", &["crm.*"], ToolClass::Write),
    ]);
    let target = tool("crm.lookup_customer", ToolClass::Read, false);
    let rounds = 20_000u32;
    let start = Instant::now();
    for _ in 0..rounds {
        assert!(matches!(
            decide_call(&policy, &worker, &target, NOW, false),
            Verdict::Allowed(_)
        ));
    }
    println!("decide_call: {:?} per call", start.elapsed() / rounds);
    let start = Instant::now();
    for _ in 0..20u32 {
        OrgPolicy::load(None).unwrap();
    }
    println!("OrgPolicy::load: {:?}", start.elapsed() / 20);
}
