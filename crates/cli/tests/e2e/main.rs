//! Whole-binary tests: the real `mandate` binary, the real demo upstream, real MCP clients.
//!
//! One test binary (modules below) so the suite links once.

// Helpers outside `#[test]` functions are test code too: failing loudly is their job.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod oauth_support;
mod oidc_support;
mod support;

mod approvals;
mod audit_tamper;
mod bad_input;
mod bench;
mod checkpoints;
mod conformance;
mod connect;
mod connect_oauth;
mod delegation;
mod direct_call;
mod durability;
mod everything;
mod export;
mod governed_call;
mod interop;
mod oauth;
mod oauth_attacks;
mod oidc;
mod operator;
mod otel;
mod robustness;
mod sensitivity;
mod token_exchange;
mod tokens;
mod tool_pins;
mod upstream_direct;
