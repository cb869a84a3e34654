//! Time as the domain sees it: instants in UTC milliseconds, calendar dates in
//! Asia/Ho_Chi_Minh, and deadlines that keep the words they were written with.
//!
//! Nothing here reads a clock: "now" is always an argument.

use autosurgeon::{Hydrate, HydrateError, Prop, ReadDoc, Reconcile, Reconciler};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Asia::Ho_Chi_Minh;

/// An instant, as milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Reconcile)]
pub struct Timestamp(pub i64);

// Written by hand so that `Option<Timestamp>` reads (through `hydrate_int`).
impl Hydrate for Timestamp {
    fn hydrate_int(i: i64) -> Result<Self, HydrateError> {
        Ok(Timestamp(i))
    }

    fn hydrate_uint(u: u64) -> Result<Self, HydrateError> {
        i64::try_from(u).map(Timestamp).map_err(|_| HydrateError::unexpected("a timestamp", u.to_string()))
    }
}

impl Timestamp {
    /// The calendar date of this instant in Vietnam.
    pub fn local_date(self) -> NaiveDate {
        self.to_datetime().with_timezone(&Ho_Chi_Minh).date_naive()
    }

    /// As a chrono UTC date-time (the Unix epoch if out of range).
    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0).unwrap_or_default()
    }

    /// Midnight at the start of `date` in Vietnam.
    pub fn start_of_local_day(date: NaiveDate) -> Timestamp {
        let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        // Asia/Ho_Chi_Minh has had no DST or gaps since 1975; `earliest` is total anyway.
        let local = Ho_Chi_Minh
            .from_local_datetime(&midnight)
            .earliest()
            .map(|dt| dt.timestamp_millis())
            .unwrap_or(midnight.and_utc().timestamp_millis() - 7 * 3_600_000);
        Timestamp(local)
    }
}

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// Reconcile/hydrate a calendar date as an ISO string ("2022-02-08") inside documents.
pub mod iso_date {
    use super::*;

    /// Writes the date as "yyyy-mm-dd".
    pub fn reconcile<R: Reconciler>(date: &NaiveDate, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.str(date.format("%Y-%m-%d").to_string())
    }

    /// Reads a date written by [`reconcile`].
    pub fn hydrate<D: ReadDoc>(
        doc: &D,
        obj: &automerge::ObjId,
        prop: Prop<'_>,
    ) -> Result<NaiveDate, HydrateError> {
        let s = String::hydrate(doc, obj, prop)?;
        NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map_err(|_| HydrateError::unexpected("a date as yyyy-mm-dd", s))
    }
}

/// Reconcile/hydrate an optional calendar date.
pub mod iso_date_opt {
    use super::*;

    /// Writes the date as "yyyy-mm-dd", or null.
    pub fn reconcile<R: Reconciler>(date: &Option<NaiveDate>, mut reconciler: R) -> Result<(), R::Error> {
        match date {
            Some(d) => reconciler.str(d.format("%Y-%m-%d").to_string()),
            None => reconciler.none(),
        }
    }

    /// Reads a date written by [`reconcile`].
    pub fn hydrate<D: ReadDoc>(
        doc: &D,
        obj: &automerge::ObjId,
        prop: Prop<'_>,
    ) -> Result<Option<NaiveDate>, HydrateError> {
        let s = Option::<String>::hydrate(doc, obj, prop)?;
        s.map(|s| {
            NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .map_err(|_| HydrateError::unexpected("a date as yyyy-mm-dd", s))
        })
        .transpose()
    }
}

/// Reconcile/hydrate an optional calendar date added to a record after documents were
/// written: a document without it reads as `None`.
pub mod iso_date_added {
    use super::*;

    /// Writes the date as "yyyy-mm-dd", or null.
    pub fn reconcile<R: Reconciler>(date: &Option<NaiveDate>, reconciler: R) -> Result<(), R::Error> {
        super::iso_date_opt::reconcile(date, reconciler)
    }

    /// Reads a date written by [`reconcile`]; nothing there reads as `None`.
    pub fn hydrate<D: ReadDoc>(
        doc: &D,
        obj: &automerge::ObjId,
        prop: Prop<'_>,
    ) -> Result<Option<NaiveDate>, HydrateError> {
        if doc.get(obj, &prop)?.is_none() {
            return Ok(None);
        }
        super::iso_date_opt::hydrate(doc, obj, prop)
    }
}

/// A deadline as the issuer wrote it, and what it means.
///
/// "trước ngày 08/02/2022" is ambiguous: by the end of 07/02, or by 08/02 itself. The issuer
/// chooses with `exclusive`; the original words are kept beside the parsed date.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Deadline {
    /// The words of the dispatch, e.g. "trước ngày 08/02/2022".
    pub original_text: String,
    /// The date named, in Vietnam's calendar.
    #[autosurgeon(with = "iso_date")]
    pub due_date: NaiveDate,
    /// When true, work is due before `due_date` begins; when false, by the end of `due_date`.
    pub exclusive: bool,
}

impl Deadline {
    /// The first instant at which work not yet received is late.
    pub fn cutoff(&self) -> Timestamp {
        let start = Timestamp::start_of_local_day(self.due_date);
        if self.exclusive { start } else { Timestamp(start.0 + DAY_MS) }
    }

    /// The last calendar day on which the work is on time.
    pub fn last_day(&self) -> NaiveDate {
        if self.exclusive { self.due_date.pred_opt().unwrap_or(self.due_date) } else { self.due_date }
    }

    /// Where a piece of work stands against this deadline. `received_at` is when the relay
    /// received the submission (device clocks are not trusted); `now` is the caller's clock.
    pub fn standing(
        &self,
        now: Timestamp,
        received_at: Option<Timestamp>,
        due_soon_window_ms: i64,
    ) -> DeadlineStanding {
        let cutoff = self.cutoff();
        match received_at {
            Some(at) if at < cutoff => DeadlineStanding::DoneOnTime,
            Some(_) => DeadlineStanding::DoneLate,
            None if now >= cutoff => DeadlineStanding::Overdue,
            None if cutoff.0 - now.0 <= due_soon_window_ms => DeadlineStanding::DueSoon,
            None => DeadlineStanding::Upcoming,
        }
    }
}

/// Derived, never stored: a task's position against its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadlineStanding {
    /// Not done, and the cutoff is more than the window away.
    Upcoming,
    /// Not done, and the cutoff is within the window.
    DueSoon,
    /// Not done, and the cutoff has passed.
    Overdue,
    /// Received before the cutoff.
    DoneOnTime,
    /// Received at or after the cutoff.
    DoneLate,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Timestamp {
        Timestamp(Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap().timestamp_millis())
    }

    #[test]
    fn evening_utc_is_next_day_in_vietnam() {
        // 17:30Z on 07/02 is 00:30 on 08/02 in Hồ Chí Minh City.
        assert_eq!(utc(2022, 2, 7, 17, 30).local_date(), date(2022, 2, 8));
        assert_eq!(utc(2022, 2, 7, 16, 59).local_date(), date(2022, 2, 7));
    }

    #[test]
    fn exclusive_deadline_cuts_off_at_local_midnight() {
        let d = Deadline {
            original_text: "trước ngày 08/02/2022".into(),
            due_date: date(2022, 2, 8),
            exclusive: true,
        };
        assert_eq!(d.cutoff(), utc(2022, 2, 7, 17, 0));
        assert_eq!(d.last_day(), date(2022, 2, 7));
        let now = utc(2022, 2, 7, 17, 30);
        assert_eq!(d.standing(now, None, DAY_MS), DeadlineStanding::Overdue);
        assert_eq!(d.standing(now, Some(utc(2022, 2, 7, 16, 59)), DAY_MS), DeadlineStanding::DoneOnTime);
        assert_eq!(d.standing(now, Some(utc(2022, 2, 7, 17, 0)), DAY_MS), DeadlineStanding::DoneLate);
    }

    #[test]
    fn inclusive_deadline_runs_to_end_of_day() {
        let d = Deadline {
            original_text: "chậm nhất ngày 08/02/2022".into(),
            due_date: date(2022, 2, 8),
            exclusive: false,
        };
        assert_eq!(d.cutoff(), utc(2022, 2, 8, 17, 0));
        assert_eq!(d.standing(utc(2022, 2, 8, 10, 0), None, DAY_MS), DeadlineStanding::DueSoon);
        assert_eq!(d.standing(utc(2022, 2, 1, 10, 0), None, DAY_MS), DeadlineStanding::Upcoming);
    }
}
