//! Live notifications through the background sync loop, and a relay restored from an older
//! backup: devices notice the new epoch and reconcile without losing newer edits, even edits
//! whose author device is gone.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use giaoban_client_core::demo::dispatch_305;
use giaoban_client_core::protocol::schema::{Response, TaskState};
use giaoban_client_core::{DeliveryState, SyncHandle, SyncState, TaskFilter, TaskScope};
use giaoban_e2e::Relay;

#[test]
fn a_change_reaches_an_online_device_without_asking() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let mut city = relay.device(&dir.path().join("city.sqlite"), 0, "city");
    let ward = Arc::new(Mutex::new(relay.device(&dir.path().join("ward.sqlite"), 1, "ward")));
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let seen = statuses.clone();
    let handle = SyncHandle::start(ward.clone(), move |s| seen.lock().unwrap().push(s.clone()));

    // Wait for the loop's first sync to finish (and its live stream to open).
    let t0 = Instant::now();
    while handle.status().state != SyncState::UpToDate {
        assert!(t0.elapsed() < Duration::from_secs(20), "first sync did not finish: {:?}", handle.status());
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));

    let directive =
        city.issue_directive(dispatch_305(vec![relay.org.units[1].id], "08/02/2030", "11/02/2030")).unwrap();
    city.sync_now().unwrap();
    let sent = Instant::now();
    loop {
        let n = ward.lock().unwrap().list_tasks(&TaskFilter::default()).unwrap().len();
        if n == 4 {
            break;
        }
        assert!(sent.elapsed() < Duration::from_secs(20), "the directive never arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
    let latency = sent.elapsed();
    println!("live delivery took {latency:?}");
    assert!(ward.lock().unwrap().directive(directive).is_ok());
    handle.stop();
    let statuses = statuses.lock().unwrap();
    assert!(statuses.iter().any(|s| matches!(s.state, SyncState::Syncing { .. })));
    assert!(statuses.iter().any(|s| s.state == SyncState::UpToDate && s.last_success.is_some()));
}

#[test]
fn the_background_loop_reports_offline_and_keeps_local_work() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let ward = Arc::new(Mutex::new(relay.device(&dir.path().join("ward.sqlite"), 1, "ward")));
    drop(relay);
    let handle = SyncHandle::start(ward.clone(), |_| {});
    let t0 = Instant::now();
    while !matches!(handle.status().state, SyncState::Offline { .. }) {
        assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", handle.status());
        std::thread::sleep(Duration::from_millis(20));
    }
    handle.stop();
}

#[test]
fn a_relay_restored_from_an_older_backup_is_reconciled() {
    let dir = tempfile::tempdir().unwrap();
    let relay_dir = dir.path().join("relay");
    let backup = dir.path().join("relay-backup");
    let relay = Relay::start(&relay_dir);
    let wards = vec![relay.org.units[1].id];
    let mut city = relay.device(&dir.path().join("city.sqlite"), 0, "city");
    let mut ward = relay.device(&dir.path().join("ward.sqlite"), 1, "ward");
    let late_code = relay.store.create_enrollment(relay.org.units[1].id, 24).unwrap().code;
    let first = city.issue_directive(dispatch_305(wards.clone(), "08/02/2030", "11/02/2030")).unwrap();
    city.sync_now().unwrap();
    ward.sync_now().unwrap();

    // The office backs up its relay while it runs.
    std::fs::create_dir_all(&backup).unwrap();
    relay.store.backup_to(&backup.join("relay.sqlite")).unwrap();

    // Work continues after the backup.
    let second = city.issue_directive(dispatch_305(wards.clone(), "09/02/2030", "12/02/2030")).unwrap();
    city.sync_now().unwrap();
    ward.sync_now().unwrap();
    ward.acknowledge_task(second, 1).unwrap();
    ward.sync_now().unwrap();
    assert_eq!(ward.list_tasks(&TaskFilter::default()).unwrap().len(), 8);

    // The server dies; the office restores the older backup.
    let addr = relay.url.trim_start_matches("http://").to_string();
    drop(relay);
    std::fs::remove_dir_all(&relay_dir).unwrap();
    std::fs::create_dir_all(&relay_dir).unwrap();
    std::fs::copy(backup.join("relay.sqlite"), relay_dir.join("relay.sqlite")).unwrap();
    let relay = Relay::start_with(
        &relay_dir,
        giaoban_relay::Config { data_dir: relay_dir.clone(), listen: addr, ..Default::default() },
        false,
    );
    assert_eq!(
        relay.store.document_count().unwrap(),
        2,
        "the backup has the directory and the first dispatch"
    );

    // Devices notice the new epoch and push back what the relay lost.
    let w = ward.sync_now().unwrap();
    assert!(w.round_trips >= 2, "reconciling takes another round trip: {w:?}");
    city.sync_now().unwrap();
    ward.sync_now().unwrap();
    assert_eq!(city.delivery_state(second).unwrap(), DeliveryState::OnRelay);
    assert!(relay.store.document_count().unwrap() >= 4, "second dispatch and the ward's response are back");

    // A device enrolled after the restore receives everything, old and new.
    let mut newcomer = giaoban_client_core::Store::open(dir.path().join("newcomer.sqlite")).unwrap();
    newcomer.enroll(&relay.url, &late_code, "newcomer").unwrap();
    newcomer.sync_now().unwrap();
    assert!(newcomer.directive(first).is_ok());
    assert!(newcomer.directive(second).is_ok());
    let tasks = newcomer.list_tasks(&TaskFilter::default()).unwrap();
    assert_eq!(tasks.len(), 8);
    assert!(tasks.iter().any(|t| t.source == second && t.ordinal == 1 && t.is_acknowledged()));
}

/// A ward's only device is lost after its work reached the relay, and the relay is then restored
/// from a backup taken before: the city, which only reads the ward's response, is the last to
/// hold it, and gives it back with the relay's vouchers, receipt times kept.
#[test]
fn a_reader_gives_back_what_the_owners_lost_device_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let relay_dir = dir.path().join("relay");
    let backup = dir.path().join("relay-backup.sqlite");
    let relay = Relay::start(&relay_dir);
    let ward_unit = relay.org.units[1].id;
    let replacement_code = relay.store.create_enrollment(ward_unit, 24).unwrap().code;
    let mut city = relay.device(&dir.path().join("city.sqlite"), 0, "city");
    let mut ward = relay.device(&dir.path().join("ward.sqlite"), 1, "ward");
    let directive = city.issue_directive(dispatch_305(vec![ward_unit], "08/02/2030", "11/02/2030")).unwrap();
    city.sync_now().unwrap();
    ward.sync_now().unwrap();
    relay.store.backup_to(&backup).unwrap();

    // The ward answers; the city sees it; then the ward's phone is gone for good.
    ward.acknowledge_task(directive, 1).unwrap();
    ward.mark_task_not_applicable(directive, 2, "Không phát sinh trên địa bàn").unwrap();
    ward.sync_now().unwrap();
    city.sync_now().unwrap();
    let seen = city.list_tasks(&TaskFilter { scope: TaskScope::IssuedByMe, ..Default::default() }).unwrap();
    let t2 = seen.iter().find(|t| t.ordinal == 2).unwrap().clone();
    assert_eq!(t2.state, Some(TaskState::NotApplicable));
    let received_at = t2.received_at.expect("the city has the relay's receipt time");
    drop(ward);
    std::thread::sleep(Duration::from_millis(20));

    // The relay is restored from the backup taken before the ward answered.
    let addr = relay.addr();
    drop(relay);
    for f in ["relay.sqlite", "relay.sqlite-wal", "relay.sqlite-shm"] {
        let _ = std::fs::remove_file(relay_dir.join(f));
    }
    std::fs::copy(&backup, relay_dir.join("relay.sqlite")).unwrap();
    let relay = Relay::start_with(
        &relay_dir,
        giaoban_relay::Config { data_dir: relay_dir.clone(), listen: addr, ..Default::default() },
        false,
    );

    // The city reconciles and is asked for the ward's response, which only it holds.
    city.sync_now().unwrap();
    city.sync_now().unwrap();
    assert_eq!(city.pending_changes_count().unwrap(), 0);
    let response = Response::id_for(directive, ward_unit);
    assert_eq!(city.delivery_state(response).unwrap(), DeliveryState::OnRelay);

    // The ward's new phone gets its unit's answers back, with the time the relay first had them.
    let mut replacement = giaoban_client_core::Store::open(dir.path().join("replacement.sqlite")).unwrap();
    replacement.enroll(&relay.url, &replacement_code, "replacement").unwrap();
    replacement.sync_now().unwrap();
    let mine = replacement.list_tasks(&TaskFilter::default()).unwrap();
    assert_eq!(mine.iter().find(|t| t.ordinal == 1).unwrap().state, Some(TaskState::Acknowledged));
    let t2 = mine.iter().find(|t| t.ordinal == 2).unwrap();
    assert_eq!(t2.state, Some(TaskState::NotApplicable));
    assert_eq!(t2.received_at, Some(received_at), "the receipt time of the ward's answer is kept");
    let again = city.list_tasks(&TaskFilter { scope: TaskScope::IssuedByMe, ..Default::default() }).unwrap();
    assert_eq!(again.iter().find(|t| t.ordinal == 2).unwrap().received_at, Some(received_at));
}

/// A ward's answer reaches the relay but the relay's reply is lost; the city pulls the change;
/// the relay is restored from a backup taken before, and the ward pushes the same change again,
/// which the relay now receives later. Its log holds the same changes in the same order as the
/// history the city saw, at another time. The city holds the relay's seal of the first receipt
/// and gives it back; once both have synced, both show that first time, and so does the relay.
#[test]
fn a_change_received_again_after_a_restore_shows_one_receipt_time_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let relay_dir = dir.path().join("relay");
    let backup = dir.path().join("relay-backup.sqlite");
    let relay = Relay::start(&relay_dir);
    let ward_unit = relay.org.units[1].id;
    let mut city = relay.device(&dir.path().join("city.sqlite"), 0, "city");
    let mut ward = relay.device(&dir.path().join("ward.sqlite"), 1, "ward");
    let directive = city.issue_directive(dispatch_305(vec![ward_unit], "08/02/2030", "11/02/2030")).unwrap();
    city.sync_now().unwrap();
    ward.sync_now().unwrap();
    relay.store.backup_to(&backup).unwrap();

    ward.mark_task_not_applicable(directive, 2, "Không phát sinh trên địa bàn").unwrap();
    let session = ward.sync_session().unwrap();
    let (request, _) = ward.prepare_sync(&session).unwrap();
    assert_eq!(giaoban_e2e::raw_sync(&ward, request).acks.len(), 1, "stored; the ward never hears it");
    city.sync_now().unwrap();
    let done = |s: &giaoban_client_core::Store| {
        let all = s.list_tasks(&TaskFilter { scope: TaskScope::All, ..Default::default() }).unwrap();
        all.into_iter().find(|t| t.ordinal == 2 && t.assignee == ward_unit).unwrap().received_at
    };
    let first = done(&city).expect("the city has the relay's receipt time");
    std::thread::sleep(Duration::from_millis(20));

    let addr = relay.addr();
    drop(relay);
    for f in ["relay.sqlite", "relay.sqlite-wal", "relay.sqlite-shm"] {
        let _ = std::fs::remove_file(relay_dir.join(f));
    }
    std::fs::copy(&backup, relay_dir.join("relay.sqlite")).unwrap();
    let _relay = Relay::start_with(
        &relay_dir,
        giaoban_relay::Config { data_dir: relay_dir.clone(), listen: addr, ..Default::default() },
        false,
    );

    // The ward pushes its answer again (it never knew the relay had it): received again, later.
    ward.sync_now().unwrap();
    let again = done(&ward).expect("the ward has the relay's receipt time");
    assert!(again > first, "received again, later");
    // The city holds the seal of the first receipt and gives it back; the ward then hears it.
    city.sync_now().unwrap();
    ward.sync_now().unwrap();
    assert_eq!(done(&city), Some(first), "the city keeps the time the relay sealed first");
    assert_eq!(done(&ward), Some(first), "the ward shows the restamped time");
}
