//! The report as plain-text tables for a terminal or a Markdown code block:
//! runs, ratios, the gateway's memory and CPU, the audit check, skips and the machine.

use crate::{Ratio, Report, Run};
use std::fmt::Write;

impl Report {
    /// The report as readable text.
    pub fn table(&self) -> String {
        let mut out = String::new();
        runs(&mut out, &self.runs);
        out.push('\n');
        ratios(&mut out, &self.ratios);
        out.push('\n');
        self.summary(&mut out);
        out
    }

    fn summary(&self, out: &mut String) {
        if let Some(gw) = &self.gateway {
            let cpu = gw
                .cpu_us_per_call
                .map_or_else(|| "?".to_owned(), |us| format!("{us:.1}"));
            let _ = writeln!(
                out,
                "gateway: peak RSS {:.1} MiB (now {:.1} MiB), CPU {cpu} µs per call over {} calls",
                gw.peak_rss_kib as f64 / 1024.0,
                gw.rss_kib as f64 / 1024.0,
                gw.calls
            );
        }
        if let Some(audit) = &self.audit {
            let _ = writeln!(
                out,
                "audit: {} `decided` allow events, {} successful calls through Mandate: {}",
                audit.decided_allow,
                audit.successful_mandate_calls,
                if audit.matches { "equal" } else { "MISMATCH" }
            );
            let _ = writeln!(out, "audit verify: {}", audit.verify_output);
        }
        if let Some(floor) = &self.durability_floor {
            let _ = writeln!(
                out,
                "durability floor: rewriting {} B in place + fdatasync in the gateway's data \
                 dir takes p50 {} µs, p99 {} µs, max {} µs (appending: p50 {} µs, p99 {} µs; \
                 {} samples each); every decision waits for one (shared by its commit group)",
                floor.bytes,
                floor.p50_us,
                floor.p99_us,
                floor.max_us,
                floor.append_p50_us,
                floor.append_p99_us,
                floor.samples
            );
        }
        for skipped in &self.skipped {
            let _ = writeln!(out, "skipped {}: {}", skipped.path, skipped.reason);
        }
        for run in self.runs.iter().filter(|r| r.errors + r.warmup_errors > 0) {
            let _ = writeln!(
                out,
                "errors on {} at concurrency {}: first was {}",
                run.path,
                run.concurrency,
                run.first_error.as_deref().unwrap_or("?")
            );
        }
        let m = &self.machine;
        let _ = writeln!(
            out,
            "machine: {} CPUs ({}), kernel {}, {} build{}",
            m.cpus,
            m.cpu_model.as_deref().unwrap_or("unknown model"),
            m.kernel.as_deref().unwrap_or("?"),
            m.build,
            m.nginx
                .as_deref()
                .map(|n| format!(", {n}"))
                .unwrap_or_default()
        );
        let s = &self.settings;
        let _ = writeln!(
            out,
            "schedule: {} rounds × ({} ms warm-up + {} ms measured) per path and level, \
             interleaved",
            s.rounds, s.warmup_ms, s.round_ms
        );
    }
}

fn runs(out: &mut String, runs: &[Run]) {
    let _ = writeln!(
        out,
        "{:<8} {:>5} {:>9} {:>10} {:>8} {:>8} {:>8} {:>9} {:>7} {:>12}",
        "path",
        "conc",
        "calls",
        "rps",
        "p50 µs",
        "p90 µs",
        "p99 µs",
        "p99.9 µs",
        "errors",
        "cpu µs/call"
    );
    for r in runs {
        let cpu = r
            .server_cpu_us_per_call
            .map_or_else(|| "?".to_owned(), |us| format!("{us:.1}"));
        let _ = writeln!(
            out,
            "{:<8} {:>5} {:>9} {:>10.1} {:>8} {:>8} {:>8} {:>9} {:>7} {:>12}",
            r.path.name(),
            r.concurrency,
            r.calls,
            r.rps,
            r.p50_us,
            r.p90_us,
            r.p99_us,
            r.p999_us,
            r.errors,
            cpu
        );
    }
}

fn ratios(out: &mut String, ratios: &[Ratio]) {
    let _ = writeln!(
        out,
        "{:>5} {:>12} {:>12} {:>12} {:>12} {:>14} {:>12} {:>12}",
        "conc",
        "rps M/direct",
        "rps M/nginx",
        "nginx +p50",
        "mandate +p50",
        "M/nginx +p50",
        "nginx +p99",
        "mandate +p99"
    );
    for r in ratios {
        let _ = writeln!(
            out,
            "{:>5} {:>12} {:>12} {:>12} {:>12} {:>14} {:>12} {:>12}",
            r.concurrency,
            ratio(r.mandate_over_direct_rps),
            ratio(r.mandate_over_nginx_rps),
            micros(r.nginx_added_p50_us),
            micros(r.mandate_added_p50_us),
            ratio(r.mandate_over_nginx_added_p50),
            micros(r.nginx_added_p99_us),
            micros(r.mandate_added_p99_us),
        );
    }
    let _ = writeln!(
        out,
        "(M = Mandate; +p50/+p99 = the path's percentile minus direct's: the latency a hop adds)"
    );
}

fn ratio(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}×"))
}

fn micros(value: Option<i64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:+} µs"))
}
