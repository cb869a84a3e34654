//! One suite of what every storage of the relay's attached files promises, run against each:
//! the folder, the object store's code over an in-memory store, and an S3 server (moto's,
//! started per test; skipped with a message when it is not installed, except in CI).

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use giaoban_e2e::s3::S3Server;
use giaoban_e2e::{sync_until_done, transfer_all};
use giaoban_protocol::{BlobHash, UnitId};
use giaoban_relay::files::{FileFolder, FileStorage, Held, ObjectFiles};

/// Two handles on one storage (two relays sharing it), and what keeps it alive.
struct Backend {
    a: Arc<dyn FileStorage>,
    b: Arc<dyn FileStorage>,
    _keep: Box<dyn std::any::Any>,
}

fn folder() -> Option<Backend> {
    let dir = tempfile::tempdir().unwrap();
    Some(Backend {
        a: Arc::new(FileFolder::open(dir.path()).unwrap()),
        b: Arc::new(FileFolder::open(dir.path()).unwrap()),
        _keep: Box::new(dir),
    })
}

fn in_memory() -> Option<Backend> {
    let store: Arc<dyn object_store::ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    Some(Backend {
        a: Arc::new(ObjectFiles::new(store.clone(), "memory://a").unwrap()),
        b: Arc::new(ObjectFiles::new(store, "memory://b").unwrap()),
        _keep: Box::new(()),
    })
}

fn s3() -> Option<Backend> {
    let server = S3Server::start("giaoban-files")?;
    let store = server.store("giaoban-files");
    let prefixed = |store: Arc<dyn object_store::ObjectStore>| -> Arc<dyn object_store::ObjectStore> {
        Arc::new(object_store::prefix::PrefixStore::new(store, "tinh-thanh-hoa"))
    };
    let url = format!("s3://giaoban-files/tinh-thanh-hoa at {}", server.endpoint);
    Some(Backend {
        a: Arc::new(ObjectFiles::new(prefixed(store.clone()), &url).unwrap()),
        b: Arc::new(ObjectFiles::new(prefixed(store), &url).unwrap()),
        _keep: Box::new(server),
    })
}

fn bytes(n: usize, seed: u32) -> Vec<u8> {
    (0..n as u32).map(|i| (i.wrapping_mul(31).wrapping_add(seed) % 251) as u8).collect()
}

fn send(files: &dyn FileStorage, hash: &BlobHash, unit: UnitId, offset: u64, piece: &[u8]) -> u64 {
    let mut w = files.append_at(hash, unit, offset).unwrap().expect("the offset is what is held");
    // Written in small chunks, as a request body arrives.
    for chunk in piece.chunks(7_000) {
        w.write(chunk).unwrap();
    }
    w.sync().unwrap()
}

fn read_all(files: &dyn FileStorage, hash: &BlobHash, from: u64) -> Vec<u8> {
    let (mut r, _) = files.open_whole(hash, from).unwrap();
    let mut out = Vec::new();
    // Small reads, as the body is streamed.
    let mut buf = [0u8; 5_000];
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

fn ward() -> UnitId {
    UnitId::from_bytes([1; 16])
}

fn other_ward() -> UnitId {
    UnitId::from_bytes([2; 16])
}

fn a_file_sent_in_pieces_counts_only_once_it_matches_its_hash(b: Backend) {
    let files = &*b.a;
    let data = bytes(300_000, 1);
    let hash = BlobHash::of(&data);
    assert_eq!(files.held_for_sender(&hash, ward(), true).unwrap(), Held::Nothing);
    assert_eq!(send(files, &hash, ward(), 0, &data[..100_000]), 100_000);
    assert_eq!(files.held_for_sender(&hash, ward(), true).unwrap(), Held::Part(100_000));
    assert!(!files.is_whole(&hash), "a partial send is not a file");
    assert_eq!(files.whole_len(&hash).unwrap(), None);
    // Another unit's send is its own.
    assert_eq!(files.held_for_sender(&hash, other_ward(), true).unwrap(), Held::Nothing);
    // A sender that thinks the relay has less is told what it has.
    assert_eq!(files.append_at(&hash, ward(), 0).unwrap().err(), Some(100_000));
    assert_eq!(files.append_at(&hash, ward(), 150_000).unwrap().err(), Some(100_000));
    assert_eq!(send(files, &hash, ward(), 100_000, &data[100_000..]), 300_000);
    assert!(!files.is_whole(&hash), "held only once checked");
    assert!(files.finish(&hash, ward(), 300_000).unwrap());
    assert!(files.is_whole(&hash));
    assert_eq!(files.whole_len(&hash).unwrap(), Some(300_000));
    assert_eq!(files.held_for_sender(&hash, ward(), true).unwrap(), Held::Whole);
    assert_eq!(files.held_for_sender(&hash, other_ward(), false).unwrap(), Held::Nothing);
    assert_eq!(files.partial_len(&hash, ward()).unwrap(), 0, "the send is gone once whole");
    assert_eq!(read_all(files, &hash, 0), data);
    assert_eq!(read_all(files, &hash, 123_456), data[123_456..]);
    assert_eq!(read_all(files, &hash, 300_000), b"");
    assert_eq!(files.whole_files().unwrap(), vec![(hash, 300_000)]);
}

fn bytes_that_do_not_match_the_hash_are_dropped(b: Backend) {
    let files = &*b.a;
    let hash = BlobHash::of("ảnh nhà Đại đoàn kết ông Lực".as_bytes());
    let n = send(files, &hash, ward(), 0, "một tệp khác hẳn".as_bytes());
    assert!(!files.finish(&hash, ward(), n).unwrap());
    assert_eq!(files.held_for_sender(&hash, ward(), true).unwrap(), Held::Nothing);
    assert!(!files.is_whole(&hash));
    assert_eq!(files.partial_bytes_of(ward()).unwrap(), 0);
    // The right bytes of the wrong length are refused as well.
    let data = "ảnh nhà Đại đoàn kết ông Lực".as_bytes();
    let n = send(files, &hash, ward(), 0, data);
    assert!(!files.finish(&hash, ward(), n + 1).unwrap());
    assert!(!files.is_whole(&hash));
}

fn a_request_cut_short_keeps_what_arrived(b: Backend) {
    let files = &*b.a;
    let data = bytes(50_000, 2);
    let hash = BlobHash::of(&data);
    // A request that brought 12,345 bytes before the link cut.
    let mut w = files.append_at(&hash, ward(), 0).unwrap().unwrap();
    w.write(&data[..12_345]).unwrap();
    assert_eq!(w.sync().unwrap(), 12_345);
    // A request that brought nothing changes nothing.
    let w = files.append_at(&hash, ward(), 12_345).unwrap().unwrap();
    assert_eq!(w.sync().unwrap(), 12_345);
    assert_eq!(files.partial_len(&hash, ward()).unwrap(), 12_345);
    assert_eq!(send(files, &hash, ward(), 12_345, &data[12_345..]), 50_000);
    assert!(files.finish(&hash, ward(), 50_000).unwrap());
    assert_eq!(read_all(files, &hash, 0), data);
}

fn a_send_begun_through_one_relay_goes_on_through_another(b: Backend) {
    let data = bytes(200_000, 3);
    let hash = BlobHash::of(&data);
    assert_eq!(send(&*b.a, &hash, ward(), 0, &data[..80_000]), 80_000);
    assert_eq!(b.b.partial_len(&hash, ward()).unwrap(), 80_000);
    assert_eq!(send(&*b.b, &hash, ward(), 80_000, &data[80_000..]), 200_000);
    assert!(b.b.finish(&hash, ward(), 200_000).unwrap());
    assert!(b.a.is_whole(&hash));
    assert_eq!(read_all(&*b.a, &hash, 0), data);
}

fn a_second_unit_sending_a_file_held_stores_it_once(b: Backend) {
    let files = &*b.a;
    let data = bytes(40_000, 4);
    let hash = BlobHash::of(&data);
    send(files, &hash, ward(), 0, &data);
    assert!(files.finish(&hash, ward(), 40_000).unwrap());
    // The other ward has not proven it has the file: it sends it, checked like any other.
    assert_eq!(files.held_for_sender(&hash, other_ward(), false).unwrap(), Held::Nothing);
    send(files, &hash, other_ward(), 0, &data);
    assert_eq!(files.partial_bytes_of(other_ward()).unwrap(), 40_000);
    assert!(files.finish(&hash, other_ward(), 40_000).unwrap());
    assert_eq!(files.partial_bytes_of(other_ward()).unwrap(), 0);
    assert_eq!(files.whole_files().unwrap(), vec![(hash, 40_000)], "stored once");
    assert_eq!(read_all(files, &hash, 0), data);
}

fn an_empty_file_is_a_file(b: Backend) {
    let files = &*b.a;
    let hash = BlobHash::of(b"");
    let w = files.append_at(&hash, ward(), 0).unwrap().unwrap();
    assert_eq!(w.sync().unwrap(), 0);
    assert!(files.finish(&hash, ward(), 0).unwrap());
    assert_eq!(files.whole_len(&hash).unwrap(), Some(0));
    assert_eq!(read_all(files, &hash, 0), b"");
}

fn the_collector_removes_what_no_record_needs(b: Backend) {
    let files = &*b.a;
    let kept = bytes(30_000, 5);
    let kept_hash = BlobHash::of(&kept);
    send(files, &kept_hash, ward(), 0, &kept);
    assert!(files.finish(&kept_hash, ward(), 30_000).unwrap());
    let abandoned = bytes(30_000, 6);
    let abandoned_hash = BlobHash::of(&abandoned);
    send(files, &abandoned_hash, other_ward(), 0, &abandoned[..10_000]);
    assert_eq!(files.partial_bytes_of(other_ward()).unwrap(), 10_000);
    // A send touched within the grace period stays.
    assert_eq!(files.expire_partials(Duration::from_secs(3600)).unwrap(), 0);
    assert_eq!(files.partial_len(&abandoned_hash, other_ward()).unwrap(), 10_000);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(files.expire_partials(Duration::from_millis(1)).unwrap(), 1);
    assert_eq!(files.partial_len(&abandoned_hash, other_ward()).unwrap(), 0);
    assert_eq!(files.partial_bytes_of(other_ward()).unwrap(), 0);
    // Whole files are the collector's to remove only through the database's records.
    assert!(files.is_whole(&kept_hash));
    files.remove_whole(&kept_hash).unwrap();
    assert!(!files.is_whole(&kept_hash));
    assert!(files.open_whole(&kept_hash, 0).is_err());
    assert_eq!(files.whole_files().unwrap(), vec![]);
    // Removing what is not there is not an error.
    files.remove_whole(&kept_hash).unwrap();
    files.drop_partial(&abandoned_hash, other_ward()).unwrap();
}

macro_rules! suite {
    ($backend:ident: $($case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[test]
                fn $case() {
                    if let Some(b) = super::$backend() {
                        super::$case(b);
                    }
                }
            )*
        }
    };
}

macro_rules! every_backend {
    ($($case:ident),* $(,)?) => {
        suite!(folder: $($case),*);
        suite!(in_memory: $($case),*);
        suite!(s3: $($case),*);
    };
}

every_backend!(
    a_file_sent_in_pieces_counts_only_once_it_matches_its_hash,
    bytes_that_do_not_match_the_hash_are_dropped,
    a_request_cut_short_keeps_what_arrived,
    a_send_begun_through_one_relay_goes_on_through_another,
    a_second_unit_sending_a_file_held_stores_it_once,
    an_empty_file_is_a_file,
    the_collector_removes_what_no_record_needs,
);

/// Every object in `bucket` (its names), read straight from the S3 server.
fn objects(server: &S3Server, bucket: &str) -> Vec<String> {
    use futures_util::TryStreamExt;
    let store = server.store(bucket);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let metas: Vec<object_store::ObjectMeta> = rt.block_on(store.list(None).try_collect()).unwrap();
    metas.into_iter().map(|m| m.location.to_string()).collect()
}

#[test]
fn a_photo_crosses_a_cut_link_and_a_relay_restart_into_an_object_store_and_opens_at_the_office() {
    use giaoban_client_core::{AttachTo, Opened};
    use giaoban_e2e::proxy::{FaultProxy, LinkFaults};
    use giaoban_e2e::workload::{house_report, jpeg, photo};
    use std::sync::atomic::Ordering;

    let Some(server) = S3Server::start("giaoban-relay") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let relay = server.relay(&tmp.path().join("relay"), "giaoban-relay");
    let faults = LinkFaults {
        bytes_per_second: None,
        one_way_delay: Duration::from_millis(2),
        cut_probability: 0.04,
        seed: 21,
        cut_uploads: true,
    };
    let up = FaultProxy::start(&relay.addr(), faults);
    let down = FaultProxy::start(&relay.addr(), LinkFaults { seed: 22, ..faults });
    let mut ward = relay.device_via(&up.url, &tmp.path().join("ward.sqlite"), 1, "điện thoại cán bộ xã");
    let mut office = relay.device_via(&down.url, &tmp.path().join("office.sqlite"), 0, "máy văn phòng tỉnh");
    let id = ward.create_report(house_report("Báo cáo bàn giao nhà Đại đoàn kết")).unwrap();
    let bytes = photo(3 * 1024 * 1024, 21);
    let a = ward.attach_bytes(AttachTo::Report(id), &bytes, jpeg("ảnh bàn giao nhà bà Hường.jpg")).unwrap();
    sync_until_done(&mut ward);
    sync_until_done(&mut office);

    // Part of the photo, then the relay restarts: what arrived is kept in the bucket.
    // Sent straight to the relay, not through the cut link.
    let (_, token) = ward.relay().unwrap().unwrap();
    let url = relay.url.clone();
    let piece = giaoban_protocol::wire::FILE_PIECE_BYTES as usize;
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let resp = agent
        .put(&format!("{url}/v1/files/{}?offset=0", a.hash))
        .header("Authorization", &format!("Bearer {token}"))
        .send(&bytes[..piece])
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    office.open_attachment(a.hash).unwrap();
    assert_eq!(office.sync_files().unwrap().fetched, 0, "part of a file is not a file");
    let relay = relay.restart();
    assert!(
        objects(&server, "giaoban-relay").iter().any(|o| o.starts_with("dong-nai/partial/")),
        "the piece is staged in the bucket"
    );

    let before = up.up_bytes.load(Ordering::Relaxed);
    let (sent, _) = transfer_all(&mut ward);
    assert_eq!(sent, 1);
    let went_up = up.up_bytes.load(Ordering::Relaxed) - before;
    let rest = (bytes.len() - piece) as f64;
    assert!(up.cuts.load(Ordering::Relaxed) >= 5, "the link was cut");
    assert!((went_up as f64) <= 1.1 * rest, "{went_up} bytes went up for the {rest} left");
    println!(
        "the rest of the photo into the object store through {} cuts: {went_up} bytes up ({:.3}× what was left)",
        up.cuts.load(Ordering::Relaxed),
        went_up as f64 / rest
    );

    let (_, fetched) = transfer_all(&mut office);
    assert_eq!(fetched, 1);
    let Opened::Here(path) = office.open_attachment(a.hash).unwrap() else { panic!("the photo is here") };
    assert_eq!(std::fs::read(path).unwrap(), bytes);

    // In the bucket: the file's pieces and its manifest, no send left over; nothing in the
    // relay's folder.
    let names = objects(&server, "giaoban-relay");
    let hex = a.hash.to_hex();
    assert!(names.contains(&format!("dong-nai/files/{}/{hex}/manifest.json", &hex[..2])), "{names:?}");
    assert!(!names.iter().any(|o| o.contains("/partial/")), "{names:?}");
    assert!(!tmp.path().join("relay/files").exists(), "the relay's folder holds no files");
    drop(relay);
}

#[test]
fn hostile_pieces_leave_nothing_in_the_object_store() {
    use giaoban_client_core::AttachTo;
    use giaoban_e2e::workload::{house_report, jpeg, photo};

    let Some(server) = S3Server::start("giaoban-hostile") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let relay = server.relay(&tmp.path().join("relay"), "giaoban-hostile");
    let mut ward = relay.device(&tmp.path().join("ward-a.sqlite"), 1, "cán bộ phường A");
    let other = relay.device(&tmp.path().join("ward-b.sqlite"), 2, "cán bộ phường B");
    let id = ward.create_report(house_report("Báo cáo kết quả")).unwrap();
    let bytes = photo(200 * 1024, 23);
    let a = ward.attach_bytes(AttachTo::Report(id), &bytes, jpeg("../../etc/passwd")).unwrap();
    ward.sync_now().unwrap();
    let (url, token) = ward.relay().unwrap().unwrap();
    let (_, other_token) = other.relay().unwrap().unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let put = |token: &str, offset: u64, body: &[u8]| {
        let mut resp = agent
            .put(&format!("{url}/v1/files/{}?offset={offset}", a.hash))
            .header("Authorization", &format!("Bearer {token}"))
            .send(body)
            .unwrap();
        (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap_or_default())
    };
    let mut wrong = bytes.clone();
    wrong[777] ^= 0x55;
    let (status, text) = put(&token, 0, &wrong);
    assert_eq!(status, 422, "{text}");
    let (status, text) = put(&token, 10, &bytes[10..20]);
    assert_eq!(status, 409, "{text}");
    assert!(text.contains("\"have\":0"), "{text}");
    let (status, _) = put(&other_token, 0, &bytes);
    assert_eq!(status, 404, "another ward's device sends nothing");
    assert_eq!(objects(&server, "giaoban-hostile"), vec!["dong-nai/relay-id".to_string()], "nothing stored");
    // The real bytes still go through.
    assert_eq!(ward.sync_files().unwrap().sent, 1);
    drop(relay);
}

#[test]
fn the_folders_files_copy_into_an_object_store_and_a_run_cut_short_goes_on() {
    use giaoban_relay::files::copy_files;
    let dir = tempfile::tempdir().unwrap();
    let folder = FileFolder::open(dir.path()).unwrap();
    let mut kept = Vec::new();
    for (i, n) in [0usize, 10, 1_500_000, 2_600_000].into_iter().enumerate() {
        let data = bytes(n, 40 + i as u32);
        let hash = BlobHash::of(&data);
        send(&folder, &hash, ward(), 0, &data);
        assert!(folder.finish(&hash, ward(), n as u64).unwrap());
        kept.push((hash, data));
    }
    let store: Arc<dyn object_store::ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let objects = ObjectFiles::new(store, "memory://copy").unwrap();
    // A run that stopped half way through the largest file: one piece of it is there.
    let (largest, data) = &kept[3];
    send(&objects, largest, UnitId::from_bytes([0xff; 16]), 0, &data[..1024 * 1024]);
    let mut seen = Vec::new();
    let done = copy_files(&folder, &objects, |c| seen.push(*c)).unwrap();
    assert_eq!((done.files, done.of, done.already, done.damaged), (4, 4, 0, 0));
    let total: usize = kept.iter().map(|(_, d)| d.len()).sum();
    assert_eq!(done.bytes, (total - 1024 * 1024) as u64, "the half-copied file went on from its piece");
    assert_eq!(seen.len(), 4, "told after each file");
    for (hash, data) in &kept {
        assert_eq!(read_all(&objects, hash, 0), *data);
    }
    // Run again: nothing to do.
    let again = copy_files(&folder, &objects, |_| {}).unwrap();
    assert_eq!((again.already, again.bytes), (4, 0));
}

#[test]
fn two_relays_with_databases_of_their_own_cannot_share_a_prefix() {
    let Some(server) = S3Server::start("giaoban-claim") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let first = server.relay(&tmp.path().join("dong-nai"), "giaoban-claim");
    // The same relay, restarted, goes on with its files.
    let first = first.restart();
    let on = |dir: &std::path::Path, prefix: &str| {
        let store = giaoban_relay::RelayStore::open(dir).unwrap();
        let config = giaoban_relay::Config {
            data_dir: dir.to_path_buf(),
            file_store: format!("s3://giaoban-claim/{prefix}"),
            file_store_options: server.options(),
            ..giaoban_relay::Config::default()
        };
        giaoban_relay::AppState::new(store, config)
    };
    // Another database on the same prefix would collect files only the first one's records
    // refer to: refused, saying why and what to do.
    let Err(e) = on(&tmp.path().join("khac"), "dong-nai") else { panic!("a second database was let in") };
    let said = e.to_string();
    assert!(said.contains("another relay database") && said.contains("prefix of its own"), "{said}");
    // On a prefix of its own it starts.
    assert!(on(&tmp.path().join("khac"), "thanh-hoa").is_ok());
    drop(first);
}
