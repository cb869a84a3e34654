//! A sync in two blocking turns (`http.rs`: `first_turn`, `finish_sync`, `read_turn`) and the
//! writer reloading its unit tree only after a batch in which a job called `Ctx::refresh_tree`
//! (`store/writer/mod.rs`): what happens between the turns and inside one batch.
//!
//! The writer is held by a job that sleeps, so that the jobs submitted meanwhile are run in one
//! batch, in the order they were submitted.

use std::time::Duration;

use giaoban_client_core::protocol::schema::ReportKind;
use giaoban_client_core::protocol::wire::{self, DeviceMessage, DocChanges, SyncRequest};
use giaoban_client_core::protocol::{DeviceId, DocId, UnitId};
use giaoban_client_core::{NewReport, NewSection, Store};
use giaoban_e2e::Relay;
use giaoban_relay::store::{Ctx, StoreError, writer_push};
use giaoban_relay::{AppState, Config, RelayStore};
use rusqlite::params;
use tokio::sync::oneshot;

fn report(text: &str) -> NewReport {
    NewReport {
        title: "Báo cáo kết quả rà soát các mô hình dân vận khéo".into(),
        kind: ReportKind::Thematic,
        period: "quý I/2026".into(),
        answers: None,
        audience: vec![],
        sections: vec![NewSection {
            key: "ket_qua".into(), heading: "Kết quả".into(), body: text.into()
        }],
    }
}

/// The units that read `doc` at the relay, read from its database.
fn readers(dir: &std::path::Path, doc: DocId) -> Vec<UnitId> {
    let c = rusqlite::Connection::open(dir.join("relay.sqlite")).unwrap();
    let mut stmt =
        c.prepare("SELECT r.unit FROM readers r JOIN docs d ON d.n = r.doc WHERE d.id = ?1").unwrap();
    stmt.query_map(params![doc.to_bytes().to_vec()], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|u| UnitId::from_slice(&u.unwrap()).unwrap())
        .collect()
}

fn stored(dir: &std::path::Path, doc: DocId) -> bool {
    let c = rusqlite::Connection::open(dir.join("relay.sqlite")).unwrap();
    c.query_row("SELECT COUNT(*) FROM docs WHERE id = ?1", params![doc.to_bytes().to_vec()], |r| {
        r.get::<_, i64>(0)
    })
    .unwrap()
        > 0
}

fn parent_of(dir: &std::path::Path, unit: UnitId) -> Option<UnitId> {
    let c = rusqlite::Connection::open(dir.join("relay.sqlite")).unwrap();
    let p: Option<Vec<u8>> = c
        .query_row("SELECT parent FROM units WHERE id = ?1", params![unit.to_bytes().to_vec()], |r| r.get(0))
        .unwrap();
    p.map(|p| UnitId::from_slice(&p).unwrap())
}

/// Jobs waiting for the relay's writer, as its /metrics says.
fn queued(relay: &Relay) -> f64 {
    let page =
        ureq::get(&format!("{}/metrics", relay.url)).call().unwrap().into_body().read_to_string().unwrap();
    page.lines()
        .find_map(|l| l.strip_prefix("giaoban_relay_writer_queue_depth "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Waits until `n` jobs wait for the writer (panics after 30 s).
fn wait_queued(relay: &Relay, n: f64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while queued(relay) != n {
        assert!(std::time::Instant::now() < deadline, "the writer's queue never held {n} jobs");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Holds the writer for `ms`: jobs submitted meanwhile are run together in the next batch.
/// Returns once the writer has taken the holding job alone.
fn hold_writer(relay: &Relay, ms: u64) -> oneshot::Receiver<Result<(), StoreError>> {
    let held = relay.store.writer().submit(move |_: &mut Ctx<'_>| {
        std::thread::sleep(Duration::from_millis(ms));
        Ok(())
    });
    wait_queued(relay, 0.0);
    held
}

/// What `store` would push now.
fn pending(store: &mut Store) -> (DeviceId, UnitId, Vec<DocChanges>) {
    let docs = store
        .dirty_documents()
        .unwrap()
        .into_iter()
        .map(|doc| DocChanges { doc, changes: store.unacked_changes(doc).unwrap(), vouchers: vec![] })
        .collect();
    (store.device_id(), store.unit().unwrap(), docs)
}

/// A job that moves a unit and reloads the tree, then fails: its savepoint is rolled back.
/// A document first stored by a later job of the same batch, or in a later batch, must get its
/// readers from the tree as committed, not from the tree the failed job loaded.
#[test]
fn a_unit_change_rolled_back_after_refresh_tree_grants_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let (ward, office) = (relay.org.units[5].id, relay.org.units[6].id);
    let before = parent_of(&relay.dir, ward);
    assert_ne!(before, Some(office));
    let mut phuong = relay.device(&dir.path().join("phuong.sqlite"), 5, "phuong");
    let mut office_dev = relay.device(&dir.path().join("office.sqlite"), 6, "office");
    phuong.sync_now().unwrap();
    office_dev.sync_now().unwrap();

    // Same batch: [the failing move, a push of a new report].
    let first = phuong.create_report(report("Phường rà soát 9 mô hình.")).unwrap();
    let (device, unit, docs) = pending(&mut phuong);
    let held = hold_writer(&relay, 500);
    let (w, o) = (ward.to_bytes().to_vec(), office.to_bytes().to_vec());
    let rogue = relay.store.writer().submit(move |ctx: &mut Ctx<'_>| {
        ctx.tx.execute("UPDATE units SET parent = ?2 WHERE id = ?1", params![w, o])?;
        ctx.refresh_tree()?;
        Err::<(), _>(StoreError::Invalid("given up on purpose after reloading the tree".into()))
    });
    let pushed = relay.store.writer().submit(move |ctx: &mut Ctx<'_>| writer_push(ctx, device, unit, docs));
    held.blocking_recv().unwrap().unwrap();
    assert!(rogue.blocking_recv().unwrap().is_err());
    let out = pushed.blocking_recv().unwrap().unwrap();
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(parent_of(&relay.dir, ward), before, "the failed move is rolled back");
    let r = readers(&relay.dir, first);
    assert!(r.contains(&ward), "{r:?}");
    assert!(!r.contains(&office), "a rolled-back move gave the office a reader's right: {r:?}");

    // A later batch: a second report through HTTP.
    phuong.sync_now().unwrap();
    let second = phuong.create_report(report("Phường nhân rộng 2 mô hình.")).unwrap();
    phuong.sync_now().unwrap();
    let r = readers(&relay.dir, second);
    assert!(r.contains(&ward), "{r:?}");
    assert!(!r.contains(&office), "the tree reloaded after the batch holds a rolled-back move: {r:?}");
    office_dev.sync_now().unwrap();
    let held_by_office = office_dev.document_ids(None).unwrap();
    assert!(!held_by_office.contains(&first) && !held_by_office.contains(&second));
}

/// A move that commits hands its tree to the later jobs of its batch (a new report stored in the
/// same batch is read by the new parent), and the writer's tree for the next batches is the
/// moved one (a report pushed after the move is read by the new parent too), although no job of
/// those batches writes units.
#[test]
fn a_committed_move_is_the_tree_of_the_rest_of_its_batch_and_of_the_next_batches() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let (ward, office) = (relay.org.units[5].id, relay.org.units[6].id);
    let mut phuong = relay.device(&dir.path().join("phuong.sqlite"), 5, "phuong");
    let mut office_dev = relay.device(&dir.path().join("office.sqlite"), 6, "office");
    phuong.sync_now().unwrap();
    office_dev.sync_now().unwrap();

    let first = phuong.create_report(report("Phường rà soát 9 mô hình.")).unwrap();
    let (device, unit, docs) = pending(&mut phuong);
    let held = hold_writer(&relay, 700);
    let mover = {
        let store = relay.store.clone();
        std::thread::spawn(move || store.move_unit(ward, office))
    };
    // Queued after the move.
    wait_queued(&relay, 1.0);
    let pushed = relay.store.writer().submit(move |ctx: &mut Ctx<'_>| writer_push(ctx, device, unit, docs));
    held.blocking_recv().unwrap().unwrap();
    mover.join().unwrap().unwrap();
    let out = pushed.blocking_recv().unwrap().unwrap();
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let r = readers(&relay.dir, first);
    assert!(r.contains(&office), "a report stored after the move in its batch: {r:?}");

    // Several later batches without a unit change; each pushes a new report through HTTP.
    phuong.sync_now().unwrap();
    let mut later = Vec::new();
    for k in 0..3 {
        let d = phuong.create_report(report(&format!("Báo cáo số {k}."))).unwrap();
        phuong.sync_now().unwrap();
        let r = readers(&relay.dir, d);
        assert!(r.contains(&office), "report {k} after the move: {r:?}");
        later.push(d);
    }
    office_dev.sync_now().unwrap();
    let held_by_office = office_dev.document_ids(None).unwrap();
    assert!(held_by_office.contains(&first));
    for d in later {
        assert!(held_by_office.contains(&d));
    }
}

/// Another process (the admin command) moves a unit while the relay runs: the relay's writer
/// sees it (`PRAGMA data_version`) though none of its own jobs called `refresh_tree`.
#[test]
fn a_move_by_another_process_is_the_tree_of_the_relays_next_push() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let (ward, office) = (relay.org.units[5].id, relay.org.units[6].id);
    let mut phuong = relay.device(&dir.path().join("phuong.sqlite"), 5, "phuong");
    let mut office_dev = relay.device(&dir.path().join("office.sqlite"), 6, "office");
    // Batches run and the relay's tree is loaded before the move.
    let early = phuong.create_report(report("Phường rà soát 9 mô hình.")).unwrap();
    phuong.sync_now().unwrap();
    office_dev.sync_now().unwrap();
    assert!(!readers(&relay.dir, early).contains(&office));
    {
        let admin = RelayStore::open(&relay.dir).unwrap();
        admin.move_unit(ward, office).unwrap();
    }
    let after = phuong.create_report(report("Phường nhân rộng 2 mô hình.")).unwrap();
    phuong.sync_now().unwrap();
    let r = readers(&relay.dir, after);
    assert!(
        r.contains(&office),
        "the relay stored a report with the tree before another process's move: {r:?}"
    );
    office_dev.sync_now().unwrap();
    let held_by_office = office_dev.document_ids(None).unwrap();
    assert!(held_by_office.contains(&after) && held_by_office.contains(&early));
}

/// A device revoked after its sync passed the token check but before its push reached the
/// writer: the revocation commits first (same batch, earlier job), so the push, checked in the
/// writer's transaction against `devices.revoked_at`, is refused: a (stolen) phone revoked while
/// its push is in flight gets nothing stored and is told it was revoked.
#[test]
fn a_push_in_flight_when_its_device_is_revoked_is_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let mut phuong = relay.device(&dir.path().join("phuong.sqlite"), 5, "phuong");
    phuong.sync_now().unwrap();
    let doc = phuong.create_report(report("Báo cáo của một máy bị mất.")).unwrap();
    let held = hold_writer(&relay, 2500);
    let revoker = {
        let store = relay.store.clone();
        let id = phuong.device_id();
        std::thread::spawn(move || store.revoke_device(id))
    };
    wait_queued(&relay, 1.0);
    // The token check reads the committed state: the revocation is queued, not committed.
    let synced = phuong.sync_now();
    held.blocking_recv().unwrap().unwrap();
    revoker.join().unwrap().unwrap();
    assert!(
        !stored(&relay.dir, doc),
        "the push of a device revoked before it was stored is in the relay (sync said {synced:?})"
    );
    let refused = format!("{:?}", synced.expect_err("a revoked device's push is refused"));
    assert!(refused.contains("revoked"), "the device is told it was revoked: {refused}");
}

/// A sync cut off by the request timeout while it waits for a blocking thread (a busy relay)
/// was never answered: it costs the device none of its rate limit, and its first turn (the
/// push check, or the page read) is not done for nobody once a thread is free.
#[test]
fn a_sync_cut_off_while_waiting_for_a_blocking_thread_costs_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let store = RelayStore::open(&data).unwrap();
    let org = store.create_units_from_reference("Đồng Nai").unwrap();
    let config = Config {
        data_dir: data.clone(),
        max_syncs_per_minute: 1,
        request_timeout_secs: 1,
        ..Config::default()
    };
    let state = AppState::new(store.clone(), config).unwrap();
    // One blocking thread: a busy relay whose blocking threads are all taken.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = rt.spawn(giaoban_relay::run(listener, state, async {
        let _ = stop_rx.await;
    }));
    let mut dev = Store::open(dir.path().join("d.sqlite")).unwrap();
    let code = store.create_enrollment(org.units[1].id, 1).unwrap();
    dev.enroll(&url, &code.code, "d").unwrap();
    let (_, token) = dev.relay().unwrap().unwrap();
    let frame = wire::encode(&DeviceMessage::Sync(SyncRequest {
        epoch: None,
        cursor: 0,
        witness: Default::default(),
        own_held: 0,
        push: vec![],
        page_bytes: 4096,
        have: vec![],
        refetch: vec![],
    }));
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let post = || -> u16 {
        agent
            .post(&format!("{url}/v1/sync"))
            .header("Authorization", &format!("Bearer {token}"))
            .send(&frame[..])
            .unwrap()
            .status()
            .as_u16()
    };
    // Let the relay's start-up work on blocking threads finish.
    std::thread::sleep(Duration::from_millis(500));
    // The only blocking thread is busy for 3 s.
    let busy = rt.spawn_blocking(|| std::thread::sleep(Duration::from_secs(3)));
    assert_eq!(post(), 408, "cut off while waiting for the blocking thread");
    rt.block_on(busy).unwrap();
    // The request given up runs its first turn now.
    std::thread::sleep(Duration::from_millis(500));
    let after = post();
    let _ = stop_tx.send(());
    let _ = rt.block_on(server);
    assert_eq!(
        after, 200,
        "the device's first answered sync was refused for a request it never got answered"
    );
}
