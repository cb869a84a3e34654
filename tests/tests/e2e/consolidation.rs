//! The office's consolidation of a task through a real relay: the wards' figures summed as
//! they arrive, a returned report dropping out and coming back, qualifiers and scopes kept
//! apart, and the units not counted named.

use giaoban_client_core::demo::dispatch_305;
use giaoban_client_core::protocol::schema::{FigureScope, MeasureUnit, Qualifier, ReportKind, Verdict};
use giaoban_client_core::protocol::{DocId, UnitId};
use giaoban_client_core::{
    Counting, FigureInput, NewReport, NewSection, ReportStanding, Store, Sum, format_figure,
};
use giaoban_e2e::Relay;

fn sync(s: &mut Store) {
    s.sync_now().unwrap();
}

fn local_date(days: i64) -> String {
    ((chrono::Utc::now() + chrono::Duration::hours(7)).date_naive() + chrono::Duration::days(days))
        .format("%d/%m/%Y")
        .to_string()
}

/// A ward's report on task 3 with `figures` (indicator, amount as written, scope, since).
fn reported(s: &mut Store, directive: DocId, figures: &[(&str, &str, FigureScope, &str)]) -> DocId {
    let r = s
        .create_report(NewReport {
            title: "Báo cáo kết quả rà soát các mô hình".into(),
            kind: ReportKind::Thematic,
            period: "Tháng cao điểm “Vì người nghèo” từ ngày 17/10 đến ngày 18/11/2025".into(),
            answers: Some((directive, 3)),
            audience: vec![],
            sections: vec![NewSection {
                key: "ket_qua".into(),
                heading: "Kết quả thực hiện".into(),
                body: "Rà soát các mô hình tự quản ở khu dân cư.".into(),
            }],
        })
        .unwrap();
    for (indicator, amount, scope, since) in figures {
        s.set_report_figure(
            r,
            FigureInput {
                indicator: (*indicator).into(),
                amount: (*amount).into(),
                unit: if indicator.ends_with("_vnd") { MeasureUnit::Vnd } else { MeasureUnit::Items },
                scope: *scope,
                note: String::new(),
                since: (*since).into(),
            },
        )
        .unwrap();
    }
    s.submit_report_by(r, "Nguyễn Thị Hoa, Phó Chủ tịch").unwrap();
    sync(s);
    r
}

#[test]
fn the_office_sums_its_wards_figures_as_they_arrive_and_are_judged() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let wards: Vec<UnitId> = relay.org.units[1..5].iter().map(|u| u.id).collect();
    let mut office = relay.device(&dir.path().join("office.sqlite"), 0, "Văn phòng thành phố");
    let directive =
        office.issue_directive(dispatch_305(wards.clone(), &local_date(10), &local_date(13))).unwrap();
    sync(&mut office);
    let mut phones: Vec<Store> = (1..5)
        .map(|i| {
            let mut p = relay.device(&dir.path().join(format!("ward{i}.sqlite")), i, "Điện thoại");
            sync(&mut p);
            p
        })
        .collect();

    let r1 = reported(
        &mut phones[0],
        directive,
        &[
            ("mo_hinh_ra_soat", "14", FigureScope::Period, ""),
            ("quy_vnn_vnd", "gần 850 triệu", FigureScope::Period, ""),
            ("quy_vnn_vnd_luy_ke", "6,4 tỷ", FigureScope::Cumulative, "01/01/2025"),
        ],
    );
    let r2 = reported(
        &mut phones[1],
        directive,
        &[
            ("mo_hinh_ra_soat", "9", FigureScope::Period, ""),
            ("quy_vnn_vnd", "hơn 20 triệu", FigureScope::Period, ""),
        ],
    );
    phones[2].mark_task_not_applicable(directive, 3, "Không có mô hình").unwrap();
    sync(&mut phones[2]);
    // The fourth ward has not reported.
    sync(&mut office);

    // Nothing accepted yet: accepted-only counts no one and says why for each.
    let c = office.consolidation(directive, 3, Counting::AcceptedOnly).unwrap();
    assert!(c.rows.is_empty());
    assert_eq!(c.not_counted.len(), 4);
    let awaiting = c.not_counted.iter().filter(|(_, s)| *s == ReportStanding::AwaitingReview).count();
    assert_eq!(awaiting, 2);
    assert!(c.not_counted.contains(&(wards[2], ReportStanding::NotApplicable)));
    assert!(c.not_counted.contains(&(wards[3], ReportStanding::NotReported)));

    // All submitted: both wards; "gần" + "hơn" is "khoảng"; the cumulative figure is its own
    // column and keeps the day it counts from.
    let c = office.consolidation(directive, 3, Counting::AllSubmitted).unwrap();
    assert_eq!(c.rows.len(), 2);
    let col = |c: &giaoban_client_core::Consolidation, ind: &str, scope| {
        c.columns.iter().find(|k| k.key.indicator == ind && k.key.scope == scope).cloned().unwrap()
    };
    assert_eq!(
        col(&c, "mo_hinh_ra_soat", FigureScope::Period).sum,
        Sum::Value { value: 23, qualifier: Qualifier::Exact }
    );
    let money = col(&c, "quy_vnn_vnd", FigureScope::Period);
    assert_eq!(money.sum, Sum::Value { value: 870_000_000, qualifier: Qualifier::About });
    let cumulative = col(&c, "quy_vnn_vnd_luy_ke", FigureScope::Cumulative);
    assert_eq!(cumulative.since, vec![chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()]);
    assert_eq!(c.columns[0].key.indicator, "mo_hinh_ra_soat", "the task's own indicators first");
    assert_eq!(c.missing_indicators, vec!["mo_hinh_giai_the".to_string(), "mo_hinh_nhan_rong".to_string()]);
    // The figure keeps the words it was written in beside its value.
    let cell =
        c.rows.iter().find_map(|r| r.cells[c.columns.iter().position(|k| k == &money).unwrap()].clone());
    let cell = cell.unwrap();
    assert_eq!(
        (cell.written.as_str(), format_figure(&cell).as_str()),
        ("gần 850 triệu", "gần 850.000.000 đ")
    );

    // The office accepts one and returns the other.
    office.review_report(r1, Verdict::Accepted, "").unwrap();
    office.review_report(r2, Verdict::Returned, "Đề nghị bổ sung số liệu mô hình giải thể.").unwrap();
    let c = office.consolidation(directive, 3, Counting::AcceptedOnly).unwrap();
    assert_eq!(c.rows.iter().map(|r| r.unit).collect::<Vec<_>>(), vec![wards[0]]);
    assert_eq!(
        col(&c, "quy_vnn_vnd", FigureScope::Period).sum,
        Sum::Value { value: 850_000_000, qualifier: Qualifier::Under }
    );
    let c = office.consolidation(directive, 3, Counting::AllSubmitted).unwrap();
    assert!(c.not_counted.contains(&(wards[1], ReportStanding::Returned)), "returned drops out of both");
    sync(&mut office);

    // The ward corrects and submits again: counted among all submitted at once, among
    // accepted ones once accepted.
    sync(&mut phones[1]);
    phones[1]
        .set_report_figure(
            r2,
            FigureInput {
                indicator: "mo_hinh_giai_the".into(),
                amount: "2".into(),
                unit: MeasureUnit::Items,
                scope: FigureScope::Period,
                note: String::new(),
                since: String::new(),
            },
        )
        .unwrap();
    phones[1].submit_report(r2).unwrap();
    sync(&mut phones[1]);
    sync(&mut office);
    let c = office.consolidation(directive, 3, Counting::AllSubmitted).unwrap();
    assert_eq!(c.rows.len(), 2);
    assert!(c.missing_indicators == vec!["mo_hinh_nhan_rong".to_string()]);
    let report = office.report(r2).unwrap();
    assert_eq!(report.submitted_by, "Nguyễn Thị Hoa, Phó Chủ tịch", "kept from the first submission");
    let p = report.period.unwrap();
    assert_eq!((p.from.to_string(), p.to.to_string()), ("2025-10-17".into(), "2025-11-18".into()));
    assert_eq!(office.consolidation(directive, 3, Counting::AcceptedOnly).unwrap().rows.len(), 1);
    office.review_report(r2, Verdict::Accepted, "").unwrap();
    assert_eq!(office.consolidation(directive, 3, Counting::AcceptedOnly).unwrap().rows.len(), 2);

    // The office's own report, drafted from the consolidation: its totals as figures, the
    // wards' words, due by the dispatch's consolidation step; it syncs as any report.
    let draft = office.draft_consolidated_report(directive, 3, Counting::AcceptedOnly).unwrap();
    let r = office.report(draft).unwrap();
    assert_eq!(r.header.owner, relay.org.units[0].id);
    assert!(r.submitted_at_device.is_none(), "a draft until submitted");
    assert_eq!(
        r.due.as_ref().map(|d| d.original_text.clone()),
        Some(format!("trước ngày {}", local_date(13)))
    );
    let ra_soat = r.figure("mo_hinh_ra_soat").unwrap();
    assert_eq!((ra_soat.value, ra_soat.qualifier), (23, Qualifier::Exact));
    let money = r.figure("quy_vnn_vnd").unwrap();
    assert_eq!((money.value, money.qualifier), (870_000_000, Qualifier::About));
    assert_eq!(r.figure("quy_vnn_vnd_luy_ke").unwrap().since, chrono::NaiveDate::from_ymd_opt(2025, 1, 1));
    let text: String = r.sections.iter().map(|s| format!("{}\n{}\n", s.heading, s.body.as_str())).collect();
    assert!(text.contains("Có 2/4 đơn vị có báo cáo đã duyệt được tổng hợp."), "{text}");
    assert!(text.contains("khoảng 870.000.000 đ"), "{text}");
    assert!(text.contains(&relay.org.units[1].name) && text.contains("Rà soát các mô hình"), "{text}");
    assert!(text.contains("không áp dụng") && text.contains("chưa báo cáo"), "{text}");
    office.submit_report_by(draft, "Nguyễn Văn Muối").unwrap();
    sync(&mut office);
    let mut colleague = relay.device(&dir.path().join("office2.sqlite"), 0, "Máy văn phòng 2");
    sync(&mut colleague);
    let there = colleague.report(draft).unwrap();
    assert_eq!((there.submitted_by.as_str(), there.figures.len()), ("Nguyễn Văn Muối", r.figures.len()));

    // A ward's phone cannot consolidate what its unit did not issue; an unknown task is named.
    assert!(phones[0].consolidation(directive, 3, Counting::AllSubmitted).is_err());
    assert!(phones[0].draft_consolidated_report(directive, 3, Counting::AllSubmitted).is_err());
    assert!(office.consolidation(directive, 99, Counting::AllSubmitted).is_err());
}

#[test]
fn a_since_day_on_a_figure_of_the_period_is_refused_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let mut ward = relay.device(&dir.path().join("ward.sqlite"), 1, "Điện thoại");
    let r = ward
        .create_report(NewReport {
            title: "Báo cáo tháng".into(),
            kind: ReportKind::Monthly,
            period: "tháng 11/2025".into(),
            answers: None,
            audience: vec![relay.org.units[0].id],
            sections: vec![],
        })
        .unwrap();
    let figure = |scope, since: &str| FigureInput {
        indicator: "nha_dai_doan_ket".into(),
        amount: "93".into(),
        unit: MeasureUnit::Houses,
        scope,
        note: String::new(),
        since: since.into(),
    };
    let e = ward.set_report_figure(r, figure(FigureScope::Period, "01/01/2025")).unwrap_err();
    assert!(e.to_string().contains("cumulative"), "{e}");
    let e = ward.set_report_figure(r, figure(FigureScope::Cumulative, "31/02/2025")).unwrap_err();
    assert!(e.to_string().contains("since"), "{e}");
    ward.set_report_figure(r, figure(FigureScope::Cumulative, "01/01/2025")).unwrap();
    assert_eq!(ward.report(r).unwrap().figures[0].written, "93");
    assert!(ward.submit_report_by(r, &"x".repeat(1_001)).is_err(), "a name past a line's length");
    assert!(ward.report(r).unwrap().submitted_at_device.is_none(), "nothing written");
}

/// A ward that consolidates its own units' figures (its member organisations) drafts its report
/// to the province above it: addressed to the province, due by the ward's consolidation step,
/// it reaches the province's device once submitted, with the summed figures.
#[test]
fn a_wards_consolidated_report_reaches_the_province_above_it() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let (province, ward) = (relay.org.units[0].id, relay.org.units[1].id);
    let mut organisations = Vec::new();
    for name in ["Hội Liên hiệp Phụ nữ", "Hội Cựu chiến binh"] {
        let (id, _) = relay
            .store
            .add_unit(
                ward,
                giaoban_relay::store::NewUnit {
                    name: format!("{name} {}", relay.org.units[1].name),
                    short_name: String::new(),
                    kind: giaoban_client_core::protocol::schema::UnitKind::MemberOrganisation,
                    level_label: String::new(),
                },
            )
            .unwrap();
        organisations.push(id);
    }
    let mut ward_office = relay.device(&dir.path().join("ward.sqlite"), 1, "Máy văn phòng phường");
    let mut province_office = relay.device(&dir.path().join("province.sqlite"), 0, "Máy văn phòng tỉnh");
    let directive = ward_office
        .issue_directive(dispatch_305(organisations.clone(), &local_date(5), &local_date(8)))
        .unwrap();
    sync(&mut ward_office);
    for (i, (org, amount)) in organisations.iter().zip(["gần 850 triệu", "hơn 20 triệu"]).enumerate() {
        let mut phone = Store::open(dir.path().join(format!("org{i}.sqlite"))).unwrap();
        let code = relay.store.create_enrollment(*org, 1).unwrap();
        phone.enroll(&relay.url, &code.code, "Điện thoại").unwrap();
        sync(&mut phone);
        reported(&mut phone, directive, &[("quy_vnn_vnd", amount, FigureScope::Period, "")]);
    }
    sync(&mut ward_office);
    let draft = ward_office.draft_consolidated_report(directive, 3, Counting::AllSubmitted).unwrap();
    let r = ward_office.report(draft).unwrap();
    assert_eq!((r.header.owner, r.header.audience.clone()), (ward, vec![province]), "to the unit above");
    assert_eq!(r.due.as_ref().unwrap().original_text, format!("trước ngày {}", local_date(8)));
    ward_office.submit_report_by(draft, "Nguyễn Thị Hoa").unwrap();
    sync(&mut ward_office);

    sync(&mut province_office);
    let there = province_office.report(draft).unwrap();
    let money = there.figure("quy_vnn_vnd").unwrap();
    assert_eq!((money.value, money.qualifier), (870_000_000, Qualifier::About));
    assert_eq!(there.submitted_by, "Nguyễn Thị Hoa");
    assert!(there.submitted_at_device.is_some());
}

/// A second phone of a ward, offline while the office accepted the ward's report, changes a
/// figure: what the report now says is not what was accepted. Accepted-only leaves it out and
/// says why; all submitted counts it; accepted again, it counts with its new figure.
#[test]
fn figures_changed_after_acceptance_are_not_counted_as_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let ward = relay.org.units[1].id;
    let mut office = relay.device(&dir.path().join("office.sqlite"), 0, "Văn phòng tỉnh");
    let directive =
        office.issue_directive(dispatch_305(vec![ward], &local_date(10), &local_date(13))).unwrap();
    sync(&mut office);
    let mut lan = relay.device(&dir.path().join("lan.sqlite"), 1, "Điện thoại chị Lan");
    let mut hung = relay.device(&dir.path().join("hung.sqlite"), 1, "Điện thoại anh Hùng");
    sync(&mut lan);
    let report = reported(&mut lan, directive, &[("quy_vnn_vnd", "gần 850 triệu", FigureScope::Period, "")]);
    sync(&mut hung);
    sync(&mut office);
    office.review_report(report, Verdict::Accepted, "").unwrap();
    sync(&mut office);
    let money = |c: &giaoban_client_core::Consolidation| {
        c.columns.iter().find(|k| k.key.indicator == "quy_vnn_vnd").map(|k| k.sum)
    };
    let c = office.consolidation(directive, 3, Counting::AcceptedOnly).unwrap();
    assert_eq!(money(&c), Some(Sum::Value { value: 850_000_000, qualifier: Qualifier::Under }));

    // Hùng's phone has not seen the verdict: it lets him change the figure.
    hung.set_report_figure(
        report,
        FigureInput {
            indicator: "quy_vnn_vnd".into(),
            amount: "1,2 tỷ".into(),
            unit: MeasureUnit::Vnd,
            scope: FigureScope::Period,
            note: "Cộng thêm đợt ủng hộ cuối tháng".into(),
            since: String::new(),
        },
    )
    .unwrap();
    sync(&mut hung);
    sync(&mut office);
    let c = office.consolidation(directive, 3, Counting::AcceptedOnly).unwrap();
    assert!(c.rows.is_empty(), "what was accepted is no longer what it says");
    assert_eq!(c.not_counted, vec![(ward, ReportStanding::ChangedSinceAccepted)]);
    assert_eq!(
        ReportStanding::ChangedSinceAccepted.vietnamese(),
        "số liệu đã đổi sau khi duyệt, cần duyệt lại"
    );
    let c = office.consolidation(directive, 3, Counting::AllSubmitted).unwrap();
    assert_eq!(money(&c), Some(Sum::Value { value: 1_200_000_000, qualifier: Qualifier::Exact }));

    office.review_report(report, Verdict::Accepted, "Đã đối chiếu số liệu mới.").unwrap();
    let c = office.consolidation(directive, 3, Counting::AcceptedOnly).unwrap();
    assert_eq!(money(&c), Some(Sum::Value { value: 1_200_000_000, qualifier: Qualifier::Exact }));
}
