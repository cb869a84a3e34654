//! Restores of the relay in odd orders, answers lost on the way, a relay restored from another
//! relay's backup, a device enrolled after the backup.

use super::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use giaoban_client_core::{Store, TaskFilter, TaskScope};
use giaoban_e2e::{Relay, raw_sync};
use giaoban_protocol::DocId;
use giaoban_relay::store::RelayClock;

const DAY: i64 = 86_400_000;
const T0: i64 = 1_767_600_000_000;

fn clock() -> (Arc<AtomicI64>, RelayClock) {
    let now = Arc::new(AtomicI64::new(T0));
    let n = now.clone();
    (now, RelayClock::from_fn(move || n.load(Ordering::SeqCst)))
}

fn received_at(store: &Store, unit: giaoban_protocol::UnitId, dir: DocId) -> Option<i64> {
    let tasks = store
        .list_tasks(&TaskFilter { scope: TaskScope::Unit(unit), source: Some(dir), ..Default::default() })
        .unwrap();
    tasks[0].received_at.map(|t| t.0)
}

/// Device 1 of the ward finishes a task; the relay stores it at T1 but the answer is lost on
/// the way. Device 2 receives the change, with the relay's receipt time T1 and its seal. The
/// relay is then restored from a backup taken before T1. Device 1, whose position is older than
/// the backup, pushes the change again as an ordinary push days later. The task was received
/// at T1 (device 2 holds the relay's seal saying so); its receipt time must stay T1.
#[test]
fn a_receipt_time_a_sibling_holds_a_seal_for_survives_a_restore_after_a_lost_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let (now, clock) = clock();
    let relay = Relay::start_clocked(&tmp.path().join("relay"), clock);
    let ward = relay.org.units[1].id;
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "Văn phòng");
    let mut d1 = relay.device(&tmp.path().join("d1.sqlite"), 1, "Máy 1");
    let mut d2 = relay.device(&tmp.path().join("d2.sqlite"), 1, "Máy 2");
    let dir = common::directive(&mut office, vec![ward]);
    office.sync_now().unwrap();
    d1.sync_now().unwrap();
    d2.sync_now().unwrap();
    let backup = tmp.path().join("b.sqlite");
    relay.backup(&backup);

    let t1 = T0 + DAY;
    now.store(t1, Ordering::SeqCst);
    d1.mark_task_not_applicable(dir, 1, "Địa phương không có mô hình").unwrap();
    // The push reaches the relay; its answer never reaches device 1.
    let session = d1.sync_session().unwrap();
    let (req, _sent) = d1.prepare_sync(&session).unwrap();
    let lost = raw_sync(&d1, req);
    assert_eq!(lost.acks.len(), 1);
    d2.sync_now().unwrap();
    assert_eq!(received_at(&d2, ward, dir), Some(t1), "device 2 holds the relay's T1");

    let relay = relay.restore(&backup);
    now.store(T0 + 10 * DAY, Ordering::SeqCst);
    d1.sync_now().unwrap();
    d2.sync_now().unwrap();
    d2.sync_now().unwrap();
    office.sync_now().unwrap();
    let mut fresh = relay.device(&tmp.path().join("office2.sqlite"), 0, "Văn phòng 2");
    fresh.sync_now().unwrap();
    assert_eq!(received_at(&d2, ward, dir), Some(t1), "device 2 now says another time");
    assert_eq!(received_at(&fresh, ward, dir), Some(t1), "the relay now says the task came in days later");
}

fn keys(store: &mut Store, id: DocId) -> Vec<String> {
    let mut k: Vec<String> = store.report(id).unwrap().sections.into_iter().map(|s| s.key).collect();
    k.sort();
    k
}

/// Restores B1, then B2, then B1 again, with devices of the ward syncing and writing in
/// between in different orders. Everything any of them wrote must end up on the relay.
#[test]
fn restores_back_and_forth_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let province = relay.org.units[0].id;
    let mut d1 = relay.device(&tmp.path().join("d1.sqlite"), 1, "Máy 1");
    let mut d2 = relay.device(&tmp.path().join("d2.sqlite"), 1, "Máy 2");
    let r = common::report(&mut d1, vec![province], "Mở đầu.");
    d1.sync_now().unwrap();
    d2.sync_now().unwrap();
    let b1 = tmp.path().join("b1.sqlite");
    relay.backup(&b1);
    d1.add_report_section(r, "s1", "Sau B1, máy 1").unwrap();
    d1.sync_now().unwrap();
    d2.sync_now().unwrap();
    let b2 = tmp.path().join("b2.sqlite");
    relay.backup(&b2);
    d2.add_report_section(r, "s2", "Sau B2, máy 2").unwrap();
    let r2 = common::report(&mut d2, vec![province], "Báo cáo thứ hai.");
    d2.sync_now().unwrap();

    let relay = relay.restore(&b1);
    d2.sync_now().unwrap();
    d1.add_report_section(r, "s3", "Trên B1 phục hồi, máy 1").unwrap();
    d1.sync_now().unwrap();
    d2.sync_now().unwrap();

    let relay = relay.restore(&b2);
    d1.add_report_section(r, "s4", "Trên B2 phục hồi, máy 1").unwrap();
    d1.sync_now().unwrap();
    d2.sync_now().unwrap();
    d1.sync_now().unwrap();

    let relay = relay.restore(&b1);
    d2.sync_now().unwrap();
    d1.sync_now().unwrap();
    d2.sync_now().unwrap();

    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "Văn phòng");
    office.sync_now().unwrap();
    let want: Vec<String> = ["ket_qua", "s1", "s2", "s3", "s4"].iter().map(|s| s.to_string()).collect();
    assert_eq!(keys(&mut office, r), want);
    assert!(office.report(r2).is_ok(), "the second report is lost");
    assert!(d1.sync_problems().unwrap().is_empty() && d2.sync_problems().unwrap().is_empty());
}

/// Held or not: a device enrolled after the backup wrote a report and is then lost; the relay is
/// restored from the backup (which does not know that device). Its colleague carries it back.
#[test]
fn the_work_of_a_device_enrolled_after_the_backup_comes_back_through_a_colleague() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let province = relay.org.units[0].id;
    let mut d1 = relay.device(&tmp.path().join("d1.sqlite"), 1, "Máy 1");
    d1.sync_now().unwrap();
    let backup = tmp.path().join("b.sqlite");
    relay.backup(&backup);
    let mut late = relay.device(&tmp.path().join("late.sqlite"), 1, "Máy mới");
    let r = common::report(&mut late, vec![province], "Viết trên máy mới.");
    late.sync_now().unwrap();
    d1.sync_now().unwrap();
    drop(late);
    let relay = relay.restore(&backup);
    d1.sync_now().unwrap();
    d1.sync_now().unwrap();
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "Văn phòng");
    office.sync_now().unwrap();
    assert!(office.report(r).is_ok());
}

/// The office loses the relay's disk and restores a backup of another relay (or starts a
/// fresh one): every device must be enrolled again, and the voucher key is new. A report that
/// two devices of the ward wrote in turns is held whole by both of them; it must reach the
/// relay again.
#[test]
fn a_report_written_in_turns_reaches_a_relay_with_another_key() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let other = Relay::start(&tmp.path().join("other"));
    let ward = relay.org.units[1].id;
    let province = relay.org.units[0].id;
    let mut d1 = relay.device(&tmp.path().join("d1.sqlite"), 1, "Máy 1");
    let mut d2 = relay.device(&tmp.path().join("d2.sqlite"), 1, "Máy 2");
    let r = common::report(&mut d1, vec![province], "Máy 1 mở đầu.");
    d1.sync_now().unwrap();
    d2.sync_now().unwrap();
    d2.add_report_section(r, "s2", "Máy 2 viết tiếp").unwrap();
    d2.sync_now().unwrap();
    d1.sync_now().unwrap();
    d1.add_report_section(r, "s3", "Máy 1 viết tiếp").unwrap();
    d1.sync_now().unwrap();
    d2.sync_now().unwrap();

    let foreign = tmp.path().join("foreign.sqlite");
    other.backup(&foreign);
    drop(other);
    let relay = relay.restore(&foreign);
    for (d, label) in [(&mut d1, "Máy 1"), (&mut d2, "Máy 2")] {
        let code = relay.store.create_enrollment(ward, 1).unwrap();
        d.enroll(&relay.url, &code.code, label).unwrap();
    }
    for _ in 0..3 {
        let _ = d1.sync_now();
        let _ = d2.sync_now();
    }
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "Văn phòng");
    office.sync_now().unwrap();
    let got = office.report(r).map(|rep| rep.sections.len());
    assert_eq!(
        got.ok(),
        Some(3),
        "the report never reaches the new relay: device 1 {:?}, device 2 {:?}",
        d1.delivery_state(r),
        d2.delivery_state(r)
    );
}
