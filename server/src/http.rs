//! The relay's HTTP API.
//!
//! - `POST /v1/enroll` (JSON `EnrollRequest` → `Enrolled`): trade a one-time code for a token.
//! - `POST /v1/sync` (binary frames, bearer token): one round trip of the sync protocol.
//! - `GET /v1/events` (server-sent events, bearer token): "changed" when changes the device's unit
//!   may read arrive.
//! - `PUT /v1/files/{hash}?offset=N` (bearer token): bytes of an attached file from offset `N`;
//!   answers what the relay holds (`FileHeld` as JSON). See PROTOCOL.md, "Attached files".
//! - `GET /v1/files/{hash}` (bearer token, `Range: bytes=N-` to resume): an attached file.
//! - `GET /v1/files/{hash}/status` (bearer token): what the relay holds of it.
//! - `GET /healthz`: 200 while the process serves.
//! - `GET /readyz`: 200 when the store answers a read and its schema is current; 503 with a
//!   short reason otherwise.
//! - `GET /metrics` (loopback not through a front, or `Authorization: Bearer <metrics_token>`;
//!   404 for anyone else): the Prometheus text format. See [`crate::metrics`].

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use giaoban_protocol::relay_session;
use giaoban_protocol::wire::{
    self, DeviceMessage, DeviceStatus, EnrollRequest, Epoch, FileHeld, FrameError, RelayMessage, SyncResponse,
};
use giaoban_protocol::{BlobHash, DeviceId, UnitId};
use tokio::sync::watch;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::WatchStream;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

mod file_routes;

pub(crate) use file_routes::{access_of, receive_piece, status_of, stream_file};
use file_routes::{file_status, get_file, put_file};

use crate::config::Config;
use crate::desk::auth::PeerAddr;
use crate::files::{Files, Held};
use crate::metrics::SyncRefusal;
use crate::store::{AuthFailure, DeviceAuth, PullQuery, RelayStore, StoreError, push_prechecked};

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: RelayStore,
    /// Bumped whenever changes are stored, whoever may read them.
    pub live: Arc<watch::Sender<u64>>,
    /// One counter per unit with a device listening, bumped when that unit's log grows: a
    /// device is woken only by changes its unit may read, so the stream tells it nothing about
    /// other units' work.
    unit_live: Arc<UnitLive>,
    /// Settings.
    pub config: Arc<Config>,
    limits: Arc<RateLimits>,
    /// Pieces of files have their own budget: a lane sending many small files must not use up
    /// the document syncs'.
    file_limits: Arc<RateLimits>,
    activity: Arc<Activity>,
    /// Whether a device's witness is checked against the unit's log (always, outside tests
    /// that show what the check prevents).
    check_witnesses: bool,
    /// The office's pages and its staff's stores.
    pub(crate) desk: Arc<crate::desk::Desk>,
    /// Where attached files are kept.
    pub files: Files,
    /// The blocking threads file work may take at once.
    pub(crate) file_io: file_routes::FileIo,
    /// One lock per file being sent: its partial file has one writer at a time.
    file_locks: Arc<FileLocks>,
}

/// The locks of files being sent now.
#[derive(Default)]
struct FileLocks {
    locks: std::sync::Mutex<HashMap<BlobHash, Arc<tokio::sync::Mutex<()>>>>,
}

impl FileLocks {
    async fn lock(&self, hash: BlobHash) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            // Held only to find or add the file's lock; never across an await.
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.retain(|_, l| Arc::strong_count(l) > 1);
            locks.entry(hash).or_default().clone()
        };
        lock.lock_owned().await
    }
}

/// The live-notification counters of the units that have a device listening.
#[derive(Default)]
struct UnitLive {
    units: std::sync::Mutex<HashMap<UnitId, watch::Sender<u64>>>,
}

impl UnitLive {
    /// A receiver that changes whenever `unit`'s log grows.
    fn subscribe(&self, unit: UnitId) -> watch::Receiver<u64> {
        // Held only to find or add the unit's counter; never across an await.
        let mut units = self.units.lock().unwrap_or_else(|p| p.into_inner());
        units.retain(|_, tx| tx.receiver_count() > 0);
        units.entry(unit).or_insert_with(|| watch::channel(0).0).subscribe()
    }

    /// Wakes the devices listening for any of `grown`.
    fn bump(&self, grown: &[UnitId]) {
        let units = self.units.lock().unwrap_or_else(|p| p.into_inner());
        for u in grown {
            if let Some(tx) = units.get(u) {
                tx.send_modify(|v| *v = v.wrapping_add(1));
            }
        }
    }
}

/// Sync requests answered per device since the relay started: who syncs, and how often, as
/// seen here (a device's own count says nothing of it).
#[derive(Default)]
struct Activity {
    syncs: std::sync::Mutex<HashMap<DeviceId, u64>>,
    /// What was last written of each device's sync: when, how far it had applied, and the
    /// status it gave.
    noted: std::sync::Mutex<HashMap<DeviceId, Noted>>,
}

/// What was last written of one device's sync.
type Noted = (Instant, u64, Option<DeviceStatus>);

/// A device's sync is written down when it applied further (or less far) than last written,
/// or this long after the last write: enough for "last sync" on the desk without a write per
/// sync with nothing new.
const NOTE_SYNC_EVERY: Duration = Duration::from_secs(60);

impl Activity {
    /// Whether this sync of `device`, which had applied its log up to `upto` and says `status`
    /// of itself, is worth writing.
    fn worth_noting(&self, device: DeviceId, upto: u64, status: &Option<DeviceStatus>) -> bool {
        let mut noted = self.noted.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match noted.get(&device) {
            Some((at, was, said))
                if *was == upto && said == status && now.duration_since(*at) < NOTE_SYNC_EVERY =>
            {
                false
            }
            _ => {
                noted.insert(device, (now, upto, status.clone()));
                true
            }
        }
    }
}

/// A token bucket per device: `max_syncs_per_minute` requests, refilled continuously. A page
/// of a download that takes the device further than before gives its token back
/// (`relay_session::page_is_free`).
#[derive(Default)]
struct RateLimits {
    buckets: std::sync::Mutex<HashMap<DeviceId, (f64, Instant)>>,
    /// The furthest a paged download has taken each device: (epoch, cursor).
    furthest: std::sync::Mutex<HashMap<DeviceId, (Epoch, u64)>>,
}

impl RateLimits {
    /// Takes one request from `device`'s bucket; `Err(seconds to wait)` when it is empty.
    fn take(&self, device: DeviceId, per_minute: u32) -> Result<(), u64> {
        let capacity = f64::from(per_minute.max(1));
        let per_second = capacity / 60.0;
        let now = Instant::now();
        // Held only for this arithmetic; never across an await.
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            buckets.retain(|_, (_, at)| now.duration_since(*at) < Duration::from_secs(120));
        }
        let (tokens, at) = buckets.entry(device).or_insert((capacity, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_second).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / per_second).ceil() as u64)
        }
    }

    /// Gives `device` back the token its request took if `answer` is a page that takes it
    /// further than before.
    fn after_answer(&self, device: DeviceId, per_minute: u32, answer: &SyncResponse) {
        {
            // Held only for this lookup; never across an await.
            let mut furthest = self.furthest.lock().unwrap_or_else(|p| p.into_inner());
            if !relay_session::page_is_free(answer, furthest.get(&device).copied()) {
                return;
            }
            if furthest.len() > 100_000 {
                furthest.clear();
            }
            furthest.insert(device, (answer.epoch, answer.cursor));
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((tokens, _)) = buckets.get_mut(&device) {
            *tokens = (*tokens + 1.0).min(f64::from(per_minute.max(1)));
        }
    }
}

impl AppState {
    /// State over `store` with `config`.
    pub fn new(store: RelayStore, config: Config) -> Result<AppState, StoreError> {
        let (live, _) = watch::channel(0);
        let data = store.path().parent().unwrap_or(std::path::Path::new(".")).to_path_buf();
        let desk_dir = data.join("desk");
        let files =
            crate::files::open_for(&config, &data, &store.relay_id()?).map_err(StoreError::Invalid)?;
        Ok(AppState {
            files,
            file_io: file_routes::FileIo::new(),
            file_locks: Arc::default(),
            store,
            live: Arc::new(live),
            unit_live: Arc::default(),
            config: Arc::new(config),
            limits: Arc::default(),
            file_limits: Arc::default(),
            activity: Arc::default(),
            check_witnesses: true,
            desk: Arc::new(crate::desk::Desk::new(desk_dir)),
        })
    }

    /// The same state without the desk's stores, for the stores' own round trips (a store
    /// holding the state that holds it would never be dropped).
    pub(crate) fn without_desk(&self) -> AppState {
        let mut s = self.clone();
        s.desk = Arc::new(crate::desk::Desk::new(std::path::PathBuf::new()));
        s
    }

    /// A receiver that changes whenever `unit`'s log grows.
    pub(crate) fn unit_changes(&self, unit: UnitId) -> watch::Receiver<u64> {
        self.unit_live.subscribe(unit)
    }

    /// Sync requests this relay has answered, per device, since it started.
    pub fn syncs_answered(&self) -> HashMap<DeviceId, u64> {
        self.activity.syncs.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Live-notification streams open now.
    pub fn listening(&self) -> usize {
        let units = self.unit_live.units.lock().unwrap_or_else(|p| p.into_inner());
        units.values().map(watch::Sender::receiver_count).sum()
    }

    /// The same state, believing every device's witness: a relay restored from an older backup
    /// then goes unnoticed. Only for tests that show what the check prevents.
    #[cfg(feature = "fault-injection")]
    pub fn without_restore_detection(mut self) -> AppState {
        self.check_witnesses = false;
        self
    }
}

/// The router.
pub fn app(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    let timeout = Duration::from_secs(state.config.request_timeout_secs.max(1));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_page))
        .route("/v1/enroll", post(enroll))
        .route("/v1/sync", post(sync))
        .route("/v1/events", get(events))
        .route("/v1/files/{hash}", put(put_file).get(get_file))
        .route("/v1/files/{hash}/status", get(file_status))
        .merge(crate::desk::routes())
        .layer(DefaultBodyLimit::max(limit))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        // A form with a file of up to `max_file_bytes` has limits of its own.
        .merge(crate::desk::form_routes(state.config.max_file_bytes, timeout))
        .layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Every error the API returns: a status and a sentence saying what to do.
#[derive(Debug)]
pub enum ApiError {
    /// No or malformed bearer token.
    Unauthorized(&'static str),
    /// Revoked device.
    Forbidden(&'static str),
    /// Too many requests from one device; retry after this many seconds.
    TooMany(u64),
    /// The request cannot be read.
    BadRequest(String),
    /// The request carries more than a device sends in one round trip; it may send it again in
    /// smaller pages.
    TooLarge(String),
    /// What was asked for is not here (or not for this device: the same answer).
    NotFound(String),
    /// A file's bytes arrived from another offset than the relay holds; it holds `have`.
    WrongOffset {
        /// What the relay holds.
        held: FileHeld,
    },
    /// The bytes sent do not match the file's hash; nothing of them is kept.
    Mismatch(String),
    /// A unit's files would take more room than the relay gives it.
    NoRoom(String),
    /// The store failed.
    Store(StoreError),
    /// The file folder failed.
    Files(std::io::Error),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Store(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m.to_string()),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m.to_string()),
            ApiError::TooMany(secs) => {
                let body = format!("too many sync requests from this device; retry in {secs} s");
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [
                        (header::RETRY_AFTER, secs.to_string()),
                        (header::CONTENT_TYPE, "text/plain; charset=utf-8".into()),
                    ],
                    body,
                )
                    .into_response();
            }
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ApiError::WrongOffset { held } => {
                return (StatusCode::CONFLICT, axum::Json(held)).into_response();
            }
            ApiError::Mismatch(m) => (StatusCode::UNPROCESSABLE_ENTITY, m),
            ApiError::NoRoom(m) => (StatusCode::INSUFFICIENT_STORAGE, m),
            ApiError::Files(e) => {
                tracing::error!(error = %e, "the folder of attached files failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the relay cannot store or read attached files right now; the file is kept on the device; retry later"
                        .into(),
                )
            }
            ApiError::Store(StoreError::Revoked) => {
                (StatusCode::FORBIDDEN, "this device was revoked by the office".into())
            }
            ApiError::Store(StoreError::Enrollment(m)) => (StatusCode::BAD_REQUEST, m),
            ApiError::Store(StoreError::NotFound(m)) => (StatusCode::NOT_FOUND, m),
            ApiError::Store(StoreError::Invalid(m)) => (StatusCode::BAD_REQUEST, m),
            ApiError::Store(e) if e.is_read_only() => {
                tracing::error!(error = %e, "the relay's database cannot be written; let the relay's user write its data folder");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the relay cannot write its storage right now; nothing was acknowledged and your changes are kept on the device; retry later".into(),
                )
            }
            ApiError::Store(e) if e.is_storage_full() => {
                tracing::error!(error = %e, "relay storage is full; changes refused until space is freed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the relay's storage is full; nothing was acknowledged and your changes are kept on the device; retry later".into(),
                )
            }
            ApiError::Store(
                e @ (StoreError::Commit { .. }
                | StoreError::Closed
                | StoreError::Internal(_)
                | StoreError::Postgres(_)),
            ) => {
                tracing::error!(error = %e, "request not served");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the relay cannot store changes right now; nothing was lost, retry later".into(),
                )
            }
            ApiError::Store(e) => {
                tracing::error!(error = %e, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; the operator can find the cause in the relay log".into(),
                )
            }
        };
        (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
    }
}

async fn blocking<T: Send + 'static>(
    store: &RelayStore,
    f: impl FnOnce(&RelayStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|_| ApiError::Store(StoreError::Closed))?
        .map_err(ApiError::from)
}

async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<DeviceAuth, ApiError> {
    let token = bearer_token(headers)?;
    authenticated(blocking(&state.store, move |s| s.authenticate(&token)).await?)
}

/// The bearer token of a device's request.
fn bearer_token(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized("missing bearer token; enrol the device first"))?;
    Ok(value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 256)
        .ok_or(ApiError::Unauthorized("malformed Authorization header; expected 'Bearer <token>'"))?
        .to_string())
}

/// What a token lookup means for the request.
fn authenticated(found: Result<DeviceAuth, AuthFailure>) -> Result<DeviceAuth, ApiError> {
    match found {
        Ok(auth) => Ok(auth),
        Err(AuthFailure::Unknown) => Err(ApiError::Unauthorized("unknown token; enrol the device again")),
        Err(AuthFailure::Revoked) => Err(ApiError::Forbidden("this device was revoked by the office")),
    }
}

async fn enroll(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let req: EnrollRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!("expected {{\"code\", \"device\", \"label\"}} as JSON: {e}"))
    })?;
    let enrolled = state.store.enroll(&req.code, req.device, &req.label).await?;
    tracing::info!(device = %enrolled.device, unit = %enrolled.unit, "device enrolled");
    Ok(axum::Json(enrolled).into_response())
}

async fn sync(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let m = crate::metrics::get();
    m.sync_received_bytes.increment(body.len() as u64);
    let token = bearer_token(&headers)?;
    // The token, the rate limit, reading the request and checking its push (or, without one,
    // reading the device's page) take one turn of a blocking thread, not one each.
    let turn = state.clone();
    // A blocking task that has not started is not cancelled with its request: one whose
    // request timed out, or whose device hung up, while it waited for a thread must not take
    // the device's rate limit or do the request's work for nobody.
    let abandoned = AbandonedOnDrop::default();
    let gone = abandoned.flag();
    let (auth, first) = tokio::task::spawn_blocking(move || {
        if gone.load(std::sync::atomic::Ordering::Acquire) {
            return Err(ApiError::Store(StoreError::Closed));
        }
        let auth = authenticated(turn.store.authenticate(&token)?)?;
        turn.limits.take(auth.device, turn.config.max_syncs_per_minute).map_err(|secs| {
            m.sync_refused(SyncRefusal::RateLimited);
            ApiError::TooMany(secs)
        })?;
        Ok::<_, ApiError>((auth, first_turn(&turn, auth, &body)?))
    })
    .await
    .map_err(|_| ApiError::Store(StoreError::Closed))??;
    abandoned.disarm();
    let answer = finish_sync(&state, auth, first).await?;
    state.limits.after_answer(auth.device, state.config.max_syncs_per_minute, &answer);
    let resp = wire::encode(&RelayMessage::Sync(answer));
    m.sync_sent_bytes.increment(resp.len() as u64);
    Ok(([(header::CONTENT_TYPE, "application/x-giaoban")], resp).into_response())
}

/// Marks a request as abandoned when its future is dropped before `disarm`: the blocking
/// work queued for it sees the flag and does nothing.
#[derive(Default)]
struct AbandonedOnDrop {
    flag: Arc<std::sync::atomic::AtomicBool>,
    disarmed: bool,
}

impl AbandonedOnDrop {
    fn flag(&self) -> Arc<std::sync::atomic::AtomicBool> {
        self.flag.clone()
    }

    fn disarm(mut self) {
        self.disarmed = true;
    }
}

impl Drop for AbandonedOnDrop {
    fn drop(&mut self) {
        if !self.disarmed {
            self.flag.store(true, std::sync::atomic::Ordering::Release);
        }
    }
}

/// The answer to an authenticated device's sync request: its push checked and stored, then
/// the page it may read. The desk's stores are answered by this too, in process
/// (`desk::stores`), so there is one way into the relay's storage.
pub(crate) async fn answer_sync(
    state: &AppState,
    auth: DeviceAuth,
    body: Bytes,
) -> Result<giaoban_protocol::wire::SyncResponse, ApiError> {
    let turn = state.clone();
    let first = tokio::task::spawn_blocking(move || first_turn(&turn, auth, &body))
        .await
        .map_err(|_| ApiError::Store(StoreError::Closed))??;
    finish_sync(state, auth, first).await
}

/// A sync request read, with its push checked against the writer's copies (so the writer only
/// stores), or, for a request without a push, the device's page read already.
struct FirstTurn {
    req: wire::SyncRequest,
    status: Option<DeviceStatus>,
    pushed: Option<crate::store::Prechecked>,
    read: Option<ReadTurn>,
}

/// What a sync reads for the device once its push is stored.
struct ReadTurn {
    start: relay_session::Start,
    epoch: Epoch,
    wanted_from_have: Vec<giaoban_protocol::DocId>,
    page: relay_session::LogPage,
}

/// Reads a sync request and checks its push; blocking.
fn first_turn(state: &AppState, auth: DeviceAuth, body: &[u8]) -> Result<FirstTurn, ApiError> {
    let m = crate::metrics::get();
    let (msg, status) = wire::decode_with_status(body).map_err(|e| {
        m.sync_refused(SyncRefusal::Unreadable);
        match e {
            FrameError::UnsupportedVersion { .. } => ApiError::BadRequest(e.to_string()),
            e => ApiError::BadRequest(format!("cannot read the sync request: {e}")),
        }
    })?;
    let DeviceMessage::Sync(mut req) = msg;
    relay_session::check_bounds(&req).map_err(|e| {
        m.sync_refused(SyncRefusal::TooLarge);
        ApiError::TooLarge(e)
    })?;
    let push = std::mem::take(&mut req.push);
    if push.is_empty() {
        let read = read_turn(&state.store, auth, &mut req, None, state.check_witnesses)?;
        return Ok(FirstTurn { req, status, pushed: None, read: Some(read) });
    }
    let pre = state.store.writer().prechecker().precheck(auth.device, auth.unit, push);
    Ok(FirstTurn { req, status, pushed: Some(pre), read: None })
}

/// What the device lacks, in one turn of a blocking thread: the epoch and whether the device's
/// witness holds decide where its page starts.
fn read_turn(
    s: &RelayStore,
    DeviceAuth { device, unit }: DeviceAuth,
    req: &mut wire::SyncRequest,
    own_top_before: Option<u64>,
    check_witnesses: bool,
) -> Result<ReadTurn, StoreError> {
    let epoch = s.epoch()?;
    let witness_holds = if check_witnesses { s.witness_holds(unit, req.witness)? } else { true };
    let start = relay_session::start(req, epoch, witness_holds);
    if start.reconcile && !witness_holds {
        tracing::warn!(%device, pos = req.witness.pos, "a device saw history this relay does not hold (restored from an older backup?); it starts over and reconciles");
    }
    let have = std::mem::take(&mut req.have);
    let wanted_from_have = if have.is_empty() { Vec::new() } else { s.wanted(unit, &have)? };
    let query = PullQuery {
        unit,
        device,
        cursor: start.cursor,
        own_held: start.own_held,
        own_top_before,
        page_bytes: relay_session::page_bytes(req.page_bytes),
        whole: req.refetch.iter().copied().take(wire::REFETCH_DOCS).collect(),
    };
    let page = s.pull(&query)?;
    Ok(ReadTurn { start, epoch, wanted_from_have, page })
}

/// Stores a checked push (if the request had one), then reads the device's page and answers.
async fn finish_sync(
    state: &AppState,
    auth: DeviceAuth,
    first: FirstTurn,
) -> Result<giaoban_protocol::wire::SyncResponse, ApiError> {
    let m = crate::metrics::get();
    let FirstTurn { mut req, status, pushed: pre, read } = first;
    let device = auth.device;
    let pushed = pre.is_some();
    let outcome = match pre {
        Some(pre) => state.store.writer().run(move |ctx| push_prechecked(ctx, pre)).await?,
        None => Default::default(),
    };
    // Counted once the batch committed: a refusal stores nothing, an acceptance is durable.
    m.documents_accepted.increment(outcome.acks.len() as u64);
    m.changes_accepted.increment(outcome.stored_changes);
    m.documents_wanted.increment(outcome.wanted.len() as u64);
    for r in &outcome.rejects {
        m.refused(r.code);
    }
    if !outcome.grown.is_empty() {
        state.live.send_modify(|v| *v = v.wrapping_add(1));
        state.unit_live.bump(&outcome.grown);
    }
    let ReadTurn { start, epoch, wanted_from_have, page } = match read {
        Some(read) => read,
        None => {
            let check = state.check_witnesses;
            let own_top_before = Some(outcome.own_top_before);
            blocking(&state.store, move |s| read_turn(s, auth, &mut req, own_top_before, check)).await?
        }
    };
    let pushed_rejects = pushed.then_some(outcome.rejects.len() as u64);
    let pushed = pushed.then_some(relay_session::Pushed {
        acks: outcome.acks,
        rejects: outcome.rejects,
        wanted: outcome.wanted,
        own_top_before: outcome.own_top_before,
    });
    let answer = relay_session::answer(start, epoch, state.store.now().0, pushed, wanted_from_have, page);
    // How far into its log this sync takes the device, for the desk ("delivered", "last
    // sync"): written at a sync's last page (not each page of a download), and when nothing
    // moved at most once a minute. Should the answer be lost on the way, the device's next sync
    // says where it is and that is written instead. Not part of the answer: a failure is only
    // logged. Awaited here rather than spawned, so nothing outlives the request holding the
    // store.
    // What the device said of itself, with the documents of this push the relay refused
    // counted as still unsent.
    let status = status.map(|mut st| {
        if let Some(p) = &pushed_rejects {
            st.unsent_docs = st.unsent_docs.saturating_add(*p);
        }
        st
    });
    if !answer.more
        && state.activity.worth_noting(device, answer.cursor, &status)
        && let Err(e) = state.store.note_device_sync(device, answer.cursor, status).await
    {
        tracing::debug!(%device, error = %e, "a device's last sync was not written");
    }
    *state.activity.syncs.lock().unwrap_or_else(|p| p.into_inner()).entry(device).or_default() += 1;
    Ok(answer)
}

async fn events(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let auth = authenticate(&state, &headers).await?;
    let open = OpenStream::new();
    let stream = WatchStream::new(state.unit_live.subscribe(auth.unit)).map(move |_| {
        let _open = &open;
        Ok::<_, Infallible>(Event::default().event("changed").data(""))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(20))).into_response())
}

/// One live-notification stream, counted in `giaoban_relay_event_streams` until dropped.
struct OpenStream;

impl OpenStream {
    fn new() -> OpenStream {
        crate::metrics::get().event_streams.increment(1.0);
        OpenStream
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        crate::metrics::get().event_streams.decrement(1.0);
    }
}

/// `GET /readyz`: 200 when the store can serve, 503 with the reason otherwise.
async fn readyz(State(state): State<AppState>) -> Response {
    let store = state.store.clone();
    let ready = tokio::task::spawn_blocking(move || store.readiness())
        .await
        .unwrap_or_else(|_| Err("the readiness check failed".into()));
    let text = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    match ready {
        Ok(()) => (StatusCode::OK, text, "ready".to_string()).into_response(),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, text, reason).into_response(),
    }
}

/// `GET /metrics`: the Prometheus text format, for callers [`crate::metrics::may_read`]
/// allows; the same 404 as an unknown path for anyone else.
async fn metrics_page(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !crate::metrics::may_read(&state.config, peer, &headers) {
        return Ok(StatusCode::NOT_FOUND.into_response());
    }
    let sizes = blocking(&state.store, |s| s.sizes()).await?;
    let text = crate::metrics::get().render(sizes);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
}
