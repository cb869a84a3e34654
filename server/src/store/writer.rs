//! The writer thread: the relay's only write connection, with group commit.
//!
//! Jobs queue up; the thread takes everything waiting, runs each job in its own savepoint of
//! one transaction, commits once, and only then tells each job's caller how it went. A job
//! whose savepoint cannot be opened is not run; a job that panics is rolled back and answered
//! with an error; a batch SQLite rolled back (a full disk does that) answers every job in it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, mpsc};

use super::doc_cache::DocCache;
use super::precheck::{Early, PreDoc, Prechecked, Prechecker, SharedCache};
use automerge::{AutoCommit, Change, ChangeHash};
use giaoban_protocol::authz::{Checked, UnitTree, check_push_in};
use giaoban_protocol::schema::{DocKind, Header, Review, read_header};
use giaoban_protocol::seal::{RelayKey, chain_digest};
use giaoban_protocol::wire::{DocAck, DocChanges, DocReject, RejectCode};
use giaoban_protocol::{DeviceId, DocId, UnitId};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tokio::sync::oneshot;

use super::{Result, StoreError, clock::RelayClock};

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

/// The result of one push.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushOutcome {
    /// Documents stored.
    pub acks: Vec<DocAck>,
    /// Documents refused; nothing of them was stored.
    pub rejects: Vec<DocReject>,
    /// Documents whose changes depend on changes the relay lacks; the device pushes them in
    /// full (after a restore from an older backup, say).
    pub wanted: Vec<DocId>,
    /// Units whose logs grew (for live notifications).
    pub grown: Vec<UnitId>,
    /// The pushing device's newest own change, in its unit's log, before this push.
    pub own_top_before: u64,
    /// Changes stored (of the documents in `acks`).
    pub stored_changes: u64,
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
        let (finishes, staged, commit) =
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
        // Units may have been written by this batch.
        match load_tree(&conn) {
            Ok(t) => tree = publish_tree(&shared, Some(t), &mut generation),
            Err(e) => {
                tracing::error!(error = %e, "cannot reload the unit tree");
                tree = publish_tree(&shared, None, &mut generation);
            }
        }
    }
}

type BatchResult = (Vec<Finish>, HashMap<DocId, AutoCommit>, std::result::Result<(), StoreError>);

fn run_batch(
    conn: &mut Connection,
    batch: Vec<Box<dyn Job>>,
    (tree, tree_gen): (&UnitTree, u64),
    now: i64,
    key: &RelayKey,
    cache: &SharedCache,
) -> BatchResult {
    let mut finishes = Vec::with_capacity(batch.len());
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
            return (finishes, staged_all, Ok(()));
        }
    };
    let mut jobs = batch.into_iter();
    // A job that changed the unit tree (an admin command) hands it to the jobs after it in the
    // batch: a document first stored after a merger gets the successor as a reader.
    let mut newer_tree: Option<UnitTree> = None;
    while let Some(job) = jobs.next() {
        if let Err(e) = tx.execute_batch("SAVEPOINT job") {
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
            return (Vec::new(), HashMap::new(), Ok(()));
        }
        let end = if ok { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
        match tx.execute_batch(end) {
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
                return (Vec::new(), HashMap::new(), Ok(()));
            }
        }
        finishes.push(finish);
    }
    let committing = std::time::Instant::now();
    let commit = tx.commit().map_err(StoreError::from);
    crate::metrics::get().writer_commit_seconds.record(committing.elapsed().as_secs_f64());
    (finishes, staged_all, commit)
}

/// One unit's log top as a job sees it.
#[derive(Clone, Copy)]
struct Top {
    pos: i64,
    digest: [u8; 16],
}

impl Ctx<'_> {
    /// Reloads the unit tree from this transaction (after writing units).
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

    /// Stores a checked document: its new changes (in causal order) in the sequence and
    /// in the log of every unit that may read it, its row and readers. `received` overrides the
    /// receipt time of changes a voucher proved were received earlier. Returns the heads and
    /// the units whose logs grew.
    #[allow(clippy::too_many_arguments)]
    pub fn store(
        &mut self,
        doc: DocId,
        row: Option<i64>,
        new_changes: &[Change],
        header: &Header,
        mut next: AutoCommit,
        device: DeviceId,
        received: &HashMap<ChangeHash, i64>,
    ) -> Result<(Vec<ChangeHash>, Vec<UnitId>)> {
        let heads = next.get_heads();
        let heads_bytes: Vec<u8> = heads.iter().flat_map(|h| h.0).collect();
        let (n, readers) = match row {
            Some(n) => {
                self.tx
                    .prepare_cached("UPDATE docs SET heads = ?2 WHERE n = ?1")?
                    .execute(params![n, heads_bytes])?;
                (n, self.readers_of(n)?)
            }
            None => {
                self.tx
                    .prepare_cached("INSERT INTO docs(id, kind, owner, heads) VALUES (?1, ?2, ?3, ?4)")?
                    .execute(params![
                    doc.to_bytes().to_vec(),
                    header.kind.as_str(),
                    header.owner.to_bytes().to_vec(),
                    heads_bytes
                ])?;
                let n = self.tx.last_insert_rowid();
                let mut readers = self.tree().readers(header);
                readers.sort();
                let mut insert =
                    self.tx.prepare_cached("INSERT OR IGNORE INTO readers(unit, doc) VALUES (?1, ?2)")?;
                for u in &readers {
                    insert.execute(params![u.to_bytes().to_vec(), n])?;
                }
                (n, readers)
            }
        };
        if new_changes.is_empty() {
            self.stage(doc, next);
            return Ok((heads, Vec::new()));
        }
        if matches!(header.kind, DocKind::Report | DocKind::Directive) {
            self.refresh_file_refs(n, &next, header.kind)?;
        }
        let mut tops = self.tops(&readers)?;
        let mut insert = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO changes(doc, hash, bytes, device, received_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut log = self
            .tx
            .prepare_cached("INSERT INTO unit_log(unit, pos, change, digest) VALUES (?1, ?2, ?3, ?4)")?;
        let pusher = device.to_bytes().to_vec();
        // The pusher's own changes are counted in its own unit's log when its unit writes the
        // document: the owner's, or that of the successor writing for it (changes a reader
        // carries back after a restore are not its own).
        let pusher_unit: Option<UnitId> = self
            .tx
            .prepare_cached("SELECT unit FROM devices WHERE id = ?1")?
            .query_row(params![pusher], |r| r.get::<_, Vec<u8>>(0))
            .optional()?
            .map(|b| unit_from(&b))
            .transpose()?
            .filter(|u| self.tree().may_write(*u, header.owner));
        let mut own_top: Option<i64> = None;
        for c in new_changes {
            let hash = c.hash();
            let at = received.get(&hash).copied().unwrap_or(self.now);
            if insert.execute(params![n, hash.0.to_vec(), c.raw_bytes(), pusher, at])? == 0 {
                continue;
            }
            let seq = self.tx.last_insert_rowid();
            for (u, top) in readers.iter().zip(tops.iter_mut()) {
                top.pos += 1;
                top.digest = chain_digest(&top.digest, top.pos as u64, doc, &hash.0, at);
                log.execute(params![u.to_bytes().to_vec(), top.pos, seq, top.digest.to_vec()])?;
                if Some(*u) == pusher_unit {
                    own_top = Some(top.pos);
                }
            }
        }
        drop((insert, log));
        self.write_tops(&readers, &tops)?;
        if let Some(pos) = own_top {
            self.tx
                .prepare_cached("UPDATE devices SET own_top = ?2 WHERE id = ?1")?
                .execute(params![pusher, pos])?;
        }
        self.stage(doc, next);
        Ok((heads, readers))
    }

    /// Rewrites which files document row `n` refers to, from its state `doc`. A file no
    /// document refers to any more is marked for the collector; one referred to again is
    /// unmarked.
    fn refresh_file_refs(&mut self, n: i64, doc: &AutoCommit, kind: DocKind) -> Result<()> {
        let refs = giaoban_protocol::schema::attachment_refs(doc, kind);
        let before: Vec<Vec<u8>> = self
            .tx
            .prepare_cached("SELECT hash FROM file_refs WHERE doc = ?1")?
            .query_map(params![n], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if before.is_empty() && refs.is_empty() {
            return Ok(());
        }
        self.tx.prepare_cached("DELETE FROM file_refs WHERE doc = ?1")?.execute(params![n])?;
        let mut insert = self
            .tx
            .prepare_cached("INSERT OR REPLACE INTO file_refs(hash, doc, size) VALUES (?1, ?2, ?3)")?;
        for (hash, size) in &refs {
            insert.execute(params![hash.0.to_vec(), n, i64::try_from(*size).unwrap_or(i64::MAX)])?;
        }
        drop(insert);
        let mut unmark = self.tx.prepare_cached("UPDATE files SET unreferenced_at = NULL WHERE hash = ?1")?;
        for (hash, _) in &refs {
            unmark.execute(params![hash.0.to_vec()])?;
        }
        drop(unmark);
        let mut mark = self.tx.prepare_cached(
            "UPDATE files SET unreferenced_at = ?2 WHERE hash = ?1 AND unreferenced_at IS NULL
             AND NOT EXISTS (SELECT 1 FROM file_refs WHERE hash = ?1)",
        )?;
        for hash in &before {
            mark.execute(params![hash, self.now])?;
        }
        Ok(())
    }

    /// Appends the changes of document row `n` stored after sequence number `after` to the end
    /// of `unit`'s log, in sequence order, each with its receipt time and chained from the
    /// log's top as a live change would be. Entries already in the log are never touched.
    /// Returns how many were appended.
    pub(super) fn append_to_log(&mut self, unit: UnitId, n: i64, doc: DocId, after: i64) -> Result<u64> {
        let unit_bytes = unit.to_bytes().to_vec();
        let top = self
            .tx
            .prepare_cached("SELECT pos, digest FROM unit_tops WHERE unit = ?1")?
            .query_row(params![unit_bytes], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
            .optional()?;
        let mut top = match top {
            Some((pos, d)) => Top {
                pos,
                digest: d
                    .as_slice()
                    .try_into()
                    .map_err(|_| StoreError::Invalid(format!("the log top of unit {unit} is damaged")))?,
            },
            None => Top { pos: 0, digest: [0; 16] },
        };
        let rows: Vec<(i64, Vec<u8>, i64)> = self
            .tx
            .prepare_cached(
                "SELECT seq, hash, received_at FROM changes WHERE doc = ?1 AND seq > ?2 ORDER BY seq",
            )?
            .query_map(params![n, after], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut log = self
            .tx
            .prepare_cached("INSERT INTO unit_log(unit, pos, change, digest) VALUES (?1, ?2, ?3, ?4)")?;
        for (seq, hash, at) in &rows {
            let hash: [u8; 32] = hash
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Invalid(format!("a stored change hash of {doc} is damaged")))?;
            top.pos += 1;
            top.digest = chain_digest(&top.digest, top.pos as u64, doc, &hash, *at);
            log.execute(params![unit_bytes, top.pos, seq, top.digest.to_vec()])?;
        }
        self.tx
            .prepare_cached(
                "INSERT INTO unit_tops(unit, pos, digest) VALUES (?1, ?2, ?3)
                 ON CONFLICT(unit) DO UPDATE SET pos = excluded.pos, digest = excluded.digest",
            )?
            .execute(params![unit_bytes, top.pos, top.digest.to_vec()])?;
        Ok(rows.len() as u64)
    }

    /// The early result for `doc` and its row, if the document is still as it was checked
    /// (its heads in this transaction are the copy's) and `unit` may read it; `None` if the
    /// writer must check it again.
    fn still_current(
        &mut self,
        doc: DocId,
        unit: UnitId,
        early: Early,
    ) -> Result<Option<(i64, std::result::Result<Checked, DocReject>)>> {
        let row: Option<(i64, Vec<u8>)> = self
            .tx
            .prepare_cached("SELECT n, heads FROM docs WHERE id = ?1")?
            .query_row(params![doc.to_bytes().to_vec()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((n, heads)) = row else { return Ok(None) };
        if heads != early.heads || !self.may_read(n, unit)? {
            return Ok(None);
        }
        Ok(Some((n, early.result)))
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

    /// The newest own change of `device`, as a position in its unit's log.
    fn own_top(&self, device: DeviceId) -> Result<u64> {
        Ok(self
            .tx
            .prepare_cached("SELECT own_top FROM devices WHERE id = ?1")?
            .query_row(params![device.to_bytes().to_vec()], |r| r.get::<_, i64>(0))
            .optional()?
            .unwrap_or(0) as u64)
    }

    /// When the relay first received each of `hashes` of document row `n`.
    fn receipt_times(&self, n: i64, hashes: &[ChangeHash]) -> Result<Vec<i64>> {
        let mut stmt =
            self.tx.prepare_cached("SELECT received_at FROM changes WHERE doc = ?1 AND hash = ?2")?;
        let mut out = Vec::with_capacity(hashes.len());
        for h in hashes {
            let at: Option<i64> = stmt.query_row(params![n, h.0.to_vec()], |r| r.get(0)).optional()?;
            out.push(at.unwrap_or(self.now));
        }
        Ok(out)
    }

    /// Gives changes of document row `n` that the relay holds the earliest receipt time a
    /// voucher of this relay proves (`received`): a relay restored from an older backup may have
    /// received a change again, later, from a device that pushed it as new, while another device
    /// holds the seal of the first receipt. Entries devices have seen are never rewritten: each
    /// restamped change gets a new entry in the log of every unit that reads it, chaining the
    /// earlier time, so every reader (the author device too) learns it. Returns those units.
    fn restamp(&mut self, doc: DocId, n: i64, received: &HashMap<ChangeHash, i64>) -> Result<Vec<UnitId>> {
        if received.is_empty() {
            return Ok(Vec::new());
        }
        let mut proven: Vec<(i64, ChangeHash)> = received.iter().map(|(h, at)| (*at, *h)).collect();
        proven.sort();
        let mut restamped: Vec<(i64, ChangeHash, i64)> = Vec::new();
        {
            let mut find = self
                .tx
                .prepare_cached("SELECT seq, received_at FROM changes WHERE doc = ?1 AND hash = ?2")?;
            let mut lower = self.tx.prepare_cached("UPDATE changes SET received_at = ?2 WHERE seq = ?1")?;
            for (at, hash) in proven {
                let row: Option<(i64, i64)> =
                    find.query_row(params![n, hash.0.to_vec()], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
                if let Some((seq, stored)) = row
                    && stored > at
                {
                    lower.execute(params![seq, at])?;
                    restamped.push((seq, hash, at));
                }
            }
        }
        if restamped.is_empty() {
            return Ok(Vec::new());
        }
        tracing::info!(%doc, changes = restamped.len(), "receipt times restamped from vouchers given back");
        let readers = self.readers_of(n)?;
        let mut tops = self.tops(&readers)?;
        let mut log = self.tx.prepare_cached(
            "INSERT INTO unit_log(unit, pos, change, digest, restamp) VALUES (?1, ?2, ?3, ?4, 1)",
        )?;
        for (seq, hash, at) in &restamped {
            for (u, top) in readers.iter().zip(tops.iter_mut()) {
                top.pos += 1;
                top.digest = chain_digest(&top.digest, top.pos as u64, doc, &hash.0, *at);
                log.execute(params![u.to_bytes().to_vec(), top.pos, seq, top.digest.to_vec()])?;
            }
        }
        self.write_tops(&readers, &tops)?;
        Ok(readers)
    }

    /// The units that may read document row `n`, in id order.
    fn readers_of(&self, n: i64) -> Result<Vec<UnitId>> {
        let mut stmt = self.tx.prepare_cached("SELECT unit FROM readers WHERE doc = ?1 ORDER BY unit")?;
        stmt.query_map(params![n], |r| r.get::<_, Vec<u8>>(0))?
            .map(|r| r.map_err(StoreError::from).and_then(|b| unit_from(&b)))
            .collect()
    }

    /// The log tops of `units`.
    fn tops(&self, units: &[UnitId]) -> Result<Vec<Top>> {
        let mut read_top = self.tx.prepare_cached("SELECT pos, digest FROM unit_tops WHERE unit = ?1")?;
        let mut tops = Vec::with_capacity(units.len());
        for u in units {
            let top = read_top
                .query_row(params![u.to_bytes().to_vec()], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
                })
                .optional()?;
            tops.push(match top {
                Some((pos, d)) => Top {
                    pos,
                    digest: d
                        .as_slice()
                        .try_into()
                        .map_err(|_| StoreError::Invalid(format!("the log top of unit {u} is damaged")))?,
                },
                None => Top { pos: 0, digest: [0; 16] },
            });
        }
        Ok(tops)
    }

    /// Writes the log tops of `units`.
    fn write_tops(&self, units: &[UnitId], tops: &[Top]) -> Result<()> {
        let mut write_top = self.tx.prepare_cached(
            "INSERT INTO unit_tops(unit, pos, digest) VALUES (?1, ?2, ?3)
             ON CONFLICT(unit) DO UPDATE SET pos = excluded.pos, digest = excluded.digest",
        )?;
        for (u, top) in units.iter().zip(tops) {
            write_top.execute(params![u.to_bytes().to_vec(), top.pos, top.digest.to_vec()])?;
        }
        Ok(())
    }
}

/// Why a new document may not take its id, if it may not. Name-based (UUIDv5) ids belong to the
/// records several devices create independently: responses and reviews, whose ids the schema
/// derives from the owner (a unit cannot take another unit's), and the unit directory of a
/// top-level unit. A directive, report or meeting, or a directory of a unit that has a parent,
/// under such an id would take the place of another unit's future response or review.
fn new_document_refusal(tree: &UnitTree, doc: DocId, header: &Header) -> Option<DocReject> {
    if doc.as_uuid().get_version_num() != 5 {
        return None;
    }
    let allowed = match header.kind {
        DocKind::Response | DocKind::Review => true,
        DocKind::UnitDirectory => tree.contains(header.owner) && tree.lineage(header.owner).len() == 1,
        DocKind::Directive | DocKind::Report | DocKind::Meeting => false,
    };
    (!allowed).then(|| DocReject {
        doc,
        code: RejectCode::Invalid,
        reason: format!(
            "a {} needs an id of its own; this id is reserved for a response or a review",
            header.kind
        ),
    })
}

/// Why a new review may not be stored, if it may not. A verdict is the office's: only a unit
/// other than the report's owner that the report is addressed to, or one above its owner, may
/// judge it. A report the relay does not hold (a review pushed back before its report after a
/// restore) cannot be judged here; devices apply the same rule when they show a verdict.
fn review_refusal(ctx: &mut Ctx<'_>, doc: DocId, checked: &AutoCommit) -> Result<Option<DocReject>> {
    let Ok(review) = autosurgeon::hydrate::<_, Review>(checked) else { return Ok(None) };
    let Some((_, report)) = ctx.load(review.report)? else { return Ok(None) };
    let Ok(report) = read_header(&report) else { return Ok(None) };
    let reviewer = review.header.owner;
    let entitled = reviewer != report.owner
        && (report.audience.contains(&reviewer) || ctx.tree().lineage(report.owner).contains(&reviewer));
    Ok((!entitled).then(|| DocReject {
        doc,
        code: RejectCode::NotOwner,
        reason: "only the unit a report is addressed to, or one above its author, may review it".into(),
    }))
}

fn unit_from(bytes: &[u8]) -> Result<UnitId> {
    UnitId::from_slice(bytes).map_err(|e| StoreError::Invalid(format!("a stored unit id is damaged: {e}")))
}

/// Checks and stores one device's push.
pub fn push(ctx: &mut Ctx<'_>, device: DeviceId, unit: UnitId, docs: Vec<DocChanges>) -> Result<PushOutcome> {
    let pre = Prechecked::unchecked(ctx.key, device, unit, docs);
    push_prechecked(ctx, pre)
}

/// Stores a push checked before the writer's turn ([`Prechecker::precheck`]): each document's
/// early result is used when the document is still as it was checked, and it is checked here
/// otherwise.
pub fn push_prechecked(ctx: &mut Ctx<'_>, pre: Prechecked) -> Result<PushOutcome> {
    let Prechecked { device, unit, tree_gen, docs } = pre;
    let mut out = PushOutcome { own_top_before: ctx.own_top(device)?, ..PushOutcome::default() };
    let mut seen: HashSet<DocId> = HashSet::new();
    let mut grown: HashSet<UnitId> = HashSet::new();
    // An early result counts only if it was reached in the tree this job sees.
    let same_tree = tree_gen.is_some() && tree_gen == ctx.tree_gen && ctx.fresh_tree.is_none();
    for PreDoc { changes: dc, received, early } in docs {
        if !seen.insert(dc.doc) {
            continue;
        }
        let carried: HashSet<ChangeHash> = received.keys().copied().collect();
        let early = match early {
            Some(e) if same_tree => ctx.still_current(dc.doc, unit, e)?,
            _ => None,
        };
        let (row, checked) = match early {
            Some((n, result)) => (Some(n), result),
            None => {
                let current = ctx.take(dc.doc)?;
                let (row, current_doc) = match current {
                    Some((n, d)) => (Some(n), Some(d)),
                    None => (None, None),
                };
                // A document the pushing unit may not read is checked as if the relay did not
                // hold it, so the answer (wanted, or the reason of a refusal) is the one an
                // unknown id gets and tells nothing about whether it exists.
                let hidden = match row {
                    Some(n) => !ctx.may_read(n, unit)?,
                    None => false,
                };
                let checked = if hidden {
                    check_push_in(ctx.tree(), None, dc.doc, &dc.changes, &carried, device, unit)
                } else {
                    check_push_in(ctx.tree(), current_doc, dc.doc, &dc.changes, &carried, device, unit)
                };
                let checked = match checked {
                    Ok(c) if row.is_none() || hidden => {
                        match new_document_refusal(ctx.tree(), dc.doc, &c.header) {
                            Some(refusal) => Err(refusal),
                            None if hidden => Err(DocReject {
                                doc: dc.doc,
                                code: RejectCode::NotOwner,
                                reason: "only devices of the owner unit (or of a unit that succeeds it) may write this document"
                                    .into(),
                            }),
                            None => Ok(c),
                        }
                    }
                    other => other,
                };
                (row, checked)
            }
        };
        let checked = match checked {
            Ok(c) if row.is_none() && c.header.kind == DocKind::Review => {
                match review_refusal(ctx, dc.doc, &c.doc)? {
                    Some(refusal) => Err(refusal),
                    None => Ok(c),
                }
            }
            other => other,
        };
        match checked {
            Err(rejection) if rejection.code == RejectCode::MissingDependencies => {
                tracing::info!(doc = %dc.doc, %device, "push builds on changes the relay lacks; asking for it in full");
                out.wanted.push(dc.doc);
            }
            Err(rejection) => {
                tracing::info!(doc = %dc.doc, %device, code = %rejection.code, reason = %rejection.reason, "push refused");
                out.rejects.push(rejection);
            }
            Ok(checked) => {
                if let Some(refusal) = checked.refused.clone() {
                    tracing::info!(doc = %dc.doc, %device, reason = %refusal.reason, "push stored in part");
                    out.rejects.push(refusal);
                }
                let kind = Some(checked.header.kind);
                out.stored_changes += checked.new.len() as u64;
                let (heads, readers) =
                    ctx.store(dc.doc, row, &checked.new, &checked.header, checked.doc, device, &received)?;
                grown.extend(readers);
                let n = match row {
                    Some(n) => n,
                    None => ctx
                        .tx
                        .prepare_cached("SELECT n FROM docs WHERE id = ?1")?
                        .query_row(params![dc.doc.to_bytes().to_vec()], |r| r.get(0))?,
                };
                // A voucher may prove an earlier receipt than the relay's own record.
                grown.extend(ctx.restamp(dc.doc, n, &received)?);
                // Deadlines are judged by a response's receipt times: the device keeps a
                // voucher for each change it pushed, with the time the relay first had it.
                let vouchers = if kind == Some(DocKind::Response) {
                    let hashes: Vec<ChangeHash> = dc
                        .changes
                        .iter()
                        .filter_map(|b| Change::from_bytes(b.clone()).ok().map(|c| c.hash()))
                        .collect();
                    let times = ctx.receipt_times(n, &hashes)?;
                    hashes.iter().zip(times).map(|(h, at)| ctx.key.voucher(dc.doc, h.0, at)).collect()
                } else {
                    Vec::new()
                };
                out.acks.push(DocAck { doc: dc.doc, heads: heads.iter().map(|h| h.0).collect(), vouchers });
            }
        }
    }
    out.grown = grown.into_iter().collect();
    Ok(out)
}
