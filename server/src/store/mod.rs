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
pub mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use giaoban_protocol::wire::{DocHeads, Epoch, RelayChanges};
use giaoban_protocol::{DeviceId, DocId, Timestamp, UnitId};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

pub use admin::EnrollmentCode;
pub use writer::{Ctx, PushOutcome, Writer, push as writer_push};

/// What the relay store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed (disk full, read-only file, I/O error).
    #[error("relay storage error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The batch holding the write could not be committed; nothing of it was stored.
    #[error("the relay could not store the changes ({0}); nothing was acknowledged, retry later")]
    Commit(String),
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

/// One page of changes for a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Changes grouped by document, in sequence order.
    pub changes: Vec<RelayChanges>,
    /// The cursor after this page.
    pub cursor: u64,
    /// More pages wait.
    pub more: bool,
}

/// The relay's store. Cheap to clone.
#[derive(Clone)]
pub struct RelayStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    writer: Writer,
}

/// SHA-256, for tokens and enrollment codes: only hashes are stored.
pub fn sha256(s: &str) -> Vec<u8> {
    Sha256::digest(s.as_bytes()).to_vec()
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(crate) fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

impl StoreError {
    /// Whether the store failed because its disk (or quota) is full.
    pub fn is_storage_full(&self) -> bool {
        let full = |e: &rusqlite::Error| e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull);
        match self {
            StoreError::Sqlite(e) => full(e),
            StoreError::Commit(m) => m.contains("full"),
            _ => false,
        }
    }

    /// Whether the store failed because its database cannot be written (file or folder
    /// permissions, a read-only mount).
    pub fn is_read_only(&self) -> bool {
        let ro = |e: &rusqlite::Error| {
            matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen)
            )
        };
        match self {
            StoreError::Sqlite(e) => ro(e),
            StoreError::Commit(m) => m.contains("readonly") || m.contains("read-only"),
            _ => false,
        }
    }
}

impl RelayStore {
    /// Opens (creating if needed) the relay store in `dir` (file `relay.sqlite`).
    pub fn open(dir: &Path) -> Result<RelayStore> {
        RelayStore::open_with_quota(dir, 0)
    }

    /// Opens the store with its database limited to `max_kb` kilobytes (0: no limit). Past the
    /// limit, writes fail as on a full disk: nothing is acknowledged, reads go on.
    pub fn open_with_quota(dir: &Path, max_kb: u64) -> Result<RelayStore> {
        RelayStore::open_inner(dir, max_kb).map_err(|e| {
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

    fn open_inner(dir: &Path, max_kb: u64) -> Result<RelayStore> {
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
            params![DeviceId::from_parts(now_ms() as u64, rand::random()).to_bytes().to_vec()],
        )?;
        if max_kb > 0 {
            let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let pages = (max_kb as i64 * 1024 / page_size.max(512)).max(1);
            let _set: i64 = conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| r.get(0))?;
        }
        let readers = (0..2).map(|_| open_connection(&path)).collect::<rusqlite::Result<Vec<_>>>()?;
        let writer = Writer::start(conn)?;
        Ok(RelayStore { inner: Arc::new(Inner { path, readers: Mutex::new(readers), writer }) })
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
        if pool.len() < 8 {
            pool.push(conn);
        }
        out
    }

    /// The relay's current epoch.
    pub fn epoch(&self) -> Result<Epoch> {
        self.read(|c| {
            Ok(Epoch(
                c.query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| r.get::<_, i64>(0))? as u64
            ))
        })
    }

    /// The highest sequence number stored.
    pub fn max_seq(&self) -> Result<u64> {
        self.read(max_seq)
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
                Some((d, u, None)) => match (DeviceId::from_slice(&d), UnitId::from_slice(&u)) {
                    (Ok(device), Ok(unit)) => Ok(DeviceAuth { device, unit }),
                    _ => Err(AuthFailure::Unknown),
                },
            })
        })
    }

    /// The changes after `cursor` that `unit` may read, written by other devices than `device`,
    /// at most about `page_bytes` of them (always at least one change if any wait). Blocking.
    pub fn pull(&self, unit: UnitId, device: DeviceId, cursor: u64, page_bytes: u32) -> Result<Page> {
        self.read(|c| {
            let tx = c.unchecked_transaction()?;
            let top = max_seq(&tx)?;
            if cursor >= top {
                return Ok(Page { changes: Vec::new(), cursor: top, more: false });
            }
            let mut stmt = tx.prepare_cached(
                "SELECT c.seq, d.id, c.bytes, c.received_at
                 FROM changes c
                 JOIN readers r ON r.doc = c.doc AND r.unit = ?1
                 JOIN docs d ON d.n = c.doc
                 WHERE c.seq > ?2 AND c.device != ?3
                 ORDER BY c.seq",
            )?;
            let mut rows =
                stmt.query(params![unit.to_bytes().to_vec(), cursor as i64, device.to_bytes().to_vec()])?;
            let mut out: Vec<RelayChanges> = Vec::new();
            let mut bytes = 0usize;
            let mut last = cursor;
            let mut more = false;
            while let Some(r) = rows.next()? {
                let seq = r.get::<_, i64>(0)? as u64;
                let change: Vec<u8> = r.get(2)?;
                if bytes > 0 && bytes + change.len() > page_bytes as usize {
                    more = true;
                    break;
                }
                let doc = DocId::from_slice(&r.get::<_, Vec<u8>>(1)?)
                    .map_err(|e| StoreError::Invalid(e.to_string()))?;
                let received_at: i64 = r.get(3)?;
                bytes += change.len();
                last = seq;
                match out.last_mut() {
                    Some(rc) if rc.doc == doc => {
                        rc.changes.push(change);
                        rc.received_at = received_at;
                    }
                    _ => out.push(RelayChanges { doc, changes: vec![change], received_at }),
                }
            }
            let cursor = if more { last } else { top };
            Ok(Page { changes: out, cursor, more })
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
        Timestamp(now_ms())
    }
}

fn max_seq(c: &Connection) -> Result<u64> {
    Ok(c.query_row("SELECT IFNULL(MAX(seq), 0) FROM changes", [], |r| r.get::<_, i64>(0))? as u64)
}
