//! What `mandate bench --scale` measured: the same governed call with more and more
//! mandates in the store, one row per step, as a table or JSON (`{"scale": [...]}`).

use serde::Serialize;
use std::fmt::Write;

/// One step of the scale curve: a store seeded with `mandates` over `agents`, then
/// loaded at `concurrency` with calls rotating over one token per agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScaleStep {
    /// Mandates in the store before the gateway started.
    pub mandates: u64,
    /// Agents they are spread over; every one of them calls during the load.
    pub agents: u64,
    /// Workers, one call in flight each.
    pub concurrency: usize,
    /// Seconds the store took to seed (grants through the governance API).
    pub seed_s: f64,
    /// Measured calls, successful or not.
    pub calls: u64,
    /// Failed calls, warm-up included.
    pub errors: u64,
    /// Successful calls per second in the measured window.
    pub rps: f64,
    /// Median latency of successful calls, µs.
    pub p50_us: u64,
    /// 99th percentile latency, µs.
    pub p99_us: u64,
    /// Audit events the gateway wrote from start to stop (warm-up and shutdown included).
    pub events: u64,
    /// `events` over the load's wall time (warm-up plus measured window).
    pub events_per_s: f64,
    /// The gateway's resident memory once started, before the load, KiB.
    pub idle_rss_kib: u64,
    /// The gateway's peak resident memory (`VmHWM`), KiB.
    pub peak_rss_kib: u64,
    /// Its resident memory at the end of the load, KiB.
    pub rss_end_kib: u64,
    /// Its resident memory once a second during the load (warm-up included), KiB.
    pub rss_kib_per_s: Vec<u64>,
}

/// The whole scale curve.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScaleReport {
    /// The steps, fewest mandates first.
    pub scale: Vec<ScaleStep>,
}

impl ScaleReport {
    /// The report as pretty JSON.
    pub fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string_pretty(self)
    }

    /// The report as a plain-text table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:>9} {:>6} {:>4} {:>7} {:>9} {:>8} {:>8} {:>10} {:>9} {:>9} {:>9} {:>6}",
            "mandates",
            "agents",
            "c",
            "seed s",
            "rps",
            "p50 µs",
            "p99 µs",
            "events/s",
            "idle MiB",
            "peak MiB",
            "end MiB",
            "errors"
        );
        for step in &self.scale {
            let _ = writeln!(
                out,
                "{:>9} {:>6} {:>4} {:>7.1} {:>9.0} {:>8} {:>8} {:>10.0} {:>9.1} {:>9.1} {:>9.1} {:>6}",
                step.mandates,
                step.agents,
                step.concurrency,
                step.seed_s,
                step.rps,
                step.p50_us,
                step.p99_us,
                step.events_per_s,
                step.idle_rss_kib as f64 / 1024.0,
                step.peak_rss_kib as f64 / 1024.0,
                step.rss_end_kib as f64 / 1024.0,
                step.errors
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(mandates: u64) -> ScaleStep {
        ScaleStep {
            mandates,
            agents: 10,
            concurrency: 4,
            seed_s: 0.5,
            calls: 100,
            errors: 0,
            rps: 100.0,
            p50_us: 300,
            p99_us: 900,
            events: 200,
            events_per_s: 180.0,
            idle_rss_kib: 10_240,
            peak_rss_kib: 20_480,
            rss_end_kib: 19_456,
            rss_kib_per_s: vec![18_000, 19_456],
        }
    }

    #[test]
    fn the_json_has_one_object_per_step_under_scale() -> serde_json::Result<()> {
        let report = ScaleReport {
            scale: vec![step(50), step(500)],
        };
        let json: serde_json::Value = serde_json::from_str(&report.to_json()?)?;
        assert_eq!(json["scale"][1]["mandates"], 500);
        assert_eq!(json["scale"][0]["peak_rss_kib"], 20_480);
        assert!(json["scale"][0]["events_per_s"].is_number());
        Ok(())
    }

    #[test]
    fn the_table_has_a_header_and_a_row_per_step() {
        let report = ScaleReport {
            scale: vec![step(50), step(500)],
        };
        let table = report.table();
        assert_eq!(table.lines().count(), 3);
        assert!(
            table.contains("events/s") && table.contains("20.0"),
            "{table}"
        );
    }
}
