//! The issuer's review of reports: accept, or return with a note.

use giaoban_protocol::schema::{Header, Report, Review, ReviewRound, Verdict};
use giaoban_protocol::{DocId, DocKind};
use giaoban_vietnamese_text::clean_multiline;

use crate::Store;
use crate::error::{CoreError, Result};

impl Store {
    /// Accepts or returns `report`. Only a unit the report is addressed to may review it.
    /// Returning needs a note saying what to fix.
    pub fn review_report(&mut self, report: DocId, verdict: Verdict, note: &str) -> Result<DocId> {
        let unit = self.my_unit()?;
        let r: Report = self.get(report)?;
        if !r.header.audience.contains(&unit) {
            return Err(CoreError::invalid("report", "this report is not addressed to this unit"));
        }
        if r.submitted_at_device.is_none() {
            return Err(CoreError::invalid("report", "the report is still a draft"));
        }
        let id = Review::id_for(report, unit);
        if !self.exists(id)? {
            let genesis = Review {
                header: Header::new(id, DocKind::Review, unit, vec![r.header.owner]),
                report,
                rounds: Vec::new(),
            };
            self.create(&genesis, true)?;
        }
        // The submission judged: the latest this device knows of (at least the first).
        let seen: i64 = self
            .conn()
            .prepare_cached("SELECT COALESCE(MAX(submissions), 0) FROM tasks WHERE report = ?1")?
            .query_row(rusqlite::params![report.to_bytes().to_vec()], |r| r.get(0))?;
        let round = ReviewRound {
            verdict,
            note: clean_multiline(note),
            at_device: self.now(),
            submission: (seen.max(1)) as u64,
            figures_seen: if verdict == Verdict::Accepted { r.figures_digest() } else { String::new() },
        };
        self.modify::<Review, _>(id, |rv| {
            rv.rounds.push(round);
            Ok(())
        })?;
        Ok(id)
    }

    /// The standing review of `report` by `reviewer`'s unit, if any.
    pub fn review_of(&mut self, report: DocId, reviewer: giaoban_protocol::UnitId) -> Result<Option<Review>> {
        let id = Review::id_for(report, reviewer);
        match self.get::<Review>(id) {
            Ok(r) => Ok(Some(r)),
            Err(CoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
