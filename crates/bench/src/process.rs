//! Sampling a serving process from `/proc`: peak and current RSS (`status`), CPU time
//! (`utime + stime` in `stat`, every thread included), and a process's children.

use crate::BenchError;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

/// What `/proc` says about one process at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStats {
    /// The most resident memory it ever had (`VmHWM`), in KiB.
    pub peak_rss_kib: u64,
    /// Its resident memory now (`VmRSS`), in KiB.
    pub rss_kib: u64,
    /// User plus system CPU time of all its threads so far.
    pub cpu: Duration,
}

impl ProcStats {
    /// Reads process `pid`'s memory and CPU time.
    pub fn read(pid: u32) -> Result<Self, BenchError> {
        let status_path = proc_path(pid, "status");
        let status = read(&status_path)?;
        let kib = |field: &'static str| {
            status_kib(&status, field).ok_or_else(|| BenchError::ProcField {
                path: status_path.clone(),
                field,
            })
        };
        Ok(Self {
            peak_rss_kib: kib("VmHWM")?,
            rss_kib: kib("VmRSS")?,
            cpu: cpu_time(pid)?,
        })
    }

    /// The CPU time of several processes added up (e.g. nginx's workers).
    pub fn cpu_of(pids: &[u32]) -> Result<Duration, BenchError> {
        pids.iter().map(|&pid| cpu_time(pid)).sum()
    }

    /// The processes whose parent is `pid` (e.g. nginx's workers under its master).
    pub fn children(pid: u32) -> Vec<u32> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&child| {
                read(&proc_path(child, "stat"))
                    .ok()
                    .and_then(|stat| stat_field(&stat, 4))
                    == Some(u64::from(pid))
            })
            .collect()
    }
}

/// `utime + stime` of process `pid`, converted from clock ticks.
fn cpu_time(pid: u32) -> Result<Duration, BenchError> {
    let path = proc_path(pid, "stat");
    let stat = read(&path)?;
    let field = |n, name| {
        stat_field(&stat, n).ok_or_else(|| BenchError::ProcField {
            path: path.clone(),
            field: name,
        })
    };
    let ticks = field(14, "utime")? + field(15, "stime")?;
    let nanos = u128::from(ticks) * 1_000_000_000 / u128::from(clock_ticks());
    Ok(Duration::from_nanos(
        u64::try_from(nanos).unwrap_or(u64::MAX),
    ))
}

/// Field `n` (1-based, as `proc(5)` numbers them) of a `/proc/PID/stat` line. The
/// command name (field 2) may hold spaces and parentheses, so fields are counted from
/// the last `)`.
fn stat_field(stat: &str, n: usize) -> Option<u64> {
    let after_name = stat.rsplit_once(')')?.1;
    after_name
        .split_whitespace()
        .nth(n.checked_sub(3)?)?
        .parse()
        .ok()
}

/// A `Name:   1234 kB` line of `/proc/PID/status`, in KiB.
fn status_kib(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(':')?;
        value.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux in practice).
fn clock_ticks() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok()?.trim().parse().ok())
            .filter(|&ticks| ticks > 0)
            .unwrap_or(100)
    })
}

fn proc_path(pid: u32, file: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/{file}"))
}

fn read(path: &PathBuf) -> Result<String, BenchError> {
    std::fs::read_to_string(path).map_err(|source| BenchError::Read {
        path: path.clone(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_past_a_name_with_spaces_and_parens() {
        let stat = "42 (tokio (rt) w) S 7 42 42 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 3";
        assert_eq!(stat_field(stat, 4), Some(7));
        assert_eq!(stat_field(stat, 14), Some(250));
        assert_eq!(stat_field(stat, 15), Some(31));
    }

    #[test]
    fn status_lines_give_kib() {
        let status = "Name:\tmandate\nVmHWM:\t   20480 kB\nVmRSS:\t   18000 kB\n";
        assert_eq!(status_kib(status, "VmHWM"), Some(20_480));
        assert_eq!(status_kib(status, "VmRSS"), Some(18_000));
        assert_eq!(status_kib(status, "VmSwap"), None);
    }

    #[test]
    fn this_process_can_be_sampled() -> Result<(), BenchError> {
        let stats = ProcStats::read(std::process::id())?;
        assert!(stats.peak_rss_kib >= stats.rss_kib && stats.rss_kib > 0);
        Ok(())
    }
}
