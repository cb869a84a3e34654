//! Briefing meetings (giao ban) whose conclusions become tasks.

use giaoban_protocol::schema::{Conclusion, ConclusionRef, Directive, Header, Meeting, MeetingKind};
use giaoban_protocol::{DocId, DocKind, UnitId};
use giaoban_vietnamese_text::{clean_input, clean_multiline};

use super::{NewDeadline, date_field, deadline_field};
use crate::Store;
use crate::error::{CoreError, Result};

/// A conclusion as typed.
#[derive(Debug, Clone, Default)]
pub struct NewConclusion {
    /// "Đối với BTT các xã, thị trấn".
    pub target_label: String,
    /// The units addressed.
    pub target_units: Vec<UnitId>,
    /// The words.
    pub text: String,
    /// Whether it becomes a task for each target unit.
    pub creates_task: bool,
    /// The task's deadline.
    pub deadline: Option<NewDeadline>,
}

/// A meeting as typed.
#[derive(Debug, Clone, Default)]
pub struct NewMeeting {
    /// Giao ban tháng, quý, sơ kết, tổng kết, trực báo …
    pub kind: MeetingKind,
    /// "Hội nghị giao ban công tác Mặt trận quý IV năm 2020".
    pub title: String,
    /// "18/12/2020".
    pub held_on: String,
    /// "huyện Ninh Sơn".
    pub place: String,
    /// Who chaired.
    pub chair: String,
    /// Conclusions in order (numbered from 1).
    pub conclusions: Vec<NewConclusion>,
}

impl Store {
    /// Records a meeting and its conclusions. Returns its id.
    pub fn record_meeting(&mut self, input: NewMeeting) -> Result<DocId> {
        let id = self.new_doc_id();
        self.record_meeting_as(id, input)
    }

    /// Records a meeting with the id `id`, chosen by the caller so that a form sent twice
    /// records it once: if this unit's meeting `id` exists already, nothing is written.
    pub fn record_meeting_as(&mut self, id: DocId, input: NewMeeting) -> Result<DocId> {
        let owner = self.my_unit()?;
        if self.exists(id)? {
            let existing = self.header(id)?;
            if existing.owner == owner && existing.kind == DocKind::Meeting {
                return Ok(id);
            }
            return Err(CoreError::invalid("id", "another record has this id"));
        }
        let held_on = date_field("held_on", &input.held_on)?;
        let mut conclusions = Vec::with_capacity(input.conclusions.len());
        let mut audience = Vec::new();
        for (i, c) in input.conclusions.iter().enumerate() {
            let ordinal = i as u64 + 1;
            let deadline = c
                .deadline
                .as_ref()
                .map(|d| deadline_field(&format!("conclusions[{ordinal}].deadline"), d))
                .transpose()?;
            if deadline.as_ref().is_some_and(|d| d.last_day() < held_on) {
                return Err(CoreError::invalid(
                    format!("conclusions[{ordinal}].deadline"),
                    "the deadline is before the meeting was held",
                ));
            }
            audience.extend(c.target_units.iter().copied());
            conclusions.push(Conclusion {
                ordinal,
                target_label: clean_input(&c.target_label),
                target_units: c.target_units.clone(),
                text: clean_multiline(&c.text),
                creates_task: c.creates_task,
                deadline,
            });
        }
        audience.retain(|u| *u != owner);
        audience.sort();
        audience.dedup();
        let meeting = Meeting {
            header: Header::new(id, DocKind::Meeting, owner, audience),
            kind: input.kind,
            title: clean_input(&input.title),
            held_on,
            place: clean_input(&input.place),
            chair: clean_input(&input.chair),
            conclusions,
        };
        self.create(&meeting, false)?;
        Ok(id)
    }

    /// A meeting this device holds.
    pub fn meeting(&mut self, id: DocId) -> Result<Meeting> {
        self.get(id)
    }

    /// The meetings this device holds (its unit's own and those addressed to it), the most
    /// recently held first.
    pub fn meetings(&mut self) -> Result<Vec<Meeting>> {
        let mut out = Vec::new();
        for id in self.document_ids(Some(DocKind::Meeting))? {
            out.push(self.get::<Meeting>(id)?);
        }
        out.sort_by(|a, b| b.held_on.cmp(&a.held_on).then_with(|| b.header.id.cmp(&a.header.id)));
        Ok(out)
    }

    /// The tasks of this unit's dispatches that carry out a conclusion of `meeting`: (the
    /// conclusion's number, the dispatch, the task's number), in the conclusions' order.
    pub fn dispatched_from(&mut self, meeting: DocId) -> Result<Vec<DispatchedConclusion>> {
        let owner = self.my_unit()?;
        let mut out = Vec::new();
        for id in self.document_ids(Some(DocKind::Directive))? {
            if self.header(id)?.owner != owner {
                continue;
            }
            let d: Directive = self.get(id)?;
            for t in &d.tasks {
                if let Some(c) = t.from_conclusion.filter(|c| c.meeting == meeting) {
                    out.push(DispatchedConclusion {
                        conclusion: c.ordinal,
                        directive: id,
                        number: d.number.raw.clone(),
                        task: t.ordinal,
                    });
                }
            }
        }
        out.sort_by_key(|d| (d.conclusion, d.directive, d.task));
        Ok(out)
    }

    /// Checks that `c` names a conclusion of one of this unit's meetings that a dispatch may
    /// carry out: the meeting is here, the conclusion exists, and it is not already a task of
    /// its own for its units (its units would then have the work twice).
    pub(crate) fn conclusion_to_dispatch(&mut self, c: ConclusionRef, field: &str) -> Result<ConclusionRef> {
        let owner = self.my_unit()?;
        if !self.exists(c.meeting)? || self.header(c.meeting)?.kind != DocKind::Meeting {
            return Err(CoreError::invalid(field, "no such meeting on this device"));
        }
        let m: Meeting = self.get(c.meeting)?;
        if m.header.owner != owner {
            return Err(CoreError::invalid(field, "the meeting was held by another unit"));
        }
        match m.conclusions.iter().find(|k| k.ordinal == c.ordinal) {
            None => Err(CoreError::invalid(field, format!("the meeting has no conclusion {}", c.ordinal))),
            Some(k) if k.creates_task => Err(CoreError::invalid(
                field,
                "this conclusion is already a task of its own for the units it names",
            )),
            Some(_) => Ok(c),
        }
    }
}

/// A conclusion carried out by a task of a dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchedConclusion {
    /// The conclusion's number in the meeting.
    pub conclusion: u64,
    /// The dispatch.
    pub directive: DocId,
    /// Its number as printed ("12/TB-MTTQ-BTT").
    pub number: String,
    /// The task's number in the dispatch.
    pub task: u64,
}
