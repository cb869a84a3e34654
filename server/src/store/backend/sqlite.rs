//! The log on embedded SQLite. One writer thread holds the only write connection, so a row
//! read in its transaction cannot change under it: locking is the writer's turn itself.

use automerge::ChangeHash;
use giaoban_protocol::schema::DocKind;
use giaoban_protocol::{DeviceId, DocId, UnitId};
use rusqlite::{Connection, OptionalExtension, params};

use super::{DocRow, Entry, LogRead, LogTx, Top};
use super::{device_from, digest_from, doc_from, hash_from, heads_bytes, heads_from, unit_from};
use crate::store::Result;

/// A SQLite connection seen through the seam: inside the writer's transaction for `LogTx`,
/// any connection for `LogRead`.
pub struct Sqlite<'a>(pub &'a Connection);

impl LogTx for Sqlite<'_> {
    fn lock_doc(&mut self, doc: DocId) -> Result<Option<DocRow>> {
        let row: Option<(i64, Vec<u8>)> = self
            .0
            .prepare_cached("SELECT n, heads FROM docs WHERE id = ?1")?
            .query_row(params![doc.to_bytes().to_vec()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        row.map(|(n, heads)| Ok(DocRow { n, heads: heads_from(&heads)? })).transpose()
    }

    fn insert_doc(
        &mut self,
        doc: DocId,
        kind: DocKind,
        owner: UnitId,
        heads: &[ChangeHash],
    ) -> Result<Option<i64>> {
        let added = self
            .0
            .prepare_cached("INSERT OR IGNORE INTO docs(id, kind, owner, heads) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![
                doc.to_bytes().to_vec(),
                kind.as_str(),
                owner.to_bytes().to_vec(),
                heads_bytes(heads)
            ])?;
        Ok((added > 0).then(|| self.0.last_insert_rowid()))
    }

    fn set_heads(&mut self, n: i64, heads: &[ChangeHash]) -> Result<()> {
        self.0
            .prepare_cached("UPDATE docs SET heads = ?2 WHERE n = ?1")?
            .execute(params![n, heads_bytes(heads)])?;
        Ok(())
    }

    fn readers_of(&mut self, n: i64) -> Result<Vec<UnitId>> {
        let mut stmt = self.0.prepare_cached("SELECT unit FROM readers WHERE doc = ?1 ORDER BY unit")?;
        stmt.query_map(params![n], |r| r.get::<_, Vec<u8>>(0))?
            .map(|r| r.map_err(Into::into).and_then(|b| unit_from(&b)))
            .collect()
    }

    fn add_reader(&mut self, unit: UnitId, n: i64) -> Result<()> {
        self.0
            .prepare_cached("INSERT OR IGNORE INTO readers(unit, doc) VALUES (?1, ?2)")?
            .execute(params![unit.to_bytes().to_vec(), n])?;
        Ok(())
    }

    fn lock_tops(&mut self, units: &[UnitId]) -> Result<Vec<Top>> {
        units.iter().map(|u| top(self.0, *u)).collect()
    }

    fn write_tops(&mut self, units: &[UnitId], tops: &[Top]) -> Result<()> {
        let mut write = self.0.prepare_cached(
            "INSERT INTO unit_tops(unit, pos, digest) VALUES (?1, ?2, ?3)
             ON CONFLICT(unit) DO UPDATE SET pos = excluded.pos, digest = excluded.digest",
        )?;
        for (u, t) in units.iter().zip(tops) {
            write.execute(params![u.to_bytes().to_vec(), t.pos, t.digest.to_vec()])?;
        }
        Ok(())
    }

    fn insert_change(
        &mut self,
        n: i64,
        hash: ChangeHash,
        bytes: &[u8],
        device: DeviceId,
        received_at: i64,
    ) -> Result<Option<i64>> {
        let added = self
            .0
            .prepare_cached(
                "INSERT OR IGNORE INTO changes(doc, hash, bytes, device, received_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![n, hash.0.to_vec(), bytes, device.to_bytes().to_vec(), received_at])?;
        Ok((added > 0).then(|| self.0.last_insert_rowid()))
    }

    fn append_entry(
        &mut self,
        unit: UnitId,
        pos: i64,
        seq: i64,
        digest: [u8; 16],
        restamp: bool,
    ) -> Result<()> {
        self.0
            .prepare_cached(
                "INSERT INTO unit_log(unit, pos, change, digest, restamp) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![unit.to_bytes().to_vec(), pos, seq, digest.to_vec(), restamp as i64])?;
        Ok(())
    }

    fn device_unit(&mut self, device: DeviceId) -> Result<Option<UnitId>> {
        self.0
            .prepare_cached("SELECT unit FROM devices WHERE id = ?1")?
            .query_row(params![device.to_bytes().to_vec()], |r| r.get::<_, Vec<u8>>(0))
            .optional()?
            .map(|b| unit_from(&b))
            .transpose()
    }

    fn set_own_top(&mut self, device: DeviceId, pos: i64) -> Result<()> {
        self.0
            .prepare_cached("UPDATE devices SET own_top = ?2 WHERE id = ?1")?
            .execute(params![device.to_bytes().to_vec(), pos])?;
        Ok(())
    }

    fn changes_after(&mut self, n: i64, after: i64) -> Result<Vec<(i64, ChangeHash, i64)>> {
        let rows: Vec<(i64, Vec<u8>, i64)> = self
            .0
            .prepare_cached(
                "SELECT seq, hash, received_at FROM changes WHERE doc = ?1 AND seq > ?2 ORDER BY seq",
            )?
            .query_map(params![n, after], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        rows.into_iter().map(|(seq, hash, at)| Ok((seq, hash_from(&hash)?, at))).collect()
    }

    fn receipt(&mut self, n: i64, hash: ChangeHash) -> Result<Option<(i64, i64)>> {
        Ok(self
            .0
            .prepare_cached("SELECT seq, received_at FROM changes WHERE doc = ?1 AND hash = ?2")?
            .query_row(params![n, hash.0.to_vec()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    fn set_received_at(&mut self, seq: i64, at: i64) -> Result<()> {
        self.0
            .prepare_cached("UPDATE changes SET received_at = ?2 WHERE seq = ?1")?
            .execute(params![seq, at])?;
        Ok(())
    }
}

impl LogRead for Sqlite<'_> {
    fn top(&mut self, unit: UnitId) -> Result<Top> {
        top(self.0, unit)
    }

    fn digest_at(&mut self, unit: UnitId, pos: i64) -> Result<Option<[u8; 16]>> {
        self.0
            .prepare_cached("SELECT digest FROM unit_log WHERE unit = ?1 AND pos = ?2")?
            .query_row(params![unit.to_bytes().to_vec(), pos], |r| r.get::<_, Vec<u8>>(0))
            .optional()?
            .map(|d| digest_from(&d, unit))
            .transpose()
    }

    fn entries(&mut self, unit: UnitId, after: i64, limit: u32) -> Result<Vec<Entry>> {
        let mut stmt = self.0.prepare_cached(
            "SELECT l.pos, l.digest, c.seq, d.id, c.hash, c.bytes, c.received_at, c.device, l.restamp
             FROM unit_log l
             JOIN changes c ON c.seq = l.change
             JOIN docs d ON d.n = c.doc
             WHERE l.unit = ?1 AND l.pos > ?2
             ORDER BY l.pos
             LIMIT ?3",
        )?;
        let mut rows = stmt.query(params![unit.to_bytes().to_vec(), after, limit])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(Entry {
                pos: r.get(0)?,
                digest: digest_from(&r.get::<_, Vec<u8>>(1)?, unit)?,
                seq: r.get(2)?,
                doc: doc_from(&r.get::<_, Vec<u8>>(3)?)?,
                hash: hash_from(&r.get::<_, Vec<u8>>(4)?)?,
                bytes: r.get(5)?,
                received_at: r.get(6)?,
                device: device_from(&r.get::<_, Vec<u8>>(7)?)?,
                restamp: r.get::<_, i64>(8)? != 0,
            });
        }
        Ok(out)
    }

    fn own_top(&mut self, device: DeviceId) -> Result<i64> {
        Ok(self
            .0
            .prepare_cached("SELECT own_top FROM devices WHERE id = ?1")?
            .query_row(params![device.to_bytes().to_vec()], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }
}

/// The log top of `unit` (an empty log if it has none).
pub(crate) fn top(c: &Connection, unit: UnitId) -> Result<Top> {
    let row: Option<(i64, Vec<u8>)> = c
        .prepare_cached("SELECT pos, digest FROM unit_tops WHERE unit = ?1")?
        .query_row(params![unit.to_bytes().to_vec()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(match row {
        None => Top::default(),
        Some((pos, digest)) => Top { pos, digest: digest_from(&digest, unit)? },
    })
}
