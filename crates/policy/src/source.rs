//! Policy sources: the shipped defaults and the operator's folder of
//! `*.cedar` files (read in name order) with its optional `groups.json`.

use crate::PolicyError;
use crate::schema::{DEFAULTS, DEFAULTS_FILE};
use std::path::Path;

/// The operator's group map, read from the policy folder when present.
pub(crate) const GROUPS_FILE: &str = "groups.json";

/// One file of policies (or the group map).
#[derive(Debug, Clone)]
pub(crate) struct Source {
    /// The file's name, used in generated policy ids (`<name>#<index>`).
    pub(crate) name: String,
    /// Where it came from, used in errors (the full path when read from disk).
    pub(crate) origin: String,
    /// Its text.
    pub(crate) text: String,
}

impl Source {
    /// The default policies Mandate ships.
    pub(crate) fn defaults() -> Self {
        Self::named(DEFAULTS_FILE, DEFAULTS)
    }

    /// A source given by name and text, not read from disk.
    pub(crate) fn named(name: &str, text: &str) -> Self {
        Self {
            name: name.to_owned(),
            origin: name.to_owned(),
            text: text.to_owned(),
        }
    }

    fn read(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
            path: path.to_owned(),
            source,
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Self {
            name,
            origin: path.display().to_string(),
            text,
        })
    }
}

/// What an operator's policy folder holds.
#[derive(Debug, Default)]
pub(crate) struct OperatorFiles {
    /// Every `*.cedar` file, sorted by file name.
    pub(crate) policies: Vec<Source>,
    /// `groups.json`, if present.
    pub(crate) groups: Option<Source>,
}

/// Reads the operator's folder. A missing folder is an error: an operator who
/// names one expects its policies to apply.
pub(crate) fn read_dir(dir: &Path) -> Result<OperatorFiles, PolicyError> {
    let io = |source| PolicyError::Io {
        path: dir.to_owned(),
        source,
    };
    if !dir.is_dir() {
        return Err(PolicyError::MissingDir {
            path: dir.to_owned(),
        });
    }
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_file() {
            paths.push(path);
        }
    }
    paths.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    let mut files = OperatorFiles::default();
    for path in paths {
        if path.extension().is_some_and(|ext| ext == "cedar") {
            files.policies.push(Source::read(&path)?);
        } else if path.file_name().is_some_and(|n| n == GROUPS_FILE) {
            files.groups = Some(Source::read(&path)?);
        }
    }
    Ok(files)
}
