//! A phone restored from an older copy of its own store, used offline before it syncs.

use super::common;

use giaoban_client_core::{DeliveryState, Store};
use giaoban_e2e::Relay;

/// The cadre's phone is restored from last week's copy; she opens the report and goes on
/// writing before the phone reaches the relay. Her new words must reach the relay, and the
/// words she wrote last week (which the relay holds) must come back to the phone.
#[test]
fn an_edit_made_on_a_restored_copy_before_it_syncs_is_not_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let ward = relay.org.units[1].id;
    let province = relay.org.units[0].id;
    let path = tmp.path().join("lan.sqlite");
    let copy = tmp.path().join("lan-old.sqlite");
    let mut lan = relay.device(&path, 1, "Lan");
    let id = common::report(&mut lan, vec![province], "Tuần 1.");
    lan.sync_now().unwrap();
    drop(lan);
    common::copy_store(&path, &copy);

    let mut lan = Store::open(&path).unwrap();
    lan.set_report_section_text(id, "ket_qua", "Tuần 1. Tuần 2 đã làm.").unwrap();
    lan.sync_now().unwrap();
    assert_eq!(lan.delivery_state(id).unwrap(), DeliveryState::OnRelay);
    drop(lan);

    // The phone comes back from the old copy, and she writes before any sync.
    common::copy_store(&copy, &path);
    let mut lan = Store::open(&path).unwrap();
    lan.set_report_section_text(id, "ket_qua", "Tuần 1. Tuần 3 viết lại trên máy phục hồi.").unwrap();
    for _ in 0..3 {
        let _ = lan.sync_now();
    }
    let state = lan.delivery_state(id).unwrap();
    let problems = lan.sync_problems().unwrap();

    // A colleague's phone shows what reached the relay.
    let mut hoa = relay.device(&tmp.path().join("hoa.sqlite"), 1, "Hoa");
    hoa.sync_now().unwrap();
    let seen = hoa.report(id).unwrap().sections[0].body.as_str().to_string();
    let _ = ward;
    assert!(problems.is_empty(), "the restored phone cannot take its own older words back: {problems:?}");
    assert_eq!(
        state,
        DeliveryState::OnRelay,
        "the words written on the restored phone were refused: {state:?}"
    );
    assert!(seen.contains("Tuần 3"), "the colleague never gets the new words: {seen:?}");
}

/// Control: the same restore, but the phone syncs before she writes. This path is documented
/// (`own_held`) and should hold.
#[test]
fn a_restored_copy_that_syncs_first_gets_its_words_back() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let province = relay.org.units[0].id;
    let path = tmp.path().join("lan.sqlite");
    let copy = tmp.path().join("lan-old.sqlite");
    let mut lan = relay.device(&path, 1, "Lan");
    let id = common::report(&mut lan, vec![province], "Tuần 1.");
    lan.sync_now().unwrap();
    drop(lan);
    common::copy_store(&path, &copy);
    let mut lan = Store::open(&path).unwrap();
    lan.set_report_section_text(id, "ket_qua", "Tuần 1. Tuần 2 đã làm.").unwrap();
    lan.sync_now().unwrap();
    drop(lan);
    common::copy_store(&copy, &path);
    let mut lan = Store::open(&path).unwrap();
    lan.sync_now().unwrap();
    assert!(lan.report(id).unwrap().sections[0].body.as_str().contains("Tuần 2"));
    lan.set_report_section_text(id, "ket_qua", "Tuần 1. Tuần 2 đã làm. Tuần 3.").unwrap();
    lan.sync_now().unwrap();
    assert_eq!(lan.delivery_state(id).unwrap(), DeliveryState::OnRelay);
}
