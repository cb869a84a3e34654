//! Review: the issuer's verdict on a report, round by round.

use autosurgeon::{Hydrate, Reconcile};

use super::validate::{self, Invalid, PROSE_MAX};
use super::{DocKind, DocumentSchema, Header};
use crate::ids::DocId;
use crate::time::Timestamp;

/// The issuer's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Reconcile, Hydrate)]
pub enum Verdict {
    /// The report is accepted.
    Accepted,
    /// The report goes back to the unit with a note.
    Returned,
}

/// One review of a report.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct ReviewRound {
    /// Accepted or returned.
    pub verdict: Verdict,
    /// Why, or what to fix. Required when returned.
    pub note: String,
    /// The reviewing device's clock: informational only.
    pub at_device: Timestamp,
    /// Which submission of the report's task this round judged (the task's submission count
    /// the reviewer saw, at least 1). A later resubmission makes the report await review
    /// again. Rounds written before this field read as 0: they stand whatever came after.
    #[autosurgeon(missing = "Default::default")]
    pub submission: u64,
    /// For an acceptance, what the figures the reviewer accepted said
    /// ([`crate::schema::Report::figures_digest`]): figures changed after it (by a device that
    /// had not seen the verdict) are not what was accepted. Empty for a return and for rounds
    /// written before it was kept.
    #[autosurgeon(missing = "String::new")]
    pub figures_seen: String,
}

/// The reviews of one report. Owner: the issuer; audience: the reporting unit.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Review {
    /// Id, kind, owner (the reviewer's unit) and audience (the reporting unit).
    pub header: Header,
    /// The report reviewed.
    pub report: DocId,
    /// Every round, oldest first; the last one stands.
    pub rounds: Vec<ReviewRound>,
}

impl Review {
    /// The id of `reviewer`'s review of `report`.
    pub fn id_for(report: DocId, reviewer: crate::UnitId) -> DocId {
        DocId::derived(report.as_uuid(), &reviewer.to_bytes())
    }

    /// The standing verdict.
    pub fn latest(&self) -> Option<&ReviewRound> {
        self.rounds.last()
    }
}

impl DocumentSchema for Review {
    const KIND: DocKind = DocKind::Review;

    fn header(&self) -> &Header {
        &self.header
    }

    fn validate(&self) -> Result<(), Invalid> {
        validate::header(&self.header, DocKind::Review)?;
        if self.header.audience.is_empty() {
            return Err(Invalid::new("audience", "a review goes to the reporting unit"));
        }
        for (i, r) in self.rounds.iter().enumerate() {
            let field = format!("rounds[{i}].note");
            validate::text(&field, &r.note, PROSE_MAX)?;
            if r.verdict == Verdict::Returned && r.note.trim().is_empty() {
                return Err(Invalid::new(field, "a returned report needs a note saying what to fix"));
            }
        }
        Ok(())
    }

    fn title(&self) -> String {
        match self.latest().map(|r| r.verdict) {
            Some(Verdict::Accepted) => "Đã tiếp nhận báo cáo".to_string(),
            Some(Verdict::Returned) => "Trả lại báo cáo".to_string(),
            None => "Chưa xem xét".to_string(),
        }
    }

    fn search_text(&self) -> String {
        self.rounds.iter().map(|r| r.note.as_str()).collect::<Vec<_>>().join("\n")
    }
}
