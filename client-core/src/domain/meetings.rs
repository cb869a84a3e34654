//! Briefing meetings (giao ban) whose conclusions become tasks.

use giaoban_protocol::schema::{Conclusion, Header, Meeting};
use giaoban_protocol::{DocId, DocKind, UnitId};
use giaoban_vietnamese_text::{clean_input, clean_multiline};

use super::{NewDeadline, date_field, deadline_field};
use crate::Store;
use crate::error::Result;

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
        let owner = self.my_unit()?;
        let mut conclusions = Vec::with_capacity(input.conclusions.len());
        let mut audience = Vec::new();
        for (i, c) in input.conclusions.iter().enumerate() {
            let ordinal = i as u64 + 1;
            let deadline = c
                .deadline
                .as_ref()
                .map(|d| deadline_field(&format!("conclusions[{ordinal}].deadline"), d))
                .transpose()?;
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
            header: Header::new(self.new_doc_id(), DocKind::Meeting, owner, audience),
            title: clean_input(&input.title),
            held_on: date_field("held_on", &input.held_on)?,
            place: clean_input(&input.place),
            chair: clean_input(&input.chair),
            conclusions,
        };
        let id = meeting.header.id;
        self.create(&meeting, false)?;
        Ok(id)
    }
}
