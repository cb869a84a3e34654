//! Devices and enrollment on the desk: for each unit within the staff member's reach (their
//! unit and every unit below it), its devices with their last sync, revoking one, and a
//! one-time enrollment code shown with a QR code that holds the relay's address and the code,
//! so a cadre enrolls by scanning.

use std::collections::{HashMap, HashSet};

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use giaoban_protocol::schema::Unit;
use giaoban_protocol::{DeviceId, UnitId};
use giaoban_vietnamese_text::search_key;

use super::{Chrome, DeskError, check_form, chrome, local_time, on_relay, render, signed_in, with_store};
use crate::http::AppState;
use crate::store::DeviceRow;

/// The units a staff member of `unit` may manage: it and everything below it, in tree order
/// (siblings in Vietnamese name order).
pub fn reach(units: &[Unit], unit: UnitId) -> Vec<Unit> {
    let mut children: HashMap<Option<UnitId>, Vec<&Unit>> = HashMap::new();
    for u in units {
        children.entry(u.parent).or_default().push(u);
    }
    for list in children.values_mut() {
        giaoban_vietnamese_text::collator().sort_by_name(list, |u| &u.name);
    }
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stack: Vec<&Unit> = units.iter().filter(|u| u.id == unit).collect();
    while let Some(u) = stack.pop() {
        if !seen.insert(u.id) {
            continue;
        }
        out.push(u.clone());
        if let Some(kids) = children.get(&Some(u.id)) {
            stack.extend(kids.iter().rev());
        }
    }
    out
}

struct DeviceLine {
    id: String,
    label: String,
    enrolled: String,
    last_sync: String,
    /// "Giao Ban Android 1.4.2 (lõi 0.1.0)", or that the app does not say.
    version: String,
    /// "2 văn bản, 1 tệp (lúc 08:15 02/12/2026)".
    unsent: String,
    revoked: bool,
    desk: bool,
}

/// What a device runs, in words.
fn version_words(status: Option<&giaoban_protocol::wire::DeviceStatus>) -> String {
    match status {
        None => "không rõ (ứng dụng chưa báo)".into(),
        Some(s) => match (s.app_version.is_empty(), s.core_version.is_empty()) {
            (false, false) => format!("{} (lõi {})", s.app_version, s.core_version),
            (false, true) => s.app_version.clone(),
            (true, false) => format!("lõi {}", s.core_version),
            (true, true) => "không rõ".into(),
        },
    }
}

/// What a device had left to send when it last said, in words.
fn unsent_words(status: Option<&(giaoban_protocol::wire::DeviceStatus, i64)>) -> String {
    let Some((s, at)) = status else { return "không rõ".into() };
    let when = local_time(*at);
    match (s.unsent_docs, s.unsent_files) {
        (0, 0) => format!("Không còn gì (lúc {when})"),
        (d, 0) => format!("{} văn bản (lúc {when})", format_count(d)),
        (0, f) => format!("{} tệp (lúc {when})", format_count(f)),
        (d, f) => format!("{} văn bản, {} tệp (lúc {when})", format_count(d), format_count(f)),
    }
}

fn format_count(n: u64) -> String {
    giaoban_vietnamese_text::format_number(n.min(i64::MAX as u64) as i64)
}

struct UnitBlock {
    id: String,
    name: String,
    devices: Vec<DeviceLine>,
}

#[derive(Template)]
#[template(path = "desk/devices.html")]
struct DevicesPage {
    chrome: Chrome,
    units: Vec<UnitBlock>,
    query: String,
    notice: String,
    total: usize,
}

#[derive(Template)]
#[template(path = "desk/enrollment.html")]
struct EnrollmentPage {
    chrome: Chrome,
    unit: String,
    code: String,
    expires: String,
    link: String,
    qr_svg: String,
}

#[derive(serde::Deserialize, Default)]
pub(super) struct DevicesQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    done: Option<String>,
}

/// The units within reach of the signed-in member, from their store's unit directory.
async fn units_in_reach(
    state: &AppState,
    signed: &super::Signed,
) -> Result<(Vec<Unit>, String, String), DeskError> {
    let me = signed.session.unit;
    with_store(state, &signed.session, move |s| {
        let dir = s.shared_unit_directory()?;
        Ok(reach(&dir.units, me))
    })
    .await
}

pub(super) async fn devices_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<DevicesQuery>,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    let (units, unit, warning) = units_in_reach(&state, &signed).await?;
    let query = giaoban_vietnamese_text::clean_input(&q.q);
    let key = search_key(&query);
    let shown: Vec<Unit> =
        units.into_iter().filter(|u| key.is_empty() || search_key(&u.name).contains(&key)).collect();
    let ids: Vec<UnitId> = shown.iter().map(|u| u.id).collect();
    let rows = on_relay(&state, move |relay| relay.devices_of(&ids)).await?;
    let mut by_unit: HashMap<UnitId, Vec<DeviceRow>> = HashMap::new();
    for r in rows {
        by_unit.entry(r.unit).or_default().push(r);
    }
    let total = shown.len();
    let blocks = shown
        .into_iter()
        .map(|u| UnitBlock {
            id: u.id.to_string(),
            devices: by_unit
                .remove(&u.id)
                .unwrap_or_default()
                .into_iter()
                .map(|d| DeviceLine {
                    version: version_words(d.status.as_ref().map(|(s, _)| s)),
                    unsent: unsent_words(d.status.as_ref()),
                    id: d.id.to_string(),
                    label: d.label,
                    enrolled: local_time(d.enrolled_at),
                    last_sync: d.last_sync_at.map(local_time).unwrap_or_else(|| "chưa đồng bộ".into()),
                    revoked: d.revoked,
                    desk: d.desk,
                })
                .collect(),
            name: u.name,
        })
        .collect();
    let notice = match q.done.as_deref() {
        Some("revoked") => "Đã thu hồi thiết bị: lần đồng bộ sau của nó bị từ chối.",
        _ => "",
    };
    let page = DevicesPage {
        chrome: chrome("Thiết bị và đăng ký", &signed, unit, warning),
        units: blocks,
        query,
        notice: notice.into(),
        total,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(serde::Deserialize)]
pub(super) struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    device: String,
}

pub(super) async fn revoke_sent(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<RevokeForm>,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    check_form(&state, &headers, &signed, &form.csrf)?;
    let device: DeviceId = form.device.trim().parse().map_err(|_| DeskError::NotFound)?;
    let (units, _, _) = units_in_reach(&state, &signed).await?;
    let unit = on_relay(&state, move |relay| relay.unit_of_device(device)).await?;
    // A device outside the member's reach is answered as one that does not exist.
    if !unit.is_some_and(|u| units.iter().any(|r| r.id == u)) {
        return Err(DeskError::NotFound);
    }
    // A desk's store is a staff member's and ends with their account; revoking it here would
    // leave what it has not sent yet in a file set aside.
    if on_relay(&state, move |relay| relay.is_desk_device(device)).await? {
        return Ok(super::message(
            StatusCode::CONFLICT,
            "Không thu hồi được",
            "Đây là bàn làm việc của một cán bộ, không phải điện thoại. Muốn chặn người này, hãy nhờ người quản trị máy chủ khóa tài khoản của họ (admin staff disable).",
            "/desk/devices",
        ));
    }
    let relay = state.store.clone();
    match tokio::task::spawn_blocking(move || relay.revoke_device(device)).await {
        Ok(Ok(())) | Ok(Err(crate::store::StoreError::NotFound(_))) => {}
        Ok(Err(e)) => return Err(e.into()),
        Err(_) => return Err(DeskError::Store("the relay is shutting down".into())),
    }
    tracing::info!(%device, staff = %signed.session.staff, "device revoked from the desk");
    Ok(Redirect::to("/desk/devices?done=revoked").into_response())
}

#[derive(serde::Deserialize)]
pub(super) struct EnrollForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    unit: String,
}

/// The address devices reach this relay at, as the office's browser does.
fn relay_address(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.public_url {
        return url.clone();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)))
        .unwrap_or("127.0.0.1:8080");
    let scheme = if state.config.desk_secure_cookie { "https" } else { "http" };
    format!("{scheme}://{host}")
}

/// What the QR code holds: the relay's address and the code, for the app to enroll with.
pub fn enrollment_link(relay: &str, code: &str) -> String {
    let mut link = String::from("giaoban:enroll?relay=");
    link.extend(form_urlencoded::byte_serialize(relay.as_bytes()));
    link.push_str("&code=");
    link.extend(form_urlencoded::byte_serialize(code.as_bytes()));
    link
}

pub(super) async fn enroll_sent(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<EnrollForm>,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    check_form(&state, &headers, &signed, &form.csrf)?;
    let unit: UnitId = form.unit.trim().parse().map_err(|_| DeskError::NotFound)?;
    let (units, my_unit, warning) = units_in_reach(&state, &signed).await?;
    let Some(target) = units.into_iter().find(|u| u.id == unit) else { return Err(DeskError::NotFound) };
    let hours = state.config.enrollment_valid_hours;
    let code = on_relay(&state, move |relay| relay.create_enrollment(unit, hours)).await?;
    tracing::info!(%unit, staff = %signed.session.staff, "enrollment code made from the desk");
    let link = enrollment_link(&relay_address(&state, &headers), &code.code);
    let qr_svg = match qrcode::QrCode::new(link.as_bytes()) {
        Ok(qr) => qr
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(240, 240)
            .quiet_zone(true)
            .build()
            .replacen("<svg ", "<svg role=\"img\" aria-label=\"Mã QR đăng ký thiết bị\" ", 1),
        Err(e) => {
            tracing::warn!(error = %e, "the enrollment QR code could not be made");
            String::new()
        }
    };
    let page = EnrollmentPage {
        chrome: chrome("Mã đăng ký thiết bị", &signed, my_unit, warning),
        unit: target.name,
        code: code.code,
        expires: local_time(code.expires_at),
        link,
        qr_svg,
    };
    let mut resp = render(StatusCode::OK, &page);
    // A code shown once: never kept by a cache or the browser's history.
    resp.headers_mut().insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_link_carries_the_address_and_code_encoded() {
        assert_eq!(
            enrollment_link("http://10.0.0.5:8080", "KH7QW-3MZPA"),
            "giaoban:enroll?relay=http%3A%2F%2F10.0.0.5%3A8080&code=KH7QW-3MZPA"
        );
    }
}
