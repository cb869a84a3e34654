//! A reconcile of many documents interrupted by a relay restart, with edits during the listing
//! and a colleague reconciling at the same time; a resubmission across a restore.

use super::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use giaoban_client_core::{RelayClient, Store, SyncReport, TaskFilter, TaskScope};
use giaoban_e2e::Relay;
use giaoban_protocol::schema::Verdict;
use giaoban_protocol::session::DeviceSession;
use giaoban_protocol::wire::{self, DeviceMessage, RelayMessage};
use giaoban_relay::store::RelayClock;

/// One round trip of a device's sync, by hand; returns whether another is needed.
fn round_trip(s: &mut Store, session: &mut DeviceSession) -> bool {
    let (req, sent) = s.prepare_sync(session).unwrap();
    let (url, token) = s.relay().unwrap().unwrap();
    let at = s.now();
    let body =
        RelayClient::new(&url).with_token(&token).sync(&wire::encode(&DeviceMessage::Sync(req))).unwrap();
    let RelayMessage::Sync(resp) = wire::decode(&body).unwrap();
    s.apply_sync_response(session, resp, &sent, at, &mut SyncReport::default()).unwrap()
}

/// Held or not: 2,500 reports the relay lost; device 1 starts reconciling (the listing takes
/// two pages), the relay restarts after its first round trip, device 1 edits a listed report
/// and writes a new one, device 2 reconciles in full meanwhile, then device 1 finishes.
#[test]
fn a_reconcile_interrupted_by_a_restart_with_edits_and_a_colleague_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let province = relay.org.units[0].id;
    let mut d1 = relay.device(&tmp.path().join("d1.sqlite"), 1, "Máy 1");
    let mut d2 = relay.device(&tmp.path().join("d2.sqlite"), 1, "Máy 2");
    d1.sync_now().unwrap();
    d2.sync_now().unwrap();
    let backup = tmp.path().join("b.sqlite");
    relay.backup(&backup);
    let ids: Vec<_> =
        (0..2_500).map(|i| common::report(&mut d1, vec![province], &format!("Số {i}"))).collect();
    d1.sync_now().unwrap();
    d2.sync_now().unwrap();
    let relay = relay.restore(&backup);

    let mut session = d1.sync_session().unwrap();
    assert!(round_trip(&mut d1, &mut session), "the reconcile has begun");
    let relay = relay.restart();
    d1.set_report_section_text(ids[0], "ket_qua", "Sửa trong lúc liệt kê").unwrap();
    let late = common::report(&mut d1, vec![province], "Viết trong lúc liệt kê");
    let mut n = 0;
    while round_trip(&mut d1, &mut session) {
        n += 1;
        if n == 1 {
            d2.sync_now().unwrap();
        }
        assert!(n < 1_000, "device 1's sync does not end");
    }
    d1.sync_now().unwrap();
    d2.sync_now().unwrap();
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "Văn phòng");
    office.sync_now().unwrap();
    let missing = ids.iter().filter(|id| office.report(**id).is_err()).count();
    assert_eq!(missing, 0, "{missing} reports never came back");
    assert!(office.report(late).is_ok());
    assert_eq!(office.report(ids[0]).unwrap().sections[0].body.as_str(), "Sửa trong lúc liệt kê");
}

/// Held or not: the province returned the report; the ward resubmits it at T3; the relay is
/// restored from a backup taken before the resubmission. The receipt time stays T3.
#[test]
fn a_resubmission_keeps_its_receipt_time_across_a_restore() {
    let tmp = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicI64::new(1_767_600_000_000));
    let n = now.clone();
    let relay = Relay::start_clocked(
        &tmp.path().join("relay"),
        RelayClock::from_fn(move || n.load(Ordering::SeqCst)),
    );
    let ward = relay.org.units[1].id;
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "Văn phòng");
    let mut d1 = relay.device(&tmp.path().join("d1.sqlite"), 1, "Máy 1");
    let dir = common::directive(&mut office, vec![ward]);
    office.sync_now().unwrap();
    d1.sync_now().unwrap();
    let report = common::report_answering(&mut d1, dir);
    d1.submit_report(report).unwrap();
    d1.sync_now().unwrap();
    office.sync_now().unwrap();
    office.review_report(report, Verdict::Returned, "Thiếu số liệu").unwrap();
    office.sync_now().unwrap();
    d1.sync_now().unwrap();
    let backup = tmp.path().join("b.sqlite");
    relay.backup(&backup);
    let t3 = 1_767_600_000_000 + 5 * 86_400_000;
    now.store(t3, Ordering::SeqCst);
    d1.set_report_section_text(report, "ket_qua", "Đã bổ sung số liệu.").unwrap();
    d1.submit_report(report).unwrap();
    d1.sync_now().unwrap();
    let relay = relay.restore(&backup);
    now.store(t3 + 10 * 86_400_000, Ordering::SeqCst);
    d1.sync_now().unwrap();
    d1.sync_now().unwrap();
    let mut fresh = relay.device(&tmp.path().join("office2.sqlite"), 0, "Văn phòng 2");
    fresh.sync_now().unwrap();
    let seen = fresh
        .list_tasks(&TaskFilter { scope: TaskScope::Unit(ward), source: Some(dir), ..Default::default() })
        .unwrap();
    assert_eq!(seen[0].received_at.map(|t| t.0), Some(t3));
}
