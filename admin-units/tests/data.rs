//! Properties of the shipped data, through the public API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};

use giaoban_admin_units::{self as au, CommuneKind, LegacyLevel, ProvinceKind};
use unicode_normalization::is_nfc;

fn p(s: &str) -> au::ProvinceCode {
    s.parse().unwrap()
}
fn c(s: &str) -> au::CommuneCode {
    s.parse().unwrap()
}
fn l(s: &str) -> au::LegacyCode {
    s.parse().unwrap()
}

#[test]
fn shipped_file_parses_fully() {
    au::ensure_loaded().unwrap();
    assert_eq!(au::DATASET_VERSION, "vietnamadminunits 1.0.4");
}

#[test]
fn current_counts() {
    assert_eq!(au::provinces().len(), 34);
    assert_eq!(au::communes().len(), 3321);
    let mut kinds: HashMap<CommuneKind, usize> = HashMap::new();
    for commune in au::communes() {
        *kinds.entry(commune.kind).or_default() += 1;
    }
    assert_eq!(kinds[&CommuneKind::Xa], 2621);
    assert_eq!(kinds[&CommuneKind::Phuong], 687);
    assert_eq!(kinds[&CommuneKind::DacKhu], 13);
    let cities = au::provinces().iter().filter(|p| p.kind == ProvinceKind::ThanhPho).count();
    assert_eq!(cities, 6, "Hà Nội, Hải Phòng, Huế, Đà Nẵng, TP.HCM, Cần Thơ");
}

#[test]
fn every_commune_belongs_to_a_listed_province() {
    let mut total = 0;
    for province in au::provinces() {
        assert_eq!(au::province(province.code), Some(province));
        let mut n = 0;
        for commune in au::communes_of(province.code) {
            assert_eq!(commune.province, province.code);
            n += 1;
        }
        assert!((38..=168).contains(&n), "{}: {n} communes", province.name);
        total += n;
    }
    assert_eq!(total, 3321);
    for commune in au::communes() {
        assert!(au::province(commune.province).is_some(), "{}", commune.code);
        assert_eq!(au::commune(commune.code), Some(commune));
        assert!(commune.name.starts_with(commune.kind.label()), "{}", commune.name);
    }
    assert_eq!(au::communes_of(p("99")).count(), 0);
}

#[test]
fn khanh_hoa_contains_xa_ninh_son_22810() {
    let khanh_hoa = au::province(p("56")).unwrap();
    assert_eq!(khanh_hoa.name, "Tỉnh Khánh Hòa");
    assert_eq!(khanh_hoa.short_name, "Khánh Hòa");
    assert_eq!(khanh_hoa.kind, ProvinceKind::Tinh);
    assert_eq!(au::communes_of(khanh_hoa.code).len(), 65);
    let ninh_son = au::communes_of(khanh_hoa.code).find(|c| c.name == "Xã Ninh Sơn").unwrap();
    assert_eq!(ninh_son.code, c("22810"));
    assert_eq!(ninh_son.code.to_string(), "22810");
    assert_eq!(ninh_son.short_name, "Ninh Sơn");
    assert_eq!(ninh_son.kind, CommuneKind::Xa);
    assert_eq!(au::commune(c("22810")), Some(ninh_son));
    let found: Vec<_> = au::find_communes_by_name("xa ninh son").collect();
    assert_eq!(found, [ninh_son]);
}

#[test]
fn find_province_by_name_ignores_diacritics_and_prefix() {
    let dong_nai = au::find_province_by_name("dong nai").unwrap();
    assert_eq!(dong_nai.name, "Tỉnh Đồng Nai");
    assert_eq!(dong_nai.code.to_string(), "75");
    for q in ["Đồng Nai", "ĐỒNG NAI", "Tỉnh Đồng Nai", "tinh  dong nai ", "dongnai", "Đo\u{302}\u{300}ng Nai"]
    {
        assert_eq!(au::find_province_by_name(q), Some(dong_nai), "{q:?}");
    }
    let hcm = au::find_province_by_name("Thành phố Hồ Chí Minh").unwrap();
    for q in ["ho chi minh", "TP. Hồ Chí Minh", "TP.HCM", "hcm"] {
        assert_eq!(au::find_province_by_name(q), Some(hcm), "{q:?}");
    }
    assert_eq!(au::find_province_by_name("Khánh Hoà").unwrap().code, p("56"));
    assert_eq!(au::find_province_by_name("thanh pho hue").unwrap().short_name, "Huế");
    // Merged away in 2025, and nonsense.
    assert_eq!(au::find_province_by_name("Bình Phước"), None);
    assert_eq!(au::find_province_by_name(""), None);
    assert_eq!(au::find_province_by_name("Tỉnh"), None);
    for province in au::provinces() {
        assert_eq!(au::find_province_by_name(province.name), Some(province));
        assert_eq!(au::find_province_by_name(province.short_name), Some(province));
    }
}

#[test]
fn legacy_counts_and_tree() {
    let legacy = au::legacy_units();
    let count = |level| legacy.iter().filter(|u| u.level == level).count();
    assert_eq!(count(LegacyLevel::Province), 63);
    assert_eq!(count(LegacyLevel::District), 696);
    assert_eq!(count(LegacyLevel::Commune), 10_035);
    // The source's admin_units_legacy has one row per commune, plus 5 commune-less districts.
    let commune_less = legacy
        .iter()
        .filter(|u| u.level == LegacyLevel::District && au::legacy_children(u.code).next().is_none())
        .map(|u| u.short_name)
        .collect::<Vec<_>>();
    assert_eq!(commune_less, ["Bạch Long Vĩ", "Cồn Cỏ", "Hoàng Sa", "Lý Sơn", "Côn Đảo"]);
    assert_eq!(count(LegacyLevel::Commune) + commune_less.len(), 10_040);

    let mut codes = HashSet::new();
    for unit in legacy {
        assert!(codes.insert(unit.code), "duplicate {}", unit.code);
        assert_eq!(au::legacy_unit(unit.code), Some(unit));
        let parent = unit.parent_code.map(|code| au::legacy_unit(code).unwrap());
        match unit.level {
            LegacyLevel::Province => assert!(parent.is_none()),
            LegacyLevel::District => assert_eq!(parent.unwrap().level, LegacyLevel::Province),
            LegacyLevel::Commune => assert_eq!(parent.unwrap().level, LegacyLevel::District),
        }
        assert!(au::province_of_legacy(unit.code).is_some(), "{}", unit.code);
    }
    let kinds: HashSet<&str> = legacy.iter().map(|u| u.kind_label).collect();
    let expected: HashSet<&str> =
        ["Tỉnh", "Thành phố", "Quận", "Huyện", "Thị xã", "Phường", "Xã", "Thị trấn"].into();
    assert_eq!(kinds, expected);
}

#[test]
fn every_legacy_commune_has_successors_in_its_new_province() {
    let mut mapped = 0;
    let mut split = 0;
    for unit in au::legacy_units() {
        let successors = au::successors_of_legacy(unit.code);
        let expect_mapping = unit.level == LegacyLevel::Commune
            || (unit.level == LegacyLevel::District && au::legacy_children(unit.code).next().is_none());
        assert_eq!(!successors.is_empty(), expect_mapping, "{} {}", unit.code, unit.name);
        if successors.is_empty() {
            continue;
        }
        mapped += 1;
        if successors.len() > 1 {
            split += 1;
            assert!(successors.iter().all(|s| s.partly));
            assert_eq!(successors.iter().filter(|s| s.default_for_split).count(), 1);
        } else {
            assert!(!successors[0].partly && !successors[0].default_for_split);
        }
        let new_province = au::province_of_legacy(unit.code).unwrap().code;
        for s in successors {
            assert_eq!(au::commune(s.new_commune).unwrap().province, new_province, "{}", unit.code);
            assert!(au::predecessors_of(s.new_commune).any(|(u, _)| u == unit));
        }
        let default = au::default_successor_of_legacy(unit.code).unwrap();
        assert!(successors.contains(default));
    }
    assert_eq!(mapped, 10_040);
    assert_eq!(split, 471);
    // Every current commune was formed from at least one legacy unit.
    for commune in au::communes() {
        assert!(au::predecessors_of(commune.code).next().is_some(), "{}", commune.code);
    }
    assert!(au::successors_of_legacy(l("75")).is_empty());
    assert!(au::successors_of_legacy(l("732")).is_empty());
}

#[test]
fn long_khanh_is_now_five_wards_of_dong_nai() {
    let dong_nai = au::find_province_by_name("dong nai").unwrap();
    let long_khanh = au::find_legacy_units_by_name("Thành phố Long Khánh")
        .find(|u| u.level == LegacyLevel::District)
        .unwrap();
    assert_eq!(long_khanh.code, l("732"));
    assert_eq!(au::province_of_legacy(long_khanh.code), Some(dong_nai));
    let old: Vec<_> = au::legacy_children(long_khanh.code).collect();
    assert_eq!(old.len(), 13);
    let mut new = Vec::new();
    for unit in &old {
        for s in au::successors_of_legacy(unit.code) {
            let commune = au::commune(s.new_commune).unwrap();
            assert_eq!(commune.province, dong_nai.code);
            assert_eq!(commune.kind, CommuneKind::Phuong, "{}", commune.name);
            new.push(commune.name);
        }
    }
    new.sort();
    new.dedup();
    assert_eq!(
        new,
        ["Phường Bình Lộc", "Phường Bảo Vinh", "Phường Hàng Gòn", "Phường Long Khánh", "Phường Xuân Lập"]
    );
}

#[test]
fn legacy_lookups() {
    // A province merged away: Bình Phước is now part of Đồng Nai.
    let binh_phuoc =
        au::find_legacy_units_by_name("binh phuoc").find(|u| u.level == LegacyLevel::Province).unwrap();
    assert_eq!(binh_phuoc.name, "Tỉnh Bình Phước");
    assert_eq!(au::province_of_legacy(binh_phuoc.code).unwrap().short_name, "Đồng Nai");
    // Old district Ninh Sơn (Ninh Thuận) is now in Khánh Hòa.
    let ninh_son = au::find_legacy_units_by_name("Huyện Ninh Sơn").collect::<Vec<_>>();
    assert_eq!(ninh_son.len(), 1);
    assert_eq!(au::province_of_legacy(ninh_son[0].code).unwrap().code, p("56"));
    // Aliases: Phường Trúc Bạch absorbed Phường Nguyễn Trung Trực.
    assert!(au::find_legacy_units_by_name("Nguyễn Trung Trực").any(|u| u.name == "Phường Trúc Bạch"));
    // An island district maps to its đặc khu.
    let con_dao = au::successors_of_legacy(l("755"));
    assert_eq!(con_dao.len(), 1);
    let dac_khu = au::commune(con_dao[0].new_commune).unwrap();
    assert_eq!((dac_khu.name, dac_khu.kind), ("Đặc khu Côn Đảo", CommuneKind::DacKhu));
    // Codes are not keys: legacy province 15 (Yên Bái) is not current province 15 (Lào Cai).
    assert_eq!(au::legacy_unit(l("15")).unwrap().name, "Tỉnh Yên Bái");
    assert_eq!(au::province(p("15")).unwrap().name, "Tỉnh Lào Cai");
    assert_eq!(au::province_of_legacy(l("15")).unwrap().name, "Tỉnh Lào Cai");
}

#[test]
fn all_names_are_nfc_and_trimmed() {
    let names = au::provinces()
        .iter()
        .flat_map(|p| [p.name, p.short_name])
        .chain(au::communes().iter().flat_map(|c| [c.name, c.short_name]))
        .chain(au::legacy_units().iter().flat_map(|u| [u.name, u.short_name, u.kind_label]));
    let mut n = 0;
    for name in names {
        assert!(is_nfc(name), "{name:?}");
        assert_eq!(name.trim(), name);
        assert!(!name.is_empty());
        n += 1;
    }
    assert_eq!(n, 2 * 34 + 2 * 3321 + 3 * 10_794);
}

#[test]
fn data_fixes_are_in_place() {
    // The source types these by a column that contradicts the name; the name wins.
    for (code, kind) in [
        ("10543", CommuneKind::Phuong),
        ("31213", CommuneKind::Phuong),
        ("11848", CommuneKind::Xa),
        ("31299", CommuneKind::Xa),
    ] {
        assert_eq!(au::commune(c(code)).unwrap().kind, kind, "{code}");
    }
    assert_eq!(au::legacy_unit(l("27046")).unwrap().kind_label, "Phường");
}
