//! An enrolled ward device tries every read and write it must not do: other units' documents
//! never reach it, guessed or leaked document ids tell it nothing, and every forged write is
//! refused with a reason while nothing is stored.

use chrono::{Duration, Utc};
use giaoban_client_core::demo::dispatch_305;
use giaoban_client_core::protocol::DocId;
use giaoban_client_core::protocol::schema::ReportKind;
use giaoban_client_core::protocol::wire::{
    DocChanges, DocHeads, Epoch, RejectCode, SyncRequest, SyncResponse, Witness,
};
use giaoban_client_core::{NewReport, NewSection, Store};
use giaoban_e2e::{Relay, raw_sync};

fn exchange(store: &Store, push: Vec<DocChanges>, have: Vec<DocHeads>) -> SyncResponse {
    exchange_at(store, None, Witness::default(), push, have)
}

fn exchange_at(
    store: &Store,
    epoch: Option<Epoch>,
    witness: Witness,
    push: Vec<DocChanges>,
    have: Vec<DocHeads>,
) -> SyncResponse {
    raw_sync(
        store,
        SyncRequest {
            epoch,
            cursor: witness.pos,
            witness,
            own_held: 0,
            push,
            page_bytes: 1 << 20,
            have,
            refetch: vec![],
        },
    )
}

/// `doc` as `owner` holds it, edited by `intruder`'s device actor.
fn forged(owner: &mut Store, intruder: &Store, doc: DocId, key: &str) -> Vec<Vec<u8>> {
    let mut d = automerge::AutoCommit::load(&owner.save_document(doc).unwrap()).unwrap();
    d.set_actor(intruder.device_id().actor_id());
    use automerge::transaction::Transactable;
    d.put(automerge::ROOT, key, "sửa trái phép").unwrap();
    d.commit();
    d.get_changes(&[]).into_iter().map(|c| c.raw_bytes().to_vec()).collect()
}

fn report(title: &str) -> NewReport {
    NewReport {
        title: title.into(),
        kind: ReportKind::Monthly,
        period: "tháng 01/2022".into(),
        answers: None,
        audience: vec![],
        sections: vec![NewSection {
            key: "ket_qua".into(),
            heading: "Kết quả".into(),
            body: "Đã họp dân.".into(),
        }],
    }
}

#[test]
fn a_ward_cannot_read_or_write_what_it_must_not() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let dev = |name: &str, unit: usize| relay.device(&dir.path().join(format!("{name}.sqlite")), unit, name);
    let mut city = dev("tinh", 0);
    let mut a = dev("phuong-a", 1);
    let mut b = dev("phuong-b", 2);
    let due = (Utc::now() + Duration::days(30)).format("%d/%m/%Y").to_string();

    // The city writes to ward A only; ward B reports to the city.
    let to_a = city.issue_directive(dispatch_305(vec![relay.org.units[1].id], &due, &due)).unwrap();
    city.sync_now().unwrap();
    let b_report = b.create_report(report("Báo cáo tháng của phường B")).unwrap();
    b.submit_report(b_report).unwrap();
    b.sync_now().unwrap();
    let a_report = a.create_report(report("Báo cáo tháng của phường A")).unwrap();
    a.sync_now().unwrap();

    // Reads: A gets what is addressed to it and nothing of B's.
    let docs_a = a.document_ids(None).unwrap();
    assert!(docs_a.contains(&to_a));
    assert!(!docs_a.contains(&b_report));
    assert!(b.directive(to_a).is_err(), "ward B must not receive a directive addressed to A only");

    // A guessed or leaked id: claiming to hold B's report, with its real heads, gets the same
    // answer as an id that does not exist, and none of its content.
    let b_heads: Vec<[u8; 32]> = b.heads(b_report).unwrap().iter().map(|h| h.0).collect();
    let nowhere = DocId::from_slice(&[7u8; 16]).unwrap();
    let resp = exchange(
        &a,
        vec![],
        vec![DocHeads { doc: b_report, heads: b_heads.clone() }, DocHeads { doc: nowhere, heads: b_heads }],
    );
    assert_eq!(resp.wanted, vec![b_report, nowhere], "existence must not leak");
    assert!(resp.changes.iter().all(|c| c.doc != b_report), "B's report leaked to A");

    let subject = city.directive(to_a).unwrap().subject;
    let before = relay.store.max_seq().unwrap();
    // Writes: B's report, the city's directive and a forged copy of B's report with A's actor.
    let attempts =
        [(b_report, forged(&mut b, &a, b_report, "title")), (to_a, forged(&mut city, &a, to_a, "subject"))];
    for (doc, changes) in attempts {
        let resp = exchange(&a, vec![DocChanges { doc, changes, vouchers: vec![] }], vec![]);
        assert!(resp.acks.is_empty(), "a forged write to {doc} was acknowledged");
        assert_eq!(resp.rejects.len(), 1);
        let code = resp.rejects[0].code;
        assert!(matches!(code, RejectCode::NotOwner | RejectCode::ForeignActor), "{code:?}");
        assert!(!resp.rejects[0].reason.is_empty());
    }
    // Replaying B's own changes (B's actor, as if stolen) to rewrite A's report id is refused.
    let b_changes = b.unacked_changes(b_report).unwrap();
    let stolen: Vec<Vec<u8>> = if b_changes.is_empty() {
        let bytes = b.save_document(b_report).unwrap();
        automerge::AutoCommit::load(&bytes)
            .unwrap()
            .get_changes(&[])
            .into_iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect()
    } else {
        b_changes
    };
    let resp = exchange(&a, vec![DocChanges { doc: a_report, changes: stolen, vouchers: vec![] }], vec![]);
    assert!(resp.acks.is_empty() && resp.rejects.len() == 1, "{resp:?}");
    assert_eq!(relay.store.max_seq().unwrap(), before, "a refused write was stored");

    // The owners still see their own words.
    city.sync_now().unwrap();
    assert_eq!(city.report(b_report).unwrap().title, "Báo cáo tháng của phường B");
    assert_eq!(city.directive(to_a).unwrap().subject, subject);
    a.sync_now().unwrap();
    assert_eq!(a.directive(to_a).unwrap().subject, subject);
}

#[test]
fn a_device_claiming_history_the_relay_lacks_reconciles_alone() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let mut a = relay.device(&dir.path().join("a.sqlite"), 1, "a");
    let mut b = relay.device(&dir.path().join("b.sqlite"), 2, "b");
    b.create_report(report("Báo cáo tháng của phường B")).unwrap();
    a.sync_now().unwrap();
    b.sync_now().unwrap();
    let e0 = relay.store.epoch().unwrap();
    let top = relay.store.top(a.unit().unwrap()).unwrap();
    assert!(top.pos > 0, "ward A can read the unit directory");

    // Claims the relay cannot back: a position past its log, a real position with another
    // digest. Each is answered from the start, for that device alone, and asked to reconcile.
    let claims = [
        Witness { pos: u64::MAX / 2, digest: [9; 16] },
        Witness { pos: top.pos, digest: [9; 16] },
        Witness { pos: 1, digest: [0; 16] },
    ];
    for claim in claims.into_iter().cycle().take(6) {
        let resp = exchange_at(&a, Some(e0), claim, vec![], vec![]);
        assert!(resp.reconcile, "{claim:?}");
        assert_eq!(resp.epoch, e0, "one device must not change the relay's epoch");
        assert_eq!(resp.witness, top, "the answer shows the relay's own log");
        assert!(!resp.changes.is_empty(), "answered from the start of its log");
    }
    assert_eq!(relay.store.epoch().unwrap(), e0);
    // An honest device goes on as before: one round trip, no reconcile.
    let r = b.sync_now().unwrap();
    assert_eq!(r.round_trips, 1, "an honest device must not reconcile: {r:?}");
    a.sync_now().unwrap();
    assert_eq!(a.pending_changes_count().unwrap(), 0);
}
