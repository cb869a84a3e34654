//! Device store benchmark: prints latency figures for the targets in DESIGN.md.
//!
//! `cargo bench -p giaoban-client-core --bench store` runs the full size (10,000 documents).
//! Without `--bench` (as `cargo test --benches` runs it) it does a small smoke run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use giaoban_client_core::protocol::DocId;
use giaoban_client_core::{NewDeadline, NewDirective, NewTask, Store, StoreOptions, TaskFilter, TaskScope};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut samples: Vec<Duration>, target: Option<(&str, Duration)>) {
    samples.sort();
    let p50 = percentile(&samples, 0.50);
    let p99 = percentile(&samples, 0.99);
    let max = samples.last().copied().unwrap_or_default();
    let target = match target {
        Some((which, t)) => {
            let v = if which == "p99" { p99 } else { p50 };
            format!(
                "  target {which} ≤ {:.1} ms: {}",
                t.as_secs_f64() * 1e3,
                if v <= t { "met" } else { "MISSED" }
            )
        }
        None => String::new(),
    };
    println!(
        "{name:<44} n={:<6} p50={:>8.3} ms  p99={:>8.3} ms  max={:>8.3} ms{target}",
        samples.len(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3,
    );
}

/// A one-task directive of the anchor shape: a handful of scalar fields and ~80 chars of text.
fn task_doc(i: usize, recipient: giaoban_client_core::protocol::UnitId) -> NewDirective {
    let names = ["Muối", "Đường", "Hòa", "Hoà", "Thủy", "Lan", "Đức", "Nghĩa"];
    NewDirective {
        number: format!("{}/MTTQ-BTT", 100 + i),
        issuer_name: "Ban Thường trực Ủy ban MTTQ Việt Nam tỉnh Đồng Nai".into(),
        place: "Biên Hòa".into(),
        issued_on: "24/01/2022".into(),
        subject: format!("V/v triển khai nhiệm vụ số {i}"),
        recipients: vec![recipient],
        tasks: vec![NewTask {
            ordinal: 1,
            text: format!(
                "Rà soát mô hình số {i} và báo cáo qua đ/c {} trước ngày hạn định.",
                names[i % names.len()]
            ),
            report_required: true,
            deadline: Some(NewDeadline {
                text: format!("trước ngày {:02}/02/2022", 1 + i % 28),
                ..Default::default()
            }),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let docs: usize = std::env::var("GIAOBAN_BENCH_DOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 10_000 } else { 300 });
    let edits: usize = if full { 5_000 } else { 200 };
    let dir = tempfile::tempdir().unwrap();
    // GIAOBAN_BENCH_DIR keeps the store for inspection.
    let base =
        std::env::var("GIAOBAN_BENCH_DIR").map(std::path::PathBuf::from).unwrap_or(dir.path().to_path_buf());
    std::fs::create_dir_all(&base).unwrap();
    let path = base.join("bench.sqlite");
    // A store left by an earlier run is replaced; there is none the first time.
    let _ = std::fs::remove_file(&path);
    println!(
        "giaoban device store benchmark: {docs} documents, {edits} edits ({})",
        if full { "full" } else { "smoke" }
    );

    let dir_units = giaoban_client_core::unit_directory_from_reference("Đồng Nai").unwrap();
    let city = dir_units.units[0].id;
    let ward = dir_units.units[1].id;

    let mut s = Store::open(&path).unwrap();
    s.set_unit(city).unwrap();
    let t = Instant::now();
    let mut ids: Vec<DocId> = Vec::with_capacity(docs);
    let mut create = Vec::with_capacity(docs);
    for i in 0..docs {
        let t0 = Instant::now();
        ids.push(s.issue_directive(task_doc(i, ward)).unwrap());
        create.push(t0.elapsed());
    }
    println!("setup: {docs} documents created in {:.2} s", t.elapsed().as_secs_f64());
    report("create a document (durable)", create, None);

    // A local edit made durable: one small change to a document, committed to SQLite (WAL).
    let mut samples = Vec::with_capacity(edits);
    for i in 0..edits {
        let id = ids[(i * 7919) % ids.len()];
        let t0 = Instant::now();
        s.set_task_text(
            id,
            1,
            &format!("Rà soát mô hình, lần sửa {i}: báo cáo qua đ/c Muối trước ngày hạn định."),
        )
        .unwrap();
        samples.push(t0.elapsed());
    }
    report("local edit durable (cache-friendly mix)", samples, Some(("p99", Duration::from_millis(2))));

    // The same edit on a document that is not in memory: load + edit + commit.
    let cold = Store::open_with(&path, StoreOptions { cache_capacity: 8, ..Default::default() }).unwrap();
    drop(s);
    let mut s = cold;
    if std::env::var("GIAOBAN_BENCH_TRACE").is_ok() {
        let t0 = Instant::now();
        let _ = s.directive(ids[5]).unwrap();
        println!("first read after open: {:.3} ms", t0.elapsed().as_secs_f64() * 1e3);
        let t0 = Instant::now();
        let _ = s.search("muoi", 1).unwrap();
        println!("first search after open: {:.3} ms", t0.elapsed().as_secs_f64() * 1e3);
        let wal = std::fs::metadata(format!("{}-wal", path.display())).map(|m| m.len()).unwrap_or(0);
        println!("wal before the first cold edit: {:.1} MB", wal as f64 / 1e6);
    }
    let mut samples = Vec::with_capacity(edits.min(1000));
    for i in 0..edits.min(1000) {
        let id = ids[(i * 104_729) % ids.len()];
        let t0 = Instant::now();
        s.set_task_text(id, 1, &format!("Sửa khi tài liệu chưa nạp, lần {i}.")).unwrap();
        samples.push(t0.elapsed());
    }
    if std::env::var("GIAOBAN_BENCH_TRACE").is_ok() {
        let slow: Vec<(usize, f64)> = samples
            .iter()
            .enumerate()
            .filter(|(_, d)| d.as_millis() > 5)
            .map(|(i, d)| (i, d.as_secs_f64() * 1e3))
            .collect();
        println!("slow cold edits: {slow:?}");
    }
    report("local edit durable (document not cached)", samples, None);
    drop(s);

    // Opening the store.
    let mut samples = Vec::new();
    for _ in 0..if full { 30 } else { 5 } {
        let t0 = Instant::now();
        let s = Store::open(&path).unwrap();
        samples.push(t0.elapsed());
        drop(s);
    }
    report(&format!("open a store of {docs} documents"), samples, Some(("p50", Duration::from_millis(50))));

    let s = Store::open(&path).unwrap();
    // Listing every task.
    let mut samples = Vec::new();
    let mut n = 0;
    for _ in 0..if full { 30 } else { 5 } {
        let t0 = Instant::now();
        n = s.list_tasks(&TaskFilter { scope: TaskScope::All, ..Default::default() }).unwrap().len();
        samples.push(t0.elapsed());
    }
    assert_eq!(n, docs);
    report(&format!("list {n} tasks"), samples, Some(("p50", Duration::from_millis(20))));

    // Searching.
    for q in ["muoi", "hoa", "mo hinh so 4242", "khong co tu nay"] {
        let mut samples = Vec::new();
        let mut hits = 0;
        for _ in 0..if full { 50 } else { 5 } {
            let t0 = Instant::now();
            hits = s.search(q, 50).unwrap().len();
            samples.push(t0.elapsed());
        }
        report(&format!("search '{q}' ({hits} hits, limit 50)"), samples, None);
    }
    let file = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("store file: {:.1} MB ({} bytes/document)", file as f64 / 1e6, file / docs.max(1) as u64);
}
