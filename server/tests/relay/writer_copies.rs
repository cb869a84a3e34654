//! The writer's copies of documents: pushes of two devices to one report committed in one
//! batch each see the other's changes; a document with a long history is loaded from its
//! compacted copy after a restart, and a damaged copy is rebuilt from the changes, never
//! trusted; a push checked before the writer's turn against a copy that another push made
//! old is checked again, never stored on the old copy.

use std::time::Duration;

use automerge::{AutoCommit, ROOT, ReadDoc, transaction::Transactable};
use giaoban_client_core::protocol::schema::{DocKind, Header, Report, ReportKind, Section};
use giaoban_client_core::protocol::wire::DocChanges;
use giaoban_client_core::protocol::{DeviceId, DocId, UnitId};
use giaoban_relay::RelayStore;
use giaoban_relay::store::{PushOutcome, push_prechecked, writer_push};

/// A ward's report as a phone of the ward writes it, by the phone's own actor.
fn report_of(ward: UnitId) -> (DocId, AutoCommit, DeviceId) {
    let phone = DeviceId::from_bytes([0x9e; 16]);
    let id = DocId::from_bytes([0x11; 16]);
    let report = Report {
        header: Header::new(id, DocKind::Report, ward, Vec::new()),
        title: "Báo cáo kết quả vận động quỹ Vì người nghèo".into(),
        kind: ReportKind::Thematic,
        period: None,
        directive: None,
        task_ordinal: None,
        sections: vec![Section {
            key: "ket_qua".into(),
            heading: "Kết quả thực hiện".into(),
            body: autosurgeon::Text::with_value("Phường Xuân Hòa đã tiếp nhận gần 850 triệu đồng."),
            edited_concurrently: false,
        }],
        figures: Vec::new(),
        submitted_at_device: None,
        attachments: Vec::new(),
        submitted_by: String::new(),
        due: None,
    };
    let mut doc = AutoCommit::new().with_actor(phone.actor_id());
    autosurgeon::reconcile(&mut doc, &report).unwrap();
    doc.commit();
    (id, doc, phone)
}

fn changes_since(doc: &mut AutoCommit, since: &[automerge::ChangeHash]) -> Vec<Vec<u8>> {
    doc.get_changes(since).into_iter().map(|c| c.raw_bytes().to_vec()).collect()
}

fn push(
    store: &RelayStore,
    device: DeviceId,
    unit: UnitId,
    doc: DocId,
    changes: Vec<Vec<u8>>,
) -> PushOutcome {
    store
        .writer()
        .run_blocking(move |ctx| {
            writer_push(ctx, device, unit, vec![DocChanges { doc, changes, vouchers: vec![] }])
        })
        .unwrap()
}

/// Edits the report's title as `device` would, returning the change.
fn edit_title(doc: &mut AutoCommit, title: &str) -> Vec<Vec<u8>> {
    let before = doc.get_heads();
    doc.put(ROOT, "title", title).unwrap();
    doc.commit();
    changes_since(doc, &before)
}

/// A relay with the units of the reference data and a ward's report pushed by its phone:
/// (folder, store, ward, report id, the report as pushed, the phone).
fn relay_with_report() -> (tempfile::TempDir, RelayStore, UnitId, DocId, AutoCommit, DeviceId) {
    let dir = tempfile::tempdir().unwrap();
    let store = RelayStore::open(&dir.path().join("relay")).unwrap();
    let org = store.create_units_from_reference("Đồng Nai").unwrap();
    let ward = org.units[1].id;
    let (id, mut base, phone) = report_of(ward);
    let out = push(&store, phone, ward, id, changes_since(&mut base, &[]));
    assert_eq!(out.acks.len(), 1, "{out:?}");
    (dir, store, ward, id, base, phone)
}

fn sorted(heads: &[[u8; 32]]) -> Vec<[u8; 32]> {
    let mut out = heads.to_vec();
    out.sort();
    out
}

/// The heads of `a` and `b` merged, sorted.
fn merged_heads(a: &mut AutoCommit, b: &mut AutoCommit) -> Vec<[u8; 32]> {
    let mut merged = a.fork();
    merged.merge(&mut b.fork()).unwrap();
    let heads: Vec<[u8; 32]> = merged.get_heads().iter().map(|h| h.0).collect();
    sorted(&heads)
}

#[test]
fn two_pushes_to_one_document_in_one_batch_each_build_on_the_other() {
    let (_dir, store, ward, id, mut base, _phone) = relay_with_report();

    // Two more phones of the ward, each with the report as the relay has it.
    let (a, b) = (DeviceId::from_bytes([0xa1; 16]), DeviceId::from_bytes([0xb2; 16]));
    let mut doc_a = base.fork().with_actor(a.actor_id());
    let mut doc_b = base.fork().with_actor(b.actor_id());
    let change_a = edit_title(&mut doc_a, "Báo cáo của đ/c Lan");
    let change_b = edit_title(&mut doc_b, "Báo cáo của đ/c Hùng");

    // Hold the writer so both pushes wait and are committed in one batch.
    let held = store.writer().submit(|_ctx| {
        std::thread::sleep(Duration::from_millis(300));
        Ok(())
    });
    std::thread::sleep(Duration::from_millis(50));
    let first = store.writer().submit(move |ctx| {
        writer_push(ctx, a, ward, vec![DocChanges { doc: id, changes: change_a, vouchers: vec![] }])
    });
    let second = store.writer().submit(move |ctx| {
        writer_push(ctx, b, ward, vec![DocChanges { doc: id, changes: change_b, vouchers: vec![] }])
    });
    held.blocking_recv().unwrap().unwrap();
    let first = first.blocking_recv().unwrap().unwrap();
    let second = second.blocking_recv().unwrap().unwrap();
    assert_eq!((first.acks.len(), second.acks.len()), (1, 1), "{first:?} {second:?}");
    assert_eq!(
        sorted(&second.acks[0].heads),
        merged_heads(&mut doc_a, &mut doc_b),
        "the second push was checked against the report without the first"
    );

    // Each phone goes on from its own edit; the relay holds both and asks for nothing.
    let next_a = edit_title(&mut doc_a, "Báo cáo của đ/c Lan (sửa)");
    let out = push(&store, a, ward, id, next_a);
    assert!(out.wanted.is_empty() && out.rejects.is_empty() && out.acks.len() == 1, "{out:?}");
    let next_b = edit_title(&mut doc_b, "Báo cáo của đ/c Hùng (sửa)");
    let out = push(&store, b, ward, id, next_b);
    assert!(out.wanted.is_empty() && out.rejects.is_empty() && out.acks.len() == 1, "{out:?}");
}

#[test]
fn a_long_history_is_loaded_from_its_compacted_copy_and_a_damaged_copy_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let (ward, id, mut doc, device) = {
        let store = RelayStore::open(&data).unwrap();
        let org = store.create_units_from_reference("Đồng Nai").unwrap();
        let ward = org.units[1].id;
        let (id, mut base, phone) = report_of(ward);
        push(&store, phone, ward, id, changes_since(&mut base, &[]));
        let device = DeviceId::from_bytes([0xc3; 16]);
        let mut doc = base.fork().with_actor(device.actor_id());
        // Two hundred edits, one push each.
        for i in 0..200 {
            let out =
                push(&store, device, ward, id, edit_title(&mut doc, &format!("Báo cáo lần sửa thứ {i}")));
            assert_eq!(out.acks.len(), 1, "{out:?}");
        }
        (ward, id, doc, device)
    };
    // After a restart the writer loads the report from the database: the copy is written then.
    let copies = |data: &std::path::Path| -> Vec<(i64, i64)> {
        let c = rusqlite::Connection::open(data.join("relay.sqlite")).unwrap();
        let mut stmt = c.prepare("SELECT upto, length(bytes) FROM doc_snapshots").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap()
    };
    {
        let store = RelayStore::open(&data).unwrap();
        let out = push(&store, device, ward, id, edit_title(&mut doc, "Báo cáo sau khi khởi động lại"));
        assert_eq!(out.acks.len(), 1, "{out:?}");
    }
    let written = copies(&data);
    assert_eq!(written.len(), 1, "one compacted copy, of the report: {written:?}");
    // Damage it: the writer must not trust it, and must store the next push whole.
    {
        let c = rusqlite::Connection::open(data.join("relay.sqlite")).unwrap();
        c.execute("UPDATE doc_snapshots SET bytes = X'856f4a83deadbeef'", []).unwrap();
    }
    {
        let store = RelayStore::open(&data).unwrap();
        let out = push(&store, device, ward, id, edit_title(&mut doc, "Báo cáo sau khi bản sao hỏng"));
        assert_eq!(out.acks.len(), 1, "{out:?}");
        assert_eq!(
            out.acks[0].heads,
            doc.get_heads().iter().map(|h| h.0).collect::<Vec<_>>(),
            "the relay's report is the phone's"
        );
    }
    let rebuilt = copies(&data);
    assert_eq!(rebuilt.len(), 1);
    assert!(rebuilt[0].1 > 8, "the damaged copy was written anew");
    // And a copy written after the damage loads: one more restart, one more edit, in full.
    let store = RelayStore::open(&data).unwrap();
    let out = push(&store, device, ward, id, edit_title(&mut doc, "Báo cáo hoàn chỉnh"));
    assert_eq!(out.acks.len(), 1, "{out:?}");
    let title = doc.get(ROOT, "title").unwrap().unwrap().0.into_string().unwrap();
    assert_eq!(title, "Báo cáo hoàn chỉnh");
}

#[test]
fn a_push_checked_against_a_copy_made_old_meanwhile_is_checked_again() {
    let (_dir, store, ward, id, mut base, phone) = relay_with_report();
    // A second push puts the committed report in the writer's memory, where prechecks look.
    let mut doc = base.fork().with_actor(phone.actor_id());
    let out = push(&store, phone, ward, id, edit_title(&mut doc, "Báo cáo quý IV/2025"));
    assert_eq!(out.acks.len(), 1, "{out:?}");

    let (a, b) = (DeviceId::from_bytes([0xa1; 16]), DeviceId::from_bytes([0xb2; 16]));
    let mut doc_a = doc.fork().with_actor(a.actor_id());
    let mut doc_b = doc.fork().with_actor(b.actor_id());
    let change_a = edit_title(&mut doc_a, "Báo cáo của đ/c Lan");
    let change_b = edit_title(&mut doc_b, "Báo cáo của đ/c Hùng");
    // Phone A's push is checked against the copy in memory; before its turn, phone B's push
    // is stored.
    let pre = store.writer().prechecker().precheck(
        a,
        ward,
        vec![DocChanges { doc: id, changes: change_a, vouchers: vec![] }],
    );
    let out = push(&store, b, ward, id, change_b);
    assert_eq!(out.acks.len(), 1, "{out:?}");
    let out = store.writer().run_blocking(move |ctx| push_prechecked(ctx, pre)).unwrap();
    assert!(out.rejects.is_empty() && out.wanted.is_empty() && out.acks.len() == 1, "{out:?}");
    assert_eq!(
        sorted(&out.acks[0].heads),
        merged_heads(&mut doc_a, &mut doc_b),
        "phone A's push was stored on the copy without phone B's change"
    );

    // Both phones go on; the relay asks neither for the report in full.
    for (device, d, title) in [(a, &mut doc_a, "Lan sửa"), (b, &mut doc_b, "Hùng sửa")] {
        let next = edit_title(d, title);
        let pre = store.writer().prechecker().precheck(
            device,
            ward,
            vec![DocChanges { doc: id, changes: next, vouchers: vec![] }],
        );
        let out = store.writer().run_blocking(move |ctx| push_prechecked(ctx, pre)).unwrap();
        assert!(out.wanted.is_empty() && out.rejects.is_empty() && out.acks.len() == 1, "{out:?}");
    }
}

#[test]
fn a_push_checked_early_is_refused_as_the_writer_would() {
    let dir = tempfile::tempdir().unwrap();
    let store = RelayStore::open(&dir.path().join("relay")).unwrap();
    let org = store.create_units_from_reference("Đồng Nai").unwrap();
    let (ward, other) = (org.units[1].id, org.units[2].id);
    let (id, mut base, phone) = report_of(ward);
    push(&store, phone, ward, id, changes_since(&mut base, &[]));
    let mut doc = base.fork().with_actor(phone.actor_id());
    push(&store, phone, ward, id, edit_title(&mut doc, "Báo cáo quý IV/2025"));
    // A phone of another ward, that may neither read nor write the report.
    let stranger = DeviceId::from_bytes([0xc3; 16]);
    let mut theirs = doc.fork().with_actor(stranger.actor_id());
    let change = edit_title(&mut theirs, "Sửa trộm");
    let pre = store.writer().prechecker().precheck(
        stranger,
        other,
        vec![DocChanges { doc: id, changes: change.clone(), vouchers: vec![] }],
    );
    let early = store.writer().run_blocking(move |ctx| push_prechecked(ctx, pre)).unwrap();
    let late = push(&store, stranger, other, id, change);
    assert_eq!(early.acks.len(), 0, "{early:?}");
    assert_eq!(early.rejects, late.rejects, "the answer must not tell whether the report exists");
    assert_eq!(early.wanted, late.wanted);
}
