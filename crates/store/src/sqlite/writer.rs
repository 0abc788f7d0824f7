//! The one writer: a thread that owns the write connection and commits queued writes
//! in groups, so that many concurrent callers share one `BEGIN IMMEDIATE … COMMIT` and one fsync.
//!
//! Each job runs inside its own savepoint of the group's transaction: a job that
//! fails or asks to roll back (a refused spend) undoes only its own changes, and
//! its neighbours still commit. Nobody hears back before the group's commit
//! returned, so a reply of success always means "on disk". A disk or I/O failure
//! in one job aborts the whole group, because SQLite may already have rolled the
//! transaction back underneath it.
//!
//! An *unhurried* job (one nobody waits on before answering a caller, such as a tool
//! call's completion) does not start a commit by itself: it lingers, for at most
//! [`LINGER`], to ride along with the next urgent job's commit and fsync.

use crate::StoreError;
use rusqlite::{Connection, TransactionBehavior};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The most jobs one commit covers: bounds the time the write lock is held.
const MAX_GROUP: usize = 512;

/// How long a group of unhurried jobs waits for an urgent one to share its fsync.
/// A few calls' round trips: at one call in flight, the next call's decision arrives
/// well within it, so each call costs one fsync instead of two (one for its decision,
/// one for its completion), and the decision no longer waits behind the completion's
/// sync. An agent that pauses longer gets its completions committed alone, as before.
pub(crate) const LINGER: Duration = Duration::from_millis(2);

/// Whether a write's caller waits for its commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Urgency {
    /// Someone is waiting: commit as soon as the writer is free.
    Now,
    /// Nobody answers a request on it: may wait up to [`LINGER`] for company.
    Unhurried,
}

/// What a job decided about its own changes.
#[derive(Debug)]
pub(crate) enum Finish<T> {
    /// Keep them: they commit with the group.
    Commit(T),
    /// Undo them; the caller still gets `T`.
    Rollback(T),
}

/// Handle to the writer thread; clones share it. The thread stops when the last handle is dropped.
#[derive(Clone)]
pub(crate) struct Writer {
    queue: mpsc::Sender<Entry>,
    stats: Arc<Counters>,
}

/// A job in the queue, with whether its caller is waiting.
struct Entry {
    job: Box<dyn Job>,
    urgency: Urgency,
}

/// How the writer has grouped the writes so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Transactions committed (or attempted): one fsync each.
    pub groups: u64,
    /// Writes run inside them.
    pub writes: u64,
}

#[derive(Default)]
struct Counters {
    groups: AtomicU64,
    writes: AtomicU64,
}

impl Writer {
    /// Starts the writer thread owning `conn`; unhurried jobs wait up to `linger`.
    pub(crate) fn start(conn: Connection, linger: Duration) -> Result<Writer, StoreError> {
        let (queue, jobs) = mpsc::channel::<Entry>();
        let stats = Arc::new(Counters::default());
        let counters = Arc::clone(&stats);
        std::thread::Builder::new()
            .name("mandate-store-writer".to_owned())
            .spawn(move || run(conn, &jobs, &counters, linger))
            .map_err(|e| StoreError::Io(format!("cannot start the store's writer thread: {e}")))?;
        Ok(Writer { queue, stats })
    }

    /// The groups committed and the writes they carried, since start.
    pub(crate) fn stats(&self) -> WriteStats {
        WriteStats {
            groups: self.stats.groups.load(Ordering::Relaxed),
            writes: self.stats.writes.load(Ordering::Relaxed),
        }
    }

    /// Runs `f` in the next group and answers once that group is durable (or failed).
    /// An [`Urgency::Unhurried`] write may wait up to the linger for its group.
    pub(crate) async fn write<T, F>(&self, urgency: Urgency, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<Finish<T>, StoreError> + Send + 'static,
    {
        answer(self.queue(urgency, f)?).await
    }

    /// Queues `f` now, before anything is awaited; the receiver hears how it went. Dropping
    /// the receiver does not cancel the write.
    pub(crate) fn queue<T, F>(&self, urgency: Urgency, f: F) -> Result<Reply<T>, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<Finish<T>, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Pending { f, reply });
        self.queue
            .send(Entry { job, urgency })
            .map_err(|_| StoreError::Task("the store's writer thread has stopped".to_owned()))?;
        Ok(answer)
    }
}

/// How a queued write went, once its group has committed (or failed).
pub(crate) type Reply<T> = oneshot::Receiver<Result<T, StoreError>>;

/// Waits for a queued write's answer.
pub(crate) async fn answer<T>(reply: Reply<T>) -> Result<T, StoreError> {
    reply
        .await
        .map_err(|_| StoreError::Task("the store's writer thread dropped a write".to_owned()))?
}

/// A queued write, with its types erased so that one queue carries them all.
trait Job: Send {
    /// Runs the write against the group's open transaction.
    fn run(self: Box<Self>, conn: &Connection) -> Ran;
    /// Answers without running: the group could not start.
    fn fail(self: Box<Self>, error: StoreError);
}

/// A job that ran, waiting for its group's commit.
struct Ran {
    /// Whether its savepoint should be kept.
    keep: bool,
    /// Whether it failed in a way that poisons the whole transaction.
    fatal: Option<StoreError>,
    /// Sends the answer, given the group's outcome (`Some(error)`: nothing was kept).
    answer: Box<dyn FnOnce(Option<StoreError>) + Send>,
}

struct Pending<F, T> {
    f: F,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<F, T> Job for Pending<F, T>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<Finish<T>, StoreError> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> Ran {
        let Pending { f, reply } = *self;
        let (keep, result) = match f(conn) {
            Ok(Finish::Commit(value)) => (true, Ok(value)),
            Ok(Finish::Rollback(value)) => (false, Ok(value)),
            Err(error) => (false, Err(error)),
        };
        let fatal = match &result {
            Err(e @ (StoreError::DiskFull | StoreError::Io(_) | StoreError::Corrupt(_))) => {
                Some(e.clone())
            }
            _ => None,
        };
        Ran {
            keep,
            fatal,
            answer: Box::new(move |group_error| {
                // A job that kept nothing is unaffected by the commit; one that
                // kept changes succeeded only if the commit did.
                let answer = match group_error {
                    Some(error) if keep => Err(error),
                    _ => result,
                };
                // The caller may have gone away (its request was cancelled, or it never
                // waited: an unhurried write); the write stands, and a failure nobody
                // hears is logged here.
                if let Err(Err(error)) = reply.send(answer) {
                    tracing::error!(%error, "a write nobody waited for failed");
                }
            }),
        }
    }

    fn fail(self: Box<Self>, error: StoreError) {
        if let Err(Err(error)) = self.reply.send(Err(error)) {
            tracing::error!(%error, "a write nobody waited for failed");
        }
    }
}

fn run(mut conn: Connection, jobs: &mpsc::Receiver<Entry>, counters: &Counters, linger: Duration) {
    while let Ok(first) = jobs.recv() {
        let mut group = Group::default();
        group.push(first);
        group.take_queued(jobs);
        if !group.urgent {
            group.linger(jobs, linger);
        }
        let group = group.jobs;
        counters.groups.fetch_add(1, Ordering::Relaxed);
        counters
            .writes
            .fetch_add(group.len() as u64, Ordering::Relaxed);
        commit_group(&mut conn, group);
    }
    tracing::debug!("store writer stopped");
}

/// The jobs of the next commit.
#[derive(Default)]
struct Group {
    jobs: Vec<Box<dyn Job>>,
    /// Whether any caller waits on this group.
    urgent: bool,
}

impl Group {
    fn push(&mut self, queued: Entry) {
        self.urgent |= queued.urgency == Urgency::Now;
        self.jobs.push(queued.job);
    }

    fn full(&self) -> bool {
        self.jobs.len() >= MAX_GROUP
    }

    /// Adds what is queued already, without waiting.
    fn take_queued(&mut self, jobs: &mpsc::Receiver<Entry>) {
        while !self.full() {
            match jobs.try_recv() {
                Ok(job) => self.push(job),
                Err(_) => break,
            }
        }
    }

    /// Waits, up to `linger`, for an urgent job to join; the group commits as soon as one
    /// does, when it is full, or when the queue closes (the store is shutting down).
    fn linger(&mut self, jobs: &mpsc::Receiver<Entry>, linger: Duration) {
        let deadline = Instant::now() + linger;
        while !self.urgent && !self.full() {
            let left = deadline.saturating_duration_since(Instant::now());
            match jobs.recv_timeout(left) {
                Ok(job) => {
                    self.push(job);
                    self.take_queued(jobs);
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
    }
}

/// One transaction for the whole group, one savepoint per job, one commit.
fn commit_group(conn: &mut Connection, group: Vec<Box<dyn Job>>) {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let error = StoreError::from(e);
            tracing::error!(%error, jobs = group.len(), "cannot start a write group");
            for job in group {
                job.fail(error.clone());
            }
            return;
        }
    };
    let mut ran = Vec::with_capacity(group.len());
    let mut aborted = None;
    let mut pending = group.into_iter();
    for job in pending.by_ref() {
        if let Err(e) = savepoint::open(&tx) {
            aborted = Some((StoreError::from(e), Some(job)));
            break;
        }
        let done = job.run(&tx);
        let settled = if done.keep {
            savepoint::release(&tx)
        } else {
            savepoint::roll_back(&tx)
        };
        let fatal = done.fatal.clone();
        ran.push(done);
        match (fatal, settled) {
            (Some(error), _) => {
                aborted = Some((error, None));
                break;
            }
            (None, Err(e)) => {
                aborted = Some((StoreError::from(e), None));
                break;
            }
            (None, Ok(())) => {}
        }
    }
    let outcome = match aborted {
        None => tx.commit().err().map(StoreError::from),
        Some((error, unran)) => {
            // Dropping the transaction rolls it back (if SQLite has not already).
            drop(tx);
            if let Some(job) = unran {
                job.fail(error.clone());
            }
            for job in pending.by_ref() {
                job.fail(error.clone());
            }
            Some(error)
        }
    };
    if let Some(error) = &outcome {
        tracing::error!(%error, jobs = ran.len(), "a write group failed; none of it was kept");
    }
    for done in ran {
        (done.answer)(outcome.clone());
    }
}

/// One job's savepoint inside the group's transaction, by cached statements:
/// `Transaction::savepoint` parses its SQL again on every job, about 1 % of the
/// gateway's CPU per call under load (docs/performance.md, "The allocator").
mod savepoint {
    use rusqlite::Connection;

    /// Starts the job's savepoint.
    pub(super) fn open(conn: &Connection) -> rusqlite::Result<()> {
        run(conn, "SAVEPOINT job")
    }

    /// Keeps the job's changes (they commit with the group).
    pub(super) fn release(conn: &Connection) -> rusqlite::Result<()> {
        run(conn, "RELEASE job")
    }

    /// Undoes the job's changes and ends its savepoint.
    pub(super) fn roll_back(conn: &Connection) -> rusqlite::Result<()> {
        run(conn, "ROLLBACK TO job")?;
        run(conn, "RELEASE job")
    }

    fn run(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
        conn.prepare_cached(sql)?.execute([]).map(drop)
    }
}
