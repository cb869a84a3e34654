//! Reports: sections of prose that merge by character, and typed figures.

use autosurgeon::Text;
use giaoban_protocol::schema::{
    Figure, FigureScope, Header, MeasureUnit, PROSE_MAX, Period, Qualifier, Report, ReportKind, Section,
    TaskState, prose_input,
};
use giaoban_protocol::{DocId, DocKind, UnitId};
use giaoban_vietnamese_text as vt;
use giaoban_vietnamese_text::{clean_input, clean_multiline};
use rusqlite::params;

use super::text_diff;
use crate::Store;
use crate::error::{CoreError, Result};

/// A section as typed.
#[derive(Debug, Clone, Default)]
pub struct NewSection {
    /// Stable key ("ket_qua", "han_che", "phuong_huong", "kien_nghi").
    pub key: String,
    /// "Kết quả thực hiện".
    pub heading: String,
    /// The words.
    pub body: String,
}

/// A report as typed.
#[derive(Debug, Clone)]
pub struct NewReport {
    /// "Báo cáo kết quả rà soát các mô hình".
    pub title: String,
    /// What kind.
    pub kind: ReportKind,
    /// "quý IV/2020", "tháng 6/2018", "6 tháng đầu năm 2022"; empty for none.
    pub period: String,
    /// The directive task it answers: (directive, task number).
    pub answers: Option<(DocId, u64)>,
    /// Who it goes to besides the answered directive's issuer.
    pub audience: Vec<UnitId>,
    /// Sections in order.
    pub sections: Vec<NewSection>,
}

/// A figure as typed: "gần 850 triệu", "hơn 20", "93".
#[derive(Debug, Clone)]
pub struct FigureInput {
    /// Indicator code ("ung_ho_thien_tai_vnd").
    pub indicator: String,
    /// The amount as a cadre writes it, qualifier included.
    pub amount: String,
    /// What is counted.
    pub unit: MeasureUnit,
    /// Within the period or cumulative.
    pub scope: FigureScope,
    /// Free words.
    pub note: String,
    /// For a cumulative figure, the day it counts from as written ("01/01/2025"); "" when the
    /// report does not say. Refused on a figure of the period.
    pub since: String,
}

impl Store {
    /// Writes a new report (a draft until submitted). Returns its id.
    pub fn create_report(&mut self, input: NewReport) -> Result<DocId> {
        let owner = self.my_unit()?;
        let mut audience = input.audience.clone();
        if let Some((directive, ordinal)) = input.answers {
            let d = self.directive(directive)?;
            if d.task(ordinal).is_none() {
                return Err(CoreError::not_found("task", format!("{ordinal} of directive {directive}")));
            }
            audience.push(d.header.owner);
        }
        audience.retain(|u| *u != owner);
        audience.sort();
        audience.dedup();
        let period_text = clean_input(&input.period);
        let period = if period_text.is_empty() {
            None
        } else {
            let p =
                vt::parse_period(&period_text).map_err(|e| CoreError::invalid("period", e.to_string()))?;
            Some(Period { label: period_text, from: p.from, to: p.to })
        };
        for section in &input.sections {
            prose_input(&format!("sections[{}].body", section.key), 0, &clean_multiline(&section.body))?;
        }
        let report = Report {
            header: Header::new(self.new_doc_id(), DocKind::Report, owner, audience),
            title: clean_input(&input.title),
            kind: input.kind,
            period,
            directive: input.answers.map(|a| a.0),
            task_ordinal: input.answers.map(|a| a.1),
            sections: input
                .sections
                .iter()
                .map(|s| Section {
                    key: clean_input(&s.key),
                    heading: clean_input(&s.heading),
                    body: Text::with_value(clean_multiline(&s.body)),
                    edited_concurrently: false,
                })
                .collect(),
            figures: Vec::new(),
            submitted_at_device: None,
            attachments: Vec::new(),
            submitted_by: String::new(),
            due: None,
        };
        let id = report.header.id;
        self.create(&report, false)?;
        if let Some((directive, ordinal)) = input.answers {
            self.change_task(directive, ordinal, |t| {
                // A task already answered keeps the report that was submitted, judged or
                // returned: a new draft becomes its answer only when it is submitted.
                if t.state != TaskState::Submitted {
                    t.report = Some(id);
                }
                if matches!(t.state, TaskState::Received | TaskState::Acknowledged) {
                    t.state = TaskState::InProgress;
                }
                Ok(())
            })?;
        }
        Ok(id)
    }

    /// The report `id`.
    pub fn report(&mut self, id: DocId) -> Result<Report> {
        self.get(id)
    }

    /// Adds a section at the end (or replaces its heading if the key exists).
    pub fn add_report_section(&mut self, id: DocId, key: &str, heading: &str) -> Result<()> {
        let key = clean_input(key);
        let heading = clean_input(heading);
        self.modify::<Report, _>(id, |r| {
            match r.sections.iter_mut().find(|s| s.key == key) {
                Some(s) => s.heading = heading,
                None => r.sections.push(Section {
                    key,
                    heading,
                    body: Text::with_value(""),
                    edited_concurrently: false,
                }),
            }
            Ok(())
        })
    }

    /// Sets a section's whole text. The difference is recorded as replacements of whole words
    /// and sentences (not letters), so when another cadre rewrote the same section
    /// concurrently, the merge keeps each one's sentences whole and readable, side by side.
    /// A cadre who sets the words has read them: the section is no longer marked as edited
    /// on two devices at once.
    pub fn set_report_section_text(&mut self, id: DocId, key: &str, text: &str) -> Result<()> {
        let text = clean_multiline(text);
        self.modify::<Report, _>(id, |r| {
            let s = section(r, key)?;
            prose_input(&format!("sections[{key}].body"), s.body.as_str().chars().count(), &text)?;
            text_diff::replace_text(&mut s.body, &text);
            s.edited_concurrently = false;
            Ok(())
        })
    }

    /// Edits a section at character positions, as a text editor reports keystrokes: delete
    /// `delete` characters at `at`, then insert `insert` there.
    ///
    /// The edit is normalised to NFC together with the letters around it, so a keyboard that
    /// sends decomposed keystrokes ("o", then U+0302, then U+0301) builds "ố" one mark at a time
    /// instead of being refused. The text can therefore come out shorter than the caller
    /// expects: the inserted marks join the letter before them. Returns where the caller's
    /// cursor belongs, in characters of the new text: just after what was inserted ("Muo" then
    /// U+0302 at 3 returns 3, the caret after "ô"). An editor should move its caret there and
    /// take the section's text as it now reads before its next keystroke.
    ///
    /// Like [`Store::set_report_section_text`], this clears the section's mark of having been
    /// edited on two devices at once.
    pub fn splice_report_section(
        &mut self,
        id: DocId,
        key: &str,
        at: usize,
        delete: usize,
        insert: &str,
    ) -> Result<usize> {
        self.splice_section(id, key, |current| {
            let edit = vt::nfc_splice(current, at, delete, insert).ok_or_else(|| {
                CoreError::invalid(
                    format!("sections[{key}]"),
                    format!(
                        "edit at {at}..{} is outside the text of {} characters",
                        at.saturating_add(delete),
                        current.chars().count()
                    ),
                )
            })?;
            let before = current.chars().count();
            let deleted = current[edit.start_byte..edit.start_byte + edit.delete_bytes].chars().count();
            let after = before - deleted + edit.insert.chars().count();
            if after > PROSE_MAX && after > before {
                return Err(CoreError::invalid(
                    format!("sections[{key}]"),
                    format!("would be {after} characters long; at most {PROSE_MAX} can be entered"),
                ));
            }
            Ok((edit.start_byte, edit.delete_bytes, edit.insert, edit.cursor))
        })
    }

    /// Marks the sections `keys` of report `report` as edited on two devices at once, for the
    /// sync to call after it applied remote changes that were concurrent with this device's
    /// edits of those sections (see `concurrently_edited_sections`). Sections already marked
    /// and keys the report does not have are left alone; when nothing changes, nothing is
    /// written. Only the owner unit's devices write a report, so this fails with
    /// [`CoreError::NotOwner`] for anyone else's: their own devices mark it.
    pub fn mark_sections_edited_concurrently(&mut self, report: DocId, keys: &[String]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        self.modify::<Report, _>(report, |r| {
            for s in r.sections.iter_mut().filter(|s| keys.contains(&s.key)) {
                s.edited_concurrently = true;
            }
            Ok(())
        })
    }

    /// Sets a figure from what a cadre typed ("gần 850 triệu"), replacing one of the same
    /// indicator.
    pub fn set_report_figure(&mut self, id: DocId, input: FigureInput) -> Result<()> {
        let indicator = clean_input(&input.indicator);
        let field = format!("figures[{indicator}]");
        let (qualifier, value) =
            vt::parse_figure(&input.amount).map_err(|e| CoreError::invalid(&field, e.to_string()))?;
        let since = match clean_input(&input.since) {
            s if s.is_empty() => None,
            _ if input.scope == FigureScope::Period => {
                return Err(CoreError::invalid(
                    format!("{field}.since"),
                    "only a cumulative figure counts from a day of its own",
                ));
            }
            s => Some(
                vt::parse_date(&s)
                    .map_err(|e| CoreError::invalid(format!("{field}.since"), e.to_string()))?,
            ),
        };
        let figure = Figure {
            indicator: indicator.clone(),
            value,
            unit: input.unit,
            qualifier: match qualifier {
                vt::Qualifier::Exact => Qualifier::Exact,
                vt::Qualifier::Under => Qualifier::Under,
                vt::Qualifier::Over => Qualifier::Over,
                vt::Qualifier::About => Qualifier::About,
            },
            scope: input.scope,
            note: clean_input(&input.note),
            written: clean_input(&input.amount),
            since,
        };
        self.refuse_if_accepted(id)?;
        self.modify::<Report, _>(id, |r| {
            // Another device of the unit may have added the same indicator concurrently: the
            // first one takes the new value and the others go.
            match r.figures.iter().position(|f| f.indicator == indicator) {
                Some(first) => {
                    r.figures[first] = figure;
                    let mut k = 0;
                    r.figures.retain(|f| {
                        k += 1;
                        k - 1 == first || f.indicator != indicator
                    });
                }
                None => r.figures.push(figure),
            }
            Ok(())
        })
    }

    /// Refuses to change the figures of a report the office accepted: the office's sums count
    /// what it accepted. A report the office returned, or has not judged, may still change.
    fn refuse_if_accepted(&mut self, id: DocId) -> Result<()> {
        let accepted: bool = self
            .conn()
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM tasks WHERE report = ?1 AND verdict = 'accepted')")?
            .query_row(params![id.to_bytes().to_vec()], |r| r.get(0))?;
        if accepted {
            return Err(CoreError::invalid(
                "figures",
                "the office accepted this report; its figures are what the office counted. Ask the office to return it before changing them",
            ));
        }
        Ok(())
    }

    /// Removes the figure of `indicator`.
    pub fn remove_report_figure(&mut self, id: DocId, indicator: &str) -> Result<()> {
        self.refuse_if_accepted(id)?;
        self.modify::<Report, _>(id, |r| {
            r.figures.retain(|f| f.indicator != indicator);
            Ok(())
        })
    }

    /// Submits the report; when it answers a directive task, that task becomes submitted.
    pub fn submit_report(&mut self, id: DocId) -> Result<()> {
        self.submit_report_by(id, "")
    }

    /// Submits the report as `person` gives their name ("Nguyễn Thị Hoa, Phó Chủ tịch"), which
    /// the report keeps; "" keeps the name an earlier submission gave.
    pub fn submit_report_by(&mut self, id: DocId, person: &str) -> Result<()> {
        // Too long a name is refused by the report's own check, with nothing written.
        let person = clean_input(person);
        // All of it or none: a report marked submitted whose task still shows open would tell
        // the office it was never sent.
        self.write(|s| {
            let now = s.now();
            let answers = s.modify::<Report, _>(id, |r| {
                if r.sections.iter().all(|s| s.body.as_str().trim().is_empty()) && r.figures.is_empty() {
                    return Err(CoreError::invalid(
                        "report",
                        "an empty report cannot be submitted; write a section or a figure",
                    ));
                }
                r.submitted_at_device = Some(now);
                if !person.is_empty() {
                    r.submitted_by = person.clone();
                }
                Ok(r.directive.zip(r.task_ordinal))
            })?;
            if let Some((directive, ordinal)) = answers {
                // A colleague's report can arrive before the dispatch it answers (after a relay
                // restore, say): submitting waits until the dispatch is here.
                if let Err(CoreError::NotFound { .. }) = s.header(directive) {
                    return Err(CoreError::not_found("dispatch this report answers", directive));
                }
                s.change_task(directive, ordinal, |t| {
                    t.state = TaskState::Submitted;
                    t.report = Some(id);
                    // A resubmission (after the office returned the report) is its own change, so
                    // its receipt time, not the first submission's, is what the deadline is judged by.
                    t.submissions += 1;
                    Ok(())
                })?;
            }
            Ok(())
        })
    }
}

fn section<'a>(r: &'a mut Report, key: &str) -> Result<&'a mut Section> {
    let id = r.header.id;
    r.sections
        .iter_mut()
        .find(|s| s.key == key)
        .ok_or_else(|| CoreError::not_found("report section", format!("'{key}' of report {id}")))
}

/// Formats a figure for display: "gần 850.000.000 đ", "hơn 20 người".
pub fn format_figure(f: &Figure) -> String {
    let q = match f.qualifier {
        Qualifier::Exact => "",
        Qualifier::Under => "gần ",
        Qualifier::Over => "hơn ",
        Qualifier::About => "khoảng ",
    };
    match f.unit {
        MeasureUnit::Vnd => format!("{q}{}", vt::format_vnd(f.value)),
        u => {
            let n = vt::format_vnd(f.value);
            let digits = n.trim_end_matches(" đ");
            format!("{q}{digits} {}", u.vietnamese()).trim_end().to_string()
        }
    }
}
