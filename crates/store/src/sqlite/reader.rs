//! The one reader: a thread that owns the read connection and runs queued reads in turn,
//! so that concurrent reads wait in a queue rather than as parked threads.
//!
//! The read connection serves one read at a time whoever runs it. Run on tokio's blocking
//! pool, each read waiting for the connection held a pool thread: a burst of cold chains
//! (64 calls at once, each reading its mandate chain) grew the pool to sixty threads, each
//! with its stack and its own malloc arena, kept for ten idle seconds. One thread does the
//! same reads in the same order with none of that.

use crate::StoreError;
use rusqlite::Connection;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// Handle to the reader thread; clones share it. The thread stops when the last handle
/// is dropped.
#[derive(Clone)]
pub(crate) struct Reader {
    queue: mpsc::Sender<Box<dyn Job>>,
}

impl Reader {
    /// Starts the reader thread owning `conn`.
    pub(crate) fn start(conn: Connection) -> Result<Reader, StoreError> {
        let (queue, jobs) = mpsc::channel::<Box<dyn Job>>();
        std::thread::Builder::new()
            .name("mandate-store-reader".to_owned())
            .spawn(move || run(&conn, &jobs))
            .map_err(|e| StoreError::Io(format!("cannot start the store's reader thread: {e}")))?;
        Ok(Reader { queue })
    }

    /// Runs `f` on the read connection once the reads queued before it are done.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Box::new(Pending { f, reply }))
            .map_err(|_| StoreError::Task("the store's reader thread has stopped".to_owned()))?;
        answer
            .await
            .map_err(|_| StoreError::Task("a read on the store failed unexpectedly".to_owned()))?
    }
}

/// A queued read, with its types erased so that one queue carries them all.
trait Job: Send {
    fn run(self: Box<Self>, conn: &Connection);
}

struct Pending<F, T> {
    f: F,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<F, T> Job for Pending<F, T>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) {
        let Pending { f, reply } = *self;
        // The caller may have gone away (its request was cancelled); nothing to undo.
        let _ = reply.send(f(conn));
    }
}

fn run(conn: &Connection, jobs: &mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(job) = jobs.recv() {
        // A read that panics drops its reply (its caller hears an error), never the
        // thread: the reads queued behind it still run. A read holds no transaction open
        // across the panic, since rusqlite's statements reset when dropped.
        if std::panic::catch_unwind(AssertUnwindSafe(|| job.run(conn))).is_err() {
            tracing::error!("a read on the store panicked");
        }
    }
    tracing::debug!("store reader stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_run_in_turn_and_a_panicking_read_spares_the_next() {
        let reader = Reader::start(Connection::open_in_memory().unwrap()).unwrap();
        let one: i64 = reader
            .read(|conn| Ok(conn.query_row("SELECT 1", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(one, 1);
        let failed = reader.read::<(), _>(|_| panic!("a bug in a read")).await;
        assert!(matches!(failed, Err(StoreError::Task(_))), "{failed:?}");
        let two: i64 = reader
            .read(|conn| Ok(conn.query_row("SELECT 2", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(two, 2, "the reader thread survived the panic");
    }
}
