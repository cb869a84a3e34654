//! Documents stored as they came and read later.
//!
//! A download of many documents new to this device is stored as it comes: each document's
//! changes are written as they arrived (their hashes and heads read from the chunk bytes,
//! checked against each chunk's checksum), and the document is marked in `unprepared`. What
//! costs most (Automerge building the document from its changes, then reading its header and
//! its typed value into the derived tables) is left for later: the sync loop prepares what
//! waits in batches once the sync's pages are stored, newest first, and anything that asks for
//! a waiting document by id (opening it, an edit, more changes from the relay) prepares it
//! first.
//!
//! Invariant: an unprepared document holds only changes the relay sent and acknowledged as
//! held (its acknowledged heads are its heads), so nothing of it exists only on this device.
//! Its row has no kind and no owner until it is prepared; [`Store::row`] prepares it before
//! answering. A document that turns out unreadable when prepared is removed and asked for
//! whole again, as a document that could not be applied is.

use automerge::{ActorId, AutoCommit, ChangeHash};
use giaoban_protocol::schema::{Header, read_header};
use giaoban_protocol::{DocId, DocKind, SCHEMA_VERSION, Timestamp};
use rusqlite::{Connection, params};

use super::index::Typed;
use super::{Store, Stored, heads, index};
use crate::error::{CoreError, Result};

/// Documents prepared in one transaction by [`Store::prepare_waiting`].
pub const PREPARE_BATCH: usize = 64;

/// Stores a document new here exactly as its changes came, to be prepared later; returns its
/// row number.
pub(super) fn insert_unprepared(
    conn: &Connection,
    id: DocId,
    bytes: &[u8],
    heads_now: &[ChangeHash],
    now: Timestamp,
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO documents(id, kind, owner, title, chunk_count, heads, acked_heads, updated_at)
         VALUES (?1, '', zeroblob(16), '', 0, ?2, NULL, ?3)",
    )?
    .execute(params![id.to_bytes().to_vec(), heads::encode(heads_now), now.0])?;
    let n = conn.last_insert_rowid();
    conn.prepare_cached("INSERT INTO snapshots(doc, bytes) VALUES (?1, ?2)")?.execute(params![n, bytes])?;
    conn.prepare_cached("INSERT INTO unprepared(doc) VALUES (?1)")?.execute(params![n])?;
    Ok(n)
}

fn fatal(e: &CoreError) -> bool {
    matches!(e, CoreError::Storage(_) | CoreError::DamagedStore { .. })
}

impl Store {
    /// Prepares document row `n` (`id`): builds it, checks its header, fills its row and
    /// derived rows, in one savepoint. Returns `false` if it was unreadable: it is then removed
    /// and asked for whole with the next sync.
    pub(super) fn prepare(&self, n: i64, id: DocId) -> Result<bool> {
        let stored = self.stored(id)?;
        let ready = self.prepare_with(n, id, build_one(id, stored, &self.actor))?;
        if ready {
            self.prepared_on_demand.borrow_mut().push(id);
        }
        Ok(ready)
    }

    /// The documents prepared on demand since the last call.
    pub(crate) fn take_prepared_on_demand(&mut self) -> Vec<DocId> {
        std::mem::take(self.prepared_on_demand.get_mut())
    }

    /// Stores what [`build`] made of document row `n`, or deals with why it could not.
    fn prepare_with(&self, n: i64, id: DocId, built: Result<Built>) -> Result<bool> {
        self.conn.execute_batch("SAVEPOINT prepare")?;
        let result = built.and_then(|b| self.store_prepared(n, id, b));
        if self.conn.is_autocommit() {
            // SQLite rolled the whole transaction back (a full disk, an interruption).
            return Err(result.err().unwrap_or_else(|| {
                CoreError::Storage(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
                    Some("the transaction was rolled back by SQLite".into()),
                ))
            }));
        }
        match result {
            Ok(()) => {
                self.conn.execute_batch("RELEASE prepare")?;
                Ok(true)
            }
            Err(e) if fatal(&e) => {
                self.conn.execute_batch("ROLLBACK TO prepare; RELEASE prepare")?;
                Err(e)
            }
            Err(e) => {
                self.conn.execute_batch("ROLLBACK TO prepare")?;
                tracing::warn!(%id, error = %e, "a document from the relay is unreadable; asking for it whole");
                let removed = self
                    .conn
                    .execute("DELETE FROM documents WHERE n = ?1", params![n])
                    .map_err(CoreError::from)
                    .and_then(|_| self.problem(id, &e.to_string()));
                match removed {
                    Ok(()) => {
                        self.conn.execute_batch("RELEASE prepare")?;
                        Ok(false)
                    }
                    Err(e) => {
                        if !self.conn.is_autocommit() {
                            self.conn.execute_batch("ROLLBACK TO prepare; RELEASE prepare")?;
                        }
                        Err(e)
                    }
                }
            }
        }
    }

    fn store_prepared(&self, n: i64, id: DocId, mut built: Built) -> Result<()> {
        let header = &built.header;
        self.conn.execute(
            "UPDATE documents SET kind = ?2, owner = ?3 WHERE n = ?1",
            params![n, header.kind.as_str(), header.owner.to_bytes().to_vec()],
        )?;
        match &built.typed {
            // Written by a newer app: stored, not shown.
            None => self.newer_app_problem(id)?,
            Some(typed) => {
                typed.refresh(&self.conn, n)?;
                index::refresh_receipt_times(&self.conn, n, &mut built.doc)?;
            }
        }
        self.conn.prepare_cached("DELETE FROM unprepared WHERE doc = ?1")?.execute(params![n])?;
        // Read at last: no longer a document to ask for again.
        self.conn
            .prepare_cached("DELETE FROM sync_problems WHERE doc = ?1 AND kind != 'newer_app'")?
            .execute(params![id.to_bytes().to_vec()])?;
        Ok(())
    }

    /// Prepares the waiting documents that may be of `kind`: a document's header names its
    /// kind in words (`"UnitDirectory"`), and a change chunk holds its strings as they are, so
    /// a document without those bytes is not of that kind. (One with them may be a report
    /// quoting the word; preparing it is merely early.)
    pub(super) fn prepare_maybe_of(&self, kind: DocKind) -> Result<()> {
        let name = kind_name(kind);
        let waiting: Vec<(i64, Vec<u8>)> = {
            // CROSS JOIN keeps SQLite reading from the (usually empty) waiting list: left to
            // itself it may search every stored snapshot's bytes first.
            let mut stmt = self.conn.prepare_cached(
                "SELECT u.doc, d.id FROM unprepared u CROSS JOIN documents d ON d.n = u.doc
                 CROSS JOIN snapshots s ON s.doc = u.doc WHERE instr(s.bytes, ?1) > 0",
            )?;
            let rows = stmt.query_map(params![name.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for (n, id) in waiting {
            let id = DocId::from_slice(&id).map_err(|e| CoreError::DamagedStore {
                detail: format!("a stored document id is unreadable ({e})"),
            })?;
            self.prepare(n, id)?;
        }
        Ok(())
    }

    /// How many documents wait to be prepared: stored, but not yet in the lists and search.
    pub fn documents_to_prepare(&self) -> Result<u64> {
        let n: i64 = self.conn.query_row("SELECT count(*) FROM unprepared", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Prepares up to `max` waiting documents, newest first, in one transaction, and returns
    /// those that are now in the lists (a document found unreadable is removed and asked for
    /// whole instead). The sync loop calls this until nothing waits, taking the store lock
    /// for each batch.
    pub fn prepare_waiting(&mut self, max: usize) -> Result<Vec<DocId>> {
        let waiting: Vec<(i64, Vec<u8>)> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT u.doc, d.id FROM unprepared u JOIN documents d ON d.n = u.doc
                 ORDER BY u.doc DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map(params![max as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        if waiting.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids = Vec::with_capacity(waiting.len());
        let mut stored = Vec::with_capacity(waiting.len());
        for (n, id) in waiting {
            let id = DocId::from_slice(&id).map_err(|e| CoreError::DamagedStore {
                detail: format!("a stored document id is unreadable ({e})"),
            })?;
            ids.push((n, id));
            stored.push((id, self.stored(id)?));
        }
        // Automerge's part, most of the cost, on several threads; the tables on this one.
        let built = build_all(stored, &self.actor);
        self.write(|s| {
            let mut ready = Vec::with_capacity(ids.len());
            for ((n, id), built) in ids.iter().zip(built) {
                if s.prepare_with(*n, *id, built)? {
                    ready.push(*id);
                } else {
                    s.cache.remove(*id);
                }
            }
            Ok(ready)
        })
    }

    /// Prepares every waiting document.
    pub fn prepare_all(&mut self) -> Result<()> {
        while self.documents_to_prepare()? > 0 {
            self.prepare_waiting(PREPARE_BATCH)?;
        }
        Ok(())
    }
}

/// What building a stored document makes of it: the Automerge document, its header and,
/// unless a newer app wrote it, its typed value.
struct Built {
    doc: AutoCommit,
    header: Header,
    typed: Option<Typed>,
}

/// Builds a stored document and reads its header and typed value. No SQLite: any thread may
/// do it.
fn build(id: DocId, stored: Stored, actor: &ActorId) -> Result<Built> {
    let doc = stored.build(id, actor)?;
    let header = read_header(&doc).map_err(|e| CoreError::Schema { id, detail: e.to_string() })?;
    if header.id != id {
        return Err(CoreError::invalid(
            "header.id",
            format!("changes are for document {}, not {id}", header.id),
        ));
    }
    let typed = if header.schema_version > SCHEMA_VERSION { None } else { Some(Typed::hydrate(id, &doc)?) };
    Ok(Built { doc, header, typed })
}

/// [`build`], with a panic inside Automerge (a bug it has on some input) taken as the
/// document being unreadable: it is then asked for whole, and shown as a problem if it
/// keeps failing, instead of stopping every sync.
fn build_one(id: DocId, stored: Stored, actor: &ActorId) -> Result<Built> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| build(id, stored, actor))).unwrap_or_else(|_| {
        Err(CoreError::Corrupt { id, detail: "Automerge failed while building the document".into() })
    })
}

/// [`build_one`] for each document, in order, spread over up to four threads.
fn build_all(batch: Vec<(DocId, Stored)>, actor: &ActorId) -> Vec<Result<Built>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
    if threads < 2 || batch.len() < 4 {
        return batch.into_iter().map(|(id, st)| build_one(id, st, actor)).collect();
    }
    let per = batch.len().div_ceil(threads);
    let mut parts: Vec<Vec<(DocId, Stored)>> = Vec::with_capacity(threads);
    let mut rest = batch.into_iter().peekable();
    while rest.peek().is_some() {
        parts.push(rest.by_ref().take(per).collect());
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                let ids: Vec<DocId> = part.iter().map(|(id, _)| *id).collect();
                let handle = scope.spawn(move || {
                    part.into_iter().map(|(id, st)| build_one(id, st, actor)).collect::<Vec<_>>()
                });
                (ids, handle)
            })
            .collect();
        let mut out = Vec::new();
        for (ids, handle) in handles {
            match handle.join() {
                Ok(built) => out.extend(built),
                Err(_) => out.extend(ids.into_iter().map(|id| {
                    Err(CoreError::Corrupt {
                        id,
                        detail: "Automerge failed while building the document".into(),
                    })
                })),
            }
        }
        out
    })
}

/// How a document's header writes its kind (the variant's name, as autosurgeon reconciles a
/// unit enum).
fn kind_name(kind: DocKind) -> &'static str {
    match kind {
        DocKind::Directive => "Directive",
        DocKind::Response => "Response",
        DocKind::Report => "Report",
        DocKind::Review => "Review",
        DocKind::Meeting => "Meeting",
        DocKind::UnitDirectory => "UnitDirectory",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use giaoban_protocol::DocKind;
    use giaoban_protocol::reference::unit_directory_from_reference;

    use super::kind_name;

    #[test]
    fn a_headers_kind_is_written_in_words_in_its_changes() {
        let dir = unit_directory_from_reference("Đồng Nai").unwrap();
        let mut doc = automerge::AutoCommit::new();
        autosurgeon::reconcile(&mut doc, &dir).unwrap();
        doc.commit();
        let bytes: Vec<u8> = doc.get_changes(&[]).iter().flat_map(|c| c.raw_bytes().to_vec()).collect();
        let holds = |w: &str| bytes.windows(w.len()).any(|x| x == w.as_bytes());
        assert!(holds(kind_name(DocKind::UnitDirectory)));
        assert!(!holds(kind_name(DocKind::Directive)));
        assert!(!holds(kind_name(DocKind::Meeting)));
    }
}
