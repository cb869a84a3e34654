//! The domain API a mobile app needs, as methods on [`crate::Store`]: issue directives, list
//! and answer tasks, write and submit reports, review them, record meetings, search.
//!
//! Every text input is normalised to NFC here, at the boundary; every date is parsed from the
//! forms cadres write (dd/mm/yyyy, "ngày 24 tháng 01 năm 2022").

mod assignment;
mod attachments;
pub(crate) mod concurrent_edits;
mod consolidation;
mod directives;
mod meetings;
mod reports;
mod reviews;
mod search;
mod tasks;
mod text_diff;
mod units;

pub use assignment::{AssignmentEvent, AssignmentStep};
pub use attachments::{
    AttachTo, AttachmentView, DEFAULT_PREFETCH_BYTES, FILE_GRACE, FileState, NewAttachment, Opened,
};
pub use consolidation::{
    ColumnKey, Consolidation, CountedRow, Counting, IndicatorTotal, ReportStanding, Sum, UnitReport,
    consolidate, total_qualifier,
};
pub use directives::{NewConsolidation, NewDeadline, NewDirective, NewTask};
pub use meetings::{DispatchedConclusion, NewConclusion, NewMeeting};
pub use reports::{FigureInput, NewReport, NewSection, format_figure};
pub use search::SearchHit;
pub use tasks::{DueFilter, StateFilter, TaskFilter, TaskScope, TaskView};
pub use units::unit_directory_from_reference;

use chrono::NaiveDate;
use giaoban_protocol::{Deadline, DocId};
use giaoban_vietnamese_text::{clean_input, parse_date, search_key};

use crate::Store;
use crate::error::{CoreError, Result};

impl Store {
    /// A fresh time-ordered document id.
    pub(crate) fn new_doc_id(&self) -> DocId {
        let ms = self.now().0.max(0) as u64;
        DocId::from_parts(ms, rand::random())
    }
}

/// Parses a date a cadre typed, naming the field on error.
pub(crate) fn date_field(field: &str, input: &str) -> Result<NaiveDate> {
    parse_date(input).map_err(|e| CoreError::invalid(field, e.to_string()))
}

/// Reads a deadline as a dispatch writes it ("trước ngày 08/02/2022", "chậm nhất ngày 11 tháng
/// 02 năm 2022"), as [`Store::issue_directive`] will: for a form to show the due date and
/// whether the day itself counts before anything is saved.
pub fn parse_deadline(d: &NewDeadline) -> Result<Deadline> {
    deadline_field("deadline", d)
}

/// Builds a deadline from the dispatch's words. The date comes from `due` when given, else from
/// the words themselves ("trước ngày 08/02/2022"). "trước" (before) makes it exclusive unless the
/// issuer says otherwise.
pub(crate) fn deadline_field(field: &str, d: &NewDeadline) -> Result<Deadline> {
    let text = clean_input(&d.text);
    let due_date = match d.due.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(due) => date_field(field, due)?,
        None => find_date(&text).ok_or_else(|| {
            CoreError::invalid(
                field,
                format!("'{text}' names no date; write it as dd/mm/yyyy, e.g. 'trước ngày 08/02/2022'"),
            )
        })?,
    };
    let exclusive = d.exclusive.unwrap_or_else(|| search_key(&text).contains("truoc"));
    let original_text = if text.is_empty() { giaoban_vietnamese_text::format_date(due_date) } else { text };
    Ok(Deadline { original_text, due_date, exclusive })
}

/// The first date written in `text`, either as a dd/mm/yyyy token or "ngày … tháng … năm …".
fn find_date(text: &str) -> Option<NaiveDate> {
    if let Ok(d) = parse_date(text) {
        return Some(d);
    }
    let key = search_key(text);
    if let Some(i) = key.find("ngay ") {
        // "ngày 24 tháng 01 năm 2022" spans 7 words.
        let words: Vec<&str> = text.split_whitespace().collect();
        let start = key[..i].split_whitespace().count();
        for len in (4..=7).rev() {
            if start + len <= words.len()
                && let Ok(d) = parse_date(&words[start..start + len].join(" "))
            {
                return Some(d);
            }
        }
    }
    text.split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_ascii_digit()))
        .find_map(|w| parse_date(w).ok())
}

/// NFC, trimmed, single-spaced; `None` when empty.
pub(crate) fn optional_line(s: Option<&str>) -> Option<String> {
    s.map(clean_input).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn deadline_from_words() {
        let d = deadline_field(
            "deadline",
            &NewDeadline { text: "trước ngày 08/02/2022".into(), due: None, exclusive: None },
        )
        .unwrap();
        assert_eq!(d.due_date, NaiveDate::from_ymd_opt(2022, 2, 8).unwrap());
        assert!(d.exclusive);

        let d = deadline_field(
            "deadline",
            &NewDeadline {
                text: "chậm nhất ngày 11 tháng 02 năm 2022".into(), due: None, exclusive: None
            },
        )
        .unwrap();
        assert_eq!(d.due_date, NaiveDate::from_ymd_opt(2022, 2, 11).unwrap());
        assert!(!d.exclusive);
    }

    #[test]
    fn deadline_that_is_not_a_date_is_refused() {
        let e = deadline_field(
            "tasks[3].deadline",
            &NewDeadline { text: "sớm nhất có thể".into(), due: None, exclusive: None },
        )
        .unwrap_err();
        assert!(e.to_string().contains("tasks[3].deadline"), "{e}");
        let e = deadline_field(
            "tasks[3].deadline",
            &NewDeadline { text: "trước ngày".into(), due: Some("31/02/2022".into()), exclusive: None },
        )
        .unwrap_err();
        assert!(matches!(e, CoreError::Invalid(_)), "{e}");
    }
}
