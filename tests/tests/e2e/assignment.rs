//! A unit's assignment as the office follows it: each step with the relay's time, a report
//! returned and resubmitted awaiting review again, filters on returned and accepted tasks, and
//! what each device says of itself at sync (its app and what it has left to send).

use giaoban_client_core::demo::dispatch_305;
use giaoban_client_core::protocol::schema::{ReportKind, Verdict};
use giaoban_client_core::protocol::{DocId, UnitId};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use giaoban_client_core::protocol::Timestamp;
use giaoban_client_core::{
    AssignmentStep, Clock, NewReport, NewSection, StateFilter, Store, StoreOptions, TaskFilter, TaskScope,
};
use giaoban_e2e::Relay;
use giaoban_relay::store::RelayClock;

/// A device enrolled for unit `unit_index`, whose clock is `clock`.
fn device(
    relay: &Relay,
    dir: &std::path::Path,
    name: &str,
    unit_index: usize,
    clock: &Arc<AtomicI64>,
) -> Store {
    let c = clock.clone();
    let opts = StoreOptions {
        clock: Clock::from_fn(move || Timestamp(c.load(Ordering::SeqCst))),
        ..Default::default()
    };
    let mut s = Store::open_with(dir.join(format!("{name}.sqlite")), opts).unwrap();
    let code = relay.store.create_enrollment(relay.org.units[unit_index].id, 24).unwrap();
    s.enroll(&relay.url, &code.code, name).unwrap();
    s
}

fn report(directive: DocId) -> NewReport {
    NewReport {
        title: "Báo cáo kết quả rà soát các mô hình".into(),
        kind: ReportKind::Thematic,
        period: "tháng 01/2022".into(),
        answers: Some((directive, 1)),
        audience: vec![],
        sections: vec![NewSection {
            key: "ket_qua".into(),
            heading: "Kết quả thực hiện".into(),
            body: "Rà soát 12 mô hình tự quản ở khu dân cư.".into(),
        }],
    }
}

fn tasks(s: &Store, state: StateFilter) -> Vec<(DocId, u64, UnitId)> {
    s.list_tasks(&TaskFilter { scope: TaskScope::All, state: Some(state), ..Default::default() })
        .unwrap()
        .into_iter()
        .map(|t| (t.source, t.ordinal, t.assignee))
        .collect()
}

#[test]
fn a_returned_report_resubmitted_awaits_review_again_and_every_step_has_its_time() {
    let dir = tempfile::tempdir().unwrap();
    // One clock for the relay and both devices, moved on an hour between steps, as days of
    // work would.
    let clock = Arc::new(AtomicI64::new(1_900_000_000_000));
    let c = clock.clone();
    let relay = Relay::start_clocked(
        &dir.path().join("relay"),
        RelayClock::from_fn(move || c.load(Ordering::SeqCst)),
    );
    let mut city = device(&relay, dir.path(), "Văn phòng tỉnh", 0, &clock);
    let mut ward = device(&relay, dir.path(), "Điện thoại chị Lan", 1, &clock);
    let later = || {
        clock.fetch_add(3_600_000, Ordering::SeqCst);
    };
    ward.set_app_version("Giao Ban Android 1.4.2");
    let ward_unit = relay.org.units[1].id;
    let d = city
        .issue_directive(dispatch_305(vec![ward_unit], "trước ngày 08/02/2099", "trước ngày 11/02/2099"))
        .unwrap();
    city.sync_now().unwrap();
    ward.sync_now().unwrap();
    later();
    city.remind(d, &[ward_unit], "Đề nghị khẩn trương báo cáo.").unwrap();
    city.sync_now().unwrap();
    ward.sync_now().unwrap();
    later();
    ward.acknowledge_task(d, 1).unwrap();
    later();
    let r = ward.create_report(report(d)).unwrap();
    later();
    ward.submit_report(r).unwrap();
    ward.sync_now().unwrap();
    city.sync_now().unwrap();
    assert_eq!(tasks(&city, StateFilter::AwaitingReview), vec![(d, 1, ward_unit)]);

    later();
    city.review_report(r, Verdict::Returned, "Bổ sung ảnh nhà Đại đoàn kết bàn giao.").unwrap();
    city.sync_now().unwrap();
    ward.sync_now().unwrap();
    assert_eq!(tasks(&ward, StateFilter::Returned), vec![(d, 1, ward_unit)], "the ward sees it returned");
    assert!(tasks(&city, StateFilter::AwaitingReview).is_empty());

    later();
    ward.set_report_section_text(r, "ket_qua", "Rà soát 12 mô hình; kèm ảnh 3 căn nhà Đại đoàn kết.")
        .unwrap();
    ward.submit_report(r).unwrap();
    ward.sync_now().unwrap();
    city.sync_now().unwrap();
    // Resubmitted: no longer "returned", awaiting review again, on both sides.
    for (name, s) in [("office", &city), ("ward", &ward)] {
        assert!(tasks(s, StateFilter::Returned).is_empty(), "{name}");
        assert_eq!(tasks(s, StateFilter::AwaitingReview), vec![(d, 1, ward_unit)], "{name}");
    }
    let t = city
        .list_tasks(&TaskFilter { scope: TaskScope::IssuedByMe, source: Some(d), ..Default::default() })
        .unwrap()
        .into_iter()
        .find(|t| t.ordinal == 1)
        .unwrap();
    assert_eq!((t.submissions, t.review.clone()), (2, None));

    later();
    city.review_report(r, Verdict::Accepted, "").unwrap();
    city.sync_now().unwrap();
    ward.sync_now().unwrap();
    assert_eq!(tasks(&ward, StateFilter::Accepted), vec![(d, 1, ward_unit)]);

    // The history, as the office's device holds it: every step, in order, each with the
    // relay's receipt time.
    let history = city.assignment_history(d, ward_unit).unwrap();
    let steps: Vec<(Option<u64>, AssignmentStep)> =
        history.iter().map(|e| (e.ordinal, e.step.clone())).collect();
    assert_eq!(
        steps,
        vec![
            (None, AssignmentStep::Issued),
            (None, AssignmentStep::Reminded { note: "Đề nghị khẩn trương báo cáo.".into() }),
            (Some(1), AssignmentStep::Acknowledged),
            // A report written for the task puts it in progress.
            (Some(1), AssignmentStep::InProgress),
            (Some(1), AssignmentStep::Submitted { count: 1 }),
            (
                Some(1),
                AssignmentStep::Returned {
                    note: "Bổ sung ảnh nhà Đại đoàn kết bàn giao.".into()
                }
            ),
            (Some(1), AssignmentStep::Submitted { count: 2 }),
            (Some(1), AssignmentStep::Accepted { note: String::new() }),
        ]
    );
    // The ward's steps carry the relay's receipt times.
    assert!(history.iter().filter(|e| e.by == Some(ward.device_id())).all(|e| e.received_at.is_some()));
    assert!(history.windows(2).all(|w| w[0].when() <= w[1].when()));
    assert_eq!(history[2].by, Some(ward.device_id()));
    // The ward's device tells the same story.
    let theirs: Vec<AssignmentStep> =
        ward.assignment_history(d, ward_unit).unwrap().into_iter().map(|e| e.step).collect();
    assert_eq!(theirs, steps.into_iter().map(|(_, s)| s).collect::<Vec<_>>());

    // The relay noted when the dispatch first reached the ward's devices, and what the ward's
    // phone said of itself at its last sync.
    let delivered = relay.store.first_deliveries(d, &[ward_unit, relay.org.units[2].id]).unwrap();
    assert!(delivered.contains_key(&ward_unit) && delivered.len() == 1, "{delivered:?}");
    assert!(delivered[&ward_unit] <= history[1].when().0);
    let rows = relay.store.devices_of(&[ward_unit]).unwrap();
    let (status, _) = rows.iter().find(|d| d.id == ward.device_id()).unwrap().status.clone().unwrap();
    assert_eq!(status.app_version, "Giao Ban Android 1.4.2");
    assert_eq!((status.unsent_docs, status.unsent_files), (0, 0));
}
