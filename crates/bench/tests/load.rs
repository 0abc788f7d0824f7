//! The harness against a real demo upstream served in-process: it makes calls, reads
//! their answers, and counts failures as errors. Never a timing test: nothing here
//! asserts how fast anything is.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use mandate_bench::{
    Leg, LoadSpec, Machine, Report, Route, Schedule, Settings, Target, ToolCall, client, load,
    run_schedule,
};
use std::time::Duration;

/// Serves the demo upstream over HTTP on a free loopback port; returns its `/mcp` URL.
async fn demo_upstream() -> String {
    demo_upstream_with(Default::default()).await
}

async fn demo_upstream_with(options: mandate_demo::DemoOptions) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(mandate_demo::serve_http(listener, options));
    format!("http://{addr}{}", mandate_demo::MCP_PATH)
}

fn short(concurrency: usize) -> LoadSpec {
    LoadSpec {
        concurrency,
        warmup: Duration::from_millis(50),
        duration: Duration::from_millis(200),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_run_calls_the_upstream_and_orders_its_percentiles() {
    let target = Target {
        url: demo_upstream().await,
        bearer: None,
        call: ToolCall::new("get_report"),
    };
    let sample = load(&client(2).unwrap(), &target, short(2)).await.unwrap();
    assert!(
        sample.ok > 0,
        "no successful call: {:?}",
        sample.first_error
    );
    assert_eq!(sample.errors, 0, "{:?}", sample.first_error);
    assert!(sample.warmup_ok > 0);
    let q = [0.5, 0.9, 0.99, 0.999].map(|q| sample.quantile_us(q));
    assert!(q[0] > 0 && q.windows(2).all(|w| w[0] <= w[1]), "{q:?}");
    assert!(q[3] <= sample.max_us());
}

/// Regression: CI once measured zero calls through the gateway because each worker's
/// first call outlasted the warm-up and the measured window together (a loaded machine).
/// Here every call takes longer than both, so only a warm-up that waits for every
/// worker's first call leaves anything to measure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_call_slower_than_the_whole_round_still_leaves_calls_to_measure() {
    let spec = short(2);
    let slow = mandate_demo::DemoOptions {
        delay: Some(2 * (spec.warmup + spec.duration)),
        ..Default::default()
    };
    let target = Target {
        url: demo_upstream_with(slow).await,
        bearer: None,
        call: ToolCall::new("get_report"),
    };
    let sample = load(&client(2).unwrap(), &target, spec).await.unwrap();
    assert_eq!(sample.warmup_ok, 2, "one warm-up call per worker");
    assert_eq!(
        sample.ok, 2,
        "then one measured call per worker: {sample:?}"
    );
    assert!(sample.elapsed >= spec.duration, "{:?}", sample.elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_answers_are_counted_as_errors_not_timed() {
    let target = Target {
        url: demo_upstream().await,
        bearer: None,
        call: ToolCall::new("no_such_tool"),
    };
    let sample = load(&client(2).unwrap(), &target, short(2)).await.unwrap();
    assert!(sample.calls() > 0);
    assert_eq!(sample.errors, sample.calls(), "every call failed");
    assert_eq!(sample.ok, 0);
    assert_eq!(
        sample.quantile_us(0.5),
        0,
        "errors are not in the latency histogram"
    );
    assert!(sample.first_error.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_an_error_too() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = Target {
        url: format!("http://127.0.0.1:{port}/mcp"),
        bearer: None,
        call: ToolCall::new("get_report"),
    };
    let sample = load(&client(1).unwrap(), &target, short(1)).await.unwrap();
    assert!(sample.errors > 0 && sample.ok == 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_report_has_the_documented_fields() {
    let url = demo_upstream().await;
    let leg = |route| Leg {
        route,
        target: Target {
            url: url.clone(),
            bearer: None,
            call: ToolCall::new("get_report"),
        },
        server_pids: vec![std::process::id()],
    };
    // The same upstream stands in for all three paths: this checks the plumbing only.
    let legs = [leg(Route::Direct), leg(Route::Nginx), leg(Route::Mandate)];
    let schedule = Schedule {
        concurrency: vec![1, 2],
        rounds: 2,
        warmup: Duration::from_millis(20),
        round: Duration::from_millis(100),
    };
    let mut started = 0;
    let runs = run_schedule(&legs, &schedule, |p| {
        if matches!(p, mandate_bench::Progress::Start { .. }) {
            started += 1;
        }
    })
    .await
    .unwrap();
    assert_eq!(started, 2 * 2 * 3, "levels × rounds × paths, interleaved");
    let report = Report::new(
        runs,
        Machine::detect(None),
        Settings::new("custom", &schedule, "get_report"),
    );
    let json: serde_json::Value = serde_json::from_str(&report.to_json().unwrap()).unwrap();

    let runs = json["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 6);
    for run in runs {
        for field in [
            "rps",
            "p50_us",
            "p90_us",
            "p99_us",
            "p999_us",
            "errors",
            "calls",
            "concurrency",
        ] {
            assert!(run[field].is_number(), "runs[].{field} in {run}");
        }
        assert!(["direct", "nginx", "mandate"].contains(&run["path"].as_str().unwrap()));
        assert_eq!(run["errors"], 0, "{run}");
        assert!(run["calls"].as_u64().unwrap() > 0);
        let p: Vec<u64> = ["p50_us", "p90_us", "p99_us", "p999_us"]
            .iter()
            .map(|f| run[f].as_u64().unwrap())
            .collect();
        assert!(p.windows(2).all(|w| w[0] <= w[1]), "{run}");
    }
    let ratios = json["ratios"].as_array().unwrap();
    assert_eq!(ratios.len(), 2);
    for field in [
        "mandate_over_direct_rps",
        "mandate_over_nginx_rps",
        "mandate_added_p50_us",
    ] {
        assert!(ratios[0][field].is_number(), "ratios[].{field}");
    }
    assert!(json["machine"]["cpus"].as_u64().unwrap() >= 1);
    assert!(json["machine"]["kernel"].is_string());
    for key in ["gateway", "audit", "skipped", "settings"] {
        assert!(json.get(key).is_some(), "missing `{key}`");
    }
    assert!(report.table().contains("p99.9 µs"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_proxies_the_calls_when_it_is_installed() {
    let Some(program) = mandate_bench::Nginx::find() else {
        eprintln!("nginx is not installed (scripts/bench-setup installs it): skipped");
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(mandate_demo::serve_http(listener, Default::default()));
    let nginx = mandate_bench::Nginx::start(&program, upstream)
        .await
        .unwrap();
    assert!(nginx.pids().len() >= 2, "master and at least one worker");
    let target = Target {
        url: nginx.url(mandate_demo::MCP_PATH),
        bearer: None,
        call: ToolCall::new("get_report"),
    };
    let sample = load(&client(2).unwrap(), &target, short(2)).await.unwrap();
    assert!(sample.ok > 0);
    assert_eq!(sample.errors, 0, "{:?}", sample.first_error);
}
