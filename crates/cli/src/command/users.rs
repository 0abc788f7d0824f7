//! `mandate users add|list`: the local users who sign in to approve agents on the
//! gateway's consent page (passwords kept as argon2id hashes).

use crate::context::GlobalArgs;
use anyhow::Context as _;
use mandate_audit::{AuditEvent, EventKind};
use mandate_auth::password::PasswordHashText;
use mandate_core::HumanId;
use mandate_store::oauth::UserRecord;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `mandate users …`
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Add a local user. The password comes from `--password-file`, else the first line of
    /// standard input, else (on a terminal) a prompt that does not echo.
    Add {
        /// The human's id, e.g. `alice@corp`: the grantor of what they approve.
        id: String,
        /// A file whose first line is the password.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// Who adds the user (recorded in the audit log).
        #[arg(long, default_value = "operator")]
        by: String,
    },
    /// List local users.
    List,
}

pub async fn run(command: Command, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let gateway = global.open()?;
    match command {
        Command::Add {
            id,
            password_file,
            by,
        } => {
            let human = HumanId::new(id)?;
            let password = read_password(password_file.as_deref())?;
            let hash = tokio::task::spawn_blocking(move || PasswordHashText::new(&password))
                .await
                .context("the hashing task failed")??;
            let now = mandate_gateway::now();
            let user = UserRecord {
                id: human.clone(),
                password_hash: hash.as_str().to_owned(),
                added_at: now,
            };
            let mut event = AuditEvent::new(EventKind::UserAdded, now, gateway.config.node.clone());
            event.human = Some(human.clone());
            event.detail = Some(serde_json::json!({ "by": by }));
            gateway.store.add_user(&user, event).await?;
            println!("added user {human}");
        }
        Command::List => {
            for user in gateway.store.users().await? {
                println!("{user}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The password: a file's first line, standard input's first line, or a silent prompt.
fn read_password(file: Option<&Path>) -> anyhow::Result<String> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        return Ok(first_line(&text));
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        return Ok(first_line(&line));
    }
    eprint!("password: ");
    std::io::stderr().flush()?;
    // Echo off while the password is typed (POSIX terminals; best effort elsewhere).
    let silenced = stty("-echo");
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if silenced {
        stty("echo");
    }
    eprintln!();
    read?;
    Ok(first_line(&line))
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

fn stty(setting: &str) -> bool {
    std::process::Command::new("stty")
        .arg(setting)
        .stdin(std::process::Stdio::inherit())
        .status()
        .is_ok_and(|s| s.success())
}
