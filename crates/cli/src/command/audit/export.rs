//! `mandate audit export --format jsonl|ocsf`: the log as one JSON object per line, for a
//! SIEM or an offline check, streamed page by page up to the head recorded at the start.
//!
//! `jsonl` keeps each entry's `seq`, `hash` and `prev_hash`, so an export can be verified
//! without the gateway; `ocsf` writes OCSF 1.8.0 records (see `docs/audit.md`).

use super::query::since;
use crate::context::GlobalArgs;
use anyhow::Context as _;
use clap::builder::TypedValueParser as _;
use mandate_audit::{ExportFormat, StoredEvent};
use mandate_core::Timestamp;
use std::fs::File;
use std::io::{BufWriter, ErrorKind, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Entries read from the store at a time.
const PAGE: u32 = 1000;

/// Above this many entries, an export to a file reports its progress on stderr.
const LONG: u64 = 10_000;

/// Options of `mandate audit export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// `jsonl`: each entry with its seq and hashes; `ocsf`: OCSF 1.8.0 records.
    #[arg(
        long,
        default_value = "jsonl",
        value_parser = clap::builder::PossibleValuesParser::new(ExportFormat::ALL.map(|f| f.as_str()))
            .try_map(|s| s.parse::<ExportFormat>()),
    )]
    format: ExportFormat,
    /// Only entries from this far back, e.g. `24h`, `7d`.
    #[arg(long)]
    since: Option<String>,
    /// Only entries after this sequence number (to continue an earlier export).
    #[arg(long, value_name = "SEQ", default_value_t = 0)]
    after: u64,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
}

pub async fn run(global: &GlobalArgs, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let since = since(args.since.as_deref())?;
    let gateway = global.open()?;
    let store = gateway.store.as_ref();
    // A gateway may append meanwhile: export up to the head recorded now.
    let last = store.audit_head().await?.map_or(0, |(seq, _)| seq);
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => {
            Box::new(BufWriter::new(File::create(path).with_context(|| {
                format!("cannot create `{}`", path.display())
            })?))
        }
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let progress = args.output.is_some() && last.saturating_sub(args.after) > LONG;
    let mut written = Written::default();
    let mut after = args.after;
    while after < last {
        let page = store.events(after, PAGE).await?;
        let Some(tail) = page.last() else { break };
        after = tail.seq;
        for stored in page.iter().filter(|s| s.seq <= last) {
            match write_entry(&mut out, args.format, stored, since, &mut written)? {
                Ok(()) => {}
                // The reader went away (`| head`): what it wanted was written.
                Err(e) if e.kind() == ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
                Err(e) => return Err(e).context("cannot write the export"),
            }
        }
        if progress {
            eprint!("\rexporting: entry {after}/{last}");
        }
    }
    match out.flush() {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        other => other.context("cannot write the export")?,
    }
    if let Some(path) = &args.output {
        if progress {
            eprintln!();
        }
        eprintln!(
            "exported {} entries as {} {} records to `{}`",
            written.entries,
            written.records,
            args.format,
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// How much an export has written.
#[derive(Default)]
struct Written {
    entries: u64,
    records: u64,
}

/// Writes one entry's records, a line each, unless it is older than `since`. The outer
/// error is a log entry that cannot be read; the inner one, output that cannot be written.
fn write_entry(
    out: &mut dyn Write,
    format: ExportFormat,
    stored: &StoredEvent,
    since: Option<Timestamp>,
    written: &mut Written,
) -> anyhow::Result<std::io::Result<()>> {
    if let Some(since) = since
        && stored.event()?.time < since
    {
        return Ok(Ok(()));
    }
    let records = format
        .records(stored)
        .with_context(|| format!("cannot export entry #{}", stored.seq))?;
    for record in &records {
        let line = serde_json::to_writer(&mut *out, record)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"));
        if let Err(e) = line {
            return Ok(Err(e));
        }
        written.records += 1;
    }
    written.entries += 1;
    Ok(Ok(()))
}
