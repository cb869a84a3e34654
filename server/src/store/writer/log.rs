//! Storing a checked document: its new changes in the sequence, an entry for each in the log
//! of every unit that may read it (chained from the log's top), its readers and the files it
//! refers to; and receipt times a voucher proves earlier.

use std::collections::HashMap;

use automerge::{AutoCommit, Change, ChangeHash};
use giaoban_protocol::schema::{DocKind, Header};
use giaoban_protocol::seal::chain_digest;
use giaoban_protocol::{DeviceId, DocId, UnitId};
use rusqlite::{OptionalExtension, params};

use super::super::{Result, StoreError};
use super::Ctx;

/// One unit's log top as a job sees it.
#[derive(Clone, Copy)]
struct Top {
    pos: i64,
    digest: [u8; 16],
}

impl Ctx<'_> {
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
    pub(in crate::store) fn append_to_log(
        &mut self,
        unit: UnitId,
        n: i64,
        doc: DocId,
        after: i64,
    ) -> Result<u64> {
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

    /// Gives changes of document row `n` that the relay holds the earliest receipt time a
    /// voucher of this relay proves (`received`): a relay restored from an older backup may have
    /// received a change again, later, from a device that pushed it as new, while another device
    /// holds the seal of the first receipt. Entries devices have seen are never rewritten: each
    /// restamped change gets a new entry in the log of every unit that reads it, chaining the
    /// earlier time, so every reader (the author device too) learns it. Returns those units.
    pub(super) fn restamp(
        &mut self,
        doc: DocId,
        n: i64,
        received: &HashMap<ChangeHash, i64>,
    ) -> Result<Vec<UnitId>> {
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

fn unit_from(bytes: &[u8]) -> Result<UnitId> {
    UnitId::from_slice(bytes).map_err(|e| StoreError::Invalid(format!("a stored unit id is damaged: {e}")))
}
