//! SIGKILL the relay again and again while several devices push concurrently: every change it
//! acknowledged is there when it comes back on the same data.

use crate::common;

use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use giaoban_client_core::protocol::schema::ReportKind;
use giaoban_client_core::protocol::wire::DocHeads;
use giaoban_client_core::{DeliveryState, NewReport, NewSection, Store};
use giaoban_relay::RelayStore;

fn start_relay(data: &std::path::Path, port: u16) -> Child {
    common::start_relay(data, port, &[("GIAOBAN_RELAY_MAX_SYNCS_PER_MINUTE", "1000000")])
}

#[test]
fn acknowledged_changes_survive_sigkill_of_the_relay() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let (org, codes) = {
        let store = RelayStore::open(&data).unwrap();
        let org = store.create_units_from_reference("Đồng Nai").unwrap();
        let codes: Vec<String> =
            (1..4).map(|i| store.create_enrollment(org.units[i].id, 1).unwrap().code).collect();
        (org, codes)
    };
    let port = common::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut relay = start_relay(&data, port);
    let city = org.units[0].id;
    let paths: Vec<_> = (0..3).map(|i| dir.path().join(format!("ward{i}.sqlite"))).collect();
    for (path, code) in paths.iter().zip(&codes) {
        Store::open(path).unwrap().enroll(&url, code, "phone").unwrap();
    }

    let mut acked_total = 0;
    for round in 0..4 {
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = paths
            .iter()
            .enumerate()
            .map(|(w, path)| {
                let (path, stop) = (path.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut s = Store::open(&path).unwrap();
                    let mut n = 0;
                    while !stop.load(Ordering::SeqCst) {
                        n += 1;
                        s.create_report(NewReport {
                            title: format!("Báo cáo vòng {round}, số {n} của phường {w}"),
                            kind: ReportKind::AdHoc,
                            period: String::new(),
                            answers: None,
                            audience: vec![city],
                            sections: vec![NewSection {
                                key: "ket_qua".into(),
                                heading: "Kết quả".into(),
                                body: "Vận động Quỹ Vì người nghèo được gần 850 triệu đồng.".into(),
                            }],
                        })
                        .unwrap();
                        // The relay may be dead mid-sync: the error is expected; local work stays.
                        if s.sync_now().is_err() {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300 + 150 * round));
        relay.kill().unwrap(); // SIGKILL
        relay.wait().unwrap();
        stop.store(true, Ordering::SeqCst);
        for w in writers {
            w.join().unwrap();
        }

        // Every document a device saw acknowledged is in the relay's file, up to those heads.
        let store = RelayStore::open(&data).unwrap();
        let (mut missing, mut acked) = (Vec::new(), 0);
        for path in &paths {
            let mut s = Store::open(path).unwrap();
            let mut have = Vec::new();
            for id in s.document_ids(None).unwrap() {
                if s.delivery_state(id).unwrap() == DeliveryState::OnRelay {
                    let heads = s.acked_heads(id).unwrap();
                    have.push(DocHeads { doc: id, heads: heads.iter().map(|h| h.0).collect() });
                }
            }
            acked += have.len();
            missing.extend(store.wanted(s.unit().unwrap(), &have).unwrap());
        }
        assert!(
            missing.is_empty(),
            "round {round}: {} acknowledged documents lost: {missing:?}",
            missing.len()
        );
        acked_total = acked;
        println!("round {round}: {acked_total} acknowledged documents all present after SIGKILL");
        drop(store);
        relay = start_relay(&data, port);
    }
    // After the last restart everything pending gets through.
    for path in &paths {
        let mut s = Store::open(path).unwrap();
        s.sync_now().unwrap();
        assert_eq!(s.pending_changes_count().unwrap(), 0);
    }
    relay.kill().unwrap();
    relay.wait().unwrap();
    assert!(acked_total > 10, "the devices got documents acknowledged ({acked_total})");
}
