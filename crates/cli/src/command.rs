//! The subcommands, one module each, and the dispatch between them.
//!
//! Each module holds its clap arguments and a `run` that returns an exit code.

mod agents;
mod approvals;
mod audit;
mod bench;
mod connect;
mod delegate;
mod demo;
mod demo_upstream;
mod grant;
mod keys;
mod mandates;
mod revoke;
mod serve;
mod token;
mod tools;
mod users;

use crate::context::GlobalArgs;
use std::process::ExitCode;

/// What `mandate` can do.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run the gateway: MCP over streamable HTTP at `/mcp`.
    Serve(serve::Args),
    /// Run a short, self-contained demonstration on the embedded default.
    Demo(demo::Args),
    /// Print the tool catalog grouped by blast radius.
    Tools(tools::Args),
    /// Register and list agents.
    #[command(subcommand)]
    Agents(agents::Command),
    /// Grant a mandate from a human to an agent, and print its token.
    Grant(grant::Args),
    /// Hand a narrower mandate from an existing one to another agent.
    Delegate(delegate::Args),
    /// Issue a fresh access token for a mandate.
    Token(token::Args),
    /// Revoke a mandate and its whole subtree.
    Revoke(revoke::Args),
    /// List, show, approve and deny calls held for a human's approval.
    #[command(subcommand)]
    Approvals(approvals::Command),
    /// Add and list the local users who sign in to approve agents (OAuth consent).
    #[command(subcommand)]
    Users(users::Command),
    /// List mandates and draw delegation trees.
    #[command(subcommand)]
    Mandates(mandates::Command),
    /// Show the gateway's public keys.
    #[command(subcommand)]
    Keys(keys::Command),
    /// Read and verify the audit log.
    #[command(subcommand)]
    Audit(audit::Command),
    /// Measure Mandate against direct calls and nginx.
    Bench(bench::Args),
    /// Bridge a local stdio MCP client (a desktop agent) to a remote Mandate gateway.
    Connect(connect::Args),
    /// The demo upstream MCP server (used by `mandate demo` and tests).
    #[command(hide = true)]
    DemoUpstream(demo_upstream::Args),
}

impl Command {
    /// Commands whose stdout is a protocol or a script's input log less.
    pub fn is_quiet(&self) -> bool {
        !matches!(self, Command::Serve(_))
    }
}

/// Runs a subcommand.
pub async fn run(command: Command, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(args) => serve::run(args, &global).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Tools(args) => tools::run(args, &global).await,
        Command::Agents(cmd) => agents::run(cmd, &global).await,
        Command::Grant(args) => grant::run(args, &global).await,
        Command::Delegate(args) => delegate::run(args, &global).await,
        Command::Token(args) => token::run(args, &global).await,
        Command::Revoke(args) => revoke::run(args, &global).await,
        Command::Users(cmd) => users::run(cmd, &global).await,
        Command::Mandates(cmd) => mandates::run(cmd, &global).await,
        Command::Approvals(cmd) => approvals::run(cmd, &global).await,
        Command::Audit(cmd) => audit::run(cmd, &global).await,
        Command::Keys(cmd) => keys::run(cmd, &global).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Connect(args) => connect::run(args).await,
        Command::DemoUpstream(args) => demo_upstream::run(args).await,
    }
}
