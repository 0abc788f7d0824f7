//! The end-to-end load generator behind `mandate bench`: how much a governed tool call costs.
//!
//! It sends the same MCP `tools/call` (stateless revision 2026-07-28, one POST per call)
//! three ways, the [`Route`]s: **direct** to the upstream, through **nginx** as a plain
//! reverse proxy (the floor of any HTTP hop; [`Nginx`] runs one from a generated
//! config), and through **Mandate**. [`run_schedule`] interleaves short rounds of the
//! three at each concurrency so that drift on a noisy machine hits all of them alike;
//! [`load`] is one round: N workers on keep-alive connections, a warm-up, then a fixed
//! measured window whose latencies go into an HDR histogram ([`Sample`]). Every answer
//! is checked to be a successful tool result: errors are counted, never timed.
//!
//! [`ProcStats`] samples the serving processes (peak RSS, CPU time) from `/proc`,
//! [`FsyncFloor`] times the durable append every governed call waits for, and
//! [`Report`] puts it all together as a table or JSON. Starting the upstream and the
//! gateway is the caller's job (the `mandate` binary does it in `mandate bench`).

mod error;
mod fsync;
mod load;
mod mcp;
mod nginx;
mod overload;
mod process;
mod report;
mod sample;
mod scale;
mod schedule;
mod table;

pub use error::BenchError;
pub use fsync::FsyncFloor;
pub use load::{LoadSpec, Target, client, load, load_rotating};
pub use mcp::{Failure, FailureClass, ToolCall};
pub use nginx::Nginx;
pub use overload::{OverloadAudit, OverloadReport, OverloadSettings, Phase, PhaseLeg, RssPoint};
pub use process::ProcStats;
pub use report::{AuditCheck, GatewayStats, Machine, Ratio, Report, Run, Settings, Skipped};
pub use sample::Sample;
pub use scale::{ScaleReport, ScaleStep};
pub use schedule::{Leg, Progress, Route, Schedule, run_schedule};
