//! The writer thread: the relay's only write connection, with group commit.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::mpsc;

use automerge::{AutoCommit, Change};
use giaoban_protocol::authz::{UnitTree, check_push};
use giaoban_protocol::schema::read_header;
use giaoban_protocol::wire::{DocAck, DocChanges, DocReject};
use giaoban_protocol::{DeviceId, DocId, UnitId};
use lru::LruCache;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tokio::sync::oneshot;

use super::{Result, StoreError, now_ms};

/// Loaded documents the writer keeps (about 18 KB each).
const CACHE_DOCS: usize = 32;
/// Jobs committed together at most.
const MAX_BATCH: usize = 256;

type Finish = Box<dyn FnOnce(Option<String>) + Send>;
type Job = Box<dyn FnOnce(&mut Ctx<'_>) -> (bool, Finish) + Send>;

/// What a writer job sees: the open transaction, the unit tree, the document cache.
pub struct Ctx<'a> {
    /// The batch's transaction (each job runs in its own savepoint inside it).
    pub tx: &'a Transaction<'a>,
    /// The unit tree, reloaded when another process changed the database.
    pub tree: &'a UnitTree,
    /// The relay's clock for this batch (UTC ms).
    pub now: i64,
    cache: &'a mut LruCache<DocId, AutoCommit>,
    staged: Vec<(DocId, AutoCommit)>,
    fresh_tree: Option<UnitTree>,
}

/// The result of one push.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushOutcome {
    /// Documents stored.
    pub acks: Vec<DocAck>,
    /// Documents refused; nothing of them was stored.
    pub rejects: Vec<DocReject>,
    /// Sequence numbers written (for live notifications).
    pub last_seq: u64,
}

/// Handle to the writer thread.
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the thread on `conn`.
    pub fn start(conn: Connection) -> Result<Writer> {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("giaoban-relay-writer".into())
            .spawn(move || run(conn, rx))
            .map_err(|e| StoreError::Invalid(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer { jobs: tx })
    }

    /// Queues `f`; the receiver gets its result once the batch holding it has committed.
    pub fn submit<T, F>(&self, f: F) -> oneshot::Receiver<Result<T>>
    where
        T: Send + 'static,
        F: FnOnce(&mut Ctx<'_>) -> Result<T> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: Job = Box::new(move |ctx| {
            let result = f(ctx);
            let ok = result.is_ok();
            let finish: Finish = Box::new(move |commit_error| {
                // A job that failed keeps its own error (say, a full disk); one that succeeded
                // but whose batch did not commit gets the commit's.
                let out = match commit_error {
                    Some(e) if result.is_ok() => Err(StoreError::Commit(e)),
                    _ => result,
                };
                // The caller may have given up waiting (client gone); the data is committed anyway.
                let _ = reply.send(out);
            });
            (ok, finish)
        });
        // If the thread is gone, `reply` is dropped with the job and the receiver reports Closed.
        let _ = self.jobs.send(job);
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

fn load_tree(conn: &Connection) -> rusqlite::Result<UnitTree> {
    let mut tree = UnitTree::new();
    let mut stmt = conn.prepare("SELECT id, parent FROM units")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Option<Vec<u8>>>(1)?)))?;
    for r in rows {
        let (id, parent) = r?;
        if let Ok(id) = UnitId::from_slice(&id) {
            tree.insert(id, parent.and_then(|p| UnitId::from_slice(&p).ok()));
        }
    }
    Ok(tree)
}

fn run(mut conn: Connection, rx: mpsc::Receiver<Job>) {
    let mut cache: LruCache<DocId, AutoCommit> =
        LruCache::new(NonZeroUsize::new(CACHE_DOCS).unwrap_or(NonZeroUsize::MIN));
    let mut tree = UnitTree::new();
    let mut data_version: Option<i64> = None;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        // Another process (the admin command) may have changed units: reload the tree then.
        let version: Option<i64> = conn.query_row("PRAGMA data_version", [], |r| r.get(0)).ok();
        if version != data_version || data_version.is_none() {
            match load_tree(&conn) {
                Ok(t) => tree = t,
                Err(e) => tracing::error!(error = %e, "cannot load the unit tree"),
            }
            data_version = version;
        }
        let (finishes, staged, commit) = run_batch(&mut conn, batch, &tree, &mut cache);
        let error = commit.err();
        match &error {
            None => {
                for (id, doc) in staged {
                    cache.put(id, doc);
                }
            }
            Some(e) => {
                tracing::error!(error = %e, "relay commit failed; nothing in the batch was acknowledged");
                cache.clear();
            }
        }
        for f in finishes {
            f(error.clone());
        }
        // Units may have been written by this batch.
        if let Ok(t) = load_tree(&conn) {
            tree = t;
        }
    }
}

type BatchResult = (Vec<Finish>, Vec<(DocId, AutoCommit)>, std::result::Result<(), String>);

fn run_batch(
    conn: &mut Connection,
    batch: Vec<Job>,
    tree: &UnitTree,
    cache: &mut LruCache<DocId, AutoCommit>,
) -> BatchResult {
    let mut finishes = Vec::with_capacity(batch.len());
    let mut staged_all = Vec::new();
    let tx = match conn.transaction() {
        Ok(tx) => tx,
        Err(e) => {
            // The jobs never ran; dropping them drops their reply channels, and every waiting
            // caller is told the write did not happen.
            tracing::error!(error = %e, "cannot begin a relay transaction");
            drop(batch);
            return (finishes, staged_all, Err(e.to_string()));
        }
    };
    let now = now_ms();
    let mut jobs = batch.into_iter();
    for job in jobs.by_ref() {
        if let Err(e) = tx.execute_batch("SAVEPOINT job") {
            tracing::error!(error = %e, "cannot open a savepoint");
        }
        let mut ctx = Ctx { tx: &tx, tree, now, cache, staged: Vec::new(), fresh_tree: None };
        let (ok, finish) = job(&mut ctx);
        let staged = std::mem::take(&mut ctx.staged);
        if tx.is_autocommit() {
            // SQLite rolled the whole transaction back (a full disk does that): no job of this
            // batch is stored. The rest are not run; dropping them tells their callers.
            tracing::error!("the relay transaction was rolled back by SQLite; the batch is abandoned");
            finishes.push(finish);
            break;
        }
        let end = if ok { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
        match tx.execute_batch(end) {
            Ok(()) if ok => staged_all.extend(staged),
            Ok(()) => {}
            Err(e) => tracing::error!(error = %e, "cannot close a savepoint"),
        }
        finishes.push(finish);
    }
    drop(jobs);
    let commit = tx.commit().map_err(|e| e.to_string());
    (finishes, staged_all, commit)
}

impl Ctx<'_> {
    /// Reloads the unit tree from this transaction (after writing units).
    pub fn refresh_tree(&mut self) -> Result<()> {
        self.fresh_tree = Some(load_tree(self.tx)?);
        Ok(())
    }

    fn tree(&self) -> &UnitTree {
        self.fresh_tree.as_ref().unwrap_or(self.tree)
    }

    /// The relay's copy of `doc` (row number and document), if it has one.
    pub fn load(&mut self, doc: DocId) -> Result<Option<(i64, AutoCommit)>> {
        let n: Option<i64> = self
            .tx
            .prepare_cached("SELECT n FROM docs WHERE id = ?1")?
            .query_row(params![doc.to_bytes().to_vec()], |r| r.get(0))
            .optional()?;
        let Some(n) = n else { return Ok(None) };
        if let Some((_, d)) = self.staged.iter().rev().find(|(id, _)| *id == doc) {
            return Ok(Some((n, d.clone())));
        }
        if let Some(d) = self.cache.get(&doc) {
            return Ok(Some((n, d.clone())));
        }
        let mut stmt = self.tx.prepare_cached("SELECT bytes FROM changes WHERE doc = ?1 ORDER BY seq")?;
        let rows = stmt.query_map(params![n], |r| r.get::<_, Vec<u8>>(0))?;
        let mut changes = Vec::new();
        for r in rows {
            let bytes = r?;
            changes.push(
                Change::from_bytes(bytes)
                    .map_err(|e| StoreError::Invalid(format!("stored change of {doc} unreadable: {e}")))?,
            );
        }
        let mut d = AutoCommit::new();
        d.apply_changes(changes)
            .map_err(|e| StoreError::Invalid(format!("stored changes of {doc} do not apply: {e}")))?;
        self.cache.put(doc, d.clone());
        Ok(Some((n, d)))
    }

    /// Stores a checked document: its new changes (those `current` lacks), its row and readers.
    pub fn store(
        &mut self,
        doc: DocId,
        row: Option<i64>,
        current_heads: &[automerge::ChangeHash],
        mut next: AutoCommit,
        device: DeviceId,
    ) -> Result<(Vec<automerge::ChangeHash>, u64)> {
        let header = read_header(&next).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let heads = next.get_heads();
        let heads_bytes: Vec<u8> = heads.iter().flat_map(|h| h.0).collect();
        let n = match row {
            Some(n) => {
                self.tx
                    .prepare_cached("UPDATE docs SET heads = ?2 WHERE n = ?1")?
                    .execute(params![n, heads_bytes])?;
                n
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
                let mut readers =
                    self.tx.prepare_cached("INSERT OR IGNORE INTO readers(unit, doc) VALUES (?1, ?2)")?;
                for u in self.tree().readers(&header) {
                    readers.execute(params![u.to_bytes().to_vec(), n])?;
                }
                n
            }
        };
        let mut insert = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO changes(doc, hash, bytes, device, received_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut last_seq = 0;
        for c in next.get_changes(current_heads) {
            insert.execute(params![
                n,
                c.hash().0.to_vec(),
                c.raw_bytes(),
                device.to_bytes().to_vec(),
                self.now
            ])?;
            last_seq = self.tx.last_insert_rowid() as u64;
        }
        // Keep at most a cache's worth of documents from one batch: a first upload of thousands
        // of documents must not hold them all in memory.
        if self.staged.len() < CACHE_DOCS {
            self.staged.push((doc, next));
        } else {
            self.cache.pop(&doc);
        }
        Ok((heads, last_seq))
    }
}

/// Checks and stores one device's push.
pub fn push(ctx: &mut Ctx<'_>, device: DeviceId, unit: UnitId, docs: Vec<DocChanges>) -> Result<PushOutcome> {
    let mut out = PushOutcome::default();
    let mut seen: HashMap<DocId, ()> = HashMap::new();
    for dc in docs {
        if seen.insert(dc.doc, ()).is_some() {
            continue;
        }
        let current = ctx.load(dc.doc)?;
        let (row, current_doc) = match current {
            Some((n, d)) => (Some(n), Some(d)),
            None => (None, None),
        };
        match check_push(current_doc.as_ref(), dc.doc, &dc.changes, device, unit) {
            Err(rejection) => {
                tracing::info!(doc = %dc.doc, %device, code = ?rejection.code, reason = %rejection.reason, "push refused");
                out.rejects.push(rejection);
            }
            Ok(next) => {
                let current_heads = current_doc.map(|mut d| d.get_heads()).unwrap_or_default();
                let (heads, last) = ctx.store(dc.doc, row, &current_heads, next, device)?;
                out.last_seq = out.last_seq.max(last);
                out.acks.push(DocAck {
                    doc: dc.doc,
                    heads: heads.iter().map(|h| h.0).collect(),
                    received_at: ctx.now,
                });
            }
        }
    }
    Ok(out)
}
