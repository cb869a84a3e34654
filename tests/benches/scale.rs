//! Province-scale benchmark: a fresh download of 10,000 and 100,000 documents (relay CPU, device
//! time, end to end), a no-change reconnect of a device holding all of them, a ward's pull
//! before and after 100 other wards made 1,000 changes each, and keystrokes in a long report.
//! Workloads are dispatches and reports written from the seed documents' sentences
//! (`giaoban_e2e::workload`), each different.
//!
//! The relay runs in this process on its own threads, so its CPU is the process's CPU less this
//! (the device's) thread's, read from `/proc` in clock ticks of 10 ms. Device time is the wall
//! time of the device's own steps (building the request, applying the answer), without the
//! round trip.
//!
//! `cargo bench -p giaoban-e2e --bench scale` (full; `GIAOBAN_SCALE_PARTS` and
//! `GIAOBAN_SCALE_DOCS` pick parts, see `main`); without
//! `--bench` (as `cargo test --benches` runs it) a smoke run of a few hundred documents.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use giaoban_client_core::protocol::wire::{self, DeviceMessage, RelayMessage};
use giaoban_client_core::{NewReport, NewSection, RelayClient, Store, SyncReport};
use giaoban_e2e::{Relay, workload};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// CPU seconds (user + system) from a `/proc/.../stat` line.
fn cpu_of(stat: &str) -> f64 {
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()) as f64 / 100.0
}

/// (whole process, this thread) CPU seconds so far.
fn cpu() -> (f64, f64) {
    let process = cpu_of(&std::fs::read_to_string("/proc/self/stat").unwrap());
    let thread = cpu_of(&std::fs::read_to_string("/proc/thread-self/stat").unwrap());
    (process, thread)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// One sync made of its round trips, timing the device's own steps apart from the network.
struct Measured {
    wall: Duration,
    device: Duration,
    relay_cpu: f64,
    up: u64,
    down: u64,
    report: SyncReport,
}

fn measured_sync(store: &mut Store) -> Measured {
    let (url, token) = store.relay().unwrap().unwrap();
    let client = RelayClient::new(&url).with_token(&token);
    let mut session = store.sync_session().unwrap();
    let mut report = SyncReport::default();
    let (mut up, mut down) = (0u64, 0u64);
    let mut device = Duration::ZERO;
    let (p0, t0) = cpu();
    let started = Instant::now();
    loop {
        let step = Instant::now();
        let (req, sent) = store.prepare_sync(&session).unwrap();
        let frame = wire::encode(&DeviceMessage::Sync(req));
        let sent_at = store.now();
        device += step.elapsed();
        up += frame.len() as u64;
        let body = client.sync(&frame).unwrap();
        down += body.len() as u64;
        let step = Instant::now();
        let RelayMessage::Sync(resp) = wire::decode(&body).unwrap();
        report.round_trips += 1;
        let again = store.apply_sync_response(&mut session, resp, &sent, sent_at, &mut report).unwrap();
        device += step.elapsed();
        if !again {
            break;
        }
    }
    let wall = started.elapsed();
    let (p1, t1) = cpu();
    Measured { wall, device, relay_cpu: (p1 - p0) - (t1 - t0), up, down, report }
}

fn sync_all(store: &mut Store) {
    while store.sync_now().unwrap().round_trips > 1 {}
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A report of `sections` sections of about `chars` characters each.
fn long_report(rng: &mut StdRng, sections: usize, chars: usize) -> NewReport {
    let mut report = workload::report(rng, None);
    report.sections = (0..sections)
        .map(|i| {
            let mut body = String::new();
            while body.chars().count() < chars {
                body.push_str(&workload::prose(rng, 3..6));
                body.push(' ');
            }
            NewSection {
                key: format!("muc_{i}"),
                heading: format!("Mục {}", i + 1),
                body: body.chars().take(chars).collect::<String>().trim_end().to_string(),
            }
        })
        .collect();
    report
}

/// Fills a relay with `n` documents: half dispatches of the province to pairs of communes,
/// half reports of four communes.
fn fill(relay: &Relay, dir: &std::path::Path, n: usize, rng: &mut StdRng) {
    let started = Instant::now();
    let mut province = relay.device(&dir.join("writer-province.sqlite"), 0, "văn phòng tỉnh");
    let wards = relay.org.units.len() - 1;
    for i in 0..n / 2 {
        let a = relay.org.units[1 + i % wards].id;
        let b = relay.org.units[1 + (i * 7 + 3) % wards].id;
        let recipients = if a == b { vec![a] } else { vec![a, b] };
        province.issue_directive(workload::directive(rng, 100 + i, recipients, "08/02/2030")).unwrap();
    }
    sync_all(&mut province);
    let per_ward = (n - n / 2).div_ceil(4);
    let mut written = n / 2;
    for w in 0..4 {
        let mut ward = relay.device(&dir.join(format!("writer-ward-{w}.sqlite")), 1 + w, "cán bộ xã");
        for _ in 0..per_ward.min(n - written) {
            let id = ward.create_report(workload::report(rng, None)).unwrap();
            if rng.random_bool(0.5) {
                ward.set_report_figure(id, workload::figure(rng)).unwrap();
            }
            written += 1;
        }
        sync_all(&mut ward);
    }
    println!("  (filled with {written} documents in {:.1} s)", started.elapsed().as_secs_f64());
}

fn fresh_download(n: usize, runs: usize) -> f64 {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let mut rng = StdRng::seed_from_u64(n as u64);
    fill(&relay, tmp.path(), n, &mut rng);
    let (mut walls, mut relay_cpus, mut devices, mut prepares) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut last = None;
    for run in 0..runs {
        let mut office = relay.device(&tmp.path().join(format!("office-{run}.sqlite")), 0, "máy văn phòng");
        let m = measured_sync(&mut office);
        let docs = m.report.received;
        assert!(docs >= n, "the new device holds {docs} of {n} documents");
        // What the sync loop does next: read what the download stored into the lists (at
        // 100,000 documents, in the first run only: it takes minutes).
        let waiting = office.documents_to_prepare().unwrap();
        let started = Instant::now();
        if run == 0 || n <= 10_000 {
            office.prepare_all().unwrap();
        }
        let prepared = started.elapsed();
        let then = if office.documents_to_prepare().unwrap() == 0 {
            prepares.push(prepared.as_secs_f64());
            format!(
                "; then {waiting} prepared for the lists in {:.1} s ({:.0}/s)",
                prepared.as_secs_f64(),
                waiting as f64 / prepared.as_secs_f64().max(1e-9)
            )
        } else {
            String::new()
        };
        println!(
            "  run {}: {:.2} s end to end, relay CPU {:.2} s, device {:.2} s ({:.0} documents/s), {} round trips, {:.1} MB down{then}",
            run + 1,
            m.wall.as_secs_f64(),
            m.relay_cpu,
            m.device.as_secs_f64(),
            docs as f64 / m.device.as_secs_f64(),
            m.report.round_trips,
            m.down as f64 / 1e6,
        );

        walls.push(m.wall.as_secs_f64());
        relay_cpus.push(m.relay_cpu);
        devices.push(docs as f64 / m.device.as_secs_f64());
        last = Some(office);
    }
    println!(
        "fresh download of {n} documents (median of {runs}): {:.2} s end to end, relay CPU {:.2} s, device apply {:.0} documents/s; all in the lists {:.1} s later  [load {}]",
        median(walls),
        median(relay_cpus.clone()),
        median(devices),
        median(prepares),
        load()
    );
    let mut office = last.unwrap();
    let mut times = Vec::new();
    let mut line = String::new();
    for _ in 0..7 {
        let m = measured_sync(&mut office);
        assert_eq!(m.report.round_trips, 1);
        times.push(m.device.as_secs_f64() * 1000.0);
        line = format!("{} B up, {} B down, {} round trip", m.up, m.down, m.report.round_trips);
    }
    println!(
        "no-change reconnect holding {n} documents (median of 7): device {:.2} ms, {line}  [load {}]",
        median(times),
        load()
    );
    automerge_floor(&mut office);
    median(relay_cpus)
}

/// What Automerge alone costs for documents of this workload, on this machine: loading the
/// changes a device receives for a document new to it, and reading the typed document its
/// derived rows come from. A device cannot apply a download faster than this while it builds
/// each document when it arrives.
fn automerge_floor(store: &mut Store) {
    use automerge::AutoCommit;
    use giaoban_client_core::protocol::DocKind;
    use giaoban_client_core::protocol::schema::{Directive, Report, read_header};
    let mut received: Vec<Vec<u8>> = Vec::new();
    // An even sample of at most 2,000, so every kind is in it in its share.
    let ids = store.document_ids(None).unwrap();
    for id in ids.iter().copied().step_by(ids.len().div_ceil(2_000).max(1)) {
        let mut doc = AutoCommit::load(&store.save_document(id).unwrap()).unwrap();
        received.push(doc.get_changes(&[]).iter().flat_map(|c| c.raw_bytes().to_vec()).collect());
    }
    let n = received.len() as f64;
    let started = Instant::now();
    let mut docs: Vec<AutoCommit> = received.iter().map(|b| AutoCommit::load(b).unwrap()).collect();
    let load_us = started.elapsed().as_secs_f64() * 1e6 / n;
    let started = Instant::now();
    for doc in &mut docs {
        match read_header(doc).unwrap().kind {
            DocKind::Report => drop(autosurgeon::hydrate::<_, Report>(doc).unwrap()),
            DocKind::Directive => drop(autosurgeon::hydrate::<_, Directive>(doc).unwrap()),
            _ => {}
        }
    }
    let read_us = started.elapsed().as_secs_f64() * 1e6 / n;
    println!(
        "Automerge alone, {} documents of this workload ({:.1} KB of changes each): load {load_us:.0} µs, typed read {read_us:.0} µs per document, at most {:.0} documents/s  [load {}]",
        received.len(),
        received.iter().map(Vec::len).sum::<usize>() as f64 / n / 1e3,
        1e6 / (load_us + read_us),
        load()
    );
}

fn ward_pull(wards: usize, changes: usize, runs: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start_in(&tmp.path().join("relay"), "Thanh Hóa");
    assert!(relay.org.units.len() > wards + 1, "{} units", relay.org.units.len());
    let mut rng = StdRng::seed_from_u64(7);
    let mut province = relay.device(&tmp.path().join("province.sqlite"), 0, "văn phòng tỉnh");
    let all: Vec<_> = relay.org.units[1..].iter().map(|u| u.id).collect();
    province.issue_directive(workload::directive(&mut rng, 1, all, "08/02/2030")).unwrap();
    sync_all(&mut province);
    let mut ward = relay.device(&tmp.path().join("ward-a.sqlite"), 1, "cán bộ phường A");
    ward.create_report(workload::report(&mut rng, None)).unwrap();
    sync_all(&mut ward);
    let pull = |ward: &mut Store, what: &str| {
        let (mut walls, mut cpus, mut devices) = (Vec::new(), Vec::new(), Vec::new());
        let mut line = String::new();
        for _ in 0..runs.max(5) {
            let m = measured_sync(ward);
            walls.push(m.wall.as_secs_f64() * 1000.0);
            cpus.push(m.relay_cpu * 1000.0);
            devices.push(m.device.as_secs_f64() * 1000.0);
            line = format!("{} B up, {} B down, {} round trip", m.up, m.down, m.report.round_trips);
        }
        println!(
            "a ward's pull {what} (median of {}): {:.2} ms end to end, device {:.2} ms, relay CPU {:.1} ms, {line}",
            walls.len(),
            median(walls),
            median(devices),
            median(cpus)
        );
    };
    pull(&mut ward, "with no other work");
    let started = Instant::now();
    for w in 0..wards {
        let mut other = relay.device(&tmp.path().join(format!("ward-{w}.sqlite")), 2 + w, "cán bộ xã");
        let id = other.create_report(workload::report(&mut rng, None)).unwrap();
        for c in 1..changes {
            let len = other.report(id).unwrap().sections[0].body.as_str().chars().count();
            other
                .splice_report_section(id, "ket_qua", rng.random_range(0..=len), 0, &format!(" {c}"))
                .unwrap();
        }
        sync_all(&mut other);
    }
    println!(
        "  ({wards} other communes made {changes} changes each in {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    let first = measured_sync(&mut ward);
    println!(
        "  first pull after: {:.2} ms end to end, {} B up, {} B down, {} round trip, {} documents received",
        first.wall.as_secs_f64() * 1000.0,
        first.up,
        first.down,
        first.report.round_trips,
        first.report.received
    );
    pull(&mut ward, &format!("after {wards} other communes made {changes} changes each"));
}

fn keystrokes(sections: usize, chars: usize, n: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let mut ward = relay.device(&tmp.path().join("ward.sqlite"), 1, "cán bộ xã");
    let mut rng = StdRng::seed_from_u64(3);
    let id = ward.create_report(long_report(&mut rng, sections, chars)).unwrap();
    let keys = ["a", "ă", "â", "đ", "ố", "ự", " ", "ạ"];
    let mut lens: Vec<usize> =
        ward.report(id).unwrap().sections.iter().map(|s| s.body.as_str().chars().count()).collect();
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let s = rng.random_range(0..sections);
        let at = rng.random_range(0..=lens[s]);
        let key = keys[i % keys.len()];
        let started = Instant::now();
        let caret = ward.splice_report_section(id, &format!("muc_{s}"), at, 0, key).unwrap();
        samples.push(started.elapsed());
        assert!(caret > at || key.is_empty());
        lens[s] += 1;
    }
    samples.sort();
    println!(
        "one keystroke made durable in a report of {sections} sections × {chars} characters ({n} keystrokes): p50 {:.2} ms, p99 {:.2} ms  [load {}]",
        percentile(&samples, 0.5).as_secs_f64() * 1000.0,
        percentile(&samples, 0.99).as_secs_f64() * 1000.0,
        load()
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    // `GIAOBAN_SCALE_PARTS=download,pull,keys` runs only some parts; `GIAOBAN_SCALE_DOCS=10000`
    // only some download sizes.
    let parts = std::env::var("GIAOBAN_SCALE_PARTS").unwrap_or_else(|_| "download,pull,keys".into());
    let part = |p: &str| parts.split(',').any(|x| x.trim() == p);
    println!("machine load at start: {}", load());
    if full {
        if part("download") {
            let sizes: Vec<usize> = std::env::var("GIAOBAN_SCALE_DOCS")
                .ok()
                .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
                .unwrap_or_else(|| vec![10_000, 100_000]);
            let cpus: Vec<(usize, f64)> = sizes.iter().map(|&n| (n, fresh_download(n, 5))).collect();
            if let [(a, ca), .., (b, cb)] = cpus.as_slice() {
                println!(
                    "relay CPU, {b} against {a} documents: {:.1}× (linear is {:.0}×)",
                    cb / ca,
                    *b as f64 / *a as f64
                );
            }
        }
        if part("pull") {
            ward_pull(100, 1_000, 5);
        }
        if part("keys") {
            keystrokes(50, 2_000, 2_000);
        }
    } else {
        fresh_download(300, 1);
        ward_pull(3, 20, 1);
        keystrokes(5, 300, 50);
    }
}
