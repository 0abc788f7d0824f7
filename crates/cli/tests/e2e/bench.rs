//! `mandate bench` end to end on a tiny schedule, and the load generator counting a
//! gateway's refusals as errors. Never a timing test: no figure is compared to a threshold.

use crate::support::*;
use mandate_bench::{LoadSpec, Target, ToolCall, client, load};
use std::time::Duration;

/// Runs `mandate bench ARGS --json FILE`, which must succeed: its stdout, stderr and JSON.
fn bench(args: &[&str]) -> (String, String, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = std::process::Command::new(BIN)
        .arg("bench")
        .args(args)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (stdout, stderr, report)
}

#[test]
fn a_tiny_bench_measures_every_path_and_accounts_for_every_call_in_the_audit_log() {
    let (stdout, stderr, report) = bench(&[
        "--concurrency",
        "2",
        "--rounds",
        "1",
        "--round-ms",
        "200",
        "--warmup-ms",
        "50",
    ]);
    assert!(
        stdout.contains("p99.9 µs") && stdout.contains("mandate"),
        "{stdout}"
    );
    assert!(
        stderr.contains("round 1/1"),
        "progress goes to stderr: {stderr}"
    );

    let runs = report["runs"].as_array().unwrap();
    let paths: Vec<&str> = runs.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert!(
        paths.contains(&"direct") && paths.contains(&"mandate"),
        "{paths:?}"
    );
    // nginx is either measured or named as skipped, never silently missing.
    let nginx_skipped = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["path"] == "nginx");
    assert!(paths.contains(&"nginx") != nginx_skipped, "{report}");
    for run in runs {
        assert_eq!(run["concurrency"], 2);
        assert_eq!(run["errors"], 0, "{run}");
        assert!(run["calls"].as_u64().unwrap() > 0, "{run}");
        let p: Vec<u64> = ["p50_us", "p90_us", "p99_us", "p999_us"]
            .iter()
            .map(|f| run[f].as_u64().unwrap())
            .collect();
        assert!(p.windows(2).all(|w| w[0] <= w[1]), "{run}");
        assert!(run["rps"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(report["ratios"].as_array().unwrap().len(), 1);
    assert!(report["ratios"][0]["mandate_over_direct_rps"].is_number());
    assert!(report["gateway"]["peak_rss_kib"].as_u64().unwrap() > 0);
    assert!(report["machine"]["cpus"].as_u64().unwrap() >= 1);
    // The durability floor is measured in the gateway's data dir and printed.
    let floor = &report["durability_floor"];
    assert_eq!(floor["samples"], 200, "{floor}");
    let (p50, p99) = (floor["p50_us"].as_u64(), floor["p99_us"].as_u64());
    assert!(p50.is_some() && p50 <= p99, "{floor}");
    let append = (
        floor["append_p50_us"].as_u64(),
        floor["append_p99_us"].as_u64(),
    );
    assert!(append.0.is_some() && append.0 <= append.1, "{floor}");
    assert!(stdout.contains("durability floor"), "{stdout}");
    let audit = &report["audit"];
    assert_eq!(audit["matches"], true, "{audit}");
    assert_eq!(audit["verified"], true, "{audit}");
    assert!(audit["decided_allow"].as_u64().unwrap() > 0);
    assert_eq!(audit["decided_allow"], audit["successful_mandate_calls"]);
}

/// Long enough that a call completes inside the window even on a loaded 2-core machine
/// (the e2e tests run in parallel with each other).
fn short() -> LoadSpec {
    LoadSpec {
        concurrency: 2,
        warmup: Duration::from_millis(20),
        duration: Duration::from_millis(1000),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_calls_through_the_gateway_are_counted_as_errors() {
    let gw = Gateway::start(Upstream::Http);
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", "crm.lookup_customer", "read", &[]);
    let http = client(2).unwrap();
    let cases = [
        ("not-a-token", "crm.get_report"),
        (token.as_str(), "crm.get_report"), // not granted
        (token.as_str(), "crm.no_such_tool"),
    ];
    for (bearer, tool) in cases {
        let target = Target {
            url: gw.url(),
            bearer: Some(bearer.to_owned()),
            call: ToolCall::new(tool),
        };
        let sample = load(&http, &target, short()).await.unwrap();
        assert!(sample.calls() > 0, "{tool}");
        assert_eq!(
            sample.errors,
            sample.calls(),
            "{tool}: {:?}",
            sample.first_error
        );
        assert_eq!(sample.ok, 0, "{tool}");
    }
}

#[test]
fn a_tiny_scale_run_seeds_every_step_and_loads_it_over_every_agent() {
    let (stdout, _, report) = bench(&[
        "--scale",
        "--scale-steps",
        "50,120",
        "--agents",
        "10",
        "--scale-secs",
        "1",
        "--warmup-ms",
        "100",
        "--concurrency",
        "2",
    ]);
    assert!(stdout.contains("events/s"), "{stdout}");
    let steps = report["scale"].as_array().unwrap();
    let mandates: Vec<u64> = steps
        .iter()
        .map(|s| s["mandates"].as_u64().unwrap())
        .collect();
    assert_eq!(mandates, [50, 120]);
    for step in steps {
        assert_eq!(step["agents"], 10, "{step}");
        assert_eq!(step["errors"], 0, "{step}");
        let calls = step["calls"].as_u64().unwrap();
        assert!(calls > 0, "{step}");
        // Every allowed call writes its decision and its completion.
        assert!(step["events"].as_u64().unwrap() >= 2 * calls, "{step}");
        assert!(step["p50_us"].as_u64().unwrap() <= step["p99_us"].as_u64().unwrap());
        for field in ["rps", "events_per_s", "seed_s"] {
            assert!(step[field].as_f64().unwrap() > 0.0, "{field}: {step}");
        }
        assert!(step["peak_rss_kib"].as_u64().unwrap() > 0, "{step}");
        assert!(step["rss_end_kib"].as_u64().unwrap() > 0, "{step}");
        assert!(step["idle_rss_kib"].as_u64().unwrap() > 0, "{step}");
        assert!(step["rss_kib_per_s"].is_array(), "{step}");
    }
}

#[test]
fn an_overload_run_sheds_fails_a_hung_upstream_alone_and_accounts_for_every_call() {
    let (stdout, _stderr, report) = bench(&["--overload", "--phase-secs", "1"]);
    assert!(
        stdout.contains("gateway RSS over"),
        "the memory timeline: {stdout}"
    );
    let phases = report["phases"].as_array().unwrap();
    let names: Vec<&str> = phases.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["baseline", "overload", "recovery", "hung", "dead"]);
    let leg = |phase: usize, upstream: &str| {
        phases[phase]["legs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["upstream"] == upstream)
            .unwrap()
            .clone()
    };
    // Ten times max_in_flight workers that never back off: some are refused with 503.
    let overload = leg(1, "demo");
    assert!(
        overload["failures"]["http 503"].as_u64().unwrap() > 0,
        "{overload}"
    );
    assert!(
        overload["ok"].as_u64().unwrap() > 0,
        "calls are still served: {overload}"
    );
    // A hung and a dead upstream fail their own calls as upstream errors ...
    for phase in [3, 4] {
        let flaky = leg(phase, "flaky");
        assert!(
            flaky["failures"]["rpc -32004"].as_u64().unwrap() > 0,
            "{flaky}"
        );
        assert_eq!(flaky["ok"], 0, "{flaky}");
        // ... and the healthy one keeps serving without a single failure.
        let demo = leg(phase, "demo");
        assert!(demo["ok"].as_u64().unwrap() > 0, "{demo}");
        assert!(
            demo.get("failures")
                .is_none_or(|f| f.as_object().unwrap().is_empty()),
            "{demo}"
        );
    }
    assert!(
        report["rss"].as_array().unwrap().len() > 5,
        "memory is sampled over time"
    );
    let audit = &report["audit"];
    assert_eq!(audit["matches"], true, "{audit}");
    assert_eq!(audit["verified"], true, "{audit}");
    assert!(audit["upstream_failures"].as_u64().unwrap() > 0, "{audit}");
}
