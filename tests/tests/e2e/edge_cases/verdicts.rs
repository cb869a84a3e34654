//! A ward giving its own report a verdict.

use super::common;

use automerge::AutoCommit;
use common::{push_only, report_answering};
use giaoban_client_core::{TaskFilter, TaskScope};
use giaoban_e2e::{Relay, raw_sync};
use giaoban_protocol::schema::{Header, Review, ReviewRound, Verdict};
use giaoban_protocol::wire::DocChanges;
use giaoban_protocol::{DocKind, Timestamp};

/// A ward writes a "review" of its own report (its id is derived from the report and the
/// ward, which is valid) saying "accepted". The province returned the report: the province's
/// tracking view must still say returned.
#[test]
fn a_ward_cannot_accept_its_own_report() {
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
    office.sync_now().unwrap();
    office.review_report(report, Verdict::Returned, "Thiếu số liệu quý IV").unwrap();
    office.sync_now().unwrap();
    dev_a.sync_now().unwrap();

    let fake_id = Review::id_for(report, a);
    let fake = Review {
        header: Header::new(fake_id, DocKind::Review, a, vec![province]),
        report,
        rounds: vec![ReviewRound {
            verdict: Verdict::Accepted,
            note: String::new(),
            at_device: Timestamp(0),
            submission: 1,
            figures_seen: String::new(),
        }],
    };
    let mut doc = AutoCommit::new().with_actor(dev_a.device_id().actor_id());
    autosurgeon::reconcile(&mut doc, &fake).unwrap();
    doc.commit();
    let changes = doc.get_changes(&[]).into_iter().map(|c| c.raw_bytes().to_vec()).collect();
    let resp = raw_sync(&dev_a, push_only(vec![DocChanges { doc: fake_id, changes, vouchers: vec![] }]));
    let stored = resp.acks.iter().any(|k| k.doc == fake_id);
    office.sync_now().unwrap();
    let seen = office
        .list_tasks(&TaskFilter { scope: TaskScope::Unit(a), source: Some(dir), ..Default::default() })
        .unwrap();
    let verdict = seen[0].review.as_ref().map(|(v, _)| *v);
    assert_eq!(
        verdict,
        Some(Verdict::Returned),
        "the province's own view shows the ward's self-review (stored by the relay: {stored})"
    );
}
