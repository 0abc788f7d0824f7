//! What one or more load rounds measured: an HDR histogram of successful calls' latency
//! (µs, three significant digits), and counts of successes and errors, warm-up apart.

use crate::BenchError;
use crate::mcp::Failure;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::time::Duration;

/// The slowest latency the histogram holds exactly (60 s); slower calls count as 60 s.
const MAX_MICROS: u64 = 60_000_000;

/// Calls and latencies of one path at one concurrency, over one or more rounds.
#[derive(Debug, Clone)]
pub struct Sample {
    latency: Histogram<u64>,
    /// Successful calls in the measured window.
    pub ok: u64,
    /// Failed calls in the measured window (HTTP error, JSON-RPC error, tool error, timeout).
    pub errors: u64,
    /// Successful calls during warm-up (not timed, but they reached the server).
    pub warmup_ok: u64,
    /// Failed calls during warm-up.
    pub warmup_errors: u64,
    /// Wall time of the measured windows, summed over rounds.
    pub elapsed: Duration,
    /// The first error seen, to tell what went wrong.
    pub first_error: Option<String>,
    /// Failed calls (warm-up included) by kind: `http 503`, `rpc -32004`, `transport`, ….
    pub failures: BTreeMap<String, u64>,
}

impl Sample {
    /// An empty sample.
    pub fn new() -> Result<Self, BenchError> {
        Ok(Self {
            latency: Histogram::new_with_bounds(1, MAX_MICROS, 3).map_err(BenchError::Histogram)?,
            ok: 0,
            errors: 0,
            warmup_ok: 0,
            warmup_errors: 0,
            elapsed: Duration::ZERO,
            first_error: None,
            failures: BTreeMap::new(),
        })
    }

    /// Records a successful measured call.
    pub(crate) fn record_ok(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(MAX_MICROS);
        self.latency.saturating_record(micros.clamp(1, MAX_MICROS));
        self.ok += 1;
    }

    /// Records a failed call, keeping the first reason and counting its kind.
    pub(crate) fn record_error(&mut self, warmup: bool, failure: Failure) {
        if warmup {
            self.warmup_errors += 1;
        } else {
            self.errors += 1;
        }
        *self.failures.entry(failure.class.to_string()).or_default() += 1;
        self.first_error.get_or_insert(failure.detail);
    }

    /// Failed calls of one kind (e.g. `"http 503"`), warm-up included.
    pub fn failures_of(&self, class: &str) -> u64 {
        self.failures.get(class).copied().unwrap_or(0)
    }

    /// Adds another sample's calls and latencies to this one.
    pub fn merge(&mut self, other: &Sample) -> Result<(), BenchError> {
        self.latency
            .add(&other.latency)
            .map_err(BenchError::Merge)?;
        self.ok += other.ok;
        self.errors += other.errors;
        self.warmup_ok += other.warmup_ok;
        self.warmup_errors += other.warmup_errors;
        self.elapsed += other.elapsed;
        for (class, count) in &other.failures {
            *self.failures.entry(class.clone()).or_default() += count;
        }
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        Ok(())
    }

    /// Measured calls, successful or not.
    pub fn calls(&self) -> u64 {
        self.ok + self.errors
    }

    /// Successful calls per second of measured wall time.
    pub fn rps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    /// The latency (µs) at quantile `q` (0.5 for the median) of successful calls; 0 if none.
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.latency.is_empty() {
            0
        } else {
            self.latency.value_at_quantile(q)
        }
    }

    /// The mean latency (µs) of successful calls.
    pub fn mean_us(&self) -> f64 {
        self.latency.mean()
    }

    /// The slowest successful call (µs).
    pub fn max_us(&self) -> u64 {
        self.latency.max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_adds_counts_and_latencies() -> Result<(), BenchError> {
        let mut a = Sample::new()?;
        let mut b = Sample::new()?;
        for micros in 1..=100 {
            a.record_ok(Duration::from_micros(micros));
        }
        b.record_ok(Duration::from_secs(120));
        let http = |status| Failure {
            class: crate::mcp::FailureClass::Http(status),
            detail: format!("HTTP {status}"),
        };
        b.record_error(false, http(500));
        b.record_error(true, http(502));
        b.record_error(false, http(500));
        a.elapsed = Duration::from_secs(1);
        b.elapsed = Duration::from_secs(1);
        a.merge(&b)?;
        assert_eq!(
            (a.ok, a.errors, a.warmup_errors, a.calls()),
            (101, 2, 1, 103)
        );
        assert_eq!(a.first_error.as_deref(), Some("HTTP 500"));
        assert_eq!(
            (a.failures_of("http 500"), a.failures_of("http 502")),
            (2, 1)
        );
        assert_eq!(a.failures_of("transport"), 0);
        assert!((a.rps() - 50.5).abs() < 1e-9);
        assert_eq!(a.quantile_us(0.5), 51);
        assert!(
            a.max_us() >= MAX_MICROS,
            "a 2-minute call is kept as the histogram's top"
        );
        Ok(())
    }
}
