//! The edges of the seam and of the copy into PostgreSQL: writers racing to create one
//! document, heads compared as sets, first entries of new units from many writers, schema
//! migrations started at once, group commits over overlapping units, and copies taken up after
//! the relay went on working, with large batches, over partial or foreign targets.

use super::*;

fn sqlstate(e: &crate::store::StoreError) -> Option<String> {
    match e {
        crate::store::StoreError::Postgres(p) => p.code().map(|c| c.code().to_string()),
        _ => None,
    }
}

/// Stores one change of a new document `d` read by `readers`; returns its draft.
fn seed(db: &mut PgDb, d: DocId, owner: UnitId, readers: &[UnitId], who: DeviceId) -> Draft {
    let none = HashMap::new();
    let mut draft = Draft::new(who);
    let ch = draft.edit(1);
    let h = draft.heads();
    let p = push(d, owner, &ch, &h, readers, who, None, &none);
    db.write(|tx| store_checked(tx, &p, &Seen::Heads(Vec::new()))).expect("seed");
    draft
}

/// An edit as a push needs it: the heads it was made on, its changes, the heads after.
type Edit = (Vec<ChangeHash>, Vec<Change>, Vec<ChangeHash>);

/// Edit `x` of document `n` (owned by `u`) as one push of a group.
fn grouped<'a>(x: &'a Edit, n: u32, u: UnitId, none: &'a HashMap<ChangeHash, i64>) -> (Checked<'a>, Seen) {
    (push(doc_id(n), u, &x.1, &x.2, &[], device(1), None, none), Seen::Heads(x.0.clone()))
}

/// Two group commits over the same two units, their documents in opposite orders: each locks
/// its documents' rows in one statement and then both tops once, in id order, so the second
/// waits for the first and both commit (locking call by call, they would deadlock).
#[test]
fn group_commits_over_overlapping_units_wait_in_one_order() {
    let Some(mut db) = PgDb::new() else { return };
    let (a, b) = (unit(1), unit(2));
    let w = device(1);
    db.enroll(w, a);
    let mut drafts: Vec<Draft> = Vec::new();
    for (i, r) in [(1, a), (2, a), (3, b), (4, b)] {
        drafts.push(seed(&mut db, doc_id(i), r, std::slice::from_ref(&r), w));
    }
    let mut next = |k: usize| {
        let before = drafts[k].heads();
        let ch = drafts[k].edit(1);
        let h = drafts[k].heads();
        (before, ch, h)
    };
    let (d1, d2, d3, d4) = (next(0), next(1), next(2), next(3));
    let none = HashMap::new();
    let first_batch = vec![grouped(&d1, 1, a, &none), grouped(&d3, 3, b, &none)];
    let mut first = db.connect();
    let mut tx = first.transaction().expect("begin");
    let out = store_batch(&mut Postgres(&mut tx), &first_batch).expect("first group");
    assert!(out.iter().all(|s| matches!(s, Stored::Stored { grew: true, .. })));
    let mut second = db.connect();
    let pid = backend_pid(&mut second);
    let other = std::thread::spawn(move || {
        let none = HashMap::new();
        let batch = vec![grouped(&d4, 4, b, &none), grouped(&d2, 2, a, &none)];
        let mut tx = second.transaction().expect("begin");
        let out = store_batch(&mut Postgres(&mut tx), &batch).map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        Ok::<_, String>(out)
    });
    wait_until_blocked(&db, pid);
    tx.commit().expect("first commit");
    let out = other.join().expect("second group").expect("the second group commits");
    assert!(out.iter().all(|s| matches!(s, Stored::Stored { grew: true, .. })));
    for u in [a, b] {
        let log = db.read(|r| r.entries(u, 0, 10)).expect("log");
        assert_eq!(log.iter().map(|e| e.pos).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    }
}

/// Two writers storing the first push of one new document (both checked against no document,
/// `Seen::Heads([])`): the second waits for the first and is told to check again.
#[test]
fn two_writers_creating_one_document_store_it_once() {
    let Some(mut db) = PgDb::new() else { return };
    let a = unit(1);
    let (lan, duc) = (device(1), device(2));
    db.enroll(lan, a);
    db.enroll(duc, a);
    let none = HashMap::new();
    let mut mine = Draft::new(lan);
    let mine_ch = mine.edit(1);
    let mine_h = mine.heads();
    let mut theirs = Draft::new(duc);
    let their_ch = theirs.edit(1);
    let their_h = theirs.heads();

    let mut first = db.connect();
    let mut tx = first.transaction().expect("begin");
    let p1 = push(doc_id(9), a, &mine_ch, &mine_h, std::slice::from_ref(&a), lan, Some(a), &none);
    assert!(matches!(
        store_checked(&mut Postgres(&mut tx), &p1, &Seen::Heads(Vec::new())).expect("first"),
        Stored::Stored { .. }
    ));
    let mut second = db.connect();
    let pid = backend_pid(&mut second);
    let other = std::thread::spawn(move || {
        let none = HashMap::new();
        let p2 = push(doc_id(9), a, &their_ch, &their_h, std::slice::from_ref(&a), duc, Some(a), &none);
        let mut tx = second.transaction().expect("begin");
        let out = store_checked(&mut Postgres(&mut tx), &p2, &Seen::Heads(Vec::new()));
        out.map_err(|e| format!("{e} (sqlstate {:?})", sqlstate(&e)))
    });
    wait_until_blocked(&db, pid);
    tx.commit().expect("first commit");
    assert_eq!(other.join().expect("second"), Ok(Stored::Stale));
}

/// A document stored with no heads (a first push without changes) is written again by a push
/// checked against those (no) heads.
#[test]
fn a_document_with_no_heads_takes_a_push_checked_against_none() {
    for mut db in [PgDb::new()].into_iter().flatten() {
        let a = unit(1);
        let w = device(1);
        db.enroll(w, a);
        let none = HashMap::new();
        let p = push(doc_id(5), a, &[], &[], std::slice::from_ref(&a), w, None, &none);
        assert!(matches!(
            db.write(|tx| store_checked(tx, &p, &Seen::Heads(Vec::new()))).expect("empty doc"),
            Stored::Stored { .. }
        ));
        let mut d = Draft::new(w);
        let ch = d.edit(1);
        let h = d.heads();
        let p = push(doc_id(5), a, &ch, &h, std::slice::from_ref(&a), w, None, &none);
        // Checked against the heads the row has (none).
        let out = db.write(|tx| store_checked(tx, &p, &Seen::Heads(Vec::new()))).expect("store");
        assert!(matches!(out, Stored::Stored { .. }), "got {out:?}");
    }
}

/// Heads are compared as sets (order does not matter), on a document with two heads.
#[test]
fn heads_compare_as_a_set() {
    let Some(mut db) = PgDb::new() else { return };
    let a = unit(1);
    let (lan, duc) = (device(1), device(2));
    db.enroll(lan, a);
    let none = HashMap::new();
    let mut x = Draft::new(lan);
    let base = x.edit(1);
    let hb = x.heads();
    let p = push(doc_id(1), a, &base, &hb, std::slice::from_ref(&a), lan, None, &none);
    db.write(|tx| store_checked(tx, &p, &Seen::Heads(Vec::new()))).expect("base");
    let mut y = AutoCommit::load(&x.doc.save()).expect("load").with_actor(duc.actor_id());
    let cx = x.edit(1);
    let before = y.get_heads();
    y.put(ROOT, "k", 1).expect("put");
    y.commit();
    let cy = y.get_changes(&before);
    x.doc.apply_changes(cy.clone()).expect("merge");
    let mut both: Vec<Change> = cx.clone();
    both.extend(cy);
    let h2 = x.heads();
    assert_eq!(h2.len(), 2);
    let p = push(doc_id(1), a, &both, &h2, std::slice::from_ref(&a), lan, None, &none);
    db.write(|tx| store_checked(tx, &p, &Seen::Heads(hb.clone()))).expect("two heads");
    let mut rev = h2.clone();
    rev.reverse();
    let c3 = x.edit(1);
    let h3 = x.heads();
    let p = push(doc_id(1), a, &c3, &h3, std::slice::from_ref(&a), lan, None, &none);
    let out = db.write(|tx| store_checked(tx, &p, &Seen::Heads(rev))).expect("reversed heads");
    assert!(matches!(out, Stored::Stored { grew: true, .. }), "{out:?}");
    // A subset is stale.
    let c4 = x.edit(1);
    let h4 = x.heads();
    let p = push(doc_id(1), a, &c4, &h4, std::slice::from_ref(&a), lan, None, &none);
    let out = db.write(|tx| store_checked(tx, &p, &Seen::Heads(h2[..1].to_vec()))).expect("subset");
    assert_eq!(out, Stored::Stale);
}

/// Many writers' first entries into brand-new units (several units each, overlapping,
/// given in id order) take distinct positions 1..n without deadlock or duplicate key.
#[test]
fn first_writes_to_new_units_from_many_writers_take_one_order() {
    let Some(db) = PgDb::new() else { return };
    let units = [unit(1), unit(2), unit(3)];
    let mut handles = Vec::new();
    for i in 0..8u8 {
        let mut c = db.connect();
        handles.push(std::thread::spawn(move || {
            let none = HashMap::new();
            let w = device(10 + i);
            let mut d = Draft::new(w);
            let ch = d.edit(3);
            let h = d.heads();
            // Writers 0..4 read by 1,2,3; others by 2,3 only.
            let readers: Vec<UnitId> = if i < 4 { units.to_vec() } else { units[1..].to_vec() };
            let p = push(doc_id(100 + u32::from(i)), units[0], &ch, &h, &readers, w, None, &none);
            let mut tx = c.transaction().expect("begin");
            store_checked(&mut Postgres(&mut tx), &p, &Seen::Heads(Vec::new())).expect("store");
            tx.commit().expect("commit");
        }));
    }
    for h in handles {
        h.join().expect("writer");
    }
    let mut db = db;
    for (u, n) in [(units[0], 12), (units[1], 24), (units[2], 24)] {
        let log = db.read(|r| r.entries(u, 0, 1000)).expect("log");
        assert_eq!(log.iter().map(|e| e.pos).collect::<Vec<_>>(), (1..=n).collect::<Vec<i64>>());
        let top = db.read(|r| r.top(u)).expect("top");
        assert_eq!(top.pos, n);
        assert_eq!(top.digest, log.last().expect("entry").digest);
    }
}

/// The schema migrated by several relays started at once: one migrates, the others find it done.
#[test]
fn a_schema_migrated_by_four_at_once_is_migrated_once() {
    let Some(admin_url) = postgres_url() else { return };
    let name = format!("giaoban_{:016x}", rand::random::<u64>());
    let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls).expect("connect");
    admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create");
    let url = with_database(&admin_url, &name);
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
                super::super::postgres::schema::migrate(&mut c).map_err(|e| e.to_string())
            })
        })
        .collect();
    let outs: Vec<_> = hs.into_iter().map(|h| h.join().expect("migrator")).collect();
    let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    let mut found: Vec<usize> = outs.into_iter().map(|o| o.expect("migrate")).collect();
    found.sort();
    assert_eq!(found, vec![0, 1, 1, 1]);
}

/// A SQLite relay database (schema + relay id).
fn sqlite_relay() -> SqliteDb {
    SqliteDb::new()
}

/// A SQLite relay database as a relay makes it (with epoch, relay_device, voucher_key in meta).
fn full_relay() -> SqliteDb {
    let dir = tempfile::tempdir().expect("a temporary folder");
    drop(crate::store::RelayStore::open(dir.path()).expect("open a relay store"));
    let conn = crate::store::open_connection(&dir.path().join("relay.sqlite")).expect("open");
    SqliteDb { _dir: dir, conn }
}

fn pg_top(client: &mut postgres::Client, u: UnitId) -> Top {
    Postgres(client).top(u).expect("pg top")
}

/// A copy run again after the SQLite relay wrote more (a relay left running, or started
/// between the runs): the target's tops, heads and devices are SQLite's.
#[test]
fn a_copy_run_again_after_the_relay_wrote_more_holds_it() {
    let Some(pg) = PgDb::new() else { return };
    let mut lite = sqlite_relay();
    let a = unit(1);
    let w = device(1);
    lite.enroll(w, a);
    let none = HashMap::new();
    let mut d = Draft::new(w);
    let ch = d.edit(2);
    let h = d.heads();
    let p = push(doc_id(1), a, &ch, &h, std::slice::from_ref(&a), w, Some(a), &none);
    lite.write(|tx| store_checked(tx, &p, &Seen::Heads(Vec::new()))).expect("first");
    let mut to = pg.connect();
    copy::copy_to_postgres(&lite.conn, &mut to, 1000, |_| Ok(())).expect("first copy");

    // The relay keeps going: two more changes to the same document, a device revoked.
    let ch2 = d.edit(2);
    let h2 = d.heads();
    let p = push(doc_id(1), a, &ch2, &h2, std::slice::from_ref(&a), w, Some(a), &none);
    lite.write(|tx| store_checked(tx, &p, &Seen::Row(1))).expect("more");
    lite.conn.execute("UPDATE devices SET revoked_at = 42", []).expect("revoke");

    let second = copy::copy_to_postgres(&lite.conn, &mut to, 1000, |_| Ok(()));
    let lite_top = lite.read(|r| r.top(a)).expect("top");
    let there = pg_top(&mut to, a);
    let heads: Vec<u8> = to.query_one("SELECT heads FROM docs", &[]).expect("heads").get(0);
    let revoked: Option<i64> = to.query_one("SELECT revoked_at FROM devices", &[]).expect("dev").get(0);
    let log_len: i64 = to.query_one("SELECT count(*) FROM unit_log", &[]).expect("log").get(0);
    second.expect("copied again");
    assert_eq!(log_len, 4);
    assert_eq!((there, heads, revoked), (lite_top, crate::store::backend::heads_bytes(&h2), Some(42)));
}

use super::super::postgres::copy;

/// A batch larger than one statement's 65,535 parameters allow (14 columns of `devices` × 5,000
/// rows) is cut to fit.
#[test]
fn a_copy_with_a_large_batch_cuts_it_to_fit() {
    let Some(pg) = PgDb::new() else { return };
    let lite = sqlite_relay();
    {
        let tx = lite.conn.unchecked_transaction().expect("tx");
        for i in 0..5000u32 {
            tx.execute(
                "INSERT INTO devices(id, unit, token_hash, label, created_at) VALUES (?1, ?2, ?3, 'máy', 0)",
                rusqlite::params![i.to_be_bytes().to_vec(), vec![1u8], format!("t{i}").into_bytes()],
            )
            .expect("device");
        }
        tx.commit().expect("commit");
    }
    let mut to = pg.connect();
    let out = copy::copy_to_postgres(&lite.conn, &mut to, 5000, |_| Ok(()));
    assert!(out.is_ok(), "{:?}", out.err().map(|e| e.to_string()));
}

/// A target that relays have served from is never copied over: it holds what they stored
/// since, and nothing of it changes.
#[test]
fn a_target_relays_served_from_is_not_copied_over() {
    let Some(pg) = PgDb::new() else { return };
    let lite = full_relay();
    let mut to = pg.connect();
    copy::copy_to_postgres(&lite.conn, &mut to, 1000, |_| Ok(())).expect("copy");
    // Relays on Postgres carry on: they mark the database, move to a new epoch, add a unit.
    to.execute("INSERT INTO meta(key, value) VALUES ('served_since', '2026-12-04T08:00:00Z'::bytea)", &[])
        .expect("served");
    to.execute("UPDATE meta SET value = '\\x00000000000000ff'::bytea WHERE key = 'epoch'", &[])
        .expect("epoch");
    to.execute("INSERT INTO units(id, parent, name) VALUES ('\\x09', NULL, 'Xã mới')", &[]).expect("unit");
    let again = copy::copy_to_postgres(&lite.conn, &mut to, 1000, |_| Ok(())).expect_err("refused");
    assert!(again.to_string().contains("would take that back"), "{again}");
    let epoch: Vec<u8> = to.query_one("SELECT value FROM meta WHERE key = 'epoch'", &[]).expect("e").get(0);
    assert_eq!(epoch, vec![0, 0, 0, 0, 0, 0, 0, 0xff], "nothing of the target changed");
    let units: i64 = to.query_one("SELECT count(*) FROM units", &[]).expect("u").get(0);
    assert_eq!(units, 1);
}

/// A copy stopped inside `meta` (a batch of 1, before the relay's name), then a copy of another
/// relay into the same target: the target never mixes the two.
#[test]
fn a_partial_copy_then_another_relay_never_mix() {
    let Some(pg) = PgDb::new() else { return };
    let one = full_relay();
    let two = full_relay();
    let mut to = pg.connect();
    let mut calls = 0;
    let stopped = copy::copy_to_postgres(&one.conn, &mut to, 1, |p| {
        calls += 1;
        if p.table == "meta" { Err("stop".into()) } else { Ok(()) }
    });
    assert!(stopped.is_err());
    let keys: Vec<String> =
        to.query("SELECT key FROM meta ORDER BY key", &[]).expect("keys").iter().map(|r| r.get(0)).collect();
    assert!(!keys.is_empty());
    let other = copy::copy_to_postgres(&two.conn, &mut to, 1000, |_| Ok(()));
    // Whatever happened, the target must not mix the two relays.
    let id2: Vec<u8> =
        two.conn.query_row("SELECT value FROM meta WHERE key='relay_id'", [], |r| r.get(0)).expect("id");
    let id1: Vec<u8> =
        one.conn.query_row("SELECT value FROM meta WHERE key='relay_id'", [], |r| r.get(0)).expect("id");
    let there: Vec<u8> = to.query_one("SELECT value FROM meta WHERE key='relay_id'", &[]).expect("id").get(0);
    if other.is_ok() {
        assert_eq!(there, id2);
        for k in ["epoch", "voucher_key", "relay_device"] {
            let a: Vec<u8> = to.query_one("SELECT value FROM meta WHERE key=$1", &[&k]).expect("k").get(0);
            let b: rusqlite::types::Value =
                two.conn.query_row("SELECT value FROM meta WHERE key=?1", [k], |r| r.get(0)).expect("k");
            let b = match b {
                rusqlite::types::Value::Blob(b) => b,
                rusqlite::types::Value::Integer(i) => i.to_be_bytes().to_vec(),
                v => panic!("{v:?}"),
            };
            assert_eq!(a, b, "{k} mixed");
        }
    } else {
        assert_eq!(there, id1);
    }
}

/// A target whose schema a newer relay migrated is refused, by the copy and by `migrate`.
#[test]
fn a_target_at_a_newer_schema_version_is_refused() {
    let Some(pg) = PgDb::new() else { return };
    let lite = sqlite_relay();
    let mut to = pg.connect();
    super::super::postgres::schema::migrate(&mut to).expect("migrate");
    to.batch_execute("CREATE TABLE later (x BIGINT); INSERT INTO schema_migrations(version) VALUES (2)")
        .expect("newer");
    let out = copy::copy_to_postgres(&lite.conn, &mut to, 1000, |_| Ok(())).expect_err("refused");
    assert!(out.to_string().contains("newer than this relay"), "{out}");
    assert!(super::super::postgres::schema::migrate(&mut to).is_err());
}

/// Values of other storage classes in the copied columns: TEXT in a BLOB column goes as its
/// bytes; an integer where an id belongs, or a BLOB in a TEXT column, is refused as damage.
#[test]
fn copied_values_of_other_kinds() {
    let Some(pg) = PgDb::new() else { return };
    let lite = sqlite_relay();
    lite.conn.execute("INSERT INTO meta(key, value) VALUES ('name', 'Phường Bến Thành')", []).expect("text");
    let mut to = pg.connect();
    copy::copy_to_postgres(&lite.conn, &mut to, 1000, |_| Ok(())).expect("copy");
    let name: Vec<u8> = to.query_one("SELECT value FROM meta WHERE key='name'", &[]).expect("n").get(0);
    assert_eq!(name, "Phường Bến Thành".as_bytes());
    lite.conn.execute("INSERT INTO units(id, parent, name) VALUES (7, NULL, 'số')", []).expect("int id");
    let refused = copy::copy_to_postgres(&lite.conn, &mut to, 1000, |_| Ok(()));
    assert!(refused.is_err(), "an integer unit id is refused");
    lite.conn.execute("DELETE FROM units WHERE id = 7", []).expect("delete");
    lite.conn
        .execute("INSERT INTO units(id, parent, name) VALUES (x'08', NULL, x'ff')", [])
        .expect("blob name");
    let refused = copy::copy_to_postgres(&lite.conn, &mut to, 1000, |_| Ok(()));
    assert!(refused.is_err(), "a blob in a TEXT column is refused");
}

/// After a copy run again over a relay that went on working, the next write on Postgres,
/// checked against the heads SQLite had, is stored.
#[test]
fn a_write_after_a_copy_run_again_is_stored() {
    let Some(mut pg) = PgDb::new() else { return };
    let mut lite = sqlite_relay();
    let a = unit(1);
    let w = device(1);
    lite.enroll(w, a);
    let none = HashMap::new();
    let mut d = Draft::new(w);
    let ch = d.edit(1);
    let h = d.heads();
    let p = push(doc_id(1), a, &ch, &h, std::slice::from_ref(&a), w, Some(a), &none);
    lite.write(|tx| store_checked(tx, &p, &Seen::Heads(Vec::new()))).expect("first");
    let mut to = pg.connect();
    copy::copy_to_postgres(&lite.conn, &mut to, 1000, |_| Ok(())).expect("first copy");
    let before = d.heads();
    let ch2 = d.edit(1);
    let h2 = d.heads();
    let p = push(doc_id(1), a, &ch2, &h2, std::slice::from_ref(&a), w, Some(a), &none);
    lite.write(|tx| store_checked(tx, &p, &Seen::Row(1))).expect("more");
    copy::copy_to_postgres(&lite.conn, &mut to, 1000, |_| Ok(())).expect("second copy says it is whole");
    let b3 = d.heads();
    d.doc.put(ROOT, "ghi_chú", "Đã gửi Ủy ban").expect("put");
    d.doc.commit();
    let ch3 = d.doc.get_changes(&b3);
    let h3 = d.heads();
    let p = push(doc_id(1), a, &ch3, &h3, std::slice::from_ref(&a), w, Some(a), &none);
    let out = pg.write(|tx| store_checked(tx, &p, &Seen::Heads(h2.clone()))).expect("stored");
    assert!(matches!(out, Stored::Stored { grew: true, .. }), "{out:?}");
    let _ = (before, h);
}
