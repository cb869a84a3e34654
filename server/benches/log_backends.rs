//! The relay's log storage alone, SQLite beside PostgreSQL: durable changes per second when
//! pushes of one small edit each are stored through the storage seam (`store_checked`: the
//! document row locked, readers, the change, an entry in the ward's and the province's log,
//! tops, the device's own top; then commit). No HTTP, no check of the change: this is the part a
//! second backend changes, measured on its own.
//!
//! 16 wards under one province, 4 devices each, 128 reports whose histories already hold 500
//! changes. SQLite: one writer (as the relay has), with a transaction per push or 16 pushes a
//! transaction stored as one batch (`store_batch`, the relay's group commit). PostgreSQL: 1 to 8
//! writers, each with its own connection and its own reports, likewise; every change also goes
//! to the province's log, so all writers take that one top row's lock, held until their commit.
//!
//! `cargo bench -p giaoban-relay --bench log_backends` (full: five runs of 5 s). Without
//! `--bench` it does a smoke run (20 changes of history, 0.3 s). PostgreSQL comes from
//! `GIAOBAN_TEST_POSTGRES` (`scripts/postgres.sh start`); without it that half is skipped.
//! The test server runs with fsync off: its figures leave out the disk's flush, SQLite's keep
//! WAL's (synchronous=NORMAL, no flush per commit either).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{AutoCommit, Change, ChangeHash, ROOT};
use giaoban_protocol::schema::DocKind;
use giaoban_protocol::{DeviceId, DocId, UnitId};
use giaoban_relay::store::backend::postgres::Postgres;
use giaoban_relay::store::backend::sqlite::Sqlite;
use giaoban_relay::store::backend::{Checked, LogTx, Seen, Stored, store_batch, store_checked};

const WARDS: u8 = 16;
const DEVICES_PER_WARD: u8 = 4;
const DOCS: usize = 128;

struct Report {
    id: DocId,
    ward: UnitId,
    device: DeviceId,
    doc: AutoCommit,
    heads: Vec<ChangeHash>,
}

fn province() -> UnitId {
    UnitId::from_parts(1_700_000_000_000, [0xee; 10])
}

fn ward(i: u8) -> UnitId {
    UnitId::from_parts(1_700_000_000_000 + u64::from(i), [i; 10])
}

fn device(w: u8, d: u8) -> DeviceId {
    DeviceId::from_parts(1_700_000_000_000 + u64::from(w) * 16 + u64::from(d), [w, d, 0, 0, 0, 0, 0, 0, 0, 1])
}

fn reports() -> Vec<Report> {
    (0..DOCS)
        .map(|i| {
            let w = (i % WARDS as usize) as u8;
            let d = ((i / WARDS as usize) % DEVICES_PER_WARD as usize) as u8;
            let mut r = [0u8; 10];
            r[..8].copy_from_slice(&(i as u64).to_be_bytes());
            let device = device(w, d);
            Report {
                id: DocId::from_parts(1_700_000_000_000, r),
                ward: ward(w),
                device,
                doc: AutoCommit::new().with_actor(device.actor_id()),
                heads: Vec::new(),
            }
        })
        .collect()
}

/// One push: a report's new changes, its heads with them, its readers, the heads it was checked
/// against.
struct Push {
    at: usize,
    changes: Vec<Change>,
    heads: Vec<ChangeHash>,
    readers: Vec<UnitId>,
    seen: Vec<ChangeHash>,
}

/// Makes `n` edits to report `at`.
fn edit(docs: &mut [Report], at: usize, n: usize, now: i64) -> Push {
    let r = &mut docs[at];
    let before = r.doc.get_heads();
    for k in 0..n {
        r.doc.put(ROOT, "số_hộ_được_hỗ_trợ", now * 1000 + k as i64).unwrap();
        r.doc.put(ROOT, "ghi_chú", format!("Cập nhật lần {now}.{k}: xã Phước An đã rà soát")).unwrap();
        r.doc.commit();
    }
    let changes = r.doc.get_changes(&before);
    let heads = r.doc.get_heads();
    let mut readers = vec![r.ward, province()];
    readers.sort();
    let seen = std::mem::replace(&mut r.heads, heads.clone());
    Push { at, changes, heads, readers, seen }
}

/// Stores `pushes` in one transaction of `tx`: one at a time, or as one batch.
fn store(tx: &mut dyn LogTx, docs: &[Report], pushes: &[Push], batched: bool, now: i64) {
    let none = HashMap::new();
    let checked: Vec<(Checked<'_>, Seen)> = pushes
        .iter()
        .map(|p| {
            let r = &docs[p.at];
            let c = Checked {
                doc: r.id,
                kind: DocKind::Report,
                owner: r.ward,
                changes: &p.changes,
                heads: &p.heads,
                readers_if_new: &p.readers,
                pusher: r.device,
                pusher_unit: Some(r.ward),
                received: &none,
                now,
            };
            (c, Seen::Heads(p.seen.clone()))
        })
        .collect();
    let stored = if batched {
        store_batch(tx, &checked).unwrap()
    } else {
        checked.iter().map(|(c, seen)| store_checked(tx, c, seen).unwrap()).collect()
    };
    assert!(stored.iter().all(|s| matches!(s, Stored::Stored { grew: true, .. })), "{stored:?}");
}

fn enroll_sql(w: u8, d: u8) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let dev = device(w, d);
    (dev.to_bytes().to_vec(), ward(w).to_bytes().to_vec(), giaoban_relay::store::sha256(&dev.to_string()))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn sqlite_run(per_tx: usize, history: usize, seconds: f64) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    drop(giaoban_relay::RelayStore::open(dir.path()).unwrap());
    let mut conn = rusqlite::Connection::open(dir.path().join("relay.sqlite")).unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.set_prepared_statement_cache_capacity(64);
    for w in 0..WARDS {
        for d in 0..DEVICES_PER_WARD {
            let (id, unit, token) = enroll_sql(w, d);
            conn.execute(
                "INSERT INTO devices(id, unit, token_hash, label, created_at) VALUES (?1, ?2, ?3, 'máy', 0)",
                rusqlite::params![id, unit, token],
            )
            .unwrap();
        }
    }
    let mut docs = reports();
    for at in 0..DOCS {
        let p = edit(&mut docs, at, history, 1);
        let tx = conn.transaction().unwrap();
        store(&mut Sqlite(&tx), &docs, &[p], true, 1);
        tx.commit().unwrap();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        let pushes: Vec<Push> = (0..per_tx)
            .map(|k| edit(&mut docs, (n as usize + k) % DOCS, 1, 2 + n as i64 + k as i64))
            .collect();
        let tx = conn.transaction().unwrap();
        store(&mut Sqlite(&tx), &docs, &pushes, per_tx > 1, 2 + n as i64);
        tx.commit().unwrap();
        n += per_tx as u64;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn postgres_run(admin_url: &str, writers: usize, per_tx: usize, history: usize, seconds: f64) -> f64 {
    let name = format!("giaoban_bench_{:016x}", rand::random::<u64>());
    let mut admin = postgres::Client::connect(admin_url, postgres::NoTls).unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let base = admin_url.split('?').next().unwrap();
    let url = format!("{}/{name}", base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base));
    let mut setup = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    giaoban_relay::store::backend::postgres::schema::migrate(&mut setup).unwrap();
    for w in 0..WARDS {
        for d in 0..DEVICES_PER_WARD {
            let (id, unit, token) = enroll_sql(w, d);
            setup
                .execute(
                    "INSERT INTO devices(id, unit, token_hash, label, created_at) VALUES ($1, $2, $3, 'máy', 0)",
                    &[&id, &unit, &token],
                )
                .unwrap();
        }
    }
    let mut docs = reports();
    for at in 0..DOCS {
        let p = edit(&mut docs, at, history, 1);
        let mut tx = setup.transaction().unwrap();
        store(&mut Postgres(&mut tx), &docs, &[p], true, 1);
        tx.commit().unwrap();
    }
    // Each writer its own reports, as devices of different wards land on different relays.
    let mut shares: Vec<Vec<Report>> = (0..writers).map(|_| Vec::new()).collect();
    for (i, r) in docs.into_iter().enumerate() {
        shares[i % writers].push(r);
    }
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let handles: Vec<_> = shares
        .into_iter()
        .map(|mut mine| {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let len = mine.len();
                    // A batch's pushes go to different reports, as a relay's group commit
                    // takes what many devices sent.
                    let pushes: Vec<Push> = (0..per_tx.min(len))
                        .map(|k| edit(&mut mine, (n as usize + k) % len, 1, 2 + n as i64 + k as i64))
                        .collect();
                    let mut tx = client.transaction().unwrap();
                    store(&mut Postgres(&mut tx), &mine, &pushes, per_tx > 1, 2 + n as i64);
                    tx.commit().unwrap();
                    n += pushes.len() as u64;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let rate = total as f64 / start.elapsed().as_secs_f64();
    drop(setup);
    admin.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)")).unwrap();
    rate
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (history, seconds, runs) = if full { (500, 5.0, 5) } else { (20, 0.3, 1) };
    println!("log storage, {DOCS} reports with {history} changes of history each, one small edit per push");
    for per_tx in [1usize, 16] {
        let sqlite: Vec<f64> = (0..runs).map(|_| sqlite_run(per_tx, history, seconds)).collect();
        println!(
            "  SQLite, 1 writer, {per_tx} push(es) a transaction: median {:.0} changes/s (runs {:?})",
            median(sqlite.clone()),
            rounded(&sqlite)
        );
    }
    let Some(url) = std::env::var("GIAOBAN_TEST_POSTGRES").ok().filter(|u| !u.is_empty()) else {
        println!(
            "  PostgreSQL: skipped (set GIAOBAN_TEST_POSTGRES; scripts/postgres.sh start runs a server)"
        );
        return;
    };
    for (writers, per_tx) in [(1usize, 1usize), (4, 1), (8, 1), (1, 16), (2, 16), (4, 16)] {
        let rates: Vec<f64> =
            (0..runs).map(|_| postgres_run(&url, writers, per_tx, history, seconds)).collect();
        println!(
            "  PostgreSQL, {writers} writer(s), {per_tx} push(es) a transaction: median {:.0} changes/s (runs {:?})",
            median(rates.clone()),
            rounded(&rates)
        );
    }
}

fn rounded(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.round() as u64).collect()
}
