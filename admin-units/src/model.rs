//! The reference-data records. All strings are NFC and borrowed from the compiled-in data.

use std::fmt;
use std::str::FromStr;

use crate::code::{CommuneCode, LegacyCode, ProvinceCode};

/// What a label in the data file did not match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {input:?}")]
pub struct KindParseError {
    /// "province kind" or "commune kind".
    pub what: &'static str,
    /// The rejected label.
    pub input: String,
}

/// The kind of a province-level unit after 2025.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProvinceKind {
    /// Tỉnh (province).
    Tinh,
    /// Thành phố trực thuộc trung ương (centrally-run city).
    ThanhPho,
}

impl ProvinceKind {
    /// The Vietnamese label that prefixes the official name: "Tỉnh" or "Thành phố".
    pub fn label(self) -> &'static str {
        match self {
            Self::Tinh => "Tỉnh",
            Self::ThanhPho => "Thành phố",
        }
    }
}

impl fmt::Display for ProvinceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for ProvinceKind {
    type Err = KindParseError;
    /// Parses the exact label ("Tỉnh", "Thành phố").
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Tinh, Self::ThanhPho]
            .into_iter()
            .find(|k| k.label() == s)
            .ok_or_else(|| KindParseError { what: "province kind", input: s.to_owned() })
    }
}

/// The kind of a commune-level unit after 2025.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CommuneKind {
    /// Xã (rural commune).
    Xa,
    /// Phường (urban ward).
    Phuong,
    /// Đặc khu (special zone, mostly islands).
    DacKhu,
}

impl CommuneKind {
    /// The Vietnamese label that prefixes the official name: "Xã", "Phường" or "Đặc khu".
    pub fn label(self) -> &'static str {
        match self {
            Self::Xa => "Xã",
            Self::Phuong => "Phường",
            Self::DacKhu => "Đặc khu",
        }
    }
}

impl fmt::Display for CommuneKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for CommuneKind {
    type Err = KindParseError;
    /// Parses the exact label ("Xã", "Phường", "Đặc khu").
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Xa, Self::Phuong, Self::DacKhu]
            .into_iter()
            .find(|k| k.label() == s)
            .ok_or_else(|| KindParseError { what: "commune kind", input: s.to_owned() })
    }
}

/// A province or centrally-run city after 1 July 2025 (34 of them).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Province {
    /// Reference code, e.g. "56". Not a key: see [`DATASET_VERSION`](crate::DATASET_VERSION).
    pub code: ProvinceCode,
    /// Official name with its kind prefix, e.g. "Tỉnh Khánh Hòa".
    pub name: &'static str,
    /// The name without the kind prefix, e.g. "Khánh Hòa".
    pub short_name: &'static str,
    /// Tỉnh or Thành phố.
    pub kind: ProvinceKind,
    /// The source package's search keywords, lowercase ASCII without spaces (e.g. "hcm").
    pub aliases: Vec<&'static str>,
}

/// A commune-level unit (xã, phường or đặc khu) after 1 July 2025 (3,321 of them).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Commune {
    /// Reference code, e.g. "22810". Not a key: see [`DATASET_VERSION`](crate::DATASET_VERSION).
    pub code: CommuneCode,
    /// The province it belongs to.
    pub province: ProvinceCode,
    /// Official name with its kind prefix, e.g. "Xã Ninh Sơn".
    pub name: &'static str,
    /// The name without the kind prefix, e.g. "Ninh Sơn".
    pub short_name: &'static str,
    /// Xã, Phường or Đặc khu.
    pub kind: CommuneKind,
}

/// The level of a legacy (pre-2025) unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LegacyLevel {
    /// Tỉnh / thành phố trực thuộc trung ương (63).
    Province,
    /// Quận, huyện, thị xã, thành phố thuộc tỉnh (696). Abolished on 1 July 2025.
    District,
    /// Xã, phường, thị trấn (10,035).
    Commune,
}

/// An administrative unit as it was before 1 July 2025.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LegacyUnit {
    /// Province, district or commune.
    pub level: LegacyLevel,
    /// Legacy code: 2, 3 or 5 digits by level.
    pub code: LegacyCode,
    /// Official name as the source spells it, e.g. "Thành phố Long Khánh". (The source writes a
    /// few district names "Thành Phố …"/"Thị Xã …"; they are kept as is.)
    pub name: &'static str,
    /// The name without the kind prefix, e.g. "Long Khánh".
    pub short_name: &'static str,
    /// The unit type, e.g. "Tỉnh", "Thành phố", "Quận", "Huyện", "Thị xã", "Phường", "Xã",
    /// "Thị trấn".
    pub kind_label: &'static str,
    /// The enclosing unit: the province of a district, the district of a commune.
    pub parent_code: Option<LegacyCode>,
    /// The source package's search keywords for earlier names, lowercase ASCII without spaces.
    pub aliases: Vec<&'static str>,
}

/// One current commune that (part of) a legacy unit became.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Successor {
    /// The current commune.
    pub new_commune: CommuneCode,
    /// Only part of the legacy unit went into `new_commune` (the legacy unit was split among
    /// several new communes). `false` means the whole legacy unit went into it.
    pub partly: bool,
    /// For a split legacy unit: this is the source package's default choice when an address
    /// gives nothing finer. Always `false` when the unit was not split; see
    /// [`default_successor_of_legacy`](crate::default_successor_of_legacy).
    pub default_for_split: bool,
}
