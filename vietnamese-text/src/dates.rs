//! Dates as Vietnamese documents write them: "08/02/2022", "ngày 24 tháng 01 năm 2022", and
//! report periods: "quý IV/2020", "tháng 6/2018", "6 tháng đầu năm 2022", "năm 2021".

use chrono::{Datelike, NaiveDate};

use crate::key::search_key;

/// A date or period that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{input}' is not a date: {reason} (write e.g. 08/02/2022 or ngày 08 tháng 02 năm 2022)")]
pub struct DateError {
    /// What was typed.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// "08/02/2022".
pub fn format_date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// "ngày 24 tháng 01 năm 2022", "ngày 05 tháng 3 năm 2020": as Decree 30/2020 asks, a day
/// below 10 and the months 1 and 2 take a leading zero (so "tháng 01" is never read as the
/// start of "tháng 11"); the other months do not.
pub fn format_long_date(d: NaiveDate) -> String {
    let month = match d.month() {
        m @ (1 | 2) => format!("{m:02}"),
        m => m.to_string(),
    };
    format!("ngày {:02} tháng {month} năm {}", d.day(), d.year())
}

fn number(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 4 || !s.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn ymd(input: &str, y: u32, m: u32, d: u32) -> Result<NaiveDate, DateError> {
    if !(1900..=2999).contains(&y) {
        return Err(DateError { input: input.to_string(), reason: "the year must have four digits" });
    }
    NaiveDate::from_ymd_opt(y as i32, m, d)
        .ok_or(DateError { input: input.to_string(), reason: "no such day in the calendar" })
}

/// Reads "08/02/2022", "8/2/2022", "08-02-2022", "08.02.2022", "2022-02-08" or
/// "ngày 24 tháng 01 năm 2022" (any spacing, NFC or NFD).
pub fn parse_date(input: &str) -> Result<NaiveDate, DateError> {
    let trimmed = input.trim();
    let key = search_key(trimmed);
    let err = |reason| DateError { input: trimmed.to_string(), reason };
    if key.is_empty() {
        return Err(err("it is empty"));
    }
    let words: Vec<&str> = key.split_whitespace().collect();
    if let ["ngay", d, "thang", m, "nam", y] = words.as_slice() {
        return match (number(d), number(m), number(y)) {
            (Some(d), Some(m), Some(y)) => ymd(trimmed, y, m, d),
            _ => Err(err("day, month and year must be numbers")),
        };
    }
    let compact = key.strip_prefix("ngay ").unwrap_or(&key);
    let sep = compact
        .chars()
        .find(|c| matches!(c, '/' | '-' | '.'))
        .ok_or_else(|| err("it has no day, month and year"))?;
    let parts: Vec<&str> = compact.split(sep).collect();
    let [a, b, c] = parts.as_slice() else {
        return Err(err("it needs a day, a month and a year"));
    };
    let (Some(a), Some(b), Some(c)) = (number(a), number(b), number(c)) else {
        return Err(err("day, month and year must be numbers"));
    };
    if parts[0].len() == 4 { ymd(trimmed, a, b, c) } else { ymd(trimmed, c, b, a) }
}

/// What a period is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodKind {
    /// One month: "tháng 6/2018".
    Month,
    /// A quarter: "quý IV/2020".
    Quarter,
    /// First or second half: "6 tháng đầu năm 2022".
    HalfYear,
    /// First nine months: "9 tháng đầu năm 2022".
    NineMonths,
    /// A whole year: "năm 2021".
    Year,
    /// Days of its own, as a campaign runs: "Tháng cao điểm “Vì người nghèo” từ ngày 17/10 đến
    /// ngày 18/11/2025".
    Span,
}

/// A reporting period, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// What kind of period.
    pub kind: PeriodKind,
}

/// "… từ (ngày) D/M[/Y] đến (ngày) D/M/Y", or `None` when the words hold no "từ … đến".
fn span(input: &str) -> Result<Option<Period>, DateError> {
    let err = |reason| DateError { input: input.to_string(), reason };
    let key = search_key(input);
    let words: Vec<&str> = key.split_whitespace().collect();
    let Some(from_at) = words.iter().rposition(|w| *w == "tu") else { return Ok(None) };
    let Some(to_at) = words[from_at..].iter().position(|w| *w == "den").map(|k| k + from_at) else {
        return Ok(None);
    };
    // "(hết) ngày" before a day is read past; the last day is the first word after "đến"
    // that looks like one, so words after it ("(bao gồm cả ngày nghỉ)") do not matter.
    let day_like = |w: &&str| w.chars().next().is_some_and(|c| c.is_ascii_digit());
    let date_of = |part: &[&str], whole: bool| -> Option<String> {
        let mut days = part.iter().filter(|w| !matches!(**w, "ngay" | "het"));
        let first = days.clone().next()?;
        if whole && days.nth(1).is_some() {
            return None;
        }
        day_like(first).then(|| first.trim_end_matches(['.', ',', ')', ';']).to_string())
    };
    let (Some(first), Some(last)) =
        (date_of(&words[from_at + 1..to_at], true), date_of(&words[to_at + 1..], false))
    else {
        return Ok(None);
    };
    let to = parse_date(&last).map_err(|_| err("the last day must be a whole date, like 18/11/2025"))?;
    let from = match parse_date(&first) {
        Ok(d) => d,
        Err(_) => {
            let parts: Vec<&str> = first.split(['/', '-', '.']).collect();
            let [d, m] = parts.as_slice() else {
                return Err(err("the first day must be a date, like 17/10 or 17/10/2025"));
            };
            let (Some(d), Some(m)) = (number(d), number(m)) else {
                return Err(err("the first day must be a date, like 17/10 or 17/10/2025"));
            };
            let y = u32::try_from(to.year()).map_err(|_| err("no such year"))?;
            // The last day's year, or the year before when the day and month come after the
            // last day's (the period crosses a new year: "từ 29/02 đến 15/01/2025" is from
            // 29/02/2024; "từ 29/02 đến 01/03/2025" names no day).
            if (m, d) > (to.month(), to.day()) { ymd(input, y - 1, m, d)? } else { ymd(input, y, m, d)? }
        }
    };
    if to < from {
        return Err(err("the period ends before it begins"));
    }
    Ok(Some(Period { from, to, kind: PeriodKind::Span }))
}

fn roman_or_digit(s: &str) -> Option<u32> {
    match s {
        "i" | "1" => Some(1),
        "ii" | "2" => Some(2),
        "iii" | "3" => Some(3),
        "iv" | "4" => Some(4),
        _ => None,
    }
}

fn months(input: &str, y: u32, first: u32, last: u32, kind: PeriodKind) -> Result<Period, DateError> {
    let from = ymd(input, y, first, 1)?;
    let next = if last == 12 { ymd(input, y + 1, 1, 1)? } else { ymd(input, y, last + 1, 1)? };
    let to = next
        .pred_opt()
        .ok_or(DateError { input: input.to_string(), reason: "no such day in the calendar" })?;
    Ok(Period { from, to, kind })
}

/// Reads a report period: "quý IV/2020", "quý 1 năm 2022", "tháng 6/2018", "tháng 6 năm 2018",
/// "6 tháng đầu năm 2022", "6 tháng cuối năm 2022", "9 tháng đầu năm 2022", "năm 2021", or
/// days of its own after any name: "Tháng cao điểm “Vì người nghèo” từ ngày 17/10 đến ngày
/// 18/11/2025" (a first day without its year takes the last day's, or the year before when
/// it would fall after it).
pub fn parse_period(input: &str) -> Result<Period, DateError> {
    let trimmed = input.trim();
    let err = |reason| DateError { input: trimmed.to_string(), reason };
    if let Some(span) = span(trimmed)? {
        return Ok(span);
    }
    let key = search_key(trimmed).replace(['/', '-'], " ");
    let words: Vec<&str> = key.split_whitespace().filter(|w| *w != "nam").collect();
    let year = |w: &str| {
        number(w).filter(|y| (1900..=2999).contains(y)).ok_or_else(|| err("the year must have four digits"))
    };
    match words.as_slice() {
        ["quy", q, y] => {
            let q = roman_or_digit(q).ok_or_else(|| err("a quarter is I, II, III or IV"))?;
            months(trimmed, year(y)?, q * 3 - 2, q * 3, PeriodKind::Quarter)
        }
        ["thang", m, y] => {
            let m = number(m).filter(|m| (1..=12).contains(m)).ok_or_else(|| err("a month is 1 to 12"))?;
            months(trimmed, year(y)?, m, m, PeriodKind::Month)
        }
        ["6", "thang", "dau", y] => months(trimmed, year(y)?, 1, 6, PeriodKind::HalfYear),
        ["6", "thang", "cuoi", y] => months(trimmed, year(y)?, 7, 12, PeriodKind::HalfYear),
        ["9", "thang", "dau", y] | ["9", "thang", y] => {
            months(trimmed, year(y)?, 1, 9, PeriodKind::NineMonths)
        }
        [y] => months(trimmed, year(y)?, 1, 12, PeriodKind::Year),
        _ => Err(err("write a period like quý IV/2020, tháng 6/2018, 6 tháng đầu năm 2022 or năm 2021")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;
    use unicode_normalization::UnicodeNormalization;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn reads_dispatch_dates() {
        assert_eq!(parse_date("08/02/2022").unwrap(), d(2022, 2, 8));
        assert_eq!(parse_date("8/2/2022").unwrap(), d(2022, 2, 8));
        assert_eq!(parse_date("08-02-2022").unwrap(), d(2022, 2, 8));
        assert_eq!(parse_date("2022-02-08").unwrap(), d(2022, 2, 8));
        assert_eq!(parse_date("ngày   24   tháng  01  năm 2022").unwrap(), d(2022, 1, 24));
        let nfd: String = "ngày 24 tháng 1 năm 2022".nfd().collect();
        assert_eq!(parse_date(&nfd).unwrap(), d(2022, 1, 24));
        assert_eq!(format_long_date(d(2022, 1, 24)), "ngày 24 tháng 01 năm 2022");
        assert_eq!(format_long_date(d(2020, 3, 5)), "ngày 05 tháng 3 năm 2020");
        assert_eq!(format_long_date(d(2025, 11, 18)), "ngày 18 tháng 11 năm 2025");
        assert_eq!(format_date(d(2022, 2, 8)), "08/02/2022");
    }

    #[test]
    fn refuses_impossible_dates() {
        assert_eq!(parse_date("31/02/2022").unwrap_err().reason, "no such day in the calendar");
        assert!(parse_date("hôm qua").is_err());
        assert!(parse_date("").is_err());
        assert!(parse_date("08/02/22").is_err());
        assert!(parse_date("ngày 8 tháng hai năm 2022").is_err());
    }

    #[test]
    fn reads_periods() {
        let q = parse_period("quý IV/2020").unwrap();
        assert_eq!((q.from, q.to, q.kind), (d(2020, 10, 1), d(2020, 12, 31), PeriodKind::Quarter));
        assert_eq!(parse_period("quý I/2022").unwrap().to, d(2022, 3, 31));
        let m = parse_period("tháng 6/2018").unwrap();
        assert_eq!((m.from, m.to), (d(2018, 6, 1), d(2018, 6, 30)));
        assert_eq!(parse_period("tháng 2 năm 2024").unwrap().to, d(2024, 2, 29));
        let h = parse_period("6 tháng đầu năm 2022").unwrap();
        assert_eq!((h.from, h.to, h.kind), (d(2022, 1, 1), d(2022, 6, 30), PeriodKind::HalfYear));
        assert_eq!(parse_period("9 tháng đầu năm 2022").unwrap().to, d(2022, 9, 30));
        assert_eq!(parse_period("năm 2021").unwrap().kind, PeriodKind::Year);
        assert!(parse_period("quý V/2020").is_err());
        assert!(parse_period("tháng 13/2020").is_err());
    }

    #[test]
    fn reads_a_campaigns_own_days() {
        let c = parse_period("Tháng cao điểm “Vì người nghèo” từ ngày 17/10 đến ngày 18/11/2025").unwrap();
        assert_eq!((c.from, c.to, c.kind), (d(2025, 10, 17), d(2025, 11, 18), PeriodKind::Span));
        // NFD input, no "ngày", both years written.
        let nfd: String = "đợt cao điểm từ 01/12/2025 đến 15/01/2026".nfd().collect();
        let c = parse_period(&nfd).unwrap();
        assert_eq!((c.from, c.to), (d(2025, 12, 1), d(2026, 1, 15)));
        // A first day without its year that would fall after the last is of the year before.
        assert_eq!(parse_period("từ ngày 15/12 đến ngày 15/01/2026").unwrap().from, d(2025, 12, 15));
        assert!(parse_period("từ ngày 18/11/2025 đến ngày 17/10/2025").is_err(), "ends before it begins");
        assert!(parse_period("từ ngày 31/02 đến ngày 18/11/2025").is_err(), "no such day");
        assert!(parse_period("từ ngày 17/10 đến ngày 18/11").is_err(), "the last day needs its year");
        let c = parse_period("Đợt thi đua từ ngày 01/10 đến hết ngày 31/12/2025 (cả ngày nghỉ)").unwrap();
        assert_eq!((c.from, c.to), (d(2025, 10, 1), d(2025, 12, 31)));
        assert_eq!(parse_period("từ ngày 29/02 đến ngày 15/01/2025").unwrap().from, d(2024, 2, 29));
        assert!(parse_period("từ ngày 29/02 đến ngày 01/03/2025").is_err(), "2025 has no 29/02");
        // A period without days of its own reads as before.
        assert_eq!(parse_period("quý IV/2020").unwrap().kind, PeriodKind::Quarter);
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(days in 0i64..400_000) {
            let date = d(1900, 1, 1) + chrono::Duration::days(days);
            prop_assume!(date.year() <= 2999);
            prop_assert_eq!(parse_date(&format_date(date)).unwrap(), date);
            prop_assert_eq!(parse_date(&format_long_date(date)).unwrap(), date);
        }
    }
}
