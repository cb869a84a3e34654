//! Issuing directives.

use autosurgeon::Text;
use giaoban_protocol::schema::{
    ConclusionRef, Consolidation, Directive, DocumentKind, DocumentNumber, Header, Person, Signer, TaskSpec,
};
use giaoban_protocol::{DocId, DocKind, UnitId};
use giaoban_vietnamese_text::{clean_input, clean_multiline};

use super::{date_field, deadline_field, optional_line};
use crate::Store;
use crate::error::{CoreError, Result};

/// A deadline as typed: the dispatch's words, optionally the date and whether it is exclusive.
#[derive(Debug, Clone, Default)]
pub struct NewDeadline {
    /// "trước ngày 08/02/2022".
    pub text: String,
    /// The date if not in the words: "08/02/2022" or "ngày 08 tháng 02 năm 2022".
    pub due: Option<String>,
    /// Whether the work is due before the day begins; defaults to true when the words say "trước".
    pub exclusive: Option<bool>,
}

/// The issuer's consolidation step.
#[derive(Debug, Clone, Default)]
pub struct NewConsolidation {
    /// "Giao đ/c Muối tổng hợp, báo cáo …".
    pub text: String,
    /// "đ/c Muối-CV".
    pub contact: Option<String>,
    /// Its deadline.
    pub deadline: NewDeadline,
    /// Who receives the consolidated report.
    pub report_to: Vec<String>,
}

/// One task as typed.
#[derive(Debug, Clone, Default)]
pub struct NewTask {
    /// Its number in the dispatch.
    pub ordinal: u64,
    /// Its words.
    pub text: String,
    /// Whether recipients must report.
    pub report_required: bool,
    /// The report's deadline.
    pub deadline: Option<NewDeadline>,
    /// "đ/c Muối-CV": the dispatch's own words for whom to contact.
    pub contact: Option<String>,
    /// The person to contact, with title and phone. When `contact` is empty, the person's
    /// line stands for it.
    pub contact_person: Option<Person>,
    /// Organisations to work with on it ("Hội Cựu chiến binh", "Công an phường").
    pub coordinate_with: Vec<String>,
    /// Indicator codes to report.
    pub indicators: Vec<String>,
    /// The issuer's consolidation step.
    pub consolidation: Option<NewConsolidation>,
    /// The conclusion of one of this unit's meetings that the task carries out.
    pub from_conclusion: Option<ConclusionRef>,
}

/// A directive as typed.
#[derive(Debug, Clone, Default)]
pub struct NewDirective {
    /// Công văn (the default), kế hoạch, thông báo …
    pub document_kind: DocumentKind,
    /// "305/MTTQ-BTT".
    pub number: String,
    /// The issuing body as printed.
    pub issuer_name: String,
    /// "Long Khánh".
    pub place: String,
    /// "24/01/2022" or "ngày 24 tháng 01 năm 2022".
    pub issued_on: String,
    /// "V/v …".
    pub subject: String,
    /// Documents it implements.
    pub basis: Vec<String>,
    /// Recipient units.
    pub recipients: Vec<UnitId>,
    /// The "Kính gửi" line.
    pub recipients_label: String,
    /// "Nơi nhận": where copies go, one line each as printed ("Như trên;", "Lưu: VT.").
    pub copies_to: Vec<String>,
    /// (title, name) of the signer.
    pub signer: Option<(String, String)>,
    /// The prose outside the tasks.
    pub body: String,
    /// The numbered tasks.
    pub tasks: Vec<NewTask>,
}

impl Store {
    /// Issues a directive from this device's unit to `recipients`. Returns its id.
    pub fn issue_directive(&mut self, input: NewDirective) -> Result<DocId> {
        let id = self.new_doc_id();
        self.issue_directive_as(id, input)
    }

    /// Issues a directive with the id `id`, chosen by the caller so that issuing the same
    /// thing twice (a form sent again after a crash) issues it once: if this unit's directive
    /// `id` exists already, nothing is written and `id` is returned. The desk derives `id` from
    /// its draft's.
    pub fn issue_directive_as(&mut self, id: DocId, input: NewDirective) -> Result<DocId> {
        self.issue_directive_with_files(id, input, Vec::new())
    }

    /// Issues a directive as [`Store::issue_directive_as`] does, with `files` (read from their
    /// paths) attached to it: either the directive is written with every file attached, or
    /// nothing is. Each file is checked and kept in the folder beside the store before the
    /// directive is written; a file refused (too large, empty, a bad name) stops the issue with
    /// the field `files[i]` (i from 0) and the reason. Files kept for an issue that then failed
    /// refer to nothing and go with the collector after [`crate::FILE_GRACE`].
    pub fn issue_directive_with_files(
        &mut self,
        id: DocId,
        input: NewDirective,
        files: Vec<(std::path::PathBuf, crate::NewAttachment)>,
    ) -> Result<DocId> {
        let owner = self.my_unit()?;
        if self.exists(id)? {
            let existing: Directive = self.get(id)?;
            if existing.header.owner == owner {
                return Ok(id);
            }
            return Err(CoreError::invalid("id", "another unit's record has this id"));
        }
        let mut tasks = Vec::with_capacity(input.tasks.len());
        for t in &input.tasks {
            let f = format!("tasks[{}]", t.ordinal);
            let deadline =
                t.deadline.as_ref().map(|d| deadline_field(&format!("{f}.deadline"), d)).transpose()?;
            let consolidation = match &t.consolidation {
                Some(c) => Some(Consolidation {
                    text: clean_multiline(&c.text),
                    contact: optional_line(c.contact.as_deref()),
                    deadline: deadline_field(&format!("{f}.consolidation.deadline"), &c.deadline)?,
                    report_to: c.report_to.iter().map(|s| clean_input(s)).filter(|s| !s.is_empty()).collect(),
                }),
                None => None,
            };
            let contact_person = t
                .contact_person
                .as_ref()
                .map(|p| Person {
                    name: clean_input(&p.name),
                    title: clean_input(&p.title),
                    phone: clean_input(&p.phone),
                })
                .filter(|p| !(p.name.is_empty() && p.title.is_empty() && p.phone.is_empty()));
            if let Some(p) = &contact_person {
                p.validate(&format!("{f}.contact_person"))?;
            }
            let contact =
                optional_line(t.contact.as_deref()).or_else(|| contact_person.as_ref().map(Person::line));
            tasks.push(TaskSpec {
                ordinal: t.ordinal,
                text: clean_multiline(&t.text),
                report_required: t.report_required,
                deadline,
                contact,
                contact_person,
                coordinate_with: t
                    .coordinate_with
                    .iter()
                    .map(|s| clean_input(s))
                    .filter(|s| !s.is_empty())
                    .collect(),
                indicators: t.indicators.iter().map(|s| clean_input(s)).filter(|s| !s.is_empty()).collect(),
                consolidation,
                attachments: Vec::new(),
                from_conclusion: match t.from_conclusion {
                    Some(c) => Some(self.conclusion_to_dispatch(c, &format!("{f}.from_conclusion"))?),
                    None => None,
                },
            });
        }
        let mut recipients = input.recipients.clone();
        recipients.sort();
        recipients.dedup();
        giaoban_protocol::schema::prose_input("body", 0, &clean_multiline(&input.body))?;
        let directive = Directive {
            header: Header::new(id, DocKind::Directive, owner, recipients),
            document_kind: input.document_kind,
            number: DocumentNumber::parse(&clean_input(&input.number)),
            issuer_name: clean_input(&input.issuer_name),
            place: clean_input(&input.place),
            issued_on: date_field("issued_on", &input.issued_on)?,
            subject: clean_input(&input.subject),
            basis: input.basis.iter().map(|s| clean_input(s)).collect(),
            recipients_label: clean_input(&input.recipients_label),
            copies_to: input.copies_to.iter().map(|s| clean_input(s)).filter(|s| !s.is_empty()).collect(),
            signer: input
                .signer
                .as_ref()
                .map(|(t, n)| Signer { title: clean_input(t), name: clean_input(n) }),
            body: Text::with_value(clean_multiline(&input.body)),
            tasks,
            attachments: Vec::new(),
            reminders: Vec::new(),
        };
        let mut directive = directive;
        if files.len() > giaoban_protocol::schema::ATTACHMENTS_INPUT_MAX {
            return Err(CoreError::invalid(
                "files",
                format!(
                    "{} files are attached; at most {} may be: remove some, or put them in one file",
                    files.len(),
                    giaoban_protocol::schema::ATTACHMENTS_INPUT_MAX
                ),
            ));
        }
        for (i, (path, file)) in files.into_iter().enumerate() {
            let named = file.name.clone();
            let f = std::fs::File::open(&path).map_err(|e| {
                CoreError::Files(format!("cannot open {} to attach it ({e})", path.display()))
            })?;
            let a = self.take_in_file(f, file).map_err(|e| match e {
                CoreError::Invalid(inv) => {
                    CoreError::invalid(format!("files[{i}]"), format!("{}: {}", named, inv.reason))
                }
                other => other,
            })?;
            if !directive.attachments.iter().any(|x| x.hash == a.hash) {
                directive.attachments.push(a);
            }
        }
        let id = directive.header.id;
        let now = self.now();
        self.write(|s| {
            for a in &directive.attachments {
                s.note_file_here(a, now)?;
            }
            s.create(&directive, false)
        })?;
        tracing::info!(%id, tasks = directive.tasks.len(), files = directive.attachments.len(), "directive issued");
        Ok(id)
    }

    /// Reminds `units` (recipients of directive `id`, issued by this device's unit) of it with
    /// `note`: their devices show the reminder on the dispatch's tasks.
    pub fn remind(&mut self, id: DocId, units: &[UnitId], note: &str) -> Result<()> {
        let note = clean_multiline(note);
        giaoban_protocol::schema::prose_input("note", 0, &note)?;
        let mut units = units.to_vec();
        units.sort();
        units.dedup();
        if units.is_empty() {
            return Err(CoreError::invalid("units", "name at least one recipient to remind"));
        }
        let at_device = self.now();
        self.modify::<Directive, _>(id, |d| {
            if let Some(u) = units.iter().find(|u| !d.header.audience.contains(u)) {
                return Err(CoreError::invalid(
                    "units",
                    format!("unit {u} is not a recipient of this dispatch"),
                ));
            }
            if d.reminders.len() >= giaoban_protocol::schema::MAX_REMINDERS {
                return Err(CoreError::invalid(
                    "reminders",
                    "this dispatch has had as many reminders as it may",
                ));
            }
            d.reminders.push(giaoban_protocol::schema::Reminder {
                units: units.clone(),
                note: note.clone(),
                at_device,
            });
            Ok(())
        })?;
        tracing::info!(%id, units = units.len(), "reminder sent");
        Ok(())
    }

    /// The directive `id`.
    pub fn directive(&mut self, id: DocId) -> Result<Directive> {
        self.get(id)
    }

    /// Changes a directive's subject (the issuer only).
    pub fn set_directive_subject(&mut self, id: DocId, subject: &str) -> Result<()> {
        let subject = clean_input(subject);
        self.modify::<Directive, _>(id, |d| {
            d.subject = subject;
            Ok(())
        })
    }

    /// Replaces the wording of task `ordinal` (the issuer only).
    pub fn set_task_text(&mut self, id: DocId, ordinal: u64, text: &str) -> Result<()> {
        let text = clean_multiline(text);
        self.modify::<Directive, _>(id, |d| {
            let t = d
                .tasks
                .iter_mut()
                .find(|t| t.ordinal == ordinal)
                .ok_or_else(|| CoreError::not_found("task", format!("{ordinal} of directive {id}")))?;
            t.text = text;
            Ok(())
        })
    }
}
