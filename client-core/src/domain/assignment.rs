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
    /// The time to show it by: the relay's receipt, else the writer's clock. The history is
    /// in this time's order, except that a step never comes before one it follows from (a
    /// verdict before the submission it judged, a step before the one before it in its record).
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
        // Where each event came from, for its place in the order (see `causal_order`).
        let mut from: Vec<Origin> = Vec::new();
        let issuer = row.owner;
        if row.kind == DocKind::Directive {
            let steps: Vec<Step<Directive>> = self.steps(source)?;
            let mut reminders_seen = 0usize;
            for (i, s) in steps.into_iter().enumerate() {
                if i == 0 {
                    out.push(event(None, AssignmentStep::Issued, &s));
                    from.push(Origin::Source);
                }
                for r in s.after.reminders.iter().skip(reminders_seen) {
                    if r.units.contains(&unit) {
                        out.push(event(None, AssignmentStep::Reminded { note: r.note.clone() }, &s));
                        from.push(Origin::Source);
                    }
                }
                reminders_seen = reminders_seen.max(s.after.reminders.len());
            }
        } else if let Some(first) =
            self.steps::<giaoban_protocol::schema::Meeting>(source)?.into_iter().next()
        {
            out.push(event(None, AssignmentStep::Issued, &first));
            from.push(Origin::Source);
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
                        from.push(Origin::Response);
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
            for (k, report) in reports.into_iter().enumerate() {
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
                        from.push(Origin::Review { report: k, submission: round.submission });
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
        Ok(causal_order(out, &from))
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

/// Which document an event was read from.
#[derive(Debug, Clone, Copy)]
enum Origin {
    /// The directive or meeting.
    Source,
    /// The unit's response.
    Response,
    /// The issuer's review of the `report`-th report, judging this submission (0: unknown).
    Review { report: usize, submission: u64 },
}

/// `events` (each document's in causal order) sorted by time, never placing a step before
/// one it follows from. Times come from two clocks at two precisions (the relay's receipts to
/// the millisecond, a writer's clock to the second), so within a second a verdict could read
/// as earlier than the submission it judges. Each event is ordered by the latest of its own
/// time and the times of what it follows: the step before it in its document, the issue of
/// the directive, and for a verdict the submission it judged. The times shown stay as read.
fn causal_order(events: Vec<AssignmentEvent>, from: &[Origin]) -> Vec<AssignmentEvent> {
    let mut keys: Vec<i64> = Vec::with_capacity(events.len());
    let mut issued: Option<i64> = None;
    let mut last_source: Option<i64> = None;
    let mut last_response: Option<i64> = None;
    let mut last_review: std::collections::HashMap<usize, i64> = Default::default();
    // (ordinal, submission count) → its key.
    let mut submitted: std::collections::HashMap<(Option<u64>, u64), i64> = Default::default();
    for (e, f) in events.iter().zip(from) {
        let base = issued.unwrap_or(i64::MIN);
        let key = match *f {
            Origin::Source => {
                let k = e.when().0.max(last_source.unwrap_or(i64::MIN));
                last_source = Some(k);
                issued = issued.or(Some(k));
                k
            }
            Origin::Response => {
                let k = e.when().0.max(last_response.unwrap_or(i64::MIN)).max(base);
                last_response = Some(k);
                if let AssignmentStep::Submitted { count } = e.step {
                    submitted.insert((e.ordinal, count), k);
                }
                k
            }
            Origin::Review { report, submission } => {
                let judged = submitted.get(&(e.ordinal, submission.max(1))).copied();
                let k = e
                    .when()
                    .0
                    .max(last_review.get(&report).copied().unwrap_or(i64::MIN))
                    .max(base)
                    .max(judged.unwrap_or(i64::MIN));
                last_review.insert(report, k);
                k
            }
        };
        keys.push(key);
    }
    let mut keyed: Vec<(i64, AssignmentEvent)> = keys.into_iter().zip(events).collect();
    // Stable: at equal keys the source's steps come first, then the response's, then verdicts.
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, e)| e).collect()
}

fn event<T>(ordinal: Option<u64>, step: AssignmentStep, s: &Step<T>) -> AssignmentEvent {
    AssignmentEvent { ordinal, step, received_at: s.received_at, at_device: s.at_device, by: s.by }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(step: AssignmentStep, ordinal: Option<u64>, received: Option<i64>, device: i64) -> AssignmentEvent {
        AssignmentEvent {
            ordinal,
            step,
            received_at: received.map(Timestamp),
            at_device: Timestamp(device),
            by: None,
        }
    }

    #[test]
    fn a_verdict_written_in_the_same_second_never_precedes_what_it_judged() {
        // The office's own verdict carries its clock to the second (10:00:05.000); the ward's
        // steps carry the relay's receipts to the millisecond, later within that second.
        let events = vec![
            at(AssignmentStep::Issued, None, None, 5_000),
            at(AssignmentStep::Acknowledged, Some(1), Some(5_300), 5_000),
            at(AssignmentStep::Submitted { count: 1 }, Some(1), Some(5_700), 5_000),
            at(AssignmentStep::Returned { note: "Bổ sung ảnh.".into() }, Some(1), None, 5_000),
            at(AssignmentStep::Submitted { count: 2 }, Some(1), Some(5_900), 5_000),
            at(AssignmentStep::Accepted { note: String::new() }, Some(1), None, 5_000),
        ];
        let from = [
            Origin::Source,
            Origin::Response,
            Origin::Response,
            Origin::Review { report: 0, submission: 1 },
            Origin::Response,
            Origin::Review { report: 0, submission: 2 },
        ];
        let steps: Vec<AssignmentStep> = causal_order(events, &from).into_iter().map(|e| e.step).collect();
        assert_eq!(
            steps,
            vec![
                AssignmentStep::Issued,
                AssignmentStep::Acknowledged,
                AssignmentStep::Submitted { count: 1 },
                AssignmentStep::Returned { note: "Bổ sung ảnh.".into() },
                AssignmentStep::Submitted { count: 2 },
                AssignmentStep::Accepted { note: String::new() },
            ]
        );
    }

    #[test]
    fn steps_far_apart_keep_their_times_order_across_records() {
        // A reminder sent after the ward acknowledged shows after it.
        let events = vec![
            at(AssignmentStep::Issued, None, Some(1_000), 1_000),
            at(AssignmentStep::Reminded { note: "Khẩn trương.".into() }, None, Some(90_000), 90_000),
            at(AssignmentStep::Acknowledged, Some(1), Some(50_000), 50_000),
        ];
        let from = [Origin::Source, Origin::Source, Origin::Response];
        let steps: Vec<AssignmentStep> = causal_order(events, &from).into_iter().map(|e| e.step).collect();
        assert_eq!(
            steps,
            vec![
                AssignmentStep::Issued,
                AssignmentStep::Acknowledged,
                AssignmentStep::Reminded { note: "Khẩn trương.".into() },
            ]
        );
    }
}
