//! The devices of the simulation: real stores on SQLite files, opened with the simulation's
//! clock and a device id derived from the seed, reopened after a crash, thrown away when lost;
//! and what a store holds, read through a second connection, to compare before and after.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use giaoban_client_core::protocol::session::{DeviceSession, Position};
use giaoban_client_core::protocol::{DeviceId, DocId, Timestamp, UnitId};
use giaoban_client_core::{Clock, Store, StoreOptions};

use super::network::Pending;

pub(super) struct Device {
    pub name: String,
    pub unit: UnitId,
    pub path: PathBuf,
    /// `None` once the device is lost: its store is thrown away and it never syncs again.
    pub store: Option<Store>,
    pub token: String,
    /// The sync in progress (sessions live in memory during a sync, as in `sync_now`).
    pub session: Option<DeviceSession>,
    /// The answer to the request in flight: `None` inside when it was lost.
    pub in_flight: Option<Option<Pending>>,
    /// Answers held back by the network, delivered later.
    pub held: Vec<Pending>,
    /// The device has no link before this step.
    pub offline_until: u32,
}

impl Device {
    pub fn store(&mut self) -> &mut Store {
        self.store.as_mut().unwrap_or_else(|| panic!("{} is lost and never used again", self.name))
    }

    pub fn lost(&self) -> bool {
        self.store.is_none()
    }
}

pub(super) fn device_id(seed: u64, i: usize) -> DeviceId {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&seed.to_le_bytes());
    b[8..].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    DeviceId::from_bytes(b)
}

fn options(clock: &Arc<AtomicI64>) -> StoreOptions {
    let c = clock.clone();
    // The session actor follows the simulated time of the opening, so a seed replays the
    // same actors.
    let opened_at = clock.load(Ordering::Relaxed);
    StoreOptions {
        clock: Clock::from_fn(move || Timestamp(c.load(Ordering::Relaxed))),
        compact_after: 8,
        session: Some(opened_at.to_le_bytes()),
        ..StoreOptions::default()
    }
}

/// Opens a store at `path` whose device id is `id` (the store picks a random one on creation;
/// the simulation fixes it so a seed replays the same actors).
pub(super) fn open_device(path: &Path, id: DeviceId, clock: &Arc<AtomicI64>) -> Store {
    drop(Store::open(path).unwrap());
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute("UPDATE meta SET value = ?1 WHERE key = 'device'", [id.to_bytes().to_vec()]).unwrap();
    drop(conn);
    let store = Store::open_with(path, options(clock)).unwrap();
    assert_eq!(store.device_id(), id);
    store
}

/// Opens the store of a device again, as the app does after it was killed.
pub(super) fn reopen_device(path: &Path, clock: &Arc<AtomicI64>) -> Store {
    Store::open_with(path, options(clock)).unwrap_or_else(|e| panic!("reopening {}: {e}", path.display()))
}

/// Removes a store's file and the files SQLite keeps beside it.
pub(super) fn remove_store_files(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let p = PathBuf::from(p);
        if p.exists() {
            std::fs::remove_file(&p).unwrap();
        }
    }
}

/// Everything a device holds: every row of every table as committed (read through a second
/// connection), every document's heads and the sync position as the store itself reports them
/// (so a copy cached in memory that ran ahead of disk shows too).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Snapshot {
    tables: BTreeMap<String, Vec<String>>,
    heads: BTreeMap<DocId, Vec<String>>,
    position: String,
}

impl Snapshot {
    pub fn take(store: &mut Store) -> Snapshot {
        let conn = rusqlite::Connection::open(store.path()).unwrap();
        let names: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut tables = BTreeMap::new();
        for name in names {
            let mut stmt = conn.prepare(&format!("SELECT * FROM \"{name}\"")).unwrap();
            let n = stmt.column_count();
            let mut rows: Vec<String> = stmt
                .query_map([], |r| {
                    let mut row = String::new();
                    for k in 0..n {
                        row.push_str(&format!("{:?}|", r.get_ref(k)?));
                    }
                    Ok(row)
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            rows.sort();
            tables.insert(name, rows);
        }
        let mut heads = BTreeMap::new();
        for id in store.document_ids(None).unwrap() {
            let mut h: Vec<String> = store.heads(id).unwrap().iter().map(|h| h.to_string()).collect();
            h.sort();
            heads.insert(id, h);
        }
        let position: Position = store.sync_session().unwrap().position;
        Snapshot { tables, heads, position: format!("{position:?}") }
    }

    /// The first difference from `other`, for a failure message.
    pub fn difference(&self, other: &Snapshot) -> String {
        if self.position != other.position {
            return format!("position {} became {}", self.position, other.position);
        }
        if self.heads != other.heads {
            return format!("heads {:?} became {:?}", self.heads, other.heads);
        }
        for (name, rows) in &self.tables {
            match other.tables.get(name) {
                Some(o) if o == rows => {}
                Some(o) => {
                    let gone: Vec<&String> = rows.iter().filter(|r| !o.contains(r)).take(3).collect();
                    let new: Vec<&String> = o.iter().filter(|r| !rows.contains(r)).take(3).collect();
                    return format!("table {name}: rows gone {gone:?}, rows added {new:?}");
                }
                None => return format!("table {name} disappeared"),
            }
        }
        "no difference".into()
    }
}
