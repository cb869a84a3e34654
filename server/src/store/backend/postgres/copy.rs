//! Moving a relay up from SQLite to PostgreSQL (`giaoban-relay admin migrate --to …`): every
//! table copied row for row, so the sequence, the unit logs with their digests, the epoch,
//! the voucher key, device tokens and units are what devices already know, and they carry on
//! without enrolling again or downloading anything again.
//!
//! The copy reads the SQLite database in one read transaction (a consistent snapshot; stop the
//! relay first, or what it stores meanwhile is not copied) and writes in batches, each its own
//! transaction, skipping rows already there: a copy interrupted at any point is taken up by
//! running it again. A target that holds another relay's data is refused.

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
    /// Its rows in the target so far (or, when `already`, all of them).
    pub rows: u64,
    /// Its rows in the SQLite database.
    pub of: u64,
    /// The table was whole in the target before this run.
    pub already: bool,
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
    let mut tables = Vec::with_capacity(TABLES.len());
    for (table, key) in TABLES {
        let rows = copy_table(&snapshot, to, table, key, batch, &mut progress)?;
        tables.push((*table, rows));
    }
    for (table, column) in [("docs", "n"), ("changes", "seq")] {
        to.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), GREATEST((SELECT MAX({column}) FROM {table}), 1))"
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
    let there = count_pg(to, table)?;
    if there == of && table != "meta" {
        progress(&Progress { table, rows: of, of, already: true }).map_err(stopped)?;
        return Ok(of);
    }
    let cols = columns(to, table)?;
    let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
    let list = names.join(", ");
    // The relay's own settings (epoch, voucher key, its name) are this database's, even if a
    // relay started on the empty target made its own.
    let on_conflict = if table == "meta" {
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value".to_string()
    } else {
        "ON CONFLICT DO NOTHING".to_string()
    };
    let mut read = from.prepare(&format!("SELECT {list} FROM {table} ORDER BY {key}"))?;
    let mut rows = read.query([])?;
    let mut pending: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(batch * cols.len());
    let mut in_batch = 0usize;
    loop {
        let row = rows.next()?;
        if let Some(r) = row {
            for (i, c) in cols.iter().enumerate() {
                pending.push(convert(table, c, r.get::<_, Value>(i)?)?);
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
            in_batch = 0;
            let rows_now = count_pg(to, table)?;
            progress(&Progress { table, rows: rows_now, of, already: false }).map_err(stopped)?;
        }
        if row.is_none() {
            break;
        }
    }
    let copied = count_pg(to, table)?;
    if copied != of {
        return Err(StoreError::Internal(format!(
            "table {table} has {copied} rows in PostgreSQL after the copy, and {of} in SQLite; run the copy again into an empty database"
        )));
    }
    Ok(copied)
}

fn stopped(why: String) -> StoreError {
    StoreError::Invalid(format!("the copy was stopped ({why}); run it again to take it up where it stopped"))
}

/// A SQLite value as the target column takes it. A number in a column of bytes (the epoch in
/// `meta`) goes as its 8 bytes, big-endian.
fn convert(table: &str, c: &Column, v: Value) -> Result<Box<dyn ToSql + Sync>> {
    Ok(match (c.kind, v) {
        (ColumnKind::BigInt, Value::Null) => Box::new(None::<i64>),
        (ColumnKind::Bytes, Value::Null) => Box::new(None::<Vec<u8>>),
        (ColumnKind::Text, Value::Null) => Box::new(None::<String>),
        (ColumnKind::Bool, Value::Null) => Box::new(None::<bool>),
        (ColumnKind::BigInt, Value::Integer(i)) => Box::new(i),
        (ColumnKind::Bool, Value::Integer(i)) => Box::new(i != 0),
        (ColumnKind::Bytes, Value::Blob(b)) => Box::new(b),
        (ColumnKind::Bytes, Value::Integer(i)) => Box::new(i.to_be_bytes().to_vec()),
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
