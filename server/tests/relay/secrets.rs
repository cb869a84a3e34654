//! Secrets stay secret: after enrolment and syncs with the most verbose logging, neither the
//! relay's database files nor its log hold an enrolment code or a device token in the clear.

use crate::common;

use std::process::{Command, Stdio};

use giaoban_client_core::{CoreError, Store};
use giaoban_relay::RelayStore;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn no_code_or_token_in_the_database_or_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let (codes, wrong) = {
        let store = RelayStore::open(&data).unwrap();
        let org = store.create_units_from_reference("Đồng Nai").unwrap();
        let codes: Vec<String> =
            (1..3).map(|i| store.create_enrollment(org.units[i].id, 1).unwrap().code).collect();
        (codes, "ZZZZZ-ZZZZZ".to_string())
    };
    let port = common::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let log_path = dir.path().join("relay.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut relay = Command::new(env!("CARGO_BIN_EXE_giaoban-relay"))
        .arg("serve")
        .env("GIAOBAN_RELAY_DATA_DIR", &data)
        .env("GIAOBAN_RELAY_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "trace")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    common::wait_until_listening(port);

    let mut tokens = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let path = dir.path().join(format!("phuong{i}.sqlite"));
        let mut s = Store::open(&path).unwrap();
        s.enroll(&url, code, "Điện thoại cán bộ").unwrap();
        s.create_report(common::monthly_report("Báo cáo tháng 01/2022")).unwrap();
        s.sync_now().unwrap();
        s.sync_now().unwrap();
        tokens.push(s.relay().unwrap().unwrap().1);
    }
    // A wrong code and a forged token are refused, and must not be written down either.
    let mut stranger = Store::open(dir.path().join("la.sqlite")).unwrap();
    assert!(matches!(stranger.enroll(&url, &wrong, "máy lạ"), Err(CoreError::Protocol(_))));
    let forged = "f".repeat(64);
    let r = giaoban_client_core::RelayClient::new(&url).with_token(&forged).sync(b"GB");
    assert!(matches!(r, Err(CoreError::Unauthorized(_))), "{r:?}");

    relay.kill().unwrap();
    relay.wait().unwrap();

    let mut stored = Vec::new();
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        // The folder of attached files is empty here.
        if path.is_file() {
            stored.extend(std::fs::read(path).unwrap());
        }
    }
    let logged = std::fs::read(&log_path).unwrap();
    assert!(logged.len() > 1000, "the trace log is suspiciously short: {}", String::from_utf8_lossy(&logged));
    // The scan can see what is stored: the hashes of the tokens are there.
    for t in &tokens {
        assert!(
            contains(&stored, &giaoban_relay::store::sha256(t)),
            "token hash not found: the scan is blind"
        );
    }
    let code_forms = |c: &str| vec![c.to_string(), c.replace('-', ""), c.to_lowercase()];
    for secret in
        codes.iter().chain([&wrong]).flat_map(|c| code_forms(c)).chain(tokens.iter().cloned()).chain([forged])
    {
        assert!(!contains(&stored, secret.as_bytes()), "the relay database holds the secret {secret}");
        assert!(!contains(&logged, secret.as_bytes()), "the relay log holds the secret {secret}");
    }
}
