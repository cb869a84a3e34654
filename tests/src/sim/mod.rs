//! A deterministic simulation of devices and the relay over a faulty network, with no sockets.
//!
//! Devices are real [`Store`](giaoban_client_core::Store)s on SQLite files driven through the sans-IO sync steps
//! (`sync_session`, `prepare_sync`, `wire::encode`/`decode`, `apply_sync_response`); the relay is
//! the real [`giaoban_relay::app`] router over a [`giaoban_relay::RelayStore`] in a temporary
//! folder, called directly with `tower::ServiceExt::oneshot`, on the simulation's clock. One
//! seeded RNG decides everything:
//!
//! - who edits what and who syncs when; a device may go offline for a while and keep editing;
//! - what the network does to each message: lose a request before the relay sees it, lose an
//!   answer after the relay committed, cut a body short, hold an answer back and deliver it
//!   after newer ones, replay a request later;
//! - what happens to the relay: backups taken while it runs (`VACUUM INTO`), restarts, and
//!   restores from a randomly chosen backup (in any order, the same one twice), with the relay
//!   dropped (its writer joined), its database, WAL and shared-memory files replaced, and
//!   reopened; sessions, answers in flight and held answers made before a restore are still
//!   used and delivered afterwards;
//! - what happens to devices: in about half the seeds one of the ward's two devices is lost
//!   (its store thrown away, it never syncs again); an answer is applied with a full disk or an
//!   interrupted statement armed (the apply must fail and leave the store exactly as it was,
//!   or succeed); a device crashes (a statement interrupted at a random point of an edit or an
//!   apply, then the store dropped and reopened from its file) and every edit that returned
//!   `Ok` must still be there.
//!
//! After the network heals, every surviving device syncs until nothing moves, and then: every
//! change a surviving device holds is on the relay and every surviving device holds exactly
//! the relay's version of what its unit may read, with nothing left to push and no document
//! it could not apply; every edit is on the relay, except edits only a lost device held, which
//! are gone (and counted); every inserted passage that survived is in its report exactly once
//! on every reader; every task marked done shows, on every device holding its response, the
//! relay's receipt time of the change that set its state; and a new device of each unit gets
//! exactly the relay's view. Every acknowledgement, when the relay makes it, covers changes
//! the relay holds.
//!
//! Device ids are derived from the seed, so a seed replays the same schedule and the same
//! Automerge actors; document ids are UUIDv7 and differ between runs, which changes no decision.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod checks;
mod device;
mod edits;
mod network;
mod relay;

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use automerge::ChangeHash;
use giaoban_client_core::protocol::session::Sent;
use giaoban_client_core::protocol::{DocId, UnitId};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use device::{Device, Snapshot, device_id, open_device, remove_store_files, reopen_device};
use relay::SimRelay;

/// How often each fault happens: per message for the network, per step for the relay and the
/// devices.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// A request lost before it reaches the relay.
    pub lose_request: f64,
    /// A request cut short on its way (the relay sees a truncated body).
    pub cut_request: f64,
    /// An answer lost after the relay committed.
    pub lose_answer: f64,
    /// An answer cut short.
    pub cut_answer: f64,
    /// An answer held back, to be delivered later (after newer ones).
    pub hold_answer: f64,
    /// A request kept to be replayed to the relay later.
    pub keep_for_replay: f64,
    /// An answer applied with a full disk or an interrupted statement armed.
    pub storage_fault: f64,
    /// Per step: the relay is backed up.
    pub backup: f64,
    /// Per step: the relay is restored from one of its backups.
    pub restore: f64,
    /// Per step: the relay restarts.
    pub restart: f64,
    /// Per step: a device crashes in the middle of an edit or an apply.
    pub crash: f64,
    /// Per step: a device goes offline for a while.
    pub go_offline: f64,
    /// Per seed: one of the ward's two devices is lost at a random step.
    pub lose_device: f64,
    /// The relay believes every device's witness, so restores go unnoticed (to show that the
    /// simulation catches what restore detection prevents).
    pub blind_relay: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            lose_request: 0.10,
            cut_request: 0.05,
            lose_answer: 0.12,
            cut_answer: 0.06,
            hold_answer: 0.08,
            keep_for_replay: 0.10,
            storage_fault: 0.08,
            backup: 0.012,
            restore: 0.008,
            restart: 0.004,
            crash: 0.01,
            go_offline: 0.005,
            lose_device: 0.5,
            blind_relay: false,
        }
    }
}

/// What one seed did.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// Actions taken (edits, sends, deliveries, relay and device events) before the network
    /// healed.
    pub steps: u32,
    /// Edits made on devices (that returned `Ok`).
    pub edits: u32,
    /// Of those, acknowledged by the relay while the network was faulty.
    pub acked_edits: u32,
    /// Edits gone with a lost device: only it held them when the relay lost them.
    pub lost_edits: u32,
    /// Round trips whose answer was applied.
    pub applied: u32,
    /// Faults injected, by kind.
    pub faults: BTreeMap<&'static str, u32>,
    /// Relay backups taken.
    pub backups: u32,
    /// Relay restores from a backup.
    pub restores: u32,
    /// Relay restarts without a restore.
    pub restarts: u32,
    /// Device crashes (store dropped and reopened).
    pub crashes: u32,
    /// Devices lost.
    pub lost_devices: u32,
    /// Documents on the relay at the end.
    pub documents: usize,
}

/// One edit: which device, which document, the heads right after it, and for section splices
/// the words inserted (which must appear exactly once everywhere in the end).
struct Edit {
    device: usize,
    doc: DocId,
    heads: Vec<ChangeHash>,
    words: Option<(String, String)>,
    acked: bool,
}

struct Sim {
    seed: u64,
    rng: StdRng,
    relay: SimRelay,
    units: Vec<UnitId>,
    devices: Vec<Device>,
    edits: Vec<Edit>,
    /// Request frames kept for a later replay: the device that sent them, what they carried and
    /// how many edits existed then.
    replays: Vec<(usize, Vec<u8>, Sent, usize)>,
    /// Backups of the relay's database, oldest first.
    backups: Vec<PathBuf>,
    faults: Faults,
    out: Outcome,
    clock: Arc<AtomicI64>,
    dir: PathBuf,
    step: u32,
    /// The network no longer fails.
    healed: bool,
    /// Print every event (`GIAOBAN_SIM_TRACE=1`), to follow a failing seed.
    trace: bool,
}

impl Sim {
    fn count(&mut self, fault: &'static str) {
        *self.out.faults.entry(fault).or_default() += 1;
        self.note(|| fault.to_string());
    }

    /// Prints an event when tracing.
    fn note(&self, what: impl FnOnce() -> String) {
        if self.trace {
            eprintln!("[{:>3}] {}", self.step, what());
        }
    }

    fn add_device(&mut self, unit_index: usize, name: &str) -> usize {
        let i = self.devices.len();
        let id = device_id(self.seed, i);
        let path = self.dir.join(format!("{name}.sqlite"));
        let mut store = open_device(&path, id, &self.clock);
        let enrolled = self.relay.enroll(self.units[unit_index], id, name);
        store.set_unit(enrolled.unit).unwrap();
        self.devices.push(Device {
            name: name.into(),
            unit: enrolled.unit,
            path,
            store: Some(store),
            token: enrolled.token,
            session: None,
            in_flight: None,
            held: Vec::new(),
            offline_until: 0,
        });
        i
    }

    fn backup(&mut self) {
        let dir = self.dir.join("backups");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("relay-{}.sqlite", self.backups.len()));
        self.relay.backup(&path);
        self.note(|| format!("relay backed up as backup {}", self.backups.len()));
        self.backups.push(path);
        self.out.backups += 1;
    }

    /// Restores the relay from a backup picked at random; sessions and answers on their way
    /// stay as they are.
    fn restore(&mut self) {
        if self.backups.is_empty() {
            return;
        }
        let k = self.rng.random_range(0..self.backups.len());
        let path = self.backups[k].clone();
        self.relay.restore(&path);
        self.note(|| format!("relay restored from backup {k}"));
        self.out.restores += 1;
    }

    fn restart(&mut self) {
        self.relay.restart();
        self.note(|| "relay restarted".into());
        self.out.restarts += 1;
    }

    /// The device is lost: its store is thrown away and it never syncs again. What the network
    /// still carries of it (requests kept for replay) may reach the relay.
    fn lose(&mut self, i: usize) {
        let d = &mut self.devices[i];
        drop(d.store.take());
        remove_store_files(&d.path);
        d.session = None;
        d.in_flight = None;
        d.held.clear();
        self.out.lost_devices += 1;
        self.note(|| format!("{} lost", self.devices[i].name));
    }

    /// `i` crashes: a statement is interrupted at a random point of an edit or of applying the
    /// answer in flight (or after it, if it finished first), then the app is killed (the store
    /// dropped) and started again on the same file. Every edit of `i` that returned `Ok` is still
    /// there; an apply that failed left nothing behind.
    fn crash(&mut self, i: usize) {
        let ops = self.vm_steps();
        let answer = match self.devices[i].in_flight.take() {
            Some(Some(p)) if self.rng.random_bool(0.5) => Some(p),
            other => {
                self.devices[i].in_flight = other;
                None
            }
        };
        match answer {
            Some(p) => {
                let mut session = match self.devices[i].session.take() {
                    Some(s) => s,
                    None => self.devices[i].store().sync_session().unwrap(),
                };
                let before = Snapshot::take(self.devices[i].store());
                self.devices[i].store().interrupt_after(Some(ops)).unwrap();
                let result = self.apply(i, &p, &mut session);
                self.devices[i].store().interrupt_after(None).unwrap();
                match result {
                    Ok(_) => self.count("crash after an apply"),
                    Err(e) => {
                        assert!(
                            network::is_storage(&e),
                            "{}: an interrupted apply gave {e:?}",
                            self.devices[i].name
                        );
                        let after = Snapshot::take(self.devices[i].store());
                        assert!(
                            before == after,
                            "{}: an interrupted apply changed the store: {}",
                            self.devices[i].name,
                            before.difference(&after)
                        );
                        self.count("crash during an apply");
                    }
                }
            }
            None => {
                self.devices[i].store().interrupt_after(Some(ops)).unwrap();
                let result = self.edit(i);
                self.devices[i].store().interrupt_after(None).unwrap();
                match result {
                    Ok(()) => self.count("crash after an edit"),
                    Err(e) => {
                        assert!(
                            network::is_storage(&e),
                            "{}: an interrupted edit gave {e:?}",
                            self.devices[i].name
                        );
                        self.count("crash during an edit");
                    }
                }
            }
        }
        // Killed: what lived in memory is gone, the answer in flight with it.
        let d = &mut self.devices[i];
        drop(d.store.take());
        d.session = None;
        d.in_flight = None;
        d.store = Some(reopen_device(&d.path, &self.clock));
        self.out.crashes += 1;
        self.check_edits_kept(i);
    }

    /// Every edit `i` made is in its store.
    fn check_edits_kept(&mut self, i: usize) {
        let mut by_doc: BTreeMap<DocId, Vec<ChangeHash>> = BTreeMap::new();
        for e in self.edits.iter().filter(|e| e.device == i) {
            by_doc.entry(e.doc).or_default().extend(e.heads.iter().copied());
        }
        let d = &mut self.devices[i];
        for (doc, hashes) in by_doc {
            let saved = d
                .store()
                .save_document(doc)
                .unwrap_or_else(|e| panic!("{}: {doc} after a crash: {e}", d.name));
            let mut am = automerge::AutoCommit::load(&saved).unwrap();
            for h in hashes {
                assert!(
                    am.get_change_by_hash(&h).is_some(),
                    "{}: an edit of {doc} was lost in a crash",
                    d.name
                );
            }
        }
    }

    /// How many SQLite virtual machine steps to let run before an interruption: spread evenly
    /// over orders of magnitude (16 to about 16,000), so that it lands in the reads before a
    /// write, in the write itself, in its commit, or after it, as often as not.
    fn vm_steps(&mut self) -> u32 {
        let base = 1u32 << self.rng.random_range(4..14);
        base + self.rng.random_range(0..base)
    }

    /// A device that is not lost, picked at random.
    fn live_device(&mut self) -> usize {
        loop {
            let i = self.rng.random_range(0..self.devices.len());
            if !self.devices[i].lost() {
                return i;
            }
        }
    }

    /// One random action.
    fn step(&mut self) {
        let i = self.live_device();
        let f = self.faults;
        let roll: f64 = self.rng.random();
        let mut at = 0.0;
        let mut next = |p: f64| {
            at += p;
            roll < at
        };
        if next(f.backup) {
            self.backup();
        } else if next(f.restore) {
            self.restore();
        } else if next(f.restart) {
            self.restart();
        } else if next(f.crash) {
            self.crash(i);
        } else if next(f.go_offline) {
            let steps = self.rng.random_range(10..80);
            self.devices[i].offline_until = self.step + steps;
            self.count("device offline for a while");
        } else {
            match self.rng.random_range(0..100) {
                0..30 => self.edit(i).unwrap(),
                30..62 => {
                    if self.devices[i].in_flight.is_some() {
                        self.deliver(i)
                    } else if self.step >= self.devices[i].offline_until {
                        self.send(i)
                    }
                }
                62..88 => self.deliver(i),
                88..94 => self.deliver_held(i),
                _ => self.replay(),
            }
        }
    }
}

/// Steps before the network heals, per seed.
pub const STEPS: u32 = 300;

/// Runs one seed: devices of the city and three wards edit and sync over a faulty network for
/// [`STEPS`] actions while the relay is backed up, restarted and restored and devices crash or
/// are lost, then the network heals and everything is checked. Panics with the reason on any
/// failure.
pub fn run_seed(seed: u64, faults: Faults) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicI64::new(1_767_600_000_000)); // 2026-01-05
    let (relay, units) = SimRelay::create(&dir.path().join("relay"), clock.clone(), faults.blind_relay);
    let mut rng = StdRng::seed_from_u64(seed);
    // Whether, when and which of the ward's two devices is lost.
    let lose =
        rng.random_bool(faults.lose_device).then(|| (rng.random_range(0..STEPS), rng.random_range(1..3)));
    let mut sim = Sim {
        seed,
        rng,
        relay,
        units,
        devices: Vec::new(),
        edits: Vec::new(),
        replays: Vec::new(),
        backups: Vec::new(),
        faults,
        out: Outcome::default(),
        clock,
        dir: dir.path().to_path_buf(),
        step: 0,
        healed: false,
        trace: std::env::var_os("GIAOBAN_SIM_TRACE").is_some(),
    };
    sim.add_device(0, "thanh-pho");
    sim.add_device(1, "phuong-1-lan");
    sim.add_device(1, "phuong-1-duc");
    sim.add_device(2, "xa-2");
    sim.add_device(3, "xa-3");
    // The city issues a first directive; the rest is up to the dice.
    sim.city_edit(0).unwrap();
    for step in 0..STEPS {
        sim.step = step;
        if let Some((at, who)) = lose
            && at == step
        {
            sim.lose(who);
        }
        sim.step();
        sim.out.steps += 1;
        let dt = sim.rng.random_range(1..60_000);
        sim.clock.fetch_add(dt, Ordering::Relaxed);
    }
    // The network heals: what was in flight is gone; everyone syncs until nothing moves.
    sim.healed = true;
    for d in &mut sim.devices {
        d.in_flight = None;
        d.held.clear();
        d.session = None;
    }
    let survivors: Vec<usize> = (0..sim.devices.len()).filter(|&i| !sim.devices[i].lost()).collect();
    let mut quiet = false;
    for _ in 0..5 {
        let mut moved = false;
        for &i in &survivors {
            moved |= sim.clean_sync(i);
        }
        if !moved {
            quiet = true;
            break;
        }
    }
    assert!(quiet, "still moving after 5 clean rounds");
    let relay_docs = sim.relay.documents();
    for &i in &survivors {
        sim.check_replica(&relay_docs, i);
    }
    sim.check_edits(&relay_docs);
    sim.check_receipt_times(&relay_docs);
    // A new device of each unit gets exactly the relay's view.
    let units: Vec<UnitId> = sim.units[..4].to_vec();
    for (k, unit) in units.into_iter().enumerate() {
        let i = sim.add_device(k, &format!("moi-{k}"));
        assert_eq!(sim.devices[i].unit, unit);
        sim.clean_sync(i);
        sim.check_replica(&relay_docs, i);
    }
    sim.check_receipt_times(&relay_docs);
    sim.out.documents = relay_docs.len();
    sim.out
}

/// Runs `seed`, turning a panic into the message that names the seed and how to replay it.
pub fn run_seed_reporting(seed: u64, faults: Faults) -> Result<Outcome, String> {
    std::panic::catch_unwind(AssertUnwindSafe(|| run_seed(seed, faults))).map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        format!(
            "seed {seed} failed: {msg}\nreplay: GIAOBAN_SEED={seed} cargo test -p giaoban-e2e --test e2e simulation:: -- --nocapture"
        )
    })
}
