//! A TCP proxy for bad links: it can throttle to a bandwidth, add one-way delay, and cut
//! connections in the middle of the relay's answers (and of the device's requests). Seeded, so
//! a failing run can be replayed. The bandwidth is one link's, shared by every connection in
//! each direction, as a phone's is: a document sync made while a file goes up waits its turn
//! chunk by chunk.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the link misbehaves.
#[derive(Debug, Clone, Copy)]
pub struct LinkFaults {
    /// Bytes per second each way; `None` for unlimited.
    pub bytes_per_second: Option<u64>,
    /// Added to each burst of traffic in each direction (half the round-trip time).
    pub one_way_delay: Duration,
    /// Probability, for each chunk (up to 4 KiB) of the relay's bytes, that the connection is
    /// cut partway through it.
    pub cut_probability: f64,
    /// Seed of the cut decisions.
    pub seed: u64,
    /// Whether the device's bytes may be cut too (with the same probability per chunk).
    pub cut_uploads: bool,
}

/// A running proxy.
pub struct FaultProxy {
    /// "http://127.0.0.1:PORT".
    pub url: String,
    /// Connections cut so far.
    pub cuts: Arc<AtomicU64>,
    /// Bytes from the relay to devices.
    pub down_bytes: Arc<AtomicU64>,
    /// Bytes from devices to the relay.
    pub up_bytes: Arc<AtomicU64>,
    /// Connections devices opened through the proxy.
    pub connections: Arc<AtomicU64>,
}

fn next_random(state: &Mutex<u64>) -> u64 {
    // xorshift64*: deterministic for a seed.
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    s.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// When one direction of the link is next free.
type Link = Arc<Mutex<Instant>>;

fn pipe(
    mut from: TcpStream,
    mut to: TcpStream,
    faults: LinkFaults,
    rng: Option<Arc<Mutex<u64>>>,
    counter: Arc<AtomicU64>,
    link: Link,
) -> bool {
    let mut buf = [0u8; 4096];
    let mut last = Instant::now() - Duration::from_secs(1);
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if last.elapsed() > Duration::from_millis(50) {
            std::thread::sleep(faults.one_way_delay);
        }
        let mut chunk = &buf[..n];
        let mut cut = false;
        if let Some(rng) = &rng {
            let roll = (next_random(rng) % 1_000_000) as f64 / 1_000_000.0;
            if roll < faults.cut_probability {
                chunk = &buf[..(next_random(rng) % n as u64) as usize];
                cut = true;
            }
        }
        if let Some(rate) = faults.bytes_per_second {
            let takes = Duration::from_secs_f64(chunk.len() as f64 / rate as f64);
            let done = {
                let mut free = link.lock().unwrap_or_else(|p| p.into_inner());
                let start = (*free).max(Instant::now());
                *free = start + takes;
                *free
            };
            std::thread::sleep(done.saturating_duration_since(Instant::now()));
        }
        if to.write_all(chunk).is_err() {
            break;
        }
        counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        last = Instant::now();
        if cut {
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
            return true;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    false
}

impl FaultProxy {
    /// Starts a proxy to `target` ("127.0.0.1:PORT"). Each new connection costs one round
    /// trip (twice the one-way delay) before its first byte passes, as a TCP handshake does on
    /// a real link.
    pub fn start(target: &str, faults: LinkFaults) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let cuts = Arc::new(AtomicU64::new(0));
        let down_bytes = Arc::new(AtomicU64::new(0));
        let up_bytes = Arc::new(AtomicU64::new(0));
        let connections = Arc::new(AtomicU64::new(0));
        let rng = Arc::new(Mutex::new(faults.seed.max(1)));
        let (target, c, d, n) = (target.to_string(), cuts.clone(), down_bytes.clone(), connections.clone());
        let u = up_bytes.clone();
        let (up_link, down_link): (Link, Link) =
            (Arc::new(Mutex::new(Instant::now())), Arc::new(Mutex::new(Instant::now())));
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                n.fetch_add(1, Ordering::Relaxed);
                let (target, c, d, u, rng) = (target.clone(), c.clone(), d.clone(), u.clone(), rng.clone());
                let (up_link, down_link) = (up_link.clone(), down_link.clone());
                std::thread::spawn(move || {
                    // SYN one way, SYN-ACK back: the device's request can leave only then.
                    std::thread::sleep(faults.one_way_delay * 2);
                    let Ok(server) = TcpStream::connect(&target) else { return };
                    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else { return };
                    let up_rng = faults.cut_uploads.then(|| rng.clone());
                    let c_up = c.clone();
                    std::thread::spawn(move || {
                        if pipe(client, server, faults, up_rng, u, up_link) {
                            c_up.fetch_add(1, Ordering::Relaxed);
                        }
                    });
                    if pipe(s2, c2, faults, Some(rng), d, down_link) {
                        c.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        FaultProxy { url, cuts, down_bytes, up_bytes, connections }
    }
}
