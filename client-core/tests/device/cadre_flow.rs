//! The seed dispatch 305/MTTQ-BTT, from issue to review, across a city device and ward devices,
//! each on its own SQLite file.

use crate::common::*;
use giaoban_client_core::protocol::schema::{
    FigureScope, MeasureUnit, Qualifier, ReportKind, TaskState, Verdict,
};
use giaoban_client_core::protocol::{DeadlineStanding, DocKind};
use giaoban_client_core::{
    CoreError, DueFilter, FigureInput, NewReport, NewSection, StateFilter, TaskFilter, TaskScope,
};

#[test]
fn dispatch_305_from_issue_to_review() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at_local(2022, 1, 24, 9, 0);
    let org = org();
    let mut city = open(&dir.path().join("city.sqlite"), &clock);
    city.set_unit(org.city).unwrap();
    city.create_unit_directory(&org.directory).unwrap();
    let directive = city.issue_directive(dispatch_305(org.wards.clone())).unwrap();

    let d = city.directive(directive).unwrap();
    assert_eq!(d.number.raw, "305/MTTQ-BTT");
    assert_eq!(d.number.number, Some(305));
    assert_eq!(d.issued_on.to_string(), "2022-01-24");
    let t3 = d.task(3).unwrap();
    let dl = t3.deadline.as_ref().unwrap();
    assert!(dl.exclusive, "'trước ngày' is exclusive by default");
    assert_eq!(dl.last_day().to_string(), "2022-02-07");
    assert_eq!(t3.consolidation.as_ref().unwrap().deadline.due_date.to_string(), "2022-02-11");

    // The office sees 4 tasks x 3 wards, none acknowledged.
    let issued = city.list_tasks(&TaskFilter { scope: TaskScope::IssuedByMe, ..Default::default() }).unwrap();
    assert_eq!(issued.len(), 12);
    assert!(issued.iter().all(|t| t.state.is_none()));
    assert_eq!(issued[0].ordinal, 3, "the task with a deadline comes first");

    // Ward 0 receives everything the city has.
    let mut ward = open(&dir.path().join("ward0.sqlite"), &clock);
    ward.set_unit(org.wards[0]).unwrap();
    assert_eq!(send_all(&mut city, &mut ward), 2);
    let mine = ward.list_tasks(&TaskFilter::default()).unwrap();
    assert_eq!(mine.len(), 4);
    assert!(mine.iter().all(|t| t.assignee == org.wards[0] && !t.is_acknowledged()));
    assert_eq!(mine[0].standing, Some(DeadlineStanding::Upcoming));

    // A ward cannot write the city's directive.
    let err = ward.set_directive_subject(directive, "V/v sửa đổi").unwrap_err();
    assert!(matches!(err, CoreError::NotOwner { .. }), "{err}");

    ward.acknowledge_task(directive, 1).unwrap();
    ward.acknowledge_task(directive, 3).unwrap();
    ward.mark_task_not_applicable(directive, 4, "Không phát sinh nội dung giám sát trong quý").unwrap();
    let not_ack = ward
        .list_tasks(&TaskFilter { state: Some(StateFilter::NotAcknowledged), ..Default::default() })
        .unwrap();
    assert_eq!(not_ack.iter().map(|t| t.ordinal).collect::<Vec<_>>(), vec![2]);

    // The report answering task 3, with Vietnamese prose and figures.
    let report = ward
        .create_report(NewReport {
            title: "Báo cáo kết quả rà soát, đánh giá hiệu quả hoạt động các mô hình của Mặt trận".into(),
            kind: ReportKind::Thematic,
            period: "tháng 1/2022".into(),
            answers: Some((directive, 3)),
            audience: vec![],
            sections: vec![
                NewSection {
                    key: "ket_qua".into(),
                    heading: "Kết quả thực hiện".into(),
                    body: "Rà soát 12 mô hình; nhân rộng mô hình \"Tuyến đường hoa\".".into(),
                },
                NewSection {
                    key: "han_che".into(), heading: "Tồn tại, hạn chế".into(), body: String::new()
                },
            ],
        })
        .unwrap();
    ward.set_report_figure(
        report,
        FigureInput {
            indicator: "mo_hinh_ra_soat".into(),
            amount: "12".into(),
            unit: MeasureUnit::Items,
            scope: FigureScope::Period,
            note: String::new(),
            since: String::new(),
        },
    )
    .unwrap();
    ward.set_report_figure(
        report,
        FigureInput {
            indicator: "ung_ho_thien_tai_vnd".into(),
            amount: "gần 850 triệu đồng".into(),
            unit: MeasureUnit::Vnd,
            scope: FigureScope::Cumulative,
            note: "từ các cơ quan, đoàn thể, cá nhân".into(),
            since: String::new(),
        },
    )
    .unwrap();
    let r = ward.report(report).unwrap();
    let fig = r.figures.iter().find(|f| f.indicator == "ung_ho_thien_tai_vnd").unwrap();
    assert_eq!((fig.value, fig.qualifier), (850_000_000, Qualifier::Under));
    assert_eq!(r.period.as_ref().unwrap().to.to_string(), "2022-01-31");
    assert_eq!(giaoban_client_core::domain::format_figure(fig), "gần 850.000.000 đ");

    let t3 = ward.list_tasks(&TaskFilter { source: Some(directive), ..Default::default() }).unwrap();
    let t3 = t3.iter().find(|t| t.ordinal == 3).unwrap();
    assert_eq!(t3.state, Some(TaskState::InProgress));
    assert_eq!(t3.report, Some(report));

    ward.submit_report(report).unwrap();
    assert!(ward.pending_changes_count().unwrap() >= 2);

    // The city receives the ward's response and report and sees the state and figures.
    send_all(&mut ward, &mut city);
    let issued = city
        .list_tasks(&TaskFilter {
            scope: TaskScope::Unit(org.wards[0]),
            source: Some(directive),
            ..Default::default()
        })
        .unwrap();
    let states: Vec<_> = issued.iter().map(|t| (t.ordinal, t.state)).collect();
    assert!(states.contains(&(3, Some(TaskState::Submitted))));
    assert!(states.contains(&(4, Some(TaskState::NotApplicable))));
    assert!(states.contains(&(2, Some(TaskState::Received))));
    assert_eq!(city.report(report).unwrap().figures.len(), 2);

    // The city returns it; the ward sees the note.
    let err = city.review_report(report, Verdict::Returned, "  ").unwrap_err();
    assert!(matches!(err, CoreError::Invalid(_)), "{err}");
    city.review_report(report, Verdict::Returned, "Bổ sung số liệu mô hình giải thể.").unwrap();
    send_all(&mut city, &mut ward);
    let t3 = ward.list_tasks(&TaskFilter::default()).unwrap().into_iter().find(|t| t.ordinal == 3).unwrap();
    assert_eq!(t3.review, Some((Verdict::Returned, "Bổ sung số liệu mô hình giải thể.".into())));

    // Ward 1 never answers: on 08/02 at 00:30 in Vietnam its task 3 is overdue.
    clock.set_local(2022, 2, 8, 0, 30);
    let overdue = city
        .list_tasks(&TaskFilter {
            scope: TaskScope::IssuedByMe,
            due: Some(DueFilter::Overdue),
            ..Default::default()
        })
        .unwrap();
    let late_units: Vec<_> = overdue.iter().map(|t| t.assignee).collect();
    assert_eq!(overdue.len(), 2, "{overdue:#?}");
    assert!(late_units.contains(&org.wards[1]) && late_units.contains(&org.wards[2]));
    clock.set_local(2022, 2, 7, 23, 59);
    let overdue = city
        .list_tasks(&TaskFilter {
            scope: TaskScope::IssuedByMe,
            due: Some(DueFilter::Overdue),
            ..Default::default()
        })
        .unwrap();
    assert!(overdue.is_empty(), "still 07/02 in Vietnam");

    // Every document kind made it to the city.
    let kinds: Vec<DocKind> =
        city.document_ids(None).unwrap().into_iter().map(|id| city.header(id).unwrap().kind).collect();
    for k in [DocKind::UnitDirectory, DocKind::Directive, DocKind::Response, DocKind::Report, DocKind::Review]
    {
        assert!(kinds.contains(&k), "{k} missing");
    }
}

#[test]
fn two_devices_of_one_ward_answer_into_one_response() {
    let dir = tempfile::tempdir().unwrap();
    let (mut city, directive, mut a, mut b) = city_and_two_ward_phones(dir.path(), 1);
    send_all(&mut city, &mut a);
    send_all(&mut city, &mut b);

    // Both start answering offline; each creates the response independently.
    a.update_task_progress(directive, 1, "Đã họp Ban Công tác Mặt trận khu phố 3.").unwrap();
    b.update_task_progress(directive, 2, "Nắm tình hình công nhân lao động tại khu công nghiệp.").unwrap();
    send_all(&mut a, &mut b);
    send_all(&mut b, &mut a);
    let ra = a.response(directive).unwrap();
    let rb = b.response(directive).unwrap();
    assert_eq!(ra, rb);
    assert_eq!(ra.task(1).unwrap().note.as_str(), "Đã họp Ban Công tác Mặt trận khu phố 3.");
    assert_eq!(ra.task(2).unwrap().note.as_str(), "Nắm tình hình công nhân lao động tại khu công nghiệp.");
    assert_eq!(a.document_ids(Some(DocKind::Response)).unwrap().len(), 1);
}

#[test]
fn meeting_conclusions_become_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at_local(2020, 12, 18, 14, 0);
    let org = org();
    let mut city = open(&dir.path().join("city.sqlite"), &clock);
    city.set_unit(org.city).unwrap();
    let meeting = city
        .record_meeting(giaoban_client_core::NewMeeting {
            kind: giaoban_client_core::protocol::schema::MeetingKind::QuarterlyBriefing,
            title: "Hội nghị giao ban công tác Mặt trận quý IV năm 2020".into(),
            held_on: "18/12/2020".into(),
            place: "huyện Ninh Sơn".into(),
            chair: "Ban Thường trực Ủy ban MTTQ Việt Nam tỉnh".into(),
            conclusions: vec![
                giaoban_client_core::NewConclusion {
                    target_label: "Đối với BTT các xã, phường".into(),
                    target_units: org.wards.clone(),
                    text: "Tổ chức các hoạt động chăm lo cho người nghèo, báo cáo trước ngày 15/01/2021."
                        .into(),
                    creates_task: true,
                    deadline: Some(giaoban_client_core::NewDeadline {
                        text: "trước ngày 15/01/2021".into(),
                        ..Default::default()
                    }),
                },
                giaoban_client_core::NewConclusion {
                    target_label: "Chung".into(),
                    target_units: vec![],
                    text: "Tiếp tục phát huy những kết quả đạt được.".into(),
                    creates_task: false,
                    deadline: None,
                },
            ],
        })
        .unwrap();
    let tasks = city.list_tasks(&TaskFilter { scope: TaskScope::IssuedByMe, ..Default::default() }).unwrap();
    assert_eq!(tasks.len(), 3);
    assert!(tasks.iter().all(|t| t.source == meeting && t.source_kind == DocKind::Meeting && t.ordinal == 1));

    let mut ward = open(&dir.path().join("ward.sqlite"), &clock);
    ward.set_unit(org.wards[2]).unwrap();
    send_all(&mut city, &mut ward);
    ward.acknowledge_task(meeting, 1).unwrap();
    assert_eq!(ward.list_tasks(&TaskFilter::default()).unwrap()[0].state, Some(TaskState::Acknowledged));
    let err = ward.acknowledge_task(meeting, 2).unwrap_err();
    assert!(matches!(err, CoreError::Invalid(_) | CoreError::NotFound { .. }), "{err}");
}

/// A briefing's conclusion addressed to the wards, recorded without a task of its own, is
/// carried out by a task of a dispatch: the task links back to the conclusion, the meeting's
/// office finds it from the meeting, and the ward receives the link with the task. A
/// conclusion that is already a task, one the meeting lacks, and another unit's meeting are
/// refused in words; a form sent twice records one meeting.
#[test]
fn a_conclusion_becomes_a_dispatch_task_that_links_back() {
    use giaoban_client_core::protocol::schema::{ConclusionRef, MeetingKind};
    use giaoban_client_core::{NewConclusion, NewDeadline, NewMeeting};
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at_local(2022, 1, 20, 9, 0);
    let org = org();
    let mut city = open(&dir.path().join("city.sqlite"), &clock);
    city.set_unit(org.city).unwrap();
    let minutes = NewMeeting {
        kind: MeetingKind::MonthlyBriefing,
        title: "Hội nghị giao ban công tác Mặt trận tháng 01 năm 2022".into(),
        held_on: "20/01/2022".into(),
        place: "Long Khánh".into(),
        chair: "đ/c Chủ tịch Ủy ban MTTQ Việt Nam thành phố".into(),
        conclusions: vec![
            NewConclusion {
                target_label: "Đối với Ban Thường trực Ủy ban MTTQ các xã, phường".into(),
                target_units: org.wards.clone(),
                text: "Rà soát, đánh giá hiệu quả hoạt động các mô hình của Mặt trận.".into(),
                creates_task: false,
                deadline: Some(NewDeadline {
                    text: "trước ngày 08/02/2022".into(), ..Default::default()
                }),
            },
            NewConclusion {
                target_label: "Đối với Ban Thường trực Ủy ban MTTQ các xã, phường".into(),
                target_units: org.wards.clone(),
                text: "Chăm lo Tết cho hộ nghèo, báo cáo trước ngày 25/01/2022.".into(),
                creates_task: true,
                deadline: None,
            },
        ],
    };
    let id = giaoban_client_core::protocol::DocId::from_parts(1_642_640_000_000, [5; 10]);
    let meeting = city.record_meeting_as(id, minutes.clone()).unwrap();
    assert_eq!(city.record_meeting_as(id, minutes).unwrap(), meeting, "sent twice, recorded once");
    assert_eq!(city.meetings().unwrap().len(), 1);
    let m = city.meeting(meeting).unwrap();
    assert_eq!(m.kind, MeetingKind::MonthlyBriefing);
    let due = m.conclusions[0].deadline.as_ref().unwrap();
    assert_eq!((due.due_date.to_string(), due.exclusive), ("2022-02-08".to_string(), true));

    let from = |ordinal| {
        let mut d = dispatch_305(org.wards.clone());
        d.tasks.truncate(3);
        d.tasks[2].from_conclusion = Some(ConclusionRef { meeting, ordinal });
        d
    };
    let directive = city.issue_directive(from(1)).unwrap();
    let links = city.dispatched_from(meeting).unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!((links[0].conclusion, links[0].directive, links[0].task), (1, directive, 3));
    assert_eq!(links[0].number, "305/MTTQ-BTT");

    for (ordinal, words) in [(2, "already a task of its own"), (7, "has no conclusion 7")] {
        let err = city.issue_directive(from(ordinal)).unwrap_err();
        assert!(err.to_string().contains(words), "{err}");
    }
    let mut other = open(&dir.path().join("other.sqlite"), &clock);
    other.set_unit(org.wards[0]).unwrap();
    let err = other.issue_directive(from(1)).unwrap_err();
    assert!(err.to_string().contains("no such meeting"), "{err}");
    assert_eq!(city.dispatched_from(meeting).unwrap().len(), 1, "nothing refused was issued");

    let mut ward = open(&dir.path().join("ward.sqlite"), &clock);
    ward.set_unit(org.wards[1]).unwrap();
    send_all(&mut city, &mut ward);
    let received = ward.directive(directive).unwrap();
    assert_eq!(received.tasks[2].from_conclusion, Some(ConclusionRef { meeting, ordinal: 1 }));
    assert_eq!(ward.meeting(meeting).unwrap().conclusions.len(), 2, "the ward was addressed");
    let err = ward.issue_directive(from(1)).unwrap_err();
    assert!(err.to_string().contains("held by another unit"), "{err}");
}

/// A colleague's report reaches a ward phone before the dispatch it answers. Submitting it
/// there says the dispatch is missing and changes nothing; once the dispatch arrives, it works,
/// and report and task agree.
#[test]
fn a_report_submitted_before_its_dispatch_arrives_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut city, directive, mut lan, mut duc) = city_and_two_ward_phones(dir.path(), 0);
    send_all(&mut city, &mut lan);
    let report = lan
        .create_report(giaoban_client_core::NewReport {
            title: "Báo cáo kết quả rà soát các mô hình".into(),
            kind: giaoban_client_core::protocol::schema::ReportKind::Thematic,
            period: "quý I/2022".into(),
            answers: Some((directive, 1)),
            audience: vec![],
            sections: vec![giaoban_client_core::NewSection {
                key: "ket_qua".into(),
                heading: "Kết quả".into(),
                body: "Đã rà soát 12 mô hình, giải thể 2 mô hình hoạt động không hiệu quả.".into(),
            }],
        })
        .unwrap();
    // Only the report reaches Đức's phone.
    assert!(send(&mut lan, &mut duc, report));
    let err = duc.submit_report(report).unwrap_err();
    assert!(err.to_string().contains("dispatch this report answers"), "{err}");
    assert!(duc.report(report).unwrap().submitted_at_device.is_none(), "the report is still a draft");

    send_all(&mut city, &mut duc);
    duc.submit_report(report).unwrap();
    assert!(duc.report(report).unwrap().submitted_at_device.is_some());
    let task = duc.response(directive).unwrap().task(1).unwrap().clone();
    assert_eq!(task.state, giaoban_client_core::protocol::schema::TaskState::Submitted);
    assert_eq!(task.report, Some(report));
}

/// The city, which has issued dispatch 305 to three wards, and two phones of ward `ward`
/// that have received nothing yet.
fn city_and_two_ward_phones(
    dir: &std::path::Path,
    ward: usize,
) -> (
    giaoban_client_core::Store,
    giaoban_client_core::protocol::DocId,
    giaoban_client_core::Store,
    giaoban_client_core::Store,
) {
    let clock = TestClock::at_local(2022, 1, 25, 8, 0);
    let org = org();
    let mut city = open(&dir.join("city.sqlite"), &clock);
    city.set_unit(org.city).unwrap();
    let directive = city.issue_directive(dispatch_305(org.wards.clone())).unwrap();
    let mut a = open(&dir.join("a.sqlite"), &clock);
    let mut b = open(&dir.join("b.sqlite"), &clock);
    a.set_unit(org.wards[ward]).unwrap();
    b.set_unit(org.wards[ward]).unwrap();
    (city, directive, a, b)
}
