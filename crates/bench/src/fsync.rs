//! The durability floor: how long the file system under the gateway's data dir takes to
//! make a small append durable, a wait that every durable decision includes.
//!
//! Mandate records each decision with an fsync before it forwards the call (group commit
//! shares one among the calls queued together), so no gateway design can add less
//! latency than this on the same disk; the report prints it beside the latency figures.

use crate::BenchError;
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// What one small durable append costs where the store lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FsyncFloor {
    /// Appends timed.
    pub samples: u32,
    /// Bytes per append.
    pub bytes: u32,
    /// Median time of append + `fdatasync`, µs.
    pub p50_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// The slowest, µs.
    pub max_us: u64,
}

/// The size of one append: about one audit event with its WAL frame header.
const APPEND: usize = 4096;

impl FsyncFloor {
    /// Appends [`APPEND`] bytes to a scratch file in `dir` and syncs its data, `samples`
    /// times (at least once), each timed; the file is removed afterwards.
    pub fn measure(dir: &Path, samples: u32) -> Result<Self, BenchError> {
        let failed = |source| BenchError::Fsync {
            path: dir.to_owned(),
            source,
        };
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(failed)?;
        let block = [0x5a_u8; APPEND];
        let mut micros = Vec::with_capacity(samples.max(1) as usize);
        for _ in 0..samples.max(1) {
            let started = Instant::now();
            file.write_all(&block).map_err(failed)?;
            file.as_file().sync_data().map_err(failed)?;
            micros.push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
        }
        micros.sort_unstable();
        let at = |q: f64| {
            let rank = ((micros.len() as f64 * q).ceil() as usize).saturating_sub(1);
            micros.get(rank).copied().unwrap_or(0)
        };
        Ok(Self {
            samples: u32::try_from(micros.len()).unwrap_or(u32::MAX),
            bytes: APPEND as u32,
            p50_us: at(0.5),
            p99_us: at(0.99),
            max_us: micros.last().copied().unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_times_every_append_orders_its_percentiles_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let floor = FsyncFloor::measure(dir.path(), 20).unwrap();
        assert_eq!(floor.samples, 20);
        assert_eq!(floor.bytes, 4096);
        assert!(floor.p50_us <= floor.p99_us && floor.p99_us <= floor.max_us);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        let error = FsyncFloor::measure(&gone, 1).unwrap_err();
        assert!(error.to_string().contains("gone"), "{error}");
    }
}
