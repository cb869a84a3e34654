//! A SQLite relay moved up to PostgreSQL (`giaoban-relay admin migrate --to …`): what devices
//! depend on (every unit's log with its positions and digests, tokens and revocations, the
//! epoch and voucher key) is in Postgres as it was, an interrupted copy is taken up by the next
//! run, a copy run again after the relay went on working holds what it holds then, and a
//! database holding another relay is refused.

use giaoban_client_core::protocol::schema::ReportKind;
use giaoban_client_core::{NewReport, NewSection};
use giaoban_e2e::Relay;
use giaoban_e2e::postgres::TestPostgres;
use giaoban_relay::store::backend::postgres::Postgres;
use giaoban_relay::store::backend::postgres::copy::{TABLES, copy_to_postgres};
use giaoban_relay::store::backend::sqlite::Sqlite;
use giaoban_relay::store::backend::{LogRead, Top};

fn report(n: usize) -> NewReport {
    NewReport {
        title: format!("Báo cáo tháng {}: kết quả vận động Quỹ Vì người nghèo", n + 1),
        kind: ReportKind::Monthly,
        period: format!("tháng {}/2026", n + 1),
        answers: None,
        audience: vec![],
        sections: vec![NewSection {
            key: "ket_qua".into(),
            heading: "Kết quả".into(),
            body: format!("Đã vận động {n} hộ đóng góp, tổng số tiền 12.500.000 đồng; Đắk Lắk hỗ trợ thêm."),
        }],
    }
}

/// A device as both databases hold it: id, token hash, revoked at, own top.
type DeviceRow = (Vec<u8>, Vec<u8>, Option<i64>, i64);

fn sqlite_rows(c: &rusqlite::Connection, table: &str) -> u64 {
    c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get::<_, i64>(0)).unwrap() as u64
}

fn pg_rows(to: &mut postgres::Client, table: &str) -> i64 {
    to.query_one(&format!("SELECT count(*) FROM {table}"), &[]).unwrap().get(0)
}

/// Both databases hold the same relay: every unit's log entry for entry with its digests and
/// top, every device's token, revocation and own top, the relay's settings.
fn same_relay(
    from: &rusqlite::Connection,
    to: &mut postgres::Client,
    units: &[giaoban_client_core::protocol::UnitId],
) {
    for (table, _) in TABLES {
        assert_eq!(pg_rows(to, table) as u64, sqlite_rows(from, table), "rows of {table}");
    }
    let mut logs = 0;
    for u in units {
        let here = Sqlite(from).entries(*u, 0, 100_000).unwrap();
        let there = Postgres(to).entries(*u, 0, 100_000).unwrap();
        assert_eq!(here, there, "the log of unit {u}");
        let top: Top = Sqlite(from).top(*u).unwrap();
        assert_eq!(top, Postgres(to).top(*u).unwrap());
        logs += usize::from(!here.is_empty());
    }
    assert!(logs >= 4, "the wards' logs and their province's");
    let mut devices_here: Vec<DeviceRow> = from
        .prepare("SELECT id, token_hash, revoked_at, own_top FROM devices")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    devices_here.sort();
    let mut devices_there: Vec<DeviceRow> = to
        .query("SELECT id, token_hash, revoked_at, own_top FROM devices", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    devices_there.sort();
    assert_eq!(devices_here, devices_there);
    assert!(devices_there.iter().any(|d| d.2.is_some()), "the revoked device stays revoked");
    let heads = |c: &rusqlite::Connection| -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut v: Vec<(Vec<u8>, Vec<u8>)> = c
            .prepare("SELECT id, heads FROM docs")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        v.sort();
        v
    };
    let mut heads_there: Vec<(Vec<u8>, Vec<u8>)> =
        to.query("SELECT id, heads FROM docs", &[]).unwrap().iter().map(|r| (r.get(0), r.get(1))).collect();
    heads_there.sort();
    assert_eq!(heads(from), heads_there, "every document's heads");
    // The relay's settings: its name and voucher key as bytes, its epoch as its 8 bytes.
    let epoch: i64 = from.query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| r.get(0)).unwrap();
    let epoch_there: Vec<u8> =
        to.query_one("SELECT value FROM meta WHERE key = 'epoch'", &[]).unwrap().get(0);
    assert_eq!(epoch_there, epoch.to_be_bytes().to_vec());
    for key in ["relay_id", "voucher_key", "relay_device"] {
        let here: Vec<u8> =
            from.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).unwrap();
        let there: Vec<u8> = to.query_one("SELECT value FROM meta WHERE key = $1", &[&key]).unwrap().get(0);
        assert_eq!(here, there, "meta {key}");
    }
    // New rows take numbers after the copied ones.
    let next_seq: i64 = to
        .query_one("SELECT last_value FROM pg_sequences WHERE sequencename = 'changes_seq_seq'", &[])
        .unwrap()
        .get(0);
    let max_seq: i64 = from.query_row("SELECT MAX(seq) FROM changes", [], |r| r.get(0)).unwrap();
    assert!(next_seq >= max_seq);
}

#[test]
fn a_relay_copied_into_postgres_holds_every_log_token_and_setting_as_it_was() {
    let Some(pg) = TestPostgres::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let mut wards: Vec<_> = [(5, "phường Trấn Biên"), (7, "xã Đại Phước"), (9, "phường Long Hưng")]
        .into_iter()
        .map(|(unit, label)| relay.device(&dir.path().join(format!("{unit}.sqlite")), unit, label))
        .collect();
    for round in 0..4 {
        for w in wards.iter_mut() {
            w.create_report(report(round)).unwrap();
            w.sync_now().unwrap();
        }
    }
    for w in wards.iter_mut() {
        w.sync_now().unwrap();
    }
    let lost = wards.pop().unwrap();
    relay.store.revoke_device(lost.device_id()).unwrap();
    let units: Vec<_> = relay.store.units().unwrap().into_iter().map(|(u, _, _)| u).collect();
    let path = relay.store.path().to_path_buf();

    let from = rusqlite::Connection::open(&path).unwrap();
    let mut to = pg.connect();
    // Stopped while copying the changes (the operator pressed Ctrl-C, say).
    let mut batches = 0;
    let stopped = copy_to_postgres(&from, &mut to, 4, |p| {
        if p.table == "changes" {
            batches += 1;
            if batches == 2 {
                return Err("stopped by the operator".into());
            }
        }
        Ok(())
    })
    .expect_err("the copy stops when told");
    assert!(stopped.to_string().contains("run it again"), "{stopped}");
    let copied = copy_to_postgres(&from, &mut to, 4, |_| Ok(())).expect("the copy is taken up");
    assert_eq!(copied.tables.len(), TABLES.len());
    assert!(copied.tables.iter().any(|(t, n)| *t == "changes" && *n > 12));
    same_relay(&from, &mut to, &units);

    // The relay went on working (it was not stopped): the wards report again, their logs' tops,
    // the reports' heads and the devices' own tops move. A copy run again holds all of it.
    for w in wards.iter_mut() {
        w.create_report(report(9)).unwrap();
        w.sync_now().unwrap();
    }
    drop(relay);
    let copied = copy_to_postgres(&from, &mut to, 4, |_| Ok(())).expect("copied again");
    for (table, rows) in &copied.tables {
        assert_eq!(*rows, sqlite_rows(&from, table), "rows of {table}");
    }
    same_relay(&from, &mut to, &units);
    // Run once more on a relay that did nothing: the same rows.
    let before: Vec<_> = TABLES.iter().map(|(t, _)| pg_rows(&mut to, t)).collect();
    copy_to_postgres(&from, &mut to, 1000, |_| Ok(())).unwrap();
    assert_eq!(before, TABLES.iter().map(|(t, _)| pg_rows(&mut to, t)).collect::<Vec<_>>());

    // Another relay's database is not copied over this one.
    let other_dir = tempfile::tempdir().unwrap();
    let other = Relay::start(&other_dir.path().join("relay"));
    let other_path = other.store.path().to_path_buf();
    drop(other);
    let other_from = rusqlite::Connection::open(&other_path).unwrap();
    let refused =
        copy_to_postgres(&other_from, &mut to, 100, |_| Ok(())).expect_err("another relay is refused");
    assert!(refused.to_string().contains("another relay"), "{refused}");
}
