//! Storing a checked document: its new changes in the sequence, an entry for each in the log
//! of every unit that may read it (chained from the log's top), its readers and the files it
//! refers to; and receipt times a voucher proves earlier.

use std::collections::HashMap;

use automerge::{AutoCommit, Change, ChangeHash};
use giaoban_protocol::schema::{DocKind, Header};
use giaoban_protocol::{DeviceId, DocId, UnitId};
use rusqlite::params;

use super::super::backend::sqlite::Sqlite;
use super::super::backend::{Checked, LogTx, Seen, Stored, append_document, restamp, store_checked};
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
    /// of `unit`'s log (`backend::append_document`). Returns how many were appended.
    pub(in crate::store) fn append_to_log(
        &mut self,
        unit: UnitId,
        n: i64,
        doc: DocId,
        after: i64,
    ) -> Result<u64> {
        append_document(&mut Sqlite(self.tx), unit, n, doc, after)
    }

    /// Gives changes of document row `n` the earliest receipt time a voucher of this relay
    /// proves (`backend::restamp`). Returns the units whose logs grew.
    pub(super) fn restamp(
        &mut self,
        doc: DocId,
        n: i64,
        received: &HashMap<ChangeHash, i64>,
    ) -> Result<Vec<UnitId>> {
        if received.is_empty() {
            return Ok(Vec::new());
        }
        let readers = restamp(&mut Sqlite(self.tx), doc, n, received)?;
        if !readers.is_empty() {
            tracing::info!(%doc, "receipt times restamped from vouchers given back");
        }
        Ok(readers)
    }
}
