//! The writer thread: the relay's only write connection, with group commit.
//!
//! Jobs queue up; the thread takes everything waiting, runs each job in its own savepoint of
//! one transaction, commits once, and only then tells each job's caller how it went. A job
//! whose savepoint cannot be opened is not run; a job that panics is rolled back and answered
//! with an error; a batch SQLite rolled back (a full disk does that) answers every job in it.
//!
//! What a job does with a push is in `push.rs` (using a check made before the writer's turn,
//! or checking it here) and `log.rs` (storing a checked document: its changes, the logs of the
//! units that read it, its files); this file is the thread, the batch and the job's view of
//! the documents.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, mpsc};

use super::doc_cache::DocCache;
use super::precheck::{Prechecker, SharedCache};
use automerge::{AutoCommit, Change};
use giaoban_protocol::authz::UnitTree;
use giaoban_protocol::seal::RelayKey;
use giaoban_protocol::{DocId, UnitId};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tokio::sync::oneshot;

use super::{Result, StoreError, clock::RelayClock};

mod log;
mod push;

pub use push::{PushOutcome, push, push_prechecked};

/// Documents one job keeps in memory at most (a first upload of thousands must not hold
/// them all).
const BATCH_DOCS: usize = 32;
/// Memory the documents one batch stored may take (see `DocCache`), so that a batch of many
/// devices' pushes, each to its own document, hands every one of them to the cache.
const BATCH_BYTES: usize = CACHE_BYTES / 2;
/// Memory the writer's cache of loaded documents may take (see `DocCache`).
const CACHE_BYTES: usize = 64 * 1024 * 1024;
/// A document loaded with more changes than this after its compacted copy gets a new copy.
const SNAPSHOT_AFTER: usize = 64;
/// Jobs committed together at most.
const MAX_BATCH: usize = 256;

type Finish = Box<dyn FnOnce(Option<&StoreError>) + Send>;

/// One queued piece of work: run it (returning whether it succeeded and how to answer once
/// the batch is settled), or answer it with an error without running it.
trait Job: Send {
    fn run(self: Box<Self>, ctx: &mut Ctx<'_>) -> (bool, Finish);
    fn abort(self: Box<Self>, error: StoreError);
}

struct Queued<T, F> {
    work: F,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> Job for Queued<T, F>
where
    T: Send + 'static,
    F: FnOnce(&mut Ctx<'_>) -> Result<T> + Send + 'static,
{
    fn run(self: Box<Self>, ctx: &mut Ctx<'_>) -> (bool, Finish) {
        let Queued { work, reply } = *self;
        // A panic in a job must not stop the only writer: the job is rolled back and its caller
        // told, and the writer goes on storing for everyone else.
        let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(ctx))) {
            Ok(r) => r,
            Err(_) => {
                tracing::error!("a relay writer job panicked; it is rolled back");
                ctx.poisoned = true;
                Err(StoreError::Internal(
                    "the relay failed while storing this; nothing of it was stored".into(),
                ))
            }
        };
        let ok = result.is_ok();
        let finish: Finish = Box::new(move |commit_error| {
            // A job that failed keeps its own error (say, a full disk); one that succeeded but
            // whose batch did not commit gets the commit's.
            let out = match commit_error {
                Some(e) if result.is_ok() => Err(e.for_caller()),
                _ => result,
            };
            // The caller may have given up waiting (client gone); the data is committed anyway.
            let _gone = reply.send(out);
        });
        (ok, finish)
    }

    fn abort(self: Box<Self>, error: StoreError) {
        let _gone = self.reply.send(Err(error));
    }
}

/// What a writer job sees: the open transaction, the unit tree, the document cache.
///
/// Invariant: `cache` holds only committed documents, and never an older state of a document
/// this batch stored; `batch` holds the newest state of documents the batch's earlier jobs
/// stored (or not the document at all). A job reads its own staged copy, then the batch's,
/// then the cache's, then the database (which its transaction sees whole).
pub struct Ctx<'a> {
    /// The batch's transaction (each job runs in its own savepoint inside it).
    pub tx: &'a Transaction<'a>,
    /// The unit tree, reloaded when another process changed the database.
    pub tree: &'a UnitTree,
    /// The relay's clock for this batch (UTC ms).
    pub now: i64,
    /// The relay's key, for vouchers.
    pub key: &'a RelayKey,
    cache: &'a SharedCache,
    /// The generation of the published unit tree `tree` is, or `None` when an earlier job of
    /// the batch changed the units (a push checked before its turn is then checked again).
    tree_gen: Option<u64>,
    batch: &'a HashMap<DocId, AutoCommit>,
    staged: Vec<(DocId, AutoCommit)>,
    fresh_tree: Option<UnitTree>,
    /// Set when the job panicked: cached documents may be half-changed.
    poisoned: bool,
}

/// Handle to the writer thread.
pub struct Writer {
    jobs: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<std::thread::JoinHandle<()>>,
    prechecker: Prechecker,
}

impl Writer {
    /// Starts the thread on `conn`.
    pub fn start(conn: Connection, clock: RelayClock, key: RelayKey) -> Result<Writer> {
        let (tx, rx) = mpsc::channel::<Box<dyn Job>>();
        let prechecker = Prechecker {
            cache: Arc::new(SharedCache(Mutex::new(DocCache::new(CACHE_BYTES)))),
            tree: Arc::new(Mutex::new(None)),
            key: key.clone(),
        };
        let shared = prechecker.clone();
        let thread = std::thread::Builder::new()
            .name("giaoban-relay-writer".into())
            .spawn(move || run(conn, rx, clock, shared))
            .map_err(|e| StoreError::Invalid(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer { jobs: Some(tx), thread: Some(thread), prechecker })
    }

    /// Whether the writer thread is still taking jobs.
    pub fn is_running(&self) -> bool {
        self.jobs.is_some() && self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// What checks pushes before the writer's turn (see [`Prechecked`]).
    pub fn prechecker(&self) -> &Prechecker {
        &self.prechecker
    }

    /// Queues `f`; the receiver gets its result once the batch holding it has committed.
    pub fn submit<T, F>(&self, f: F) -> oneshot::Receiver<Result<T>>
    where
        T: Send + 'static,
        F: FnOnce(&mut Ctx<'_>) -> Result<T> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Queued { work: f, reply });
        match &self.jobs {
            Some(jobs) => {
                // Counted before it is sent, so the writer never takes it off the count first.
                let queue = &crate::metrics::get().writer_queue;
                queue.increment(1.0);
                if let Err(mpsc::SendError(job)) = jobs.send(job) {
                    queue.decrement(1.0);
                    job.abort(StoreError::Closed);
                }
            }
            None => job.abort(StoreError::Closed),
        }
        rx
    }

    /// Runs `f` on the writer and waits for the commit.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Ctx<'_>) -> Result<T> + Send + 'static,
    {
        self.submit(f).await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` on the writer and waits for the commit, from blocking code.
    pub fn run_blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Ctx<'_>) -> Result<T> + Send + 'static,
    {
        self.submit(f).blocking_recv().map_err(|_| StoreError::Closed)?
    }
}

impl Drop for Writer {
    /// Lets queued jobs finish, then waits for the thread, so the database is closed when the
    /// store is gone (a restore may replace the file next).
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("the relay writer thread panicked");
        }
    }
}

pub(crate) fn load_tree(conn: &Connection) -> rusqlite::Result<UnitTree> {
    let mut tree = UnitTree::new();
    let mut stmt = conn.prepare("SELECT id, parent FROM units")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Option<Vec<u8>>>(1)?)))?;
    for r in rows {
        let (id, parent) = r?;
        let id = UnitId::from_slice(&id).map_err(|e| blob_error(0, e))?;
        let parent = parent.map(|p| UnitId::from_slice(&p)).transpose().map_err(|e| blob_error(1, e))?;
        tree.insert(id, parent);
    }
    let mut stmt =
        conn.prepare("SELECT unit, successor FROM unit_successors ORDER BY unit, since, successor")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
    for r in rows {
        let (unit, successor) = r?;
        let unit = UnitId::from_slice(&unit).map_err(|e| blob_error(0, e))?;
        let successor = UnitId::from_slice(&successor).map_err(|e| blob_error(1, e))?;
        tree.add_successor(unit, successor);
    }
    Ok(tree)
}

fn blob_error(col: usize, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Blob, Box::new(e))
}

/// Publishes the unit tree `loaded` for the prechecks: a new generation only when it differs
/// from the one before (it is loaded again after every batch).
fn publish_tree(
    shared: &Prechecker,
    loaded: Option<UnitTree>,
    generation: &mut u64,
) -> Option<Arc<UnitTree>> {
    let mut published = shared.tree.lock().unwrap_or_else(|p| p.into_inner());
    let Some(loaded) = loaded else {
        *published = None;
        return None;
    };
    if let Some((_, t)) = published.as_ref()
        && **t == loaded
    {
        return Some(t.clone());
    }
    *generation += 1;
    let t = Arc::new(loaded);
    *published = Some((*generation, t.clone()));
    Some(t)
}

fn run(mut conn: Connection, rx: mpsc::Receiver<Box<dyn Job>>, clock: RelayClock, shared: Prechecker) {
    let cache = &*shared.cache;
    let key = &shared.key;
    let mut generation = 0u64;
    let mut tree: Option<Arc<UnitTree>> = None;
    let mut data_version: Option<i64> = None;
    let metrics = crate::metrics::get();
    while let Ok(first) = rx.recv() {
        let started = std::time::Instant::now();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        metrics.writer_queue.decrement(batch.len() as f64);
        metrics.writer_batch_jobs.record(batch.len() as f64);
        // Another process (the admin command) may have changed units and documents: reload the
        // tree then, and forget the cached documents.
        let version = conn.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0));
        let stale = match &version {
            Ok(v) => Some(*v) != data_version,
            Err(_) => true,
        };
        if stale {
            // Documents it changed (an admin command adds a change to the unit directory) are
            // read again from the database.
            cache.lock().clear();
        }
        if stale || tree.is_none() {
            match load_tree(&conn) {
                Ok(t) => {
                    tree = publish_tree(&shared, Some(t), &mut generation);
                    data_version = version.ok();
                }
                Err(e) => {
                    // Without the tree no push can be checked: answer this batch, try again
                    // with the next.
                    let error = StoreError::from(e);
                    tracing::error!(error = %error, "cannot load the unit tree; the batch is not run");
                    for job in batch {
                        job.abort(error.for_caller());
                    }
                    tree = publish_tree(&shared, None, &mut generation);
                    continue;
                }
            }
        }
        let Some(current_tree) = tree.clone() else { continue };
        let now = clock.now();
        let Settled { finishes, staged, commit, units_written } =
            run_batch(&mut conn, batch, (&current_tree, generation), now, key, cache);
        let error = commit.err();
        metrics.writer_batch_seconds.record(started.elapsed().as_secs_f64());
        match &error {
            None => {
                let mut cache = cache.lock();
                for (id, doc) in staged {
                    cache.put(id, doc);
                }
            }
            Some(e) => {
                tracing::error!(error = %e, "relay commit failed; nothing in the batch was acknowledged");
                cache.lock().clear();
            }
        }
        for f in finishes {
            f(error.as_ref());
        }
        // Units are written only by jobs that reload the tree after writing them (see
        // `Ctx::refresh_tree`); a batch that did not commit reloads it too, to be sure.
        if units_written || error.is_some() {
            match load_tree(&conn) {
                Ok(t) => tree = publish_tree(&shared, Some(t), &mut generation),
                Err(e) => {
                    tracing::error!(error = %e, "cannot reload the unit tree");
                    tree = publish_tree(&shared, None, &mut generation);
                }
            }
        }
    }
}

/// How a batch ended: each job's answer to give once the commit is known, the documents it
/// stored (for the cache), the commit's result, and whether a job wrote units.
struct Settled {
    finishes: Vec<Finish>,
    staged: HashMap<DocId, AutoCommit>,
    commit: std::result::Result<(), StoreError>,
    units_written: bool,
}

impl Settled {
    /// A batch abandoned before its commit: every job was answered already.
    fn abandoned() -> Settled {
        Settled { finishes: Vec::new(), staged: HashMap::new(), commit: Ok(()), units_written: true }
    }
}

/// Runs `sql` (a statement without parameters or rows) through the statement cache, so a
/// savepoint is not parsed again for every job.
fn exec_cached(tx: &Transaction<'_>, sql: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(sql)?.execute([])?;
    Ok(())
}

fn run_batch(
    conn: &mut Connection,
    batch: Vec<Box<dyn Job>>,
    (tree, tree_gen): (&UnitTree, u64),
    now: i64,
    key: &RelayKey,
    cache: &SharedCache,
) -> Settled {
    let mut finishes: Vec<Finish> = Vec::with_capacity(batch.len());
    let mut staged_all: HashMap<DocId, AutoCommit> = HashMap::new();
    let mut batch_weight = 0usize;
    let tx = match conn.transaction() {
        Ok(tx) => tx,
        Err(e) => {
            let error = StoreError::from(e);
            tracing::error!(error = %error, "cannot begin a relay transaction");
            for job in batch {
                job.abort(error.for_caller());
            }
            return Settled::abandoned();
        }
    };
    let mut jobs = batch.into_iter();
    // A job that changed the unit tree (an admin command) hands it to the jobs after it in the
    // batch: a document first stored after a merger gets the successor as a reader.
    let mut newer_tree: Option<UnitTree> = None;
    let mut units_written = false;
    while let Some(job) = jobs.next() {
        if let Err(e) = exec_cached(&tx, "SAVEPOINT job") {
            // Without its savepoint a failing job could not be undone alone: it is not run.
            let error = StoreError::from(e);
            tracing::error!(error = %error, "cannot open a savepoint; the job is not run");
            job.abort(error.for_caller());
            continue;
        }
        let current_tree = newer_tree.as_ref().unwrap_or(tree);
        let mut ctx = Ctx {
            tx: &tx,
            tree: current_tree,
            now,
            key,
            cache,
            tree_gen: newer_tree.is_none().then_some(tree_gen),
            batch: &staged_all,
            staged: Vec::new(),
            fresh_tree: None,
            poisoned: false,
        };
        let (ok, finish) = job.run(&mut ctx);
        let staged = std::mem::take(&mut ctx.staged);
        let fresh_tree = ctx.fresh_tree.take();
        units_written |= fresh_tree.is_some();
        if ctx.poisoned {
            cache.lock().clear();
        }
        if tx.is_autocommit() {
            // SQLite rolled the whole transaction back (a full disk does that): no job of this
            // batch is stored. The rest are not run; each caller is told.
            tracing::error!("the relay transaction was rolled back by SQLite; the batch is abandoned");
            let error = StoreError::Commit {
                code: Some(rusqlite::ErrorCode::DiskFull),
                message: "the relay's transaction was rolled back".into(),
            };
            finish(Some(&error));
            for f in finishes.drain(..) {
                f(Some(&error));
            }
            for rest in jobs.by_ref() {
                rest.abort(error.for_caller());
            }
            return Settled::abandoned();
        }
        let end = if ok {
            exec_cached(&tx, "RELEASE job")
        } else {
            exec_cached(&tx, "ROLLBACK TO job").and_then(|()| exec_cached(&tx, "RELEASE job"))
        };
        match end {
            Ok(()) if ok => {
                for (id, doc) in staged {
                    // A document the batch holds no copy of is read from the database, which
                    // has it as stored; a copy it holds is always the newest.
                    let w = DocCache::weight(&doc);
                    if let Some(old) = staged_all.remove(&id) {
                        batch_weight = batch_weight.saturating_sub(DocCache::weight(&old));
                    }
                    if batch_weight + w <= BATCH_BYTES {
                        batch_weight += w;
                        staged_all.insert(id, doc);
                    }
                }
                if fresh_tree.is_some() {
                    newer_tree = fresh_tree;
                }
            }
            Ok(()) => {}
            Err(e) => {
                // The savepoint could not be closed: the batch's state is unknown, so nothing
                // of it is committed.
                let error = StoreError::from(e);
                tracing::error!(error = %error, "cannot close a savepoint; the batch is abandoned");
                finish(Some(&error));
                for f in finishes.drain(..) {
                    f(Some(&error));
                }
                for rest in jobs.by_ref() {
                    rest.abort(error.for_caller());
                }
                drop(tx);
                return Settled::abandoned();
            }
        }
        finishes.push(finish);
    }
    let committing = std::time::Instant::now();
    let commit = tx.commit().map_err(StoreError::from);
    crate::metrics::get().writer_commit_seconds.record(committing.elapsed().as_secs_f64());
    Settled { finishes, staged: staged_all, commit, units_written }
}

impl Ctx<'_> {
    /// Reloads the unit tree from this transaction. Every job that writes units calls it: the
    /// writer reloads the tree it checks pushes in only after a batch in which one did.
    pub fn refresh_tree(&mut self) -> Result<()> {
        self.fresh_tree = Some(load_tree(self.tx)?);
        Ok(())
    }

    pub(super) fn tree(&self) -> &UnitTree {
        self.fresh_tree.as_ref().unwrap_or(self.tree)
    }

    fn row_of(&self, doc: DocId) -> Result<Option<i64>> {
        Ok(self
            .tx
            .prepare_cached("SELECT n FROM docs WHERE id = ?1")?
            .query_row(params![doc.to_bytes().to_vec()], |r| r.get(0))
            .optional()?)
    }

    /// The relay's copy of `doc` (row number and document), if it has one, to read.
    pub fn load(&mut self, doc: DocId) -> Result<Option<(i64, AutoCommit)>> {
        let Some(n) = self.row_of(doc)? else { return Ok(None) };
        if let Some((_, d)) = self.staged.iter().rev().find(|(id, _)| *id == doc) {
            return Ok(Some((n, d.clone())));
        }
        if let Some(d) = self.batch.get(&doc) {
            return Ok(Some((n, d.clone())));
        }
        if let Some(d) = self.cache.lock().get(&doc) {
            return Ok(Some((n, d.clone())));
        }
        // Not put in the cache: the transaction may yet be rolled back.
        Ok(Some((n, self.read_doc(n, doc)?)))
    }

    /// The relay's copy of `doc`, to change: taken out of the cache rather than copied (the
    /// job stages the changed document; one it refuses is read again next time).
    pub fn take(&mut self, doc: DocId) -> Result<Option<(i64, AutoCommit)>> {
        let Some(n) = self.row_of(doc)? else { return Ok(None) };
        if let Some(i) = self.staged.iter().position(|(id, _)| *id == doc) {
            return Ok(Some((n, self.staged.swap_remove(i).1)));
        }
        if let Some(d) = self.batch.get(&doc) {
            // Copied: the batch's copy stays right if this job is rolled back.
            return Ok(Some((n, d.clone())));
        }
        let cached = self.cache.lock().pop(&doc);
        if let Some(d) = cached {
            return Ok(Some((n, d)));
        }
        Ok(Some((n, self.read_doc(n, doc)?)))
    }

    /// Builds document row `n` from the database: its compacted copy and the changes stored
    /// after it, so the cost follows the changes since the copy, not the whole history. A copy
    /// left behind by many changes is written anew (in this job's savepoint); a copy that
    /// cannot be read is ignored and rebuilt from every change.
    fn read_doc(&mut self, n: i64, doc: DocId) -> Result<AutoCommit> {
        let snapshot: Option<(i64, Vec<u8>)> = self
            .tx
            .prepare_cached("SELECT upto, bytes FROM doc_snapshots WHERE doc = ?1")?
            .query_row(params![n], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let mut damaged = false;
        let (mut d, upto) = match snapshot {
            Some((upto, bytes)) => match AutoCommit::load(&bytes) {
                Ok(d) => (d, upto),
                Err(e) => {
                    tracing::warn!(%doc, error = %e, "the compacted copy of a document is unreadable; rebuilding it from its changes");
                    damaged = true;
                    (AutoCommit::new(), 0)
                }
            },
            None => (AutoCommit::new(), 0),
        };
        let mut stmt = self
            .tx
            .prepare_cached("SELECT seq, bytes FROM changes WHERE doc = ?1 AND seq > ?2 ORDER BY seq")?;
        let rows =
            stmt.query_map(params![n, upto], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        let mut changes = Vec::new();
        let mut last = upto;
        for r in rows {
            let (seq, bytes) = r?;
            last = seq;
            changes.push(
                Change::from_bytes(bytes)
                    .map_err(|e| StoreError::Invalid(format!("stored change of {doc} unreadable: {e}")))?,
            );
        }
        drop(stmt);
        let applied = changes.len();
        d.apply_changes(changes)
            .map_err(|e| StoreError::Invalid(format!("stored changes of {doc} do not apply: {e}")))?;
        if applied >= SNAPSHOT_AFTER || damaged {
            self.tx
                .prepare_cached("INSERT OR REPLACE INTO doc_snapshots(doc, upto, bytes) VALUES (?1, ?2, ?3)")?
                .execute(params![n, last, d.save()])?;
        }
        Ok(d)
    }

    fn stage(&mut self, doc: DocId, next: AutoCommit) {
        // The cache's copy (if another path left one) is older now.
        self.cache.lock().pop(&doc);
        // Keep at most a cache's worth of documents from one batch: a first upload of thousands
        // of documents must not hold them all in memory.
        if let Some(i) = self.staged.iter().position(|(id, _)| *id == doc) {
            self.staged[i].1 = next;
        } else if self.staged.len() < BATCH_DOCS {
            self.staged.push((doc, next));
        }
    }

    /// Whether `unit` may read document row `n` (its readers were fixed when it was first stored).
    fn may_read(&self, n: i64, unit: UnitId) -> Result<bool> {
        Ok(self
            .tx
            .prepare_cached("SELECT 1 FROM readers WHERE doc = ?1 AND unit = ?2")?
            .query_row(params![n, unit.to_bytes().to_vec()], |_| Ok(()))
            .optional()?
            .is_some())
    }
}
