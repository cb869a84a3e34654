//! The storage seam of the relay's log: what storing a checked document and reading a unit's
//! log need of a database, with two backends, the embedded SQLite default (`sqlite.rs`) and
//! PostgreSQL (`postgres/`), and the one algorithm over them (`store_checked`,
//! `append_changes`). The positions and digests a device sees come out of that algorithm, so
//! both backends give the same log for the same writes (`conformance.rs` runs one suite over
//! both).
//!
//! Invariant (the cursor): a unit's log position is taken under the lock of that unit's row in
//! `unit_tops`, held until the write transaction ends. Two transactions writing to one unit's
//! log therefore take positions in the order they commit, and a reader that has seen position
//! p has seen every position below it. The sequence number of `changes` is never a cursor: it
//! is taken at insert and becomes visible at commit, so with several writers a lower number can
//! commit after a higher one is read.
//!
//! Invariant (one document, several writers): a push is checked against the heads the document
//! had when it was read; `store_checked` stores it only if the document's row, locked for the
//! rest of the transaction, still has those heads, and otherwise answers `Stored::Stale` so the
//! push is checked again. Two relays can therefore never both pass changes that were each
//! checked alone.

pub mod postgres;
pub mod sqlite;

#[cfg(test)]
mod conformance;

use std::collections::HashMap;

use automerge::{Change, ChangeHash};
use giaoban_protocol::schema::DocKind;
use giaoban_protocol::seal::chain_digest;
use giaoban_protocol::wire::Witness;
use giaoban_protocol::{DeviceId, DocId, UnitId};

use super::{Result, StoreError};

/// The newest entry of one unit's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Top {
    /// Its position (0: the log is empty).
    pub pos: i64,
    /// The digest chaining every entry up to it.
    pub digest: [u8; 16],
}

impl From<Top> for Witness {
    fn from(t: Top) -> Witness {
        Witness { pos: t.pos as u64, digest: t.digest }
    }
}

/// A document's row as a write transaction sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocRow {
    /// The row number.
    pub n: i64,
    /// The document's heads as stored.
    pub heads: Vec<ChangeHash>,
}

/// One entry of a unit's log, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its position in the unit's log.
    pub pos: i64,
    /// The digest chaining the log up to it.
    pub digest: [u8; 16],
    /// The change's sequence number.
    pub seq: i64,
    /// The document.
    pub doc: DocId,
    /// The change's hash.
    pub hash: ChangeHash,
    /// The change.
    pub bytes: Vec<u8>,
    /// When the relay received it (UTC ms).
    pub received_at: i64,
    /// The device that pushed it.
    pub device: DeviceId,
    /// Whether the entry gives an earlier receipt time to a change already in the log.
    pub restamp: bool,
}

/// What a write transaction of the log does to its database. Every method runs inside the
/// transaction; nothing is visible to readers before it commits.
pub trait LogTx {
    /// The row of `doc`, locked against other writers until the transaction ends (Postgres:
    /// `FOR UPDATE`; SQLite: the single writer holds the only write connection).
    fn lock_doc(&mut self, doc: DocId) -> Result<Option<DocRow>>;
    /// Adds the row of a new document; returns its row number, or `None` if another writer
    /// added it first (after waiting for that writer's transaction to end).
    fn insert_doc(
        &mut self,
        doc: DocId,
        kind: DocKind,
        owner: UnitId,
        heads: &[ChangeHash],
    ) -> Result<Option<i64>>;
    /// Sets the heads of document row `n`.
    fn set_heads(&mut self, n: i64, heads: &[ChangeHash]) -> Result<()>;
    /// The units that may read document row `n`, in id order.
    fn readers_of(&mut self, n: i64) -> Result<Vec<UnitId>>;
    /// Lets `unit` read document row `n` (nothing if it already may).
    fn add_reader(&mut self, unit: UnitId, n: i64) -> Result<()>;
    /// The log tops of `units` (given in id order), each locked until the transaction ends; a
    /// unit without a log gets an empty one, locked like any other.
    fn lock_tops(&mut self, units: &[UnitId]) -> Result<Vec<Top>>;
    /// Writes the log tops of `units`.
    fn write_tops(&mut self, units: &[UnitId], tops: &[Top]) -> Result<()>;
    /// Stores a change of document row `n`; its sequence number, or `None` if the document
    /// already holds it.
    fn insert_change(
        &mut self,
        n: i64,
        hash: ChangeHash,
        bytes: &[u8],
        device: DeviceId,
        received_at: i64,
    ) -> Result<Option<i64>>;
    /// Adds an entry to `unit`'s log.
    fn append_entry(
        &mut self,
        unit: UnitId,
        pos: i64,
        seq: i64,
        digest: [u8; 16],
        restamp: bool,
    ) -> Result<()>;
    /// The unit of an enrolled device.
    fn device_unit(&mut self, device: DeviceId) -> Result<Option<UnitId>>;
    /// Records the position of the newest change `device` pushed in its unit's log.
    fn set_own_top(&mut self, device: DeviceId, pos: i64) -> Result<()>;

    /// The changes of document row `n` after sequence number `after`, in sequence order: each
    /// one's sequence number, hash and receipt time. Within one document sequence order is
    /// commit order: its changes are stored with its row locked.
    fn changes_after(&mut self, n: i64, after: i64) -> Result<Vec<(i64, ChangeHash, i64)>>;
    /// The sequence number and receipt time of a change of document row `n`, if stored.
    fn receipt(&mut self, n: i64, hash: ChangeHash) -> Result<Option<(i64, i64)>>;
    /// Gives stored change `seq` an earlier receipt time.
    fn set_received_at(&mut self, seq: i64, at: i64) -> Result<()>;

    // What a batch of pushes needs, each in one statement where the backend can (Postgres);
    // the defaults go row by row.

    /// The rows of `docs` (in id order), each locked like `lock_doc`.
    fn lock_docs(&mut self, docs: &[DocId]) -> Result<Vec<Option<DocRow>>> {
        docs.iter().map(|d| self.lock_doc(*d)).collect()
    }
    /// The readers of each of document rows `ns`, each in id order.
    fn readers_of_each(&mut self, ns: &[i64]) -> Result<Vec<Vec<UnitId>>> {
        ns.iter().map(|n| self.readers_of(*n)).collect()
    }
    /// Stores changes; for each, its sequence number, or `None` if its document holds it.
    fn insert_changes(&mut self, changes: &[NewChange<'_>]) -> Result<Vec<Option<i64>>> {
        changes.iter().map(|c| self.insert_change(c.n, c.hash, c.bytes, c.device, c.received_at)).collect()
    }
    /// Adds entries to units' logs.
    fn append_entries(&mut self, entries: &[NewEntry]) -> Result<()> {
        entries.iter().try_for_each(|e| self.append_entry(e.unit, e.pos, e.seq, e.digest, false))
    }
    /// Sets the heads of document rows.
    fn set_heads_each(&mut self, rows: &[(i64, Vec<ChangeHash>)]) -> Result<()> {
        rows.iter().try_for_each(|(n, h)| self.set_heads(*n, h))
    }
    /// Records devices' own tops.
    fn set_own_tops(&mut self, rows: &[(DeviceId, i64)]) -> Result<()> {
        rows.iter().try_for_each(|(d, p)| self.set_own_top(*d, *p))
    }
}

/// A change to store, in a batch.
#[derive(Debug, Clone, Copy)]
pub struct NewChange<'a> {
    /// The document's row.
    pub n: i64,
    /// The change's hash.
    pub hash: ChangeHash,
    /// The change.
    pub bytes: &'a [u8],
    /// The device that pushed it.
    pub device: DeviceId,
    /// Its receipt time (UTC ms).
    pub received_at: i64,
}

/// An entry to add to a unit's log, in a batch.
#[derive(Debug, Clone, Copy)]
pub struct NewEntry {
    /// The unit.
    pub unit: UnitId,
    /// The entry's position.
    pub pos: i64,
    /// The change's sequence number.
    pub seq: i64,
    /// The digest chaining the log up to it.
    pub digest: [u8; 16],
}

/// What reading a unit's log needs of a database.
pub trait LogRead {
    /// The newest point of `unit`'s log.
    fn top(&mut self, unit: UnitId) -> Result<Top>;
    /// The digest of `unit`'s log at `pos`, if the log reaches it.
    fn digest_at(&mut self, unit: UnitId, pos: i64) -> Result<Option<[u8; 16]>>;
    /// Up to `limit` entries of `unit`'s log after position `after`, in position order.
    fn entries(&mut self, unit: UnitId, after: i64, limit: u32) -> Result<Vec<Entry>>;
    /// The position in its unit's log of the newest change `device` pushed (0 if none).
    fn own_top(&mut self, device: DeviceId) -> Result<i64>;
}

/// Whether `w` is a point of `unit`'s log as this database holds it.
pub fn witness_holds(r: &mut (impl LogRead + ?Sized), unit: UnitId, w: Witness) -> Result<bool> {
    if w.pos == 0 {
        return Ok(w.digest == [0; 16]);
    }
    let Ok(pos) = i64::try_from(w.pos) else { return Ok(false) };
    Ok(r.digest_at(unit, pos)?.is_some_and(|d| d == w.digest))
}

/// How the document a push was checked against was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// The caller holds document row `n` as checked (the single writer of a SQLite relay,
    /// which reads the row in the same transaction it writes).
    Row(i64),
    /// The push was checked against the document with these heads (none: a new document);
    /// it is stored only if the row still has them.
    Heads(Vec<ChangeHash>),
}

/// A checked document to store.
pub struct Checked<'a> {
    /// The document.
    pub doc: DocId,
    /// Its kind and owner (from its header).
    pub kind: DocKind,
    /// The owner unit.
    pub owner: UnitId,
    /// Its new changes, in causal order.
    pub changes: &'a [Change],
    /// Its heads with them.
    pub heads: &'a [ChangeHash],
    /// The units that may read it, in id order, if it is new.
    pub readers_if_new: &'a [UnitId],
    /// The device that pushed the changes.
    pub pusher: DeviceId,
    /// The unit whose log counts the pusher's own changes, if any (see `append_changes`).
    pub pusher_unit: Option<UnitId>,
    /// Receipt times a voucher proved earlier.
    pub received: &'a HashMap<ChangeHash, i64>,
    /// The relay's clock (UTC ms).
    pub now: i64,
}

/// What `store_checked` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Stored: the document's row and the units whose logs grew.
    Stored {
        /// The document's row.
        n: i64,
        /// Its readers, in id order.
        readers: Vec<UnitId>,
        /// Whether any change was new to the relay.
        grew: bool,
    },
    /// Another writer changed the document since it was checked; nothing was written.
    Stale,
}

/// Stores a checked document: its row and readers, its new changes in the sequence and in the
/// log of every unit that may read it.
pub fn store_checked(tx: &mut (impl LogTx + ?Sized), c: &Checked<'_>, seen: &Seen) -> Result<Stored> {
    let (n, readers) = match seen {
        Seen::Row(n) => {
            tx.set_heads(*n, c.heads)?;
            (*n, tx.readers_of(*n)?)
        }
        Seen::Heads(heads) => match tx.lock_doc(c.doc)? {
            Some(row) if same_heads(&row.heads, heads) => {
                tx.set_heads(row.n, c.heads)?;
                (row.n, tx.readers_of(row.n)?)
            }
            Some(_) => return Ok(Stored::Stale),
            None if heads.is_empty() => match new_doc(tx, c)? {
                Some(stored) => stored,
                // Another writer created it while this push was checked as new.
                None => return Ok(Stored::Stale),
            },
            None => return Ok(Stored::Stale),
        },
    };
    let grew = !c.changes.is_empty() && append_changes(tx, n, &readers, c)? > 0;
    Ok(Stored::Stored { n, readers, grew })
}

/// Stores a batch of checked pushes in one transaction, as `store_checked` would one after
/// another in this order (the same positions, digests and answers), but with each step done for
/// the whole batch at once: the documents' rows locked in one go, the tops of every reader unit
/// locked once, in id order (so two writers' batches never wait on each other in a circle),
/// the changes, entries, heads and own tops each written in one statement where the backend can.
pub fn store_batch(tx: &mut (impl LogTx + ?Sized), pushes: &[(Checked<'_>, Seen)]) -> Result<Vec<Stored>> {
    let mut ids: Vec<DocId> = pushes.iter().map(|(c, _)| c.doc).collect();
    ids.sort();
    ids.dedup();
    let locked = tx.lock_docs(&ids)?;
    // Each document as the batch has left it so far: its row and heads.
    let mut current: HashMap<DocId, Option<DocRow>> = ids.into_iter().zip(locked).collect();
    let mut rows: Vec<Option<(i64, bool)>> = Vec::with_capacity(pushes.len());
    for (c, seen) in pushes {
        let row = current.get(&c.doc).cloned().flatten();
        let accepted = match (seen, row) {
            (Seen::Row(n), _) => Some((*n, false)),
            (Seen::Heads(h), Some(row)) if same_heads(&row.heads, h) => Some((row.n, false)),
            (Seen::Heads(h), None) if h.is_empty() => new_doc(tx, c)?.map(|(n, _)| (n, true)),
            _ => None,
        };
        if let Some((n, _)) = accepted {
            current.insert(c.doc, Some(DocRow { n, heads: c.heads.to_vec() }));
        }
        rows.push(accepted);
    }
    // Readers: a new document's from its push, the others' from the database.
    let mut readers: HashMap<i64, Vec<UnitId>> = HashMap::new();
    for ((c, _), row) in pushes.iter().zip(&rows) {
        if let Some((n, true)) = row {
            readers.insert(*n, c.readers_if_new.to_vec());
        }
    }
    let mut existing: Vec<i64> =
        rows.iter().flatten().map(|(n, _)| *n).filter(|n| !readers.contains_key(n)).collect();
    existing.sort();
    existing.dedup();
    for (n, r) in existing.iter().zip(tx.readers_of_each(&existing)?) {
        readers.insert(*n, r);
    }
    let mut units: Vec<UnitId> = readers.values().flatten().copied().collect();
    units.sort();
    units.dedup();
    let mut tops: HashMap<UnitId, Top> = units.iter().copied().zip(tx.lock_tops(&units)?).collect();
    // The changes, each once (a change pushed twice in the batch is stored with the first).
    let mut new: Vec<NewChange<'_>> = Vec::new();
    let mut taken: std::collections::HashSet<(i64, ChangeHash)> = std::collections::HashSet::new();
    for ((c, _), row) in pushes.iter().zip(&rows) {
        let Some((n, _)) = row else { continue };
        for change in c.changes {
            let hash = change.hash();
            if taken.insert((*n, hash)) {
                let at = c.received.get(&hash).copied().unwrap_or(c.now);
                new.push(NewChange {
                    n: *n,
                    hash,
                    bytes: change.raw_bytes(),
                    device: c.pusher,
                    received_at: at,
                });
            }
        }
    }
    let seqs = tx.insert_changes(&new)?;
    let stored: HashMap<(i64, ChangeHash), (i64, i64)> = new
        .iter()
        .zip(&seqs)
        .filter_map(|(c, seq)| seq.map(|s| ((c.n, c.hash), (s, c.received_at))))
        .collect();
    let mut entries = Vec::new();
    let mut own: Vec<(DeviceId, i64)> = Vec::new();
    let mut heads: Vec<(i64, Vec<ChangeHash>)> = Vec::new();
    let mut out = Vec::with_capacity(pushes.len());
    let mut appended: std::collections::HashSet<(i64, ChangeHash)> = std::collections::HashSet::new();
    for ((c, _), row) in pushes.iter().zip(&rows) {
        let Some((n, _)) = row else {
            out.push(Stored::Stale);
            continue;
        };
        let doc_readers = &readers[n];
        let mut grew = false;
        let mut own_top = None;
        for change in c.changes {
            let hash = change.hash();
            let Some(&(seq, at)) = stored.get(&(*n, hash)) else { continue };
            if !appended.insert((*n, hash)) {
                continue;
            }
            grew = true;
            for u in doc_readers {
                let top = tops
                    .get_mut(u)
                    .ok_or_else(|| StoreError::Internal(format!("no log top locked for unit {u}")))?;
                top.pos += 1;
                top.digest = chain_digest(&top.digest, top.pos as u64, c.doc, &hash.0, at);
                entries.push(NewEntry { unit: *u, pos: top.pos, seq, digest: top.digest });
                if Some(*u) == c.pusher_unit {
                    own_top = Some(top.pos);
                }
            }
        }
        if let Some(pos) = own_top {
            own.retain(|(d, _)| *d != c.pusher);
            own.push((c.pusher, pos));
        }
        if !matches!(row, Some((_, true))) {
            heads.retain(|(m, _)| m != n);
            heads.push((*n, c.heads.to_vec()));
        }
        out.push(Stored::Stored { n: *n, readers: doc_readers.clone(), grew });
    }
    tx.append_entries(&entries)?;
    let mut grown: Vec<UnitId> = entries.iter().map(|e| e.unit).collect();
    grown.sort();
    grown.dedup();
    let grown_tops: Vec<Top> = grown.iter().map(|u| tops[u]).collect();
    if !grown.is_empty() {
        tx.write_tops(&grown, &grown_tops)?;
    }
    tx.set_heads_each(&heads)?;
    tx.set_own_tops(&own)?;
    Ok(out)
}

fn new_doc(tx: &mut (impl LogTx + ?Sized), c: &Checked<'_>) -> Result<Option<(i64, Vec<UnitId>)>> {
    let Some(n) = tx.insert_doc(c.doc, c.kind, c.owner, c.heads)? else { return Ok(None) };
    for u in c.readers_if_new {
        tx.add_reader(*u, n)?;
    }
    Ok(Some((n, c.readers_if_new.to_vec())))
}

fn same_heads(a: &[ChangeHash], b: &[ChangeHash]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

/// Appends the new changes of document row `n` to the sequence and to the log of each of
/// `readers` (id order), chaining each entry from the log's top. Changes the document already
/// holds are skipped. The pusher's own changes are counted in `pusher_unit`'s log (its own
/// unit's, when that unit writes the document; changes a reader carries back after a restore
/// are not its own). Returns how many changes were new.
pub fn append_changes(
    tx: &mut (impl LogTx + ?Sized),
    n: i64,
    readers: &[UnitId],
    c: &Checked<'_>,
) -> Result<u64> {
    let mut tops = tx.lock_tops(readers)?;
    let mut own_top: Option<i64> = None;
    let mut added = 0;
    for change in c.changes {
        let hash = change.hash();
        let at = c.received.get(&hash).copied().unwrap_or(c.now);
        let Some(seq) = tx.insert_change(n, hash, change.raw_bytes(), c.pusher, at)? else { continue };
        added += 1;
        for (u, top) in readers.iter().zip(tops.iter_mut()) {
            top.pos += 1;
            top.digest = chain_digest(&top.digest, top.pos as u64, c.doc, &hash.0, at);
            tx.append_entry(*u, top.pos, seq, top.digest, false)?;
            if Some(*u) == c.pusher_unit {
                own_top = Some(top.pos);
            }
        }
    }
    if added > 0 {
        tx.write_tops(readers, &tops)?;
    }
    if let Some(pos) = own_top {
        tx.set_own_top(c.pusher, pos)?;
    }
    Ok(added)
}

/// Appends the changes of document row `n` stored after sequence number `after` to the end
/// of `unit`'s log, in sequence order, each with its receipt time and chained from the log's top
/// as a live change would be (a unit that starts reading a document). Entries already in the
/// log are never touched. Returns how many were appended.
pub fn append_document(
    tx: &mut (impl LogTx + ?Sized),
    unit: UnitId,
    n: i64,
    doc: DocId,
    after: i64,
) -> Result<u64> {
    let mut top = tx.lock_tops(&[unit])?.pop().unwrap_or_default();
    let rows = tx.changes_after(n, after)?;
    for (seq, hash, at) in &rows {
        top.pos += 1;
        top.digest = chain_digest(&top.digest, top.pos as u64, doc, &hash.0, *at);
        tx.append_entry(unit, top.pos, *seq, top.digest, false)?;
    }
    if !rows.is_empty() {
        tx.write_tops(&[unit], &[top])?;
    }
    Ok(rows.len() as u64)
}

/// Gives changes of document row `n` the earliest receipt time a voucher of this relay proves
/// (`received`): a relay restored from an older backup may have received a change again, later,
/// from a device that pushed it as new, while another device holds the seal of the first
/// receipt. Entries devices have seen are never rewritten: each restamped change gets a new
/// entry (marked as a restamp) in the log of every unit that reads the document, chaining the
/// earlier time, so every reader (the author device too) learns it. Returns those units, or
/// none if no time was earlier than the one stored.
pub fn restamp(
    tx: &mut (impl LogTx + ?Sized),
    doc: DocId,
    n: i64,
    received: &HashMap<ChangeHash, i64>,
) -> Result<Vec<UnitId>> {
    let mut proven: Vec<(i64, ChangeHash)> = received.iter().map(|(h, at)| (*at, *h)).collect();
    proven.sort();
    let mut restamped: Vec<(i64, ChangeHash, i64)> = Vec::new();
    for (at, hash) in proven {
        if let Some((seq, stored)) = tx.receipt(n, hash)?
            && stored > at
        {
            tx.set_received_at(seq, at)?;
            restamped.push((seq, hash, at));
        }
    }
    if restamped.is_empty() {
        return Ok(Vec::new());
    }
    let readers = tx.readers_of(n)?;
    let mut tops = tx.lock_tops(&readers)?;
    for (seq, hash, at) in &restamped {
        for (u, top) in readers.iter().zip(tops.iter_mut()) {
            top.pos += 1;
            top.digest = chain_digest(&top.digest, top.pos as u64, doc, &hash.0, *at);
            tx.append_entry(*u, top.pos, *seq, top.digest, true)?;
        }
    }
    tx.write_tops(&readers, &tops)?;
    Ok(readers)
}

pub(crate) fn unit_from(bytes: &[u8]) -> Result<UnitId> {
    UnitId::from_slice(bytes).map_err(|e| StoreError::Invalid(format!("a stored unit id is damaged: {e}")))
}

pub(crate) fn doc_from(bytes: &[u8]) -> Result<DocId> {
    DocId::from_slice(bytes).map_err(|e| StoreError::Invalid(format!("a stored document id is damaged: {e}")))
}

pub(crate) fn device_from(bytes: &[u8]) -> Result<DeviceId> {
    DeviceId::from_slice(bytes)
        .map_err(|e| StoreError::Invalid(format!("a stored device id is damaged: {e}")))
}

pub(crate) fn digest_from(bytes: &[u8], unit: UnitId) -> Result<[u8; 16]> {
    bytes.try_into().map_err(|_| {
        StoreError::Invalid(format!("the log of unit {unit} is damaged (a digest not 16 bytes)"))
    })
}

pub(crate) fn hash_from(bytes: &[u8]) -> Result<ChangeHash> {
    let b: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::Invalid("a stored change hash is damaged (not 32 bytes)".into()))?;
    Ok(ChangeHash(b))
}

pub(crate) fn heads_bytes(heads: &[ChangeHash]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.0).collect()
}

pub(crate) fn heads_from(bytes: &[u8]) -> Result<Vec<ChangeHash>> {
    if !bytes.len().is_multiple_of(32) {
        return Err(StoreError::Invalid("a stored document's heads are damaged".into()));
    }
    bytes.chunks(32).map(hash_from).collect()
}
