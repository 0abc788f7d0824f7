//! Whole-binary tests: the real `mandate` binary, the real demo upstream, real MCP clients.
//!
//! One test binary (modules below) so the suite links once.

mod support;

mod audit_tamper;
mod bad_input;
mod delegation;
mod governed_call;
mod tokens;
