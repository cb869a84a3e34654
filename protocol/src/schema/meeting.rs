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

/// What sort of meeting it was. Meetings recorded before the kind was kept read as
/// [`MeetingKind::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Reconcile, Hydrate)]
pub enum MeetingKind {
    /// Giao ban tháng: the monthly briefing.
    MonthlyBriefing,
    /// Giao ban quý: the quarterly briefing.
    QuarterlyBriefing,
    /// Sơ kết: a half-way review (of six months, of a campaign).
    Review,
    /// Tổng kết: the year's (or a term's) closing review.
    ClosingReview,
    /// Trực báo: a short briefing of the standing committee with the units on duty.
    DutyBriefing,
    /// Any other meeting (hội nghị, làm việc).
    #[default]
    Other,
}

impl MeetingKind {
    /// Every kind, in the order a form offers them.
    pub const ALL: [MeetingKind; 6] = [
        MeetingKind::MonthlyBriefing,
        MeetingKind::QuarterlyBriefing,
        MeetingKind::Review,
        MeetingKind::ClosingReview,
        MeetingKind::DutyBriefing,
        MeetingKind::Other,
    ];

    /// Its Vietnamese name: "Giao ban tháng" …
    pub fn name_vi(self) -> &'static str {
        match self {
            MeetingKind::MonthlyBriefing => "Giao ban tháng",
            MeetingKind::QuarterlyBriefing => "Giao ban quý",
            MeetingKind::Review => "Sơ kết",
            MeetingKind::ClosingReview => "Tổng kết",
            MeetingKind::DutyBriefing => "Trực báo",
            MeetingKind::Other => "Hội nghị khác",
        }
    }

    /// A short code for forms and bindings: "giao-ban-thang" …
    pub fn code(self) -> &'static str {
        match self {
            MeetingKind::MonthlyBriefing => "giao-ban-thang",
            MeetingKind::QuarterlyBriefing => "giao-ban-quy",
            MeetingKind::Review => "so-ket",
            MeetingKind::ClosingReview => "tong-ket",
            MeetingKind::DutyBriefing => "truc-bao",
            MeetingKind::Other => "khac",
        }
    }

    /// The kind of `code` (as [`MeetingKind::code`] gives it).
    pub fn from_code(code: &str) -> Option<MeetingKind> {
        MeetingKind::ALL.into_iter().find(|k| k.code() == code.trim())
    }
}

/// A meeting. Owner: the organising unit; audience: every unit a conclusion addresses.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Meeting {
    /// Id, kind, owner (the organiser) and audience.
    pub header: Header,
    /// Giao ban tháng, quý, sơ kết, tổng kết, trực báo …
    #[autosurgeon(missing = "MeetingKind::default")]
    pub kind: MeetingKind,
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ids::DocId;
    use automerge::{ROOT, transaction::Transactable};

    /// A meeting recorded before its kind was kept reads as "another meeting"; codes go and
    /// come back.
    #[test]
    fn a_meeting_recorded_before_kinds_reads_as_another_meeting() {
        let meeting = Meeting {
            header: Header::new(
                DocId::from_bytes([3; 16]),
                DocKind::Meeting,
                UnitId::from_bytes([1; 16]),
                vec![],
            ),
            kind: MeetingKind::DutyBriefing,
            title: "Hội nghị trực báo tháng 12 năm 2020".into(),
            held_on: NaiveDate::from_ymd_opt(2020, 12, 18).unwrap(),
            place: "huyện Ninh Sơn".into(),
            chair: String::new(),
            conclusions: Vec::new(),
        };
        let mut doc = automerge::AutoCommit::new();
        autosurgeon::reconcile(&mut doc, &meeting).unwrap();
        let back: Meeting = autosurgeon::hydrate(&doc).unwrap();
        assert_eq!(back.kind, MeetingKind::DutyBriefing);
        doc.delete(ROOT, "kind").unwrap();
        let old: Meeting = autosurgeon::hydrate(&doc).unwrap();
        assert_eq!(old.kind, MeetingKind::Other);
        assert!(old.validate().is_ok());
        for k in MeetingKind::ALL {
            assert_eq!(MeetingKind::from_code(k.code()), Some(k));
        }
    }
}
