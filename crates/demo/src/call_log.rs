//! The optional call log: one line per `tools/call` the server receives.
//! Tests count upstream calls with it, so each line is written before the tool runs.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

/// An append-only file that records the name of every tool called.
#[derive(Debug)]
pub(crate) struct CallLog {
    file: Mutex<File>,
}

impl CallLog {
    /// Opens (creating if needed) the log at `path` for appending.
    pub(crate) fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self {
            file: Mutex::new(file),
        })
    }

    /// Appends `<tool>\n` and flushes it to the file.
    pub(crate) fn record(&self, tool: &str) -> std::io::Result<()> {
        // One `write_all` per line: with `O_APPEND` the line lands whole even
        // when several processes share the file.
        let line = format!("{tool}\n");
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.write_all(line.as_bytes())?;
        file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_appends_one_line_per_call() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("calls.log");
        std::fs::write(&path, "earlier\n")?;
        let log = CallLog::open(&path)?;
        log.record("lookup_customer")?;
        log.record("list_customers")?;
        assert_eq!(
            std::fs::read_to_string(&path)?,
            "earlier\nlookup_customer\nlist_customers\n"
        );
        Ok(())
    }
}
