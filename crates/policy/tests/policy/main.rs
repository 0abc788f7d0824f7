//! Tests of the policy layer through its public API, with real Cedar and
//! real policy files in temporary folders.

mod cost;
mod decisions;
mod fixtures;
mod loading;
mod properties;
