//! Sync benchmark: bytes on the wire and round trips for the anchor workload (1,000 task
//! documents of a handful of scalar fields and ~80 characters of text), the relay's memory, and
//! no-change syncs per second. The relay runs as its own process (the real binary); devices
//! reach it through a byte-counting TCP proxy, so the figures include HTTP headers.
//!
//! `cargo bench -p giaoban-relay --bench sync` (full). Without `--bench` (as `cargo test
//! --benches` runs it) it does a smoke run with 100 documents.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use giaoban_client_core::demo::anchor_task;
use giaoban_client_core::{Store, SyncReport};
use giaoban_relay::RelayStore;

mod relay_process;
use relay_process::{RelayProcess, rss_kb};

/// Counts bytes each way between devices and the relay.
struct Proxy {
    addr: String,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
    connections: Arc<AtomicU64>,
}

fn pipe(mut from: TcpStream, mut to: TcpStream, counter: Arc<AtomicU64>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                counter.fetch_add(n as u64, Ordering::Relaxed);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

impl Proxy {
    fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (up, down, connections) =
            (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (u, d, c) = (up.clone(), down.clone(), connections.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                c.fetch_add(1, Ordering::Relaxed);
                let Ok(server) = TcpStream::connect(&target) else { continue };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (u, d) = (u.clone(), d.clone());
                std::thread::spawn(move || pipe(client, server, u));
                std::thread::spawn(move || pipe(s2, c2, d));
            }
        });
        Proxy { addr, up, down, connections }
    }

    fn take(&self) -> (u64, u64) {
        (self.up.swap(0, Ordering::Relaxed), self.down.swap(0, Ordering::Relaxed))
    }
}

fn line(what: &str, up: u64, down: u64, r: &SyncReport, target: &str) {
    println!(
        "{what:<34} up {:>9} B  down {:>9} B  total {:>9} B  round trips {:>3}   {target}",
        up,
        down,
        up + down,
        r.round_trips
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let docs: usize = if full { 1000 } else { 100 };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");

    // Units and enrollment codes, written before the relay process starts.
    let (org, codes) = {
        let store = RelayStore::open(&data).unwrap();
        let org = store.create_units_from_reference("Đồng Nai").unwrap();
        let codes: Vec<String> =
            (0..3).map(|i| store.create_enrollment(org.units[i.min(1)].id, 1).unwrap().code).collect();
        (org, codes)
    };
    let relay = RelayProcess::start(&data);
    let target = relay.addr.clone();
    let proxy = Proxy::start(target);
    let url = format!("http://{}", proxy.addr);
    println!("giaoban sync benchmark: {docs} task documents ({})", if full { "full" } else { "smoke" });
    println!("relay RSS after start: {:.1} MB", rss_kb(relay.pid()) as f64 / 1024.0);

    let mut city = Store::open(dir.path().join("city.sqlite")).unwrap();
    city.enroll(&url, &codes[0], "city").unwrap();
    let ward_unit = org.units[1].id;
    for i in 0..docs {
        city.issue_directive(anchor_task(i, ward_unit)).unwrap();
    }
    proxy.take();

    let r = city.sync_now().unwrap();
    let (up, down) = proxy.take();
    line(&format!("upload {docs} new"), up, down, &r, "target ≤ 450 KB for 1000");
    assert_eq!(r.acked, docs);

    let mut ward = Store::open(dir.path().join("ward.sqlite")).unwrap();
    ward.enroll(&url, &codes[1], "ward").unwrap();
    proxy.take();
    let r = ward.sync_now().unwrap();
    let (up, down) = proxy.take();
    line(&format!("fresh download of {docs}"), up, down, &r, "target ≤ 450 KB for 1000");
    assert!(r.received >= docs);

    let r = ward.sync_now().unwrap();
    let (up, down) = proxy.take();
    line("no-change reconnect", up, down, &r, "target ≤ 1 KB, 1 round trip");

    let ids = city.document_ids(Some(giaoban_client_core::protocol::DocKind::Directive)).unwrap();
    for (i, id) in ids.iter().take(10).enumerate() {
        city.set_task_text(
            *id,
            1,
            &format!("Rà soát mô hình số {i:04}: đã cập nhật nội dung, báo cáo qua đ/c Muối."),
        )
        .unwrap();
    }
    proxy.take();
    let r = city.sync_now().unwrap();
    let (up, down) = proxy.take();
    line("10 of them edited: upload", up, down, &r, "target ≤ 4 KB, 1 round trip");
    let r = ward.sync_now().unwrap();
    let (up, down) = proxy.take();
    line("10 of them edited: download", up, down, &r, "target ≤ 4 KB, 1 round trip");
    println!(
        "relay RSS with {docs} documents stored: {:.1} MB (target ≤ 30 MB)",
        rss_kb(relay.pid()) as f64 / 1024.0
    );

    // No-change syncs per second: raw frames over keep-alive connections, straight to the relay.
    let (_, token) = ward.relay().unwrap().unwrap();
    let session = ward.sync_session().unwrap();
    let frame = giaoban_client_core::protocol::wire::encode(
        &giaoban_client_core::protocol::wire::DeviceMessage::Sync(
            session.request(Default::default(), Default::default(), vec![]).0,
        ),
    );
    let seconds = if full { 5.0 } else { 1.0 };
    let clients = 4;
    let direct = relay.addr.clone();
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (frame, token, done) = (frame.clone(), token.clone(), done.clone());
            let url = format!("http://{direct}/v1/sync");
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
                while start.elapsed().as_secs_f64() < seconds {
                    let mut resp = agent
                        .post(&url)
                        .header("Authorization", &format!("Bearer {token}"))
                        .send(&frame[..])
                        .unwrap();
                    let _ = resp.body_mut().read_to_vec().unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let rate = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    println!("no-change syncs per second: {rate:.0} ({clients} clients on the same 2 cores; target ≥ 5,000)");
    println!("connections through the proxy: {}", proxy.connections.load(Ordering::Relaxed));
}
