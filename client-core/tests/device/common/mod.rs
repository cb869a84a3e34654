//! Shared test setup: real SQLite files in temporary folders, the seed dispatch 305/MTTQ-BTT,
//! and a hand-cranked exchange of changes between stores.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{TimeZone, Utc};
use giaoban_client_core::protocol::schema::UnitDirectory;
use giaoban_client_core::protocol::{DocId, Timestamp, UnitId};
use giaoban_client_core::{Clock, NewDirective, Store, StoreOptions, unit_directory_from_reference};

/// A clock tests move by hand.
#[derive(Clone)]
pub struct TestClock(Arc<AtomicI64>);

impl TestClock {
    /// Starts at `y-m-d h:mi` in Vietnam (UTC+7).
    pub fn at_local(y: i32, m: u32, d: u32, h: u32, mi: u32) -> TestClock {
        let utc = Utc.with_ymd_and_hms(y, m, d, h, mi, 0).unwrap().timestamp_millis() - 7 * 3_600_000;
        TestClock(Arc::new(AtomicI64::new(utc)))
    }
    pub fn set_local(&self, y: i32, m: u32, d: u32, h: u32, mi: u32) {
        let utc = Utc.with_ymd_and_hms(y, m, d, h, mi, 0).unwrap().timestamp_millis() - 7 * 3_600_000;
        self.0.store(utc, Ordering::SeqCst);
    }
    pub fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
    pub fn clock(&self) -> Clock {
        let c = self.0.clone();
        Clock::from_fn(move || Timestamp(c.load(Ordering::SeqCst)))
    }
}

pub fn open(path: &Path, clock: &TestClock) -> Store {
    Store::open_with(path, StoreOptions { clock: clock.clock(), ..StoreOptions::default() }).unwrap()
}

/// The city (province) committee of Đồng Nai and three of its wards, from the reference data.
pub struct Org {
    pub directory: UnitDirectory,
    pub city: UnitId,
    pub wards: Vec<UnitId>,
}

pub fn org() -> Org {
    let directory = unit_directory_from_reference("Đồng Nai").unwrap();
    let city = directory.units[0].id;
    let wards = directory.units[1..4].iter().map(|u| u.id).collect();
    Org { directory, city, wards }
}

/// Dispatch 305/MTTQ-BTT of 24/01/2022 (seed 000) with its original deadlines.
pub fn dispatch_305(recipients: Vec<UnitId>) -> NewDirective {
    giaoban_client_core::demo::dispatch_305(recipients, "08/02/2022", "11/02/2022")
}

/// Copies every change of every document of `from` that `to` lacks. Returns how many
/// documents changed on `to`.
pub fn send_all(from: &mut Store, to: &mut Store) -> usize {
    let mut changed = 0;
    for id in from.document_ids(None).unwrap() {
        if send(from, to, id) {
            changed += 1;
        }
    }
    changed
}

/// Copies the changes of `id` from `from` to `to`.
pub fn send(from: &mut Store, to: &mut Store, id: DocId) -> bool {
    let bytes = from.save_document(id).unwrap();
    let mut doc = automerge::AutoCommit::load(&bytes).unwrap();
    let changes: Vec<Vec<u8>> = doc.get_changes(&[]).into_iter().map(|c| c.raw_bytes().to_vec()).collect();
    to.apply_remote(id, &changes).unwrap()
}
