//! `mandate revoke`: end a mandate and everything delegated below it.
//!
//! Takes effect on the very next call, even on a gateway running in another process.

use crate::context::GlobalArgs;
use mandate_core::MandateId;
use std::process::ExitCode;

/// Arguments of `mandate revoke`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The mandate to revoke.
    id: String,
    /// Who revokes it.
    #[arg(long)]
    by: String,
    /// Why.
    #[arg(long)]
    reason: String,
}

pub async fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let gateway = global.open()?;
    let id = MandateId::new(args.id)?;
    let outcome = gateway.revoke(&id, &args.by, &args.reason).await?;
    println!("revoked mandate {id} (audit event #{})", outcome.seq);
    if !outcome.descendants.is_empty() {
        println!(
            "  and with it {} delegated mandate(s) below it:",
            outcome.descendants.len()
        );
        for d in &outcome.descendants {
            println!("    {d}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
