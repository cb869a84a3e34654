//! Test support: a real relay on 127.0.0.1:0 with its own store folder, and devices on their
//! own SQLite files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod desk;
pub mod postgres;
pub mod proxy;
pub mod s3;
pub mod sim;
pub mod workload;

use std::path::{Path, PathBuf};

use giaoban_client_core::Store;
use giaoban_protocol::schema::UnitDirectory;
use giaoban_protocol::wire::{self, DeviceMessage, RelayMessage, SyncRequest, SyncResponse};
use giaoban_relay::store::{RelayClock, StoreOptions};
use giaoban_relay::{AppState, Config, RelayStore};
use tokio::sync::oneshot;

/// A relay running on a background thread.
pub struct Relay {
    /// "http://127.0.0.1:PORT".
    pub url: String,
    /// Its store, for admin commands.
    pub store: RelayStore,
    /// The demo organisation.
    pub org: UnitDirectory,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Its data folder.
    pub dir: PathBuf,
    /// Its clock.
    pub clock: RelayClock,
    config: Config,
    /// The HTTP handlers' state, for what the relay counts (syncs answered, streams open).
    pub state: AppState,
}

impl Relay {
    /// Starts a relay in `dir` with Đồng Nai's units.
    pub fn start(dir: &Path) -> Relay {
        Relay::start_with(dir, Config { data_dir: dir.to_path_buf(), ..Config::default() }, true)
    }

    /// Starts a relay in `dir` with Đồng Nai's units and the relay clock `clock`.
    pub fn start_clocked(dir: &Path, clock: RelayClock) -> Relay {
        Relay::start_full(dir, Config { data_dir: dir.to_path_buf(), ..Config::default() }, clock, true)
    }

    /// Stops this relay and starts another on the same folder, address, settings and clock, as
    /// after a restart of the office's server.
    pub fn restart(self) -> Relay {
        self.restart_with(|_| {})
    }

    /// Stops this relay, lets `between` act on its data folder (while nothing has it open),
    /// and starts another on the same folder, address, settings and clock.
    pub fn restart_with(mut self, between: impl FnOnce(&Path)) -> Relay {
        let dir = self.dir.clone();
        let addr = self.url.trim_start_matches("http://").to_string();
        let clock = self.clock.clone();
        let config = Config { listen: addr, ..self.config.clone() };
        let org = self.org.clone();
        self.shutdown();
        drop(self);
        between(&dir);
        let mut relay = Relay::start_full(&dir, config, clock, false);
        relay.org = org;
        relay
    }

    /// Writes an online backup of the relay's database to the new file `to`.
    pub fn backup(&self, to: &Path) {
        self.store.backup_to(to).unwrap();
    }

    /// Stops the relay, puts the backup `from` in place of its database (as an office restoring
    /// its server from an older copy does), and starts it again on the same address.
    pub fn restore(self, from: &Path) -> Relay {
        let from = from.to_path_buf();
        self.restart_with(move |dir| {
            for f in ["relay.sqlite", "relay.sqlite-wal", "relay.sqlite-shm"] {
                let p = dir.join(f);
                if p.exists() {
                    std::fs::remove_file(&p).unwrap();
                }
            }
            std::fs::copy(&from, dir.join("relay.sqlite")).unwrap();
        })
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Starts a relay with `config` (listening on `config.listen` if it names a port other than
    /// the default, else on 127.0.0.1:0); creates the units when `create_units`.
    pub fn start_with(dir: &Path, config: Config, create_units: bool) -> Relay {
        Relay::start_full(dir, config, RelayClock::system(), create_units)
    }

    /// Like [`Relay::start_with`], with the relay clock `clock`.
    pub fn start_full(dir: &Path, config: Config, clock: RelayClock, create_units: bool) -> Relay {
        Relay::start_province(dir, config, clock, create_units, "Đồng Nai")
    }

    /// Starts a relay in `dir` with the units of `province` (Thanh Hóa has 166 communes).
    pub fn start_in(dir: &Path, province: &str) -> Relay {
        let config = Config { data_dir: dir.to_path_buf(), ..Config::default() };
        Relay::start_province(dir, config, RelayClock::system(), true, province)
    }

    fn start_province(
        dir: &Path,
        config: Config,
        clock: RelayClock,
        create_units: bool,
        province: &str,
    ) -> Relay {
        let store =
            RelayStore::open_with(dir, StoreOptions { max_kb: config.max_database_kb, clock: clock.clone() })
                .unwrap();
        let org = if create_units {
            store.create_units_from_reference(province).unwrap()
        } else {
            giaoban_protocol::reference::unit_directory_from_reference(province).unwrap()
        };
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let state = AppState::new(store.clone(), config.clone()).unwrap();
        let served = state.clone();
        let kept = config.clone();
        let thread = std::thread::spawn(move || {
            // As the relay binary runs: 16 blocking threads (main.rs), so a test sees what
            // running out of them does.
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .max_blocking_threads(16)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let addr = if config.listen == Config::default().listen {
                    "127.0.0.1:0".to_string()
                } else {
                    config.listen.clone()
                };
                let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                giaoban_relay::run(listener, served, async {
                    let _ = stop_rx.await;
                })
                .await
                .unwrap();
            });
            // Connections still open (live-notification streams) are dropped, not awaited.
            rt.shutdown_timeout(std::time::Duration::from_millis(100));
        });
        let addr = addr_rx.recv().unwrap();
        Relay {
            url: format!("http://{addr}"),
            store,
            org,
            stop: Some(stop_tx),
            thread: Some(thread),
            dir: dir.to_path_buf(),
            clock,
            config: kept,
            state,
        }
    }

    /// A device store at `path`, enrolled for the unit at `unit_index` of the organisation
    /// (0 = the province committee).
    pub fn device(&self, path: &Path, unit_index: usize, label: &str) -> Store {
        self.device_via(&self.url, path, unit_index, label)
    }

    /// Like [`Relay::device`], reaching the relay through `url` (a proxy).
    pub fn device_via(&self, url: &str, path: &Path, unit_index: usize, label: &str) -> Store {
        let mut s = Store::open(path).unwrap();
        let code = self.store.create_enrollment(self.org.units[unit_index].id, 1).unwrap();
        // Through a bad link the answer may be lost; asking again with the same code is safe.
        for attempt in 1.. {
            match s.enroll(url, &code.code, label) {
                Ok(_) => break,
                Err(giaoban_client_core::CoreError::Network { .. }) if attempt < 50 => continue,
                Err(e) => panic!("enrollment failed: {e}"),
            }
        }
        s
    }

    /// "127.0.0.1:PORT".
    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }
}

/// Sends `request` as the device of `store`, bypassing the store's own rules (to play a
/// misbehaving or hostile device), and returns the relay's answer.
pub fn raw_sync(store: &Store, request: SyncRequest) -> SyncResponse {
    let (url, token) = store.relay().unwrap().unwrap();
    let frame = wire::encode(&DeviceMessage::Sync(request));
    let body = giaoban_client_core::RelayClient::new(&url).with_token(&token).sync(&frame).unwrap();
    let RelayMessage::Sync(resp) = wire::decode(&body).unwrap();
    resp
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Runs the lane until nothing waits (a cut link fails some runs).
pub fn transfer_all(store: &mut giaoban_client_core::Store) -> (usize, usize) {
    let (mut sent, mut fetched) = (0, 0);
    for _ in 0..200 {
        match store.sync_files() {
            Ok(r) => {
                sent += r.sent;
                fetched += r.fetched;
                if r.waiting == 0 {
                    return (sent, fetched);
                }
            }
            Err(e) => eprintln!("a run of the lane failed: {e}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("files still waiting after 200 runs");
}

/// Syncs until a sync goes through (a cut link fails some).
pub fn sync_until_done(store: &mut giaoban_client_core::Store) {
    for _ in 0..50 {
        if store.sync_now().is_ok() {
            return;
        }
    }
    panic!("sync kept failing");
}
