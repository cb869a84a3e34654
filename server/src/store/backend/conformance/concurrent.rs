//! What only several writers at once can break, on PostgreSQL: positions in commit order, the
//! outbox gap a sequence cursor falls into, a reader pulling during concurrent writes, and two
//! writers checking one document.

use super::*;

/// Two writers on one unit's log: the second waits for the first's commit, so positions
/// follow commit order.
#[test]
fn a_second_writer_to_a_unit_log_waits_for_the_first_to_commit() {
    let Some(mut db) = PgDb::new() else { return };
    let (phuong, quan) = (unit(1), unit(2));
    let (lan, duc) = (device(1), device(2));
    db.enroll(lan, phuong);
    db.enroll(duc, phuong);
    let none = HashMap::new();
    let mut readers = vec![phuong, quan];
    readers.sort();
    // Both logs already have an entry, so their tops exist: the lock on them, not the insert
    // of a first top, is what must hold the second writer.
    let mut d0 = Draft::new(lan);
    let c0 = d0.edit(1);
    let h0 = d0.heads();
    let p0 = push(doc_id(9), phuong, &c0, &h0, &readers, lan, Some(phuong), &none);
    db.write(|tx| store_checked(tx, &p0, &Seen::Heads(Vec::new()))).expect("store");

    let mut first = db.connect();
    let mut tx = first.transaction().expect("begin");
    let mut d1 = Draft::new(lan);
    let c1 = d1.edit(1);
    let h1 = d1.heads();
    let p1 = push(doc_id(1), phuong, &c1, &h1, &readers, lan, Some(phuong), &none);
    store_checked(&mut Postgres(&mut tx), &p1, &Seen::Heads(Vec::new())).expect("first store");

    let mut second = db.connect();
    let pid = backend_pid(&mut second);
    let readers2 = readers.clone();
    let writer = std::thread::spawn(move || {
        let mut d2 = Draft::new(duc);
        let c2 = d2.edit(1);
        let h2 = d2.heads();
        let none = HashMap::new();
        let p2 = push(doc_id(2), phuong, &c2, &h2, &readers2, duc, Some(phuong), &none);
        let mut tx = second.transaction().expect("begin");
        store_checked(&mut Postgres(&mut tx), &p2, &Seen::Heads(Vec::new())).expect("second store");
        tx.commit().expect("second commit");
        c2[0].hash()
    });
    wait_until_blocked(&db, pid);
    // Nothing of either is visible yet.
    assert_eq!(db.read(|r| r.top(quan)).expect("top").pos, 1);
    tx.commit().expect("first commit");
    let second_hash = writer.join().expect("second writer");
    for u in &readers {
        let log = db.read(|r| r.entries(*u, 0, 10)).expect("log");
        let got: Vec<_> = log.iter().map(|e| (e.pos, e.hash)).collect();
        assert_eq!(
            got,
            vec![(1, c0[0].hash()), (2, c1[0].hash()), (3, second_hash)],
            "positions follow commit order"
        );
    }
}

/// The outbox gap: with a sequence number as the cursor, a reader passes over a change whose
/// number was taken before another's but which committed after it. This is why no cursor is a
/// sequence number (the unit logs are positioned under a lock instead).
#[test]
fn a_plain_sequence_as_cursor_passes_over_a_change_that_commits_late() {
    let Some(mut db) = PgDb::new() else { return };
    let phuong = unit(1);
    let only = [phuong];
    let cadre = device(1);
    db.enroll(cadre, phuong);
    let none = HashMap::new();
    let mut draft = Draft::new(cadre);
    let base = draft.edit(1);
    let h = draft.heads();
    let p = push(doc_id(1), phuong, &base, &h, &only, cadre, Some(phuong), &none);
    let Stored::Stored { n, .. } =
        db.write(|tx| store_checked(tx, &p, &Seen::Heads(Vec::new()))).expect("store")
    else {
        panic!("new")
    };
    let more = draft.edit(2);

    let mut slow = db.connect();
    let mut slow_tx = slow.transaction().expect("begin");
    let early = Postgres(&mut slow_tx)
        .insert_change(n, more[0].hash(), more[0].raw_bytes(), cadre, NOW)
        .expect("insert")
        .expect("new");
    let mut fast = db.connect();
    let late = Postgres(&mut fast)
        .insert_change(n, more[1].hash(), more[1].raw_bytes(), cadre, NOW)
        .expect("insert")
        .expect("new");
    assert!(early < late);
    let mut reader = db.connect();
    let read_after = |reader: &mut postgres::Client, cursor: i64| -> Vec<i64> {
        reader
            .query("SELECT seq FROM changes WHERE seq > $1 ORDER BY seq", &[&cursor])
            .expect("read")
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    let first_page = read_after(&mut reader, 0);
    let cursor = *first_page.last().expect("a page");
    assert_eq!(cursor, late, "the reader sees the later number first");
    slow_tx.commit().expect("commit");
    let second_page = read_after(&mut reader, cursor);
    let seen: HashSet<i64> = first_page.iter().chain(&second_page).copied().collect();
    assert!(
        !seen.contains(&early),
        "a sequence cursor passed over change {early}, which committed after {late}"
    );
}

/// Writers on several connections store documents read by one unit while a reader pulls that
/// unit's log page by page: the reader ends with every change, once each, in position order.
#[test]
fn a_reader_pulling_during_concurrent_writes_misses_nothing() {
    let Some(db) = PgDb::new() else { return };
    const WRITERS: u8 = 6;
    const DOCS: u32 = 25;
    let quan = unit(100);
    let mut setup = db.connect();
    for w in 0..WRITERS {
        enroll_pg(&mut setup, device(w + 1), unit(w + 1));
    }
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let mut client = db.connect();
            std::thread::spawn(move || {
                let (dev, own) = (device(w + 1), unit(w + 1));
                let mut readers = vec![own, quan];
                readers.sort();
                let none = HashMap::new();
                let mut stored = Vec::new();
                for i in 0..DOCS {
                    let mut draft = Draft::new(dev);
                    let changes = draft.edit(1 + (i % 3) as usize);
                    let heads = draft.heads();
                    let id = doc_id(u32::from(w) * 1000 + i);
                    let p = push(id, own, &changes, &heads, &readers, dev, Some(own), &none);
                    let mut tx = client.transaction().expect("begin");
                    store_checked(&mut Postgres(&mut tx), &p, &Seen::Heads(Vec::new())).expect("store");
                    tx.commit().expect("commit");
                    stored.extend(changes.iter().map(|c| c.hash()));
                }
                stored
            })
        })
        .collect();
    let mut reader = db.connect();
    let mut cursor = 0i64;
    let mut pulled: Vec<(i64, ChangeHash)> = Vec::new();
    loop {
        // Read before the page: a page read after every writer ended is the last one needed.
        let finished = writers.iter().all(|w| w.is_finished());
        let page = Postgres(&mut reader).entries(quan, cursor, 7).expect("pull");
        if let Some(last) = page.last() {
            cursor = last.pos;
        }
        let empty = page.is_empty();
        pulled.extend(page.into_iter().map(|e| (e.pos, e.hash)));
        if finished && empty {
            break;
        }
    }
    let mut written: Vec<ChangeHash> = writers.into_iter().flat_map(|w| w.join().expect("writer")).collect();
    let positions: Vec<i64> = pulled.iter().map(|(p, _)| *p).collect();
    assert_eq!(positions, (1..=written.len() as i64).collect::<Vec<_>>(), "every position once, in order");
    let mut got: Vec<ChangeHash> = pulled.into_iter().map(|(_, h)| h).collect();
    got.sort();
    written.sort();
    assert_eq!(got, written, "the reader holds every change stored");
}

/// Two relays check pushes to one document against the same heads: the second to store finds
/// the row changed under its lock and is told to check again; it never stores alongside.
#[test]
fn two_writers_checking_one_document_cannot_both_store() {
    let Some(mut db) = PgDb::new() else { return };
    let phuong = unit(1);
    let only = [phuong];
    let (lan, duc) = (device(1), device(2));
    db.enroll(lan, phuong);
    db.enroll(duc, phuong);
    let none = HashMap::new();
    let mut draft = Draft::new(lan);
    let base = draft.edit(1);
    let h0 = draft.heads();
    let p = push(doc_id(1), phuong, &base, &h0, &only, lan, Some(phuong), &none);
    db.write(|tx| store_checked(tx, &p, &Seen::Heads(Vec::new()))).expect("store");

    let mut theirs = AutoCommit::load(&draft.doc.save()).expect("load").with_actor(duc.actor_id());
    let mine = draft.edit(1);
    let h_mine = draft.heads();
    let before = theirs.get_heads();
    theirs.put(ROOT, "nội_dung", "Đã hoàn thành").expect("put");
    theirs.commit();
    let their_changes = theirs.get_changes(&before);
    let h_theirs = theirs.get_heads();

    let mut first = db.connect();
    let mut tx = first.transaction().expect("begin");
    let p1 = push(doc_id(1), phuong, &mine, &h_mine, &only, lan, Some(phuong), &none);
    let stored = store_checked(&mut Postgres(&mut tx), &p1, &Seen::Heads(h0.clone())).expect("first");
    assert!(matches!(stored, Stored::Stored { grew: true, .. }));

    let mut second = db.connect();
    let pid = backend_pid(&mut second);
    let h0_again = h0.clone();
    let other = std::thread::spawn(move || {
        let none = HashMap::new();
        let p2 = push(doc_id(1), phuong, &their_changes, &h_theirs, &only, duc, Some(phuong), &none);
        let mut tx = second.transaction().expect("begin");
        let out = store_checked(&mut Postgres(&mut tx), &p2, &Seen::Heads(h0_again)).expect("second");
        tx.commit().expect("commit");
        out
    });
    wait_until_blocked(&db, pid);
    tx.commit().expect("first commit");
    assert_eq!(other.join().expect("second writer"), Stored::Stale);
    let log = db.read(|r| r.entries(phuong, 0, 10)).expect("log");
    assert_eq!(log.iter().map(|e| e.hash).collect::<Vec<_>>(), vec![base[0].hash(), mine[0].hash()]);
}
