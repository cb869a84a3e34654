//! Derived tables: one refresh per document kind, run in the same transaction as the write.
//! Everything here can be rebuilt from the documents ([`super::Store::rebuild_indexes`]).

use automerge::AutoCommit;
use chrono::Datelike;
use giaoban_protocol::schema::{
    Directive, DocumentSchema, Meeting, Report, Response, Review, TaskState, UnitDirectory, Verdict,
    read_header,
};
use giaoban_protocol::{Deadline, DocId, DocKind, UnitId};
use giaoban_vietnamese_text::search_key;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{CoreError, Result};

/// A typed document that knows how to refresh its derived rows.
pub(crate) trait Indexable {
    fn refresh(&self, tx: &Connection, n: i64) -> Result<()>;
}

pub(crate) fn refresh_dyn(tx: &Connection, n: i64, value: &dyn Indexable) -> Result<()> {
    value.refresh(tx, n)
}

/// A document read into its typed value, by the kind in its header.
// One per document being prepared, moved once from the thread that built it: boxing the larger
// kinds would save nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Typed {
    Directive(Directive),
    Response(Response),
    Report(Report),
    Review(Review),
    Meeting(Meeting),
    UnitDirectory(UnitDirectory),
}

impl Typed {
    /// Reads `doc` by the kind in its header (no SQLite: any thread may do it).
    pub(crate) fn hydrate(id: DocId, doc: &AutoCommit) -> Result<Typed> {
        let schema_err = |e: autosurgeon::HydrateError| CoreError::Schema { id, detail: e.to_string() };
        let header = read_header(doc).map_err(schema_err)?;
        Ok(match header.kind {
            DocKind::Directive => Typed::Directive(autosurgeon::hydrate(doc).map_err(schema_err)?),
            DocKind::Response => Typed::Response(autosurgeon::hydrate(doc).map_err(schema_err)?),
            DocKind::Report => Typed::Report(autosurgeon::hydrate(doc).map_err(schema_err)?),
            DocKind::Review => Typed::Review(autosurgeon::hydrate(doc).map_err(schema_err)?),
            DocKind::Meeting => Typed::Meeting(autosurgeon::hydrate(doc).map_err(schema_err)?),
            DocKind::UnitDirectory => Typed::UnitDirectory(autosurgeon::hydrate(doc).map_err(schema_err)?),
        })
    }

    /// Refreshes the derived rows of document row `n` from this value.
    pub(crate) fn refresh(&self, tx: &Connection, n: i64) -> Result<()> {
        match self {
            Typed::Directive(v) => v.refresh(tx, n),
            Typed::Response(v) => v.refresh(tx, n),
            Typed::Report(v) => v.refresh(tx, n),
            Typed::Review(v) => v.refresh(tx, n),
            Typed::Meeting(v) => v.refresh(tx, n),
            Typed::UnitDirectory(v) => v.refresh(tx, n),
        }
    }
}

/// Hydrates `doc` by the kind in its header and refreshes its rows.
pub(crate) fn refresh_from_doc(tx: &Connection, n: i64, id: DocId, doc: &mut AutoCommit) -> Result<()> {
    Typed::hydrate(id, doc)?.refresh(tx, n)
}

/// The row number of document `id`, if it is here.
fn source_row(tx: &Connection, id: DocId) -> Result<Option<i64>> {
    use rusqlite::OptionalExtension;
    Ok(tx
        .prepare_cached("SELECT n FROM documents WHERE id = ?1")?
        .query_row(params![id.to_bytes().to_vec()], |r| r.get(0))
        .optional()?)
}

/// Title and folded search text, for every kind.
fn refresh_common<T: DocumentSchema>(tx: &Connection, n: i64, value: &T) -> Result<()> {
    tx.prepare_cached("DELETE FROM search_stale WHERE doc = ?1")?.execute(params![n])?;
    let title = value.title();
    tx.execute("UPDATE documents SET title = ?2 WHERE n = ?1", params![n, title])?;
    tx.execute("DELETE FROM search WHERE rowid = ?1", params![n])?;
    tx.execute(
        "INSERT INTO search(rowid, title, body) VALUES (?1, ?2, ?3)",
        params![n, search_key(&title), search_key(&value.search_text())],
    )?;
    Ok(())
}

/// One row of the `tasks` table.
struct TaskRow<'a> {
    source_id: DocId,
    source_kind: DocKind,
    source_title: &'a str,
    ordinal: u64,
    assignee: UnitId,
    issuer: UnitId,
    text: &'a str,
    report_required: bool,
    deadline: Option<&'a Deadline>,
}

fn insert_task(tx: &Connection, n: i64, t: TaskRow<'_>) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT OR REPLACE INTO tasks(source, ordinal, assignee, issuer, text, report_required,
                                      deadline_text, due_day, exclusive, sort_key,
                                      source_id, source_kind, source_title)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    stmt.execute(params![
        n,
        t.ordinal as i64,
        t.assignee.to_bytes().to_vec(),
        t.issuer.to_bytes().to_vec(),
        t.text,
        t.report_required,
        t.deadline.map(|d| d.original_text.as_str()),
        t.deadline.map(|d| d.due_date.num_days_from_ce()),
        t.deadline.map(|d| d.exclusive),
        t.deadline.map_or(i64::MAX, |d| d.cutoff().0),
        t.source_id.to_bytes().to_vec(),
        t.source_kind.as_str(),
        t.source_title,
    ])?;
    Ok(())
}

/// Copies the assignees' states (from responses) and the verdicts (from reviews) into the task
/// rows of source document `n`, or only those of `assignee`.
fn copy_states_into_tasks(tx: &Connection, n: i64, assignee: Option<UnitId>) -> Result<()> {
    let assignee = assignee.map(|u| u.to_bytes().to_vec());
    tx.prepare_cached(
        "UPDATE tasks SET (state, report, received_at, submissions) =
             (SELECT s.state, s.report, s.received_at, s.submissions FROM task_states s
              WHERE s.source = tasks.source_id AND s.ordinal = tasks.ordinal AND s.assignee = tasks.assignee)
         WHERE source = ?1 AND (?2 IS NULL OR assignee = ?2)",
    )?
    .execute(params![n, assignee])?;
    tx.prepare_cached(&format!(
        "UPDATE tasks SET (verdict, review_note) = ({STANDING_VERDICT})
         WHERE source = ?1 AND (?2 IS NULL OR assignee = ?2)"
    ))?
    .execute(params![n, assignee])?;
    Ok(())
}

/// The verdict that stands on a task row's report: the latest review round, unless the unit
/// submitted again after the submission it judged (a round from before rounds said which
/// submission they judged always stands).
const STANDING_VERDICT: &str = "SELECT rv.verdict, rv.note FROM report_reviews rv
     WHERE rv.report = tasks.report AND (rv.submission = 0 OR rv.submission >= COALESCE(tasks.submissions, 0))";

impl Indexable for Directive {
    fn refresh(&self, tx: &Connection, n: i64) -> Result<()> {
        refresh_common(tx, n, self)?;
        let title = self.title();
        tx.execute("DELETE FROM tasks WHERE source = ?1", params![n])?;
        for t in &self.tasks {
            for unit in &self.header.audience {
                insert_task(
                    tx,
                    n,
                    TaskRow {
                        source_id: self.header.id,
                        source_kind: DocKind::Directive,
                        source_title: &title,
                        ordinal: t.ordinal,
                        assignee: *unit,
                        issuer: self.header.owner,
                        text: &t.text,
                        report_required: t.report_required,
                        deadline: t.deadline.as_ref(),
                    },
                )?;
            }
        }
        refresh_file_refs(
            tx,
            n,
            self.attachments.iter().chain(self.tasks.iter().flat_map(|t| t.attachments.iter())),
        )?;
        // The latest reminder of each assignee (the list is oldest first).
        let mut remind = tx.prepare_cached(
            "UPDATE tasks SET reminded_at = ?3, reminder_note = ?4 WHERE source = ?1 AND assignee = ?2",
        )?;
        for r in &self.reminders {
            for u in &r.units {
                remind.execute(params![n, u.to_bytes().to_vec(), r.at_device.0, r.note])?;
            }
        }
        copy_states_into_tasks(tx, n, None)
    }
}

impl Indexable for Meeting {
    fn refresh(&self, tx: &Connection, n: i64) -> Result<()> {
        refresh_common(tx, n, self)?;
        let title = self.title();
        tx.execute("DELETE FROM tasks WHERE source = ?1", params![n])?;
        for c in self.conclusions.iter().filter(|c| c.creates_task) {
            for unit in &c.target_units {
                insert_task(
                    tx,
                    n,
                    TaskRow {
                        source_id: self.header.id,
                        source_kind: DocKind::Meeting,
                        source_title: &title,
                        ordinal: c.ordinal,
                        assignee: *unit,
                        issuer: self.header.owner,
                        text: &c.text,
                        report_required: true,
                        deadline: c.deadline.as_ref(),
                    },
                )?;
            }
        }
        copy_states_into_tasks(tx, n, None)
    }
}

impl Indexable for Response {
    fn refresh(&self, tx: &Connection, n: i64) -> Result<()> {
        refresh_common(tx, n, self)?;
        // Receipt times are filled in by `refresh_receipt_times`, from the changes that set each
        // state; a fresh row starts without one.
        tx.execute("DELETE FROM task_states WHERE response = ?1", params![n])?;
        let mut stmt = tx.prepare_cached(
            "INSERT OR REPLACE INTO task_states(source, ordinal, assignee, state, report, response, received_at, submissions)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7)",
        )?;
        for t in &self.tasks {
            stmt.execute(params![
                self.directive.to_bytes().to_vec(),
                t.ordinal as i64,
                self.header.owner.to_bytes().to_vec(),
                t.state.as_str(),
                t.report.map(|r| r.to_bytes().to_vec()),
                n,
                t.submissions.min(i64::MAX as u64) as i64,
            ])?;
        }
        if let Some(source) = source_row(tx, self.directive)? {
            copy_states_into_tasks(tx, source, Some(self.header.owner))?;
        }
        Ok(())
    }
}

/// For a response: sets each done task's receipt time to the relay's receipt time of the
/// change that set its current state (a resubmission counts from its own change), from the
/// receipts this device holds; none while that change has not reached the relay. Other kinds
/// are left alone.
pub(crate) fn refresh_receipt_times(tx: &Connection, n: i64, doc: &mut AutoCommit) -> Result<()> {
    use automerge::{ObjType, ReadDoc, Value};
    let header = match read_header(doc) {
        Ok(h) if h.kind == DocKind::Response => h,
        _ => return Ok(()),
    };
    let id = header.id;
    let am = |e: automerge::AutomergeError| CoreError::Schema { id, detail: e.to_string() };
    let Some((Value::Object(ObjType::List), tasks)) = doc.get(automerge::ROOT, "tasks").map_err(am)? else {
        return Ok(());
    };
    let mut receipt = tx.prepare_cached("SELECT received_at FROM receipts WHERE doc = ?1 AND hash = ?2")?;
    let mut set = tx.prepare_cached(
        "UPDATE task_states SET received_at = CASE WHEN state IN ('submitted', 'not_applicable') THEN ?3 END
         WHERE response = ?1 AND ordinal = ?2",
    )?;
    for i in 0..doc.length(&tasks) {
        let Some((Value::Object(ObjType::Map), task)) = doc.get(&tasks, i).map_err(am)? else { continue };
        let ordinal = match doc.get(&task, "ordinal").map_err(am)? {
            Some((Value::Scalar(v), _)) => match v.as_ref() {
                automerge::ScalarValue::Uint(u) => *u as i64,
                automerge::ScalarValue::Int(i) => *i,
                _ => continue,
            },
            _ => continue,
        };
        // The task's standing counts from the later of the change that set its state and, for
        // a submitted task, the change of its latest submission (a count of 0 is the response's
        // first change, no submission); if either has not reached the relay, it is pending.
        let Some((_, state_op)) = doc.get(&task, "state").map_err(am)? else { continue };
        let mut ops = vec![state_op];
        let state: Option<TaskState> = autosurgeon::hydrate_prop(&*doc, &task, "state").ok();
        let submissions: u64 = autosurgeon::hydrate_prop(&*doc, &task, "submissions").unwrap_or(0);
        if state == Some(TaskState::Submitted)
            && submissions > 0
            && let Some((_, submitted_op)) = doc.get(&task, "submissions").map_err(am)?
        {
            ops.push(submitted_op);
        }
        let mut at: Option<i64> = None;
        for op in &ops {
            let time: Option<i64> = match doc.hash_for_opid(op) {
                Some(hash) => {
                    use rusqlite::OptionalExtension;
                    receipt.query_row(params![n, hash.0.to_vec()], |r| r.get(0)).optional()?
                }
                None => None,
            };
            match time {
                Some(t) => at = Some(at.map_or(t, |a: i64| a.max(t))),
                None => {
                    at = None;
                    break;
                }
            }
        }
        set.execute(params![n, ordinal, at])?;
    }
    let directive: Option<Vec<u8>> = {
        use rusqlite::OptionalExtension;
        tx.prepare_cached("SELECT source FROM task_states WHERE response = ?1 LIMIT 1")?
            .query_row(params![n], |r| r.get(0))
            .optional()?
    };
    let directive = directive.map(|d| DocId::from_slice(&d)).transpose().map_err(|e| CoreError::Corrupt {
        id,
        detail: format!("a task state names a damaged source id: {e}"),
    })?;
    if let Some(directive) = directive
        && let Some(source) = source_row(tx, directive)?
    {
        copy_states_into_tasks(tx, source, Some(header.owner))?;
    }
    Ok(())
}

impl Indexable for Review {
    fn refresh(&self, tx: &Connection, n: i64) -> Result<()> {
        refresh_common(tx, n, self)?;
        tx.execute("DELETE FROM report_reviews WHERE review = ?1", params![n])?;
        let report = self.report.to_bytes().to_vec();
        // A unit does not judge its own report: a "review" by the report's owner is kept as a
        // document but gives no verdict (the relay refuses such reviews when it holds the report).
        let by_author: bool = tx
            .prepare_cached("SELECT owner = ?2 FROM documents WHERE id = ?1")?
            .query_row(params![report, self.header.owner.to_bytes().to_vec()], |r| r.get(0))
            .optional()?
            .unwrap_or(false);
        if let Some(latest) = self.latest().filter(|_| !by_author) {
            let verdict = match latest.verdict {
                Verdict::Accepted => "accepted",
                Verdict::Returned => "returned",
            };
            tx.execute(
                "INSERT OR REPLACE INTO report_reviews(report, verdict, note, review, submission, figures_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    report,
                    verdict,
                    latest.note,
                    n,
                    latest.submission.min(i64::MAX as u64) as i64,
                    latest.figures_seen
                ],
            )?;
        }
        tx.prepare_cached(&format!(
            "UPDATE tasks SET (verdict, review_note) = ({STANDING_VERDICT}) WHERE report = ?1"
        ))?
        .execute(params![report])?;
        Ok(())
    }
}

impl Indexable for Report {
    fn refresh(&self, tx: &Connection, n: i64) -> Result<()> {
        refresh_common(tx, n, self)?;
        tx.prepare_cached("DELETE FROM report_figures WHERE doc = ?1")?.execute(params![n])?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO report_figures(doc, pos, indicator, value, unit, qualifier, scope, note, written, since)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for (pos, f) in self.figures.iter().enumerate() {
            insert.execute(params![
                n,
                pos as i64,
                f.indicator,
                f.value,
                figure_codes::unit(f.unit),
                figure_codes::qualifier(f.qualifier),
                figure_codes::scope(f.scope),
                f.note,
                f.written,
                f.since.map(|d| d.to_string())
            ])?;
        }
        tx.prepare_cached("INSERT OR REPLACE INTO report_facts(doc, submitted, digest) VALUES (?1, ?2, ?3)")?
            .execute(params![n, self.submitted_at_device.is_some(), self.figures_digest()])?;
        refresh_file_refs(tx, n, self.attachments.iter())
    }
}

/// The codes the `report_figures` table keeps a figure's measure, qualifier and scope by.
pub(crate) mod figure_codes {
    use giaoban_protocol::schema::{FigureScope, MeasureUnit, Qualifier};

    pub(crate) fn unit(u: MeasureUnit) -> &'static str {
        match u {
            MeasureUnit::Vnd => "vnd",
            MeasureUnit::Houses => "houses",
            MeasureUnit::Households => "households",
            MeasureUnit::People => "people",
            MeasureUnit::Events => "events",
            MeasureUnit::Items => "items",
        }
    }

    pub(crate) fn unit_of(code: &str) -> Option<MeasureUnit> {
        [
            MeasureUnit::Vnd,
            MeasureUnit::Houses,
            MeasureUnit::Households,
            MeasureUnit::People,
            MeasureUnit::Events,
            MeasureUnit::Items,
        ]
        .into_iter()
        .find(|u| unit(*u) == code)
    }

    pub(crate) fn qualifier(q: Qualifier) -> &'static str {
        match q {
            Qualifier::Exact => "exact",
            Qualifier::Under => "under",
            Qualifier::Over => "over",
            Qualifier::About => "about",
        }
    }

    pub(crate) fn qualifier_of(code: &str) -> Option<Qualifier> {
        [Qualifier::Exact, Qualifier::Under, Qualifier::Over, Qualifier::About]
            .into_iter()
            .find(|q| qualifier(*q) == code)
    }

    pub(crate) fn scope(s: FigureScope) -> &'static str {
        match s {
            FigureScope::Period => "period",
            FigureScope::Cumulative => "cumulative",
        }
    }

    pub(crate) fn scope_of(code: &str) -> Option<FigureScope> {
        [FigureScope::Period, FigureScope::Cumulative].into_iter().find(|s| scope(*s) == code)
    }
}

/// Which files document `n` refers to; a file new here is recorded as not here yet.
fn refresh_file_refs<'a>(
    tx: &Connection,
    n: i64,
    attachments: impl Iterator<Item = &'a giaoban_protocol::schema::Attachment>,
) -> Result<()> {
    tx.prepare_cached("DELETE FROM file_refs WHERE doc = ?1")?.execute(params![n])?;
    let mut refer = tx.prepare_cached("INSERT OR IGNORE INTO file_refs(doc, hash) VALUES (?1, ?2)")?;
    let mut known =
        tx.prepare_cached("INSERT OR IGNORE INTO files(hash, size, added_at) VALUES (?1, ?2, ?3)")?;
    for a in attachments {
        refer.execute(params![n, a.hash.0.to_vec()])?;
        known.execute(params![a.hash.0.to_vec(), i64::try_from(a.size).unwrap_or(i64::MAX), a.added_at.0])?;
    }
    Ok(())
}

impl Indexable for UnitDirectory {
    fn refresh(&self, tx: &Connection, n: i64) -> Result<()> {
        refresh_common(tx, n, self)
    }
}
