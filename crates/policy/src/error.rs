//! Why a set of organisation policies could not be loaded.
//!
//! Every error names the file it came from and, where there is one, the
//! policy id, so an operator can go straight to the line to fix.

use std::path::PathBuf;

/// Why [`OrgPolicy`](crate::OrgPolicy) refused to load.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The operator's policy folder does not exist.
    #[error("policy folder `{}` does not exist", path.display())]
    MissingDir {
        /// The folder that was named.
        path: PathBuf,
    },
    /// A file or folder could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The schema Mandate ships is broken: a bug in Mandate, not in the operator's files.
    #[error("mandate's own policy schema is invalid: {message}")]
    Schema {
        /// Cedar's message.
        message: String,
    },
    /// A policy file is not valid Cedar.
    #[error("`{file}` is not valid cedar: {message}")]
    Parse {
        /// The file.
        file: String,
        /// Cedar's message, with line and column.
        message: String,
    },
    /// A policy file holds a template (a policy with `?principal` or `?resource` slots).
    #[error("policy `{policy}` in `{file}` is a template; only static policies are supported")]
    Template {
        /// The file.
        file: String,
        /// The template's id.
        policy: String,
    },
    /// A policy's `@id` annotation is empty.
    #[error("policy {index} in `{file}` has an empty `@id`")]
    EmptyId {
        /// The file.
        file: String,
        /// The policy's position in its file, from 0.
        index: usize,
    },
    /// Two policies share one id.
    #[error("policy id `{id}` is used twice: in `{first}` and in `{second}`")]
    DuplicateId {
        /// The id.
        id: String,
        /// The file that used it first.
        first: String,
        /// The file that used it again.
        second: String,
    },
    /// A policy does not type-check against Mandate's schema.
    #[error("policy `{policy}` in `{file}` does not match mandate's schema: {message}")]
    Validation {
        /// The file.
        file: String,
        /// The policy's id.
        policy: String,
        /// Cedar's message, with line and column.
        message: String,
    },
    /// The operator's `groups.json` is malformed.
    #[error("`{file}` is not a valid group map: {message}")]
    Groups {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
}
