//! The audit log's own work: sealing an event (canonical JSON + hash chain), a Merkle
//! checkpoint (tree update, root, Ed25519 signed note), and `verify` per event.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mandate_audit::{
    AuditEvent, Checkpoint, EventKind, MerkleLog, NoteSigner, StoredEvent, leaf_hash, verify,
};
use mandate_core::{Timestamp, ToolClass};
use std::hint::black_box;

/// A decision event as the gateway writes it for a read call.
fn decided(i: u64) -> AuditEvent {
    let mut e = AuditEvent::new(
        EventKind::Decided,
        Timestamp::from_millis(1_800_000_000_000 + i as i64),
        "gw-1".into(),
    );
    e.session = Some("0123456789abcdef0123456789abcdef".into());
    e.tool = Some("crm.lookup_customer".into());
    e.class = Some(ToolClass::Read);
    e.decision = Some("allow".into());
    e.args_digest =
        Some("sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into());
    e
}

fn sealed(n: u64) -> Vec<StoredEvent> {
    let mut out: Vec<StoredEvent> = Vec::new();
    for i in 0..n {
        let prev = out.last().map(|e| (e.seq, e.hash));
        out.push(StoredEvent::after(prev, &decided(i)).unwrap());
    }
    out
}

fn log(c: &mut Criterion) {
    let event = decided(0);
    let first = StoredEvent::after(None, &event).unwrap();
    c.bench_function("seal one event (in memory)", |b| {
        b.iter(|| {
            StoredEvent::after(black_box(Some((first.seq, first.hash))), black_box(&event)).unwrap()
        });
    });

    let events = sealed(10_000);
    let head = events.last().map(|e| (e.seq, e.hash));
    let mut group = c.benchmark_group("audit verify");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("10,000 events", |b| {
        b.iter(|| verify(black_box(events.clone()), head).unwrap());
    });
    group.finish();

    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let signer = NoteSigner::new("gw.example/gw-1", key);
    let mut tree = MerkleLog::new();
    for e in &events {
        tree.push_leaf_hash(leaf_hash(&e.canonical));
    }
    let mut group = c.benchmark_group("merkle checkpoint");
    group.throughput(Throughput::Elements(1_000));
    group.bench_function("1,000 new events onto 10,000, root, signed note", |b| {
        b.iter(|| {
            let mut tree = tree.clone();
            for e in &events[..1_000] {
                tree.push_leaf_hash(leaf_hash(&e.canonical));
            }
            signer.sign(&Checkpoint {
                origin: "gw.example/gw-1".into(),
                size: tree.len(),
                root: tree.root(),
                time: 1_800_000_000,
            })
        });
    });
    group.finish();
}

criterion_group!(benches, log);
criterion_main!(benches);
