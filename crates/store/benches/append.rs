//! Durable audit appends on the SQLite store (WAL, synchronous=FULL): one at a time, and
//! 64 at once sharing group commits. Each iteration is one append; criterion reports events/s.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mandate_audit::{AuditEvent, EventKind};
use mandate_core::{Timestamp, ToolClass};
use mandate_store::{SqliteStore, Store};
use std::time::{Duration, Instant};

fn decided() -> AuditEvent {
    let mut e = AuditEvent::new(
        EventKind::Decided,
        Timestamp::from_millis(1_800_000_000_000),
        "gw-1".into(),
    );
    e.tool = Some("crm.lookup_customer".into());
    e.class = Some(ToolClass::Read);
    e.decision = Some("allow".into());
    e.args_digest =
        Some("sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into());
    e
}

/// Appends `total` events from `concurrency` tasks and returns the time taken.
async fn append_many(store: &SqliteStore, total: u64, concurrency: u64) -> Duration {
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|worker| {
            let store = store.clone();
            let share = total / concurrency + u64::from(worker < total % concurrency);
            tokio::spawn(async move {
                for _ in 0..share {
                    store.append(decided()).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    started.elapsed()
}

fn appends(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // Not tmpfs: the data directory's disk, where fsync costs what it costs in production.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let store = SqliteStore::open(&dir.path().join("bench.db")).unwrap();
    let mut group = c.benchmark_group("durable append");
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    for concurrency in [1, 64] {
        group.bench_function(format!("{concurrency} concurrent writers"), |b| {
            b.iter_custom(|iters| {
                runtime.block_on(append_many(&store, iters, concurrency.min(iters.max(1))))
            });
        });
    }
    group.finish();
    let stats = store.write_stats();
    eprintln!(
        "group commit: {} appends in {} commits ({:.1} per fsync)",
        stats.writes,
        stats.groups,
        stats.writes as f64 / stats.groups.max(1) as f64
    );
}

criterion_group!(benches, appends);
criterion_main!(benches);
