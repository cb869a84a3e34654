//! A relay restored from an older backup loses nothing that some device of the owner unit
//! still holds: offline edits made before the restore, edits acknowledged after the backup,
//! a sibling's copy when the author device is gone, and work hidden behind a device that lagged
//! behind the backup and reached the restored relay first. Receipt times survive with the work.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::TimeZone;
use giaoban_client_core::demo::dispatch_305;
use giaoban_client_core::protocol::schema::{ReportKind, Response, TaskState};
use giaoban_client_core::protocol::{DeadlineStanding, DocId, Timestamp};
use giaoban_client_core::{
    Clock, DeliveryState, NewReport, NewSection, Store, StoreOptions, TaskFilter, TaskScope, TaskView,
};
use giaoban_e2e::Relay;
use giaoban_relay::store::RelayClock;

/// A clock the test moves, shared by the relay and devices that want it.
#[derive(Clone)]
struct TestClock(Arc<AtomicI64>);

impl TestClock {
    /// At `hh:00` Vietnam time on `dd/mm/yyyy`.
    fn at(d: u32, m: u32, y: i32, h: u32) -> TestClock {
        let c = TestClock(Arc::new(AtomicI64::new(0)));
        c.set(d, m, y, h);
        c
    }
    fn set(&self, d: u32, m: u32, y: i32, h: u32) {
        let utc = chrono::Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap().timestamp_millis() - 7 * 3_600_000;
        self.0.store(utc, Ordering::SeqCst);
    }
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
    fn relay(&self) -> RelayClock {
        let c = self.0.clone();
        RelayClock::from_fn(move || c.load(Ordering::SeqCst))
    }
    fn device(&self) -> Clock {
        let c = self.0.clone();
        Clock::from_fn(move || Timestamp(c.load(Ordering::SeqCst)))
    }
}

/// A device enrolled for unit `unit_index`, on its own file, with `clock`.
fn device(relay: &Relay, dir: &Path, name: &str, unit_index: usize, clock: &TestClock) -> Store {
    let path = dir.join(format!("{name}.sqlite"));
    let mut s =
        Store::open_with(&path, StoreOptions { clock: clock.device(), ..StoreOptions::default() }).unwrap();
    let code = relay.store.create_enrollment(relay.org.units[unit_index].id, 24).unwrap();
    s.enroll(&relay.url, &code.code, name).unwrap();
    s
}

fn report(directive: DocId, words: &str) -> NewReport {
    NewReport {
        title: "Báo cáo kết quả rà soát các mô hình của Mặt trận".into(),
        kind: ReportKind::Thematic,
        period: "quý I/2030".into(),
        answers: Some((directive, 3)),
        audience: vec![],
        sections: vec![NewSection {
            key: "ket_qua".into(),
            heading: "Kết quả thực hiện".into(),
            body: words.into(),
        }],
    }
}

fn issued_task(
    city: &Store,
    directive: DocId,
    ordinal: u64,
    assignee: giaoban_client_core::protocol::UnitId,
) -> TaskView {
    city.list_tasks(&TaskFilter {
        scope: TaskScope::IssuedByMe,
        source: Some(directive),
        ..Default::default()
    })
    .unwrap()
    .into_iter()
    .find(|t| t.ordinal == ordinal && t.assignee == assignee)
    .unwrap()
}

fn response_of(store: &mut Store, directive: DocId, unit: giaoban_client_core::protocol::UnitId) -> Response {
    store.get::<Response>(Response::id_for(directive, unit)).unwrap()
}

#[test]
fn an_offline_edit_made_before_the_restore_and_an_edit_after_the_backup_both_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at(3, 2, 2030, 9);
    let relay = Relay::start_clocked(&dir.path().join("relay"), clock.relay());
    let ward_unit = relay.org.units[1].id;
    let mut city = device(&relay, dir.path(), "tinh", 0, &clock);
    let mut ward = device(&relay, dir.path(), "phuong", 1, &clock);
    let d = city.issue_directive(dispatch_305(vec![ward_unit], "08/02/2030", "11/02/2030")).unwrap();
    city.sync_now().unwrap();
    ward.sync_now().unwrap();
    ward.acknowledge_task(d, 1).unwrap();
    ward.sync_now().unwrap();
    relay.backup(&dir.path().join("backup.sqlite"));

    // Acknowledged by the relay after the backup was taken.
    ward.update_task_progress(d, 1, "Đã rà soát 12 mô hình ở 5 khu phố.").unwrap();
    ward.sync_now().unwrap();
    let response = Response::id_for(d, ward_unit);
    assert_eq!(ward.delivery_state(response).unwrap(), DeliveryState::OnRelay);
    // Made offline, building on the edit above.
    ward.update_task_progress(d, 2, "Nắm tình hình công nhân lao động ở khu công nghiệp.").unwrap();

    let relay = relay.restore(&dir.path().join("backup.sqlite"));
    let r = ward.sync_now().unwrap();
    assert!(r.rejected.is_empty(), "{r:?}");
    assert_eq!(ward.delivery_state(response).unwrap(), DeliveryState::OnRelay);
    assert!(ward.sync_problems().unwrap().is_empty());
    city.sync_now().unwrap();
    let seen = response_of(&mut city, d, ward_unit);
    assert_eq!(seen.task(1).unwrap().note.as_str(), "Đã rà soát 12 mô hình ở 5 khu phố.");
    assert_eq!(seen.task(2).unwrap().note.as_str(), "Nắm tình hình công nhân lao động ở khu công nghiệp.");
    assert_eq!(seen.task(1).unwrap().state, TaskState::InProgress);
    drop(relay);
}

#[test]
fn a_siblings_copy_comes_back_with_its_receipt_time_when_the_author_device_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at(3, 2, 2030, 9);
    let relay = Relay::start_clocked(&dir.path().join("relay"), clock.relay());
    let ward_unit = relay.org.units[1].id;
    let mut city = device(&relay, dir.path(), "tinh", 0, &clock);
    let mut lan = device(&relay, dir.path(), "phuong-lan", 1, &clock);
    let mut duc = device(&relay, dir.path(), "phuong-duc", 1, &clock);
    let d = city.issue_directive(dispatch_305(vec![ward_unit], "08/02/2030", "11/02/2030")).unwrap();
    city.sync_now().unwrap();
    relay.backup(&dir.path().join("backup.sqlite"));

    // Lan writes and submits the report on time; Đức's phone receives it.
    clock.set(5, 2, 2030, 10);
    let submitted_at = clock.now();
    lan.sync_now().unwrap();
    let r = lan.create_report(report(d, "Rà soát 12 mô hình; giải thể 2 mô hình không hiệu quả.")).unwrap();
    lan.submit_report(r).unwrap();
    lan.sync_now().unwrap();
    duc.sync_now().unwrap();
    assert!(duc.report(r).is_ok());

    // Lan's phone is lost; days later the office restores the backup taken before her report.
    drop(lan);
    std::fs::remove_file(dir.path().join("phuong-lan.sqlite")).unwrap();
    clock.set(10, 2, 2030, 8);
    let relay = relay.restore(&dir.path().join("backup.sqlite"));
    assert!(relay.store.document_count().unwrap() < 4, "the backup lacks the report and the response");

    // Đức's phone carries Lan's changes back, with the relay's own vouchers for them.
    let sync = duc.sync_now().unwrap();
    assert!(sync.rejected.is_empty(), "{sync:?}");
    assert_eq!(duc.delivery_state(r).unwrap(), DeliveryState::OnRelay);
    city.sync_now().unwrap();
    assert_eq!(
        city.report(r).unwrap().sections[0].body.as_str(),
        "Rà soát 12 mô hình; giải thể 2 mô hình không hiệu quả."
    );
    let t = issued_task(&city, d, 3, ward_unit);
    assert_eq!(t.state, Some(TaskState::Submitted));
    assert_eq!(
        t.received_at,
        Some(submitted_at),
        "the submission keeps the time the relay first received it"
    );
    assert_eq!(t.standing, Some(DeadlineStanding::DoneOnTime));
    // A new office device sees the same.
    let mut desk = device(&relay, dir.path(), "tinh-2", 0, &clock);
    desk.sync_now().unwrap();
    assert_eq!(issued_task(&desk, d, 3, ward_unit).received_at, Some(submitted_at));
}

#[test]
fn a_device_that_lagged_behind_the_backup_reaching_the_restored_relay_first_hides_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at(3, 2, 2030, 9);
    let relay = Relay::start_clocked(&dir.path().join("relay"), clock.relay());
    let (a_unit, b_unit) = (relay.org.units[1].id, relay.org.units[2].id);
    let mut city = device(&relay, dir.path(), "tinh", 0, &clock);
    let mut a = device(&relay, dir.path(), "phuong-a", 1, &clock);
    let mut b = device(&relay, dir.path(), "phuong-b", 2, &clock);
    let first = city.issue_directive(dispatch_305(vec![a_unit, b_unit], "08/02/2030", "11/02/2030")).unwrap();
    city.sync_now().unwrap();
    a.sync_now().unwrap();
    b.sync_now().unwrap(); // B's last sync before the trouble.
    relay.backup(&dir.path().join("backup.sqlite"));

    let second = city.issue_directive(dispatch_305(vec![a_unit], "09/02/2030", "12/02/2030")).unwrap();
    city.sync_now().unwrap();
    a.sync_now().unwrap();
    a.acknowledge_task(second, 1).unwrap();
    a.sync_now().unwrap();

    let relay = relay.restore(&dir.path().join("backup.sqlite"));
    // Ward B, which saw nothing after the backup, is first: its pushes fill the city's log
    // past the positions the city's and ward A's devices had seen.
    for i in 0..30 {
        let r = b.create_report(report(first, &format!("Báo cáo lần {i}: họp dân ở khu phố {i}."))).unwrap();
        b.submit_report(r).unwrap();
    }
    let sync = b.sync_now().unwrap();
    assert!(sync.rejected.is_empty());
    // Everyone else notices the relay's history is not the one they saw, and gives back what
    // it lost.
    city.sync_now().unwrap();
    a.sync_now().unwrap();
    city.sync_now().unwrap();
    assert_eq!(city.delivery_state(second).unwrap(), DeliveryState::OnRelay);
    assert_eq!(issued_task(&city, second, 1, a_unit).state, Some(TaskState::Acknowledged));
    for (name, unit) in [("tinh-moi", 0), ("phuong-a-moi", 1)] {
        let mut fresh = device(&relay, dir.path(), name, unit, &clock);
        fresh.sync_now().unwrap();
        assert!(fresh.directive(second).is_ok(), "{name} lacks the directive issued after the backup");
        let acked = fresh
            .list_tasks(&TaskFilter { scope: TaskScope::All, source: Some(second), ..Default::default() })
            .unwrap()
            .into_iter()
            .any(|t| t.ordinal == 1 && t.is_acknowledged());
        assert!(acked, "{name} lacks ward A's acknowledgement");
    }
    for s in [&city, &a, &b] {
        assert_eq!(s.pending_changes_count().unwrap(), 0);
        assert!(s.sync_problems().unwrap().is_empty());
    }
}

#[test]
fn a_submission_keeps_its_own_receipt_time_and_a_resubmission_gets_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at(4, 2, 2030, 9);
    let relay = Relay::start_clocked(&dir.path().join("relay"), clock.relay());
    let ward_unit = relay.org.units[1].id;
    let mut city = device(&relay, dir.path(), "tinh", 0, &clock);
    let mut away = device(&relay, dir.path(), "tinh-xa", 0, &clock);
    let mut ward = device(&relay, dir.path(), "phuong", 1, &clock);
    let d = city.issue_directive(dispatch_305(vec![ward_unit], "08/02/2030", "11/02/2030")).unwrap();
    city.sync_now().unwrap();
    away.sync_now().unwrap(); // then offline for a week
    ward.sync_now().unwrap();

    clock.set(5, 2, 2030, 10);
    let on_time = clock.now();
    let r = ward.create_report(report(d, "Rà soát 12 mô hình.")).unwrap();
    ward.submit_report(r).unwrap();
    ward.sync_now().unwrap();
    city.sync_now().unwrap();
    assert_eq!(issued_task(&city, d, 3, ward_unit).received_at, Some(on_time));

    // Days after the deadline the ward works on another task of the same dispatch.
    clock.set(10, 2, 2030, 15);
    ward.acknowledge_task(d, 1).unwrap();
    ward.update_task_progress(d, 1, "Đang vận động đoàn viên tham gia.").unwrap();
    ward.sync_now().unwrap();
    for (name, s) in [("the office device that was offline", &mut away), ("the office device", &mut city)] {
        s.sync_now().unwrap();
        let t = issued_task(s, d, 3, ward_unit);
        assert_eq!(t.received_at, Some(on_time), "{name}");
        assert_eq!(t.standing, Some(DeadlineStanding::DoneOnTime), "{name}");
    }
    let mut fresh = device(&relay, dir.path(), "tinh-moi", 0, &clock);
    fresh.sync_now().unwrap();
    assert_eq!(issued_task(&fresh, d, 3, ward_unit).standing, Some(DeadlineStanding::DoneOnTime));

    // Returned; corrected and resubmitted after the deadline: the resubmission counts.
    clock.set(12, 2, 2030, 8);
    city.review_report(
        r,
        giaoban_client_core::protocol::schema::Verdict::Returned,
        "Bổ sung ảnh nhà Đại đoàn kết.",
    )
    .unwrap();
    city.sync_now().unwrap();
    ward.sync_now().unwrap();
    ward.set_report_section_text(r, "ket_qua", "Rà soát 12 mô hình; bổ sung ảnh 3 căn nhà Đại đoàn kết.")
        .unwrap();
    ward.submit_report(r).unwrap();
    let resubmitted = clock.now();
    ward.sync_now().unwrap();
    city.sync_now().unwrap();
    let t = issued_task(&city, d, 3, ward_unit);
    assert_eq!(t.received_at, Some(resubmitted));
    assert_eq!(t.standing, Some(DeadlineStanding::DoneLate));
}

#[test]
fn a_device_whose_clock_is_behind_judges_its_unsent_report_by_the_relays_clock() {
    let dir = tempfile::tempdir().unwrap();
    let relay_time = TestClock::at(9, 2, 2030, 9);
    let phone_time = TestClock::at(1, 2, 2030, 9); // eight days behind
    let relay = Relay::start_clocked(&dir.path().join("relay"), relay_time.relay());
    let ward_unit = relay.org.units[1].id;
    let mut city = device(&relay, dir.path(), "tinh", 0, &relay_time);
    let mut ward = device(&relay, dir.path(), "phuong", 1, &phone_time);
    let d = city.issue_directive(dispatch_305(vec![ward_unit], "08/02/2030", "11/02/2030")).unwrap();
    city.sync_now().unwrap();
    ward.sync_now().unwrap();
    let r = ward.create_report(report(d, "Rà soát 12 mô hình.")).unwrap();
    ward.submit_report(r).unwrap();
    let mine = ward
        .list_tasks(&TaskFilter { source: Some(d), ..Default::default() })
        .unwrap()
        .into_iter()
        .find(|t| t.ordinal == 3)
        .unwrap();
    assert_eq!(mine.received_at, None, "not on the relay yet");
    assert_eq!(
        mine.standing,
        Some(DeadlineStanding::DoneLate),
        "judged by the relay's clock, not the phone's"
    );
    let overdue = ward
        .list_tasks(&TaskFilter {
            source: Some(d),
            due: Some(giaoban_client_core::DueFilter::Overdue),
            ..Default::default()
        })
        .unwrap();
    assert!(overdue.is_empty(), "a submitted task is not overdue");
}

#[test]
fn a_device_restored_from_an_older_copy_of_its_store_gets_its_own_work_back() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at(3, 2, 2030, 9);
    let relay = Relay::start_clocked(&dir.path().join("relay"), clock.relay());
    let ward_unit = relay.org.units[1].id;
    let mut city = device(&relay, dir.path(), "tinh", 0, &clock);
    let mut ward = device(&relay, dir.path(), "phuong", 1, &clock);
    let d = city.issue_directive(dispatch_305(vec![ward_unit], "08/02/2030", "11/02/2030")).unwrap();
    city.sync_now().unwrap();
    ward.sync_now().unwrap();
    let first = ward.create_report(report(d, "Báo cáo thứ nhất.")).unwrap();
    ward.sync_now().unwrap();
    // The phone's backup of the app's data.
    let path = dir.path().join("phuong.sqlite");
    drop(ward);
    std::fs::copy(&path, dir.path().join("phuong-copy.sqlite")).unwrap();
    let mut ward =
        Store::open_with(&path, StoreOptions { clock: clock.device(), ..StoreOptions::default() }).unwrap();
    let second = ward.create_report(report(d, "Báo cáo thứ hai, viết sau bản sao.")).unwrap();
    ward.submit_report(second).unwrap();
    ward.sync_now().unwrap();
    drop(ward);

    // The phone is restored from its older backup.
    std::fs::remove_file(&path).unwrap();
    let _ = std::fs::remove_file(dir.path().join("phuong.sqlite-wal"));
    let _ = std::fs::remove_file(dir.path().join("phuong.sqlite-shm"));
    std::fs::copy(dir.path().join("phuong-copy.sqlite"), &path).unwrap();
    let mut ward =
        Store::open_with(&path, StoreOptions { clock: clock.device(), ..StoreOptions::default() }).unwrap();
    assert!(ward.report(second).is_err());
    ward.sync_now().unwrap();
    assert_eq!(ward.report(second).unwrap().sections[0].body.as_str(), "Báo cáo thứ hai, viết sau bản sao.");
    assert!(ward.report(first).is_ok());
    assert_eq!(
        ward.list_tasks(&TaskFilter { source: Some(d), ..Default::default() })
            .unwrap()
            .into_iter()
            .find(|t| t.ordinal == 3)
            .unwrap()
            .state,
        Some(TaskState::Submitted)
    );
    assert_eq!(ward.pending_changes_count().unwrap(), 0);
}
