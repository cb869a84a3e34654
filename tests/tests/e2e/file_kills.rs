//! A device killed with SIGKILL in the middle of sending or fetching an attached file resumes
//! from where it was on its next run: nothing is sent or stored twice, and a partial file never
//! counts as present.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use giaoban_client_core::protocol::BlobHash;
use giaoban_client_core::protocol::schema::ReportKind;
use giaoban_client_core::{AttachTo, NewAttachment, NewReport, NewSection, Opened, Store};
use giaoban_e2e::Relay;
use giaoban_e2e::proxy::{FaultProxy, LinkFaults};
use giaoban_e2e::workload::photo;

const CHILD_STORE: &str = "GIAOBAN_CHILD_FILES_STORE";
const CHILD_OPEN: &str = "GIAOBAN_CHILD_FILES_OPEN";

/// Runs only as the child process: opens the file named (if any), then runs the lane of
/// files, printing every step of every transfer, until killed.
#[test]
fn files_child_device() {
    let Ok(path) = std::env::var(CHILD_STORE) else { return };
    let store = std::sync::Mutex::new(Store::open(&path).unwrap());
    if let Ok(hash) = std::env::var(CHILD_OPEN) {
        store.lock().unwrap().open_attachment(hash.parse().unwrap()).unwrap();
    }
    let tell = |_: BlobHash, s: &giaoban_client_core::FileState| {
        println!("progress sent={} got={}", s.sent, s.got);
    };
    loop {
        let _ = giaoban_client_core::sync_files_shared(&store, &tell, &AtomicBool::new(false));
    }
}

/// Runs the child on `store` and kills it with SIGKILL once a transfer step shows more than
/// `after` bytes moved. Returns the last step it printed.
fn kill_child_after(store: &std::path::Path, open: Option<BlobHash>, after: u64) -> u64 {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args(["file_kills::files_child_device", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_STORE, store)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(h) = open {
        cmd.env(CHILD_OPEN, h.to_hex());
    }
    let mut child = cmd.spawn().unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = 0;
    for line in out.lines() {
        let line = line.unwrap();
        let Some(rest) = line.strip_prefix("progress ") else { continue };
        // A send moves `sent`; a fetch moves `got` (its `sent` is what the relay holds).
        let key = if open.is_some() { "got" } else { "sent" };
        let moved: u64 = rest
            .split(' ')
            .filter_map(|kv| {
                kv.split_once('=').filter(|(k, _)| *k == key).and_then(|(_, v)| v.parse::<u64>().ok())
            })
            .max()
            .unwrap_or(0);
        seen = moved;
        if moved > after {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    seen
}

#[test]
fn sigkill_mid_send_and_mid_fetch_resumes_where_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    // Slow enough that a kill lands mid-transfer: 3 MiB at 400 KB/s take about 8 s.
    let faults = LinkFaults {
        bytes_per_second: Some(400_000),
        one_way_delay: Duration::from_millis(5),
        cut_probability: 0.0,
        seed: 1,
        cut_uploads: false,
    };
    let proxy = FaultProxy::start(&relay.addr(), faults);
    let ward_path = tmp.path().join("ward.sqlite");
    let office_path = tmp.path().join("office.sqlite");
    let mut ward = relay.device_via(&proxy.url, &ward_path, 1, "điện thoại cán bộ xã");
    let mut office = relay.device_via(&proxy.url, &office_path, 0, "máy văn phòng tỉnh");
    let id = ward
        .create_report(NewReport {
            title: "Báo cáo bàn giao nhà Đại đoàn kết".into(),
            kind: ReportKind::Thematic,
            period: "quý IV/2025".into(),
            answers: None,
            audience: Vec::new(),
            sections: vec![NewSection {
                key: "ket_qua".into(),
                heading: "Kết quả".into(),
                body: "Đã bàn giao nhà cho hộ bà Điểu Thị Lành.".into(),
            }],
        })
        .unwrap();
    let bytes = photo(3 * 1024 * 1024, 21);
    let a = ward
        .attach_bytes(
            AttachTo::Report(id),
            &bytes,
            NewAttachment {
                name: "ảnh.jpg".into(), media_type: "image/jpeg".into(), caption: String::new()
            },
        )
        .unwrap();
    ward.sync_now().unwrap();
    office.sync_now().unwrap();
    drop((ward, office));

    // Killed mid-send.
    let seen = kill_child_after(&ward_path, None, 1024 * 1024);
    assert!(seen > 1024 * 1024 && seen < bytes.len() as u64, "killed after {seen} bytes");
    let (url, token) = Store::open(&ward_path).unwrap().relay().unwrap().unwrap();
    // Bytes the killed device had already written may still be on their way through the
    // proxy and be appended after the kill: wait until what the relay holds stops changing.
    let held = settled_status(&url, &token, &a.hash);
    assert!(!held.whole && held.have >= seen, "the relay holds {} after a kill at {seen}", held.have);
    let mut ward = Store::open(&ward_path).unwrap();
    let r = ward.sync_files().unwrap();
    assert_eq!(r.sent, 1);
    assert_eq!(r.bytes_sent, bytes.len() as u64 - held.have, "only the rest is sent");
    let partials = tmp.path().join("relay/files/partial");
    assert_eq!(std::fs::read_dir(&partials).unwrap().count(), 0, "no partial file is left on the relay");

    // Killed mid-fetch.
    let seen = kill_child_after(&office_path, Some(a.hash), 1024 * 1024);
    assert!(seen > 1024 * 1024 && seen < bytes.len() as u64, "killed after {seen} bytes");
    let mut office = Store::open(&office_path).unwrap();
    let state = office.file_state(a.hash).unwrap();
    assert!(!state.here, "a partial file is not here");
    assert!(matches!(office.open_attachment(a.hash).unwrap(), Opened::Fetching(_)));
    let r = office.sync_files().unwrap();
    assert_eq!(r.fetched, 1);
    assert!(
        r.bytes_received <= bytes.len() as u64 - seen,
        "{} bytes fetched after a kill at {seen} of {}",
        r.bytes_received,
        bytes.len()
    );
    let Opened::Here(path) = office.open_attachment(a.hash).unwrap() else { panic!("here") };
    assert_eq!(std::fs::read(path).unwrap(), bytes);
    let folder = tmp.path().join("office.sqlite.files");
    let names: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec![a.hash.to_hex()], "one whole file, no partial left");
}

/// The relay's answer once it has been the same for a second (read every 200 ms).
fn settled_status(url: &str, token: &str, hash: &BlobHash) -> giaoban_client_core::protocol::wire::FileHeld {
    let mut last = status(url, token, hash);
    let mut same = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while same < 5 {
        assert!(std::time::Instant::now() < deadline, "the relay's copy never settled: {last:?}");
        std::thread::sleep(Duration::from_millis(200));
        let now = status(url, token, hash);
        same = if now.have == last.have && now.whole == last.whole { same + 1 } else { 0 };
        last = now;
    }
    last
}

fn status(url: &str, token: &str, hash: &BlobHash) -> giaoban_client_core::protocol::wire::FileHeld {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut resp = agent
        .get(&format!("{url}/v1/files/{hash}/status"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    serde_json::from_slice(&resp.body_mut().read_to_vec().unwrap()).unwrap()
}
