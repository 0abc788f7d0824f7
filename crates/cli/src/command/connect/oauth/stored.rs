//! The credentials file: the registered client and its tokens for one gateway, JSON,
//! readable by its owner only (0600 in a 0700 directory), replaced atomically.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// What a sign-in leaves behind, and what the next run starts from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Stored {
    /// The MCP endpoint these tokens are for (their audience).
    pub resource: String,
    /// The authorization server that issued them.
    pub issuer: String,
    pub token_endpoint: String,
    pub client: RegisteredClient,
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Seconds since the epoch; absent when the server did not say.
    pub expires_at: Option<u64>,
}

/// A client registered (RFC 7591) with its exact loopback redirect URI.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RegisteredClient {
    pub client_id: String,
    pub redirect_uri: String,
}

/// The stored credentials, if the file exists and holds some for `resource`. A file that
/// cannot be used is reported and treated as absent (the next sign-in replaces it).
pub(crate) fn load(path: &Path, resource: &str) -> Option<Stored> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            eprintln!(
                "mandate connect: cannot read the credentials in `{}` ({e}); signing in again",
                path.display()
            );
            return None;
        }
    };
    warn_if_readable_by_others(path);
    match serde_json::from_str::<Stored>(&text) {
        Ok(stored) if stored.resource == resource => Some(stored),
        Ok(stored) => {
            eprintln!(
                "mandate connect: `{}` holds credentials for {}, not {resource}; signing in again",
                path.display(),
                stored.resource
            );
            None
        }
        Err(e) => {
            eprintln!(
                "mandate connect: `{}` is not a credentials file ({e}); signing in again",
                path.display()
            );
            None
        }
    }
}

/// Writes the credentials: a fresh 0600 file beside the old one, then renamed over it.
pub(crate) fn save(path: &Path, stored: &Stored) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create `{}`", dir.display()))?;
    let json = serde_json::to_vec_pretty(stored).context("cannot encode the credentials")?;
    let temporary = temporary_path(path);
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(&json)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(e)
            .with_context(|| format!("cannot write the credentials to `{}`", path.display()));
    }
    Ok(())
}

fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

fn warn_if_readable_by_others(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        eprintln!(
            "mandate connect: warning: `{}` is readable by other users (it holds tokens); it will be rewritten with mode 0600",
            path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(resource: &str) -> Stored {
        Stored {
            resource: resource.to_owned(),
            issuer: "http://127.0.0.1:1".to_owned(),
            token_endpoint: "http://127.0.0.1:1/oauth/token".to_owned(),
            client: RegisteredClient {
                client_id: "c1".to_owned(),
                redirect_uri: "http://127.0.0.1:2/callback".to_owned(),
            },
            access_token: "a".to_owned(),
            refresh_token: Some("r".to_owned()),
            expires_at: Some(1),
        }
    }

    #[test]
    fn credentials_round_trip_owner_only_and_only_for_their_gateway() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("creds.json");
        save(&path, &sample("http://gw/mcp")).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        assert_eq!(load(&path, "http://gw/mcp").unwrap().access_token, "a");
        assert!(load(&path, "http://other/mcp").is_none());
        // Replacing keeps the mode, whatever the old file's was.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        save(&path, &sample("http://gw/mcp")).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
