//! What the sync driver needs from the store: the changes the relay lacks, marking what it
//! acknowledged, and applying changes that came from elsewhere.

use automerge::{AutoCommit, Change, ChangeHash};
use giaoban_protocol::schema::{Response, read_header};
use giaoban_protocol::{DocId, Timestamp};
use rusqlite::params;

use super::{Store, heads, index};
use crate::error::{CoreError, Result};

impl Store {
    /// The heads the relay has acknowledged for `id` (empty if none).
    pub fn acked_heads(&self, id: DocId) -> Result<Vec<ChangeHash>> {
        let bytes: Option<Vec<u8>> = self.conn().query_row(
            "SELECT acked_heads FROM documents WHERE id = ?1",
            params![id.to_bytes().to_vec()],
            |r| r.get(0),
        )?;
        Ok(bytes.and_then(|b| heads::decode(&b)).unwrap_or_default())
    }

    /// Documents with changes the relay has not acknowledged.
    pub fn dirty_documents(&self) -> Result<Vec<DocId>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id FROM documents WHERE acked_heads IS NULL OR acked_heads != heads ORDER BY n",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for r in rows {
            if let Ok(id) = DocId::from_slice(&r?) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// The encoded changes of `id` that the relay has not acknowledged, in causal order.
    pub fn unacked_changes(&mut self, id: DocId) -> Result<Vec<Vec<u8>>> {
        let acked = self.acked_heads(id)?;
        let doc = self.loaded(id)?;
        Ok(doc.get_changes(&acked).into_iter().map(|c| c.raw_bytes().to_vec()).collect())
    }

    /// Records that the relay holds `id` up to `acked`. Heads the store does not know are
    /// ignored (an acknowledgement never claims more than we have).
    pub fn mark_acked(&mut self, id: DocId, acked: &[ChangeHash]) -> Result<()> {
        let doc = self.loaded(id)?;
        let known: Vec<ChangeHash> =
            acked.iter().copied().filter(|h| doc.get_change_by_hash(h).is_some()).collect();
        self.conn().execute(
            "UPDATE documents SET acked_heads = ?2 WHERE id = ?1",
            params![id.to_bytes().to_vec(), heads::encode(&known)],
        )?;
        self.committed();
        Ok(())
    }

    /// Adds `hashes` to what the relay is known to hold for `id` (changes it sent us, or heads it
    /// acknowledged). Unknown hashes are ignored; when nothing unacknowledged remains, the
    /// acknowledged heads become the document's heads.
    pub fn add_acked(&mut self, id: DocId, hashes: &[ChangeHash]) -> Result<()> {
        let mut acked = self.acked_heads(id)?;
        let doc = self.loaded(id)?;
        for h in hashes {
            if !acked.contains(h) && doc.get_change_by_hash(h).is_some() {
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
        let mut decoded = Vec::with_capacity(changes.len());
        for (i, bytes) in changes.iter().enumerate() {
            let c = Change::from_bytes(bytes.clone()).map_err(|e| {
                CoreError::invalid(format!("changes[{i}]"), format!("not an Automerge change: {e}"))
            })?;
            decoded.push(c);
        }
        let now = self.now();
        let existing = self.row(id).ok();
        match existing {
            Some(row) => {
                let doc = self.loaded(id)?;
                let before = doc.get_heads();
                if let Err(e) = doc.apply_changes(decoded) {
                    self.cache.remove(id);
                    return Err(e.into());
                }
                let after = doc.get_heads();
                if heads::encode(&after) == heads::encode(&before) {
                    return Ok(false);
                }
                let header = read_header(doc).map_err(|e| CoreError::Schema { id, detail: e.to_string() })?;
                if header.id != id || header.kind != row.kind || header.owner != row.owner {
                    self.cache.remove(id);
                    return Err(CoreError::invalid(
                        "header",
                        "remote changes may not change a document's header",
                    ));
                }
                let chunk = doc.save_after(&before);
                if let Err(e) = self.persist_chunk(row.n, &chunk, &after, now, None, id) {
                    self.cache.remove(id);
                    return Err(e);
                }
                Ok(true)
            }
            None => {
                let mut doc = AutoCommit::new().with_actor(self.device_id().actor_id());
                doc.apply_changes(decoded)?;
                let header =
                    read_header(&doc).map_err(|e| CoreError::Schema { id, detail: e.to_string() })?;
                if header.id != id {
                    return Err(CoreError::invalid(
                        "header.id",
                        format!("changes are for document {}, not {id}", header.id),
                    ));
                }
                let bytes = doc.save();
                let heads_now = doc.get_heads();
                let tx = self.conn.transaction()?;
                let n = super::insert_document(&tx, &header, "", &bytes, &heads_now, now)?;
                index::refresh_from_doc(&tx, n, id, &mut doc)?;
                tx.commit()?;
                self.committed();
                self.cache.put(id, doc);
                Ok(true)
            }
        }
    }

    /// Records when the relay received the response that set its tasks' states, so deadlines
    /// are judged by the relay's clock, never the device's.
    pub fn set_received_at(&mut self, response: DocId, at: Timestamp) -> Result<()> {
        let row = self.row(response)?;
        let r: Response = self.get(response)?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE task_states SET received_at = ?2 WHERE response = ?1 AND received_at IS NULL
               AND state IN ('submitted', 'not_applicable')",
            params![row.n, at.0],
        )?;
        tx.execute(
            "UPDATE tasks SET received_at = (SELECT s.received_at FROM task_states s
                 WHERE s.source = tasks.source_id AND s.ordinal = tasks.ordinal AND s.assignee = tasks.assignee)
             WHERE source = (SELECT n FROM documents WHERE id = ?1) AND assignee = ?2",
            params![r.directive.to_bytes().to_vec(), r.header.owner.to_bytes().to_vec()],
        )?;
        tx.commit()?;
        self.committed();
        Ok(())
    }
}
