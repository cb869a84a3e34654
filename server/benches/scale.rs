//! A relay holding many documents: its memory, a ward's fresh download and no-change syncs.
//!
//! Ward phones write reports through client-core and send them to the relay (the release
//! binary in its own process, embedded SQLite); then the relay is restarted, every ward syncs
//! once more, and a new phone of the first ward downloads all of its unit's documents.
//!
//! `cargo bench -p giaoban-relay --bench scale` (full: 10 wards × 10,000 reports = 100,000
//! documents; several minutes). Without `--bench` (as `cargo test --benches` runs it) it does
//! a smoke run of 2 wards × 200. `GIAOBAN_SCALE_WARDS` and `GIAOBAN_SCALE_DOCS` (a ward's
//! reports) change those.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use giaoban_client_core::Store;
use giaoban_client_core::domain::{NewReport, NewSection};
use giaoban_client_core::protocol::schema::ReportKind;
use giaoban_client_core::protocol::wire::{DeviceMessage, encode};
use giaoban_relay::RelayStore;

mod relay_process;
use relay_process::{RelayProcess, rss_kb};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn rss_mb(pid: u32) -> f64 {
    rss_kb(pid) as f64 / 1024.0
}

fn report(ward: &str, i: usize) -> NewReport {
    NewReport {
        title: format!("Báo cáo kết quả vận động Quỹ Vì người nghèo, đợt {i}"),
        kind: ReportKind::Thematic,
        period: "quý I/2030".into(),
        answers: None,
        audience: vec![],
        sections: vec![NewSection {
            key: "ket_qua".into(),
            heading: "Kết quả thực hiện".into(),
            body: format!(
                "{ward} đã rà soát {} hộ nghèo, vận động được {} triệu đồng cho quỹ; đ/c Hoa phụ trách.",
                10 + i % 40,
                5 + i % 90
            ),
        }],
    }
}

/// Syncs until the store has nothing left to send; returns round trips and the last report's
/// documents received.
fn sync_all(store: &mut Store) -> (u32, usize, u64) {
    let (mut trips, mut received, mut bytes) = (0, 0, 0);
    loop {
        let r = store.sync_now().unwrap();
        trips += r.round_trips;
        received += r.received;
        bytes += r.bytes_sent + r.bytes_received;
        assert!(r.rejected.is_empty(), "the relay refused a report: {:?}", r.rejected);
        if r.pushed == 0 {
            return (trips, received, bytes);
        }
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let wards = env_or("GIAOBAN_SCALE_WARDS", if full { 10 } else { 2 });
    let per_ward = env_or("GIAOBAN_SCALE_DOCS", if full { 10_000 } else { 200 });
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let (org, codes, second) = {
        let store = RelayStore::open(&data).unwrap();
        let org = store.create_units_from_reference("Đồng Nai").unwrap();
        assert!(org.units.len() > wards, "the reference has {} units", org.units.len());
        let codes: Vec<String> =
            (0..wards).map(|i| store.create_enrollment(org.units[1 + i].id, 1).unwrap().code).collect();
        let second = store.create_enrollment(org.units[1].id, 1).unwrap().code;
        (org, codes, second)
    };
    let mut relay = RelayProcess::start(&data);
    let base = format!("http://{}", relay.addr);
    println!(
        "giaoban relay at scale ({}): {wards} wards × {per_ward} reports = {} documents",
        if full { "full" } else { "smoke" },
        wards * per_ward
    );
    println!("relay RSS after start: {:.1} MB", rss_mb(relay.pid()));

    // The wards write and send on two threads (the machine has two cores, which the relay shares).
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let peak = Arc::new(AtomicU64::new(0));
    let pid = relay.pid();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (next, peak, codes, base) = (next.clone(), peak.clone(), codes.clone(), base.clone());
            let names: Vec<String> = org.units.iter().map(|u| u.name.clone()).collect();
            let path = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let mut stores = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if i >= codes.len() {
                        return stores;
                    }
                    let ward = &names[1 + i];
                    let mut store = Store::open(path.join(format!("ward-{i}.sqlite"))).unwrap();
                    store.enroll(&base, &codes[i], &format!("điện thoại {ward}")).unwrap();
                    for k in 0..per_ward {
                        store.create_report(report(ward, k)).unwrap();
                        if (k + 1) % 1000 == 0 {
                            sync_all(&mut store);
                            peak.fetch_max(rss_kb(pid), Ordering::Relaxed);
                        }
                    }
                    sync_all(&mut store);
                    peak.fetch_max(rss_kb(pid), Ordering::Relaxed);
                    stores.push(store);
                }
            })
        })
        .collect();
    let mut stores: Vec<Store> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{} reports written and stored in {elapsed:.1} s ({:.0} documents/s, writing on the phones included)",
        wards * per_ward,
        (wards * per_ward) as f64 / elapsed
    );
    println!(
        "relay RSS with {} documents stored: {:.1} MB now, {:.1} MB at most while they came in (target ≤ 256 MB)",
        wards * per_ward,
        rss_mb(relay.pid()),
        peak.load(Ordering::Relaxed) as f64 / 1024.0
    );

    // Restarted, the relay holds nothing in memory until devices come back.
    relay.restart(&data);
    for store in &mut stores {
        let (trips, _, _) = sync_all(store);
        assert_eq!(trips, 1, "a ward's sync after the restart took {trips} round trips");
    }
    println!(
        "relay RSS after a restart and one sync of every ward: {:.1} MB (target ≤ 256 MB)",
        rss_mb(relay.pid())
    );

    // A new phone of the first ward: its unit's whole log.
    let mut fresh = Store::open(dir.path().join("ward-0-new.sqlite")).unwrap();
    fresh.enroll(&base, &second, "điện thoại mới").unwrap();
    let t = Instant::now();
    let (trips, received, bytes) = sync_all(&mut fresh);
    let seconds = t.elapsed().as_secs_f64();
    assert!(received >= per_ward, "the new phone received {received} of {per_ward}");
    println!(
        "fresh download of {received} documents by a new phone of one ward: {seconds:.1} s, {trips} round trips, {:.1} MB of frames ({:.0} B a document)",
        bytes as f64 / 1e6,
        bytes as f64 / received as f64
    );
    println!("relay RSS after the download: {:.1} MB", rss_mb(relay.pid()));

    // No-change syncs against the full relay: raw frames over keep-alive connections.
    let (_, token) = fresh.relay().unwrap().unwrap();
    let frame = encode(&DeviceMessage::Sync(
        fresh.sync_session().unwrap().request(Default::default(), Default::default(), vec![]).0,
    ));
    let seconds = if full { 5.0 } else { 1.0 };
    let done = Arc::new(AtomicU64::new(0));
    let url = format!("{base}/v1/sync");
    let start = Instant::now();
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (frame, token, done, url) = (frame.clone(), token.clone(), done.clone(), url.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
                while start.elapsed().as_secs_f64() < seconds {
                    let mut resp = agent
                        .post(&url)
                        .header("Authorization", &format!("Bearer {token}"))
                        .send(&frame[..])
                        .unwrap();
                    assert_eq!(resp.status(), 200);
                    let _ = resp.body_mut().read_to_vec().unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    println!(
        "no-change syncs per second with {} documents stored: {:.0} (4 clients on the same 2 cores; target ≥ 5,000)",
        wards * per_ward,
        done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
    );
    println!("relay RSS at the end: {:.1} MB", rss_mb(relay.pid()));
}
