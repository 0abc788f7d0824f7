//! `mandate bench`: the same MCP tool call measured direct, through nginx and through Mandate.
//!
//! Starts the demo upstream, nginx (when installed) and a real gateway with durable audit,
//! each from this executable or the system; interleaves rounds of the three paths at each
//! concurrency; then checks that every successful call through Mandate left its decision
//! in the audit log. Build with `--release`: debug figures are not worth reading.

mod overload;
mod scale;
mod stack;

use anyhow::{Context as _, bail};
use mandate_bench::{
    FsyncFloor, GatewayStats, Leg, Machine, Nginx, ProcStats, Progress, Report, Route, Schedule,
    Settings, Skipped, Target, ToolCall, run_schedule,
};
use stack::{Gateway, UPSTREAM, Upstream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The demo's read tool: no arguments, about 1 KiB of text back.
const TOOL: &str = "get_report";

/// Durable appends timed for the durability floor (about half a second on a slow disk).
const FSYNC_SAMPLES: u32 = 200;

/// Arguments of `mandate bench`. It makes its own upstream, gateway and data dir:
/// `--config` and `--data-dir` are not used.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Shorter rounds: the whole run takes under 5 minutes on 2 cores (about 10 otherwise).
    #[arg(long)]
    quick: bool,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Concurrency levels (workers, one call in flight each), comma-separated.
    #[arg(
        long,
        value_name = "N,…",
        value_delimiter = ',',
        default_value = "1,8,64,256"
    )]
    concurrency: Vec<usize>,
    /// Rounds of each path per level [default: 3 with --quick, else 5].
    #[arg(long, value_name = "N")]
    rounds: Option<u32>,
    /// Measured milliseconds per round [default: 2000 with --quick, else 6000].
    #[arg(long, value_name = "MS")]
    round_ms: Option<u64>,
    /// Untimed warm-up milliseconds per round [default: 500 with --quick, else 1000].
    #[arg(long, value_name = "MS")]
    warmup_ms: Option<u64>,
    /// Leave nginx out even when it is installed.
    #[arg(long)]
    no_nginx: bool,
    /// Scale mode: seed 1,000, 10,000 and 100,000 mandates over 1,000 agents and load the
    /// gateway at each step (1,000 and 100,000 with --quick).
    #[arg(long)]
    scale: bool,
    /// Scale mode: mandates per step, comma-separated.
    #[arg(long, value_name = "N,…", value_delimiter = ',', hide = true)]
    scale_steps: Vec<u64>,
    /// Scale mode: agents the mandates are spread over.
    #[arg(long, value_name = "N", default_value_t = 1000, hide = true)]
    agents: u64,
    /// Scale mode: measured seconds per step [default: 10 with --quick, else 60].
    #[arg(long, value_name = "S", hide = true)]
    scale_secs: Option<u64>,
    /// Overload mode: baseline, ten times `max_in_flight` workers, recovery, then an
    /// upstream that hangs and one that is dead, with the gateway's memory over time.
    #[arg(long, conflicts_with = "scale")]
    overload: bool,
    /// Overload mode: seconds per phase [default: 5 with --quick, else 15].
    #[arg(long, value_name = "S", hide = true)]
    phase_secs: Option<u64>,
}

impl Args {
    /// The schedule, and its name in the report.
    fn schedule(&self) -> anyhow::Result<(Schedule, &'static str)> {
        if self.concurrency.is_empty() || self.concurrency.contains(&0) {
            bail!("--concurrency: every level must be at least 1");
        }
        let mut schedule = if self.quick {
            Schedule::quick()
        } else {
            Schedule::full()
        };
        let custom = self.rounds.is_some() || self.round_ms.is_some() || self.warmup_ms.is_some();
        schedule.concurrency.clone_from(&self.concurrency);
        schedule.rounds = self.rounds.unwrap_or(schedule.rounds).max(1);
        schedule.round = self.round_ms.map_or(schedule.round, Duration::from_millis);
        schedule.warmup = self
            .warmup_ms
            .map_or(schedule.warmup, Duration::from_millis);
        let mode = match (custom, self.quick) {
            (true, _) => "custom",
            (false, true) => "quick",
            (false, false) => "full",
        };
        Ok((schedule, mode))
    }
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.scale {
        return run_scale(&args).await;
    }
    if args.overload {
        return run_overload(&args).await;
    }
    let (schedule, mode) = args.schedule()?;
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; for real figures run it from `cargo run --release`");
    }
    let exe = std::env::current_exe().context("cannot find the running executable")?;
    let upstream = Upstream::start(&exe).await?;
    let mut skipped = Vec::new();
    let nginx = start_nginx(&args, &upstream, &mut skipped).await;
    let mut gateway = Gateway::start(&exe, &upstream.url()).await?;
    let token = gateway.grant(&format!("{UPSTREAM}.{TOOL}")).await?;
    // Before the load, so that nothing else is writing to the disk.
    let durability_floor = FsyncFloor::measure(&gateway.data_dir(), FSYNC_SAMPLES)?;
    let legs = legs(&upstream, nginx.as_ref(), &gateway, token);
    eprintln!(
        "mandate bench: {} paths × levels {:?} × {} rounds; about {} s of load",
        legs.len(),
        schedule.concurrency,
        schedule.rounds,
        schedule.load_time(legs.len()).as_secs()
    );
    let runs = run_schedule(&legs, &schedule, print_progress).await?;

    // The gateway's memory before it stops; its log checked after, when all is written.
    let gateway_stats = gateway.pid().map(ProcStats::read).transpose()?;
    gateway.stop().await?;
    let nginx_version = nginx.as_ref().map(|n| n.version().to_owned());
    drop(nginx);
    let mut report = Report::new(
        runs,
        Machine::detect(nginx_version),
        Settings::new(mode, &schedule, TOOL),
    );
    let successful: u64 = report
        .runs_of(Route::Mandate)
        .map(mandate_bench::Run::successful_calls)
        .sum();
    report.audit = Some(gateway.audit_check(successful).await?);
    report.durability_floor = Some(durability_floor);
    report.gateway = gateway_stats.map(|stats| GatewayStats::new(stats, &report.runs));
    report.skipped = skipped;

    print!("{}", report.table());
    if let Some(path) = &args.json {
        std::fs::write(path, report.to_json()? + "\n")
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(verdict(&report))
}

/// `mandate bench --scale`: the scale curve, at the first `--concurrency` level given
/// (64 unless one is).
async fn run_scale(args: &Args) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; for real figures run it from `cargo run --release`");
    }
    let steps = match (args.scale_steps.is_empty(), args.quick) {
        (false, _) => args.scale_steps.clone(),
        (true, true) => vec![1_000, 100_000],
        (true, false) => vec![1_000, 10_000, 100_000],
    };
    let concurrency = match args.concurrency.as_slice() {
        [1, 8, 64, 256] => 64,
        [first, ..] => (*first).max(1),
        [] => 64,
    };
    let secs = args.scale_secs.unwrap_or(if args.quick { 10 } else { 60 });
    let plan = scale::Plan {
        steps,
        agents: args.agents,
        concurrency,
        warmup: Duration::from_millis(args.warmup_ms.unwrap_or(1000)),
        duration: Duration::from_secs(secs.max(1)),
    };
    let exe = std::env::current_exe().context("cannot find the running executable")?;
    let upstream = Upstream::start(&exe).await?;
    eprintln!(
        "mandate bench --scale: steps {:?} over {} agents, c={}, {} s each",
        plan.steps, plan.agents, plan.concurrency, secs
    );
    let report = scale::run(&exe, &upstream.url(), TOOL, &plan).await?;
    print!("{}", report.table());
    if let Some(path) = &args.json {
        std::fs::write(path, report.to_json()? + "\n")
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    let failed: u64 = report.scale.iter().map(|s| s.errors).sum();
    if failed > 0 {
        eprintln!("error: {failed} calls failed (see the first errors above)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `mandate bench --overload`: see [`overload`].
async fn run_overload(args: &Args) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; for real figures run it from `cargo run --release`");
    }
    let secs = args.phase_secs.unwrap_or(if args.quick { 5 } else { 15 });
    eprintln!("mandate bench --overload: 5 phases of {secs} s");
    let exe = std::env::current_exe().context("cannot find the running executable")?;
    let (report, verdict) = overload::run(&exe, TOOL, secs).await?;
    print!("{}", report.table());
    if let Some(path) = &args.json {
        std::fs::write(path, report.to_json()? + "\n")
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(verdict)
}

/// nginx in front of the upstream, or a note saying why that path is skipped.
async fn start_nginx(
    args: &Args,
    upstream: &Upstream,
    skipped: &mut Vec<Skipped>,
) -> Option<Nginx> {
    let mut skip = |reason: String| {
        eprintln!("note: skipping the nginx path: {reason}");
        skipped.push(Skipped {
            path: Route::Nginx,
            reason,
        });
    };
    if args.no_nginx {
        skip("--no-nginx".to_owned());
        return None;
    }
    let Some(program) = Nginx::find() else {
        skip(
            "nginx not found on PATH or at /usr/sbin/nginx; install it with scripts/bench-setup"
                .to_owned(),
        );
        return None;
    };
    match Nginx::start(&program, upstream.addr).await {
        Ok(nginx) => Some(nginx),
        Err(e) => {
            skip(format!("{:#}", anyhow::Error::from(e)));
            None
        }
    }
}

/// The paths in the order each round visits them: direct → nginx → mandate.
fn legs(upstream: &Upstream, nginx: Option<&Nginx>, gateway: &Gateway, token: String) -> Vec<Leg> {
    let direct = Leg {
        route: Route::Direct,
        target: Target {
            url: upstream.url(),
            bearer: None,
            call: ToolCall::new(TOOL),
        },
        server_pids: upstream.pid().into_iter().collect(),
    };
    let proxied = nginx.map(|nginx| Leg {
        route: Route::Nginx,
        target: Target {
            url: nginx.url(mandate_demo::MCP_PATH),
            bearer: None,
            call: ToolCall::new(TOOL),
        },
        server_pids: nginx.pids(),
    });
    let governed = Leg {
        route: Route::Mandate,
        target: Target {
            url: gateway.url(),
            bearer: Some(token),
            call: ToolCall::new(&format!("{UPSTREAM}.{TOOL}")),
        },
        server_pids: gateway.pid().into_iter().collect(),
    };
    [Some(direct), proxied, Some(governed)]
        .into_iter()
        .flatten()
        .collect()
}

/// One stderr line per round: which path, level and round, then what it measured.
fn print_progress(progress: Progress<'_>) {
    match progress {
        Progress::Start {
            route,
            concurrency,
            round,
            rounds,
        } => eprint!("  c={concurrency:<4} round {round}/{rounds}  {route:<8}"),
        Progress::Done { sample } => eprintln!(
            "{:>9.0} rps  p50 {:>6} µs  p99 {:>6} µs  {} errors",
            sample.rps(),
            sample.quantile_us(0.5),
            sample.quantile_us(0.99),
            sample.errors + sample.warmup_errors
        ),
    }
}

/// Success only if no call failed and the audit log holds exactly one decision per
/// successful call through Mandate and verifies.
fn verdict(report: &Report) -> ExitCode {
    let mut problems = Vec::new();
    let errors: u64 = report.runs.iter().map(|r| r.errors + r.warmup_errors).sum();
    if errors > 0 {
        problems.push(format!(
            "{errors} calls failed (see the first errors above)"
        ));
    }
    if let Some(audit) = &report.audit {
        if !audit.matches {
            problems.push(format!(
                "the audit log holds {} allow decisions for {} successful calls through Mandate",
                audit.decided_allow, audit.successful_mandate_calls
            ));
        }
        if !audit.verified {
            problems.push(format!(
                "`mandate audit verify` failed: {}",
                audit.verify_output
            ));
        }
    }
    exit_with(problems)
}

/// Success when there is no problem; otherwise each is printed and the run fails.
fn exit_with(problems: Vec<String>) -> ExitCode {
    if problems.is_empty() {
        return ExitCode::SUCCESS;
    }
    for problem in problems {
        eprintln!("error: {problem}");
    }
    ExitCode::FAILURE
}
