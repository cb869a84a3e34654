//! One suite over every backend of the log (`every_backend!`), as a store suite runs over
//! each of its stores: the same writes must give the same positions, digests and entries on
//! SQLite and on PostgreSQL. Then what only several writers at once can break, on Postgres:
//! the cursor under concurrent commits (and that a plain sequence number fails there), and two
//! writers checking one document.
//!
//! Postgres comes from `GIAOBAN_TEST_POSTGRES` (a URL of a server where databases may be
//! created; `scripts/postgres.sh start` runs one). Without it these tests say they were
//! skipped, except in CI (`CI` set), where they fail.

#![allow(clippy::expect_used, clippy::too_many_arguments)]

use std::collections::{HashMap, HashSet};

use automerge::transaction::Transactable;
use automerge::{AutoCommit, Change, ChangeHash, ROOT};
use giaoban_protocol::schema::DocKind;
use giaoban_protocol::seal::chain_digest;
use giaoban_protocol::wire::Witness;
use giaoban_protocol::{DeviceId, DocId, UnitId};

use super::postgres::Postgres;
use super::sqlite::Sqlite;
use super::{
    Checked, Entry, LogRead, LogTx, Seen, Stored, Top, append_changes, store_batch, store_checked,
    witness_holds,
};
use crate::store::Result;

/// A fresh database of one backend, for one test.
trait TestDb {
    /// Runs `f` in a write transaction and commits it.
    fn write<T>(&mut self, f: impl FnOnce(&mut dyn LogTx) -> Result<T>) -> Result<T>;
    /// Runs `f` on a read connection.
    fn read<T>(&mut self, f: impl FnOnce(&mut dyn LogRead) -> Result<T>) -> Result<T>;
    /// Enrolls `device` in `unit` (the rows a sync would find).
    fn enroll(&mut self, device: DeviceId, unit: UnitId);
}

struct SqliteDb {
    _dir: tempfile::TempDir,
    conn: rusqlite::Connection,
}

impl SqliteDb {
    fn new() -> SqliteDb {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut conn = crate::store::open_connection(&dir.path().join("relay.sqlite")).expect("open");
        crate::store::schema::migrate(&mut conn).expect("migrate");
        SqliteDb { _dir: dir, conn }
    }
}

impl TestDb for SqliteDb {
    fn write<T>(&mut self, f: impl FnOnce(&mut dyn LogTx) -> Result<T>) -> Result<T> {
        let tx = self.conn.transaction()?;
        let out = f(&mut Sqlite(&tx))?;
        tx.commit()?;
        Ok(out)
    }

    fn read<T>(&mut self, f: impl FnOnce(&mut dyn LogRead) -> Result<T>) -> Result<T> {
        f(&mut Sqlite(&self.conn))
    }

    fn enroll(&mut self, device: DeviceId, unit: UnitId) {
        self.conn
            .execute(
                "INSERT INTO devices(id, unit, token_hash, label, created_at) VALUES (?1, ?2, ?3, 'Máy của chị Lan', 0)",
                rusqlite::params![
                    device.to_bytes().to_vec(),
                    unit.to_bytes().to_vec(),
                    crate::store::sha256(&device.to_string())
                ],
            )
            .expect("enroll");
    }
}

/// A database of its own on the test server, dropped at the end.
struct PgDb {
    admin_url: String,
    name: String,
    url: String,
    client: postgres::Client,
}

impl PgDb {
    /// A fresh database, or `None` (and a line saying so) when no server is given outside CI.
    fn new() -> Option<PgDb> {
        let admin_url = postgres_url()?;
        let name = format!("giaoban_test_{:016x}", rand::random::<u64>());
        let mut admin =
            postgres::Client::connect(&admin_url, postgres::NoTls).expect("connect to the test server");
        admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create a test database");
        let url = with_database(&admin_url, &name);
        let mut client =
            postgres::Client::connect(&url, postgres::NoTls).expect("connect to the test database");
        super::postgres::schema::migrate(&mut client).expect("migrate");
        Some(PgDb { admin_url, name, url, client })
    }

    fn connect(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("connect to the test database")
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

impl TestDb for PgDb {
    fn write<T>(&mut self, f: impl FnOnce(&mut dyn LogTx) -> Result<T>) -> Result<T> {
        let mut tx = self.client.transaction()?;
        let out = f(&mut Postgres(&mut tx))?;
        tx.commit()?;
        Ok(out)
    }

    fn read<T>(&mut self, f: impl FnOnce(&mut dyn LogRead) -> Result<T>) -> Result<T> {
        f(&mut Postgres(&mut self.client))
    }

    fn enroll(&mut self, device: DeviceId, unit: UnitId) {
        enroll_pg(&mut self.client, device, unit);
    }
}

fn enroll_pg(client: &mut postgres::Client, device: DeviceId, unit: UnitId) {
    client
        .execute(
            "INSERT INTO devices(id, unit, token_hash, label, created_at) VALUES ($1, $2, $3, 'Máy của anh Đức', 0)",
            &[
                &device.to_bytes().as_slice(),
                &unit.to_bytes().as_slice(),
                &crate::store::sha256(&device.to_string()),
            ],
        )
        .expect("enroll");
}

/// The test server's URL, or `None` after saying the Postgres part is skipped. In CI a
/// missing server is a failure, not a skip.
fn postgres_url() -> Option<String> {
    match std::env::var("GIAOBAN_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => panic!(
            "GIAOBAN_TEST_POSTGRES is not set: in CI the PostgreSQL tests must run (scripts/test.sh starts a server with scripts/postgres.sh)"
        ),
        _ => {
            eprintln!(
                "skipped: the PostgreSQL half of this test (set GIAOBAN_TEST_POSTGRES to a server's URL; scripts/postgres.sh start runs one)"
            );
            None
        }
    }
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

fn unit(n: u8) -> UnitId {
    UnitId::from_parts(1_700_000_000_000 + u64::from(n), [n; 10])
}

fn device(n: u8) -> DeviceId {
    DeviceId::from_parts(1_700_000_000_000 + u64::from(n), [n; 10])
}

fn doc_id(n: u32) -> DocId {
    let mut r = [0u8; 10];
    r[..4].copy_from_slice(&n.to_be_bytes());
    DocId::from_parts(1_700_000_000_000, r)
}

/// A report being written: `edits` changes, each setting a figure and the section text to
/// values they never had before (a put of the value already there makes no change).
struct Draft {
    doc: AutoCommit,
    edits: i64,
}

impl Draft {
    fn new(author: DeviceId) -> Draft {
        Draft { doc: AutoCommit::new().with_actor(author.actor_id()), edits: 0 }
    }

    /// Makes `edits` more changes; returns them.
    fn edit(&mut self, edits: usize) -> Vec<Change> {
        let before = self.doc.get_heads();
        for _ in 0..edits {
            self.edits += 1;
            let n = self.edits;
            self.doc
                .put(ROOT, "nội_dung", format!("Phường Bến Thành đã tổ chức {n} buổi tuyên truyền"))
                .expect("put");
            self.doc.put(ROOT, "số_hộ", n * 7).expect("put");
            self.doc.commit();
        }
        let changes = self.doc.get_changes(&before);
        assert_eq!(changes.len(), edits, "each edit is a change");
        changes
    }

    fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }
}

const NOW: i64 = 1_764_547_200_000;

/// A push of `changes` to `doc` by `pusher` of `pusher_unit`, read by `readers`.
fn push<'a>(
    doc: DocId,
    owner: UnitId,
    changes: &'a [Change],
    heads: &'a [ChangeHash],
    readers: &'a [UnitId],
    pusher: DeviceId,
    pusher_unit: Option<UnitId>,
    received: &'a HashMap<ChangeHash, i64>,
) -> Checked<'a> {
    Checked {
        doc,
        kind: DocKind::Report,
        owner,
        changes,
        heads,
        readers_if_new: readers,
        pusher,
        pusher_unit,
        received,
        now: NOW,
    }
}

/// The digests a log of these (document, hash, receipt time) entries must have.
fn expected_chain(entries: &[(DocId, ChangeHash, i64)]) -> Vec<[u8; 16]> {
    let mut prev = [0u8; 16];
    entries
        .iter()
        .enumerate()
        .map(|(i, (doc, hash, at))| {
            prev = chain_digest(&prev, i as u64 + 1, *doc, &hash.0, *at);
            prev
        })
        .collect()
}

mod cases {
    use super::*;
    use crate::store::backend::{append_document, restamp};

    pub fn a_new_document_reaches_the_log_of_every_reader(db: &mut impl TestDb) {
        let (phuong, quan) = (unit(1), unit(2));
        let cadre = device(1);
        db.enroll(cadre, phuong);
        let mut readers = vec![phuong, quan];
        readers.sort();
        let mut draft = Draft::new(cadre);
        let changes = draft.edit(3);
        let heads = draft.heads();
        let none = HashMap::new();
        let c = push(doc_id(1), phuong, &changes, &heads, &readers, cadre, Some(phuong), &none);
        let stored = db.write(|tx| store_checked(tx, &c, &Seen::Heads(Vec::new()))).expect("store");
        let Stored::Stored { readers: got, grew, .. } = stored else {
            panic!("a new document is never stale")
        };
        assert_eq!(got, readers);
        assert!(grew);
        let want: Vec<_> = changes.iter().map(|ch| (doc_id(1), ch.hash(), NOW)).collect();
        let digests = expected_chain(&want);
        for u in &readers {
            let entries = db.read(|r| r.entries(*u, 0, 100)).expect("entries");
            assert_eq!(entries.iter().map(|e| e.pos).collect::<Vec<_>>(), vec![1, 2, 3]);
            assert_eq!(entries.iter().map(|e| e.digest).collect::<Vec<_>>(), digests);
            for (e, ch) in entries.iter().zip(&changes) {
                assert_eq!((e.doc, e.hash, e.received_at, e.device), (doc_id(1), ch.hash(), NOW, cadre));
                assert_eq!(e.bytes, ch.raw_bytes());
                assert!(!e.restamp);
            }
            let top = db.read(|r| r.top(*u)).expect("top");
            assert_eq!(top, Top { pos: 3, digest: digests[2] });
            assert!(db.read(|r| witness_holds(r, *u, top.into())).expect("witness"));
            let mut wrong: Witness = top.into();
            wrong.digest[0] ^= 1;
            assert!(!db.read(|r| witness_holds(r, *u, wrong)).expect("witness"));
            assert!(
                !db.read(|r| witness_holds(r, *u, Witness { pos: 4, digest: digests[2] })).expect("witness")
            );
        }
        assert_eq!(db.read(|r| r.own_top(cadre)).expect("own top"), 3);
        assert_eq!(db.read(|r| r.top(unit(9))).expect("top"), Top::default());
    }

    pub fn changes_already_held_are_not_logged_again(db: &mut impl TestDb) {
        let phuong = unit(1);
        let cadre = device(1);
        db.enroll(cadre, phuong);
        let readers = [phuong];
        let mut draft = Draft::new(cadre);
        let first = draft.edit(2);
        let h1 = draft.heads();
        let none = HashMap::new();
        let c = push(doc_id(7), phuong, &first, &h1, &readers, cadre, Some(phuong), &none);
        db.write(|tx| store_checked(tx, &c, &Seen::Heads(Vec::new()))).expect("store");
        // The same push again (a retry after a lost answer), then one with an old change and a
        // new one.
        let c = push(doc_id(7), phuong, &first, &h1, &readers, cadre, Some(phuong), &none);
        let again = db.write(|tx| store_checked(tx, &c, &Seen::Heads(h1.clone()))).expect("store");
        assert!(matches!(again, Stored::Stored { grew: false, .. }));
        let second = draft.edit(1);
        let h2 = draft.heads();
        let mixed: Vec<Change> = vec![first[1].clone(), second[0].clone()];
        let c = push(doc_id(7), phuong, &mixed, &h2, &readers, cadre, Some(phuong), &none);
        db.write(|tx| store_checked(tx, &c, &Seen::Heads(h1.clone()))).expect("store");
        let entries = db.read(|r| r.entries(phuong, 0, 100)).expect("entries");
        let hashes: Vec<_> = entries.iter().map(|e| e.hash).collect();
        assert_eq!(hashes, vec![first[0].hash(), first[1].hash(), second[0].hash()]);
        assert_eq!(db.read(|r| r.top(phuong)).expect("top").pos, 3);
    }

    pub fn a_push_checked_against_other_heads_is_stale(db: &mut impl TestDb) {
        let phuong = unit(1);
        let cadre = device(1);
        db.enroll(cadre, phuong);
        let readers = [phuong];
        let mut draft = Draft::new(cadre);
        let first = draft.edit(1);
        let h1 = draft.heads();
        let none = HashMap::new();
        let c = push(doc_id(3), phuong, &first, &h1, &readers, cadre, Some(phuong), &none);
        db.write(|tx| store_checked(tx, &c, &Seen::Heads(Vec::new()))).expect("store");
        let next = draft.edit(1);
        let h2 = draft.heads();
        let c = push(doc_id(3), phuong, &next, &h2, &readers, cadre, Some(phuong), &none);
        // Checked as a new document, but another writer stored it first.
        let stale = db.write(|tx| store_checked(tx, &c, &Seen::Heads(Vec::new()))).expect("store");
        assert_eq!(stale, Stored::Stale);
        // Checked against heads the document has moved on from.
        let stale = db.write(|tx| store_checked(tx, &c, &Seen::Heads(h2.clone()))).expect("store");
        assert_eq!(stale, Stored::Stale);
        // Checked against a document the relay does not have.
        let c = push(doc_id(4), phuong, &next, &h2, &readers, cadre, Some(phuong), &none);
        let stale = db.write(|tx| store_checked(tx, &c, &Seen::Heads(h1.clone()))).expect("store");
        assert_eq!(stale, Stored::Stale);
        assert_eq!(db.read(|r| r.top(phuong)).expect("top").pos, 1, "nothing of a stale push is stored");
    }

    pub fn a_unit_log_numbers_every_document_it_reads_in_one_sequence(db: &mut impl TestDb) {
        let (ben_thanh, da_kao, quan1) = (unit(1), unit(2), unit(3));
        let (lan, duc) = (device(1), device(2));
        db.enroll(lan, ben_thanh);
        db.enroll(duc, da_kao);
        let none = HashMap::new();
        let mut want_quan1 = Vec::new();
        for round in 0..4u32 {
            for (i, (dev, u)) in [(lan, ben_thanh), (duc, da_kao)].into_iter().enumerate() {
                let mut readers = vec![u, quan1];
                readers.sort();
                let mut draft = Draft::new(dev);
                let changes = draft.edit(1 + i);
                let heads = draft.heads();
                let id = doc_id(round * 2 + i as u32 + 10);
                let c = push(id, u, &changes, &heads, &readers, dev, Some(u), &none);
                db.write(|tx| store_checked(tx, &c, &Seen::Heads(Vec::new()))).expect("store");
                want_quan1.extend(changes.iter().map(|ch| (id, ch.hash(), NOW)));
            }
        }
        let all = db.read(|r| r.entries(quan1, 0, 1000)).expect("entries");
        assert_eq!(all.iter().map(|e| (e.doc, e.hash, e.received_at)).collect::<Vec<_>>(), want_quan1);
        assert_eq!(all.iter().map(|e| e.digest).collect::<Vec<_>>(), expected_chain(&want_quan1));
        assert_eq!(db.read(|r| r.entries(ben_thanh, 0, 1000)).expect("entries").len(), 4);
        assert_eq!(db.read(|r| r.entries(da_kao, 0, 1000)).expect("entries").len(), 8);
        assert_eq!(db.read(|r| r.own_top(duc)).expect("own top"), 8);
        // Pages: every entry once, in order, whatever the page size.
        for limit in [1u32, 3, 5] {
            let mut after = 0;
            let mut paged = Vec::new();
            loop {
                let page = db.read(|r| r.entries(quan1, after, limit)).expect("page");
                let Some(last) = page.last() else { break };
                after = last.pos;
                paged.extend(page);
            }
            assert_eq!(paged, all);
        }
    }

    pub fn receipt_times_proven_earlier_are_kept(db: &mut impl TestDb) {
        let phuong = unit(1);
        let only = [phuong];
        let cadre = device(1);
        db.enroll(cadre, phuong);
        let mut draft = Draft::new(cadre);
        let changes = draft.edit(2);
        let heads = draft.heads();
        let proven: HashMap<ChangeHash, i64> = [(changes[0].hash(), NOW - 86_400_000)].into();
        // A reader's device carries the changes back; they are not its unit's own.
        let c = push(doc_id(5), phuong, &changes, &heads, &only, cadre, None, &proven);
        db.write(|tx| store_checked(tx, &c, &Seen::Heads(Vec::new()))).expect("store");
        let entries = db.read(|r| r.entries(phuong, 0, 10)).expect("entries");
        assert_eq!(entries.iter().map(|e| e.received_at).collect::<Vec<_>>(), vec![NOW - 86_400_000, NOW]);
        assert_eq!(db.read(|r| r.own_top(cadre)).expect("own top"), 0);
    }

    pub fn appending_to_a_document_the_caller_holds(db: &mut impl TestDb) {
        let phuong = unit(1);
        let only = [phuong];
        let cadre = device(1);
        db.enroll(cadre, phuong);
        let mut draft = Draft::new(cadre);
        let first = draft.edit(1);
        let h1 = draft.heads();
        let none = HashMap::new();
        let c = push(doc_id(6), phuong, &first, &h1, &only, cadre, Some(phuong), &none);
        let Stored::Stored { n, .. } =
            db.write(|tx| store_checked(tx, &c, &Seen::Heads(Vec::new()))).expect("store")
        else {
            panic!("new")
        };
        let more = draft.edit(2);
        let h2 = draft.heads();
        let c = push(doc_id(6), phuong, &more, &h2, &only, cadre, Some(phuong), &none);
        let added = db.write(|tx| append_changes(tx, n, &only, &c)).expect("append");
        assert_eq!(added, 2);
        let stored = db.write(|tx| store_checked(tx, &c, &Seen::Row(n))).expect("store");
        assert!(matches!(stored, Stored::Stored { grew: false, .. }));
        assert_eq!(db.read(|r| r.top(phuong)).expect("top").pos, 3);
    }

    pub fn a_receipt_proven_earlier_is_restamped_by_new_entries(db: &mut impl TestDb) {
        let (phuong, quan) = (unit(1), unit(2));
        let cadre = device(1);
        db.enroll(cadre, phuong);
        let mut readers = vec![phuong, quan];
        readers.sort();
        let mut draft = Draft::new(cadre);
        let changes = draft.edit(2);
        let heads = draft.heads();
        let none = HashMap::new();
        let c = push(doc_id(1), phuong, &changes, &heads, &readers, cadre, Some(phuong), &none);
        let Stored::Stored { n, .. } =
            db.write(|tx| store_checked(tx, &c, &Seen::Heads(Vec::new()))).expect("store")
        else {
            panic!("new")
        };
        let earlier = NOW - 7_200_000;
        let proven: HashMap<ChangeHash, i64> =
            [(changes[1].hash(), earlier), (changes[0].hash(), NOW + 5)].into();
        let grown = db.write(|tx| restamp(tx, doc_id(1), n, &proven)).expect("restamp");
        assert_eq!(grown, readers);
        let mut chain = vec![(doc_id(1), changes[0].hash(), NOW), (doc_id(1), changes[1].hash(), NOW)];
        chain.push((doc_id(1), changes[1].hash(), earlier));
        for u in &readers {
            let log = db.read(|r| r.entries(*u, 0, 10)).expect("log");
            assert_eq!(log.len(), 3, "one new entry; those seen stay");
            assert_eq!(log.iter().map(|e| e.restamp).collect::<Vec<_>>(), vec![false, false, true]);
            assert_eq!(log.iter().map(|e| e.digest).collect::<Vec<_>>(), expected_chain(&chain));
            assert_eq!(log[2].hash, changes[1].hash());
            // The change itself now carries the earlier time, wherever it is read.
            assert!(log.iter().filter(|e| e.hash == changes[1].hash()).all(|e| e.received_at == earlier));
        }
        // The same proof again, or a later time: nothing more.
        let again = db.write(|tx| restamp(tx, doc_id(1), n, &proven)).expect("restamp");
        assert!(again.is_empty());
        assert_eq!(db.read(|r| r.top(quan)).expect("top").pos, 3);
    }

    pub fn a_unit_that_starts_reading_gets_the_changes_after_what_it_held(db: &mut impl TestDb) {
        let (phuong, ban) = (unit(1), unit(4));
        let cadre = device(1);
        db.enroll(cadre, phuong);
        let mut draft = Draft::new(cadre);
        let first = draft.edit(2);
        let h1 = draft.heads();
        let none = HashMap::new();
        let only = [phuong];
        let c = push(doc_id(1), phuong, &first, &h1, &only, cadre, Some(phuong), &none);
        let Stored::Stored { n, .. } =
            db.write(|tx| store_checked(tx, &c, &Seen::Heads(Vec::new()))).expect("store")
        else {
            panic!("new")
        };
        let seq_of_first = db.read(|r| r.entries(phuong, 0, 10)).expect("log")[0].seq;
        let more = draft.edit(1);
        let h2 = draft.heads();
        let c = push(doc_id(1), phuong, &more, &h2, &only, cadre, Some(phuong), &none);
        db.write(|tx| store_checked(tx, &c, &Seen::Heads(h1.clone()))).expect("store");
        // The unit held the document up to its first change when it stopped reading it.
        let added = db.write(|tx| append_document(tx, ban, n, doc_id(1), seq_of_first)).expect("append");
        assert_eq!(added, 2);
        let log = db.read(|r| r.entries(ban, 0, 10)).expect("log");
        let want = vec![(doc_id(1), first[1].hash(), NOW), (doc_id(1), more[0].hash(), NOW)];
        assert_eq!(log.iter().map(|e| (e.doc, e.hash, e.received_at)).collect::<Vec<_>>(), want);
        assert_eq!(log.iter().map(|e| e.digest).collect::<Vec<_>>(), expected_chain(&want));
        let none_left = db.write(|tx| append_document(tx, ban, n, doc_id(1), log[1].seq)).expect("append");
        assert_eq!(none_left, 0);
    }
}

/// Runs each case of `cases` over every backend.
macro_rules! every_backend {
    ($($case:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[test]
                fn $case() {
                    super::cases::$case(&mut super::SqliteDb::new());
                }
            )*
        }
        mod on_postgres {
            $(
                #[test]
                fn $case() {
                    if let Some(mut db) = super::PgDb::new() {
                        super::cases::$case(&mut db);
                    }
                }
            )*
        }
    };
}

every_backend!(
    a_new_document_reaches_the_log_of_every_reader,
    changes_already_held_are_not_logged_again,
    a_push_checked_against_other_heads_is_stale,
    a_unit_log_numbers_every_document_it_reads_in_one_sequence,
    receipt_times_proven_earlier_are_kept,
    appending_to_a_document_the_caller_holds,
    a_receipt_proven_earlier_is_restamped_by_new_entries,
    a_unit_that_starts_reading_gets_the_changes_after_what_it_held,
);

/// The same writes give the same log, digest for digest, on both backends.
#[test]
fn both_backends_give_one_log_for_the_same_writes() {
    let Some(mut pg) = PgDb::new() else { return };
    let mut lite = SqliteDb::new();
    let (a, b, c) = (unit(1), unit(2), unit(3));
    let devices = [(device(1), a), (device(2), b)];
    for (d, u) in devices {
        pg.enroll(d, u);
        lite.enroll(d, u);
    }
    let none = HashMap::new();
    for i in 0..12u32 {
        let (dev, u) = devices[i as usize % 2];
        let mut readers = vec![u, c];
        readers.sort();
        let mut draft = Draft::new(dev);
        let changes = draft.edit(1 + i as usize % 3);
        let heads = draft.heads();
        let p = push(doc_id(100 + i), u, &changes, &heads, &readers, dev, Some(u), &none);
        pg.write(|tx| store_checked(tx, &p, &Seen::Heads(Vec::new()))).expect("store");
        lite.write(|tx| store_checked(tx, &p, &Seen::Heads(Vec::new()))).expect("store");
    }
    for u in [a, b, c] {
        assert_eq!(pg.read(|r| r.top(u)).expect("top"), lite.read(|r| r.top(u)).expect("top"));
        assert_eq!(
            pg.read(|r| r.entries(u, 0, 1000)).expect("log"),
            lite.read(|r| r.entries(u, 0, 1000)).expect("log")
        );
    }
}

/// Waits until the Postgres session `pid` is waiting for a lock (panics after 30 s).
fn wait_until_blocked(db: &PgDb, pid: i32) {
    let mut watcher = db.connect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let waiting: Option<String> = watcher
            .query_one("SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", &[&pid])
            .expect("pg_stat_activity")
            .get(0);
        if waiting.as_deref() == Some("Lock") {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the second writer never waited for the first");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn backend_pid(client: &mut postgres::Client) -> i32 {
    client.query_one("SELECT pg_backend_pid()", &[]).expect("pid").get(0)
}

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

#[test]
fn a_database_name_replaces_the_one_in_a_url() {
    assert_eq!(with_database("postgres://u@127.0.0.1:5432/postgres", "t1"), "postgres://u@127.0.0.1:5432/t1");
    assert_eq!(with_database("postgres://u@h:1", "t1"), "postgres://u@h:1/t1");
    assert_eq!(with_database("postgres://u@h/x?sslmode=disable", "t1"), "postgres://u@h/t1?sslmode=disable");
}

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

mod edge_cases;
