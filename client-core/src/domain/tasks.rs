//! Tasks: listing them from the derived tables, and the assignee's answers.

use autosurgeon::Text;
use chrono::NaiveDate;
use giaoban_protocol::schema::{
    Directive, Header, Meeting, Response, TaskProgress, TaskState, Verdict, prose_input,
};
use giaoban_protocol::time::DAY_MS;
use giaoban_protocol::{Deadline, DeadlineStanding, DocId, DocKind, Timestamp, UnitId};
use giaoban_vietnamese_text::clean_multiline;
use rusqlite::params;

use crate::Store;
use crate::error::{CoreError, Result};

/// Whose tasks to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TaskScope {
    /// Tasks assigned to this device's unit.
    #[default]
    Mine,
    /// Tasks this device's unit issued to others (the office's tracking view).
    IssuedByMe,
    /// Tasks assigned to one unit.
    Unit(UnitId),
    /// Every task on this device.
    All,
}

/// Which states to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    /// Nobody at the unit has taken it on yet.
    NotAcknowledged,
    /// Exactly this state.
    Is(TaskState),
    /// Still needs work.
    Open,
    /// Submitted or not applicable.
    Done,
    /// Submitted and not yet judged by the issuer (including a report resubmitted after it
    /// was returned).
    AwaitingReview,
    /// The issuer accepted its report.
    Accepted,
    /// The issuer returned its report and it has not been submitted again since.
    Returned,
}

/// Which deadlines to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueFilter {
    /// Not done and past the cutoff.
    Overdue,
    /// Not done and due within this many days (overdue ones included).
    Within { days: u32 },
}

/// A task list query. The default lists this unit's tasks, soonest deadline first.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    /// Whose tasks.
    pub scope: TaskScope,
    /// Only the tasks of this directive or meeting.
    pub source: Option<DocId>,
    /// Only these states.
    pub state: Option<StateFilter>,
    /// Only these deadlines.
    pub due: Option<DueFilter>,
}

/// One task for one assignee unit, as a list shows it. `standing` is derived at query time.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskView {
    /// The directive or meeting it comes from.
    pub source: DocId,
    /// Directive or meeting.
    pub source_kind: DocKind,
    /// The source's title ("305/MTTQ-BTT V/v …").
    pub source_title: String,
    /// The task's number.
    pub ordinal: u64,
    /// Who must do it.
    pub assignee: UnitId,
    /// Who issued it.
    pub issuer: UnitId,
    /// Its words.
    pub text: String,
    /// Whether a report is required.
    pub report_required: bool,
    /// Its deadline, if any.
    pub deadline: Option<Deadline>,
    /// The assignee's state; `None` until the unit's response reaches this device.
    pub state: Option<TaskState>,
    /// The report answering it.
    pub report: Option<DocId>,
    /// The issuer's standing verdict on that report: `None` until it judges the latest
    /// submission.
    pub review: Option<(Verdict, String)>,
    /// How many times the unit has submitted it (more than 1 after a returned report was
    /// submitted again).
    pub submissions: u64,
    /// When the relay received the submission.
    pub received_at: Option<Timestamp>,
    /// Where it stands against its deadline; `None` without a deadline.
    pub standing: Option<DeadlineStanding>,
    /// The issuer's latest reminder to the assignee (đôn đốc): when (the issuing device's
    /// clock) and its words.
    pub reminded: Option<(Timestamp, String)>,
}

impl TaskView {
    /// Whether the assignee has finished with it.
    pub fn is_done(&self) -> bool {
        self.state.is_some_and(TaskState::is_done)
    }

    /// Whether someone at the unit has taken it on.
    pub fn is_acknowledged(&self) -> bool {
        self.state.is_some_and(|s| s != TaskState::Received)
    }
}

const DEFAULT_DUE_SOON_DAYS: u32 = 3;

impl Store {
    /// Lists tasks without loading any document: from the derived tables, with deadline
    /// standing computed against the store's clock in Asia/Ho_Chi_Minh.
    pub fn list_tasks(&self, filter: &TaskFilter) -> Result<Vec<TaskView>> {
        let (assignee, issuer) = match filter.scope {
            TaskScope::Mine => (Some(self.my_unit()?), None),
            TaskScope::IssuedByMe => (None, Some(self.my_unit()?)),
            TaskScope::Unit(u) => (Some(u), None),
            TaskScope::All => (None, None),
        };
        // Deadlines are judged by the relay's clock as this device last saw it, never its own.
        let now = self.relay_now()?;
        let window_days = match filter.due {
            Some(DueFilter::Within { days }) => days,
            _ => DEFAULT_DUE_SOON_DAYS,
        };
        let window = i64::from(window_days) * DAY_MS;
        // One statement per scope, so each can read its own index in display order.
        let scope_clause = match (assignee.is_some(), issuer.is_some()) {
            (true, _) => "INDEXED BY tasks_by_assignee WHERE assignee = ?1",
            (false, true) => "INDEXED BY tasks_by_issuer WHERE issuer = ?1",
            (false, false) => "INDEXED BY tasks_in_order WHERE ?1 IS NULL",
        };
        let source_clause = if filter.source.is_some() { "AND source_id = ?2" } else { "AND ?2 IS NULL" };
        let sql = format!(
            "SELECT source_id, source_kind, source_title, ordinal, assignee, issuer, text, report_required,
                    deadline_text, due_day, exclusive, state, report, received_at, verdict, review_note,
                    reminded_at, reminder_note, submissions
             FROM tasks {scope_clause} {source_clause}
             ORDER BY sort_key, source, ordinal, assignee"
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let scope_unit = assignee.or(issuer).map(|u| u.to_bytes().to_vec());
        let mut rows = stmt.query(params![scope_unit, filter.source.map(|d| d.to_bytes().to_vec())])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let id = |b: Vec<u8>| DocId::from_slice(&b).ok();
            let unit = |b: Vec<u8>| UnitId::from_slice(&b).ok();
            let source_kind = r.get::<_, String>(1)?.parse::<DocKind>().ok();
            let (Some(source), Some(assignee), Some(issuer), Some(source_kind)) =
                (id(r.get(0)?), unit(r.get(4)?), unit(r.get(5)?), source_kind)
            else {
                // A derived row, rebuilt from the documents on the next index rebuild; the
                // document itself reports its damage when opened.
                tracing::warn!("a damaged task row was left out of the list");
                continue;
            };
            // Rows written before the flag existed are "trước ngày": exclusive.
            let exclusive = r.get::<_, Option<bool>>(10)?.unwrap_or(true);
            let deadline = match (r.get::<_, Option<String>>(8)?, r.get::<_, Option<i32>>(9)?) {
                (Some(text), Some(day)) => NaiveDate::from_num_days_from_ce_opt(day)
                    .map(|due_date| Deadline { original_text: text, due_date, exclusive }),
                _ => None,
            };
            let state = r.get::<_, Option<String>>(11)?.and_then(|s| TaskState::parse(&s));
            let received_at = r.get::<_, Option<i64>>(13)?.map(Timestamp);
            let review = match (r.get::<_, Option<String>>(14)?, r.get::<_, Option<String>>(15)?) {
                (Some(v), note) => {
                    let verdict = if v == "accepted" { Verdict::Accepted } else { Verdict::Returned };
                    Some((verdict, note.unwrap_or_default()))
                }
                _ => None,
            };
            let done = state.is_some_and(TaskState::is_done);
            // Until the relay stamps receipt, a local submission is judged as if received now.
            let standing = deadline.as_ref().map(|d| {
                let received = if done { Some(received_at.unwrap_or(now)) } else { None };
                d.standing(now, received, window)
            });
            let view = TaskView {
                source,
                source_kind,
                source_title: r.get(2)?,
                ordinal: r.get::<_, i64>(3)? as u64,
                assignee,
                issuer,
                text: r.get(6)?,
                report_required: r.get(7)?,
                deadline,
                state,
                report: r.get::<_, Option<Vec<u8>>>(12)?.and_then(id),
                review,
                submissions: r.get::<_, Option<i64>>(18)?.unwrap_or(0).max(0) as u64,
                received_at,
                standing,
                reminded: r
                    .get::<_, Option<i64>>(16)?
                    .map(|at| -> rusqlite::Result<_> {
                        Ok((Timestamp(at), r.get::<_, Option<String>>(17)?.unwrap_or_default()))
                    })
                    .transpose()?,
            };
            if keep(&view, filter) {
                out.push(view);
            }
        }
        Ok(out)
    }

    /// Takes on task `ordinal` of `source` for this device's unit.
    pub fn acknowledge_task(&mut self, source: DocId, ordinal: u64) -> Result<()> {
        self.change_task(source, ordinal, |t| {
            if t.state == TaskState::Received {
                t.state = TaskState::Acknowledged;
            }
            Ok(())
        })
    }

    /// Records progress on a task: it is in progress, with these working notes.
    pub fn update_task_progress(&mut self, source: DocId, ordinal: u64, note: &str) -> Result<()> {
        let note = clean_multiline(note);
        self.change_task(source, ordinal, |t| {
            prose_input(&format!("tasks[{ordinal}].note"), t.note.as_str().chars().count(), &note)?;
            t.state = TaskState::InProgress;
            t.note.update(&note);
            Ok(())
        })
    }

    /// Marks a task as not applicable to this unit ("không phát sinh"), saying why.
    pub fn mark_task_not_applicable(&mut self, source: DocId, ordinal: u64, reason: &str) -> Result<()> {
        let reason = clean_multiline(reason);
        if reason.is_empty() {
            return Err(CoreError::invalid("reason", "say why the task does not apply to this unit"));
        }
        self.change_task(source, ordinal, |t| {
            if t.state == TaskState::Submitted {
                return Err(CoreError::invalid("state", "the task was already submitted"));
            }
            prose_input(&format!("tasks[{ordinal}].note"), t.note.as_str().chars().count(), &reason)?;
            t.state = TaskState::NotApplicable;
            t.note.update(&reason);
            Ok(())
        })
    }

    /// This unit's response to `source` (or, for a task addressed to a unit this unit
    /// succeeds, that unit's), if one exists on this device.
    pub fn response(&mut self, source: DocId) -> Result<Response> {
        let unit = self.answering_units(source)?[0];
        self.get(Response::id_for(source, unit))
    }

    /// The units whose tasks of `source` this device answers: of its own unit and the units it
    /// succeeds ([`Store::acting_for`]), those the directive or meeting addresses, its own
    /// first. Its own unit alone when none is addressed.
    fn answering_units(&mut self, source: DocId) -> Result<Vec<UnitId>> {
        let me = self.my_unit()?;
        let row = match self.row(source) {
            Ok(row) => row,
            Err(CoreError::NotFound { .. }) => return Ok(vec![me]),
            Err(e) => return Err(e),
        };
        let addressed: Vec<UnitId> = match row.kind {
            DocKind::Directive => self.get::<Directive>(source)?.header.audience,
            DocKind::Meeting => self
                .get::<Meeting>(source)?
                .conclusions
                .iter()
                .filter(|c| c.creates_task)
                .flat_map(|c| c.target_units.iter().copied())
                .collect(),
            _ => return Ok(vec![me]),
        };
        let units: Vec<UnitId> = self.acting_for()?.into_iter().filter(|u| addressed.contains(u)).collect();
        Ok(if units.is_empty() { vec![me] } else { units })
    }

    /// Whether `unit`'s task `ordinal` of `source` is done on this device.
    fn task_done(&mut self, source: DocId, unit: UnitId, ordinal: u64) -> Result<bool> {
        match self.get::<Response>(Response::id_for(source, unit)) {
            Ok(r) => Ok(r.task(ordinal).is_some_and(|t| t.state.is_done())),
            Err(e @ (CoreError::Storage(_) | CoreError::DamagedStore { .. })) => Err(e),
            Err(_) => Ok(false),
        }
    }

    /// Applies `edit` to this unit's progress entry for task `ordinal` of `source`.
    ///
    /// A successor answers the tasks addressed to the units it succeeds (a merged commune's
    /// open tasks): the edit is made, in one write, in the response of each addressed unit it
    /// writes for whose task is still open; a task a predecessor already finished is left as
    /// it was. With none open, the edit goes to the first (and says why it cannot be made, if
    /// it cannot).
    pub(crate) fn change_task(
        &mut self,
        source: DocId,
        ordinal: u64,
        mut edit: impl FnMut(&mut TaskProgress) -> Result<()>,
    ) -> Result<()> {
        let units = self.answering_units(source)?;
        let targets: Vec<UnitId> = if units.len() == 1 {
            units
        } else {
            let mut open = Vec::new();
            for u in &units {
                if !self.task_done(source, *u, ordinal)? {
                    open.push(*u);
                }
            }
            if open.is_empty() { vec![units[0]] } else { open }
        };
        let now = self.now();
        self.write(|s| {
            for unit in targets {
                let id = s.ensure_response(source, unit)?;
                s.modify::<Response, _>(id, |r| {
                    let t = r.tasks.iter_mut().find(|t| t.ordinal == ordinal).ok_or_else(|| {
                        CoreError::not_found("task", format!("{ordinal} of {source} for this unit"))
                    })?;
                    edit(t)?;
                    t.updated_at_device = now;
                    Ok(())
                })?;
            }
            Ok(())
        })
    }

    /// Creates `unit`'s response to `source` if it does not exist yet. Its id and first
    /// change are the same on every device that writes for the unit, so they never fork.
    fn ensure_response(&mut self, source: DocId, unit: UnitId) -> Result<DocId> {
        let id = Response::id_for(source, unit);
        if self.exists(id)? {
            return Ok(id);
        }
        let row = self.row(source)?;
        let (issuer, ordinals): (UnitId, Vec<u64>) = match row.kind {
            DocKind::Directive => {
                let d: Directive = self.get(source)?;
                if !d.header.audience.contains(&unit) {
                    return Err(CoreError::invalid(
                        "directive",
                        "this directive is not addressed to this unit",
                    ));
                }
                (d.header.owner, d.tasks.iter().map(|t| t.ordinal).collect())
            }
            DocKind::Meeting => {
                let m: Meeting = self.get(source)?;
                let mine: Vec<u64> = m
                    .conclusions
                    .iter()
                    .filter(|c| c.creates_task && c.target_units.contains(&unit))
                    .map(|c| c.ordinal)
                    .collect();
                if mine.is_empty() {
                    return Err(CoreError::invalid(
                        "meeting",
                        "no conclusion of this meeting is a task for this unit",
                    ));
                }
                (m.header.owner, mine)
            }
            found => {
                return Err(CoreError::WrongKind { id: source, expected: DocKind::Directive, found });
            }
        };
        let response = Response {
            header: Header::new(id, DocKind::Response, unit, vec![issuer]),
            directive: source,
            tasks: ordinals
                .into_iter()
                .map(|ordinal| TaskProgress {
                    ordinal,
                    state: TaskState::Received,
                    note: Text::with_value(""),
                    report: None,
                    updated_at_device: Timestamp(0),
                    submissions: 0,
                })
                .collect(),
        };
        self.create(&response, true)?;
        Ok(id)
    }
}

fn keep(v: &TaskView, f: &TaskFilter) -> bool {
    let state_ok = match f.state {
        None => true,
        Some(StateFilter::NotAcknowledged) => !v.is_acknowledged(),
        Some(StateFilter::Is(s)) => v.state.unwrap_or(TaskState::Received) == s,
        Some(StateFilter::Open) => !v.is_done(),
        Some(StateFilter::Done) => v.is_done(),
        Some(StateFilter::AwaitingReview) => v.state == Some(TaskState::Submitted) && v.review.is_none(),
        Some(StateFilter::Accepted) => {
            v.state == Some(TaskState::Submitted) && matches!(v.review, Some((Verdict::Accepted, _)))
        }
        Some(StateFilter::Returned) => {
            v.state == Some(TaskState::Submitted) && matches!(v.review, Some((Verdict::Returned, _)))
        }
    };
    let due_ok = match f.due {
        None => true,
        Some(DueFilter::Overdue) => v.standing == Some(DeadlineStanding::Overdue),
        Some(DueFilter::Within { .. }) => {
            matches!(v.standing, Some(DeadlineStanding::Overdue | DeadlineStanding::DueSoon))
        }
    };
    state_ok && due_ok
}
