//! Vietnamese text in the store: NFC at input, search without diacritics (đ included), both
//! tone placements, and Vietnamese name order.

use crate::common::*;
use giaoban_client_core::protocol::DocKind;
use giaoban_client_core::protocol::schema::ReportKind;
use giaoban_client_core::{NewReport, NewSection};
use unicode_normalization::UnicodeNormalization;

fn nfd(s: &str) -> String {
    s.nfd().collect()
}

#[test]
fn nfd_input_is_stored_as_nfc() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at_local(2022, 1, 24, 9, 0);
    let org = org();
    let mut s = open(&dir.path().join("s.sqlite"), &clock);
    s.set_unit(org.city).unwrap();
    let mut d = dispatch_305(org.wards.clone());
    d.subject = nfd("V/v báo cáo qua đ/c Muối-CV");
    d.tasks[2].contact = Some(nfd("đ/c Muối-CV"));
    let id = s.issue_directive(d).unwrap();
    let stored = s.directive(id).unwrap();
    assert_eq!(stored.subject, "V/v báo cáo qua đ/c Muối-CV");
    assert_eq!(stored.subject.len(), "V/v báo cáo qua đ/c Muối-CV".len(), "NFC byte length");
    assert_eq!(stored.task(3).unwrap().contact.as_deref(), Some("đ/c Muối-CV"));
}

#[test]
fn search_ignores_diacritics_case_and_normal_form() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at_local(2022, 1, 24, 9, 0);
    let org = org();
    let mut s = open(&dir.path().join("s.sqlite"), &clock);
    s.set_unit(org.city).unwrap();

    let mut a = dispatch_305(org.wards.clone());
    a.subject = "V/v vận động ủng hộ Quỹ “Vì người nghèo” tại phường Xuân Hòa".into();
    let a = s.issue_directive(a).unwrap();
    let mut b = dispatch_305(org.wards.clone());
    b.subject = "V/v khảo sát tuyến Đường hoa tại xã Bảo Hoà".into();
    let b = s.issue_directive(b).unwrap();
    let mut c = dispatch_305(org.wards.clone());
    c.subject = "V/v giám sát công trình cao tốc Bắc - Nam".into();
    c.body = "Liên hệ đ/c Thuỷ để nhận biểu mẫu.".into();
    let c = s.issue_directive(c).unwrap();

    let ids = |q: &str| -> Vec<_> { s.search(q, 50).unwrap().into_iter().map(|h| h.id).collect() };

    // Every dispatch names đ/c Muối in task 3.
    assert_eq!(ids("muoi").len(), 3);
    assert_eq!(ids("MUỐI").len(), 3);
    assert_eq!(ids(&nfd("Muối")).len(), 3);
    assert_eq!(ids("duong"), vec![b]);
    assert_eq!(ids("Đường hoa"), vec![b]);
    let hoa = ids("hoa");
    assert!(hoa.contains(&a) && hoa.contains(&b), "Hòa and Hoà both match 'hoa'");
    assert_eq!(ids("xuan hoa"), vec![a]);
    assert_eq!(ids("Bảo Hòa")[0], b, "old tone placement finds the new one, best first");
    assert_eq!(ids("thuy"), vec![c]);
    assert_eq!(ids("Thủy"), vec![c]);
    assert_eq!(ids("cao toc bac nam"), vec![c]);
    assert!(ids("   ").is_empty());
    assert!(ids("\"; DROP TABLE documents; --").is_empty());
    assert_eq!(s.search("vi nguoi ngheo", 10).unwrap()[0].kind, DocKind::Directive);
}

/// Central Highlands names are written with ’, ' or no apostrophe at all; every spelling
/// finds every other, in directives and in reports alike.
#[test]
fn search_ignores_apostrophes_in_names() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at_local(2022, 1, 24, 9, 0);
    let org = org();
    let mut s = open(&dir.path().join("s.sqlite"), &clock);
    s.set_unit(org.city).unwrap();
    let mut d = dispatch_305(org.wards.clone());
    d.subject = "V/v hỗ trợ đồng bào huyện Cư M’gar khắc phục hậu quả lũ".into();
    let directive = s.issue_directive(d).unwrap();
    let report = s
        .create_report(NewReport {
            title: "Báo cáo kết quả thăm hỏi đồng bào vùng lũ".into(),
            kind: ReportKind::AdHoc,
            period: String::new(),
            answers: None,
            audience: Vec::new(),
            sections: vec![NewSection {
                key: "ket_qua".into(),
                heading: "Kết quả".into(),
                body: "Đoàn đã thăm hỏi 40 hộ ở xã Ea H’Leo và huyện Cư M’gar.".into(),
            }],
        })
        .unwrap();

    let ids = |q: &str| -> Vec<_> {
        let mut v: Vec<_> = s.search(q, 50).unwrap().into_iter().map(|h| h.id).collect();
        v.sort();
        v
    };
    let mut both = vec![directive, report];
    both.sort();
    assert_eq!(ids("cu mgar"), both);
    assert_eq!(ids("mgar"), both);
    assert_eq!(ids("M'gar"), both);
    assert_eq!(ids("Cư M’gar"), both);
    assert_eq!(ids("ea hleo"), vec![report]);
    assert_eq!(ids("H'Leo"), vec![report]);
    assert_eq!(ids("Ea H’Leo"), vec![report]);
}

/// A ward store with one report whose section "ket_qua" reads `body`.
fn report_with_section(
    dir: &std::path::Path,
    body: &str,
) -> (giaoban_client_core::Store, giaoban_client_core::protocol::DocId) {
    let clock = TestClock::at_local(2022, 1, 24, 9, 0);
    let org = org();
    let mut s = open(&dir.join("s.sqlite"), &clock);
    s.set_unit(org.wards[0]).unwrap();
    let id = s
        .create_report(NewReport {
            title: "Báo cáo kết quả vận động Quỹ Vì người nghèo".into(),
            kind: ReportKind::AdHoc,
            period: String::new(),
            answers: None,
            audience: vec![org.city],
            sections: vec![NewSection {
                key: "ket_qua".into(),
                heading: "Kết quả".into(),
                body: body.into(),
            }],
        })
        .unwrap();
    (s, id)
}

fn body(s: &mut giaoban_client_core::Store, id: giaoban_client_core::protocol::DocId) -> String {
    s.report(id).unwrap().sections[0].body.as_str().to_string()
}

/// Words typed a keystroke at a time are found by the next search, across a reopen too: the
/// keystrokes leave the search row stale and a search rebuilds it first.
#[test]
fn words_typed_by_keystrokes_are_found_by_the_next_search() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, id) = report_with_section(dir.path(), "Đã trao quà cho hộ nghèo.");
    assert!(s.search("buon ma thuot", 5).unwrap().is_empty());
    let mut at = body(&mut s, id).chars().count();
    for c in " Tại Buôn Ma Thuột".chars() {
        at = s.splice_report_section(id, "ket_qua", at, 0, &c.to_string()).unwrap();
    }
    let hits = s.search("buon ma thuot", 5).unwrap();
    assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![id]);
    for c in " và Cư M’gar".chars() {
        at = s.splice_report_section(id, "ket_qua", at, 0, &c.to_string()).unwrap();
    }
    drop(s);
    let s = giaoban_client_core::Store::open(dir.path().join("s.sqlite")).unwrap();
    assert_eq!(s.search("cu mgar", 5).unwrap().len(), 1, "found after the store is opened again");
    assert_eq!(s.search("hộ nghèo", 5).unwrap().len(), 1);
}

/// A keyboard in decomposed mode sends "Muối" as M, u, o, U+0302, U+0301, i: each mark joins
/// the letter before it as it arrives, and the section reads "Muối" in NFC.
#[test]
fn decomposed_keystrokes_build_nfc_words() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, id) = report_with_section(dir.path(), "Đ/c");
    let mut cursor = 3;
    let mut cursors = Vec::new();
    for key in [" ", "M", "u", "o", "\u{0302}", "\u{0301}", "i"] {
        cursor = s.splice_report_section(id, "ket_qua", cursor, 0, key).unwrap();
        cursors.push(cursor);
    }
    assert_eq!(body(&mut s, id), "Đ/c Muối");
    assert_eq!(body(&mut s, id).len(), "Đ/c Muối".len(), "NFC byte length");
    assert_eq!(cursors, vec![4, 5, 6, 7, 7, 7, 8]);
    // The same word typed in NFD in one go.
    let end = s.splice_report_section(id, "ket_qua", 8, 0, &format!(" và {}", nfd("Muối"))).unwrap();
    assert_eq!(body(&mut s, id), "Đ/c Muối và Muối");
    assert_eq!(end, "Đ/c Muối và Muối".chars().count());
}

#[test]
fn deleting_a_stray_combining_mark() {
    let dir = tempfile::tempdir().unwrap();
    // The circumflex pressed twice: "ô" has no second circumflex, so NFC keeps the extra mark.
    let (mut s, id) = report_with_section(dir.path(), "Muô\u{0302}i");
    assert_eq!(s.splice_report_section(id, "ket_qua", 3, 1, "").unwrap(), 3);
    assert_eq!(body(&mut s, id), "Muôi");
}

#[test]
fn a_letter_inserted_before_a_lone_mark_takes_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, id) = report_with_section(dir.path(), "");
    // A lone mark at the start of a section is NFC as it is, and is kept.
    assert_eq!(s.splice_report_section(id, "ket_qua", 0, 0, "\u{0302}").unwrap(), 1);
    assert_eq!(body(&mut s, id), "\u{0302}");
    assert_eq!(s.splice_report_section(id, "ket_qua", 0, 0, "Muo").unwrap(), 3);
    assert_eq!(body(&mut s, id), "Muô");
    assert_eq!(s.splice_report_section(id, "ket_qua", 3, 0, "\u{0301}i").unwrap(), 4);
    assert_eq!(body(&mut s, id), "Muối");
}

#[test]
fn a_lone_mark_at_the_start_of_a_section() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, id) = report_with_section(dir.path(), "Muối");
    assert_eq!(s.splice_report_section(id, "ket_qua", 0, 0, "\u{0301}").unwrap(), 1);
    assert_eq!(body(&mut s, id), "\u{0301}Muối");
    assert_eq!(s.splice_report_section(id, "ket_qua", 0, 1, "").unwrap(), 0);
    assert_eq!(body(&mut s, id), "Muối");
    let err = s.splice_report_section(id, "ket_qua", 3, 2, "").unwrap_err();
    assert!(err.to_string().contains("outside the text of 4 characters"), "{err}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 16, ..Default::default() })]

    /// Whatever a keyboard sends, wherever the caret is, the splice is accepted and the section
    /// stays NFC (which the store's validation checks on every write).
    #[test]
    fn every_keystroke_is_accepted(
        keys in proptest::collection::vec(
            (0usize..=100, 0usize..3, proptest::sample::select(vec![
                "a", "o", "u", "e", "i", "M", " ", "ô", "ư", "đ", "\u{0300}", "\u{0301}", "\u{0302}",
                "\u{0303}", "\u{0306}", "\u{0309}", "\u{031B}", "\u{0323}", "o\u{0302}\u{0301}",
            ])),
            1..30,
        ),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, id) = report_with_section(dir.path(), "Muối");
        for (percent, delete, key) in keys {
            let len = body(&mut s, id).chars().count();
            let at = len * percent / 100;
            let delete = delete.min(len - at);
            let cursor = s.splice_report_section(id, "ket_qua", at, delete, key);
            proptest::prop_assert!(cursor.is_ok(), "{key:?} at {at}: {cursor:?}");
            let text = body(&mut s, id);
            proptest::prop_assert!(unicode_normalization::is_nfc(&text), "{text:?}");
        }
    }
}

#[test]
fn units_sort_the_vietnamese_way() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at_local(2025, 8, 1, 9, 0);
    let org = org();
    let mut s = open(&dir.path().join("s.sqlite"), &clock);
    s.set_unit(org.city).unwrap();
    s.create_unit_directory(&org.directory).unwrap();
    let children = s.child_units(org.city).unwrap();
    assert!(children.len() > 90, "Đồng Nai has {} communes and wards", children.len());
    let names: Vec<&str> = children.iter().map(|u| u.short_name.as_str()).collect();
    // Byte order would put every "Xã …" after "Phường …" but also "Đ…" after "X…"; the
    // collator sorts Đ right after D.
    let collator = giaoban_vietnamese_text::collator();
    for w in names.windows(2) {
        assert_ne!(collator.compare(w[0], w[1]), std::cmp::Ordering::Greater, "{} > {}", w[0], w[1]);
    }
    assert!(s.search("long khanh", 10).unwrap().iter().any(|h| h.kind == DocKind::UnitDirectory));
}
