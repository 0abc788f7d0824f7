//! Tests of the policy layer through its public API, with real Cedar and
//! real policy files in temporary folders.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test fixtures fail loudly; clippy's test allowances cover only #[test] functions"
)]

mod support;

mod cost;
mod decisions;
mod loading;
mod properties;
