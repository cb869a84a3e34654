//! The store's contract, on real SQLite files: what is written is read back after reopening,
//! bad input changes nothing, damage is reported per document, memory stays bounded.

use crate::common::*;
use giaoban_client_core::protocol::schema::{Directive, Report};
use giaoban_client_core::protocol::{DocId, DocKind};
use giaoban_client_core::{CoreError, NewDeadline, NewTask, Store, StoreOptions, TaskFilter, TaskScope};

fn city_store(dir: &std::path::Path, clock: &TestClock) -> (Store, Org) {
    let org = org();
    let mut s = open(&dir.join("city.sqlite"), clock);
    s.set_unit(org.city).unwrap();
    (s, org)
}

#[test]
fn writes_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at_local(2022, 1, 24, 9, 0);
    let (mut s, org) = city_store(dir.path(), &clock);
    let device = s.device_id();
    let id = s.issue_directive(dispatch_305(org.wards.clone())).unwrap();
    for i in 0..50 {
        s.set_task_text(id, 2, &format!("Nội dung nhiệm vụ 2, lần sửa thứ {i}")).unwrap();
    }
    let before: Directive = s.get(id).unwrap();
    drop(s);

    let mut s = open(&dir.path().join("city.sqlite"), &clock);
    assert_eq!(s.device_id(), device, "device identity is kept");
    assert_eq!(s.unit(), Some(org.city));
    let after: Directive = s.get(id).unwrap();
    assert_eq!(before, after);
    assert_eq!(after.task(2).unwrap().text, "Nội dung nhiệm vụ 2, lần sửa thứ 49");
    assert_eq!(
        s.list_tasks(&TaskFilter { scope: TaskScope::IssuedByMe, ..Default::default() }).unwrap().len(),
        12
    );
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at_local(2022, 1, 24, 9, 0);
    let (mut s, org) = city_store(dir.path(), &clock);
    let id = s.issue_directive(dispatch_305(org.wards.clone())).unwrap();
    let heads = s.heads(id).unwrap();
    let docs = s.document_ids(None).unwrap().len();

    // Empty subject.
    let mut d = dispatch_305(org.wards.clone());
    d.subject = "   ".into();
    let e = s.issue_directive(d).unwrap_err();
    assert!(matches!(&e, CoreError::Invalid(i) if i.field == "subject"), "{e}");
    let e = s.set_directive_subject(id, "").unwrap_err();
    assert!(matches!(e, CoreError::Invalid(_)), "{e}");

    // A deadline that is not a date.
    let mut d = dispatch_305(org.wards.clone());
    d.tasks[0].deadline =
        Some(NewDeadline { text: "trước ngày 31/02/2022".into(), ..Default::default() });
    let e = s.issue_directive(d).unwrap_err();
    assert!(e.to_string().contains("tasks[1].deadline"), "{e}");

    // An issue date that is not a date.
    let mut d = dispatch_305(org.wards.clone());
    d.issued_on = "hôm qua".into();
    let e = s.issue_directive(d).unwrap_err();
    assert!(e.to_string().contains("issued_on"), "{e}");

    // Two tasks with one number; no recipients.
    let mut d = dispatch_305(org.wards.clone());
    d.tasks.push(NewTask { ordinal: 1, text: "Trùng số".into(), ..Default::default() });
    assert!(matches!(s.issue_directive(d).unwrap_err(), CoreError::Invalid(_)));
    let d = dispatch_305(vec![]);
    assert!(matches!(s.issue_directive(d).unwrap_err(), CoreError::Invalid(_)));

    // A document of another kind under a known id.
    let e = s.get::<Report>(id).unwrap_err();
    assert!(
        matches!(e, CoreError::WrongKind { expected: DocKind::Report, found: DocKind::Directive, .. }),
        "{e}"
    );
    let e = s.report(id).unwrap_err();
    assert!(matches!(e, CoreError::WrongKind { .. }), "{e}");

    // Unknown ids.
    let unknown = DocId::from_parts(1, [9; 10]);
    assert!(matches!(s.directive(unknown).unwrap_err(), CoreError::NotFound { .. }));

    assert_eq!(s.heads(id).unwrap(), heads);
    assert_eq!(s.document_ids(None).unwrap().len(), docs);
}

#[test]
fn negative_figures_are_refused_where_none_are_allowed() {
    use giaoban_client_core::protocol::schema::{FigureScope, MeasureUnit, ReportKind};
    use giaoban_client_core::{FigureInput, NewReport, NewSection};
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at_local(2022, 1, 24, 9, 0);
    let org = org();
    let mut s = open(&dir.path().join("ward.sqlite"), &clock);
    s.set_unit(org.wards[0]).unwrap();
    let r = s
        .create_report(NewReport {
            title: "Báo cáo tháng 6/2018".into(),
            kind: ReportKind::Monthly,
            period: "tháng 6/2018".into(),
            answers: None,
            audience: vec![org.city],
            sections: vec![NewSection {
                key: "ket_qua".into(), heading: "Kết quả".into(), body: "…".into()
            }],
        })
        .unwrap();
    let heads = s.heads(r).unwrap();
    let e = s
        .set_report_figure(
            r,
            FigureInput {
                indicator: "nha_ddk_xay_moi".into(),
                amount: "-3".into(),
                unit: MeasureUnit::Houses,
                scope: FigureScope::Period,
                note: String::new(),
                since: String::new(),
            },
        )
        .unwrap_err();
    assert!(matches!(e, CoreError::Invalid(_)), "{e}");
    let e = s
        .set_report_figure(
            r,
            FigureInput {
                indicator: "quy_vnn_tiep_nhan_vnd".into(),
                amount: "sáu tỷ".into(),
                unit: MeasureUnit::Vnd,
                scope: FigureScope::Cumulative,
                note: String::new(),
                since: String::new(),
            },
        )
        .unwrap_err();
    assert!(e.to_string().contains("figures[quy_vnn_tiep_nhan_vnd]"), "{e}");
    assert_eq!(s.heads(r).unwrap(), heads);
}

#[test]
fn a_damaged_chunk_is_reported_and_the_rest_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("city.sqlite");
    let clock = TestClock::at_local(2022, 1, 24, 9, 0);
    let (mut s, org) = city_store(dir.path(), &clock);
    let damaged = s.issue_directive(dispatch_305(org.wards.clone())).unwrap();
    s.set_task_text(damaged, 1, "Sửa lần một").unwrap();
    let healthy = s.issue_directive(dispatch_305(org.wards[..1].to_vec())).unwrap();
    drop(s);

    let conn = rusqlite::Connection::open(&path).unwrap();
    let n = conn
        .execute(
            "UPDATE chunks SET bytes = X'00112233445566778899' WHERE doc = (SELECT n FROM documents WHERE id = ?1)",
            [damaged.to_bytes().to_vec()],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(conn);

    let mut s = open(&path, &clock);
    let e = s.directive(damaged).unwrap_err();
    assert!(matches!(e, CoreError::Corrupt { id, .. } if id == damaged), "{e}");
    assert!(e.to_string().contains("damaged"), "{e}");
    assert_eq!(s.directive(healthy).unwrap().tasks.len(), 4);
    assert!(
        !s.list_tasks(&TaskFilter { scope: TaskScope::IssuedByMe, ..Default::default() }).unwrap().is_empty()
    );
    // Rebuilding indexes skips the damaged document and keeps the healthy one.
    s.rebuild_indexes().unwrap();
    let tasks = s.list_tasks(&TaskFilter { scope: TaskScope::IssuedByMe, ..Default::default() }).unwrap();
    assert!(tasks.iter().all(|t| t.source == healthy));
    assert_eq!(tasks.len(), 4);
}

#[test]
fn memory_holds_a_bounded_number_of_documents() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at_local(2022, 1, 24, 9, 0);
    let org = org();
    let opts =
        StoreOptions { cache_capacity: 4, compact_after: 3, clock: clock.clock(), ..Default::default() };
    let mut s = Store::open_with(dir.path().join("s.sqlite"), opts).unwrap();
    s.set_unit(org.city).unwrap();
    let ids: Vec<DocId> =
        (0..20).map(|_| s.issue_directive(dispatch_305(org.wards.clone())).unwrap()).collect();
    for (i, id) in ids.iter().enumerate() {
        s.set_task_text(*id, 1, &format!("Nhiệm vụ của văn bản thứ {i}")).unwrap();
        s.set_task_text(*id, 2, "Lần hai").unwrap();
        s.set_task_text(*id, 2, "Lần ba, sau khi gộp").unwrap();
    }
    assert_eq!(s.cached_documents(), 4);
    for (i, id) in ids.iter().enumerate() {
        let d = s.directive(*id).unwrap();
        assert_eq!(d.task(1).unwrap().text, format!("Nhiệm vụ của văn bản thứ {i}"));
        assert_eq!(d.task(2).unwrap().text, "Lần ba, sau khi gộp");
    }
    assert_eq!(s.cached_documents(), 4);
}

#[test]
fn pending_changes_are_exactly_what_the_relay_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at_local(2022, 1, 24, 9, 0);
    let (mut s, org) = city_store(dir.path(), &clock);
    let a = s.issue_directive(dispatch_305(org.wards.clone())).unwrap();
    let b = s.issue_directive(dispatch_305(org.wards.clone())).unwrap();
    assert_eq!(s.pending_changes_count().unwrap(), 2);
    assert_eq!(s.unacked_changes(a).unwrap().len(), 1);

    let heads = s.heads(a).unwrap();
    s.mark_acked(a, &heads).unwrap();
    assert_eq!(s.pending_changes_count().unwrap(), 1);
    assert_eq!(s.dirty_documents().unwrap(), vec![b]);
    assert!(s.unacked_changes(a).unwrap().is_empty());

    s.set_task_text(a, 1, "Sửa sau khi đồng bộ").unwrap();
    assert_eq!(s.unacked_changes(a).unwrap().len(), 1, "only the new edit");
    assert_eq!(s.pending_changes_count().unwrap(), 2);

    // Acknowledgements survive reopening.
    let heads_b = s.heads(b).unwrap();
    s.mark_acked(b, &heads_b).unwrap();
    drop(s);
    let mut s = open(&dir.path().join("city.sqlite"), &clock);
    assert_eq!(s.dirty_documents().unwrap(), vec![a]);
    assert_eq!(s.unacked_changes(a).unwrap().len(), 1);
}

#[test]
fn remote_changes_merge_and_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at_local(2022, 1, 24, 9, 0);
    let (mut city, org) = city_store(dir.path(), &clock);
    let id = city.issue_directive(dispatch_305(org.wards.clone())).unwrap();
    let mut ward = open(&dir.path().join("ward.sqlite"), &clock);
    ward.set_unit(org.wards[0]).unwrap();
    assert!(send(&mut city, &mut ward, id));
    assert!(!send(&mut city, &mut ward, id), "applying the same changes again changes nothing");
    assert_eq!(city.directive(id).unwrap(), ward.directive(id).unwrap());

    let e = ward.apply_remote(id, &[vec![1, 2, 3]]).unwrap_err();
    assert!(matches!(e, CoreError::Invalid(_)), "{e}");
    assert_eq!(city.directive(id).unwrap(), ward.directive(id).unwrap());
}

#[test]
fn a_store_from_a_newer_app_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    let e = Store::open(&path).unwrap_err();
    assert!(matches!(e, CoreError::NewerStore { found: 999, .. }), "{e}");
}

#[test]
fn keystrokes_leave_compaction_until_typing_stops_and_lose_nothing() {
    use giaoban_client_core::protocol::schema::ReportKind;
    use giaoban_client_core::{NewReport, NewSection};
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at_local(2022, 1, 24, 9, 0);
    let org = org();
    let path = dir.path().join("ward.sqlite");
    let opts = || StoreOptions { compact_after: 4, clock: clock.clock(), ..Default::default() };
    let mut s = Store::open_with(&path, opts()).unwrap();
    s.set_unit(org.wards[0]).unwrap();
    let id = s
        .create_report(NewReport {
            title: "Báo cáo tháng 01/2022".into(),
            kind: ReportKind::Monthly,
            period: "tháng 01/2022".into(),
            answers: None,
            audience: vec![org.city],
            sections: vec![NewSection {
                key: "ket_qua".into(),
                heading: "Kết quả".into(),
                body: "Đã họp dân ở ấp Bảo Định.".into(),
            }],
        })
        .unwrap();
    for _ in 0..30 {
        s.splice_report_section(id, "ket_qua", 0, 0, "ạ").unwrap();
    }
    let chunks = || -> i64 {
        rusqlite::Connection::open(&path)
            .unwrap()
            .query_row("SELECT chunk_count FROM documents WHERE id = ?1", [id.to_bytes().to_vec()], |r| {
                r.get(0)
            })
            .unwrap()
    };
    assert_eq!(chunks(), 30, "no keystroke waited for a compaction");
    // Still typing: nothing is compacted.
    assert!(!s.compact_one_waiting(std::time::Duration::from_secs(20)).unwrap());
    clock.set_local(2022, 1, 24, 9, 1);
    assert!(s.compact_one_waiting(std::time::Duration::from_secs(20)).unwrap());
    assert!(!s.compact_one_waiting(std::time::Duration::from_secs(20)).unwrap());
    assert_eq!(chunks(), 0);
    let want = format!("{}Đã họp dân ở ấp Bảo Định.", "ạ".repeat(30));
    assert_eq!(s.report(id).unwrap().sections[0].body.as_str(), want);
    drop(s);
    let mut s = Store::open_with(&path, opts()).unwrap();
    assert_eq!(s.report(id).unwrap().sections[0].body.as_str(), want);
    // Typing past sixteen times the limit compacts at once, whatever the clock.
    for _ in 0..64 {
        s.splice_report_section(id, "ket_qua", 0, 0, "â").unwrap();
    }
    assert!(chunks() < 64);
}
