//! Text as it goes into a file: cleaned of what cannot or should not be printed, and the date
//! line in the decree's words.

use chrono::NaiveDate;
use giaoban_vietnamese_text::{clean_input, clean_multiline};

/// Characters XML 1.0 cannot carry that [`clean_input`] keeps (it drops control characters
/// already): the non-characters U+FFFE and U+FFFF.
fn xml_char(c: char) -> bool {
    !matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

/// One printed line: NFC, invisible characters dropped, runs of white space made one space.
pub(crate) fn line(s: &str) -> String {
    let mut out = clean_input(s);
    out.retain(xml_char);
    out
}

/// Printed lines of a field that may hold several (`\n` between them), each cleaned as
/// [`line`]; empty lines dropped.
pub(crate) fn lines(s: &str) -> Vec<String> {
    clean_multiline(s).split('\n').map(line).filter(|l| !l.is_empty()).collect()
}

/// The place and date line: "Long Khánh, ngày 24 tháng 01 năm 2022". Decree 30/2020 asks for a
/// leading zero on days below 10 and on months 1 and 2 only ("ngày 05 tháng 3 năm 2020"), so
/// that a "1" cannot later be made "11" or "12" by hand. Without a place: "ngày …" alone.
pub fn printed_date(place: &str, date: NaiveDate) -> String {
    let day = giaoban_vietnamese_text::format_long_date(date);
    let place = line(place);
    if place.is_empty() { day } else { format!("{place}, {day}") }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn the_date_line_pads_as_the_decree_asks() {
        assert_eq!(printed_date("Long Khánh", d(2022, 1, 24)), "Long Khánh, ngày 24 tháng 01 năm 2022");
        assert_eq!(printed_date("Hà Nội", d(2020, 3, 5)), "Hà Nội, ngày 05 tháng 3 năm 2020");
        assert_eq!(printed_date("Long Khánh", d(2022, 2, 8)), "Long Khánh, ngày 08 tháng 02 năm 2022");
        assert_eq!(printed_date("Long Khánh", d(2025, 12, 31)), "Long Khánh, ngày 31 tháng 12 năm 2025");
        assert_eq!(printed_date("  ", d(2025, 10, 1)), "ngày 01 tháng 10 năm 2025");
    }

    #[test]
    fn what_xml_cannot_carry_is_dropped() {
        assert_eq!(line("Số\u{1}: 305\u{FFFE}/MTTQ\u{200B}-BTT\u{FFFF}"), "Số: 305/MTTQ-BTT");
        assert_eq!(
            lines("ỦY BAN MTTQ VIỆT NAM\r\n\r\n THÀNH PHỐ  LONG KHÁNH \n"),
            ["ỦY BAN MTTQ VIỆT NAM", "THÀNH PHỐ LONG KHÁNH"]
        );
    }
}
