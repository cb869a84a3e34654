//! What the relay's check of one push costs, and how that grows with a document's history:
//! one small edit checked against a report that already holds `history` changes, as the relay
//! checks every push before storing it (decode, apply to its copy, read the header, validate
//! the kind). Two kinds of edit: a new title (one key overwritten again and again, the
//! writer bench's edit) and a sentence typed into a section.
//!
//! `cargo bench -p giaoban-protocol --bench check` (histories of 50, 500 and 2,000 changes).
//! Without `--bench` (as `cargo test --benches` runs it) it does a smoke run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::time::Instant;

use automerge::{AutoCommit, ROOT, ReadDoc, transaction::Transactable};
use autosurgeon::Text;
use giaoban_protocol::authz::{UnitTree, check_push_in};
use giaoban_protocol::schema::{DocKind, Header, Report, ReportKind, Section};
use giaoban_protocol::{DeviceId, DocId, UnitId};

#[derive(Clone, Copy)]
enum Edit {
    Title,
    Typing,
}

impl Edit {
    fn name(self) -> &'static str {
        match self {
            Edit::Title => "new title",
            Edit::Typing => "typing in a section",
        }
    }

    /// One edit as the device writes it: its changes.
    fn apply(self, doc: &mut AutoCommit, n: usize) -> Vec<Vec<u8>> {
        let before = doc.get_heads();
        match self {
            Edit::Title => {
                doc.put(ROOT, "title", format!("Báo cáo kết quả thực hiện quý I/2030 (lần sửa {n})"))
                    .unwrap();
            }
            Edit::Typing => {
                let (_, sections) = doc.get(ROOT, "sections").unwrap().unwrap();
                let (_, section) = doc.get(&sections, 0).unwrap().unwrap();
                let (_, body) = doc.get(&section, "body").unwrap().unwrap();
                let at = doc.length(&body);
                doc.splice_text(&body, at, 0, &format!(" Đã thăm {n} hộ.")).unwrap();
            }
        }
        doc.commit();
        doc.get_changes(&before).iter().map(|c| c.raw_bytes().to_vec()).collect()
    }
}

fn report(owner: UnitId) -> Report {
    Report {
        header: Header::new(DocId::from_bytes([6; 16]), DocKind::Report, owner, Vec::new()),
        title: "Báo cáo kết quả thực hiện quý I/2030".into(),
        kind: ReportKind::Thematic,
        period: None,
        directive: None,
        task_ordinal: None,
        sections: vec![Section {
            key: "ket_qua".into(),
            heading: "Kết quả thực hiện".into(),
            body: Text::with_value("Phường đã rà soát 12 hộ nghèo, vận động được 35 triệu đồng."),
            edited_concurrently: false,
        }],
        figures: Vec::new(),
        submitted_at_device: None,
        attachments: Vec::new(),
        submitted_by: String::new(),
        due: None,
    }
}

/// Median µs of checking one edit against a report of `history` changes, and of copying the
/// report alone (the relay does not copy: it takes its copy out of the cache).
fn measure(edit: Edit, history: usize, rounds: usize) -> (f64, f64) {
    let city = UnitId::from_bytes([1; 16]);
    let ward = UnitId::from_bytes([2; 16]);
    let mut tree = UnitTree::new();
    tree.insert(city, None);
    tree.insert(ward, Some(city));
    let device = DeviceId::from_bytes([3; 16]);
    let mut doc = AutoCommit::new().with_actor(device.actor_id());
    let r = report(ward);
    autosurgeon::reconcile(&mut doc, &r).unwrap();
    doc.commit();
    for n in 0..history {
        edit.apply(&mut doc, n);
    }
    let id = r.header.id;
    let relay = AutoCommit::load(&doc.save()).unwrap();
    let mut checks = Vec::with_capacity(rounds);
    let mut copies = Vec::with_capacity(rounds);
    // Every round checks one more edit against the same history, so the figure is that of
    // `history` and not of a history grown by the rounds.
    for n in 0..rounds {
        let changes = edit.apply(&mut doc.clone(), history + n);
        let t = Instant::now();
        let copy = relay.clone();
        copies.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        let checked = check_push_in(&tree, Some(copy), id, &changes, &HashSet::new(), device, ward);
        checks.push(t.elapsed().as_secs_f64() * 1e6);
        assert!(checked.is_ok(), "the edit is refused: {:?}", checked.err());
    }
    checks.sort_by(f64::total_cmp);
    copies.sort_by(f64::total_cmp);
    (checks[checks.len() / 2], copies[copies.len() / 2])
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let histories: &[usize] = if full { &[50, 500, 2000] } else { &[20] };
    let rounds = if full { 200 } else { 20 };
    println!(
        "giaoban push check ({}): one edit checked against a report's history",
        if full { "full" } else { "smoke" }
    );
    for edit in [Edit::Title, Edit::Typing] {
        for &history in histories {
            let (check, copy) = measure(edit, history, rounds);
            println!(
                "{:<20} history {history:>5}: check {check:>7.1} µs (median of {rounds}); copying the report {copy:>6.1} µs",
                edit.name()
            );
        }
    }
}
