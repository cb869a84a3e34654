//! What the sync driver needs from the store: the changes the relay lacks, marking what it
//! acknowledged, applying changes that came from elsewhere, and keeping what the relay said
//! about each change (its receipt time and seal).

use automerge::{AutoCommit, Change, ChangeHash};
use giaoban_protocol::schema::read_header;
use giaoban_protocol::wire::{ChangeMeta, Voucher};
use giaoban_protocol::{DocId, DocKind, SCHEMA_VERSION, holds_change};
use rusqlite::{OptionalExtension, params};

use super::{Store, heads, index};
use crate::domain::concurrent_edits::concurrently_edited_sections;
use crate::error::{CoreError, Result};

/// What applying changes from the relay did to one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Applied {
    /// Something new was applied.
    pub changed: bool,
    /// Some changes wait for earlier changes this device does not hold; the document must be
    /// fetched whole.
    pub missing: bool,
    /// Written by a newer app: stored, not shown.
    pub newer: bool,
    /// Sections were marked as edited on two devices at once: a new change of this device's.
    pub flagged: bool,
    /// Stored as it came, to be read later (`store/prepare.rs`): whether it is readable is
    /// known only then.
    pub later: bool,
}

/// The hash of `bytes` and the hashes of the changes it depends on, if they are exactly one
/// uncompressed Automerge change chunk whose checksum (the first four bytes of its hash)
/// agrees; `None` for anything else, which is then decoded in full. The hash is SHA-256 over
/// the chunk's type, length and contents; the contents open with the dependencies (a LEB128
/// count, then that many 32-byte hashes).
fn change_chunk_parts(bytes: &[u8]) -> Option<(ChangeHash, Vec<ChangeHash>)> {
    use sha2::{Digest, Sha256};
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    const CHANGE: u8 = 1;
    fn leb128(bytes: &[u8], at: &mut usize) -> Option<u64> {
        let (mut value, mut shift) = (0u64, 0u32);
        loop {
            let b = *bytes.get(*at)?;
            if shift > 56 {
                return None;
            }
            value |= u64::from(b & 0x7f) << shift;
            *at += 1;
            if b & 0x80 == 0 {
                return Some(value);
            }
            shift += 7;
        }
    }
    if bytes.len() < 10 || bytes[..4] != MAGIC || bytes[8] != CHANGE {
        return None;
    }
    // The contents' length, then exactly that many bytes.
    let mut at = 9usize;
    let len = leb128(bytes, &mut at)?;
    if (bytes.len() - at) as u64 != len {
        return None;
    }
    let hash: [u8; 32] = Sha256::digest(&bytes[8..]).into();
    if hash[..4] != bytes[4..8] {
        return None;
    }
    let count = usize::try_from(leb128(bytes, &mut at)?).ok()?;
    let deps_end = count.checked_mul(32)?.checked_add(at)?;
    let deps = bytes.get(at..deps_end)?;
    let deps = deps
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            ChangeHash(h)
        })
        .collect();
    Some((ChangeHash(hash), deps))
}

/// The hashes and heads of the changes of a document new here, read from their bytes, when
/// every one is a change chunk and together they hold every change they depend on; `None`
/// otherwise (they are then loaded and checked by Automerge).
fn whole_history(changes: &[Vec<u8>]) -> Option<(Vec<ChangeHash>, Vec<ChangeHash>)> {
    use std::collections::HashSet;
    let mut hashes = Vec::with_capacity(changes.len());
    let mut depended: HashSet<ChangeHash> = HashSet::new();
    for bytes in changes {
        let (hash, deps) = change_chunk_parts(bytes)?;
        hashes.push(hash);
        depended.extend(deps);
    }
    let held: HashSet<ChangeHash> = hashes.iter().copied().collect();
    if held.is_empty() || !depended.iter().all(|d| held.contains(d)) {
        return None;
    }
    let heads = held.iter().copied().filter(|h| !depended.contains(h)).collect();
    Some((hashes, heads))
}

impl Store {
    /// The heads the relay has acknowledged for `id` (empty if none).
    pub fn acked_heads(&self, id: DocId) -> Result<Vec<ChangeHash>> {
        let bytes: Option<Vec<u8>> = self.conn().query_row(
            "SELECT acked_heads FROM documents WHERE id = ?1",
            params![id.to_bytes().to_vec()],
            |r| r.get(0),
        )?;
        match bytes {
            None => Ok(Vec::new()),
            Some(b) => heads::decode(&b).ok_or_else(|| CoreError::Corrupt {
                id,
                detail: "the heads the relay acknowledged are stored damaged".into(),
            }),
        }
    }

    /// Documents with changes the relay has not acknowledged, oldest first (from the dirty
    /// index, without scanning the rest of the store).
    pub fn dirty_documents(&self) -> Result<Vec<DocId>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id FROM documents INDEXED BY documents_dirty
             WHERE acked_heads IS NULL OR acked_heads != heads ORDER BY n",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(doc_id(&r?)?);
        }
        Ok(out)
    }

    /// Dirty documents not refused by the relay at their current heads, oldest first, with
    /// whether the relay holds nothing of them yet.
    pub(crate) fn pushable_documents(&self) -> Result<Vec<(DocId, bool)>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT d.id, d.acked_heads IS NULL FROM documents d INDEXED BY documents_dirty
             LEFT JOIN rejections r ON r.doc = d.n
             WHERE (d.acked_heads IS NULL OR d.acked_heads != d.heads)
               AND (r.heads IS NULL OR r.heads != d.heads)
             ORDER BY d.n",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, bool>(1)?)))?;
        let mut out = Vec::new();
        for r in rows {
            let (id, fresh) = r?;
            out.push((doc_id(&id)?, fresh));
        }
        Ok(out)
    }

    /// The encoded changes of `id` that the relay has not acknowledged, in causal order.
    pub fn unacked_changes(&mut self, id: DocId) -> Result<Vec<Vec<u8>>> {
        let acked = self.acked_heads(id)?;
        let doc = self.loaded(id)?;
        Ok(doc.get_changes(&acked).into_iter().map(|c| c.raw_bytes().to_vec()).collect())
    }

    /// The vouchers this device holds for any of `changes` of `id`.
    pub(crate) fn vouchers_for(&self, id: DocId, changes: &[Vec<u8>]) -> Result<Vec<Voucher>> {
        let n = self.row(id)?.n;
        // Most pushes are of this device's own new changes, which have no voucher yet.
        let any: bool = self
            .conn()
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM receipts WHERE doc = ?1 AND seal IS NOT NULL)")?
            .query_row(params![n], |r| r.get(0))?;
        if !any {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn().prepare_cached(
            "SELECT received_at, seal FROM receipts WHERE doc = ?1 AND hash = ?2 AND seal IS NOT NULL",
        )?;
        let mut out = Vec::new();
        for bytes in changes {
            let Ok(change) = Change::from_bytes(bytes.clone()) else { continue };
            let hash = change.hash().0;
            let row: Option<(i64, Vec<u8>)> =
                stmt.query_row(params![n, hash.to_vec()], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
            if let Some((received_at, seal)) = row
                && let Ok(seal) = <[u8; 16]>::try_from(seal.as_slice())
            {
                out.push(Voucher { hash, received_at, seal });
            }
        }
        Ok(out)
    }

    /// Records that the relay holds `id` up to `acked`. Heads the store does not know are
    /// ignored (an acknowledgement never claims more than we have).
    pub fn mark_acked(&mut self, id: DocId, acked: &[ChangeHash]) -> Result<()> {
        let doc = self.loaded(id)?;
        let known: Vec<ChangeHash> = acked.iter().copied().filter(|h| holds_change(doc, h)).collect();
        self.write(|s| {
            s.conn().execute(
                "UPDATE documents SET acked_heads = ?2 WHERE id = ?1",
                params![id.to_bytes().to_vec(), heads::encode(&known)],
            )?;
            Ok(())
        })
    }

    /// Adds `hashes` to what the relay is known to hold for `id` (changes it sent us, or heads it
    /// acknowledged). Unknown hashes are ignored; when nothing unacknowledged remains, the
    /// acknowledged heads become the document's heads.
    pub(crate) fn add_acked(&mut self, id: DocId, hashes: &[ChangeHash]) -> Result<()> {
        // The common case needs no document: the relay holds every current head, and it never
        // stores a change without the changes it builds on, so it holds everything.
        let current: Vec<u8> = self.conn().query_row(
            "SELECT heads FROM documents WHERE id = ?1",
            params![id.to_bytes().to_vec()],
            |r| r.get(0),
        )?;
        let current = heads::decode(&current)
            .ok_or_else(|| CoreError::Corrupt { id, detail: "stored heads malformed".into() })?;
        if !current.is_empty() && current.iter().all(|h| hashes.contains(h)) {
            self.conn().execute(
                "UPDATE documents SET acked_heads = heads WHERE id = ?1",
                params![id.to_bytes().to_vec()],
            )?;
            return Ok(());
        }
        let mut acked = self.acked_heads(id)?;
        let doc = self.loaded(id)?;
        for h in hashes {
            if !acked.contains(h) && holds_change(doc, h) {
                acked.push(*h);
            }
        }
        let stored = if doc.get_changes(&acked).is_empty() { doc.get_heads() } else { acked };
        self.conn().execute(
            "UPDATE documents SET acked_heads = ?2 WHERE id = ?1",
            params![id.to_bytes().to_vec(), heads::encode(&stored)],
        )?;
        Ok(())
    }

    /// Applies encoded changes that came from the relay (or another replica) to `id`, creating
    /// the document if it is new here. The result is durable and indexed when this returns.
    /// Returns whether anything new was applied.
    pub fn apply_remote(&mut self, id: DocId, changes: &[Vec<u8>]) -> Result<bool> {
        self.write(|s| {
            let applied = s.apply_in_scope(id, changes, &[])?;
            // Prepared now (`store/prepare.rs`), so it is in the lists when this returns.
            s.row(id)?;
            Ok(applied.changed)
        })
    }

    /// Applies changes from the relay inside the open write scope, and keeps what the relay
    /// said about them (`meta`: empty, or one entry per change).
    pub(crate) fn apply_in_scope(
        &mut self,
        id: DocId,
        changes: &[Vec<u8>],
        meta: &[ChangeMeta],
    ) -> Result<Applied> {
        let decode = || -> Result<Vec<Change>> {
            let mut decoded = Vec::with_capacity(changes.len());
            for (i, bytes) in changes.iter().enumerate() {
                let c = Change::from_bytes(bytes.clone()).map_err(|e| {
                    CoreError::invalid(format!("changes[{i}]"), format!("not an Automerge change: {e}"))
                })?;
                decoded.push(c);
            }
            Ok(decoded)
        };
        let now = self.now();
        let existing = match self.row(id) {
            Ok(row) => Some(row),
            Err(CoreError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        // A document new here whose whole history is in hand: its hashes and heads.
        let whole = if existing.is_none() { whole_history(changes) } else { None };
        let mut applied = Applied::default();
        let hashes: Vec<ChangeHash>;
        let n = match (existing, whole) {
            (Some(row), _) => {
                let decoded = decode()?;
                hashes = decoded.iter().map(|c| c.hash()).collect();
                self.touch(id);
                let doc = self.loaded(id)?;
                let before = doc.get_heads();
                doc.apply_changes(decoded)?;
                let after = doc.get_heads();
                applied.missing = !doc.get_missing_deps(&[]).is_empty();
                if heads::encode(&after) != heads::encode(&before) {
                    let header =
                        read_header(doc).map_err(|e| CoreError::Schema { id, detail: e.to_string() })?;
                    if header.id != id || header.kind != row.kind || header.owner != row.owner {
                        return Err(CoreError::invalid(
                            "header",
                            "remote changes may not change a document's header",
                        ));
                    }
                    applied.newer = header.schema_version > SCHEMA_VERSION;
                    let chunk = doc.save_after(&before);
                    self.persist_remote(row.n, &chunk, &after, now, id, applied.newer)?;
                    applied.changed = true;
                    if row.kind == DocKind::Report && Some(row.owner) == self.unit() && !applied.newer {
                        applied.flagged = self.flag_concurrent_sections(id, &before, &hashes)?;
                    }
                }
                row.n
            }
            (None, Some((quick, heads_now))) => {
                // A document new here, its whole history in hand: stored as it came, to be
                // read into the derived tables later (`store/prepare.rs`). The relay holds all
                // of it, so nothing of it is only here.
                hashes = quick;
                let n =
                    super::prepare::insert_unprepared(self.conn(), id, &changes.concat(), &heads_now, now)?;
                // A copy of an earlier document of this id (found unreadable and removed) goes.
                self.cache.remove(id);
                applied.changed = true;
                applied.later = true;
                n
            }
            (None, None) => {
                // Anything else (changes this device cannot read from their bytes, or that
                // build on changes it does not hold) is decoded and checked now.
                let decoded = decode()?;
                hashes = decoded.iter().map(|c| c.hash()).collect();
                let mut doc = AutoCommit::new();
                doc.apply_changes(decoded)?;
                doc.set_actor(self.actor().clone());
                applied.missing = !doc.get_missing_deps(&[]).is_empty();
                let header =
                    read_header(&doc).map_err(|e| CoreError::Schema { id, detail: e.to_string() })?;
                if header.id != id {
                    return Err(CoreError::invalid(
                        "header.id",
                        format!("changes are for document {}, not {id}", header.id),
                    ));
                }
                applied.newer = header.schema_version > SCHEMA_VERSION;
                let bytes = doc.save();
                let heads_now = doc.get_heads();
                let n = super::insert_document(self.conn(), &header, "", &bytes, &heads_now, now)?;
                if !applied.newer {
                    index::refresh_from_doc(self.conn(), n, id, &mut doc)?;
                }
                self.touch(id);
                self.cache.put(id, doc);
                applied.changed = true;
                n
            }
        };
        if applied.later {
            // Receipt times and what derives from them are read when the document is prepared.
            if !meta.is_empty() {
                self.keep_receipts(n, &hashes, meta, false, |_| false)?;
            }
            self.add_acked(id, &hashes)?;
            return Ok(applied);
        }
        if !meta.is_empty() {
            let response = self.row(id)?.kind == DocKind::Response;
            self.keep_receipts(n, &hashes, meta, response, |_| false)?;
        }
        if !applied.newer {
            self.loaded(id)?;
            let doc = self.cache.get_mut(id).ok_or_else(|| CoreError::not_found("document", id))?;
            index::refresh_receipt_times(&self.conn, n, doc)?;
        }
        self.add_acked(id, &hashes)?;
        Ok(applied)
    }

    /// Flags the sections of this unit's report `id` whose words this device and another changed
    /// at once (the merge keeps both; a person should read it). The flag is a change of this
    /// device's, pushed with the next sync.
    fn flag_concurrent_sections(
        &mut self,
        id: DocId,
        before: &[ChangeHash],
        incoming: &[ChangeHash],
    ) -> Result<bool> {
        let doc = self.loaded(id)?;
        let keys = concurrently_edited_sections(doc, before, incoming);
        if keys.is_empty() {
            return Ok(false);
        }
        let heads = self.heads(id)?;
        match self.mark_sections_edited_concurrently(id, &keys) {
            Ok(()) => Ok(self.heads(id)? != heads),
            Err(e @ (CoreError::Storage(_) | CoreError::DamagedStore { .. })) => Err(e),
            // The merged words stay as they are; only the flag is missing, and the sections
            // still hold both devices' words.
            Err(e) => {
                tracing::warn!(%id, error = %e, "sections edited on two devices at once could not be flagged");
                Ok(false)
            }
        }
    }

    /// Keeps what the relay said about changes of document row `n`: their receipt times and
    /// seals. The relay's latest word replaces an earlier one, except that for a response
    /// (`response`), whose receipt times decide deadlines, a time this device holds the relay's
    /// seal for is kept over a later one: the relay received the change first then, and says
    /// otherwise only because it was restored from an older backup and received it again. Such
    /// a receipt is marked to be given back (its voucher goes with the next push, and the relay
    /// restamps the change). `refused(hash)`: the relay already had this device's voucher for
    /// the change in the request this answers and still says later, so it is not this relay's
    /// seal, and the relay's word stands.
    fn keep_receipts(
        &self,
        n: i64,
        hashes: &[ChangeHash],
        meta: &[ChangeMeta],
        response: bool,
        refused: impl Fn(&ChangeHash) -> bool,
    ) -> Result<()> {
        let mut stmt = self.conn().prepare_cached(
            "INSERT INTO receipts(doc, hash, received_at, seal, give_back) VALUES (?1, ?2, ?3, ?4, 0)
             ON CONFLICT(doc, hash) DO UPDATE SET
                 received_at = CASE WHEN ?5 AND receipts.seal IS NOT NULL
                                         AND receipts.received_at < excluded.received_at
                                    THEN receipts.received_at ELSE excluded.received_at END,
                 seal = CASE WHEN ?5 AND receipts.seal IS NOT NULL
                                  AND receipts.received_at < excluded.received_at THEN receipts.seal
                             WHEN excluded.seal IS NOT NULL THEN excluded.seal
                             WHEN excluded.received_at = receipts.received_at THEN receipts.seal END,
                 give_back = CASE WHEN ?5 AND receipts.seal IS NOT NULL
                                       AND receipts.received_at < excluded.received_at
                                  THEN 1
                                  -- An earlier sealed time after a later one: the relay has told
                                  -- two histories (a late answer from before a restore, say), and
                                  -- may hold the later time now. Giving the seal back costs
                                  -- nothing where it already holds the earlier one.
                                  WHEN ?5 AND receipts.seal IS NOT NULL AND excluded.seal IS NOT NULL
                                       AND excluded.received_at < receipts.received_at
                                  THEN 1
                                  -- The same time again (an answer that acknowledges a change and
                                  -- also carries it) settles nothing; the relay's answer to the
                                  -- seal given back does.
                                  WHEN ?5 AND excluded.received_at = receipts.received_at
                                  THEN receipts.give_back
                                  ELSE 0 END",
        )?;
        for (h, m) in hashes.iter().zip(meta) {
            let keep_sealed = response && !refused(h);
            stmt.execute(params![n, h.0.to_vec(), m.received_at, m.seal.map(|s| s.to_vec()), keep_sealed])?;
        }
        Ok(())
    }

    /// Keeps the vouchers the relay gave for a pushed document, and refreshes what depends on
    /// its receipt times. `vouched(hash)`: whether the request carried this device's own voucher
    /// for that change.
    pub(crate) fn keep_vouchers(
        &mut self,
        id: DocId,
        vouchers: &[Voucher],
        vouched: impl Fn(&ChangeHash) -> bool,
    ) -> Result<()> {
        if vouchers.is_empty() {
            return Ok(());
        }
        let row = self.row(id)?;
        let n = row.n;
        let hashes: Vec<ChangeHash> = vouchers.iter().map(|v| ChangeHash(v.hash)).collect();
        let meta: Vec<ChangeMeta> =
            vouchers.iter().map(|v| ChangeMeta { received_at: v.received_at, seal: Some(v.seal) }).collect();
        // Only changes this device holds: a voucher never adds a change.
        let doc = self.loaded(id)?;
        let held: Vec<bool> = hashes.iter().map(|h| holds_change(doc, h)).collect();
        let (hashes, meta): (Vec<ChangeHash>, Vec<ChangeMeta>) =
            hashes.into_iter().zip(meta).zip(held).filter(|(_, h)| *h).map(|(p, _)| p).unzip();
        self.keep_receipts(n, &hashes, &meta, row.kind == DocKind::Response, vouched)?;
        let doc = self.cache.get_mut(id).ok_or_else(|| CoreError::not_found("document", id))?;
        index::refresh_receipt_times(&self.conn, n, doc)
    }

    /// Every encoded change of `id`, in causal order.
    pub(crate) fn all_changes(&mut self, id: DocId) -> Result<Vec<Vec<u8>>> {
        let doc = self.loaded(id)?;
        Ok(doc.get_changes(&[]).into_iter().map(|c| c.raw_bytes().to_vec()).collect())
    }

    /// The encoded change `hash` of `id`, if this device holds it.
    pub(crate) fn change_bytes(&mut self, id: DocId, hash: &[u8; 32]) -> Result<Option<Vec<u8>>> {
        let doc = self.loaded(id)?;
        Ok(doc.get_change_by_hash(&ChangeHash(*hash)).map(|c| c.raw_bytes().to_vec()))
    }

    /// The vouchers this device gives back, by document.
    pub(crate) fn vouchers_to_give_back(&self) -> Result<Vec<(DocId, Vec<Voucher>)>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT d.id, r.hash, r.received_at, r.seal FROM receipts r INDEXED BY receipts_to_give_back
             JOIN documents d ON d.n = r.doc
             WHERE r.give_back = 1 AND r.seal IS NOT NULL ORDER BY r.doc, r.hash",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        })?;
        let mut out: Vec<(DocId, Vec<Voucher>)> = Vec::new();
        for r in rows {
            let (id, hash, received_at, seal) = r?;
            let (Ok(hash), Ok(seal)) =
                (<[u8; 32]>::try_from(hash.as_slice()), <[u8; 16]>::try_from(seal.as_slice()))
            else {
                continue;
            };
            let id = doc_id(&id)?;
            let v = Voucher { hash, received_at, seal };
            match out.last_mut() {
                Some((d, vs)) if *d == id => vs.push(v),
                _ => out.push((id, vec![v])),
            }
        }
        Ok(out)
    }

    /// Stops giving back the receipts of `id` named by `hashes` (the relay refused the
    /// document that carried them).
    pub(crate) fn stop_giving_back(&self, id: DocId, hashes: &[ChangeHash]) -> Result<()> {
        let mut stmt = self.conn().prepare_cached(
            "UPDATE receipts SET give_back = 0
             WHERE doc = (SELECT n FROM documents WHERE id = ?1) AND hash = ?2",
        )?;
        for h in hashes {
            stmt.execute(params![id.to_bytes().to_vec(), h.0.to_vec()])?;
        }
        Ok(())
    }

    /// Persists a chunk of remote changes; a document from a newer app is stored but not
    /// indexed.
    fn persist_remote(
        &mut self,
        n: i64,
        chunk: &[u8],
        after: &[ChangeHash],
        now: giaoban_protocol::Timestamp,
        id: DocId,
        newer: bool,
    ) -> Result<()> {
        if newer {
            self.conn().execute("INSERT INTO chunks(doc, seq, bytes) SELECT ?1, chunk_count + 1, ?2 FROM documents WHERE n = ?1", params![n, chunk])?;
            self.conn().execute(
                "UPDATE documents SET chunk_count = chunk_count + 1, heads = ?2, updated_at = ?3 WHERE n = ?1",
                params![n, heads::encode(after), now.0],
            )?;
            return Ok(());
        }
        self.persist_chunk(n, chunk, after, now, super::Refresh::FromDocument, id)
    }
}

fn doc_id(bytes: &[u8]) -> Result<DocId> {
    DocId::from_slice(bytes)
        .map_err(|e| CoreError::DamagedStore { detail: format!("a stored document id is unreadable ({e})") })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ObjType, ROOT};

    use super::change_chunk_parts;

    #[test]
    fn a_change_chunks_hash_is_read_from_its_bytes_and_anything_else_is_left_to_automerge() {
        let mut doc = AutoCommit::new();
        let text = doc.put_object(ROOT, "ket_qua", ObjType::Text).unwrap();
        doc.splice_text(&text, 0, 0, &"Đã vận động được gần 850 triệu đồng. ".repeat(40)).unwrap();
        doc.commit();
        doc.put(ROOT, "so_can", 12).unwrap();
        doc.commit();
        let mut changes = doc.get_changes(&[]);
        assert_eq!(changes.len(), 2);
        for c in &changes {
            let (hash, deps) = change_chunk_parts(c.raw_bytes()).unwrap();
            assert_eq!(hash, c.hash());
            assert_eq!(deps, c.deps());
        }
        assert_eq!(changes[1].deps(), [changes[0].hash()], "the second builds on the first");
        // A compressed chunk hashes its uncompressed form: not read here.
        let compressed = changes[0].bytes().into_owned();
        assert_ne!(compressed, changes[0].raw_bytes());
        assert_eq!(change_chunk_parts(&compressed), None);
        // One byte changed anywhere, a chunk cut short or followed by more: none.
        let raw = changes[1].raw_bytes().to_vec();
        for i in 8..raw.len() {
            let mut damaged = raw.clone();
            damaged[i] ^= 0x20;
            assert_eq!(change_chunk_parts(&damaged), None, "byte {i}");
        }
        assert_eq!(change_chunk_parts(&raw[..raw.len() - 1]), None);
        assert_eq!(change_chunk_parts(&[raw.as_slice(), &[0]].concat()), None);
        assert_eq!(change_chunk_parts(&doc.save()), None, "a whole document is not a change");
    }
}
