//! The interleaved schedule: at each concurrency, several short rounds rotating
//! direct → nginx → mandate, so drift on a noisy machine hits every path alike.

use crate::{BenchError, LoadSpec, ProcStats, Run, Sample, Target, client, load};
use serde::Serialize;
use std::time::Duration;

/// A way to reach the upstream; the JSON report calls it `path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    /// Straight to the upstream's `/mcp`.
    Direct,
    /// Through nginx as a plain reverse proxy.
    Nginx,
    /// Through the Mandate gateway, with a real token and durable audit.
    Mandate,
}

impl Route {
    /// The lowercase name used in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Route::Direct => "direct",
            Route::Nginx => "nginx",
            Route::Mandate => "mandate",
        }
    }
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// One path to measure: where to send calls, and which processes serve them there
/// (sampled for CPU time per call: the upstream for direct, nginx's master and
/// workers, the gateway).
#[derive(Debug, Clone)]
pub struct Leg {
    /// Which path this is.
    pub route: Route,
    /// Its endpoint and credentials.
    pub target: Target,
    /// The processes whose CPU time this path's calls cost.
    pub server_pids: Vec<u32>,
}

/// Concurrency levels, rounds per level and the length of each round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Workers per round, one level after the other.
    pub concurrency: Vec<usize>,
    /// Rounds of every path at each level.
    pub rounds: u32,
    /// Untimed calls at the start of each round.
    pub warmup: Duration,
    /// The measured window of each round.
    pub round: Duration,
}

impl Schedule {
    /// The levels the issue asks for.
    pub const LEVELS: [usize; 4] = [1, 8, 64, 256];

    /// About 90 s of load for three paths at four levels: under 5 minutes on 2 cores
    /// with start-up and the audit check.
    pub fn quick() -> Self {
        Self {
            concurrency: Self::LEVELS.to_vec(),
            rounds: 3,
            warmup: Duration::from_millis(500),
            round: Duration::from_secs(2),
        }
    }

    /// About 7 minutes of load for three paths at four levels.
    pub fn full() -> Self {
        Self {
            concurrency: Self::LEVELS.to_vec(),
            rounds: 5,
            warmup: Duration::from_secs(1),
            round: Duration::from_secs(6),
        }
    }

    /// How long the load itself takes for `paths` paths.
    pub fn load_time(&self, paths: usize) -> Duration {
        let per_round = self.warmup + self.round;
        let rounds = u32::try_from(self.concurrency.len() * paths).unwrap_or(u32::MAX);
        per_round * rounds.saturating_mul(self.rounds)
    }
}

/// Where the schedule is, for a progress line.
#[derive(Debug)]
pub enum Progress<'a> {
    /// A round is starting.
    Start {
        /// The path.
        route: Route,
        /// Workers.
        concurrency: usize,
        /// This round, from 1.
        round: u32,
        /// Rounds at this level.
        rounds: u32,
    },
    /// The round that last started has finished.
    Done {
        /// What it measured.
        sample: &'a Sample,
    },
}

/// Runs every leg at every level, interleaved, and returns one [`Run`] per leg and level
/// (level by level, legs in the order given). Each leg keeps its own connection pool
/// for the whole schedule.
pub async fn run_schedule(
    legs: &[Leg],
    schedule: &Schedule,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<Vec<Run>, BenchError> {
    let most = schedule.concurrency.iter().copied().max().unwrap_or(1);
    let clients = legs
        .iter()
        .map(|_| client(most))
        .collect::<Result<Vec<_>, _>>()?;
    let mut runs = Vec::new();
    for &concurrency in &schedule.concurrency {
        let spec = LoadSpec {
            concurrency,
            warmup: schedule.warmup,
            duration: schedule.round,
        };
        let mut merged = legs
            .iter()
            .map(|_| Ok((Sample::new()?, Some(Duration::ZERO))))
            .collect::<Result<Vec<_>, BenchError>>()?;
        for round in 1..=schedule.rounds {
            for ((leg, client), (total, cpu)) in legs.iter().zip(&clients).zip(&mut merged) {
                progress(Progress::Start {
                    route: leg.route,
                    concurrency,
                    round,
                    rounds: schedule.rounds,
                });
                let before = ProcStats::cpu_of(&leg.server_pids);
                let sample = load(client, &leg.target, spec).await?;
                let after = ProcStats::cpu_of(&leg.server_pids);
                // A process that went away mid-round leaves the path without a CPU figure.
                *cpu = match (*cpu, before, after) {
                    (Some(sum), Ok(before), Ok(after)) => Some(sum + after.saturating_sub(before)),
                    _ => None,
                };
                progress(Progress::Done { sample: &sample });
                total.merge(&sample)?;
            }
        }
        for (leg, (total, cpu)) in legs.iter().zip(merged) {
            runs.push(Run::new(leg.route, concurrency, &total, cpu));
        }
    }
    Ok(runs)
}
