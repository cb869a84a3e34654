//! Units that change, at the relay store: after a merger or a move, the readers of every
//! document are those the tree gives now, the logs of new readers hold the documents' changes
//! chained like live entries, and no entry already in a log changes.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use automerge::{AutoCommit, Change};
use giaoban_client_core::Store;
use giaoban_client_core::demo::dispatch_305;
use giaoban_protocol::authz::UnitTree;
use giaoban_protocol::schema::read_header;
use giaoban_protocol::seal::chain_digest;
use giaoban_protocol::wire::DocChanges;
use giaoban_protocol::{DeviceId, DocId, UnitId};
use giaoban_relay::RelayStore;
use giaoban_relay::store::{StoreError, writer_push};
use rusqlite::Connection;

type LogRow = (Vec<u8>, i64, i64, Vec<u8>);

fn enrolled(store: &RelayStore, unit: UnitId, device: DeviceId) {
    let code = store.create_enrollment(unit, 1).unwrap();
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(store.enroll(&code.code, device, "máy thử"))
        .unwrap();
}

fn push(relay: &RelayStore, store: &mut Store) {
    let unit = store.unit().unwrap();
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
        let heads: Vec<automerge::ChangeHash> = ack.heads.iter().map(|h| automerge::ChangeHash(*h)).collect();
        store.mark_acked(ack.doc, &heads).unwrap();
    }
}

/// The province, three communes that received dispatch 305, and the commune that will take
/// over two of them.
struct World {
    relay: RelayStore,
    city: UnitId,
    communes: Vec<UnitId>,
    successor: UnitId,
    directive: DocId,
}

/// The city issues dispatch 305 to three communes; each acknowledges task 1 and reports
/// progress on task 2.
fn world(dir: &Path) -> World {
    let relay = RelayStore::open(&dir.join("relay")).unwrap();
    let org = relay.create_units_from_reference("Đồng Nai").unwrap();
    let city = org.units[0].id;
    let communes = vec![org.units[1].id, org.units[2].id, org.units[3].id];
    let successor = org.units[4].id;
    let mut city_store = Store::open(dir.join("city.sqlite")).unwrap();
    city_store.set_unit(city).unwrap();
    enrolled(&relay, city, city_store.device_id());
    let directive =
        city_store.issue_directive(dispatch_305(communes.clone(), "08/02/2030", "11/02/2030")).unwrap();
    push(&relay, &mut city_store);
    for (k, unit) in communes.iter().enumerate() {
        let mut s = Store::open(dir.join(format!("commune-{k}.sqlite"))).unwrap();
        s.set_unit(*unit).unwrap();
        enrolled(&relay, *unit, s.device_id());
        let doc = AutoCommit::load(&city_store.save_document(directive).unwrap()).unwrap();
        let changes: Vec<Vec<u8>> =
            doc.clone().get_changes(&[]).into_iter().map(|c| c.raw_bytes().to_vec()).collect();
        s.apply_remote(directive, &changes).unwrap();
        s.acknowledge_task(directive, 1).unwrap();
        s.update_task_progress(directive, 2, &format!("Xã thứ {k} đang rà soát các mô hình dân vận khéo."))
            .unwrap();
        push(&relay, &mut s);
    }
    World { relay, city, communes, successor, directive }
}

fn conn(relay: &RelayStore) -> Connection {
    Connection::open(relay.path()).unwrap()
}

fn log(c: &Connection) -> Vec<LogRow> {
    c.prepare("SELECT unit, pos, change, digest FROM unit_log ORDER BY unit, pos")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

fn unit_log_docs(c: &Connection, unit: UnitId) -> BTreeSet<Vec<u8>> {
    c.prepare(
        "SELECT d.id FROM unit_log l JOIN changes c ON c.seq = l.change JOIN docs d ON d.n = c.doc WHERE l.unit = ?1",
    )
    .unwrap()
    .query_map([unit.to_bytes().to_vec()], |r| r.get(0))
    .unwrap()
    .map(|r| r.unwrap())
    .collect()
}

/// Every unit's log is one unbroken chain from its first entry to its top.
fn assert_chains_hold(c: &Connection) {
    let mut stmt = c
        .prepare(
            "SELECT l.unit, l.pos, l.digest, d.id, ch.hash, ch.received_at FROM unit_log l
             JOIN changes ch ON ch.seq = l.change JOIN docs d ON d.n = ch.doc ORDER BY l.unit, l.pos",
        )
        .unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut prev: HashMap<Vec<u8>, (i64, [u8; 16])> = HashMap::new();
    while let Some(r) = rows.next().unwrap() {
        let unit: Vec<u8> = r.get(0).unwrap();
        let pos: i64 = r.get(1).unwrap();
        let digest: Vec<u8> = r.get(2).unwrap();
        let doc = DocId::from_slice(&r.get::<_, Vec<u8>>(3).unwrap()).unwrap();
        let hash: [u8; 32] = r.get::<_, Vec<u8>>(4).unwrap().try_into().unwrap();
        let at: i64 = r.get(5).unwrap();
        let (last, before) = prev.get(&unit).copied().unwrap_or((0, [0; 16]));
        assert_eq!(pos, last + 1, "positions follow each other");
        let want = chain_digest(&before, pos as u64, doc, &hash, at);
        assert_eq!(digest, want.to_vec(), "entry {pos} chains from the one before");
        prev.insert(unit, (pos, want));
    }
    let tops: Vec<(Vec<u8>, i64, Vec<u8>)> = c
        .prepare("SELECT unit, pos, digest FROM unit_tops")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    for (unit, pos, digest) in tops {
        let (p, d) = prev[&unit];
        assert_eq!((pos, digest), (p, d.to_vec()), "the top is the last entry");
    }
}

/// The readers of every document are exactly those the tree gives now.
fn assert_readers_follow_the_tree(c: &Connection) {
    let mut tree = UnitTree::new();
    for (id, parent) in c
        .prepare("SELECT id, parent FROM units")
        .unwrap()
        .query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Option<Vec<u8>>>(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
    {
        tree.insert(UnitId::from_slice(&id).unwrap(), parent.map(|p| UnitId::from_slice(&p).unwrap()));
    }
    for (u, s) in c
        .prepare("SELECT unit, successor FROM unit_successors ORDER BY since")
        .unwrap()
        .query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
    {
        tree.add_successor(UnitId::from_slice(&u).unwrap(), UnitId::from_slice(&s).unwrap());
    }
    let docs: Vec<i64> = c
        .prepare("SELECT n FROM docs")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    for n in docs {
        let changes: Vec<Change> = c
            .prepare("SELECT bytes FROM changes WHERE doc = ?1 ORDER BY seq")
            .unwrap()
            .query_map([n], |r| r.get::<_, Vec<u8>>(0))
            .unwrap()
            .map(|r| Change::from_bytes(r.unwrap()).unwrap())
            .collect();
        let mut doc = AutoCommit::new();
        doc.apply_changes(changes).unwrap();
        let header = read_header(&doc).unwrap();
        let want: BTreeSet<UnitId> = tree.readers(&header).into_iter().collect();
        let got: BTreeSet<UnitId> = c
            .prepare("SELECT unit FROM readers WHERE doc = ?1")
            .unwrap()
            .query_map([n], |r| r.get::<_, Vec<u8>>(0))
            .unwrap()
            .map(|r| UnitId::from_slice(&r.unwrap()).unwrap())
            .collect();
        assert_eq!(got, want, "readers of {} ({})", header.id, header.kind);
    }
}

#[test]
fn a_merger_appends_the_predecessors_records_to_the_successors_log_and_rewrites_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let c = conn(&w.relay);
    let before = log(&c);
    let third_before = unit_log_docs(&c, w.communes[2]);
    let (a, b) = (w.communes[0], w.communes[1]);
    let responses = [
        giaoban_protocol::schema::Response::id_for(w.directive, a),
        giaoban_protocol::schema::Response::id_for(w.directive, b),
    ];
    assert!(!unit_log_docs(&c, w.successor).contains(w.directive.to_bytes().as_slice()));

    let change = w.relay.merge_units(vec![a, b], w.successor).unwrap();
    assert_eq!(change.gained.get(&w.successor), Some(&3), "the dispatch and both responses");
    assert!(change.lost.is_empty(), "a merger takes nothing from anyone");
    assert!(change.grown.contains(&w.successor));

    let after = log(&c);
    assert!(after.len() > before.len());
    for row in &before {
        assert!(after.contains(row), "entry {} of a log was rewritten", row.1);
    }
    let successor_docs = unit_log_docs(&c, w.successor);
    assert!(successor_docs.contains(w.directive.to_bytes().as_slice()));
    for r in responses {
        assert!(successor_docs.contains(r.to_bytes().as_slice()), "a predecessor's response");
    }
    let third_after = unit_log_docs(&c, w.communes[2]);
    assert_eq!(third_after, third_before, "the third commune gains no document");
    assert_chains_hold(&c);
    assert_readers_follow_the_tree(&c);

    // The directory says so, for every device.
    let successors = w.relay.successors().unwrap();
    assert_eq!(successors.get(&a), Some(&vec![w.successor]));
    assert_eq!(successors.get(&b), Some(&vec![w.successor]));
    // New devices of a merged unit go to its successor.
    let refused = w.relay.create_enrollment(a, 1).unwrap_err();
    assert!(refused.to_string().contains("was merged into"), "{refused}");
    assert!(w.relay.create_enrollment(w.successor, 1).is_ok());
}

#[test]
fn a_move_gives_the_new_parent_the_records_and_the_old_one_none_of_their_new_changes() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let c = conn(&w.relay);
    let moved = w.communes[0];
    // Another commune stands in for an office: the moved commune goes under it.
    let office = w.communes[2];
    let response = giaoban_protocol::schema::Response::id_for(w.directive, moved).to_bytes().to_vec();
    assert!(!unit_log_docs(&c, office).contains(&response));
    let before = log(&c);

    let change = w.relay.move_unit(moved, office).unwrap();
    assert!(change.gained.get(&office).is_some_and(|n| *n >= 1), "{change:?}");
    assert!(change.lost.is_empty(), "the city is still above it: {change:?}");
    assert!(unit_log_docs(&c, office).contains(&response));
    for row in &before {
        assert!(log(&c).contains(row));
    }
    assert_chains_hold(&c);
    assert_readers_follow_the_tree(&c);

    // Moving it again, under another commune: the first office stops reading its records.
    let change = w.relay.move_unit(moved, w.communes[1]).unwrap();
    assert!(change.lost.get(&office).is_some_and(|n| *n >= 1), "{change:?}");
    let held: i64 = c
        .query_row("SELECT count(*) FROM former_readers WHERE unit = ?1", [office.to_bytes().to_vec()], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(held >= 1, "what the office's log holds is remembered");
    let office_log = log(&c).into_iter().filter(|r| r.0 == office.to_bytes().to_vec()).count();
    assert_chains_hold(&c);
    assert_readers_follow_the_tree(&c);

    // And back: only changes stored meanwhile would be appended; there were none.
    w.relay.move_unit(moved, office).unwrap();
    let office_log_back = log(&c).into_iter().filter(|r| r.0 == office.to_bytes().to_vec()).count();
    assert_eq!(office_log_back, office_log + 1, "only the directory's new change, no duplicates");
    assert_chains_hold(&c);
    assert_readers_follow_the_tree(&c);
    let _ = w.city;
}

fn invalid(e: StoreError) -> String {
    match e {
        StoreError::Invalid(m) | StoreError::NotFound(m) => m,
        other => panic!("not an operator error: {other}"),
    }
}

#[test]
fn operator_errors_are_plain_sentences_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let c = conn(&w.relay);
    let before = log(&c);
    let (a, b, third) = (w.communes[0], w.communes[1], w.communes[2]);
    let unknown = UnitId::from_bytes([7; 16]);

    let m = invalid(w.relay.merge_units(vec![a], unknown).unwrap_err());
    assert!(m.starts_with("no unit has id"), "{m}");
    let m = invalid(w.relay.merge_units(vec![unknown], a).unwrap_err());
    assert!(m.starts_with("no unit has id"), "{m}");
    let m = invalid(w.relay.merge_units(vec![a], a).unwrap_err());
    assert!(m.ends_with("cannot be merged into itself"), "{m}");
    assert!(m.contains("Ủy ban MTTQ Việt Nam"), "names the unit as the office knows it: {m}");
    let m = invalid(w.relay.move_unit(w.city, a).unwrap_err());
    assert!(m.contains("would make a cycle in the tree"), "{m}");
    let m = invalid(w.relay.move_unit(a, a).unwrap_err());
    assert!(m.contains("under itself"), "{m}");
    let m = invalid(w.relay.move_unit(a, w.city).unwrap_err());
    assert!(m.contains("is already under"), "{m}");
    let m = invalid(w.relay.merge_units(vec![], a).unwrap_err());
    assert!(m.contains("at least one"), "{m}");
    assert_eq!(log(&c), before, "nothing of a refused command is stored");

    w.relay.merge_units(vec![a], w.successor).unwrap();
    let m = invalid(w.relay.merge_units(vec![a], b).unwrap_err());
    assert!(m.contains("was already merged into"), "{m}");
    let m = invalid(w.relay.merge_units(vec![b], a).unwrap_err());
    assert!(m.contains("was itself merged into"), "{m}");
    let m = invalid(w.relay.add_successor(w.successor, a).unwrap_err());
    assert!(m.contains("cycle of successions"), "{m}");
    let m = invalid(w.relay.add_successor(a, w.successor).unwrap_err());
    assert!(m.contains("is already a successor of"), "{m}");
    // A split: one more successor for a merged unit is allowed.
    w.relay.add_successor(a, third).unwrap();
    assert_chains_hold(&c);
    assert_readers_follow_the_tree(&c);
}

/// A record a predecessor's device wrote offline and pushes after the merger is accepted, and
/// its successor (and the successor's ancestors) read it as they read its older records.
#[test]
fn a_predecessors_record_pushed_after_the_merger_is_read_by_the_successor() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let a = w.communes[0];
    let mut s = Store::open(dir.path().join("commune-0.sqlite")).unwrap();
    let report = s
        .create_report(giaoban_client_core::NewReport {
            title: "Báo cáo kết quả rà soát các mô hình dân vận khéo".into(),
            kind: giaoban_protocol::schema::ReportKind::Thematic,
            period: "tháng 01/2030".into(),
            answers: Some((w.directive, 3)),
            audience: vec![],
            sections: vec![giaoban_client_core::NewSection {
                key: "ket_qua".into(),
                heading: "Kết quả".into(),
                body: "Rà soát 12 mô hình, nhân rộng 3 mô hình ở ấp Hòa Bình.".into(),
            }],
        })
        .unwrap();
    w.relay.merge_units(vec![a], w.successor).unwrap();
    push(&w.relay, &mut s);
    let c = conn(&w.relay);
    assert!(unit_log_docs(&c, w.successor).contains(report.to_bytes().as_slice()));
    assert!(!unit_log_docs(&c, w.communes[2]).contains(report.to_bytes().as_slice()));
    assert_chains_hold(&c);
    assert_readers_follow_the_tree(&c);
}

fn admin(data: &Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_giaoban-relay"))
        .arg("admin")
        .args(args)
        .env("GIAOBAN_RELAY_DATA_DIR", data)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The operator merges and moves units by name (diacritics optional) and is told, in plain
/// sentences, what changed or why nothing did.
#[test]
fn the_admin_commands_say_what_changed_or_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let (ok, _, err) = admin(&data, &["create-units", "--province", "Đồng Nai"]);
    assert!(ok, "{err}");

    let (ok, out, err) = admin(
        &data,
        &["merge", "--unit", "xa Long Phuoc", "--unit", "Phước Thái", "--into", "xã Long Thành"],
    );
    assert!(ok, "{err}");
    assert!(out.contains("merged into Ủy ban MTTQ Việt Nam xã Long Thành"), "{out}");
    assert!(out.contains("no unit reads a record more or less"), "no records yet: {out}");

    let (ok, _, err) = admin(&data, &["merge", "--unit", "Long Phước", "--into", "Phước Thái"]);
    assert!(!ok);
    assert!(err.contains("xã Phước Thái was itself merged into Ủy ban MTTQ Việt Nam xã Long Thành"), "{err}");
    let (ok, _, err) = admin(&data, &["merge", "--unit", "xã Long Thành", "--into", "xã Long Thành"]);
    assert!(!ok && err.contains("cannot be merged into itself"), "{err}");
    let (ok, _, err) = admin(&data, &["merge", "--unit", "Long Phước", "--into", "Bình Phước"]);
    assert!(!ok && err.contains("was already merged into"), "{err}");
    let (ok, _, err) = admin(&data, &["merge", "--unit", "Hà Nội Thượng", "--into", "xã Long Thành"]);
    assert!(!ok && err.contains("no unit matches"), "{err}");
    let (ok, _, err) = admin(&data, &["move", "--unit", "tỉnh Đồng Nai", "--parent", "xã Long Thành"]);
    assert!(!ok && err.contains("would make a cycle in the tree"), "{err}");

    let (ok, out, err) = admin(&data, &["move", "--unit", "Phường Đồng Xoài", "--parent", "xã Long Thành"]);
    assert!(ok, "{err}");
    assert!(out.contains("is now under Ủy ban MTTQ Việt Nam xã Long Thành"), "{out}");
    let (ok, out, _) = admin(&data, &["units"]);
    assert!(ok && out.contains("xã Long Phước  → Ủy ban MTTQ Việt Nam xã Long Thành"), "{out}");
    // A tree: the moved ward under its new parent, one level deeper; siblings in Vietnamese
    // order (byte order would put every Đ name after the X names).
    let lines: Vec<(usize, &str)> = out
        .lines()
        .map(|l| {
            let rest = l.split_once("  ").map_or("", |(_, r)| r);
            let name = rest.trim_start_matches(' ');
            ((rest.len() - name.len()) / 2, name.split("  →").next().unwrap_or(name))
        })
        .collect();
    let at = |needle: &str| lines.iter().position(|(_, n)| n.ends_with(needle)).unwrap();
    let (parent, moved) = (at("xã Long Thành"), at("phường Đồng Xoài"));
    assert_eq!(lines[moved].0, lines[parent].0 + 1, "{out}");
    assert!(moved > parent, "{out}");
    let communes: Vec<&str> = lines.iter().filter(|(d, _)| *d == 1).map(|(_, n)| *n).collect();
    assert!(communes.len() > 50, "{out}");
    let c = giaoban_vietnamese_text::collator();
    for pair in communes.windows(2) {
        assert_ne!(
            c.compare(pair[0], pair[1]),
            std::cmp::Ordering::Greater,
            "{} before {}",
            pair[0],
            pair[1]
        );
    }
    assert!(communes.iter().any(|n| n.contains(" Đ")), "names with Đ are listed");
    let (ok, _, err) = admin(&data, &["enroll", "--unit", "Long Phước"]);
    assert!(!ok && err.contains("enrol the device for that unit"), "{err}");
}
