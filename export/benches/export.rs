//! Export benchmark: prints the time to lay out an office's consolidated report of 100 units,
//! against the target in DESIGN.md (a 100-unit DOCX export ≤ 500 ms).
//!
//! The letter is the one the desk downloads for a task's consolidation: the header, a
//! paragraph, the table (a row per unit counted; per indicator its figure and how exact it
//! is; the totals; notes on approximate totals and on the units not counted), the closing.
//! Built here with this crate's types alone, the shape the desk gives it.
//!
//! `cargo bench -p giaoban-export --bench export` runs the full count of iterations. Without
//! `--bench` (as `cargo test --benches` runs it) it lays each file out twice and checks that
//! it is a package.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use giaoban_export::{Block, Cell, Column, ColumnKind, Letter, Signer, Table, docx, xlsx};

/// The target (DESIGN.md, "Further targets").
const TARGET: Duration = Duration::from_millis(500);
/// Units counted in the table.
const UNITS: usize = 100;
/// Units addressed that are not counted (not reported, returned, not applicable).
const NOT_COUNTED: usize = 12;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Prints p50, p99 and max; with a target, whether the p99 meets it.
fn report(name: &str, mut samples: Vec<Duration>, bytes: usize, target: Option<Duration>) {
    samples.sort();
    let p50 = percentile(&samples, 0.50);
    let p99 = percentile(&samples, 0.99);
    let max = samples.last().copied().unwrap_or_default();
    let target = match target {
        Some(t) => format!("  target p99 ≤ {:.0} ms: {}", ms(t), if p99 <= t { "met" } else { "MISSED" }),
        None => String::new(),
    };
    println!(
        "{name:<46} n={:<4} p50={:>8.2} ms  p99={:>8.2} ms  max={:>8.2} ms  {:>4} KB{target}",
        samples.len(),
        ms(p50),
        ms(p99),
        ms(max),
        bytes / 1024,
    );
}

/// A small deterministic generator (SplitMix64): the same table every run.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
}

/// 112 distinct commune and ward names of the shape a province's directory gives
/// ("Ủy ban MTTQ Việt Nam xã Hoằng Tiến").
fn unit_names() -> Vec<String> {
    let first = [
        "Hoằng", "Quảng", "Thiệu", "Triệu", "Yên", "Đông", "Nga", "Tĩnh", "Thọ", "Nông", "Hà", "Vĩnh", "Cẩm",
        "Ngọc",
    ];
    let second = ["Tiến", "Hóa", "Lộc", "Phú", "Thành", "Sơn", "Xuân", "Trung"];
    let mut out = Vec::new();
    for (i, a) in first.iter().enumerate() {
        for (j, b) in second.iter().enumerate() {
            let level = if (i + j) % 5 == 0 { "phường" } else { "xã" };
            out.push(format!("Ủy ban MTTQ Việt Nam {level} {a} {b}"));
        }
    }
    out
}

/// (indicator, measure heading, scope words, đồng?): eight columns of figures, as a task
/// asking for funds, houses, households and people gives them.
const INDICATORS: [(&str, &str, &str, bool); 8] = [
    ("quy_vnn_vnd", "đồng", "trong kỳ", true),
    ("quy_vnn_vnd_luy_ke", "đồng", "lũy kế từ 01/01/2025", true),
    ("ung_ho_thien_tai_vnd", "đồng", "trong kỳ", true),
    ("nha_dai_doan_ket_xay_moi", "căn", "trong kỳ", false),
    ("nha_dai_doan_ket_sua_chua", "căn", "trong kỳ", false),
    ("ho_ngheo_duoc_ho_tro", "hộ", "trong kỳ", false),
    ("nguoi_duoc_tang_qua", "người", "trong kỳ", false),
    ("mo_hinh_ra_soat", "", "trong kỳ", false),
];

const QUALIFIERS: [&str; 4] = ["", "gần", "hơn", "khoảng"];

/// One unit's figure for an indicator, and how exact it is ("" exact, "gần", "hơn", "khoảng");
/// `None` when it gave none.
type Given = Option<(i64, usize)>;

/// Each unit's figures, drawn once.
fn figures() -> Vec<Vec<Given>> {
    let mut d = Draw(7);
    (0..UNITS)
        .map(|_| {
            INDICATORS
                .iter()
                .map(|(code, ..)| {
                    if d.next().is_multiple_of(10) {
                        return None;
                    }
                    let value = match *code {
                        "quy_vnn_vnd" | "ung_ho_thien_tai_vnd" => d.range(120_000, 950_000) * 1_000,
                        "quy_vnn_vnd_luy_ke" => d.range(12, 98) * 100_000_000,
                        "nha_dai_doan_ket_xay_moi" => d.range(1, 25),
                        "nha_dai_doan_ket_sua_chua" => d.range(0, 15),
                        "ho_ngheo_duoc_ho_tro" => d.range(10, 400),
                        "nguoi_duoc_tang_qua" => d.range(50, 2_000),
                        _ => d.range(3, 40),
                    };
                    let q = match d.next() % 20 {
                        0..=10 => 0,
                        11..=13 => 1,
                        14..=16 => 2,
                        _ => 3,
                    };
                    Some((value, q))
                })
                .collect()
        })
        .collect()
}

/// How exact a sum is: exact if every part is, "gần" or "hơn" if the inexact parts all lean
/// one way, "khoảng" otherwise.
fn total_qualifier(qs: impl Iterator<Item = usize>) -> usize {
    let (mut under, mut over, mut about) = (false, false, false);
    for q in qs {
        match q {
            1 => under = true,
            2 => over = true,
            3 => about = true,
            _ => {}
        }
    }
    match (under, over, about) {
        (false, false, false) => 0,
        (true, false, false) => 1,
        (false, true, false) => 2,
        _ => 3,
    }
}

/// The consolidation as a wide table: a row per unit, per indicator the figure and how exact.
fn wide_table(names: &[String], given: &[Vec<Given>]) -> Table {
    let mut columns = vec![Column { heading: "Đơn vị".into(), kind: ColumnKind::Text }];
    for (code, measure, scope, vnd) in INDICATORS {
        let heading = if measure.is_empty() {
            format!("{code} ({scope})")
        } else {
            format!("{code} ({measure}, {scope})")
        };
        columns.push(Column { heading, kind: if vnd { ColumnKind::Vnd } else { ColumnKind::Count } });
        columns.push(Column { heading: "Mức chính xác".into(), kind: ColumnKind::Text });
    }
    let rows = names
        .iter()
        .zip(given)
        .map(|(name, figures)| {
            let mut row = vec![Cell::Text(name.clone())];
            for f in figures {
                match f {
                    Some((value, q)) => {
                        row.push(Cell::Number(*value));
                        row.push(Cell::Text(QUALIFIERS[*q].into()));
                    }
                    None => {
                        row.push(Cell::Empty);
                        row.push(Cell::Text("không ghi".into()));
                    }
                }
            }
            row
        })
        .collect();
    let mut totals = vec![Cell::Text("Tổng cộng".into())];
    let mut notes = vec![format!("Tính {UNITS} đơn vị đã nộp báo cáo, kể cả báo cáo đang chờ duyệt.")];
    for (i, (code, ..)) in INDICATORS.iter().enumerate() {
        let column: Vec<(i64, usize)> = given.iter().filter_map(|r| r[i]).collect();
        let q = total_qualifier(column.iter().map(|c| c.1));
        totals.push(Cell::Number(column.iter().map(|c| c.0).sum()));
        totals.push(Cell::Text(QUALIFIERS[q].into()));
        if q != 0 {
            let count = |k| column.iter().filter(|c| c.1 == k).count();
            notes.push(format!(
                "{code}: tổng là số gần đúng ({}), vì cộng {} số liệu “gần”, {} “hơn”, {} “khoảng”.",
                QUALIFIERS[q],
                count(1),
                count(2),
                count(3)
            ));
        }
    }
    notes.push(not_counted(names));
    Table {
        title: Some("SỐ LIỆU TỔNG HỢP NHIỆM VỤ 1".into()), columns, rows, totals: Some(totals), notes
    }
}

/// "Chưa tính: …" naming each unit addressed and not counted, and why.
fn not_counted(names: &[String]) -> String {
    let why = ["chưa báo cáo", "bị trả lại, chờ báo cáo lại", "không áp dụng", "đã báo cáo, chờ duyệt"];
    let list: Vec<String> =
        names[UNITS..].iter().enumerate().map(|(i, n)| format!("{n} ({})", why[i % why.len()])).collect();
    format!("Chưa tính: {}.", list.join("; "))
}

/// The same consolidation as a long table, a row per unit and indicator, then the totals: what
/// the desk prints when the wide table has more columns than a page's table can.
fn long_table(names: &[String], given: &[Vec<Given>]) -> Table {
    let columns = vec![
        Column { heading: "Đơn vị".into(), kind: ColumnKind::Text },
        Column { heading: "Chỉ tiêu".into(), kind: ColumnKind::Text },
        Column { heading: "Số liệu".into(), kind: ColumnKind::Count },
        Column { heading: "Mức chính xác".into(), kind: ColumnKind::Text },
    ];
    let mut rows = Vec::new();
    for (name, figures) in names.iter().zip(given) {
        for ((code, ..), f) in INDICATORS.iter().zip(figures) {
            if let Some((value, q)) = f {
                rows.push(vec![
                    Cell::Text(name.clone()),
                    Cell::Text((*code).into()),
                    Cell::Number(*value),
                    Cell::Text(QUALIFIERS[*q].into()),
                ]);
            }
        }
    }
    for (i, (code, ..)) in INDICATORS.iter().enumerate() {
        let column: Vec<(i64, usize)> = given.iter().filter_map(|r| r[i]).collect();
        rows.push(vec![
            Cell::Text("Tổng cộng".into()),
            Cell::Text((*code).into()),
            Cell::Number(column.iter().map(|c| c.0).sum()),
            Cell::Text(QUALIFIERS[total_qualifier(column.iter().map(|c| c.1))].into()),
        ]);
    }
    Table {
        title: Some("SỐ LIỆU TỔNG HỢP NHIỆM VỤ 1".into()),
        columns,
        rows,
        totals: None,
        notes: Vec::new(),
    }
}

/// The office's consolidated report around `table`, as the desk drafts it.
fn letter(table: Table) -> Letter {
    Letter {
        parent_body: "ỦY BAN MTTQ VIỆT NAM\nTỈNH THANH HÓA".into(),
        issuer: "BAN THƯỜNG TRỰC".into(),
        number: "    /BC-MTTQ-BTT".into(),
        place: "Thanh Hóa".into(),
        date: NaiveDate::from_ymd_opt(2025, 12, 20).unwrap(),
        kind_title: Some("BÁO CÁO".into()),
        subject: "Tổng hợp kết quả thực hiện Công văn số 215/MTTQ-BTT ngày 02/12/2025 về báo cáo kết quả vận động Quỹ “Vì người nghèo” năm 2025".into(),
        recipients: Vec::new(),
        body: vec![
            Block::Paragraph(
                "Thực hiện công văn số 215/MTTQ-BTT ngày 02/12/2025 về báo cáo kết quả vận động Quỹ “Vì người nghèo” năm 2025, Ban Thường trực Ủy ban MTTQ Việt Nam tỉnh Thanh Hóa tổng hợp kết quả thực hiện nhiệm vụ 1 như sau:".into(),
            ),
            Block::Table(table),
            Block::Paragraph("Trên đây là báo cáo tổng hợp./.".into()),
        ],
        copies_to: vec!["Ban Dân vận Tỉnh ủy;".into(), "Văn phòng Tỉnh ủy;".into()],
        signer: Signer {
            authority: "TM. BAN THƯỜNG TRỰC".into(),
            position: "PHÓ CHỦ TỊCH".into(),
            name: "Lê Thị Hoa".into(),
        },
    }
}

/// Times `make` `iterations` times; returns the samples and the last file's size.
fn time(iterations: usize, make: impl Fn() -> Vec<u8>) -> (Vec<Duration>, usize) {
    let mut samples = Vec::with_capacity(iterations);
    let mut bytes = 0;
    for _ in 0..iterations {
        let t0 = Instant::now();
        let out = make();
        samples.push(t0.elapsed());
        // An OOXML file is a ZIP package.
        assert!(out.starts_with(b"PK\x03\x04"));
        bytes = out.len();
    }
    (samples, bytes)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let iterations = if full { 100 } else { 2 };
    let names = unit_names();
    assert_eq!(names.len(), UNITS + NOT_COUNTED);
    let given = figures();
    let wide = wide_table(&names, &given);
    let long = long_table(&names, &given);
    println!(
        "giaoban export benchmark ({}): {UNITS} units counted, {NOT_COUNTED} not; wide table {} columns × {} rows and totals, {} notes; long table {} rows",
        if full { "full" } else { "smoke" },
        wide.columns.len(),
        wide.rows.len(),
        wide.notes.len(),
        long.rows.len()
    );

    let wide_letter = letter(wide.clone());
    let (samples, bytes) = time(iterations, || docx(&wide_letter).unwrap());
    report(&format!("docx: consolidated report, {UNITS} units (wide)"), samples, bytes, Some(TARGET));
    let long_letter = letter(long.clone());
    let (samples, bytes) = time(iterations, || docx(&long_letter).unwrap());
    report(&format!("docx: consolidated report, {UNITS} units (long)"), samples, bytes, Some(TARGET));
    let (samples, bytes) = time(iterations, || xlsx("Nhiệm vụ 1", &wide).unwrap());
    report(&format!("xlsx: consolidation table, {UNITS} units"), samples, bytes, None);
    let (samples, bytes) = time(iterations, || xlsx("Nhiệm vụ 1", &long).unwrap());
    report(&format!("xlsx: long table, {UNITS} units"), samples, bytes, None);
}
