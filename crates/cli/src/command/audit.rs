//! `mandate audit …`: read the log as people do, export it to security tools, prove it
//! was not edited, and hand out proofs anyone can check offline with the public key.
//!
//! One module per subcommand below `audit/`.

mod export;
mod proof;
mod query;
mod tail;
mod verify;

use crate::context::GlobalArgs;
use std::path::PathBuf;
use std::process::ExitCode;

pub use tail::line;

/// `mandate audit …`
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the latest events readably.
    Tail {
        /// How many of the latest events to print.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: u64,
        /// Keep printing new events as they arrive.
        #[arg(long)]
        follow: bool,
        /// Print JSON Lines instead.
        #[arg(long)]
        json: bool,
    },
    /// Find events: every filter given must match.
    Query(query::QueryArgs),
    /// What did an agent touch: tools, upstreams, counts, labels, bytes.
    Access {
        /// The agent.
        #[arg(long)]
        agent: String,
        /// How far back, e.g. `24h`, `7d` (default: all).
        #[arg(long)]
        since: Option<String>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Write the log as JSON Lines (with each entry's hashes) or OCSF 1.8.0 records.
    Export(export::ExportArgs),
    /// Check the whole log: the hash chain, the Merkle tree, every signed checkpoint.
    Verify {
        /// Also check a checkpoint published outside the gateway (a signed note file).
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// Print an inclusion proof for one event against the latest signed checkpoint.
    Prove {
        /// The event's sequence number.
        seq: u64,
    },
    /// Check a proof printed by `prove`, offline, with only the public key (`mandate keys show`).
    CheckProof {
        /// The proof file (`-` for standard input).
        file: PathBuf,
        /// The checkpoint verifier key, `name+id+key`.
        #[arg(long)]
        key: String,
    },
    /// Prove that the log at NEW events only extends the log at OLD events.
    Consistency {
        /// The older size.
        old: u64,
        /// The newer size.
        new: u64,
    },
}

pub async fn run(command: Command, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    match command {
        Command::Tail {
            lines,
            follow,
            json,
        } => tail::run(global, lines, follow, json).await,
        Command::Query(args) => query::query(global, args).await,
        Command::Access { agent, since, json } => {
            query::access(global, &agent, since.as_deref(), json).await
        }
        Command::Export(args) => export::run(global, args).await,
        Command::Verify { checkpoint } => verify::run(global, checkpoint.as_deref()).await,
        Command::Prove { seq } => proof::prove(global, seq).await,
        Command::CheckProof { file, key } => proof::check(&file, &key),
        Command::Consistency { old, new } => proof::consistency(global, old, new).await,
    }
}
