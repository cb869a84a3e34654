//! Meeting: a briefing (giao ban, trực báo) and its conclusions, which may become tasks.

use std::collections::HashSet;

use autosurgeon::{Hydrate, Reconcile};
use chrono::NaiveDate;

use super::validate::{self, Invalid, LINE_MAX, PROSE_MAX};
use super::{DocKind, DocumentSchema, Header};
use crate::ids::UnitId;
use crate::time::{Deadline, iso_date};

/// One conclusion, addressed to some units ("Đối với BTT các xã …").
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Conclusion {
    /// Its number within the meeting.
    #[key]
    pub ordinal: u64,
    /// As addressed in the minutes ("Đối với BTT các xã, thị trấn").
    pub target_label: String,
    /// The units it is addressed to (also in the header's audience).
    pub target_units: Vec<UnitId>,
    /// The words.
    pub text: String,
    /// When true the conclusion is a task for each target unit.
    pub creates_task: bool,
    /// The task's deadline, if any.
    pub deadline: Option<Deadline>,
}

/// A meeting. Owner: the organising unit; audience: every unit a conclusion addresses.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Meeting {
    /// Id, kind, owner (the organiser) and audience.
    pub header: Header,
    /// "Hội nghị giao ban công tác Mặt trận quý IV năm 2020".
    pub title: String,
    /// The date it was held.
    #[autosurgeon(with = "iso_date")]
    pub held_on: NaiveDate,
    /// Where.
    pub place: String,
    /// Who chaired.
    pub chair: String,
    /// The conclusions in order.
    pub conclusions: Vec<Conclusion>,
}

impl DocumentSchema for Meeting {
    const KIND: DocKind = DocKind::Meeting;

    fn header(&self) -> &Header {
        &self.header
    }

    fn validate(&self) -> Result<(), Invalid> {
        validate::header(&self.header, DocKind::Meeting)?;
        validate::required_text("title", &self.title, LINE_MAX)?;
        validate::text("place", &self.place, LINE_MAX)?;
        validate::text("chair", &self.chair, LINE_MAX)?;
        let mut seen = HashSet::new();
        for c in &self.conclusions {
            let f = format!("conclusions[{}]", c.ordinal);
            if !seen.insert(c.ordinal) {
                return Err(Invalid::new(f, "two conclusions have the same number"));
            }
            validate::required_text(&format!("{f}.text"), &c.text, PROSE_MAX)?;
            if c.creates_task && c.target_units.is_empty() {
                return Err(Invalid::new(f, "a conclusion that creates a task needs target units"));
            }
            let addressed = |u: &&crate::UnitId| self.header.audience.contains(u) || **u == self.header.owner;
            if let Some(u) = c.target_units.iter().find(|u| !addressed(u)) {
                return Err(Invalid::new(f, format!("target unit {u} is not in the audience")));
            }
        }
        Ok(())
    }

    fn title(&self) -> String {
        self.title.clone()
    }

    fn search_text(&self) -> String {
        let mut s = format!("{}\n{}\n{}\n", self.title, self.place, self.chair);
        for c in &self.conclusions {
            s.push_str(&c.target_label);
            s.push('\n');
            s.push_str(&c.text);
            s.push('\n');
        }
        s
    }
}
