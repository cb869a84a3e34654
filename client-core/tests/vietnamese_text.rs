//! Vietnamese text in the store: NFC at input, search without diacritics (đ included), both
//! tone placements, and Vietnamese name order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
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
