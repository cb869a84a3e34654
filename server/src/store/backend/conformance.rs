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

#[test]
fn a_database_name_replaces_the_one_in_a_url() {
    assert_eq!(with_database("postgres://u@127.0.0.1:5432/postgres", "t1"), "postgres://u@127.0.0.1:5432/t1");
    assert_eq!(with_database("postgres://u@h:1", "t1"), "postgres://u@h:1/t1");
    assert_eq!(with_database("postgres://u@h/x?sslmode=disable", "t1"), "postgres://u@h/t1?sslmode=disable");
}

mod batches;
mod concurrent;
mod edge_cases;
