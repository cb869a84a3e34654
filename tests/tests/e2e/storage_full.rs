//! The relay's storage fills up: devices get a clear "storage is full" answer, nothing is
//! acknowledged that was not stored, reads go on, and everything goes through once there is
//! room again.

use giaoban_client_core::demo::anchor_task;
use giaoban_client_core::{CoreError, TaskFilter};
use giaoban_e2e::Relay;
use giaoban_relay::Config;

#[test]
fn a_full_relay_refuses_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let relay = Relay::start(&data);
    let mut city = relay.device(&dir.path().join("city.sqlite"), 0, "city");
    let mut ward = relay.device(&dir.path().join("ward.sqlite"), 1, "ward");
    ward.sync_now().unwrap();
    let used_kb = relay
        .store
        .read(|c| {
            Ok(c.query_row(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                [],
                |r| r.get::<_, i64>(0),
            )?)
        })
        .unwrap() as u64
        / 1024;
    let addr = relay.addr();
    let docs_before = relay.store.document_count().unwrap();
    drop(relay);

    // Room for a few more pages, not for 1,000 documents.
    let quota = Config {
        data_dir: data.clone(),
        listen: addr.clone(),
        max_database_kb: used_kb + 64,
        ..Config::default()
    };
    let relay = Relay::start_with(&data, quota, false);
    let unit = relay.org.units[1].id;
    for i in 0..1000 {
        city.issue_directive(anchor_task(i, unit)).unwrap();
    }
    let err = city.sync_now().unwrap_err();
    assert!(matches!(err, CoreError::Network { retryable: true, .. }), "{err}");
    assert!(err.to_string().contains("storage is full"), "{err}");
    assert_eq!(city.pending_changes_count().unwrap(), 1000, "nothing acknowledged, everything kept");
    assert_eq!(relay.store.document_count().unwrap(), docs_before, "nothing stored");
    // Reads still work for everyone.
    ward.sync_now().unwrap();

    // The operator frees space (here: lifts the quota); the same sync goes through.
    drop(relay);
    let roomy = Config { data_dir: data.clone(), listen: addr, ..Config::default() };
    let relay = Relay::start_with(&data, roomy, false);
    city.sync_now().unwrap();
    assert_eq!(city.pending_changes_count().unwrap(), 0);
    ward.sync_now().unwrap();
    assert_eq!(ward.list_tasks(&TaskFilter::default()).unwrap().len(), 1000);
    drop(relay);
}
