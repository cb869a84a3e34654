//! A unit's assignment history: what happened to the tasks one directive or meeting gave one
//! unit, step by step with times, read from the documents' own histories (the source, the
//! unit's response, the issuer's reviews of its reports). Nothing here is stored twice.

use automerge::{AutoCommit, ChangeHash};
use giaoban_protocol::schema::{Directive, Response, Review, TaskState, Verdict};
use giaoban_protocol::{DeviceId, DocId, DocKind, Timestamp, UnitId};
use rusqlite::{OptionalExtension, params};

use crate::Store;
use crate::error::{CoreError, Result};

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignmentStep {
    /// The issuer issued the directive (or recorded the meeting).
    Issued,
    /// The issuer reminded the unit (đôn đốc), with these words.
    Reminded {
        /// The reminder's words.
        note: String,
    },
    /// Someone at the unit took the task on.
    Acknowledged,
    /// Work started, or its notes changed.
    InProgress,
    /// The unit submitted the task's report; `count` is 1 the first time, 2 after a return …
    Submitted {
        /// Which submission this is.
        count: u64,
    },
    /// The unit said the task does not apply to it, and why.
    NotApplicable {
        /// Its reason.
        reason: String,
    },
    /// The issuer accepted the report.
    Accepted {
        /// Its words, if any.
        note: String,
    },
    /// The issuer returned the report, saying what to fix.
    Returned {
        /// What to fix.
        note: String,
    },
}

/// One step of a unit's assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentEvent {
    /// The task it concerns; `None` for the whole directive (issued, reminded).
    pub ordinal: Option<u64>,
    /// What happened.
    pub step: AssignmentStep,
    /// When the relay received it (relay clock): the time that counts. `None` while the change
    /// has not reached the relay, or this device does not hold its receipt.
    pub received_at: Option<Timestamp>,
    /// The writing device's clock, to the second, moved onto the relay's clock by the
    /// difference this device last measured when there is no receipt: informational only.
    pub at_device: Timestamp,
    /// The device that wrote it, where its actor says.
    pub by: Option<DeviceId>,
}

impl AssignmentEvent {
    /// The time to order and show it by: the relay's receipt, else the writer's clock. Steps
    /// within the same second may show in either order.
    pub fn when(&self) -> Timestamp {
        self.received_at.unwrap_or(self.at_device)
    }
}

/// One change of a document, with the document as it stood right after it.
struct Step<T> {
    received_at: Option<Timestamp>,
    at_device: Timestamp,
    by: Option<DeviceId>,
    after: T,
}

impl Store {
    /// The history of what `source` (a directive or meeting) gave `unit`: issued, reminders to
    /// the unit, and for each task acknowledged, in progress, submitted (each time), not
    /// applicable, accepted or returned; oldest first. Only what this device holds: a response
    /// or review that has not reached it yet is missing, as is when the relay delivered the
    /// source to the unit's devices (the relay knows that).
    pub fn assignment_history(&mut self, source: DocId, unit: UnitId) -> Result<Vec<AssignmentEvent>> {
        let row = self.row(source)?;
        if !matches!(row.kind, DocKind::Directive | DocKind::Meeting) {
            return Err(CoreError::WrongKind { id: source, expected: DocKind::Directive, found: row.kind });
        }
        let mut out = Vec::new();
        let issuer = row.owner;
        if row.kind == DocKind::Directive {
            let steps: Vec<Step<Directive>> = self.steps(source)?;
            let mut reminders_seen = 0usize;
            for (i, s) in steps.into_iter().enumerate() {
                if i == 0 {
                    out.push(event(None, AssignmentStep::Issued, &s));
                }
                for r in s.after.reminders.iter().skip(reminders_seen) {
                    if r.units.contains(&unit) {
                        out.push(event(None, AssignmentStep::Reminded { note: r.note.clone() }, &s));
                    }
                }
                reminders_seen = reminders_seen.max(s.after.reminders.len());
            }
        } else if let Some(first) =
            self.steps::<giaoban_protocol::schema::Meeting>(source)?.into_iter().next()
        {
            out.push(event(None, AssignmentStep::Issued, &first));
        }

        let response = Response::id_for(source, unit);
        let mut reports: Vec<DocId> = Vec::new();
        if self.exists(response)? {
            let steps: Vec<Step<Response>> = self.steps(response)?;
            let mut before: std::collections::HashMap<u64, (TaskState, u64, String)> = Default::default();
            for s in &steps {
                for t in &s.after.tasks {
                    let now = (t.state, t.submissions, t.note.as_str().to_string());
                    let was = before.get(&t.ordinal).cloned();
                    let step = match (&was, t.state) {
                        (Some((st, _, _)), state) if *st == state && state != TaskState::Submitted => {
                            if state == TaskState::InProgress && was.as_ref().is_some_and(|w| w.2 != now.2) {
                                Some(AssignmentStep::InProgress)
                            } else {
                                None
                            }
                        }
                        (_, TaskState::Received) => None,
                        (_, TaskState::Acknowledged) => Some(AssignmentStep::Acknowledged),
                        (_, TaskState::InProgress) => Some(AssignmentStep::InProgress),
                        (_, TaskState::NotApplicable) => {
                            Some(AssignmentStep::NotApplicable { reason: now.2.clone() })
                        }
                        (Some((TaskState::Submitted, n, _)), TaskState::Submitted) if *n == t.submissions => {
                            None
                        }
                        (_, TaskState::Submitted) => {
                            Some(AssignmentStep::Submitted { count: t.submissions.max(1) })
                        }
                    };
                    if let Some(step) = step {
                        out.push(event(Some(t.ordinal), step, s));
                    }
                    if let Some(r) = t.report
                        && !reports.contains(&r)
                    {
                        reports.push(r);
                    }
                    before.insert(t.ordinal, now);
                }
            }
            // The task each report answers, as the latest response says.
            let answers: std::collections::HashMap<DocId, u64> = steps
                .last()
                .map(|s| s.after.tasks.iter().filter_map(|t| t.report.map(|r| (r, t.ordinal))).collect())
                .unwrap_or_default();
            for report in reports {
                let review = Review::id_for(report, issuer);
                if !self.exists(review)? {
                    continue;
                }
                let mut rounds_seen = 0usize;
                for s in self.steps::<Review>(review)? {
                    for round in s.after.rounds.iter().skip(rounds_seen) {
                        let step = match round.verdict {
                            Verdict::Accepted => AssignmentStep::Accepted { note: round.note.clone() },
                            Verdict::Returned => AssignmentStep::Returned { note: round.note.clone() },
                        };
                        out.push(event(answers.get(&report).copied(), step, &s));
                    }
                    rounds_seen = rounds_seen.max(s.after.rounds.len());
                }
            }
        }
        // A change this device holds no receipt for (its own, say) is placed by its writer's
        // clock moved onto the relay's, as this device last measured the difference.
        let offset = self.relay_now()?.0 - self.now().0;
        for e in &mut out {
            if e.received_at.is_none() {
                e.at_device = Timestamp(e.at_device.0.saturating_add(offset));
            }
        }
        out.sort_by_key(|e| e.when());
        Ok(out)
    }

    /// Each change of `id` in causal order with the document as it stood after it. A change
    /// after which the document does not read as `T` is skipped.
    fn steps<T: autosurgeon::Hydrate>(&mut self, id: DocId) -> Result<Vec<Step<T>>> {
        let n = self.row(id)?.n;
        let bytes = self.save_document(id)?;
        let mut doc =
            AutoCommit::load(&bytes).map_err(|e| CoreError::Corrupt { id, detail: e.to_string() })?;
        let changes: Vec<(ChangeHash, Vec<ChangeHash>, i64, Vec<u8>)> = doc
            .get_changes(&[])
            .iter()
            .map(|c| (c.hash(), c.deps().to_vec(), c.timestamp(), c.actor_id().to_bytes().to_vec()))
            .collect();
        let mut receipt =
            self.conn().prepare_cached("SELECT received_at FROM receipts WHERE doc = ?1 AND hash = ?2")?;
        // Changes come in causal order, so the heads after each are the previous heads without
        // its dependencies, plus it.
        let mut heads: Vec<ChangeHash> = Vec::new();
        let mut out = Vec::with_capacity(changes.len());
        for (hash, deps, secs, actor) in changes {
            heads.retain(|h| !deps.contains(h));
            heads.push(hash);
            let Ok(at) = doc.fork_at(&heads) else { continue };
            let Ok(after) = autosurgeon::hydrate::<_, T>(&at) else { continue };
            let received_at: Option<i64> =
                receipt.query_row(params![n, hash.0.to_vec()], |r| r.get(0)).optional()?;
            out.push(Step {
                received_at: received_at.map(Timestamp),
                at_device: Timestamp(secs.saturating_mul(1000)),
                by: DeviceId::from_slice(&actor[..actor.len().min(16)]).ok(),
                after,
            });
        }
        Ok(out)
    }
}

fn event<T>(ordinal: Option<u64>, step: AssignmentStep, s: &Step<T>) -> AssignmentEvent {
    AssignmentEvent { ordinal, step, received_at: s.received_at, at_device: s.at_device, by: s.by }
}
