//! How a change becomes durable on disk: a keystroke spliced in place, each commit's chunk appended to its document, its
//! derived rows refreshed in the same transaction, and compaction (the chunks saved as one
//! snapshot) when they grow, at once for most edits and after the typing stops for keystrokes.

use automerge::ChangeHash;
use automerge::transaction::CommitOptions;
use giaoban_protocol::schema::read_header;
use giaoban_protocol::{DocId, DocKind, SCHEMA_VERSION, Timestamp};
use rusqlite::{OptionalExtension, params};

use super::{Refresh, Store, heads, index};
use crate::error::{CoreError, Result};

impl Store {
    /// A keystroke in a report section, made durable touching only what it changes: the
    /// section's text object is spliced in place (no hydration of the report, no reconcile),
    /// its mark of having been edited on two devices at once cleared, and the report's search
    /// row marked stale (rebuilt before the next search). `edit` turns the section's current
    /// words into the splice (byte offsets, NFC in context) and returns it with the caret.
    pub(crate) fn splice_section(
        &mut self,
        id: DocId,
        key: &str,
        edit: impl FnOnce(&str) -> Result<(usize, usize, String, usize)>,
    ) -> Result<usize> {
        use automerge::transaction::Transactable;
        use automerge::{ObjType, ReadDoc, ScalarValue, Value};
        let row = self.row(id)?;
        if row.kind != DocKind::Report {
            return Err(CoreError::WrongKind { id, expected: DocKind::Report, found: row.kind });
        }
        if !self.writes_for(row.owner)? {
            return Err(CoreError::NotOwner { id });
        }
        let now = self.now();
        let am = |e: automerge::AutomergeError| CoreError::Schema { id, detail: e.to_string() };
        let doc = self.loaded(id)?;
        let header = read_header(doc).map_err(|e| CoreError::Schema { id, detail: e.to_string() })?;
        if header.schema_version > SCHEMA_VERSION {
            return Err(CoreError::NewerSchema { id, version: header.schema_version });
        }
        let missing = || CoreError::not_found("report section", format!("'{key}' of report {id}"));
        let Some((Value::Object(ObjType::List), sections)) =
            doc.get(automerge::ROOT, "sections").map_err(am)?
        else {
            return Err(missing());
        };
        // The first section with this key, as every other reader of the report picks.
        let mut found = None;
        for i in 0..doc.length(&sections) {
            let Some((Value::Object(ObjType::Map), section)) = doc.get(&sections, i).map_err(am)? else {
                continue;
            };
            if let Some((Value::Scalar(k), _)) = doc.get(&section, "key").map_err(am)?
                && k.as_str() == Some(key)
            {
                found = Some(section);
                break;
            }
        }
        let section = found.ok_or_else(missing)?;
        let Some((Value::Object(ObjType::Text), body)) = doc.get(&section, "body").map_err(am)? else {
            return Err(CoreError::Schema { id, detail: format!("section '{key}' has no text") });
        };
        let flagged = matches!(
            doc.get(&section, "edited_concurrently").map_err(am)?,
            Some((Value::Scalar(v), _)) if *v == ScalarValue::Boolean(true)
        );
        let current = doc.text(&body).map_err(am)?;
        let (start, delete, insert, caret) = edit(&current)?;
        let before_heads = doc.get_heads();
        self.write(|s| {
            s.touch(id);
            let doc = s.loaded(id)?;
            doc.splice_text(&body, start, delete as isize, &insert).map_err(am)?;
            if flagged {
                doc.put(&section, "edited_concurrently", false).map_err(am)?;
            }
            if doc.commit_with(CommitOptions::default().with_time(now.0 / 1000)).is_none() {
                return Ok(());
            }
            let chunk = doc.save_after(&before_heads);
            let new_heads = doc.get_heads();
            s.persist_chunk(row.n, &chunk, &new_heads, now, Refresh::SearchOnly, id)
        })?;
        Ok(caret)
    }

    /// Whether document `n`, with `next` more bytes of chunks, is due for compaction: when its
    /// chunks add up to a quarter of its snapshot, so that a keystroke's chunk of a long report
    /// does not save the whole report every few keystrokes (compaction costs what the snapshot
    /// weighs, so it is paid in proportion to what was written), or when `many` chunks gathered.
    pub(super) fn compaction_due(&self, n: i64, next: usize, many: bool) -> Result<bool> {
        if many {
            return Ok(true);
        }
        let chunks: i64 = self
            .conn
            .prepare_cached("SELECT COALESCE(SUM(length(bytes)), 0) FROM chunks WHERE doc = ?1")?
            .query_row(params![n], |r| r.get(0))?;
        let snapshot: i64 = self
            .conn
            .prepare_cached("SELECT COALESCE(length(bytes), 0) FROM snapshots WHERE doc = ?1")?
            .query_row(params![n], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        Ok((chunks + next as i64) * 4 >= snapshot)
    }

    /// Appends `chunk` to document `n`, updates its row and indexes, and compacts when due,
    /// inside the open write scope (its own transaction if none is open).
    pub(super) fn persist_chunk(
        &mut self,
        n: i64,
        chunk: &[u8],
        new_heads: &[ChangeHash],
        now: Timestamp,
        typed: Refresh<'_>,
        id: DocId,
    ) -> Result<()> {
        let compact_after = self.opts.compact_after as i64;
        self.write(|s| {
            let count: i64 =
                s.conn
                    .query_row("SELECT chunk_count FROM documents WHERE n = ?1", params![n], |r| r.get(0))?;
            let many = count + 1 >= compact_after * 16;
            let due = count + 1 >= compact_after && s.compaction_due(n, chunk.len(), many)?;
            // A keystroke never waits while a long report is saved whole: its compaction is
            // left to the sync loop (`compact_waiting`), unless chunks piled up.
            let keystroke = matches!(typed, Refresh::SearchOnly);
            if due && keystroke && !many {
                s.conn
                    .prepare_cached("INSERT OR IGNORE INTO compact_waiting(doc) VALUES (?1)")?
                    .execute(params![n])?;
            }
            if due && (!keystroke || many) {
                let snapshot = match s.cache.get_mut(id) {
                    Some(doc) => doc.save(),
                    None => return Err(CoreError::not_found("document", id)),
                };
                s.conn.execute("DELETE FROM chunks WHERE doc = ?1", params![n])?;
                s.conn.execute(
                    "INSERT OR REPLACE INTO snapshots(doc, bytes) VALUES (?1, ?2)",
                    params![n, snapshot],
                )?;
                s.conn.execute(
                    "UPDATE documents SET chunk_count = 0, heads = ?2, updated_at = ?3 WHERE n = ?1",
                    params![n, heads::encode(new_heads), now.0],
                )?;
            } else {
                s.conn.execute(
                    "INSERT INTO chunks(doc, seq, bytes) VALUES (?1, ?2, ?3)",
                    params![n, count + 1, chunk],
                )?;
                s.conn.execute(
                    "UPDATE documents SET chunk_count = ?2, heads = ?3, updated_at = ?4 WHERE n = ?1",
                    params![n, count + 1, heads::encode(new_heads), now.0],
                )?;
            }
            match typed {
                Refresh::Typed(v) => index::refresh_dyn(&s.conn, n, v)?,
                Refresh::FromDocument => {
                    let doc = s.cache.get_mut(id).ok_or_else(|| CoreError::not_found("document", id))?;
                    index::refresh_from_doc(&s.conn, n, id, doc)?;
                }
                Refresh::SearchOnly => {
                    s.conn
                        .prepare_cached("INSERT OR IGNORE INTO search_stale(doc) VALUES (?1)")?
                        .execute(params![n])?;
                }
            }
            // Receipt times of a response's tasks come from the changes that set them.
            let doc = s.cache.get_mut(id).ok_or_else(|| CoreError::not_found("document", id))?;
            index::refresh_receipt_times(&s.conn, n, doc)?;
            Ok(())
        })
    }

    /// Compacts one document whose compaction a keystroke left for later (its chunks become
    /// one snapshot, in one transaction), among those nobody edited for `idle`: a report being
    /// typed is compacted once the typing stops, never between two keystrokes. Returns whether
    /// there was one. The sync loop calls this until there is none, taking the store lock for
    /// each document in turn; an app may call it with zero when it goes to the background.
    pub fn compact_one_waiting(&mut self, idle: std::time::Duration) -> Result<bool> {
        let before = self.now().0 - i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
        let next: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT w.doc, d.id FROM compact_waiting w JOIN documents d ON d.n = w.doc
                 WHERE d.updated_at <= ?1 LIMIT 1",
                params![before],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((n, id)) = next else {
            return Ok(false);
        };
        let id = DocId::from_slice(&id).map_err(|e| CoreError::DamagedStore {
            detail: format!("a stored document id is unreadable ({e})"),
        })?;
        self.write(|s| {
            s.conn.execute("DELETE FROM compact_waiting WHERE doc = ?1", params![n])?;
            let snapshot = s.loaded(id)?.save();
            s.conn.execute("DELETE FROM chunks WHERE doc = ?1", params![n])?;
            s.conn.execute(
                "INSERT OR REPLACE INTO snapshots(doc, bytes) VALUES (?1, ?2)",
                params![n, snapshot],
            )?;
            s.conn.execute("UPDATE documents SET chunk_count = 0 WHERE n = ?1", params![n])?;
            Ok(())
        })?;
        Ok(true)
    }
}
