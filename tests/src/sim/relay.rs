//! The relay of the simulation: the real router over a real store in a temporary folder, which
//! the simulation can back up, restart, and restore from an older backup.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use automerge::{AutoCommit, ChangeHash};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use giaoban_client_core::protocol::wire::{EnrollRequest, Enrolled};
use giaoban_client_core::protocol::{DeviceId, DocId, UnitId};
use giaoban_relay::store::{RelayClock, StoreOptions};
use giaoban_relay::{AppState, Config, RelayStore};
use tower::ServiceExt;

/// The relay's database file in its data folder, and the files SQLite keeps beside it.
const DB_FILES: [&str; 3] = ["relay.sqlite", "relay.sqlite-wal", "relay.sqlite-shm"];

/// A running relay: the router (which holds the `AppState`) and the store behind it.
struct Running {
    router: Router,
    store: RelayStore,
}

/// The real relay router over a store in a temporary folder, on a single-threaded runtime, with
/// the simulation's clock.
pub(super) struct SimRelay {
    rt: tokio::runtime::Runtime,
    dir: PathBuf,
    clock: Arc<AtomicI64>,
    /// The relay believes every device's witness (restore detection off on purpose).
    blind: bool,
    running: Option<Running>,
}

impl SimRelay {
    /// A new relay in `dir` with Đồng Nai's units; returns it and the unit ids.
    pub(super) fn create(dir: &Path, clock: Arc<AtomicI64>, blind: bool) -> (SimRelay, Vec<UnitId>) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let mut relay = SimRelay { rt, dir: dir.to_path_buf(), clock, blind, running: None };
        relay.open();
        let org = relay.store().create_units_from_reference("Đồng Nai").unwrap();
        (relay, org.units.iter().map(|u| u.id).collect())
    }

    fn open(&mut self) {
        assert!(self.running.is_none(), "the relay is already open");
        let c = self.clock.clone();
        let opts = StoreOptions {
            clock: RelayClock::from_fn(move || c.load(Ordering::Relaxed)),
            ..Default::default()
        };
        let store = RelayStore::open_with(&self.dir, opts).unwrap();
        let config =
            Config { data_dir: self.dir.clone(), max_syncs_per_minute: 1_000_000, ..Config::default() };
        let mut state = AppState::new(store.clone(), config).unwrap();
        if self.blind {
            state = state.without_restore_detection();
        }
        self.running = Some(Running { router: giaoban_relay::app(state), store });
    }

    /// Drops the router, its state and every clone of the store: the writer thread is joined and
    /// the database closed when this returns.
    fn close(&mut self) {
        self.running = None;
    }

    fn store(&self) -> &RelayStore {
        &self.running.as_ref().expect("the relay is open").store
    }

    /// Stops the relay and starts it again on the same folder.
    pub(super) fn restart(&mut self) {
        self.close();
        self.open();
    }

    /// Copies the relay's database to `path` while it runs (`VACUUM INTO`).
    pub(super) fn backup(&self, path: &Path) {
        self.store().backup_to(path).unwrap();
    }

    /// Stops the relay, replaces its database with the backup at `path` (removing the WAL and
    /// shared-memory files of the replaced one), and starts it again.
    pub(super) fn restore(&mut self, path: &Path) {
        self.close();
        for f in DB_FILES {
            let p = self.dir.join(f);
            if p.exists() {
                std::fs::remove_file(&p).unwrap();
            }
        }
        std::fs::copy(path, self.dir.join(DB_FILES[0])).unwrap();
        self.open();
    }

    fn call(&self, req: Request<Body>) -> (StatusCode, Vec<u8>) {
        let router = self.running.as_ref().expect("the relay is open").router.clone();
        self.rt.block_on(async move {
            let resp = router.oneshot(req).await.unwrap();
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
            (status, body.to_vec())
        })
    }

    pub(super) fn sync(&self, token: &str, frame: Vec<u8>) -> (StatusCode, Vec<u8>) {
        let req = Request::post("/v1/sync")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/x-giaoban")
            .body(Body::from(frame))
            .unwrap();
        self.call(req)
    }

    pub(super) fn enroll(&self, unit: UnitId, device: DeviceId, label: &str) -> Enrolled {
        let code = self.store().create_enrollment(unit, 1).unwrap();
        let body =
            serde_json::to_vec(&EnrollRequest { code: code.code, device, label: label.into() }).unwrap();
        let req = Request::post("/v1/enroll")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        let (status, body) = self.call(req);
        assert_eq!(status, StatusCode::OK, "enroll: {}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap()
    }

    /// Every document the relay holds: its heads and the units that may read it.
    pub(super) fn documents(&self) -> BTreeMap<DocId, (Vec<ChangeHash>, BTreeSet<UnitId>)> {
        self.store()
            .read(|c| {
                let mut out = BTreeMap::new();
                let mut docs = c.prepare("SELECT n, id FROM docs")?;
                let rows: Vec<(i64, Vec<u8>)> =
                    docs.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
                for (n, id) in rows {
                    let mut doc = AutoCommit::new();
                    let mut ch = c.prepare("SELECT bytes FROM changes WHERE doc = ?1 ORDER BY seq")?;
                    let changes: Vec<automerge::Change> = ch
                        .query_map([n], |r| r.get::<_, Vec<u8>>(0))?
                        .map(|b| automerge::Change::from_bytes(b.unwrap()).unwrap())
                        .collect();
                    doc.apply_changes(changes).unwrap();
                    let mut heads = doc.get_heads();
                    heads.sort();
                    let mut rd = c.prepare("SELECT unit FROM readers WHERE doc = ?1")?;
                    let readers = rd
                        .query_map([n], |r| r.get::<_, Vec<u8>>(0))?
                        .map(|b| UnitId::from_slice(&b.unwrap()).unwrap())
                        .collect();
                    out.insert(DocId::from_slice(&id).unwrap(), (heads, readers));
                }
                Ok(out)
            })
            .unwrap()
    }

    /// When the relay received the change `hash` of `doc`, if it stores it.
    pub(super) fn received_at(&self, doc: DocId, hash: &ChangeHash) -> Option<i64> {
        self.store()
            .read(|c| {
                use rusqlite::OptionalExtension;
                Ok(c.query_row(
                    "SELECT c.received_at FROM changes c JOIN docs d ON d.n = c.doc WHERE d.id = ?1 AND c.hash = ?2",
                    rusqlite::params![doc.to_bytes().to_vec(), hash.0.to_vec()],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?)
            })
            .unwrap()
    }

    /// Whether the relay stores the change `hash` of `doc`.
    pub(super) fn has_change(&self, doc: DocId, hash: &ChangeHash) -> bool {
        self.received_at(doc, hash).is_some()
    }
}
