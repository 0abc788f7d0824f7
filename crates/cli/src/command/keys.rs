//! `mandate keys show`: the public halves of the gateway's keys, for verifiers elsewhere.
//!
//! Tokens: the Ed25519 key id and public key; audit checkpoints: the signed-note verifier key.

use crate::context::GlobalArgs;
use crate::output;
use std::process::ExitCode;

/// `mandate keys …`
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the public keys.
    Show {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: Command, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let Command::Show { json } = command;
    let gateway = global.open()?;
    let token_key = mandate_auth::TokenKey::load_or_create(&global.data_dir.join("keys"))?;
    let checkpoint_key = gateway.checkpointer.verifier().vkey();
    let token_public = hex_of(&token_key.public_key_bytes());
    if json {
        output::json(&serde_json::json!({
            "token": { "kid": token_key.kid(), "alg": "EdDSA", "public_key_hex": token_public },
            "audit_checkpoint": { "vkey": checkpoint_key },
        }))?;
    } else {
        println!(
            "access tokens      EdDSA kid {} public key {token_public}",
            token_key.kid()
        );
        println!("audit checkpoints  {checkpoint_key}");
        println!(
            "\ncheck a proof offline: mandate audit check-proof proof.json --key '{checkpoint_key}'"
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
