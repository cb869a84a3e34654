//! Moving a relay up from SQLite to PostgreSQL (`giaoban-relay admin migrate --to …`): every
//! table copied row for row, so the sequence, the unit logs with their digests, the epoch,
//! the voucher key, device tokens and units are what devices already know, and they carry on
//! without enrolling again or downloading anything again.
//!
//! The copy reads the SQLite database in one read transaction (a consistent snapshot; stop the
//! relay first, or what it stores meanwhile is not copied) and writes in batches, each its own
//! transaction. Every run makes the target hold exactly the snapshot: a row already there is
//! written over with the snapshot's values (tops, heads, receipt times and own tops change as a
//! relay runs), and a row the snapshot no longer has is removed. So a copy interrupted at any
//! point, even one after which the relay ran again, is finished by running it again. A target
//! that holds another relay's data is refused.

use postgres::types::ToSql;
use rusqlite::types::Value;

use super::schema;
use crate::store::{Result, StoreError};

/// The tables, in the order their references need, each with the key it is read in.
pub const TABLES: &[(&str, &str)] = &[
    ("meta", "key"),
    ("units", "id"),
    ("enrollments", "code_hash"),
    ("devices", "id"),
    ("docs", "n"),
    ("readers", "unit, doc"),
    ("changes", "seq"),
    ("unit_log", "unit, pos"),
    ("unit_tops", "unit"),
    ("unit_successors", "unit, successor"),
    ("former_readers", "unit, doc"),
    ("file_refs", "hash, doc"),
    ("files", "hash"),
    ("file_holders", "hash, unit"),
    ("staff", "id"),
    ("staff_sessions", "token_hash"),
    ("desk_drafts", "id"),
    ("doc_snapshots", "doc"),
    ("first_deliveries", "unit, doc"),
];

/// How far a copy has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The table being copied.
    pub table: &'static str,
    /// Its rows written so far.
    pub rows: u64,
    /// Its rows in the SQLite database.
    pub of: u64,
}

/// What a finished copy holds: each table's rows, the same in both databases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// Rows per table.
    pub tables: Vec<(&'static str, u64)>,
}

/// Copies the SQLite relay database `from` into the Postgres database `to` (migrating its
/// schema first), `batch` rows per transaction. `progress` hears of each batch; an `Err` from it
/// stops the copy there (what was written stays, and the next run takes it up).
pub fn copy_to_postgres(
    from: &rusqlite::Connection,
    to: &mut postgres::Client,
    batch: usize,
    mut progress: impl FnMut(&Progress) -> std::result::Result<(), String>,
) -> Result<Copied> {
    let batch = batch.max(1);
    let sqlite_version: i64 = from.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if sqlite_version != crate::store::schema::MIGRATIONS.len() as i64 {
        return Err(StoreError::Invalid(format!(
            "the SQLite database is at schema version {sqlite_version}, not {}: start this relay on it once (it migrates it), stop it, then copy",
            crate::store::schema::MIGRATIONS.len()
        )));
    }
    schema::migrate(to)?;
    let snapshot = from.unchecked_transaction()?;
    let ours: Vec<u8> =
        snapshot.query_row("SELECT value FROM meta WHERE key = 'relay_id'", [], |r| r.get(0))?;
    if let Some(theirs) = to.query_opt("SELECT value FROM meta WHERE key = 'relay_id'", &[])? {
        let theirs: Vec<u8> = theirs.get(0);
        if theirs != ours {
            return Err(StoreError::Invalid(format!(
                "the PostgreSQL database already holds another relay (relay id {}, this one is {}); copy into an empty database",
                hex::encode(theirs),
                hex::encode(&ours)
            )));
        }
    }
    // Once relays serve from the target, it holds what they stored since: copying the older
    // SQLite database over it would take that back.
    if let Some(since) = to.query_opt("SELECT value FROM meta WHERE key = 'served_since'", &[])? {
        let since: Vec<u8> = since.get(0);
        return Err(StoreError::Invalid(format!(
            "relays have served devices from this PostgreSQL database since {}: it holds what they stored since, and copying this SQLite database over it would take that back; it needs no copy",
            String::from_utf8_lossy(&since)
        )));
    }
    let mut tables = Vec::with_capacity(TABLES.len());
    for (table, key) in TABLES {
        let rows = copy_table(&snapshot, to, table, key, batch, &mut progress)?;
        tables.push((*table, rows));
    }
    for (table, column) in [("docs", "n"), ("changes", "seq")] {
        // The next number is the one after the highest copied (1 for an empty table).
        to.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), COALESCE((SELECT MAX({column}) FROM {table}), 1), (SELECT MAX({column}) FROM {table}) IS NOT NULL)"
            ),
            &[],
        )?;
    }
    Ok(Copied { tables })
}

/// A column of the target table.
struct Column {
    name: String,
    kind: ColumnKind,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ColumnKind {
    BigInt,
    Bytes,
    Text,
    Bool,
}

fn columns(to: &mut postgres::Client, table: &str) -> Result<Vec<Column>> {
    let rows = to.query(
        "SELECT column_name, data_type FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        &[&table],
    )?;
    rows.iter()
        .map(|r| {
            let name: String = r.get(0);
            let data_type: String = r.get(1);
            let kind = match data_type.as_str() {
                "bigint" => ColumnKind::BigInt,
                "bytea" => ColumnKind::Bytes,
                "text" => ColumnKind::Text,
                "boolean" => ColumnKind::Bool,
                other => {
                    return Err(StoreError::Internal(format!(
                        "column {table}.{name} has type {other}, which the copy does not know"
                    )));
                }
            };
            Ok(Column { name, kind })
        })
        .collect()
}

fn count_pg(to: &mut postgres::Client, table: &str) -> Result<u64> {
    let n: i64 = to.query_one(&format!("SELECT count(*) FROM {table}"), &[])?.get(0);
    Ok(n.max(0) as u64)
}

fn copy_table(
    from: &rusqlite::Connection,
    to: &mut postgres::Client,
    table: &'static str,
    key: &str,
    batch: usize,
    progress: &mut impl FnMut(&Progress) -> std::result::Result<(), String>,
) -> Result<u64> {
    let of: i64 = from.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
    let of = of.max(0) as u64;
    let cols = columns(to, table)?;
    // A statement takes at most 65,535 parameters.
    let batch = batch.min(65_535 / cols.len().max(1)).max(1);
    let key_names: Vec<&str> = key.split(", ").collect();
    let key_at: Vec<usize> = key_names
        .iter()
        .map(|k| {
            cols.iter()
                .position(|c| c.name == *k)
                .ok_or_else(|| StoreError::Internal(format!("table {table} has no key column {k}")))
        })
        .collect::<Result<_>>()?;
    let list = cols.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ");
    let updates: Vec<String> = cols
        .iter()
        .filter(|c| !key_names.contains(&c.name.as_str()))
        .map(|c| format!("{0} = excluded.{0}", c.name))
        .collect();
    // A row already there takes the snapshot's values: tops, heads, receipt times and own tops
    // move while a relay runs.
    let on_conflict = if updates.is_empty() {
        format!("ON CONFLICT ({key}) DO NOTHING")
    } else {
        format!("ON CONFLICT ({key}) DO UPDATE SET {}", updates.join(", "))
    };
    let mut keys: Vec<KeyColumn> = key_at.iter().map(|i| KeyColumn::of(cols[*i].kind)).collect();
    let mut read = from.prepare(&format!("SELECT {list} FROM {table} ORDER BY {key}"))?;
    let mut rows = read.query([])?;
    let mut pending: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(batch * cols.len());
    let mut in_batch = 0usize;
    let mut written = 0u64;
    loop {
        let row = rows.next()?;
        if let Some(r) = row {
            for (i, c) in cols.iter().enumerate() {
                let v = r.get::<_, Value>(i)?;
                if let Some(k) = key_at.iter().position(|at| *at == i) {
                    keys[k].push(table, c, &v)?;
                }
                pending.push(convert(table, c, v)?);
            }
            in_batch += 1;
        }
        if in_batch > 0 && (in_batch == batch || row.is_none()) {
            let values: Vec<String> = (0..in_batch)
                .map(|r| {
                    let cells: Vec<String> =
                        (0..cols.len()).map(|c| format!("${}", r * cols.len() + c + 1)).collect();
                    format!("({})", cells.join(", "))
                })
                .collect();
            let sql = format!("INSERT INTO {table} ({list}) VALUES {} {on_conflict}", values.join(", "));
            let params: Vec<&(dyn ToSql + Sync)> = pending.iter().map(|b| b.as_ref()).collect();
            to.execute(&sql, &params)?;
            pending.clear();
            written += in_batch as u64;
            in_batch = 0;
            progress(&Progress { table, rows: written, of }).map_err(stopped)?;
        }
        if row.is_none() {
            break;
        }
    }
    if written == 0 {
        progress(&Progress { table, rows: 0, of }).map_err(stopped)?;
    }
    // Every row of the snapshot is there; more rows means some the relay has since removed
    // (sessions that ended, readers a move took away).
    if count_pg(to, table)? > of {
        let aliases: Vec<String> = key_names.iter().map(|k| format!("t.{k} = k.{k}")).collect();
        let arrays: Vec<String> =
            keys.iter().enumerate().map(|(i, k)| format!("${}::{}[]", i + 1, k.sql_type())).collect();
        let sql = format!(
            "DELETE FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM unnest({}) AS k({key}) WHERE {})",
            arrays.join(", "),
            aliases.join(" AND ")
        );
        let params: Vec<&(dyn ToSql + Sync)> = keys.iter().map(|k| k.as_sql()).collect();
        let removed = to.execute(&sql, &params)?;
        tracing::info!(table, removed, "rows the SQLite database no longer holds removed from the copy");
    }
    let copied = count_pg(to, table)?;
    if copied != of {
        return Err(StoreError::Internal(format!(
            "table {table} has {copied} rows in PostgreSQL after the copy, and {of} in SQLite; run the copy again into an empty database"
        )));
    }
    Ok(copied)
}

/// The values of one key column of a table, as read.
enum KeyColumn {
    Int(Vec<i64>),
    Bytes(Vec<Vec<u8>>),
    Text(Vec<String>),
}

impl KeyColumn {
    fn of(kind: ColumnKind) -> KeyColumn {
        match kind {
            ColumnKind::BigInt | ColumnKind::Bool => KeyColumn::Int(Vec::new()),
            ColumnKind::Bytes => KeyColumn::Bytes(Vec::new()),
            ColumnKind::Text => KeyColumn::Text(Vec::new()),
        }
    }

    fn push(&mut self, table: &str, c: &Column, v: &Value) -> Result<()> {
        match (self, v) {
            (KeyColumn::Int(k), Value::Integer(i)) => k.push(*i),
            (KeyColumn::Bytes(k), Value::Blob(b)) => k.push(b.clone()),
            (KeyColumn::Text(k), Value::Text(t)) => k.push(t.clone()),
            (_, v) => {
                return Err(StoreError::Invalid(format!(
                    "{table}.{}: a key holds {:?}; the SQLite database may be damaged",
                    c.name,
                    v.data_type()
                )));
            }
        }
        Ok(())
    }

    fn sql_type(&self) -> &'static str {
        match self {
            KeyColumn::Int(_) => "bigint",
            KeyColumn::Bytes(_) => "bytea",
            KeyColumn::Text(_) => "text",
        }
    }

    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            KeyColumn::Int(k) => k,
            KeyColumn::Bytes(k) => k,
            KeyColumn::Text(k) => k,
        }
    }
}

fn stopped(why: String) -> StoreError {
    StoreError::Invalid(format!("the copy was stopped ({why}); run it again to take it up where it stopped"))
}

/// A SQLite value as the target column takes it. A number among the relay's settings (the
/// epoch in `meta`) goes as its 8 bytes, big-endian; a number in any other column of bytes is
/// damage.
fn convert(table: &str, c: &Column, v: Value) -> Result<Box<dyn ToSql + Sync>> {
    Ok(match (c.kind, v) {
        (ColumnKind::BigInt, Value::Null) => Box::new(None::<i64>),
        (ColumnKind::Bytes, Value::Null) => Box::new(None::<Vec<u8>>),
        (ColumnKind::Text, Value::Null) => Box::new(None::<String>),
        (ColumnKind::Bool, Value::Null) => Box::new(None::<bool>),
        (ColumnKind::BigInt, Value::Integer(i)) => Box::new(i),
        (ColumnKind::Bool, Value::Integer(i)) => Box::new(i != 0),
        (ColumnKind::Bytes, Value::Blob(b)) => Box::new(b),
        (ColumnKind::Bytes, Value::Integer(i)) if table == "meta" => Box::new(i.to_be_bytes().to_vec()),
        (ColumnKind::Bytes, Value::Text(t)) => Box::new(t.into_bytes()),
        (ColumnKind::Text, Value::Text(t)) => Box::new(t),
        (kind, v) => {
            return Err(StoreError::Invalid(format!(
                "{table}.{}: the SQLite database holds {:?} where PostgreSQL takes {kind:?}; the database may be damaged",
                c.name,
                v.data_type()
            )));
        }
    })
}
