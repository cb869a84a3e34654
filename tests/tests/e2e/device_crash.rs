//! A device killed with SIGKILL in the middle of writing and syncing loses nothing it had
//! written, and its next sync delivers everything exactly once.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use giaoban_client_core::protocol::schema::ReportKind;
use giaoban_client_core::protocol::{DocId, DocKind, UnitId};
use giaoban_client_core::{NewReport, NewSection, Store};
use giaoban_e2e::Relay;

const CHILD_STORE: &str = "GIAOBAN_CHILD_STORE";
const CHILD_CITY: &str = "GIAOBAN_CHILD_CITY";

/// Runs only as the child process: writes reports and syncs until killed.
#[test]
fn crash_child_device() {
    let (Ok(path), Ok(city)) = (std::env::var(CHILD_STORE), std::env::var(CHILD_CITY)) else { return };
    let city: UnitId = city.parse().unwrap();
    let mut s = Store::open(&path).unwrap();
    let out = std::io::stdout();
    for n in 0.. {
        let id = s
            .create_report(NewReport {
                title: format!("Báo cáo nhanh số {n}"),
                kind: ReportKind::AdHoc,
                period: String::new(),
                answers: None,
                audience: vec![city],
                sections: vec![NewSection {
                    key: "ket_qua".into(),
                    heading: "Kết quả".into(),
                    body: "Đã xong.".into(),
                }],
            })
            .unwrap();
        writeln!(out.lock(), "written {id}").unwrap();
        if n % 3 == 0 {
            // The kill may land in the middle of this.
            let _ = s.sync_now();
        }
        out.lock().flush().unwrap();
    }
}

#[test]
fn sigkill_mid_sync_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let path = dir.path().join("ward.sqlite");
    drop(relay.device(&path, 1, "ward"));
    let city = relay.org.units[0].id;
    let exe = std::env::current_exe().unwrap();
    let mut written: Vec<DocId> = Vec::new();
    for (round, kill_after) in [25usize, 60, 11].into_iter().enumerate() {
        let mut child = Command::new(&exe)
            .args(["device_crash::crash_child_device", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_STORE, &path)
            .env(CHILD_CITY, city.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut seen = 0;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            if let Some(id) = line.strip_prefix("written ") {
                written.push(id.parse().unwrap());
                seen += 1;
                if seen >= kill_after {
                    child.kill().unwrap();
                    break;
                }
            }
        }
        child.wait().unwrap();
        let mut s = Store::open(&path).unwrap();
        for id in &written {
            assert!(s.report(*id).is_ok(), "round {round}: written report {id} lost");
        }
    }
    // The next sync delivers everything; the relay has each report once.
    let mut s = Store::open(&path).unwrap();
    s.sync_now().unwrap();
    assert_eq!(s.pending_changes_count().unwrap(), 0);
    let mut city_dev = relay.device(&dir.path().join("city.sqlite"), 0, "city");
    city_dev.sync_now().unwrap();
    let reports = city_dev.document_ids(Some(DocKind::Report)).unwrap();
    for id in &written {
        assert!(reports.contains(id), "report {id} never reached the city");
    }
    assert!(reports.len() >= written.len());
}
