//! A task's consolidation (tổng hợp), for an office's phone: columns with their totals, the
//! units counted and those not counted, with why.

use giaoban_client_core as core;
use giaoban_client_core::protocol::schema::{FigureScope, Qualifier};

use super::{FigureInfo, FigureQualifier, FigureUnit};

/// Where an addressed unit's report stands, for a consolidation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ReportStanding {
    /// Accepted by the office.
    Accepted,
    /// Submitted, awaiting the office's verdict.
    AwaitingReview,
    /// Returned by the office; counted again once submitted again.
    Returned,
    /// The task does not apply to the unit.
    NotApplicable,
    /// Nothing submitted yet.
    NotReported,
    /// Submitted, but the report has not reached this device yet.
    ReportNotHere,
    /// Accepted, but its figures changed after the acceptance: to be accepted again.
    ChangedSinceAccepted,
}

impl From<core::ReportStanding> for ReportStanding {
    fn from(s: core::ReportStanding) -> Self {
        match s {
            core::ReportStanding::Accepted => ReportStanding::Accepted,
            core::ReportStanding::AwaitingReview => ReportStanding::AwaitingReview,
            core::ReportStanding::Returned => ReportStanding::Returned,
            core::ReportStanding::NotApplicable => ReportStanding::NotApplicable,
            core::ReportStanding::NotReported => ReportStanding::NotReported,
            core::ReportStanding::ReportNotHere => ReportStanding::ReportNotHere,
            core::ReportStanding::ChangedSinceAccepted => ReportStanding::ChangedSinceAccepted,
        }
    }
}

/// One column: an indicator in one measure and one scope, and its total.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConsolidatedColumn {
    /// Indicator code.
    pub indicator: String,
    /// What is counted.
    pub unit: FigureUnit,
    /// Cumulative rather than within the period.
    pub cumulative: bool,
    /// The total; `None` when it is too large to hold (refused, never wrapped).
    pub total: Option<i64>,
    /// How exact the total is.
    pub qualifier: FigureQualifier,
    /// "khoảng 870.000.000 đ", or "quá lớn, không cộng được".
    pub display: String,
    /// Counted units that gave a figure for it.
    pub units: u32,
    /// Of those, how many were "gần".
    pub under: u32,
    /// … "hơn".
    pub over: u32,
    /// … "khoảng".
    pub about: u32,
    /// For a cumulative column, the days its figures count from (dd/mm/yyyy), each once.
    pub since: Vec<String>,
}

/// A counted unit's row.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConsolidatedRow {
    /// The unit.
    pub unit: String,
    /// Accepted or awaiting review.
    pub standing: ReportStanding,
    /// Its report.
    pub report: Option<String>,
    /// Its figure in each column, in the columns' order; `None` where it gave none.
    pub cells: Vec<Option<FigureInfo>>,
}

/// A unit not counted, and why.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NotCounted {
    /// The unit.
    pub unit: String,
    /// Why.
    pub standing: ReportStanding,
    /// Why, in words ("bị trả lại, chờ báo cáo lại").
    pub words: String,
}

/// A task's consolidation over the units it addressed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConsolidationView {
    /// Whether only accepted reports are counted (otherwise all submitted; never returned).
    pub accepted_only: bool,
    /// The columns with their totals.
    pub columns: Vec<ConsolidatedColumn>,
    /// The units counted, by name.
    pub rows: Vec<ConsolidatedRow>,
    /// The units not counted and why, by name.
    pub not_counted: Vec<NotCounted>,
    /// Indicators the task asks for that no counted unit gave.
    pub missing_indicators: Vec<String>,
}

fn count(x: usize) -> u32 {
    u32::try_from(x).unwrap_or(u32::MAX)
}

impl From<&core::IndicatorTotal> for ConsolidatedColumn {
    fn from(col: &core::IndicatorTotal) -> Self {
        let (total, qualifier) = match col.sum {
            core::Sum::Value { value, qualifier } => (Some(value), qualifier),
            core::Sum::TooLarge => (None, Qualifier::About),
        };
        let display = col.total_words();
        ConsolidatedColumn {
            indicator: col.key.indicator.clone(),
            unit: col.key.unit.into(),
            cumulative: col.key.scope == FigureScope::Cumulative,
            total,
            qualifier: qualifier.into(),
            display,
            units: count(col.units),
            under: count(col.under),
            over: count(col.over),
            about: count(col.about),
            since: col.since.iter().map(|d| giaoban_vietnamese_text::format_date(*d)).collect(),
        }
    }
}

impl From<core::Consolidation> for ConsolidationView {
    fn from(c: core::Consolidation) -> Self {
        ConsolidationView {
            accepted_only: c.counting == core::Counting::AcceptedOnly,
            columns: c.columns.iter().map(ConsolidatedColumn::from).collect(),
            rows: c
                .rows
                .iter()
                .map(|r| ConsolidatedRow {
                    unit: r.unit.to_string(),
                    standing: r.standing.into(),
                    report: r.report.map(|d| d.to_string()),
                    cells: r.cells.iter().map(|f| f.as_ref().map(FigureInfo::from)).collect(),
                })
                .collect(),
            not_counted: c
                .not_counted
                .iter()
                .map(|(u, s)| NotCounted {
                    unit: u.to_string(),
                    standing: (*s).into(),
                    words: s.vietnamese().into(),
                })
                .collect(),
            missing_indicators: c.missing_indicators,
        }
    }
}
