//! The DOCX of the seed dispatch 305/MTTQ-BTT and of the report it asked for, read back by
//! unzipping the package and parsing its XML (not through the library that wrote it): page,
//! margins, fonts, the decree's lines, the table's rows, and the page number from page 2.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixtures;

use std::collections::HashMap;
use std::io::{Cursor, Read};

use giaoban_export::{Block, Cell, Column, ColumnKind, ExportError, Letter, Table, docx};
use giaoban_vietnamese_text::format_number;
use roxmltree::{Document, Node};

const W: &str = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";
const R: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

/// Every part of the package by name.
fn parts(bytes: &[u8]) -> HashMap<String, String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("a DOCX is a zip");
    let mut out = HashMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        if f.is_dir() {
            continue;
        }
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        out.insert(f.name().unwrap().to_string(), s);
    }
    out
}

fn w<'a>(n: Node<'a, '_>, name: &str) -> Option<Node<'a, 'a>> {
    n.children().find(|c| c.has_tag_name((W, name)))
}

fn attr(n: Node, name: &str) -> Option<String> {
    n.attribute((W, name)).map(str::to_string)
}

fn twips(n: Node, name: &str) -> i64 {
    attr(n, name).unwrap_or_else(|| panic!("no w:{name}")).parse().unwrap()
}

/// The words of a paragraph (its w:t in order).
fn text(p: Node) -> String {
    p.descendants().filter(|d| d.has_tag_name((W, "t"))).filter_map(|t| t.text()).collect()
}

fn paragraphs<'a>(doc: &'a Document) -> Vec<Node<'a, 'a>> {
    doc.descendants().filter(|n| n.has_tag_name((W, "p"))).collect()
}

fn paragraph<'a>(doc: &'a Document, words: &str) -> Node<'a, 'a> {
    paragraphs(doc)
        .into_iter()
        .find(|p| text(*p) == words)
        .unwrap_or_else(|| panic!("no paragraph reads {words:?}"))
}

/// Whether every run of `p` that has words carries `prop` (w:b, w:i) and size `half_points`.
fn runs_are(p: Node, prop: Option<&str>, half_points: std::ops::RangeInclusive<i64>) -> bool {
    p.descendants().filter(|d| d.has_tag_name((W, "r"))).filter(|r| !text(*r).is_empty()).all(|r| {
        let rpr = w(r, "rPr").expect("run properties");
        let sz: i64 = w(rpr, "sz").and_then(|s| attr(s, "val")).and_then(|v| v.parse().ok()).unwrap_or(0);
        prop.is_none_or(|prop| w(rpr, prop).is_some()) && half_points.contains(&sz)
    })
}

fn mm(v: f64) -> i64 {
    (v * 1440.0 / 25.4).round() as i64
}

fn assert_page_and_margins(doc: &Document) {
    let sect = doc.descendants().find(|n| n.has_tag_name((W, "sectPr"))).expect("a section");
    let size = w(sect, "pgSz").unwrap();
    assert!((twips(size, "w") - mm(210.0)).abs() <= 2 && (twips(size, "h") - mm(297.0)).abs() <= 2, "A4");
    assert_ne!(attr(size, "orient").as_deref(), Some("landscape"));
    let mar = w(sect, "pgMar").unwrap();
    let within = |name: &str, lo: f64, hi: f64| {
        let v = twips(mar, name);
        assert!(v >= mm(lo) - 1 && v <= mm(hi) + 1, "margin {name} = {v} twips, decree: {lo}-{hi} mm");
    };
    within("top", 20.0, 25.0);
    within("bottom", 20.0, 25.0);
    within("left", 30.0, 35.0);
    within("right", 15.0, 20.0);
}

/// Every rFonts of every part names Times New Roman in all four slots, with no theme font that
/// would override it; the document defaults name it too.
fn assert_times_new_roman(parts: &HashMap<String, String>) {
    let mut seen = 0;
    for (name, xml) in parts.iter().filter(|(n, _)| n.ends_with(".xml")) {
        let doc = Document::parse(xml).unwrap_or_else(|e| panic!("{name}: {e}"));
        for f in doc.descendants().filter(|n| n.has_tag_name((W, "rFonts"))) {
            for slot in ["ascii", "hAnsi", "eastAsia", "cs"] {
                assert_eq!(attr(f, slot).as_deref(), Some("Times New Roman"), "{name}: w:rFonts w:{slot}");
            }
            for theme in ["asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"] {
                assert!(attr(f, theme).is_none(), "{name}: a theme font in w:{theme}");
            }
            seen += 1;
        }
    }
    let styles = Document::parse(&parts["word/styles.xml"]).unwrap();
    let defaults = styles.descendants().find(|n| n.has_tag_name((W, "rPrDefault"))).expect("run defaults");
    assert!(defaults.descendants().any(|n| n.has_tag_name((W, "rFonts"))), "document defaults name the font");
    assert!(seen > 20, "only {seen} font declarations");
}

/// The header shown from page 2 holds a PAGE field, centred; the first page's holds none
/// (w:titlePg).
fn assert_page_number_from_page_two(parts: &HashMap<String, String>) {
    let doc = Document::parse(&parts["word/document.xml"]).unwrap();
    let sect = doc.descendants().find(|n| n.has_tag_name((W, "sectPr"))).unwrap();
    let title_pg = w(sect, "titlePg").expect("w:titlePg: a first page of its own");
    assert_ne!(attr(title_pg, "val").as_deref(), Some("0"));
    let rels = Document::parse(&parts["word/_rels/document.xml.rels"]).unwrap();
    let target = |kind: &str| {
        let r = sect
            .children()
            .find(|c| c.has_tag_name((W, "headerReference")) && attr(*c, "type").as_deref() == Some(kind))
            .unwrap_or_else(|| panic!("no {kind} header"));
        let id = r.attribute((R, "id")).unwrap();
        let rel = rels.descendants().find(|n| n.attribute("Id") == Some(id)).unwrap();
        format!("word/{}", rel.attribute("Target").unwrap())
    };
    let default = Document::parse(&parts[&target("default")]).unwrap();
    let instr: String =
        default.descendants().filter(|n| n.has_tag_name((W, "instrText"))).filter_map(|n| n.text()).collect();
    assert_eq!(instr.trim(), "PAGE");
    let p = default.descendants().find(|n| n.has_tag_name((W, "p"))).unwrap();
    let jc = w(w(p, "pPr").unwrap(), "jc").unwrap();
    assert_eq!(attr(jc, "val").as_deref(), Some("center"));
    assert!(runs_are(p, None, 26..=28), "page number 13-14 pt");
    let first = Document::parse(&parts[&target("first")]).unwrap();
    assert!(!first.descendants().any(|n| n.has_tag_name((W, "instrText"))), "no number on page 1");
}

/// The lines every document has, with the decree's sizes and styles.
fn assert_header_lines(doc: &Document, number: &str, date: &str) {
    let qh = paragraph(doc, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM");
    assert!(runs_are(qh, Some("b"), 24..=26), "Quốc hiệu bold 12-13 pt");
    let tn = paragraph(doc, "Độc lập - Tự do - Hạnh phúc");
    assert!(runs_are(tn, Some("b"), 26..=28), "Tiêu ngữ bold 13-14 pt");
    // Its rule: the next paragraph is an empty one with a bottom border.
    let rule = tn.next_siblings().skip(1).find(|n| n.has_tag_name((W, "p"))).unwrap();
    assert!(text(rule).is_empty());
    assert!(rule.descendants().any(|n| n.has_tag_name((W, "bottom"))), "a rule under the Tiêu ngữ");
    assert!(runs_are(paragraph(doc, "BAN THƯỜNG TRỰC"), Some("b"), 24..=26), "issuer bold 12-13 pt");
    assert!(runs_are(paragraph(doc, "THÀNH PHỐ LONG KHÁNH"), None, 24..=26));
    assert!(runs_are(paragraph(doc, &format!("Số: {number}")), None, 26..=26), "Số 13 pt");
    assert!(runs_are(paragraph(doc, date), Some("i"), 26..=28), "date italic 13-14 pt");
    // The parent body sits above the issuer, both in the left column.
    let all: Vec<String> = paragraphs(doc).into_iter().map(text).collect();
    let at = |s: &str| all.iter().position(|p| p == s).unwrap();
    assert!(at("ỦY BAN MTTQ VIỆT NAM") < at("THÀNH PHỐ LONG KHÁNH"));
    assert!(at("THÀNH PHỐ LONG KHÁNH") < at("BAN THƯỜNG TRỰC"));
}

fn assert_closing(doc: &Document, last_copy: &str) {
    assert!(runs_are(paragraph(doc, "Nơi nhận:"), Some("b"), 24..=24), "Nơi nhận 12 pt");
    assert!(runs_are(paragraph(doc, "Nơi nhận:"), Some("i"), 24..=24), "Nơi nhận italic");
    assert!(runs_are(paragraph(doc, "- Như trên;"), None, 22..=22), "its lines 11 pt");
    paragraph(doc, last_copy);
    for l in ["TM. BAN THƯỜNG TRỰC", "PHÓ CHỦ TỊCH", "Nguyễn Văn Đức"] {
        assert!(runs_are(paragraph(doc, l), Some("b"), 26..=28), "{l} bold 13-14 pt");
    }
}

#[test]
fn dispatch_305_reads_back_as_the_decree_lays_it_out() {
    let bytes = docx(&fixtures::dispatch_305()).unwrap();
    let parts = parts(&bytes);
    let doc = Document::parse(&parts["word/document.xml"]).unwrap();

    assert_page_and_margins(&doc);
    assert_times_new_roman(&parts);
    assert_page_number_from_page_two(&parts);
    assert_header_lines(&doc, "305/MTTQ-BTT", "Long Khánh, ngày 24 tháng 01 năm 2022");
    assert!(runs_are(
        paragraph(&doc, "V/v thực hiện Thông báo số 161-TB/TU ngày 07/01/2022 của BTV Thành ủy"),
        None,
        24..=26
    ));
    assert!(runs_are(paragraph(&doc, "Kính gửi: Ban Thường trực UBMTTQVN các xã, phường."), None, 28..=28));

    // The four tasks, numbered, justified, first line indented, in order.
    let all: Vec<String> = paragraphs(&doc).into_iter().map(text).collect();
    let mut last = 0;
    for n in 1..=4 {
        let at =
            all.iter().position(|p| p.starts_with(&format!("{n}. "))).unwrap_or_else(|| panic!("task {n}"));
        assert!(at > last, "task {n} out of order");
        last = at;
        let p = paragraphs(&doc)[at];
        let ppr = w(p, "pPr").unwrap();
        assert_eq!(attr(w(ppr, "jc").unwrap(), "val").as_deref(), Some("both"));
        assert!(twips(w(ppr, "ind").unwrap(), "firstLine") >= 560);
        assert!(runs_are(p, None, 26..=28), "body 13-14 pt");
    }
    let task3 = all.iter().find(|p| p.starts_with("3. ")).unwrap();
    assert!(
        task3.contains("(qua đ/c Muối-CV) trước ngày 08/02/2022")
            && task3.ends_with("trước ngày 11/02/2022.")
    );
    assert!(all.iter().any(|p| p.ends_with("quan tâm triển khai thực hiện./.")));

    assert_closing(&doc, "- Lưu: VT, CV.");
    // docx-rs's own reader takes it too.
    docx_rs::read_docx(&bytes).unwrap();
}

#[test]
fn the_report_prints_every_unit_and_the_total() {
    let bytes = docx(&fixtures::consolidated_report()).unwrap();
    let parts = parts(&bytes);
    let doc = Document::parse(&parts["word/document.xml"]).unwrap();

    assert_page_and_margins(&doc);
    assert_times_new_roman(&parts);
    assert_page_number_from_page_two(&parts);
    assert_header_lines(&doc, "42/BC-MTTQ-BTT", "Long Khánh, ngày 10 tháng 02 năm 2022");
    assert!(runs_are(paragraph(&doc, "BÁO CÁO"), Some("b"), 26..=28), "kind title bold 13-14 pt");
    assert!(runs_are(
        paragraph(&doc, "Kết quả rà soát, đánh giá hiệu quả hoạt động các mô hình của Mặt trận"),
        Some("b"),
        26..=28
    ));
    // Two recipients: a list under "Kính gửi:".
    paragraph(&doc, "Kính gửi:- Ban Dân vận Thành ủy;");
    paragraph(&doc, "- Văn phòng Thành ủy.");
    assert!(!paragraphs(&doc).into_iter().any(|p| text(p).starts_with("V/v")), "a named kind has no V/v");

    let rows: Vec<Vec<String>> = doc
        .descendants()
        .filter(|n| n.has_tag_name((W, "tr")))
        .map(|tr| tr.children().filter(|c| c.has_tag_name((W, "tc"))).map(text).collect())
        .collect();
    for (i, (unit, models, funds)) in fixtures::UNITS.iter().enumerate() {
        let want = vec![(i + 1).to_string(), unit.to_string(), models.to_string(), format_number(*funds)];
        assert!(rows.contains(&want), "no row {want:?}");
    }
    assert!(rows.contains(&vec![
        String::new(),
        "Tổng cộng".to_string(),
        "66".to_string(),
        "15.956.850.000".to_string()
    ]));
    assert_eq!(fixtures::total_funds(), 15_956_850_000);
    let totals = doc
        .descendants()
        .filter(|n| n.has_tag_name((W, "tr")))
        .find(|tr| text(*tr).contains("Tổng cộng"))
        .unwrap();
    assert!(runs_are(totals, Some("b"), 24..=24), "totals bold");
    assert!(runs_are(paragraph(&doc, fixtures::APPROXIMATE_NOTE), Some("i"), 24..=24), "the note, italic");

    assert_closing(&doc, "- Lưu: VT.");
    docx_rs::read_docx(&bytes).unwrap();
}

#[test]
fn the_same_letter_gives_the_same_bytes() {
    let a = docx(&fixtures::consolidated_report()).unwrap();
    let b = docx(&fixtures::consolidated_report()).unwrap();
    assert_eq!(a, b);
    // Deflated: a two-page report stays small.
    assert!(a.len() < 30_000, "{} bytes", a.len());
}

fn with_table(table: Table) -> Letter {
    let mut l = fixtures::dispatch_305();
    l.body.push(Block::Table(table));
    l
}

#[test]
fn a_table_that_cannot_be_printed_is_refused() {
    let mut t = fixtures::units_table();
    t.rows[3].pop();
    let err = docx(&with_table(t)).unwrap_err();
    assert!(matches!(err, ExportError::RowWidth { row: 4, cells: 3, columns: 4 }), "{err:?}");
    assert_eq!(err.to_string(), "row 4 has 3 cells but the table has 4 columns");

    let mut t = fixtures::units_table();
    t.totals = Some(vec![Cell::Empty]);
    assert!(matches!(docx(&with_table(t)), Err(ExportError::TotalsWidth { cells: 1, columns: 4 })));

    let mut t = fixtures::units_table();
    t.columns.clear();
    t.rows.clear();
    t.totals = None;
    assert!(matches!(docx(&with_table(t)), Err(ExportError::NoColumns)));

    let t = Table {
        title: None,
        columns: vec![Column { heading: "x".into(), kind: ColumnKind::Text }; 64],
        rows: vec![],
        totals: None,
        notes: vec![],
    };
    assert!(matches!(docx(&with_table(t)), Err(ExportError::TooManyColumns { columns: 64, max: 63 })));
}

mod any_text {
    use super::*;
    use proptest::prelude::*;

    fn letter(words: Vec<String>) -> Letter {
        let mut l = fixtures::consolidated_report();
        let mut it = words.into_iter().cycle();
        let mut next = || it.next().unwrap_or_default();
        l.parent_body = next();
        l.issuer = next();
        l.number = next();
        l.place = next();
        l.kind_title = Some(next());
        l.subject = next();
        l.recipients = vec![next(), next()];
        l.body.push(Block::Heading(next()));
        l.body.push(Block::Paragraph(next()));
        l.body.push(Block::Numbered { number: next(), text: next() });
        let mut t = fixtures::units_table();
        t.title = Some(next());
        t.columns[1].heading = next();
        t.rows[0][1] = Cell::Text(next());
        t.rows[1][3] = Cell::Text(next());
        t.notes = vec![next()];
        l.body.push(Block::Table(t));
        l.copies_to = vec![next(), next()];
        l.signer.authority = next();
        l.signer.name = next();
        l
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Whatever the words (control characters, lone marks, XML's own characters, empty),
        /// the file is made and every part of it is well-formed XML.
        #[test]
        fn any_words_make_a_well_formed_file(words in prop::collection::vec(any::<String>(), 1..8)) {
            let l = letter(words);
            let bytes = docx(&l).unwrap();
            for (name, xml) in parts(&bytes) {
                if name.ends_with(".xml") || name.ends_with(".rels") {
                    prop_assert!(Document::parse(&xml).is_ok(), "{} is not well-formed", name);
                }
            }
        }
    }
}
