//! Shared by the tests that run the relay binary as its own process.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback port nobody is listening on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits (at most 20 s) until something accepts connections on 127.0.0.1:`port`.
pub fn wait_until_listening(port: u16) {
    let t0 = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(20), "the relay did not start on port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts the relay binary serving `data` on 127.0.0.1:`port`, quiet, with `env` set too, and
/// waits until it listens.
#[allow(dead_code)]
pub fn start_relay(data: &std::path::Path, port: u16, env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_giaoban-relay"));
    cmd.arg("serve")
        .env("GIAOBAN_RELAY_DATA_DIR", data)
        .env("GIAOBAN_RELAY_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    wait_until_listening(port);
    child
}

/// A ward's monthly report of one short section, titled `title`.
#[allow(dead_code)]
pub fn monthly_report(title: &str) -> giaoban_client_core::NewReport {
    giaoban_client_core::NewReport {
        title: title.into(),
        kind: giaoban_client_core::protocol::schema::ReportKind::Monthly,
        period: "tháng 01/2022".into(),
        answers: None,
        audience: vec![],
        sections: vec![giaoban_client_core::NewSection {
            key: "ket_qua".into(),
            heading: "Kết quả".into(),
            body: "Đã họp.".into(),
        }],
    }
}
