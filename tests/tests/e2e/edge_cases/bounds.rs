//! Requests a well-behaved device never sends: huge listings, thousands of documents in one
//! push, position claims that are not true.

use super::common;

use std::time::{Duration, Instant};

use giaoban_client_core::{CoreError, RelayClient, Store};
use giaoban_e2e::{Relay, raw_sync};
use giaoban_protocol::DocId;
use giaoban_protocol::wire::{
    self, DocChanges, DocHeads, HAVE_PAGE_DOCS, RelayMessage, SyncRequest, SyncResponse, Witness,
};

fn send(store: &Store, req: SyncRequest) -> Result<SyncResponse, CoreError> {
    let (url, token) = store.relay().unwrap().unwrap();
    let frame = wire::encode(&wire::DeviceMessage::Sync(req));
    let body = RelayClient::new(&url).with_token(&token).sync(&frame)?;
    let RelayMessage::Sync(resp) = wire::decode(&body).unwrap();
    Ok(resp)
}

/// A listing of 300,000 documents in one request (a device lists at most 2,000): the relay must
/// refuse it or answer about at most a page of it, not look up and answer every one.
#[test]
fn a_huge_listing_is_refused_or_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let dev = relay.device(&tmp.path().join("a.sqlite"), 1, "Xã A");
    let have: Vec<DocHeads> = (0..300_000u32)
        .map(|i| {
            let mut b: [u8; 16] = rand::random();
            b[..4].copy_from_slice(&i.to_le_bytes());
            DocHeads { doc: DocId::from_bytes(b), heads: vec![] }
        })
        .collect();
    let req = SyncRequest {
        epoch: Some(relay.store.epoch().unwrap()),
        cursor: 0,
        witness: Witness::default(),
        own_held: 0,
        push: vec![],
        page_bytes: 4096,
        have,
        refetch: vec![],
    };
    let started = Instant::now();
    let answer = send(&dev, req);
    let took = started.elapsed();
    match answer {
        Err(CoreError::TooLarge(_)) => {}
        Err(e) => panic!("unexpected: {e}"),
        Ok(resp) => {
            let bytes = wire::encode(&RelayMessage::Sync(resp.clone())).len();
            assert!(
                resp.wanted.len() <= HAVE_PAGE_DOCS,
                "the relay looked up and answered {} listed documents ({bytes} bytes, {took:?})",
                resp.wanted.len()
            );
        }
    }
}

/// One device pushes 12,000 tiny documents in one request (a device pushes about 1 MiB at a
/// time). Meanwhile a colleague in another ward syncs one small edit: the single writer must
/// not be held for long by one request.
#[test]
fn one_huge_push_does_not_stall_everyone_else() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let ward = relay.org.units[1].id;
    let province = relay.org.units[0].id;
    let flood = relay.device(&tmp.path().join("flood.sqlite"), 1, "Xã A");
    let mut other = relay.device(&tmp.path().join("b.sqlite"), 2, "Xã B");
    other.sync_now().unwrap();
    let actor = flood.device_id().actor_id();
    let push: Vec<DocChanges> = (0..12_000u64)
        .map(|i| {
            let id = DocId::from_parts(1_767_600_000_000 + i, rand::random());
            DocChanges {
                doc: id,
                changes: common::hand_made_report(id, ward, vec![], actor.clone()),
                vouchers: vec![],
            }
        })
        .collect();
    let bytes: usize = push.iter().flat_map(|d| d.changes.iter()).map(Vec::len).sum();
    let frame = wire::encode(&wire::DeviceMessage::Sync(common::push_only(push)));
    eprintln!("flood: {bytes} change bytes, frame {} bytes", frame.len());
    let (url, token) = flood.relay().unwrap().unwrap();
    let flooder = std::thread::spawn(move || {
        let started = Instant::now();
        let r = RelayClient::new(&url).with_token(&token).sync(&frame);
        (r.map(|_| ()), started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    common::report(&mut other, vec![province], "Một dòng.");
    let started = Instant::now();
    other.sync_now().unwrap();
    let waited = started.elapsed();
    let (flood_result, flood_took) = flooder.join().unwrap();
    eprintln!("flood answered {flood_result:?} after {flood_took:?}; the small sync took {waited:?}");
    assert!(
        flood_result.is_err() || waited < Duration::from_secs(2),
        "a one-line sync waited {waited:?} behind one device's push of 12,000 documents"
    );
}

/// Held: claiming to hold far more of its own changes than it wrote, or far less, gives a
/// device only its own changes (or none of them); other devices' changes all arrive.
#[test]
fn own_held_claims_only_concern_the_device_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let province = relay.org.units[0].id;
    let mut d1 = relay.device(&tmp.path().join("d1.sqlite"), 1, "Máy 1");
    let mut d2 = relay.device(&tmp.path().join("d2.sqlite"), 1, "Máy 2");
    let mine = common::report(&mut d1, vec![province], "Của máy 1");
    d1.sync_now().unwrap();
    let theirs = common::report(&mut d2, vec![province], "Của máy 2");
    d2.sync_now().unwrap();
    let epoch = relay.store.epoch().unwrap();
    for own_held in [i64::MAX as u64, 0] {
        let resp = raw_sync(
            &d1,
            SyncRequest {
                epoch: Some(epoch),
                cursor: 0,
                witness: Witness::default(),
                own_held,
                push: vec![],
                page_bytes: 4 * 1024 * 1024,
                have: vec![],
                refetch: vec![],
            },
        );
        let docs: Vec<DocId> = resp.changes.iter().map(|c| c.doc).collect();
        assert!(docs.contains(&theirs), "own_held {own_held}: another device's report is missing");
        assert_eq!(docs.contains(&mine), own_held == 0, "own_held {own_held}");
    }
}
