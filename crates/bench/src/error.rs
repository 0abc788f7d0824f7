//! Why a benchmark could not run: the harness's own failures, never a failed call.
//! Failed calls are data (counted in [`crate::Sample`]); these stop the run.

use std::path::PathBuf;

/// A failure of the harness itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
    /// The access token cannot be sent in an HTTP header.
    #[error("the access token is not a valid HTTP header value")]
    Token,
    /// A latency histogram could not be created.
    #[error("cannot create a latency histogram")]
    Histogram(#[source] hdrhistogram::CreationError),
    /// Two latency histograms could not be merged.
    #[error("cannot merge latency histograms")]
    Merge(#[source] hdrhistogram::AdditionError),
    /// A load worker task panicked or was cancelled.
    #[error("a load worker stopped unexpectedly")]
    Worker(#[source] tokio::task::JoinError),
    /// A file under `/proc` (or another file the harness reads) could not be read.
    #[error("cannot read `{}`", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// The durability floor could not be measured in the gateway's data dir.
    #[error("cannot time an fsync in `{}`", .path.display())]
    Fsync {
        /// The directory.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// A `/proc` file did not hold the field the harness needs.
    #[error("`{}` has no readable `{field}`", .path.display())]
    ProcField {
        /// The file.
        path: PathBuf,
        /// The field looked for.
        field: &'static str,
    },
    /// nginx's working directory or config could not be written.
    #[error("cannot prepare nginx's directory `{}`", .path.display())]
    NginxDir {
        /// The directory or file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// No free loopback port could be found for nginx.
    #[error("cannot find a free loopback port")]
    Port(#[source] std::io::Error),
    /// nginx could not be started.
    #[error("cannot start nginx `{}`", .program.display())]
    NginxSpawn {
        /// The nginx executable.
        program: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// nginx exited or did not accept connections after starting.
    #[error("nginx did not come up: {log}")]
    NginxDown {
        /// The end of its error log, or what is known.
        log: String,
    },
}
