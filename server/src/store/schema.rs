//! The relay store's SQLite schema, as numbered migrations tracked by `PRAGMA user_version`.

use rusqlite::Connection;

/// The migrations, in order.
pub const MIGRATIONS: &[&str] = &[r#"
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

    -- The append-only sequence of accepted changes; `seq` is what device cursors count.
    CREATE TABLE changes (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        doc         INTEGER NOT NULL REFERENCES docs(n),
        hash        BLOB NOT NULL,
        bytes       BLOB NOT NULL,
        device      BLOB NOT NULL,
        received_at INTEGER NOT NULL,
        UNIQUE (doc, hash)
    );
"#];

/// Brings the relay database to the latest schema.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
