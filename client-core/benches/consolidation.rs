//! Consolidation benchmark: prints the time to add up a province's reports, against the target
//! in DESIGN.md (consolidating 3,000 reports ≤ 200 ms).
//!
//! `cargo bench -p giaoban-client-core --bench consolidation` runs the full size: 3,000 reports
//! in one call of [`consolidate`], a province's year (100 communes × 30 tasks, one call per
//! task) through [`consolidate`], and the same year through [`Store::consolidation`] on a real
//! SQLite file. Without `--bench` (as `cargo test --benches` runs it) it does a small smoke run,
//! which also checks that the store's totals are the pure function's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use giaoban_client_core::protocol::schema::{
    Figure, FigureScope, MeasureUnit, Qualifier, ReportKind, Verdict,
};
use giaoban_client_core::protocol::{DocId, UnitId};
use giaoban_client_core::{
    Consolidation, Counting, FigureInput, NewDeadline, NewDirective, NewReport, NewSection, NewTask,
    ReportStanding, Store, UnitReport, consolidate,
};

/// The target (DESIGN.md, "Further targets").
const TARGET: Duration = Duration::from_millis(200);

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
fn report(name: &str, mut samples: Vec<Duration>, target: Option<Duration>) {
    samples.sort();
    let p50 = percentile(&samples, 0.50);
    let p99 = percentile(&samples, 0.99);
    let max = samples.last().copied().unwrap_or_default();
    let target = match target {
        Some(t) => format!("  target p99 ≤ {:.0} ms: {}", ms(t), if p99 <= t { "met" } else { "MISSED" }),
        None => String::new(),
    };
    println!(
        "{name:<58} n={:<5} p50={:>8.3} ms  p99={:>8.3} ms  max={:>8.3} ms{target}",
        samples.len(),
        ms(p50),
        ms(p99),
        ms(max),
    );
}

/// A small deterministic generator (SplitMix64): the same workload every run.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// In `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
    /// True `percent` times in 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// An indicator of the catalogue the tasks draw on: code, measure, scope, and how large its
/// figures run for one commune.
struct Indicator {
    code: &'static str,
    unit: MeasureUnit,
    scope: FigureScope,
    amount: fn(&mut Draw) -> i64,
}

fn vnd_period(d: &mut Draw) -> i64 {
    // Hundreds of millions, to the thousand đồng.
    d.range(120_000, 950_000) * 1_000
}
fn vnd_cumulative(d: &mut Draw) -> i64 {
    // 1,2 to 9,8 tỷ, to the hundred million.
    d.range(12, 98) * 100_000_000
}

const CATALOGUE: &[Indicator] = &[
    Indicator { code: "quy_vnn_vnd", unit: MeasureUnit::Vnd, scope: FigureScope::Period, amount: vnd_period },
    Indicator {
        code: "quy_vnn_vnd_luy_ke",
        unit: MeasureUnit::Vnd,
        scope: FigureScope::Cumulative,
        amount: vnd_cumulative,
    },
    Indicator {
        code: "ung_ho_thien_tai_vnd",
        unit: MeasureUnit::Vnd,
        scope: FigureScope::Period,
        amount: vnd_period,
    },
    Indicator {
        code: "an_sinh_xa_hoi_vnd",
        unit: MeasureUnit::Vnd,
        scope: FigureScope::Period,
        amount: vnd_period,
    },
    Indicator {
        code: "nha_dai_doan_ket_xay_moi",
        unit: MeasureUnit::Houses,
        scope: FigureScope::Period,
        amount: |d| d.range(1, 25),
    },
    Indicator {
        code: "nha_dai_doan_ket_sua_chua",
        unit: MeasureUnit::Houses,
        scope: FigureScope::Period,
        amount: |d| d.range(0, 15),
    },
    Indicator {
        code: "nha_dai_doan_ket_luy_ke",
        unit: MeasureUnit::Houses,
        scope: FigureScope::Cumulative,
        amount: |d| d.range(20, 300),
    },
    Indicator {
        code: "ho_ngheo_duoc_ho_tro",
        unit: MeasureUnit::Households,
        scope: FigureScope::Period,
        amount: |d| d.range(10, 400),
    },
    Indicator {
        code: "ho_can_ngheo_luy_ke",
        unit: MeasureUnit::Households,
        scope: FigureScope::Cumulative,
        amount: |d| d.range(50, 900),
    },
    Indicator {
        code: "nguoi_duoc_tang_qua",
        unit: MeasureUnit::People,
        scope: FigureScope::Period,
        amount: |d| d.range(50, 2_000),
    },
    Indicator {
        code: "cuoc_giam_sat",
        unit: MeasureUnit::Events,
        scope: FigureScope::Period,
        amount: |d| d.range(1, 12),
    },
    Indicator {
        code: "mo_hinh_ra_soat",
        unit: MeasureUnit::Items,
        scope: FigureScope::Period,
        amount: |d| d.range(3, 40),
    },
];

/// One figure as a cadre writes it ("gần 850 triệu", "hơn 1.250", "khoảng 6,4 tỷ") with the
/// indicator it is for.
struct Written {
    indicator: &'static Indicator,
    amount: String,
    /// "01/01/2025" for a cumulative figure that says where it counts from; "" otherwise.
    since: &'static str,
}

impl Written {
    /// The typed figure, read from the words as the store reads them.
    fn figure(&self) -> Figure {
        let (q, value) = giaoban_vietnamese_text::parse_figure(&self.amount).unwrap();
        Figure {
            indicator: self.indicator.code.into(),
            value,
            unit: self.indicator.unit,
            qualifier: match q {
                giaoban_vietnamese_text::Qualifier::Exact => Qualifier::Exact,
                giaoban_vietnamese_text::Qualifier::Under => Qualifier::Under,
                giaoban_vietnamese_text::Qualifier::Over => Qualifier::Over,
                giaoban_vietnamese_text::Qualifier::About => Qualifier::About,
            },
            scope: self.indicator.scope,
            note: String::new(),
            written: self.amount.clone(),
            since: if self.since.is_empty() {
                None
            } else {
                Some(NaiveDate::parse_from_str(self.since, "%d/%m/%Y").unwrap())
            },
        }
    }
}

/// What one task asks for: 6 to 10 indicators of the catalogue, the first three its own.
fn task_indicators(task: usize) -> Vec<&'static Indicator> {
    let n = 6 + task % 5;
    (0..n).map(|i| &CATALOGUE[(task * 5 + i) % CATALOGUE.len()]).collect()
}

/// A commune's figures for a task: most of what it asks, as communes write them.
fn written_figures(d: &mut Draw, asks: &[&'static Indicator]) -> Vec<Written> {
    let mut out = Vec::new();
    for ind in asks {
        // One commune in ten leaves out an indicator.
        if d.chance(10) {
            continue;
        }
        let value = (ind.amount)(d);
        let qualifier = match d.next() % 20 {
            0..=10 => "",
            11..=13 => "gần ",
            14..=16 => "hơn ",
            _ => "khoảng ",
        };
        let amount = match ind.unit {
            MeasureUnit::Vnd if qualifier.is_empty() => {
                format!("{} đồng", giaoban_vietnamese_text::format_number(value))
            }
            MeasureUnit::Vnd if value % 100_000_000 == 0 => {
                let tenths = value / 100_000_000;
                format!("{qualifier}{},{} tỷ", tenths / 10, tenths % 10)
            }
            MeasureUnit::Vnd => format!("{qualifier}{} triệu", value / 1_000_000),
            _ => format!("{qualifier}{}", giaoban_vietnamese_text::format_number(value)),
        };
        let since = match ind.scope {
            FigureScope::Period => "",
            // Most count from the start of the year; some from the last campaign; a few do
            // not say.
            FigureScope::Cumulative => match d.next() % 10 {
                0..=6 => "01/01/2025",
                7 | 8 => "17/10/2024",
                _ => "",
            },
        };
        out.push(Written { indicator: ind, amount, since });
    }
    out
}

/// Where a commune's report on a task stands: most accepted, some awaiting review, some
/// returned, some saying the task does not apply, some not reported (half of those with a
/// draft written).
fn draw_standing(d: &mut Draw) -> ReportStanding {
    match d.next() % 100 {
        0..=69 => ReportStanding::Accepted,
        70..=79 => ReportStanding::AwaitingReview,
        80..=86 => ReportStanding::Returned,
        87..=91 => ReportStanding::NotApplicable,
        _ => ReportStanding::NotReported,
    }
}

/// One commune's answer to one task.
struct Answer {
    unit: usize,
    standing: ReportStanding,
    figures: Vec<Written>,
}

/// The answers of `units` communes to each of the tasks numbered `tasks` (from 0).
fn workload(seed: u64, units: usize, tasks: std::ops::Range<usize>) -> Vec<Vec<Answer>> {
    let mut d = Draw(seed);
    tasks
        .map(|t| {
            let asks = task_indicators(t);
            (0..units)
                .map(|u| {
                    let standing = draw_standing(&mut d);
                    let mut figures = written_figures(&mut d, &asks);
                    // One commune in twenty also reports an indicator the task did not ask for.
                    if d.chance(5) {
                        let extra = &CATALOGUE[(t + 7) % CATALOGUE.len()];
                        if !asks.iter().any(|a| a.code == extra.code) {
                            figures.extend(written_figures(&mut Draw(d.next()), &[extra]));
                        }
                    }
                    Answer { unit: u, standing, figures }
                })
                .collect()
        })
        .collect()
}

fn unit_id(i: usize) -> UnitId {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    b[8] = 0x4d;
    UnitId::from_bytes(b)
}

/// The answers as [`consolidate`] takes them.
fn unit_reports(answers: &[Answer], id: impl Fn(usize) -> UnitId) -> Vec<UnitReport> {
    answers
        .iter()
        .map(|a| {
            let counted = matches!(a.standing, ReportStanding::Accepted | ReportStanding::AwaitingReview);
            UnitReport {
                unit: id(a.unit),
                standing: a.standing,
                report: counted.then(|| DocId::from_bytes(id(a.unit).to_bytes())),
                figures: if counted { a.figures.iter().map(Written::figure).collect() } else { Vec::new() },
            }
        })
        .collect()
}

fn codes(task: usize) -> Vec<String> {
    task_indicators(task).iter().take(3).map(|i| i.code.to_string()).collect()
}

fn pure(full: bool) {
    let iterations = if full { 200 } else { 5 };

    // 3,000 reports in one call: one table of 3,000 rows, on a task that asks for 10 figures.
    let n = if full { 3_000 } else { 300 };
    let task = 4;
    let answers: Vec<Answer> = workload(1, n, task..task + 1).remove(0);
    let units = unit_reports(&answers, unit_id);
    let figures: usize = units.iter().map(|u| u.figures.len()).sum();
    let indicators = codes(task);
    let mut c: Option<Consolidation> = None;
    for counting in [Counting::AllSubmitted, Counting::AcceptedOnly] {
        let mut samples = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let t0 = Instant::now();
            let out = consolidate(&units, counting, &indicators);
            samples.push(t0.elapsed());
            c = Some(out);
        }
        let c = c.as_ref().unwrap();
        report(
            &format!(
                "consolidate: {n} reports in one call, {}",
                if counting == Counting::AllSubmitted { "all submitted" } else { "accepted only" }
            ),
            samples,
            Some(TARGET),
        );
        println!(
            "    ({figures} figures; {} units counted, {} not, {} columns)",
            c.rows.len(),
            c.not_counted.len(),
            c.columns.len()
        );
    }

    // A province's year: 100 communes answering 30 tasks, one call per task.
    let (communes, tasks) = if full { (100, 30) } else { (20, 3) };
    let year = workload(2, communes, 0..tasks);
    let year: Vec<(Vec<UnitReport>, Vec<String>)> =
        year.iter().enumerate().map(|(t, a)| (unit_reports(a, unit_id), codes(t))).collect();
    let mut per_task = Vec::new();
    let mut whole = Vec::new();
    for _ in 0..iterations {
        let t0 = Instant::now();
        for (units, indicators) in &year {
            let t1 = Instant::now();
            std::hint::black_box(consolidate(units, Counting::AllSubmitted, indicators));
            per_task.push(t1.elapsed());
        }
        whole.push(t0.elapsed());
    }
    report(&format!("consolidate: one task of {communes} communes"), per_task, None);
    report(
        &format!("consolidate: a year, {tasks} tasks × {communes} ({} reports)", tasks * communes),
        whole,
        Some(TARGET),
    );
}

/// A dispatch of one task that asks for a report with figures.
fn dispatch(task: usize, recipients: Vec<UnitId>) -> NewDirective {
    let month = 1 + task % 12;
    NewDirective {
        number: format!("{}/MTTQ-BTT", 200 + task),
        issuer_name: "Ban Thường trực Ủy ban MTTQ Việt Nam tỉnh Thanh Hóa".into(),
        place: "Thanh Hóa".into(),
        issued_on: format!("{:02}/{month:02}/2025", 2 + task % 20),
        subject: format!("V/v báo cáo kết quả thực hiện cuộc vận động, đợt {}", task + 1),
        recipients,
        tasks: vec![NewTask {
            ordinal: 1,
            text: "Tổng hợp kết quả vận động Quỹ “Vì người nghèo”, xây dựng nhà Đại đoàn kết và hỗ trợ hộ nghèo trên địa bàn; báo cáo về Ban Thường trực Ủy ban MTTQ Việt Nam tỉnh (qua đ/c Hoa-CV).".into(),
            report_required: true,
            deadline: Some(NewDeadline { text: format!("trước ngày 25/{month:02}/2025"), ..Default::default() }),
            indicators: codes(task),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn store(full: bool) {
    let (communes, tasks) = if full { (100, 30) } else { (12, 3) };
    // GIAOBAN_BENCH_TASKS sets fewer (or more) tasks, for a quicker look at one part.
    let tasks = std::env::var("GIAOBAN_BENCH_TASKS").ok().and_then(|v| v.parse().ok()).unwrap_or(tasks);
    let dir = tempfile::tempdir().unwrap();
    let office_path = dir.path().join("office.sqlite");
    let directory = giaoban_client_core::unit_directory_from_reference("Thanh Hóa").unwrap();
    let province = directory.units[0].id;
    let wards: Vec<UnitId> = directory.units[1..=communes].iter().map(|u| u.id).collect();
    println!(
        "store: {} of the {} communes of Thanh Hóa, {tasks} tasks, {} reports asked",
        wards.len(),
        directory.units.len() - 1,
        communes * tasks
    );

    let t = Instant::now();
    let mut office = Store::open(&office_path).unwrap();
    office.set_unit(province).unwrap();
    office.create_unit_directory(&directory).unwrap();
    let directives: Vec<DocId> =
        (0..tasks).map(|t| office.issue_directive(dispatch(t, wards.clone())).unwrap()).collect();

    // The communes write on one device that takes each commune's place in turn: the office
    // receives the same documents as from a hundred phones.
    let mut phone = Store::open(dir.path().join("communes.sqlite")).unwrap();
    for id in office.document_ids(None).unwrap() {
        send(&mut office, &mut phone, id);
    }
    let year = workload(3, communes, 0..tasks);
    let mut written: Vec<DocId> = Vec::new();
    let mut to_review: Vec<(DocId, Verdict)> = Vec::new();
    for (w, ward) in wards.iter().enumerate() {
        phone.set_unit(*ward).unwrap();
        for (t, directive) in directives.iter().enumerate() {
            let a = &year[t][w];
            if a.standing == ReportStanding::NotApplicable {
                phone
                    .mark_task_not_applicable(*directive, 1, "Địa bàn không có hộ thuộc diện hỗ trợ")
                    .unwrap();
                continue;
            }
            let draft_only = a.standing == ReportStanding::NotReported;
            if draft_only && w % 2 == 0 {
                continue;
            }
            let r = phone
                .create_report(NewReport {
                    title: "Báo cáo kết quả vận động Quỹ “Vì người nghèo” và xây dựng nhà Đại đoàn kết".into(),
                    kind: ReportKind::Thematic,
                    period: format!("tháng {}/2025", 1 + t % 12),
                    answers: Some((*directive, 1)),
                    audience: vec![],
                    sections: vec![NewSection {
                        key: "ket_qua".into(),
                        heading: "Kết quả thực hiện".into(),
                        body: "Ban Thường trực phối hợp các đoàn thể vận động cán bộ, đảng viên, doanh nghiệp và Nhân dân ủng hộ Quỹ; khởi công, bàn giao nhà Đại đoàn kết cho hộ nghèo; tặng quà hộ cận nghèo, gia đình chính sách.".into(),
                    }],
                })
                .unwrap();
            for f in &a.figures {
                phone
                    .set_report_figure(
                        r,
                        FigureInput {
                            indicator: f.indicator.code.into(),
                            amount: f.amount.clone(),
                            unit: f.indicator.unit,
                            scope: f.indicator.scope,
                            note: String::new(),
                            since: f.since.into(),
                        },
                    )
                    .unwrap();
            }
            if !draft_only {
                phone.submit_report_by(r, "Lê Thị Hoa, Phó Chủ tịch").unwrap();
                match a.standing {
                    ReportStanding::Accepted => to_review.push((r, Verdict::Accepted)),
                    ReportStanding::Returned => to_review.push((r, Verdict::Returned)),
                    _ => {}
                }
            }
            written.push(r);
        }
    }
    let mut sent = 0;
    for id in phone.document_ids(None).unwrap() {
        if send(&mut phone, &mut office, id) {
            sent += 1;
        }
    }
    for (r, verdict) in &to_review {
        let note = if *verdict == Verdict::Returned {
            "Đề nghị bổ sung số liệu nhà Đại đoàn kết."
        } else {
            ""
        };
        office.review_report(*r, *verdict, note).unwrap();
    }
    drop(phone);
    println!(
        "setup: {} reports ({} documents) written, sent and reviewed in {:.1} s",
        written.len(),
        sent,
        t.elapsed().as_secs_f64()
    );

    // The store's answer is the pure function's over the same figures, in every column.
    let names = office.shared_unit_directory().unwrap();
    for (t, directive) in directives.iter().enumerate() {
        for counting in [Counting::AllSubmitted, Counting::AcceptedOnly] {
            let got = office.consolidation(*directive, 1, counting).unwrap();
            let expected = consolidate(&unit_reports(&year[t], |i| wards[i]), counting, &codes(t));
            assert_eq!(got.columns, expected.columns, "task {t}");
            assert_eq!(got.rows.len(), expected.rows.len());
            assert_eq!(got.not_counted.len(), communes - got.rows.len());
            assert!(got.rows.iter().all(|r| names.unit(r.unit).is_some()));
        }
    }

    let rounds = if full { 10 } else { 2 };
    // One task, asked again and again: its reports stay in memory.
    let mut samples = Vec::new();
    for _ in 0..rounds * tasks {
        let t0 = Instant::now();
        std::hint::black_box(office.consolidation(directives[0], 1, Counting::AllSubmitted).unwrap());
        samples.push(t0.elapsed());
    }
    report(&format!("Store::consolidation: one task of {communes} (same task again)"), samples, None);

    // The year, task after task: more reports than the store keeps in memory, so each task's
    // are read from the file.
    let mut per_task = Vec::new();
    let mut whole = Vec::new();
    for _ in 0..rounds {
        let t0 = Instant::now();
        for directive in &directives {
            let t1 = Instant::now();
            std::hint::black_box(office.consolidation(*directive, 1, Counting::AllSubmitted).unwrap());
            per_task.push(t1.elapsed());
        }
        whole.push(t0.elapsed());
    }
    report(&format!("Store::consolidation: one task of {communes} (tasks in turn)"), per_task, None);
    report(
        &format!("Store::consolidation: a year, {tasks} tasks × {communes} ({} reports)", tasks * communes),
        whole,
        Some(TARGET),
    );
    drop(office);

    // The first consolidation after the store opens: nothing in memory yet.
    let mut samples = Vec::new();
    for i in 0..rounds {
        let mut s = Store::open(&office_path).unwrap();
        let t0 = Instant::now();
        std::hint::black_box(s.consolidation(directives[i % tasks], 1, Counting::AllSubmitted).unwrap());
        samples.push(t0.elapsed());
    }
    report(&format!("Store::consolidation: one task of {communes}, store just opened"), samples, None);

    if std::env::var("GIAOBAN_BENCH_TRACE").is_ok() {
        // Where one report's part goes: reading it from the file, then reading its fields.
        let mut s = Store::open(&office_path).unwrap();
        let (mut first, mut again, mut load) = (Vec::new(), Vec::new(), Vec::new());
        for r in written.iter().take(200) {
            let t0 = Instant::now();
            std::hint::black_box(s.report(*r).unwrap());
            first.push(t0.elapsed());
            let t0 = Instant::now();
            std::hint::black_box(s.report(*r).unwrap());
            again.push(t0.elapsed());
            let bytes = s.save_document(*r).unwrap();
            let t0 = Instant::now();
            std::hint::black_box(automerge::AutoCommit::load(&bytes).unwrap());
            load.push(t0.elapsed());
        }
        report("trace: a report read, not in memory", first, None);
        report("trace: the same report read again (in memory)", again, None);
        report("trace: loading its saved bytes (automerge alone)", load, None);
    }
    let file = std::fs::metadata(&office_path).map(|m| m.len()).unwrap_or(0);
    println!("office store file: {:.1} MB", file as f64 / 1e6);
}

/// Copies every change of `id` from one store to the other, as the relay would bring them.
fn send(from: &mut Store, to: &mut Store, id: DocId) -> bool {
    let bytes = from.save_document(id).unwrap();
    let mut doc = automerge::AutoCommit::load(&bytes).unwrap();
    let changes: Vec<Vec<u8>> = doc.get_changes(&[]).into_iter().map(|c| c.raw_bytes().to_vec()).collect();
    to.apply_remote(id, &changes).unwrap()
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    println!("giaoban consolidation benchmark ({})", if full { "full" } else { "smoke" });
    // GIAOBAN_BENCH_ONLY=store (or pure) runs one part.
    let only = std::env::var("GIAOBAN_BENCH_ONLY").unwrap_or_default();
    if only != "store" {
        pure(full);
    }
    if only != "pure" {
        store(full);
    }
}
