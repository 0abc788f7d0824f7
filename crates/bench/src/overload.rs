//! What `mandate bench --overload` measured: the gateway through phases of normal load,
//! 10× overload, recovery, a hung upstream and a dead one, with its memory over time.
//!
//! Each phase loads one or more targets at once; the report keeps, per phase and target,
//! the calls served, their latency and the failures by kind, plus an RSS sample every
//! fraction of a second, drawn as a timeline so that "bounded" can be seen at a glance.

use crate::Sample;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The whole overload run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OverloadReport {
    /// How the gateway and the phases were set up.
    pub settings: OverloadSettings,
    /// The phases, in the order they ran.
    pub phases: Vec<Phase>,
    /// The gateway's resident memory over the run.
    pub rss: Vec<RssPoint>,
    /// Whether the audit log accounts for every call the gateway let through.
    pub audit: Option<OverloadAudit>,
}

/// The run's fixed settings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OverloadSettings {
    /// The gateway's `max_in_flight`.
    pub max_in_flight: usize,
    /// The `timeout` of the upstream that hangs, ms.
    pub hung_upstream_timeout_ms: u64,
    /// Each phase's length, s.
    pub phase_secs: u64,
    /// How long the demo upstream takes per call, ms.
    pub upstream_delay_ms: u64,
}

/// One phase: what it did and what each target saw.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    /// Short name: `baseline`, `overload`, `recovery`, `hung`, `dead`.
    pub name: String,
    /// What happened in it, in words.
    pub what: String,
    /// Milliseconds since the run started.
    pub started_ms: u64,
    /// One entry per target loaded in this phase.
    pub legs: Vec<PhaseLeg>,
    /// The gateway's largest RSS sample during the phase, KiB.
    pub peak_rss_kib: u64,
}

/// One target's share of a phase.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseLeg {
    /// The upstream the calls went to (through the gateway).
    pub upstream: String,
    /// Workers.
    pub concurrency: usize,
    /// Successful calls, warm-up included.
    pub ok: u64,
    /// Successful calls per second of measured time.
    pub rps: f64,
    /// Median latency of successful calls, µs.
    pub p50_us: u64,
    /// 99th percentile latency of successful calls, µs.
    pub p99_us: u64,
    /// Failed calls by kind (`http 503` is shedding; `rpc -32004` an upstream failure).
    pub failures: BTreeMap<String, u64>,
    /// Worker-time per failed call, ms: how long a caller waited to learn of a failure
    /// (an estimate from the phase's length, when nearly every call failed).
    pub ms_per_failure: Option<f64>,
}

impl PhaseLeg {
    /// The leg of `sample`, loaded by `concurrency` workers for `seconds`.
    pub fn new(upstream: &str, concurrency: usize, seconds: f64, sample: &Sample) -> Self {
        let failed: u64 = sample.failures.values().sum();
        let ok = sample.ok + sample.warmup_ok;
        Self {
            upstream: upstream.to_owned(),
            concurrency,
            ok,
            rps: (sample.rps() * 10.0).round() / 10.0,
            p50_us: sample.quantile_us(0.5),
            p99_us: sample.quantile_us(0.99),
            ms_per_failure: (failed > 0 && ok == 0).then(|| {
                let worker_ms = seconds * 1000.0 * concurrency as f64;
                (worker_ms / failed as f64 * 10.0).round() / 10.0
            }),
            failures: sample.failures.clone(),
        }
    }

    /// Failed calls of one kind.
    pub fn failures_of(&self, class: &str) -> u64 {
        self.failures.get(class).copied().unwrap_or(0)
    }

    /// Failed calls of any kind but these.
    pub fn failures_except(&self, allowed: &[&str]) -> u64 {
        self.failures
            .iter()
            .filter(|(class, _)| !allowed.contains(&class.as_str()))
            .map(|(_, count)| count)
            .sum()
    }
}

/// One memory sample.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RssPoint {
    /// Milliseconds since the run started.
    pub at_ms: u64,
    /// Resident memory, KiB.
    pub rss_kib: u64,
}

/// The audit log against the calls: every call the gateway forwarded was decided first,
/// and every decision has its completion once the gateway has stopped.
#[derive(Debug, Clone, Serialize)]
pub struct OverloadAudit {
    /// `decided` events with decision `allow`.
    pub decided_allow: u64,
    /// `completed` events.
    pub completed: u64,
    /// Calls that succeeded, all phases and targets.
    pub successful_calls: u64,
    /// Calls that were allowed, forwarded and failed upstream (`rpc -32004`).
    pub upstream_failures: u64,
    /// `decided_allow == successful_calls + upstream_failures == completed`.
    pub matches: bool,
    /// `mandate audit verify` passed.
    pub verified: bool,
    /// Its first line of output.
    pub verify_output: String,
}

impl OverloadReport {
    /// Pretty-printed JSON.
    pub fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string_pretty(self)
    }

    /// The phases as a table, then the memory timeline, then the audit check.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<9} {:<7} {:>5} {:>8} {:>9} {:>8} {:>9} {:>9}  failures",
            "phase", "to", "conc", "ok", "rps", "p50 µs", "p99 µs", "peak MiB"
        );
        for phase in &self.phases {
            for leg in &phase.legs {
                let mut failures: Vec<String> = leg
                    .failures
                    .iter()
                    .map(|(class, n)| format!("{class}: {n}"))
                    .collect();
                if let Some(ms) = leg.ms_per_failure {
                    failures.push(format!("({ms} ms each)"));
                }
                let _ = writeln!(
                    out,
                    "{:<9} {:<7} {:>5} {:>8} {:>9.1} {:>8} {:>9} {:>9.1}  {}",
                    phase.name,
                    leg.upstream,
                    leg.concurrency,
                    leg.ok,
                    leg.rps,
                    leg.p50_us,
                    leg.p99_us,
                    phase.peak_rss_kib as f64 / 1024.0,
                    if failures.is_empty() {
                        "-".to_owned()
                    } else {
                        failures.join(", ")
                    }
                );
            }
        }
        out.push('\n');
        out.push_str(&self.timeline());
        if let Some(audit) = &self.audit {
            let _ = writeln!(
                out,
                "audit: {} `decided` allow = {} successful + {} failed upstream; {} `completed`: {}",
                audit.decided_allow,
                audit.successful_calls,
                audit.upstream_failures,
                audit.completed,
                if audit.matches { "equal" } else { "DIFFERENT" }
            );
            let _ = writeln!(out, "audit verify: {}", audit.verify_output);
        }
        out
    }

    /// The gateway's RSS over time as a one-line chart, with each phase's start marked
    /// under it by its initial.
    pub fn timeline(&self) -> String {
        const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
        const WIDTH: usize = 72;
        let (Some(first), Some(last)) = (self.rss.first(), self.rss.last()) else {
            return String::new();
        };
        let low = self.rss.iter().map(|p| p.rss_kib).min().unwrap_or(0);
        let high = self.rss.iter().map(|p| p.rss_kib).max().unwrap_or(0);
        let span_ms = last.at_ms.saturating_sub(first.at_ms).max(1);
        let column = |at_ms: u64| {
            let offset = at_ms.saturating_sub(first.at_ms) as f64 / span_ms as f64;
            ((offset * (WIDTH - 1) as f64).round() as usize).min(WIDTH - 1)
        };
        let mut tops = vec![None::<u64>; WIDTH];
        for point in &self.rss {
            if let Some(top) = tops.get_mut(column(point.at_ms)) {
                *top = Some(top.map_or(point.rss_kib, |t| t.max(point.rss_kib)));
            }
        }
        let range = high.saturating_sub(low).max(1) as f64;
        let mut chart = String::new();
        let mut previous = BARS[0];
        for top in tops {
            let bar = top.map_or(previous, |kib| {
                let level = ((kib.saturating_sub(low)) as f64 / range * 7.0).round() as usize;
                BARS.get(level).copied().unwrap_or(BARS[7])
            });
            previous = bar;
            chart.push(bar);
        }
        let mut marks = vec![' '; WIDTH];
        for phase in &self.phases {
            if let Some(mark) = marks.get_mut(column(phase.started_ms)) {
                *mark = phase.name.chars().next().unwrap_or('?');
            }
        }
        let legend: Vec<String> = self
            .phases
            .iter()
            .map(|p| format!("{}={}", p.name.chars().next().unwrap_or('?'), p.name))
            .collect();
        format!(
            "gateway RSS over {:.0} s, {:.1} → {:.1} MiB (low → high):\n  {chart}\n  {}\n  {}\n",
            span_ms as f64 / 1000.0,
            low as f64 / 1024.0,
            high as f64 / 1024.0,
            marks.into_iter().collect::<String>(),
            legend.join(" ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(failures: &[(&str, u64)], ok: u64) -> PhaseLeg {
        PhaseLeg {
            upstream: "demo".to_owned(),
            concurrency: 4,
            ok,
            rps: 0.0,
            p50_us: 0,
            p99_us: 0,
            failures: failures
                .iter()
                .map(|(c, n)| ((*c).to_owned(), *n))
                .collect(),
            ms_per_failure: None,
        }
    }

    #[test]
    fn failures_are_counted_by_kind() {
        let leg = leg(&[("http 503", 10), ("rpc -32004", 2), ("transport", 1)], 5);
        assert_eq!(leg.failures_of("http 503"), 10);
        assert_eq!(leg.failures_except(&["http 503"]), 3);
        assert_eq!(
            leg.failures_except(&["http 503", "rpc -32004", "transport"]),
            0
        );
    }

    #[test]
    fn the_timeline_spans_the_run_and_marks_each_phase() {
        let phase = |name: &str, started_ms| Phase {
            name: name.to_owned(),
            what: String::new(),
            started_ms,
            legs: vec![leg(&[], 1)],
            peak_rss_kib: 0,
        };
        let report = OverloadReport {
            phases: vec![phase("baseline", 0), phase("overload", 5_000)],
            rss: (0..=100)
                .map(|i| RssPoint {
                    at_ms: i * 100,
                    rss_kib: if i >= 50 { 40_960 } else { 20_480 },
                })
                .collect(),
            ..OverloadReport::default()
        };
        let text = report.timeline();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("20.0 → 40.0 MiB"), "{text}");
        let chart: Vec<char> = lines[1].trim().chars().collect();
        assert_eq!(chart.len(), 72);
        assert_eq!((chart[0], chart[71]), ('▁', '█'));
        let marks = lines[2];
        assert_eq!(marks.trim_start().chars().next(), Some('b'));
        assert!(marks.contains('o'), "{text}");
        assert!(report.table().contains("baseline"));
    }
}
