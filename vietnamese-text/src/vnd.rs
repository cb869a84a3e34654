//! Money in whole Vietnamese đồng (i64; the đồng has no minor unit), and figures with the
//! qualifiers reports use: "gần 850 triệu" (just under), "hơn 20 triệu" (over), "khoảng"
//! (about).

use std::fmt;
use std::str::FromStr;

use crate::input::nfc;

/// An amount that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{input}' is not an amount: {reason} (write e.g. 6.400.000.000 đ, 6,4 tỷ or 850 triệu)")]
pub struct MoneyError {
    /// What was typed.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// How exact a figure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qualifier {
    /// As stated.
    Exact,
    /// "gần": just under.
    Under,
    /// "hơn", "trên": over.
    Over,
    /// "khoảng", "xấp xỉ": about.
    About,
}

impl Qualifier {
    /// Stable name: "exact", "under", "over", "about".
    pub fn as_str(self) -> &'static str {
        match self {
            Qualifier::Exact => "exact",
            Qualifier::Under => "under",
            Qualifier::Over => "over",
            Qualifier::About => "about",
        }
    }

    /// The word written before the number ("" for exact).
    pub fn vietnamese_word(self) -> &'static str {
        match self {
            Qualifier::Exact => "",
            Qualifier::Under => "gần",
            Qualifier::Over => "hơn",
            Qualifier::About => "khoảng",
        }
    }
}

impl fmt::Display for Qualifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Qualifier {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Qualifier::Exact, Qualifier::Under, Qualifier::Over, Qualifier::About]
            .into_iter()
            .find(|q| q.as_str() == s)
            .ok_or(MoneyError { input: s.to_string(), reason: "unknown qualifier" })
    }
}

/// "6.400.000.000 đ".
pub fn format_vnd(amount: i64) -> String {
    let mut out = format_number(amount);
    out.push_str(" đ");
    out
}

/// A whole number as Vietnamese writes it, thousands grouped with dots: "1.234.567".
pub fn format_number(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

const SUFFIXES: [&str; 5] = ["vnđ", "vnd", "đồng", "đ", "₫"];
const MULTIPLIERS: [(&str, i64); 5] =
    [("tỷ", 1_000_000_000), ("tỉ", 1_000_000_000), ("triệu", 1_000_000), ("nghìn", 1_000), ("ngàn", 1_000)];

fn strip_suffix_word<'a>(s: &'a str, word: &str) -> Option<&'a str> {
    s.strip_suffix(word).map(str::trim_end)
}

/// Reads an amount: "6.400.000.000 đ", "6400000000", "6,4 tỷ", "850 triệu đồng", "-1.000".
pub fn parse_vnd(input: &str) -> Result<i64, MoneyError> {
    let err = |reason| MoneyError { input: input.trim().to_string(), reason };
    let lowered = nfc(input).trim().to_lowercase();
    let mut s = lowered.as_str();
    if s.is_empty() {
        return Err(err("it is empty"));
    }
    if let Some(rest) = SUFFIXES.iter().find_map(|w| strip_suffix_word(s, w)) {
        s = rest;
    }
    let mut multiplier = 1i64;
    if let Some((rest, m)) = MULTIPLIERS.iter().find_map(|(w, m)| strip_suffix_word(s, w).map(|r| (r, *m))) {
        s = rest;
        multiplier = m;
    }
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, s),
    };
    if s.is_empty() {
        return Err(err("there is no number"));
    }
    let (int_part, frac_part) = match s.split_once(',') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    let int_digits: String = int_part.chars().filter(|c| *c != '.' && *c != ' ' && *c != '\u{a0}').collect();
    if int_digits.is_empty() && frac_part.is_empty() {
        return Err(err("there is no number"));
    }
    if !int_digits.chars().all(|c| c.is_ascii_digit()) || !frac_part.chars().all(|c| c.is_ascii_digit()) {
        return Err(err("it has characters that are not digits"));
    }
    if int_part.contains('.') && !thousands_grouped(int_part) {
        return Err(err("dots must group digits by three"));
    }
    let int_value: i64 =
        if int_digits.is_empty() { 0 } else { int_digits.parse().map_err(|_| err("it is too large"))? };
    let mut value = int_value.checked_mul(multiplier).ok_or_else(|| err("it is too large"))?;
    if !frac_part.is_empty() {
        let scale = 10i64.checked_pow(frac_part.len() as u32).ok_or_else(|| err("too many decimals"))?;
        let frac: i64 = frac_part.parse().map_err(|_| err("too many decimals"))?;
        let scaled = frac.checked_mul(multiplier).ok_or_else(|| err("it is too large"))?;
        if scaled % scale != 0 {
            return Err(err("amounts are whole đồng; there are no fractions of a đồng"));
        }
        value = value.checked_add(scaled / scale).ok_or_else(|| err("it is too large"))?;
    }
    Ok(if negative { -value } else { value })
}

fn thousands_grouped(s: &str) -> bool {
    let groups: Vec<&str> = s.split('.').collect();
    groups.first().is_some_and(|g| !g.is_empty() && g.len() <= 3) && groups[1..].iter().all(|g| g.len() == 3)
}

/// Reads a figure with its qualifier: "gần 850 triệu" → (Under, 850_000_000); "hơn 20" →
/// (Over, 20); "93" → (Exact, 93).
pub fn parse_figure(input: &str) -> Result<(Qualifier, i64), MoneyError> {
    let lowered = nfc(input).trim().to_lowercase();
    let words: [(&str, Qualifier); 6] = [
        ("gần", Qualifier::Under),
        ("hơn", Qualifier::Over),
        ("trên", Qualifier::Over),
        ("khoảng", Qualifier::About),
        ("xấp xỉ", Qualifier::About),
        ("chừng", Qualifier::About),
    ];
    for (w, q) in words {
        if let Some(rest) = lowered.strip_prefix(w)
            && rest.starts_with(char::is_whitespace)
        {
            return parse_vnd(rest)
                .map(|v| (q, v))
                .map_err(|e| MoneyError { input: input.trim().to_string(), ..e });
        }
    }
    parse_vnd(&lowered)
        .map(|v| (Qualifier::Exact, v))
        .map_err(|e| MoneyError { input: input.trim().to_string(), ..e })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;
    use unicode_normalization::UnicodeNormalization;

    #[test]
    fn formats_with_dots() {
        assert_eq!(format_vnd(6_400_000_000), "6.400.000.000 đ");
        assert_eq!(format_vnd(0), "0 đ");
        assert_eq!(format_vnd(999), "999 đ");
        assert_eq!(format_vnd(-1_000), "-1.000 đ");
        assert_eq!(format_vnd(i64::MIN), "-9.223.372.036.854.775.808 đ");
        assert_eq!(format_number(1_234_567), "1.234.567");
        assert_eq!(format_number(999), "999");
        assert_eq!(format_number(-1_000), "-1.000");
    }

    #[test]
    fn parses_what_reports_write() {
        assert_eq!(parse_vnd("6.400.000.000 đ").unwrap(), 6_400_000_000);
        assert_eq!(parse_vnd("6400000000").unwrap(), 6_400_000_000);
        assert_eq!(parse_vnd("6,4 tỷ").unwrap(), 6_400_000_000);
        assert_eq!(parse_vnd("6,4 tỉ đồng").unwrap(), 6_400_000_000);
        assert_eq!(parse_vnd("850 triệu").unwrap(), 850_000_000);
        assert_eq!(parse_vnd("850 triệu đồng").unwrap(), 850_000_000);
        assert_eq!(parse_vnd("1,25 triệu").unwrap(), 1_250_000);
        assert_eq!(parse_vnd("20 nghìn").unwrap(), 20_000);
        assert_eq!(parse_vnd("500.000 VNĐ").unwrap(), 500_000);
        assert_eq!(parse_vnd("500.000₫").unwrap(), 500_000);
        let nfd: String = "6,4 tỷ đồng".nfd().collect();
        assert_eq!(parse_vnd(&nfd).unwrap(), 6_400_000_000);
    }

    #[test]
    fn refuses_what_is_not_an_amount() {
        assert!(parse_vnd("").is_err());
        assert!(parse_vnd("đ").is_err());
        assert!(parse_vnd("sáu tỷ").is_err());
        assert_eq!(
            parse_vnd("1,5").unwrap_err().reason,
            "amounts are whole đồng; there are no fractions of a đồng"
        );
        assert!(parse_vnd("99999999999 tỷ").is_err());
        assert!(parse_vnd("1.00.000").is_err());
    }

    #[test]
    fn figures_keep_their_qualifier() {
        assert_eq!(parse_figure("gần 850 triệu").unwrap(), (Qualifier::Under, 850_000_000));
        assert_eq!(parse_figure("hơn 20 triệu đồng").unwrap(), (Qualifier::Over, 20_000_000));
        assert_eq!(parse_figure("khoảng 1.200").unwrap(), (Qualifier::About, 1_200));
        assert_eq!(parse_figure("93").unwrap(), (Qualifier::Exact, 93));
        assert!(parse_figure("gần").is_err());
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(v in any::<i64>().prop_filter("i64::MIN has no positive", |v| *v != i64::MIN)) {
            prop_assert_eq!(parse_vnd(&format_vnd(v)).unwrap(), v);
        }
    }
}
