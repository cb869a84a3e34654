//! Attached files on a commune's link: 384 kbit/s shared by every connection, 300 ms round
//! trips (the handshake of each new connection too), cuts at random points about every 100 KB
//! in both directions, seeded.
//!
//! - a 3 MB photo sent and fetched: time, bytes on the wire against the file's size, cuts;
//! - reports submitted while a 10 MB file goes up in the background: how long each takes to
//!   reach the relay, in round trips.
//!
//! `cargo bench -p giaoban-e2e --bench files` (about seven minutes; `GIAOBAN_BENCH_ONLY=reports`
//! for the reports alone); without `--bench` (as
//! `cargo test --benches` runs it) a smoke run with small files on an unthrottled link.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use giaoban_client_core::{AttachTo, DeliveryState, Opened, Store, SyncHandle};
use giaoban_e2e::Relay;
use giaoban_e2e::proxy::{FaultProxy, LinkFaults};
use giaoban_e2e::workload::{house_report, jpeg, photo};

fn report(store: &mut Store, n: usize) -> giaoban_client_core::protocol::DocId {
    store.create_report(house_report(&format!("Báo cáo nhanh số {n} về nhà Đại đoàn kết"))).unwrap()
}

/// Runs the lane until nothing waits.
fn transfer_all(store: &mut Store) {
    for _ in 0..10_000 {
        if let Ok(r) = store.sync_files()
            && r.waiting == 0
        {
            return;
        }
    }
    panic!("files still waiting");
}

fn sync_until_done(store: &mut Store) {
    while store.sync_now().is_err() {}
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (rate, delay, photo_size, big_size, reports) = if full {
        (Some(48_000), Duration::from_millis(150), 3 * 1024 * 1024, 10 * 1024 * 1024, 5)
    } else {
        (None, Duration::from_millis(1), 200 * 1024, 600 * 1024, 1)
    };
    let rtt = (delay * 2).max(Duration::from_millis(1));
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let faults = LinkFaults {
        bytes_per_second: rate,
        one_way_delay: delay,
        cut_probability: 0.04,
        seed: 2025,
        cut_uploads: true,
    };
    let ward_link = FaultProxy::start(&relay.addr(), faults);
    let office_link = FaultProxy::start(&relay.addr(), LinkFaults { seed: 2026, ..faults });
    let mut ward =
        relay.device_via(&ward_link.url, &tmp.path().join("ward.sqlite"), 1, "điện thoại cán bộ xã");
    let mut office =
        relay.device_via(&office_link.url, &tmp.path().join("office.sqlite"), 0, "máy văn phòng tỉnh");
    println!(
        "link: {} bytes/s shared, {} ms round trips, a cut in about one 4 KiB chunk in 25 each way",
        rate.map_or("unlimited".to_string(), |r| r.to_string()),
        rtt.as_millis()
    );

    // `GIAOBAN_BENCH_ONLY=reports` skips the photo and measures only the reports.
    let only_reports = std::env::var("GIAOBAN_BENCH_ONLY").is_ok_and(|v| v == "reports");
    if !only_reports {
        photo_up_and_down(&mut ward, &mut office, &ward_link, &office_link, photo_size);
    }
    drop(office);

    // Reports while a large file goes up in the background.
    let big_report = report(&mut ward, 1);
    let big = photo(big_size, 2);
    let b = ward.attach_bytes(AttachTo::Report(big_report), &big, jpeg("video.jpg")).unwrap();
    let shared = Arc::new(Mutex::new(ward));
    let handle = SyncHandle::start(shared.clone(), |_| {});
    // Until the file is on its way.
    let t0 = Instant::now();
    while shared.lock().unwrap().file_state(b.hash).unwrap().sent == 0
        && t0.elapsed() < Duration::from_secs(600)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut trips = Vec::new();
    for n in 0..reports {
        let id = report(&mut shared.lock().unwrap(), 10 + n);
        handle.sync_soon();
        let t = Instant::now();
        loop {
            let state = shared.lock().unwrap().delivery_state(id).unwrap();
            if state == DeliveryState::OnRelay {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let took = t.elapsed();
        let sent = shared.lock().unwrap().file_state(b.hash).unwrap().sent;
        trips.push(took.as_secs_f64() / rtt.as_secs_f64());
        println!(
            "  report {} reached the relay {:.2} s after it was written ({:.1} round trips), the {} MB file at {} %",
            n + 1,
            took.as_secs_f64(),
            took.as_secs_f64() / rtt.as_secs_f64(),
            big_size / (1024 * 1024),
            sent * 100 / big.len() as u64
        );
        if full {
            std::thread::sleep(Duration::from_secs(20));
        }
    }
    trips.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "reports written while a {} MB file goes up: median {:.1} round trips to the relay, worst {:.1}",
        big_size / (1024 * 1024),
        trips[trips.len() / 2],
        trips[trips.len() - 1]
    );
    let t = Instant::now();
    while !shared.lock().unwrap().file_state(b.hash).unwrap().sent.eq(&(big.len() as u64)) {
        std::thread::sleep(Duration::from_millis(100));
        if t.elapsed() > Duration::from_secs(1200) {
            panic!("the large file did not finish");
        }
    }
    println!(
        "the {} MB file finished {:.0} s after the start",
        big_size / (1024 * 1024),
        t0.elapsed().as_secs_f64()
    );
    handle.stop();
}

/// A photo sent by the ward and fetched by the office, timed, its bytes on the wire counted.
fn photo_up_and_down(
    ward: &mut Store,
    office: &mut Store,
    ward_link: &FaultProxy,
    office_link: &FaultProxy,
    photo_size: usize,
) {
    let id = report(ward, 0);
    let bytes = photo(photo_size, 1);
    let a = ward.attach_bytes(AttachTo::Report(id), &bytes, jpeg("ảnh nhà ông Lực.jpg")).unwrap();
    sync_until_done(ward);
    sync_until_done(office);
    let (up0, cuts0) = (ward_link.up_bytes.load(Ordering::Relaxed), ward_link.cuts.load(Ordering::Relaxed));
    let t = Instant::now();
    transfer_all(ward);
    let took = t.elapsed();
    let up = ward_link.up_bytes.load(Ordering::Relaxed) - up0;
    let cuts = ward_link.cuts.load(Ordering::Relaxed) - cuts0;
    println!(
        "photo of {} bytes sent: {:.1} s, {} bytes on the wire up ({:.3}× the file), {} cuts",
        bytes.len(),
        took.as_secs_f64(),
        up,
        up as f64 / bytes.len() as f64,
        cuts
    );
    office.open_attachment(a.hash).unwrap();
    let (down0, cuts0) =
        (office_link.down_bytes.load(Ordering::Relaxed), office_link.cuts.load(Ordering::Relaxed));
    let t = Instant::now();
    transfer_all(office);
    let took = t.elapsed();
    let down = office_link.down_bytes.load(Ordering::Relaxed) - down0;
    let cuts = office_link.cuts.load(Ordering::Relaxed) - cuts0;
    println!(
        "photo of {} bytes fetched: {:.1} s, {} bytes on the wire down ({:.3}× the file), {} cuts",
        bytes.len(),
        took.as_secs_f64(),
        down,
        down as f64 / bytes.len() as f64,
        cuts
    );
    let Opened::Here(path) = office.open_attachment(a.hash).unwrap() else { panic!("the photo is here") };
    assert_eq!(std::fs::read(path).unwrap(), bytes);
}
