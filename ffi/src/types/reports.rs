//! Reports: sections of prose, typed figures, the report as typed and as shown.

use giaoban_client_core as core;
use giaoban_client_core::protocol::schema::{
    Figure, FigureScope, MeasureUnit, Qualifier, Report, ReportKind,
};

use super::doc_id;
use crate::error::{GiaoBanError, Result};

/// What a figure counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FigureUnit {
    /// Whole Vietnamese đồng.
    Vnd,
    /// Houses (căn).
    Houses,
    /// Households (hộ).
    Households,
    /// People (người).
    People,
    /// Events, meetings (cuộc).
    Events,
    /// Anything else.
    Items,
}

impl From<FigureUnit> for MeasureUnit {
    fn from(u: FigureUnit) -> Self {
        match u {
            FigureUnit::Vnd => MeasureUnit::Vnd,
            FigureUnit::Houses => MeasureUnit::Houses,
            FigureUnit::Households => MeasureUnit::Households,
            FigureUnit::People => MeasureUnit::People,
            FigureUnit::Events => MeasureUnit::Events,
            FigureUnit::Items => MeasureUnit::Items,
        }
    }
}

impl From<MeasureUnit> for FigureUnit {
    fn from(u: MeasureUnit) -> Self {
        match u {
            MeasureUnit::Vnd => FigureUnit::Vnd,
            MeasureUnit::Houses => FigureUnit::Houses,
            MeasureUnit::Households => FigureUnit::Households,
            MeasureUnit::People => FigureUnit::People,
            MeasureUnit::Events => FigureUnit::Events,
            MeasureUnit::Items => FigureUnit::Items,
        }
    }
}

/// How exact a figure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FigureQualifier {
    /// As stated.
    Exact,
    /// "gần": just under.
    Under,
    /// "hơn": over.
    Over,
    /// "khoảng": about.
    About,
}

impl From<Qualifier> for FigureQualifier {
    fn from(q: Qualifier) -> Self {
        match q {
            Qualifier::Exact => FigureQualifier::Exact,
            Qualifier::Under => FigureQualifier::Under,
            Qualifier::Over => FigureQualifier::Over,
            Qualifier::About => FigureQualifier::About,
        }
    }
}

/// A figure as the cadre types it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FigureEntry {
    /// Indicator code ("quy_vnn_vnd").
    pub indicator: String,
    /// "gần 850 triệu", "hơn 20", "6,4 tỷ".
    pub amount: String,
    /// What is counted.
    pub unit: FigureUnit,
    /// Cumulative ("tính đến nay") rather than within the period.
    #[uniffi(default = false)]
    pub cumulative: bool,
    /// Free words.
    #[uniffi(default = "")]
    pub note: String,
    /// For a cumulative figure, the day it counts from ("01/01/2025"); "" when not said.
    #[uniffi(default = "")]
    pub since: String,
}

impl From<FigureEntry> for core::FigureInput {
    fn from(f: FigureEntry) -> Self {
        core::FigureInput {
            indicator: f.indicator,
            amount: f.amount,
            unit: f.unit.into(),
            scope: if f.cumulative { FigureScope::Cumulative } else { FigureScope::Period },
            note: f.note,
            since: f.since,
        }
    }
}

/// A stored figure.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FigureInfo {
    /// Indicator code.
    pub indicator: String,
    /// Whole units (VND for money).
    pub value: i64,
    /// What is counted.
    pub unit: FigureUnit,
    /// How exact.
    pub qualifier: FigureQualifier,
    /// Cumulative rather than within the period.
    pub cumulative: bool,
    /// "gần 850.000.000 đ".
    pub display: String,
    /// Free words.
    pub note: String,
    /// The amount as the report wrote it ("gần 850 triệu"); "" for figures set before it was
    /// kept.
    pub written: String,
    /// For a cumulative figure, the day it counts from (dd/mm/yyyy); "" when not said.
    pub since: String,
}

impl From<&Figure> for FigureInfo {
    fn from(f: &Figure) -> Self {
        FigureInfo {
            indicator: f.indicator.clone(),
            value: f.value,
            unit: f.unit.into(),
            qualifier: f.qualifier.into(),
            cumulative: f.scope == FigureScope::Cumulative,
            display: core::format_figure(f),
            note: f.note.clone(),
            written: f.written.clone(),
            since: f.counts_since().map(giaoban_vietnamese_text::format_date).unwrap_or_default(),
        }
    }
}

/// What kind of report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ReportType {
    /// Monthly.
    Monthly,
    /// Quarterly.
    Quarterly,
    /// Six months.
    HalfYear,
    /// Nine months.
    NineMonths,
    /// Annual.
    Annual,
    /// Thematic, e.g. answering a directive's task.
    Thematic,
    /// Ad hoc.
    AdHoc,
}

impl From<ReportType> for ReportKind {
    fn from(k: ReportType) -> Self {
        match k {
            ReportType::Monthly => ReportKind::Monthly,
            ReportType::Quarterly => ReportKind::Quarterly,
            ReportType::HalfYear => ReportKind::HalfYear,
            ReportType::NineMonths => ReportKind::NineMonths,
            ReportType::Annual => ReportKind::Annual,
            ReportType::Thematic => ReportKind::Thematic,
            ReportType::AdHoc => ReportKind::AdHoc,
        }
    }
}

impl From<ReportKind> for ReportType {
    fn from(k: ReportKind) -> Self {
        match k {
            ReportKind::Monthly => ReportType::Monthly,
            ReportKind::Quarterly => ReportType::Quarterly,
            ReportKind::HalfYear => ReportType::HalfYear,
            ReportKind::NineMonths => ReportType::NineMonths,
            ReportKind::Annual => ReportType::Annual,
            ReportKind::Thematic => ReportType::Thematic,
            ReportKind::AdHoc => ReportType::AdHoc,
        }
    }
}

/// A section of prose.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SectionText {
    /// Stable key ("ket_qua", "han_che", "phuong_huong", "kien_nghi").
    pub key: String,
    /// "Kết quả thực hiện".
    pub heading: String,
    /// The words.
    pub body: String,
    /// Two devices changed these words at once; the merge kept both, and a person should read
    /// the section through (editing it clears this). Ignored when writing a report.
    #[uniffi(default = false)]
    pub edited_on_two_devices: bool,
}

/// A new report.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReportInput {
    /// "Báo cáo kết quả rà soát các mô hình".
    pub title: String,
    /// What kind.
    pub kind: ReportType,
    /// "quý IV/2020", "tháng 01/2022"; empty for none.
    #[uniffi(default = "")]
    pub period: String,
    /// The directive whose task it answers.
    #[uniffi(default = None)]
    pub directive: Option<String>,
    /// That task's number.
    #[uniffi(default = None)]
    pub task_ordinal: Option<u64>,
    /// Sections in order.
    pub sections: Vec<SectionText>,
}

impl ReportInput {
    pub(crate) fn into_core(self) -> Result<core::NewReport> {
        let answers = match (self.directive, self.task_ordinal) {
            (Some(d), Some(n)) => Some((doc_id("directive", &d)?, n)),
            (None, None) => None,
            _ => {
                return Err(GiaoBanError::invalid(
                    "directive",
                    "a report answering a task needs both the directive and the task number",
                ));
            }
        };
        Ok(core::NewReport {
            title: self.title,
            kind: self.kind.into(),
            period: self.period,
            answers,
            audience: Vec::new(),
            sections: self
                .sections
                .into_iter()
                .map(|s| core::NewSection { key: s.key, heading: s.heading, body: s.body })
                .collect(),
        })
    }
}

/// A report as a detail screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReportDetail {
    /// Its id.
    pub id: String,
    /// The reporting unit.
    pub owner: String,
    /// Title.
    pub title: String,
    /// What kind.
    pub kind: ReportType,
    /// "quý IV/2020", if any.
    pub period: Option<String>,
    /// The directive it answers.
    pub directive: Option<String>,
    /// That task's number.
    pub task_ordinal: Option<u64>,
    /// Sections in order.
    pub sections: Vec<SectionText>,
    /// Figures.
    pub figures: Vec<FigureInfo>,
    /// Whether it was submitted.
    pub submitted: bool,
    /// Who submitted it, as they gave their name; "" when not said.
    pub submitted_by: String,
}

impl From<Report> for ReportDetail {
    fn from(r: Report) -> Self {
        ReportDetail {
            id: r.header.id.to_string(),
            owner: r.header.owner.to_string(),
            title: r.title,
            kind: r.kind.into(),
            period: r.period.map(|p| p.label),
            directive: r.directive.map(|d| d.to_string()),
            task_ordinal: r.task_ordinal,
            sections: r
                .sections
                .into_iter()
                .map(|s| SectionText {
                    key: s.key,
                    heading: s.heading,
                    body: s.body.as_str().to_string(),
                    edited_on_two_devices: s.edited_concurrently,
                })
                .collect(),
            // Two devices may add one indicator offline; the first one counts (`Report::figure`).
            figures: r
                .figures
                .iter()
                .enumerate()
                .filter(|(i, f)| r.figures[..*i].iter().all(|g| g.indicator != f.indicator))
                .map(|(_, f)| FigureInfo::from(f))
                .collect(),
            submitted: r.submitted_at_device.is_some(),
            submitted_by: r.submitted_by,
        }
    }
}
