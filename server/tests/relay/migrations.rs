//! Upgrading a relay database from its first schema gives exactly the schema of a fresh one,
//! and the unit logs the upgrade builds from the stored changes equal, entry for entry and
//! digest for digest, the logs the relay wrote live.

use std::path::Path;

use automerge::AutoCommit;
use giaoban_client_core::Store;
use giaoban_client_core::demo::dispatch_305;
use giaoban_protocol::wire::DocChanges;
use giaoban_protocol::{DeviceId, UnitId};
use giaoban_relay::RelayStore;
use giaoban_relay::store::schema::MIGRATIONS;
use giaoban_relay::store::writer_push;
use rusqlite::Connection;

/// unit_log rows, unit_tops rows, and each device's newest own change.
type Logs = (Vec<(Vec<u8>, i64, i64, Vec<u8>)>, Vec<(Vec<u8>, i64, Vec<u8>)>, Vec<(Vec<u8>, i64)>);

fn schema(conn: &Connection) -> Vec<(String, String, String)> {
    let mut stmt = conn
        .prepare(
            "SELECT type, name, IFNULL(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(|r| r.unwrap()).collect()
}

fn logs(conn: &Connection) -> Logs {
    let log = conn
        .prepare("SELECT unit, pos, change, digest FROM unit_log ORDER BY unit, pos")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let tops = conn
        .prepare("SELECT unit, pos, digest FROM unit_tops ORDER BY unit")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let own = conn
        .prepare("SELECT id, own_top FROM devices ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    (log, tops, own)
}

fn enrolled(store: &RelayStore, unit: UnitId, device: DeviceId) {
    let code = store.create_enrollment(unit, 1).unwrap();
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(store.enroll(&code.code, device, "máy thử"))
        .unwrap();
}

/// A relay holding the unit directory, three dispatches of the city to two wards, and the
/// wards' answers, all pushed through the writer as devices push them.
fn relay_with_history(dir: &Path) -> RelayStore {
    let relay = RelayStore::open(dir).unwrap();
    let org = relay.create_units_from_reference("Đồng Nai").unwrap();
    let (city, wards) = (org.units[0].id, vec![org.units[1].id, org.units[2].id]);
    let mut city_store = Store::open(dir.join("city.sqlite")).unwrap();
    city_store.set_unit(city).unwrap();
    enrolled(&relay, city, city_store.device_id());
    let mut directives = Vec::new();
    for due in ["08/02/2030", "09/02/2030", "10/02/2030"] {
        directives.push(city_store.issue_directive(dispatch_305(wards.clone(), due, "12/02/2030")).unwrap());
    }
    let push = |store: &mut Store, unit: UnitId| {
        let docs: Vec<DocChanges> = store
            .dirty_documents()
            .unwrap()
            .into_iter()
            .map(|doc| DocChanges { doc, changes: store.unacked_changes(doc).unwrap(), vouchers: vec![] })
            .collect();
        let device = store.device_id();
        let out = relay.writer().run_blocking(move |ctx| writer_push(ctx, device, unit, docs)).unwrap();
        assert!(out.rejects.is_empty(), "{:?}", out.rejects);
        for ack in out.acks {
            let heads: Vec<automerge::ChangeHash> =
                ack.heads.iter().map(|h| automerge::ChangeHash(*h)).collect();
            store.mark_acked(ack.doc, &heads).unwrap();
        }
    };
    push(&mut city_store, city);
    for (k, ward) in wards.iter().enumerate() {
        let mut s = Store::open(dir.join(format!("ward-{k}.sqlite"))).unwrap();
        s.set_unit(*ward).unwrap();
        enrolled(&relay, *ward, s.device_id());
        for d in &directives {
            let doc = AutoCommit::load(&city_store.save_document(*d).unwrap()).unwrap();
            let changes: Vec<Vec<u8>> =
                doc.clone().get_changes(&[]).into_iter().map(|c| c.raw_bytes().to_vec()).collect();
            s.apply_remote(*d, &changes).unwrap();
            s.acknowledge_task(*d, 1).unwrap();
            s.update_task_progress(*d, 2, &format!("Phường {k} đang triển khai.")).unwrap();
        }
        push(&mut s, *ward);
    }
    relay
}

#[test]
fn upgrading_from_the_first_schema_equals_a_relay_that_wrote_its_logs_live() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let relay = relay_with_history(&data);
    drop(relay);
    let db = data.join("relay.sqlite");
    let (want_schema, want_logs) = {
        let conn = Connection::open(&db).unwrap();
        (schema(&conn), logs(&conn))
    };
    assert!(want_logs.0.len() > 20, "the history has entries in several units' logs");

    // Take the database back to the first schema, as a relay of the first version left it.
    {
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(
            "DROP TABLE first_deliveries;
             ALTER TABLE devices DROP COLUMN app_version; ALTER TABLE devices DROP COLUMN core_version;
             ALTER TABLE devices DROP COLUMN unsent_docs; ALTER TABLE devices DROP COLUMN unsent_files;
             ALTER TABLE devices DROP COLUMN status_at;
             DROP TABLE doc_snapshots;
             DROP TABLE staff; DROP TABLE staff_sessions; DROP TABLE desk_drafts;
             DROP INDEX unit_log_by_change;
             ALTER TABLE devices DROP COLUMN last_sync_at; ALTER TABLE devices DROP COLUMN synced_upto;
             DROP TABLE file_refs; DROP TABLE files;
             DROP TABLE unit_successors; DROP TABLE former_readers;
             DROP TABLE unit_log; DROP TABLE unit_tops; ALTER TABLE devices DROP COLUMN own_top;
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let relay = RelayStore::open(&data).unwrap();
    drop(relay);
    let conn = Connection::open(&db).unwrap();
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(v, MIGRATIONS.len() as i64);
    assert_eq!(schema(&conn), want_schema, "the upgraded schema is the fresh one");
    assert_eq!(logs(&conn), want_logs, "the rebuilt logs are the ones written live");
}

#[test]
fn a_fresh_database_has_the_latest_schema() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayStore::open(dir.path()).unwrap();
    drop(relay);
    let conn = Connection::open(dir.path().join("relay.sqlite")).unwrap();
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(v, MIGRATIONS.len() as i64);
    let names: Vec<String> = schema(&conn).into_iter().map(|(_, n, _)| n).collect();
    for table in ["unit_log", "unit_tops", "changes", "readers", "docs"] {
        assert!(names.iter().any(|n| n == table), "{table} missing from {names:?}");
    }
}

/// A relay of the second schema (before units could change) upgrades to the fresh schema with
/// every log, top and device position as it was, and then merges units like a fresh one.
#[test]
fn upgrading_from_the_second_schema_keeps_every_log_and_adds_successions() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let relay = relay_with_history(&data);
    drop(relay);
    let db = data.join("relay.sqlite");
    let (want_schema, want_logs) = {
        let conn = Connection::open(&db).unwrap();
        (schema(&conn), logs(&conn))
    };
    {
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(
            "DROP TABLE first_deliveries;
             ALTER TABLE devices DROP COLUMN app_version; ALTER TABLE devices DROP COLUMN core_version;
             ALTER TABLE devices DROP COLUMN unsent_docs; ALTER TABLE devices DROP COLUMN unsent_files;
             ALTER TABLE devices DROP COLUMN status_at;
             DROP TABLE doc_snapshots;
             DROP TABLE staff; DROP TABLE staff_sessions; DROP TABLE desk_drafts;
             DROP INDEX unit_log_by_change;
             ALTER TABLE devices DROP COLUMN last_sync_at; ALTER TABLE devices DROP COLUMN synced_upto;
             DROP TABLE file_refs; DROP TABLE files;
             DROP TABLE unit_successors; DROP TABLE former_readers;
             ALTER TABLE unit_log DROP COLUMN restamp; PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    let relay = RelayStore::open(&data).unwrap();
    {
        let conn = Connection::open(&db).unwrap();
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        assert_eq!(schema(&conn), want_schema, "the upgraded schema is the fresh one");
        assert_eq!(logs(&conn), want_logs, "nothing stored before changes in the upgrade");
    }
    let units = relay.units().unwrap();
    let wards: Vec<UnitId> = units.iter().filter(|u| u.1.is_some()).map(|u| u.0).take(3).collect();
    let change = relay.merge_units(vec![wards[0], wards[1]], wards[2]).unwrap();
    assert!(change.gained.get(&wards[2]).is_some_and(|n| *n > 0), "{change:?}");
}
