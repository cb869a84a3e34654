//! Requests stay bounded whatever a device holds: pushes and reconcile listings go a page at a
//! time, each acknowledged, and a relay that finds a request too large gets smaller ones.

use std::time::Instant;

use giaoban_client_core::demo::anchor_task;
use giaoban_client_core::{NewDirective, NewTask, Store, TaskFilter};
use giaoban_e2e::Relay;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[test]
fn a_device_with_50000_unsent_documents_syncs_them_all_and_reconciles_after_a_restore() {
    // GIAOBAN_UNSENT_DOCS runs the same with another count (to profile it, say).
    let docs_env = std::env::var("GIAOBAN_UNSENT_DOCS").ok().and_then(|v| v.parse().ok());
    #[allow(non_snake_case)]
    let DOCS: usize = docs_env.unwrap_or(50_000);
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let ward = relay.org.units[1].id;
    let mut city = relay.device(&dir.path().join("city.sqlite"), 0, "văn phòng");
    city.sync_now().unwrap();
    relay.backup(&dir.path().join("backup.sqlite"));

    let t0 = Instant::now();
    for chunk in (0..DOCS).collect::<Vec<_>>().chunks(5_000) {
        city.write_all(|s| {
            for &i in chunk {
                s.issue_directive(anchor_task(i, ward))?;
            }
            Ok(())
        })
        .unwrap();
    }
    println!("{DOCS} documents written offline in {:.1} s", t0.elapsed().as_secs_f64());
    assert_eq!(city.pending_changes_count().unwrap(), DOCS as u64);

    let t0 = Instant::now();
    let r = city.sync_now().unwrap();
    println!(
        "first sync: {} round trips, {} documents acknowledged, {:.1} MB up, {:.1} s",
        r.round_trips,
        r.acked,
        r.bytes_sent as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(r.acked, DOCS);
    assert!(r.rejected.is_empty());
    assert!(r.round_trips >= 5, "pushed a page at a time: {r:?}");
    assert_eq!(city.pending_changes_count().unwrap(), 0);

    // The office restores the backup taken before any of them.
    let relay = relay.restore(&dir.path().join("backup.sqlite"));
    let before = relay.store.document_count().unwrap();
    let t0 = Instant::now();
    let r = city.sync_now().unwrap();
    println!(
        "after the restore: {} round trips, {} documents acknowledged, {:.1} MB up, {:.1} s",
        r.round_trips,
        r.acked,
        r.bytes_sent as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    assert!(r.rejected.is_empty());
    assert_eq!(r.acked, DOCS, "every document given back");
    assert_eq!(relay.store.document_count().unwrap(), before + DOCS as u64);
    assert_eq!(city.pending_changes_count().unwrap(), 0);
    // A second sync is quiet: one round trip, nothing more to list.
    let r = city.sync_now().unwrap();
    assert_eq!((r.round_trips, r.pushed), (1, 0), "{r:?}");
    assert!(city.sync_problems().unwrap().is_empty());
    for id in city
        .document_ids(Some(giaoban_client_core::protocol::DocKind::Directive))
        .unwrap()
        .iter()
        .step_by(997)
    {
        assert_eq!(city.delivery_state(*id).unwrap(), giaoban_client_core::DeliveryState::OnRelay);
    }
}

const WORDS: &[&str] = &[
    "rà", "soát", "mô", "hình", "Mặt", "trận", "khu", "dân", "cư", "vận", "động", "quỹ", "người", "nghèo",
    "nhà", "Đại", "đoàn", "kết", "bàn", "giao", "hộ", "khó", "khăn", "đoàn", "viên", "hội", "viên", "giám",
    "sát", "phản", "biện", "xã", "hội", "tuyên", "truyền", "nông", "thôn", "mới", "đô", "thị", "văn", "minh",
];

/// A directive whose words vary, so a page of them does not compress to nothing.
fn varied(i: usize, rng: &mut StdRng, recipient: giaoban_client_core::protocol::UnitId) -> NewDirective {
    let words = |n: usize, rng: &mut StdRng| -> String {
        (0..n).map(|_| WORDS[rng.random_range(0..WORDS.len())]).collect::<Vec<_>>().join(" ")
    };
    let mut d = anchor_task(i, recipient);
    d.subject = format!("V/v {}", words(12, rng));
    d.tasks = vec![NewTask {
        ordinal: 1,
        text: format!("{} {}", words(40, rng), rng.random::<u64>()),
        ..Default::default()
    }];
    d
}

#[test]
fn a_relay_that_finds_a_request_too_large_gets_smaller_pages() {
    let dir = tempfile::tempdir().unwrap();
    let config = giaoban_relay::Config {
        data_dir: dir.path().join("relay"),
        max_body_bytes: 16 * 1024,
        ..giaoban_relay::Config::default()
    };
    let relay = Relay::start_with(&dir.path().join("relay"), config, true);
    let ward = relay.org.units[1].id;
    let mut city = relay.device(&dir.path().join("city.sqlite"), 0, "văn phòng");
    let mut rng = StdRng::seed_from_u64(7);
    for i in 0..300 {
        city.issue_directive(varied(i, &mut rng, ward)).unwrap();
    }
    let r = city.sync_now().unwrap();
    assert_eq!(r.acked, 300, "{r:?}");
    assert!(r.round_trips > 2, "{r:?}");
    assert_eq!(city.pending_changes_count().unwrap(), 0);
    // Later syncs start from the smaller pages, and grow back after good syncs.
    let session = city.sync_session().unwrap();
    assert!(session.push_budget < giaoban_client_core::protocol::wire::DEFAULT_PUSH_BYTES);
    let mut other = Store::open(dir.path().join("ward.sqlite")).unwrap();
    let code = relay.store.create_enrollment(ward, 1).unwrap();
    other.enroll(&relay.url, &code.code, "phường").unwrap();
    other.sync_now().unwrap();
    assert_eq!(other.list_tasks(&TaskFilter::default()).unwrap().len(), 300);
}
