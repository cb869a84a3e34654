//! The relay store: every accepted change in one SQLite file, in an append-only sequence.
//!
//! One writer thread owns the only write connection. Pushes from many devices queue up for it;
//! it takes everything waiting, checks each pushed document (`authz::check_push`), and commits
//! the whole batch in one transaction (group commit) before anyone is acknowledged. Each job
//! runs inside its own savepoint, so one failing job never takes another's changes with it.
//! Reads (pulls, token checks) use a small pool of read connections on blocking threads.
//!
//! Invariant: nothing here runs on an async worker thread; the HTTP layer calls reads through
//! `spawn_blocking` and writes through the writer's queue.
//! Invariant: a device is acknowledged only after the transaction holding its changes committed.

mod admin;
pub mod backend;
mod clock;
mod deliveries;
mod doc_cache;
mod drafts;
mod files;
mod people;
mod precheck;
pub mod schema;
mod staff;
mod units;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use giaoban_protocol::seal::RelayKey;
use giaoban_protocol::wire::{ChangeMeta, DocHeads, Epoch, RelayChanges, Witness};
use giaoban_protocol::{DeviceId, DocId, Timestamp, UnitId};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

pub use admin::{DEVICE_LABEL_MAX, EnrollmentCode, device_label};
pub use clock::RelayClock;
pub use deliveries::{DeviceRow, UnitDelivery};
pub use drafts::{Draft, DraftForFiles, DraftSummary, UNTITLED};
pub use files::FileAccess;
pub use precheck::{Prechecked, Prechecker};
pub use staff::{
    FAILURES_BEFORE_LOCK, HASHES_AT_ONCE, LOCK_MS, SESSION_MAX_MS, SignIn, StaffAccount, StaffId,
    StaffSession, normalise_login,
};
pub use units::{NewUnit, TreeChange};
pub use writer::{Ctx, PushOutcome, Writer, push as writer_push, push_prechecked};

/// What the relay store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed (disk full, read-only file, I/O error).
    #[error("relay storage error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed (the server is down or unreachable, a constraint, a lost connection).
    #[error("relay database error (PostgreSQL): {}", postgres_detail(.0))]
    Postgres(#[from] postgres::Error),
    /// The batch holding the write could not be committed; nothing of it was stored.
    #[error("the relay could not store the changes ({message}); nothing was acknowledged, retry later")]
    Commit {
        /// SQLite's primary result code, when SQLite gave one.
        code: Option<rusqlite::ErrorCode>,
        /// What SQLite said.
        message: String,
    },
    /// The device was revoked while its request waited (the revocation committed first).
    #[error("this device was revoked by the office")]
    Revoked,
    /// The writer thread is gone (the relay is shutting down).
    #[error("the relay is shutting down")]
    Closed,
    /// Enrollment refused.
    #[error("{0}")]
    Enrollment(String),
    /// Something the operator asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Bad input to an admin command.
    #[error("{0}")]
    Invalid(String),
    /// A bug in the relay stopped this write; nothing of it was stored.
    #[error("{0}")]
    Internal(String),
}

/// What Postgres said, with its code: the client's own words for a server error are only
/// "db error".
fn postgres_detail(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// Results of relay store calls.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A device that presented a valid token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceAuth {
    /// The device.
    pub device: DeviceId,
    /// Its unit.
    pub unit: UnitId,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No device has this token.
    Unknown,
    /// The device was revoked.
    Revoked,
}

/// A page of a unit's log (the relay's half of the protocol defines it).
pub use giaoban_protocol::relay_session::LogPage as Page;

/// What a device asks of its unit's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullQuery {
    /// The device's unit.
    pub unit: UnitId,
    /// The device; its own changes it holds are left out.
    pub device: DeviceId,
    /// Changes after this position.
    pub cursor: u64,
    /// The device holds its own changes up to here.
    pub own_held: u64,
    /// Its newest own change before this request's push, when it pushed (otherwise it is read
    /// with the page).
    pub own_top_before: Option<u64>,
    /// About this many change bytes at most (at least one change if any wait).
    pub page_bytes: u32,
    /// Documents to send whole, with every change, if the unit may read them.
    pub whole: Vec<DocId>,
}

/// Settings of a relay store.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// Largest size of the database in kilobytes; 0 for no limit.
    pub max_kb: u64,
    /// The relay's clock.
    pub clock: RelayClock,
}

/// The relay's store. Cheap to clone.
#[derive(Clone)]
pub struct RelayStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    key: RelayKey,
    clock: RelayClock,
    // Declared last: dropped after the readers, and it waits for the writer thread.
    writer: Writer,
}

/// SHA-256, for tokens and enrollment codes: only hashes are stored.
pub fn sha256(s: &str) -> Vec<u8> {
    Sha256::digest(s.as_bytes()).to_vec()
}

/// Read connections kept open: the relay's blocking threads (16) may all read at once.
const READ_CONNECTIONS: usize = 16;

pub(crate) fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // Plans that do not depend on bound values: otherwise SQLite prepares a statement such as
    // `WHERE doc = ?1 ORDER BY unit` again on every use.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // The writer alone uses some forty statements; the default keeps sixteen.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

impl StoreError {
    /// The SQLite result code behind this error, if any.
    fn sqlite_code(&self) -> Option<rusqlite::ErrorCode> {
        match self {
            StoreError::Sqlite(e) => e.sqlite_error_code(),
            StoreError::Commit { code, .. } => *code,
            _ => None,
        }
    }

    /// Whether the store failed because its disk (or quota) is full.
    pub fn is_storage_full(&self) -> bool {
        self.sqlite_code() == Some(rusqlite::ErrorCode::DiskFull)
    }

    /// Whether the store failed because its database cannot be written (file or folder
    /// permissions, a read-only mount).
    pub fn is_read_only(&self) -> bool {
        matches!(self.sqlite_code(), Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen))
    }

    /// The same error for another waiting caller (SQLite's errors cannot be cloned; their code
    /// and words can).
    pub(crate) fn for_caller(&self) -> StoreError {
        match self {
            StoreError::Sqlite(e) => {
                StoreError::Commit { code: e.sqlite_error_code(), message: e.to_string() }
            }
            StoreError::Commit { code, message } => {
                StoreError::Commit { code: *code, message: message.clone() }
            }
            StoreError::Postgres(e) => StoreError::Commit { code: None, message: postgres_detail(e) },
            StoreError::Closed => StoreError::Closed,
            StoreError::Revoked => StoreError::Revoked,
            StoreError::Enrollment(m) => StoreError::Enrollment(m.clone()),
            StoreError::NotFound(m) => StoreError::NotFound(m.clone()),
            StoreError::Invalid(m) => StoreError::Invalid(m.clone()),
            StoreError::Internal(m) => StoreError::Internal(m.clone()),
        }
    }
}

impl RelayStore {
    /// Opens (creating if needed) the relay store in `dir` (file `relay.sqlite`).
    pub fn open(dir: &Path) -> Result<RelayStore> {
        RelayStore::open_with(dir, StoreOptions::default())
    }

    /// Opens the store with its database limited to `max_kb` kilobytes (0: no limit). Past the
    /// limit, writes fail as on a full disk: nothing is acknowledged, reads go on.
    pub fn open_with_quota(dir: &Path, max_kb: u64) -> Result<RelayStore> {
        RelayStore::open_with(dir, StoreOptions { max_kb, ..StoreOptions::default() })
    }

    /// Opens the store with `opts`.
    pub fn open_with(dir: &Path, opts: StoreOptions) -> Result<RelayStore> {
        RelayStore::open_inner(dir, opts).map_err(|e| {
            if e.is_read_only() {
                StoreError::Invalid(format!(
                    "the relay cannot write its database in {} ({e}); let the user running the relay write that folder and the files in it (or remount it read-write), then start the relay again",
                    dir.display()
                ))
            } else {
                e
            }
        })
    }

    fn open_inner(dir: &Path, opts: StoreOptions) -> Result<RelayStore> {
        let StoreOptions { max_kb, clock } = opts;
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Invalid(format!("cannot create the data folder {}: {e}", dir.display()))
        })?;
        let path = dir.join("relay.sqlite");
        let mut conn = open_connection(&path)?;
        schema::migrate(&mut conn)?;
        conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('epoch', ?1)",
            params![rand::random::<u64>() as i64 >> 1],
        )?;
        conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('relay_device', ?1)",
            params![DeviceId::from_parts(clock.now().max(0) as u64, rand::random()).to_bytes().to_vec()],
        )?;
        // The key that seals vouchers lives in the database, so a backup carries it and a
        // restored relay still recognises what it once accepted.
        conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('voucher_key', ?1)",
            params![rand::random::<[u8; 32]>().to_vec()],
        )?;
        let key: Vec<u8> =
            conn.query_row("SELECT value FROM meta WHERE key = 'voucher_key'", [], |r| r.get(0))?;
        let key =
            RelayKey::from_bytes(key.as_slice().try_into().map_err(|_| {
                StoreError::Invalid("the relay's voucher key is damaged (not 32 bytes)".into())
            })?);
        if max_kb > 0 {
            let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let pages = (max_kb as i64 * 1024 / page_size.max(512)).max(1);
            let _set: i64 = conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| r.get(0))?;
        }
        let readers = (0..2).map(|_| open_connection(&path)).collect::<rusqlite::Result<Vec<_>>>()?;
        let writer = Writer::start(conn, clock.clone(), key.clone())?;
        Ok(RelayStore { inner: Arc::new(Inner { path, readers: Mutex::new(readers), key, clock, writer }) })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The writer queue.
    pub fn writer(&self) -> &Writer {
        &self.inner.writer
    }

    /// Runs `f` on a read connection. Blocking: call from `spawn_blocking` in async code.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = {
            let mut pool = self.inner.readers.lock().unwrap_or_else(|p| p.into_inner());
            pool.pop()
        };
        let conn = match conn {
            Some(c) => c,
            None => open_connection(&self.inner.path)?,
        };
        let out = f(&conn);
        let mut pool = self.inner.readers.lock().unwrap_or_else(|p| p.into_inner());
        // As many as blocking threads may read at once, so a busy relay does not open and
        // close connections for every request.
        if pool.len() < READ_CONNECTIONS {
            pool.push(conn);
        }
        out
    }

    /// The database's own name (random, made with it and kept by its backups), in hex.
    pub fn relay_id(&self) -> Result<String> {
        self.read(|c| {
            let id: Vec<u8> =
                c.query_row("SELECT value FROM meta WHERE key = 'relay_id'", [], |r| r.get(0))?;
            Ok(hex::encode(id))
        })
    }

    /// The relay's current epoch.
    pub fn epoch(&self) -> Result<Epoch> {
        self.read(|c| {
            Ok(Epoch(
                c.query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| r.get::<_, i64>(0))? as u64
            ))
        })
    }

    /// Whether the store can serve: its writer runs, a read connection answers, and the
    /// database's schema is the one this relay knows. `Err` says why not, in a short sentence.
    /// Blocking.
    pub fn readiness(&self) -> std::result::Result<(), String> {
        if !self.inner.writer.is_running() {
            return Err("the relay's writer has stopped".into());
        }
        let known = schema::MIGRATIONS.len() as i64;
        let found = self
            .read(|c| {
                let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                let _epoch: i64 =
                    c.query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| r.get(0))?;
                Ok(version)
            })
            .map_err(|e| format!("the store does not answer a read: {e}"))?;
        match found.cmp(&known) {
            std::cmp::Ordering::Equal => Ok(()),
            std::cmp::Ordering::Less => Err(format!(
                "the database's schema is version {found}; this relay migrates it to {known} when it starts"
            )),
            std::cmp::Ordering::Greater => {
                Err(format!("the database's schema is version {found}, newer than this relay's {known}"))
            }
        }
    }

    /// Bytes of the database file, its write-ahead log, and the attached files held whole
    /// (from the `files` table; the folder is not walked). Blocking.
    pub fn sizes(&self) -> Result<crate::metrics::StoreSizes> {
        // A file that is not there (the log after a checkpoint) weighs nothing; a gauge is no
        // place to fail a scrape over one that cannot be read.
        let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut wal = self.inner.path.clone().into_os_string();
        wal.push("-wal");
        let files = self.read(|c| {
            let n: i64 =
                c.prepare_cached("SELECT COALESCE(SUM(size), 0) FROM files")?.query_row([], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })?;
        Ok(crate::metrics::StoreSizes { database: len(&self.inner.path), wal: len(Path::new(&wal)), files })
    }

    /// The highest sequence number stored.
    pub fn max_seq(&self) -> Result<u64> {
        self.read(max_seq)
    }

    /// The relay's key for vouchers.
    pub fn key(&self) -> &RelayKey {
        &self.inner.key
    }

    /// Checks a bearer token. Blocking.
    pub fn authenticate(&self, token: &str) -> Result<Result<DeviceAuth, AuthFailure>> {
        let hash = sha256(token);
        self.read(|c| {
            let row = c
                .query_row(
                    "SELECT id, unit, revoked_at FROM devices WHERE token_hash = ?1",
                    params![hash],
                    |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, Option<i64>>(2)?)),
                )
                .optional()?;
            Ok(match row {
                None => Err(AuthFailure::Unknown),
                Some((_, _, Some(_))) => Err(AuthFailure::Revoked),
                Some((d, u, None)) => {
                    let device = DeviceId::from_slice(&d)
                        .map_err(|e| StoreError::Invalid(format!("a stored device id is damaged: {e}")))?;
                    let unit = UnitId::from_slice(&u)
                        .map_err(|e| StoreError::Invalid(format!("a stored unit id is damaged: {e}")))?;
                    Ok(DeviceAuth { device, unit })
                }
            })
        })
    }

    /// Whether `witness` is a point of `unit`'s log as this relay holds it. Blocking.
    pub fn witness_holds(&self, unit: UnitId, witness: Witness) -> Result<bool> {
        self.read(|c| witness_holds(c, unit, witness))
    }

    /// The newest point of `unit`'s log. Blocking.
    pub fn top(&self, unit: UnitId) -> Result<Witness> {
        self.read(|c| top(c, unit))
    }

    /// Documents asked for whole, then a page of `unit`'s log after the cursor, leaving out the
    /// device's own changes it already holds (but not restamps of their receipt times), at most about `page_bytes` of changes (always at
    /// least one change if any wait). One read transaction. Blocking.
    pub fn pull(&self, q: &PullQuery) -> Result<Page> {
        let key = self.inner.key.clone();
        self.read(|c| {
            let tx = c.unchecked_transaction()?;
            let top = top(&tx, q.unit)?;
            let own_top: i64 = tx
                .prepare_cached("SELECT own_top FROM devices WHERE id = ?1")?
                .query_row(params![q.device.to_bytes().to_vec()], |r| r.get(0))
                .optional()?
                .unwrap_or(0);
            let start = giaoban_protocol::relay_session::Start {
                cursor: q.cursor,
                own_held: q.own_held,
                reconcile: false,
            };
            let left_out = giaoban_protocol::relay_session::own_left_out(
                start,
                q.own_top_before.unwrap_or(own_top as u64),
                own_top as u64,
            );
            let mut out: Vec<RelayChanges> = Vec::new();
            let mut bytes = 0usize;
            for doc in &q.whole {
                bytes += whole_document(&tx, &key, q.unit, *doc, &mut out)?;
            }
            if q.cursor >= top.pos {
                return Ok(Page { changes: out, cursor: top.pos, more: false, top, own_top: own_top as u64 });
            }
            let mut stmt = tx.prepare_cached(
                "SELECT l.pos, d.id, c.hash, c.bytes, c.received_at
                 FROM unit_log l
                 JOIN changes c ON c.seq = l.change
                 JOIN docs d ON d.n = c.doc
                 WHERE l.unit = ?1 AND l.pos > ?2 AND (c.device != ?3 OR l.pos > ?4 OR l.restamp = 1)
                 ORDER BY l.pos",
            )?;
            let mut rows = stmt.query(params![
                q.unit.to_bytes().to_vec(),
                q.cursor as i64,
                q.device.to_bytes().to_vec(),
                left_out as i64
            ])?;
            let mut last = q.cursor;
            let mut more = false;
            let budget = q.page_bytes as usize;
            let mut page_bytes = 0usize;
            while let Some(r) = rows.next()? {
                let pos = r.get::<_, i64>(0)? as u64;
                let change: Vec<u8> = r.get(3)?;
                if page_bytes > 0 && bytes + change.len() > budget {
                    more = true;
                    break;
                }
                let row = LogRow::read(r)?;
                bytes += change.len();
                page_bytes += change.len();
                last = pos;
                row.push_into(&key, change, &mut out);
            }
            let cursor = if more { last } else { top.pos };
            Ok(Page { changes: out, cursor, more, top, own_top: own_top as u64 })
        })
    }

    /// Of the documents a device of `unit` holds, those the relay lacks wholly or partly. A
    /// document `unit` may not read counts as lacking, exactly like one the relay never had,
    /// so the answer tells a device nothing about documents outside its reach. Blocking.
    pub fn wanted(&self, unit: UnitId, have: &[DocHeads]) -> Result<Vec<DocId>> {
        self.read(|c| {
            let mut out = Vec::new();
            let mut doc_stmt = c.prepare_cached(
                "SELECT d.n FROM docs d JOIN readers r ON r.doc = d.n AND r.unit = ?2 WHERE d.id = ?1",
            )?;
            let mut change_stmt = c.prepare_cached("SELECT 1 FROM changes WHERE doc = ?1 AND hash = ?2")?;
            for h in have {
                let n: Option<i64> = doc_stmt
                    .query_row(params![h.doc.to_bytes().to_vec(), unit.to_bytes().to_vec()], |r| r.get(0))
                    .optional()?;
                let complete = match n {
                    None => false,
                    Some(n) => {
                        let mut all = true;
                        for head in &h.heads {
                            if !change_stmt.exists(params![n, head.to_vec()])? {
                                all = false;
                                break;
                            }
                        }
                        all
                    }
                };
                if !complete {
                    out.push(h.doc);
                }
            }
            Ok(out)
        })
    }

    /// Document ids and kinds stored (for the operator).
    pub fn document_count(&self) -> Result<u64> {
        self.read(|c| Ok(c.query_row("SELECT count(*) FROM docs", [], |r| r.get::<_, i64>(0))? as u64))
    }

    /// The relay's clock.
    pub fn now(&self) -> Timestamp {
        Timestamp(self.inner.clock.now())
    }

    /// The relay's clock, to hand to what runs beside the store.
    pub fn clock(&self) -> &RelayClock {
        &self.inner.clock
    }
}

fn max_seq(c: &Connection) -> Result<u64> {
    Ok(c.query_row("SELECT IFNULL(MAX(seq), 0) FROM changes", [], |r| r.get::<_, i64>(0))? as u64)
}

fn top(c: &Connection, unit: UnitId) -> Result<Witness> {
    let row: Option<(i64, Vec<u8>)> = c
        .prepare_cached("SELECT pos, digest FROM unit_tops WHERE unit = ?1")?
        .query_row(params![unit.to_bytes().to_vec()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(match row {
        None => Witness::default(),
        Some((pos, digest)) => Witness { pos: pos as u64, digest: digest16(&digest)? },
    })
}

fn digest16(bytes: &[u8]) -> Result<[u8; 16]> {
    bytes.try_into().map_err(|_| StoreError::Invalid("a stored log digest is damaged (not 16 bytes)".into()))
}

fn witness_holds(c: &Connection, unit: UnitId, w: Witness) -> Result<bool> {
    if w.pos == 0 {
        return Ok(w.digest == [0; 16]);
    }
    let digest: Option<Vec<u8>> = c
        .prepare_cached("SELECT digest FROM unit_log WHERE unit = ?1 AND pos = ?2")?
        .query_row(params![unit.to_bytes().to_vec(), w.pos as i64], |r| r.get(0))
        .optional()?;
    Ok(digest.is_some_and(|d| d.as_slice() == w.digest))
}

/// One change as read for a device.
struct LogRow {
    doc: DocId,
    hash: [u8; 32],
    received_at: i64,
}

impl LogRow {
    /// Reads columns 1, 2 and 4 (document id, hash, received_at) of a log query.
    fn read(r: &rusqlite::Row<'_>) -> Result<LogRow> {
        let doc = DocId::from_slice(&r.get::<_, Vec<u8>>(1)?)
            .map_err(|e| StoreError::Invalid(format!("a stored document id is damaged: {e}")))?;
        let hash: Vec<u8> = r.get(2)?;
        let hash = hash
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Invalid(format!("a stored change hash of {doc} is damaged")))?;
        Ok(LogRow { doc, hash, received_at: r.get(4)? })
    }

    /// The change's receipt time (deadlines are judged by those of responses) and a voucher
    /// for it: any device that reads the document may be the last one holding the change when
    /// the relay is restored from an older backup (its author lost, no other device of the
    /// owner unit having received it), and then carries it back.
    fn meta(&self, key: &RelayKey) -> ChangeMeta {
        ChangeMeta {
            received_at: self.received_at,
            seal: Some(key.seal(self.doc, &self.hash, self.received_at)),
        }
    }

    fn push_into(self, key: &RelayKey, change: Vec<u8>, out: &mut Vec<RelayChanges>) {
        let meta = self.meta(key);
        match out.last_mut() {
            Some(rc) if rc.doc == self.doc => {
                rc.changes.push(change);
                rc.meta.push(meta);
            }
            _ => out.push(RelayChanges { doc: self.doc, changes: vec![change], meta: vec![meta] }),
        }
    }
}

/// Appends every change of `doc` to `out` if `unit` may read it; returns the bytes added.
fn whole_document(
    c: &Connection,
    key: &RelayKey,
    unit: UnitId,
    doc: DocId,
    out: &mut Vec<RelayChanges>,
) -> Result<usize> {
    let mut stmt = c.prepare_cached(
        "SELECT c.seq, d.id, c.hash, c.bytes, c.received_at
         FROM docs d
         JOIN readers r ON r.doc = d.n AND r.unit = ?2
         JOIN changes c ON c.doc = d.n
         WHERE d.id = ?1
         ORDER BY c.seq",
    )?;
    let mut rows = stmt.query(params![doc.to_bytes().to_vec(), unit.to_bytes().to_vec()])?;
    let mut bytes = 0;
    let mut group = RelayChanges { doc, changes: Vec::new(), meta: Vec::new() };
    while let Some(r) = rows.next()? {
        let change: Vec<u8> = r.get(3)?;
        let row = LogRow::read(r)?;
        bytes += change.len();
        group.meta.push(row.meta(key));
        group.changes.push(change);
    }
    if !group.changes.is_empty() {
        out.push(group);
    }
    Ok(bytes)
}
