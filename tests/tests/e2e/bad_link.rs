//! Syncing 1,000 documents through a link that cuts connections in the middle of the relay's
//! answers, and one throttled to 384 kbit/s with 300 ms round trips: every sync completes after
//! retries, nothing is lost or duplicated, and a cut costs only the page in flight.

use std::sync::atomic::Ordering;
use std::time::Duration;

use giaoban_client_core::demo::anchor_task;
use giaoban_client_core::{Store, SyncReport, TaskFilter};
use giaoban_e2e::Relay;
use giaoban_e2e::proxy::{FaultProxy, LinkFaults};

const LINK: LinkFaults = LinkFaults {
    bytes_per_second: None,
    one_way_delay: Duration::ZERO,
    cut_probability: 0.0,
    seed: 1,
    cut_uploads: false,
};

/// Syncs until a sync succeeds; returns the attempts and the successful report.
fn sync_until_done(s: &mut Store) -> (u32, SyncReport) {
    for attempt in 1..=200 {
        match s.sync_now() {
            Ok(r) => return (attempt, r),
            Err(e) => {
                assert!(matches!(e, giaoban_client_core::CoreError::Network { .. }), "unexpected error: {e}");
            }
        }
    }
    panic!("sync never completed");
}

#[test]
fn cut_connections_lose_nothing_and_resume() {
    let docs = 1000;
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let seed = std::env::var("GIAOBAN_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20_220_124);
    println!("seed {seed} (replay with GIAOBAN_SEED={seed})");
    let clean = FaultProxy::start(&relay.addr(), LinkFaults { cut_probability: 0.0, ..LINK });
    let faults = LinkFaults { cut_probability: 0.2, seed, ..LINK };
    let mut city = relay.device(&dir.path().join("city.sqlite"), 0, "city");
    let unit = relay.org.units[1].id;
    for i in 0..docs {
        city.issue_directive(anchor_task(i, unit)).unwrap();
    }
    city.sync_now().unwrap();
    // What a download costs on a clean link.
    let mut reference = relay.device_via(&clean.url, &dir.path().join("reference.sqlite"), 1, "reference");
    reference.sync_now().unwrap();
    let clean_bytes = clean.down_bytes.load(Ordering::Relaxed);

    let proxy = FaultProxy::start(&relay.addr(), faults);
    let mut ward = relay.device_via(&proxy.url, &dir.path().join("ward.sqlite"), 1, "ward");

    // Download through the cutting link.
    let (attempts, _) = sync_until_done(&mut ward);
    let cuts = proxy.cuts.load(Ordering::Relaxed);
    let down = proxy.down_bytes.load(Ordering::Relaxed);
    println!("download: {attempts} attempts, {cuts} cuts, {down} bytes down ({clean_bytes} on a clean link)");
    // Each cut costs at most the page in flight, never the whole download again.
    assert!(
        down < clean_bytes * (2 + cuts),
        "{down} bytes for a {clean_bytes}-byte download with {cuts} cuts"
    );
    let tasks = ward.list_tasks(&TaskFilter::default()).unwrap();
    assert_eq!(tasks.len(), docs, "every task arrived exactly once");
    let mut sources: Vec<_> = tasks.iter().map(|t| t.source).collect();
    sources.sort();
    sources.dedup();
    assert_eq!(sources.len(), docs);

    // Upload through the cutting link: progress on 300 tasks.
    for t in tasks.iter().take(300) {
        ward.update_task_progress(t.source, 1, "Đã rà soát, đang tổng hợp số liệu.").unwrap();
    }
    let (attempts, _) = sync_until_done(&mut ward);
    println!("upload: {attempts} attempts, {} cuts in all", proxy.cuts.load(Ordering::Relaxed));
    assert_eq!(ward.pending_changes_count().unwrap(), 0);
    city.sync_now().unwrap();
    let in_progress = city
        .list_tasks(&TaskFilter { scope: giaoban_client_core::TaskScope::IssuedByMe, ..Default::default() })
        .unwrap()
        .into_iter()
        .filter(|t| t.state == Some(giaoban_client_core::protocol::schema::TaskState::InProgress))
        .count();
    assert_eq!(in_progress, 300, "every answer reached the city once");
    // However the dice fell, the link must have cut something by now; if not, keep syncing
    // (no-change syncs) until it has, and check nothing changed.
    for _ in 0..100 {
        if proxy.cuts.load(Ordering::Relaxed) > 0 {
            break;
        }
        sync_until_done(&mut ward);
    }
    assert!(proxy.cuts.load(Ordering::Relaxed) > 0, "the link did cut connections");
    assert_eq!(ward.list_tasks(&TaskFilter::default()).unwrap().len(), docs);
}

#[test]
fn a_slow_far_link_still_completes() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    // 384 kbit/s = 48,000 bytes per second; 150 ms each way = 300 ms round trips.
    let faults = LinkFaults {
        bytes_per_second: Some(48_000),
        one_way_delay: Duration::from_millis(150),
        cut_probability: 0.0,
        seed: 1,
        cut_uploads: false,
    };
    let proxy = FaultProxy::start(&relay.addr(), faults);
    let mut city = relay.device(&dir.path().join("city.sqlite"), 0, "city");
    let mut ward = relay.device_via(&proxy.url, &dir.path().join("ward.sqlite"), 1, "ward");
    for i in 0..1000 {
        city.issue_directive(anchor_task(i, relay.org.units[1].id)).unwrap();
    }
    city.sync_now().unwrap();
    let enrolled_on = proxy.connections.load(Ordering::Relaxed);
    let started = std::time::Instant::now();
    let r = ward.sync_now().unwrap();
    println!(
        "fresh download of 1000 over 384 kbit/s, 300 ms, handshakes delayed: {:?}, {} round trips",
        started.elapsed(),
        r.round_trips
    );
    assert_eq!(ward.list_tasks(&TaskFilter::default()).unwrap().len(), 1000);
    let started = std::time::Instant::now();
    let r = ward.sync_now().unwrap();
    println!("no-change reconnect: {:?}, {} round trip", started.elapsed(), r.round_trips);
    assert_eq!(r.round_trips, 1);
    // Every round trip of both syncs went over one connection: one handshake paid.
    assert_eq!(proxy.connections.load(Ordering::Relaxed) - enrolled_on, 1, "syncs reuse their connection");
}
