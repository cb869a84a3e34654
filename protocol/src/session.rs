//! The device's side of a sync exchange, sans I/O: it builds requests and turns answers into
//! effects for the store to carry out. It holds only the relay epoch and the cursor.
//!
//! A sync is a loop of round trips: each request pushes every unacknowledged change and asks
//! for one page after the cursor; the loop ends when an answer says no more pages wait. A cut
//! link loses at most the page in flight: the cursor moves only after a page is applied.

use crate::ids::DocId;
use crate::wire::{DocAck, DocChanges, DocHeads, DocReject, Epoch, RelayChanges, SyncRequest, SyncResponse};

/// What the store must do with an answer, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Apply these changes from the relay (idempotent), and note the relay's receipt time.
    Apply(RelayChanges),
    /// The relay holds the document up to these heads.
    Acked(DocAck),
    /// The relay refused the document; keep the local edits and show the reason.
    Rejected(DocReject),
    /// The relay lacks this document or part of it: forget what it acknowledged and push it all.
    PushInFull(DocId),
    /// Persist the new position (after applying the changes above).
    SaveCursor {
        /// The relay's epoch.
        epoch: Epoch,
        /// The cursor within it.
        cursor: u64,
    },
}

/// Where the device stands with one relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeviceSession {
    /// The relay epoch the cursor belongs to; `None` before the first sync.
    pub epoch: Option<Epoch>,
    /// Everything up to this relay sequence number has been applied.
    pub cursor: u64,
    /// Set when the relay's epoch changed: the next request carries the heads of every
    /// document so the relay can say what it lost.
    pub reconcile: bool,
}

impl DeviceSession {
    /// Resumes from a saved position.
    pub fn new(epoch: Option<Epoch>, cursor: u64) -> Self {
        DeviceSession { epoch, cursor, reconcile: false }
    }

    /// The next request. `have` is used only while reconciling.
    pub fn request(
        &self,
        push: Vec<DocChanges>,
        have: impl FnOnce() -> Vec<DocHeads>,
        page_bytes: u32,
    ) -> SyncRequest {
        SyncRequest {
            epoch: self.epoch,
            cursor: self.cursor,
            push,
            page_bytes,
            have: if self.reconcile { have() } else { Vec::new() },
        }
    }

    /// Turns an answer into effects and moves the session. Returns the effects and whether
    /// another round trip is needed (more pages, or documents to push in full).
    pub fn handle(&mut self, resp: SyncResponse) -> (Vec<Effect>, bool) {
        let mut effects = Vec::with_capacity(resp.acks.len() + resp.changes.len() + 2);
        let epoch_changed = self.epoch.is_some_and(|e| e != resp.epoch);
        let was_reconciling = self.reconcile;
        effects.extend(resp.changes.into_iter().map(Effect::Apply));
        effects.extend(resp.acks.into_iter().map(Effect::Acked));
        effects.extend(resp.rejects.into_iter().map(Effect::Rejected));
        let wanted = !resp.wanted.is_empty();
        effects.extend(resp.wanted.into_iter().map(Effect::PushInFull));
        effects.push(Effect::SaveCursor { epoch: resp.epoch, cursor: resp.cursor });
        self.epoch = Some(resp.epoch);
        self.cursor = resp.cursor;
        // A new epoch: the relay answered from cursor 0 and we tell it what we hold next time.
        self.reconcile = epoch_changed;
        let again = resp.more || epoch_changed || (was_reconciling && wanted);
        (effects, again)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(epoch: u64, cursor: u64, more: bool) -> SyncResponse {
        SyncResponse {
            epoch: Epoch(epoch),
            acks: vec![],
            rejects: vec![],
            changes: vec![],
            cursor,
            more,
            wanted: vec![],
        }
    }

    #[test]
    fn pages_until_done() {
        let mut s = DeviceSession::default();
        let req = s.request(vec![], Vec::new, 1000);
        assert_eq!((req.epoch, req.cursor), (None, 0));
        let (fx, again) = s.handle(answer(7, 50, true));
        assert!(again);
        assert_eq!(fx.last(), Some(&Effect::SaveCursor { epoch: Epoch(7), cursor: 50 }));
        let (_, again) = s.handle(answer(7, 90, false));
        assert!(!again);
        assert_eq!(s.request(vec![], Vec::new, 1000).cursor, 90);
    }

    #[test]
    fn a_new_epoch_triggers_reconcile() {
        let mut s = DeviceSession::new(Some(Epoch(7)), 90);
        let (_, again) = s.handle(answer(8, 3, false));
        assert!(again && s.reconcile);
        let doc = DocId::from_bytes([1; 16]);
        let req = s.request(vec![], || vec![DocHeads { doc, heads: vec![[0; 32]] }], 1000);
        assert_eq!(req.have.len(), 1);
        let mut resp = answer(8, 3, false);
        resp.wanted = vec![doc];
        let (fx, again) = s.handle(resp);
        assert!(fx.contains(&Effect::PushInFull(doc)));
        assert!(again, "push the wanted documents");
        assert!(!s.reconcile);
    }
}
