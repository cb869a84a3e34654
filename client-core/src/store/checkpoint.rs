//! WAL checkpoints off the write path.
//!
//! SQLite's automatic checkpoint runs inside whichever commit crosses the threshold, copying
//! the WAL into the database and syncing it: a commit that normally takes under a millisecond
//! then takes ten. The store turns the automatic checkpoint off and runs passive checkpoints
//! on a dedicated thread with its own connection instead; writers never wait for one.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::error::Result;

/// How long the checkpoint thread waits for more commits before checkpointing.
const SETTLE: Duration = Duration::from_millis(50);
/// The longest a committed page waits for a checkpoint while commits keep coming.
const MAX_DELAY: Duration = Duration::from_millis(250);
/// Should the thread fall far behind, the writer checkpoints itself past this many WAL pages
/// (about 80 MB): a safety net, not the normal path.
pub(crate) const WRITER_FALLBACK_PAGES: i64 = 20_000;

pub(crate) struct Checkpointer {
    nudges: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the checkpoint thread on its own connection to `path`.
    pub fn start(path: &Path) -> Result<Checkpointer> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let (tx, rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("giaoban-store-checkpoint".into())
            .spawn(move || {
                while let Ok(()) = rx.recv() {
                    // Let a burst of commits finish, but not for longer than MAX_DELAY.
                    let deadline = Instant::now() + MAX_DELAY;
                    loop {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        match rx.recv_timeout(SETTLE.min(left)) {
                            Ok(()) => continue,
                            Err(RecvTimeoutError::Timeout) => break,
                            Err(RecvTimeoutError::Disconnected) => break,
                        }
                    }
                    checkpoint(&conn);
                }
                checkpoint(&conn);
            })
            .map_err(|e| {
                rusqlite::Error::ToSqlConversionFailure(Box::new(std::io::Error::other(format!(
                    "cannot start the checkpoint thread: {e}"
                ))))
            })?;
        Ok(Checkpointer { nudges: Some(tx), thread: Some(thread) })
    }

    /// Tells the thread that commits happened. Returns false if the thread is gone, so the
    /// caller can fall back to automatic checkpoints.
    pub fn nudge(&self) -> bool {
        self.nudges.as_ref().is_some_and(|tx| tx.send(()).is_ok())
    }
}

fn checkpoint(conn: &Connection) {
    let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    });
    match result {
        Ok((busy, log, done)) => tracing::trace!(busy, log, done, "wal checkpoint"),
        // The WAL keeps every committed page until a later checkpoint succeeds: nothing is lost.
        Err(e) => tracing::warn!(error = %e, "wal checkpoint failed; will retry after the next commit"),
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.nudges.take();
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::warn!("the checkpoint thread panicked");
        }
    }
}
