//! A client that trickles its request a byte at a time, against the relay binary's server on
//! 127.0.0.1:0 with a short `request_timeout_secs`: the relay cuts it off within the bound,
//! stores nothing of it, and keeps serving other devices, even with many such clients at once.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use giaoban_client_core::Store;
use giaoban_client_core::demo::dispatch_305;
use giaoban_client_core::protocol::wire::{self, DeviceMessage};
use giaoban_e2e::Relay;
use giaoban_relay::Config;

const TIMEOUT_SECS: u64 = 2;

/// How a trickled request ended.
#[derive(Debug)]
struct Trickled {
    /// Bytes of the request sent before the relay closed.
    sent: usize,
    /// What the relay answered.
    answer: String,
    /// From the first byte to the relay closing the connection (`None`: still open at the end).
    closed_after: Option<Duration>,
}

/// Sends `request` one byte every `gap`, reading whatever comes back, until the relay closes
/// the connection or `give_up` passes.
fn trickle(
    addr: &str,
    request: Vec<u8>,
    headers_at_once: usize,
    gap: Duration,
    give_up: Duration,
) -> Trickled {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let start = Instant::now();
    let closed = Arc::new(AtomicBool::new(false));
    let mut reader = s.try_clone().unwrap();
    let closed2 = closed.clone();
    let read = std::thread::spawn(move || {
        reader.set_read_timeout(Some(give_up)).unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        let end = loop {
            match reader.read(&mut buf) {
                Ok(0) => break Some(start.elapsed()),
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break Some(start.elapsed()),
                Err(_) => break None,
            }
        };
        closed2.store(true, Ordering::SeqCst);
        (String::from_utf8_lossy(&answer).into_owned(), end)
    });
    let mut sent = 0;
    if s.write_all(&request[..headers_at_once]).is_ok() {
        sent = headers_at_once;
        for b in &request[headers_at_once..] {
            if closed.load(Ordering::SeqCst) || start.elapsed() > give_up {
                break;
            }
            std::thread::sleep(gap);
            if s.write_all(std::slice::from_ref(b)).is_err() {
                break;
            }
            sent += 1;
        }
    }
    let (answer, closed_after) = read.join().unwrap();
    Trickled { sent, answer, closed_after }
}

/// A real sync request from `device` that pushes a new directive, as raw HTTP.
fn sync_request(addr: &str, device: &mut Store) -> Vec<u8> {
    let (_, token) = device.relay().unwrap().unwrap();
    let session = device.sync_session().unwrap();
    let frame = wire::encode(&DeviceMessage::Sync(device.prepare_sync(&session).unwrap().0));
    let mut req = format!(
        "POST /v1/sync HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/x-giaoban\r\nContent-Length: {}\r\n\r\n",
        frame.len()
    )
    .into_bytes();
    req.extend_from_slice(&frame);
    req
}

fn start(dir: &std::path::Path) -> Relay {
    let config =
        Config { data_dir: dir.to_path_buf(), request_timeout_secs: TIMEOUT_SECS, ..Config::default() };
    Relay::start_with(dir, config, true)
}

/// A relay with a city device holding an unsent directive and a ward device; returns the raw
/// request that would push the directive, and where its headers end.
fn setup(dir: &std::path::Path) -> (Relay, Store, Store, Vec<u8>, usize) {
    let relay = start(&dir.join("relay"));
    let mut city = relay.device(&dir.join("city.sqlite"), 0, "thanh-pho");
    let mut ward = relay.device(&dir.join("ward.sqlite"), 1, "phuong");
    ward.sync_now().unwrap();
    city.issue_directive(dispatch_305(vec![relay.org.units[1].id], "08/02/2030", "11/02/2030")).unwrap();
    let request = sync_request(&relay.addr(), &mut city);
    let header_len = request.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(request.len() - header_len > 100, "a body long enough to outlast the timeout");
    (relay, city, ward, request, header_len)
}

#[test]
fn a_trickled_body_is_cut_off_stores_nothing_and_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let (relay, mut city, mut ward, request, header_len) = setup(dir.path());
    let docs_before = relay.store.document_count().unwrap();

    // The body a byte every 100 ms would take minutes; the relay cuts it after 2 s.
    let addr = relay.addr();
    let body_trickle = std::thread::spawn({
        let request = request.clone();
        move || trickle(&addr, request, header_len, Duration::from_millis(100), Duration::from_secs(20))
    });
    // Meanwhile the ward device syncs as usual.
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    for _ in 0..5 {
        ward.sync_now().unwrap();
    }
    let others = t.elapsed();
    let body = body_trickle.join().unwrap();
    println!(
        "body trickle: closed after {:?}, {} of {} bytes sent; 5 syncs of another device meanwhile in {others:?}",
        body.closed_after,
        body.sent,
        request.len()
    );
    assert!(body.answer.starts_with("HTTP/1.1 408"), "answer: {}", body.answer);
    let closed = body.closed_after.expect("the relay closed the connection");
    assert!(closed < Duration::from_secs(TIMEOUT_SECS + 2), "closed after {closed:?}");
    assert!(others < Duration::from_secs(2), "the other device waited {others:?}");

    // Nothing of the trickled push was stored; the same request sent normally is.
    assert_eq!(relay.store.document_count().unwrap(), docs_before);
    let r = city.sync_now().unwrap();
    assert_eq!(r.acked, 1);
    assert_eq!(relay.store.document_count().unwrap(), docs_before + 1);
}

#[test]
fn many_trickling_clients_do_not_stop_a_device_from_syncing() {
    let dir = tempfile::tempdir().unwrap();
    let (relay, _city, mut ward, request, header_len) = setup(dir.path());
    let docs_before = relay.store.document_count().unwrap();
    // 64 connections: half trickle their body, half their headers, a byte every 200 ms.
    let clients: Vec<_> = (0..64)
        .map(|i| {
            let (addr, request) = (relay.addr(), request.clone());
            let at_once = if i % 2 == 0 { header_len } else { 0 };
            std::thread::spawn(move || {
                trickle(&addr, request, at_once, Duration::from_millis(200), Duration::from_secs(6))
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let t = Instant::now();
        ward.sync_now().unwrap();
        slowest = slowest.max(t.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }
    let results: Vec<Trickled> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let body_cut = results
        .iter()
        .step_by(2)
        .filter(|r| r.closed_after.is_some_and(|d| d < Duration::from_secs(TIMEOUT_SECS + 2)))
        .count();
    println!(
        "64 trickling connections: {body_cut} of 32 body tricklers cut within {} s; slowest of 20 syncs by another device {slowest:?}",
        TIMEOUT_SECS + 2
    );
    assert_eq!(body_cut, 32);
    assert!(slowest < Duration::from_secs(1), "a sync took {slowest:?} among trickling clients");
    assert_eq!(relay.store.document_count().unwrap(), docs_before);
}

/// A client trickling its request headers (before the request timeout can start) is cut off
/// by the header read timeout, which is the same `request_timeout_secs`.
#[test]
fn a_client_trickling_its_headers_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let (relay, _city, _ward, request, _) = setup(dir.path());
    let whole = trickle(&relay.addr(), request, 0, Duration::from_millis(300), Duration::from_secs(30));
    println!("header trickle: closed after {:?}, {} bytes sent", whole.closed_after, whole.sent);
    let closed = whole.closed_after.expect("the relay closed a connection trickling its headers");
    assert!(closed < Duration::from_secs(TIMEOUT_SECS + 2), "closed after {closed:?}");
}
