//! Attached files through a real relay: a ward phone attaches a photo to its report, the
//! office's computer opens it; transfers resume after cuts and restarts; hostile requests get
//! clear answers and store nothing.

use std::sync::atomic::Ordering;
use std::time::Duration;

use giaoban_client_core::{AttachTo, NewReport, NewSection, Opened, Store};
use giaoban_e2e::workload::{house_report, jpeg, photo};
use giaoban_e2e::{Relay, sync_until_done, transfer_all};

fn report(ward: &mut Store) -> DocId {
    ward.create_report(house_report("Báo cáo kết quả xây dựng nhà Đại đoàn kết")).unwrap()
}
use giaoban_e2e::proxy::{FaultProxy, LinkFaults};
use giaoban_protocol::schema::ReportKind;
use giaoban_protocol::wire::FileHeld;
use giaoban_protocol::{BlobHash, DocId};

#[test]
fn a_photo_attached_on_a_ward_phone_opens_on_the_office_computer() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let mut ward = relay.device(&tmp.path().join("ward.sqlite"), 1, "điện thoại cán bộ xã");
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "máy văn phòng tỉnh");
    let id = report(&mut ward);
    let bytes = photo(3 * 1024 * 1024, 7);
    let a = ward.attach_bytes(AttachTo::Report(id), &bytes, jpeg("ảnh nhà ông Lực.jpg")).unwrap();
    assert_eq!(a.hash, BlobHash::of(&bytes));
    assert_eq!(a.size, bytes.len() as u64);
    assert_eq!(ward.attachments(id).unwrap()[0].state.sentence(), "chờ gửi");
    // The same photo attached again is one attachment and one file.
    let again = ward.attach_bytes(AttachTo::Report(id), &bytes, jpeg("IMG_2041.jpg")).unwrap();
    assert_eq!(again.name, "ảnh nhà ông Lực.jpg");
    assert_eq!(ward.attachments(id).unwrap().len(), 1);

    ward.sync_now().unwrap();
    // The document is on the relay; the office sees the reference before the file.
    office.sync_now().unwrap();
    let seen = office.attachments(id).unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].attachment.name, "ảnh nhà ông Lực.jpg");
    assert_eq!(seen[0].attachment.caption, "Lễ bàn giao nhà Đại đoàn kết");
    assert!(!seen[0].state.here);
    assert!(matches!(office.open_attachment(a.hash).unwrap(), Opened::Fetching(_)));
    // Not sent yet: the office's fetch waits.
    let r = office.sync_files().unwrap();
    assert_eq!((r.fetched, r.waiting), (0, 1));

    let r = ward.sync_files().unwrap();
    assert_eq!(r.sent, 1);
    assert_eq!(ward.attachments(id).unwrap()[0].state.sentence(), "đã gửi");
    // Sent once: a second run sends nothing.
    let r = ward.sync_files().unwrap();
    assert_eq!((r.sent, r.bytes_sent), (0, 0));

    let r = office.sync_files().unwrap();
    assert_eq!(r.fetched, 1);
    let Opened::Here(path) = office.open_attachment(a.hash).unwrap() else { panic!("the photo is here") };
    assert_eq!(std::fs::read(path).unwrap(), bytes);
    assert_eq!(office.attachments(id).unwrap()[0].state.sentence(), "đã gửi");
}

#[test]
fn small_files_are_fetched_without_being_opened_and_large_ones_when_opened() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let mut ward = relay.device(&tmp.path().join("ward.sqlite"), 1, "điện thoại cán bộ xã");
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "máy văn phòng tỉnh");
    let id = report(&mut ward);
    let small = photo(40 * 1024, 1);
    let large = photo(2 * 1024 * 1024, 2);
    let s = ward.attach_bytes(AttachTo::Report(id), &small, jpeg("biên bản.jpg")).unwrap();
    let l = ward.attach_bytes(AttachTo::Report(id), &large, jpeg("toàn cảnh.jpg")).unwrap();
    ward.sync_now().unwrap();
    assert_eq!(ward.sync_files().unwrap().sent, 2);
    office.sync_now().unwrap();
    assert_eq!(office.sync_files().unwrap().fetched, 1);
    assert!(office.file_state(s.hash).unwrap().here);
    assert!(!office.file_state(l.hash).unwrap().here);
    office.set_prefetch_limit(0).unwrap();
    assert!(matches!(office.open_attachment(l.hash).unwrap(), Opened::Fetching(_)));
    assert_eq!(office.sync_files().unwrap().fetched, 1);
    assert!(office.file_state(l.hash).unwrap().here);
}

#[test]
fn a_photo_crosses_a_link_cut_every_hundred_kilobytes_for_little_more_than_its_size() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    // A cut at a random point in about one 4 KiB chunk in 25, both ways: about every 100 KB.
    let faults = LinkFaults {
        bytes_per_second: None,
        one_way_delay: Duration::from_millis(2),
        cut_probability: 0.04,
        seed: 11,
        cut_uploads: true,
    };
    let up_proxy = FaultProxy::start(&relay.addr(), faults);
    let down_proxy = FaultProxy::start(&relay.addr(), LinkFaults { seed: 12, ..faults });
    let mut ward =
        relay.device_via(&up_proxy.url, &tmp.path().join("ward.sqlite"), 1, "điện thoại cán bộ xã");
    let mut office =
        relay.device_via(&down_proxy.url, &tmp.path().join("office.sqlite"), 0, "máy văn phòng tỉnh");
    let id = report(&mut ward);
    let bytes = photo(3 * 1024 * 1024, 3);
    let a = ward.attach_bytes(AttachTo::Report(id), &bytes, jpeg("ảnh.jpg")).unwrap();
    sync_until_done(&mut ward);
    sync_until_done(&mut office);
    let (up_before, cuts_before) =
        (up_proxy.up_bytes.load(Ordering::Relaxed), up_proxy.cuts.load(Ordering::Relaxed));
    let (down_before, down_cuts_before) =
        (down_proxy.down_bytes.load(Ordering::Relaxed), down_proxy.cuts.load(Ordering::Relaxed));

    let (sent, _) = transfer_all(&mut ward);
    assert_eq!(sent, 1);
    let up = up_proxy.up_bytes.load(Ordering::Relaxed) - up_before;
    let cuts = up_proxy.cuts.load(Ordering::Relaxed) - cuts_before;
    assert!(cuts >= 10, "the link was cut {cuts} times");
    assert!((up as f64) <= 1.1 * bytes.len() as f64, "{up} bytes went up for a file of {}", bytes.len());
    println!(
        "sent 3 MiB through {cuts} cuts: {up} bytes up ({:.3}× the file)",
        up as f64 / bytes.len() as f64
    );
    office.open_attachment(a.hash).unwrap();
    let (_, fetched) = transfer_all(&mut office);
    assert_eq!(fetched, 1);
    let down = down_proxy.down_bytes.load(Ordering::Relaxed) - down_before;
    let cuts = down_proxy.cuts.load(Ordering::Relaxed) - down_cuts_before;
    assert!(cuts >= 10, "the link was cut {cuts} times");
    assert!(
        (down as f64) <= 1.1 * bytes.len() as f64,
        "{down} bytes came down for a file of {}",
        bytes.len()
    );
    println!(
        "fetched 3 MiB through {cuts} cuts: {down} bytes down ({:.3}× the file)",
        down as f64 / bytes.len() as f64
    );
    let Opened::Here(path) = office.open_attachment(a.hash).unwrap() else { panic!("here") };
    assert_eq!(std::fs::read(path).unwrap(), bytes);
}

#[test]
fn a_send_resumes_after_the_relay_restarts_and_a_partial_file_never_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let mut ward = relay.device(&tmp.path().join("ward.sqlite"), 1, "điện thoại cán bộ xã");
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "máy văn phòng tỉnh");
    let id = report(&mut ward);
    let bytes = photo(2 * 1024 * 1024 + 123, 5);
    let a = ward.attach_bytes(AttachTo::Report(id), &bytes, jpeg("ảnh.jpg")).unwrap();
    ward.sync_now().unwrap();
    // Half the file, sent by hand as a cut request would leave it.
    let (url, token) = ward.relay().unwrap().unwrap();
    // As much as one request carries, as a cut request would leave it.
    let half = giaoban_protocol::wire::FILE_PIECE_BYTES as usize;
    let held = put(&url, &token, &a.hash, 0, &bytes[..half]);
    assert_eq!((held.have, held.whole), (half as u64, false));
    office.sync_now().unwrap();
    office.open_attachment(a.hash).unwrap();
    // Half a file is not a file: the office waits, and sees how far the ward's send has come.
    assert_eq!(office.sync_files().unwrap().fetched, 0);
    let pct = half as u64 * 100 / bytes.len() as u64;
    assert_eq!(office.attachments(id).unwrap()[0].state.sentence(), format!("đang tải lên {pct} %"));
    let relay = relay.restart();
    // After the restart the relay still holds the half, and the ward sends only the rest.
    let r = ward.sync_files().unwrap();
    assert_eq!(r.sent, 1);
    assert!(r.bytes_sent <= (bytes.len() - half) as u64 + 1, "sent {} after a restart", r.bytes_sent);
    assert_eq!(office.sync_files().unwrap().fetched, 1);
    drop(relay);
}

fn put(url: &str, token: &str, hash: &BlobHash, offset: u64, body: &[u8]) -> FileHeld {
    let (status, text) = put_raw(url, Some(token), &hash.to_hex(), offset, body);
    assert!(status == 200 || status == 409, "{status}: {text}");
    serde_json::from_str(&text).unwrap()
}

fn put_raw(url: &str, token: Option<&str>, hash: &str, offset: u64, body: &[u8]) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut req = agent.put(&format!("{url}/v1/files/{hash}?offset={offset}"));
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.send(body).unwrap();
    (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap_or_default())
}

fn get_raw(url: &str, token: Option<&str>, hash: &str) -> (u16, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut req = agent.get(&format!("{url}/v1/files/{hash}"));
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.call().unwrap();
    let status = resp.status().as_u16();
    (status, resp.body_mut().with_config().limit(64 << 20).read_to_vec().unwrap_or_default())
}

#[test]
fn hostile_requests_get_clear_answers_and_store_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let mut ward = relay.device(&tmp.path().join("ward-a.sqlite"), 1, "cán bộ phường A");
    let other = relay.device(&tmp.path().join("ward-b.sqlite"), 2, "cán bộ phường B");
    let id = report(&mut ward);
    let bytes = photo(300 * 1024, 9);
    let a = ward.attach_bytes(AttachTo::Report(id), &bytes, jpeg("../../etc/passwd\u{0007}")).unwrap();
    assert_eq!(a.name, "passwd");
    ward.sync_now().unwrap();
    let (url, token) = ward.relay().unwrap().unwrap();
    let (_, other_token) = other.relay().unwrap().unwrap();
    let hex = a.hash.to_hex();

    // Bytes that do not match the hash: refused at the last byte, nothing kept.
    let mut wrong = bytes.clone();
    wrong[1000] ^= 0xff;
    let (status, text) = put_raw(&url, Some(&token), &hex, 0, &wrong);
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("do not match"), "{text}");
    let held = put(&url, &token, &a.hash, 0, &[]);
    assert_eq!((held.have, held.whole), (0, false));

    // A piece from another offset than the relay holds: told the right one.
    put(&url, &token, &a.hash, 0, &bytes[..1000]);
    let (status, text) = put_raw(&url, Some(&token), &hex, 5000, &bytes[5000..6000]);
    assert_eq!(status, 409);
    let held: FileHeld = serde_json::from_str(&text).unwrap();
    assert_eq!(held.have, 1000);

    // More bytes than the file has.
    let mut long = bytes.clone();
    long.extend_from_slice(b"them");
    let (status, _) = put_raw(&url, Some(&token), &hex, 1000, &long[1000..]);
    assert_eq!(status, 400);

    // Another ward may neither send nor fetch it, and learns nothing: the same answer as for
    // a hash nobody has.
    let unknown = BlobHash::of(b"khong co").to_hex();
    let (s1, t1) = get_raw(&url, Some(&other_token), &hex);
    let (s2, t2) = get_raw(&url, Some(&other_token), &unknown);
    assert_eq!((s1, &t1), (s2, &t2));
    assert_eq!(s1, 404);
    let (status, _) = put_raw(&url, Some(&other_token), &hex, 0, &bytes);
    assert_eq!(status, 404);
    // No token, a made-up token, a malformed hash.
    assert_eq!(get_raw(&url, None, &hex).0, 401);
    assert_eq!(get_raw(&url, Some("gia-mao"), &hex).0, 401);
    assert_eq!(get_raw(&url, Some(&token), "khong-phai-ma-bam").0, 400);
    // A revoked device.
    relay.store.revoke_device(other.device_id()).unwrap();
    assert_eq!(get_raw(&url, Some(&other_token), &hex).0, 403);

    // The real bytes still go through, and only then may the office fetch them.
    assert_eq!(ward.sync_files().unwrap().sent, 1);
    let (status, body) = get_raw(&url, Some(&token), &hex);
    assert_eq!(status, 200);
    assert_eq!(body.len(), bytes.len());
}

#[test]
fn a_file_over_the_relays_limit_is_refused_before_it_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("relay");
    let config =
        giaoban_relay::Config { data_dir: dir.clone(), max_file_bytes: 1024 * 1024, ..Default::default() };
    let relay = Relay::start_with(&dir, config, true);
    let mut ward = relay.device(&tmp.path().join("ward.sqlite"), 1, "cán bộ xã");
    let id = report(&mut ward);
    let bytes = photo(3 * 1024 * 1024, 4);
    let a = ward.attach_bytes(AttachTo::Report(id), &bytes, jpeg("ảnh lớn.jpg")).unwrap();
    ward.sync_now().unwrap();
    let r = ward.sync_files().unwrap();
    assert_eq!((r.sent, r.waiting), (0, 1));
    assert_eq!(r.bytes_sent, 0, "the relay says so before a byte is sent");
    let state = ward.file_state(a.hash).unwrap();
    assert!(state.problem.as_deref().unwrap_or_default().contains("at most 1.0 MB"), "{state:?}");
    assert!(state.sentence().starts_with("máy chủ không nhận tệp"), "{}", state.sentence());
    // The report itself went up whole, and a file refused is not tried again and again.
    assert_eq!(ward.pending_changes_count().unwrap(), 0);
    assert_eq!(ward.sync_files().unwrap().requests, 0);
}

#[test]
fn a_file_larger_than_the_device_takes_is_refused_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let mut ward = relay.device(&tmp.path().join("ward.sqlite"), 1, "cán bộ xã");
    let id = report(&mut ward);
    let big = photo(26 * 1024 * 1024, 8);
    let err = ward.attach_bytes(AttachTo::Report(id), &big, jpeg("video.jpg")).unwrap_err().to_string();
    assert!(err.contains("26.0 MB") && err.contains("25.0 MB"), "{err}");
    assert!(ward.attachments(id).unwrap().is_empty());
    // Nothing was left in the folder.
    let folder = tmp.path().join("ward.sqlite.files");
    let left = std::fs::read_dir(&folder).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0);
}

#[test]
fn naming_another_wards_photo_in_a_report_of_ones_own_does_not_open_it() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let mut ward_a = relay.device(&tmp.path().join("ward-a.sqlite"), 1, "cán bộ phường A");
    let mut ward_b = relay.device(&tmp.path().join("ward-b.sqlite"), 2, "cán bộ phường B");
    let id = report(&mut ward_a);
    let bytes = photo(200 * 1024, 31);
    let a = ward_a.attach_bytes(AttachTo::Report(id), &bytes, jpeg("ảnh.jpg")).unwrap();
    ward_a.sync_now().unwrap();
    assert_eq!(ward_a.sync_files().unwrap().sent, 1);

    // Ward B learns the hash and writes it into a report of its own, as a forged reference:
    // a reference alone opens nothing.
    let forged = report(&mut ward_b);
    let fake = b"nothing to do with the photo";
    ward_b.attach_bytes(AttachTo::Report(forged), fake, jpeg("x.jpg")).unwrap();
    ward_b.sync_now().unwrap();
    forge_ref(&mut ward_b, forged, a.hash, bytes.len() as u64);
    let (url, token_b) = ward_b.relay().unwrap().unwrap();
    let unknown = BlobHash::of(b"khong co").to_hex();
    let (s1, t1) = get_raw(&url, Some(&token_b), &a.hash.to_hex());
    let (s2, t2) = get_raw(&url, Some(&token_b), &unknown);
    assert_eq!((s1, &t1), (s2, &t2), "the same answer as for a file nobody has");

    // A ward that does hold the same photo (sent to it on paper, say) attaches it, sends every
    // byte, and from then on its own records show it.
    let mut ward_c = relay.device(&tmp.path().join("ward-c.sqlite"), 3, "cán bộ xã C");
    let own = report(&mut ward_c);
    ward_c.attach_bytes(AttachTo::Report(own), &bytes, jpeg("ảnh.jpg")).unwrap();
    ward_c.sync_now().unwrap();
    let r = ward_c.sync_files().unwrap();
    assert_eq!((r.sent, r.bytes_sent), (1, bytes.len() as u64), "it proves it holds the file by sending it");
    let (_, token_c) = ward_c.relay().unwrap().unwrap();
    assert_eq!(get_raw(&url, Some(&token_c), &a.hash.to_hex()).0, 200);
}

#[test]
fn the_files_of_the_report_due_soonest_go_first() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let mut city = relay.device(&tmp.path().join("city.sqlite"), 0, "văn phòng tỉnh");
    let mut ward = relay.device(&tmp.path().join("ward.sqlite"), 1, "cán bộ xã");
    let to = vec![relay.org.units[1].id];
    let late = city
        .issue_directive(giaoban_client_core::demo::dispatch_305(to.clone(), "08/02/2031", "11/02/2031"))
        .unwrap();
    let soon = city
        .issue_directive(giaoban_client_core::demo::dispatch_305(to, "08/02/2030", "11/02/2030"))
        .unwrap();
    city.sync_now().unwrap();
    ward.sync_now().unwrap();
    let mut answer = |directive: DocId, seed: u64| -> BlobHash {
        let id = ward
            .create_report(NewReport {
                title: "Báo cáo kết quả rà soát các mô hình".into(),
                kind: ReportKind::Thematic,
                period: String::new(),
                answers: Some((directive, 3)),
                audience: Vec::new(),
                sections: vec![NewSection {
                    key: "ket_qua".into(),
                    heading: "Kết quả".into(),
                    body: "Đã rà soát 12 mô hình.".into(),
                }],
            })
            .unwrap();
        ward.submit_report(id).unwrap();
        ward.attach_bytes(AttachTo::Report(id), &photo(150 * 1024, seed), jpeg("ảnh.jpg")).unwrap().hash
    };
    // The later one is attached first.
    let late_file = answer(late, 41);
    let soon_file = answer(soon, 42);
    ward.sync_now().unwrap();
    let order = std::sync::Mutex::new(Vec::new());
    let shared = std::sync::Mutex::new(ward);
    let tell = |h: BlobHash, s: &giaoban_client_core::FileState| {
        if s.sent == s.size {
            order.lock().unwrap().push(h);
        }
    };
    let r =
        giaoban_client_core::sync_files_shared(&shared, &tell, &std::sync::atomic::AtomicBool::new(false))
            .unwrap();
    assert_eq!(r.sent, 2);
    assert_eq!(*order.lock().unwrap(), vec![soon_file, late_file]);
}

/// Pushes, as `store`'s device, a change to its report `id` whose first attachment now names
/// `hash` with `size`: a reference to a file the device does not hold.
fn forge_ref(
    store: &mut Store,
    id: DocId,
    hash: BlobHash,
    size: u64,
) -> giaoban_protocol::wire::SyncResponse {
    use automerge::transaction::Transactable;
    use automerge::{ReadDoc, ScalarValue};
    let mut d = automerge::AutoCommit::load(&store.save_document(id).unwrap()).unwrap();
    d.set_actor(store.device_id().actor_id());
    let heads = d.get_heads();
    let (_, list) = d.get(automerge::ROOT, "attachments").unwrap().unwrap();
    let (_, item) = d.get(&list, 0).unwrap().unwrap();
    d.put(&item, "hash", ScalarValue::Bytes(hash.0.to_vec())).unwrap();
    d.put(&item, "size", size).unwrap();
    d.commit();
    let changes = d.get_changes(&heads).into_iter().map(|c| c.raw_bytes().to_vec()).collect();
    let push = vec![giaoban_protocol::wire::DocChanges { doc: id, changes, vouchers: vec![] }];
    giaoban_e2e::raw_sync(
        store,
        giaoban_protocol::wire::SyncRequest {
            epoch: None,
            cursor: 0,
            witness: Default::default(),
            own_held: 0,
            push,
            page_bytes: 1 << 20,
            have: vec![],
            refetch: vec![],
        },
    )
}

#[test]
fn a_reference_with_a_wrong_size_spoils_neither_the_file_nor_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let mut ward_a = relay.device(&tmp.path().join("ward-a.sqlite"), 1, "cán bộ phường A");
    let mut ward_b = relay.device(&tmp.path().join("ward-b.sqlite"), 2, "cán bộ phường B");
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "máy văn phòng tỉnh");
    let photo_a = photo(300 * 1024, 51);
    let other = photo(20 * 1024, 52);
    // Ward B names ward A's photo first, with a wrong size, in a report the office reads.
    let forged = report(&mut ward_b);
    ward_b.attach_bytes(AttachTo::Report(forged), b"gia mao", jpeg("x.jpg")).unwrap();
    ward_b.sync_now().unwrap();
    let hash_a = BlobHash::of(&photo_a);
    assert!(forge_ref(&mut ward_b, forged, hash_a, 1).rejects.is_empty());
    // An empty size is refused outright.
    assert_eq!(forge_ref(&mut ward_b, forged, hash_a, 0).rejects.len(), 1);
    office.sync_now().unwrap();
    office.set_prefetch_limit(0).unwrap();
    office.open_attachment(hash_a).unwrap();

    // Ward A's real photo, and another file beside it.
    let id = report(&mut ward_a);
    ward_a.attach_bytes(AttachTo::Report(id), &photo_a, jpeg("ảnh.jpg")).unwrap();
    let o = ward_a.attach_bytes(AttachTo::Report(id), &other, jpeg("biên bản.jpg")).unwrap();
    ward_a.sync_now().unwrap();
    // Ward B sends garbage under the hash, at the offset it holds: its own send fails, ward A's
    // is untouched.
    let (url, token_a) = ward_a.relay().unwrap().unwrap();
    let (_, token_b) = ward_b.relay().unwrap().unwrap();
    put(&url, &token_a, &hash_a, 0, &photo_a[..100_000]);
    let (status, _) = put_raw(&url, Some(&token_b), &hash_a.to_hex(), 0, b"x");
    assert!(status == 422 || status == 200 || status == 400, "{status}");
    let held = put(&url, &token_a, &hash_a, 100_000, &[]);
    assert_eq!(held.have, 100_000, "ward A's bytes are its own");
    assert_eq!(ward_a.sync_files().unwrap().sent, 2);

    office.sync_now().unwrap();
    office.open_attachment(o.hash).unwrap();
    let r = office.sync_files().unwrap();
    assert_eq!((r.fetched, r.waiting), (2, 0), "{r:?}");
    let Opened::Here(path) = office.open_attachment(hash_a).unwrap() else { panic!("here") };
    assert_eq!(std::fs::read(path).unwrap(), photo_a);
    // A range of one byte is one byte.
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let (_, token_o) = office.relay().unwrap().unwrap();
    let mut resp = agent
        .get(&format!("{url}/v1/files/{}", hash_a.to_hex()))
        .header("Authorization", &format!("Bearer {token_o}"))
        .header("Range", "bytes=0-0")
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 206);
    assert_eq!(resp.body_mut().read_to_vec().unwrap(), photo_a[..1].to_vec());
}

#[test]
fn an_empty_file_is_refused_when_attached() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let mut ward = relay.device(&tmp.path().join("ward.sqlite"), 1, "cán bộ xã");
    let id = report(&mut ward);
    let err = ward.attach_bytes(AttachTo::Report(id), b"", jpeg("ảnh.jpg")).unwrap_err().to_string();
    assert!(err.contains("empty"), "{err}");
    assert!(ward.attachments(id).unwrap().is_empty());
}
