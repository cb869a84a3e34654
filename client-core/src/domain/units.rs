//! The unit tree: built from the national reference data, stored as a UnitDirectory document.

use chrono::NaiveDate;
use giaoban_admin_units as au;
use giaoban_protocol::schema::{AdminRef, Header, Unit, UnitDirectory, UnitKind};
use giaoban_protocol::{DocId, DocKind, UnitId};
use giaoban_vietnamese_text::collator;
use uuid::Uuid;

use crate::Store;
use crate::error::{CoreError, Result};

/// Namespace of unit and directory ids derived from reference data: the same province gives
/// the same ids on every device and on the relay.
const REFERENCE_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_9a52_3b7e_4d0a_9c61_2a8e_5f4b_7d13);

/// The day the two-tier administration took effect.
fn reform_day() -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(2025, 7, 1)
}

fn derived_unit(key: &str) -> UnitId {
    UnitId::from_uuid(Uuid::new_v5(&REFERENCE_NAMESPACE, key.as_bytes()))
}

fn lower_first_word(name: &str) -> String {
    match name.split_once(' ') {
        Some((first, rest)) => format!("{} {rest}", first.to_lowercase()),
        None => name.to_string(),
    }
}

/// A unit directory for one province's MTTQ committee and the committees of its communes and
/// wards, from the reference data. `province` is a name ("Đồng Nai", diacritics optional) or a
/// code ("75").
pub fn unit_directory_from_reference(province: &str) -> Result<UnitDirectory> {
    let by_code = province.trim().parse::<au::ProvinceCode>().ok().and_then(au::province);
    let p = by_code.or_else(|| au::find_province_by_name(province)).ok_or_else(|| {
        CoreError::invalid(
            "province",
            format!("'{province}' is not one of the 34 provinces; give its name or code"),
        )
    })?;
    let dataset = au::DATASET_VERSION.to_string();
    let root_key = format!("{dataset}/province/{}", p.code);
    let root = derived_unit(&root_key);
    let mut units = vec![Unit {
        id: root,
        name: format!("Ủy ban MTTQ Việt Nam {}", lower_first_word(p.name)),
        short_name: p.short_name.to_string(),
        kind: UnitKind::FrontCommittee,
        level_label: p.kind.label().to_lowercase(),
        parent: None,
        admin_ref: Some(AdminRef { dataset: dataset.clone(), code: p.code.to_string() }),
        valid_from: reform_day(),
        valid_to: None,
        successors: Vec::new(),
    }];
    let mut communes: Vec<&au::Commune> = au::communes_of(p.code).collect();
    let c = collator();
    communes.sort_by(|a, b| c.compare(a.short_name, b.short_name));
    for commune in communes {
        units.push(Unit {
            id: derived_unit(&format!("{dataset}/commune/{}", commune.code)),
            name: format!("Ủy ban MTTQ Việt Nam {}", lower_first_word(commune.name)),
            short_name: commune.name.to_string(),
            kind: UnitKind::FrontCommittee,
            level_label: commune.kind.label().to_lowercase(),
            parent: Some(root),
            admin_ref: Some(AdminRef { dataset: dataset.clone(), code: commune.code.to_string() }),
            valid_from: reform_day(),
            valid_to: None,
            successors: Vec::new(),
        });
    }
    let id = DocId::derived(&REFERENCE_NAMESPACE, format!("{root_key}/directory").as_bytes());
    let audience = units.iter().skip(1).map(|u| u.id).collect();
    Ok(UnitDirectory { header: Header::new(id, DocKind::UnitDirectory, root, audience), units })
}

impl Store {
    /// Stores a unit directory owned by this device's unit.
    pub fn create_unit_directory(&mut self, directory: &UnitDirectory) -> Result<DocId> {
        self.create(directory, false)?;
        Ok(directory.header.id)
    }

    /// The unit directory on this device (the first one, if several).
    pub fn unit_directory(&mut self) -> Result<UnitDirectory> {
        let id = self
            .document_ids(Some(DocKind::UnitDirectory))?
            .into_iter()
            .next()
            .ok_or_else(|| CoreError::not_found("unit directory", "of this organisation"))?;
        self.get(id)
    }

    /// The children of `parent`, sorted by name the Vietnamese way.
    pub fn child_units(&mut self, parent: UnitId) -> Result<Vec<Unit>> {
        let dir = self.unit_directory()?;
        let mut units: Vec<Unit> = dir.children(parent).cloned().collect();
        let c = collator();
        units.sort_by(|a, b| c.compare(&a.short_name, &b.short_name));
        Ok(units)
    }
}
