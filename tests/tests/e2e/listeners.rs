//! Live notifications at the size of a province: 300 devices keep a stream open, and one push
//! to one ward's report makes only the devices that may read it sync, counted at the relay.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use giaoban_client_core::{NewReport, NewSection, Store, SyncHandle, SyncState};
use giaoban_e2e::Relay;
use giaoban_protocol::schema::ReportKind;
use giaoban_protocol::{DeviceId, UnitId};

const DEVICES: usize = 300;

/// Waits until `done` holds, up to `limit`.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}

/// The relay's count of answered syncs once it has stopped moving for `quiet`.
fn settled(relay: &Relay, quiet: Duration, limit: Duration) -> HashMap<DeviceId, u64> {
    let until = Instant::now() + limit;
    let mut last = relay.state.syncs_answered();
    let mut since = Instant::now();
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
        let now = relay.state.syncs_answered();
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= quiet {
            break;
        }
    }
    last
}

#[test]
fn one_push_wakes_only_the_devices_that_may_read_it() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let units = &relay.org.units;
    let parent: HashMap<UnitId, Option<UnitId>> = units.iter().map(|u| (u.id, u.parent)).collect();
    // The ward that writes, and the units that may read its report: itself and its ancestors.
    let ward = units.iter().rposition(|u| u.parent.is_some()).unwrap();
    let mut readers = HashSet::new();
    let mut at = Some(units[ward].id);
    while let Some(u) = at {
        readers.insert(u);
        at = parent[&u];
    }
    assert!(readers.len() >= 2, "the ward has a parent");

    // 300 listening devices spread over every unit of the province.
    let mut listeners: Vec<(DeviceId, UnitId, SyncHandle)> = Vec::with_capacity(DEVICES);
    for i in 0..DEVICES {
        let unit = i % units.len();
        let store = relay.device(&tmp.path().join(format!("d{i}.sqlite")), unit, &format!("Máy số {i}"));
        let device = store.device_id();
        let handle = SyncHandle::start(Arc::new(Mutex::new(store)), |_| {});
        listeners.push((device, units[unit].id, handle));
    }
    assert!(
        wait_until(Duration::from_secs(120), || {
            relay.state.listening() >= DEVICES
                && listeners.iter().all(|(_, _, h)| matches!(h.status().state, SyncState::UpToDate))
        }),
        "only {} of {DEVICES} devices listen",
        relay.state.listening()
    );
    let before = settled(&relay, Duration::from_secs(2), Duration::from_secs(60));

    // A device of the ward that is not listening writes and pushes one report.
    let mut writer: Store = relay.device(&tmp.path().join("writer.sqlite"), ward, "Máy chị Lan");
    writer
        .create_report(NewReport {
            title: "Báo cáo kết quả vận động Quỹ “Vì người nghèo”".into(),
            kind: ReportKind::Thematic,
            period: "tháng 11/2026".into(),
            answers: None,
            audience: vec![],
            sections: vec![NewSection {
                key: "ket_qua".into(),
                heading: "Kết quả".into(),
                body: "Đã vận động được gần 850 triệu đồng, hỗ trợ xây mới 12 căn nhà Đại đoàn kết.".into(),
            }],
        })
        .unwrap();
    writer.sync_now().unwrap();
    let after = settled(&relay, Duration::from_secs(2), Duration::from_secs(60));

    let mut woken_readers = 0;
    let mut woken_others = Vec::new();
    let mut readers_asleep = Vec::new();
    for (device, unit, _) in &listeners {
        let synced = after.get(device).copied().unwrap_or(0) - before.get(device).copied().unwrap_or(0);
        match (readers.contains(unit), synced > 0) {
            (true, true) => woken_readers += 1,
            (true, false) => readers_asleep.push(*device),
            (false, true) => woken_others.push(*device),
            (false, false) => {}
        }
    }
    let expected = listeners.iter().filter(|(_, u, _)| readers.contains(u)).count();
    assert!(woken_others.is_empty(), "{} devices that may not read the report synced", woken_others.len());
    assert!(readers_asleep.is_empty(), "{} devices that may read it were not woken", readers_asleep.len());
    assert_eq!(woken_readers, expected);
    for (_, _, h) in listeners {
        h.stop();
    }
}
