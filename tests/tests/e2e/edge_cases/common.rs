//! Helpers shared by these tests: a directive from the province to two communes, raw
//! requests, hand-made documents.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use automerge::AutoCommit;
use autosurgeon::Text;
use giaoban_client_core::{NewDeadline, NewDirective, NewReport, NewSection, NewTask, Store};
use giaoban_protocol::schema::{Header, Report, ReportKind, Section};
use giaoban_protocol::wire::{DocChanges, SyncRequest, Witness};
use giaoban_protocol::{DeviceId, DocId, DocKind, UnitId};

/// A directive from the province (the store's unit) to `recipients`, one task with a deadline.
pub fn directive(store: &mut Store, recipients: Vec<UnitId>) -> DocId {
    store
        .issue_directive(NewDirective {
            number: "305/MTTQ-BTT".into(),
            issuer_name: "Ban Thường trực Ủy ban MTTQ Việt Nam tỉnh".into(),
            place: "Long Khánh".into(),
            issued_on: "24/01/2022".into(),
            subject: "V/v rà soát, đánh giá hiệu quả các mô hình".into(),
            recipients,
            recipients_label: "Kính gửi: Ban Thường trực các xã, phường".into(),
            tasks: vec![NewTask {
                ordinal: 1,
                text: "Báo cáo kết quả rà soát".into(),
                report_required: true,
                deadline: Some(NewDeadline {
                    text: "trước ngày 08/02/2030".into(),
                    due: None,
                    exclusive: None,
                }),
                ..Default::default()
            }],
            ..Default::default()
        })
        .unwrap()
}

/// A draft report of the store's unit, addressed to `audience`, with one section.
pub fn report(store: &mut Store, audience: Vec<UnitId>, body: &str) -> DocId {
    store
        .create_report(NewReport {
            title: "Báo cáo kết quả rà soát".into(),
            kind: ReportKind::Thematic,
            period: String::new(),
            answers: None,
            audience,
            sections: vec![NewSection {
                key: "ket_qua".into(),
                heading: "Kết quả".into(),
                body: body.into(),
            }],
        })
        .unwrap()
}

/// A request that pushes `push` and asks nothing else.
pub fn push_only(push: Vec<DocChanges>) -> SyncRequest {
    SyncRequest {
        epoch: None,
        cursor: 0,
        witness: Witness::default(),
        own_held: 0,
        push,
        page_bytes: 4096,
        have: vec![],
        refetch: vec![],
    }
}

/// The encoded changes of a new report document `id` owned by `owner`, written by `actor`.
pub fn hand_made_report(
    id: DocId,
    owner: UnitId,
    audience: Vec<UnitId>,
    actor: automerge::ActorId,
) -> Vec<Vec<u8>> {
    let r = Report {
        header: Header::new(id, DocKind::Report, owner, audience),
        title: "Giữ chỗ".into(),
        kind: ReportKind::Thematic,
        period: None,
        directive: None,
        task_ordinal: None,
        sections: vec![Section {
            key: "a".into(),
            heading: "A".into(),
            body: Text::with_value("x"),
            edited_concurrently: false,
        }],
        figures: vec![],
        submitted_at_device: None,
        attachments: Vec::new(),
        submitted_by: String::new(),
        due: None,
    };
    let mut doc = AutoCommit::new().with_actor(actor);
    autosurgeon::reconcile(&mut doc, &r).unwrap();
    doc.commit();
    doc.get_changes(&[]).into_iter().map(|c| c.raw_bytes().to_vec()).collect()
}

/// Copies a closed device store (with its WAL files if any) to `to`.
pub fn copy_store(from: &Path, to: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let f = Path::new(&format!("{}{suffix}", from.display())).to_path_buf();
        let t = Path::new(&format!("{}{suffix}", to.display())).to_path_buf();
        if t.exists() {
            std::fs::remove_file(&t).unwrap();
        }
        if f.exists() {
            std::fs::copy(&f, &t).unwrap();
        }
    }
}

/// Device id of a store, as an Automerge actor.
pub fn actor_of(device: DeviceId) -> automerge::ActorId {
    device.actor_id()
}

/// A report of the store's unit answering task 1 of `directive`, with one section.
pub fn report_answering(store: &mut Store, directive: DocId) -> DocId {
    store
        .create_report(NewReport {
            title: "Báo cáo kết quả".into(),
            kind: ReportKind::Thematic,
            period: String::new(),
            answers: Some((directive, 1)),
            audience: vec![],
            sections: vec![NewSection {
                key: "ket_qua".into(),
                heading: "Kết quả".into(),
                body: "Đã rà soát 12 mô hình.".into(),
            }],
        })
        .unwrap()
}
