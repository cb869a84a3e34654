//! SIGKILL the relay in the middle of receiving an attached file: when it comes back on the
//! same data it holds every byte that had arrived, the device sends only the rest, the file is
//! whole once, and the partial file never counted as present.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::time::Duration;

use giaoban_client_core::protocol::schema::ReportKind;
use giaoban_client_core::protocol::wire::FileHeld;
use giaoban_client_core::{AttachTo, NewAttachment, NewReport, NewSection, Opened, Store};
use giaoban_relay::RelayStore;

fn start_relay(data: &std::path::Path, port: u16) -> Child {
    common::start_relay(data, port, &[])
}

fn status(url: &str, token: &str, hash: &str) -> (u16, Option<FileHeld>) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut resp = agent
        .get(&format!("{url}/v1/files/{hash}/status"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    let code = resp.status().as_u16();
    let body = resp.body_mut().read_to_vec().unwrap();
    (code, serde_json::from_slice(&body).ok())
}

#[test]
fn a_file_half_received_when_the_relay_is_killed_resumes_from_the_bytes_that_arrived() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let (ward_code, office_code) = {
        let store = RelayStore::open(&data).unwrap();
        let org = store.create_units_from_reference("Đồng Nai").unwrap();
        (
            store.create_enrollment(org.units[1].id, 1).unwrap().code,
            store.create_enrollment(org.units[0].id, 1).unwrap().code,
        )
    };
    let port = common::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut relay = start_relay(&data, port);
    let mut ward = Store::open(dir.path().join("ward.sqlite")).unwrap();
    ward.enroll(&url, &ward_code, "điện thoại cán bộ phường").unwrap();
    let mut office = Store::open(dir.path().join("office.sqlite")).unwrap();
    office.enroll(&url, &office_code, "máy văn phòng").unwrap();
    let id = ward
        .create_report(NewReport {
            title: "Báo cáo kết quả Tháng cao điểm Vì người nghèo".into(),
            kind: ReportKind::Thematic,
            period: String::new(),
            answers: None,
            audience: Vec::new(),
            sections: vec![NewSection {
                key: "ket_qua".into(),
                heading: "Kết quả".into(),
                body: "Tiếp nhận gần 850 triệu đồng; kèm biên bản có chữ ký.".into(),
            }],
        })
        .unwrap();
    let bytes: Vec<u8> = (0..2_500_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let a = ward
        .attach_bytes(
            AttachTo::Report(id),
            &bytes,
            NewAttachment {
                name: "biên bản.pdf".into(),
                media_type: "application/pdf".into(),
                caption: String::new(),
            },
        )
        .unwrap();
    ward.sync_now().unwrap();
    let (_, token) = ward.relay().unwrap().unwrap();
    let hex = a.hash.to_hex();

    // A piece of 1 MiB of which only 400,000 bytes leave before the relay dies.
    let piece = 1024 * 1024;
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        tcp,
        "PUT /v1/files/{hex}?offset=0 HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer {token}\r\nContent-Length: {piece}\r\n\r\n"
    )
    .unwrap();
    tcp.write_all(&bytes[..400_000]).unwrap();
    tcp.flush().unwrap();
    // Until the relay holds what was sent (it writes as bytes arrive).
    let partial = data.join("files/partial").join(&hex);
    for _ in 0..200 {
        if std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0) >= 400_000 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    relay.kill().unwrap();
    relay.wait().unwrap();
    let mut rest = Vec::new();
    let _ = tcp.read_to_end(&mut rest);

    let mut relay = start_relay(&data, port);
    let (code, held) = status(&url, &token, &hex);
    let held = held.unwrap_or_else(|| panic!("status {code}"));
    assert_eq!((held.have, held.whole), (400_000, false), "the bytes that arrived are kept");
    // A partial file is not a file: the office may not fetch it yet.
    office.sync_now().unwrap();
    assert!(matches!(office.open_attachment(a.hash).unwrap(), Opened::Fetching(_)));
    assert_eq!(office.sync_files().unwrap().fetched, 0);

    let r = ward.sync_files().unwrap();
    assert_eq!(r.sent, 1);
    assert_eq!(r.bytes_sent, bytes.len() as u64 - 400_000, "only the rest was sent");
    assert_eq!(office.sync_files().unwrap().fetched, 1);
    let Opened::Here(path) = office.open_attachment(a.hash).unwrap() else { panic!("here") };
    assert_eq!(std::fs::read(path).unwrap(), bytes);
    // Stored once: one whole file, no partial left.
    assert!(!partial.exists());
    let whole: Vec<_> = std::fs::read_dir(data.join("files").join(&hex[..2])).unwrap().collect();
    assert_eq!(whole.len(), 1);
    relay.kill().unwrap();
    relay.wait().unwrap();
}
