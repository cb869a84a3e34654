//! Response: one recipient unit's state for the tasks of one directive.

use std::collections::HashSet;

use autosurgeon::{Hydrate, Reconcile, Text};

use super::validate::{self, Invalid};
use super::{DocKind, DocumentSchema, Header};
use crate::ids::DocId;
use crate::time::Timestamp;

/// Where the assignee stands on a task. "Received" and "overdue" are derived, not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Reconcile, Hydrate)]
pub enum TaskState {
    /// Delivered to the unit; nobody has taken it on yet.
    Received,
    /// Someone at the unit opened it and took it on.
    Acknowledged,
    /// Work has started.
    InProgress,
    /// The report or answer has been submitted.
    Submitted,
    /// Nothing to report here ("không phát sinh").
    NotApplicable,
}

impl TaskState {
    /// The stable name used in SQLite and filters.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Received => "received",
            TaskState::Acknowledged => "acknowledged",
            TaskState::InProgress => "in_progress",
            TaskState::Submitted => "submitted",
            TaskState::NotApplicable => "not_applicable",
        }
    }

    /// Parses [`TaskState::as_str`].
    pub fn parse(s: &str) -> Option<TaskState> {
        [
            TaskState::Received,
            TaskState::Acknowledged,
            TaskState::InProgress,
            TaskState::Submitted,
            TaskState::NotApplicable,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }

    /// Whether the task needs no more work from the assignee.
    pub fn is_done(self) -> bool {
        matches!(self, TaskState::Submitted | TaskState::NotApplicable)
    }
}

/// The assignee's progress on one task.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct TaskProgress {
    /// The directive task's number.
    #[key]
    pub ordinal: u64,
    /// Where it stands.
    pub state: TaskState,
    /// Working notes, or why it does not apply. Text, so two cadres' words merge.
    pub note: Text,
    /// The report answering it, once written.
    pub report: Option<DocId>,
    /// The writing device's clock at the last change: informational only.
    pub updated_at_device: Timestamp,
    /// How many times the unit has submitted it. Each submission is a new change here, so the
    /// relay's receipt time of the latest one (a resubmission after the report was returned)
    /// is known; documents written before this field read as 0.
    #[autosurgeon(missing = "Default::default")]
    pub submissions: u64,
}

/// A unit's answer to a directive. Owner: the recipient unit; audience: the issuer.
///
/// Its id is derived from the directive and the unit ([`Response::id_for`]) and its first change
/// is deterministic, with one entry per task, so two devices of a unit that start answering
/// offline write into the same document and the same task entries.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Response {
    /// Id, kind, owner (the recipient) and audience (the issuer).
    pub header: Header,
    /// The directive answered.
    pub directive: DocId,
    /// Per task progress; tasks not listed are not yet acknowledged.
    pub tasks: Vec<TaskProgress>,
}

impl Response {
    /// The id of `unit`'s response to `directive`.
    pub fn id_for(directive: DocId, unit: crate::UnitId) -> DocId {
        DocId::derived(directive.as_uuid(), &unit.to_bytes())
    }

    /// Progress on task `ordinal`, if any.
    pub fn task(&self, ordinal: u64) -> Option<&TaskProgress> {
        self.tasks.iter().find(|t| t.ordinal == ordinal)
    }
}

impl DocumentSchema for Response {
    const KIND: DocKind = DocKind::Response;

    fn header(&self) -> &Header {
        &self.header
    }

    fn validate(&self) -> Result<(), Invalid> {
        validate::header(&self.header, DocKind::Response)?;
        let mut seen = HashSet::new();
        for t in &self.tasks {
            if !seen.insert(t.ordinal) {
                return Err(Invalid::new(format!("tasks[{}]", t.ordinal), "listed twice"));
            }
            validate::merged_text(&format!("tasks[{}].note", t.ordinal), t.note.as_str())?;
        }
        Ok(())
    }

    fn title(&self) -> String {
        format!("Phản hồi văn bản {}", self.directive)
    }

    fn search_text(&self) -> String {
        self.tasks.iter().map(|t| t.note.as_str()).collect::<Vec<_>>().join("\n")
    }
}
