//! The network between devices and the relay, and the device's side of each round trip:
//! requests lost or cut short on the way, answers lost, cut, held back and delivered after newer
//! ones (possibly from a relay that has since been restored), requests replayed later; and
//! answers applied with a storage fault armed.

use automerge::ChangeHash;
use axum::http::StatusCode;
use giaoban_client_core::protocol::Timestamp;
use giaoban_client_core::protocol::session::{DeviceSession, Sent};
use giaoban_client_core::protocol::wire::{self, DeviceMessage, RelayMessage};
use giaoban_client_core::{CoreError, SyncReport};
use rand::Rng;

use super::Sim;
use super::device::Snapshot;

/// An answer on its way back to a device, and what the device had written when it asked.
pub(super) struct Pending {
    pub body: Vec<u8>,
    /// How many edits (of any device) existed when the request was prepared.
    pub edits_before: usize,
    /// What the request carried.
    pub sent: Sent,
    /// When it left (device clock).
    pub sent_at: Timestamp,
}

/// A storage error, as a full disk or an interrupted statement gives.
pub(super) fn is_storage(e: &CoreError) -> bool {
    matches!(e, CoreError::Storage(_))
}

impl Sim {
    /// Checks an answer as the relay made it: everything it acknowledges is on the relay now,
    /// including every edit `i` had made of an acknowledged document before asking.
    fn check_answer(&self, i: usize, body: &[u8], edits_before: usize) {
        let RelayMessage::Sync(resp) = wire::decode(body).unwrap();
        self.note(|| {
            let acks: Vec<String> = resp.acks.iter().map(|a| a.doc.to_string()[..8].to_owned()).collect();
            let changes: Vec<String> =
                resp.changes.iter().map(|c| format!("{}×{}", &c.doc.to_string()[..8], c.changes.len())).collect();
            let wanted: Vec<String> = resp.wanted.iter().map(|d| d.to_string()[..8].to_owned()).collect();
            format!(
                "relay answers {}: acks {acks:?} changes {changes:?} wanted {wanted:?} cursor {} witness {} more {} reconcile {}",
                self.devices[i].name, resp.cursor, resp.witness.pos, resp.more, resp.reconcile
            )
        });
        for ack in &resp.acks {
            for h in &ack.heads {
                assert!(
                    self.relay.has_change(ack.doc, &ChangeHash(*h)),
                    "acknowledged heads not on the relay"
                );
            }
            for e in &self.edits[..edits_before] {
                if e.device == i && e.doc == ack.doc {
                    for h in &e.heads {
                        assert!(self.relay.has_change(e.doc, h), "an acknowledged edit is not on the relay");
                    }
                }
            }
        }
    }

    /// Sends `i`'s next request through the network; the answer waits in flight.
    pub(super) fn send(&mut self, i: usize) {
        let edits_before = self.edits.len();
        let d = &mut self.devices[i];
        let session = match d.session.take() {
            Some(s) => s,
            None => d.store().sync_session().unwrap(),
        };
        let (req, sent) = d.store().prepare_sync(&session).unwrap();
        let sent_at = d.store().now();
        d.session = Some(session);
        self.note(|| {
            let push: Vec<String> =
                req.push.iter().map(|p| format!("{}×{}", &p.doc.to_string()[..8], p.changes.len())).collect();
            format!(
                "{} asks: cursor {} witness {} push {push:?} have {}",
                self.devices[i].name,
                req.cursor,
                req.witness.pos,
                req.have.len()
            )
        });
        let frame = wire::encode(&DeviceMessage::Sync(req));
        let roll: f64 = self.rng.random();
        let f = self.faults;
        if roll < f.lose_request {
            self.count("request lost");
            self.devices[i].in_flight = Some(None);
        } else if roll < f.lose_request + f.cut_request {
            self.count("request cut short");
            let keep = self.rng.random_range(0..frame.len());
            let (status, body) = self.relay.sync(&self.devices[i].token, frame[..keep].to_vec());
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "a request cut to {keep} of {} bytes: {}",
                frame.len(),
                String::from_utf8_lossy(&body)
            );
            self.devices[i].in_flight = Some(None);
        } else {
            if self.rng.random_bool(f.keep_for_replay) {
                self.replays.push((i, frame.clone(), sent.clone(), edits_before));
            }
            let (status, body) = self.relay.sync(&self.devices[i].token, frame);
            assert_eq!(
                status,
                StatusCode::OK,
                "{}: {}",
                self.devices[i].name,
                String::from_utf8_lossy(&body)
            );
            self.check_answer(i, &body, edits_before);
            self.devices[i].in_flight = Some(Some(Pending { body, edits_before, sent, sent_at }));
        }
    }

    /// Delivers (or not) the answer in flight to `i`.
    pub(super) fn deliver(&mut self, i: usize) {
        let Some(pending) = self.devices[i].in_flight.take() else { return };
        let Some(p) = pending else {
            self.devices[i].session = None;
            return;
        };
        let roll: f64 = self.rng.random();
        let f = self.faults;
        if roll < f.lose_answer {
            self.count("answer lost after commit");
            self.devices[i].session = None;
        } else if roll < f.lose_answer + f.cut_answer {
            self.count("answer cut short");
            let keep = self.rng.random_range(0..p.body.len());
            let cut = wire::decode::<RelayMessage>(&p.body[..keep]);
            assert!(cut.is_err(), "an answer cut to {keep} of {} bytes was read as whole", p.body.len());
            self.devices[i].session = None;
        } else if roll < f.lose_answer + f.cut_answer + f.hold_answer {
            self.count("answer held back");
            self.devices[i].held.push(p);
            self.devices[i].session = None;
        } else {
            let mut session = self.devices[i].session.take().unwrap();
            let again = if self.rng.random_bool(f.storage_fault) {
                self.apply_with_storage_fault(i, &p, &mut session)
            } else {
                self.apply(i, &p, &mut session).unwrap()
            };
            if again {
                self.devices[i].session = Some(session);
            } else {
                // The sync ended: as the sync loop does, compact the reports keystrokes left,
                // and prepare what the download stored as it came, unless the loop gave way to
                // the next sync (or the app was closed) first.
                let prepare = self.rng.random_bool(0.5);
                let store = self.devices[i].store();
                while store.compact_one_waiting(std::time::Duration::ZERO).unwrap() {}
                if prepare {
                    store.prepare_all().unwrap();
                } else if store.documents_to_prepare().unwrap() > 0 {
                    self.count("documents left to prepare");
                }
            }
        }
    }

    /// Delivers an answer the network held back, after newer ones, into a session resumed from
    /// `i`'s saved position.
    pub(super) fn deliver_held(&mut self, i: usize) {
        if self.devices[i].held.is_empty() {
            return;
        }
        let k = self.rng.random_range(0..self.devices[i].held.len());
        let p = self.devices[i].held.remove(k);
        self.count("stale answer delivered");
        let mut session = self.devices[i].store().sync_session().unwrap();
        self.apply(i, &p, &mut session).unwrap();
    }

    /// Replays a request the network kept; its answer is lost or delivered late.
    pub(super) fn replay(&mut self) {
        if self.replays.is_empty() {
            return;
        }
        let k = self.rng.random_range(0..self.replays.len());
        let (i, frame, sent, edits_before) = self.replays.remove(k);
        self.count("request replayed");
        let (status, body) = self.relay.sync(&self.devices[i].token, frame);
        assert_eq!(status, StatusCode::OK, "replay: {}", String::from_utf8_lossy(&body));
        self.check_answer(i, &body, edits_before);
        if !self.devices[i].lost() && self.rng.random_bool(0.5) {
            let sent_at = self.devices[i].store().now();
            self.devices[i].held.push(Pending { body, edits_before, sent, sent_at });
        }
    }

    /// Applies an answer; returns whether the device should ask again. An error comes from the
    /// store (a storage fault was armed); nothing of the answer was applied then.
    pub(super) fn apply(
        &mut self,
        i: usize,
        p: &Pending,
        session: &mut DeviceSession,
    ) -> Result<bool, CoreError> {
        let RelayMessage::Sync(resp) = wire::decode(&p.body).unwrap();
        assert!(resp.rejects.is_empty(), "{}: the relay refused {:?}", self.devices[i].name, resp.rejects);
        let acked: Vec<_> = resp.acks.iter().map(|a| a.doc).collect();
        let mut report = SyncReport::default();
        let (cursor, witness) = (resp.cursor, resp.witness.pos);
        let again =
            self.devices[i].store().apply_sync_response(session, resp, &p.sent, p.sent_at, &mut report)?;
        self.note(|| {
            format!(
                "{} applied an answer (cursor {cursor}, witness {witness}): now cursor {} witness {}",
                self.devices[i].name, session.position.cursor, session.position.witness.pos
            )
        });
        self.out.applied += 1;
        for e in self.edits[..p.edits_before].iter_mut() {
            if e.device == i && acked.contains(&e.doc) && !e.acked {
                e.acked = true;
                if !self.healed {
                    self.out.acked_edits += 1;
                }
            }
        }
        Ok(again)
    }

    /// Applies an answer with a full disk or an interrupted statement armed. If the apply fails,
    /// the store must be exactly as before (nothing of the answer applied, the session as it
    /// was); the answer is then applied again with the fault lifted, or dropped.
    fn apply_with_storage_fault(&mut self, i: usize, p: &Pending, session: &mut DeviceSession) -> bool {
        let full = self.rng.random_bool(0.5);
        let pages = self.rng.random_range(0..3);
        let ops = self.vm_steps();
        let before = Snapshot::take(self.devices[i].store());
        let session_before = session.clone();
        let store = self.devices[i].store();
        if full {
            store.limit_storage(Some(pages)).unwrap();
        } else {
            store.interrupt_after(Some(ops)).unwrap();
        }
        let result = self.apply(i, p, session);
        let store = self.devices[i].store();
        store.limit_storage(None).unwrap();
        store.interrupt_after(None).unwrap();
        match result {
            Ok(again) => {
                self.count("storage fault armed, answer applied");
                again
            }
            Err(e) => {
                let what = if full { "storage full" } else { "statement interrupted" };
                assert!(is_storage(&e), "{}: {what} while applying gave {e:?}", self.devices[i].name);
                let after = Snapshot::take(self.devices[i].store());
                assert!(
                    before == after,
                    "{}: an answer that failed to apply ({what}: {e}) changed the store: {}",
                    self.devices[i].name,
                    before.difference(&after)
                );
                assert_eq!(*session, session_before, "a failed apply moved the session");
                self.count(if full { "storage full while applying" } else { "apply interrupted" });
                if self.rng.random_bool(0.5) {
                    self.apply(i, p, session).unwrap()
                } else {
                    self.devices[i].session = None;
                    false
                }
            }
        }
    }

    /// A whole sync over a clean network. Returns whether anything moved.
    pub(super) fn clean_sync(&mut self, i: usize) -> bool {
        let mut moved = false;
        let mut session = self.devices[i].store().sync_session().unwrap();
        for _ in 0..1000 {
            let edits_before = self.edits.len();
            let (req, sent) = self.devices[i].store().prepare_sync(&session).unwrap();
            let sent_at = self.devices[i].store().now();
            moved |= !req.push.is_empty() || !req.have.is_empty();
            let (status, body) =
                self.relay.sync(&self.devices[i].token, wire::encode(&DeviceMessage::Sync(req)));
            assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
            self.check_answer(i, &body, edits_before);
            let RelayMessage::Sync(resp) = wire::decode(&body).unwrap();
            moved |= !resp.changes.is_empty();
            if !self.apply(i, &Pending { body, edits_before, sent, sent_at }, &mut session).unwrap() {
                self.devices[i].store().prepare_all().unwrap();
                return moved;
            }
        }
        panic!("{}: a sync over a clean network did not finish", self.devices[i].name);
    }
}
