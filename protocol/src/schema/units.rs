//! The unit directory: the organisation tree, any depth, with validity dates and successors.

use std::collections::{HashMap, HashSet};

use autosurgeon::{Hydrate, Reconcile};
use chrono::NaiveDate;

use super::validate::{self, Invalid, LINE_MAX};
use super::{DocKind, DocumentSchema, Header};
use crate::ids::UnitId;
use crate::time::iso_date_opt;

/// What sort of body a unit is. Levels are not encoded: depth comes from the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Reconcile, Hydrate)]
pub enum UnitKind {
    /// An MTTQ committee (Ủy ban MTTQ) at any level.
    FrontCommittee,
    /// A member organisation (Hội Nông dân, Đoàn Thanh niên, …).
    MemberOrganisation,
    /// A Front work team of a residential area (Ban Công tác Mặt trận).
    WorkTeam,
    /// A Party committee or body (Thành ủy, Ban Dân vận).
    PartyBody,
    /// A People's Committee or other state body.
    StateBody,
    /// Anything else.
    Other,
}

impl UnitKind {
    /// Every kind, with the code the admin command takes.
    pub const ALL: [(UnitKind, &'static str); 6] = [
        (UnitKind::FrontCommittee, "front-committee"),
        (UnitKind::MemberOrganisation, "member-organisation"),
        (UnitKind::WorkTeam, "work-team"),
        (UnitKind::PartyBody, "party-body"),
        (UnitKind::StateBody, "state-body"),
        (UnitKind::Other, "other"),
    ];

    /// The kind of `code` ("member-organisation" …).
    pub fn from_code(code: &str) -> Option<UnitKind> {
        UnitKind::ALL.iter().find(|(_, c)| *c == code.trim()).map(|(k, _)| *k)
    }
}

/// A reference to the national administrative-unit data. Codes are reference data, not keys:
/// they are reused across releases, so the dataset version is kept with them.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct AdminRef {
    /// "vietnamadminunits 1.0.4".
    pub dataset: String,
    /// The code in that dataset ("22810").
    pub code: String,
}

/// One unit.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Unit {
    /// Its id (our own; never an administrative code).
    #[key]
    pub id: UnitId,
    /// Full name: "Ban Thường trực UBMTTQ Việt Nam phường Xuân Trung".
    pub name: String,
    /// Short name for lists: "P. Xuân Trung".
    pub short_name: String,
    /// What sort of body.
    pub kind: UnitKind,
    /// Free label of the level ("tỉnh", "xã", "phường", "khu phố").
    pub level_label: String,
    /// The parent unit; `None` for a root.
    pub parent: Option<UnitId>,
    /// The administrative area it serves, if any.
    pub admin_ref: Option<AdminRef>,
    /// First day it exists.
    #[autosurgeon(with = "iso_date_opt")]
    pub valid_from: Option<NaiveDate>,
    /// Last day it exists; `None` while it exists.
    #[autosurgeon(with = "iso_date_opt")]
    pub valid_to: Option<NaiveDate>,
    /// Units that took over its work (mergers and splits).
    pub successors: Vec<UnitId>,
    /// The unit's people to contact (name, title, phone), as its office keeps them. Units
    /// written before read as having none.
    #[autosurgeon(missing = "Vec::new")]
    pub people: Vec<super::Person>,
}

/// The most people one unit's directory lists.
pub const PEOPLE_MAX: usize = 500;

impl Unit {
    /// Whether the unit exists on `date`.
    pub fn is_valid_on(&self, date: NaiveDate) -> bool {
        self.valid_from.is_none_or(|f| f <= date) && self.valid_to.is_none_or(|t| date <= t)
    }
}

/// The organisation tree. Owner: the relay's administrators' unit (the root).
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct UnitDirectory {
    /// Id, kind, owner and audience.
    pub header: Header,
    /// All units, parents before children.
    pub units: Vec<Unit>,
}

impl UnitDirectory {
    /// The unit with `id`.
    pub fn unit(&self, id: UnitId) -> Option<&Unit> {
        self.units.iter().find(|u| u.id == id)
    }

    /// `ancestor` is `unit` or one of its ancestors.
    pub fn is_ancestor_or_self(&self, ancestor: UnitId, unit: UnitId) -> bool {
        let parents: HashMap<UnitId, Option<UnitId>> = self.units.iter().map(|u| (u.id, u.parent)).collect();
        let mut cur = Some(unit);
        let mut steps = 0;
        while let Some(u) = cur {
            if u == ancestor {
                return true;
            }
            steps += 1;
            if steps > parents.len() {
                return false;
            }
            cur = parents.get(&u).copied().flatten();
        }
        false
    }

    /// The direct children of `parent`.
    pub fn children(&self, parent: UnitId) -> impl Iterator<Item = &Unit> {
        self.units.iter().filter(move |u| u.parent == Some(parent))
    }
}

impl DocumentSchema for UnitDirectory {
    const KIND: DocKind = DocKind::UnitDirectory;

    fn header(&self) -> &Header {
        &self.header
    }

    fn validate(&self) -> Result<(), Invalid> {
        validate::header(&self.header, DocKind::UnitDirectory)?;
        let mut ids = HashSet::new();
        for u in &self.units {
            let f = format!("units[{}]", u.id);
            if !ids.insert(u.id) {
                return Err(Invalid::new(f, "listed twice"));
            }
            validate::required_text(&format!("{f}.name"), &u.name, LINE_MAX)?;
            validate::text(&format!("{f}.short_name"), &u.short_name, LINE_MAX)?;
            if u.people.len() > PEOPLE_MAX {
                return Err(Invalid::new(
                    format!("{f}.people"),
                    format!("at most {PEOPLE_MAX} people per unit"),
                ));
            }
            for (i, person) in u.people.iter().enumerate() {
                person.validate(&format!("{f}.people[{i}]"))?;
            }
            if let (Some(a), Some(b)) = (u.valid_from, u.valid_to)
                && b < a
            {
                return Err(Invalid::new(f, "valid_to is before valid_from"));
            }
        }
        for u in &self.units {
            if let Some(p) = u.parent {
                if !ids.contains(&p) {
                    return Err(Invalid::new(
                        format!("units[{}].parent", u.id),
                        "parent unit is not in the directory",
                    ));
                }
                if self.is_ancestor_or_self(u.id, p) {
                    return Err(Invalid::new(format!("units[{}].parent", u.id), "the tree has a cycle"));
                }
            }
            if let Some(s) = u.successors.iter().find(|s| !ids.contains(s)) {
                return Err(Invalid::new(
                    format!("units[{}].successors", u.id),
                    format!("successor {s} is not in the directory"),
                ));
            }
        }
        Ok(())
    }

    fn title(&self) -> String {
        "Danh mục đơn vị".to_string()
    }

    fn search_text(&self) -> String {
        self.units.iter().map(|u| u.name.as_str()).collect::<Vec<_>>().join("\n")
    }
}
