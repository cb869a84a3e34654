//! The demo organisation's first morning, played through the product itself once the relay
//! listens: the office's demo staff member issues dispatch 305 from the desk to four wards,
//! and three wards' phones (real client-core stores in `demo-devices/`, enrolled with codes
//! over HTTP like any phone) receive it; one reports, one is at work, one has only
//! acknowledged. A newcomer's first page is then a living matrix.

use std::path::Path;

use giaoban_client_core::Store;
use giaoban_client_core::protocol::schema::ReportKind;
use giaoban_client_core::{NewReport, NewSection};
use giaoban_protocol::schema::UnitDirectory;

use crate::http::AppState;
use crate::store::{StaffSession, StoreError};

/// A date `days` from today in Vietnam, dd/mm/yyyy.
fn in_days(days: i64) -> String {
    let today = (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive();
    (today + chrono::Duration::days(days)).format("%d/%m/%Y").to_string()
}

/// Plays the demo. Blocking: run it on a blocking thread of the runtime serving `state`, with
/// the relay listening at `url`.
pub fn play(
    state: &AppState,
    handle: &tokio::runtime::Handle,
    url: &str,
    dir: &UnitDirectory,
    staff_login: &str,
) -> anyhow::Result<()> {
    let account = state.store.staff_by_login(staff_login)?;
    let session = StaffSession {
        staff: account.id,
        unit: account.unit,
        name: account.name.clone(),
        device: account.device,
        csrf: String::new(),
    };
    let wards: Vec<_> = dir.units.iter().skip(1).take(4).collect();
    let desk = state.desk.stores.store_for(state, handle, &session)?;
    let directive = {
        let mut s = desk.lock().unwrap_or_else(|p| p.into_inner());
        s.issue_directive(giaoban_client_core::demo::dispatch_305(
            wards.iter().map(|u| u.id).collect(),
            &in_days(5),
            &in_days(8),
        ))?
    };
    crate::desk::stores::DeskStores::sync(&desk)?;

    let folder = state.store.path().parent().unwrap_or(Path::new(".")).join("demo-devices");
    std::fs::create_dir_all(&folder)?;
    for (i, unit) in wards.iter().take(3).enumerate() {
        let code = state.store.create_enrollment(unit.id, 1).map_err(|e: StoreError| anyhow::anyhow!(e))?;
        let mut phone = Store::open(folder.join(format!("phuong-{}.sqlite", i + 1)))?;
        phone.enroll(url, &code.code, &format!("Điện thoại cán bộ {}", unit.short_name))?;
        phone.sync_now()?;
        match i {
            0 => {
                phone.acknowledge_task(directive, 1)?;
                phone.acknowledge_task(directive, 3)?;
                let report = phone.create_report(NewReport {
                    title: "Báo cáo kết quả rà soát các mô hình của Mặt trận".into(),
                    kind: ReportKind::Thematic,
                    period: "năm 2026".into(),
                    answers: Some((directive, 3)),
                    audience: vec![],
                    sections: vec![
                        NewSection {
                            key: "ket_qua".into(),
                            heading: "Kết quả thực hiện".into(),
                            body: "Ban Thường trực đã rà soát 12 mô hình; duy trì 9 mô hình hoạt động hiệu quả, giải thể 1 mô hình không còn phù hợp, nhân rộng 2 mô hình “Khu dân cư tự quản”.".into(),
                        },
                        NewSection {
                            key: "kien_nghi".into(),
                            heading: "Đề xuất, kiến nghị".into(),
                            body: "Đề nghị Ban Thường trực cấp trên hỗ trợ kinh phí nhân rộng mô hình.".into(),
                        },
                    ],
                })?;
                phone.submit_report(report)?;
            }
            1 => {
                phone.acknowledge_task(directive, 1)?;
                phone.update_task_progress(directive, 3, "Đang tổng hợp số liệu từ các khu phố.")?;
            }
            _ => phone.acknowledge_task(directive, 1)?,
        }
        phone.sync_now()?;
    }
    Ok(())
}
