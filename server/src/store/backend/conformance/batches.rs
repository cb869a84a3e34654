//! A group of pushes stored by `store_batch` gives what the same pushes stored one by one give,
//! on each backend.

use super::*;

/// A batch of pushes stored at once, and the same pushes stored one after another: the same
/// answers, and the same logs, tops, heads and own tops.
fn a_batch_is_stored_as_its_pushes_one_by_one(batch: &mut impl TestDb, one_by_one: &mut impl TestDb) {
    let (ben_thanh, da_kao, quan1) = (unit(1), unit(2), unit(3));
    let (lan, duc) = (device(1), device(2));
    for db in [&mut *batch as &mut dyn EnrollOnly, &mut *one_by_one] {
        db.enroll_device(lan, ben_thanh);
        db.enroll_device(duc, da_kao);
    }
    let none = HashMap::new();
    let mut ra = vec![ben_thanh, quan1];
    ra.sort();
    let mut rb = vec![da_kao, quan1];
    rb.sort();
    let mut a = Draft::new(lan);
    let a0 = a.edit(2);
    let ha0 = a.heads();
    let before = push(doc_id(1), ben_thanh, &a0, &ha0, &ra, lan, Some(ben_thanh), &none);
    let Stored::Stored { n: na, .. } =
        batch.write(|tx| store_checked(tx, &before, &Seen::Heads(Vec::new()))).expect("store")
    else {
        panic!("new")
    };
    one_by_one.write(|tx| store_checked(tx, &before, &Seen::Heads(Vec::new()))).expect("store");
    let a1 = a.edit(1);
    let ha1 = a.heads();
    let a2 = a.edit(1);
    let ha2 = a.heads();
    let mut b = Draft::new(duc);
    let b0 = b.edit(2);
    let hb0 = b.heads();
    let b1 = b.edit(1);
    let hb1 = b.heads();
    let b_again: Vec<Change> = vec![b0[1].clone(), b1[0].clone()];
    let mut c = Draft::new(duc);
    let c0 = c.edit(1);
    let hc0 = c.heads();
    let proven: HashMap<ChangeHash, i64> = [(b0[0].hash(), NOW - 3_600_000)].into();
    let pushes = vec![
        (push(doc_id(1), ben_thanh, &a1, &ha1, &ra, lan, Some(ben_thanh), &none), Seen::Heads(ha0.clone())),
        (push(doc_id(2), da_kao, &b0, &hb0, &rb, duc, Some(da_kao), &proven), Seen::Heads(Vec::new())),
        (push(doc_id(1), ben_thanh, &a2, &ha2, &ra, lan, Some(ben_thanh), &none), Seen::Heads(ha1.clone())),
        // Checked against heads the batch has already moved on from.
        (push(doc_id(1), ben_thanh, &a2, &ha2, &ra, duc, None, &none), Seen::Heads(ha0.clone())),
        (push(doc_id(2), da_kao, &b_again, &hb1, &rb, duc, Some(da_kao), &none), Seen::Heads(hb0.clone())),
        // A document nobody stored, checked as if it had been.
        (push(doc_id(3), da_kao, &c0, &hc0, &rb, duc, Some(da_kao), &none), Seen::Heads(hc0.clone())),
        // Only changes already held, by a reader's device.
        (push(doc_id(1), ben_thanh, &a1, &ha2, &ra, duc, None, &none), Seen::Row(na)),
    ];
    let together = batch.write(|tx| store_batch(tx, &pushes)).expect("batch");
    let apart: Vec<Stored> = one_by_one
        .write(|tx| pushes.iter().map(|(c, seen)| store_checked(tx, c, seen)).collect())
        .expect("one by one");
    assert_eq!(together, apart);
    assert_eq!(together[3], Stored::Stale);
    assert_eq!(together[5], Stored::Stale);
    assert!(matches!(together[6], Stored::Stored { grew: false, .. }));
    let strip = |e: Vec<Entry>| -> Vec<_> {
        e.into_iter()
            .map(|e| (e.pos, e.digest, e.doc, e.hash, e.bytes, e.received_at, e.device, e.restamp))
            .collect()
    };
    for u in [ben_thanh, da_kao, quan1] {
        let x = strip(batch.read(|r| r.entries(u, 0, 1000)).expect("log"));
        let y = strip(one_by_one.read(|r| r.entries(u, 0, 1000)).expect("log"));
        assert_eq!(x, y, "the log of unit {u}");
        assert_eq!(batch.read(|r| r.top(u)).expect("top"), one_by_one.read(|r| r.top(u)).expect("top"));
    }
    let log = batch.read(|r| r.entries(quan1, 0, 1000)).expect("log");
    assert_eq!(log.len(), 2 + 1 + 1 + 2 + 1);
    for d in [lan, duc] {
        assert_eq!(
            batch.read(|r| r.own_top(d)).expect("own"),
            one_by_one.read(|r| r.own_top(d)).expect("own")
        );
    }
    for id in [doc_id(1), doc_id(2), doc_id(3)] {
        let x = batch.write(|tx| tx.lock_doc(id)).expect("row").map(|r| r.heads);
        let y = one_by_one.write(|tx| tx.lock_doc(id)).expect("row").map(|r| r.heads);
        assert_eq!(x, y);
    }
}

/// `TestDb` without its generic methods, to enroll in either of two databases in one loop.
trait EnrollOnly {
    fn enroll_device(&mut self, device: DeviceId, unit: UnitId);
}

impl<T: TestDb> EnrollOnly for T {
    fn enroll_device(&mut self, device: DeviceId, unit: UnitId) {
        self.enroll(device, unit);
    }
}

#[test]
fn on_sqlite_a_batch_is_stored_as_its_pushes_one_by_one() {
    a_batch_is_stored_as_its_pushes_one_by_one(&mut SqliteDb::new(), &mut SqliteDb::new());
}

#[test]
fn on_postgres_a_batch_is_stored_as_its_pushes_one_by_one() {
    let (Some(mut a), Some(mut b)) = (PgDb::new(), PgDb::new()) else { return };
    a_batch_is_stored_as_its_pushes_one_by_one(&mut a, &mut b);
}
