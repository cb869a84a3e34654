//! The device's side of a sync exchange, sans I/O: it builds requests from what the store
//! hands it and turns answers into effects for the store to carry out in one transaction.
//!
//! A sync is a loop of round trips. Each request pushes one page of unacknowledged changes
//! (bounded in bytes), lists one page of the documents it holds while reconciling, and asks for
//! one page of the unit's log after the cursor; the loop ends when nothing is left to push,
//! to list or to pull. A cut link loses at most the round trip in flight: the position moves
//! only with an answer applied whole.
//!
//! The position kept between syncs is a [`Position`]: the relay's epoch, the cursor into the
//! unit's log, the furthest [`Witness`] of that log the relay has shown, how far the device's
//! own changes are known to be held, and where a reconcile stands.

use std::collections::HashSet;

use crate::ids::DocId;
use crate::wire::{
    DEFAULT_PAGE_BYTES, DEFAULT_PUSH_BYTES, DocAck, DocChanges, DocHeads, DocReject, Epoch, HAVE_PAGE_DOCS,
    Hash, RelayChanges, SyncRequest, SyncResponse, Witness,
};

/// Where a reconcile stands: the device lists the documents it holds, in id order, a page at a
/// time, so the relay can ask for any it lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reconcile {
    /// Nothing to list.
    #[default]
    Done,
    /// Listing: pass `pass` (a new pass starts each time the relay asks for one), next after
    /// document `after` (`None`: from the first).
    Listing {
        /// Which pass this is; answers to pages of an earlier pass do not move this one.
        pass: u32,
        /// The last document listed and answered.
        after: Option<DocId>,
    },
}

/// What a device keeps between syncs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// The relay epoch; `None` before the first sync.
    pub epoch: Option<Epoch>,
    /// Everything in the unit's log up to here has been applied.
    pub cursor: u64,
    /// The furthest point of the unit's log the relay has shown this device.
    pub witness: Witness,
    /// Up to here in the unit's log the device holds every change it wrote.
    pub own_held: u64,
    /// Where a reconcile stands.
    pub reconcile: Reconcile,
}

/// What the store must do with an answer. The store carries out all of them in one
/// transaction, so an answer is applied whole or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Apply these changes from the relay (idempotent) and keep what it says about them.
    Apply(RelayChanges),
    /// The relay holds the document up to these heads.
    Acked(DocAck),
    /// The relay refused the document; keep the local edits and show the reason.
    Rejected(DocReject),
    /// The relay lacks this document or part of it: forget what it acknowledged and push it all
    /// (changes of a document the device's unit only reads go with the relay's vouchers).
    PushInFull(DocId),
    /// The relay's clock read `relay_now` when it answered.
    RelayClock {
        /// UTC ms, relay clock.
        relay_now: i64,
    },
    /// Persist the new position (after everything above).
    Save(Position),
}

/// One page of pushes, as the store prepared it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushPage {
    /// The documents' unacknowledged changes.
    pub docs: Vec<DocChanges>,
    /// More dirty documents (or more changes of the last one) wait for the next request.
    pub more: bool,
}

/// One page of a reconcile listing, as the store prepared it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HavePage {
    /// Heads of held documents after the reconcile position, in id order.
    pub docs: Vec<DocHeads>,
    /// More documents follow the last one.
    pub more: bool,
}

/// What a request carried, needed to understand its answer (even one delivered late).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    push_more: bool,
    pushed_in_full: Vec<DocId>,
    /// The listing pass, the last document listed (none for an empty page) and whether more
    /// followed.
    have: Option<(u32, Option<DocId>, bool)>,
    refetch: Vec<DocId>,
    /// The changes whose vouchers the request carried, by document.
    vouched: Vec<(DocId, Hash)>,
}

impl Sent {
    /// Whether the request carried this device's voucher for change `hash` of `doc`: an
    /// acknowledgement that still gives a later receipt time then means the relay did not
    /// accept the voucher (another relay's seal).
    pub fn vouched(&self, doc: DocId, hash: &Hash) -> bool {
        self.vouched.iter().any(|(d, h)| *d == doc && h == hash)
    }

    /// Whether the request listed documents for a reconcile.
    pub fn listed(&self) -> bool {
        self.have.is_some()
    }

    /// The documents the request asked to receive whole.
    pub fn refetch(&self) -> &[DocId] {
        &self.refetch
    }
}

/// The device's side of one sync: the saved position plus what only lives for one sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSession {
    /// The position, saved with every answer.
    pub position: Position,
    /// The most change bytes to push per request; halves when the relay says a request was
    /// too large.
    pub push_budget: u32,
    /// The most documents to list per reconcile page; halves with `push_budget`.
    pub have_page: usize,
    /// Documents pushed in full during this sync: asked for again, they wait for the next sync
    /// instead of looping.
    full: HashSet<DocId>,
}

impl Default for DeviceSession {
    fn default() -> Self {
        DeviceSession::new(Position::default())
    }
}

/// The smallest push page: below this a request that is still too large is a relay
/// misconfiguration, not something smaller pages can fix.
pub const MIN_PUSH_BYTES: u32 = 4 * 1024;

impl DeviceSession {
    /// Resumes from a saved position.
    pub fn new(position: Position) -> Self {
        DeviceSession {
            position,
            push_budget: DEFAULT_PUSH_BYTES,
            have_page: HAVE_PAGE_DOCS,
            full: HashSet::new(),
        }
    }

    /// Whether the next request lists documents (a reconcile is under way).
    pub fn listing(&self) -> Option<Option<DocId>> {
        match self.position.reconcile {
            Reconcile::Done => None,
            Reconcile::Listing { after, .. } => Some(after),
        }
    }

    /// The relay answered that the last request was too large: use smaller pages. Returns
    /// false when the pages are already as small as they go.
    pub fn shrink(&mut self) -> bool {
        if self.push_budget <= MIN_PUSH_BYTES && self.have_page <= 1 {
            return false;
        }
        self.push_budget = (self.push_budget / 2).max(MIN_PUSH_BYTES);
        self.have_page = (self.have_page / 2).max(1);
        true
    }

    /// The next request from what the store prepared, and what it carried.
    pub fn request(&self, push: PushPage, have: HavePage, refetch: Vec<DocId>) -> (SyncRequest, Sent) {
        let listed = match self.position.reconcile {
            // An empty page (nothing owned after the position) still completes the listing.
            Reconcile::Listing { pass, .. } => Some((pass, have.docs.last().map(|d| d.doc), have.more)),
            Reconcile::Done => None,
        };
        let pushed_in_full = push.docs.iter().map(|d| d.doc).filter(|d| self.full.contains(d)).collect();
        let vouched =
            push.docs.iter().flat_map(|d| d.vouchers.iter().map(move |v| (d.doc, v.hash))).collect();
        let sent =
            Sent { push_more: push.more, pushed_in_full, have: listed, refetch: refetch.clone(), vouched };
        let req = SyncRequest {
            epoch: self.position.epoch,
            cursor: self.position.cursor,
            witness: self.position.witness,
            own_held: self.position.own_held,
            push: push.docs,
            page_bytes: DEFAULT_PAGE_BYTES,
            have: if self.listing().is_some() { have.docs } else { Vec::new() },
            refetch,
        };
        (req, sent)
    }

    /// Turns an answer into effects and moves the session. `sent` is what the request this
    /// answers carried. Returns the effects and whether another round trip is needed.
    ///
    /// An answer whose witness is behind the device's is stale and changes nothing: the relay
    /// answering the request just sent holds the device's witness (so its log reaches at least
    /// that far) or tells it to reconcile, so only an answer the network delayed can be behind,
    /// and it may come from a history the relay lost in a restore since. Its acknowledgements
    /// would then claim changes the relay no longer holds (undoing a push in full that a
    /// reconcile asked for), and its cursor would be a place in another log. Nothing is lost by
    /// dropping it: the device pushes again what it acknowledged, and its cursor has not passed
    /// the changes it carried.
    pub fn handle(&mut self, resp: SyncResponse, sent: &Sent) -> (Vec<Effect>, bool) {
        let epoch_changed = self.position.epoch.is_some_and(|e| e != resp.epoch);
        let restart = resp.reconcile || epoch_changed;
        if !restart && resp.witness.pos < self.position.witness.pos {
            return (Vec::new(), false);
        }
        let mut effects = Vec::with_capacity(resp.acks.len() + resp.changes.len() + resp.wanted.len() + 2);
        effects.push(Effect::RelayClock { relay_now: resp.now });
        effects.extend(resp.changes.into_iter().map(Effect::Apply));
        effects.extend(resp.acks.into_iter().map(Effect::Acked));
        effects.extend(resp.rejects.into_iter().map(Effect::Rejected));
        let mut wanted_again = false;
        for doc in resp.wanted {
            // A document pushed in full this sync and still wanted waits for the next sync.
            if self.full.insert(doc) || !sent.pushed_in_full.contains(&doc) {
                wanted_again = true;
            }
            effects.push(Effect::PushInFull(doc));
        }
        let p = &mut self.position;
        let reconcile = if restart {
            let pass = match p.reconcile {
                Reconcile::Listing { pass, .. } => pass.wrapping_add(1),
                Reconcile::Done => 1,
            };
            Reconcile::Listing { pass, after: None }
        } else {
            match (p.reconcile, sent.have) {
                (Reconcile::Listing { pass, after }, Some((sent_pass, last, more))) if pass == sent_pass => {
                    match (more, last) {
                        (true, Some(last)) => {
                            Reconcile::Listing { pass, after: Some(after.map_or(last, |a| a.max(last))) }
                        }
                        _ => Reconcile::Done,
                    }
                }
                (r, _) => r,
            }
        };
        // The witness only moves forward along one history (answers behind it were dropped
        // above); after a restore the relay's history is another one and its witness replaces
        // ours.
        *p = Position {
            epoch: Some(resp.epoch),
            cursor: resp.cursor,
            witness: resp.witness,
            own_held: resp.own_held,
            reconcile,
        };
        effects.push(Effect::Save(*p));
        let again =
            resp.more || sent.push_more || wanted_again || matches!(reconcile, Reconcile::Listing { .. });
        (effects, again)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(epoch: u64, cursor: u64, more: bool) -> SyncResponse {
        SyncResponse {
            epoch: Epoch(epoch),
            now: 0,
            acks: vec![],
            rejects: vec![],
            changes: vec![],
            cursor,
            witness: Witness { pos: cursor, digest: [cursor as u8; 16] },
            own_held: 0,
            more,
            wanted: vec![],
            reconcile: false,
        }
    }

    fn doc(n: u8) -> DocId {
        DocId::from_bytes([n; 16])
    }

    fn have(docs: &[u8], more: bool) -> HavePage {
        HavePage { docs: docs.iter().map(|n| DocHeads { doc: doc(*n), heads: vec![] }).collect(), more }
    }

    #[test]
    fn pages_until_done() {
        let mut s = DeviceSession::default();
        let (req, sent) = s.request(PushPage::default(), HavePage::default(), vec![]);
        assert_eq!((req.epoch, req.cursor), (None, 0));
        let (fx, again) = s.handle(answer(7, 50, true), &sent);
        assert!(again);
        assert!(matches!(fx.last(), Some(Effect::Save(p)) if p.cursor == 50 && p.epoch == Some(Epoch(7))));
        let (_, again) = s.handle(answer(7, 90, false), &sent);
        assert!(!again);
        let (req, _) = s.request(PushPage::default(), HavePage::default(), vec![]);
        assert_eq!((req.cursor, req.witness.pos), (90, 90));
    }

    #[test]
    fn more_to_push_means_another_round_trip() {
        let mut s = DeviceSession::default();
        let (_, sent) = s.request(PushPage { docs: vec![], more: true }, HavePage::default(), vec![]);
        assert!(s.handle(answer(7, 1, false), &sent).1);
    }

    #[test]
    fn a_reconcile_lists_every_page_then_stops() {
        let mut s = DeviceSession::new(Position { epoch: Some(Epoch(7)), cursor: 90, ..Default::default() });
        let mut resp = answer(7, 3, false);
        resp.reconcile = true;
        let (_, sent) = s.request(PushPage::default(), HavePage::default(), vec![]);
        let (_, again) = s.handle(resp, &sent);
        assert!(again);
        assert_eq!(s.listing(), Some(None));
        let (req, sent) = s.request(PushPage::default(), have(&[1, 2], true), vec![]);
        assert_eq!(req.have.len(), 2);
        let mut resp = answer(7, 3, false);
        resp.wanted = vec![doc(2)];
        let (fx, again) = s.handle(resp, &sent);
        assert!(again && fx.contains(&Effect::PushInFull(doc(2))));
        assert_eq!(s.listing(), Some(Some(doc(2))));
        let (_, last_sent) = s.request(PushPage::default(), have(&[3], false), vec![]);
        let (_, again) = s.handle(answer(7, 3, false), &last_sent);
        assert!(!again);
        assert_eq!(s.position.reconcile, Reconcile::Done);
    }

    #[test]
    fn a_late_answer_from_an_earlier_listing_does_not_end_a_new_one() {
        let mut s = DeviceSession::new(Position {
            epoch: Some(Epoch(7)),
            reconcile: Reconcile::Listing { pass: 1, after: None },
            ..Default::default()
        });
        let (_, old_last_page) = s.request(PushPage::default(), have(&[9], false), vec![]);
        // The relay asks for a new listing before that page's answer arrives.
        let mut restart = answer(7, 0, false);
        restart.reconcile = true;
        let (_, sent) = s.request(PushPage::default(), HavePage::default(), vec![]);
        s.handle(restart, &sent);
        assert_eq!(s.position.reconcile, Reconcile::Listing { pass: 2, after: None });
        s.handle(answer(7, 0, false), &old_last_page);
        assert_eq!(s.position.reconcile, Reconcile::Listing { pass: 2, after: None }, "the new pass goes on");
    }

    #[test]
    fn a_device_that_owns_nothing_finishes_its_listing_at_once() {
        let mut s = DeviceSession::new(Position {
            reconcile: Reconcile::Listing { pass: 1, after: None },
            ..Default::default()
        });
        let (_, sent) = s.request(PushPage::default(), HavePage::default(), vec![]);
        let (_, again) = s.handle(answer(7, 0, false), &sent);
        assert!(!again);
        assert_eq!(s.position.reconcile, Reconcile::Done);
    }

    #[test]
    fn a_new_epoch_starts_a_reconcile() {
        let mut s = DeviceSession::new(Position { epoch: Some(Epoch(7)), cursor: 90, ..Default::default() });
        let (_, sent) = s.request(PushPage::default(), HavePage::default(), vec![]);
        let (_, again) = s.handle(answer(8, 90, false), &sent);
        assert!(again && s.listing().is_some());
    }

    #[test]
    fn the_witness_never_moves_back_along_one_history() {
        let mut s = DeviceSession::default();
        let (_, sent) = s.request(PushPage::default(), HavePage::default(), vec![]);
        s.handle(answer(7, 90, false), &sent);
        // An answer the network held back arrives late: it changes nothing.
        let (fx, again) = s.handle(answer(7, 40, false), &sent);
        assert!(fx.is_empty() && !again);
        assert_eq!((s.position.cursor, s.position.witness.pos), (90, 90));
        // After a restore the relay's history is another one: its witness replaces ours.
        let mut restored = answer(7, 12, false);
        restored.reconcile = true;
        s.handle(restored, &sent);
        assert_eq!(s.position.witness.pos, 12);
    }

    #[test]
    fn a_late_answer_from_before_a_restore_does_not_undo_a_push_in_full() {
        // The device pushed a document to a relay that acknowledged it; that answer is held up.
        let mut s = DeviceSession::new(Position { epoch: Some(Epoch(7)), cursor: 19, ..Default::default() });
        let push = PushPage {
            docs: vec![DocChanges { doc: doc(4), changes: vec![], vouchers: vec![] }],
            more: false,
        };
        let (_, old_sent) = s.request(push, HavePage::default(), vec![]);
        let mut old = answer(7, 19, false);
        old.acks = vec![DocAck { doc: doc(4), heads: vec![[4; 32]], vouchers: vec![] }];
        // The relay is restored from an older backup: the device reconciles and is asked for
        // the document in full, in the restored relay's log (position 20 of another history).
        let mut restored = answer(7, 3, false);
        restored.reconcile = true;
        let (_, sent) = s.request(PushPage::default(), HavePage::default(), vec![]);
        s.handle(restored, &sent);
        let (_, sent) = s.request(PushPage::default(), have(&[4], false), vec![]);
        let mut wanted = answer(7, 20, false);
        wanted.wanted = vec![doc(4)];
        let (fx, _) = s.handle(wanted, &sent);
        assert!(fx.contains(&Effect::PushInFull(doc(4))));
        // The old acknowledgement arrives: it must not mark the document as held by the relay,
        // nor move the cursor to a place in the lost log.
        let (fx, again) = s.handle(old, &old_sent);
        assert!(fx.is_empty() && !again, "{fx:?}");
        assert_eq!((s.position.cursor, s.position.witness.pos), (20, 20));
    }

    #[test]
    fn a_document_wanted_again_after_a_full_push_waits_for_the_next_sync() {
        let mut s = DeviceSession::default();
        let (_, sent) = s.request(PushPage::default(), HavePage::default(), vec![]);
        let mut resp = answer(7, 1, false);
        resp.wanted = vec![doc(4)];
        assert!(s.handle(resp.clone(), &sent).1, "push it in full");
        let push = PushPage {
            docs: vec![DocChanges { doc: doc(4), changes: vec![], vouchers: vec![] }],
            more: false,
        };
        let (_, sent) = s.request(push, HavePage::default(), vec![]);
        assert!(!s.handle(resp, &sent).1, "no loop within one sync");
    }

    #[test]
    fn pages_shrink_to_a_floor() {
        let mut s = DeviceSession::default();
        let mut n = 0;
        while s.shrink() {
            n += 1;
            assert!(n < 64);
        }
        assert_eq!((s.push_budget, s.have_page), (MIN_PUSH_BYTES, 1));
    }
}
