//! Probes of the consolidation and the desk's downloads from outside: what a user with bad luck
//! or an attacker would send.

use giaoban_client_core::demo::dispatch_305;
use giaoban_client_core::protocol::schema::{FigureScope, MeasureUnit, ReportKind, TaskState, Verdict};
use giaoban_client_core::protocol::{DocId, UnitId};
use giaoban_client_core::{Counting, FigureInput, NewReport, NewSection, Store, Sum, TaskFilter};
use giaoban_e2e::Relay;
use giaoban_e2e::desk::Browser;

fn sync(s: &mut Store) {
    s.sync_now().unwrap();
}

fn local_date(days: i64) -> String {
    ((chrono::Utc::now() + chrono::Duration::hours(7)).date_naive() + chrono::Duration::days(days))
        .format("%d/%m/%Y")
        .to_string()
}

fn fig(indicator: &str, amount: &str, unit: MeasureUnit) -> FigureInput {
    FigureInput {
        indicator: indicator.into(),
        amount: amount.into(),
        unit,
        scope: FigureScope::Period,
        note: String::new(),
        since: String::new(),
    }
}

fn new_report(directive: DocId, title: &str) -> NewReport {
    NewReport {
        title: title.into(),
        kind: ReportKind::Thematic,
        period: "quý IV/2025".into(),
        answers: Some((directive, 3)),
        audience: vec![],
        sections: vec![NewSection {
            key: "ket_qua".into(),
            heading: "Kết quả thực hiện".into(),
            body: "Rà soát các mô hình tự quản ở khu dân cư.".into(),
        }],
    }
}

/// A relay, the office's device (unit 0) with dispatch 305 issued to `n` wards, and the wards'
/// phones, synced.
fn setup(dir: &std::path::Path, n: usize) -> (Relay, Store, DocId, Vec<Store>) {
    let relay = Relay::start(&dir.join("relay"));
    let wards: Vec<UnitId> = relay.org.units[1..=n].iter().map(|u| u.id).collect();
    let mut office = relay.device(&dir.join("office.sqlite"), 0, "Văn phòng");
    let directive = office.issue_directive(dispatch_305(wards, &local_date(10), &local_date(13))).unwrap();
    sync(&mut office);
    let phones = (1..=n)
        .map(|i| {
            let mut p = relay.device(&dir.join(format!("ward{i}.sqlite")), i, "Điện thoại");
            sync(&mut p);
            p
        })
        .collect();
    (relay, office, directive, phones)
}

/// A ward's report on task 3 with `figures`, submitted and synced.
fn report_with(s: &mut Store, directive: DocId, title: &str, figures: Vec<FigureInput>) -> DocId {
    let r = s.create_report(new_report(directive, title)).unwrap();
    for f in figures {
        s.set_report_figure(r, f).unwrap();
    }
    s.submit_report(r).unwrap();
    sync(s);
    r
}

fn staff(relay: &Relay, unit: usize, login: &str) -> Browser {
    let (_, password) = relay.store.add_staff(relay.org.units[unit].id, login, "Nguyễn Văn Muối").unwrap();
    let mut b = Browser::new(&relay.url);
    assert_eq!(b.sign_in(login, &password).status, 303);
    b
}

fn value_of(c: &giaoban_client_core::Consolidation, indicator: &str) -> Option<Sum> {
    c.columns.iter().find(|k| k.key.indicator == indicator).map(|k| k.sum)
}

// ---------------------------------------------------------------------------------------------
// FAILING (expected): findings.
// ---------------------------------------------------------------------------------------------

/// FINDING: a ward submits report A (14 models), then starts a new draft B answering the same
/// task (999, never submitted). Creating B repoints the task at B while the task still says
/// "submitted", so the office's "all submitted" total counts the unsubmitted draft.
#[test]
fn a_new_draft_does_not_replace_the_submitted_report_in_the_sum() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, mut office, directive, mut phones) = setup(dir.path(), 1);
    let a = report_with(
        &mut phones[0],
        directive,
        "Báo cáo rà soát mô hình",
        vec![fig("mo_hinh_ra_soat", "14", MeasureUnit::Items)],
    );
    let b = phones[0].create_report(new_report(directive, "Bản nháp báo cáo bổ sung")).unwrap();
    phones[0].set_report_figure(b, fig("mo_hinh_ra_soat", "999", MeasureUnit::Items)).unwrap();
    sync(&mut phones[0]);
    sync(&mut office);
    assert!(office.report(b).unwrap().submitted_at_device.is_none(), "B is a draft");
    let c = office.consolidation(directive, 3, Counting::AllSubmitted).unwrap();
    assert_eq!(
        value_of(&c, "mo_hinh_ra_soat"),
        Some(Sum::Value { value: 14, qualifier: giaoban_client_core::protocol::schema::Qualifier::Exact }),
        "the submitted report A ({a}) counts, not the draft B ({b}): rows {:?}",
        c.rows
    );
}

/// FINDING: the office accepts a report of 14; the ward then changes the figure to 999 without
/// submitting again. The accepted-only total silently becomes 999, which nobody accepted.
#[test]
fn figures_changed_after_acceptance_are_not_counted_as_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, mut office, directive, mut phones) = setup(dir.path(), 1);
    let r = report_with(
        &mut phones[0],
        directive,
        "Báo cáo rà soát mô hình",
        vec![fig("mo_hinh_ra_soat", "14", MeasureUnit::Items)],
    );
    sync(&mut office);
    office.review_report(r, Verdict::Accepted, "").unwrap();
    sync(&mut office);
    sync(&mut phones[0]);
    if phones[0].set_report_figure(r, fig("mo_hinh_ra_soat", "999", MeasureUnit::Items)).is_err() {
        return; // An accepted report cannot be changed: held.
    }
    sync(&mut phones[0]);
    sync(&mut office);
    let c = office.consolidation(directive, 3, Counting::AcceptedOnly).unwrap();
    assert_ne!(
        value_of(&c, "mo_hinh_ra_soat"),
        Some(Sum::Value { value: 999, qualifier: giaoban_client_core::protocol::schema::Qualifier::Exact }),
        "999 was never accepted, yet it is the accepted total"
    );
}

/// FINDING: a ward that reports 32 indicators makes a table of 65 columns; the export refuses
/// it (Word's 63-column limit is applied to the XLSX too), and the desk answers 503 "the server
/// is having trouble, try again in a few minutes" for both downloads, forever.
#[test]
fn many_indicators_still_download_as_a_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let (relay, mut office, directive, mut phones) = setup(dir.path(), 1);
    let figures = (0..32).map(|i| fig(&format!("chi_tieu_{i:02}"), "1", MeasureUnit::Items)).collect();
    report_with(&mut phones[0], directive, "Báo cáo nhiều chỉ tiêu", figures);
    sync(&mut office);
    let mut b = staff(&relay, 0, "muoi.nv");
    let base = format!("/desk/dispatch/{directive}/task/3/figures");
    assert_eq!(b.get(&format!("{base}?counting=all")).status, 200);
    let (xlsx, _, _) = b.get_bytes(&format!("{base}.xlsx?counting=all"));
    let (docx, _, _) = b.get_bytes(&format!("/desk/dispatch/{directive}/task/3/report.docx?counting=all"));
    assert_eq!(
        (xlsx, docx),
        (200, 200),
        "a sheet holds 16,384 columns; at the least the refusal should say why (not 503 'try later')"
    );
}

/// FINDING: an ordinal past u64 in the path is answered 400 with axum's plain-text parse error,
/// not the desk's 404 page that every other unknown address gets.
#[test]
fn an_ordinal_past_u64_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let (relay, _office, directive, _phones) = setup(dir.path(), 1);
    let mut b = staff(&relay, 0, "muoi.nv");
    for path in [
        format!("/desk/dispatch/{directive}/task/18446744073709551616/figures"),
        format!("/desk/dispatch/{directive}/task/18446744073709551616/figures.xlsx"),
        format!("/desk/dispatch/{directive}/task/-1/report.docx"),
        format!("/desk/dispatch/{directive}/task/ba/figures"),
    ] {
        let a = b.get(&path);
        assert_eq!(a.status, 404, "{path}: {}", a.body);
    }
}

/// FINDING: `?counting=` that is not plain UTF-8 or is given twice is answered 400 with axum's
/// plain-text error instead of the page (accepted only, the default).
#[test]
fn garbage_counting_reads_as_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let (relay, _office, directive, _phones) = setup(dir.path(), 1);
    let mut b = staff(&relay, 0, "muoi.nv");
    let base = format!("/desk/dispatch/{directive}/task/3/figures");
    for q in ["?counting=garbage", "?counting=", "?counting=ALL", "?x=1", "?counting"] {
        let a = b.get(&format!("{base}{q}"));
        assert_eq!(a.status, 200, "{q}");
        assert!(a.body.contains("Chưa có báo cáo nào được duyệt"), "{q}: accepted only");
    }
    for q in ["?counting=%FF", "?counting=all&counting=all", "?counting=all&counting=accepted"] {
        let a = b.get(&format!("{base}{q}"));
        assert_eq!(a.status, 200, "{q}: {}", a.body);
    }
}

/// FINDING: "từ ngày 01/10 đến hết ngày 31/12/2025" ("until the end of") is how many campaign
/// periods are written; it is refused.
#[test]
fn a_period_until_the_end_of_a_day_is_read() {
    let p = giaoban_vietnamese_text::parse_period("Đợt thi đua từ ngày 01/10 đến hết ngày 31/12/2025");
    let p = p.expect("đến hết ngày is read");
    assert_eq!((p.from.to_string(), p.to.to_string()), ("2025-10-01".into(), "2025-12-31".into()));
}

/// FINDING: a first day without its year takes the last day's year, or the year before "when
/// it would fall after it"; 29/02 of a non-leap last year is refused outright instead of being
/// tried in the year before (2024, a leap year, where it falls before the last day).
#[test]
fn a_leap_day_without_its_year_is_tried_in_the_year_before() {
    let p = giaoban_vietnamese_text::parse_period("từ ngày 29/02 đến ngày 15/01/2025");
    let p = p.expect("29/02/2024 to 15/01/2025");
    assert_eq!(p.from.to_string(), "2024-02-29");
}

/// GUARD (held): "Ð" (U+00D0, the letter old Vietnamese encodings convert "Đ" to) in "Ðến" is
/// read as "Đến".
#[test]
fn eth_for_d_with_stroke_in_a_period() {
    let p = giaoban_vietnamese_text::parse_period("Tháng cao điểm từ ngày 17/10 Ðến ngày 18/11/2025");
    let p = p.expect("Ðến read as Đến");
    assert_eq!(p.to.to_string(), "2025-11-18");
}

/// FINDING (low): a figure above 2^53 is written to the XLSX as an f64 and comes back as
/// another number, with nothing saying so.
#[test]
fn a_figure_past_2_pow_53_is_not_silently_changed_in_the_sheet() {
    use calamine::Reader;
    let dir = tempfile::tempdir().unwrap();
    let (relay, mut office, directive, mut phones) = setup(dir.path(), 1);
    let odd = 9_007_199_254_740_993_i64; // 2^53 + 1
    let r = report_with(
        &mut phones[0],
        directive,
        "Báo cáo",
        vec![fig("quy_vnd", &odd.to_string(), MeasureUnit::Vnd)],
    );
    sync(&mut office);
    office.review_report(r, Verdict::Accepted, "").unwrap();
    sync(&mut office);
    let mut b = staff(&relay, 0, "muoi.nv");
    let (status, _, bytes) = b.get_bytes(&format!("/desk/dispatch/{directive}/task/3/figures.xlsx"));
    assert_eq!(status, 200);
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range_at(0).unwrap().unwrap();
    let shown: Vec<String> = sheet
        .rows()
        .flat_map(|r| r.iter())
        .filter_map(|c| match c {
            calamine::Data::Float(f) if *f > 1e15 => Some(format!("{f:.0}")),
            calamine::Data::Int(i) => Some(i.to_string()),
            calamine::Data::String(s) if s.chars().filter(char::is_ascii_digit).count() >= 16 => {
                Some(s.clone())
            }
            _ => None,
        })
        .collect();
    assert!(
        shown.iter().any(|s| s.replace('.', "") == odd.to_string()),
        "the sheet shows {shown:?}, the ward reported {odd}"
    );
}

// ---------------------------------------------------------------------------------------------
// Guards: these held when written.
// ---------------------------------------------------------------------------------------------

/// A ward's staff, or another ward's, gets 404 for the office's consolidation and its
/// downloads, for another ward's report and for a dispatch not sent to it: the same as an id
/// that does not exist.
#[test]
fn other_units_get_not_found_for_every_download() {
    let dir = tempfile::tempdir().unwrap();
    let (relay, mut office, directive, mut phones) = setup(dir.path(), 2);
    let r1 =
        report_with(&mut phones[0], directive, "Báo cáo phường 1", vec![fig("x", "1", MeasureUnit::Items)]);
    // A dispatch only to ward 2.
    let only2 = office
        .issue_directive(dispatch_305(vec![relay.org.units[2].id], &local_date(10), &local_date(13)))
        .unwrap();
    sync(&mut office);
    let mut w2 = staff(&relay, 2, "phuong.2");
    let mut w1 = staff(&relay, 1, "phuong.1");
    let fake = DocId::from_bytes([7; 16]);
    let f = format!("/desk/dispatch/{directive}/task/3");
    for (who, b) in [("ward 1", &mut w1), ("ward 2", &mut w2)] {
        for path in [
            format!("{f}/figures"),
            format!("{f}/figures?counting=all"),
            format!("{f}/figures.xlsx"),
            format!("{f}/figures.xlsx?counting=all"),
            format!("{f}/report.docx?counting=all"),
            format!("/desk/dispatch/{fake}/document.docx"),
            format!("/desk/report/{fake}/document.docx"),
        ] {
            let (status, headers, _) = b.get_bytes(&path);
            assert_eq!(status, 404, "{who}: {path}");
            assert!(!headers.contains_key("content-disposition"), "{who}: {path}");
        }
    }
    assert_eq!(w2.get_bytes(&format!("/desk/report/{r1}/document.docx")).0, 404, "ward 2 reads ward 1's");
    assert_eq!(w1.get_bytes(&format!("/desk/dispatch/{only2}/document.docx")).0, 404, "not sent to ward 1");
    assert_eq!(w1.get_bytes(&format!("/desk/report/{r1}/document.docx")).0, 200, "its own");
    // Signed out: the sign-in page, no file.
    let mut anon = Browser::new(&relay.url);
    let (status, headers, _) = anon.get_bytes(&format!("{f}/figures.xlsx"));
    assert_eq!(status, 303);
    assert!(!headers.contains_key("content-disposition"));
}

/// Hostile words in indicator codes, figures' words and notes, a title and a submitter's name:
/// words on the page, a valid DOCX and XLSX, safe file names.
#[test]
fn hostile_words_reach_the_page_and_the_files_as_words() {
    use calamine::Reader;
    let dir = tempfile::tempdir().unwrap();
    let (relay, mut office, directive, mut phones) = setup(dir.path(), 2);
    let script = "<script>alert(1)</script>";
    // An indicator is a code: one of 10,000 characters is refused when written; the longest
    // allowed goes through.
    let long_word = "đ".repeat(200);
    let nasty_title = "Báo cáo\r\nSet-Cookie: x=1\"; filename=\"evil.exe\u{202E}gpj.exe\u{0}";
    let r = phones[0].create_report(new_report(directive, nasty_title)).unwrap();
    assert!(phones[0].set_report_figure(r, fig(&"đ".repeat(10_000), "1", MeasureUnit::Items)).is_err());
    let mut figures = vec![
        FigureInput {
            note: format!("{script}\u{200F}\u{202E}\u{7}"),
            ..fig(&format!("mo_{script}"), "gần 850 triệu", MeasureUnit::Vnd)
        },
        fig(&long_word, "12", MeasureUnit::Items),
        fig("Ðơn_vị_\u{0111}", "-5", MeasureUnit::Items),
    ];
    // NFD Vietnamese in the amount's words.
    figures.push(fig("nfd", "khoa\u{0309}ng 20 trie\u{0302}\u{0323}u", MeasureUnit::Vnd));
    for f in figures {
        phones[0].set_report_figure(r, f).unwrap();
    }
    phones[0].submit_report_by(r, &format!("{script} Nguyễn\u{202E} Thị Hoa")).unwrap();
    sync(&mut phones[0]);
    sync(&mut office);
    let mut b = staff(&relay, 0, "muoi.nv");
    let page = b.get(&format!("/desk/dispatch/{directive}/task/3/figures?counting=all"));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("<script>"), "escaped");
    assert!(page.body.contains("khoảng 20.000.000 đ"), "NFD read: {}", page.body);
    let report_page = b.get(&format!("/desk/report/{r}"));
    assert_eq!(report_page.status, 200);
    assert!(!report_page.body.contains("<script>"));

    for path in [
        format!("/desk/dispatch/{directive}/task/3/figures.xlsx?counting=all"),
        format!("/desk/dispatch/{directive}/task/3/report.docx?counting=all"),
        format!("/desk/report/{r}/document.docx"),
        format!("/desk/dispatch/{directive}/document.docx"),
    ] {
        let (status, headers, bytes) = b.get_bytes(&path);
        assert_eq!(status, 200, "{path}");
        let cd = &headers["content-disposition"];
        assert!(!cd.contains('\r') && !cd.contains('\n') && !cd.contains("evil.exe\""), "{cd}");
        assert_eq!(cd.matches('"').count(), 2, "{cd}");
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.clone())).expect("a zip");
        if path.contains(".xlsx") {
            let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
            let sheet = book.worksheet_range_at(0).unwrap().unwrap();
            let all: String = sheet.rows().flat_map(|r| r.iter()).map(|c| c.to_string()).collect();
            assert!(all.contains(script), "the words as words in the sheet");
        } else {
            let mut xml = String::new();
            std::io::Read::read_to_string(&mut zip.by_name("word/document.xml").unwrap(), &mut xml).unwrap();
            assert!(!xml.contains("<script>"), "{path}: escaped in the XML");
            assert!(!xml.chars().any(|c| (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r')));
        }
    }
}

/// i64::MAX from two wards is "too large", on every form, never wrapped or a 500; negative
/// Items figures are summed as they are.
#[test]
fn huge_and_negative_totals() {
    let dir = tempfile::tempdir().unwrap();
    let (relay, mut office, directive, mut phones) = setup(dir.path(), 3);
    let max = i64::MAX.to_string();
    let min = (-i64::MAX).to_string();
    for p in phones.iter_mut().take(2) {
        report_with(
            p,
            directive,
            "Báo cáo",
            vec![
                fig("quy_vnd", &max, MeasureUnit::Vnd),
                fig("am", "-5", MeasureUnit::Items),
                fig("min", &min, MeasureUnit::Items),
            ],
        );
    }
    report_with(&mut phones[2], directive, "Báo cáo", vec![fig("am", "3", MeasureUnit::Items)]);
    assert!(
        phones[2]
            .create_report(new_report(directive, "x"))
            .and_then(|r| phones[2].set_report_figure(r, fig("houses", "-1", MeasureUnit::Houses)))
            .is_err(),
        "negative houses refused"
    );
    sync(&mut office);
    let c = office.consolidation(directive, 3, Counting::AllSubmitted).unwrap();
    assert_eq!(value_of(&c, "quy_vnd"), Some(Sum::TooLarge));
    assert_eq!(value_of(&c, "min"), Some(Sum::TooLarge));
    assert!(matches!(value_of(&c, "am"), Some(Sum::Value { value: -7, .. })), "{c:?}");
    let mut b = staff(&relay, 0, "muoi.nv");
    let page = b.get(&format!("/desk/dispatch/{directive}/task/3/figures?counting=all"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("quá lớn, không cộng được"));
    for path in [
        format!("/desk/dispatch/{directive}/task/3/figures.xlsx?counting=all"),
        format!("/desk/dispatch/{directive}/task/3/report.docx?counting=all"),
    ] {
        assert_eq!(b.get_bytes(&path).0, 200, "{path}");
    }
}

/// Two devices of one ward add the same indicator offline: the merge keeps both, the report's
/// reader and the consolidation take the same (first) one, never both.
#[test]
fn one_indicator_added_on_two_devices_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let (relay, mut office, directive, mut phones) = setup(dir.path(), 1);
    let mut second = relay.device(&dir.path().join("ward1b.sqlite"), 1, "Máy tính phường");
    let a = &mut phones[0];
    let r = a.create_report(new_report(directive, "Báo cáo")).unwrap();
    sync(a);
    sync(&mut second);
    a.set_report_figure(r, fig("mo_hinh_ra_soat", "10", MeasureUnit::Items)).unwrap();
    second
        .set_report_figure(
            r,
            FigureInput {
                scope: FigureScope::Cumulative,
                ..fig("mo_hinh_ra_soat", "70", MeasureUnit::Items)
            },
        )
        .unwrap();
    sync(a);
    sync(&mut second);
    sync(a);
    assert_eq!(a.report(r).unwrap().figures.len(), 2, "the merge keeps both");
    a.submit_report(r).unwrap();
    sync(a);
    sync(&mut office);
    let report = office.report(r).unwrap();
    let first = report.figure("mo_hinh_ra_soat").unwrap().clone();
    let c = office.consolidation(directive, 3, Counting::AllSubmitted).unwrap();
    let cols: Vec<_> = c.columns.iter().filter(|k| k.key.indicator == "mo_hinh_ra_soat").collect();
    assert_eq!(cols.len(), 1, "one column, the first figure's: {cols:?}");
    assert_eq!(cols[0].key.scope, first.scope);
    assert_eq!(cols[0].sum, Sum::Value { value: first.value, qualifier: first.qualifier });
    let mut b = staff(&relay, 0, "muoi.nv");
    assert_eq!(b.get_bytes(&format!("/desk/report/{r}/document.docx")).0, 200);
}

/// Returned, then submitted again while the old "returned" verdict is on record: counted as
/// awaiting among all submitted, not among accepted; the old verdict does not keep it out.
#[test]
fn a_resubmission_after_return_is_awaiting_again() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, mut office, directive, mut phones) = setup(dir.path(), 1);
    let r = report_with(&mut phones[0], directive, "Báo cáo", vec![fig("x", "5", MeasureUnit::Items)]);
    sync(&mut office);
    office.review_report(r, Verdict::Accepted, "").unwrap();
    office.review_report(r, Verdict::Returned, "Bổ sung").unwrap();
    sync(&mut office);
    sync(&mut phones[0]);
    phones[0].set_report_figure(r, fig("x", "6", MeasureUnit::Items)).unwrap();
    phones[0].submit_report(r).unwrap();
    sync(&mut phones[0]);
    sync(&mut office);
    let c = office.consolidation(directive, 3, Counting::AllSubmitted).unwrap();
    assert!(matches!(value_of(&c, "x"), Some(Sum::Value { value: 6, .. })), "{c:?}");
    assert!(office.consolidation(directive, 3, Counting::AcceptedOnly).unwrap().rows.is_empty());
    // Judged again before and after the sync of a further submission.
    office.review_report(r, Verdict::Accepted, "").unwrap();
    assert_eq!(office.consolidation(directive, 3, Counting::AcceptedOnly).unwrap().rows.len(), 1);
}

/// Campaign periods that must read, and ones that must be refused.
#[test]
fn campaign_periods() {
    use giaoban_vietnamese_text::parse_period;
    let ymd = |s: &str| {
        let p = parse_period(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        (p.from.to_string(), p.to.to_string())
    };
    assert!(parse_period("từ ngày 29/02 đến ngày 01/03/2025").is_err(), "no 29/02/2025");
    assert_eq!(ymd("từ 29/02 đến 01/03/2024"), ("2024-02-29".into(), "2024-03-01".into()));
    assert_eq!(ymd("từ 31/12 đến 02/01/2026"), ("2025-12-31".into(), "2026-01-02".into()));
    assert_eq!(ymd("tháng Tư từ 01/04 đến 30/04/2025"), ("2025-04-01".into(), "2025-04-30".into()));
    assert_eq!(
        ymd("Đợt vận động Từ thiện từ ngày 01/04 đến ngày 30/04/2025"),
        ("2025-04-01".into(), "2025-04-30".into())
    );
    assert_eq!(
        ymd("Tháng cao điểm “Vì người nghèo” từ ngày 17/10 đến ngày 18/11/2025."),
        ("2025-10-17".into(), "2025-11-18".into())
    );
    let nfd = "Tha\u{0301}ng cao đie\u{0302}\u{0309}m tu\u{031B}\u{0300} nga\u{0300}y 17/10 đe\u{0302}\u{0301}n nga\u{0300}y 18/11/2025";
    assert_eq!(ymd(nfd), ("2025-10-17".into(), "2025-11-18".into()));
    assert!(parse_period("từ 31/04 đến 02/05/2025").is_err());
    assert!(parse_period("từ 01/01/1899 đến 02/01/1900").is_err());
    assert!(parse_period("từ 18446744073709551616/10 đến 18/11/2025").is_err());
    assert!(parse_period("từ 17/10 đến 18/11/99999").is_err());
    assert!(parse_period(&format!("từ {} đến 18/11/2025", "1".repeat(10_000))).is_err());
}

/// The period and the since-day through the store: refused in words, nothing written.
#[test]
fn since_and_submitter_refusals_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, mut office, directive, mut phones) = setup(dir.path(), 1);
    let w = &mut phones[0];
    let mut bad = new_report(directive, "Báo cáo");
    bad.period = "từ ngày 29/02 đến ngày 01/03/2025".into();
    assert!(w.create_report(bad).is_err());
    let r = w.create_report(new_report(directive, "Báo cáo")).unwrap();
    let e = w
        .set_report_figure(r, FigureInput { since: "01/01/2025".into(), ..fig("x", "1", MeasureUnit::Items) })
        .unwrap_err();
    assert!(e.to_string().contains("cumulative"), "{e}");
    assert!(w.report(r).unwrap().figures.is_empty());
    w.set_report_figure(r, fig("x", "1", MeasureUnit::Items)).unwrap();
    for name in ["Nguyễn Thị Hoa ".repeat(134), "a\u{0301}".repeat(1_001)] {
        assert!(w.submit_report_by(r, &name).is_err(), "{} characters", name.chars().count());
    }
    assert!(w.report(r).unwrap().submitted_at_device.is_none(), "nothing written");
    assert_eq!(w.report(r).unwrap().submitted_by, "");
    let task = w
        .list_tasks(&TaskFilter::default())
        .unwrap()
        .into_iter()
        .find(|t| t.source == directive && t.ordinal == 3)
        .unwrap();
    assert_ne!(task.state, Some(TaskState::Submitted), "the task is not submitted either");
    assert_eq!(task.submissions, 0);
    sync(w);
    sync(&mut office);
    let c = office.consolidation(directive, 3, Counting::AllSubmitted).unwrap();
    assert!(c.rows.is_empty());
}

/// FINDING?: an indicator code longer than a sheet cell (no length limit on the code) makes
/// the XLSX download a 503 "try again later" instead of a file or a refusal when written.
#[test]
fn an_indicator_longer_than_a_cell_is_refused_when_written_or_printed() {
    let dir = tempfile::tempdir().unwrap();
    let (relay, mut office, directive, mut phones) = setup(dir.path(), 1);
    let r = phones[0].create_report(new_report(directive, "Báo cáo")).unwrap();
    if phones[0].set_report_figure(r, fig(&"x".repeat(33_000), "1", MeasureUnit::Items)).is_err() {
        return; // refused when written: held
    }
    phones[0].submit_report(r).unwrap();
    sync(&mut phones[0]);
    sync(&mut office);
    let mut b = staff(&relay, 0, "muoi.nv");
    let (status, _, _) = b.get_bytes(&format!("/desk/dispatch/{directive}/task/3/figures.xlsx?counting=all"));
    assert_eq!(status, 200, "a code the store accepted must print");
}
