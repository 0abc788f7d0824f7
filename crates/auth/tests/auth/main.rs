//! Integration tests for `mandate-auth`: real Ed25519 keys, real files, and
//! tokens forged by hand the way an attacker would.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test fixtures fail loudly; clippy's test allowances cover only #[test] functions"
)]

mod support;

mod adversarial;
mod key_file;
mod properties;
mod remembered;
mod round_trip;
