#!/usr/bin/env python3
"""Regenerate admin-units/data/admin-units.tsv from the PyPI package vietnamadminunits.

Usage (from the repository root, no virtualenv needed):

    python3 admin-units/tools/generate.py [--package-dir DIR]

Where the package comes from, in order:
  1. --package-dir DIR: a directory that contains `vietnamadminunits/data/` (for example an
     unpacked wheel, or a `pip install --target` directory);
  2. an already-installed vietnamadminunits of exactly the pinned version (found without
     importing it, so its heavy dependencies are not needed);
  3. otherwise `pip install --no-deps --target <tmpdir> vietnamadminunits==<VERSION>`.

Only the standard library is used. The output is deterministic: the same package version gives
byte-identical files. The script also copies the package's LICENSE next to the data.

Transformations applied to the package's data (everything else is copied as is):
  * every string is normalised to Unicode NFC (83 strings in 1.0.4 are not NFC);
  * search keywords (aliases) are brought to the source's own keyword form, lowercase ASCII
    (12 in 1.0.4 still carry diacritics);
  * the unit type ("kind") is taken from the prefix of the unit's official name. In 1.0.4 the
    `wardType` column contradicts the name in 4 current and 3 legacy rows (for example
    "Phường Việt Hòa" typed "Xã"); the names agree with the national statistics office's list,
    so the name wins. The script prints every such row;
  * legacy (pre-2025) rows, one per commune in the package, are split into provinces, districts
    and communes; the 5 island districts that had no commune appear as districts only;
  * the old->new mapping in converter_2025.json, keyed by the package's name keys, is resolved
    to codes.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

PACKAGE = "vietnamadminunits"
VERSION = "1.0.4"
DATASET_VERSION = f"{PACKAGE} {VERSION}"

CRATE_DIR = Path(__file__).resolve().parent.parent
OUT_DATA = CRATE_DIR / "data" / "admin-units.tsv"
OUT_LICENSE = CRATE_DIR / "data" / "LICENSE-vietnamadminunits"

PROVINCE_KINDS = ["Thành phố", "Tỉnh"]
COMMUNE_KINDS = ["Đặc khu", "Phường", "Xã"]
LEGACY_DISTRICT_KINDS = ["Thành phố", "Thị xã", "Quận", "Huyện"]
LEGACY_COMMUNE_KINDS = ["Thị trấn", "Phường", "Xã"]


def nfc(s: str | None) -> str:
    return unicodedata.normalize("NFC", s or "")


def kind_from_name(name: str, kinds: list[str], declared: str | None, what: str, warnings: list[str]) -> str:
    """The kind is the prefix of the official name (compared ignoring case: the package spells a
    few district names "Thành Phố ..." / "Thị Xã ...")."""
    for kind in kinds:
        if name.lower().startswith(kind.lower() + " "):
            if declared is not None and nfc(declared) != kind:
                warnings.append(f"{what} {name!r}: package type {declared!r}, name says {kind!r}; using {kind!r}")
            return kind
    raise SystemExit(f"{what} {name!r}: name does not start with any of {kinds}")


def keyword(s: str) -> str:
    """The source's keyword form: no diacritics, đ -> d, lowercase ASCII letters and digits."""
    decomposed = unicodedata.normalize("NFD", s.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed.lower() if c.isascii() and c.isalnum())


def aliases(raw: str | None, warnings: list[str]) -> str:
    """Comma-separated keywords. A few (12 in 1.0.4) still carry diacritics ("xãbảohưng");
    they are brought to the keyword form, dropping duplicates."""
    if not raw:
        return ""
    items: list[str] = []
    for a in json.loads(raw):
        k = keyword(a)
        if not k:
            raise SystemExit(f"unexpected alias {a!r}")
        if k != a:
            warnings.append(f"alias {a!r} -> {k!r}")
        if k not in items:
            items.append(k)
    return ",".join(items)


def locate_package(package_dir: str | None, tmp: Path) -> tuple[Path, Path]:
    """Returns (the `vietnamadminunits` package directory, its LICENSE file)."""
    if package_dir:
        root = Path(package_dir).resolve()
        pkg = root / PACKAGE
        if not (pkg / "data" / "dataset.db").is_file():
            raise SystemExit(f"{pkg}/data/dataset.db not found")
        return pkg, find_license(root)
    try:
        installed = importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        installed = None
    if installed == VERSION:
        spec = importlib.util.find_spec(PACKAGE)  # locates without importing
        if spec is not None and spec.submodule_search_locations:
            pkg = Path(list(spec.submodule_search_locations)[0])
            return pkg, find_license(pkg.parent)
    print(f"installing {PACKAGE}=={VERSION} into {tmp}", file=sys.stderr)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
         "--target", str(tmp), f"{PACKAGE}=={VERSION}"],
        env={**os.environ, "PIP_ROOT_USER_ACTION": "ignore", "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        check=True,
    )
    return tmp / PACKAGE, find_license(tmp)


def find_license(root: Path) -> Path:
    candidates = sorted(root.glob(f"{PACKAGE}-{VERSION}.dist-info/**/LICENSE*"))
    if not candidates:
        raise SystemExit(f"no LICENSE in {root}/{PACKAGE}-{VERSION}.dist-info")
    return candidates[0]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def generate(pkg: Path, license_file: Path) -> None:
    db_path = pkg / "data" / "dataset.db"
    conv_path = pkg / "data" / "converter_2025.json"
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    warnings: list[str] = []

    # ---- current units (after 1 July 2025) ----
    provinces: dict[str, tuple[str, str, str]] = {}  # code -> (name, kind, aliases)
    province_code_by_key: dict[str, str] = {}
    communes: list[tuple[str, str, str, str]] = []  # (province code, code, name, kind)
    commune_code_by_key: dict[tuple[str, str], str] = {}
    rows = db.execute(
        "SELECT province, provinceCode, provinceKey, provinceAlias, ward, wardType, wardCode, wardKey"
        " FROM admin_units"
    ).fetchall()
    for province, pcode, pkey, palias, ward, wtype, wcode, wkey in rows:
        pname = nfc(province)
        entry = (pname, kind_from_name(pname, PROVINCE_KINDS, None, "province", warnings), aliases(palias, warnings))
        if provinces.setdefault(pcode, entry) != entry:
            raise SystemExit(f"province {pcode} is inconsistent")
        province_code_by_key[pkey] = pcode
        wname = nfc(ward)
        communes.append((pcode, wcode, wname, kind_from_name(wname, COMMUNE_KINDS, wtype, "commune", warnings)))
        if commune_code_by_key.setdefault((pkey, wkey), wcode) != wcode:
            raise SystemExit(f"duplicate ward key {pkey}/{wkey}")
    communes.sort()
    if len({c[1] for c in communes}) != len(communes):
        raise SystemExit("duplicate commune code")

    # ---- legacy units (before 1 July 2025) ----
    legacy_provinces: dict[str, tuple[str, str, str]] = {}
    legacy_districts: dict[str, tuple[str, str, str, str]] = {}  # code -> (province, name, kind, aliases)
    legacy_communes: dict[str, tuple[str, str, str, str]] = {}  # code -> (district, name, kind, aliases)
    legacy_code_by_key: dict[str, str] = {}
    legacy_province_code_by_key: dict[str, str] = {}
    rows = db.execute(
        "SELECT province, provinceCode, provinceKey, provinceAlias,"
        " district, districtType, districtCode, districtKey, districtAlias,"
        " ward, wardType, wardCode, wardKey, wardAlias FROM admin_units_legacy"
    ).fetchall()
    legacy_rows = len(rows)
    for (province, pcode, pkey, palias, district, dtype, dcode, dkey, dalias,
         ward, wtype, wcode, wkey, walias) in rows:
        pname = nfc(province)
        p = (pname, kind_from_name(pname, PROVINCE_KINDS, None, "legacy province", warnings), aliases(palias, warnings))
        if legacy_provinces.setdefault(pcode, p) != p:
            raise SystemExit(f"legacy province {pcode} is inconsistent")
        legacy_province_code_by_key[pkey] = pcode
        dname = nfc(district)
        d = (pcode, dname, kind_from_name(dname, LEGACY_DISTRICT_KINDS, dtype, "legacy district", warnings), aliases(dalias, warnings))
        if legacy_districts.setdefault(dcode, d) != d:
            raise SystemExit(f"legacy district {dcode} is inconsistent")
        key = f"{pkey}_{dkey}_{wkey or ''}"
        if wcode is None:
            # An island district without communes: the mapping is keyed by the district.
            legacy_code_by_key[key] = dcode
            continue
        wname = nfc(ward)
        c = (dcode, wname, kind_from_name(wname, LEGACY_COMMUNE_KINDS, wtype, "legacy commune", warnings), aliases(walias, warnings))
        if wcode in legacy_communes:
            raise SystemExit(f"duplicate legacy commune {wcode}")
        legacy_communes[wcode] = c
        if key in legacy_code_by_key:
            raise SystemExit(f"duplicate legacy key {key}")
        legacy_code_by_key[key] = wcode

    # ---- old -> new mapping ----
    conv = json.loads(conv_path.read_text(encoding="utf-8"))
    province_successor: dict[str, str] = {}
    for new_pkey, old_pkeys in conv["DICT_PROVINCE"].items():
        for old_pkey in old_pkeys:
            if old_pkey in province_successor:
                raise SystemExit(f"legacy province {old_pkey} maps twice")
            province_successor[legacy_province_code_by_key[old_pkey]] = province_code_by_key[new_pkey]
    if set(province_successor) != set(legacy_provinces):
        raise SystemExit("DICT_PROVINCE does not cover every legacy province")

    successors: dict[str, list[tuple[str, int, int]]] = {}  # legacy code -> [(new code, partly, default)]
    for new_pkey, wards in conv["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for new_wkey, old_keys in wards.items():
            new_code = commune_code_by_key[(new_pkey, new_wkey)]
            for old_key in old_keys:
                old_code = legacy_code_by_key[old_key]
                if old_code in successors:
                    raise SystemExit(f"{old_key} is mapped twice")
                successors[old_code] = [(new_code, 0, 0)]
    for new_pkey, olds in conv["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old_key, parts in olds.items():
            old_code = legacy_code_by_key[old_key]
            if old_code in successors:
                raise SystemExit(f"{old_key} is mapped twice")
            entries = sorted(
                (commune_code_by_key[(new_pkey, part["newWardKey"])], 1, int(bool(part["isDefaultNewWard"])))
                for part in parts
            )
            if len(entries) < 2 or sum(e[2] for e in entries) != 1:
                raise SystemExit(f"{old_key}: a split needs >= 2 parts and exactly one default")
            successors[old_code] = entries
    if set(successors) != set(legacy_code_by_key.values()):
        raise SystemExit("the mapping does not cover every legacy commune (and commune-less district)")
    commune_province = {c[1]: c[0] for c in communes}
    for old_code, entries in successors.items():
        if old_code in legacy_communes:
            old_pcode = legacy_districts[legacy_communes[old_code][0]][0]
        else:
            old_pcode = legacy_districts[old_code][0]
        for new_code, _, _ in entries:
            if commune_province[new_code] != province_successor[old_pcode]:
                raise SystemExit(f"{old_code} -> {new_code} crosses the province mapping")

    # ---- write ----
    def sort_key(code: str) -> tuple[int, str]:
        return (len(code), code)

    out: list[str] = []
    w = out.append
    w("# giaoban-admin-units reference data. GENERATED by admin-units/tools/generate.py; do not edit.")
    w(f"# Source: PyPI package {DATASET_VERSION} (MIT License, Copyright (c) 2025 Tran Ngoc Minh Hieu),")
    w("# see LICENSE-vietnamadminunits. Administrative codes here are reference data, not keys.")
    w(f"# sha256 vietnamadminunits/data/dataset.db {sha256(db_path)}")
    w(f"# sha256 vietnamadminunits/data/converter_2025.json {sha256(conv_path)}")
    w(f"@dataset\t{DATASET_VERSION}")
    w(f"# {len(provinces)} provinces after 1 July 2025. aliases: comma-separated search keywords.")
    w("@provinces\tcode\tname\tkind\taliases")
    for code in sorted(provinces):
        name, kind, al = provinces[code]
        w(f"{code}\t{name}\t{kind}\t{al}")
    w(f"# {len(communes)} communes after 1 July 2025, grouped by province.")
    w("@communes\tcode\tprovince\tname\tkind")
    for pcode, code, name, kind in communes:
        w(f"{code}\t{pcode}\t{name}\t{kind}")
    n_legacy = len(legacy_provinces) + len(legacy_districts) + len(legacy_communes)
    w(f"# {n_legacy} units before 1 July 2025: {len(legacy_provinces)} provinces (P), "
      f"{len(legacy_districts)} districts (D), {len(legacy_communes)} communes (C);")
    w("# each followed by its children. parent: the enclosing unit's code.")
    w("@legacy\tlevel\tcode\tparent\tname\tkind\taliases")
    districts_of: dict[str, list[str]] = {}
    for dcode, d in legacy_districts.items():
        districts_of.setdefault(d[0], []).append(dcode)
    communes_of: dict[str, list[str]] = {}
    for ccode, c in legacy_communes.items():
        communes_of.setdefault(c[0], []).append(ccode)
    for pcode in sorted(legacy_provinces, key=sort_key):
        name, kind, al = legacy_provinces[pcode]
        w(f"P\t{pcode}\t\t{name}\t{kind}\t{al}")
        for dcode in sorted(districts_of[pcode], key=sort_key):
            _, name, kind, al = legacy_districts[dcode]
            w(f"D\t{dcode}\t{pcode}\t{name}\t{kind}\t{al}")
            for ccode in sorted(communes_of.get(dcode, []), key=sort_key):
                _, name, kind, al = legacy_communes[ccode]
                w(f"C\t{ccode}\t{dcode}\t{name}\t{kind}\t{al}")
    w("# Which current province each legacy province became part of.")
    w("@province_successors\tlegacy\tprovince")
    for old in sorted(province_successor, key=sort_key):
        w(f"{old}\t{province_successor[old]}")
    n_split = sum(1 for e in successors.values() if len(e) > 1)
    w(f"# Old -> new communes: {len(successors)} legacy communes (or commune-less districts), "
      f"{n_split} of them split. partly=1: only part of the old unit went to this new commune;")
    w("# default=1: the package's default new commune for a split unit.")
    w("@successors\tlegacy\tcommune\tpartly\tdefault")
    for old in sorted(successors, key=sort_key):
        for new_code, partly, default in successors[old]:
            w(f"{old}\t{new_code}\t{partly}\t{default}")
    text = "\n".join(out) + "\n"
    if unicodedata.normalize("NFC", text) != text:
        raise SystemExit("output is not NFC")

    OUT_DATA.parent.mkdir(parents=True, exist_ok=True)
    OUT_DATA.write_bytes(text.encode("utf-8"))
    shutil.copyfile(license_file, OUT_LICENSE)

    for msg in warnings:
        print(f"note: {msg}", file=sys.stderr)
    kinds: dict[str, int] = {}
    for c in communes:
        kinds[c[3]] = kinds.get(c[3], 0) + 1
    print(f"wrote {OUT_DATA} ({len(text.encode('utf-8'))} bytes)", file=sys.stderr)
    print(f"  {len(provinces)} provinces, {len(communes)} communes {kinds}", file=sys.stderr)
    print(f"  legacy: {legacy_rows} package rows -> {len(legacy_provinces)} provinces, "
          f"{len(legacy_districts)} districts, {len(legacy_communes)} communes", file=sys.stderr)
    print(f"  successors: {sum(len(e) for e in successors.values())} rows for {len(successors)} "
          f"legacy units, {n_split} split", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--package-dir", help="directory containing vietnamadminunits/ (and its .dist-info)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vietnamadminunits-") as tmp:
        pkg, license_file = locate_package(args.package_dir, Path(tmp))
        generate(pkg, license_file)


if __name__ == "__main__":
    main()
