//! The relay as the benchmarks run it: the real binary in its own process, on a data folder
//! made beforehand, with the per-device sync limit lifted (the benchmarks send thousands of
//! syncs a second from few devices). `GIAOBAN_BENCH_RELAY` names another build of the binary
//! to measure instead (of an earlier commit, say, for a comparison on the same machine and
//! load; it must read the same data folder).

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running relay, killed when dropped.
pub struct RelayProcess {
    child: Child,
    /// "127.0.0.1:PORT".
    pub addr: String,
}

impl RelayProcess {
    /// Starts `giaoban-relay serve` on `data` and waits until it listens.
    pub fn start(data: &Path) -> RelayProcess {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        RelayProcess::start_on(data, port)
    }

    /// Stops the relay and starts it again on the same data folder and address, so devices
    /// carry on as after an operator's restart.
    #[allow(dead_code)]
    pub fn restart(&mut self, data: &Path) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let port = self.addr.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).unwrap();
        *self = RelayProcess::start_on(data, port);
    }

    fn start_on(data: &Path, port: u16) -> RelayProcess {
        let binary = std::env::var("GIAOBAN_BENCH_RELAY")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_giaoban-relay").into());
        let child = Command::new(binary)
            .arg("serve")
            .env("GIAOBAN_RELAY_DATA_DIR", data)
            .env("GIAOBAN_RELAY_LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .env("GIAOBAN_RELAY_MAX_SYNCS_PER_MINUTE", "100000000")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let relay = RelayProcess { child, addr: format!("127.0.0.1:{port}") };
        let t0 = Instant::now();
        while TcpStream::connect(&relay.addr).is_err() {
            assert!(t0.elapsed() < Duration::from_secs(20), "the relay did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        relay
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of process `pid`, in KiB.
pub fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
