//! Consolidation (tổng hợp): the figures of a dispatch task summed over the units that
//! reported, as the issuing office adds them up for its own report.
//!
//! The rules a hand-made sum breaks and this one keeps:
//! - a column is one indicator in one measure and one scope: a cumulative figure ("tính đến
//!   nay") is never added to a figure of the period, nor VND to households;
//! - a total is as exact as what it adds: "gần 850 triệu" plus "hơn 20 triệu" is "khoảng", and
//!   the column says how many figures were approximate and which way;
//! - sums are checked: a total past `i64` is refused ([`Sum::TooLarge`]), never wrapped;
//! - the office chooses whom to count (accepted reports only, or every report submitted), and
//!   the table names every unit it did not count and why.
//!
//! [`consolidate`] is the whole rule over plain values; [`Store::consolidation`] gathers them
//! from the store, so it is current whenever it is asked: a late report or a returned one
//! changes the next answer.

use std::collections::HashMap;

use autosurgeon::Text;
use chrono::NaiveDate;
use giaoban_protocol::schema::{
    DocKind, DocumentSchema, Figure, FigureScope, Header, MeasureUnit, Qualifier, Report, ReportKind,
    Section, TaskState, Verdict,
};
use giaoban_protocol::{DocId, UnitId};

use rusqlite::{OptionalExtension, params};

use crate::Store;
use crate::domain::{TaskFilter, TaskScope};
use crate::error::{CoreError, Result};

/// Whose figures a consolidation counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Counting {
    /// Only reports the office accepted (đã duyệt).
    #[default]
    AcceptedOnly,
    /// Every report submitted and not returned, accepted or still awaiting review.
    AllSubmitted,
}

/// Where one addressed unit's report stands, for a consolidation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportStanding {
    /// Submitted and accepted by the office.
    Accepted,
    /// Submitted; the office has not judged this submission.
    AwaitingReview,
    /// The office returned it; it counts again once submitted again.
    Returned,
    /// The unit said the task does not apply to it.
    NotApplicable,
    /// Nothing submitted yet (a draft does not count).
    NotReported,
    /// The task says submitted, but the report itself has not reached this device yet.
    ReportNotHere,
    /// Accepted, but its figures were changed after the acceptance (by a device that had not
    /// seen it): what it says now was not accepted. Counted among all submitted; among
    /// accepted ones again once the office accepts it again.
    ChangedSinceAccepted,
}

impl ReportStanding {
    /// Whether a unit standing so is counted under `counting`.
    pub fn counted(self, counting: Counting) -> bool {
        match self {
            ReportStanding::Accepted => true,
            ReportStanding::AwaitingReview | ReportStanding::ChangedSinceAccepted => {
                counting == Counting::AllSubmitted
            }
            _ => false,
        }
    }

    /// In words, for a table's list of units not counted.
    pub fn vietnamese(self) -> &'static str {
        match self {
            ReportStanding::Accepted => "đã duyệt",
            ReportStanding::AwaitingReview => "đã báo cáo, chờ duyệt",
            ReportStanding::Returned => "bị trả lại, chờ báo cáo lại",
            ReportStanding::NotApplicable => "không áp dụng",
            ReportStanding::NotReported => "chưa báo cáo",
            ReportStanding::ReportNotHere => "đã báo cáo, báo cáo chưa về máy",
            ReportStanding::ChangedSinceAccepted => "số liệu đã đổi sau khi duyệt, cần duyệt lại",
        }
    }
}

/// One unit's part, as [`consolidate`] takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitReport {
    /// The unit.
    pub unit: UnitId,
    /// Where its report stands.
    pub standing: ReportStanding,
    /// Its report, if it wrote one.
    pub report: Option<DocId>,
    /// The report's figures (a report's own duplicates included: the first of an indicator
    /// counts, as [`Report::figure`] reads it).
    pub figures: Vec<Figure>,
}

/// What a column adds up: one indicator, in one measure, of one scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ColumnKey {
    /// Indicator code.
    pub indicator: String,
    /// What is counted.
    pub unit: MeasureUnit,
    /// Within the period, or cumulative.
    pub scope: FigureScope,
}

/// A column's total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sum {
    /// The sum, and how exact it is (see [`total_qualifier`]).
    Value {
        /// Whole units.
        value: i64,
        /// How exact.
        qualifier: Qualifier,
    },
    /// The figures add up past what a total can hold (±9.2 × 10¹⁸): refused, never wrapped.
    TooLarge,
}

/// One column of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct IndicatorTotal {
    /// What it adds up.
    pub key: ColumnKey,
    /// The total over the units counted.
    pub sum: Sum,
    /// How many counted units gave a figure for it.
    pub units: usize,
    /// Of those, how many were "gần" (just under), "hơn" (over) and "khoảng" (about).
    pub under: usize,
    /// See `under`.
    pub over: usize,
    /// See `under`.
    pub about: usize,
    /// For a cumulative column, the days its figures count from, each once, earliest first
    /// (several mean the units did not count from the same day); empty when none was said.
    pub since: Vec<NaiveDate>,
}

impl IndicatorTotal {
    /// The total as a reader writes it ("khoảng 870.000.000 đ"), or why there is none.
    pub fn total_words(&self) -> String {
        match self.sum {
            Sum::TooLarge => "quá lớn, không cộng được".into(),
            Sum::Value { value, qualifier } => crate::format_figure(&Figure {
                indicator: self.key.indicator.clone(),
                value,
                unit: self.key.unit,
                qualifier,
                scope: self.key.scope,
                note: String::new(),
                written: String::new(),
                since: None,
            }),
        }
    }

    /// "trong kỳ", "lũy kế từ 01/01/2025" (when every unit counted from that day) or "lũy kế".
    pub fn scope_words(&self) -> String {
        match (self.key.scope, self.since.as_slice()) {
            (FigureScope::Period, _) => "trong kỳ".into(),
            (FigureScope::Cumulative, [day]) => {
                format!("lũy kế từ {}", giaoban_vietnamese_text::format_date(*day))
            }
            (FigureScope::Cumulative, _) => "lũy kế".into(),
        }
    }
}

/// A counted unit's row: its figure in each column, if it gave one.
#[derive(Debug, Clone, PartialEq)]
pub struct CountedRow {
    /// The unit.
    pub unit: UnitId,
    /// Accepted or awaiting review.
    pub standing: ReportStanding,
    /// Its report.
    pub report: Option<DocId>,
    /// One per column, in the columns' order.
    pub cells: Vec<Option<Figure>>,
}

/// The consolidation of one task.
#[derive(Debug, Clone, PartialEq)]
pub struct Consolidation {
    /// Whom it counts.
    pub counting: Counting,
    /// The columns: the task's own indicators first, in its order, then the others reported,
    /// by code; within one indicator, by measure and scope.
    pub columns: Vec<IndicatorTotal>,
    /// The units counted, in the order given.
    pub rows: Vec<CountedRow>,
    /// The units not counted and why, in the order given.
    pub not_counted: Vec<(UnitId, ReportStanding)>,
    /// Indicators the task asks for that no counted unit gave.
    pub missing_indicators: Vec<String>,
}

/// How exact a sum of figures so qualified is: exact only if all are; "gần" if some are just
/// under and none over or about (the true total is then under the sum); "hơn" the other way;
/// otherwise "khoảng".
pub fn total_qualifier(qualifiers: impl IntoIterator<Item = Qualifier>) -> Qualifier {
    let (mut under, mut over, mut about) = (false, false, false);
    for q in qualifiers {
        match q {
            Qualifier::Exact => {}
            Qualifier::Under => under = true,
            Qualifier::Over => over = true,
            Qualifier::About => about = true,
        }
    }
    match (under, over, about) {
        (false, false, false) => Qualifier::Exact,
        (true, false, false) => Qualifier::Under,
        (false, true, false) => Qualifier::Over,
        _ => Qualifier::About,
    }
}

/// The consolidation of `units` (in the order a table shows them) under `counting`, with the
/// task's own `indicators` first.
pub fn consolidate(units: &[UnitReport], counting: Counting, indicators: &[String]) -> Consolidation {
    let mut keys: Vec<ColumnKey> = Vec::new();
    let mut counted: Vec<(&UnitReport, HashMap<ColumnKey, &Figure>)> = Vec::new();
    let mut not_counted = Vec::new();
    for u in units {
        if !u.standing.counted(counting) {
            not_counted.push((u.unit, u.standing));
            continue;
        }
        let mut cells = HashMap::new();
        for (i, f) in u.figures.iter().enumerate() {
            if u.figures[..i].iter().any(|g| g.indicator == f.indicator) {
                continue;
            }
            let key = ColumnKey { indicator: f.indicator.clone(), unit: f.unit, scope: f.scope };
            if !keys.contains(&key) {
                keys.push(key.clone());
            }
            cells.insert(key, f);
        }
        counted.push((u, cells));
    }
    let position = |k: &ColumnKey| indicators.iter().position(|i| *i == k.indicator).unwrap_or(usize::MAX);
    keys.sort_by(|a, b| {
        position(a).cmp(&position(b)).then_with(|| a.indicator.cmp(&b.indicator)).then_with(|| a.cmp(b))
    });
    let columns = keys
        .iter()
        .map(|key| {
            let figures: Vec<&Figure> =
                counted.iter().filter_map(|(_, cells)| cells.get(key).copied()).collect();
            // Added wide, so the order of the units cannot matter: only a total that does not
            // fit is refused.
            let wide: i128 = figures.iter().map(|f| i128::from(f.value)).sum();
            let sum = i64::try_from(wide).map_or(Sum::TooLarge, |value| Sum::Value {
                value,
                qualifier: total_qualifier(figures.iter().map(|f| f.qualifier)),
            });
            let count = |q: Qualifier| figures.iter().filter(|f| f.qualifier == q).count();
            let mut since: Vec<NaiveDate> = figures.iter().filter_map(|f| f.counts_since()).collect();
            since.sort_unstable();
            since.dedup();
            IndicatorTotal {
                key: key.clone(),
                sum,
                units: figures.len(),
                under: count(Qualifier::Under),
                over: count(Qualifier::Over),
                about: count(Qualifier::About),
                since,
            }
        })
        .collect();
    let rows = counted
        .iter()
        .map(|(u, cells)| CountedRow {
            unit: u.unit,
            standing: u.standing,
            report: u.report,
            cells: keys.iter().map(|k| cells.get(k).map(|f| (*f).clone())).collect(),
        })
        .collect();
    let missing_indicators =
        indicators.iter().filter(|i| !keys.iter().any(|k| k.indicator == **i)).cloned().collect();
    Consolidation { counting, columns, rows, not_counted, missing_indicators }
}

impl Store {
    /// The consolidation of task `ordinal` of `source` (a dispatch or meeting this device's
    /// unit issued) over every unit it addresses, in the order of their names. Asked again, it
    /// counts what has arrived since: a late report, a verdict, a report sent back.
    pub fn consolidation(
        &mut self,
        source: DocId,
        ordinal: u64,
        counting: Counting,
    ) -> Result<Consolidation> {
        let mut tasks = self.list_tasks(&TaskFilter {
            scope: TaskScope::IssuedByMe,
            source: Some(source),
            ..TaskFilter::default()
        })?;
        tasks.retain(|t| t.ordinal == ordinal);
        if tasks.is_empty() {
            return Err(CoreError::not_found("task", format!("{ordinal} of {source} issued by this unit")));
        }
        let indicators = match self.directive(source) {
            Ok(d) => d.task(ordinal).map(|t| t.indicators.clone()).unwrap_or_default(),
            Err(CoreError::WrongKind { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        let names = self.shared_unit_directory().ok();
        let name = |u: UnitId| {
            names.as_ref().and_then(|d| d.unit(u).map(|u| u.name.clone())).unwrap_or_else(|| u.to_string())
        };
        let c = giaoban_vietnamese_text::collator();
        tasks.sort_by(|a, b| c.compare(&name(a.assignee), &name(b.assignee)));
        let mut units = Vec::with_capacity(tasks.len());
        for t in &tasks {
            let mut standing = match (t.state, &t.review) {
                (Some(TaskState::Submitted), Some((Verdict::Accepted, _))) => ReportStanding::Accepted,
                (Some(TaskState::Submitted), Some((Verdict::Returned, _))) => ReportStanding::Returned,
                (Some(TaskState::Submitted), None) => ReportStanding::AwaitingReview,
                (Some(TaskState::NotApplicable), _) => ReportStanding::NotApplicable,
                _ => ReportStanding::NotReported,
            };
            let mut figures = Vec::new();
            if matches!(standing, ReportStanding::Accepted | ReportStanding::AwaitingReview) {
                match t.report.map(|r| self.indexed_report(r)).transpose()?.flatten() {
                    // Only what was submitted counts: never a draft.
                    Some(r) if r.submitted => {
                        if standing == ReportStanding::Accepted
                            && !r.figures_seen.is_empty()
                            && r.figures_seen != r.digest
                        {
                            standing = ReportStanding::ChangedSinceAccepted;
                        }
                        figures = r.figures;
                    }
                    Some(_) => standing = ReportStanding::NotReported,
                    // Not here yet, or of a newer version than this app reads: not counted,
                    // and the table says so.
                    None => standing = ReportStanding::ReportNotHere,
                }
            }
            units.push(UnitReport { unit: t.assignee, standing, report: t.report, figures });
        }
        Ok(consolidate(&units, counting, &indicators))
    }
}

/// A report as the derived tables hold it for a consolidation.
struct IndexedReport {
    submitted: bool,
    /// `Report::figures_digest` of its figures now.
    digest: String,
    /// What the standing acceptance saw of its figures; empty when none says.
    figures_seen: String,
    figures: Vec<Figure>,
}

impl Store {
    /// Report `id` as the derived tables hold it (kept with every change to it, so no
    /// document is rebuilt); `None` when it is not here or a newer app wrote it.
    fn indexed_report(&mut self, id: DocId) -> Result<Option<IndexedReport>> {
        // Prepares it first if it came in a download and waits.
        let n = match self.row(id) {
            Ok(row) => row.n,
            Err(CoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let key = id.to_bytes().to_vec();
        let facts: Option<(bool, String)> = self
            .conn()
            .prepare_cached(
                "SELECT f.submitted, f.digest FROM report_facts f WHERE f.doc = ?1
                   AND NOT EXISTS (SELECT 1 FROM sync_problems p WHERE p.doc = ?2 AND p.kind = 'newer_app')",
            )?
            .query_row(params![n, key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((submitted, digest)) = facts else { return Ok(None) };
        let figures_seen: String = self
            .conn()
            .prepare_cached(
                "SELECT figures_seen FROM report_reviews WHERE report = ?1 AND verdict = 'accepted'",
            )?
            .query_row(params![key], |r| r.get(0))
            .optional()?
            .unwrap_or_default();
        let mut stmt = self.conn().prepare_cached(
            "SELECT indicator, value, unit, qualifier, scope, note, written, since
               FROM report_figures WHERE doc = ?1 ORDER BY pos",
        )?;
        let rows = stmt.query_map(params![n], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, Option<String>>(7)?,
            ))
        })?;
        let mut figures = Vec::new();
        for row in rows {
            let (indicator, value, unit, qualifier, scope, note, written, since) = row?;
            use crate::store::figure_codes as code;
            let (Some(unit), Some(qualifier), Some(scope)) =
                (code::unit_of(&unit), code::qualifier_of(&qualifier), code::scope_of(&scope))
            else {
                return Err(CoreError::DamagedStore {
                    detail: format!("report {id}: a figure's row does not read"),
                });
            };
            let since = since.and_then(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok());
            figures.push(Figure { indicator, value, unit, qualifier, scope, note, written, since });
        }
        Ok(Some(IndexedReport { submitted, digest, figures_seen, figures }))
    }
}

/// Most characters of one unit's words a consolidated draft quotes.
const EXCERPT_CHARS: usize = 600;
/// Most characters of a consolidated draft's title (a report's line holds 1,000).
const TITLE_CHARS: usize = 900;

impl Store {
    /// Drafts this unit's own consolidated report on task `ordinal` of `source` from its
    /// consolidation: a figure per column with its total and how exact it is, a section
    /// summing up, one with each counted unit's words, and one naming the units not counted.
    /// It is owned by this unit, addressed to its parent when the tree has one, due by the
    /// dispatch's consolidation step, and a draft until submitted: staff edit it as any
    /// report. A total too large to hold is left out and said so in the summary.
    pub fn draft_consolidated_report(
        &mut self,
        source: DocId,
        ordinal: u64,
        counting: Counting,
    ) -> Result<DocId> {
        let c = self.consolidation(source, ordinal, counting)?;
        let d = self.directive(source)?;
        let task =
            d.task(ordinal).ok_or_else(|| CoreError::not_found("task", format!("{ordinal} of {source}")))?;
        let me = self.my_unit()?;
        let dir = self.shared_unit_directory().ok();
        let name = |u: UnitId| {
            dir.as_ref().and_then(|d| d.unit(u)).map(|u| u.name.clone()).unwrap_or_else(|| u.to_string())
        };
        let parent = dir.as_ref().and_then(|d| d.unit(me)).and_then(|u| u.parent);
        let audience: Vec<UnitId> = parent.into_iter().collect();

        let fmt = giaoban_vietnamese_text::format_number;
        let addressed = c.rows.len() + c.not_counted.len();
        let mut summary = vec![match counting {
            Counting::AcceptedOnly => format!(
                "Có {}/{} đơn vị có báo cáo đã duyệt được tổng hợp.",
                fmt(c.rows.len() as i64),
                fmt(addressed as i64)
            ),
            Counting::AllSubmitted => format!(
                "Có {}/{} đơn vị đã nộp báo cáo được tổng hợp (kể cả báo cáo đang chờ duyệt).",
                fmt(c.rows.len() as i64),
                fmt(addressed as i64)
            ),
        }];
        let mut figures = Vec::new();
        for col in &c.columns {
            match col.sum {
                Sum::Value { value, qualifier } => {
                    let figure = Figure {
                        indicator: col.key.indicator.clone(),
                        value,
                        unit: col.key.unit,
                        qualifier,
                        scope: col.key.scope,
                        note: format!("tổng hợp từ {} đơn vị", fmt(col.units as i64)),
                        written: String::new(),
                        since: match col.since.as_slice() {
                            [day] if col.key.scope == FigureScope::Cumulative => Some(*day),
                            _ => None,
                        },
                    };
                    summary.push(format!("- {}: {}.", col.key.indicator, crate::format_figure(&figure)));
                    // One figure per indicator in a report: a second measure or scope of the
                    // same indicator stays in the summary's words.
                    if !figures.iter().any(|f: &Figure| f.indicator == figure.indicator) {
                        figures.push(figure);
                    }
                }
                Sum::TooLarge => summary.push(format!(
                    "- {}: quá lớn, không cộng được; xem số liệu từng đơn vị.",
                    col.key.indicator
                )),
            }
        }
        let mut words = Vec::new();
        for r in &c.rows {
            let Some(id) = r.report else { continue };
            if let Ok(report) = self.get::<Report>(id) {
                let text: Vec<&str> = report
                    .sections
                    .iter()
                    .map(|s| s.body.as_str().trim())
                    .filter(|t| !t.is_empty())
                    .collect();
                if !text.is_empty() {
                    // An excerpt: the report itself is a click away, and a province of long
                    // reports must still make a draft a report can hold.
                    let all = text.join(" ");
                    let excerpt: String = all.chars().take(EXCERPT_CHARS).collect();
                    let more = if excerpt.len() < all.len() { " …" } else { "" };
                    words.push(format!("{}: {excerpt}{more}", name(r.unit)));
                }
            }
        }
        let not_counted: Vec<String> =
            c.not_counted.iter().map(|(u, s)| format!("- {}: {}.", name(*u), s.vietnamese())).collect();
        let section = |key: &str, heading: &str, body: String| Section {
            key: key.into(),
            heading: heading.into(),
            body: Text::with_value(body),
            edited_concurrently: false,
        };
        let mut sections = vec![section("ket_qua", "Kết quả tổng hợp", summary.join("\n"))];
        if !words.is_empty() {
            sections.push(section("tinh_hinh_don_vi", "Tình hình các đơn vị", words.join("\n")));
        }
        if !not_counted.is_empty() {
            sections.push(section("chua_tong_hop", "Đơn vị chưa được tổng hợp", not_counted.join("\n")));
        }
        let report = Report {
            header: Header::new(self.new_doc_id(), DocKind::Report, me, audience),
            title: giaoban_vietnamese_text::clean_input(&format!(
                "Báo cáo tổng hợp kết quả thực hiện nhiệm vụ {ordinal} – {}",
                d.title()
            ))
            .chars()
            .take(TITLE_CHARS)
            .collect(),
            kind: ReportKind::Thematic,
            period: None,
            directive: None,
            task_ordinal: None,
            sections,
            figures,
            submitted_at_device: None,
            attachments: Vec::new(),
            submitted_by: String::new(),
            due: task.consolidation.as_ref().map(|c| c.deadline.clone()),
        };
        let id = report.header.id;
        self.create(&report, false)?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn fig(indicator: &str, value: i64, qualifier: Qualifier, scope: FigureScope) -> Figure {
        Figure {
            indicator: indicator.into(),
            value,
            unit: MeasureUnit::Vnd,
            qualifier,
            scope,
            note: String::new(),
            written: String::new(),
            since: None,
        }
    }

    fn unit(n: u8, standing: ReportStanding, figures: Vec<Figure>) -> UnitReport {
        UnitReport { unit: UnitId::from_bytes([n; 16]), standing, report: None, figures }
    }

    #[test]
    fn gan_850_trieu_and_hon_20_trieu_is_about_870_trieu() {
        let units = [
            unit(
                1,
                ReportStanding::Accepted,
                vec![fig("quy_vnn", 850_000_000, Qualifier::Under, FigureScope::Period)],
            ),
            unit(
                2,
                ReportStanding::Accepted,
                vec![fig("quy_vnn", 20_000_000, Qualifier::Over, FigureScope::Period)],
            ),
        ];
        let c = consolidate(&units, Counting::AcceptedOnly, &[]);
        assert_eq!(c.columns[0].sum, Sum::Value { value: 870_000_000, qualifier: Qualifier::About });
        assert_eq!((c.columns[0].under, c.columns[0].over), (1, 1));
    }

    #[test]
    fn cumulative_and_period_figures_are_two_columns() {
        let units = [
            unit(
                1,
                ReportStanding::Accepted,
                vec![fig("quy_vnn", 6_400_000_000, Qualifier::Exact, FigureScope::Cumulative)],
            ),
            unit(
                2,
                ReportStanding::Accepted,
                vec![fig("quy_vnn", 850_000_000, Qualifier::Exact, FigureScope::Period)],
            ),
        ];
        let c = consolidate(&units, Counting::AcceptedOnly, &["quy_vnn".into()]);
        assert_eq!(c.columns.len(), 2);
        assert!(c.missing_indicators.is_empty());
    }

    #[test]
    fn a_sum_past_i64_is_refused() {
        let units = [
            unit(
                1,
                ReportStanding::Accepted,
                vec![fig("x", i64::MAX, Qualifier::Exact, FigureScope::Period)],
            ),
            unit(2, ReportStanding::Accepted, vec![fig("x", 1, Qualifier::Exact, FigureScope::Period)]),
        ];
        assert_eq!(consolidate(&units, Counting::AcceptedOnly, &[]).columns[0].sum, Sum::TooLarge);
    }
}
