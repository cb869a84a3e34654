//! The operator's view of a running relay: `/metrics` counts what devices did (syncs, stored
//! and refused pushes, bytes) with low-cardinality labels only, is read from loopback or with
//! the configured token and is a 404 to anyone else; `/readyz` says whether the store serves;
//! the log is JSON when asked.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};

use giaoban_client_core::{RelayClient, Store};
use giaoban_protocol::wire::{self, DeviceMessage, DocChanges, RelayMessage, SyncRequest, Witness};
use giaoban_relay::config::Secret;
use giaoban_relay::{AppState, Config, RelayStore};

/// A relay served by `giaoban_relay::run` on 127.0.0.1:0 in this process.
struct Relay {
    url: String,
    store: RelayStore,
    org: giaoban_protocol::schema::UnitDirectory,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Relay {
    fn start(dir: &Path, config: Config) -> Relay {
        let store = RelayStore::open(dir).unwrap();
        let org = store.create_units_from_reference("Đồng Nai").unwrap();
        let state = AppState::new(store.clone(), Config { data_dir: dir.to_path_buf(), ..config }).unwrap();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                giaoban_relay::run(listener, state, async {
                    let _stopped = stopped.await;
                })
                .await
                .unwrap();
            });
        });
        let addr = addr_rx.recv().unwrap();
        Relay { url: format!("http://{addr}"), store, org, stop: Some(stop), thread: Some(thread) }
    }

    /// A device enrolled for the unit at `index` in the organisation.
    fn device(&self, path: &Path, index: usize) -> Store {
        let code = self.store.create_enrollment(self.org.units[index].id, 1).unwrap().code;
        let mut s = Store::open(path).unwrap();
        s.enroll(&self.url, &code, "Điện thoại cán bộ").unwrap();
        s
    }

    /// `GET path` with `headers`: status and body.
    fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut req = agent.get(&format!("{}{path}", self.url));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut resp = req.call().unwrap();
        (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap())
    }

    /// `/metrics` as a Prometheus on this machine reads it.
    fn metrics(&self) -> String {
        let (status, text) = self.get("/metrics", &[]);
        assert_eq!(status, 200, "{text}");
        text
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The sum of the samples of `name` whose labels include every one of `labels`
/// (`route="/v1/sync"`); `None` when no sample matches.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let (n, l) = series.split_once('{').unwrap_or((series, ""));
        if n == name && labels.iter().all(|want| l.contains(want)) {
            *found.get_or_insert(0.0) += value.parse::<f64>().unwrap();
        }
    }
    found
}

fn value(text: &str, name: &str, labels: &[&str]) -> f64 {
    sample(text, name, labels).unwrap_or(0.0)
}

fn report(store: &mut Store, title: &str) -> giaoban_protocol::DocId {
    store.create_report(common::monthly_report(title)).unwrap()
}

#[test]
fn metrics_count_syncs_stored_and_refused_pushes_without_naming_anyone() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"), Config::default());
    // The recorder is one per process: count from what it says now.
    let before = relay.metrics();

    let mut ward = relay.device(&dir.path().join("ward.sqlite"), 1);
    let doc = report(&mut ward, "Báo cáo tháng 01/2022");
    // A photo of the report goes up by the file lane and down to the office's device.
    let photo: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let attached = ward
        .attach_bytes(
            giaoban_client_core::AttachTo::Report(doc),
            &photo,
            giaoban_client_core::NewAttachment {
                name: "ảnh bàn giao nhà Đại đoàn kết.jpg".into(),
                media_type: "image/jpeg".into(),
                caption: String::new(),
            },
        )
        .unwrap();
    ward.sync_now().unwrap();
    ward.sync_now().unwrap();
    assert_eq!(ward.sync_files().unwrap().sent, 1);
    let mut office = relay.device(&dir.path().join("office.sqlite"), 0);
    office.sync_now().unwrap();
    office.open_attachment(attached.hash).unwrap();
    assert_eq!(office.sync_files().unwrap().fetched, 1);

    // Another ward's device pushes the first ward's report as if it were its own.
    let other = relay.device(&dir.path().join("other.sqlite"), 2);
    let saved = ward.save_document(doc).unwrap();
    let changes: Vec<Vec<u8>> = automerge::AutoCommit::load(&saved)
        .unwrap()
        .get_changes(&[])
        .into_iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    let request = SyncRequest {
        epoch: None,
        cursor: 0,
        witness: Witness::default(),
        own_held: 0,
        push: vec![DocChanges { doc, changes, vouchers: vec![] }],
        page_bytes: 1024 * 1024,
        have: vec![],
        refetch: vec![],
    };
    let (_, token) = other.relay().unwrap().unwrap();
    let answer = RelayClient::new(&relay.url)
        .with_token(&token)
        .sync(&wire::encode(&DeviceMessage::Sync(request)))
        .unwrap();
    let RelayMessage::Sync(answer) = wire::decode::<RelayMessage>(&answer).unwrap();
    assert_eq!(answer.rejects.len(), 1, "{answer:?}");
    let reason = answer.rejects[0].code.as_str();
    // A request the relay cannot read.
    assert!(RelayClient::new(&relay.url).with_token(&token).sync(b"GB nonsense").is_err());
    // A path no route has.
    let (status, _) = relay.get("/v1/files/not-a-hash/nowhere", &[]);
    assert_eq!(status, 404);

    let after = relay.metrics();
    let grew = |name: &str, labels: &[&str]| value(&after, name, labels) - value(&before, name, labels);
    let sync_2xx = ["route=\"/v1/sync\"", "method=\"POST\"", "status=\"2xx\""];
    assert!(grew("giaoban_relay_http_requests_total", &sync_2xx) >= 3.0, "{after}");
    assert!(grew("giaoban_relay_http_request_duration_seconds_count", &sync_2xx) >= 3.0, "{after}");
    assert!(
        sample(&after, "giaoban_relay_http_request_duration_seconds_bucket", &["le=\"+Inf\""]).is_some(),
        "latencies are histograms, not summaries: {after}"
    );
    assert!(grew("giaoban_relay_http_requests_total", &["route=\"/v1/enroll\"", "status=\"2xx\""]) >= 2.0);
    assert!(grew("giaoban_relay_http_requests_total", &["route=\"/v1/sync\"", "status=\"4xx\""]) >= 1.0);
    assert!(grew("giaoban_relay_http_requests_total", &["route=\"unmatched\"", "status=\"4xx\""]) >= 1.0);
    assert!(grew("giaoban_relay_documents_accepted_total", &[]) >= 1.0, "{after}");
    assert!(grew("giaoban_relay_changes_accepted_total", &[]) >= 1.0, "{after}");
    assert_eq!(
        grew("giaoban_relay_documents_refused_total", &[&format!("reason=\"{reason}\"")]),
        1.0,
        "{after}"
    );
    assert!(grew("giaoban_relay_syncs_refused_total", &["reason=\"unreadable\""]) >= 1.0, "{after}");
    assert!(grew("giaoban_relay_sync_received_bytes_total", &[]) > 0.0);
    assert!(grew("giaoban_relay_sync_sent_bytes_total", &[]) > 0.0);
    // Other relays' tests in this process may move files too: at least this photo's bytes.
    assert!(grew("giaoban_relay_file_received_bytes_total", &[]) >= photo.len() as f64, "{after}");
    assert!(grew("giaoban_relay_file_sent_bytes_total", &[]) >= photo.len() as f64, "{after}");
    assert!(grew("giaoban_relay_files_received_total", &["outcome=\"whole\""]) >= 1.0, "{after}");
    assert!(
        sample(&after, "giaoban_relay_files_received_total", &["outcome=\"mismatch\""]).is_some(),
        "{after}"
    );
    assert!(grew("giaoban_relay_writer_commit_seconds_count", &[]) >= 1.0, "{after}");
    assert!(sample(&after, "giaoban_relay_writer_batch_seconds_bucket", &[]).is_some(), "{after}");
    assert!(sample(&after, "giaoban_relay_writer_queue_depth", &[]).is_some_and(|v| v >= 0.0), "{after}");
    // This scrape's own connection is open.
    assert!(value(&after, "giaoban_relay_connections", &[]) >= 1.0, "{after}");
    assert!(sample(&after, "giaoban_relay_event_streams", &[]).is_some(), "{after}");
    assert!(value(&after, "giaoban_relay_store_bytes", &["file=\"database\""]) > 0.0, "{after}");
    assert!(sample(&after, "giaoban_relay_store_bytes", &["file=\"files\""]).is_some(), "{after}");

    // No device, unit, document, token or raw path in any label.
    for secretish in [
        doc.to_string(),
        ward.device_id().to_string(),
        attached.hash.to_string(),
        relay.org.units[1].id.to_string(),
        token.clone(),
        "nowhere".to_string(),
    ] {
        assert!(!after.contains(&secretish), "{secretish} appears in the metrics");
    }

    // Through a front on this machine (which says whom it forwards), loopback is not enough.
    let (status, body) = relay.get("/metrics", &[("X-Forwarded-For", "203.0.113.9")]);
    assert_eq!((status, body.as_str()), (404, ""));
}

#[test]
fn with_a_token_metrics_are_read_from_anywhere_that_has_it_and_from_nowhere_else() {
    let dir = tempfile::tempdir().unwrap();
    let token = "a-long-enough-metrics-token-0123";
    let config = Config { metrics_token: Some(Secret::new(token)), ..Config::default() };
    let relay = Relay::start(&dir.path().join("relay"), config);
    let outside = ("X-Forwarded-For", "203.0.113.9");
    assert_eq!(relay.get("/metrics", &[outside]).0, 404);
    assert_eq!(relay.get("/metrics", &[outside, ("Authorization", "Bearer wrong-token-wrong-token")]).0, 404);
    let bearer = format!("Bearer {token}");
    let (status, text) = relay.get("/metrics", &[outside, ("Authorization", &bearer)]);
    assert_eq!(status, 200);
    assert!(text.contains("giaoban_relay_store_bytes"), "{text}");
    // The unknown path and the refused /metrics look alike.
    assert_eq!(relay.get("/metricz", &[outside]), relay.get("/metrics", &[outside]));
}

#[test]
fn readyz_says_whether_the_store_serves() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let relay = Relay::start(&data, Config::default());
    assert_eq!(relay.get("/healthz", &[]), (200, "ok".to_string()));
    assert_eq!(relay.get("/readyz", &[]), (200, "ready".to_string()));
    // A newer relay migrated the database under this one.
    let conn = rusqlite::Connection::open(data.join("relay.sqlite")).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    let (status, reason) = relay.get("/readyz", &[]);
    assert_eq!(status, 503);
    assert!(reason.contains("999"), "{reason}");
    assert!(relay.store.readiness().is_err());
}

#[test]
fn the_log_is_json_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let port = common::free_port();
    let log_path = dir.path().join("relay.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut relay = Command::new(env!("CARGO_BIN_EXE_giaoban-relay"))
        .args(["--log-format", "json", "serve"])
        .env("GIAOBAN_RELAY_DATA_DIR", &data)
        .env("GIAOBAN_RELAY_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    common::wait_until_listening(port);
    relay.kill().unwrap();
    relay.wait().unwrap();
    let text = std::fs::read_to_string(&log_path).unwrap();
    let serving = text
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["fields"]["message"] == "relay serving")
        .unwrap_or_else(|| panic!("no JSON line says the relay serves: {text}"));
    assert_eq!(serving["level"], "INFO");
    assert!(serving["fields"]["addr"].as_str().is_some_and(|a| a.ends_with(&port.to_string())));
}
