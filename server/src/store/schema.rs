//! The relay store's SQLite schema, as numbered migrations tracked by `PRAGMA user_version`.
//! Each migration runs in one transaction with the version it sets; a migration may have a
//! step in Rust after its SQL (building derived tables that need hashing).

use giaoban_protocol::DocId;
use giaoban_protocol::seal::chain_digest;
use rusqlite::{Connection, Transaction, params};

/// The migrations, in order.
pub const MIGRATIONS: &[&str] = &[
    // 1: units, enrollment, devices, documents, readers, and the append-only sequence.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) WITHOUT ROWID;

    -- The unit tree the relay authorises by.
    CREATE TABLE units (
        id     BLOB PRIMARY KEY,
        parent BLOB,
        name   TEXT NOT NULL
    ) WITHOUT ROWID;

    -- One-time enrollment codes, kept only as SHA-256 hashes.
    CREATE TABLE enrollments (
        code_hash  BLOB PRIMARY KEY,
        unit       BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at    INTEGER,
        device     BLOB
    ) WITHOUT ROWID;

    -- Enrolled devices; tokens kept only as SHA-256 hashes.
    CREATE TABLE devices (
        id         BLOB PRIMARY KEY,
        unit       BLOB NOT NULL,
        token_hash BLOB NOT NULL UNIQUE,
        label      TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    ) WITHOUT ROWID;

    CREATE TABLE docs (
        n     INTEGER PRIMARY KEY,
        id    BLOB NOT NULL UNIQUE,
        kind  TEXT NOT NULL,
        owner BLOB NOT NULL,
        heads BLOB NOT NULL
    );

    -- Which units may read which documents (owner, the owner's ancestors, the audience).
    CREATE TABLE readers (
        unit BLOB NOT NULL,
        doc  INTEGER NOT NULL REFERENCES docs(n),
        PRIMARY KEY (unit, doc)
    ) WITHOUT ROWID;

    -- The append-only sequence of accepted changes, in commit order.
    CREATE TABLE changes (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        doc         INTEGER NOT NULL REFERENCES docs(n),
        hash        BLOB NOT NULL,
        bytes       BLOB NOT NULL,
        device      BLOB NOT NULL,
        received_at INTEGER NOT NULL,
        UNIQUE (doc, hash)
    );
    "#,
    // 2: each unit's log of the changes it may read, chained by digests; devices' own changes.
    r#"
    -- What a device of `unit` pulls: the changes it may read, in the order they were stored.
    -- A page is a range of this primary key; `digest` chains every entry before it, so a
    -- device's witness (position, digest) proves which history it saw.
    CREATE TABLE unit_log (
        unit   BLOB NOT NULL,
        pos    INTEGER NOT NULL,
        change INTEGER NOT NULL REFERENCES changes(seq),
        digest BLOB NOT NULL,
        PRIMARY KEY (unit, pos)
    ) WITHOUT ROWID;

    -- The newest entry of each unit's log.
    CREATE TABLE unit_tops (
        unit   BLOB PRIMARY KEY,
        pos    INTEGER NOT NULL,
        digest BLOB NOT NULL
    ) WITHOUT ROWID;

    -- The position, in its unit's log, of the newest change each device pushed.
    ALTER TABLE devices ADD COLUMN own_top INTEGER NOT NULL DEFAULT 0;
    "#,
    // 3: units that change: successors, and what a unit's log already holds of documents it
    // no longer reads.
    r#"
    -- `successor` took over (part of) the work of `unit` (a merger, or a split), from `since`
    -- (UTC ms). A successor reads what its predecessors read and writes their records.
    CREATE TABLE unit_successors (
        unit      BLOB NOT NULL,
        successor BLOB NOT NULL,
        since     INTEGER NOT NULL,
        PRIMARY KEY (unit, successor)
    ) WITHOUT ROWID;

    -- A unit that stopped reading a document (it left the owner's subtree): its log holds the
    -- document's changes up to sequence number `upto`. Should it read the document again, only
    -- later changes are appended to its log.
    CREATE TABLE former_readers (
        unit BLOB NOT NULL,
        doc  INTEGER NOT NULL REFERENCES docs(n),
        upto INTEGER NOT NULL,
        PRIMARY KEY (unit, doc)
    ) WITHOUT ROWID;
    "#,
    // 4: receipt times restamped from vouchers given back.
    r#"
    -- 1 for an entry that gives a change already in the log an earlier receipt time, proven by
    -- a voucher of this relay that a device gave back (the relay had received the change again
    -- after a restore from an older backup). Entries devices have seen are never rewritten; this
    -- one tells every reader the change's receipt time, its author device too.
    ALTER TABLE unit_log ADD COLUMN restamp INTEGER NOT NULL DEFAULT 0;
    "#,
    // 5: attached files: which documents refer to which file, and the files held whole.
    r#"
    -- The files each document's current state refers to (its attachments and its tasks'),
    -- with the size the reference gives. Rewritten whenever the document's changes are stored.
    CREATE TABLE IF NOT EXISTS file_refs (
        hash BLOB NOT NULL,
        doc  INTEGER NOT NULL REFERENCES docs(n),
        size INTEGER NOT NULL,
        PRIMARY KEY (hash, doc)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS file_refs_by_doc ON file_refs(doc);

    -- Files held whole in the file folder, checked against their hash; `unit` is the unit of
    -- the device that sent them (for the per-unit limit), `unreferenced_at` when the last
    -- document referring to one stopped doing so (the collector removes it after a grace
    -- period).
    CREATE TABLE IF NOT EXISTS files (
        hash            BLOB PRIMARY KEY,
        size            INTEGER NOT NULL,
        unit            BLOB NOT NULL,
        stored_at       INTEGER NOT NULL,
        unreferenced_at INTEGER
    ) WITHOUT ROWID;

    -- The units whose records may show a file: a device of the unit (or of a unit writing for
    -- it) sent its bytes. A reference alone shows nothing, so a ward cannot fetch another
    -- ward's photo by naming its hash in a report of its own.
    CREATE TABLE IF NOT EXISTS file_holders (
        hash BLOB NOT NULL,
        unit BLOB NOT NULL,
        PRIMARY KEY (hash, unit)
    ) WITHOUT ROWID;
    "#,
    // 6: the desk's staff accounts and their sessions.
    r#"
    -- A staff member of a unit who signs in to the desk. `login` is NFC and lower case;
    -- `password_hash` an argon2id PHC string; `device` the desk's store of this member, a
    -- device of `unit` in `devices` whose token nobody holds.
    CREATE TABLE staff (
        id            BLOB PRIMARY KEY,
        unit          BLOB NOT NULL,
        login         TEXT NOT NULL UNIQUE,
        name          TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        disabled_at   INTEGER,
        failures      INTEGER NOT NULL DEFAULT 0,
        locked_until  INTEGER NOT NULL DEFAULT 0,
        device        BLOB
    ) WITHOUT ROWID;

    -- Signed-in sessions, kept only as SHA-256 hashes of the cookie's token.
    CREATE TABLE staff_sessions (
        token_hash BLOB PRIMARY KEY,
        staff      BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        seen_at    INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX staff_sessions_by_staff ON staff_sessions(staff);

    -- Dispatches a staff member is writing, as the form holds them (JSON pairs of field
    -- names and values), until issued; `issued` is the directive issued from one, so a form
    -- sent twice issues it once.
    CREATE TABLE desk_drafts (
        id       BLOB PRIMARY KEY,
        staff    BLOB NOT NULL,
        saved_at INTEGER NOT NULL,
        title    TEXT NOT NULL,
        fields   TEXT NOT NULL,
        issued   BLOB
    ) WITHOUT ROWID;
    CREATE INDEX desk_drafts_by_staff ON desk_drafts(staff, saved_at);

    -- Each device's last sync (relay clock) and how far into its unit's log the answer took
    -- it: what the desk says was delivered.
    ALTER TABLE devices ADD COLUMN last_sync_at INTEGER;
    ALTER TABLE devices ADD COLUMN synced_upto INTEGER NOT NULL DEFAULT 0;
    -- Where a change sits in each unit's log: when a record reached a unit's log.
    CREATE INDEX unit_log_by_change ON unit_log(change);
    "#,
    // 7: a compacted copy of each document, so the writer loads a document without replaying
    // its whole history.
    r#"
    -- Document row `doc` as Automerge saves it, holding exactly its changes with `seq` up to
    -- `upto`; its later changes are applied on top when it is loaded. Only ever a cache of
    -- `changes`: a missing or unreadable copy is rebuilt from them.
    CREATE TABLE doc_snapshots (
        doc   INTEGER PRIMARY KEY REFERENCES docs(n),
        upto  INTEGER NOT NULL,
        bytes BLOB NOT NULL
    );
    "#,
    // 8: what each device says of itself at sync, and when a record first reached a unit.
    r#"
    -- The app, library and what it had left to send, as the device last said at a sync
    -- (wire::DeviceStatus); NULL until a device that says so syncs.
    ALTER TABLE devices ADD COLUMN app_version TEXT;
    ALTER TABLE devices ADD COLUMN core_version TEXT;
    ALTER TABLE devices ADD COLUMN unsent_docs INTEGER;
    ALTER TABLE devices ADD COLUMN unsent_files INTEGER;
    ALTER TABLE devices ADD COLUMN status_at INTEGER;
    -- When a dispatch, meeting or review first reached some device of a unit (relay clock,
    -- UTC ms): the "delivered" line of the unit's assignment history. Kept from this version
    -- on; a record delivered before has none.
    CREATE TABLE first_deliveries (
        unit BLOB NOT NULL,
        doc  INTEGER NOT NULL REFERENCES docs(n),
        at   INTEGER NOT NULL,
        PRIMARY KEY (unit, doc)
    ) WITHOUT ROWID;
    "#,
    // 9: the database's own name, random, kept by its backups: an object store of files
    // records the one database whose files it holds.
    r#"
    INSERT OR IGNORE INTO meta (key, value) VALUES ('relay_id', randomblob(16));
    "#,
];

/// Brings the relay database to the latest schema.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let version = i as i64 + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        after_sql(&tx, version)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(version, "relay schema migrated");
    }
    Ok(())
}

/// The Rust part of migration `version`, in its transaction.
fn after_sql(tx: &Transaction<'_>, version: i64) -> rusqlite::Result<()> {
    if version == 2 {
        build_unit_logs(tx)?;
    }
    Ok(())
}

/// Fills every unit's log from the stored changes and readers, in sequence order, with the
/// digest chain; and each device's newest own change.
fn build_unit_logs(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let mut tops: std::collections::HashMap<Vec<u8>, (i64, [u8; 16])> = std::collections::HashMap::new();
    let mut own: std::collections::HashMap<Vec<u8>, i64> = std::collections::HashMap::new();
    let device_units: std::collections::HashMap<Vec<u8>, Vec<u8>> = {
        let mut stmt = tx.prepare("SELECT id, unit FROM devices")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut changes = tx.prepare(
        "SELECT c.seq, d.id, c.hash, c.device, r.unit, c.received_at FROM changes c
         JOIN docs d ON d.n = c.doc JOIN readers r ON r.doc = c.doc
         ORDER BY c.seq, r.unit",
    )?;
    let mut insert = tx.prepare("INSERT INTO unit_log(unit, pos, change, digest) VALUES (?1, ?2, ?3, ?4)")?;
    let mut rows = changes.query([])?;
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let doc = DocId::from_slice(&r.get::<_, Vec<u8>>(1)?).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Blob, Box::new(e))
        })?;
        let hash: Vec<u8> = r.get(2)?;
        let hash: [u8; 32] = hash.as_slice().try_into().map_err(|_| {
            rusqlite::Error::FromSqlConversionFailure(
                2,
                rusqlite::types::Type::Blob,
                "a stored change hash is not 32 bytes".into(),
            )
        })?;
        let device: Vec<u8> = r.get(3)?;
        let unit: Vec<u8> = r.get(4)?;
        let received_at: i64 = r.get(5)?;
        let (pos, prev) = tops.get(&unit).copied().unwrap_or((0, [0; 16]));
        let pos = pos + 1;
        let digest = chain_digest(&prev, pos as u64, doc, &hash, received_at);
        insert.execute(params![unit, pos, seq, digest.to_vec()])?;
        if device_units.get(&device) == Some(&unit) {
            own.insert(device, pos);
        }
        tops.insert(unit, (pos, digest));
    }
    let mut top = tx.prepare("INSERT INTO unit_tops(unit, pos, digest) VALUES (?1, ?2, ?3)")?;
    for (unit, (pos, digest)) in tops {
        top.execute(params![unit, pos, digest.to_vec()])?;
    }
    let mut own_top = tx.prepare("UPDATE devices SET own_top = ?2 WHERE id = ?1")?;
    for (device, pos) in own {
        own_top.execute(params![device, pos])?;
    }
    Ok(())
}
