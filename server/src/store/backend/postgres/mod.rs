//! The log on PostgreSQL, for relays that share one database. Several relay processes write
//! at once, so what the single SQLite writer gets from its turn is taken here with row locks:
//! a document's row (`lock_doc`, `FOR UPDATE`) while its push is stored, and each reader unit's
//! row in `unit_tops` while positions in its log are taken, so positions follow commit order.
//! Within one call rows are locked in id order, and `store_batch` locks a whole group's
//! document rows in one statement, then every top it needs once, in id order, so two relays'
//! batches take their locks in one order. Transactions that lock call by call (several
//! `store_checked` in one transaction, or a new document's row taken while tops are held) can
//! still wait on each other in a circle; Postgres then ends one with a deadlock error
//! (SQLSTATE 40P01), which a Postgres writer must answer by running the batch again.
//!
//! The client is the blocking `postgres` crate (built on tokio-postgres, with its own runtime
//! per connection): like SQLite, it is only ever called from the writer's thread or from
//! `spawn_blocking`, never on an async worker.

pub mod copy;
pub mod schema;

use automerge::ChangeHash;
use giaoban_protocol::schema::DocKind;
use giaoban_protocol::{DeviceId, DocId, UnitId};
use postgres::GenericClient;
use postgres::types::Type;

use super::{DocRow, Entry, LogRead, LogTx, NewChange, NewEntry, Top};
use super::{device_from, digest_from, doc_from, hash_from, heads_bytes, heads_from, unit_from};
use crate::store::Result;

// Parameters go with their types, so each statement is one round trip (no prepare and close
// around it).
const BYTES: Type = Type::BYTEA;
const BYTES_ARRAY: Type = Type::BYTEA_ARRAY;
const INT: Type = Type::INT8;
const INT_ARRAY: Type = Type::INT8_ARRAY;
const TEXT: Type = Type::TEXT;
const BOOL: Type = Type::BOOL;

/// A Postgres client or transaction seen through the seam. `LogTx` is meant for a
/// transaction: its locks last until it ends.
pub struct Postgres<'a, C: GenericClient>(pub &'a mut C);

impl<C: GenericClient> LogTx for Postgres<'_, C> {
    fn lock_doc(&mut self, doc: DocId) -> Result<Option<DocRow>> {
        let row = self.0.query_typed_opt(
            "SELECT n, heads FROM docs WHERE id = $1 FOR UPDATE",
            &[(&doc.to_bytes().as_slice(), BYTES)],
        )?;
        row.map(|r| Ok(DocRow { n: r.get(0), heads: heads_from(r.get::<_, &[u8]>(1))? })).transpose()
    }

    fn insert_doc(
        &mut self,
        doc: DocId,
        kind: DocKind,
        owner: UnitId,
        heads: &[ChangeHash],
    ) -> Result<Option<i64>> {
        // A writer that inserted the same id first is waited for; its row then stands.
        let r = self.0.query_typed_opt(
            "INSERT INTO docs(id, kind, owner, heads) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING RETURNING n",
            &[
                (&doc.to_bytes().as_slice(), BYTES),
                (&kind.as_str(), TEXT),
                (&owner.to_bytes().as_slice(), BYTES),
                (&heads_bytes(heads), BYTES),
            ],
        )?;
        Ok(r.map(|r| r.get(0)))
    }

    fn set_heads(&mut self, n: i64, heads: &[ChangeHash]) -> Result<()> {
        self.0.execute_typed(
            "UPDATE docs SET heads = $2 WHERE n = $1",
            &[(&n, INT), (&heads_bytes(heads), BYTES)],
        )?;
        Ok(())
    }

    fn readers_of(&mut self, n: i64) -> Result<Vec<UnitId>> {
        self.0
            .query_typed("SELECT unit FROM readers WHERE doc = $1 ORDER BY unit", &[(&n, INT)])?
            .iter()
            .map(|r| unit_from(r.get::<_, &[u8]>(0)))
            .collect()
    }

    fn add_reader(&mut self, unit: UnitId, n: i64) -> Result<()> {
        self.0.execute_typed(
            "INSERT INTO readers(unit, doc) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[(&unit.to_bytes().as_slice(), BYTES), (&n, INT)],
        )?;
        Ok(())
    }

    fn lock_tops(&mut self, units: &[UnitId]) -> Result<Vec<Top>> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Vec<u8>> = units.iter().map(|u| u.to_bytes().to_vec()).collect();
        // A unit's first entry needs a row to lock: two writers both finding none would both
        // take position 1. The insert waits for a writer that inserted the same row first.
        self.0.execute_typed(
            "INSERT INTO unit_tops(unit, pos, digest)
             SELECT u, 0, '\\x00000000000000000000000000000000'::bytea FROM unnest($1::bytea[]) AS u
             ORDER BY u
             ON CONFLICT (unit) DO NOTHING",
            &[(&ids, BYTES_ARRAY)],
        )?;
        let rows = self.0.query_typed(
            "SELECT unit, pos, digest FROM unit_tops WHERE unit = ANY($1) ORDER BY unit FOR UPDATE",
            &[(&ids, BYTES_ARRAY)],
        )?;
        let mut found = std::collections::HashMap::with_capacity(rows.len());
        for r in &rows {
            let unit = unit_from(r.get::<_, &[u8]>(0))?;
            found.insert(unit, Top { pos: r.get(1), digest: digest_from(r.get::<_, &[u8]>(2), unit)? });
        }
        units
            .iter()
            .map(|u| {
                found.get(u).copied().ok_or_else(|| {
                    crate::store::StoreError::Internal(format!("the log top of unit {u} could not be locked"))
                })
            })
            .collect()
    }

    fn write_tops(&mut self, units: &[UnitId], tops: &[Top]) -> Result<()> {
        let ids: Vec<Vec<u8>> = units.iter().map(|u| u.to_bytes().to_vec()).collect();
        let positions: Vec<i64> = tops.iter().map(|t| t.pos).collect();
        let digests: Vec<Vec<u8>> = tops.iter().map(|t| t.digest.to_vec()).collect();
        self.0.execute_typed(
            "INSERT INTO unit_tops(unit, pos, digest)
             SELECT * FROM unnest($1::bytea[], $2::bigint[], $3::bytea[])
             ON CONFLICT (unit) DO UPDATE SET pos = excluded.pos, digest = excluded.digest",
            &[(&ids, BYTES_ARRAY), (&positions, INT_ARRAY), (&digests, BYTES_ARRAY)],
        )?;
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
        let row = self.0.query_typed_opt(
            "INSERT INTO changes(doc, hash, bytes, device, received_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (doc, hash) DO NOTHING RETURNING seq",
            &[
                (&n, INT),
                (&hash.0.as_slice(), BYTES),
                (&bytes, BYTES),
                (&device.to_bytes().as_slice(), BYTES),
                (&received_at, INT),
            ],
        )?;
        Ok(row.map(|r| r.get(0)))
    }

    fn append_entry(
        &mut self,
        unit: UnitId,
        pos: i64,
        seq: i64,
        digest: [u8; 16],
        restamp: bool,
    ) -> Result<()> {
        self.0.execute_typed(
            "INSERT INTO unit_log(unit, pos, change, digest, restamp) VALUES ($1, $2, $3, $4, $5)",
            &[
                (&unit.to_bytes().as_slice(), BYTES),
                (&pos, INT),
                (&seq, INT),
                (&digest.as_slice(), BYTES),
                (&restamp, BOOL),
            ],
        )?;
        Ok(())
    }

    fn device_unit(&mut self, device: DeviceId) -> Result<Option<UnitId>> {
        self.0
            .query_typed_opt(
                "SELECT unit FROM devices WHERE id = $1",
                &[(&device.to_bytes().as_slice(), BYTES)],
            )?
            .map(|r| unit_from(r.get::<_, &[u8]>(0)))
            .transpose()
    }

    fn set_own_top(&mut self, device: DeviceId, pos: i64) -> Result<()> {
        self.0.execute_typed(
            "UPDATE devices SET own_top = $2 WHERE id = $1",
            &[(&device.to_bytes().as_slice(), BYTES), (&pos, INT)],
        )?;
        Ok(())
    }

    fn changes_after(&mut self, n: i64, after: i64) -> Result<Vec<(i64, ChangeHash, i64)>> {
        self.0
            .query_typed(
                "SELECT seq, hash, received_at FROM changes WHERE doc = $1 AND seq > $2 ORDER BY seq",
                &[(&n, INT), (&after, INT)],
            )?
            .iter()
            .map(|r| Ok((r.get(0), hash_from(r.get::<_, &[u8]>(1))?, r.get(2))))
            .collect()
    }

    fn receipt(&mut self, n: i64, hash: ChangeHash) -> Result<Option<(i64, i64)>> {
        Ok(self
            .0
            .query_typed_opt(
                "SELECT seq, received_at FROM changes WHERE doc = $1 AND hash = $2",
                &[(&n, INT), (&hash.0.as_slice(), BYTES)],
            )?
            .map(|r| (r.get(0), r.get(1))))
    }

    fn set_received_at(&mut self, seq: i64, at: i64) -> Result<()> {
        self.0.execute_typed(
            "UPDATE changes SET received_at = $2 WHERE seq = $1",
            &[(&seq, INT), (&at, INT)],
        )?;
        Ok(())
    }

    fn lock_docs(&mut self, docs: &[DocId]) -> Result<Vec<Option<DocRow>>> {
        if docs.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Vec<u8>> = docs.iter().map(|d| d.to_bytes().to_vec()).collect();
        let rows = self.0.query_typed(
            "SELECT id, n, heads FROM docs WHERE id = ANY($1) ORDER BY id FOR UPDATE",
            &[(&ids, BYTES_ARRAY)],
        )?;
        let mut found = std::collections::HashMap::with_capacity(rows.len());
        for r in &rows {
            found.insert(
                doc_from(r.get::<_, &[u8]>(0))?,
                DocRow { n: r.get(1), heads: heads_from(r.get::<_, &[u8]>(2))? },
            );
        }
        Ok(docs.iter().map(|d| found.remove(d)).collect())
    }

    fn readers_of_each(&mut self, ns: &[i64]) -> Result<Vec<Vec<UnitId>>> {
        if ns.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self.0.query_typed(
            "SELECT doc, unit FROM readers WHERE doc = ANY($1) ORDER BY doc, unit",
            &[(&ns.to_vec(), INT_ARRAY)],
        )?;
        let mut by_doc: std::collections::HashMap<i64, Vec<UnitId>> = std::collections::HashMap::new();
        for r in &rows {
            by_doc.entry(r.get(0)).or_default().push(unit_from(r.get::<_, &[u8]>(1))?);
        }
        Ok(ns.iter().map(|n| by_doc.remove(n).unwrap_or_default()).collect())
    }

    fn insert_changes(&mut self, changes: &[NewChange<'_>]) -> Result<Vec<Option<i64>>> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let ns: Vec<i64> = changes.iter().map(|c| c.n).collect();
        let hashes: Vec<&[u8]> = changes.iter().map(|c| c.hash.0.as_slice()).collect();
        let bytes: Vec<&[u8]> = changes.iter().map(|c| c.bytes).collect();
        let devices: Vec<Vec<u8>> = changes.iter().map(|c| c.device.to_bytes().to_vec()).collect();
        let at: Vec<i64> = changes.iter().map(|c| c.received_at).collect();
        let rows = self.0.query_typed(
            "INSERT INTO changes(doc, hash, bytes, device, received_at)
             SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], $4::bytea[], $5::bigint[])
             ON CONFLICT (doc, hash) DO NOTHING RETURNING doc, hash, seq",
            &[
                (&ns, INT_ARRAY),
                (&hashes, BYTES_ARRAY),
                (&bytes, BYTES_ARRAY),
                (&devices, BYTES_ARRAY),
                (&at, INT_ARRAY),
            ],
        )?;
        let mut seqs = std::collections::HashMap::with_capacity(rows.len());
        for r in &rows {
            seqs.insert((r.get::<_, i64>(0), hash_from(r.get::<_, &[u8]>(1))?), r.get::<_, i64>(2));
        }
        Ok(changes.iter().map(|c| seqs.remove(&(c.n, c.hash))).collect())
    }

    fn append_entries(&mut self, entries: &[NewEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let units: Vec<Vec<u8>> = entries.iter().map(|e| e.unit.to_bytes().to_vec()).collect();
        let pos: Vec<i64> = entries.iter().map(|e| e.pos).collect();
        let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
        let digests: Vec<&[u8]> = entries.iter().map(|e| e.digest.as_slice()).collect();
        self.0.execute_typed(
            "INSERT INTO unit_log(unit, pos, change, digest)
             SELECT * FROM unnest($1::bytea[], $2::bigint[], $3::bigint[], $4::bytea[])",
            &[(&units, BYTES_ARRAY), (&pos, INT_ARRAY), (&seqs, INT_ARRAY), (&digests, BYTES_ARRAY)],
        )?;
        Ok(())
    }

    fn set_heads_each(&mut self, rows: &[(i64, Vec<ChangeHash>)]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let ns: Vec<i64> = rows.iter().map(|(n, _)| *n).collect();
        let heads: Vec<Vec<u8>> = rows.iter().map(|(_, h)| heads_bytes(h)).collect();
        self.0.execute_typed(
            "UPDATE docs SET heads = v.heads FROM unnest($1::bigint[], $2::bytea[]) AS v(n, heads) WHERE docs.n = v.n",
            &[(&ns, INT_ARRAY), (&heads, BYTES_ARRAY)],
        )?;
        Ok(())
    }

    fn set_own_tops(&mut self, rows: &[(DeviceId, i64)]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let ids: Vec<Vec<u8>> = rows.iter().map(|(d, _)| d.to_bytes().to_vec()).collect();
        let pos: Vec<i64> = rows.iter().map(|(_, p)| *p).collect();
        self.0.execute_typed(
            "UPDATE devices SET own_top = v.pos FROM unnest($1::bytea[], $2::bigint[]) AS v(id, pos) WHERE devices.id = v.id",
            &[(&ids, BYTES_ARRAY), (&pos, INT_ARRAY)],
        )?;
        Ok(())
    }
}

impl<C: GenericClient> LogRead for Postgres<'_, C> {
    fn top(&mut self, unit: UnitId) -> Result<Top> {
        let row = self.0.query_typed_opt(
            "SELECT pos, digest FROM unit_tops WHERE unit = $1",
            &[(&unit.to_bytes().as_slice(), BYTES)],
        )?;
        Ok(match row {
            None => Top::default(),
            Some(r) => Top { pos: r.get(0), digest: digest_from(r.get::<_, &[u8]>(1), unit)? },
        })
    }

    fn digest_at(&mut self, unit: UnitId, pos: i64) -> Result<Option<[u8; 16]>> {
        self.0
            .query_typed_opt(
                "SELECT digest FROM unit_log WHERE unit = $1 AND pos = $2",
                &[(&unit.to_bytes().as_slice(), BYTES), (&pos, INT)],
            )?
            .map(|r| digest_from(r.get::<_, &[u8]>(0), unit))
            .transpose()
    }

    fn entries(&mut self, unit: UnitId, after: i64, limit: u32) -> Result<Vec<Entry>> {
        let rows = self.0.query_typed(
            "SELECT l.pos, l.digest, c.seq, d.id, c.hash, c.bytes, c.received_at, c.device, l.restamp
             FROM unit_log l
             JOIN changes c ON c.seq = l.change
             JOIN docs d ON d.n = c.doc
             WHERE l.unit = $1 AND l.pos > $2
             ORDER BY l.pos
             LIMIT $3",
            &[(&unit.to_bytes().as_slice(), BYTES), (&after, INT), (&i64::from(limit), INT)],
        )?;
        rows.iter()
            .map(|r| {
                Ok(Entry {
                    pos: r.get(0),
                    digest: digest_from(r.get::<_, &[u8]>(1), unit)?,
                    seq: r.get(2),
                    doc: doc_from(r.get::<_, &[u8]>(3))?,
                    hash: hash_from(r.get::<_, &[u8]>(4))?,
                    bytes: r.get(5),
                    received_at: r.get(6),
                    device: device_from(r.get::<_, &[u8]>(7))?,
                    restamp: r.get(8),
                })
            })
            .collect()
    }

    fn own_top(&mut self, device: DeviceId) -> Result<i64> {
        Ok(self
            .0
            .query_typed_opt(
                "SELECT own_top FROM devices WHERE id = $1",
                &[(&device.to_bytes().as_slice(), BYTES)],
            )?
            .map(|r| r.get(0))
            .unwrap_or(0))
    }
}
