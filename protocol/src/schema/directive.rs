//! Directive: an official dispatch (công văn) with numbered tasks.

use std::collections::HashSet;

use autosurgeon::{Hydrate, Reconcile, Text};
use chrono::NaiveDate;

use super::validate::{self, Invalid, LINE_MAX, PROSE_MAX};
use super::{Attachment, DocKind, DocumentSchema, Header};
use crate::time::{Deadline, iso_date};

/// How a document number is formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Reconcile, Hydrate)]
pub enum NumberScheme {
    /// "305/MTTQ-BTT": administrative numbering, restarting each year.
    AdminYearly,
    /// "161-TB/TU": Party numbering, per committee term.
    PartyTerm,
    /// "97/2025/QH15": legal documents carrying their year.
    Legal,
    /// Anything else; only the raw text is meaningful.
    Other,
}

/// A document's number and symbol: the raw text plus its parsed parts.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct DocumentNumber {
    /// As printed: "305/MTTQ-BTT".
    pub raw: String,
    /// The serial number: 305.
    pub number: Option<u64>,
    /// The symbol: "MTTQ-BTT".
    pub symbol: Option<String>,
    /// How the number is formed.
    pub scheme: NumberScheme,
}

impl DocumentNumber {
    /// Parses "305/MTTQ-BTT", "161-TB/TU" or "97/2025/QH15"; anything else is kept raw.
    pub fn parse(raw: &str) -> DocumentNumber {
        let raw = raw.trim().trim_start_matches("Số:").trim().to_string();
        let digits: String = raw.chars().take_while(|c| c.is_ascii_digit()).collect();
        let number = digits.parse::<u64>().ok();
        let rest = &raw[digits.len()..];
        let (scheme, symbol) = match (number, rest.chars().next()) {
            (Some(_), Some('/')) => {
                let sym = &rest[1..];
                let mut parts = sym.splitn(2, '/');
                let first = parts.next().unwrap_or_default();
                if first.len() == 4 && first.chars().all(|c| c.is_ascii_digit()) {
                    (NumberScheme::Legal, Some(sym.to_string()))
                } else {
                    (NumberScheme::AdminYearly, Some(sym.to_string()))
                }
            }
            (Some(_), Some('-')) => (NumberScheme::PartyTerm, Some(rest[1..].to_string())),
            _ => (NumberScheme::Other, None),
        };
        let symbol = symbol.filter(|s| !s.is_empty());
        let number = if scheme == NumberScheme::Other { None } else { number };
        DocumentNumber { raw, number, symbol, scheme }
    }
}

/// Who signed.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Signer {
    /// "TM. BAN THƯỜNG TRỰC / PHÓ CHỦ TỊCH".
    pub title: String,
    /// The signer's name.
    pub name: String,
}

/// The issuer's own follow-up: consolidate the units' reports and send them on.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Consolidation {
    /// "Giao đ/c Muối tổng hợp, báo cáo …".
    pub text: String,
    /// The named contact who consolidates ("đ/c Muối-CV").
    pub contact: Option<String>,
    /// When the consolidated report is due.
    pub deadline: Deadline,
    /// Who receives it ("Ban Dân vận Thành ủy", "Văn phòng Thành ủy").
    pub report_to: Vec<String>,
}

/// One numbered task of a directive.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct TaskSpec {
    /// The task's number in the dispatch (1, 2, 3 …), unique within it.
    #[key]
    pub ordinal: u64,
    /// The task's words.
    pub text: String,
    /// Whether recipients must send a report.
    pub report_required: bool,
    /// When the report is due, if the dispatch says.
    pub deadline: Option<Deadline>,
    /// Through whom the report goes ("qua đ/c Muối-CV").
    pub contact: Option<String>,
    /// Indicator codes the report must give figures for.
    pub indicators: Vec<String>,
    /// The issuer's consolidation of the answers, if any.
    pub consolidation: Option<Consolidation>,
    /// Files for this task (the form to fill in). Tasks written before attachments read as
    /// having none.
    #[autosurgeon(missing = "Vec::new")]
    pub attachments: Vec<Attachment>,
}

/// A dispatch from an issuing unit to recipient units (the header's audience).
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Directive {
    /// Id, kind, owner (the issuer) and audience (the recipients).
    pub header: Header,
    /// "305/MTTQ-BTT".
    pub number: DocumentNumber,
    /// The issuing body as printed ("Ban Thường trực Ủy ban MTTQ Việt Nam thành phố Long Khánh").
    pub issuer_name: String,
    /// Where it was issued ("Long Khánh").
    pub place: String,
    /// The date on the dispatch.
    #[autosurgeon(with = "iso_date")]
    pub issued_on: NaiveDate,
    /// The subject line, "V/v …".
    pub subject: String,
    /// Documents it implements ("Thông báo số 161-TB/TU ngày 07/01/2022 …").
    pub basis: Vec<String>,
    /// The "Kính gửi" line.
    pub recipients_label: String,
    /// Who signed, if recorded.
    pub signer: Option<Signer>,
    /// The dispatch's prose outside the tasks.
    pub body: Text,
    /// The numbered tasks.
    pub tasks: Vec<TaskSpec>,
    /// Files of the dispatch itself (the signed scan, an appendix). Dispatches written before
    /// attachments read as having none.
    #[autosurgeon(missing = "Vec::new")]
    pub attachments: Vec<Attachment>,
    /// Reminders (đôn đốc) the issuer sent to recipients that were late or had not answered,
    /// oldest first. Dispatches written before reminders read as having none.
    #[autosurgeon(missing = "Vec::new")]
    pub reminders: Vec<Reminder>,
}

/// A reminder of a dispatch to some of its recipients.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Reminder {
    /// The recipients reminded.
    pub units: Vec<crate::UnitId>,
    /// What the issuer says ("Đề nghị khẩn trương báo cáo trước ngày 10/02/2022.").
    pub note: String,
    /// The issuing device's clock when sent: informational (the relay's receipt time of the
    /// change is what the desk shows as delivered).
    pub at_device: crate::Timestamp,
}

/// Most reminders one dispatch keeps.
pub const MAX_REMINDERS: usize = 1000;

impl Directive {
    /// The task with `ordinal`.
    pub fn task(&self, ordinal: u64) -> Option<&TaskSpec> {
        self.tasks.iter().find(|t| t.ordinal == ordinal)
    }
}

impl DocumentSchema for Directive {
    const KIND: DocKind = DocKind::Directive;

    fn header(&self) -> &Header {
        &self.header
    }

    fn validate(&self) -> Result<(), Invalid> {
        validate::header(&self.header, DocKind::Directive)?;
        validate::required_text("subject", &self.subject, LINE_MAX)?;
        validate::text("number", &self.number.raw, LINE_MAX)?;
        validate::text("issuer_name", &self.issuer_name, LINE_MAX)?;
        validate::text("place", &self.place, LINE_MAX)?;
        validate::text("recipients_label", &self.recipients_label, LINE_MAX)?;
        validate::merged_text("body", self.body.as_str())?;
        super::attachment::validate_list("attachments", &self.attachments)?;
        for (i, b) in self.basis.iter().enumerate() {
            validate::required_text(&format!("basis[{i}]"), b, LINE_MAX)?;
        }
        if self.header.audience.is_empty() {
            return Err(Invalid::new("recipients", "a directive needs at least one recipient unit"));
        }
        if self.header.audience.contains(&self.header.owner) {
            return Err(Invalid::new("recipients", "the issuing unit cannot be its own recipient"));
        }
        if self.tasks.is_empty() {
            return Err(Invalid::new("tasks", "a directive needs at least one task"));
        }
        // Two devices of the issuer reminding at once merge into both lists' sum: bounded
        // loosely, never to be refused for a merge of valid edits.
        if self.reminders.len() > 2 * MAX_REMINDERS {
            return Err(Invalid::new("reminders", "too many reminders on one dispatch"));
        }
        for (i, r) in self.reminders.iter().enumerate() {
            let f = format!("reminders[{i}]");
            validate::text(&format!("{f}.note"), &r.note, PROSE_MAX)?;
            if r.units.is_empty() {
                return Err(Invalid::new(f, "a reminder names at least one recipient"));
            }
            if let Some(u) = r.units.iter().find(|u| !self.header.audience.contains(u)) {
                return Err(Invalid::new(f, format!("unit {u} is not a recipient of this dispatch")));
            }
        }
        let mut seen = HashSet::new();
        for t in &self.tasks {
            let f = format!("tasks[{}]", t.ordinal);
            if t.ordinal == 0 {
                return Err(Invalid::new(f, "task numbers start at 1"));
            }
            if !seen.insert(t.ordinal) {
                return Err(Invalid::new(f, "two tasks have the same number"));
            }
            validate::required_text(&format!("{f}.text"), &t.text, PROSE_MAX)?;
            super::attachment::validate_list(&format!("{f}.attachments"), &t.attachments)?;
            if let Some(d) = &t.deadline {
                validate::text(&format!("{f}.deadline"), &d.original_text, LINE_MAX)?;
                if d.due_date < self.issued_on {
                    return Err(Invalid::new(
                        format!("{f}.deadline"),
                        "the deadline is before the dispatch's own date",
                    ));
                }
            }
            if let Some(c) = &t.consolidation {
                if let Some(d) = &t.deadline
                    && c.deadline.cutoff() < d.cutoff()
                {
                    return Err(Invalid::new(
                        format!("{f}.consolidation.deadline"),
                        "consolidation cannot be due before the units' reports",
                    ));
                }
                validate::required_text(&format!("{f}.consolidation.text"), &c.text, PROSE_MAX)?;
            }
        }
        Ok(())
    }

    fn title(&self) -> String {
        if self.number.raw.is_empty() {
            self.subject.clone()
        } else {
            format!("{} {}", self.number.raw, self.subject)
        }
    }

    fn search_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n{}\n{}\n",
            self.number.raw,
            self.subject,
            self.issuer_name,
            self.basis.join("\n"),
            self.body.as_str()
        );
        for t in &self.tasks {
            s.push_str(&t.text);
            s.push('\n');
            if let Some(c) = &t.contact {
                s.push_str(c);
                s.push('\n');
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_number_schemes() {
        let n = DocumentNumber::parse("Số: 305/MTTQ-BTT");
        assert_eq!(n.raw, "305/MTTQ-BTT");
        assert_eq!(n.number, Some(305));
        assert_eq!(n.symbol.as_deref(), Some("MTTQ-BTT"));
        assert_eq!(n.scheme, NumberScheme::AdminYearly);

        let p = DocumentNumber::parse("161-TB/TU");
        assert_eq!(p.scheme, NumberScheme::PartyTerm);
        assert_eq!(p.symbol.as_deref(), Some("TB/TU"));

        let l = DocumentNumber::parse("97/2025/QH15");
        assert_eq!(l.scheme, NumberScheme::Legal);

        let o = DocumentNumber::parse("không số");
        assert_eq!(o.scheme, NumberScheme::Other);
        assert_eq!(o.number, None);
    }
}
