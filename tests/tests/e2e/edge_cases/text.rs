//! Odd Vietnamese text through sync: lone combining marks, NFD, apostrophes, zero-width
//! characters, long sections written on two devices at once.

use super::common;

use giaoban_client_core::{DeliveryState, Store};
use giaoban_e2e::Relay;

fn body(store: &mut Store, id: giaoban_protocol::DocId) -> String {
    store.report(id).unwrap().sections[0].body.as_str().to_string()
}

/// "Mux": one cadre types an acute after the x (a stray tone key: "x" + U+0301 has no
/// precomposed form, so the text stays NFC), her colleague deletes the x at the same time.
/// Both edits are valid; their merge reads "Mu" + U+0301, which is not NFC. The second
/// device's work must still reach the relay, and the second device must still be able to edit
/// the report.
#[test]
fn two_valid_keystrokes_merge_into_text_the_relay_accepts() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let province = relay.org.units[0].id;
    let mut d1 = relay.device(&tmp.path().join("d1.sqlite"), 1, "Máy 1");
    let mut d2 = relay.device(&tmp.path().join("d2.sqlite"), 1, "Máy 2");
    let id = common::report(&mut d1, vec![province], "Mux");
    d1.sync_now().unwrap();
    d2.sync_now().unwrap();
    d1.splice_report_section(id, "ket_qua", 3, 0, "\u{0301}").unwrap();
    d2.splice_report_section(id, "ket_qua", 2, 1, "").unwrap();
    d1.sync_now().unwrap();
    d2.sync_now().unwrap();
    d1.sync_now().unwrap();
    let state = d2.delivery_state(id).unwrap();
    let other_edit = d2.add_report_section(id, "han_che", "Hạn chế");
    d2.sync_now().unwrap();
    d1.sync_now().unwrap();
    let (b1, b2) = (body(&mut d1, id), body(&mut d2, id));
    assert!(
        state == DeliveryState::OnRelay && other_edit.is_ok() && b1 == b2,
        "device 2's deletion: {state:?}; device 2 adding a section: {other_edit:?}; device 1 reads {b1:?}, device 2 reads {b2:?}"
    );
}

/// Two cadres each paste 110,000 characters into the same section while offline (each within
/// the 200,000-character limit). The merge is longer than the limit: the second one's work
/// must not be refused for what the merge did.
#[test]
fn two_long_pastes_at_once_are_not_refused_for_their_sum() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let province = relay.org.units[0].id;
    let mut d1 = relay.device(&tmp.path().join("d1.sqlite"), 1, "Máy 1");
    let mut d2 = relay.device(&tmp.path().join("d2.sqlite"), 1, "Máy 2");
    let id = common::report(&mut d1, vec![province], "Mở đầu.");
    d1.sync_now().unwrap();
    d2.sync_now().unwrap();
    let long = |w: &str| format!("Mở đầu. {}", format!("{w} ").repeat(110_000 / (w.chars().count() + 1)));
    d1.set_report_section_text(id, "ket_qua", &long("Phường")).unwrap();
    d2.set_report_section_text(id, "ket_qua", &long("Xã")).unwrap();
    d1.sync_now().unwrap();
    d2.sync_now().unwrap();
    let state = d2.delivery_state(id).unwrap();
    assert_eq!(state, DeliveryState::OnRelay, "device 2's text is refused: {state:?}");
}

/// Held: NFD input, both apostrophes, zero-width characters and a long single line go through
/// sync, validation and search.
#[test]
fn odd_text_syncs_and_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let province = relay.org.units[0].id;
    let mut d1 = relay.device(&tmp.path().join("d1.sqlite"), 1, "Máy 1");
    let mut office = relay.device(&tmp.path().join("o.sqlite"), 0, "Văn phòng");
    // "Buôn Ma Thuột, người M’gar và Êđê ʼ" decomposed (NFD), as some keyboards send it.
    let nfd = "Buo\u{0302}n Ma Thuo\u{0323}\u{0302}t, ngu\u{031B}o\u{031B}\u{0300}i M’gar va\u{0300} E\u{0302}đe\u{0302} ʼ";
    let text = format!("{nfd}\u{200B}\u{200D}\u{FEFF} {}", "ă".repeat(150_000));
    let id = common::report(&mut d1, vec![province], &text);
    d1.sync_now().unwrap();
    assert_eq!(d1.delivery_state(id).unwrap(), DeliveryState::OnRelay);
    office.sync_now().unwrap();
    assert_eq!(body(&mut office, id), body(&mut d1, id));
    let hits = office.search("mgar ede", 10).unwrap();
    assert!(hits.iter().any(|h| h.id == id), "{hits:?}");
}
