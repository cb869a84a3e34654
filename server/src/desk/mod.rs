//! The desk: the office's pages in the browser, served by the relay itself under `/desk`.
//!
//! Staff sign in with an account the operator made (`admin staff add`); the session lives in
//! an HttpOnly, SameSite=Strict cookie, and every form carries a token derived from the
//! session. What a page shows is read from the staff member's own client-core store
//! (`stores.rs`), synced with the relay in this process before each page, so it is what the
//! member's unit may read, by the same rule as a device. Pages are compiled in (askama), with
//! one stylesheet and one small script, also compiled in; nothing is fetched from elsewhere.
//!
//! Invariant: the desk writes only through a staff member's store, whose pushes the relay
//! checks like any device's; there is no other way from here into the relay's storage.
//! Invariant: a device token never opens a page here, and a session never syncs as a device.

mod assignment_page;
pub mod attachments;
pub mod auth;
mod consolidation_page;
pub mod devices_page;
pub mod dispatch_form;
mod dispatch_page;
pub mod draft_files;
mod draft_upload;
mod find;
pub use draft_upload::form_routes;
mod matrix_page;
pub mod meeting_form;
mod meeting_page;
mod printed;
pub mod report_page;
pub mod stores;
pub mod views;

use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use giaoban_client_core::Store;
use giaoban_protocol::DocId;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::WatchStream;

use crate::http::AppState;
use crate::store::{SignIn, StaffSession, StoreError};
use auth::{AddressLimiter, PRE_SESSION_COOKIE, PeerAddr, SESSION_COOKIE};
use dispatch_form::{Action, DispatchFields};
use stores::{DeskStoreError, DeskStores};
use views::{Issued, Matrix, RowFilter};

/// The desk's state inside the relay's.
pub struct Desk {
    pub(crate) stores: DeskStores,
    sign_ins: AddressLimiter,
    /// Desk pages working on staff members' stores at once. Each holds a blocking thread while
    /// its store syncs, and the sync's answer needs blocking threads of its own: bounded well
    /// below the runtime's blocking threads, so many open pages never starve the relay.
    work: std::sync::Arc<tokio::sync::Semaphore>,
    /// Sign-ins whose password is being checked at once (each takes 19 MiB and a blocking
    /// thread for tens of milliseconds); the others wait their turn without a thread.
    checks: std::sync::Arc<tokio::sync::Semaphore>,
    /// Files attached to drafts, until they are issued.
    pub(crate) draft_files: draft_files::DraftFiles,
}

/// Desk pages that work on stores at once; the others wait their turn without a thread.
pub const DESK_WORKERS: usize = 4;

impl Desk {
    /// The desk keeping its staff's stores in `dir`.
    pub fn new(dir: std::path::PathBuf) -> Desk {
        Desk {
            draft_files: draft_files::DraftFiles::new(dir.join("draft-files")),
            stores: DeskStores::new(dir),
            sign_ins: AddressLimiter::default(),
            work: std::sync::Arc::new(tokio::sync::Semaphore::new(DESK_WORKERS)),
            checks: std::sync::Arc::new(tokio::sync::Semaphore::new(crate::store::HASHES_AT_ONCE)),
        }
    }
}

/// The desk's routes but the dispatch form's (`draft_upload::form_routes`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/desk") }))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/desk", get(home))
        .route("/desk/", get(|| async { Redirect::to("/desk") }))
        .route("/desk/sign-in", get(sign_in_page).post(sign_in))
        .route("/desk/sign-out", post(sign_out))
        .route("/desk/dispatch/{id}", get(matrix_page::matrix_page))
        .route("/desk/dispatch/{id}/table", get(matrix_page::matrix_table))
        .route("/desk/dispatch/{id}/remind", post(matrix_page::remind_sent))
        .route("/desk/dispatch/{id}/unit/{unit}", get(assignment_page::assignment_page))
        .route("/desk/dispatch/{id}/task/{ordinal}/figures", get(consolidation_page::consolidation_page))
        .route("/desk/dispatch/{id}/task/{ordinal}/figures.xlsx", get(consolidation_page::consolidation_xlsx))
        .route("/desk/dispatch/{id}/task/{ordinal}/report.docx", get(consolidation_page::consolidated_docx))
        .route("/desk/dispatch/{id}/task/{ordinal}/draft-report", post(consolidation_page::draft_report_sent))
        .route("/desk/dispatch/{id}/document.docx", get(printed::dispatch_docx))
        .route("/desk/report/{id}/document.docx", get(printed::report_docx))
        .route("/desk/find/dispatch", get(find::find_dispatch))
        .route("/desk/find/report", get(find::find_report))
        .route("/desk/report/{id}", get(report_page::report_page))
        .route("/desk/report/{id}/review", post(report_page::review_sent))
        .route("/desk/report/{id}/edit", post(report_page::edit_sent))
        .route("/desk/meetings", get(meeting_page::meetings_page))
        .route(
            "/desk/meeting/new",
            get(meeting_page::meeting_form_page).post(meeting_page::meeting_form_sent),
        )
        .route("/desk/meeting/{id}", get(meeting_page::meeting_page))
        .route(
            "/desk/meeting/{id}/conclusion/{ordinal}/dispatch",
            post(meeting_page::conclusion_dispatch_sent),
        )
        .route("/desk/devices", get(devices_page::devices_page))
        .route("/desk/devices/revoke", post(devices_page::revoke_sent))
        .route("/desk/devices/enroll", post(devices_page::enroll_sent))
        .route("/desk/events", get(events))
        .route(
            "/desk/static/desk.css",
            get(|| async { asset("text/css; charset=utf-8", include_str!("../../static/desk.css")) }),
        )
        .route(
            "/desk/static/desk.js",
            get(|| async { asset("text/javascript; charset=utf-8", include_str!("../../static/desk.js")) }),
        )
        // Pages gzipped for browsers that ask (every one does); live events are never held
        // back by it (tower-http leaves text/event-stream alone).
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
        // Files go as they are: a photo or a spreadsheet does not shrink, and is never held
        // back to be compressed.
        .route("/desk/files/{doc}/{hash}/{name}", get(attachments::download))
}

/// What every page's frame shows.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    /// The page's title.
    pub title: String,
    /// The staff member's unit.
    pub unit: String,
    /// The staff member.
    pub staff: String,
    /// The session's form token.
    pub csrf: String,
    /// Signed in (the sign-out form is shown).
    pub signed_in: bool,
    /// A problem to show above the page ("the store could not sync").
    pub warning: String,
}

#[derive(Template)]
#[template(path = "desk/sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    form_token: String,
    login: String,
    error: String,
}

#[derive(Template)]
#[template(path = "desk/home.html")]
struct HomePage {
    chrome: Chrome,
    issued: Vec<Issued>,
    drafts: Vec<DraftLine>,
    /// Every draft of the member's, of which `drafts` may show only the last saved.
    draft_count: u64,
    query: String,
    /// The member's unit has units below it to address.
    can_issue: bool,
}

/// Drafts the first page lists, the last saved first; the rest are a link away.
const DRAFTS_SHOWN: u32 = 100;

/// A draft on the first page.
struct DraftLine {
    id: String,
    title: String,
    saved: String,
}

#[derive(Template)]
#[template(path = "desk/message.html")]
struct MessagePage {
    chrome: Chrome,
    heading: String,
    text: String,
    link: String,
}

/// Headers every desk page carries: no script or style from elsewhere, never framed, never
/// cached.
fn html(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

fn render(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, "a desk page could not be rendered");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; the operator can find the cause in the relay log",
            )
                .into_response()
        }
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
    resp
}

fn message(status: StatusCode, heading: &str, text: &str, link: &str) -> Response {
    let chrome = Chrome { title: heading.to_string(), ..Chrome::default() };
    render(status, &MessagePage { chrome, heading: heading.into(), text: text.into(), link: link.into() })
}

/// Every failure of a desk page, as a page in Vietnamese.
#[derive(Debug)]
enum DeskError {
    /// Not signed in (or the session ended).
    SignedOut,
    /// A form without this session's token, or sent from another site.
    BadForm,
    /// Not here, or not for this unit: the same answer.
    NotFound,
    /// The relay's storage or the staff member's store failed.
    Store(String),
    /// The member's store could not sync before a write: nothing was written.
    NotSynced,
    /// Written in the member's store, not yet received by the relay.
    NotSent,
    /// The document cannot be laid out as a file (what is wrong, for the log).
    Unprintable(String),
}

impl From<StoreError> for DeskError {
    fn from(e: StoreError) -> Self {
        DeskError::Store(e.to_string())
    }
}

impl From<giaoban_client_core::CoreError> for DeskError {
    fn from(e: giaoban_client_core::CoreError) -> Self {
        DeskError::Store(e.to_string())
    }
}

impl From<DeskStoreError> for DeskError {
    fn from(e: DeskStoreError) -> Self {
        DeskError::Store(e.to_string())
    }
}

impl IntoResponse for DeskError {
    fn into_response(self) -> Response {
        match self {
            DeskError::SignedOut => Redirect::to("/desk/sign-in").into_response(),
            DeskError::BadForm => message(
                StatusCode::FORBIDDEN,
                "Biểu mẫu không hợp lệ",
                "Biểu mẫu này đã hết hạn hoặc không gửi từ trang của Giao Ban. Không có gì được lưu. Hãy mở lại trang và làm lại.",
                "/desk",
            ),
            DeskError::NotFound => message(
                StatusCode::NOT_FOUND,
                "Không tìm thấy",
                "Không có văn bản này, hoặc văn bản không thuộc phạm vi của đơn vị bạn.",
                "/desk",
            ),
            DeskError::NotSynced => message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Chưa ghi được",
                "Bàn làm việc chưa liên lạc được với dữ liệu của máy chủ nên chưa ghi gì. Hãy thử lại sau ít phút; nếu vẫn vậy, báo người quản trị máy chủ.",
                "/desk",
            ),
            DeskError::NotSent => message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Đã ghi, chưa gửi được",
                "Việc vừa làm đã được ghi ở bàn làm việc nhưng máy chủ chưa nhận. Bàn làm việc sẽ gửi lại mỗi lần mở trang; đừng làm lại. Nếu sau ít phút vẫn chưa thấy, báo người quản trị máy chủ.",
                "/desk",
            ),
            DeskError::Unprintable(detail) => {
                tracing::warn!(error = %detail, "a desk download could not be laid out");
                message(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Không tạo được tệp",
                    "Số liệu của văn bản này không đặt vừa một tệp Word hoặc Excel (quá nhiều cột, hoặc có ô quá dài). Dữ liệu không bị ảnh hưởng; hãy xem trên trang, hoặc báo người quản trị máy chủ (chi tiết trong nhật ký của máy chủ).",
                    "/desk",
                )
            }
            DeskError::Store(detail) => {
                tracing::error!(error = %detail, "a desk page could not be served");
                message(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Máy chủ đang gặp sự cố",
                    "Máy chủ không đọc hoặc ghi được dữ liệu lúc này. Không có gì bị mất; hãy thử lại sau ít phút. Nếu vẫn vậy, báo người quản trị máy chủ (chi tiết trong nhật ký của máy chủ).",
                    "/desk",
                )
            }
        }
    }
}

/// Runs a relay store call on a blocking thread: the store never runs on an async worker.
async fn on_relay<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&crate::store::RelayStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, DeskError> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|_| DeskError::Store("the relay is shutting down".into()))?
        .map_err(DeskError::from)
}

/// A signed-in request: the cookie's token and its session.
struct Signed {
    token: String,
    session: StaffSession,
}

async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Signed, DeskError> {
    let token = auth::cookie(headers, SESSION_COOKIE).ok_or(DeskError::SignedOut)?;
    let store = state.store.clone();
    let t = token.clone();
    let session = tokio::task::spawn_blocking(move || store.staff_session(&t))
        .await
        .map_err(|_| DeskError::Store("the relay is shutting down".into()))??
        .ok_or(DeskError::SignedOut)?;
    Ok(Signed { token, session })
}

/// Checks a form of a signed-in page: sent from this relay's pages, with this session's token.
fn check_form(state: &AppState, headers: &HeaderMap, signed: &Signed, token: &str) -> Result<(), DeskError> {
    if auth::same_origin(headers, state.config.public_url.as_deref())
        && auth::tokens_equal(token, &signed.session.csrf)
    {
        Ok(())
    } else {
        Err(DeskError::BadForm)
    }
}

/// Whether a desk page only reads the member's store or writes to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// A failed sync leaves the page to show what the store holds, with a warning.
    Read,
    /// Nothing is written unless the store synced first: a write into a store the relay no
    /// longer answers would be answered as done and never reach anyone.
    Write,
}

/// Runs `f` on the staff member's store after syncing it with the relay, on a blocking
/// thread, at most [`DESK_WORKERS`] at once.
async fn with_store<T: Send + 'static>(
    state: &AppState,
    session: &StaffSession,
    f: impl FnOnce(&mut Store) -> Result<T, DeskError> + Send + 'static,
) -> Result<(T, String, String), DeskError> {
    with_store_for(state, session, Use::Read, f).await
}

async fn with_store_for<T: Send + 'static>(
    state: &AppState,
    session: &StaffSession,
    usage: Use,
    f: impl FnOnce(&mut Store) -> Result<T, DeskError> + Send + 'static,
) -> Result<(T, String, String), DeskError> {
    let permit = state
        .desk
        .work
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| DeskError::Store("the relay is shutting down".into()))?;
    let handle = tokio::runtime::Handle::current();
    let state = state.clone();
    let session = session.clone();
    tokio::task::spawn_blocking(move || -> Result<(T, String, String), DeskError> {
        let _permit = permit;
        let store = state.desk.stores.store_for(&state, &handle, &session)?;
        let warning = match DeskStores::sync(&store) {
            Ok(_) => {
                // Files the store attached go once their records are on the relay: the sync
                // just done carried them.
                if let Err(e) = DeskStores::send_files(&store) {
                    tracing::warn!(error = %e, "a desk store's files could not be sent; they go with a later page");
                }
                String::new()
            }
            Err(e) if usage == Use::Write => {
                tracing::warn!(error = %e, "a desk store could not sync; nothing written");
                return Err(DeskError::NotSynced);
            }
            Err(e) => {
                tracing::warn!(error = %e, "a desk store could not sync; its page shows what it holds");
                "Chưa cập nhật được dữ liệu mới nhất từ máy chủ; trang này có thể chưa đủ. Hãy tải lại sau ít phút."
                    .to_string()
            }
        };
        let mut s = store.lock().unwrap_or_else(|p| p.into_inner());
        let unit = views::unit_names(&mut s).remove(&session.unit).unwrap_or_default();
        let value = f(&mut s)?;
        Ok((value, unit, warning))
    })
    .await
    .map_err(|_| DeskError::Store("the relay is shutting down".into()))?
}

/// Sends a member's store's new changes now (after a desk write). A desk write is answered as
/// done only once the relay has it; otherwise the page says it waits on the desk.
async fn push_now(state: &AppState, session: &StaffSession) -> Result<(), DeskError> {
    match with_store_for(state, session, Use::Write, |_| Ok(())).await {
        Ok(_) => Ok(()),
        Err(DeskError::NotSynced) => Err(DeskError::NotSent),
        Err(e) => Err(e),
    }
}

fn chrome(title: &str, signed: &Signed, unit: String, warning: String) -> Chrome {
    Chrome {
        title: title.to_string(),
        unit,
        staff: signed.session.name.clone(),
        csrf: signed.session.csrf.clone(),
        signed_in: true,
        warning,
    }
}

#[derive(serde::Deserialize, Default)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    /// `all`: every draft, not only the 100 saved last.
    #[serde(default)]
    drafts: Option<String>,
}

async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<SearchQuery>,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    let q = giaoban_vietnamese_text::clean_input(&query.q);
    let q_for_store = q.clone();
    let own_unit = signed.session.unit;
    let ((issued, can_issue), unit, warning) = with_store(&state, &signed.session, move |s| {
        // A unit with nothing below it (a ward's own staff) has nobody to send a dispatch to.
        let can_issue = s.child_units(own_unit).is_ok_and(|c| c.iter().any(|u| u.valid_to.is_none()));
        Ok((views::issued(s, &q_for_store)?, can_issue))
    })
    .await?;
    let staff = signed.session.staff;
    let limit = if query.drafts.as_deref() == Some("all") { None } else { Some(DRAFTS_SHOWN) };
    let (drafts, draft_count) =
        on_relay(&state, move |relay| Ok((relay.drafts_up_to(staff, limit)?, relay.draft_count(staff)?)))
            .await?;
    let drafts = drafts
        .into_iter()
        .map(|d| DraftLine { id: hex::encode(d.id), title: d.title, saved: local_time(d.saved_at) })
        .collect();
    let page = HomePage {
        chrome: chrome("Văn bản đã ban hành", &signed, unit, warning),
        issued,
        drafts,
        draft_count,
        query: q,
        can_issue,
    };
    Ok(render(StatusCode::OK, &page))
}

/// Told whenever the staff member's unit receives changes: the open matrix fetches its table
/// again. Each event carries data: a browser does not dispatch an event whose data is empty.
async fn events(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Response> {
    let signed = signed_in(&state, &headers)
        .await
        .map_err(|_| (StatusCode::UNAUTHORIZED, "signed out").into_response())?;
    // The session is checked again at each change: once it has ended (signed out, the account
    // disabled), the stream ends.
    let (store, token) = (state.store.clone(), signed.token.clone());
    let stream = WatchStream::new(state.unit_changes(signed.session.unit))
        .then(move |_| {
            let (store, token) = (store.clone(), token.clone());
            async move {
                tokio::task::spawn_blocking(move || store.staff_session(&token))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .flatten()
                    .is_some()
            }
        })
        .take_while(|current| *current)
        .map(|_| Ok::<_, std::convert::Infallible>(Event::default().event("changed").data("1")));
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(20))).into_response())
}

async fn sign_in_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if signed_in(&state, &headers).await.is_ok() {
        return Redirect::to("/desk").into_response();
    }
    sign_in_form(&state, &headers, StatusCode::OK, String::new(), String::new())
}

fn sign_in_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    login: String,
    error: String,
) -> Response {
    let pre = auth::cookie(headers, PRE_SESSION_COOKIE).unwrap_or_else(auth::new_token);
    let page = SignInPage {
        chrome: Chrome { title: "Đăng nhập".into(), ..Chrome::default() },
        form_token: auth::pre_session_form_token(&pre),
        login,
        error,
    };
    let mut resp = render(status, &page);
    resp.headers_mut().append(
        header::SET_COOKIE,
        auth::set_cookie(PRE_SESSION_COOKIE, &pre, 3600, state.config.desk_secure_cookie),
    );
    resp
}

#[derive(serde::Deserialize)]
struct SignInForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// How long a wrong password's answer is held back: half a second per failure in a row, at
/// most three seconds.
fn slowdown(failures: i64) -> Duration {
    Duration::from_millis(500u64.saturating_mul(failures.clamp(1, 6) as u64))
}

/// A relay time as the desk says it, in Asia/Ho_Chi_Minh (UTC+7 all year): "14:05 ngày 02/12/2026".
fn local_time(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms.saturating_add(7 * 3600 * 1000)) {
        Some(t) => t.format("%H:%M ngày %d/%m/%Y").to_string(),
        None => String::new(),
    }
}

async fn sign_in(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let pre = auth::cookie(&headers, PRE_SESSION_COOKIE);
    let form_ok = auth::same_origin(&headers, state.config.public_url.as_deref())
        && pre.as_deref().is_some_and(|p| auth::tokens_equal(&form.csrf, &auth::pre_session_form_token(p)));
    if !form_ok {
        return sign_in_form(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            String::new(),
            "Trang đăng nhập đã hết hạn. Hãy nhập lại tên đăng nhập và mật khẩu.".into(),
        );
    }
    let login = giaoban_vietnamese_text::clean_input(&form.login);
    let peer = auth::client_address(&headers, peer, state.config.trust_forwarded_for);
    if let Err(wait) = state.desk.sign_ins.attempt(peer) {
        tracing::warn!(address = ?peer, "too many sign-in attempts from one address");
        return sign_in_form(
            &state,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            login,
            format!("Có quá nhiều lần đăng nhập từ máy này. Hãy thử lại sau {} phút.", wait.div_ceil(60)),
        );
    }
    if form.password.len() > 1024 {
        return sign_in_form(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            login,
            "Mật khẩu dài quá 1.024 ký tự.".into(),
        );
    }
    if login.is_empty() || form.password.is_empty() {
        return sign_in_form(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            login,
            "Hãy nhập tên đăng nhập và mật khẩu.".into(),
        );
    }
    let store = state.store.clone();
    let (l, p) = (login.clone(), form.password);
    let known = auth::cookie(&headers, auth::KNOWN_BROWSER_COOKIE);
    let Ok(permit) = state.desk.checks.clone().acquire_owned().await else {
        return DeskError::Store("the relay is shutting down".into()).into_response();
    };
    let outcome = match tokio::task::spawn_blocking(move || {
        let _permit = permit;
        store.sign_in_from(&l, &p, known.as_deref())
    })
    .await
    {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return DeskError::from(e).into_response(),
        Err(_) => return DeskError::Store("the relay is shutting down".into()).into_response(),
    };
    let secure = state.config.desk_secure_cookie;
    match outcome {
        SignIn::Ok { token, staff, known } => {
            tracing::info!(%staff, "staff signed in to the desk");
            let mut resp = Redirect::to("/desk").into_response();
            let max_age = crate::store::SESSION_MAX_MS / 1000;
            resp.headers_mut()
                .append(header::SET_COOKIE, auth::set_cookie(SESSION_COOKIE, &token, max_age, secure));
            resp.headers_mut().append(header::SET_COOKIE, auth::clear_cookie(PRE_SESSION_COOKIE, secure));
            resp.headers_mut().append(
                header::SET_COOKIE,
                auth::set_cookie(auth::KNOWN_BROWSER_COOKIE, &known, auth::KNOWN_BROWSER_SECS, secure),
            );
            resp
        }
        SignIn::Wrong { failures } => {
            tokio::time::sleep(slowdown(failures)).await;
            sign_in_form(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                login,
                "Tên đăng nhập hoặc mật khẩu không đúng.".into(),
            )
        }
        SignIn::Locked { until } => {
            tracing::warn!(login = %crate::store::normalise_login(&login), "a staff account is locked after wrong passwords");
            sign_in_form(
                &state,
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                login,
                format!(
                    "Tài khoản tạm khóa đến {} vì nhập sai mật khẩu nhiều lần. Hãy chờ đến lúc đó, hoặc nhờ người quản trị đặt lại mật khẩu.",
                    local_time(until)
                ),
            )
        }
        SignIn::Disabled => sign_in_form(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            login,
            "Tài khoản này đã bị người quản trị khóa.".into(),
        ),
    }
}

#[derive(serde::Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    check_form(&state, &headers, &signed, &form.csrf)?;
    let token = signed.token.clone();
    on_relay(&state, move |relay| relay.sign_out(&token)).await?;
    let mut resp = Redirect::to("/desk/sign-in").into_response();
    resp.headers_mut()
        .append(header::SET_COOKIE, auth::clear_cookie(SESSION_COOKIE, state.config.desk_secure_cookie));
    Ok(resp)
}
