//! A demo organisation on real store files: Đồng Nai's provincial committee issues the dispatch
//! 305/MTTQ-BTT to three wards; the wards answer, one reports, the office reviews and sees who
//! is late. Documents move between the stores as they would through the relay: as Automerge
//! changes each store has not seen.
//!
//! `cargo run --release -p giaoban-client-core --example demo -- ./demo-data`

use std::path::PathBuf;

use giaoban_client_core::demo::dispatch_305;
use giaoban_client_core::protocol::schema::{FigureScope, MeasureUnit, ReportKind, TaskState, Verdict};
use giaoban_client_core::protocol::{DeadlineStanding, DocId, DocumentSchema};
use giaoban_client_core::{
    FigureInput, NewReport, NewSection, Store, TaskFilter, TaskScope, TaskView, unit_directory_from_reference,
};
use giaoban_vietnamese_text::format_date;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "./demo-data".into()));
    std::fs::create_dir_all(&dir)?;
    let org = unit_directory_from_reference("Đồng Nai")?;
    let city_unit = org.units[0].id;
    let wards: Vec<_> = org.units.iter().filter(|u| u.parent == Some(city_unit)).take(3).cloned().collect();
    println!("Tổ chức mẫu: {} và {} phường, xã", org.units[0].name, wards.len());

    let fresh = |name: &str| -> Result<Store, Box<dyn std::error::Error>> {
        let path = dir.join(name);
        for suffix in ["", "-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", path.display()));
            if p.exists() {
                std::fs::remove_file(p)?;
            }
        }
        Ok(Store::open(path)?)
    };
    let mut city = fresh("thanh-pho.sqlite")?;
    city.set_unit(city_unit)?;
    city.create_unit_directory(&org)?;
    let mut ward_stores = Vec::new();
    for (i, w) in wards.iter().enumerate() {
        let mut s = fresh(&format!("phuong-{}.sqlite", i + 1))?;
        s.set_unit(w.id)?;
        ward_stores.push(s);
    }

    let directive =
        city.issue_directive(dispatch_305(wards.iter().map(|w| w.id).collect(), "08/02/2022", "11/02/2022"))?;
    for s in &mut ward_stores {
        exchange(&mut city, s)?;
    }

    // Ward 1 answers everything and reports; ward 2 acknowledges; ward 3 is silent.
    let w1 = &mut ward_stores[0];
    w1.acknowledge_task(directive, 1)?;
    w1.update_task_progress(
        directive,
        2,
        "Đã nắm tình hình doanh nghiệp và công nhân lao động trên địa bàn.",
    )?;
    w1.mark_task_not_applicable(directive, 4, "Không phát sinh trong kỳ.")?;
    let report = w1.create_report(NewReport {
        title: "Báo cáo kết quả rà soát các mô hình của Mặt trận".into(),
        kind: ReportKind::Thematic,
        period: "tháng 1/2022".into(),
        answers: Some((directive, 3)),
        audience: vec![],
        sections: vec![
            NewSection {
                key: "ket_qua".into(),
                heading: "Kết quả".into(),
                body: "Rà soát 12 mô hình; nhân rộng 3 mô hình hiệu quả.".into(),
            },
            NewSection {
                key: "kien_nghi".into(),
                heading: "Đề xuất, kiến nghị".into(),
                body: "Đề nghị hỗ trợ kinh phí duy trì mô hình.".into(),
            },
        ],
    })?;
    w1.set_report_figure(
        report,
        FigureInput {
            indicator: "quy_vnn_tiep_nhan_vnd".into(),
            amount: "gần 850 triệu đồng".into(),
            unit: MeasureUnit::Vnd,
            scope: FigureScope::Cumulative,
            note: "Quỹ Vì người nghèo".into(),
            since: String::new(),
        },
    )?;
    w1.submit_report(report)?;
    ward_stores[1].acknowledge_task(directive, 3)?;
    for s in &mut ward_stores {
        exchange(s, &mut city)?;
    }
    city.review_report(report, Verdict::Accepted, "Đạt yêu cầu.")?;
    exchange(&mut city, &mut ward_stores[0])?;

    println!("\nBảng theo dõi của thành phố: văn bản {}", city.directive(directive)?.title());
    let dirs = city.unit_directory()?;
    let name = |id| dirs.unit(id).map(|u| u.short_name.clone()).unwrap_or_default();
    for t in city.list_tasks(&TaskFilter { scope: TaskScope::IssuedByMe, ..Default::default() })? {
        println!("  {:<22} nhiệm vụ {}  {:<16} {}", name(t.assignee), t.ordinal, state(&t), deadline(&t));
    }
    let hits = city.search("muoi", 5)?;
    println!(
        "\nTìm \"muoi\": {} kết quả, ví dụ «{}»",
        hits.len(),
        hits.first().map(|h| h.title.as_str()).unwrap_or("")
    );
    println!("Các kho dữ liệu nằm trong {}", dir.display());
    Ok(())
}

fn state(t: &TaskView) -> &'static str {
    match t.state {
        None | Some(TaskState::Received) => "chưa tiếp nhận",
        Some(TaskState::Acknowledged) => "đã tiếp nhận",
        Some(TaskState::InProgress) => "đang thực hiện",
        Some(TaskState::Submitted) => "đã báo cáo",
        Some(TaskState::NotApplicable) => "không phát sinh",
    }
}

fn deadline(t: &TaskView) -> String {
    match (&t.deadline, t.standing) {
        (Some(d), Some(s)) => {
            let s = match s {
                DeadlineStanding::Upcoming => "còn hạn",
                DeadlineStanding::DueSoon => "sắp đến hạn",
                DeadlineStanding::Overdue => "QUÁ HẠN",
                DeadlineStanding::DoneOnTime => "đúng hạn",
                DeadlineStanding::DoneLate => "trễ hạn",
            };
            format!("hạn {} ({s})", format_date(d.last_day()))
        }
        _ => String::new(),
    }
}

/// Sends `from`'s changes that `to` lacks.
fn exchange(from: &mut Store, to: &mut Store) -> Result<(), Box<dyn std::error::Error>> {
    for id in from.document_ids(None)? {
        let changes = all_changes(from, id)?;
        to.apply_remote(id, &changes)?;
    }
    Ok(())
}

fn all_changes(s: &mut Store, id: DocId) -> Result<Vec<Vec<u8>>, Box<dyn std::error::Error>> {
    let mut doc = automerge::AutoCommit::load(&s.save_document(id)?)?;
    Ok(doc.get_changes(&[]).into_iter().map(|c| c.raw_bytes().to_vec()).collect())
}
