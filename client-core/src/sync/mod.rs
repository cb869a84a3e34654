//! Sync with the relay: enrollment, one-call `sync_now`, and a background loop, over one sync
//! loop driven by the sans-IO [`DeviceSession`].
//!
//! Each round trip pushes one page of unacknowledged changes, lists one page of the documents
//! it holds while reconciling, asks again for documents that could not be applied, and brings
//! one page of the unit's log. The answer is applied as one transaction: every change, every
//! acknowledgement, the new position and the relay's clock, or none of them.

mod background;
mod files;
mod http;
mod position;

use automerge::ChangeHash;
use giaoban_protocol::Timestamp;
use giaoban_protocol::session::{DeviceSession, Effect, HavePage, PushPage, Sent};
use giaoban_protocol::wire::{
    DeviceStatus, DocChanges, DocHeads, DocReject, Enrolled, REFETCH_DOCS, RejectCode, SyncRequest,
    SyncResponse,
};
use giaoban_protocol::{DocId, UnitId};
use rusqlite::{OptionalExtension, params};

pub use background::{SyncHandle, SyncState, SyncStatus, sync_shared};
pub use files::{FilesReport, sync_files_shared};
pub use http::{InProcessExchange, InProcessFiles, RelayClient};

use crate::Store;
use crate::error::{CoreError, Result};
use crate::store::heads;

/// Where a document stands with the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryState {
    /// It has changes only this device holds.
    OnlyOnDevice,
    /// The relay holds every change of it.
    OnRelay,
    /// The relay refused it; the local edits are kept.
    Rejected {
        /// Why.
        reason: String,
    },
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Round trips made.
    pub round_trips: u32,
    /// Documents pushed.
    pub pushed: usize,
    /// Documents the relay stored.
    pub acked: usize,
    /// Documents the relay refused.
    pub rejected: Vec<DocReject>,
    /// Documents that received changes.
    pub received: usize,
    /// The documents whose content changed through this sync (from other devices), each once.
    pub changed: Vec<DocId>,
    /// Reports in which this device marked sections as edited on two devices at once; the
    /// mark is its own change, sent in the same sync.
    pub flagged: usize,
    /// Request bytes sent (frames).
    pub bytes_sent: u64,
    /// Response bytes received (frames).
    pub bytes_received: u64,
    /// The ids in `changed`, so a download of many documents adds each in constant time.
    changed_set: std::collections::HashSet<DocId>,
}

impl SyncReport {
    pub(crate) fn note_changed(&mut self, id: DocId) {
        if self.changed_set.insert(id) {
            self.changed.push(id);
        }
    }
}

/// A document from the relay that this device could not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncProblem {
    /// The document.
    pub doc: DocId,
    /// Where it stands.
    pub kind: SyncProblemKind,
    /// What went wrong, for the log and for support.
    pub reason: String,
}

/// Where a document that could not be applied stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncProblemKind {
    /// The next sync asks the relay for it whole.
    Retrying,
    /// Asked for whole several times, still not applicable: it needs a person.
    GaveUp,
    /// Written by a newer version of the app: kept on the device, shown once the app is updated.
    NewerApp,
}

impl SyncProblem {
    /// A sentence an app can show.
    pub fn sentence(&self) -> String {
        match self.kind {
            SyncProblemKind::Retrying => format!(
                "document {} from the relay could not be saved on this device yet; the next sync fetches it again",
                self.doc
            ),
            SyncProblemKind::GaveUp => format!(
                "document {} from the relay cannot be saved on this device ({}); nothing else is affected; tell the office so they can check it",
                self.doc, self.reason
            ),
            SyncProblemKind::NewerApp => format!(
                "document {} was written by a newer version of the app; it is kept on this device and shown once the app is updated",
                self.doc
            ),
        }
    }
}

/// How many times a document is fetched whole before it is shown as a problem.
const MAX_ATTEMPTS: i64 = 3;

const MAX_ROUND_TRIPS: u32 = 100_000;

/// Errors that concern the store as a whole: an answer that meets one is not applied at all.
fn is_storage(e: &CoreError) -> bool {
    matches!(e, CoreError::Storage(_) | CoreError::DamagedStore { .. })
}

impl Store {
    pub(crate) fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| r.get::<_, Vec<u8>>(0))
            .optional()?)
    }

    pub(crate) fn meta_set(&self, key: &str, value: &[u8]) -> Result<()> {
        self.conn().execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    pub(crate) fn meta_delete(&self, key: &str) -> Result<()> {
        self.conn().execute("DELETE FROM meta WHERE key = ?1", params![key])?;
        Ok(())
    }

    /// The relay this device is enrolled with, and its token.
    pub fn relay(&self) -> Result<Option<(String, String)>> {
        let text = |b: Vec<u8>, what: &str| {
            String::from_utf8(b)
                .map_err(|_| CoreError::DamagedStore { detail: format!("the stored {what} is not text") })
        };
        let url = self.meta_get("relay_url")?.map(|b| text(b, "relay address")).transpose()?;
        let token = self.meta_get("relay_token")?.map(|b| text(b, "relay token")).transpose()?;
        Ok(url.zip(token))
    }

    /// Enrolls this device with the relay at `relay_url` using the office's one-time `code`.
    pub fn enroll(&mut self, relay_url: &str, code: &str, label: &str) -> Result<Enrolled> {
        let client = RelayClient::new(relay_url);
        let enrolled = client.enroll(code, self.device_id(), label)?;
        if enrolled.device != self.device_id() {
            return Err(CoreError::Protocol("the relay enrolled another device id".into()));
        }
        self.write(|s| {
            s.set_unit(enrolled.unit)?;
            s.meta_set("relay_url", relay_url.trim_end_matches('/').as_bytes())?;
            s.meta_set("relay_token", enrolled.token.as_bytes())
        })?;
        Ok(enrolled)
    }

    /// Makes this store a member of `unit` whose syncs are answered in this process by
    /// `exchange` (the relay's desk, for one staff member): no address, no token. Called each
    /// time the store is opened; the device id must already be registered with the relay.
    pub fn join_in_process(
        &mut self,
        unit: UnitId,
        exchange: std::sync::Arc<http::InProcessExchange>,
    ) -> Result<()> {
        self.write(|s| {
            s.set_unit(unit)?;
            s.meta_set("relay_url", http::IN_PROCESS.as_bytes())?;
            s.meta_set("relay_token", http::IN_PROCESS.as_bytes())
        })?;
        self.relay_client = Some(RelayClient::in_process(exchange));
        Ok(())
    }

    /// Sends this in-process store's attached files through `files` (after
    /// [`Store::join_in_process`]), by the same lane as a device's (`sync_files`). Such a store
    /// fetches no file.
    pub fn send_files_in_process(&mut self, files: std::sync::Arc<dyn http::InProcessFiles>) -> Result<()> {
        self.set_prefetch_limit(0)?;
        if let Some(c) = self.relay_client.take() {
            self.relay_client = Some(c.with_files_in_process(files));
        }
        Ok(())
    }

    /// The client for the relay this device is enrolled with. The same client (and so the same
    /// pooled connection, while the relay keeps it open) serves every round trip of a sync and
    /// the syncs after it; enrolling anew or a new token gives a new one.
    pub(crate) fn relay_client(&mut self) -> Result<RelayClient> {
        let (url, token) = self.relay()?.ok_or(CoreError::NotEnrolled)?;
        match &self.relay_client {
            Some(c) if c.is_for(&url, &token) => Ok(c.clone()),
            _ => {
                let c = RelayClient::new(&url).with_token(&token);
                self.relay_client = Some(c.clone());
                Ok(c)
            }
        }
    }

    /// The saved sync position, as a session for the next sync.
    pub fn sync_session(&self) -> Result<DeviceSession> {
        let mut session = DeviceSession::new(self.load_position()?);
        if let Some(b) = self.meta_get("push_budget")?
            && let Ok(b) = <[u8; 4]>::try_from(b.as_slice())
        {
            session.push_budget = u32::from_le_bytes(b).max(giaoban_protocol::session::MIN_PUSH_BYTES);
        }
        Ok(session)
    }

    /// The relay's clock as this device last saw it, carried forward by the device's clock.
    /// Deadlines are judged by it, so a device whose clock is wrong still judges them right.
    pub fn relay_now(&self) -> Result<Timestamp> {
        let offset = match self.meta_get("relay_clock_offset")? {
            Some(b) => i64::from_le_bytes(<[u8; 8]>::try_from(b.as_slice()).map_err(|_| {
                CoreError::DamagedStore { detail: "the stored relay clock offset is damaged".into() }
            })?),
            None => 0,
        };
        Ok(Timestamp(self.now().0.saturating_add(offset)))
    }

    /// Sets the app's name and version ("Giao Ban Android 1.4.2"), which each sync tells the
    /// relay so the office's list of devices shows what each one runs. Kept while the store is
    /// open: an app sets it once after opening.
    pub fn set_app_version(&mut self, version: &str) {
        let clean = giaoban_vietnamese_text::clean_input(version);
        self.app_version = clean.chars().take(giaoban_protocol::wire::STATUS_TEXT_MAX).collect();
    }

    /// What this device tells the relay about itself with a request that pushes `pushed`
    /// documents: its app, its library and what it still has to send after them.
    /// `unsent_files` is [`Store::unsent_files_count`], counted once per sync by the caller.
    pub fn device_status(&self, pushed: usize, unsent_files: u64) -> Result<DeviceStatus> {
        Ok(DeviceStatus {
            app_version: self.app_version.clone(),
            core_version: env!("CARGO_PKG_VERSION").to_string(),
            unsent_docs: self.pending_changes_count()?.saturating_sub(pushed as u64),
            unsent_files,
        })
    }

    /// Builds the next request: one page of pushes, one page of the reconcile listing, and
    /// the documents to fetch whole.
    pub fn prepare_sync(&mut self, session: &DeviceSession) -> Result<(SyncRequest, Sent)> {
        let push = self.push_page(session.push_budget as usize)?;
        let have = match session.listing() {
            Some(after) => self.have_page(after, session.have_page)?,
            None => HavePage::default(),
        };
        let refetch = self.refetch_list()?;
        Ok(session.request(push, have, refetch))
    }

    /// Unacknowledged changes of dirty documents, oldest document first, up to `budget` bytes
    /// (at least one document; a document larger than a page goes as a causal prefix).
    fn push_page(&mut self, budget: usize) -> Result<PushPage> {
        let mut page = PushPage::default();
        let mut bytes = 0usize;
        for (id, _fresh) in self.pushable_documents()? {
            if !page.docs.is_empty() && bytes >= budget {
                page.more = true;
                break;
            }
            let mut changes = self.unacked_changes(id)?;
            if changes.is_empty() {
                // Acknowledged heads that cover everything but are spelled differently.
                let now_heads = self.heads(id)?;
                self.write(|s| {
                    s.conn().execute(
                        "UPDATE documents SET acked_heads = heads WHERE id = ?1",
                        params![id.to_bytes().to_vec()],
                    )?;
                    Ok(())
                })?;
                tracing::debug!(%id, heads = now_heads.len(), "acknowledged heads normalised");
                continue;
            }
            let size: usize = changes.iter().map(Vec::len).sum();
            if !page.docs.is_empty() && bytes + size > budget {
                page.more = true;
                break;
            }
            if size > budget {
                // Changes come in causal order, so any prefix can be stored on its own.
                let mut keep = 0;
                let mut sum = 0;
                for c in &changes {
                    if keep > 0 && sum + c.len() > budget {
                        break;
                    }
                    sum += c.len();
                    keep += 1;
                }
                if keep < changes.len() {
                    changes.truncate(keep);
                    page.more = true;
                }
            }
            bytes += changes.iter().map(Vec::len).sum::<usize>();
            let vouchers = self.vouchers_for(id, &changes)?;
            page.docs.push(DocChanges { doc: id, changes, vouchers });
            if page.more {
                break;
            }
        }
        if !page.more {
            self.give_back_receipts(&mut page, &mut bytes, budget)?;
        }
        Ok(page)
    }

    /// Adds to the page the vouchers for receipt times the relay has forgotten (it received
    /// those changes again after a restore), so the relay restamps them. A document already on
    /// the page gets the changes they name; another goes whole, with every voucher this device
    /// holds for it, so its acknowledgement still means the relay holds all of it.
    fn give_back_receipts(&mut self, page: &mut PushPage, bytes: &mut usize, budget: usize) -> Result<()> {
        for (id, vouchers) in self.vouchers_to_give_back()? {
            if !page.docs.is_empty() && *bytes >= budget {
                page.more = true;
                break;
            }
            match page.docs.iter().position(|d| d.doc == id) {
                Some(i) => {
                    for v in vouchers {
                        if page.docs[i].vouchers.iter().any(|w| w.hash == v.hash) {
                            continue;
                        }
                        let Some(change) = self.change_bytes(id, &v.hash)? else { continue };
                        let dc = &mut page.docs[i];
                        if !dc.changes.contains(&change) {
                            *bytes += change.len();
                            dc.changes.push(change);
                        }
                        dc.vouchers.push(v);
                    }
                }
                None => {
                    let changes = self.all_changes(id)?;
                    let size: usize = changes.iter().map(Vec::len).sum();
                    if !page.docs.is_empty() && *bytes + size > budget {
                        page.more = true;
                        break;
                    }
                    *bytes += size;
                    let vouchers = self.vouchers_for(id, &changes)?;
                    page.docs.push(DocChanges { doc: id, changes, vouchers });
                }
            }
        }
        Ok(())
    }

    /// Heads of up to `limit` documents this device holds after `after`, in id order: those its
    /// unit owns and those it only reads, since after a restore this device may be the last to
    /// hold changes of either.
    fn have_page(&self, after: Option<DocId>, limit: usize) -> Result<HavePage> {
        // An id never sorts below the empty blob, so one statement pages from the start too.
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT id, heads FROM documents WHERE id > ?1 ORDER BY id LIMIT ?2")?;
        let rows = stmt.query_map(
            params![after.map(|d| d.to_bytes().to_vec()).unwrap_or_default(), limit as i64 + 1],
            |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )?;
        let mut page = HavePage::default();
        for r in rows {
            let (id, h) = r?;
            if page.docs.len() == limit {
                page.more = true;
                break;
            }
            let doc = DocId::from_slice(&id).map_err(|e| CoreError::DamagedStore {
                detail: format!("a stored document id is unreadable ({e})"),
            })?;
            let h = heads::decode(&h)
                .ok_or_else(|| CoreError::Corrupt { id: doc, detail: "stored heads malformed".into() })?;
            page.docs.push(DocHeads { doc, heads: h.iter().map(|h| h.0).collect() });
        }
        Ok(page)
    }

    fn refetch_list(&self) -> Result<Vec<DocId>> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT doc FROM sync_problems WHERE kind = 'retry' ORDER BY at LIMIT ?1")?;
        let rows = stmt.query_map(params![REFETCH_DOCS as i64], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(DocId::from_slice(&r?).map_err(|e| CoreError::DamagedStore {
                detail: format!("a stored document id is unreadable ({e})"),
            })?);
        }
        Ok(out)
    }

    /// Carries out an answer in one transaction. `sent` is what the request carried and
    /// `sent_at` when it left (device clock). Returns whether another round trip is needed.
    pub fn apply_sync_response(
        &mut self,
        session: &mut DeviceSession,
        resp: SyncResponse,
        sent: &Sent,
        sent_at: Timestamp,
        report: &mut SyncReport,
    ) -> Result<bool> {
        let before = session.clone();
        let (effects, again) = session.handle(resp, sent);
        let received_at = self.now();
        let mut tally = SyncReport::default();
        let result = self.write(|s| {
            let mut delivered: Vec<DocId> = Vec::new();
            for effect in effects {
                s.carry_out(effect, sent, sent_at, received_at, &mut delivered, &mut tally)?;
            }
            // Documents asked for whole that did not come: one more attempt used.
            for doc in sent.refetch() {
                if !delivered.contains(doc) {
                    s.problem(*doc, "the relay did not send it")?;
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            // Nothing of the answer was applied: the next round trip starts from where this
            // one did.
            *session = before;
            return Err(e);
        }
        report.acked += tally.acked;
        report.received += tally.received;
        report.flagged += tally.flagged;
        // Marks of concurrent edits written while applying go up before the sync ends.
        let again = again || tally.flagged > 0;
        report.rejected.extend(tally.rejected);
        for id in tally.changed {
            report.note_changed(id);
        }
        Ok(again)
    }

    fn carry_out(
        &mut self,
        effect: Effect,
        sent: &Sent,
        sent_at: Timestamp,
        received_at: Timestamp,
        delivered: &mut Vec<DocId>,
        report: &mut SyncReport,
    ) -> Result<()> {
        match effect {
            Effect::RelayClock { relay_now } => {
                // The answer was made somewhere between sending and receiving.
                let midpoint = sent_at.0 / 2 + received_at.0 / 2;
                self.meta_set("relay_clock_offset", &relay_now.saturating_sub(midpoint).to_le_bytes())?;
            }
            Effect::Apply(rc) => {
                delivered.push(rc.doc);
                let meta = if rc.meta.len() == rc.changes.len() { rc.meta.as_slice() } else { &[] };
                match self.write(|s| s.apply_in_scope(rc.doc, &rc.changes, meta)) {
                    Ok(applied) => {
                        report.received += 1;
                        // The relay's copy moved on (a colleague pushed what this device's
                        // push built on, say): a refusal of this device's push may not stand.
                        self.conn().execute(
                            "DELETE FROM rejections WHERE doc = (SELECT n FROM documents WHERE id = ?1)",
                            params![rc.doc.to_bytes().to_vec()],
                        )?;
                        if applied.flagged {
                            report.flagged += 1;
                        }
                        if applied.changed {
                            report.note_changed(rc.doc);
                        }
                        if applied.missing {
                            self.problem(
                                rc.doc,
                                "some of its changes build on changes this device does not hold",
                            )?;
                        } else if applied.newer {
                            self.newer_app_problem(rc.doc)?;
                        } else if !applied.later {
                            // (One stored to be read later stops being a problem once read.)
                            self.conn().execute(
                                "DELETE FROM sync_problems WHERE doc = ?1 AND kind != 'newer_app'",
                                params![rc.doc.to_bytes().to_vec()],
                            )?;
                        }
                    }
                    Err(e) if is_storage(&e) => return Err(e),
                    Err(e) => {
                        tracing::warn!(doc = %rc.doc, error = %e, "changes from the relay not applied; asking for the document whole");
                        self.problem(rc.doc, &e.to_string())?;
                    }
                }
            }
            Effect::Acked(ack) => {
                if !self.exists(ack.doc)? {
                    tracing::warn!(doc = %ack.doc, "an acknowledgement for a document this device does not hold");
                    return Ok(());
                }
                report.acked += 1;
                let hashes: Vec<ChangeHash> = ack.heads.iter().map(|h| ChangeHash(*h)).collect();
                self.add_acked(ack.doc, &hashes)?;
                self.conn().execute(
                    "DELETE FROM rejections WHERE doc = (SELECT n FROM documents WHERE id = ?1)",
                    params![ack.doc.to_bytes().to_vec()],
                )?;
                self.keep_vouchers(ack.doc, &ack.vouchers, |h| sent.vouched(ack.doc, &h.0))?;
            }
            Effect::Rejected(rej) => {
                if !self.exists(rej.doc)? {
                    return Ok(());
                }
                let heads = self.heads(rej.doc)?;
                self.conn().execute(
                    "INSERT OR REPLACE INTO rejections(doc, heads, code, reason, at)
                     SELECT n, ?2, ?3, ?4, ?5 FROM documents WHERE id = ?1",
                    params![
                        rej.doc.to_bytes().to_vec(),
                        heads::encode(&heads),
                        rej.code.as_str(),
                        rej.reason,
                        self.now().0
                    ],
                )?;
                // Receipts given back with a refused document are not given back again and again.
                let vouched: Vec<ChangeHash> = self
                    .vouchers_to_give_back()?
                    .into_iter()
                    .filter(|(d, _)| *d == rej.doc)
                    .flat_map(|(_, vs)| vs.into_iter().map(|v| ChangeHash(v.hash)))
                    .filter(|h| sent.vouched(rej.doc, &h.0))
                    .collect();
                self.stop_giving_back(rej.doc, &vouched)?;
                report.rejected.push(rej);
            }
            Effect::PushInFull(doc) => {
                // Any document this device holds: one its unit only reads goes back with the
                // relay's vouchers for its changes.
                self.conn().execute(
                    "UPDATE documents SET acked_heads = NULL WHERE id = ?1",
                    params![doc.to_bytes().to_vec()],
                )?;
                self.conn().execute(
                    "DELETE FROM rejections WHERE doc = (SELECT n FROM documents WHERE id = ?1)",
                    params![doc.to_bytes().to_vec()],
                )?;
            }
            Effect::Save(position) => self.save_position(&position)?,
        }
        Ok(())
    }

    /// Puts `doc` on the list to fetch whole, or, after too many attempts, shows it as a problem.
    pub(crate) fn problem(&self, doc: DocId, reason: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO sync_problems(doc, kind, attempts, reason, at) VALUES (?1, 'retry', 1, ?2, ?3)
             ON CONFLICT(doc) DO UPDATE SET attempts = attempts + 1, reason = excluded.reason, at = excluded.at,
                 kind = CASE WHEN kind = 'newer_app' THEN kind
                             WHEN attempts + 1 >= ?4 THEN 'gave_up' ELSE 'retry' END",
            params![doc.to_bytes().to_vec(), reason, self.now().0, MAX_ATTEMPTS],
        )?;
        Ok(())
    }

    pub(crate) fn newer_app_problem(&self, doc: DocId) -> Result<()> {
        self.conn().execute(
            "INSERT INTO sync_problems(doc, kind, attempts, reason, at) VALUES (?1, 'newer_app', 0, ?2, ?3)
             ON CONFLICT(doc) DO UPDATE SET kind = 'newer_app', reason = excluded.reason",
            params![doc.to_bytes().to_vec(), "written by a newer version of the app", self.now().0],
        )?;
        Ok(())
    }

    /// Documents from the relay that this device could not apply, or cannot show yet.
    pub fn sync_problems(&self) -> Result<Vec<SyncProblem>> {
        let mut stmt =
            self.conn().prepare_cached("SELECT doc, kind, reason FROM sync_problems ORDER BY at, doc")?;
        let rows =
            stmt.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?, r.get(2)?)))?;
        let mut out = Vec::new();
        for r in rows {
            let (doc, kind, reason) = r?;
            let doc = DocId::from_slice(&doc).map_err(|e| CoreError::DamagedStore {
                detail: format!("a stored document id is unreadable ({e})"),
            })?;
            let kind = match kind.as_str() {
                "retry" => SyncProblemKind::Retrying,
                "gave_up" => SyncProblemKind::GaveUp,
                "newer_app" => SyncProblemKind::NewerApp,
                other => {
                    return Err(CoreError::DamagedStore {
                        detail: format!("unknown sync problem kind '{other}'"),
                    });
                }
            };
            out.push(SyncProblem { doc, kind, reason });
        }
        Ok(out)
    }

    /// Syncs with the relay now, on this thread: as many round trips as it takes to push
    /// everything and pull every page.
    pub fn sync_now(&mut self) -> Result<SyncReport> {
        let cell = std::cell::RefCell::new(self);
        background::run_sync(&cell, &|_| {}, &std::sync::atomic::AtomicBool::new(false), &|| true)
    }

    /// When the last sync succeeded.
    pub fn last_sync(&self) -> Result<Option<Timestamp>> {
        match self.meta_get("last_sync_ok")? {
            None => Ok(None),
            Some(b) => {
                Ok(Some(Timestamp(i64::from_le_bytes(<[u8; 8]>::try_from(b.as_slice()).map_err(|_| {
                    CoreError::DamagedStore { detail: "the stored time of the last sync is damaged".into() }
                })?))))
            }
        }
    }

    /// Where document `id` stands with the relay.
    pub fn delivery_state(&mut self, id: DocId) -> Result<DeliveryState> {
        let row = self.row(id)?;
        let rejection: Option<(String, String)> = self
            .conn()
            .query_row("SELECT code, reason FROM rejections WHERE doc = ?1", params![row.n], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        if let Some((code, reason)) = rejection {
            if RejectCode::parse(&code).is_none() {
                tracing::warn!(%id, code, "a stored rejection has an unknown code");
            }
            return Ok(DeliveryState::Rejected { reason });
        }
        if !self.unacked_changes(id)?.is_empty() {
            Ok(DeliveryState::OnlyOnDevice)
        } else {
            Ok(DeliveryState::OnRelay)
        }
    }
}
