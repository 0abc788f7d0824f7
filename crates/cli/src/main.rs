//! `mandate`: the command-line face of the Mandate gateway.
//!
//! One file per subcommand under `command/`; this file only parses, sets up
//! logging, runs the chosen command and turns its outcome into an exit code.

mod command;
mod context;
mod output;
mod scope_args;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: under load the gateway spent about a fifth of its
/// CPU in glibc's malloc and free (arena locks, `malloc_consolidate`); see
/// `docs/performance.md`, "The allocator".
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Mandate: every AI agent's tool call traceable to a human's recorded delegation.
#[derive(Debug, Parser)]
#[command(name = "mandate", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: context::GlobalArgs,
    #[command(subcommand)]
    command: command::Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.command);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(command::run(cli.command, cli.global)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr (stdout may be an MCP channel); `RUST_LOG` overrides the level.
fn init_tracing(command: &command::Command) {
    let default = if command.is_quiet() {
        "warn,rmcp=off"
    } else {
        "info,rmcp=warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
