//! A download is stored as its changes came and read into the lists after
//! (client-core/src/store/prepare.rs): against a real relay, what waits to be read is never
//! lost, reaches a restored relay, is read even when the link drops or the app stops midway,
//! and the sync loop says so until it is done.

use std::path::Path;

use giaoban_client_core::demo::dispatch_305;
use giaoban_client_core::protocol::DocId;
use giaoban_client_core::protocol::schema::ReportKind;
use giaoban_client_core::protocol::wire::SyncResponse;
use giaoban_client_core::{NewReport, NewSection, Store, SyncProblemKind, SyncReport, TaskFilter, TaskScope};
use giaoban_e2e::{Relay, raw_sync};

/// Round trips exactly as the sync loop makes them, tampering with each answer, and without
/// the preparation the loop does after them (as when the link drops on the next round trip,
/// or the app is stopped or killed while "Preparing").
fn rounds_without_preparing(s: &mut Store, mut tamper: impl FnMut(&mut SyncResponse)) -> SyncReport {
    let mut session = s.sync_session().unwrap();
    let mut report = SyncReport::default();
    for _ in 0..50 {
        let (req, sent) = s.prepare_sync(&session).unwrap();
        let at = s.now();
        let mut resp = raw_sync(s, req);
        tamper(&mut resp);
        let again = s.apply_sync_response(&mut session, resp, &sent, at, &mut report).unwrap();
        if !again {
            break;
        }
    }
    report
}

fn report_input(title: &str, body: &str, audience: Vec<giaoban_client_core::protocol::UnitId>) -> NewReport {
    NewReport {
        title: title.into(),
        kind: ReportKind::Thematic,
        period: String::new(),
        answers: None,
        audience,
        sections: vec![NewSection {
            key: "ket_qua".into(), heading: "Kết quả".into(), body: body.into()
        }],
    }
}

fn mine(s: &Store) -> usize {
    s.list_tasks(&TaskFilter { scope: TaskScope::Mine, ..Default::default() }).unwrap().len()
}

/// A ward device downloads its directive; the link drops before the sync loop gets to
/// prepare it. Offline, in the field, the next sync fails but still reads what waits, so the
/// task list and search show it.
#[test]
fn a_download_cut_before_preparing_is_never_shown_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let ward = relay.org.units[1].id;
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "văn phòng");
    let d = office.issue_directive(dispatch_305(vec![ward], "08/02/2030", "11/02/2030")).unwrap();
    office.sync_now().unwrap();
    let path = tmp.path().join("ward.sqlite");
    let mut w = relay.device(&path, 1, "phường");
    rounds_without_preparing(&mut w, |_| {});
    assert!(w.documents_to_prepare().unwrap() > 0);
    drop(relay); // out of the office's wifi
    assert!(w.sync_now().is_err());
    drop(w);
    let mut w = Store::open(&path).unwrap();
    assert!(w.sync_now().is_err());
    let waiting = w.documents_to_prepare().unwrap();
    let tasks = mine(&w);
    let found = w.search("rà soát", 10).unwrap().len();
    // The directive is on the device (opening it by id prepares it), but nowhere in its lists.
    assert!(w.directive(d).is_ok(), "the directive is held");
    let tasks_after_open = mine(&w);
    assert!(tasks_after_open > 0);
    assert_eq!(
        (waiting, tasks, found),
        (0, tasks_after_open, 1),
        "offline after the cut: documents waiting, tasks listed, search hits"
    );
}

fn restore_scenario(prepare_between: bool, cut_after_restore: bool) {
    use giaoban_client_core::protocol::schema::{Response, Verdict};
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let (province, ward) = (relay.org.units[0].id, relay.org.units[1].id);
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "văn phòng");
    let mut w1 = relay.device(&tmp.path().join("w1.sqlite"), 1, "máy cũ");
    let mut w2 = relay.device(&tmp.path().join("w2.sqlite"), 1, "máy mới");
    let backup = tmp.path().join("b.sqlite");
    relay.backup(&backup);

    let d = office.issue_directive(dispatch_305(vec![ward], "08/02/2030", "11/02/2030")).unwrap();
    office.sync_now().unwrap();
    w1.sync_now().unwrap();
    w1.acknowledge_task(d, 1).unwrap();
    let r = w1.create_report(report_input("Báo cáo quý", "Đã rà soát 12 mô hình.", vec![province])).unwrap();
    w1.submit_report(r).unwrap();
    w1.sync_now().unwrap();
    office.sync_now().unwrap();
    let review = office.review_report(r, Verdict::Returned, "Bổ sung số liệu").unwrap();
    office.sync_now().unwrap();

    // The ward's new phone downloads everything; the old phone and the office's device are
    // then gone (replaced, lost), and the relay is restored from the backup.
    rounds_without_preparing(&mut w2, |_| {});
    assert!(w2.documents_to_prepare().unwrap() >= 4);
    if prepare_between {
        w2.prepare_all().unwrap();
    }
    drop(office);
    drop(w1);
    let relay = relay.restore(&backup);
    if cut_after_restore {
        rounds_without_preparing(&mut w2, |_| {});
    }
    w2.sync_now().unwrap();
    w2.sync_now().unwrap();
    assert_eq!(w2.pending_changes_count().unwrap(), 0);

    let mut office2 = relay.device(&tmp.path().join("office2.sqlite"), 0, "văn phòng 2");
    office2.sync_now().unwrap();
    assert!(office2.directive(d).is_ok(), "directive lost");
    assert_eq!(office2.report(r).unwrap().sections[0].body.as_str(), "Đã rà soát 12 mô hình.");
    assert!(office2.get::<Response>(Response::id_for(d, ward)).is_ok(), "response lost");
    assert!(office2.review_of(r, province).unwrap().is_some(), "review lost");
    let _ = review;
    let mut w3 = relay.device(&tmp.path().join("w3.sqlite"), 1, "máy thứ ba");
    w3.sync_now().unwrap();
    assert!(w3.report(r).is_ok());
    assert!(w3.sync_problems().unwrap().is_empty());
}

#[test]
fn a_restored_relay_gets_back_what_a_device_holds_unprepared() {
    restore_scenario(false, false);
}

#[test]
fn a_restored_relay_gets_back_what_a_device_holds_unprepared_cut_again() {
    restore_scenario(false, true);
}

#[test]
fn a_restored_relay_gets_back_what_a_device_prepared() {
    restore_scenario(true, false);
}

/// A relay (hostile, or holding a copy this app cannot read) answers every fetch of one
/// document with changes that pass their checksums but cannot be prepared as that document.
/// The device asks for it a few times, then gives up and says to tell the office.
#[test]
fn an_unreadable_document_is_asked_for_a_few_times_then_given_up() {
    use std::cell::RefCell;
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let ward = relay.org.units[1].id;
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "văn phòng");
    let d1 = office.issue_directive(dispatch_305(vec![ward], "08/02/2030", "11/02/2030")).unwrap();
    let d2 = office.issue_directive(dispatch_305(vec![ward], "09/02/2030", "12/02/2030")).unwrap();
    office.sync_now().unwrap();
    let mut w = relay.device(&tmp.path().join("ward.sqlite"), 1, "phường");
    let other: RefCell<Option<Vec<Vec<u8>>>> = RefCell::new(None);
    let tamper = |resp: &mut SyncResponse| {
        for c in &resp.changes {
            if c.doc == d2 {
                *other.borrow_mut() = Some(c.changes.clone());
            }
        }
        for c in &mut resp.changes {
            if c.doc == d1 {
                c.changes = other.borrow().clone().expect("d2 came first or with d1");
            }
        }
    };
    let mut kinds = Vec::new();
    for _ in 0..6 {
        rounds_without_preparing(&mut w, tamper);
        w.prepare_all().unwrap();
        let p = w.sync_problems().unwrap();
        kinds.push(p.iter().find(|p| p.doc == d1).map(|p| p.kind));
    }
    assert_eq!(kinds.last().copied().flatten(), Some(SyncProblemKind::GaveUp), "{kinds:?}");
}

fn odd_answers_case(name: &str, tamper: &dyn Fn(&mut SyncResponse)) {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let (province, ward) = (relay.org.units[0].id, relay.org.units[1].id);
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "văn phòng");
    let mut a = relay.device(&tmp.path().join("a.sqlite"), 1, "máy a");
    let mut b = relay.device(&tmp.path().join("b.sqlite"), 1, "máy b");
    let d = office.issue_directive(dispatch_305(vec![ward], "08/02/2030", "11/02/2030")).unwrap();
    office.sync_now().unwrap();
    a.sync_now().unwrap();
    let long = "Đã rà soát các mô hình ở khu phố. ".repeat(40);
    let r = a.create_report(report_input("Báo cáo quý", &long, vec![province])).unwrap();
    a.acknowledge_task(d, 1).unwrap();
    a.sync_now().unwrap();
    b.sync_now().unwrap();
    // A fork: both phones edit offline, then sync: several heads.
    a.add_report_section(r, "a", "Phần của máy a").unwrap();
    b.add_report_section(r, "b", "Phần của máy b").unwrap();
    a.update_task_progress(d, 1, "máy a").unwrap();
    b.update_task_progress(d, 2, "máy b").unwrap();
    a.mark_task_not_applicable(d, 3, "không có").unwrap();
    a.sync_now().unwrap();
    b.sync_now().unwrap();
    a.sync_now().unwrap();
    office.sync_now().unwrap();
    assert!(office.heads(r).unwrap().len() >= 2 || a.heads(r).unwrap().len() >= 2);

    let mut fresh = relay.device(&tmp.path().join("fresh.sqlite"), 0, "máy mới");
    rounds_without_preparing(&mut fresh, tamper);
    fresh.prepare_all().unwrap();
    fresh.sync_now().unwrap();
    assert!(fresh.sync_problems().unwrap().is_empty(), "{name}: {:?}", fresh.sync_problems().unwrap());
    let mut want = office.heads(r).unwrap();
    let mut got = fresh.heads(r).unwrap();
    want.sort();
    got.sort();
    assert_eq!(got, want, "{name}: heads of the report");
    assert_eq!(fresh.report(r).unwrap(), office.report(r).unwrap(), "{name}");
    let tasks = |s: &Store| {
        let mut t: Vec<_> = s
            .list_tasks(&TaskFilter { scope: TaskScope::IssuedByMe, ..Default::default() })
            .unwrap()
            .into_iter()
            .map(|t| (t.ordinal, format!("{:?} {:?} {:?}", t.state, t.received_at, t.assignee)))
            .collect();
        t.sort();
        t
    };
    assert_eq!(tasks(&fresh), tasks(&office), "{name}: tasks");
    assert_eq!(fresh.pending_changes_count().unwrap(), 0, "{name}");
}

#[test]
fn odd_but_honest_answers_are_prepared_right() {
    use automerge::Change;
    odd_answers_case("as sent", &|_| {});
    odd_answers_case("every change twice", &|resp| {
        for c in &mut resp.changes {
            c.changes = [c.changes.clone(), c.changes.clone()].concat();
            c.meta = [c.meta.clone(), c.meta.clone()].concat();
        }
    });
    odd_answers_case("children before parents", &|resp| {
        for c in &mut resp.changes {
            c.changes.reverse();
            c.meta.reverse();
        }
    });
    odd_answers_case("compressed chunks", &|resp| {
        for c in &mut resp.changes {
            for ch in &mut c.changes {
                *ch = Change::from_bytes(ch.clone()).unwrap().bytes().into_owned();
            }
        }
    });
    odd_answers_case("one document in two entries of one answer", &|resp| {
        let mut out = Vec::new();
        for c in resp.changes.drain(..) {
            if c.changes.len() >= 2 {
                let half = c.changes.len() / 2;
                let mut first = c.clone();
                first.changes.truncate(half);
                first.meta.truncate(half.min(first.meta.len()));
                let mut rest = c.clone();
                rest.changes.drain(..half);
                if rest.meta.len() >= half {
                    rest.meta.drain(..half);
                }
                out.push(first);
                out.push(rest);
            } else {
                out.push(c);
            }
        }
        resp.changes = out;
    });
}

fn copy_store(from: &Path, to: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let f = std::path::PathBuf::from(format!("{}{suffix}", from.display()));
        let t = std::path::PathBuf::from(format!("{}{suffix}", to.display()));
        let _ = std::fs::remove_file(&t);
        if f.exists() {
            std::fs::copy(&f, &t).unwrap();
        }
    }
}

/// Preparation interrupted at every point (SQLITE_INTERRUPT rolls the transaction back, as a
/// crash there would) or refused by a full disk, then run again: nothing lost, nothing asked
/// for again, every task listed.
#[test]
fn preparation_interrupted_anywhere_or_on_a_full_disk_loses_nothing() {
    use giaoban_client_core::demo::anchor_task;
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let ward = relay.org.units[1].id;
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "văn phòng");
    let mut directives = Vec::new();
    for i in 0..20 {
        directives.push(office.issue_directive(anchor_task(i, ward)).unwrap());
    }
    office.sync_now().unwrap();
    let template = tmp.path().join("template.sqlite");
    let mut w = relay.device(&template, 1, "phường");
    rounds_without_preparing(&mut w, |_| {});
    let waiting = w.documents_to_prepare().unwrap();
    let docs = w.document_ids(None).unwrap().len();
    assert!(waiting >= 20);
    drop(w);
    let path = tmp.path().join("w.sqlite");
    let check = |w: &mut Store, what: &str, docs: usize| {
        w.interrupt_after(None).unwrap();
        w.limit_storage(None).unwrap();
        w.prepare_all().unwrap();
        assert_eq!(w.document_ids(None).unwrap().len(), docs, "{what}: documents");
        assert!(w.sync_problems().unwrap().is_empty(), "{what}: {:?}", w.sync_problems().unwrap());
        assert_eq!(mine(w), 20, "{what}: tasks");
        assert_eq!(w.search("rà soát", 100).unwrap().len(), 20, "{what}: search");
    };
    let mut ops = 16u32;
    let mut fired = 0;
    loop {
        copy_store(&template, &path);
        let mut w = Store::open(&path).unwrap();
        w.interrupt_after(Some(ops)).unwrap();
        let first = w.prepare_all();
        check(&mut w, &format!("interrupted after {ops}"), docs);
        if first.is_ok() && w.documents_to_prepare().unwrap() == 0 && fired > 0 && ops > 5_000_000 {
            break;
        }
        if first.is_err() {
            fired += 1;
        }
        ops = ops + ops / 4 + 16;
        if ops > 20_000_000 {
            break;
        }
    }
    assert!(fired > 5);
    // On demand, inside an edit.
    for ops in [200u32, 2_000, 20_000, 200_000] {
        copy_store(&template, &path);
        let mut w = Store::open(&path).unwrap();
        w.interrupt_after(Some(ops)).unwrap();
        let acked = w.acknowledge_task(directives[3], 1).is_ok();
        check(&mut w, &format!("edit interrupted after {ops}"), docs + usize::from(acked));
        w.acknowledge_task(directives[3], 1).unwrap();
    }
    // A full disk.
    for pages in [0u32, 1, 2, 4, 8, 16, 32] {
        copy_store(&template, &path);
        let mut w = Store::open(&path).unwrap();
        w.limit_storage(Some(pages)).unwrap();
        let _ = w.prepare_all();
        let _ = w.search("rà soát", 10);
        let _ = mine(&w);
        check(&mut w, &format!("{pages} pages free"), docs);
    }
}

/// The background loop: the status never says "up to date" while downloaded documents wait
/// to be read into the lists.
#[test]
fn the_loop_says_up_to_date_only_once_everything_is_in_the_lists() {
    use giaoban_client_core::{SyncHandle, SyncState};
    use std::sync::{Arc, Mutex};
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let ward = relay.org.units[1].id;
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "văn phòng");
    office.issue_directive(dispatch_305(vec![ward], "08/02/2030", "11/02/2030")).unwrap();
    office.sync_now().unwrap();
    let store = Arc::new(Mutex::new(relay.device(&tmp.path().join("ward.sqlite"), 1, "phường")));
    /// What the status said, with the documents waiting and the tasks listed at that moment.
    type Seen = Vec<(SyncState, Option<u64>, Option<usize>)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let (s2, seen2) = (store.clone(), seen.clone());
    let handle = SyncHandle::start(store.clone(), move |st| {
        let (waiting, tasks) = {
            let s = s2.lock().unwrap();
            (Some(s.documents_to_prepare().unwrap()), Some(mine(&s)))
        };
        seen2.lock().unwrap().push((st.state.clone(), waiting, tasks));
    });
    let started = std::time::Instant::now();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let done = store.lock().unwrap().documents_to_prepare().unwrap() == 0
            && handle.status().state == SyncState::UpToDate;
        if done || started.elapsed().as_secs() > 20 {
            break;
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    handle.stop();
    let seen = seen.lock().unwrap().clone();
    let lying: Vec<_> =
        seen.iter().filter(|(st, waiting, _)| *st == SyncState::UpToDate && *waiting != Some(0)).collect();
    assert!(lying.is_empty(), "'up to date' with documents waiting (state, waiting, tasks listed): {seen:?}");
}

/// Many documents waiting: an edit made while the loop prepares them is on the relay soon,
/// and every document is announced to the observers once it is in the lists.
#[test]
fn an_edit_during_preparation_syncs_promptly_and_observers_hear_of_every_document() {
    use giaoban_client_core::demo::anchor_task;
    use giaoban_client_core::{SyncHandle, SyncState};
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let ward = relay.org.units[1].id;
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "văn phòng");
    let mut directives = Vec::new();
    for i in 0..600 {
        directives.push(office.issue_directive(anchor_task(i, ward)).unwrap());
    }
    office.sync_now().unwrap();
    let store = Arc::new(Mutex::new(relay.device(&tmp.path().join("ward.sqlite"), 1, "phường")));
    let listed_when_told: Arc<Mutex<HashSet<DocId>>> = Arc::default();
    let (s2, told2) = (store.clone(), listed_when_told.clone());
    let handle = SyncHandle::start_observed(
        store.clone(),
        |_| {},
        move |ids| {
            let s = s2.lock().unwrap();
            for id in ids {
                let listed = !s
                    .list_tasks(&TaskFilter {
                        scope: TaskScope::Mine,
                        source: Some(*id),
                        ..Default::default()
                    })
                    .unwrap()
                    .is_empty();
                if listed {
                    told2.lock().unwrap().insert(*id);
                }
            }
        },
    );
    let started = Instant::now();
    while !matches!(handle.status().state, SyncState::Preparing { .. }) {
        assert!(started.elapsed() < Duration::from_secs(60), "never Preparing: {:?}", handle.status());
        std::thread::sleep(Duration::from_millis(5));
    }
    let edited = Instant::now();
    store.lock().unwrap().acknowledge_task(directives[0], 1).unwrap();
    handle.sync_soon();
    loop {
        if store.lock().unwrap().pending_changes_count().unwrap() == 0 {
            break;
        }
        assert!(edited.elapsed() < Duration::from_secs(3), "the edit waits behind the preparation");
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = edited.elapsed();
    while store.lock().unwrap().documents_to_prepare().unwrap() > 0 {
        assert!(started.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    handle.stop();
    let told = listed_when_told.lock().unwrap().clone();
    let never: Vec<_> = directives.iter().filter(|d| !told.contains(d)).collect();
    eprintln!("edit on the relay after {took:?}");
    let never: Vec<_> = never.into_iter().filter(|d| **d != directives[0]).collect();
    assert!(
        never.is_empty(),
        "{} of {} directives never announced once listed (besides the one edited)",
        never.len(),
        directives.len()
    );
}

/// A successor's new device answers its predecessors' tasks before anything is prepared.
#[test]
fn a_successor_answers_before_preparation() {
    use giaoban_client_core::protocol::schema::{Response, TaskState};
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let dev = |name: &str, unit: usize| relay.device(&dir.path().join(format!("{name}.sqlite")), unit, name);
    let (a, b, successor) = (relay.org.units[1].id, relay.org.units[2].id, relay.org.units[4].id);
    let mut city = dev("tinh", 0);
    let mut xa_a = dev("xa-a", 1);
    let mut xa_b = dev("xa-b", 2);
    let directive = city.issue_directive(dispatch_305(vec![a, b], "08/02/2030", "11/02/2030")).unwrap();
    city.sync_now().unwrap();
    xa_a.sync_now().unwrap();
    xa_b.sync_now().unwrap();
    xa_a.mark_task_not_applicable(directive, 3, "Không có mô hình").unwrap();
    xa_b.update_task_progress(directive, 2, "Đang họp").unwrap();
    xa_a.sync_now().unwrap();
    xa_b.sync_now().unwrap();
    relay.store.merge_units(vec![a, b], successor).unwrap();
    let mut moi = dev("xa-moi", 4);
    rounds_without_preparing(&mut moi, |_| {});
    eprintln!("waiting {} of {}", moi.documents_to_prepare().unwrap(), moi.document_ids(None).unwrap().len());
    let mut acting = moi.acting_for().unwrap();
    acting.sort();
    let mut want = vec![a, b, successor];
    want.sort();
    assert_eq!(acting, want);
    moi.mark_task_not_applicable(directive, 3, "Sau sáp nhập không có").unwrap();
    moi.update_task_progress(directive, 2, "Xã mới kiện toàn").unwrap();
    let q = moi.search("kien toan", 10).unwrap();
    let r = moi.sync_now().unwrap();
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    city.sync_now().unwrap();
    let ra: Response = city.get(Response::id_for(directive, a)).unwrap();
    let rb: Response = city.get(Response::id_for(directive, b)).unwrap();
    assert_eq!(ra.task(3).unwrap().note.as_str(), "Không có mô hình", "A's own answer stands");
    assert_eq!(rb.task(3).unwrap().state, TaskState::NotApplicable);
    assert!(rb.task(2).unwrap().note.as_str().contains("kiện toàn"));
    assert!(ra.task(2).unwrap().note.as_str().contains("kiện toàn"));
    let _ = q;
}

const CHILD_STORE: &str = "GIAOBAN_PREPARE_CHILD_STORE";

/// Runs only as the child process: prepares what waits, batch by batch, until killed.
#[test]
fn prepare_child() {
    use std::io::Write;
    let Ok(path) = std::env::var(CHILD_STORE) else { return };
    let mut s = Store::open(&path).unwrap();
    let out = std::io::stdout();
    loop {
        let done = s.prepare_waiting(64).unwrap();
        writeln!(out.lock(), "batch {}", done.len()).unwrap();
        out.lock().flush().unwrap();
        if done.is_empty() {
            break;
        }
    }
}

/// SIGKILL in the middle of preparing: the store reopens, everything is prepared after, nothing
/// is asked for again.
#[test]
fn sigkill_while_preparing_loses_nothing() {
    use giaoban_client_core::demo::anchor_task;
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let ward = relay.org.units[1].id;
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "văn phòng");
    for i in 0..400 {
        office.issue_directive(anchor_task(i, ward)).unwrap();
    }
    office.sync_now().unwrap();
    let path = tmp.path().join("ward.sqlite");
    let mut w = relay.device(&path, 1, "phường");
    rounds_without_preparing(&mut w, |_| {});
    let docs = w.document_ids(None).unwrap().len();
    drop(w);
    let exe = std::env::current_exe().unwrap();
    for (round, kill_after) in [1usize, 2, 1].into_iter().enumerate() {
        let mut child = Command::new(&exe)
            .args(["prepare_later::prepare_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_STORE, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut seen = 0;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            if line.unwrap().starts_with("batch") {
                seen += 1;
                if seen >= kill_after {
                    // Somewhere in the next batch.
                    std::thread::sleep(std::time::Duration::from_millis(37 * (round as u64 + 1)));
                    child.kill().unwrap();
                    break;
                }
            }
        }
        child.wait().unwrap();
        let s = Store::open(&path).unwrap();
        assert_eq!(s.document_ids(None).unwrap().len(), docs, "round {round}");
        eprintln!("round {round}: {} waiting", s.documents_to_prepare().unwrap());
    }
    let mut s = Store::open(&path).unwrap();
    s.prepare_all().unwrap();
    assert_eq!(s.document_ids(None).unwrap().len(), docs);
    assert!(s.sync_problems().unwrap().is_empty());
    assert_eq!(mine(&s), 400);
    s.sync_now().unwrap();
    assert_eq!(mine(&s), 400);
    assert_eq!(s.pending_changes_count().unwrap(), 0);
}

/// The same through the background loop: the app is opened in the office, the status says
/// "up to date", the app is closed (the loop stopped) and the phone goes to the field: every
/// task is listed. (The first sync after `SyncHandle::start` is the one that starts at once;
/// the test holds the status callback a moment so the app's stop lands there.)
#[test]
fn up_to_date_then_closed_then_offline_shows_every_task() {
    use giaoban_client_core::{SyncHandle, SyncState};
    use std::sync::{Arc, Mutex, mpsc};
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let ward = relay.org.units[1].id;
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "văn phòng");
    office.issue_directive(dispatch_305(vec![ward], "08/02/2030", "11/02/2030")).unwrap();
    office.sync_now().unwrap();
    let path = tmp.path().join("ward.sqlite");
    let store = Arc::new(Mutex::new(relay.device(&path, 1, "phường")));
    let (tx, rx) = mpsc::channel::<()>();
    let tx = Mutex::new(Some(tx));
    let handle = SyncHandle::start(store.clone(), move |st| {
        if st.state == SyncState::UpToDate
            && let Some(tx) = tx.lock().unwrap().take()
        {
            tx.send(()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    });
    rx.recv_timeout(std::time::Duration::from_secs(20)).unwrap();
    handle.stop();
    drop(relay);
    let s = Store::open(&path).unwrap();
    let (waiting, tasks) = (s.documents_to_prepare().unwrap(), mine(&s));
    assert_eq!((waiting, tasks > 0), (0, true), "after 'up to date': documents waiting, any task listed");
}
