//! The durability floor: how long the file system under the gateway's data dir takes to
//! make a small write durable, a wait that every durable decision includes.
//!
//! Mandate records each decision with a sync before it forwards the call (group commit
//! shares one among the calls queued together), so no gateway design can add less
//! latency than this on the same disk; the report prints it beside the latency figures.
//! It is timed two ways, interleaved: rewriting a block in place, as SQLite does in a
//! write-ahead log reused after a checkpoint (the floor), and appending, as it does while
//! the log grows (file size changes make the sync write metadata too).

use crate::BenchError;
use serde::Serialize;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Instant;

/// What one small durable write costs where the store lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FsyncFloor {
    /// Writes timed, each way.
    pub samples: u32,
    /// Bytes per write.
    pub bytes: u32,
    /// Median time of an in-place rewrite + `fdatasync`, µs: the floor.
    pub p50_us: u64,
    /// 99th percentile of the same, µs.
    pub p99_us: u64,
    /// The slowest of the same, µs.
    pub max_us: u64,
    /// Median time of an append + `fdatasync` (the file grows), µs.
    pub append_p50_us: u64,
    /// 99th percentile of the same, µs.
    pub append_p99_us: u64,
}

/// The size of one write: about one audit event's page with its WAL frame header.
const BLOCK: usize = 4096;

impl FsyncFloor {
    /// Writes [`BLOCK`] bytes and syncs their data, `samples` times each way (at least
    /// once): once in place over a file written and synced beforehand, once at the end of
    /// a growing file, alternating so both see the same moments of the disk. The scratch
    /// files are removed afterwards.
    pub fn measure(dir: &Path, samples: u32) -> Result<Self, BenchError> {
        let failed = |source| BenchError::Fsync {
            path: dir.to_owned(),
            source,
        };
        let samples = samples.max(1);
        let block = [0x5a_u8; BLOCK];
        let mut rewritten = tempfile::NamedTempFile::new_in(dir).map_err(failed)?;
        for _ in 0..samples {
            rewritten.write_all(&block).map_err(failed)?;
        }
        rewritten.as_file().sync_all().map_err(failed)?;
        rewritten.seek(SeekFrom::Start(0)).map_err(failed)?;
        let mut appended = tempfile::NamedTempFile::new_in(dir).map_err(failed)?;
        let mut in_place = Vec::with_capacity(samples as usize);
        let mut growing = Vec::with_capacity(samples as usize);
        for _ in 0..samples {
            in_place.push(timed_write(rewritten.as_file_mut(), &block).map_err(failed)?);
            growing.push(timed_write(appended.as_file_mut(), &block).map_err(failed)?);
        }
        let in_place = Percentiles::of(in_place);
        let growing = Percentiles::of(growing);
        Ok(Self {
            samples,
            bytes: BLOCK as u32,
            p50_us: in_place.at(0.5),
            p99_us: in_place.at(0.99),
            max_us: in_place.at(1.0),
            append_p50_us: growing.at(0.5),
            append_p99_us: growing.at(0.99),
        })
    }
}

/// Writes `block` at the file's cursor and syncs its data; the time taken, µs.
fn timed_write(file: &mut File, block: &[u8]) -> std::io::Result<u64> {
    let started = Instant::now();
    file.write_all(block)?;
    file.sync_data()?;
    Ok(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX))
}

/// Sorted timings.
struct Percentiles(Vec<u64>);

impl Percentiles {
    fn of(mut micros: Vec<u64>) -> Self {
        micros.sort_unstable();
        Self(micros)
    }

    /// The nearest-rank quantile `q` (0 < q ≤ 1); 0 when nothing was timed.
    fn at(&self, q: f64) -> u64 {
        let rank = ((self.0.len() as f64 * q).ceil() as usize).saturating_sub(1);
        self.0.get(rank).copied().unwrap_or(0)
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
        assert!(floor.append_p50_us <= floor.append_p99_us);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn percentiles_are_nearest_rank_over_sorted_timings() {
        let timings = Percentiles::of(vec![50, 10, 40, 20, 30]);
        assert_eq!(
            [
                timings.at(0.2),
                timings.at(0.5),
                timings.at(0.99),
                timings.at(1.0)
            ],
            [10, 30, 50, 50]
        );
        assert_eq!(Percentiles::of(Vec::new()).at(0.5), 0);
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        let error = FsyncFloor::measure(&gone, 1).unwrap_err();
        assert!(error.to_string().contains("gone"), "{error}");
    }
}
