//! Shared test setup: real SQLite files in temporary folders, the seed dispatch 305/MTTQ-BTT,
//! and a hand-cranked exchange of changes between stores.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{TimeZone, Utc};
use giaoban_client_core::protocol::schema::UnitDirectory;
use giaoban_client_core::protocol::{DocId, Timestamp, UnitId};
use giaoban_client_core::{
    Clock, NewConsolidation, NewDeadline, NewDirective, NewTask, Store, StoreOptions,
    unit_directory_from_reference,
};

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

/// Dispatch 305/MTTQ-BTT of 24/01/2022 (seed 000): four tasks; task 3 asks for a report
/// "trước ngày 08/02/2022" through đ/c Muối, who consolidates by 11/02/2022.
pub fn dispatch_305(recipients: Vec<UnitId>) -> NewDirective {
    NewDirective {
        number: "Số: 305/MTTQ-BTT".into(),
        issuer_name: "Ban Thường trực Ủy ban MTTQ Việt Nam thành phố Long Khánh".into(),
        place: "Long Khánh".into(),
        issued_on: "ngày   24   tháng  01  năm 2022".into(),
        subject: "V/v thực hiện Thông báo số 161-TB/TU ngày 07/01/2022 của BTV Thành ủy".into(),
        basis: vec!["Thông báo số 161-TB/TU ngày 07/01/2022 của Ban Thường vụ Thành ủy Long Khánh".into()],
        recipients,
        recipients_label: "Kính gửi: Ban Thường trực UBMTTQVN các xã, phường.".into(),
        signer: None,
        body: "Ban Thường trực Ủy ban MTTQ Việt Nam thành phố đề nghị Ban Thường trực Ủy ban MTTQ Việt Nam các xã, phường phối hợp các tổ chức chính trị - xã hội cùng cấp triển khai một số nội dung sau:".into(),
        tasks: vec![
            NewTask {
                ordinal: 1,
                text: "Tiếp tục đẩy mạnh công tác tập hợp quần chúng trong độ tuổi vào tổ chức.".into(),
                ..NewTask::default()
            },
            NewTask {
                ordinal: 2,
                text: "Chủ động theo dõi, nắm bắt và tổng hợp tình hình Nhân dân, tình hình doanh nghiệp và công nhân lao động.".into(),
                ..NewTask::default()
            },
            NewTask {
                ordinal: 3,
                text: "Rà soát, đánh giá hiệu quả hoạt động các mô hình của Mặt trận; báo cáo kết quả thực hiện cho Ban Thường trực Ủy ban MTTQ Việt Nam thành phố (qua đ/c Muối-CV) trước ngày 08/02/2022.".into(),
                report_required: true,
                deadline: Some(NewDeadline { text: "trước ngày 08/02/2022".into(), due: None, exclusive: None }),
                contact: Some("đ/c Muối-CV".into()),
                indicators: vec!["mo_hinh_ra_soat".into(), "mo_hinh_giai_the".into(), "mo_hinh_nhan_rong".into()],
                consolidation: Some(NewConsolidation {
                    text: "Giao đ/c Muối tổng hợp, báo cáo cho Ban Thường trực Ủy ban MTTQ Việt Nam thành phố, Ban Dân vận Thành ủy và Văn phòng Thành ủy.".into(),
                    contact: Some("đ/c Muối".into()),
                    deadline: NewDeadline { text: "trước ngày 11/02/2022".into(), due: None, exclusive: None },
                    report_to: vec!["Ban Dân vận Thành ủy".into(), "Văn phòng Thành ủy".into()],
                }),
            },
            NewTask {
                ordinal: 4,
                text: "Rà soát, căn cứ nhiệm vụ năm 2022 để xây dựng kế hoạch thực hiện các nội dung giám sát, phản biện xã hội.".into(),
                ..NewTask::default()
            },
        ],
    }
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
