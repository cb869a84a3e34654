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

/// What kind of document a dispatch is, as Nghị định 30/2020/NĐ-CP names the kinds that
/// hand out work. Dispatches written before the kind was kept read as công văn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Reconcile, Hydrate)]
pub enum DocumentKind {
    /// Công văn: an official letter.
    #[default]
    OfficialLetter,
    /// Kế hoạch: a plan.
    Plan,
    /// Thông báo: a notice (often of a meeting's conclusions).
    Notice,
    /// Hướng dẫn: guidance.
    Guidance,
    /// Kết luận: conclusions (of a Party committee or a meeting).
    Conclusion,
    /// Chương trình: a programme.
    Programme,
    /// Chỉ thị: an instruction.
    Instruction,
    /// Quyết định: a decision.
    Decision,
    /// Công điện: an urgent dispatch.
    Telegram,
    /// Giấy mời: an invitation (to a meeting, with what to prepare).
    Invitation,
    /// Anything else.
    Other,
}

impl DocumentKind {
    /// Every kind, in the order a form offers them.
    pub const ALL: [DocumentKind; 11] = [
        DocumentKind::OfficialLetter,
        DocumentKind::Plan,
        DocumentKind::Notice,
        DocumentKind::Guidance,
        DocumentKind::Conclusion,
        DocumentKind::Programme,
        DocumentKind::Instruction,
        DocumentKind::Decision,
        DocumentKind::Telegram,
        DocumentKind::Invitation,
        DocumentKind::Other,
    ];

    /// Its name as printed: "Công văn", "Kế hoạch" …
    pub fn name_vi(self) -> &'static str {
        match self {
            DocumentKind::OfficialLetter => "Công văn",
            DocumentKind::Plan => "Kế hoạch",
            DocumentKind::Notice => "Thông báo",
            DocumentKind::Guidance => "Hướng dẫn",
            DocumentKind::Conclusion => "Kết luận",
            DocumentKind::Programme => "Chương trình",
            DocumentKind::Instruction => "Chỉ thị",
            DocumentKind::Decision => "Quyết định",
            DocumentKind::Telegram => "Công điện",
            DocumentKind::Invitation => "Giấy mời",
            DocumentKind::Other => "Văn bản khác",
        }
    }

    /// A short code for forms and bindings: "cong-van", "ke-hoach" …
    pub fn code(self) -> &'static str {
        match self {
            DocumentKind::OfficialLetter => "cong-van",
            DocumentKind::Plan => "ke-hoach",
            DocumentKind::Notice => "thong-bao",
            DocumentKind::Guidance => "huong-dan",
            DocumentKind::Conclusion => "ket-luan",
            DocumentKind::Programme => "chuong-trinh",
            DocumentKind::Instruction => "chi-thi",
            DocumentKind::Decision => "quyet-dinh",
            DocumentKind::Telegram => "cong-dien",
            DocumentKind::Invitation => "giay-moi",
            DocumentKind::Other => "khac",
        }
    }

    /// The kind of `code` (as [`DocumentKind::code`] gives it).
    pub fn from_code(code: &str) -> Option<DocumentKind> {
        DocumentKind::ALL.into_iter().find(|k| k.code() == code.trim())
    }
}

/// A person to contact about a task: the cadre the reports go through ("đ/c Muối, chuyên
/// viên, 0251 3877 xxx").
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Person {
    /// Full name ("Nguyễn Văn Muối").
    pub name: String,
    /// Title in the unit ("Chuyên viên", "Phó Chủ tịch"); may be empty.
    pub title: String,
    /// Phone number as written ("0251 3877 123", "+84 912 345 678"); may be empty.
    pub phone: String,
}

impl Person {
    /// How the person reads on a line: "Nguyễn Văn Muối (Chuyên viên), ĐT 0251 3877 123".
    pub fn line(&self) -> String {
        let mut s = self.name.clone();
        if !self.title.is_empty() {
            s.push_str(&format!(" ({})", self.title));
        }
        if !self.phone.is_empty() {
            s.push_str(&format!(", ĐT {}", self.phone));
        }
        s
    }

    /// Checks the person's fields, named under `field`.
    pub fn validate(&self, field: &str) -> Result<(), Invalid> {
        validate::required_text(&format!("{field}.name"), &self.name, LINE_MAX)?;
        validate::text(&format!("{field}.title"), &self.title, LINE_MAX)?;
        validate::text(&format!("{field}.phone"), &self.phone, LINE_MAX)?;
        if !self.phone.is_empty() && !phone_ok(&self.phone) {
            return Err(Invalid::new(
                format!("{field}.phone"),
                "a phone number is digits, with spaces, dots or dashes between them and an optional + in front (8 to 15 digits)",
            ));
        }
        Ok(())
    }
}

/// Whether `phone` reads as a phone number: 8–15 digits, grouped by spaces, dots or dashes,
/// maybe parentheses, maybe a leading +.
pub fn phone_ok(phone: &str) -> bool {
    let p = phone.trim();
    let body = p.strip_prefix('+').unwrap_or(p);
    let digits = body.chars().filter(char::is_ascii_digit).count();
    let count = |x: char| body.chars().filter(|c| *c == x).count();
    (8..=15).contains(&digits)
        && body.chars().all(|c| c.is_ascii_digit() || " .-()".contains(c))
        && count('(') <= 1
        && count(')') <= 1
}

/// The most lines a dispatch's "Nơi nhận" keeps, and organisations a task names to work with.
pub const LIST_MAX: usize = 200;

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
    /// Through whom the report goes, as the dispatch words it ("qua đ/c Muối-CV").
    pub contact: Option<String>,
    /// The person to contact, with title and phone, when known. Tasks written before it was
    /// kept read as having none (their `contact` words remain).
    #[autosurgeon(missing = "Option::default")]
    pub contact_person: Option<Person>,
    /// Organisations the recipients are to work with on it ("Hội Cựu chiến binh", "Công an
    /// phường"). Tasks written before read as naming none.
    #[autosurgeon(missing = "Vec::new")]
    pub coordinate_with: Vec<String>,
    /// Indicator codes the report must give figures for.
    pub indicators: Vec<String>,
    /// The issuer's consolidation of the answers, if any.
    pub consolidation: Option<Consolidation>,
    /// Files for this task (the form to fill in). Tasks written before attachments read as
    /// having none.
    #[autosurgeon(missing = "Vec::new")]
    pub attachments: Vec<Attachment>,
    /// The meeting conclusion this task carries out, when the dispatch was written from one
    /// (the link back to the minutes). Tasks written before read as coming from none.
    #[autosurgeon(missing = "Option::default")]
    pub from_conclusion: Option<ConclusionRef>,
}

/// A conclusion of a meeting, by the meeting's id and the conclusion's number in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Reconcile, Hydrate)]
pub struct ConclusionRef {
    /// The meeting (a document of kind meeting).
    pub meeting: crate::DocId,
    /// The conclusion's number within it (from 1).
    pub ordinal: u64,
}

/// A dispatch from an issuing unit to recipient units (the header's audience).
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Directive {
    /// Id, kind, owner (the issuer) and audience (the recipients).
    pub header: Header,
    /// Công văn, kế hoạch, thông báo … Dispatches written before it was kept read as công văn.
    #[autosurgeon(missing = "DocumentKind::default")]
    pub document_kind: DocumentKind,
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
    /// "Nơi nhận": where copies go beside the recipients, one line each as printed ("Như
    /// trên;", "Ban Dân vận Thành ủy (b/c);", "Lưu: VT."). Dispatches written before read as
    /// having none.
    #[autosurgeon(missing = "Vec::new")]
    pub copies_to: Vec<String>,
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
        // Two devices of the issuer editing the list at once merge into both lists' sum.
        if self.copies_to.len() > 2 * LIST_MAX {
            return Err(Invalid::new("copies_to", format!("at most {LIST_MAX} lines of \"Nơi nhận\"")));
        }
        for (i, c) in self.copies_to.iter().enumerate() {
            validate::required_text(&format!("copies_to[{i}]"), c, LINE_MAX)?;
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
            if let Some(c) = &t.contact {
                validate::text(&format!("{f}.contact"), c, LINE_MAX)?;
            }
            if let Some(p) = &t.contact_person {
                p.validate(&format!("{f}.contact_person"))?;
            }
            if t.coordinate_with.len() > 2 * LIST_MAX {
                return Err(Invalid::new(
                    format!("{f}.coordinate_with"),
                    format!("at most {LIST_MAX} organisations to work with"),
                ));
            }
            for (i, o) in t.coordinate_with.iter().enumerate() {
                validate::required_text(&format!("{f}.coordinate_with[{i}]"), o, LINE_MAX)?;
            }
            super::attachment::validate_list(&format!("{f}.attachments"), &t.attachments)?;
            if t.from_conclusion.is_some_and(|c| c.ordinal == 0) {
                return Err(Invalid::new(format!("{f}.from_conclusion"), "conclusion numbers start at 1"));
            }
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
            if let Some(p) = &t.contact_person {
                s.push_str(&p.line());
                s.push('\n');
            }
            for o in &t.coordinate_with {
                s.push_str(o);
                s.push('\n');
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ids::{DocId, UnitId};
    use automerge::{ROOT, ReadDoc, transaction::Transactable};

    /// A dispatch written before its kind, "Nơi nhận", contact person and coordinating
    /// organisations were kept still reads: as a công văn with none of them.
    #[test]
    fn a_dispatch_written_before_kinds_and_contacts_reads_as_it_was() {
        let task = TaskSpec {
            ordinal: 3,
            text: "Rà soát, đánh giá hiệu quả hoạt động các mô hình của Mặt trận.".into(),
            report_required: true,
            deadline: None,
            contact: Some("đ/c Muối-CV".into()),
            contact_person: Some(Person {
                name: "Nguyễn Văn Muối".into(),
                title: String::new(),
                phone: String::new(),
            }),
            coordinate_with: vec!["Hội Nông dân".into()],
            indicators: Vec::new(),
            consolidation: None,
            attachments: Vec::new(),
            from_conclusion: Some(ConclusionRef { meeting: DocId::from_bytes([9; 16]), ordinal: 2 }),
        };
        let directive = Directive {
            header: Header::new(
                DocId::from_bytes([7; 16]),
                DocKind::Directive,
                UnitId::from_bytes([1; 16]),
                vec![UnitId::from_bytes([2; 16])],
            ),
            document_kind: DocumentKind::Plan,
            number: DocumentNumber::parse("305/MTTQ-BTT"),
            issuer_name: "Ban Thường trực Ủy ban MTTQ Việt Nam thành phố Long Khánh".into(),
            place: "Long Khánh".into(),
            issued_on: NaiveDate::from_ymd_opt(2022, 1, 24).unwrap(),
            subject: "V/v thực hiện Thông báo số 161-TB/TU".into(),
            basis: Vec::new(),
            recipients_label: "Kính gửi: Ban Thường trực UBMTTQVN các xã, phường.".into(),
            copies_to: vec!["Như trên;".into()],
            signer: None,
            body: Text::with_value(""),
            tasks: vec![task],
            attachments: Vec::new(),
            reminders: Vec::new(),
        };
        let mut doc = automerge::AutoCommit::new();
        autosurgeon::reconcile(&mut doc, &directive).unwrap();
        doc.delete(ROOT, "document_kind").unwrap();
        doc.delete(ROOT, "copies_to").unwrap();
        let (_, tasks) = doc.get(ROOT, "tasks").unwrap().unwrap();
        let (_, t) = doc.get(&tasks, 0).unwrap().unwrap();
        doc.delete(&t, "contact_person").unwrap();
        doc.delete(&t, "coordinate_with").unwrap();
        doc.delete(&t, "from_conclusion").unwrap();
        let old: Directive = autosurgeon::hydrate(&doc).unwrap();
        assert_eq!(old.document_kind, DocumentKind::OfficialLetter);
        assert!(old.copies_to.is_empty());
        assert_eq!(old.tasks[0].contact.as_deref(), Some("đ/c Muối-CV"));
        assert_eq!(old.tasks[0].contact_person, None);
        assert_eq!(old.tasks[0].from_conclusion, None);
        assert!(old.tasks[0].coordinate_with.is_empty());
        assert!(old.validate().is_ok());
    }

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

    #[test]
    fn every_kind_has_its_own_code_and_reads_back() {
        let codes: HashSet<_> = DocumentKind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(codes.len(), DocumentKind::ALL.len());
        for k in DocumentKind::ALL {
            assert_eq!(DocumentKind::from_code(k.code()), Some(k));
        }
        assert_eq!(DocumentKind::from_code("công văn"), None);
        assert_eq!(DocumentKind::default().name_vi(), "Công văn");
    }

    #[test]
    fn phone_numbers_as_offices_write_them() {
        for ok in ["0251 3877 123", "0912.345.678", "+84 912 345 678", "(0251) 3877-123", "02513877123"] {
            assert!(phone_ok(ok), "{ok}");
        }
        for bad in ["123", "gọi 0912345678", "0912345678 (anh Lực)", "+84+912345678", "1234567890123456"]
        {
            assert!(!phone_ok(bad), "{bad}");
        }
        let p = Person {
            name: "Nguyễn Văn Muối".into(),
            title: "Chuyên viên".into(),
            phone: "0251 3877 123".into(),
        };
        assert_eq!(p.line(), "Nguyễn Văn Muối (Chuyên viên), ĐT 0251 3877 123");
        assert!(p.validate("contact").is_ok());
        let nameless = Person { name: " ".into(), ..p };
        assert_eq!(nameless.validate("contact").unwrap_err().field, "contact.name");
    }
}
