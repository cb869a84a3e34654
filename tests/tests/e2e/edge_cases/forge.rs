//! A device writing in a colleague's name.

use super::common;

use common::{hand_made_report, push_only};
use giaoban_e2e::{Relay, raw_sync};
use giaoban_protocol::DocId;
use giaoban_protocol::wire::DocChanges;

/// Devices of one ward: device 1 makes a document whose id is device 2's id, so the "genesis
/// actor" of that document is device 2's actor, and writes its first change as device 2.
#[test]
fn a_device_cannot_write_a_change_in_a_colleagues_name_through_the_genesis_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let (province, a) = (relay.org.units[0].id, relay.org.units[1].id);
    let dev1 = relay.device(&tmp.path().join("a1.sqlite"), 1, "Máy 1");
    let dev2 = relay.device(&tmp.path().join("a2.sqlite"), 1, "Máy 2");
    let victim = dev2.device_id();
    let id = DocId::from_bytes(victim.to_bytes());
    let forged = hand_made_report(id, a, vec![province], victim.actor_id());
    let resp = raw_sync(&dev1, push_only(vec![DocChanges { doc: id, changes: forged, vouchers: vec![] }]));
    assert!(
        !resp.acks.iter().any(|k| k.doc == id),
        "the relay stored a change written in device 2's name by device 1"
    );
}

/// Held: after a restore, a colleague carries device 1's finished task back with the relay's
/// seal; with the time moved a day earlier, or with the seal of another document, the seal
/// does not verify and the change (not the colleague's own) is refused.
#[test]
fn a_voucher_with_another_time_or_for_another_document_carries_nothing() {
    use giaoban_protocol::schema::Response;
    use giaoban_protocol::wire::{RejectCode, SyncRequest, Voucher, Witness};
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let ward = relay.org.units[1].id;
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "Văn phòng");
    let mut d1 = relay.device(&tmp.path().join("d1.sqlite"), 1, "Máy 1");
    let d2 = relay.device(&tmp.path().join("d2.sqlite"), 1, "Máy 2");
    let dir = common::directive(&mut office, vec![ward]);
    let other = common::directive(&mut office, vec![ward]);
    office.sync_now().unwrap();
    d1.sync_now().unwrap();
    let backup = tmp.path().join("b.sqlite");
    relay.backup(&backup);
    d1.mark_task_not_applicable(dir, 1, "Không có mô hình").unwrap();
    d1.acknowledge_task(other, 1).unwrap();
    d1.sync_now().unwrap();
    let pull = |s: &giaoban_client_core::Store| {
        raw_sync(
            s,
            SyncRequest {
                epoch: None,
                cursor: 0,
                witness: Witness::default(),
                own_held: 0,
                push: vec![],
                page_bytes: 4 * 1024 * 1024,
                have: vec![],
                refetch: vec![],
            },
        )
    };
    let seen = pull(&d2);
    let r = Response::id_for(dir, ward);
    let r_other = Response::id_for(other, ward);
    let rc = seen.changes.iter().find(|c| c.doc == r).unwrap().clone();
    let rc_other = seen.changes.iter().find(|c| c.doc == r_other).unwrap().clone();
    let relay = relay.restore(&backup);
    let vouchers = |rc: &giaoban_protocol::wire::RelayChanges, shift: i64| -> Vec<Voucher> {
        rc.changes
            .iter()
            .zip(&rc.meta)
            .map(|(c, m)| Voucher {
                hash: automerge::Change::from_bytes(c.clone()).unwrap().hash().0,
                received_at: m.received_at + shift,
                seal: m.seal.unwrap(),
            })
            .collect()
    };
    // The other document's seals, claimed for this one's changes (same hashes are impossible,
    // so the seals are moved over one by one).
    let borrowed: Vec<Voucher> = vouchers(&rc, 0)
        .into_iter()
        .zip(vouchers(&rc_other, 0))
        .map(|(mine, theirs)| Voucher { seal: theirs.seal, received_at: theirs.received_at, ..mine })
        .collect();
    for (what, vs) in [("a day earlier", vouchers(&rc, -86_400_000)), ("another document's seals", borrowed)]
    {
        let resp =
            raw_sync(&d2, push_only(vec![DocChanges { doc: r, changes: rc.changes.clone(), vouchers: vs }]));
        assert!(
            resp.rejects.iter().any(|x| x.doc == r && x.code == RejectCode::ForeignActor),
            "{what}: {resp:?}"
        );
    }
    let resp = raw_sync(
        &d2,
        push_only(vec![DocChanges { doc: r, changes: rc.changes.clone(), vouchers: vouchers(&rc, 0) }]),
    );
    assert!(resp.acks.iter().any(|a| a.doc == r), "the true seals carry it: {resp:?}");
    let _ = relay;
}
