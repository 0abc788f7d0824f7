//! `mandate bench --scale`: the governed call with 1,000 → 100,000 mandates in the store.
//!
//! For each step a fresh data dir is seeded through the governance API (the same
//! `Gateway::grant` that `mandate grant` runs, audit events and all), spread over many
//! agents with one token kept per agent; then a real `mandate serve` is started on it and
//! loaded with calls rotating over those tokens, so every agent is active. Per step it
//! reports throughput, latency, the audit events written per second and the gateway's RSS.

use super::stack::{Gateway, UPSTREAM};
use anyhow::{Context as _, bail};
use mandate_bench::{
    LoadSpec, ProcStats, ScaleReport, ScaleStep, Target, ToolCall, client, load_rotating,
};
use mandate_core::{Agent, AgentId, HumanId, Owner, OwnerRole, ToolClass, ToolPattern};
use mandate_gateway::config::GatewayConfig;
use mandate_gateway::governance::GrantRequest;
use mandate_store::{SqliteStore, Store as _};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tasks granting at once while seeding, so the store's group commit batches them.
const SEED_TASKS: usize = 64;

/// What one scale run does.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Mandates in the store, one step each.
    pub steps: Vec<u64>,
    /// Agents the mandates are spread over (each gets at least one).
    pub agents: u64,
    /// Workers during the load.
    pub concurrency: usize,
    /// Untimed warm-up before each measured window.
    pub warmup: Duration,
    /// The measured window of each step.
    pub duration: Duration,
}

/// Runs every step against the upstream at `upstream_url`; `tool` is its bare tool name.
pub async fn run(
    exe: &Path,
    upstream_url: &str,
    tool: &str,
    plan: &Plan,
) -> anyhow::Result<ScaleReport> {
    if plan.agents == 0 || plan.steps.contains(&0) {
        bail!("--agents and every --scale-steps value must be at least 1");
    }
    let mut report = ScaleReport::default();
    for &mandates in &plan.steps {
        let step = run_step(exe, upstream_url, tool, plan, mandates).await?;
        eprintln!(
            "  {mandates} mandates: {:.0} rps, p50 {} µs, p99 {} µs, {:.0} events/s, \
             peak RSS {:.1} MiB, {} errors",
            step.rps,
            step.p50_us,
            step.p99_us,
            step.events_per_s,
            step.peak_rss_kib as f64 / 1024.0,
            step.errors
        );
        report.scale.push(step);
    }
    Ok(report)
}

async fn run_step(
    exe: &Path,
    upstream_url: &str,
    tool: &str,
    plan: &Plan,
    mandates: u64,
) -> anyhow::Result<ScaleStep> {
    let agents = plan.agents.min(mandates);
    let qualified = format!("{UPSTREAM}.{tool}");
    let mut gateway = Gateway::prepare(exe, upstream_url)?;
    let seed_started = Instant::now();
    let (tokens, head_before) = seed(&gateway, &qualified, mandates, agents).await?;
    let seed_s = seed_started.elapsed().as_secs_f64();

    gateway.launch().await?;
    let pid = gateway.pid().context("`mandate serve` has no process id")?;
    let idle = ProcStats::read(pid)?;
    let target = Target {
        url: gateway.url(),
        bearer: None,
        call: ToolCall::new(&qualified),
    };
    let spec = LoadSpec {
        concurrency: plan.concurrency,
        warmup: plan.warmup,
        duration: plan.duration,
    };
    eprintln!(
        "  {mandates} mandates: loading at c={} for {} s over {} agents' tokens",
        plan.concurrency,
        (plan.warmup + plan.duration).as_secs(),
        tokens.len()
    );
    let http = client(plan.concurrency)?;
    let (stop_sampling, stopped) = tokio::sync::oneshot::channel();
    let sampler = tokio::spawn(sample_rss(pid, stopped));
    let load_started = Instant::now();
    let sample = load_rotating(&http, &target, &tokens, spec).await?;
    let load_s = load_started.elapsed().as_secs_f64();
    let _ = stop_sampling.send(());
    let rss_kib_per_s = sampler.await.context("the RSS sampler stopped")?;
    let stats = ProcStats::read(pid)?;
    gateway.stop().await?;
    if let Some(reason) = &sample.first_error {
        eprintln!("  first error: {reason}");
    }

    let store = SqliteStore::open(&gateway.data_dir().join("mandate.db"))?;
    let head_after = store.audit_head().await?.map_or(0, |(seq, _)| seq);
    let events = head_after.saturating_sub(head_before);
    Ok(ScaleStep {
        mandates,
        agents,
        concurrency: plan.concurrency,
        seed_s,
        calls: sample.calls(),
        errors: sample.errors + sample.warmup_errors,
        rps: sample.rps(),
        p50_us: sample.quantile_us(0.5),
        p99_us: sample.quantile_us(0.99),
        events,
        events_per_s: if load_s > 0.0 {
            events as f64 / load_s
        } else {
            0.0
        },
        idle_rss_kib: idle.rss_kib,
        peak_rss_kib: stats.peak_rss_kib,
        rss_end_kib: stats.rss_kib,
        rss_kib_per_s,
    })
}

/// The gateway's RSS once a second until told to stop (a read that fails ends it).
async fn sample_rss(pid: u32, mut stop: tokio::sync::oneshot::Receiver<()>) -> Vec<u64> {
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tokio::select! {
            _ = &mut stop => return samples,
            _ = tick.tick() => match ProcStats::read(pid) {
                Ok(stats) => samples.push(stats.rss_kib),
                Err(_) => return samples,
            },
        }
    }
}

/// Registers `agents` agents and grants `mandates` mandates round-robin over them, from
/// `SEED_TASKS` tasks at once. Returns one token per agent and the audit log's head.
async fn seed(
    gateway: &Gateway,
    tool: &str,
    mandates: u64,
    agents: u64,
) -> anyhow::Result<(Vec<String>, u64)> {
    let config = GatewayConfig::load(gateway.config_path())?;
    let (gw, _changes) = mandate_gateway::Gateway::open(config, &gateway.data_dir())?;
    let failures = gw.refresh_catalog().await;
    if let Some(failure) = failures.first() {
        bail!("cannot list the upstream's tools while seeding: {failure}");
    }
    let gw = Arc::new(gw);
    let human = HumanId::new("bench@localhost")?;
    let agent_ids = (0..agents)
        .map(|i| AgentId::new(format!("bench-{i:05}")))
        .collect::<Result<Vec<_>, _>>()?;
    eprintln!("  seeding {mandates} mandates over {agents} agents …");
    for id in &agent_ids {
        let agent = Agent {
            id: id.clone(),
            name: format!("bench agent {id}"),
            owners: vec![Owner {
                role: OwnerRole::Business,
                human: human.clone(),
            }],
            registered_at: mandate_gateway::now(),
        };
        gw.register_agent(agent, "mandate bench --scale").await?;
    }
    let request = GrantRequest {
        human,
        agent: agent_ids.first().context("no agents")?.clone(),
        tools: vec![ToolPattern::new(tool)?],
        ceiling: ToolClass::Read,
        constraints: Vec::new(),
        approvals: Vec::new(),
        lasts: Duration::from_secs(2 * 3600),
        purpose: "mandate bench --scale".to_owned(),
        budget: None,
    };
    let agent_ids = Arc::new(agent_ids);
    let started = Instant::now();
    let tasks: Vec<_> = (0..SEED_TASKS as u64)
        .map(|task| {
            let gw = Arc::clone(&gw);
            let agent_ids = Arc::clone(&agent_ids);
            let request = request.clone();
            tokio::spawn(async move {
                let mut tokens = Vec::new();
                let mut i = task;
                while i < mandates {
                    let index = usize::try_from(i % agents)?;
                    let mut request = request.clone();
                    request.agent = agent_ids.get(index).context("no such agent")?.clone();
                    let (_, token) = gw.grant(request).await?;
                    if i < agents {
                        tokens.push(token.token);
                    }
                    if task == 0 && i % 10_000 < SEED_TASKS as u64 && i > 0 {
                        eprintln!(
                            "    {i}/{mandates} granted ({:.0}/s)",
                            i as f64 / started.elapsed().as_secs_f64()
                        );
                    }
                    i += SEED_TASKS as u64;
                }
                anyhow::Ok(tokens)
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.extend(task.await.context("a seeding task stopped")??);
    }
    gw.store.flush().await?;
    let head = gw.store.audit_head().await?.map_or(0, |(seq, _)| seq);
    eprintln!(
        "  seeded {mandates} mandates in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok((tokens, head))
}
