//! Attacks on the relay's object store of attached files (`file_store = "s3://…"`), against a
//! real S3 server (moto's) and real relays, as a hostile review made them: relays sharing a
//! bucket racing each other, a store that freezes, pieces lost from the bucket.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use giaoban_e2e::s3::S3Server;
use giaoban_protocol::{BlobHash, UnitId};
use giaoban_relay::files::{FileStorage, ObjectFiles};

const MIB: usize = 1024 * 1024;

/// What the proxy does with one request to the S3 server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Act {
    /// Sends it on.
    Pass,
    /// Sends it on after a while (a busy store).
    Delay(Duration),
    /// Answers 403 AccessDenied itself (a store that will not take it; not retried).
    Refuse,
    /// Holds it, unanswered, until the rule says otherwise; dropped, never sent on, if the
    /// client goes away meanwhile (a relay killed while waiting for the store).
    Hold,
}

type Rule = Box<dyn Fn(&str) -> Act + Send + Sync>;

/// An HTTP proxy in front of the S3 server that sees each request ("PUT /bucket/key", with
/// " copy" for a CopyObject) and can slow or refuse it, one request per upstream connection.
pub(crate) struct S3Proxy {
    pub(crate) url: String,
    pub(crate) seen: Arc<Mutex<Vec<String>>>,
    rule: Arc<Mutex<Rule>>,
}

impl S3Proxy {
    pub(crate) fn start(target: &str) -> S3Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let target = target.trim_start_matches("http://").to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let rule: Arc<Mutex<Rule>> = Arc::new(Mutex::new(Box::new(|_| Act::Pass)));
        let (s, r) = (seen.clone(), rule.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (target, s, r) = (target.clone(), s.clone(), r.clone());
                std::thread::spawn(move || {
                    let _ = serve(client, &target, &s, &r);
                });
            }
        });
        S3Proxy { url, seen, rule }
    }

    pub(crate) fn set_rule(&self, rule: impl Fn(&str) -> Act + Send + Sync + 'static) {
        *self.rule.lock().unwrap() = Box::new(rule);
    }

    /// Waits until a request matching `what` has been seen.
    pub(crate) fn wait_for(&self, what: impl Fn(&str) -> bool, within: Duration) -> String {
        let started = Instant::now();
        loop {
            if let Some(d) = self.seen.lock().unwrap().iter().find(|d| what(d)) {
                return d.clone();
            }
            assert!(
                started.elapsed() < within,
                "no such request to the store: {:?}",
                self.seen.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn serve(
    client: TcpStream,
    target: &str,
    seen: &Mutex<Vec<String>>,
    rule: &Mutex<Rule>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    loop {
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let end = line == "\r\n";
            head.push(line);
            if end {
                break;
            }
        }
        let mut parts = head[0].split_whitespace();
        let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
        let mut len = 0usize;
        let mut copy = false;
        for h in &head[1..] {
            let lower = h.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("x-amz-copy-source:") {
                copy = true;
            }
        }
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body)?;
        let desc = format!("{method} {path}{}", if copy { " copy" } else { "" });
        seen.lock().unwrap().push(desc.clone());
        let mut act = (rule.lock().unwrap())(&desc);
        while act == Act::Hold {
            client.set_nonblocking(true)?;
            let mut b = [0u8; 1];
            match client.peek(&mut b) {
                Ok(0) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                _ => return Ok(()),
            }
            client.set_nonblocking(false)?;
            std::thread::sleep(Duration::from_millis(20));
            act = (rule.lock().unwrap())(&desc);
        }
        client.set_nonblocking(false)?;
        match act {
            Act::Hold => unreachable!(),
            Act::Pass => {}
            Act::Delay(d) => std::thread::sleep(d),
            Act::Refuse => {
                let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
                write!(
                    client,
                    "HTTP/1.1 403 Forbidden\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{xml}",
                    xml.len()
                )?;
                return Ok(());
            }
        }
        let mut up = TcpStream::connect(target)?;
        let mut out = head[0].clone().into_bytes();
        for h in &head[1..head.len() - 1] {
            if !h.to_ascii_lowercase().starts_with("connection:") {
                out.extend_from_slice(h.as_bytes());
            }
        }
        out.extend_from_slice(b"connection: close\r\n\r\n");
        out.extend_from_slice(&body);
        up.write_all(&out)?;
        let mut answer = Vec::new();
        up.read_to_end(&mut answer)?;
        client.write_all(&answer)?;
        let closes = String::from_utf8_lossy(&answer[..answer.len().min(4096)])
            .to_ascii_lowercase()
            .contains("connection: close");
        if closes {
            return Ok(());
        }
    }
}

/// The relay's files in `bucket` under `dong-nai/`, reached at `endpoint` (the S3 server, or a
/// proxy in front of it): one relay's handle on the shared store.
fn files_at(server: &S3Server, endpoint: &str, bucket: &str) -> Arc<dyn FileStorage> {
    let mut options = server.options();
    options.insert("aws_endpoint".into(), endpoint.to_string());
    let s3 = giaoban_relay::files::s3_bucket(bucket, &options).unwrap();
    let store: Arc<dyn object_store::ObjectStore> =
        Arc::new(object_store::prefix::PrefixStore::new(s3, "dong-nai"));
    Arc::new(ObjectFiles::new(store, &format!("s3://{bucket}/dong-nai at {endpoint}")).unwrap())
}

fn ward() -> UnitId {
    UnitId::from_bytes([1; 16])
}

fn other_ward() -> UnitId {
    UnitId::from_bytes([2; 16])
}

fn send(files: &dyn FileStorage, hash: &BlobHash, unit: UnitId, offset: u64, piece: &[u8]) -> u64 {
    let mut w = files.append_at(hash, unit, offset).unwrap().expect("the offset is what is held");
    for chunk in piece.chunks(16_000) {
        w.write(chunk).unwrap();
    }
    w.sync().unwrap()
}

/// Sends `data` from 0 in pieces of the lengths `cuts` gives (the last runs to the end).
fn send_in(files: &dyn FileStorage, hash: &BlobHash, unit: UnitId, data: &[u8], cuts: &[usize]) {
    let mut at = 0usize;
    for &n in cuts {
        let end = (at + n).min(data.len());
        assert_eq!(send(files, hash, unit, at as u64, &data[at..end]), end as u64);
        at = end;
    }
    if at < data.len() {
        assert_eq!(send(files, hash, unit, at as u64, &data[at..]), data.len() as u64);
    }
}

fn read_whole(files: &dyn FileStorage, hash: &BlobHash) -> std::io::Result<Vec<u8>> {
    let (mut r, _) = files.open_whole(hash, 0)?;
    let mut out = Vec::new();
    r.read_to_end(&mut out)?;
    Ok(out)
}

/// Every object in `bucket`, read straight from the S3 server.
fn objects(server: &S3Server, bucket: &str) -> Vec<(String, u64)> {
    use futures_util::TryStreamExt;
    let store = server.store(bucket);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let metas: Vec<object_store::ObjectMeta> = rt.block_on(store.list(None).try_collect()).unwrap();
    metas.into_iter().map(|m| (m.location.to_string(), m.size)).collect()
}

/// Two phones of one ward send the same photo through two relays that share the bucket. The
/// first phone's relay acknowledges its first piece (1 MiB); the second phone's request, begun
/// when nothing was held and cut after 300 000 bytes, is stored too. The relay must go on
/// holding what it told the first phone it had (pieces are never written over).
#[test]
fn a_piece_acknowledged_by_one_relay_is_not_shortened_by_another_at_the_same_offset() {
    let Some(server) = S3Server::start("giaoban-ack") else { return };
    let relay_a = files_at(&server, &server.endpoint, "giaoban-ack");
    let relay_b = files_at(&server, &server.endpoint, "giaoban-ack");
    let data = giaoban_e2e::workload::photo(3 * MIB, 31);
    let hash = BlobHash::of(&data);
    // Both requests start when the ward holds nothing of the photo.
    let mut first = relay_a.append_at(&hash, ward(), 0).unwrap().unwrap();
    let mut second = relay_b.append_at(&hash, ward(), 0).unwrap().unwrap();
    first.write(&data[..MIB]).unwrap();
    let acknowledged = first.sync().unwrap();
    assert_eq!(acknowledged, MIB as u64, "the first phone is told the relay has 1 MiB");
    // The second phone's link is cut after 300 000 bytes: what arrived is kept.
    second.write(&data[..300_000]).unwrap();
    second.sync().unwrap();
    let held = relay_a.partial_len(&hash, ward()).unwrap();
    assert!(
        held >= acknowledged,
        "the relay acknowledged {acknowledged} bytes of the ward's send and now holds {held}: a byte the relay said it had is gone"
    );
}

/// While one relay makes a ward's send whole (its bytes hashed and found right, its pieces
/// being copied), another relay stores a shorter piece of the same send at offset 0 (a second
/// phone's request cut short). The file held must be exactly the bytes that were checked (the
/// copy takes pieces that are never written over).
#[test]
fn a_piece_stored_while_another_relay_makes_the_file_whole_never_makes_a_wrong_file_held() {
    let Some(server) = S3Server::start("giaoban-race") else { return };
    let proxy = S3Proxy::start(&server.endpoint);
    let relay_a = files_at(&server, &proxy.url, "giaoban-race");
    let relay_b = files_at(&server, &server.endpoint, "giaoban-race");
    let data = giaoban_e2e::workload::photo(2 * MIB + 123_457, 32);
    let hash = BlobHash::of(&data);
    // The second phone's first piece, on a slow link through relay B, began when nothing was held.
    let mut slow = relay_b.append_at(&hash, ward(), 0).unwrap().unwrap();
    // The first phone sends the whole photo through relay A.
    send_in(&*relay_a, &hash, ward(), &data, &[MIB, MIB]);
    // Relay A's store is busy: each copy takes a second.
    proxy.set_rule(|d| if d.ends_with(" copy") { Act::Delay(Duration::from_secs(1)) } else { Act::Pass });
    let finisher = {
        let relay_a = relay_a.clone();
        let len = data.len() as u64;
        std::thread::spawn(move || relay_a.finish(&hash, ward(), len))
    };
    // Relay A has checked the bytes and begun copying; the second phone's link is cut now.
    proxy.wait_for(|d| d.ends_with(" copy"), Duration::from_secs(60));
    slow.write(&data[..300_000]).unwrap();
    slow.sync().unwrap();
    assert!(finisher.join().unwrap().unwrap(), "the bytes matched when relay A checked them");
    assert!(relay_b.is_whole(&hash), "the photo counts as held");
    match read_whole(&*relay_b, &hash) {
        Ok(got) => assert!(
            got == data,
            "the photo held whole reads as {} bytes that are not the photo ({} bytes)",
            got.len(),
            data.len()
        ),
        Err(e) => panic!("the photo held whole cannot be read: {e}"),
    }
}

/// A ward's relay copies the pieces of its send (300 000 bytes, then 1 MiB pieces) into the
/// file's place, and the store refuses the manifest. The other ward then sends the photo in
/// 1 MiB pieces and it is made whole. The collector removes the first ward's pieces, and the
/// file's length as `whole_files` gives it is the file's own.
#[test]
fn pieces_left_by_a_finish_cut_before_its_manifest_are_collected_and_not_counted() {
    let Some(server) = S3Server::start("giaoban-left") else { return };
    let proxy = S3Proxy::start(&server.endpoint);
    let relay_a = files_at(&server, &proxy.url, "giaoban-left");
    let relay_b = files_at(&server, &server.endpoint, "giaoban-left");
    let data = giaoban_e2e::workload::photo(2 * MIB + 5, 33);
    let len = data.len() as u64;
    let hash = BlobHash::of(&data);
    send_in(&*relay_a, &hash, other_ward(), &data, &[300_000, MIB]);
    proxy.set_rule(|d| {
        if d.starts_with("PUT ") && d.ends_with("manifest.json") { Act::Refuse } else { Act::Pass }
    });
    assert!(relay_a.finish(&hash, other_ward(), len).is_err(), "the manifest was refused");
    proxy.set_rule(|_| Act::Pass);
    send_in(&*relay_b, &hash, ward(), &data, &[MIB, MIB]);
    assert!(relay_b.finish(&hash, ward(), len).unwrap());
    assert_eq!(read_whole(&*relay_b, &hash).unwrap(), data, "the file reads right");
    // A week later (here: a millisecond), the collector has run.
    std::thread::sleep(Duration::from_millis(20));
    relay_b.expire_partials(Duration::from_millis(1)).unwrap();
    let hex = hash.to_hex();
    let place = format!("dong-nai/files/{}/{hex}/", &hex[..2]);
    let kept: Vec<_> =
        objects(&server, "giaoban-left").into_iter().filter(|(n, _)| n.starts_with(&place)).collect();
    let listed = relay_b.whole_files().unwrap();
    let manifest_pieces = 4; // the manifest and the three pieces it names
    assert!(
        listed == vec![(hash, len)] && kept.len() == manifest_pieces,
        "whole_files gives {listed:?} for a file of {len} bytes; beside its manifest the store keeps {kept:?}"
    );
}

/// The object store stops answering (its host froze). The province office's screens keep
/// asking for a photo (24 requests). File work takes at most a few of the relay's 16 blocking
/// threads, so a ward's report sync, which needs no file, still goes through.
#[test]
fn a_file_store_that_stops_answering_does_not_stop_report_syncs() {
    report_sync_while_the_store_is_stalled(24);
}

/// A report sync while the object store does not answer and `fetches` requests for a photo wait
/// on it.
pub(crate) fn report_sync_while_the_store_is_stalled(fetches: usize) {
    use giaoban_client_core::AttachTo;
    use giaoban_e2e::workload::{house_report, jpeg, photo};

    let Some(moto) = S3Server::start("giaoban-stall") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let relay = moto.relay(&tmp.path().join("relay"), "giaoban-stall");
    let mut ward = relay.device(&tmp.path().join("ward.sqlite"), 1, "điện thoại cán bộ xã");
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "máy văn phòng tỉnh");
    let id = ward.create_report(house_report("Báo cáo bàn giao nhà Đại đoàn kết")).unwrap();
    let bytes = photo(200 * 1024, 41);
    let a = ward.attach_bytes(AttachTo::Report(id), &bytes, jpeg("ảnh nhà ông Lực.jpg")).unwrap();
    ward.sync_now().unwrap();
    assert_eq!(ward.sync_files().unwrap().sent, 1);
    office.sync_now().unwrap();
    let (url, token) = office.relay().unwrap().unwrap();

    moto.pause();
    for _ in 0..fetches {
        let (url, token) = (url.clone(), token.clone());
        std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(300)))
                .build()
                .into();
            let _ = agent
                .get(&format!("{url}/v1/files/{}", a.hash))
                .header("Authorization", &format!("Bearer {token}"))
                .call()
                .map(|mut r| r.body_mut().read_to_vec());
        });
    }
    std::thread::sleep(Duration::from_secs(2));
    // A report written at the ward, synced: no file in it.
    ward.create_report(house_report("Báo cáo tháng 12 năm 2025 của phường")).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let started = Instant::now();
    std::thread::spawn(move || {
        let r = ward.sync_now().map(|_| ()).map_err(|e| e.to_string());
        let _ = tx.send(r);
    });
    let answer = rx.recv_timeout(Duration::from_secs(20));
    let waited = started.elapsed();
    moto.resume();
    assert!(
        matches!(answer, Ok(Ok(()))),
        "a report sync while the file store does not answer: {answer:?} after {waited:?}"
    );
}

/// A photo's pieces are gone from the bucket while its manifest stays (a cleanup of the bucket
/// cut short, a partial restore of it). The relay must stop counting it as held: the office is
/// told it is not there (not a body that breaks off), and the ward's phone, which still has the
/// photo, sends it again and makes it whole.
#[test]
fn a_file_whose_pieces_are_gone_stops_counting_as_held_and_is_sent_again() {
    use giaoban_client_core::AttachTo;
    use giaoban_e2e::workload::{house_report, jpeg, photo};

    let Some(server) = S3Server::start("giaoban-lost") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("relay");
    let config = giaoban_relay::Config {
        data_dir: dir.clone(),
        file_store: "s3://giaoban-lost/dong-nai".into(),
        file_store_options: server.options(),
        ..giaoban_relay::Config::default()
    };
    let relay = giaoban_e2e::Relay::start_with(&dir, config, true);
    let mut ward = relay.device(&tmp.path().join("ward.sqlite"), 1, "điện thoại cán bộ xã");
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "máy văn phòng tỉnh");
    let id = ward.create_report(house_report("Báo cáo bàn giao nhà Đại đoàn kết")).unwrap();
    let bytes = photo(2 * MIB + 999, 81);
    let a = ward.attach_bytes(AttachTo::Report(id), &bytes, jpeg("ảnh nhà bà Điểu Thị Lành.jpg")).unwrap();
    ward.sync_now().unwrap();
    assert_eq!(ward.sync_files().unwrap().sent, 1);
    office.sync_now().unwrap();
    // The pieces go; the manifest stays.
    let store = server.store("giaoban-lost");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for (name, _) in objects(&server, "giaoban-lost") {
        if name.contains("/files/") && !name.ends_with("manifest.json") {
            rt.block_on(object_store::ObjectStoreExt::delete(&*store, &object_store::path::Path::from(name)))
                .unwrap();
        }
    }
    let (url, wtoken) = ward.relay().unwrap().unwrap();
    let (_, otoken) = office.relay().unwrap().unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    // The ward's phone sends the photo again, piece by piece.
    let mut answers = Vec::new();
    for (i, piece) in bytes.chunks(MIB).enumerate() {
        let mut r = agent
            .put(&format!("{url}/v1/files/{}?offset={}", a.hash, i * MIB))
            .header("Authorization", &format!("Bearer {wtoken}"))
            .send(piece)
            .unwrap();
        answers.push(format!("{} {}", r.status(), r.body_mut().read_to_string().unwrap_or_default()));
    }
    let fetched = agent
        .get(&format!("{url}/v1/files/{}", a.hash))
        .header("Authorization", &format!("Bearer {otoken}"))
        .call()
        .map_err(|e| e.to_string())
        .and_then(|mut r| {
            let status = r.status().as_u16();
            r.body_mut()
                .with_config()
                .limit(100_000_000)
                .read_to_vec()
                .map(|b| (status, b))
                .map_err(|e| e.to_string())
        });
    let kept: Vec<_> = objects(&server, "giaoban-lost").into_iter().map(|(n, _)| n).collect();
    assert!(
        matches!(&fetched, Ok((200, b)) if *b == bytes),
        "after the ward sent the photo again ({answers:?}), the office's fetch gives {:?}; the bucket holds {kept:?}",
        fetched.as_ref().map(|(s, b)| (*s, b.len()))
    );
}
