//! Report: ordered text sections and typed figures.

use autosurgeon::{Hydrate, Reconcile, Text};
use chrono::NaiveDate;

use super::validate::{self, Invalid, LINE_MAX};
use super::{Attachment, DocKind, DocumentSchema, Header};
use crate::ids::DocId;
use crate::time::{Timestamp, iso_date, iso_date_added};

/// What kind of report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Reconcile, Hydrate)]
pub enum ReportKind {
    /// Monthly (báo cáo tháng).
    Monthly,
    /// Quarterly (quý).
    Quarterly,
    /// Six months (6 tháng).
    HalfYear,
    /// Nine months (9 tháng).
    NineMonths,
    /// Annual (năm).
    Annual,
    /// Thematic (chuyên đề), e.g. answering a directive's task.
    Thematic,
    /// Ad hoc (đột xuất).
    AdHoc,
}

/// The period a report covers.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Period {
    /// As written: "quý IV/2020".
    pub label: String,
    /// First day.
    #[autosurgeon(with = "iso_date")]
    pub from: NaiveDate,
    /// Last day (inclusive).
    #[autosurgeon(with = "iso_date")]
    pub to: NaiveDate,
}

/// One titled section of prose. Sections keep their order; the body merges by character.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Section {
    /// Stable key within the report ("ket_qua", "han_che", …), so concurrent inserts of
    /// different sections do not collide.
    #[key]
    pub key: String,
    /// "Kết quả thực hiện".
    pub heading: String,
    /// The words.
    pub body: Text,
    /// Two devices of the unit changed the words at the same time, neither seeing the other's
    /// edit, so the merged words may need a reader's eye. Set by a device after a sync merged
    /// such edits; cleared by the next edit of the words. Documents written before the field
    /// existed read as `false`.
    #[autosurgeon(missing = "Default::default")]
    pub edited_concurrently: bool,
}

/// How exact a figure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Reconcile, Hydrate)]
pub enum Qualifier {
    /// As stated.
    Exact,
    /// "gần": just under.
    Under,
    /// "hơn": over.
    Over,
    /// "khoảng": about.
    About,
}

/// Whether a figure counts within the period or since some earlier date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Reconcile, Hydrate)]
pub enum FigureScope {
    /// Within the report's period: sums across units.
    Period,
    /// Cumulative ("tính đến nay"): never summed across periods.
    Cumulative,
}

/// What a figure counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Reconcile, Hydrate)]
pub enum MeasureUnit {
    /// Whole Vietnamese đồng.
    Vnd,
    /// Houses (căn, nhà).
    Houses,
    /// Households (hộ).
    Households,
    /// People (người).
    People,
    /// Events, meetings, inspections (cuộc).
    Events,
    /// Anything else countable.
    Items,
}

impl MeasureUnit {
    /// The Vietnamese word shown after the number.
    pub fn vietnamese(self) -> &'static str {
        match self {
            MeasureUnit::Vnd => "đ",
            MeasureUnit::Houses => "căn",
            MeasureUnit::Households => "hộ",
            MeasureUnit::People => "người",
            MeasureUnit::Events => "cuộc",
            MeasureUnit::Items => "",
        }
    }
}

/// A typed figure: "gần 850 triệu đồng ủng hộ thiên tai".
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Figure {
    /// Indicator code from the catalogue ("quy_vnn_tiep_nhan_vnd").
    #[key]
    pub indicator: String,
    /// Whole units; VND has no minor unit.
    pub value: i64,
    /// What is counted.
    pub unit: MeasureUnit,
    /// How exact.
    pub qualifier: Qualifier,
    /// Period or cumulative.
    pub scope: FigureScope,
    /// Free words ("sửa chữa và xây mới").
    pub note: String,
    /// The amount as the report wrote it ("gần 850 triệu đồng"), kept beside the typed value.
    /// Figures set before it was kept read as "".
    #[autosurgeon(missing = "String::new")]
    pub written: String,
    /// For a cumulative figure, the first day it counts from ("tính từ ngày 01/01/2025");
    /// `None` when the report did not say. Read it through [`Figure::counts_since`], which
    /// ignores it on a figure of the period.
    #[autosurgeon(with = "iso_date_added")]
    pub since: Option<NaiveDate>,
}

impl Figure {
    /// The day a cumulative figure counts from, if the report said; `None` for a figure of the
    /// period.
    pub fn counts_since(&self) -> Option<NaiveDate> {
        match self.scope {
            FigureScope::Cumulative => self.since,
            FigureScope::Period => None,
        }
    }
}

/// A report by a unit. Owner: the reporting unit; audience: who it reports to.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Report {
    /// Id, kind, owner (the reporting unit) and audience.
    pub header: Header,
    /// "Báo cáo kết quả rà soát mô hình".
    pub title: String,
    /// What kind of report.
    pub kind: ReportKind,
    /// The period covered, if any.
    pub period: Option<Period>,
    /// The directive it answers, if any.
    pub directive: Option<DocId>,
    /// The task of that directive it answers, if any.
    pub task_ordinal: Option<u64>,
    /// The sections in order.
    pub sections: Vec<Section>,
    /// The figures.
    pub figures: Vec<Figure>,
    /// When the writing device submitted it (device clock: informational only). `None` = draft.
    pub submitted_at_device: Option<Timestamp>,
    /// Photos, signed scans, filled-in forms. Reports written before attachments read as
    /// having none.
    #[autosurgeon(missing = "Vec::new")]
    pub attachments: Vec<Attachment>,
    /// Who submitted it, as they gave their name ("Nguyễn Thị Hoa, Phó Chủ tịch"); "" when not
    /// said, and for reports submitted before it was kept.
    #[autosurgeon(missing = "String::new")]
    pub submitted_by: String,
    /// When it is due, for a report whose deadline another document set (an office's
    /// consolidated report, due by the dispatch's consolidation step). Reports written before
    /// it was kept read as having none.
    #[autosurgeon(missing = "Option::default")]
    pub due: Option<crate::Deadline>,
}

impl Report {
    /// A fingerprint of what the report's figures say (each indicator's value, measure,
    /// qualifier, scope and the day it counts from, in indicator order): the same on every
    /// replica holding the same figures, whatever order they were added in. A reviewer keeps
    /// it with an acceptance, so figures changed after it are told apart from those accepted.
    pub fn figures_digest(&self) -> String {
        use sha2::Digest;
        let mut lines: Vec<String> = self
            .figures
            .iter()
            .map(|f| {
                format!(
                    "{}\u{1f}{}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{}",
                    f.indicator,
                    f.value,
                    f.unit,
                    f.qualifier,
                    f.scope,
                    f.counts_since().map(|d| d.to_string()).unwrap_or_default()
                )
            })
            .collect();
        lines.sort();
        let digest = sha2::Sha256::digest(lines.join("\u{1e}").as_bytes());
        digest[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The figure for `indicator`. Two devices of one unit may add the same indicator while
    /// offline and the merge keeps both; every reader takes the first in document order (the
    /// same on every replica), and the next edit of that figure removes the others.
    pub fn figure(&self, indicator: &str) -> Option<&Figure> {
        self.figures.iter().find(|f| f.indicator == indicator)
    }
}

/// Longest indicator code: a code, not prose ("quy_vnn_tiep_nhan_vnd").
pub const INDICATOR_MAX: usize = 200;

/// Figures that may never be negative.
fn non_negative(unit: MeasureUnit) -> bool {
    !matches!(unit, MeasureUnit::Items)
}

impl DocumentSchema for Report {
    const KIND: DocKind = DocKind::Report;

    fn header(&self) -> &Header {
        &self.header
    }

    fn validate(&self) -> Result<(), Invalid> {
        validate::header(&self.header, DocKind::Report)?;
        validate::required_text("title", &self.title, LINE_MAX)?;
        if let Some(p) = &self.period {
            validate::text("period.label", &p.label, LINE_MAX)?;
            if p.to < p.from {
                return Err(Invalid::new("period", "the period ends before it begins"));
            }
        }
        if self.task_ordinal.is_some() && self.directive.is_none() {
            return Err(Invalid::new("task_ordinal", "a task number needs the directive it belongs to"));
        }
        // Two sections with one key, or two figures of one indicator, are not refused: two
        // devices of the unit may add the same one while offline, and a merge of valid edits must
        // stay valid (or the relay would refuse the second device's work forever). Both sections
        // are kept with their words; of two figures the first counts (`Report::figure`).
        for s in &self.sections {
            if s.key.trim().is_empty() {
                return Err(Invalid::new("sections", "a section needs a key"));
            }
            validate::text(&format!("sections[{}].heading", s.key), &s.heading, LINE_MAX)?;
            validate::merged_text(&format!("sections[{}].body", s.key), s.body.as_str())?;
        }
        for f in &self.figures {
            let field = format!("figures[{}]", f.indicator);
            if f.indicator.trim().is_empty() {
                return Err(Invalid::new("figures", "a figure needs an indicator"));
            }
            validate::text(&format!("{field}.indicator"), &f.indicator, INDICATOR_MAX)?;
            if f.value < 0 && non_negative(f.unit) {
                return Err(Invalid::new(
                    field,
                    format!("{} cannot be negative (got {})", f.unit.vietnamese(), f.value),
                ));
            }
            validate::text(&format!("{field}.note"), &f.note, LINE_MAX)?;
            validate::text(&format!("{field}.written"), &f.written, LINE_MAX)?;
            // A `since` beside a figure of the period is not refused: two devices changing the
            // scope and the day at once can merge into it. Readers take `counts_since`.
        }
        validate::text("submitted_by", &self.submitted_by, LINE_MAX)?;
        super::attachment::validate_list("attachments", &self.attachments)?;
        Ok(())
    }

    fn title(&self) -> String {
        self.title.clone()
    }

    fn search_text(&self) -> String {
        let mut s = format!("{}\n", self.title);
        if let Some(p) = &self.period {
            s.push_str(&p.label);
            s.push('\n');
        }
        for sec in &self.sections {
            s.push_str(&sec.heading);
            s.push('\n');
            s.push_str(sec.body.as_str());
            s.push('\n');
        }
        for f in &self.figures {
            s.push_str(&f.note);
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ids::UnitId;
    use automerge::{ObjType, ROOT, ReadDoc, transaction::Transactable};

    /// A report written before sections said whether they were edited concurrently still reads.
    #[test]
    fn a_section_without_the_concurrent_flag_reads_as_not_flagged() {
        let report = Report {
            header: Header::new(
                DocId::from_bytes([6; 16]),
                DocKind::Report,
                UnitId::from_bytes([2; 16]),
                Vec::new(),
            ),
            title: "Báo cáo công tác Mặt trận tháng 6/2018".into(),
            kind: ReportKind::Monthly,
            period: None,
            directive: None,
            task_ordinal: None,
            sections: vec![Section {
                key: "ket_qua".into(),
                heading: "Kết quả".into(),
                body: Text::with_value("Vận động Quỹ Vì người nghèo được 20 triệu đồng."),
                edited_concurrently: true,
            }],
            figures: Vec::new(),
            submitted_at_device: None,
            attachments: Vec::new(),
            submitted_by: String::new(),
            due: None,
        };
        let mut doc = automerge::AutoCommit::new();
        autosurgeon::reconcile(&mut doc, &report).unwrap();
        let (_, sections) = doc.get(ROOT, "sections").unwrap().unwrap();
        let (value, section) = doc.get(&sections, 0).unwrap().unwrap();
        assert_eq!(value, automerge::Value::Object(ObjType::Map));
        doc.delete(&section, "edited_concurrently").unwrap();
        let old: Report = autosurgeon::hydrate(&doc).unwrap();
        assert!(!old.sections[0].edited_concurrently);
        assert_eq!(old.sections[0].body.as_str(), "Vận động Quỹ Vì người nghèo được 20 triệu đồng.");
        assert!(old.validate().is_ok());
    }

    /// A report written before figures kept their words and their first day, and before
    /// reports kept who submitted them, reads with those empty.
    #[test]
    fn a_report_written_before_written_words_since_and_submitter_reads_with_them_empty() {
        let report = Report {
            header: Header::new(
                DocId::from_bytes([7; 16]),
                DocKind::Report,
                UnitId::from_bytes([2; 16]),
                Vec::new(),
            ),
            title: "Báo cáo kết quả Tháng cao điểm “Vì người nghèo”".into(),
            kind: ReportKind::Thematic,
            period: None,
            directive: None,
            task_ordinal: None,
            sections: Vec::new(),
            figures: vec![Figure {
                indicator: "quy_vnn_vnd".into(),
                value: 6_400_000_000,
                unit: MeasureUnit::Vnd,
                qualifier: Qualifier::Exact,
                scope: FigureScope::Cumulative,
                note: String::new(),
                written: "6,4 tỷ đồng".into(),
                since: NaiveDate::from_ymd_opt(2025, 1, 1),
            }],
            submitted_at_device: None,
            attachments: Vec::new(),
            submitted_by: "Nguyễn Thị Hoa".into(),
            due: None,
        };
        let mut doc = automerge::AutoCommit::new();
        autosurgeon::reconcile(&mut doc, &report).unwrap();
        let read: Report = autosurgeon::hydrate(&doc).unwrap();
        assert_eq!(read, report, "as written");
        let (_, figures) = doc.get(ROOT, "figures").unwrap().unwrap();
        let (_, figure) = doc.get(&figures, 0).unwrap().unwrap();
        doc.delete(&figure, "written").unwrap();
        doc.delete(&figure, "since").unwrap();
        doc.delete(ROOT, "submitted_by").unwrap();
        let old: Report = autosurgeon::hydrate(&doc).unwrap();
        assert_eq!((old.figures[0].written.as_str(), old.figures[0].since), ("", None));
        assert_eq!(old.submitted_by, "");
        assert!(old.validate().is_ok());
        // A day beside a figure of the period (two devices' edits merged so) is not refused,
        // and reads as none.
        let mut merged = report.clone();
        merged.figures[0].scope = FigureScope::Period;
        assert!(merged.validate().is_ok());
        assert_eq!(merged.figures[0].counts_since(), None);
    }
}
