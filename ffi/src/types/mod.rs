//! The records and enums the bindings exchange. Ids cross as strings (UUIDs), dates as
//! "dd/mm/yyyy", instants as milliseconds since 1970 UTC, money as whole VND (`i64`).

use chrono::NaiveDate;
use giaoban_client_core as core;
use giaoban_client_core::protocol::schema::{Directive, DocumentKind, Person, TaskState, Verdict};
use giaoban_client_core::protocol::{Deadline, DeadlineStanding, DocId, UnitId};
use giaoban_vietnamese_text::format_date;

use crate::error::{GiaoBanError, Result};

mod consolidation;
mod files;
mod reports;
mod sync;

pub use consolidation::*;
pub use files::*;
pub use reports::*;
pub use sync::*;

pub(crate) fn doc_id(field: &str, s: &str) -> Result<DocId> {
    s.trim().parse().map_err(|e| GiaoBanError::invalid(field, format!("'{s}' is not a document id ({e})")))
}

pub(crate) fn unit_id(field: &str, s: &str) -> Result<UnitId> {
    s.trim().parse().map_err(|e| GiaoBanError::invalid(field, format!("'{s}' is not a unit id ({e})")))
}

fn date(d: NaiveDate) -> String {
    format_date(d)
}

/// A task's state at its assignee unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum TaskStatus {
    /// Delivered; nobody has taken it on yet.
    Received,
    /// Taken on.
    Acknowledged,
    /// Work has started.
    InProgress,
    /// The report or answer was submitted.
    Submitted,
    /// Nothing to report ("không phát sinh").
    NotApplicable,
}

impl From<TaskState> for TaskStatus {
    fn from(s: TaskState) -> Self {
        match s {
            TaskState::Received => TaskStatus::Received,
            TaskState::Acknowledged => TaskStatus::Acknowledged,
            TaskState::InProgress => TaskStatus::InProgress,
            TaskState::Submitted => TaskStatus::Submitted,
            TaskState::NotApplicable => TaskStatus::NotApplicable,
        }
    }
}

impl From<TaskStatus> for TaskState {
    fn from(s: TaskStatus) -> Self {
        match s {
            TaskStatus::Received => TaskState::Received,
            TaskStatus::Acknowledged => TaskState::Acknowledged,
            TaskStatus::InProgress => TaskState::InProgress,
            TaskStatus::Submitted => TaskState::Submitted,
            TaskStatus::NotApplicable => TaskState::NotApplicable,
        }
    }
}

/// Where a task stands against its deadline (Asia/Ho_Chi_Minh, the relay's receipt time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Standing {
    /// Not done; the cutoff is more than three days away.
    Upcoming,
    /// Not done; due within three days.
    DueSoon,
    /// Not done; the cutoff has passed.
    Overdue,
    /// Received before the cutoff.
    DoneOnTime,
    /// Received at or after the cutoff.
    DoneLate,
}

impl From<DeadlineStanding> for Standing {
    fn from(s: DeadlineStanding) -> Self {
        match s {
            DeadlineStanding::Upcoming => Standing::Upcoming,
            DeadlineStanding::DueSoon => Standing::DueSoon,
            DeadlineStanding::Overdue => Standing::Overdue,
            DeadlineStanding::DoneOnTime => Standing::DoneOnTime,
            DeadlineStanding::DoneLate => Standing::DoneLate,
        }
    }
}

/// A deadline as the dispatch words it, with the date it names.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeadlineInfo {
    /// "trước ngày 08/02/2022".
    pub text: String,
    /// "08/02/2022".
    pub due_date: String,
    /// Due before that day begins ("trước ngày") rather than by its end.
    pub exclusive: bool,
}

impl From<&Deadline> for DeadlineInfo {
    fn from(d: &Deadline) -> Self {
        DeadlineInfo { text: d.original_text.clone(), due_date: date(d.due_date), exclusive: d.exclusive }
    }
}

/// The issuer's verdict on a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ReviewVerdict {
    /// Accepted.
    Accepted,
    /// Returned to the unit with a note.
    Returned,
}

impl From<Verdict> for ReviewVerdict {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Accepted => ReviewVerdict::Accepted,
            Verdict::Returned => ReviewVerdict::Returned,
        }
    }
}

impl From<ReviewVerdict> for Verdict {
    fn from(v: ReviewVerdict) -> Self {
        match v {
            ReviewVerdict::Accepted => Verdict::Accepted,
            ReviewVerdict::Returned => Verdict::Returned,
        }
    }
}

/// The standing review of a report.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReviewInfo {
    /// Accepted or returned.
    pub verdict: ReviewVerdict,
    /// The reviewer's note.
    pub note: String,
}

/// One task for one assignee unit, as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TaskItem {
    /// The directive or meeting it comes from.
    pub source: String,
    /// "305/MTTQ-BTT V/v …".
    pub source_title: String,
    /// Its number in the source.
    pub ordinal: u64,
    /// The unit that must do it.
    pub assignee: String,
    /// The unit that issued it.
    pub issuer: String,
    /// Its words.
    pub text: String,
    /// Whether a report is required.
    pub report_required: bool,
    /// Its deadline, if any.
    pub deadline: Option<DeadlineInfo>,
    /// The assignee's state; `None` until the unit's answer reaches this device.
    pub status: Option<TaskStatus>,
    /// The report answering it.
    pub report: Option<String>,
    /// The issuer's verdict on that report; `None` until it judges the latest submission.
    pub review: Option<ReviewInfo>,
    /// How many times the unit submitted it (more than 1: submitted again after a return).
    pub submissions: u64,
    /// When the relay received the submission (ms since 1970 UTC).
    pub received_at_ms: Option<i64>,
    /// Where it stands against its deadline; `None` without a deadline.
    pub standing: Option<Standing>,
    /// The issuer's latest reminder (đôn đốc) to the assignee: its words. Show it on the task.
    pub reminder_note: Option<String>,
    /// When that reminder was sent (ms since 1970 UTC, the issuer's clock).
    pub reminded_at_ms: Option<i64>,
}

impl From<core::TaskView> for TaskItem {
    fn from(t: core::TaskView) -> Self {
        TaskItem {
            source: t.source.to_string(),
            source_title: t.source_title,
            ordinal: t.ordinal,
            assignee: t.assignee.to_string(),
            issuer: t.issuer.to_string(),
            text: t.text,
            report_required: t.report_required,
            deadline: t.deadline.as_ref().map(DeadlineInfo::from),
            status: t.state.map(TaskStatus::from),
            report: t.report.map(|r| r.to_string()),
            review: t.review.map(|(v, note)| ReviewInfo { verdict: v.into(), note }),
            submissions: t.submissions,
            received_at_ms: t.received_at.map(|t| t.0),
            standing: t.standing.map(Standing::from),
            reminded_at_ms: t.reminded.as_ref().map(|(at, _)| at.0),
            reminder_note: t.reminded.map(|(_, note)| note),
        }
    }
}

/// What happened at one step of a unit's assignment.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum AssignmentStep {
    /// The issuer issued the directive (or recorded the meeting).
    Issued,
    /// The issuer reminded the unit (đôn đốc).
    Reminded {
        /// The reminder's words.
        note: String,
    },
    /// Someone at the unit took the task on.
    Acknowledged,
    /// Work started, or its notes changed.
    InProgress,
    /// The unit submitted the task's report: 1 the first time, 2 after a return …
    Submitted {
        /// Which submission this is.
        count: u64,
    },
    /// The unit said the task does not apply to it.
    NotApplicable {
        /// Its reason.
        reason: String,
    },
    /// The issuer accepted the report.
    Accepted {
        /// Its words, if any.
        note: String,
    },
    /// The issuer returned the report.
    Returned {
        /// What to fix.
        note: String,
    },
}

impl From<core::AssignmentStep> for AssignmentStep {
    fn from(s: core::AssignmentStep) -> Self {
        match s {
            core::AssignmentStep::Issued => AssignmentStep::Issued,
            core::AssignmentStep::Reminded { note } => AssignmentStep::Reminded { note },
            core::AssignmentStep::Acknowledged => AssignmentStep::Acknowledged,
            core::AssignmentStep::InProgress => AssignmentStep::InProgress,
            core::AssignmentStep::Submitted { count } => AssignmentStep::Submitted { count },
            core::AssignmentStep::NotApplicable { reason } => AssignmentStep::NotApplicable { reason },
            core::AssignmentStep::Accepted { note } => AssignmentStep::Accepted { note },
            core::AssignmentStep::Returned { note } => AssignmentStep::Returned { note },
        }
    }
}

/// One step of a unit's assignment, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AssignmentEvent {
    /// The task it concerns; `None` for the whole directive (issued, reminded).
    pub ordinal: Option<u64>,
    /// What happened.
    pub step: AssignmentStep,
    /// When the relay received it (ms since 1970 UTC): the time that counts. `None` while it
    /// has not reached the relay, or this device holds no receipt for it.
    pub received_at_ms: Option<i64>,
    /// The writing device's clock (ms since 1970 UTC), moved onto the relay's clock by the
    /// difference this device measured: show it as approximate.
    pub at_device_ms: i64,
    /// When to show it: `received_at_ms`, else `at_device_ms`.
    pub when_ms: i64,
    /// The device that wrote it, where known.
    pub device: Option<String>,
}

impl From<core::AssignmentEvent> for AssignmentEvent {
    fn from(e: core::AssignmentEvent) -> Self {
        AssignmentEvent {
            ordinal: e.ordinal,
            when_ms: e.when().0,
            received_at_ms: e.received_at.map(|t| t.0),
            at_device_ms: e.at_device.0,
            device: e.by.map(|d| d.to_string()),
            step: e.step.into(),
        }
    }
}

/// Whose tasks to list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum TaskScope {
    /// Assigned to this device's unit.
    Mine,
    /// Issued by this device's unit (the office's tracking view).
    IssuedByMe,
    /// Assigned to one unit (its id).
    Unit {
        /// The unit's id.
        unit: String,
    },
    /// Every task on this device.
    All,
}

/// Which tasks to keep by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum TaskStateFilter {
    /// Nobody has taken it on.
    NotAcknowledged,
    /// Still needs work.
    Open,
    /// Submitted or not applicable.
    Done,
    /// Submitted and not yet judged (a report resubmitted after it was returned included).
    AwaitingReview,
    /// Its report was accepted.
    Accepted,
    /// Its report was returned and not submitted again since.
    Returned,
}

/// A task list query; every field may be left empty.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TaskQuery {
    /// Whose tasks.
    pub scope: TaskScope,
    /// Only the tasks of this directive or meeting.
    #[uniffi(default = None)]
    pub source: Option<String>,
    /// Only these states.
    #[uniffi(default = None)]
    pub state: Option<TaskStateFilter>,
    /// Only overdue tasks.
    #[uniffi(default = false)]
    pub overdue_only: bool,
    /// Only tasks due within this many days (overdue included).
    #[uniffi(default = None)]
    pub due_within_days: Option<u32>,
}

impl TaskQuery {
    pub(crate) fn to_core(&self) -> Result<core::TaskFilter> {
        let scope = match &self.scope {
            TaskScope::Mine => core::TaskScope::Mine,
            TaskScope::IssuedByMe => core::TaskScope::IssuedByMe,
            TaskScope::Unit { unit } => core::TaskScope::Unit(unit_id("scope.unit", unit)?),
            TaskScope::All => core::TaskScope::All,
        };
        let source = self.source.as_deref().map(|s| doc_id("source", s)).transpose()?;
        let state = self.state.map(|s| match s {
            TaskStateFilter::NotAcknowledged => core::StateFilter::NotAcknowledged,
            TaskStateFilter::Open => core::StateFilter::Open,
            TaskStateFilter::Done => core::StateFilter::Done,
            TaskStateFilter::AwaitingReview => core::StateFilter::AwaitingReview,
            TaskStateFilter::Accepted => core::StateFilter::Accepted,
            TaskStateFilter::Returned => core::StateFilter::Returned,
        });
        let due = match (self.overdue_only, self.due_within_days) {
            (true, _) => Some(core::DueFilter::Overdue),
            (false, Some(days)) => Some(core::DueFilter::Within { days }),
            (false, None) => None,
        };
        Ok(core::TaskFilter { scope, source, state, due })
    }
}

/// A deadline as typed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeadlineInput {
    /// "trước ngày 08/02/2022".
    pub text: String,
    /// The date if the words do not name one: "08/02/2022".
    #[uniffi(default = None)]
    pub due: Option<String>,
    /// Due before the day begins; by default true when the words say "trước".
    #[uniffi(default = None)]
    pub exclusive: Option<bool>,
}

impl From<DeadlineInput> for core::NewDeadline {
    fn from(d: DeadlineInput) -> Self {
        core::NewDeadline { text: d.text, due: d.due, exclusive: d.exclusive }
    }
}

/// A person to contact about a task.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ContactPerson {
    /// Full name ("Nguyễn Văn Muối").
    pub name: String,
    /// Title ("Chuyên viên"); may be empty.
    #[uniffi(default = "")]
    pub title: String,
    /// Phone as written ("0251 3877 123"); may be empty.
    #[uniffi(default = "")]
    pub phone: String,
}

impl From<ContactPerson> for Person {
    fn from(p: ContactPerson) -> Self {
        Person { name: p.name, title: p.title, phone: p.phone }
    }
}

impl From<Person> for ContactPerson {
    fn from(p: Person) -> Self {
        ContactPerson { name: p.name, title: p.title, phone: p.phone }
    }
}

/// One numbered task of a new directive.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TaskInput {
    /// Its number.
    pub ordinal: u64,
    /// Its words.
    pub text: String,
    /// Whether recipients must report.
    #[uniffi(default = false)]
    pub report_required: bool,
    /// The report's deadline.
    #[uniffi(default = None)]
    pub deadline: Option<DeadlineInput>,
    /// "đ/c Muối-CV".
    #[uniffi(default = None)]
    pub contact: Option<String>,
    /// The person to contact, with title and phone.
    #[uniffi(default = None)]
    pub contact_person: Option<ContactPerson>,
    /// Organisations to work with on it ("Hội Cựu chiến binh").
    #[uniffi(default)]
    pub coordinate_with: Vec<String>,
}

/// A new directive (công văn, kế hoạch, thông báo …).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DirectiveInput {
    /// Its kind by code: "cong-van" (the default), "ke-hoach", "thong-bao", "huong-dan",
    /// "ket-luan", "chuong-trinh", "chi-thi", "quyet-dinh", "cong-dien", "giay-moi", "khac".
    #[uniffi(default = None)]
    pub document_kind: Option<String>,
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
    /// Recipient unit ids.
    pub recipients: Vec<String>,
    /// The "Kính gửi" line.
    pub recipients_label: String,
    /// "Nơi nhận": where copies go, one line each ("Như trên;", "Lưu: VT.").
    #[uniffi(default)]
    pub copies_to: Vec<String>,
    /// The prose outside the tasks.
    #[uniffi(default = "")]
    pub body: String,
    /// The numbered tasks.
    pub tasks: Vec<TaskInput>,
}

impl DirectiveInput {
    pub(crate) fn into_core(self) -> Result<core::NewDirective> {
        let recipients = self
            .recipients
            .iter()
            .enumerate()
            .map(|(i, r)| unit_id(&format!("recipients[{i}]"), r))
            .collect::<Result<Vec<_>>>()?;
        let document_kind = match self.document_kind.as_deref() {
            None | Some("") => DocumentKind::default(),
            Some(code) => DocumentKind::from_code(code).ok_or_else(|| {
                GiaoBanError::invalid(
                    "document_kind",
                    format!(
                        "'{code}' is not a document kind; use one of {}",
                        DocumentKind::ALL.map(DocumentKind::code).join(", ")
                    ),
                )
            })?,
        };
        Ok(core::NewDirective {
            document_kind,
            copies_to: self.copies_to,
            number: self.number,
            issuer_name: self.issuer_name,
            place: self.place,
            issued_on: self.issued_on,
            subject: self.subject,
            basis: Vec::new(),
            recipients,
            recipients_label: self.recipients_label,
            signer: None,
            body: self.body,
            tasks: self
                .tasks
                .into_iter()
                .map(|t| core::NewTask {
                    ordinal: t.ordinal,
                    text: t.text,
                    report_required: t.report_required,
                    deadline: t.deadline.map(Into::into),
                    contact: t.contact,
                    contact_person: t.contact_person.map(Into::into),
                    coordinate_with: t.coordinate_with,
                    indicators: Vec::new(),
                    consolidation: None,
                    from_conclusion: None,
                })
                .collect(),
        })
    }
}

/// A directive as a detail screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DirectiveDetail {
    /// Its id.
    pub id: String,
    /// Its kind's code ("cong-van", "ke-hoach" …).
    pub document_kind: String,
    /// Its kind as printed ("Công văn", "Kế hoạch" …).
    pub document_kind_name: String,
    /// "305/MTTQ-BTT".
    pub number: String,
    /// The issuing body.
    pub issuer_name: String,
    /// "Long Khánh".
    pub place: String,
    /// "24/01/2022".
    pub issued_on: String,
    /// "V/v …".
    pub subject: String,
    /// "Kính gửi: …".
    pub recipients_label: String,
    /// "Nơi nhận", one line each.
    pub copies_to: Vec<String>,
    /// Body prose.
    pub body: String,
    /// The numbered tasks, with their deadlines.
    pub tasks: Vec<DirectiveTask>,
}

/// One task of a directive.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DirectiveTask {
    /// Its number.
    pub ordinal: u64,
    /// Its words.
    pub text: String,
    /// Whether a report is required.
    pub report_required: bool,
    /// Its deadline.
    pub deadline: Option<DeadlineInfo>,
    /// "đ/c Muối-CV".
    pub contact: Option<String>,
    /// The person to contact, with title and phone, when known.
    pub contact_person: Option<ContactPerson>,
    /// Organisations to work with on it.
    pub coordinate_with: Vec<String>,
}

impl From<Directive> for DirectiveDetail {
    fn from(d: Directive) -> Self {
        DirectiveDetail {
            id: d.header.id.to_string(),
            document_kind: d.document_kind.code().into(),
            document_kind_name: d.document_kind.name_vi().into(),
            number: d.number.raw,
            issuer_name: d.issuer_name,
            place: d.place,
            issued_on: date(d.issued_on),
            subject: d.subject,
            recipients_label: d.recipients_label,
            copies_to: d.copies_to,
            body: d.body.as_str().to_string(),
            tasks: d
                .tasks
                .into_iter()
                .map(|t| DirectiveTask {
                    ordinal: t.ordinal,
                    text: t.text,
                    report_required: t.report_required,
                    deadline: t.deadline.as_ref().map(DeadlineInfo::from),
                    contact: t.contact,
                    contact_person: t.contact_person.map(Into::into),
                    coordinate_with: t.coordinate_with,
                })
                .collect(),
        }
    }
}

/// A search result.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SearchResult {
    /// The document.
    pub id: String,
    /// "directive", "report", …
    pub kind: String,
    /// Its title.
    pub title: String,
}

impl From<core::SearchHit> for SearchResult {
    fn from(h: core::SearchHit) -> Self {
        SearchResult { id: h.id.to_string(), kind: h.kind.as_str().into(), title: h.title }
    }
}

/// A unit of the organisation.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UnitInfo {
    /// Its id.
    pub id: String,
    /// Full name.
    pub name: String,
    /// Short name for lists ("P. Xuân Trung").
    pub short_name: String,
    /// Its parent's id; `None` for the root.
    pub parent: Option<String>,
    /// Its people to contact (name, title, phone), as its office keeps them.
    pub people: Vec<ContactPerson>,
}
