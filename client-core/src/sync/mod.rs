//! Sync with the relay: enrollment, one-call `sync_now`, and a background loop.
//!
//! A sync is a loop of round trips driven by the sans-IO [`DeviceSession`]: each pushes every
//! change the relay has not acknowledged (all dirty documents in one request) and brings one
//! page of changes after the cursor. Store work runs on the caller's thread; network I/O holds
//! no store lock in the background loop.

mod background;
mod http;

use automerge::ChangeHash;
use giaoban_protocol::session::{DeviceSession, Effect};
use giaoban_protocol::wire::{
    DEFAULT_PAGE_BYTES, DeviceMessage, DocChanges, DocHeads, DocReject, Enrolled, Epoch, RelayMessage,
    SyncRequest, SyncResponse,
};
use giaoban_protocol::{DocId, DocKind, Timestamp};
use rusqlite::{OptionalExtension, params};

pub use background::{SyncHandle, SyncState, SyncStatus, sync_shared};
pub use http::RelayClient;

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

/// What one `sync_now` did.
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
    /// Request bytes sent (frames).
    pub bytes_sent: u64,
    /// Response bytes received (frames).
    pub bytes_received: u64,
}

const MAX_ROUND_TRIPS: u32 = 10_000;

impl Store {
    fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| r.get::<_, Vec<u8>>(0))
            .optional()?)
    }

    fn meta_set(&self, key: &str, value: &[u8]) -> Result<()> {
        self.conn().execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// The relay this device is enrolled with, and its token.
    pub fn relay(&self) -> Result<Option<(String, String)>> {
        let url = self.meta_get("relay_url")?.and_then(|b| String::from_utf8(b).ok());
        let token = self.meta_get("relay_token")?.and_then(|b| String::from_utf8(b).ok());
        Ok(url.zip(token))
    }

    /// Enrolls this device with the relay at `relay_url` using the office's one-time `code`.
    pub fn enroll(&mut self, relay_url: &str, code: &str, label: &str) -> Result<Enrolled> {
        let client = RelayClient::new(relay_url);
        let enrolled = client.enroll(code, self.device_id(), label)?;
        if enrolled.device != self.device_id() {
            return Err(CoreError::Protocol("the relay enrolled another device id".into()));
        }
        self.set_unit(enrolled.unit)?;
        self.meta_set("relay_url", relay_url.trim_end_matches('/').as_bytes())?;
        self.meta_set("relay_token", enrolled.token.as_bytes())?;
        Ok(enrolled)
    }

    /// The saved sync position.
    pub fn sync_session(&self) -> Result<DeviceSession> {
        let epoch = self
            .meta_get("sync_epoch")?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(|b| Epoch(u64::from_le_bytes(b)));
        let cursor = self
            .meta_get("sync_cursor")?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(u64::from_le_bytes)
            .unwrap_or(0);
        let reconcile = self.meta_get("sync_reconcile")?.is_some_and(|b| b == [1]);
        Ok(DeviceSession { epoch, cursor, reconcile })
    }

    /// Builds the next request: every unacknowledged change of every dirty document not
    /// refused at its current heads.
    pub fn prepare_sync(&mut self, session: &DeviceSession) -> Result<SyncRequest> {
        let mut push = Vec::new();
        for id in self.dirty_documents()? {
            if self.rejected_at_current_heads(id)? {
                continue;
            }
            let changes = self.unacked_changes(id)?;
            if !changes.is_empty() {
                push.push(DocChanges { doc: id, changes });
            }
        }
        let have = if session.reconcile {
            let mut all = Vec::new();
            for id in self.document_ids(None)? {
                if let Ok(h) = self.heads(id) {
                    all.push(DocHeads { doc: id, heads: h.iter().map(|h| h.0).collect() });
                }
            }
            all
        } else {
            Vec::new()
        };
        Ok(session.request(push, || have, DEFAULT_PAGE_BYTES))
    }

    /// Carries out an answer. Returns whether another round trip is needed.
    pub fn apply_sync_response(
        &mut self,
        session: &mut DeviceSession,
        resp: SyncResponse,
        report: &mut SyncReport,
    ) -> Result<bool> {
        let (effects, again) = session.handle(resp);
        for effect in effects {
            match effect {
                Effect::Apply(rc) => {
                    let hashes: Vec<ChangeHash> = rc
                        .changes
                        .iter()
                        .filter_map(|b| automerge::Change::from_bytes(b.clone()).ok().map(|c| c.hash()))
                        .collect();
                    match self.apply_remote(rc.doc, &rc.changes) {
                        Ok(changed) => {
                            report.received += 1;
                            if changed && !report.changed.contains(&rc.doc) {
                                report.changed.push(rc.doc);
                            }
                            self.add_acked(rc.doc, &hashes)?;
                            if self.row(rc.doc).is_ok_and(|r| r.kind == DocKind::Response) {
                                self.set_received_at(rc.doc, Timestamp(rc.received_at))?;
                            }
                        }
                        // One bad document must not stop the rest; it is logged and the relay
                        // will offer it again after a reconcile.
                        Err(e) => {
                            tracing::warn!(doc = %rc.doc, error = %e, "changes from the relay not applied")
                        }
                    }
                }
                Effect::Acked(ack) => {
                    report.acked += 1;
                    let hashes: Vec<ChangeHash> = ack.heads.iter().map(|h| ChangeHash(*h)).collect();
                    self.add_acked(ack.doc, &hashes)?;
                    self.conn().execute(
                        "DELETE FROM rejections WHERE doc = (SELECT n FROM documents WHERE id = ?1)",
                        params![ack.doc.to_bytes().to_vec()],
                    )?;
                    if self.row(ack.doc).is_ok_and(|r| r.kind == DocKind::Response) {
                        self.set_received_at(ack.doc, Timestamp(ack.received_at))?;
                    }
                }
                Effect::Rejected(rej) => {
                    let heads = self.heads(rej.doc)?;
                    self.conn().execute(
                        "INSERT OR REPLACE INTO rejections(doc, heads, code, reason, at)
                         SELECT n, ?2, ?3, ?4, ?5 FROM documents WHERE id = ?1",
                        params![
                            rej.doc.to_bytes().to_vec(),
                            heads::encode(&heads),
                            format!("{:?}", rej.code),
                            rej.reason,
                            self.now().0
                        ],
                    )?;
                    report.rejected.push(rej);
                }
                Effect::PushInFull(doc) => {
                    self.conn().execute(
                        "UPDATE documents SET acked_heads = NULL WHERE id = ?1",
                        params![doc.to_bytes().to_vec()],
                    )?;
                }
                Effect::SaveCursor { epoch, cursor } => {
                    self.meta_set("sync_epoch", &epoch.0.to_le_bytes())?;
                    self.meta_set("sync_cursor", &cursor.to_le_bytes())?;
                    self.meta_set("sync_reconcile", &[u8::from(session.reconcile)])?;
                }
            }
        }
        self.committed();
        Ok(again)
    }

    /// Syncs with the relay now, on this thread: as many round trips as it takes to push
    /// everything and pull every page.
    pub fn sync_now(&mut self) -> Result<SyncReport> {
        let (url, token) = self.relay()?.ok_or(CoreError::NotEnrolled)?;
        let client = RelayClient::new(&url).with_token(&token);
        let mut session = self.sync_session()?;
        let mut report = SyncReport::default();
        loop {
            let req = self.prepare_sync(&session)?;
            report.pushed += req.push.len();
            let frame = giaoban_protocol::wire::encode(&DeviceMessage::Sync(req));
            report.bytes_sent += frame.len() as u64;
            let body = client.sync(&frame)?;
            report.bytes_received += body.len() as u64;
            report.round_trips += 1;
            let RelayMessage::Sync(resp) = giaoban_protocol::wire::decode(&body)
                .map_err(|e| CoreError::Protocol(format!("cannot read the relay's answer: {e}")))?;
            let again = self.apply_sync_response(&mut session, resp, &mut report)?;
            if !again || report.round_trips >= MAX_ROUND_TRIPS {
                break;
            }
        }
        self.meta_set("last_sync_ok", &self.now().0.to_le_bytes())?;
        Ok(report)
    }

    /// When the last sync succeeded.
    pub fn last_sync(&self) -> Result<Option<Timestamp>> {
        Ok(self
            .meta_get("last_sync_ok")?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(|b| Timestamp(i64::from_le_bytes(b))))
    }

    /// Where document `id` stands with the relay.
    pub fn delivery_state(&mut self, id: DocId) -> Result<DeliveryState> {
        let row = self.row(id)?;
        let rejection: Option<String> = self
            .conn()
            .query_row("SELECT reason FROM rejections WHERE doc = ?1", params![row.n], |r| r.get(0))
            .optional()?;
        if let Some(reason) = rejection {
            return Ok(DeliveryState::Rejected { reason });
        }
        if self.unacked_changes(id)?.is_empty() {
            Ok(DeliveryState::OnRelay)
        } else {
            Ok(DeliveryState::OnlyOnDevice)
        }
    }

    fn rejected_at_current_heads(&mut self, id: DocId) -> Result<bool> {
        let row = self.row(id)?;
        let at: Option<Vec<u8>> = self
            .conn()
            .query_row("SELECT heads FROM rejections WHERE doc = ?1", params![row.n], |r| r.get(0))
            .optional()?;
        match at {
            Some(h) => Ok(h == heads::encode(&self.heads(id)?)),
            None => Ok(false),
        }
    }
}
