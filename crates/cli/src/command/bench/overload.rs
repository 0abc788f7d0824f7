//! `mandate bench --overload`: the gateway under 10× its request limit, then with an
//! upstream that hangs and one that is dead, with its memory sampled all along.
//!
//! Two demo upstreams sit behind one gateway: `demo`, always healthy, and `flaky`, which
//! is stopped (`SIGSTOP`: it accepts connections and never answers) and then killed.
//! Phases: baseline → overload (ten times `max_in_flight` workers) → recovery → hung →
//! dead. The run fails if any call failed in a way it should not have (anything but
//! shedding on `demo`, anything but an upstream error on `flaky`), or if the audit log
//! does not hold exactly one decision and one completion per call the gateway let through.

use super::stack::{Gateway, Upstream};
use anyhow::Context as _;
use mandate_bench::{
    LoadSpec, OverloadAudit, OverloadReport, OverloadSettings, Phase, PhaseLeg, ProcStats,
    RssPoint, Target, ToolCall, client, load,
};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The gateway's request limit: overload is ten times this many workers.
const MAX_IN_FLIGHT: usize = 32;
/// Workers on `demo` outside the overload phase.
const NORMAL: usize = 16;
/// Workers on `flaky` while it hangs or is dead.
const FLAKY: usize = 4;
/// How long the gateway waits for `flaky` before failing a call, s.
const FLAKY_TIMEOUT_S: u64 = 1;
/// How long the demo upstream takes per call, so that calls stay in flight a while.
const DELAY_MS: u64 = 2;
/// How often the gateway's RSS is read.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// One phase of the plan: its name, what it does, and the workers per upstream.
struct Step {
    name: &'static str,
    what: &'static str,
    demo: usize,
    flaky: usize,
    signal: Option<&'static str>,
}

const PLAN: [Step; 5] = [
    Step {
        name: "baseline",
        what: "normal load",
        demo: NORMAL,
        flaky: 0,
        signal: None,
    },
    Step {
        name: "overload",
        what: "ten times max_in_flight workers, none backing off",
        demo: 10 * MAX_IN_FLIGHT,
        flaky: 0,
        signal: None,
    },
    Step {
        name: "recovery",
        what: "normal load again",
        demo: NORMAL,
        flaky: 0,
        signal: None,
    },
    Step {
        name: "hung",
        what: "`flaky` stopped (SIGSTOP): it accepts and never answers",
        demo: NORMAL,
        flaky: FLAKY,
        signal: Some("STOP"),
    },
    Step {
        name: "dead",
        what: "`flaky` killed (SIGKILL): connections refused",
        demo: NORMAL,
        flaky: FLAKY,
        signal: Some("KILL"),
    },
];

/// Runs the plan with phases of `phase_secs`; prints the report and returns the verdict.
pub async fn run(
    exe: &Path,
    tool: &str,
    phase_secs: u64,
) -> anyhow::Result<(OverloadReport, ExitCode)> {
    let delay = DELAY_MS.to_string();
    let demo = Upstream::start_with(exe, &["--delay-ms", &delay]).await?;
    let flaky = Upstream::start(exe).await?;
    let upstreams = format!(
        "[[upstream]]\nname = \"demo\"\nurl = \"{}\"\n\n[[upstream]]\nname = \"flaky\"\nurl = \"{}\"\ntimeout = \"{}s\"\n",
        demo.url(),
        flaky.url(),
        FLAKY_TIMEOUT_S
    );
    let top = format!("max_in_flight = {MAX_IN_FLIGHT}\n");
    let mut gateway = Gateway::prepare_with(exe, &top, &upstreams)?;
    gateway.launch().await?;
    let token = gateway.grant(&format!("demo.{tool},flaky.{tool}")).await?;
    let pid = gateway.pid().context("`mandate serve` has no process id")?;
    let started = Instant::now();
    let rss = Arc::new(Mutex::new(Vec::new()));
    let sampler = tokio::spawn(sample_rss(pid, started, Arc::clone(&rss)));
    let http = client(10 * MAX_IN_FLIGHT)?;
    let target = |upstream: &str| Target {
        url: gateway.url(),
        bearer: Some(token.clone()),
        call: ToolCall::new(&format!("{upstream}.{tool}")),
    };
    let (demo_target, flaky_target) = (target("demo"), target("flaky"));
    let duration = Duration::from_secs(phase_secs.max(1));
    let mut phases = Vec::new();
    for step in &PLAN {
        if let Some(signal) = step.signal {
            flaky.signal(signal).await?;
        }
        eprintln!(
            "  {:<9} {} (demo c={}, flaky c={})",
            step.name, step.what, step.demo, step.flaky
        );
        let started_ms = elapsed_ms(started);
        let spec = |concurrency| LoadSpec {
            concurrency,
            warmup: Duration::ZERO,
            duration,
        };
        let on_flaky = async {
            if step.flaky == 0 {
                return Ok(None);
            }
            load(&http, &flaky_target, spec(step.flaky)).await.map(Some)
        };
        let (on_demo, on_flaky) =
            tokio::join!(load(&http, &demo_target, spec(step.demo)), on_flaky);
        let secs = duration.as_secs_f64();
        let mut legs = vec![PhaseLeg::new("demo", step.demo, secs, &on_demo?)];
        if let Some(sample) = on_flaky? {
            legs.push(PhaseLeg::new("flaky", step.flaky, secs, &sample));
        }
        // The gateway must still be there: a crash ends the run here.
        ProcStats::read(pid).context("the gateway died during the phase")?;
        let peak_rss_kib = peak_since(&rss, started_ms);
        phases.push(Phase {
            name: step.name.to_owned(),
            what: step.what.to_owned(),
            started_ms,
            legs,
            peak_rss_kib,
        });
    }
    sampler.abort();
    gateway.stop().await?;
    drop((demo, flaky));
    let audit = audit(&gateway, &phases).await?;
    let report = OverloadReport {
        settings: OverloadSettings {
            max_in_flight: MAX_IN_FLIGHT,
            hung_upstream_timeout_ms: FLAKY_TIMEOUT_S * 1000,
            phase_secs,
            upstream_delay_ms: DELAY_MS,
        },
        phases,
        rss: rss.lock().map(|r| r.clone()).unwrap_or_default(),
        audit: Some(audit),
    };
    let verdict = verdict(&report);
    Ok((report, verdict))
}

/// Counts decisions and completions in the stopped gateway's log against the calls.
async fn audit(gateway: &Gateway, phases: &[Phase]) -> anyhow::Result<OverloadAudit> {
    let legs = || phases.iter().flat_map(|p| p.legs.iter());
    let successful_calls: u64 = legs().map(|l| l.ok).sum();
    let upstream_failures: u64 = legs().map(|l| l.failures_of("rpc -32004")).sum();
    let decided_allow = gateway
        .count_events(&["--kind", "decided", "--decision", "allow"])
        .await?;
    let completed = gateway.count_events(&["--kind", "completed"]).await?;
    let (verified, verify_output) = gateway.verify().await?;
    let forwarded = successful_calls + upstream_failures;
    Ok(OverloadAudit {
        decided_allow,
        completed,
        successful_calls,
        upstream_failures,
        matches: decided_allow == forwarded && completed == forwarded,
        verified,
        verify_output,
    })
}

/// Failure if a call failed the wrong way or the log does not account for every call.
fn verdict(report: &OverloadReport) -> ExitCode {
    let mut problems = Vec::new();
    for phase in &report.phases {
        for leg in &phase.legs {
            // Shedding is the only acceptable failure on the healthy upstream, and only
            // in the overload phase; the flaky upstream may only fail as an upstream.
            let allowed: &[&str] = match (leg.upstream.as_str(), phase.name.as_str()) {
                ("demo", "overload") => &["http 503"],
                ("demo", _) => &[],
                _ => &["rpc -32004"],
            };
            let wrong = leg.failures_except(allowed);
            if wrong > 0 {
                problems.push(format!(
                    "{}: {wrong} calls to `{}` failed unexpectedly: {:?}",
                    phase.name, leg.upstream, leg.failures
                ));
            }
        }
    }
    if let Some(audit) = &report.audit {
        if !audit.matches {
            problems.push(format!(
                "the audit log holds {} allow decisions and {} completions for {} calls let through",
                audit.decided_allow,
                audit.completed,
                audit.successful_calls + audit.upstream_failures
            ));
        }
        if !audit.verified {
            problems.push(format!(
                "`mandate audit verify` failed: {}",
                audit.verify_output
            ));
        }
    }
    super::exit_with(problems)
}

/// Reads the gateway's RSS every [`SAMPLE_EVERY`] until aborted.
async fn sample_rss(pid: u32, started: Instant, into: Arc<Mutex<Vec<RssPoint>>>) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    loop {
        tick.tick().await;
        let Ok(stats) = ProcStats::read(pid) else {
            return;
        };
        if let Ok(mut points) = into.lock() {
            points.push(RssPoint {
                at_ms: elapsed_ms(started),
                rss_kib: stats.rss_kib,
            });
        }
    }
}

/// The largest sample taken at or after `since_ms`.
fn peak_since(rss: &Mutex<Vec<RssPoint>>, since_ms: u64) -> u64 {
    rss.lock()
        .map(|points| {
            points
                .iter()
                .filter(|p| p.at_ms >= since_ms)
                .map(|p| p.rss_kib)
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}
