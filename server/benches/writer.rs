//! The relay's writer under many devices: durable changes per second with 64 ward devices,
//! each pushing one small edit per request, over 128 reports whose histories already hold 500
//! changes each. The relay runs as its own process (the release binary, embedded SQLite); the
//! devices speak the wire protocol directly over keep-alive connections, so the figure is the
//! relay's (parsing, checking, storing, committing, answering) and not the devices' stores.
//!
//! `cargo bench -p giaoban-relay --bench writer` (full: 64 devices, 500 changes of history,
//! 10 s of pushes, five runs). Without `--bench` (as `cargo test --benches` runs it) it does a
//! smoke run with 8 devices, 20 changes of history and 1 s of pushes.
//! `GIAOBAN_WRITER_HISTORY`, `GIAOBAN_WRITER_DEVICES`, `GIAOBAN_WRITER_SECONDS` and
//! `GIAOBAN_WRITER_RUNS` change those.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use automerge::{AutoCommit, ROOT, transaction::Transactable};
use giaoban_client_core::Store;
use giaoban_client_core::domain::{NewReport, NewSection};
use giaoban_client_core::protocol::schema::ReportKind;
use giaoban_client_core::protocol::session::{DeviceSession, HavePage, PushPage};
use giaoban_client_core::protocol::wire::{self, DeviceMessage, DocChanges, RelayMessage};
use giaoban_client_core::protocol::{DeviceId, DocId};
use giaoban_relay::RelayStore;

mod relay_process;
use relay_process::{RelayProcess, rss_kb};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// User and system CPU seconds of process `pid`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, s)| s).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn rss_mb(pid: u32) -> f64 {
    rss_kb(pid) as f64 / 1024.0
}

/// One ward device speaking the protocol itself: its token, its place in its unit's log and
/// its two reports, edited with its own actor.
struct Device {
    token: String,
    session: DeviceSession,
    docs: Vec<(DocId, AutoCommit)>,
}

impl Device {
    /// Pushes `docs` (each document's changes since `since`) and takes the answer.
    fn sync(&mut self, agent: &ureq::Agent, url: &str, push: Vec<DocChanges>) -> usize {
        let (req, sent) =
            self.session.request(PushPage { docs: push, more: false }, HavePage::default(), vec![]);
        let frame = wire::encode(&DeviceMessage::Sync(req));
        let mut resp = agent
            .post(url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .send(&frame[..])
            .unwrap();
        assert_eq!(resp.status(), 200, "the relay refused a sync");
        let body = resp.body_mut().with_config().limit(64 * 1024 * 1024).read_to_vec().unwrap();
        let RelayMessage::Sync(answer) = wire::decode::<RelayMessage>(&body).unwrap();
        assert!(answer.rejects.is_empty(), "the relay refused an edit: {:?}", answer.rejects);
        assert!(answer.wanted.is_empty(), "the relay asked for a document in full");
        let acked = answer.acks.len();
        let _ = self.session.handle(answer, &sent);
        acked
    }

    /// One small edit of report `which`: a new title.
    fn edit(&mut self, which: usize, n: u64) -> DocChanges {
        let (doc, am) = &mut self.docs[which];
        let before = am.get_heads();
        am.put(ROOT, "title", format!("Báo cáo kết quả thực hiện quý I/2030 (lần sửa {n})")).unwrap();
        am.commit();
        let changes = am.get_changes(&before).into_iter().map(|c| c.raw_bytes().to_vec()).collect();
        DocChanges { doc: *doc, changes, vouchers: vec![] }
    }
}

fn report(ward: &str) -> NewReport {
    NewReport {
        title: "Báo cáo kết quả thực hiện quý I/2030".into(),
        kind: ReportKind::Thematic,
        period: "quý I/2030".into(),
        answers: None,
        audience: vec![],
        sections: vec![NewSection {
            key: "ket_qua".into(),
            heading: "Kết quả thực hiện".into(),
            body: format!(
                "{ward} đã rà soát 12 hộ nghèo, vận động được 35 triệu đồng cho quỹ Vì người nghèo."
            ),
        }],
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let devices = env_or("GIAOBAN_WRITER_DEVICES", if full { 64 } else { 8 });
    let history = env_or("GIAOBAN_WRITER_HISTORY", if full { 500 } else { 20 });
    let seconds = env_or("GIAOBAN_WRITER_SECONDS", if full { 10 } else { 1 }) as f64;
    let runs = env_or("GIAOBAN_WRITER_RUNS", if full { 5 } else { 1 });
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");

    let (org, codes) = {
        let store = RelayStore::open(&data).unwrap();
        let org = store.create_units_from_reference("Đồng Nai").unwrap();
        assert!(org.units.len() > devices, "the reference has {} units", org.units.len());
        let codes: Vec<String> =
            (0..devices).map(|i| store.create_enrollment(org.units[1 + i].id, 1).unwrap().code).collect();
        (org, codes)
    };
    let relay = RelayProcess::start(&data);
    let target = relay.addr.clone();
    let base = format!("http://{target}");
    let url = format!("{base}/v1/sync");
    println!(
        "giaoban relay writer benchmark ({}): {devices} ward devices, {} reports, {history} changes of history each",
        if full { "full" } else { "smoke" },
        devices * 2
    );

    // Each ward's phone writes two reports through client-core and sends them; from then on
    // the bench speaks for the device itself, with the device's own actor.
    let started = Instant::now();
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let mut fleet: Vec<Device> = Vec::with_capacity(devices);
    for (i, code) in codes.iter().enumerate() {
        let ward = &org.units[1 + i].name;
        let mut store = Store::open(dir.path().join(format!("ward-{i}.sqlite"))).unwrap();
        store.enroll(&base, code, &format!("điện thoại {ward}")).unwrap();
        let ids: Vec<DocId> = (0..2).map(|_| store.create_report(report(ward)).unwrap()).collect();
        store.sync_now().unwrap();
        let device: DeviceId = store.device_id();
        let docs = ids
            .iter()
            .map(|id| {
                let mut am = AutoCommit::load(&store.save_document(*id).unwrap()).unwrap();
                am.set_actor(device.actor_id());
                (*id, am)
            })
            .collect();
        let (_, token) = store.relay().unwrap().unwrap();
        fleet.push(Device { token, session: store.sync_session().unwrap(), docs });
    }
    // The histories: `history` edits of each report, sent 100 to a request.
    let mut n = 0u64;
    for d in &mut fleet {
        for which in 0..2 {
            let mut left = history;
            while left > 0 {
                let take = left.min(100);
                let mut page = d.edit(which, n);
                for _ in 1..take {
                    n += 1;
                    page.changes.extend(d.edit(which, n).changes);
                }
                n += 1;
                left -= take;
                assert_eq!(d.sync(&agent, &url, vec![page]), 1);
            }
        }
    }
    println!(
        "set-up: {} changes stored in {:.1} s; relay RSS {:.1} MB",
        devices * 2 * (history + 1),
        started.elapsed().as_secs_f64(),
        rss_mb(relay.pid())
    );

    let pid = relay.pid();
    let mut rates = Vec::with_capacity(runs);
    for run in 1..=runs {
        let done = Arc::new(AtomicU64::new(0));
        let cpu_before = cpu_seconds(pid);
        let devices_cpu_before = cpu_seconds(std::process::id());
        let start = Instant::now();
        let threads: Vec<_> = fleet
            .drain(..)
            .enumerate()
            .map(|(i, mut d)| {
                let (done, url) = (done.clone(), url.clone());
                std::thread::spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
                    let mut latencies = Vec::new();
                    let mut k = 0u64;
                    while start.elapsed().as_secs_f64() < seconds {
                        let edit = d.edit((k % 2) as usize, (i as u64) << 32 | k);
                        let t = Instant::now();
                        assert_eq!(d.sync(&agent, &url, vec![edit]), 1, "the edit was not acknowledged");
                        latencies.push(t.elapsed());
                        done.fetch_add(1, Ordering::Relaxed);
                        k += 1;
                    }
                    (d, latencies)
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for t in threads {
            let (d, l) = t.join().unwrap();
            fleet.push(d);
            latencies.extend(l);
        }
        let elapsed = start.elapsed().as_secs_f64();
        let cpu = cpu_seconds(pid) - cpu_before;
        let devices_cpu = cpu_seconds(std::process::id()) - devices_cpu_before;
        latencies.sort();
        let at = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        let count = done.load(Ordering::Relaxed);
        let rate = count as f64 / elapsed;
        rates.push(rate);
        println!(
            "run {run}: {rate:>6.0} durable changes/s ({count} in {elapsed:.1} s); a push answered in p50 {:.1} ms, p99 {:.1} ms; relay CPU {:.2} s ({:.0} µs a change), devices' CPU {:.2} s",
            at(0.5).as_secs_f64() * 1000.0,
            at(0.99).as_secs_f64() * 1000.0,
            cpu,
            cpu / count as f64 * 1e6,
            devices_cpu
        );
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "median of {runs}: {:.0} durable changes/s (target ≥ 2,000 on 2 cores); relay RSS {:.1} MB",
        rates[rates.len() / 2],
        rss_mb(pid)
    );
}
