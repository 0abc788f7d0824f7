//! Token verification: cold (shape, header, Ed25519 signature, claims) and warm (a token
//! this verifier has seen: whole-token match and a time check).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use criterion::{Criterion, criterion_group, criterion_main};
use mandate_auth::{TokenIssuer, TokenKey, TokenRequest, TokenVerifier};
use std::hint::black_box;

const NOW: i64 = 1_800_000_000;

fn tokens(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let key = TokenKey::load_or_create(dir.path()).unwrap();
    let verifier = TokenVerifier::new(
        "https://gw.example",
        "https://gw.example/mcp",
        vec![key.verifier_key()],
    );
    let issuer = TokenIssuer::new(key, "https://gw.example", "https://gw.example/mcp");
    let request = TokenRequest {
        agent: "support-bot".into(),
        mandate: "m_0123456789abcdef".into(),
        mandate_expires_at: NOW + 86_400,
        act: None,
        now: NOW,
        scope: None,
    };
    let token = issuer.issue(&request).unwrap().token;
    c.bench_function("token verify (cold)", |b| {
        b.iter(|| verifier.verify(black_box(&token), NOW).unwrap());
    });
    verifier.verify_remembered(&token, NOW).unwrap();
    c.bench_function("token verify (warm, remembered)", |b| {
        b.iter(|| verifier.verify_remembered(black_box(&token), NOW).unwrap());
    });
}

criterion_group!(benches, tokens);
criterion_main!(benches);
