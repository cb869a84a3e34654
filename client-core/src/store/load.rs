//! How a stored document becomes an Automerge document again: its snapshot and the chunks
//! appended since, read from SQLite ([`Store::stored`]) and built, checked against the heads
//! its row records ([`Stored::build`], which needs no SQLite, so any thread may run it).

use automerge::AutoCommit;
use giaoban_protocol::DocId;
use rusqlite::{OptionalExtension, params};

use super::{Store, heads};
use crate::error::{CoreError, Result};

/// A document's bytes as stored: its snapshot, the chunks appended since, and the heads they
/// must reach.
pub(crate) struct Stored {
    snapshot: Option<Vec<u8>>,
    chunks: Vec<(i64, Vec<u8>)>,
    heads: Vec<u8>,
}

impl Stored {
    /// Builds the document (Automerge's work, no SQLite: any thread may do it), checking it
    /// reaches the stored heads; it writes as `actor`.
    pub(crate) fn build(self, id: DocId, actor: &automerge::ActorId) -> Result<AutoCommit> {
        let corrupt = |detail: String| CoreError::Corrupt { id, detail };
        let mut doc = match self.snapshot {
            Some(bytes) => {
                AutoCommit::load(&bytes).map_err(|e| corrupt(format!("snapshot unreadable: {e}")))?
            }
            None => AutoCommit::new(),
        };
        for (seq, bytes) in self.chunks {
            doc.load_incremental(&bytes)
                .map_err(|e| corrupt(format!("stored change {seq} unreadable: {e}")))?;
        }
        let mut want = heads::decode(&self.heads).ok_or_else(|| corrupt("stored heads malformed".into()))?;
        want.sort();
        let mut have = doc.get_heads();
        have.sort();
        if have != want {
            return Err(corrupt("stored changes are missing or damaged".into()));
        }
        doc.set_actor(actor.clone());
        Ok(doc)
    }
}

impl Store {
    pub(super) fn read_from_disk(&self, id: DocId) -> Result<AutoCommit> {
        self.stored(id)?.build(id, &self.actor)
    }

    /// What is stored of document `id`, to be built into an Automerge document.
    pub(crate) fn stored(&self, id: DocId) -> Result<Stored> {
        let (n, snapshot, heads): (i64, Option<Vec<u8>>, Vec<u8>) = self
            .conn
            .prepare_cached(
                "SELECT d.n, s.bytes, d.heads FROM documents d LEFT JOIN snapshots s ON s.doc = d.n
                 WHERE d.id = ?1",
            )?
            .query_row(params![id.to_bytes().to_vec()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?
            .ok_or_else(|| CoreError::not_found("document", id))?;
        let mut stmt =
            self.conn.prepare_cached("SELECT seq, bytes FROM chunks WHERE doc = ?1 ORDER BY seq")?;
        let chunks =
            stmt.query_map(params![n], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
        Ok(Stored { snapshot, chunks, heads })
    }
}
