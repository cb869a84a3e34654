//! `GiaoBanStore`: one device store, its sync, and its listeners, as the app sees them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use giaoban_client_core as core;
use giaoban_client_core::{Store, SyncHandle};

use crate::error::{GiaoBanError, Result};
use crate::listeners::{
    DocumentChangeListener, FileTransferListener, Registry, Subscription, SyncStatusListener, Unsubscribe,
};
use crate::runtime::{detach, off_thread, off_thread_blocking};
use crate::types::*;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What every handle to one store shares.
struct Shared {
    store: Arc<Mutex<Store>>,
    device: String,
    unit: Mutex<Option<String>>,
    /// Serialises this binding's own syncs (`sync_now`), so two never race on the cursor.
    sync_gate: Mutex<()>,
    status: Mutex<SyncStatus>,
    delivering: Mutex<()>,
    next_listener: AtomicU64,
    status_listeners: Mutex<Registry<dyn SyncStatusListener>>,
    change_listeners: Mutex<Registry<dyn DocumentChangeListener>>,
    file_listeners: Mutex<Registry<dyn FileTransferListener>>,
    background: Mutex<Option<SyncHandle>>,
}

impl Shared {
    fn publish_status(&self, next: SyncStatus) {
        // Held while listeners run, so that statuses from the background loop and from
        // `sync_now` reach every listener in the order they were set.
        let _in_order = lock(&self.delivering);
        {
            let mut st = lock(&self.status);
            if *st == next {
                return;
            }
            *st = next.clone();
        }
        for l in lock(&self.status_listeners).snapshot() {
            l.on_status(next.clone());
        }
    }

    fn set_phase(&self, phase: SyncPhase) {
        let mut next = lock(&self.status).clone();
        next.phase = phase;
        self.publish_status(next);
    }

    fn publish_changes(&self, ids: &[core::protocol::DocId]) {
        if ids.is_empty() {
            return;
        }
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        for l in lock(&self.change_listeners).snapshot() {
            l.on_documents_changed(ids.clone());
        }
    }

    fn publish_file(&self, hash: core::protocol::BlobHash, state: &core::FileState) {
        let (hash, transfer) = (hash.to_hex(), FileTransfer::from(state));
        for l in lock(&self.file_listeners).snapshot() {
            l.on_transfer(hash.clone(), transfer.clone());
        }
    }

    /// Tells the background file transfers, if running, that a file waits.
    fn files_waiting(&self) {
        if let Some(h) = lock(&self.background).as_ref() {
            h.files_soon();
        }
    }

    /// Tells the background loop, if running, that there is something to push.
    fn edited(&self) {
        if let Some(h) = lock(&self.background).as_ref() {
            h.sync_soon();
        }
    }

    /// Pending documents, the last good sync and the problem sentences, for the status.
    fn counts(&self) -> core::Result<(u64, Option<i64>, Vec<String>)> {
        let s = lock(&self.store);
        Ok((
            s.pending_changes_count()?,
            s.last_sync()?.map(|t| t.0),
            s.sync_problems()?.iter().map(core::SyncProblem::sentence).collect(),
        ))
    }
}

impl Unsubscribe for Shared {
    fn unsubscribe(&self, id: u64) {
        lock(&self.status_listeners).remove(id);
        lock(&self.change_listeners).remove(id);
        lock(&self.file_listeners).remove(id);
    }
}

/// A device's store of directives, tasks, reports and reviews, in one SQLite file.
///
/// Every method that reads or writes runs on the library's own threads: async methods are
/// Kotlin `suspend` functions and Swift `async` functions and never block the caller's thread;
/// cancelling the caller's coroutine or task cancels the work. One store object per file.
#[derive(uniffi::Object)]
pub struct GiaoBanStore {
    shared: Arc<Shared>,
}

impl GiaoBanStore {
    async fn with_store<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> core::Result<T> + Send + 'static,
    {
        let shared = self.shared.clone();
        off_thread(move |flag| {
            let mut store = lock(&shared.store);
            if flag.is_set() {
                return Err(GiaoBanError::internal("cancelled before it started"));
            }
            work(&mut store).map_err(GiaoBanError::from)
        })
        .await
    }

    /// Attaches what `attach` reads to `target`, and says where the file is.
    async fn attach<F>(&self, target: AttachmentTarget, attach: F) -> Result<AttachmentItem>
    where
        F: FnOnce(&mut Store, core::AttachTo) -> core::Result<core::protocol::schema::Attachment>
            + Send
            + 'static,
    {
        let task = match &target {
            AttachmentTarget::Task { ordinal, .. } => Some(*ordinal),
            _ => None,
        };
        let to = target.into_core()?;
        let view = self
            .edit(move |s| {
                let a = attach(s, to)?;
                let state = s.file_state(a.hash)?;
                Ok(core::AttachmentView { attachment: a, task, state })
            })
            .await?;
        Ok(AttachmentItem::from(view))
    }

    async fn edit<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> core::Result<T> + Send + 'static,
    {
        let out = self.with_store(work).await?;
        self.shared.edited();
        Ok(out)
    }
}

#[uniffi::export]
impl GiaoBanStore {
    /// Opens (creating if needed) the store file at `path`. Fast (about a millisecond); the
    /// file is opened on a library thread while this call waits.
    #[uniffi::constructor]
    pub fn open(path: String) -> Result<Arc<GiaoBanStore>> {
        let path = giaoban_vietnamese_text::nfc(path.trim());
        if path.is_empty() {
            return Err(GiaoBanError::invalid("path", "give the path of the store file"));
        }
        let store = off_thread_blocking(move || Store::open(&path).map_err(GiaoBanError::from))?;
        let device = store.device_id().to_string();
        let unit = store.unit().map(|u| u.to_string());
        let pending = store.pending_changes_count().map_err(GiaoBanError::from)?;
        let last = store.last_sync().map_err(GiaoBanError::from)?.map(|t| t.0);
        let problems: Vec<String> = store
            .sync_problems()
            .map_err(GiaoBanError::from)?
            .iter()
            .map(core::SyncProblem::sentence)
            .collect();
        let phase = if unit.is_some() { SyncPhase::Idle } else { SyncPhase::NotEnrolled };
        Ok(Arc::new(GiaoBanStore {
            shared: Arc::new(Shared {
                store: Arc::new(Mutex::new(store)),
                device,
                unit: Mutex::new(unit),
                sync_gate: Mutex::new(()),
                status: Mutex::new(SyncStatus { phase, pending, last_success_ms: last, problems }),
                delivering: Mutex::new(()),
                next_listener: AtomicU64::new(1),
                status_listeners: Mutex::new(Registry::default()),
                change_listeners: Mutex::new(Registry::default()),
                file_listeners: Mutex::new(Registry::default()),
                background: Mutex::new(None),
            }),
        }))
    }

    /// This device's id (what the office sees in its device list).
    pub fn device_id(&self) -> String {
        self.shared.device.clone()
    }

    /// The unit this device writes for, once enrolled.
    pub fn unit_id(&self) -> Option<String> {
        lock(&self.shared.unit).clone()
    }

    /// Tells the store the app's name and version ("Giao Ban Android 1.4.2"). Each sync
    /// passes it to the relay with what this device has left to send, so the office's list
    /// of devices shows what each phone runs. Call it once after opening.
    pub async fn set_app_version(&self, version: String) -> Result<()> {
        self.with_store(move |s| {
            s.set_app_version(&version);
            Ok(())
        })
        .await
    }

    /// Enrolls this device with the relay at `relay_url` using the office's one-time `code`.
    pub async fn enroll(&self, relay_url: String, code: String, label: String) -> Result<Enrollment> {
        let url = relay_url.trim().to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(GiaoBanError::invalid(
                "relay_url",
                format!("'{url}' is not an http:// or https:// address"),
            ));
        }
        let code = code.trim().to_string();
        if code.is_empty() {
            return Err(GiaoBanError::invalid("code", "type the enrolment code the office gave you"));
        }
        let label = giaoban_vietnamese_text::clean_input(&label);
        let enrolled = self.with_store(move |s| s.enroll(&url, &code, &label)).await?;
        *lock(&self.shared.unit) = Some(enrolled.unit.to_string());
        self.shared.set_phase(SyncPhase::Idle);
        Ok(Enrollment { device: enrolled.device.to_string(), unit: enrolled.unit.to_string() })
    }

    // ---- directives and tasks ----

    /// Issues a directive to its recipients. Returns its id.
    pub async fn issue_directive(&self, input: DirectiveInput) -> Result<String> {
        let input = input.into_core()?;
        self.edit(move |s| s.issue_directive(input)).await.map(|id| id.to_string())
    }

    /// A directive with its tasks.
    pub async fn directive(&self, id: String) -> Result<DirectiveDetail> {
        let id = doc_id("id", &id)?;
        self.with_store(move |s| s.directive(id)).await.map(DirectiveDetail::from)
    }

    /// Tasks matching `query`, soonest deadline first, computed without loading documents.
    pub async fn list_tasks(&self, query: TaskQuery) -> Result<Vec<TaskItem>> {
        let filter = query.to_core()?;
        self.with_store(move |s| s.list_tasks(&filter))
            .await
            .map(|v| v.into_iter().map(TaskItem::from).collect())
    }

    /// One task of `source` for `assignee` (this device's unit when empty).
    pub async fn task(&self, source: String, ordinal: u64, assignee: Option<String>) -> Result<TaskItem> {
        let source_id = doc_id("source", &source)?;
        let assignee = assignee.as_deref().map(|a| unit_id("assignee", a)).transpose()?;
        self.with_store(move |s| {
            let unit = match assignee {
                Some(u) => u,
                None => s.unit().ok_or(core::CoreError::NotEnrolled)?,
            };
            let filter = core::TaskFilter {
                scope: core::TaskScope::Unit(unit),
                source: Some(source_id),
                ..Default::default()
            };
            s.list_tasks(&filter)?.into_iter().find(|t| t.ordinal == ordinal).ok_or_else(|| {
                core::CoreError::NotFound {
                    what: "task",
                    id: format!("{ordinal} of {source_id} for unit {unit}"),
                }
            })
        })
        .await
        .map(TaskItem::from)
    }

    /// What happened to the tasks `source` gave `unit` (this device's unit when empty), step
    /// by step with times, oldest first: issued, reminded, acknowledged, in progress, each
    /// submission, not applicable, accepted, returned.
    pub async fn assignment_history(
        &self,
        source: String,
        unit: Option<String>,
    ) -> Result<Vec<AssignmentEvent>> {
        let source = doc_id("source", &source)?;
        let unit = unit.as_deref().map(|u| unit_id("unit", u)).transpose()?;
        self.with_store(move |s| {
            let unit = match unit {
                Some(u) => u,
                None => s.unit().ok_or(core::CoreError::NotEnrolled)?,
            };
            s.assignment_history(source, unit)
        })
        .await
        .map(|v| v.into_iter().map(AssignmentEvent::from).collect())
    }

    /// The consolidation (tổng hợp) of task `ordinal` of `source`, a dispatch this device's
    /// unit issued: its units' figures summed per indicator, counting accepted reports only
    /// or all submitted (never returned ones), with the units not counted and why.
    pub async fn consolidation(
        &self,
        source: String,
        ordinal: u64,
        accepted_only: bool,
    ) -> Result<ConsolidationView> {
        let source = doc_id("source", &source)?;
        let counting =
            if accepted_only { core::Counting::AcceptedOnly } else { core::Counting::AllSubmitted };
        self.with_store(move |s| s.consolidation(source, ordinal, counting))
            .await
            .map(ConsolidationView::from)
    }

    /// Drafts this unit's own consolidated report on that task from its consolidation (totals
    /// as figures, the units' words, due by the dispatch's consolidation step). Returns its id;
    /// it is a draft to edit and submit as any report.
    pub async fn draft_consolidated_report(
        &self,
        source: String,
        ordinal: u64,
        accepted_only: bool,
    ) -> Result<String> {
        let source = doc_id("source", &source)?;
        let counting =
            if accepted_only { core::Counting::AcceptedOnly } else { core::Counting::AllSubmitted };
        self.edit(move |s| s.draft_consolidated_report(source, ordinal, counting))
            .await
            .map(|id| id.to_string())
    }

    /// Takes on a task for this device's unit.
    pub async fn acknowledge_task(&self, source: String, ordinal: u64) -> Result<()> {
        let source = doc_id("source", &source)?;
        self.edit(move |s| s.acknowledge_task(source, ordinal)).await
    }

    /// Marks a task in progress with working notes.
    pub async fn update_task_progress(&self, source: String, ordinal: u64, note: String) -> Result<()> {
        let source = doc_id("source", &source)?;
        self.edit(move |s| s.update_task_progress(source, ordinal, &note)).await
    }

    /// Marks a task as not applicable to this unit, saying why.
    pub async fn mark_task_not_applicable(&self, source: String, ordinal: u64, reason: String) -> Result<()> {
        let source = doc_id("source", &source)?;
        self.edit(move |s| s.mark_task_not_applicable(source, ordinal, &reason)).await
    }

    // ---- reports ----

    /// Writes a new draft report. Returns its id.
    pub async fn create_report(&self, input: ReportInput) -> Result<String> {
        let input = input.into_core()?;
        self.edit(move |s| s.create_report(input)).await.map(|id| id.to_string())
    }

    /// A report with its sections and figures.
    pub async fn report(&self, id: String) -> Result<ReportDetail> {
        let id = doc_id("id", &id)?;
        self.with_store(move |s| s.report(id)).await.map(ReportDetail::from)
    }

    /// Adds an empty section at the end.
    pub async fn add_report_section(&self, id: String, key: String, heading: String) -> Result<()> {
        let id = doc_id("id", &id)?;
        self.edit(move |s| s.add_report_section(id, &key, &heading)).await
    }

    /// Replaces a section's words (merged with concurrent edits by character).
    pub async fn set_report_section_text(&self, id: String, key: String, text: String) -> Result<()> {
        let id = doc_id("id", &id)?;
        self.edit(move |s| s.set_report_section_text(id, &key, &text)).await
    }

    /// Edits a section as an editor reports keystrokes: delete `delete` characters at `at`
    /// (counted in characters), then insert `insert` there. Returns where the caret belongs
    /// afterwards, in characters of the new text: just after what was inserted. Decomposed
    /// keystrokes join the letter before them ("o" then U+0302 is the one character "ô"), so
    /// this can be less than `at` plus the characters sent; move the caret there.
    pub async fn splice_report_section(
        &self,
        id: String,
        key: String,
        at: u32,
        delete: u32,
        insert: String,
    ) -> Result<u32> {
        let id = doc_id("id", &id)?;
        let cursor = self
            .edit(move |s| s.splice_report_section(id, &key, at as usize, delete as usize, &insert))
            .await?;
        u32::try_from(cursor).map_err(|_| {
            GiaoBanError::internal(format!("the caret position {cursor} does not fit in 32 bits"))
        })
    }

    /// Sets a figure from what the cadre typed ("gần 850 triệu").
    pub async fn set_report_figure(&self, id: String, figure: FigureEntry) -> Result<()> {
        let id = doc_id("id", &id)?;
        self.edit(move |s| s.set_report_figure(id, figure.into())).await
    }

    /// Submits the report and marks the task it answers as submitted.
    pub async fn submit_report(&self, id: String) -> Result<()> {
        let id = doc_id("id", &id)?;
        self.edit(move |s| s.submit_report(id)).await
    }

    /// Submits the report as `person` gives their name ("Nguyễn Thị Hoa, Phó Chủ tịch"), which
    /// the report keeps and the office sees.
    pub async fn submit_report_by(&self, id: String, person: String) -> Result<()> {
        let id = doc_id("id", &id)?;
        self.edit(move |s| s.submit_report_by(id, &person)).await
    }

    /// Accepts or returns a report addressed to this unit. Returning needs a note.
    pub async fn review_report(
        &self,
        report: String,
        verdict: ReviewVerdict,
        note: String,
    ) -> Result<String> {
        let report = doc_id("report", &report)?;
        self.edit(move |s| s.review_report(report, verdict.into(), &note)).await.map(|id| id.to_string())
    }

    // ---- attached files ----

    /// Attaches the file at `path` (read on a library thread, streamed, never whole in
    /// memory). The file is copied into the store's folder, so the app may delete its own
    /// copy afterwards. Attaching the same file twice to one document gives the first
    /// attachment back. Files over 25 MB are refused: downscale photos first (see the README).
    pub async fn attach_file(
        &self,
        target: AttachmentTarget,
        path: String,
        input: AttachmentInput,
    ) -> Result<AttachmentItem> {
        self.attach(target, move |s, to| s.attach_file(to, std::path::Path::new(&path), input.into())).await
    }

    /// Attaches `bytes` (a photo the app already holds in memory). See `attach_file`.
    pub async fn attach_bytes(
        &self,
        target: AttachmentTarget,
        bytes: Vec<u8>,
        input: AttachmentInput,
    ) -> Result<AttachmentItem> {
        self.attach(target, move |s, to| s.attach_bytes(to, &bytes, input.into())).await
    }

    /// Removes an attachment (the file stays while another document refers to it).
    pub async fn remove_attachment(&self, target: AttachmentTarget, hash: String) -> Result<()> {
        let to = target.into_core()?;
        let hash = file_hash("hash", &hash)?;
        self.edit(move |s| s.remove_attachment(to, hash)).await
    }

    /// The attachments of a report, or of a dispatch and its tasks, with how far each file's
    /// transfer got.
    pub async fn attachments(&self, id: String) -> Result<Vec<AttachmentItem>> {
        let id = doc_id("id", &id)?;
        self.with_store(move |s| s.attachments(id))
            .await
            .map(|v| v.into_iter().map(AttachmentItem::from).collect())
    }

    /// Opens an attached file: its path when it is here; otherwise it is fetched first on the
    /// next transfer (background sync starts one at once).
    pub async fn open_attachment(&self, hash: String) -> Result<OpenedFile> {
        let hash = file_hash("hash", &hash)?;
        let opened = self.with_store(move |s| s.open_attachment(hash)).await?;
        if matches!(opened, core::Opened::Fetching(_)) {
            self.shared.files_waiting();
        }
        Ok(OpenedFile::from(opened))
    }

    /// Stops wanting a file opened while not here; what was fetched is kept for later.
    pub async fn cancel_fetch(&self, hash: String) -> Result<()> {
        let hash = file_hash("hash", &hash)?;
        self.with_store(move |s| s.cancel_fetch(hash)).await
    }

    /// Files up to this many bytes are fetched as soon as a document refers to them; larger
    /// ones when opened. 0: only when opened. Default 512 KB.
    pub async fn set_prefetch_limit(&self, bytes: u64) -> Result<()> {
        self.with_store(move |s| s.set_prefetch_limit(bytes)).await
    }

    /// Sends this unit's attached files the relay lacks and fetches opened (and small) ones,
    /// each from where it stopped. File listeners see every step. Cancelling the caller stops
    /// it between pieces; what the relay took is kept.
    pub async fn sync_files(&self) -> Result<FilesSummary> {
        let shared = self.shared.clone();
        off_thread(move |flag| {
            let tell = |hash, state: &core::FileState| shared.publish_file(hash, state);
            core::sync_files_shared(&shared.store, &tell, flag.as_atomic())
                .map(FilesSummary::from)
                .map_err(GiaoBanError::from)
        })
        .await
    }

    /// Calls `listener` on a library thread each time an attached file's transfer moves.
    pub fn add_file_listener(&self, listener: Arc<dyn FileTransferListener>) -> Arc<Subscription> {
        let id = self.shared.next_listener.fetch_add(1, Ordering::SeqCst);
        lock(&self.shared.file_listeners).add(id, listener);
        let weak: Weak<dyn Unsubscribe> = Arc::downgrade(&self.shared) as Weak<dyn Unsubscribe>;
        Subscription::new(weak, id)
    }

    // ---- search and status ----

    /// Documents containing every word of `query`, diacritics optional ("muoi" finds "Muối").
    pub async fn search(&self, query: String, limit: u32) -> Result<Vec<SearchResult>> {
        self.with_store(move |s| s.search(&query, limit as usize))
            .await
            .map(|v| v.into_iter().map(SearchResult::from).collect())
    }

    /// Where a document stands with the relay.
    pub async fn delivery(&self, id: String) -> Result<Delivery> {
        let id = doc_id("id", &id)?;
        self.with_store(move |s| s.delivery_state(id)).await.map(Delivery::from)
    }

    // ---- sync ----

    /// Syncs now: pushes every local change the relay lacks and brings everything new, in as
    /// few round trips as it takes. Status listeners see it go to "up to date" (or offline).
    /// Cancelling the caller stops it before its next round trip.
    pub async fn sync_now(&self) -> Result<SyncSummary> {
        let shared = self.shared.clone();
        off_thread(move |flag| {
            let _one_at_a_time = lock(&shared.sync_gate);
            shared.set_phase(SyncPhase::Syncing { round_trips: 0 });
            let progress = |state: core::SyncState| shared.set_phase(SyncPhase::from(&state));
            let result = core::sync_shared(&shared.store, &progress, flag.as_atomic());
            let counts = shared.counts();
            let mut phase = match &result {
                Ok(_) => SyncPhase::UpToDate,
                Err(core::CoreError::NotEnrolled) => SyncPhase::NotEnrolled,
                Err(core::CoreError::Cancelled) => SyncPhase::Idle,
                Err(e @ core::CoreError::Network { .. }) => SyncPhase::Offline { message: e.to_string() },
                Err(e) => SyncPhase::Failed { message: e.to_string() },
            };
            let (pending, last, problems) = match counts {
                Ok(c) => c,
                Err(e) => {
                    phase = SyncPhase::Failed { message: e.to_string() };
                    (0, None, Vec::new())
                }
            };
            shared.publish_status(SyncStatus { phase, pending, last_success_ms: last, problems });
            let report = result?;
            shared.publish_changes(&report.changed);
            Ok(SyncSummary::from(report))
        })
        .await
    }

    /// Starts syncing in the background: at once, after every local edit, when the relay
    /// announces changes, and every minute otherwise, backing off while offline. Does nothing
    /// if already running.
    pub fn start_background_sync(&self) {
        let mut bg = lock(&self.shared.background);
        if bg.is_some() {
            return;
        }
        let for_status: Weak<Shared> = Arc::downgrade(&self.shared);
        let for_changes = for_status.clone();
        let for_files = for_status.clone();
        *bg = Some(SyncHandle::start_with_files(
            self.shared.store.clone(),
            move |st| {
                if let Some(s) = for_status.upgrade() {
                    s.publish_status(SyncStatus::from(st));
                }
            },
            move |ids| {
                if let Some(s) = for_changes.upgrade() {
                    s.publish_changes(ids);
                }
            },
            move |hash, state| {
                if let Some(s) = for_files.upgrade() {
                    s.publish_file(hash, state);
                }
            },
        ));
    }

    /// Stops background sync; returns once the current round trip (if any) has finished.
    pub async fn stop_background_sync(&self) -> Result<()> {
        let handle = lock(&self.shared.background).take();
        if let Some(h) = handle {
            off_thread(move |_| {
                h.stop();
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    /// The current sync status.
    pub fn sync_status(&self) -> SyncStatus {
        lock(&self.shared.status).clone()
    }

    /// Calls `listener` on a library thread whenever the sync status changes (read the current
    /// one with `sync_status`). Keep the subscription: dropping or cancelling it unsubscribes.
    pub fn add_sync_status_listener(&self, listener: Arc<dyn SyncStatusListener>) -> Arc<Subscription> {
        let id = self.shared.next_listener.fetch_add(1, Ordering::SeqCst);
        lock(&self.shared.status_listeners).add(id, listener);
        let weak: Weak<dyn Unsubscribe> = Arc::downgrade(&self.shared) as Weak<dyn Unsubscribe>;
        Subscription::new(weak, id)
    }

    /// Calls `listener` on a library thread with the ids of documents that other devices'
    /// edits changed, once those changes are durable here.
    pub fn add_change_listener(&self, listener: Arc<dyn DocumentChangeListener>) -> Arc<Subscription> {
        let id = self.shared.next_listener.fetch_add(1, Ordering::SeqCst);
        lock(&self.shared.change_listeners).add(id, listener);
        let weak: Weak<dyn Unsubscribe> = Arc::downgrade(&self.shared) as Weak<dyn Unsubscribe>;
        Subscription::new(weak, id)
    }
}

impl Drop for GiaoBanStore {
    fn drop(&mut self) {
        // Stopping joins the sync thread; do it on a library thread, not the caller's.
        if let Some(h) = lock(&self.shared.background).take() {
            detach(move || h.stop());
        }
    }
}

/// The units of a province's Front committees from the national reference data (after the
/// 2025 reform): the provincial committee first, then its communes and wards in Vietnamese
/// order. Ids match the relay's. `province` may omit diacritics ("Dong Nai").
#[uniffi::export]
pub fn province_units(province: String) -> Result<Vec<UnitInfo>> {
    let dir = core::unit_directory_from_reference(&province)
        .map_err(|e| GiaoBanError::InvalidInput { field: "province".into(), reason: e.reason })?;
    let mut units = dir.units;
    let collator = giaoban_vietnamese_text::collator();
    units[1..].sort_by(|a, b| collator.compare(&a.short_name, &b.short_name));
    Ok(units
        .into_iter()
        .map(|u| UnitInfo {
            id: u.id.to_string(),
            name: u.name,
            short_name: u.short_name,
            parent: u.parent.map(|p| p.to_string()),
            people: u.people.into_iter().map(Into::into).collect(),
        })
        .collect())
}

/// Formats whole VND the Vietnamese way: 6400000000 → "6.400.000.000 đ".
#[uniffi::export]
pub fn format_vnd(amount: i64) -> String {
    giaoban_vietnamese_text::format_vnd(amount)
}
