//! The store's SQLite schema, as numbered migrations tracked by `PRAGMA user_version`.
//!
//! Each migration runs in its own transaction. Tables under "derived" hold projections of the
//! documents (task lists, search) and can always be rebuilt from `documents` and `chunks`; a
//! migration that adds one sets `needs_reindex` and the store rebuilds on open.

use rusqlite::{Connection, Transaction};

use crate::error::{CoreError, Result};

/// The migrations, in order. Index + 1 is the `user_version` after it ran.
pub const MIGRATIONS: &[&str] = &[
    // 1: documents as Automerge snapshots plus incremental chunks; device identity.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) WITHOUT ROWID;

    -- One small row per document; its content is in `snapshots` and `chunks`, so scans and
    -- joins over documents never read document bytes.
    CREATE TABLE documents (
        n           INTEGER PRIMARY KEY,      -- local row number, also the search rowid
        id          BLOB NOT NULL UNIQUE,     -- DocId, 16 bytes
        kind        TEXT NOT NULL,
        owner       BLOB NOT NULL,            -- UnitId
        title       TEXT NOT NULL,
        chunk_count INTEGER NOT NULL DEFAULT 0,
        heads       BLOB NOT NULL,            -- current heads, sorted 32-byte hashes
        acked_heads BLOB,                     -- heads the relay has acknowledged; NULL = none
        updated_at  INTEGER NOT NULL          -- local clock, ms
    );
    CREATE INDEX documents_by_kind ON documents(kind, updated_at);

    -- Automerge save() of each document's compacted part.
    CREATE TABLE snapshots (
        doc   INTEGER PRIMARY KEY REFERENCES documents(n) ON DELETE CASCADE,
        bytes BLOB NOT NULL
    );

    -- Incremental Automerge chunks appended after the snapshot, one per local edit or remote batch.
    CREATE TABLE chunks (
        doc   INTEGER NOT NULL REFERENCES documents(n) ON DELETE CASCADE,
        seq   INTEGER NOT NULL,
        bytes BLOB NOT NULL,
        PRIMARY KEY (doc, seq)
    ) WITHOUT ROWID;
    "#,
    // 2 (derived): tasks, their states and reviews, for lists that never load documents.
    r#"
    -- What a task list shows: one row per (source document, task number, assignee unit), with
    -- the assignee's state and the issuer's verdict copied in from `task_states` and
    -- `report_reviews`, so a list is one ordered scan of one table.
    CREATE TABLE tasks (
        source          INTEGER NOT NULL REFERENCES documents(n) ON DELETE CASCADE,
        ordinal         INTEGER NOT NULL,
        assignee        BLOB NOT NULL,
        source_id       BLOB NOT NULL,        -- DocId of the directive or meeting
        source_kind     TEXT NOT NULL,
        source_title    TEXT NOT NULL,
        issuer          BLOB NOT NULL,
        text            TEXT NOT NULL,
        report_required INTEGER NOT NULL,
        deadline_text   TEXT,
        due_day         INTEGER,              -- days since 0001-01-01 (CE), Vietnam's calendar
        exclusive       INTEGER,
        sort_key        INTEGER NOT NULL,     -- first late instant, UTC ms; i64::MAX without a deadline
        state           TEXT,                 -- NULL until the unit's response is here
        report          BLOB,
        received_at     INTEGER,
        verdict         TEXT,
        review_note     TEXT,
        PRIMARY KEY (source, ordinal, assignee)
    ) WITHOUT ROWID;
    -- Each list scope reads its rows already in display order.
    CREATE INDEX tasks_in_order ON tasks(sort_key, source, ordinal, assignee);
    CREATE INDEX tasks_by_assignee ON tasks(assignee, sort_key, source, ordinal);
    CREATE INDEX tasks_by_issuer ON tasks(issuer, sort_key, source, ordinal, assignee);
    CREATE INDEX tasks_by_report ON tasks(report) WHERE report IS NOT NULL;

    -- The assignee's state of a task, from its Response document.
    CREATE TABLE task_states (
        source      BLOB NOT NULL,            -- DocId of the directive or meeting
        ordinal     INTEGER NOT NULL,
        assignee    BLOB NOT NULL,
        state       TEXT NOT NULL,
        report      BLOB,                     -- DocId of the answering report
        response    INTEGER NOT NULL REFERENCES documents(n) ON DELETE CASCADE,
        received_at INTEGER,                  -- relay receipt time, UTC ms
        PRIMARY KEY (source, ordinal, assignee)
    ) WITHOUT ROWID;

    -- The standing verdict on each report, from Review documents.
    CREATE TABLE report_reviews (
        report  BLOB PRIMARY KEY,             -- DocId of the report
        verdict TEXT NOT NULL,
        note    TEXT NOT NULL,
        review  INTEGER NOT NULL REFERENCES documents(n) ON DELETE CASCADE
    ) WITHOUT ROWID;

    INSERT INTO meta(key, value) VALUES ('needs_reindex', 1)
        ON CONFLICT(key) DO UPDATE SET value = 1;
    "#,
    // 3 (derived): diacritic-insensitive search over folded text.
    r#"
    CREATE VIRTUAL TABLE search USING fts5(
        title, body,
        tokenize = 'unicode61 remove_diacritics 2'
    );
    INSERT INTO meta(key, value) VALUES ('needs_reindex', 1)
        ON CONFLICT(key) DO UPDATE SET value = 1;
    "#,
    // 4: sync with a relay: refused documents and their reasons.
    r#"
    -- A document the relay refused at these heads; it stays here, unsent, until edited again.
    CREATE TABLE rejections (
        doc    INTEGER PRIMARY KEY REFERENCES documents(n) ON DELETE CASCADE,
        heads  BLOB NOT NULL,
        code   TEXT NOT NULL,
        reason TEXT NOT NULL,
        at     INTEGER NOT NULL
    );
    "#,
    // 5: sync protocol 2: receipts and vouchers, documents that could not be applied, the
    // dirty set as an index, typed rejection codes.
    r#"
    -- What the relay said about each change it sent or acknowledged: when it received it (a
    -- response's deadlines are judged by these) and, for the unit's own documents, its seal,
    -- so this device can carry the change back to a relay restored from an older backup.
    CREATE TABLE receipts (
        doc         INTEGER NOT NULL REFERENCES documents(n) ON DELETE CASCADE,
        hash        BLOB NOT NULL,
        received_at INTEGER NOT NULL,
        seal        BLOB,
        PRIMARY KEY (doc, hash)
    ) WITHOUT ROWID;

    -- Documents from the relay that could not be applied here. 'retry': asked for whole on the
    -- next sync; 'gave_up': failed too often, shown to the user; 'newer_app': stored, but
    -- written by a newer app, shown until the app is updated.
    CREATE TABLE sync_problems (
        doc      BLOB PRIMARY KEY,
        kind     TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        reason   TEXT NOT NULL,
        at       INTEGER NOT NULL
    ) WITHOUT ROWID;

    -- The documents with changes the relay has not acknowledged, without scanning the rest.
    CREATE INDEX documents_dirty ON documents(n) WHERE acked_heads IS NULL OR acked_heads != heads;
    -- A reconcile lists the unit's own documents in id order.
    CREATE INDEX documents_by_owner ON documents(owner, id);

    UPDATE rejections SET code = CASE code
        WHEN 'NotOwner' THEN 'not_owner'
        WHEN 'HeaderChanged' THEN 'header_changed'
        WHEN 'Invalid' THEN 'invalid'
        WHEN 'ForeignActor' THEN 'foreign_actor'
        WHEN 'Corrupt' THEN 'corrupt'
        WHEN 'MissingDependencies' THEN 'missing_dependencies'
        ELSE code END;

    -- Refusals of documents another unit owns came from pushing back what this device never
    -- wrote; such documents are no longer pushed, and the refusal would only mislead.
    DELETE FROM rejections WHERE doc IN (
        SELECT n FROM documents WHERE owner IS NOT (SELECT value FROM meta WHERE key = 'unit'));

    -- A position in the first protocol's sequence means nothing in the second: start again.
    DELETE FROM meta WHERE key IN ('sync_epoch', 'sync_cursor', 'sync_reconcile');
    "#,
    // 6 (derived): the search key now drops apostrophes ("Cư M’gar" is "cu mgar", no longer
    // "cu m'gar", which the index split into "m" and "gar"); search rows written with the old
    // key are rebuilt.
    r#"
    INSERT INTO meta(key, value) VALUES ('needs_reindex', 1)
        ON CONFLICT(key) DO UPDATE SET value = 1;
    "#,
    // 7: receipt times this device holds the relay's seal for and the relay has forgotten.
    r#"
    -- 1 when the relay has since given a later receipt time for the change (it received the
    -- change again after a restore from an older backup): this device keeps the sealed earlier
    -- time and gives the voucher back with its next push, until the relay agrees.
    ALTER TABLE receipts ADD COLUMN give_back INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX IF NOT EXISTS receipts_to_give_back ON receipts(doc) WHERE give_back = 1;
    "#,
    // 8: documents whose search row waits to be rebuilt: a keystroke in a long report changes
    // its words, and rebuilding the row of every section's text each time would cost more than
    // the keystroke itself. A search rebuilds these rows first.
    r#"
    CREATE TABLE IF NOT EXISTS search_stale (
        doc INTEGER PRIMARY KEY REFERENCES documents(n) ON DELETE CASCADE
    );
    "#,
    // 9: the derived rows of one response or review are found by their document, not by a scan
    // of every task state or verdict: applying a download of many responses was quadratic.
    r#"
    CREATE INDEX IF NOT EXISTS task_states_by_response ON task_states(response, ordinal);
    CREATE INDEX IF NOT EXISTS report_reviews_by_review ON report_reviews(review);
    "#,
    // 10: attached files. Their bytes are files in the folder beside the store, named by
    // their SHA-256; this says what is held and what travelled.
    r#"
    -- Every file a document here refers to, or this device attached.
    CREATE TABLE IF NOT EXISTS files (
        hash     BLOB PRIMARY KEY,
        size     INTEGER NOT NULL,
        here     INTEGER NOT NULL DEFAULT 0,  -- 1: whole in the folder, checked against the hash
        got      INTEGER NOT NULL DEFAULT 0,  -- bytes of a fetch so far (the .part file)
        sent     INTEGER NOT NULL DEFAULT 0,  -- bytes the relay said it holds (size: all)
        wanted   INTEGER NOT NULL DEFAULT 0,  -- opened while not here: fetch it first
        problem  TEXT,                        -- why the relay refused it, in words to show
        added_at INTEGER NOT NULL,
        checked_at INTEGER NOT NULL DEFAULT 0 -- when the relay last said it holds it (local ms)
    ) WITHOUT ROWID;

    -- (derived) Which documents refer to which files.
    CREATE TABLE IF NOT EXISTS file_refs (
        doc  INTEGER NOT NULL REFERENCES documents(n) ON DELETE CASCADE,
        hash BLOB NOT NULL,
        PRIMARY KEY (doc, hash)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS file_refs_by_hash ON file_refs(hash);
    "#,
    // 11: documents whose compaction a keystroke left for the sync loop: saving a long report
    // whole costs several milliseconds, more than a keystroke may wait.
    r#"
    CREATE TABLE IF NOT EXISTS compact_waiting (
        doc INTEGER PRIMARY KEY REFERENCES documents(n) ON DELETE CASCADE
    );
    "#,
    // 12: documents a download stored as their changes came, not yet read into the derived
    // tables (their rows have no kind and no owner until then): building a document costs
    // Automerge milliseconds, and a download of thousands should not wait for it.
    r#"
    CREATE TABLE IF NOT EXISTS unprepared (
        doc INTEGER PRIMARY KEY REFERENCES documents(n) ON DELETE CASCADE
    );
    "#,
    // 13 (derived): a dispatch's reminders (đôn đốc) on its tasks' rows: the latest reminder
    // of each assignee, when and with what words. Rows are rebuilt from the documents.
    r#"
    ALTER TABLE tasks ADD COLUMN reminded_at INTEGER;
    ALTER TABLE tasks ADD COLUMN reminder_note TEXT;
    INSERT INTO meta(key, value) VALUES ('needs_reindex', 1)
        ON CONFLICT(key) DO UPDATE SET value = 1;
    "#,
    // 14 (derived): how many times each task was submitted, and which submission a verdict
    // judged, so a report resubmitted after it was returned reads as awaiting review again.
    r#"
    ALTER TABLE task_states ADD COLUMN submissions INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN submissions INTEGER;               -- NULL until a response is here
    ALTER TABLE report_reviews ADD COLUMN submission INTEGER NOT NULL DEFAULT 0;
    INSERT INTO meta(key, value) VALUES ('needs_reindex', 1)
        ON CONFLICT(key) DO UPDATE SET value = 1;
    "#,
    // 15 (derived): each report's figures, whether it was submitted and what its figures say
    // (`Report::figures_digest`), so a consolidation reads them without rebuilding every
    // report's document; and what each standing acceptance saw of the figures.
    r#"
    CREATE TABLE IF NOT EXISTS report_figures (
        doc       INTEGER NOT NULL REFERENCES documents(n) ON DELETE CASCADE,
        pos       INTEGER NOT NULL,            -- its place in the report (the first of an indicator counts)
        indicator TEXT NOT NULL,
        value     INTEGER NOT NULL,
        unit      TEXT NOT NULL,
        qualifier TEXT NOT NULL,
        scope     TEXT NOT NULL,
        note      TEXT NOT NULL,
        written   TEXT NOT NULL,
        since     TEXT,                        -- yyyy-mm-dd
        PRIMARY KEY (doc, pos)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS report_facts (
        doc       INTEGER PRIMARY KEY REFERENCES documents(n) ON DELETE CASCADE,
        submitted INTEGER NOT NULL,
        digest    TEXT NOT NULL
    );
    ALTER TABLE report_reviews ADD COLUMN figures_seen TEXT NOT NULL DEFAULT '';
    INSERT INTO meta(key, value) VALUES ('needs_reindex', 1)
        ON CONFLICT(key) DO UPDATE SET value = 1;
    "#,
];

/// The `user_version` a fully migrated store has.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings `conn` to `target` (at most the latest). Returns the version it started from.
pub fn migrate_to(conn: &mut Connection, target: i64) -> Result<i64> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > latest_version() {
        return Err(CoreError::NewerStore { found, known: latest_version() });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = i as i64 + 1;
        if version > target {
            break;
        }
        let tx = conn.transaction()?;
        apply(&tx, sql, version)?;
        tx.commit()?;
        tracing::info!(version, "store schema migrated");
    }
    Ok(found)
}

fn apply(tx: &Transaction<'_>, sql: &str, version: i64) -> Result<()> {
    // A store set back to an older version (a restored copy, a test) runs the later migrations
    // again: 7, 13, 14 and 15 add their columns only once.
    let has_give_back = || -> Result<bool> {
        Ok(tx.prepare("SELECT 1 FROM pragma_table_info('receipts') WHERE name = 'give_back'")?.exists([])?)
    };
    let has_reminders = || -> Result<bool> {
        Ok(tx.prepare("SELECT 1 FROM pragma_table_info('tasks') WHERE name = 'reminded_at'")?.exists([])?)
    };
    let has_submissions = || -> Result<bool> {
        Ok(tx.prepare("SELECT 1 FROM pragma_table_info('tasks') WHERE name = 'submissions'")?.exists([])?)
    };
    let has_figures_seen = || -> Result<bool> {
        Ok(tx
            .prepare("SELECT 1 FROM pragma_table_info('report_reviews') WHERE name = 'figures_seen'")?
            .exists([])?)
    };
    if version == 15 && has_figures_seen()? {
        tx.pragma_update(None, "user_version", version)?;
        return Ok(());
    }
    if version == 14 && has_submissions()? {
        tx.pragma_update(None, "user_version", version)?;
        return Ok(());
    }
    if version == 13 && has_reminders()? {
        tx.pragma_update(None, "user_version", version)?;
        return Ok(());
    }
    if version == 7 && has_give_back()? {
        tx.pragma_update(None, "user_version", version)?;
        return Ok(());
    }
    tx.execute_batch(sql)?;
    tx.pragma_update(None, "user_version", version)?;
    Ok(())
}
