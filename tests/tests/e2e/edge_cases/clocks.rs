//! Devices whose clocks are wrong.

use super::common;

use giaoban_client_core::{Clock, Store, StoreOptions, TaskFilter};
use giaoban_e2e::Relay;
use giaoban_protocol::{DeadlineStanding, Timestamp};
use giaoban_relay::store::RelayClock;

const RELAY_NOW: i64 = 1_767_600_000_000; // 2026-01-05
const YEAR: i64 = 365 * 86_400_000;

/// Held: a ward phone five years ahead and one five years behind both judge the 2030
/// deadline by the relay's clock; a task finished offline on the fast phone counts as
/// received now (relay time), not in 2031.
#[test]
fn deadlines_are_judged_by_the_relay_clock_whatever_the_phone_says() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start_clocked(&tmp.path().join("relay"), RelayClock::from_fn(|| RELAY_NOW));
    let ward = relay.org.units[1].id;
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "Văn phòng");
    let dir = common::directive(&mut office, vec![ward]);
    office.sync_now().unwrap();
    for (i, skew) in [-5 * YEAR, 5 * YEAR].into_iter().enumerate() {
        let clock = Clock::from_fn(move || Timestamp(RELAY_NOW + skew + 1_000));
        let mut s = Store::open_with(
            tmp.path().join(format!("p{i}.sqlite")),
            StoreOptions { clock, ..Default::default() },
        )
        .unwrap();
        let code = relay.store.create_enrollment(ward, 1).unwrap();
        s.enroll(&relay.url, &code.code, "Điện thoại").unwrap();
        s.sync_now().unwrap();
        let t = &s.list_tasks(&TaskFilter { source: Some(dir), ..Default::default() }).unwrap()[0];
        assert_eq!(t.standing, Some(DeadlineStanding::Upcoming), "skew {skew}");
        if skew > 0 {
            s.mark_task_not_applicable(dir, 1, "Không phát sinh").unwrap();
            let t = &s.list_tasks(&TaskFilter { source: Some(dir), ..Default::default() }).unwrap()[0];
            assert_eq!(t.standing, Some(DeadlineStanding::DoneOnTime), "finished offline on a fast phone");
            s.sync_now().unwrap();
            let t = &s.list_tasks(&TaskFilter { source: Some(dir), ..Default::default() }).unwrap()[0];
            assert_eq!(t.received_at, Some(Timestamp(RELAY_NOW)));
        }
    }
}
