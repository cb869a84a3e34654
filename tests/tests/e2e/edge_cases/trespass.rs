//! A ward's device playing against other units: taking the ids of their future responses and
//! reviews, learning whether they exist, asking for or listing their documents.

use super::common;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, Change};
use autosurgeon::Text;
use common::{hand_made_report, push_only, report_answering};
use giaoban_client_core::{DeliveryState, TaskFilter, TaskScope};
use giaoban_e2e::{Relay, raw_sync};
use giaoban_protocol::schema::{Header, Response, Review, TaskProgress, TaskState, Verdict};
use giaoban_protocol::wire::{DocChanges, DocHeads, SyncRequest, Witness};
use giaoban_protocol::{DocId, DocKind, Timestamp, UnitId};

/// Ward A knows the directive and ward B's id, so it knows the id B's response will have. It
/// stores a report of its own under that id first: B's response must still reach the province.
#[test]
fn a_ward_cannot_take_the_id_of_another_wards_response() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let (province, a, b) = (relay.org.units[0].id, relay.org.units[1].id, relay.org.units[2].id);
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "Văn phòng");
    let mut dev_a = relay.device(&tmp.path().join("a.sqlite"), 1, "Xã A");
    let mut dev_b = relay.device(&tmp.path().join("b.sqlite"), 2, "Xã B");
    let dir = common::directive(&mut office, vec![a, b]);
    office.sync_now().unwrap();
    dev_a.sync_now().unwrap();
    dev_b.sync_now().unwrap();

    let target = Response::id_for(dir, b);
    let squat = hand_made_report(target, a, vec![], dev_a.device_id().actor_id());
    let resp =
        raw_sync(&dev_a, push_only(vec![DocChanges { doc: target, changes: squat, vouchers: vec![] }]));
    let squatted = resp.acks.iter().any(|k| k.doc == target);

    dev_b.acknowledge_task(dir, 1).unwrap();
    dev_b.sync_now().unwrap();
    let b_state = dev_b.delivery_state(target).unwrap();
    office.sync_now().unwrap();
    let seen = office
        .list_tasks(&TaskFilter { scope: TaskScope::Unit(b), source: Some(dir), ..Default::default() })
        .unwrap();
    let _ = province;
    assert_eq!(
        b_state,
        DeliveryState::OnRelay,
        "ward B's response is refused (squatted: {squatted}): {b_state:?}"
    );
    assert_eq!(seen[0].state, Some(TaskState::Acknowledged), "the province never sees B's answer");
    assert!(!squatted, "the relay stored ward A's report under ward B's response id");
}

/// The reporting ward knows its report's id and the province's id, so it knows the id of the
/// province's review. Taking it first must not stop the province from returning the report.
#[test]
fn a_ward_cannot_take_the_id_of_the_review_of_its_own_report() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let (province, a) = (relay.org.units[0].id, relay.org.units[1].id);
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "Văn phòng");
    let mut dev_a = relay.device(&tmp.path().join("a.sqlite"), 1, "Xã A");
    let dir = common::directive(&mut office, vec![a]);
    office.sync_now().unwrap();
    dev_a.sync_now().unwrap();
    let report = report_answering(&mut dev_a, dir);
    dev_a.submit_report(report).unwrap();
    dev_a.sync_now().unwrap();

    let target = Review::id_for(report, province);
    let squat = hand_made_report(target, a, vec![], dev_a.device_id().actor_id());
    let resp =
        raw_sync(&dev_a, push_only(vec![DocChanges { doc: target, changes: squat, vouchers: vec![] }]));
    let squatted = resp.acks.iter().any(|k| k.doc == target);

    office.sync_now().unwrap();
    let reviewed = office.review_report(report, Verdict::Returned, "Thiếu số liệu quý IV");
    let _ = office.sync_now();
    dev_a.sync_now().unwrap();
    let verdict =
        dev_a.review_of(report, province).ok().flatten().and_then(|r| r.latest().map(|l| l.verdict));
    assert!(reviewed.is_ok(), "the province cannot review the report (squatted: {squatted}): {reviewed:?}");
    assert_eq!(
        verdict,
        Some(Verdict::Returned),
        "the ward never learns its report was returned (squatted: {squatted})"
    );
    assert!(!squatted, "the relay stored the ward's report under the province's review id");
}

/// The first change of ward B's response is deterministic, so ward A can write a change on top
/// of it and push only that. Whether the relay answers "wanted" (it lacks the response) or
/// refuses it (it has it) must not depend on whether B has started answering.
#[test]
fn a_push_does_not_tell_whether_another_wards_response_exists() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let (province, a, b) = (relay.org.units[0].id, relay.org.units[1].id, relay.org.units[2].id);
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "Văn phòng");
    let mut dev_a = relay.device(&tmp.path().join("a.sqlite"), 1, "Xã A");
    let mut dev_b = relay.device(&tmp.path().join("b.sqlite"), 2, "Xã B");
    let dir = common::directive(&mut office, vec![a, b]);
    office.sync_now().unwrap();
    dev_a.sync_now().unwrap();
    dev_b.sync_now().unwrap();

    // Ward A computes B's genesis, as B's devices write it.
    let target = Response::id_for(dir, b);
    let genesis = Response {
        header: Header::new(target, DocKind::Response, b, vec![province]),
        directive: dir,
        tasks: vec![TaskProgress {
            ordinal: 1,
            state: TaskState::Received,
            note: Text::with_value(""),
            report: None,
            updated_at_device: Timestamp(0),
            submissions: 0,
        }],
    };
    let mut doc = AutoCommit::new().with_actor(automerge::ActorId::from(target.to_bytes().as_slice()));
    autosurgeon::reconcile(&mut doc, &genesis).unwrap();
    doc.commit_with(CommitOptions::default().with_time(0));
    let genesis_hash = doc.get_heads()[0];
    doc.set_actor(dev_a.device_id().actor_id());
    doc.put(automerge::ROOT, "probe", 1).unwrap();
    doc.commit();
    let probe: Change = doc.get_changes(&[genesis_hash]).into_iter().next().unwrap().clone();
    let ask = |s: &giaoban_client_core::Store| {
        let resp = raw_sync(
            s,
            push_only(vec![DocChanges {
                doc: target,
                changes: vec![probe.raw_bytes().to_vec()],
                vouchers: vec![],
            }]),
        );
        (resp.wanted.contains(&target), resp.rejects.iter().find(|r| r.doc == target).map(|r| r.code))
    };
    let before = ask(&dev_a);
    dev_b.acknowledge_task(dir, 1).unwrap();
    dev_b.sync_now().unwrap();
    // Sanity: A's computed genesis is B's.
    let mut b_doc = AutoCommit::load(&dev_b.save_document(target).unwrap()).unwrap();
    assert!(b_doc.get_change_by_hash(&genesis_hash).is_some(), "the computed genesis is not B's");
    let after = ask(&dev_a);
    assert_eq!(
        before, after,
        "ward A learns that ward B has started answering (before {before:?}, after {after:?})"
    );
}

/// Held: asking for another ward's document whole, or listing it, tells nothing.
#[test]
fn refetch_and_listing_of_another_wards_document_tell_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let province = relay.org.units[0].id;
    let dev_a = relay.device(&tmp.path().join("a.sqlite"), 1, "Xã A");
    let mut dev_b = relay.device(&tmp.path().join("b.sqlite"), 2, "Xã B");
    let secret = common::report(&mut dev_b, vec![province], "Bí mật");
    dev_b.sync_now().unwrap();
    let heads: Vec<[u8; 32]> = dev_b.heads(secret).unwrap().iter().map(|h| h.0).collect();
    let unknown = DocId::from_bytes([0x42; 16]);
    let ask = |doc: DocId, heads: Vec<[u8; 32]>| {
        let r = raw_sync(
            &dev_a,
            SyncRequest {
                epoch: Some(relay.store.epoch().unwrap()),
                cursor: 0,
                witness: Witness::default(),
                own_held: 0,
                push: vec![],
                page_bytes: 4096,
                have: vec![DocHeads { doc, heads }],
                refetch: vec![doc],
            },
        );
        (r.changes.iter().any(|c| c.doc == doc), r.wanted == vec![doc], r.cursor, r.witness.pos)
    };
    let of_secret = ask(secret, heads.clone());
    let of_unknown = ask(unknown, heads);
    assert!(!of_secret.0, "the secret was sent");
    assert_eq!(of_secret, of_unknown);
    let _: UnitId = province;
}
