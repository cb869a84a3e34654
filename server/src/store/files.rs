//! What the database knows of attached files: which documents refer to which file (kept by the
//! writer as documents are stored), who may send or fetch one, and which files are held whole.
//! The bytes live in the file folder (`crate::files`).

use giaoban_protocol::{BlobHash, UnitId};
use rusqlite::{OptionalExtension, params};

use super::writer::load_tree;
use super::{RelayStore, Result, StoreError};

/// What a unit's devices may do with one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileAccess {
    /// The file's size, as a document the unit writes gives it: a device of the unit may send
    /// the file. `None`: no document the unit writes refers to it.
    pub send_size: Option<u64>,
    /// Whether the unit has shown it holds the file (one of its devices sent every byte), so
    /// the relay's copy stands for its documents too. Until then it sends the bytes even if the
    /// relay holds them already.
    pub proven: bool,
    /// The file's size, as a document the unit reads gives it, when that document's owner
    /// holds the file: a device of the unit may fetch it. `None`: no such document (or the
    /// hash is unknown: the same answer).
    pub read_size: Option<u64>,
    /// A document the unit reads refers to the file and its owner has not sent all of it yet:
    /// that owner, and the size the document gives. Its readers are told how far the send
    /// has come ("đang tải lên 40 %"), never the bytes.
    pub coming_from: Option<(UnitId, u64)>,
}

/// Records `hash` as held whole, sent by `unit`, unreferenced from now if no document refers
/// to it; a file already recorded is left as it is.
fn insert_file(ctx: &mut super::Ctx<'_>, hash: BlobHash, size: u64, unit: &[u8]) -> Result<()> {
    ctx.tx
        .prepare_cached(
            "INSERT INTO files(hash, size, unit, stored_at, unreferenced_at)
             VALUES (?1, ?2, ?3, ?4,
                     CASE WHEN EXISTS (SELECT 1 FROM file_refs WHERE hash = ?1) THEN NULL ELSE ?4 END)
             ON CONFLICT(hash) DO NOTHING",
        )?
        .execute(params![hash.0.to_vec(), i64::try_from(size).unwrap_or(i64::MAX), unit, ctx.now])?;
    Ok(())
}

fn size_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl RelayStore {
    /// What devices of `unit` may do with `hash`. Blocking.
    pub fn file_access(&self, unit: UnitId, hash: BlobHash) -> Result<FileAccess> {
        self.read(|c| {
            let rows: Vec<(i64, Vec<u8>, bool, bool)> = c
                .prepare_cached(
                    "SELECT f.size, d.owner,
                            EXISTS (SELECT 1 FROM readers r WHERE r.doc = f.doc AND r.unit = ?2),
                            EXISTS (SELECT 1 FROM file_holders h WHERE h.hash = f.hash AND h.unit = d.owner)
                     FROM file_refs f JOIN docs d ON d.n = f.doc WHERE f.hash = ?1",
                )?
                .query_map(params![hash.0.to_vec(), unit.to_bytes().to_vec()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut access = FileAccess::default();
            if rows.is_empty() {
                return Ok(access);
            }
            let tree = load_tree(c)?;
            for (size, owner, readable, held) in rows {
                let owner = UnitId::from_slice(&owner).map_err(|e| StoreError::Invalid(e.to_string()))?;
                let writes = tree.may_write(unit, owner);
                if writes {
                    access.send_size.get_or_insert(size_of(size));
                    access.proven |= held;
                }
                if (readable || writes) && held {
                    access.read_size.get_or_insert(size_of(size));
                } else if readable || writes {
                    access.coming_from.get_or_insert((owner, size_of(size)));
                }
            }
            Ok(access)
        })
    }

    /// Whether `unit` holds `hash`: one of its devices (or of a unit it succeeds) sent every
    /// byte of it and they matched, so the relay's copy stands for its documents. Blocking.
    pub fn file_held_by(&self, hash: BlobHash, unit: UnitId) -> Result<bool> {
        self.read(|c| {
            Ok(c.prepare_cached("SELECT 1 FROM file_holders WHERE hash = ?1 AND unit = ?2")?
                .query_row(params![hash.0.to_vec(), unit.to_bytes().to_vec()], |_| Ok(()))
                .optional()?
                .is_some())
        })
    }

    /// Bytes of the files held whole that devices of `unit` sent. Blocking.
    pub fn unit_file_bytes(&self, unit: UnitId) -> Result<u64> {
        self.read(|c| {
            let n: i64 = c
                .prepare_cached("SELECT COALESCE(SUM(size), 0) FROM files WHERE unit = ?1")?
                .query_row(params![unit.to_bytes().to_vec()], |r| r.get(0))?;
            Ok(size_of(n))
        })
    }

    /// Records that a device of `unit` sent every byte of `hash` (`size` bytes) and they
    /// matched: the file is held whole, and the owners of the documents referring to it that
    /// `unit` writes hold it. Blocking.
    pub fn record_file(&self, hash: BlobHash, size: u64, unit: UnitId) -> Result<()> {
        self.writer().run_blocking(move |ctx| {
            insert_file(ctx, hash, size, &unit.to_bytes())?;
            let owners: Vec<Vec<u8>> = ctx
                .tx
                .prepare_cached(
                    "SELECT DISTINCT d.owner FROM file_refs f JOIN docs d ON d.n = f.doc WHERE f.hash = ?1",
                )?
                .query_map(params![hash.0.to_vec()], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut hold =
                ctx.tx.prepare_cached("INSERT OR IGNORE INTO file_holders(hash, unit) VALUES (?1, ?2)")?;
            hold.execute(params![hash.0.to_vec(), unit.to_bytes().to_vec()])?;
            for owner in owners {
                let o = UnitId::from_slice(&owner).map_err(|e| StoreError::Invalid(e.to_string()))?;
                if ctx.tree.may_write(unit, o) {
                    hold.execute(params![hash.0.to_vec(), owner])?;
                }
            }
            Ok(())
        })
    }

    /// Forgets the files no document has referred to since before `before` (UTC ms) and
    /// returns them, for the collector to remove from the folder. A file referred to again in
    /// the meantime is kept. Blocking.
    pub fn forget_unreferenced_files(&self, before: i64) -> Result<Vec<BlobHash>> {
        self.writer().run_blocking(move |ctx| {
            let gone: Vec<Vec<u8>> = ctx
                .tx
                .prepare_cached(
                    "DELETE FROM files WHERE unreferenced_at IS NOT NULL AND unreferenced_at < ?1
                     AND NOT EXISTS (SELECT 1 FROM file_refs r WHERE r.hash = files.hash)
                     RETURNING hash",
                )?
                .query_map(params![before], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut unhold = ctx.tx.prepare_cached("DELETE FROM file_holders WHERE hash = ?1")?;
            for h in &gone {
                unhold.execute(params![h])?;
            }
            gone.iter()
                .map(|h| BlobHash::from_slice(h).map_err(|e| StoreError::Invalid(e.to_string())))
                .collect()
        })
    }

    /// Whether any document refers to `hash` now. Blocking.
    pub fn file_referenced(&self, hash: BlobHash) -> Result<bool> {
        self.read(|c| {
            Ok(c.prepare_cached("SELECT 1 FROM file_refs WHERE hash = ?1 LIMIT 1")?
                .query_row(params![hash.0.to_vec()], |_| Ok(()))
                .optional()?
                .is_some())
        })
    }

    /// Records a whole file found in the folder that the database did not know (it was
    /// restored from an older backup): nobody holds it until a device sends it again, and it is
    /// unreferenced from now if no document refers to it. Blocking.
    pub fn record_found_file(&self, hash: BlobHash, size: u64) -> Result<()> {
        self.writer().run_blocking(move |ctx| {
            // Nobody is known to have sent it: the nil unit, counted against no unit's limit.
            insert_file(ctx, hash, size, &[0u8; 16])
        })
    }

    /// Whether the database records `hash` as held whole. Blocking.
    pub fn file_recorded(&self, hash: BlobHash) -> Result<bool> {
        self.read(|c| {
            Ok(c.prepare_cached("SELECT 1 FROM files WHERE hash = ?1")?
                .query_row(params![hash.0.to_vec()], |_| Ok(()))
                .optional()?
                .is_some())
        })
    }
}
