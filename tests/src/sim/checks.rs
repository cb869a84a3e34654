//! What must hold once the network has healed and every device has synced.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{AutoCommit, ChangeHash, ObjType, ReadDoc, Value};
use giaoban_client_core::protocol::schema::TaskState;
use giaoban_client_core::protocol::{DocId, DocKind, UnitId};
use giaoban_client_core::{TaskFilter, TaskScope};

use super::Sim;
use super::device::Device;

pub(super) type RelayDocs = BTreeMap<DocId, (Vec<ChangeHash>, BTreeSet<UnitId>)>;

impl Sim {
    /// The device's copy of `doc`, as Automerge holds it.
    fn automerge_doc(d: &mut Device, doc: DocId) -> AutoCommit {
        AutoCommit::load(&d.store().save_document(doc).unwrap()).unwrap()
    }

    /// Every change a surviving device holds is on the relay; the device holds exactly the
    /// relay's version of everything its unit may read, has nothing left to push, and no
    /// document it could not apply.
    pub(super) fn check_replica(&mut self, relay_docs: &RelayDocs, i: usize) {
        let name = self.devices[i].name.clone();
        let unit = self.devices[i].unit;
        let mine: BTreeSet<DocId> = self.devices[i].store().document_ids(None).unwrap().into_iter().collect();
        for &id in &mine {
            let mut doc = Self::automerge_doc(&mut self.devices[i], id);
            for c in doc.get_changes(&[]) {
                if !self.relay.has_change(id, &c.hash()) {
                    let author = self.author_of(c.actor_id());
                    panic!(
                        "{name} holds change {} of {id} (seq {} by {author}) that the relay lacks",
                        c.hash(),
                        c.seq()
                    );
                }
            }
        }
        let readable: BTreeSet<DocId> =
            relay_docs.iter().filter(|(_, (_, r))| r.contains(&unit)).map(|(id, _)| *id).collect();
        assert_eq!(mine, readable, "{name} holds other documents than its unit may read on the relay");
        let d = &mut self.devices[i];
        for id in mine {
            let mut heads = d.store().heads(id).unwrap();
            heads.sort();
            assert_eq!(heads, relay_docs[&id].0, "{name}: document {id} differs from the relay's");
        }
        assert_eq!(d.store().pending_changes_count().unwrap(), 0, "{name} still has changes to push");
        let problems = d.store().sync_problems().unwrap();
        assert!(problems.is_empty(), "{name} has documents it could not apply: {problems:?}");
    }

    /// Which device wrote changes with this actor, for a failure message.
    fn author_of(&self, actor: &automerge::ActorId) -> String {
        for (k, d) in self.devices.iter().enumerate() {
            if super::device::device_id(self.seed, k).actor_id() == *actor {
                return if d.lost() { format!("{} (lost)", d.name) } else { d.name.clone() };
            }
        }
        "the relay or a deterministic first change".into()
    }

    /// Every edit by a surviving device is on the relay. An edit by a lost device is on the
    /// relay unless no surviving device holds it either (it is then gone with the device, and
    /// counted). Every inserted passage that survived is in its report exactly once on every
    /// reader; one that did not is nowhere.
    pub(super) fn check_edits(&mut self, relay_docs: &RelayDocs) {
        let mut gone = 0;
        for k in 0..self.edits.len() {
            let (device, doc) = (self.edits[k].device, self.edits[k].doc);
            let on_relay = self.edits[k].heads.iter().all(|h| self.relay.has_change(doc, h));
            if !on_relay {
                assert!(
                    self.devices[device].lost(),
                    "an edit by {} is not on the relay",
                    self.devices[device].name
                );
                // check_replica showed that no surviving device holds a change the relay lacks.
                gone += 1;
            }
            let Some((key, tag)) = self.edits[k].words.clone() else { continue };
            // A report gone wholly with a lost device is on no surviving device either.
            let Some((_, readers)) = relay_docs.get(&doc) else { continue };
            for i in 0..self.devices.len() {
                if self.devices[i].lost() || !readers.contains(&self.devices[i].unit) {
                    continue;
                }
                let report = self.devices[i].store().report(doc).unwrap();
                let body = report.sections.iter().find(|s| s.key == key).unwrap().body.as_str().to_owned();
                let want = usize::from(on_relay);
                assert_eq!(
                    body.matches(tag.as_str()).count(),
                    want,
                    "{}: {tag} in '{body}'",
                    self.devices[i].name
                );
            }
        }
        self.out.lost_edits = gone;
    }

    /// Every device that holds a response shows, for each task it marks done (submitted or not
    /// applicable), the relay's receipt time of the change that set that state, or of the
    /// change of its latest submission if that is later; no time for the others.
    pub(super) fn check_receipt_times(&mut self, relay_docs: &RelayDocs) {
        let responses: Vec<DocId> = relay_docs.keys().copied().collect();
        for i in 0..self.devices.len() {
            if self.devices[i].lost() {
                continue;
            }
            let name = self.devices[i].name.clone();
            let tasks = self.devices[i]
                .store()
                .list_tasks(&TaskFilter { scope: TaskScope::All, ..TaskFilter::default() })
                .unwrap();
            for &id in &responses {
                if !relay_docs[&id].1.contains(&self.devices[i].unit) {
                    continue;
                }
                let header = self.devices[i].store().header(id).unwrap();
                if header.kind != DocKind::Response {
                    continue;
                }
                let response =
                    self.devices[i].store().get::<giaoban_client_core::protocol::schema::Response>(id);
                let response = response.unwrap();
                let doc = Self::automerge_doc(&mut self.devices[i], id);
                let Some((Value::Object(ObjType::List), list)) = doc.get(automerge::ROOT, "tasks").unwrap()
                else {
                    panic!("response {id} has no task list");
                };
                for k in 0..doc.length(&list) {
                    let Some((Value::Object(ObjType::Map), task)) = doc.get(&list, k).unwrap() else {
                        continue;
                    };
                    let ordinal = match doc.get(&task, "ordinal").unwrap() {
                        Some((Value::Scalar(v), _)) => match v.as_ref() {
                            automerge::ScalarValue::Uint(u) => *u,
                            automerge::ScalarValue::Int(n) => *n as u64,
                            other => panic!("task ordinal {other:?}"),
                        },
                        other => panic!("task ordinal {other:?}"),
                    };
                    let (_, op) = doc.get(&task, "state").unwrap().expect("a task has a state");
                    let hash = doc.hash_for_opid(&op).expect("the state was set by a change");
                    let view = tasks
                        .iter()
                        .find(|t| {
                            t.source == response.directive
                                && t.ordinal == ordinal
                                && t.assignee == header.owner
                        })
                        .unwrap_or_else(|| panic!("{name}: task {ordinal} of response {id} is not listed"));
                    // A resubmission (the office returned the report) leaves the state as it
                    // was and counts from its own change: the latest submission's, if later.
                    let submissions = match doc.get(&task, "submissions").unwrap() {
                        Some((Value::Scalar(v), op)) => match v.as_ref() {
                            automerge::ScalarValue::Uint(u) => Some((*u, op)),
                            automerge::ScalarValue::Int(n) => Some((*n as u64, op)),
                            _ => None,
                        },
                        _ => None,
                    };
                    let want = if view.is_done() {
                        let at = self.relay.received_at(id, &hash).expect("the relay holds the change");
                        let submitted = match submissions {
                            Some((count, op)) if count > 0 && view.state == Some(TaskState::Submitted) => {
                                let h = doc.hash_for_opid(&op).expect("the count was set by a change");
                                Some(self.relay.received_at(id, &h).expect("the relay holds the change"))
                            }
                            _ => None,
                        };
                        Some(submitted.map_or(at, |s| s.max(at)))
                    } else {
                        None
                    };
                    assert_eq!(
                        view.received_at.map(|t| t.0),
                        want,
                        "{name}: receipt time of task {ordinal} ({:?}) of response {id}, set by change {hash}",
                        view.state
                    );
                }
            }
        }
    }
}
