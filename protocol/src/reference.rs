//! The organisation tree from the national reference data: a province's MTTQ committee and the
//! committees of its communes and wards. Ids are derived from the dataset version and codes, so
//! the relay and every device build the same tree.

use chrono::NaiveDate;
use giaoban_admin_units as au;
use giaoban_vietnamese_text::collator;
use uuid::Uuid;

use crate::ids::{DocId, UnitId};
use crate::schema::{AdminRef, DocKind, Header, Invalid, Unit, UnitDirectory, UnitKind};

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
pub fn unit_directory_from_reference(province: &str) -> Result<UnitDirectory, Invalid> {
    let by_code = province.trim().parse::<au::ProvinceCode>().ok().and_then(au::province);
    let p = by_code.or_else(|| au::find_province_by_name(province)).ok_or_else(|| {
        Invalid::new(
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
        people: Vec::new(),
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
            people: Vec::new(),
        });
    }
    let id = DocId::derived(&REFERENCE_NAMESPACE, format!("{root_key}/directory").as_bytes());
    let audience = units.iter().skip(1).map(|u| u.id).collect();
    Ok(UnitDirectory { header: Header::new(id, DocKind::UnitDirectory, root, audience), units })
}
