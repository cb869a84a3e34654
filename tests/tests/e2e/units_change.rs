//! Units that change, end to end: a real relay on 127.0.0.1:0, devices on their own SQLite
//! files. Two communes merged into a successor, a ward moved under another office, a successor
//! device enrolled before the merger, and the operator's mistakes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use giaoban_client_core::demo::dispatch_305;
use giaoban_client_core::protocol::schema::{ReportKind, Response, TaskState};
use giaoban_client_core::protocol::{DocId, UnitId};
use giaoban_client_core::{NewReport, NewSection, RelayClient, Store, TaskFilter, TaskScope, TaskView};
use giaoban_e2e::Relay;

/// dd/mm/yyyy in Vietnam, `days` from today.
fn local_date(days: i64) -> String {
    (Utc::now() + chrono::Duration::hours(7) + chrono::Duration::days(days)).format("%d/%m/%Y").to_string()
}

fn sync(s: &mut Store) {
    s.sync_now().unwrap();
}

fn report(directive: DocId, text: &str) -> NewReport {
    NewReport {
        title: "Báo cáo kết quả rà soát các mô hình dân vận khéo".into(),
        kind: ReportKind::Thematic,
        period: "quý I/2026".into(),
        answers: Some((directive, 3)),
        audience: vec![],
        sections: vec![NewSection {
            key: "ket_qua".into(), heading: "Kết quả".into(), body: text.into()
        }],
    }
}

fn holds(s: &Store, doc: DocId) -> bool {
    s.document_ids(None).unwrap().contains(&doc)
}

fn task(board: &[TaskView], assignee: UnitId, ordinal: u64) -> &TaskView {
    board.iter().find(|t| t.assignee == assignee && t.ordinal == ordinal).unwrap()
}

/// The province office issues dispatch 305 to three communes; two of them are merged into a
/// fourth. The successor's new device receives both predecessors' records and answers their
/// open tasks, the office sees the answers where it tracks each recipient, and the third
/// commune sees none of it.
#[test]
fn two_communes_merged_into_a_successor() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let dev = |name: &str, unit: usize| relay.device(&dir.path().join(format!("{name}.sqlite")), unit, name);
    let (a, b, c, successor) =
        (relay.org.units[1].id, relay.org.units[2].id, relay.org.units[3].id, relay.org.units[4].id);
    let mut city = dev("van-phong-tinh", 0);
    let mut xa_a = dev("xa-a-chi-lan", 1);
    let mut xa_b = dev("xa-b-anh-duc", 2);
    let mut xa_c = dev("xa-c-chi-hoa", 3);
    let directive =
        city.issue_directive(dispatch_305(vec![a, b, c], &local_date(10), &local_date(13))).unwrap();
    sync(&mut city);
    for s in [&mut xa_a, &mut xa_b, &mut xa_c] {
        sync(s);
        s.acknowledge_task(directive, 1).unwrap();
    }
    // A finished task 3 before the merger; B did not.
    let a_report = xa_a
        .create_report(report(directive, "Rà soát 14 mô hình, nhân rộng 3 mô hình ở ấp Hòa Bình."))
        .unwrap();
    xa_a.submit_report(a_report).unwrap();
    xa_b.update_task_progress(directive, 2, "Đang tổ chức hội nghị ở khu phố Suối Chồn.").unwrap();
    xa_c.update_task_progress(directive, 2, "Xã C đã họp Ban Thường trực.").unwrap();
    for s in [&mut xa_a, &mut xa_b, &mut xa_c] {
        sync(s);
    }

    let change = relay.store.merge_units(vec![a, b], successor).unwrap();
    assert!(change.gained.get(&successor).is_some_and(|n| *n >= 4), "{change:?}");

    let mut moi = dev("xa-moi-chi-muoi", 4);
    sync(&mut moi);
    let (resp_a, resp_b) = (Response::id_for(directive, a), Response::id_for(directive, b));
    for doc in [directive, resp_a, resp_b, a_report] {
        assert!(holds(&moi, doc), "the successor's new device holds {doc}");
    }
    let mut acting = moi.acting_for().unwrap();
    assert_eq!(acting.remove(0), successor);
    acting.sort();
    let mut preds = vec![a, b];
    preds.sort();
    assert_eq!(acting, preds, "it writes for both predecessors");
    let tasks_b = moi.list_tasks(&TaskFilter { scope: TaskScope::Unit(b), ..Default::default() }).unwrap();
    assert_eq!(task(&tasks_b, b, 2).state, Some(TaskState::InProgress));

    // The successor answers: task 2 for both (both open), task 3 for B only (A finished it).
    moi.update_task_progress(directive, 2, "Xã mới đã kiện toàn Ban Công tác Mặt trận ở 12 ấp.").unwrap();
    let moi_report = moi
        .create_report(report(directive, "Sau sáp nhập, rà soát 20 mô hình; giải thể 2 mô hình."))
        .unwrap();
    moi.submit_report(moi_report).unwrap();
    let pushed = moi.sync_now().unwrap();
    assert!(pushed.rejected.is_empty(), "{:?}", pushed.rejected);

    sync(&mut city);
    let board = city.list_tasks(&TaskFilter { scope: TaskScope::IssuedByMe, ..Default::default() }).unwrap();
    assert_eq!(task(&board, a, 2).state, Some(TaskState::InProgress));
    assert_eq!(task(&board, b, 2).state, Some(TaskState::InProgress));
    assert_eq!(task(&board, a, 3).state, Some(TaskState::Submitted));
    assert_eq!(task(&board, a, 3).report, Some(a_report), "A's own submission stands");
    assert_eq!(task(&board, b, 3).state, Some(TaskState::Submitted));
    assert_eq!(task(&board, b, 3).report, Some(moi_report), "B's task answered by the successor");
    assert!(holds(&city, moi_report));
    let b_response: Response = city.get(resp_b).unwrap();
    assert!(
        b_response.task(2).unwrap().note.as_str().contains("12 ấp"),
        "the office reads the successor's words in B's response"
    );

    // The third commune sees none of it.
    sync(&mut xa_c);
    for doc in [resp_a, resp_b, a_report, moi_report] {
        assert!(!holds(&xa_c, doc), "the third commune holds {doc}");
    }
    assert_eq!(
        task(&xa_c.list_tasks(&TaskFilter::default()).unwrap(), c, 2).state,
        Some(TaskState::InProgress)
    );

    // A predecessor's device still syncs what it wrote offline; new devices go to the successor.
    xa_b.acknowledge_task(directive, 4).unwrap();
    let late = xa_b.sync_now().unwrap();
    assert!(late.rejected.is_empty(), "{:?}", late.rejected);
    sync(&mut moi);
    let b_now: Response = moi.get(resp_b).unwrap();
    assert_eq!(b_now.task(4).unwrap().state, TaskState::Acknowledged);
    let refused = relay.store.create_enrollment(b, 1).unwrap_err();
    assert!(refused.to_string().contains("was merged into"), "{refused}");
}

/// A device of the successor enrolled long before the merger, with a witness of its unit's
/// log from before it, receives the predecessors' records on its next sync as ordinary pages
/// (no reconcile, no starting over); and live notifications follow the new readers.
#[test]
fn an_enrolled_successor_device_gets_the_records_on_its_next_sync() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let dev = |name: &str, unit: usize| relay.device(&dir.path().join(format!("{name}.sqlite")), unit, name);
    let (a, b, c, successor) =
        (relay.org.units[1].id, relay.org.units[2].id, relay.org.units[3].id, relay.org.units[4].id);
    let mut city = dev("van-phong-tinh", 0);
    let mut xa_a = dev("xa-a", 1);
    let mut xa_c = dev("xa-c", 3);
    let mut cu = dev("xa-moi-may-cu", 4);
    let directive =
        city.issue_directive(dispatch_305(vec![a, b, c], &local_date(10), &local_date(13))).unwrap();
    sync(&mut city);
    sync(&mut xa_a);
    xa_a.update_task_progress(directive, 2, "Phường A đang rà soát hộ nghèo ở tổ 7.").unwrap();
    sync(&mut xa_a);
    sync(&mut cu);
    sync(&mut xa_c);
    assert!(!holds(&cu, directive), "not addressed to the successor");
    let meta = |s: &Store, key: &str| -> Option<Vec<u8>> {
        let c = rusqlite::Connection::open(s.path()).unwrap();
        c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).ok()
    };
    let witness_before = meta(&cu, "sync_witness").unwrap();
    let cursor_before = meta(&cu, "sync_cursor").unwrap();

    relay.store.merge_units(vec![a, b], successor).unwrap();
    let got = cu.sync_now().unwrap();
    assert!(holds(&cu, directive) && holds(&cu, Response::id_for(directive, a)));
    assert!(got.round_trips <= 2, "ordinary pages: {got:?}");
    assert!(meta(&cu, "sync_listing").is_none(), "the device was not asked to reconcile");
    assert_ne!(meta(&cu, "sync_cursor").unwrap(), cursor_before);
    let pos = u64::from_le_bytes(witness_before[..8].try_into().unwrap());
    let digest: [u8; 16] = witness_before[8..].try_into().unwrap();
    assert!(
        relay
            .store
            .witness_holds(successor, giaoban_client_core::protocol::wire::Witness { pos, digest })
            .unwrap(),
        "the log the device saw before the merger is still the relay's"
    );
    let tasks = cu.list_tasks(&TaskFilter { scope: TaskScope::Unit(a), ..Default::default() }).unwrap();
    assert_eq!(task(&tasks, a, 2).state, Some(TaskState::InProgress));

    // Live: a change of A's now wakes the successor's device, and not the third commune's.
    let listen = |s: &Store| {
        let (url, token) = s.relay().unwrap().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        std::thread::spawn(move || {
            let _ = RelayClient::new(&url).with_token(&token).listen(|changed| {
                if changed {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
                true
            });
        });
        count
    };
    let woken_successor = listen(&cu);
    let woken_third = listen(&xa_c);
    // Each stream says "changed" once when it opens (the device syncs then).
    let t0 = Instant::now();
    while woken_successor.load(Ordering::SeqCst) == 0 || woken_third.load(Ordering::SeqCst) == 0 {
        assert!(t0.elapsed() < Duration::from_secs(10), "the streams did not open");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (successor_base, third_base) =
        (woken_successor.load(Ordering::SeqCst), woken_third.load(Ordering::SeqCst));
    xa_a.update_task_progress(directive, 2, "Phường A đã hỗ trợ 5 hộ nghèo ở tổ 7.").unwrap();
    sync(&mut xa_a);
    let t0 = Instant::now();
    while woken_successor.load(Ordering::SeqCst) == successor_base {
        assert!(t0.elapsed() < Duration::from_secs(10), "the successor's device was not woken");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(woken_third.load(Ordering::SeqCst), third_base, "the third commune reads nothing of A's");
    sync(&mut cu);
    let r: Response = cu.get(Response::id_for(directive, a)).unwrap();
    assert!(r.task(2).unwrap().note.as_str().contains("5 hộ nghèo"));
}

/// A ward placed under a neighbouring ward's committee (standing in for a cluster office),
/// then moved under another: each new parent's devices receive its records, the parent it
/// left stops getting its new changes (what that parent's devices hold stays there), and the
/// province, above it all along, misses nothing.
#[test]
fn a_unit_moved_under_another_office() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let dev = |name: &str, unit: usize| relay.device(&dir.path().join(format!("{name}.sqlite")), unit, name);
    let (ward, first_office, second_office) =
        (relay.org.units[5].id, relay.org.units[6].id, relay.org.units[7].id);
    let mut city = dev("van-phong-tinh", 0);
    let mut phuong = dev("phuong-chi-thuy", 5);
    let mut office1 = dev("cum-1", 6);
    let mut office2 = dev("cum-2", 7);
    let directive = city.issue_directive(dispatch_305(vec![ward], &local_date(10), &local_date(13))).unwrap();
    sync(&mut city);
    sync(&mut phuong);
    let own_report = phuong.create_report(report(directive, "Phường rà soát 9 mô hình.")).unwrap();
    sync(&mut phuong);
    sync(&mut office1);
    assert!(!holds(&office1, own_report), "a sibling reads nothing of the ward's");

    relay.store.move_unit(ward, first_office).unwrap();
    sync(&mut office1);
    assert!(holds(&office1, own_report), "the new parent receives the ward's records");
    assert!(holds(&office1, Response::id_for(directive, ward)));

    relay.store.move_unit(ward, second_office).unwrap();
    phuong.set_report_section_text(own_report, "ket_qua", "Phường rà soát 9 mô hình, nhân rộng 2.").unwrap();
    sync(&mut phuong);
    sync(&mut office1);
    sync(&mut office2);
    let old_parent: giaoban_client_core::protocol::schema::Report = office1.get(own_report).unwrap();
    assert_eq!(
        old_parent.sections[0].body.as_str(),
        "Phường rà soát 9 mô hình.",
        "the old parent keeps what it had, and gets nothing new"
    );
    let new_parent: giaoban_client_core::protocol::schema::Report = office2.get(own_report).unwrap();
    assert_eq!(new_parent.sections[0].body.as_str(), "Phường rà soát 9 mô hình, nhân rộng 2.");
    sync(&mut city);
    let at_city: giaoban_client_core::protocol::schema::Report = city.get(own_report).unwrap();
    assert_eq!(at_city.sections[0].body.as_str(), "Phường rà soát 9 mô hình, nhân rộng 2.");
    // The directory on every device says where the ward is now.
    let dir_now = office1.unit_directory().unwrap();
    assert_eq!(dir_now.unit(ward).unwrap().parent, Some(second_office));
}

/// The operator's mistakes are refused with a sentence naming the units, and devices see
/// nothing of a refused command.
#[test]
fn operator_errors() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let dev = |name: &str, unit: usize| relay.device(&dir.path().join(format!("{name}.sqlite")), unit, name);
    let (city_id, a, b, successor) =
        (relay.org.units[0].id, relay.org.units[1].id, relay.org.units[2].id, relay.org.units[4].id);
    let mut moi = dev("xa-moi", 4);
    sync(&mut moi);
    let before = moi.document_ids(None).unwrap();
    let unknown = UnitId::from_bytes([9; 16]);
    let cases: Vec<(giaoban_relay::store::StoreError, &str)> = vec![
        (relay.store.merge_units(vec![a], unknown).unwrap_err(), "no unit has id"),
        (relay.store.merge_units(vec![a], a).unwrap_err(), "cannot be merged into itself"),
        (relay.store.move_unit(city_id, a).unwrap_err(), "would make a cycle in the tree"),
        (relay.store.move_unit(a, unknown).unwrap_err(), "no unit has id"),
    ];
    for (e, want) in cases {
        assert!(e.to_string().contains(want), "{e}");
    }
    relay.store.merge_units(vec![a], successor).unwrap();
    let again = relay.store.merge_units(vec![a], b).unwrap_err().to_string();
    assert!(again.contains("was already merged into") && again.contains("Ủy ban MTTQ Việt Nam"), "{again}");
    let name_a = &relay.org.units[1].name;
    assert!(again.starts_with(name_a.as_str()), "names the unit as the office knows it: {again}");
    let by_name = relay.store.find_unit("xyz không có").unwrap_err().to_string();
    assert!(by_name.contains("no unit matches"), "{by_name}");
    sync(&mut moi);
    let after = moi.document_ids(None).unwrap();
    assert_eq!(before, after, "the one merger changed the directory, and A had no records");
}

#[test]
fn a_wards_womens_union_added_as_a_unit_receives_a_dispatch_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let units = &relay.org.units;
    let ward = units[1].id;
    let mut ward_phone = relay.device(&dir.path().join("ward.sqlite"), 1, "Điện thoại phường");
    sync(&mut ward_phone);
    let before = ward_phone.unit_directory().unwrap().units.len();

    let (union, _) = relay
        .store
        .add_unit(
            ward,
            giaoban_relay::store::NewUnit {
                name: "Hội Liên hiệp Phụ nữ phường Xuân Trung".into(),
                short_name: "Hội LHPN P. Xuân Trung".into(),
                kind: giaoban_client_core::protocol::schema::UnitKind::MemberOrganisation,
                level_label: String::new(),
            },
        )
        .unwrap();
    // The same name again (any spelling of it) is refused; so is an unknown parent.
    let again = giaoban_relay::store::NewUnit {
        name: "hoi lien hiep phu nu phuong xuan trung".into(),
        short_name: String::new(),
        kind: giaoban_client_core::protocol::schema::UnitKind::MemberOrganisation,
        level_label: String::new(),
    };
    assert!(relay.store.add_unit(ward, again.clone()).is_err());
    assert!(relay.store.add_unit(UnitId::from_bytes([3; 16]), again).is_err());

    // A name given in full finds that unit, though it is part of another's name.
    let team = giaoban_relay::store::NewUnit {
        name: "Hội Liên hiệp Phụ nữ phường Xuân Trung – Chi hội khu phố 1".into(),
        short_name: String::new(),
        kind: giaoban_client_core::protocol::schema::UnitKind::MemberOrganisation,
        level_label: "khu phố".into(),
    };
    let (team, _) = relay.store.add_unit(union, team).unwrap();
    assert_eq!(relay.store.find_unit("Hội Liên hiệp Phụ nữ phường Xuân Trung").unwrap().0, union);
    assert_eq!(relay.store.find_unit("chi hoi khu pho 1").unwrap().0, team);

    // Devices already enrolled see it in the unit list on their next sync.
    sync(&mut ward_phone);
    let listed = ward_phone.unit_directory().unwrap();
    assert_eq!(listed.units.len(), before + 2);
    let u = listed.unit(union).unwrap();
    assert_eq!((u.parent, u.short_name.as_str()), (Some(ward), "Hội LHPN P. Xuân Trung"));
    assert_eq!(u.level_label, listed.unit(ward).unwrap().level_label, "the parent's level");

    // Its own first device receives the whole unit list, then the ward's dispatch to it.
    let mut union_phone = Store::open(dir.path().join("union.sqlite")).unwrap();
    let code = relay.store.create_enrollment(union, 1).unwrap();
    union_phone.enroll(&relay.url, &code.code, "Điện thoại chị Hoa").unwrap();
    sync(&mut union_phone);
    assert!(
        union_phone.unit_directory().unwrap().unit(union).is_some(),
        "the new unit's device reads the list"
    );
    let directive =
        ward_phone.issue_directive(dispatch_305(vec![union], &local_date(5), &local_date(8))).unwrap();
    sync(&mut ward_phone);
    sync(&mut union_phone);
    let mine =
        union_phone.list_tasks(&TaskFilter { scope: TaskScope::Mine, ..TaskFilter::default() }).unwrap();
    assert_eq!(mine.len(), 4, "the four tasks of the dispatch");
    // It reports, and the ward (and the office above it) read the report.
    let r = union_phone.create_report(report(directive, "Đã rà soát 5 mô hình phụ nữ giúp nhau.")).unwrap();
    union_phone.submit_report(r).unwrap();
    sync(&mut union_phone);
    sync(&mut ward_phone);
    assert!(holds(&ward_phone, r), "the ward reads its union's report");
    let mut office_phone = relay.device(&dir.path().join("office.sqlite"), 0, "Văn phòng");
    sync(&mut office_phone);
    assert!(holds(&office_phone, r), "the office above reads it too");
}

/// The successor's device asks whom it writes for (the directory is read and kept), the relay
/// merges two communes into its unit, and the sync that brings the new directory fails on a
/// full disk or is interrupted: whatever was kept, the device writes for exactly the units a
/// fresh open of its file says; the next sync that succeeds makes it write for both
/// predecessors.
#[test]
fn a_directory_change_rolled_back_grants_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let dev = |name: &str, unit: usize| relay.device(&dir.path().join(format!("{name}.sqlite")), unit, name);
    let (a, b, successor) = (relay.org.units[1].id, relay.org.units[2].id, relay.org.units[4].id);
    let mut cu = dev("xa-moi-may-cu", 4);
    sync(&mut cu);
    // Read and kept at the directory's current heads.
    assert_eq!(cu.acting_for().unwrap(), vec![successor]);

    relay.store.merge_units(vec![a, b], successor).unwrap();

    // What a store on the same file, opened afresh, says: what is on disk.
    let fresh = |s: &Store| -> Vec<UnitId> {
        let mut acting = Store::open(s.path()).unwrap().acting_for().unwrap();
        acting.sort();
        acting
    };
    let sorted = |mut v: Vec<UnitId>| {
        v.sort();
        v
    };

    // A full disk at once, then statements interrupted at many points of the sync's writes.
    cu.limit_storage(Some(0)).unwrap();
    let full = cu.sync_now();
    cu.limit_storage(None).unwrap();
    assert_eq!(sorted(cu.acting_for().unwrap()), fresh(&cu), "memory never runs ahead of disk");
    let _ = full; // a sync of several round trips may keep the ones before the failure

    let mut faults = 0;
    for ops in (16..20_000).step_by(173) {
        cu.interrupt_after(Some(ops)).unwrap();
        let result = cu.sync_now();
        cu.interrupt_after(None).unwrap();
        // Whatever the point, what the device writes for is what its file says.
        assert_eq!(sorted(cu.acting_for().unwrap()), fresh(&cu), "interrupted after {ops} steps");
        match result {
            Err(_) => faults += 1,
            Ok(_) => break,
        }
    }
    assert!(faults > 0, "no fault was injected");

    sync(&mut cu);
    assert_eq!(sorted(cu.acting_for().unwrap()), sorted(vec![successor, a, b]));
    assert_eq!(sorted(cu.acting_for().unwrap()), fresh(&cu));
}

/// An enrolment whose local write is cut at any point leaves the device the unit its file
/// says, in memory as on disk: never a unit in memory that a restart would not find.
#[test]
fn an_enrolment_cut_midway_leaves_the_unit_the_file_says() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let unit_of = |s: &mut Store| s.acting_for().ok().map(|a| a[0]);
    let mut faults = 0;
    for ops in (16..2_000).step_by(16) {
        let mut phone = Store::open(dir.path().join(format!("phone-{ops}.sqlite"))).unwrap();
        let code = relay.store.create_enrollment(relay.org.units[2].id, 1).unwrap();
        phone.interrupt_after(Some(ops)).unwrap();
        let result = phone.enroll(&relay.url, &code.code, "Điện thoại chị Lan");
        phone.interrupt_after(None).unwrap();
        let on_disk = unit_of(&mut Store::open(phone.path()).unwrap());
        assert_eq!(unit_of(&mut phone), on_disk, "cut after {ops} steps");
        match result {
            Err(_) => faults += 1,
            Ok(_) => {
                assert_eq!(on_disk, Some(relay.org.units[2].id), "the enrolment that went through holds");
                break;
            }
        }
    }
    assert!(faults > 0, "no cut was made");
}
