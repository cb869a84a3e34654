//! Storing a checked document: its new changes in the sequence, an entry for each in the log
//! of every unit that may read it (chained from the log's top), its readers and the files it
//! refers to; and receipt times a voucher proves earlier.

use std::collections::HashMap;

use automerge::{AutoCommit, Change, ChangeHash};
use giaoban_protocol::schema::{DocKind, Header};
use giaoban_protocol::seal::chain_digest;
use giaoban_protocol::{DeviceId, DocId, UnitId};
use rusqlite::{OptionalExtension, params};

use super::super::backend::sqlite::{Sqlite, top};
use super::super::backend::{Checked, LogTx, Seen, Stored, store_checked};
use super::super::{Result, StoreError};
use super::Ctx;

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
        let mut readers_if_new = Vec::new();
        if row.is_none() {
            readers_if_new = self.tree().readers(header);
            readers_if_new.sort();
            readers_if_new.dedup();
        }
        // The pusher's own changes are counted in its own unit's log when its unit writes the
        // document: the owner's, or that of the successor writing for it (changes a reader
        // carries back after a restore are not its own).
        let pusher_unit = if new_changes.is_empty() {
            None
        } else {
            Sqlite(self.tx).device_unit(device)?.filter(|u| self.tree().may_write(*u, header.owner))
        };
        let checked = Checked {
            doc,
            kind: header.kind,
            owner: header.owner,
            changes: new_changes,
            heads: &heads,
            readers_if_new: &readers_if_new,
            pusher: device,
            pusher_unit,
            received,
            now: self.now,
        };
        let seen = match row {
            Some(n) => Seen::Row(n),
            None => Seen::Heads(Vec::new()),
        };
        let (n, readers, grew) = match store_checked(&mut Sqlite(self.tx), &checked, &seen)? {
            Stored::Stored { n, readers, grew } => (n, readers, grew),
            // The single writer read the row in this transaction: nothing can have changed it.
            Stored::Stale => {
                return Err(StoreError::Internal(format!(
                    "document {doc} changed while the relay's only writer held it"
                )));
            }
        };
        if !new_changes.is_empty() && matches!(header.kind, DocKind::Report | DocKind::Directive) {
            self.refresh_file_refs(n, &next, header.kind)?;
        }
        self.stage(doc, next);
        Ok((heads, if grew { readers } else { Vec::new() }))
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
        let mut top = top(self.tx, unit)?;
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
        for (seq, hash, at) in &rows {
            let hash: [u8; 32] = hash
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Invalid(format!("a stored change hash of {doc} is damaged")))?;
            top.pos += 1;
            top.digest = chain_digest(&top.digest, top.pos as u64, doc, &hash, *at);
            Sqlite(self.tx).append_entry(unit, top.pos, *seq, top.digest, false)?;
        }
        Sqlite(self.tx).write_tops(&[unit], &[top])?;
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
        let mut db = Sqlite(self.tx);
        let readers = db.readers_of(n)?;
        let mut tops = db.lock_tops(&readers)?;
        for (seq, hash, at) in &restamped {
            for (u, top) in readers.iter().zip(tops.iter_mut()) {
                top.pos += 1;
                top.digest = chain_digest(&top.digest, top.pos as u64, doc, &hash.0, *at);
                db.append_entry(*u, top.pos, *seq, top.digest, true)?;
            }
        }
        db.write_tops(&readers, &tops)?;
        Ok(readers)
    }
}
