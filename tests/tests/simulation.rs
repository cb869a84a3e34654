//! Convergence under any schedule: seeded simulations of five devices (the city office, two
//! devices of one ward, two other wards) editing and syncing through the real relay router over
//! a network that loses, cuts, holds back and replays messages. See `giaoban_e2e::sim`.
//!
//! `GIAOBAN_SIM_SEEDS=N` runs N seeds (default 24) from `GIAOBAN_SIM_FROM` (default 0);
//! `GIAOBAN_SEED=N` replays one seed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use giaoban_e2e::sim::{Faults, STEPS, run_seed_reporting};

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
    let (mut edits, mut acked, mut applied, mut docs) = (0u64, 0u64, 0u64, 0u64);
    let mut faults = std::collections::BTreeMap::<&str, u64>::new();
    for &seed in &seeds {
        let out = match run_seed_reporting(seed, Faults::default()) {
            Ok(o) => o,
            Err(msg) => panic!("{msg}"),
        };
        edits += u64::from(out.edits);
        acked += u64::from(out.acked_edits);
        applied += u64::from(out.applied);
        docs += out.documents as u64;
        for (k, v) in out.faults {
            *faults.entry(k).or_default() += u64::from(v);
        }
    }
    println!(
        "{} seeds × {STEPS} steps in {:.1} s: {edits} edits ({acked} acknowledged under faults), {applied} answers applied, {docs} documents; faults {faults:?}",
        seeds.len(),
        start.elapsed().as_secs_f64()
    );
}
