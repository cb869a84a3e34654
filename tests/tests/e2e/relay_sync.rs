//! A real relay on 127.0.0.1:0, a city device and ward devices, each on its own SQLite file:
//! the seed dispatch 305/MTTQ-BTT end to end through the sync protocol.

use chrono::{Duration, Utc};
use giaoban_client_core::demo::dispatch_305;
use giaoban_client_core::protocol::schema::{
    FigureScope, MeasureUnit, Qualifier, Report, ReportKind, Response, TaskState, Verdict,
};
use giaoban_client_core::protocol::wire::{
    self, DeviceMessage, DocChanges, RejectCode, SyncRequest, SyncResponse,
};
use giaoban_client_core::protocol::{DeadlineStanding, DocId, DocKind};
use giaoban_client_core::{
    CoreError, DeliveryState, FigureInput, NewReport, NewSection, Store, TaskFilter, TaskScope,
};
use giaoban_e2e::{Relay, raw_sync};

/// dd/mm/yyyy in Vietnam, `days` from today.
fn local_date(days: i64) -> String {
    (Utc::now() + Duration::hours(7) + Duration::days(days)).format("%d/%m/%Y").to_string()
}

fn sync(s: &mut Store) {
    s.sync_now().unwrap();
}

fn report_input(directive: DocId, text: &str) -> NewReport {
    NewReport {
        title: "Báo cáo kết quả rà soát các mô hình của Mặt trận".into(),
        kind: ReportKind::Thematic,
        period: "quý I/2022".into(),
        answers: Some((directive, 3)),
        audience: vec![],
        sections: vec![
            NewSection { key: "ket_qua".into(), heading: "Kết quả".into(), body: text.into() },
            NewSection {
                key: "kien_nghi".into(), heading: "Đề xuất, kiến nghị".into(), body: String::new()
            },
        ],
    }
}

/// Pushes `changes` for `doc` as the device of `store`, bypassing the store's own checks.
fn raw_push(store: &Store, doc: DocId, changes: Vec<Vec<u8>>) -> SyncResponse {
    raw_sync(
        store,
        SyncRequest {
            epoch: None,
            cursor: 0,
            witness: Default::default(),
            own_held: 0,
            push: vec![DocChanges { doc, changes, vouchers: vec![] }],
            page_bytes: 4096,
            have: vec![],
            refetch: vec![],
        },
    )
}

/// A change to `doc` made with `store`'s device actor, whatever the local rules say.
fn forged_edit(store: &mut Store, doc: DocId, edit: impl FnOnce(&mut automerge::AutoCommit)) -> Vec<Vec<u8>> {
    let mut d = automerge::AutoCommit::load(&store.save_document(doc).unwrap()).unwrap();
    d.set_actor(store.device_id().actor_id());
    let before = d.get_heads();
    edit(&mut d);
    d.commit();
    d.get_changes(&before).into_iter().map(|c| c.raw_bytes().to_vec()).collect()
}

#[test]
fn dispatch_305_through_the_relay() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let dev = |name: &str, unit: usize| relay.device(&dir.path().join(format!("{name}.sqlite")), unit, name);
    let mut city = dev("thanh-pho", 0);
    let mut w0a = dev("phuong0-lan", 1);
    let mut w0b = dev("phuong0-duc", 1);
    let mut w1 = dev("xa1", 2);
    let mut w2 = dev("xa2", 3);
    let wards: Vec<_> = relay.org.units[1..4].iter().map(|u| u.id).collect();

    // The city issues the dispatch; the report is due in 30 days.
    let directive =
        city.issue_directive(dispatch_305(wards.clone(), &local_date(30), &local_date(33))).unwrap();
    assert_eq!(city.delivery_state(directive).unwrap(), DeliveryState::OnlyOnDevice);
    let r = city.sync_now().unwrap();
    assert_eq!(r.acked, 1);
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    assert_eq!(city.delivery_state(directive).unwrap(), DeliveryState::OnRelay);
    assert_eq!(city.pending_changes_count().unwrap(), 0);

    // Every ward device receives it (and the unit directory) and sees its four tasks.
    for s in [&mut w0a, &mut w0b, &mut w1, &mut w2] {
        sync(s);
        assert_eq!(s.list_tasks(&TaskFilter::default()).unwrap().len(), 4);
        assert!(s.unit_directory().is_ok());
    }

    // Ward 0: device A writes the report and syncs; device B gets it; both edit the same
    // section offline.
    let report = w0a.create_report(report_input(directive, "Rà soát 12 mô hình.")).unwrap();
    w0a.set_report_figure(
        report,
        FigureInput {
            indicator: "ung_ho_thien_tai_vnd".into(),
            amount: "gần 850 triệu đồng".into(),
            unit: MeasureUnit::Vnd,
            scope: FigureScope::Cumulative,
            note: String::new(),
            since: String::new(),
        },
    )
    .unwrap();
    sync(&mut w0a);
    sync(&mut w0b);
    let len = w0a.report(report).unwrap().sections[0].body.as_str().chars().count();
    w0a.splice_report_section(report, "ket_qua", len, 0, " Nhân rộng 3 mô hình hiệu quả.").unwrap();
    w0b.splice_report_section(report, "ket_qua", 0, 0, "Tháng 1: ").unwrap();
    w0b.acknowledge_task(directive, 1).unwrap();
    w0a.mark_task_not_applicable(directive, 4, "Không phát sinh.").unwrap();

    // Shuffled orders and repeated exchanges.
    for order in [[0usize, 1, 0, 1], [1, 0, 1, 1], [0, 0, 1, 0]] {
        for i in order {
            if i == 0 { sync(&mut w0a) } else { sync(&mut w0b) }
        }
    }
    let ra: Report = w0a.report(report).unwrap();
    let rb: Report = w0b.report(report).unwrap();
    assert_eq!(ra, rb);
    assert_eq!(ra.sections[0].body.as_str(), "Tháng 1: Rà soát 12 mô hình. Nhân rộng 3 mô hình hiệu quả.");
    let resp_a = w0a.response(directive).unwrap();
    assert_eq!(resp_a, w0b.response(directive).unwrap());
    assert_eq!(resp_a.task(1).unwrap().state, TaskState::Acknowledged);
    assert_eq!(resp_a.task(4).unwrap().state, TaskState::NotApplicable);

    w0b.submit_report(report).unwrap();
    sync(&mut w0b);
    sync(&mut w0a);
    sync(&mut city);

    // The city sees each ward's state and figures, with the relay's receipt time.
    let board = city.list_tasks(&TaskFilter { scope: TaskScope::IssuedByMe, ..Default::default() }).unwrap();
    assert_eq!(board.len(), 12);
    let t3w0 = board.iter().find(|t| t.assignee == wards[0] && t.ordinal == 3).unwrap();
    assert_eq!(t3w0.state, Some(TaskState::Submitted));
    assert!(t3w0.received_at.is_some(), "the relay's receipt time reached the city");
    assert_eq!(t3w0.standing, Some(DeadlineStanding::DoneOnTime));
    let fig = city.report(report).unwrap().figures[0].clone();
    assert_eq!((fig.value, fig.qualifier), (850_000_000, Qualifier::Under));
    assert!(board.iter().filter(|t| t.assignee == wards[1]).all(|t| t.state.is_none()));

    // The city returns the report; both ward devices see the verdict.
    city.review_report(report, Verdict::Returned, "Bổ sung số liệu mô hình giải thể.").unwrap();
    sync(&mut city);
    sync(&mut w0a);
    let t3 = w0a.list_tasks(&TaskFilter::default()).unwrap().into_iter().find(|t| t.ordinal == 3).unwrap();
    assert_eq!(t3.review.map(|r| r.0), Some(Verdict::Returned));

    // A ward writing the directive: refused, nothing stored.
    let forged = forged_edit(&mut w1, directive, |d| {
        automerge::transaction::Transactable::put(d, automerge::ROOT, "subject", "V/v đã bị sửa").unwrap();
    });
    let resp = raw_push(&w1, directive, forged);
    assert_eq!(resp.rejects.len(), 1);
    assert_eq!(resp.rejects[0].code, RejectCode::NotOwner);
    assert!(resp.acks.is_empty());
    // A ward writing another ward's report: refused.
    sync(&mut w2);
    let err = w2.report(report).unwrap_err();
    assert!(matches!(err, CoreError::NotFound { .. }), "ward 2 never receives ward 0's report: {err}");
    let forged = forged_edit(&mut w0a, report, |_| {});
    assert!(forged.is_empty());
    sync(&mut city);
    sync(&mut w2);
    assert_eq!(
        city.directive(directive).unwrap().subject,
        "V/v thực hiện Thông báo số 161-TB/TU ngày 07/01/2022 của BTV Thành ủy"
    );

    // After one more exchange all round, every device holds exactly the relay's version of
    // every document it holds, and the same documents as the other devices of its unit.
    for s in [&mut city, &mut w0a, &mut w0b, &mut w1, &mut w2] {
        sync(s);
    }
    for s in [&mut city, &mut w0a, &mut w0b, &mut w1, &mut w2] {
        for id in s.document_ids(None).unwrap() {
            let mine = s.heads(id).unwrap();
            let have = vec![giaoban_client_core::protocol::wire::DocHeads {
                doc: id,
                heads: mine.iter().map(|h| h.0).collect(),
            }];
            assert!(
                relay.store.wanted(s.unit().unwrap(), &have).unwrap().is_empty(),
                "the relay lacks part of {id}"
            );
            assert_eq!(s.pending_changes_count().unwrap(), 0);
        }
    }
    let docs = |s: &Store| s.document_ids(None).unwrap();
    assert_eq!(docs(&w0a), docs(&w0b));
    for id in docs(&w0a) {
        assert_eq!(w0a.heads(id).unwrap(), w0b.heads(id).unwrap(), "{id} differs between ward 0's devices");
    }
    for id in docs(&w1) {
        assert_eq!(
            w1.heads(id).unwrap(),
            city.heads(id).unwrap(),
            "{id} differs between ward 1 and the city"
        );
    }

    // Ward 1 never receives ward 0's report or response.
    assert!(matches!(w1.report(report).unwrap_err(), CoreError::NotFound { .. }));
    assert!(
        w1.document_ids(Some(DocKind::Response))
            .unwrap()
            .iter()
            .all(|id| *id != Response::id_for(directive, wards[0]))
    );

    // Revoked: the device is refused.
    relay.store.revoke_device(w2.device_id()).unwrap();
    let err = w2.sync_now().unwrap_err();
    assert!(matches!(err, CoreError::Unauthorized(_)), "{err}");
    // Everyone else still syncs.
    sync(&mut w1);
}

#[test]
fn a_late_report_is_late_by_the_relays_clock() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let mut city = relay.device(&dir.path().join("city.sqlite"), 0, "city");
    let mut ward = relay.device(&dir.path().join("ward.sqlite"), 1, "ward");
    let wards = vec![relay.org.units[1].id];
    // Due yesterday, in Vietnam.
    let directive = city.issue_directive(dispatch_305(wards, &local_date(-1), &local_date(2))).unwrap();
    sync(&mut city);
    sync(&mut ward);
    let report = ward.create_report(report_input(directive, "Báo cáo muộn.")).unwrap();
    ward.submit_report(report).unwrap();
    sync(&mut ward);
    sync(&mut city);
    let t = city
        .list_tasks(&TaskFilter { scope: TaskScope::IssuedByMe, ..Default::default() })
        .unwrap()
        .into_iter()
        .find(|t| t.ordinal == 3)
        .unwrap();
    assert_eq!(t.state, Some(TaskState::Submitted));
    assert_eq!(t.standing, Some(DeadlineStanding::DoneLate));
}

#[test]
fn a_flood_from_one_device_is_limited_and_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let config = giaoban_relay::Config {
        data_dir: dir.path().join("relay"),
        max_syncs_per_minute: 5,
        ..giaoban_relay::Config::default()
    };
    let relay = Relay::start_with(&dir.path().join("relay"), config, true);
    let mut flooder = relay.device(&dir.path().join("a.sqlite"), 1, "a");
    let mut other = relay.device(&dir.path().join("b.sqlite"), 2, "b");
    for _ in 0..5 {
        flooder.sync_now().unwrap();
    }
    let err = flooder.sync_now().unwrap_err();
    assert!(matches!(err, CoreError::Network { retryable: true, .. }), "{err}");
    assert!(err.to_string().contains("too many"), "{err}");
    other.sync_now().unwrap();
}

#[test]
fn bad_requests_get_clear_errors_and_the_relay_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let mut city = relay.device(&dir.path().join("city.sqlite"), 0, "city");
    let (url, token) = city.relay().unwrap().unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let post = |body: &[u8], token: Option<&str>| -> (u16, String) {
        let mut req = agent.post(&format!("{url}/v1/sync"));
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let mut resp = req.send(body).unwrap();
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_to_string().unwrap_or_default())
    };
    let good = wire::encode(&DeviceMessage::Sync(SyncRequest {
        epoch: None,
        cursor: 0,
        witness: Default::default(),
        own_held: 0,
        push: vec![],
        page_bytes: 4096,
        have: vec![],
        refetch: vec![],
    }));
    assert_eq!(post(&good, None).0, 401);
    assert_eq!(post(&good, Some("0000-not-a-token")).0, 401);
    let (s, m) = post(b"GB", Some(&token));
    assert_eq!(s, 400);
    assert!(m.contains("truncated"), "{m}");
    let (s, m) = post(b"GB\x07\x00\x00", Some(&token));
    assert_eq!(s, 400);
    assert!(m.contains("version 7"), "{m}");
    let mut truncated = good.clone();
    truncated.truncate(good.len() - 2);
    assert_eq!(post(&truncated, Some(&token)).0, 400);
    // An oversized body is refused with 413 once the relay has read past its limit. It may
    // close the connection while the client is still writing the rest, so the body is written
    // from another thread (whose write may fail) while this one reads the answer.
    {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(relay.addr()).unwrap();
        let mut writer = conn.try_clone().unwrap();
        let (addr, bearer) = (relay.addr(), token.clone());
        let sender = std::thread::spawn(move || {
            let size = 9 * 1024 * 1024;
            let head = format!(
                "POST /v1/sync HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {bearer}\r\nContent-Length: {size}\r\n\r\n"
            );
            let _cut_off =
                writer.write_all(head.as_bytes()).and_then(|()| writer.write_all(&vec![0u8; size]));
        });
        let mut answer = Vec::new();
        let _closed = conn.read_to_end(&mut answer);
        sender.join().unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 413"), "oversized bodies are refused: {answer}");
    }

    // Corrupt Automerge bytes in a push: refused with a reason, nothing stored.
    let resp = raw_push(&city, DocId::from_bytes([5; 16]), vec![vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3]]);
    assert_eq!(resp.rejects[0].code, RejectCode::Corrupt);
    assert_eq!(relay.store.document_count().unwrap(), 1, "only the unit directory");

    // A change signed with another actor than the pushing device's: refused.
    let directive_id = giaoban_client_core::protocol::DocId::from_bytes([6; 16]);
    let mut forged = automerge::AutoCommit::new().with_actor(automerge::ActorId::from([7u8; 16].as_slice()));
    automerge::transaction::Transactable::put(&mut forged, automerge::ROOT, "x", 1).unwrap();
    forged.commit();
    let bytes: Vec<Vec<u8>> = forged.get_changes(&[]).into_iter().map(|c| c.raw_bytes().to_vec()).collect();
    let resp = raw_push(&city, directive_id, bytes);
    assert_eq!(resp.rejects[0].code, RejectCode::ForeignActor);

    // And the relay still serves.
    let directive = city
        .issue_directive(dispatch_305(vec![relay.org.units[1].id], &local_date(5), &local_date(8)))
        .unwrap();
    sync(&mut city);
    assert_eq!(city.delivery_state(directive).unwrap(), DeliveryState::OnRelay);
}

#[test]
fn a_download_of_many_pages_is_not_held_to_the_rate_limit() {
    use giaoban_e2e::workload;
    use rand::SeedableRng;
    let dir = tempfile::tempdir().unwrap();
    let config = giaoban_relay::Config {
        data_dir: dir.path().join("relay"),
        max_syncs_per_minute: 5,
        ..giaoban_relay::Config::default()
    };
    let relay = Relay::start_with(&dir.path().join("relay"), config, true);
    let ward = relay.org.units[1].id;
    let mut office = relay.device(&dir.path().join("office.sqlite"), 0, "văn phòng");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut issued = Vec::new();
    for i in 0..800 {
        issued.push(
            office.issue_directive(workload::directive(&mut rng, 100 + i, vec![ward], "08/02/2030")).unwrap(),
        );
    }
    office.sync_now().unwrap();
    // Far more pages than the limit allows requests in a minute: each page that takes the
    // device further gives its request back.
    let mut phone = relay.device(&dir.path().join("phone.sqlite"), 1, "điện thoại phường");
    let report = phone.sync_now().unwrap();
    assert!(report.round_trips > 6, "only {} round trips: make the download longer", report.round_trips);
    for id in &issued {
        assert!(phone.directive(*id).is_ok());
    }
    // Syncs with nothing new still count.
    let mut refused = false;
    for _ in 0..8 {
        if let Err(e) = phone.sync_now() {
            assert!(e.to_string().contains("too many"), "{e}");
            refused = true;
            break;
        }
    }
    assert!(refused, "no-change syncs were never limited");
}
