//! The background sync loop: syncs when woken (a local edit, a live notification from the
//! relay) and at least every minute, backs off with jitter while offline, and reports a status
//! a UI can show. The store lock is never held during network I/O.
//!
//! Status callbacks run on the library's sync thread, not the caller's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use giaoban_protocol::wire::{self, DEFAULT_PUSH_BYTES, DeviceMessage, RelayMessage};
use giaoban_protocol::{BlobHash, DocId, Timestamp};

use super::{RelayClient, SyncProblem, SyncReport};
use crate::Store;
use crate::domain::FileState;
use crate::error::{CoreError, Result};
use crate::store::prepare::PREPARE_BATCH;

/// What the sync loop is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncState {
    /// Not enrolled with a relay yet.
    NotEnrolled,
    /// Syncing; `round_trips` done so far in this sync.
    Syncing {
        /// Round trips completed.
        round_trips: u32,
    },
    /// Everything new is stored; `left` documents that came are still being read into the
    /// lists and search (a first download of many).
    Preparing {
        /// Documents still to prepare.
        left: u64,
    },
    /// Everything is on the relay and everything from it is here.
    UpToDate,
    /// The relay cannot be reached; will retry.
    Offline {
        /// Why.
        message: String,
    },
    /// The relay refused this device or the request; needs a person.
    Error {
        /// Why.
        message: String,
    },
}

/// The status a UI shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    /// What the loop is doing.
    pub state: SyncState,
    /// Documents with changes not yet on the relay.
    pub pending: u64,
    /// When a sync last completed.
    pub last_success: Option<Timestamp>,
    /// Documents from the relay this device could not apply or cannot show yet, each with a
    /// sentence the app can show.
    pub problems: Vec<SyncProblem>,
}

type Listener = Arc<dyn Fn(&SyncStatus) + Send + Sync>;
type ChangeListener = Arc<dyn Fn(&[DocId]) + Send + Sync>;
type FileListener = Arc<dyn Fn(BlobHash, &FileState) + Send + Sync>;

struct Shared {
    stop: AtomicBool,
    wake: Mutex<bool>,
    signal: Condvar,
    /// Wakes the lane of attached files (after a sync, an attach, an open).
    files_wake: Mutex<bool>,
    files_signal: Condvar,
    status: Mutex<SyncStatus>,
    listener: Listener,
    on_changes: ChangeListener,
    on_file: FileListener,
}

/// A running background sync: documents on one thread, attached files on another, so a
/// document never waits behind a file. Dropping it (or [`SyncHandle::stop`]) stops both.
pub struct SyncHandle {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    files_thread: Option<JoinHandle<()>>,
}

fn lock(store: &Mutex<Store>) -> MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|p| p.into_inner())
}

/// Access to a store for the sync loop: the loop takes it only around store work, never
/// across network I/O.
pub(crate) trait StoreAccess {
    fn with<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R;
}

impl StoreAccess for Mutex<Store> {
    fn with<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        f(&mut lock(self))
    }
}

impl StoreAccess for std::cell::RefCell<&mut Store> {
    fn with<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        f(&mut self.borrow_mut())
    }
}

/// A request frame above this size that fails on the way makes the next sync's pages smaller.
const LARGE_FRAME: usize = 64 * 1024;

/// One full sync with the store lock taken only around store work. `cancel` is checked before
/// every round trip: once set, the sync stops with [`CoreError::Cancelled`], every round trip
/// already answered having been applied whole.
///
/// Documents new to this device are stored as they come and read into the lists afterwards
/// (`store/prepare.rs`); this returns once every one is, unless cancelled.
/// `progress` is told each round trip done and, after them, how many documents are left to
/// prepare.
pub fn sync_shared(
    store: &Mutex<Store>,
    progress: &dyn Fn(SyncState),
    cancel: &AtomicBool,
) -> Result<SyncReport> {
    run_sync(store, progress, cancel, &|| true)
}

/// The sync loop behind `sync_now`, `sync_shared` and the background loop. Syncs of one store
/// never overlap: a second waits for the first.
///
/// Once the pages are stored, documents waiting to be prepared are prepared a batch per turn
/// of the store lock while `prepare_more()` says so.
pub(crate) fn run_sync<A: StoreAccess>(
    store: &A,
    progress: &dyn Fn(SyncState),
    cancel: &AtomicBool,
    prepare_more: &dyn Fn() -> bool,
) -> Result<SyncReport> {
    let (report, result) = run_sync_reporting(store, progress, cancel, prepare_more);
    result.map(|()| report)
}

/// [`run_sync`], with what it changed even when it failed (documents prepared offline, pages
/// applied before the link dropped).
fn run_sync_reporting<A: StoreAccess>(
    store: &A,
    progress: &dyn Fn(SyncState),
    cancel: &AtomicBool,
    prepare_more: &dyn Fn() -> bool,
) -> (SyncReport, Result<()>) {
    let mut report = SyncReport::default();
    let gate = store.with(|s| s.sync_gate());
    let _one_at_a_time = gate.lock().unwrap_or_else(|p| p.into_inner());
    if cancel.load(Ordering::SeqCst) {
        return (report, Err(CoreError::Cancelled));
    }
    let exchanged = exchange(store, progress, cancel, &mut report);
    if matches!(exchanged, Err(CoreError::Cancelled)) {
        return (report, exchanged);
    }
    // Whether the sync finished or not (offline, cut off, refused), what its answers and
    // earlier ones stored goes into the lists, newest first: a phone that went out of reach
    // midway still shows what it got.
    let prepared = (|| -> Result<()> {
        loop {
            let left = store.with(|s| s.documents_to_prepare())?;
            if left == 0 || cancel.load(Ordering::SeqCst) || !prepare_more() {
                return Ok(());
            }
            progress(SyncState::Preparing { left });
            for id in store.with(|s| s.prepare_waiting(PREPARE_BATCH))? {
                report.note_changed(id);
            }
        }
    })();
    // Documents read on demand meanwhile (opened, edited, a unit tree looked up).
    for id in store.with(|s| s.take_prepared_on_demand()) {
        report.note_changed(id);
    }
    let result = exchanged.and(prepared);
    (report, result)
}

/// The round trips of one sync, and what a good one leaves for later.
fn exchange<A: StoreAccess>(
    store: &A,
    progress: &dyn Fn(SyncState),
    cancel: &AtomicBool,
    report: &mut SyncReport,
) -> Result<()> {
    let (client, mut session, unsent_files) = store
        .with(|s| -> Result<_> { Ok((s.relay_client()?, s.sync_session()?, s.unsent_files_count()?)) })?;
    loop {
        if cancel.load(Ordering::SeqCst) {
            return Err(CoreError::Cancelled);
        }
        let (frame, sent, sent_at, pushed) = store.with(|s| -> Result<_> {
            let (req, sent) = s.prepare_sync(&session)?;
            let pushed = req.push.len();
            let status = s.device_status(pushed, unsent_files)?;
            Ok((wire::encode_with_status(&DeviceMessage::Sync(req), &status), sent, s.now(), pushed))
        })?;
        report.bytes_sent += frame.len() as u64;
        let frame_len = frame.len();
        // The relay may store the push of a round trip abandoned here; the next sync pushes it
        // again, harmlessly.
        let body = match round_trip(&client, frame, cancel) {
            Ok(body) => body,
            Err(CoreError::TooLarge(why)) => {
                // Smaller pages, kept for later syncs too, until syncs succeed again.
                if !session.shrink() {
                    return Err(CoreError::Protocol(format!(
                        "the relay refuses even the smallest request as too large ({why}); the office should raise its max_body_bytes"
                    )));
                }
                let budget = session.push_budget;
                store.with(|s| s.meta_set("push_budget", &budget.to_le_bytes()))?;
                tracing::info!(budget, "the relay found a request too large; pushing smaller pages");
                continue;
            }
            Err(e @ CoreError::Network { .. }) if frame_len > LARGE_FRAME => {
                // A link or proxy that keeps cutting large uploads short would otherwise fail
                // the same way every time: the next sync sends smaller pages.
                if session.shrink() {
                    let budget = session.push_budget;
                    store.with(|s| s.meta_set("push_budget", &budget.to_le_bytes()))?;
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        report.pushed += pushed;
        report.bytes_received += body.len() as u64;
        report.round_trips += 1;
        let RelayMessage::Sync(resp) = wire::decode(&body)
            .map_err(|e| CoreError::Protocol(format!("cannot read the relay's answer: {e}")))?;
        let again = store.with(|s| s.apply_sync_response(&mut session, resp, &sent, sent_at, report))?;
        progress(SyncState::Syncing { round_trips: report.round_trips });
        if !again || report.round_trips >= super::MAX_ROUND_TRIPS {
            break;
        }
    }
    // Compactions keystrokes left for later, of reports nobody is typing in, one document per
    // turn of the lock.
    while store.with(|s| s.compact_one_waiting(Duration::from_secs(20)))? {}
    store.with(|s| -> Result<()> {
        s.meta_set("last_sync_ok", &s.now().0.to_le_bytes())?;
        // After a good sync, pages grow back towards the default.
        if session.push_budget < DEFAULT_PUSH_BYTES {
            let grown = session.push_budget.saturating_mul(2);
            if grown >= DEFAULT_PUSH_BYTES {
                s.meta_delete("push_budget")
            } else {
                s.meta_set("push_budget", &grown.to_le_bytes())
            }
        } else {
            Ok(())
        }
    })
}

/// One HTTP round trip that the caller can abandon: the request runs on its own thread and
/// this waits for it, checking `cancel` every 20 ms. An abandoned request's thread ends when
/// the relay answers or the client's timeout passes; it holds no lock and its answer is dropped.
fn round_trip(client: &RelayClient, frame: Vec<u8>, cancel: &AtomicBool) -> Result<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let c = client.clone();
    std::thread::Builder::new()
        .name("giaoban-http".into())
        .spawn(move || {
            // A send fails only when the sync was abandoned: nobody wants the answer.
            let _abandoned = tx.send(c.sync(&frame));
        })
        .map_err(|e| CoreError::Network {
            message: format!("cannot start a request: {e}"),
            retryable: true,
        })?;
    loop {
        if cancel.load(Ordering::SeqCst) {
            return Err(CoreError::Cancelled);
        }
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(answer) => return answer,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(CoreError::Network {
                    message: "the request thread stopped".into(),
                    retryable: true,
                });
            }
        }
    }
}

impl SyncHandle {
    /// Starts syncing `store` in the background. `on_status` is called on the sync thread
    /// whenever the status changes.
    pub fn start(
        store: Arc<Mutex<Store>>,
        on_status: impl Fn(&SyncStatus) + Send + Sync + 'static,
    ) -> SyncHandle {
        SyncHandle::start_observed(store, on_status, |_| {})
    }

    /// Like [`SyncHandle::start`], and `on_changes` is called on the sync thread with the
    /// documents each sync changed (edits from other devices), after they are durable here.
    pub fn start_observed(
        store: Arc<Mutex<Store>>,
        on_status: impl Fn(&SyncStatus) + Send + Sync + 'static,
        on_changes: impl Fn(&[DocId]) + Send + Sync + 'static,
    ) -> SyncHandle {
        SyncHandle::start_with_files(store, on_status, on_changes, |_, _| {})
    }

    /// Like [`SyncHandle::start_observed`], and `on_file` is called on the files thread each
    /// time an attached file's transfer moves (bytes sent or fetched, here at last, refused).
    pub fn start_with_files(
        store: Arc<Mutex<Store>>,
        on_status: impl Fn(&SyncStatus) + Send + Sync + 'static,
        on_changes: impl Fn(&[DocId]) + Send + Sync + 'static,
        on_file: impl Fn(BlobHash, &FileState) + Send + Sync + 'static,
    ) -> SyncHandle {
        let (state, pending, last_success, problems) = match counts(&store) {
            Ok((pending, last, problems, _)) => {
                (SyncState::Syncing { round_trips: 0 }, pending, last, problems)
            }
            Err(e) => (SyncState::Error { message: e.to_string() }, 0, None, Vec::new()),
        };
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            wake: Mutex::new(true),
            signal: Condvar::new(),
            files_wake: Mutex::new(false),
            files_signal: Condvar::new(),
            status: Mutex::new(SyncStatus { state, pending, last_success, problems }),
            listener: Arc::new(on_status),
            on_changes: Arc::new(on_changes),
            on_file: Arc::new(on_file),
        });
        let (s3, files_store) = (shared.clone(), store.clone());
        let files_thread = std::thread::Builder::new()
            .name("giaoban-files".into())
            .spawn(move || run_files_loop(files_store, s3))
            .inspect_err(|e| tracing::error!(error = %e, "cannot start the lane of attached files"))
            .ok();
        let s2 = shared.clone();
        let thread =
            match std::thread::Builder::new().name("giaoban-sync".into()).spawn(move || run(store, s2)) {
                Ok(t) => Some(t),
                Err(e) => {
                    // No loop will run: the status says so instead of claiming to sync.
                    let message =
                        format!("cannot start background sync ({e}); sync now by hand and restart the app");
                    tracing::error!(%message);
                    set_status(&shared, |s| s.state = SyncState::Error { message });
                    None
                }
            };
        SyncHandle { shared, thread, files_thread }
    }

    /// Asks for a sync as soon as possible (after a local edit, say).
    pub fn sync_soon(&self) {
        wake(&self.shared);
    }

    /// Asks the lane of attached files to run as soon as possible (after attaching or opening
    /// a file).
    pub fn files_soon(&self) {
        wake_files(&self.shared);
    }

    /// The current status.
    pub fn status(&self) -> SyncStatus {
        self.shared.status.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stops the loop and waits for the current round trip to finish.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        wake(&self.shared);
        wake_files(&self.shared);
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::warn!("the sync thread panicked");
        }
        if let Some(t) = self.files_thread.take()
            && t.join().is_err()
        {
            tracing::warn!("the files thread panicked");
        }
    }
}

impl Drop for SyncHandle {
    fn drop(&mut self) {
        self.halt();
    }
}

fn wake(shared: &Shared) {
    *shared.wake.lock().unwrap_or_else(|p| p.into_inner()) = true;
    shared.signal.notify_all();
}

fn wake_files(shared: &Shared) {
    *shared.files_wake.lock().unwrap_or_else(|p| p.into_inner()) = true;
    shared.files_signal.notify_all();
}

/// Waits until the files lane is woken or `timeout`; returns false when stopping.
fn wait_files(shared: &Shared, timeout: Duration) -> bool {
    let guard = shared.files_wake.lock().unwrap_or_else(|p| p.into_inner());
    let (mut woken, _) = shared
        .files_signal
        .wait_timeout_while(guard, timeout, |w| !*w && !shared.stop.load(Ordering::SeqCst))
        .unwrap_or_else(|p| p.into_inner());
    *woken = false;
    !shared.stop.load(Ordering::SeqCst)
}

/// The lane of attached files: runs when a sync succeeded, a file was attached or opened, and
/// every few minutes while files wait; removes files no record needs about once an hour.
fn run_files_loop(store: Arc<Mutex<Store>>, shared: Arc<Shared>) {
    let mut backoff = Duration::from_secs(2);
    let mut last_collect: Option<std::time::Instant> = None;
    // Wait for the first sync to enrol and bring documents.
    if !wait_files(&shared, Duration::from_secs(60)) {
        return;
    }
    while !shared.stop.load(Ordering::SeqCst) {
        if last_collect.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
            match lock(&store).collect_files(crate::domain::FILE_GRACE) {
                Ok(n) if n > 0 => tracing::info!(removed = n, "attached files no record needs removed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not remove attached files no record needs"),
            }
            last_collect = Some(std::time::Instant::now());
        }
        let on_file = shared.on_file.clone();
        let result = super::files::run_files(&*store, &|h, s| on_file(h, s), &shared.stop);
        let next = match result {
            Ok(r) => {
                backoff = Duration::from_secs(2);
                if r.waiting > 0 { Duration::from_secs(120) } else { Duration::from_secs(600) }
            }
            Err(CoreError::Cancelled) => return,
            Err(CoreError::NotEnrolled) => Duration::from_secs(3600),
            Err(e) => {
                tracing::debug!(error = %e, "attached files wait for the link");
                let w = jitter(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(300));
                w
            }
        };
        if !wait_files(&shared, next) {
            return;
        }
    }
}

fn set_status(shared: &Shared, f: impl FnOnce(&mut SyncStatus)) {
    let snapshot = {
        let mut st = shared.status.lock().unwrap_or_else(|p| p.into_inner());
        let before = st.clone();
        f(&mut st);
        if *st == before {
            return;
        }
        st.clone()
    };
    (shared.listener)(&snapshot);
}

/// Waits until woken or `timeout`; returns false when stopping.
fn wait(shared: &Shared, timeout: Duration) -> bool {
    let guard = shared.wake.lock().unwrap_or_else(|p| p.into_inner());
    let (mut woken, _) = shared
        .signal
        .wait_timeout_while(guard, timeout, |w| !*w && !shared.stop.load(Ordering::SeqCst))
        .unwrap_or_else(|p| p.into_inner());
    *woken = false;
    !shared.stop.load(Ordering::SeqCst)
}

fn jitter(d: Duration) -> Duration {
    let factor = 0.5 + rand::random::<f64>();
    Duration::from_secs_f64(d.as_secs_f64() * factor)
}

/// What the status shows besides the state: pending documents, the last good sync, problems.
fn counts(store: &Mutex<Store>) -> Result<(u64, Option<Timestamp>, Vec<SyncProblem>, u64)> {
    let s = lock(store);
    Ok((s.pending_changes_count()?, s.last_sync()?, s.sync_problems()?, s.documents_to_prepare()?))
}

fn run(store: Arc<Mutex<Store>>, shared: Arc<Shared>) {
    let mut backoff = Duration::from_secs(1);
    let mut listener_started = false;
    while !shared.stop.load(Ordering::SeqCst) {
        set_status(&shared, |s| s.state = SyncState::Syncing { round_trips: 0 });
        let progress = |state: SyncState| set_status(&shared, |s| s.state = state);
        // Stopping the loop also stops a sync between round trips. Preparing what a download
        // stored gives way to the next sync as soon as one is wanted (an edit, news).
        // A wish for a sync from now on is one this sync may not cover.
        *shared.wake.lock().unwrap_or_else(|p| p.into_inner()) = false;
        let wanted = || *shared.wake.lock().unwrap_or_else(|p| p.into_inner());
        let (report, result) = run_sync_reporting(&*store, &progress, &shared.stop, &|| !wanted());
        if !report.changed.is_empty() {
            (shared.on_changes)(&report.changed);
        }
        let (pending, last, problems, waiting) = match counts(&store) {
            Ok(c) => c,
            Err(e) => {
                set_status(&shared, |s| s.state = SyncState::Error { message: e.to_string() });
                let wait_for = jitter(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(300));
                if !wait(&shared, wait_for) {
                    break;
                }
                continue;
            }
        };
        let next_wait = match result {
            Ok(_) => {
                backoff = Duration::from_secs(1);
                // Records referring to new files are on the relay, or new ones arrived here.
                wake_files(&shared);
                set_status(&shared, |s| {
                    // Given way to a sync asked for meanwhile: the next turn carries on.
                    s.state = if waiting > 0 {
                        SyncState::Preparing { left: waiting }
                    } else {
                        SyncState::UpToDate
                    };
                    s.pending = pending;
                    s.last_success = last;
                    s.problems = problems;
                });
                if !listener_started {
                    listener_started = start_listener(&store, &shared);
                }
                Duration::from_secs(60)
            }
            Err(CoreError::Cancelled) => break,
            Err(CoreError::NotEnrolled) => {
                set_status(&shared, |s| s.state = SyncState::NotEnrolled);
                Duration::from_secs(3600)
            }
            Err(e @ CoreError::Network { .. }) => {
                set_status(&shared, |s| {
                    s.state = SyncState::Offline { message: e.to_string() };
                    s.pending = pending;
                });
                let wait_for = jitter(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(300));
                wait_for
            }
            Err(e) => {
                set_status(&shared, |s| {
                    s.state = SyncState::Error { message: e.to_string() };
                    s.pending = pending;
                });
                let wait_for = jitter(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(300));
                wait_for
            }
        };
        if !wait(&shared, next_wait) {
            break;
        }
    }
}

/// Listens for the relay's live notifications on a detached thread, waking the loop on each.
/// The thread ends at the first notification after the loop stopped.
fn start_listener(store: &Mutex<Store>, shared: &Arc<Shared>) -> bool {
    let Ok(Some((url, token))) = lock(store).relay() else { return false };
    let shared = Arc::downgrade(shared);
    std::thread::Builder::new()
        .name("giaoban-live".into())
        .spawn(move || {
            let client = RelayClient::new(&url).with_token(&token);
            let mut backoff = Duration::from_secs(1);
            loop {
                let result = client.listen(|changed| match shared.upgrade() {
                    Some(s) if !s.stop.load(Ordering::SeqCst) => {
                        if changed {
                            wake(&s);
                        }
                        true
                    }
                    _ => false,
                });
                match shared.upgrade() {
                    Some(s) if !s.stop.load(Ordering::SeqCst) => {}
                    _ => return,
                }
                if let Err(e) = result {
                    tracing::debug!(error = %e, "live notifications interrupted");
                }
                std::thread::sleep(jitter(backoff));
                backoff = (backoff * 2).min(Duration::from_secs(120));
            }
        })
        .is_ok()
}
