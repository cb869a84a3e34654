//! The device store: Automerge documents in one SQLite file.
//!
//! Each document is a row in `documents`, a compacted snapshot in `snapshots`, plus the incremental
//! chunks appended since (one per local edit, written in the same SQLite transaction as the
//! derived indexes). After `compact_after` chunks, once they add up to a quarter of the
//! snapshot (or after 16 × `compact_after` chunks whatever their size), the document is saved
//! whole into the snapshot and its chunks deleted. Documents load on demand into a bounded LRU cache.
//!
//! Invariant: the store is synchronous and owns its connection. Async code must call it from a
//! dedicated thread or `spawn_blocking`, never on an async worker.
//!
//! Invariant: a write returns `Ok` only after its SQLite transaction committed; if the commit
//! fails the in-memory copy is dropped so memory never runs ahead of disk.

mod cache;
mod checkpoint;
pub(crate) mod files;
pub(crate) mod heads;
mod index;
mod load;
pub mod migrations;
mod persist;
pub(crate) mod prepare;
mod sync_state;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use automerge::transaction::CommitOptions;
use automerge::{AutoCommit, ChangeHash};
use giaoban_protocol::schema::{DocumentSchema, Header, UnitDirectory, read_header};
use giaoban_protocol::{DeviceId, DocId, DocKind, SCHEMA_VERSION, Timestamp, UnitId};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{CoreError, Result};
use cache::DocCache;
use checkpoint::Checkpointer;
pub(crate) use index::figure_codes;
pub(crate) use load::Stored;

/// How hard each commit is pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// WAL with `synchronous=NORMAL`: every committed write survives the app being killed;
    /// a power cut may lose the last moments of writes but never corrupts the file.
    Normal,
    /// WAL with `synchronous=FULL`: every commit is fsynced; survives power loss; slower.
    Full,
}

/// Where "now" comes from. The system clock by default; tests pin it.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(|| {
            let ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            Timestamp(ms)
        }))
    }

    /// A clock that calls `f`.
    pub fn from_fn(f: impl Fn() -> Timestamp + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(f))
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// Settings of a store. [`StoreOptions::default`] documents each default.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Loaded documents kept in memory (about 18 KB each). Default 256.
    pub cache_capacity: usize,
    /// Incremental chunks a document may gather before it is compacted. Default 32.
    pub compact_after: u32,
    /// Commit durability. Default [`Durability::Normal`].
    pub durability: Durability,
    /// The clock. Default the system clock.
    pub clock: Clock,
    /// The 8 bytes that make this opening's session actor (see `DeviceId::session_actor`).
    /// Default `None`: drawn at random, as an app should. A test that replays a schedule fixes
    /// them.
    pub session: Option<[u8; 8]>,
    /// Largest file that may be attached, in bytes. Default 25 MiB (the relay's default).
    pub max_file_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cache_capacity: 256,
            compact_after: 32,
            durability: Durability::Normal,
            clock: Clock::system(),
            session: None,
            max_file_bytes: 25 * 1024 * 1024,
        }
    }
}

/// The device's store of documents.
pub struct Store {
    conn: Connection,
    checkpointer: Option<Checkpointer>,
    cache: DocCache,
    /// Documents whose cached copy changed inside the open write scope: dropped from the cache
    /// if the scope is rolled back, so memory never runs ahead of disk.
    touched: Vec<DocId>,
    /// Documents prepared on demand (`Store::row`) since the sync loop last asked: it tells
    /// the observers of changes about them.
    prepared_on_demand: std::cell::RefCell<Vec<DocId>>,
    /// The unit directories read, each with the heads it was read at: the tree is asked for on
    /// nearly every write (who this device writes for), and reading a province's 100 units out
    /// of the document costs more than the write itself. A copy counts only while the
    /// document's heads are still those it was read at.
    pub(crate) directories: std::collections::HashMap<DocId, (Vec<ChangeHash>, Arc<UnitDirectory>)>,
    /// Serialises syncs of this store (one-call and background alike).
    sync_gate: Arc<std::sync::Mutex<()>>,
    /// The client of the relay this device syncs with, kept so that its connection is reused
    /// across the round trips of a sync and between syncs.
    pub(crate) relay_client: Option<crate::sync::RelayClient>,
    /// The app's name and version, told to the relay with each sync ([`Store::set_app_version`]).
    pub(crate) app_version: String,
    device: DeviceId,
    /// The actor this store writes with until it closes (see `DeviceId::session_actor`).
    actor: automerge::ActorId,
    unit: Option<UnitId>,
    opts: StoreOptions,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("device", &self.device)
            .field("unit", &self.unit)
            .finish()
    }
}

/// What an edit leaves to refresh in the derived tables.
pub(crate) enum Refresh<'a> {
    /// Everything, from this value of the document.
    Typed(&'a dyn index::Indexable),
    /// Everything, hydrated from the document.
    FromDocument,
    /// Only the words changed (nothing a task, state or review table holds): the search row is
    /// marked stale and rebuilt before the next search.
    SearchOnly,
}

/// A document row as stored.
pub(crate) struct DocRow {
    pub n: i64,
    pub kind: DocKind,
    pub owner: UnitId,
}

impl Store {
    /// Opens (creating if needed) the store at `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Store::open_with(path, StoreOptions::default())
    }

    /// Opens (creating if needed) the store at `path`.
    pub fn open_with(path: impl AsRef<Path>, opts: StoreOptions) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        let mut conn = Connection::open(&path)?;
        configure(&conn, opts.durability)?;
        migrations::migrate_to(&mut conn, migrations::latest_version())?;
        let device = load_or_create_device(&conn)?;
        let unit = conn
            .query_row("SELECT value FROM meta WHERE key = 'unit'", [], |r| r.get::<_, Vec<u8>>(0))
            .optional()?
            .map(|b| UnitId::from_slice(&b))
            .transpose()
            .map_err(|e| CoreError::DamagedStore {
                detail: format!("the unit this device writes for is unreadable ({e})"),
            })?;
        let checkpointer = match Checkpointer::start(&path) {
            Ok(c) => {
                conn.pragma_update(None, "wal_autocheckpoint", checkpoint::WRITER_FALLBACK_PAGES)?;
                Some(c)
            }
            Err(e) => {
                tracing::warn!(error = %e, "checkpoints stay in the write path");
                None
            }
        };
        let mut store = Store {
            conn,
            checkpointer,
            cache: DocCache::new(opts.cache_capacity),
            touched: Vec::new(),
            prepared_on_demand: std::cell::RefCell::default(),
            directories: std::collections::HashMap::new(),
            sync_gate: Arc::default(),
            relay_client: None,
            app_version: String::new(),
            actor: device.session_actor(opts.session.unwrap_or_else(rand::random)),
            device,
            unit,
            opts,
            path,
        };
        let needs_reindex: bool = store
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'needs_reindex'", [], |r| r.get::<_, i64>(0))
            .optional()?
            .is_some_and(|v| v != 0);
        if needs_reindex {
            store.rebuild_indexes()?;
        }
        Ok(store)
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This device's id; its Automerge actor id is derived from it.
    pub fn device_id(&self) -> DeviceId {
        self.device
    }

    /// The actor this store writes with until it closes: the device's id and 8 bytes drawn
    /// when the store opened.
    pub(crate) fn actor(&self) -> &automerge::ActorId {
        &self.actor
    }

    /// The unit this device writes for, once enrolled.
    pub fn unit(&self) -> Option<UnitId> {
        self.unit
    }

    /// Binds the device to `unit`. Documents are written as that unit from now on.
    pub fn set_unit(&mut self, unit: UnitId) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES ('unit', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![unit.to_bytes().to_vec()],
        )?;
        self.unit = Some(unit);
        Ok(())
    }

    /// The options the store was opened with.
    pub(crate) fn options(&self) -> &StoreOptions {
        &self.opts
    }

    /// The store's clock.
    pub fn now(&self) -> Timestamp {
        self.opts.clock.now()
    }

    /// Called after every commit: lets the checkpoint thread know there is WAL to copy.
    pub(crate) fn committed(&mut self) {
        if let Some(c) = &self.checkpointer
            && !c.nudge()
        {
            tracing::warn!("the checkpoint thread is gone; SQLite checkpoints automatically again");
            self.checkpointer = None;
            if let Err(e) = self.conn.pragma_update(None, "wal_autocheckpoint", 1000) {
                tracing::warn!(error = %e, "could not turn automatic checkpoints back on");
            }
        }
    }

    pub(crate) fn my_unit(&self) -> Result<UnitId> {
        self.unit.ok_or(CoreError::NotEnrolled)
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Runs `f` as one write: a transaction if none is open (committed when `f` succeeds),
    /// otherwise a savepoint inside the open one. When `f` fails, or the commit does, everything
    /// `f` wrote is rolled back and every document whose cached copy it changed is dropped from
    /// the cache. `f` must call [`Store::touch`] before changing a cached document.
    pub(crate) fn write<T>(&mut self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        let outermost = self.conn.is_autocommit();
        let mark = self.touched.len();
        // The unit is also held in memory (`set_unit`): a scope that rolls back puts it back,
        // so an enrolment whose write failed leaves the store the unit its file says.
        let unit_before = self.unit;
        if outermost {
            // IMMEDIATE takes the write lock now, so the commit cannot fail for a reader.
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
        } else {
            self.conn.execute_batch("SAVEPOINT write_scope")?;
        }
        let mut result = f(self);
        if !outermost && result.is_ok() && self.conn.is_autocommit() {
            // SQLite rolled the enclosing transaction back (a full disk or an interrupted
            // statement does that): nothing of it is stored, whatever `f` thinks.
            result = Err(CoreError::Storage(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
                Some("the transaction was rolled back by SQLite".into()),
            )));
        }
        let ended = match (&result, outermost) {
            (Ok(_), true) => self.conn.execute_batch("COMMIT"),
            (Ok(_), false) => self.conn.execute_batch("RELEASE write_scope"),
            (Err(_), true) => self.conn.execute_batch("ROLLBACK"),
            (Err(_), false) => self.conn.execute_batch("ROLLBACK TO write_scope; RELEASE write_scope"),
        };
        let failed = result.is_err() || ended.is_err();
        if failed {
            if outermost && !self.conn.is_autocommit() {
                // The commit failed and left the transaction open: end it.
                if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                    tracing::error!(error = %e, "cannot roll back a failed write");
                }
            }
            for id in self.touched.drain(mark..) {
                self.cache.remove(id);
            }
            self.unit = unit_before;
        }
        if outermost {
            self.touched.clear();
            if !failed {
                self.committed();
            }
        }
        match (result, ended) {
            (Ok(v), Ok(())) => Ok(v),
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => Err(e.into()),
        }
    }

    /// Runs several edits as one transaction: all of them are stored, or none (an import, say).
    /// Much faster than a transaction for each when there are many.
    pub fn write_all<T>(&mut self, edits: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        self.write(edits)
    }

    /// Records that the cached copy of `id` is about to change inside the open write scope.
    pub(crate) fn touch(&mut self, id: DocId) {
        self.touched.push(id);
    }

    /// The lock that serialises syncs of this store.
    pub(crate) fn sync_gate(&self) -> Arc<std::sync::Mutex<()>> {
        self.sync_gate.clone()
    }

    /// How many documents hold changes the relay has not acknowledged.
    pub fn pending_changes_count(&self) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM documents WHERE acked_heads IS NULL OR acked_heads != heads",
            [],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// Ids of the stored documents, optionally of one kind, oldest first. For one kind,
    /// documents still waiting to be prepared that may be of it are prepared first.
    pub fn document_ids(&self, kind: Option<DocKind>) -> Result<Vec<DocId>> {
        if let Some(kind) = kind {
            self.prepare_maybe_of(kind)?;
        }
        // One statement each, so that a kind is read through `documents_by_kind` rather than by
        // scanning every document (a parameter that may be NULL keeps SQLite off the index).
        let mut stmt = match kind {
            Some(_) => self.conn.prepare_cached("SELECT id FROM documents WHERE kind = ?1 ORDER BY id")?,
            None => self.conn.prepare_cached("SELECT id FROM documents WHERE ?1 IS NULL ORDER BY id")?,
        };
        let rows = stmt.query_map(params![kind.map(|k| k.as_str())], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(DocId::from_slice(&r?).map_err(|e| CoreError::DamagedStore {
                detail: format!("a stored document id is unreadable ({e})"),
            })?);
        }
        Ok(out)
    }

    /// Whether document `id` is here. A storage failure (while preparing it) is an error, not
    /// an absence.
    pub(crate) fn exists(&self, id: DocId) -> Result<bool> {
        match self.row(id) {
            Ok(_) => Ok(true),
            Err(CoreError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The row of document `id`; a document stored as it came is prepared first (see
    /// `store/prepare.rs`).
    pub(crate) fn row(&self, id: DocId) -> Result<DocRow> {
        let found = self
            .conn
            .prepare_cached(
                "SELECT n, kind, owner, EXISTS(SELECT 1 FROM unprepared u WHERE u.doc = documents.n)
                 FROM documents WHERE id = ?1",
            )?
            .query_row(params![id.to_bytes().to_vec()], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, bool>(3)?,
                ))
            })
            .optional()?;
        if let Some((n, _, _, true)) = found {
            if !self.prepare(n, id)? {
                return Err(CoreError::not_found("document", id));
            }
            return self.row(id);
        }
        found
            .map(|(n, kind, owner, _)| (n, kind, owner))
            .ok_or_else(|| CoreError::not_found("document", id))
            .and_then(|(n, kind, owner)| {
                let kind =
                    kind.parse::<DocKind>().map_err(|e| CoreError::Corrupt { id, detail: e.to_string() })?;
                let owner = UnitId::from_slice(&owner)
                    .map_err(|e| CoreError::Corrupt { id, detail: e.to_string() })?;
                Ok(DocRow { n, kind, owner })
            })
    }

    /// The header of a stored document.
    pub fn header(&mut self, id: DocId) -> Result<Header> {
        let doc = self.loaded(id)?;
        read_header(doc).map_err(|e| CoreError::Schema { id, detail: e.to_string() })
    }

    /// The document `id` as a `T`. Fails with `WrongKind` if it is another kind.
    pub fn get<T: DocumentSchema>(&mut self, id: DocId) -> Result<T> {
        let row = self.row(id)?;
        if row.kind != T::KIND {
            return Err(CoreError::WrongKind { id, expected: T::KIND, found: row.kind });
        }
        let doc = self.loaded(id)?;
        autosurgeon::hydrate(doc).map_err(|e| CoreError::Schema { id, detail: e.to_string() })
    }

    /// The whole document, saved in Automerge's compact format.
    pub fn save_document(&mut self, id: DocId) -> Result<Vec<u8>> {
        Ok(self.loaded(id)?.save())
    }

    /// The document's current heads.
    pub fn heads(&mut self, id: DocId) -> Result<Vec<ChangeHash>> {
        Ok(self.loaded(id)?.get_heads())
    }

    /// A unit directory as the document holds it now, read again only when its heads moved.
    pub(crate) fn directory(&mut self, id: DocId) -> Result<Arc<UnitDirectory>> {
        let row = self.row(id)?;
        if row.kind != DocKind::UnitDirectory {
            return Err(CoreError::WrongKind { id, expected: DocKind::UnitDirectory, found: row.kind });
        }
        let heads = self.loaded(id)?.get_heads();
        if let Some((at, dir)) = self.directories.get(&id)
            && *at == heads
        {
            return Ok(dir.clone());
        }
        let dir: UnitDirectory = autosurgeon::hydrate(self.loaded(id)?)
            .map_err(|e| CoreError::Schema { id, detail: e.to_string() })?;
        let dir = Arc::new(dir);
        self.directories.insert(id, (heads, dir.clone()));
        Ok(dir)
    }

    /// Loads `id` into the cache if needed and returns it.
    fn loaded(&mut self, id: DocId) -> Result<&mut AutoCommit> {
        if !self.cache.contains(id) {
            let doc = self.read_from_disk(id)?;
            self.cache.put(id, doc);
        }
        self.cache.get_mut(id).ok_or_else(|| CoreError::not_found("document", id))
    }

    /// Stores a new document written by this device.
    ///
    /// With `deterministic`, the first change is written with an actor derived from the
    /// document id and time zero, so every device that creates the same document from the same
    /// value produces the same change, and their copies merge instead of forking.
    pub(crate) fn create<T: DocumentSchema + index::Indexable>(
        &mut self,
        value: &T,
        deterministic: bool,
    ) -> Result<()> {
        let h = value.header();
        if !self.writes_for(h.owner)? {
            return Err(CoreError::invalid(
                "header.owner",
                "a device creates documents only for its own unit",
            ));
        }
        if h.kind != T::KIND {
            return Err(CoreError::invalid("header.kind", "does not match the document type"));
        }
        value.validate()?;
        let id = h.id;
        if self.exists(id)? {
            return Err(CoreError::invalid("header.id", format!("document {id} already exists")));
        }
        let genesis_actor = if deterministic {
            automerge::ActorId::from(id.to_bytes().as_slice())
        } else {
            self.actor.clone()
        };
        let time = if deterministic { 0 } else { self.now().0 / 1000 };
        let mut doc = AutoCommit::new().with_actor(genesis_actor);
        autosurgeon::reconcile(&mut doc, value)
            .map_err(|e| CoreError::Schema { id, detail: e.to_string() })?;
        doc.commit_with(CommitOptions::default().with_time(time));
        doc.set_actor(self.actor.clone());
        let bytes = doc.save();
        let now = self.now();
        let heads_now = doc.get_heads();
        self.write(|s| {
            let n = insert_document(&s.conn, h, &value.title(), &bytes, &heads_now, now)?;
            value.refresh(&s.conn, n)
        })?;
        self.cache.put(id, doc);
        Ok(())
    }

    /// Changes document `id` by `edit`, as this device. The edit sees the current value and may
    /// change anything but the header; the result must validate. Nothing is stored when the edit
    /// fails, when validation fails, or when nothing changed. Returns what `edit` returned.
    pub(crate) fn modify<T: DocumentSchema + index::Indexable, R>(
        &mut self,
        id: DocId,
        edit: impl FnOnce(&mut T) -> Result<R>,
    ) -> Result<R> {
        let row = self.row(id)?;
        if row.kind != T::KIND {
            return Err(CoreError::WrongKind { id, expected: T::KIND, found: row.kind });
        }
        // Its own unit's, or a predecessor's (a merged unit's successor acts for it).
        if !self.writes_for(row.owner)? {
            return Err(CoreError::NotOwner { id });
        }
        let now = self.now();
        let doc = self.loaded(id)?;
        let before_heads = doc.get_heads();
        let value_result: std::result::Result<T, _> = autosurgeon::hydrate(doc);
        let mut value: T = value_result.map_err(|e| CoreError::Schema { id, detail: e.to_string() })?;
        if value.header().schema_version > SCHEMA_VERSION {
            return Err(CoreError::NewerSchema { id, version: value.header().schema_version });
        }
        let header_before = value.header().clone();
        let out = edit(&mut value)?;
        if *value.header() != header_before {
            return Err(CoreError::invalid("header", "a document's header cannot be changed"));
        }
        value.validate()?;
        self.write(|s| {
            s.touch(id);
            let doc = s.loaded(id)?;
            if let Err(e) = autosurgeon::reconcile(doc, &value) {
                doc.rollback();
                return Err(CoreError::Schema { id, detail: e.to_string() });
            }
            if doc.commit_with(CommitOptions::default().with_time(now.0 / 1000)).is_none() {
                return Ok(());
            }
            let chunk = doc.save_after(&before_heads);
            let new_heads = doc.get_heads();
            s.persist_chunk(
                row.n,
                &chunk,
                &new_heads,
                now,
                Refresh::Typed(&value as &dyn index::Indexable),
                id,
            )
        })?;
        Ok(out)
    }

    /// Rebuilds the search rows that keystrokes left stale (see `splice_report_section`), from
    /// the documents on disk. A document that cannot be read keeps its mark and its old row.
    pub(crate) fn refresh_stale_search(&self) -> Result<()> {
        let stale: Vec<(i64, Vec<u8>)> = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT s.doc, d.id FROM search_stale s JOIN documents d ON d.n = s.doc")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for (n, id) in stale {
            let id = DocId::from_slice(&id).map_err(|e| CoreError::DamagedStore {
                detail: format!("a stored document id is unreadable ({e})"),
            })?;
            match self.read_from_disk(id) {
                Ok(mut doc) => index::refresh_from_doc(&self.conn, n, id, &mut doc)?,
                Err(e) => tracing::warn!(%id, error = %e, "search row of a document left as it was"),
            }
        }
        Ok(())
    }

    /// Rebuilds every derived table (tasks, states, reviews, search) from the documents.
    /// Damaged documents are skipped and logged; they stay reported by [`Store::get`].
    pub fn rebuild_indexes(&mut self) -> Result<()> {
        self.prepare_all()?;
        let ids = self.document_ids(None)?;
        let mut loaded = Vec::with_capacity(ids.len());
        for id in ids {
            match self.read_from_disk(id) {
                Ok(doc) => loaded.push((id, doc)),
                Err(e) => {
                    tracing::warn!(%id, error = %e, "document skipped while rebuilding indexes")
                }
            }
        }
        self.write(|s| {
            s.conn.execute_batch(
                "DELETE FROM tasks; DELETE FROM task_states; DELETE FROM report_reviews; DELETE FROM search;\n                 DELETE FROM report_figures; DELETE FROM report_facts;\n                 DELETE FROM search_stale; DELETE FROM file_refs;",
            )?;
            for (id, mut doc) in loaded {
                let n: i64 = s.conn.query_row(
                    "SELECT n FROM documents WHERE id = ?1",
                    params![id.to_bytes().to_vec()],
                    |r| r.get(0),
                )?;
                match index::refresh_from_doc(&s.conn, n, id, &mut doc)
                    .and_then(|()| index::refresh_receipt_times(&s.conn, n, &mut doc))
                {
                    Ok(()) => {
                        // A document an older app could not read is readable now.
                        s.conn.execute(
                            "DELETE FROM sync_problems WHERE doc = ?1 AND kind = 'newer_app'",
                            params![id.to_bytes().to_vec()],
                        )?;
                    }
                    Err(CoreError::Storage(e)) => return Err(CoreError::Storage(e)),
                    Err(e) => tracing::warn!(%id, error = %e, "document not indexed"),
                }
            }
            s.conn.execute("DELETE FROM meta WHERE key = 'needs_reindex'", [])?;
            Ok(())
        })
    }
}

/// Inserts a new document row and its first snapshot; returns the row number.
pub(crate) fn insert_document(
    tx: &Connection,
    header: &Header,
    title: &str,
    snapshot: &[u8],
    heads_now: &[ChangeHash],
    now: Timestamp,
) -> Result<i64> {
    tx.execute(
        "INSERT INTO documents(id, kind, owner, title, chunk_count, heads, acked_heads, updated_at)
         VALUES (?1, ?2, ?3, ?4, 0, ?5, NULL, ?6)",
        params![
            header.id.to_bytes().to_vec(),
            header.kind.as_str(),
            header.owner.to_bytes().to_vec(),
            title,
            heads::encode(heads_now),
            now.0
        ],
    )?;
    let n = tx.last_insert_rowid();
    tx.execute("INSERT INTO snapshots(doc, bytes) VALUES (?1, ?2)", params![n, snapshot])?;
    Ok(n)
}

fn configure(conn: &Connection, durability: Durability) -> Result<()> {
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode, "store is not in WAL mode");
    }
    conn.pragma_update(
        None,
        "synchronous",
        match durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        },
    )?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // After a checkpoint resets the WAL, its file is cut back to this size.
    conn.pragma_update(None, "journal_size_limit", 16 * 1024 * 1024)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Plans that do not depend on bound values: otherwise SQLite prepares a statement such as
    // `WHERE doc = ?1 ORDER BY unit` again on every use.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn load_or_create_device(conn: &Connection) -> Result<DeviceId> {
    let existing = conn
        .query_row("SELECT value FROM meta WHERE key = 'device'", [], |r| r.get::<_, Vec<u8>>(0))
        .optional()?;
    if let Some(bytes) = existing {
        // A stored id that cannot be read must not be replaced: the relay knows this device by
        // it, and every change the device wrote carries it.
        return DeviceId::from_slice(&bytes)
            .map_err(|e| CoreError::DamagedStore { detail: format!("the device id is unreadable ({e})") });
    }
    let id = DeviceId::from_uuid(uuid::Uuid::now_v7());
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('device', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![id.to_bytes().to_vec()],
    )?;
    Ok(id)
}

#[cfg(feature = "fault-injection")]
impl Store {
    /// Makes the store's file refuse to grow by more than `extra_pages` pages, as a full disk
    /// would (SQLite's own page limit: the write that needs another page fails with
    /// SQLITE_FULL); `None` lifts the limit.
    pub fn limit_storage(&mut self, extra_pages: Option<u32>) -> Result<()> {
        let limit: i64 = match extra_pages {
            Some(extra) => {
                let pages: i64 = self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
                pages + i64::from(extra)
            }
            None => 1_073_741_823,
        };
        let _set: i64 = self.conn.query_row(&format!("PRAGMA max_page_count = {limit}"), [], |r| r.get(0))?;
        Ok(())
    }

    /// Interrupts, once, whatever SQLite statement is running after about `ops` more virtual
    /// machine steps (SQLITE_INTERRUPT: inside a transaction SQLite rolls it all back, as after
    /// a crash at that point). `None` removes a pending interruption.
    pub fn interrupt_after(&mut self, ops: Option<u32>) -> Result<()> {
        match ops {
            Some(ops) => {
                // Called every 16 steps of any statement; counts down across statements.
                let mut left = ops / 16;
                let mut fired = false;
                self.conn.progress_handler(
                    16,
                    Some(move || {
                        if fired {
                            return false;
                        }
                        if left == 0 {
                            fired = true;
                            return true;
                        }
                        left -= 1;
                        false
                    }),
                )?;
            }
            None => self.conn.progress_handler(0, None::<fn() -> bool>)?,
        }
        Ok(())
    }
}

impl Store {
    /// How many documents are loaded in memory now (at most `cache_capacity`).
    pub fn cached_documents(&self) -> usize {
        self.cache.len()
    }
}
