//! The report: one row per path and concurrency, the ratios against direct and nginx,
//! the gateway's memory and CPU, the machine, and the audit check; as JSON or a table.

use crate::{FsyncFloor, ProcStats, Route, Sample, Schedule};
use serde::Serialize;
use std::time::Duration;

/// Everything one `mandate bench` run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// One row per path and concurrency.
    pub runs: Vec<Run>,
    /// Mandate against direct and nginx, per concurrency.
    pub ratios: Vec<Ratio>,
    /// The gateway process over the whole run.
    pub gateway: Option<GatewayStats>,
    /// Where it ran.
    pub machine: Machine,
    /// Whether every successful call through Mandate left its decision in the audit log.
    pub audit: Option<AuditCheck>,
    /// What a durable append costs in the gateway's data dir: the least latency any
    /// durable decision can add here.
    pub durability_floor: Option<FsyncFloor>,
    /// Paths that were not measured, and why.
    pub skipped: Vec<Skipped>,
    /// The schedule.
    pub settings: Settings,
}

impl Report {
    /// A report of `runs`, with the ratios worked out from them.
    pub fn new(runs: Vec<Run>, machine: Machine, settings: Settings) -> Self {
        let ratios = Ratio::of(&runs);
        Self {
            runs,
            ratios,
            gateway: None,
            machine,
            audit: None,
            durability_floor: None,
            skipped: Vec::new(),
            settings,
        }
    }

    /// The rows of one path.
    pub fn runs_of(&self, route: Route) -> impl Iterator<Item = &Run> {
        self.runs.iter().filter(move |run| run.path == route)
    }

    /// Pretty-printed JSON.
    pub fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string_pretty(self)
    }
}

/// One path at one concurrency, all rounds merged. Latencies are of successful calls.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// `direct`, `nginx` or `mandate`.
    pub path: Route,
    /// Workers, each with one call in flight.
    pub concurrency: usize,
    /// Successful calls per second of measured time.
    pub rps: f64,
    /// Median latency, µs.
    pub p50_us: u64,
    /// 90th percentile, µs.
    pub p90_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// 99.9th percentile, µs.
    pub p999_us: u64,
    /// Slowest call, µs.
    pub max_us: u64,
    /// Mean latency, µs.
    pub mean_us: f64,
    /// Failed measured calls.
    pub errors: u64,
    /// Measured calls, successful or not.
    pub calls: u64,
    /// Measured wall time, seconds.
    pub seconds: f64,
    /// Calls during warm-ups (they reached the server too).
    pub warmup_calls: u64,
    /// Failed calls during warm-ups.
    pub warmup_errors: u64,
    /// CPU time of the serving processes (upstream for direct, nginx, or the gateway)
    /// per call, warm-up included; `null` if a process could not be sampled.
    pub server_cpu_us_per_call: Option<f64>,
    /// The first error, to tell what failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// Failed calls (warm-up included) by kind, e.g. `{"http 503": 12}`.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub failures: std::collections::BTreeMap<String, u64>,
}

impl Run {
    /// A row from a merged sample and the serving processes' CPU time over it.
    pub fn new(path: Route, concurrency: usize, sample: &Sample, cpu: Option<Duration>) -> Self {
        let warmup_calls = sample.warmup_ok + sample.warmup_errors;
        let served = sample.calls() + warmup_calls;
        Self {
            path,
            concurrency,
            rps: round1(sample.rps()),
            p50_us: sample.quantile_us(0.5),
            p90_us: sample.quantile_us(0.9),
            p99_us: sample.quantile_us(0.99),
            p999_us: sample.quantile_us(0.999),
            max_us: sample.max_us(),
            mean_us: round1(sample.mean_us()),
            errors: sample.errors,
            calls: sample.calls(),
            seconds: (sample.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            warmup_calls,
            warmup_errors: sample.warmup_errors,
            server_cpu_us_per_call: cpu
                .filter(|_| served > 0)
                .map(|cpu| round1(cpu.as_secs_f64() * 1e6 / served as f64)),
            first_error: sample.first_error.clone(),
            failures: sample.failures.clone(),
        }
    }

    /// Successful calls, warm-up included: each left a decision in Mandate's audit log.
    pub fn successful_calls(&self) -> u64 {
        self.calls - self.errors + self.warmup_calls - self.warmup_errors
    }
}

/// Mandate against the other paths at one concurrency. Added latency is a path's
/// percentile minus direct's (it can be negative in the noise); `null` where a path
/// is missing or a ratio would divide by zero or a negative.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    /// Workers.
    pub concurrency: usize,
    /// Mandate's throughput as a fraction of direct's.
    pub mandate_over_direct_rps: Option<f64>,
    /// Mandate's throughput as a fraction of nginx's.
    pub mandate_over_nginx_rps: Option<f64>,
    /// nginx p50 − direct p50, µs.
    pub nginx_added_p50_us: Option<i64>,
    /// Mandate p50 − direct p50, µs.
    pub mandate_added_p50_us: Option<i64>,
    /// Mandate's added p50 over nginx's added p50.
    pub mandate_over_nginx_added_p50: Option<f64>,
    /// nginx p99 − direct p99, µs.
    pub nginx_added_p99_us: Option<i64>,
    /// Mandate p99 − direct p99, µs.
    pub mandate_added_p99_us: Option<i64>,
}

impl Ratio {
    /// One ratio per concurrency at which Mandate was measured.
    pub fn of(runs: &[Run]) -> Vec<Ratio> {
        let find = |route, concurrency| {
            runs.iter()
                .find(|r| r.path == route && r.concurrency == concurrency)
        };
        runs.iter()
            .filter(|r| r.path == Route::Mandate)
            .map(|mandate| {
                let c = mandate.concurrency;
                let direct = find(Route::Direct, c);
                let nginx = find(Route::Nginx, c);
                let added = |path: Option<&Run>, pick: fn(&Run) -> u64| {
                    let (path, direct) = (path?, direct?);
                    Some(i64::try_from(pick(path)).ok()? - i64::try_from(pick(direct)).ok()?)
                };
                let nginx_added_p50 = added(nginx, |r| r.p50_us);
                let mandate_added_p50 = added(Some(mandate), |r| r.p50_us);
                Ratio {
                    concurrency: c,
                    mandate_over_direct_rps: direct.and_then(|d| fraction(mandate.rps, d.rps)),
                    mandate_over_nginx_rps: nginx.and_then(|n| fraction(mandate.rps, n.rps)),
                    nginx_added_p50_us: nginx_added_p50,
                    mandate_added_p50_us: mandate_added_p50,
                    mandate_over_nginx_added_p50: match (mandate_added_p50, nginx_added_p50) {
                        (Some(m), Some(n)) => fraction(m as f64, n as f64),
                        _ => None,
                    },
                    nginx_added_p99_us: added(nginx, |r| r.p99_us),
                    mandate_added_p99_us: added(Some(mandate), |r| r.p99_us),
                }
            })
            .collect()
    }
}

/// `a / b` to two decimals, when `b` is positive.
fn fraction(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| (a / b * 100.0).round() / 100.0)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The gateway process over the whole run.
#[derive(Debug, Clone, Serialize)]
pub struct GatewayStats {
    /// Its peak resident memory (`VmHWM`), KiB.
    pub peak_rss_kib: u64,
    /// Its resident memory at the end, KiB.
    pub rss_kib: u64,
    /// Its CPU time per call through it, warm-up included, µs.
    pub cpu_us_per_call: Option<f64>,
    /// Calls through it, warm-up included.
    pub calls: u64,
}

impl GatewayStats {
    /// The gateway's memory at the end, and its CPU per call from the Mandate rows.
    pub fn new(stats: ProcStats, runs: &[Run]) -> Self {
        let mandate: Vec<&Run> = runs.iter().filter(|r| r.path == Route::Mandate).collect();
        let calls: u64 = mandate.iter().map(|r| r.calls + r.warmup_calls).sum();
        let cpu_us: Option<f64> = mandate
            .iter()
            .map(|r| Some(r.server_cpu_us_per_call? * (r.calls + r.warmup_calls) as f64))
            .sum();
        Self {
            peak_rss_kib: stats.peak_rss_kib,
            rss_kib: stats.rss_kib,
            cpu_us_per_call: cpu_us.and_then(|us| fraction(us, calls as f64)).map(round1),
            calls,
        }
    }
}

/// Where the run happened.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPUs available to the process.
    pub cpus: usize,
    /// The CPU model, from `/proc/cpuinfo`.
    pub cpu_model: Option<String>,
    /// The kernel release.
    pub kernel: Option<String>,
    /// `release` or `debug`: debug figures are not worth reading.
    pub build: &'static str,
    /// Mandate's version.
    pub mandate_version: &'static str,
    /// nginx's version line, when it ran.
    pub nginx: Option<String>,
}

impl Machine {
    /// Reads the machine's description from the OS.
    pub fn detect(nginx: Option<String>) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Self {
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
                .map(|(_, model)| model.trim().to_owned()),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|k| k.trim().to_owned()),
            build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            mandate_version: env!("CARGO_PKG_VERSION"),
            nginx,
        }
    }
}

/// Decisions in the audit log against successful calls through Mandate.
#[derive(Debug, Clone, Serialize)]
pub struct AuditCheck {
    /// `decided` events with decision `allow` in the gateway's log.
    pub decided_allow: u64,
    /// Successful calls through Mandate, warm-up included.
    pub successful_mandate_calls: u64,
    /// Whether the two are equal.
    pub matches: bool,
    /// Whether `mandate audit verify` passed.
    pub verified: bool,
    /// What `mandate audit verify` printed first.
    pub verify_output: String,
}

/// A path that was not measured.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// Which.
    pub path: Route,
    /// Why, and what to do about it.
    pub reason: String,
}

/// How the run was configured.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// `quick`, `full`, or `custom` when durations were overridden.
    pub mode: String,
    /// Workers per level.
    pub concurrency: Vec<usize>,
    /// Rounds of each path per level.
    pub rounds: u32,
    /// Warm-up per round, ms.
    pub warmup_ms: u64,
    /// Measured window per round, ms.
    pub round_ms: u64,
    /// The tool called, as the upstream names it.
    pub tool: String,
}

impl Settings {
    /// The settings of a schedule.
    pub fn new(mode: &str, schedule: &Schedule, tool: &str) -> Self {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self {
            mode: mode.to_owned(),
            concurrency: schedule.concurrency.clone(),
            rounds: schedule.rounds,
            warmup_ms: ms(schedule.warmup),
            round_ms: ms(schedule.round),
            tool: tool.to_owned(),
        }
    }
}
