//! Administrative codes: fixed-width strings of ASCII digits, leading zeros kept.
//!
//! Codes are **reference data, not keys**: the same code can name different units in
//! different datasets (legacy province `15` was Yên Bái, current province `15` is Lào Cai;
//! commune `26740` was "Bến Nghé" and is now "Sài Gòn"), and new releases of a dataset have
//! renumbered units. Store a code together with [`DATASET_VERSION`](crate::DATASET_VERSION),
//! and key your own records by your own ids.

use std::fmt;
use std::str::FromStr;

/// Why a string is not a valid code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {input:?}: expected {expected}")]
pub struct CodeParseError {
    /// Which kind of code was being parsed, e.g. "province code".
    pub what: &'static str,
    /// The rejected input.
    pub input: String,
    /// What a valid code looks like, e.g. "2 ASCII digits".
    pub expected: &'static str,
}

/// Parses `s` as ASCII digits if its length is one of `widths`.
fn parse_digits(
    s: &str,
    widths: &[usize],
    what: &'static str,
    expected: &'static str,
) -> Result<u32, CodeParseError> {
    if !widths.contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CodeParseError { what, input: s.to_owned(), expected });
    }
    Ok(s.bytes().fold(0, |acc, b| acc * 10 + u32::from(b - b'0')))
}

/// A province code of the current (post-2025) dataset: exactly 2 digits, e.g. `"56"` (Khánh Hòa).
///
/// Reference data, not a key: keep it as `(DATASET_VERSION, code)`; see
/// [`DATASET_VERSION`](crate::DATASET_VERSION).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProvinceCode(u8);

impl FromStr for ProvinceCode {
    type Err = CodeParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let v = parse_digits(s, &[2], "province code", "2 ASCII digits")?;
        // Two digits are at most 99.
        Ok(Self(v as u8))
    }
}

impl fmt::Display for ProvinceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.0)
    }
}

impl fmt::Debug for ProvinceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProvinceCode(\"{self}\")")
    }
}

/// A commune code of the current (post-2025) dataset: exactly 5 digits, e.g. `"22810"`
/// (Xã Ninh Sơn, Khánh Hòa). Covers xã, phường and đặc khu.
///
/// Reference data, not a key: keep it as `(DATASET_VERSION, code)`; see
/// [`DATASET_VERSION`](crate::DATASET_VERSION).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommuneCode(u32);

impl FromStr for CommuneCode {
    type Err = CodeParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_digits(s, &[5], "commune code", "5 ASCII digits").map(Self)
    }
}

impl fmt::Display for CommuneCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:05}", self.0)
    }
}

impl fmt::Debug for CommuneCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CommuneCode(\"{self}\")")
    }
}

/// A code of the legacy (pre-1 July 2025) dataset: 2 digits for a province, 3 for a district,
/// 5 for a commune. The width is part of the code: `"01"` and `"001"` are different units.
///
/// Legacy codes share digits with current codes but not meaning; there is deliberately no
/// conversion between [`LegacyCode`] and [`ProvinceCode`]/[`CommuneCode`]. Use
/// [`successors_of_legacy`](crate::successors_of_legacy) to go from old to new.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegacyCode {
    // Field order gives provinces < districts < communes, then numeric order.
    width: u8,
    value: u32,
}

impl LegacyCode {
    /// The number of digits: 2 (province), 3 (district) or 5 (commune).
    pub fn width(self) -> usize {
        usize::from(self.width)
    }
}

impl FromStr for LegacyCode {
    type Err = CodeParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let value = parse_digits(s, &[2, 3, 5], "legacy code", "2, 3 or 5 ASCII digits")?;
        // The width is 2, 3 or 5 here.
        Ok(Self { width: s.len() as u8, value })
    }
}

impl fmt::Display for LegacyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:0width$}", self.value, width = self.width())
    }
}

impl fmt::Debug for LegacyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LegacyCode(\"{self}\")")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_leading_zeros() {
        for s in ["01", "56", "99", "00"] {
            assert_eq!(s.parse::<ProvinceCode>().unwrap().to_string(), s);
        }
        for s in ["00004", "22810", "99999"] {
            assert_eq!(s.parse::<CommuneCode>().unwrap().to_string(), s);
        }
        for s in ["01", "001", "00001", "732", "26077"] {
            assert_eq!(s.parse::<LegacyCode>().unwrap().to_string(), s);
        }
        assert_ne!("01".parse::<LegacyCode>().unwrap(), "001".parse::<LegacyCode>().unwrap());
        assert_eq!(format!("{:?}", "04".parse::<ProvinceCode>().unwrap()), "ProvinceCode(\"04\")");
    }

    #[test]
    fn rejects_wrong_width_and_non_digits() {
        for s in ["", "5", "056", "5a", " 5", "٥٦", "+5"] {
            assert!(s.parse::<ProvinceCode>().is_err(), "{s:?}");
        }
        for s in ["2281", "228100", "2281x", "22 10"] {
            assert!(s.parse::<CommuneCode>().is_err(), "{s:?}");
        }
        for s in ["1", "0001", "000001"] {
            assert!(s.parse::<LegacyCode>().is_err(), "{s:?}");
        }
        let err = "5".parse::<ProvinceCode>().unwrap_err();
        assert_eq!(err.to_string(), "invalid province code \"5\": expected 2 ASCII digits");
    }
}
