//! Convergence under any schedule: seeded simulations of five devices (the city office, two
//! devices of one ward, two other wards) editing and syncing through the real relay router over
//! a network that loses, cuts, holds back and replays messages, while the relay is backed up,
//! restarted and restored from older backups, and devices crash, run out of storage or are
//! lost. See `giaoban_e2e::sim`.
//!
//! `GIAOBAN_SIM_SEEDS=N` runs N seeds (default 24) from `GIAOBAN_SIM_FROM` (default 0);
//! `GIAOBAN_SEED=N` replays one seed.

use std::collections::BTreeMap;
use std::time::Instant;

use giaoban_e2e::sim::{Faults, Outcome, STEPS, run_seed_reporting};

#[derive(Default)]
struct Totals {
    seeds: u64,
    edits: u64,
    acked: u64,
    lost_edits: u64,
    applied: u64,
    docs: u64,
    backups: u64,
    restores: u64,
    restarts: u64,
    crashes: u64,
    lost_devices: u64,
    faults: BTreeMap<&'static str, u64>,
}

impl Totals {
    fn add(&mut self, out: Outcome) {
        self.seeds += 1;
        self.edits += u64::from(out.edits);
        self.acked += u64::from(out.acked_edits);
        self.lost_edits += u64::from(out.lost_edits);
        self.applied += u64::from(out.applied);
        self.docs += out.documents as u64;
        self.backups += u64::from(out.backups);
        self.restores += u64::from(out.restores);
        self.restarts += u64::from(out.restarts);
        self.crashes += u64::from(out.crashes);
        self.lost_devices += u64::from(out.lost_devices);
        for (k, v) in out.faults {
            *self.faults.entry(k).or_default() += u64::from(v);
        }
    }
}

#[test]
fn devices_and_relay_converge_under_faults() {
    let seeds: Vec<u64> = match std::env::var("GIAOBAN_SEED") {
        Ok(s) => vec![s.parse().expect("GIAOBAN_SEED must be a number")],
        Err(_) => {
            let var = |k: &str| std::env::var(k).ok().and_then(|s| s.parse::<u64>().ok());
            let from = var("GIAOBAN_SIM_FROM").unwrap_or(0);
            (from..from + var("GIAOBAN_SIM_SEEDS").unwrap_or(24)).collect()
        }
    };
    let start = Instant::now();
    let mut t = Totals::default();
    for &seed in &seeds {
        match run_seed_reporting(seed, Faults::default()) {
            Ok(o) => t.add(o),
            Err(msg) => panic!("{msg}"),
        }
    }
    let injected: u64 = t.faults.values().sum();
    println!(
        "{} seeds × {STEPS} steps in {:.1} s: {} edits ({} acknowledged under faults, {} gone with a lost device), {} answers applied, {} documents; relay: {} backups, {} restores, {} restarts; devices: {} crashes, {} lost; {injected} faults {:?}",
        t.seeds,
        start.elapsed().as_secs_f64(),
        t.edits,
        t.acked,
        t.lost_edits,
        t.applied,
        t.docs,
        t.backups,
        t.restores,
        t.restarts,
        t.crashes,
        t.lost_devices,
        t.faults
    );
}

/// With restore detection switched off, the relay believes every device's witness after a
/// restore: devices never give back what the restored relay lost, and the simulation must see
/// it in one of the first seeds.
#[test]
fn the_simulation_fails_without_restore_detection() {
    let faults = Faults { blind_relay: true, ..Faults::default() };
    let failed = (0..8).find_map(|seed| run_seed_reporting(seed, faults).err());
    let msg = failed.expect("a relay that never notices a restore passed 8 seeds");
    println!("as it should: {msg}");
}
