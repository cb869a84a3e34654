//! Random concurrent edits on two replicas of one report, including the same text section,
//! merge to the same state on both and lose no one's words.

use crate::common::*;
use giaoban_client_core::protocol::schema::{FigureScope, MeasureUnit, ReportKind};
use giaoban_client_core::{FigureInput, NewReport, NewSection, Store};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Edit {
    /// Insert a marker word at a character position (as a fraction of the length).
    Insert {
        section: usize,
        at_permille: u16,
    },
    /// Set this replica's own figure.
    SetFigure {
        value: u32,
    },
    AddSection,
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        6 => (0usize..2, 0u16..=1000).prop_map(|(section, at_permille)| Edit::Insert { section, at_permille }),
        1 => (0u32..1_000_000).prop_map(|value| Edit::SetFigure { value }),
        1 => Just(Edit::AddSection),
    ]
}

const KEYS: [&str; 2] = ["ket_qua", "kien_nghi"];
const ORIGINAL: [&str; 2] = ["Mặt trận phường đã vận động Quỹ Vì người nghèo.", "Đề nghị hỗ trợ kinh phí."];

fn apply(
    s: &mut Store,
    id: giaoban_client_core::protocol::DocId,
    who: &str,
    n: usize,
    e: &Edit,
) -> Option<String> {
    match e {
        Edit::Insert { section, at_permille } => {
            let key = KEYS[*section];
            let body = s
                .report(id)
                .unwrap()
                .sections
                .iter()
                .find(|x| x.key == key)
                .unwrap()
                .body
                .as_str()
                .to_string();
            let chars: Vec<char> = body.chars().collect();
            // Insert between words, as a cadre adds a sentence: never inside a word.
            let mut at = chars.len() * (*at_permille as usize) / 1000;
            while at > 0 && chars[at - 1] != ' ' {
                at -= 1;
            }
            let word = format!(" «{who}{n}» ");
            s.splice_report_section(id, key, at, 0, &word).unwrap();
            Some(format!("«{who}{n}»"))
        }
        Edit::SetFigure { value } => {
            s.set_report_figure(
                id,
                FigureInput {
                    indicator: format!("chi_tieu_{who}"),
                    amount: value.to_string(),
                    unit: MeasureUnit::People,
                    scope: FigureScope::Period,
                    note: "đoàn viên, hội viên mới".into(),
                    since: String::new(),
                },
            )
            .unwrap();
            None
        }
        Edit::AddSection => {
            s.add_report_section(id, &format!("phan_{who}{n}"), &format!("Phần bổ sung của {who}")).unwrap();
            None
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn concurrent_edits_converge_without_loss(
        a_edits in prop::collection::vec(edit(), 1..12),
        b_edits in prop::collection::vec(edit(), 1..12),
        rounds in 1usize..3,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let clock = TestClock::at_local(2022, 2, 1, 9, 0);
        let org = org();
        let mut a = open(&dir.path().join("a.sqlite"), &clock);
        let mut b = open(&dir.path().join("b.sqlite"), &clock);
        a.set_unit(org.wards[0]).unwrap();
        b.set_unit(org.wards[0]).unwrap();
        let id = a.create_report(NewReport {
            title: "Báo cáo công tác Mặt trận tháng 6/2018".into(),
            kind: ReportKind::Monthly,
            period: "tháng 6/2018".into(),
            answers: None,
            audience: vec![org.city],
            sections: vec![
                NewSection { key: KEYS[0].into(), heading: "Kết quả".into(), body: ORIGINAL[0].into() },
                NewSection { key: KEYS[1].into(), heading: "Đề xuất, kiến nghị".into(), body: ORIGINAL[1].into() },
            ],
        }).unwrap();
        send_all(&mut a, &mut b);

        let mut words = Vec::new();
        let chunk_a = a_edits.len().div_ceil(rounds);
        let chunk_b = b_edits.len().div_ceil(rounds);
        for r in 0..rounds {
            for (i, e) in a_edits.iter().enumerate().skip(r * chunk_a).take(chunk_a) {
                words.extend(apply(&mut a, id, "Lan", i, e));
            }
            for (i, e) in b_edits.iter().enumerate().skip(r * chunk_b).take(chunk_b) {
                words.extend(apply(&mut b, id, "Đức", i, e));
            }
            send_all(&mut a, &mut b);
            send_all(&mut b, &mut a);
        }

        let ra = a.report(id).unwrap();
        let rb = b.report(id).unwrap();
        prop_assert_eq!(&ra, &rb);
        // And the merged state is what each store reads back from disk.
        drop(b);
        let mut b = open(&dir.path().join("b.sqlite"), &clock);
        prop_assert_eq!(&b.report(id).unwrap(), &ra);
        let all_text: String = ra.sections.iter().map(|s| s.body.as_str().to_string()).collect::<Vec<_>>().join("\n");
        for w in &words {
            prop_assert!(all_text.contains(w.as_str()), "lost {w} in {all_text}");
        }
        // Without the inserted words, each section is exactly what both started from.
        for (key, original) in [(KEYS[0], ORIGINAL[0]), (KEYS[1], ORIGINAL[1])] {
            let mut body = ra.sections.iter().find(|s| s.key == key).unwrap().body.as_str().to_string();
            for w in &words {
                body = body.replace(w.as_str(), " ");
            }
            let body = body.split_whitespace().collect::<Vec<_>>().join(" ");
            prop_assert_eq!(body.as_str(), original);
        }
    }
}

/// Two cadres of one ward, offline, each add the same figure and the same section to a report.
/// The merge holds both of each; that must not make the report unreadable, uneditable, or
/// refused by the relay's checks (found by the seeded simulation in `tests/`).
#[test]
fn the_same_figure_or_section_added_on_two_devices_merges() {
    use giaoban_client_core::protocol::authz::check_push;
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at_local(2022, 2, 1, 9, 0);
    let org = org();
    let mut a = open(&dir.path().join("a.sqlite"), &clock);
    let mut b = open(&dir.path().join("b.sqlite"), &clock);
    a.set_unit(org.wards[0]).unwrap();
    b.set_unit(org.wards[0]).unwrap();
    let id = a
        .create_report(NewReport {
            title: "Báo cáo công tác Mặt trận tháng 6/2018".into(),
            kind: ReportKind::Monthly,
            period: "tháng 6/2018".into(),
            answers: None,
            audience: vec![org.city],
            sections: vec![NewSection {
                key: KEYS[0].into(),
                heading: "Kết quả".into(),
                body: ORIGINAL[0].into(),
            }],
        })
        .unwrap();
    send_all(&mut a, &mut b);
    let relay_copy = a.save_document(id).unwrap();
    let figure = |amount: &str| FigureInput {
        indicator: "quy_vi_nguoi_ngheo".into(),
        amount: amount.into(),
        unit: MeasureUnit::Vnd,
        scope: FigureScope::Cumulative,
        note: String::new(),
        since: String::new(),
    };
    a.set_report_figure(id, figure("gần 850 triệu")).unwrap();
    b.set_report_figure(id, figure("hơn 20 triệu")).unwrap();
    a.add_report_section(id, "kien_nghi", "Kiến nghị").unwrap();
    b.add_report_section(id, "kien_nghi", "Đề xuất, kiến nghị").unwrap();

    // The relay holds A's edits; B's, pushed next, merge into a report with two of each.
    let mut relay = automerge::AutoCommit::load(&relay_copy).unwrap();
    let a_changes: Vec<Vec<u8>> = a.unacked_changes(id).unwrap();
    let next =
        check_push(Some(&relay), id, &a_changes, &Default::default(), a.device_id(), org.wards[0]).unwrap();
    relay = next.doc;
    let b_changes = b.unacked_changes(id).unwrap();
    assert!(
        check_push(Some(&relay), id, &b_changes, &Default::default(), b.device_id(), org.wards[0]).is_ok(),
        "the relay refused a merge of two valid edits"
    );

    send_all(&mut a, &mut b);
    send_all(&mut b, &mut a);
    let (ra, rb) = (a.report(id).unwrap(), b.report(id).unwrap());
    assert_eq!(ra, rb);
    assert_eq!(ra.figure("quy_vi_nguoi_ngheo"), rb.figure("quy_vi_nguoi_ngheo"));
    // Both devices can still edit, and the next figure edit leaves one figure.
    a.splice_report_section(id, KEYS[0], 0, 0, "Tháng 6: ").unwrap();
    b.set_report_figure(id, figure("6,4 tỷ")).unwrap();
    send_all(&mut a, &mut b);
    send_all(&mut b, &mut a);
    let r = a.report(id).unwrap();
    assert_eq!(r, b.report(id).unwrap());
    assert_eq!(r.figures.len(), 1);
    assert_eq!(r.figure("quy_vi_nguoi_ngheo").unwrap().value, 6_400_000_000);
    assert!(r.sections[0].body.as_str().starts_with("Tháng 6: "));
    assert_eq!(
        r.sections.iter().filter(|s| s.key == "kien_nghi").count(),
        2,
        "both cadres' sections are kept"
    );
}

/// The sentence both devices rewrite, as the base has it.
const MIDDLES: [&str; 3] = [
    "Tổ chức thăm hỏi, tặng quà 15 hộ gia đình chính sách.",
    "Phối hợp rà soát danh sách hộ nghèo, hộ cận nghèo năm 2022.",
    "Vận động đoàn viên, hội viên đóng góp xây dựng nông thôn mới.",
];
/// What a device writes in its place. None starts or ends with a word of a base sentence:
/// a word both sides keep at the edge of a rewrite is kept once, by both (that is a merge).
const REWRITES: [&str; 5] = [
    "Ban Thường trực trao 30 suất quà cho hộ nghèo trong dịp Tết.",
    "Các chi hội đã hỗ trợ sửa chữa 3 căn nhà cho hộ khó khăn.",
    "Uỷ ban Mặt trận phường tiếp nhận gần 850 triệu đồng ủng hộ đồng bào vùng lũ.",
    "Đoàn giám sát làm việc với 4 khu phố về công tác bảo vệ môi trường.",
    "Hội Liên hiệp Phụ nữ phối hợp tổ chức 2 lớp tập huấn kỹ năng.",
];
const FIRST: &str = "Tháng 6/2018, Mặt trận phường đã vận động Quỹ Vì người nghèo được 20 triệu đồng.";
const LAST: &str = "Kết quả được Ủy ban nhân dân phường ghi nhận.";

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Two cadres of one ward, offline, each retype the same section from the same words, each
    /// with a different middle sentence. After the exchange both hold the same text, each new
    /// sentence reads whole (not letters of one interleaved with the other), and the sentences
    /// neither touched are as they were.
    #[test]
    fn two_rewrites_of_one_section_keep_each_sentence_whole(
        middle in 0usize..MIDDLES.len(),
        (ra, rb) in (0usize..REWRITES.len(), 0usize..REWRITES.len()).prop_filter("two rewrites", |(a, b)| a != b),
        extra_paragraph in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let clock = TestClock::at_local(2018, 6, 28, 9, 0);
        let org = org();
        let mut a = open(&dir.path().join("a.sqlite"), &clock);
        let mut b = open(&dir.path().join("b.sqlite"), &clock);
        a.set_unit(org.wards[0]).unwrap();
        b.set_unit(org.wards[0]).unwrap();
        let tail = if extra_paragraph { "\n\nĐề nghị cấp trên hỗ trợ kinh phí." } else { "" };
        let base = format!("{FIRST} {} {LAST}{tail}", MIDDLES[middle]);
        let id = a.create_report(NewReport {
            title: "Báo cáo công tác Mặt trận tháng 6/2018".into(),
            kind: ReportKind::Monthly,
            period: "tháng 6/2018".into(),
            answers: None,
            audience: vec![org.city],
            sections: vec![NewSection { key: KEYS[0].into(), heading: "Kết quả".into(), body: base.clone() }],
        }).unwrap();
        send_all(&mut a, &mut b);

        a.set_report_section_text(id, KEYS[0], &format!("{FIRST} {} {LAST}{tail}", REWRITES[ra])).unwrap();
        b.set_report_section_text(id, KEYS[0], &format!("{FIRST} {} {LAST}{tail}", REWRITES[rb])).unwrap();
        send_all(&mut a, &mut b);
        send_all(&mut b, &mut a);

        let merged = a.report(id).unwrap().sections[0].body.as_str().to_string();
        let on_b = b.report(id).unwrap().sections[0].body.as_str().to_string();
        prop_assert_eq!(&merged, &on_b);
        prop_assert!(merged.contains(REWRITES[ra]), "A's sentence is not whole in: {}", merged);
        prop_assert!(merged.contains(REWRITES[rb]), "B's sentence is not whole in: {}", merged);
        prop_assert!(!merged.contains(MIDDLES[middle]), "the old sentence is gone: {}", merged);
        prop_assert!(merged.starts_with(&format!("{FIRST} ")), "{}", merged);
        prop_assert!(merged.ends_with(&format!(" {LAST}{tail}")), "{}", merged);
        // Nothing else: the two sentences, each with its own separating space.
        let (one, two) = (REWRITES[ra], REWRITES[rb]);
        prop_assert!(
            merged == format!("{FIRST} {one} {two} {LAST}{tail}") || merged == format!("{FIRST} {two} {one} {LAST}{tail}"),
            "{}", merged
        );
    }
}

/// The sync marks a section both cadres edited offline; the mark travels with the report, and
/// the next cadre to edit the words clears it.
#[test]
fn a_section_marked_as_edited_on_two_devices_until_a_cadre_edits_it() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at_local(2018, 6, 28, 9, 0);
    let org = org();
    let mut a = open(&dir.path().join("a.sqlite"), &clock);
    let mut b = open(&dir.path().join("b.sqlite"), &clock);
    let mut city = open(&dir.path().join("city.sqlite"), &clock);
    a.set_unit(org.wards[0]).unwrap();
    b.set_unit(org.wards[0]).unwrap();
    city.set_unit(org.city).unwrap();
    let id = a
        .create_report(NewReport {
            title: "Báo cáo công tác Mặt trận tháng 6/2018".into(),
            kind: ReportKind::Monthly,
            period: "tháng 6/2018".into(),
            answers: None,
            audience: vec![org.city],
            sections: vec![
                NewSection { key: KEYS[0].into(), heading: "Kết quả".into(), body: ORIGINAL[0].into() },
                NewSection {
                    key: KEYS[1].into(),
                    heading: "Đề xuất, kiến nghị".into(),
                    body: ORIGINAL[1].into(),
                },
            ],
        })
        .unwrap();
    send_all(&mut a, &mut b);
    let flags = |s: &mut Store| -> Vec<bool> {
        s.report(id).unwrap().sections.iter().map(|x| x.edited_concurrently).collect()
    };
    assert_eq!(flags(&mut a), vec![false, false]);

    let end = ORIGINAL[0].chars().count();
    a.splice_report_section(id, KEYS[0], end, 0, " Tổ chức thăm hỏi 15 hộ.").unwrap();
    b.splice_report_section(id, KEYS[0], end, 0, " Trao 30 suất quà Tết.").unwrap();
    send_all(&mut a, &mut b);
    b.mark_sections_edited_concurrently(id, &[KEYS[0].to_string(), "khong_co".to_string()]).unwrap();
    assert_eq!(flags(&mut b), vec![true, false]);
    let heads = b.heads(id).unwrap();
    b.mark_sections_edited_concurrently(id, &[KEYS[0].to_string()]).unwrap();
    b.mark_sections_edited_concurrently(id, &[]).unwrap();
    assert_eq!(b.heads(id).unwrap(), heads, "marking a marked section writes nothing");

    send_all(&mut b, &mut a);
    send_all(&mut a, &mut city);
    assert_eq!(flags(&mut a), vec![true, false], "the mark travels with the report");
    assert_eq!(flags(&mut city), vec![true, false]);
    let err = city.mark_sections_edited_concurrently(id, &[KEYS[1].to_string()]).unwrap_err();
    assert!(matches!(err, giaoban_client_core::CoreError::NotOwner { .. }), "{err}");

    // A cadre reads the merged words and tidies them: the mark goes, on every device.
    a.splice_report_section(id, KEYS[0], 0, 0, "Tháng 6: ").unwrap();
    assert_eq!(flags(&mut a), vec![false, false]);
    send_all(&mut a, &mut b);
    assert_eq!(flags(&mut b), vec![false, false]);
    // Setting the whole text clears it too.
    b.mark_sections_edited_concurrently(id, &[KEYS[1].to_string()]).unwrap();
    assert_eq!(flags(&mut b), vec![false, true]);
    b.set_report_section_text(id, KEYS[1], "Đề nghị hỗ trợ kinh phí sửa chữa nhà văn hoá.").unwrap();
    assert_eq!(flags(&mut b), vec![false, false]);
}
