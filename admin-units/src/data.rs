//! Parsing `data/admin-units.tsv` into indexed tables.
//!
//! File format (UTF-8, NFC, `\n` line ends, tab-separated):
//! - lines starting with `#` are comments;
//! - `@dataset<TAB>vietnamadminunits 1.0.4` comes first and must equal [`DATASET_VERSION`];
//! - then sections in this order, each opened by `@name<TAB>column…` naming its columns:
//!   `@provinces code name kind aliases`, `@communes code province name kind`,
//!   `@legacy level code parent name kind aliases`, `@province_successors legacy province`,
//!   `@successors legacy commune partly default`.
//!
//! Invariants checked here (each violation is a [`DataError`] with its line number): codes parse
//! and are unique per table; every name is NFC and starts with its kind label; references resolve
//! (a commune's province, a legacy unit's parent one level up and listed before it, successor
//! codes); communes of a province are contiguous; a legacy unit's successors are contiguous and
//! either one whole successor or a split into two or more parts with exactly one default.

use std::collections::HashMap;
use std::ops::Range;

use unicode_normalization::is_nfc;

use crate::DATASET_VERSION;
use crate::code::{CommuneCode, LegacyCode, ProvinceCode};
use crate::fold::fold;
use crate::model::{Commune, CommuneKind, LegacyLevel, LegacyUnit, Province, ProvinceKind, Successor};

/// The compiled-in data file is malformed. Carries the 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("admin-units data, line {line}: {reason}")]
pub struct DataError {
    /// 1-based line number in `data/admin-units.tsv` (one past the last line for a missing
    /// section).
    pub line: usize,
    /// What was wrong.
    pub reason: String,
}

/// The parsed data with its lookup indexes.
#[derive(Debug)]
pub(crate) struct Dataset {
    pub provinces: Vec<Province>,
    pub province_index: HashMap<ProvinceCode, usize>,
    /// Parallel to `provinces`: the range of `communes` in that province.
    pub province_communes: Vec<Range<usize>>,
    /// Parallel to `provinces`: (folded full name, folded short name).
    pub province_folds: Vec<(String, String)>,
    pub communes: Vec<Commune>,
    pub commune_index: HashMap<CommuneCode, usize>,
    /// Parallel to `communes`: (folded full name, folded short name).
    pub commune_folds: Vec<(String, String)>,
    /// Depth-first: each unit is followed by its subtree.
    pub legacy: Vec<LegacyUnit>,
    pub legacy_index: HashMap<LegacyCode, usize>,
    /// Parallel to `legacy`: (folded full name, folded short name).
    pub legacy_folds: Vec<(String, String)>,
    pub province_successors: HashMap<LegacyCode, ProvinceCode>,
    pub successors: Vec<Successor>,
    /// Parallel to `successors`: the legacy unit each row belongs to.
    pub successor_sources: Vec<LegacyCode>,
    pub successor_ranges: HashMap<LegacyCode, Range<usize>>,
    /// Indexes into `successors`, by new commune.
    pub predecessors: HashMap<CommuneCode, Vec<usize>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Start,
    Dataset,
    Provinces,
    Communes,
    Legacy,
    ProvinceSuccessors,
    Successors,
}

const SECTIONS: [(Section, &str, &[&str]); 5] = [
    (Section::Provinces, "@provinces", &["code", "name", "kind", "aliases"]),
    (Section::Communes, "@communes", &["code", "province", "name", "kind"]),
    (Section::Legacy, "@legacy", &["level", "code", "parent", "name", "kind", "aliases"]),
    (Section::ProvinceSuccessors, "@province_successors", &["legacy", "province"]),
    (Section::Successors, "@successors", &["legacy", "commune", "partly", "default"]),
];

fn fields<const N: usize>(line: &'static str) -> Result<[&'static str; N], String> {
    let parts: Vec<&'static str> = line.split('\t').collect();
    let found = parts.len();
    parts.try_into().map_err(|_| format!("expected {N} tab-separated fields, found {found}"))
}

/// Checks `name` and returns it without its kind prefix.
fn short_name(name: &'static str, kind_label: &str) -> Result<&'static str, String> {
    if !is_nfc(name) {
        return Err(format!("name {name:?} is not NFC"));
    }
    if name.trim() != name || name.contains("  ") {
        return Err(format!("name {name:?} has stray spaces"));
    }
    // The source spells a few names "Thành Phố …"/"Thị Xã …": compare the prefix ignoring case.
    let prefix_ok =
        name.get(..kind_label.len()).is_some_and(|p| p.to_lowercase() == kind_label.to_lowercase());
    match name.get(kind_label.len()..).and_then(|rest| rest.strip_prefix(' ')) {
        Some(short) if prefix_ok && !short.is_empty() => Ok(short),
        _ => Err(format!("name {name:?} does not start with its kind {kind_label:?}")),
    }
}

fn aliases(field: &'static str) -> Result<Vec<&'static str>, String> {
    if field.is_empty() {
        return Ok(Vec::new());
    }
    field
        .split(',')
        .map(|a| {
            if !a.is_empty() && a.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
                Ok(a)
            } else {
                Err(format!("alias {a:?} is not lowercase ASCII letters and digits"))
            }
        })
        .collect()
}

fn flag(field: &str, what: &str) -> Result<bool, String> {
    match field {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(format!("{what} must be 0 or 1, found {field:?}")),
    }
}

fn folds(name: &str, short: &str) -> (String, String) {
    (fold(name), fold(short))
}

/// Checks one legacy unit's successor rows once they are all read.
fn check_successor_group(code: LegacyCode, group: &[Successor]) -> Result<(), String> {
    let defaults = group.iter().filter(|s| s.default_for_split).count();
    match group {
        [] => Ok(()),
        [one] if !one.partly && !one.default_for_split => Ok(()),
        [_] => Err(format!("{code} has a single successor, so it must have partly=0 and default=0")),
        _ if group.iter().all(|s| s.partly) && defaults == 1 => {
            let mut seen: Vec<CommuneCode> = group.iter().map(|s| s.new_commune).collect();
            seen.sort();
            seen.dedup();
            if seen.len() == group.len() {
                Ok(())
            } else {
                Err(format!("{code} lists the same successor twice"))
            }
        }
        _ => Err(format!(
            "{code} is split, so every part needs partly=1 and exactly one needs default=1 \
             (found {defaults} defaults)"
        )),
    }
}

struct Parser {
    ds: Dataset,
    section: Section,
    /// The legacy unit whose successor rows are being read: (code, first row index, first line).
    open_group: Option<(LegacyCode, usize, usize)>,
    /// The 1-based number of the line being read.
    line_no: usize,
    /// Set when an error belongs to an earlier line than the one being read.
    error_line: Option<usize>,
    /// The province whose communes are being read.
    open_province: Option<ProvinceCode>,
}

/// Parses the data file. `text` is `'static` because records borrow their names from it.
pub(crate) fn parse(text: &'static str) -> Result<Dataset, DataError> {
    let mut p = Parser {
        ds: Dataset {
            provinces: Vec::new(),
            province_index: HashMap::new(),
            province_communes: Vec::new(),
            province_folds: Vec::new(),
            communes: Vec::new(),
            commune_index: HashMap::new(),
            commune_folds: Vec::new(),
            legacy: Vec::new(),
            legacy_index: HashMap::new(),
            legacy_folds: Vec::new(),
            province_successors: HashMap::new(),
            successors: Vec::new(),
            successor_sources: Vec::new(),
            successor_ranges: HashMap::new(),
            predecessors: HashMap::new(),
        },
        section: Section::Start,
        open_group: None,
        open_province: None,
        line_no: 0,
        error_line: None,
    };
    let mut last_line = 0;
    for (i, line) in text.lines().enumerate() {
        last_line = i + 1;
        if line.starts_with('#') {
            continue;
        }
        p.line_no = i + 1;
        p.line(line).map_err(|reason| DataError { line: p.error_line.unwrap_or(i + 1), reason })?;
    }
    p.close_successor_group()
        .map_err(|reason| DataError { line: p.error_line.unwrap_or(last_line), reason })?;
    if p.section != Section::Successors {
        let missing = SECTIONS
            .iter()
            .filter(|(s, _, _)| *s > p.section)
            .map(|(_, name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ");
        let missing = if p.section == Section::Start { "@dataset".to_owned() } else { missing };
        return Err(DataError { line: last_line + 1, reason: format!("missing sections: {missing}") });
    }
    Ok(p.ds)
}

impl Parser {
    fn line(&mut self, line: &'static str) -> Result<(), String> {
        if line.starts_with('@') {
            return self.header(line);
        }
        if line.is_empty() {
            return Err("empty line".to_owned());
        }
        match self.section {
            Section::Start | Section::Dataset => Err("data row before the first section header".to_owned()),
            Section::Provinces => self.province(line),
            Section::Communes => self.commune(line),
            Section::Legacy => self.legacy(line),
            Section::ProvinceSuccessors => self.province_successor(line),
            Section::Successors => self.successor(line),
        }
    }

    fn header(&mut self, line: &'static str) -> Result<(), String> {
        let mut parts = line.split('\t');
        let name = parts.next().unwrap_or_default();
        if self.section == Section::Start {
            if name != "@dataset" {
                return Err(format!("expected `@dataset` first, found `{name}`"));
            }
            let version: Vec<&str> = parts.collect();
            if version != [DATASET_VERSION] {
                return Err(format!(
                    "dataset version {:?} does not match DATASET_VERSION {DATASET_VERSION:?}",
                    version.join("\t")
                ));
            }
            self.section = Section::Dataset;
            return Ok(());
        }
        let Some(&(section, _, columns)) = SECTIONS.iter().find(|(_, n, _)| *n == name) else {
            return Err(format!("unknown section `{name}`"));
        };
        let expected = SECTIONS.iter().find(|(s, _, _)| *s > self.section).map(|(s, n, _)| (*s, *n));
        if let Some((next, next_name)) = expected
            && next != section
        {
            return Err(format!("expected section `{next_name}`, found `{name}`"));
        }
        if expected.is_none() {
            return Err(format!("section `{name}` repeated"));
        }
        let found: Vec<&str> = parts.collect();
        if found != columns {
            return Err(format!("section `{name}`: expected columns {columns:?}, found {found:?}"));
        }
        self.section = section;
        Ok(())
    }

    fn province(&mut self, line: &'static str) -> Result<(), String> {
        let [code, name, kind, alias] = fields(line)?;
        let code: ProvinceCode = code.parse().map_err(|e| format!("{e}"))?;
        let kind: ProvinceKind = kind.parse().map_err(|e| format!("{e}"))?;
        let short = short_name(name, kind.label())?;
        let ds = &mut self.ds;
        if ds.province_index.insert(code, ds.provinces.len()).is_some() {
            return Err(format!("duplicate province {code}"));
        }
        ds.province_folds.push(folds(name, short));
        ds.province_communes.push(0..0);
        ds.provinces.push(Province { code, name, short_name: short, kind, aliases: aliases(alias)? });
        Ok(())
    }

    fn commune(&mut self, line: &'static str) -> Result<(), String> {
        let [code, province, name, kind] = fields(line)?;
        let code: CommuneCode = code.parse().map_err(|e| format!("{e}"))?;
        let province: ProvinceCode = province.parse().map_err(|e| format!("{e}"))?;
        let kind: CommuneKind = kind.parse().map_err(|e| format!("{e}"))?;
        let short = short_name(name, kind.label())?;
        let ds = &mut self.ds;
        let Some(&p) = ds.province_index.get(&province) else {
            return Err(format!("commune {code}: unknown province {province}"));
        };
        let index = ds.communes.len();
        if self.open_province != Some(province) {
            if !ds.province_communes[p].is_empty() {
                return Err(format!("communes of province {province} are not contiguous"));
            }
            ds.province_communes[p] = index..index;
            self.open_province = Some(province);
        }
        ds.province_communes[p].end = index + 1;
        if ds.commune_index.insert(code, index).is_some() {
            return Err(format!("duplicate commune {code}"));
        }
        ds.commune_folds.push(folds(name, short));
        ds.communes.push(Commune { code, province, name, short_name: short, kind });
        Ok(())
    }

    fn legacy(&mut self, line: &'static str) -> Result<(), String> {
        let [level, code, parent, name, kind, alias] = fields(line)?;
        let (level, width, parent_level) = match level {
            "P" => (LegacyLevel::Province, 2, None),
            "D" => (LegacyLevel::District, 3, Some(LegacyLevel::Province)),
            "C" => (LegacyLevel::Commune, 5, Some(LegacyLevel::District)),
            _ => return Err(format!("level must be P, D or C, found {level:?}")),
        };
        let code: LegacyCode = code.parse().map_err(|e| format!("{e}"))?;
        if code.width() != width {
            return Err(format!("a {level:?} code has {width} digits, found {code}"));
        }
        let ds = &mut self.ds;
        let parent_code = match (parent_level, parent) {
            (None, "") => None,
            (None, _) => return Err(format!("a province has no parent, found {parent:?}")),
            (Some(want), parent) => {
                let parent: LegacyCode = parent.parse().map_err(|e| format!("{e}"))?;
                // Depth-first order: the parent is the nearest preceding unit one level up.
                let nearest = ds.legacy.iter().rev().find(|u| u.level == want);
                if nearest.map(|u| u.code) != Some(parent) {
                    return Err(format!(
                        "{code}: parent {parent} is not the preceding {want:?} (the file lists \
                         each unit before its children)"
                    ));
                }
                Some(parent)
            }
        };
        if kind.is_empty() {
            return Err("empty kind".to_owned());
        }
        let short = short_name(name, kind)?;
        if ds.legacy_index.insert(code, ds.legacy.len()).is_some() {
            return Err(format!("duplicate legacy unit {code}"));
        }
        ds.legacy_folds.push(folds(name, short));
        ds.legacy.push(LegacyUnit {
            level,
            code,
            name,
            short_name: short,
            kind_label: kind,
            parent_code,
            aliases: aliases(alias)?,
        });
        Ok(())
    }

    fn province_successor(&mut self, line: &'static str) -> Result<(), String> {
        let [legacy, province] = fields(line)?;
        let legacy: LegacyCode = legacy.parse().map_err(|e| format!("{e}"))?;
        let province: ProvinceCode = province.parse().map_err(|e| format!("{e}"))?;
        let ds = &mut self.ds;
        match ds.legacy_index.get(&legacy).map(|&i| ds.legacy[i].level) {
            Some(LegacyLevel::Province) => {}
            _ => return Err(format!("{legacy} is not a legacy province")),
        }
        if !ds.province_index.contains_key(&province) {
            return Err(format!("unknown province {province}"));
        }
        if ds.province_successors.insert(legacy, province).is_some() {
            return Err(format!("legacy province {legacy} listed twice"));
        }
        Ok(())
    }

    fn successor(&mut self, line: &'static str) -> Result<(), String> {
        let [legacy, commune, partly, default] = fields(line)?;
        let legacy: LegacyCode = legacy.parse().map_err(|e| format!("{e}"))?;
        let new_commune: CommuneCode = commune.parse().map_err(|e| format!("{e}"))?;
        let partly = flag(partly, "partly")?;
        let default_for_split = flag(default, "default")?;
        match self.ds.legacy_index.get(&legacy).map(|&i| self.ds.legacy[i].level) {
            Some(LegacyLevel::Commune | LegacyLevel::District) => {}
            Some(LegacyLevel::Province) => return Err(format!("{legacy} is a province")),
            None => return Err(format!("unknown legacy unit {legacy}")),
        }
        if !self.ds.commune_index.contains_key(&new_commune) {
            return Err(format!("unknown commune {new_commune}"));
        }
        if self.open_group.map(|(code, _, _)| code) != Some(legacy) {
            self.close_successor_group()?;
            if self.ds.successor_ranges.contains_key(&legacy) {
                return Err(format!("successors of {legacy} are not contiguous"));
            }
            self.open_group = Some((legacy, self.ds.successors.len(), self.line_no));
        }
        let ds = &mut self.ds;
        ds.predecessors.entry(new_commune).or_default().push(ds.successors.len());
        ds.successors.push(Successor { new_commune, partly, default_for_split });
        ds.successor_sources.push(legacy);
        Ok(())
    }

    /// Validates and records the successor rows read so far for one legacy unit. An error is
    /// reported at the line of the unit's first successor row.
    fn close_successor_group(&mut self) -> Result<(), String> {
        let Some((code, start, first_line)) = self.open_group.take() else {
            return Ok(());
        };
        let end = self.ds.successors.len();
        if let Err(reason) = check_successor_group(code, &self.ds.successors[start..end]) {
            self.error_line = Some(first_line);
            return Err(reason);
        }
        self.ds.successor_ranges.insert(code, start..end);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const HEAD: &str = "# comment\n@dataset\tvietnamadminunits 1.0.4\n";
    const PROVINCES: &str = "@provinces\tcode\tname\tkind\taliases\n56\tTỉnh Khánh Hòa\tTỉnh\t\n";
    const COMMUNES: &str = "@communes\tcode\tprovince\tname\tkind\n22810\t56\tXã Ninh Sơn\tXã\n";
    const LEGACY: &str = "@legacy\tlevel\tcode\tparent\tname\tkind\taliases\n\
        P\t58\t\tTỉnh Ninh Thuận\tTỉnh\t\n\
        D\t585\t58\tHuyện Ninh Sơn\tHuyện\t\n\
        C\t22810\t585\tXã Lâm Sơn\tXã\tlamson\n";
    const PROVINCE_SUCC: &str = "@province_successors\tlegacy\tprovince\n58\t56\n";
    const SUCC_HEAD: &str = "@successors\tlegacy\tcommune\tpartly\tdefault\n";

    fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }

    fn with_successors(rows: &str) -> &'static str {
        leak(format!("{HEAD}{PROVINCES}{COMMUNES}{LEGACY}{PROVINCE_SUCC}{SUCC_HEAD}{rows}"))
    }

    fn error(text: &'static str) -> DataError {
        parse(text).expect_err("should not parse")
    }

    #[test]
    fn shipped_file_parses() {
        parse(crate::DATA_TEXT).unwrap();
    }

    #[test]
    fn minimal_file_parses() {
        let ds = parse(with_successors("22810\t22810\t0\t0\n")).unwrap();
        assert_eq!(ds.provinces.len(), 1);
        assert_eq!(ds.communes[0].short_name, "Ninh Sơn");
        assert_eq!(ds.legacy.len(), 3);
        assert_eq!(ds.legacy[2].aliases, ["lamson"]);
        assert_eq!(ds.successors.len(), 1);
    }

    #[test]
    fn errors_name_the_line_and_the_problem() {
        // Line numbers: 1 comment, 2 @dataset, 3 @provinces, 4 province, 5 @communes,
        // 6 commune, 7 @legacy, 8-10 legacy, 11 header, 12 row, 13 header, 14.. successors.
        let e = error(with_successors("22810\t22810\t0\n"));
        assert_eq!(e.line, 14);
        assert_eq!(e.to_string(), "admin-units data, line 14: expected 4 tab-separated fields, found 3");

        let e = error(with_successors("22810\t99999\t0\t0\n"));
        assert_eq!((e.line, e.reason.as_str()), (14, "unknown commune 99999"));

        let e = error(with_successors("22810\t22810\t0\t2\n"));
        assert_eq!((e.line, e.reason.as_str()), (14, "default must be 0 or 1, found \"2\""));

        // A split needs exactly one default; reported at the group's first line.
        let e = error(with_successors("22810\t22810\t1\t0\n22810\t22810\t1\t0\n585\t22810\t0\t0\n"));
        assert_eq!(e.line, 14);
        assert!(e.reason.contains("exactly one needs default=1"), "{e}");

        let e = error(with_successors("22810\t22810\t1\t1\n"));
        assert_eq!(e.line, 14);
        assert!(e.reason.contains("single successor"), "{e}");

        let e = error(with_successors("22810\t22810\t0\t0\n585\t22810\t0\t0\n22810\t22810\t0\t0\n"));
        assert_eq!((e.line, e.reason.as_str()), (16, "successors of 22810 are not contiguous"));

        let e = error(with_successors("58\t22810\t0\t0\n"));
        assert_eq!((e.line, e.reason.as_str()), (14, "58 is a province"));
    }

    #[test]
    fn header_and_section_errors() {
        let e = error(leak(format!("@dataset\tvietnamadminunits 9.9\n{PROVINCES}")));
        assert_eq!(e.line, 1);
        assert!(e.reason.contains("does not match DATASET_VERSION"), "{e}");

        let e = error(leak(format!("{HEAD}{COMMUNES}")));
        assert_eq!(e.line, 3);
        assert_eq!(e.reason, "expected section `@provinces`, found `@communes`");

        let e = error(leak(format!("{HEAD}@provinces\tcode\tname\tkind\n")));
        assert_eq!(e.line, 3);
        assert!(e.reason.contains("expected columns"), "{e}");

        let e = error(leak(format!("{HEAD}{PROVINCES}{COMMUNES}")));
        assert_eq!(e.line, 7);
        assert_eq!(e.reason, "missing sections: @legacy, @province_successors, @successors");

        let e = error("");
        assert_eq!((e.line, e.reason.as_str()), (1, "missing sections: @dataset"));
    }

    #[test]
    fn row_errors() {
        let bad = |provinces: &str| {
            error(leak(format!("{HEAD}@provinces\tcode\tname\tkind\taliases\n{provinces}")))
        };

        let e = bad("5\tTỉnh Khánh Hòa\tTỉnh\t\n");
        assert_eq!(e.line, 4);
        assert_eq!(e.reason, "invalid province code \"5\": expected 2 ASCII digits");

        let e = bad("56\tTỉnh Khánh Hòa\tTinh\t\n");
        assert_eq!(e.reason, "unknown province kind \"Tinh\"");

        let e = bad("56\tXã Khánh Hòa\tTỉnh\t\n");
        assert_eq!(e.reason, "name \"Xã Khánh Hòa\" does not start with its kind \"Tỉnh\"");

        let e = bad("56\tTỉnh Kha\u{301}nh Hòa\tTỉnh\t\n");
        assert!(e.reason.contains("is not NFC"), "{e}");

        let e = bad("56\tTỉnh Khánh Hòa\tTỉnh\t\n56\tTỉnh Khánh Hòa\tTỉnh\t\n");
        assert_eq!((e.line, e.reason.as_str()), (5, "duplicate province 56"));

        let e = bad("56\tTỉnh Khánh Hòa\tTỉnh\tKH\n");
        assert!(e.reason.contains("alias \"KH\""), "{e}");

        let e = error(leak(format!(
            "{HEAD}{PROVINCES}@communes\tcode\tprovince\tname\tkind\n22810\t57\tXã Ninh Sơn\tXã\n"
        )));
        assert_eq!((e.line, e.reason.as_str()), (6, "commune 22810: unknown province 57"));

        let e = error(leak(format!(
            "{HEAD}{PROVINCES}{COMMUNES}@legacy\tlevel\tcode\tparent\tname\tkind\taliases\n\
             P\t58\t\tTỉnh Ninh Thuận\tTỉnh\t\nC\t22810\t585\tXã Lâm Sơn\tXã\t\n"
        )));
        assert_eq!(e.line, 9);
        assert!(e.reason.contains("parent 585 is not the preceding District"), "{e}");
    }
}
