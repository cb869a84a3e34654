//! Applying an answer from the relay is one transaction: a storage fault anywhere in it leaves
//! the store as it was, a document that cannot be applied is asked for again by id instead of
//! being skipped, and one that can never be applied is shown with a sentence the app can show.
//! These drive the device's sans-IO session with answers made by hand, without a relay.

use automerge::AutoCommit;
use giaoban_client_core::demo::dispatch_305;
use giaoban_client_core::protocol::session::DeviceSession;
use giaoban_client_core::protocol::wire::{ChangeMeta, Epoch, RelayChanges, SyncResponse, Witness};
use giaoban_client_core::protocol::{DocId, UnitId, reference::unit_directory_from_reference};
use giaoban_client_core::{CoreError, Store, SyncProblemKind, SyncReport};

struct Org {
    city: UnitId,
    ward: UnitId,
}

fn org() -> Org {
    let dir = unit_directory_from_reference("Đồng Nai").unwrap();
    Org { city: dir.units[0].id, ward: dir.units[1].id }
}

/// A directive written on another store (the city's), as changes the relay would send.
fn city_directive(dir: &std::path::Path, org: &Org, name: &str) -> (DocId, Vec<Vec<u8>>) {
    let mut city = Store::open(dir.join(format!("{name}.sqlite"))).unwrap();
    city.set_unit(org.city).unwrap();
    let id = city.issue_directive(dispatch_305(vec![org.ward], "08/02/2030", "11/02/2030")).unwrap();
    city.set_directive_subject(id, "V/v rà soát, báo cáo các mô hình, cách làm hiệu quả").unwrap();
    let mut doc = AutoCommit::load(&city.save_document(id).unwrap()).unwrap();
    (id, doc.get_changes(&[]).into_iter().map(|c| c.raw_bytes().to_vec()).collect())
}

fn answer(cursor: u64, changes: Vec<RelayChanges>) -> SyncResponse {
    SyncResponse {
        epoch: Epoch(42),
        now: 1_896_000_000_000,
        acks: vec![],
        rejects: vec![],
        changes,
        cursor,
        witness: Witness { pos: cursor, digest: [cursor as u8; 16] },
        own_held: 0,
        more: false,
        wanted: vec![],
        reconcile: false,
    }
}

fn apply(ward: &mut Store, resp: SyncResponse) -> giaoban_client_core::Result<bool> {
    apply_armed(ward, resp, |_| {})
}

/// Prepares a request, lets `arm` set a fault, then applies `resp` as its answer.
fn apply_armed(
    ward: &mut Store,
    resp: SyncResponse,
    arm: impl FnOnce(&mut Store),
) -> giaoban_client_core::Result<bool> {
    let mut session = ward.sync_session().unwrap();
    let (_, sent) = ward.prepare_sync(&session).unwrap();
    let now = ward.now();
    arm(ward);
    ward.apply_sync_response(&mut session, resp, &sent, now, &mut SyncReport::default())
}

fn ward_store(dir: &std::path::Path, org: &Org) -> Store {
    let mut ward = Store::open(dir.join("ward.sqlite")).unwrap();
    ward.set_unit(org.ward).unwrap();
    ward
}

#[test]
fn a_storage_fault_anywhere_in_an_answer_leaves_the_store_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let org = org();
    let mut ward = ward_store(dir.path(), &org);
    let docs: Vec<(DocId, Vec<Vec<u8>>)> =
        (0..6).map(|i| city_directive(dir.path(), &org, &format!("city-{i}"))).collect();
    let page = || {
        docs.iter()
            .map(|(doc, changes)| RelayChanges { doc: *doc, changes: changes.clone(), meta: vec![] })
            .collect::<Vec<_>>()
    };
    let position_before = ward.sync_session().unwrap().position;
    // A full disk at once, then statements interrupted at many points of the transaction.
    let mut faults = 0;
    let e = apply_armed(&mut ward, answer(60, page()), |w| w.limit_storage(Some(0)).unwrap()).unwrap_err();
    assert!(matches!(e, CoreError::Storage(_)), "{e}");
    ward.limit_storage(None).unwrap();
    faults += 1;
    for ops in (16..4_000).step_by(97) {
        let result = apply_armed(&mut ward, answer(60, page()), |w| w.interrupt_after(Some(ops)).unwrap());
        ward.interrupt_after(None).unwrap();
        match result {
            Err(CoreError::Storage(_)) => faults += 1,
            Err(e) => panic!("{e}"),
            Ok(_) => break, // the answer finished before the interruption point
        }
        // Nothing of the answer: no document, no position, no problem.
        assert!(ward.document_ids(None).unwrap().is_empty(), "interrupted after {ops} steps");
        assert_eq!(ward.sync_session().unwrap().position, position_before);
        assert!(ward.sync_problems().unwrap().is_empty());
        // The store survives a reopen (a crash at this point) with the same state.
        drop(ward);
        ward = Store::open(dir.path().join("ward.sqlite")).unwrap();
        assert!(ward.document_ids(None).unwrap().is_empty());
    }
    assert!(faults > 5, "only {faults} faults were injected");
    // Without faults the same answer applies whole.
    let mut ward = Store::open(dir.path().join("ward.sqlite")).unwrap();
    if ward.document_ids(None).unwrap().is_empty() {
        apply(&mut ward, answer(60, page())).unwrap();
    }
    assert_eq!(ward.document_ids(None).unwrap().len(), 6);
    assert_eq!(ward.sync_session().unwrap().position.cursor, 60);
}

#[test]
fn a_document_that_cannot_be_applied_is_asked_for_again_then_shown() {
    let dir = tempfile::tempdir().unwrap();
    let org = org();
    let mut ward = ward_store(dir.path(), &org);
    let (good, good_changes) = city_directive(dir.path(), &org, "city");
    let broken = DocId::from_bytes([0x42; 16]);
    let damaged =
        RelayChanges { doc: broken, changes: vec![vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3]], meta: vec![] };
    let fine = RelayChanges { doc: good, changes: good_changes, meta: vec![] };
    apply(&mut ward, answer(10, vec![damaged.clone(), fine])).unwrap();
    // The good document is applied and the cursor moves; the damaged one waits by id.
    assert!(ward.directive(good).is_ok());
    assert_eq!(ward.sync_session().unwrap().position.cursor, 10);
    let problems = ward.sync_problems().unwrap();
    assert_eq!(problems.len(), 1);
    assert_eq!((problems[0].doc, problems[0].kind), (broken, SyncProblemKind::Retrying));
    let (req, _) = ward.prepare_sync(&ward.sync_session().unwrap()).unwrap();
    assert_eq!(req.refetch, vec![broken], "the next request asks for it whole");
    // Two more failed attempts (the relay sends it damaged again, then not at all).
    apply(&mut ward, answer(11, vec![damaged])).unwrap();
    apply(&mut ward, answer(12, vec![])).unwrap();
    let problems = ward.sync_problems().unwrap();
    assert_eq!(problems[0].kind, SyncProblemKind::GaveUp);
    assert!(problems[0].sentence().contains("tell the office"), "{}", problems[0].sentence());
    let (req, _) = ward.prepare_sync(&ward.sync_session().unwrap()).unwrap();
    assert!(req.refetch.is_empty(), "a document given up on is not asked for forever");
}

#[test]
fn a_document_asked_for_again_and_delivered_whole_is_no_longer_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let org = org();
    let mut ward = ward_store(dir.path(), &org);
    let (id, changes) = city_directive(dir.path(), &org, "city");
    // A first page brings only a later change: it builds on one this device lacks.
    let (first, rest) = changes.split_first().unwrap();
    assert!(!rest.is_empty());
    apply(&mut ward, answer(5, vec![RelayChanges { doc: id, changes: rest.to_vec(), meta: vec![] }]))
        .unwrap();
    assert_eq!(ward.sync_problems().unwrap()[0].kind, SyncProblemKind::Retrying);
    let whole =
        RelayChanges { doc: id, changes: [vec![first.clone()], rest.to_vec()].concat(), meta: vec![] };
    apply(&mut ward, answer(5, vec![whole])).unwrap();
    // Stored whole; once read (here by opening it) it is no longer a problem.
    assert!(ward.directive(id).is_ok());
    assert!(ward.sync_problems().unwrap().is_empty());
}

#[test]
fn a_document_from_a_newer_app_is_kept_and_shown_as_such() {
    use automerge::transaction::Transactable;
    let dir = tempfile::tempdir().unwrap();
    let org = org();
    let mut ward = ward_store(dir.path(), &org);
    let (id, changes) = city_directive(dir.path(), &org, "city");
    let mut doc = AutoCommit::new();
    doc.apply_changes(changes.iter().map(|c| automerge::Change::from_bytes(c.clone()).unwrap())).unwrap();
    let heads = doc.get_heads();
    let (_, header) = automerge::ReadDoc::get(&doc, automerge::ROOT, "header").unwrap().unwrap();
    doc.put(&header, "schema_version", 9u64).unwrap();
    doc.commit();
    let newer: Vec<Vec<u8>> = doc.get_changes(&heads).into_iter().map(|c| c.raw_bytes().to_vec()).collect();
    let all = [changes, newer].concat();
    let meta = vec![ChangeMeta { received_at: 1_896_000_000_000, seal: None }; all.len()];
    apply(&mut ward, answer(7, vec![RelayChanges { doc: id, changes: all, meta }])).unwrap();
    assert!(ward.document_ids(None).unwrap().contains(&id), "kept on the device");
    // Stored as it came; reading it (as the sync loop does once the pages are in) finds it newer.
    assert_eq!(ward.documents_to_prepare().unwrap(), 1);
    ward.prepare_all().unwrap();
    let problems = ward.sync_problems().unwrap();
    assert_eq!((problems[0].doc, problems[0].kind), (id, SyncProblemKind::NewerApp));
    assert!(problems[0].sentence().contains("newer version of the app"));
    let (req, _) = ward.prepare_sync(&ward.sync_session().unwrap()).unwrap();
    assert!(req.refetch.is_empty(), "nothing to fetch again: it is here");
}

#[test]
fn a_new_epoch_keeps_the_cursor_and_lists_what_the_unit_owns() {
    let dir = tempfile::tempdir().unwrap();
    let org = org();
    let mut ward = ward_store(dir.path(), &org);
    apply(&mut ward, answer(9, vec![])).unwrap();
    let mut session = ward.sync_session().unwrap();
    let (_, sent) = ward.prepare_sync(&session).unwrap();
    let mut resp = answer(9, vec![]);
    resp.epoch = Epoch(43);
    let now = ward.now();
    let again = ward.apply_sync_response(&mut session, resp, &sent, now, &mut SyncReport::default()).unwrap();
    assert!(again, "another round trip to list what it owns");
    let reopened: DeviceSession = ward.sync_session().unwrap();
    assert!(reopened.listing().is_some(), "the listing survives a restart of the app");
}

/// The rows of the derived tables, sorted, for comparing two ways of filling them.
fn derived_rows(store: &Store) -> Vec<String> {
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    let mut out = Vec::new();
    for table in ["tasks", "task_states", "report_reviews", "file_refs", "receipts"] {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table}")).unwrap();
        let n = stmt.column_count();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| {
                let mut row = format!("{table}:");
                for k in 0..n {
                    row.push_str(&format!("{:?}|", r.get_ref(k)?));
                }
                Ok(row)
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.sort();
        out.extend(rows);
    }
    let mut stmt = conn.prepare("SELECT id, kind, owner, title FROM documents ORDER BY id").unwrap();
    out.extend(
        stmt.query_map([], |r| {
            Ok(format!("{:?}|{:?}|{:?}|{:?}", r.get_ref(0)?, r.get_ref(1)?, r.get_ref(2)?, r.get_ref(3)?))
        })
        .unwrap()
        .map(Result::unwrap),
    );
    out
}

fn all_tasks(store: &Store) -> Vec<giaoban_client_core::TaskView> {
    use giaoban_client_core::{TaskFilter, TaskScope};
    store.list_tasks(&TaskFilter { scope: TaskScope::All, ..TaskFilter::default() }).unwrap()
}

#[test]
fn a_download_is_stored_as_it_came_and_read_into_the_lists_after() {
    let dir = tempfile::tempdir().unwrap();
    let org = org();
    let mut ward = ward_store(dir.path(), &org);
    let docs: Vec<(DocId, Vec<Vec<u8>>)> =
        (0..6).map(|i| city_directive(dir.path(), &org, &format!("city-{i}"))).collect();
    let meta = |n: usize| vec![ChangeMeta { received_at: 1_896_000_000_000, seal: None }; n];
    let page: Vec<RelayChanges> = docs
        .iter()
        .map(|(doc, changes)| RelayChanges { doc: *doc, changes: changes.clone(), meta: meta(changes.len()) })
        .collect();
    apply(&mut ward, answer(30, page)).unwrap();
    // Stored and acknowledged as held, nothing to push back; not yet in the lists.
    assert_eq!(ward.document_ids(None).unwrap().len(), 6);
    assert_eq!(ward.documents_to_prepare().unwrap(), 6);
    assert_eq!(ward.pending_changes_count().unwrap(), 0);
    assert!(all_tasks(&ward).is_empty());
    // Opening one reads it at once, and its tasks are listed.
    let (first, _) = docs[0];
    assert!(ward.directive(first).unwrap().subject.contains("rà soát"));
    assert_eq!(ward.documents_to_prepare().unwrap(), 5);
    let listed = all_tasks(&ward);
    assert!(!listed.is_empty() && listed.iter().all(|t| t.source == first), "{listed:?}");
    // A store closed now keeps what waits, and reads it later.
    drop(ward);
    let mut ward = Store::open(dir.path().join("ward.sqlite")).unwrap();
    assert_eq!(ward.documents_to_prepare().unwrap(), 5);
    let ready = ward.prepare_waiting(2).unwrap();
    assert_eq!(ready, vec![docs[5].0, docs[4].0], "newest first");
    ward.prepare_all().unwrap();
    assert_eq!(ward.documents_to_prepare().unwrap(), 0);
    assert_eq!(all_tasks(&ward).len(), listed.len() * 6);
    // The same rows as reading every document again from the start.
    let prepared = derived_rows(&ward);
    ward.rebuild_indexes().unwrap();
    assert_eq!(prepared, derived_rows(&ward));
}

#[test]
fn a_task_of_a_dispatch_not_yet_read_can_be_answered_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let org = org();
    let mut ward = ward_store(dir.path(), &org);
    let (id, changes) = city_directive(dir.path(), &org, "city");
    apply(&mut ward, answer(3, vec![RelayChanges { doc: id, changes, meta: vec![] }])).unwrap();
    assert_eq!(ward.documents_to_prepare().unwrap(), 1);
    ward.acknowledge_task(id, 1).unwrap();
    assert_eq!(ward.documents_to_prepare().unwrap(), 0);
    let task = all_tasks(&ward).into_iter().find(|t| t.source == id && t.ordinal == 1).unwrap();
    assert!(task.is_acknowledged());
    assert_eq!(ward.pending_changes_count().unwrap(), 1, "the answer waits to go up");
}

#[test]
fn a_document_unreadable_once_read_is_removed_and_asked_for_whole() {
    let dir = tempfile::tempdir().unwrap();
    let org = org();
    let mut ward = ward_store(dir.path(), &org);
    let (id, changes) = city_directive(dir.path(), &org, "city");
    // Sound changes under another document's id: only reading them shows it.
    let other = DocId::from_bytes([0x17; 16]);
    let (good, good_changes) = city_directive(dir.path(), &org, "city-2");
    apply(
        &mut ward,
        answer(
            4,
            vec![
                RelayChanges { doc: other, changes, meta: vec![] },
                RelayChanges { doc: good, changes: good_changes, meta: vec![] },
            ],
        ),
    )
    .unwrap();
    assert_eq!(ward.documents_to_prepare().unwrap(), 2);
    ward.prepare_all().unwrap();
    assert_eq!(ward.document_ids(None).unwrap(), vec![good]);
    assert!(ward.directive(other).is_err());
    let problems = ward.sync_problems().unwrap();
    assert_eq!((problems.len(), problems[0].doc, problems[0].kind), (1, other, SyncProblemKind::Retrying));
    assert!(problems[0].reason.contains(&id.to_string()), "{}", problems[0].reason);
    let (req, _) = ward.prepare_sync(&ward.sync_session().unwrap()).unwrap();
    assert_eq!(req.refetch, vec![other], "the next request asks for it whole");
}

#[test]
fn a_storage_fault_while_reading_what_came_leaves_it_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let org = org();
    let mut ward = ward_store(dir.path(), &org);
    let page: Vec<RelayChanges> = (0..4)
        .map(|i| {
            let (doc, changes) = city_directive(dir.path(), &org, &format!("city-{i}"));
            RelayChanges { doc, changes, meta: vec![] }
        })
        .collect();
    apply(&mut ward, answer(8, page)).unwrap();
    let before = derived_rows(&ward);
    ward.limit_storage(Some(0)).unwrap();
    let e = ward.prepare_waiting(4).unwrap_err();
    assert!(matches!(e, CoreError::Storage(_)), "{e}");
    ward.limit_storage(None).unwrap();
    let mut faults = 1;
    for ops in (16..20_000).step_by(211) {
        ward.interrupt_after(Some(ops)).unwrap();
        let result = ward.prepare_waiting(4);
        ward.interrupt_after(None).unwrap();
        match result {
            Err(CoreError::Storage(_)) => faults += 1,
            Err(e) => panic!("{e}"),
            Ok(_) => break,
        }
        assert_eq!(ward.documents_to_prepare().unwrap(), 4, "interrupted after {ops} steps");
        assert_eq!(derived_rows(&ward), before);
        assert!(ward.sync_problems().unwrap().is_empty());
    }
    assert!(faults > 5, "only {faults} faults were injected");
    ward.prepare_all().unwrap();
    assert_eq!(ward.documents_to_prepare().unwrap(), 0);
    assert_eq!(ward.document_ids(None).unwrap().len(), 4);
}

#[test]
fn the_unit_tree_not_yet_read_is_found_by_kind() {
    use giaoban_client_core::protocol::DocKind;
    let dir = tempfile::tempdir().unwrap();
    let org = org();
    let mut ward = ward_store(dir.path(), &org);
    let mut city = Store::open(dir.path().join("city.sqlite")).unwrap();
    city.set_unit(org.city).unwrap();
    let tree = city.create_unit_directory(&unit_directory_from_reference("Đồng Nai").unwrap()).unwrap();
    let mut doc = AutoCommit::load(&city.save_document(tree).unwrap()).unwrap();
    let changes = doc.get_changes(&[]).into_iter().map(|c| c.raw_bytes().to_vec()).collect();
    let (d, dchanges) = city_directive(dir.path(), &org, "city-2");
    apply(
        &mut ward,
        answer(
            2,
            vec![
                RelayChanges { doc: tree, changes, meta: vec![] },
                RelayChanges { doc: d, changes: dchanges, meta: vec![] },
            ],
        ),
    )
    .unwrap();
    assert_eq!(ward.documents_to_prepare().unwrap(), 2);
    assert_eq!(ward.document_ids(Some(DocKind::UnitDirectory)).unwrap(), vec![tree]);
    assert_eq!(ward.documents_to_prepare().unwrap(), 1, "only the tree was read");
}
