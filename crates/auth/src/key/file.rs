//! The key file on disk: never readable by others, never seen half-written.
//!
//! A new key is written to a temporary file in the same directory and then
//! hard-linked to its final name. Linking fails if the name exists, so a key
//! that reached the disk first is never replaced, and a crash leaves at most
//! a stray temporary file, not a truncated key.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::KeyError;
use crate::key::KEY_FILE;

/// What [`create_private`] found.
pub(super) enum Created {
    /// The new key is now the key file.
    Written,
    /// Another process wrote a key first; here is its file's content.
    AlreadyThere(Zeroizing<String>),
}

/// Reads the key file, or `None` if there is none.
pub(super) fn read_private(path: &Path) -> Result<Option<Zeroizing<String>>, KeyError> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(source) if source.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(io_error(path, source)),
    };
    check_owner_only(&file, path)?;
    let mut pem = Zeroizing::new(String::new());
    file.read_to_string(&mut pem)
        .map_err(|source| io_error(path, source))?;
    Ok(Some(pem))
}

/// Creates `dir` if needed and writes `pem` to `path` unless it exists.
pub(super) fn create_private(dir: &Path, path: &Path, pem: &str) -> Result<Created, KeyError> {
    create_dir(dir)?;
    let tmp = dir.join(format!(".{KEY_FILE}.{:016x}.tmp", rand::random::<u64>()));
    let created = write_then_link(&tmp, path, pem);
    // The temporary name is only a stepping stone; the link (if any) keeps
    // the content. Failing to remove it costs a stray file, not the key.
    fs::remove_file(&tmp).ok();
    let created = created?;
    if matches!(created, Created::Written) {
        sync_dir(dir)?;
    }
    Ok(created)
}

fn write_then_link(tmp: &Path, path: &Path, pem: &str) -> Result<Created, KeyError> {
    let mut file = open_new_private(tmp).map_err(|source| io_error(tmp, source))?;
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|source| io_error(tmp, source))?;
    drop(file);
    match fs::hard_link(tmp, path) {
        Ok(()) => Ok(Created::Written),
        Err(source) if source.kind() == io::ErrorKind::AlreadyExists => match read_private(path)? {
            Some(existing) => Ok(Created::AlreadyThere(existing)),
            None => Err(io_error(path, source)),
        },
        Err(source) => Err(io_error(path, source)),
    }
}

#[cfg(unix)]
fn open_new_private(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_new_private(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

#[cfg(unix)]
fn create_dir(dir: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::DirBuilderExt as _;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| io_error(dir, source))
}

#[cfg(not(unix))]
fn create_dir(dir: &Path) -> Result<(), KeyError> {
    fs::create_dir_all(dir).map_err(|source| io_error(dir, source))
}

/// Makes the new directory entry durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), KeyError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| io_error(dir, source))
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), KeyError> {
    Ok(())
}

#[cfg(unix)]
fn check_owner_only(file: &File, path: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = file
        .metadata()
        .map_err(|source| io_error(path, source))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::InsecurePermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_only(_file: &File, _path: &Path) -> Result<(), KeyError> {
    Ok(())
}

fn io_error(path: &Path, source: io::Error) -> KeyError {
    KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}
