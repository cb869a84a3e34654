//! Live notifications seen by a ward's device.

use super::common;

use std::sync::mpsc;
use std::time::Duration;

use giaoban_client_core::RelayClient;
use giaoban_e2e::Relay;

/// Ward A's device listens to the relay's live notifications. A change only the province and
/// ward B may read must not wake it.
#[test]
fn live_notifications_do_not_tell_a_ward_about_other_units_work() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let (province, a) = (relay.org.units[0].id, relay.org.units[1].id);
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "Văn phòng");
    let dev_a = relay.device(&tmp.path().join("a.sqlite"), 1, "Xã A");
    let mut dev_b = relay.device(&tmp.path().join("b.sqlite"), 2, "Xã B");
    let (url, token) = dev_a.relay().unwrap().unwrap();
    let (tx, rx) = mpsc::channel::<bool>();
    std::thread::spawn(move || {
        let client = RelayClient::new(&url).with_token(&token);
        let _ = client.listen(|changed| tx.send(changed).is_ok());
    });
    let drain = |wait: Duration| -> usize {
        let mut n = 0;
        let until = std::time::Instant::now() + wait;
        while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(true) => n += 1,
                Ok(false) => {}
                Err(_) => break,
            }
        }
        n
    };
    drain(Duration::from_millis(1500));
    // Ward B writes a report only it and the province may read.
    let id = common::report(&mut dev_b, vec![province], "Riêng của xã B.");
    dev_b.sync_now().unwrap();
    let _ = id;
    let woken_by_b = drain(Duration::from_secs(2));
    // Control: a directive to ward A does wake it.
    common::directive(&mut office, vec![a]);
    office.sync_now().unwrap();
    let woken_by_own = drain(Duration::from_secs(2));
    assert!(woken_by_own > 0, "control: the stream works");
    assert_eq!(woken_by_b, 0, "ward A's stream fired for ward B's private work");
}
