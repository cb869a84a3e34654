#!/usr/bin/env bash
# giaoban-export's files read by software that did not write them: the samples example writes
# the seed dispatch 305/MTTQ-BTT, its report (DOCX) and the report's table (XLSX); python-docx
# and openpyxl check fonts, margins, the number and date lines, every unit row and the totals
# (scripts/export_check.py); LibreOffice turns them into PDF in one start, under a vi-VN locale;
# pdftotext checks the Vietnamese words come out whole, the page count and the "2" atop page 2.
# Installs what is missing: LibreOffice (writer, calc), poppler-utils and fonts-liberation2 from
# Debian (Times New Roman cannot be installed; Liberation Serif has its metrics), python-docx and
# openpyxl into a venv under the target dir.
#   scripts/export-test.sh                 check
#   scripts/export-test.sh --update-docs   also write docs/export/*-page1.png
# Exits non-zero, after saying what failed, on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { echo "== $* (${SECONDS} s so far)"; }
update_docs=0
[ "${1:-}" = "--update-docs" ] && update_docs=1

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
missing=()
command -v soffice >/dev/null 2>&1 || missing+=(libreoffice-writer-nogui libreoffice-calc-nogui)
{ command -v pdftotext && command -v pdftoppm && command -v pdffonts; } >/dev/null 2>&1 || missing+=(poppler-utils)
{ command -v fc-list >/dev/null 2>&1 && fc-list | grep -q "Liberation Serif"; } || missing+=(fonts-liberation2)
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]} (Debian)"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "FAILED: missing ${missing[*]} and no apt-get to install them" >&2
    exit 1
  fi
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
work="$target_dir/export-test"
python=python3
if ! python3 -c "import docx, openpyxl" >/dev/null 2>&1; then
  venv="$target_dir/export-test-venv"
  if ! "$venv/bin/python" -c "import docx, openpyxl" >/dev/null 2>&1; then
    step "installing python-docx and openpyxl into $venv"
    python3 -m venv "$venv" || { $sudo apt-get install -y -qq python3-venv >/dev/null && python3 -m venv "$venv"; }
    "$venv/bin/pip" install -q --disable-pip-version-check python-docx==1.2.0 openpyxl==3.1.5
  fi
  python="$venv/bin/python"
fi

step "writing the samples"
rm -rf "$work"
mkdir -p "$work/files" "$work/pdf" "$work/png"
# The test profile, so what `cargo test -p giaoban-export` compiled is reused.
cargo build -q -p giaoban-export --example samples --profile test --locked
"$target_dir/debug/examples/samples" "$work/files" >/dev/null

status=0
step "reading them back with python-docx and openpyxl"
"$python" scripts/export_check.py files "$work/files" || status=1

step "converting to PDF with LibreOffice"
# A private profile whose locale is vi-VN, as at a committee's desk: LibreOffice then groups
# the sheet's thousands with dots. The profile is made fresh each run, so nothing of the
# machine's own LibreOffice settings leaks in.
profile="$work/lo-profile"
mkdir -p "$profile/user"
cat >"$profile/user/registrymodifications.xcu" <<'XCU'
<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Setup/L10N"><prop oor:name="ooSetupSystemLocale" oor:op="fuse"><value>vi-VN</value></prop></item>
</oor:items>
XCU
if ! timeout 300 soffice "-env:UserInstallation=file://$profile" --headless --norestore \
  --convert-to pdf --outdir "$work/pdf" "$work"/files/*.docx "$work"/files/*.xlsx >"$work/soffice.log" 2>&1; then
  echo "FAILED: soffice did not convert the files:" >&2
  cat "$work/soffice.log" >&2
  status=1
fi

step "reading the PDFs with poppler"
"$python" scripts/export_check.py pdf "$work/files" "$work/pdf" || status=1

for stem in dispatch-305 consolidated-report; do
  if [ -f "$work/pdf/$stem.pdf" ]; then
    pdftoppm -png -r 60 -f 1 -l 1 -singlefile "$work/pdf/$stem.pdf" "$work/png/$stem-page1"
  fi
done
if [ "$update_docs" = 1 ]; then
  mkdir -p docs/export
  cp "$work/png/dispatch-305-page1.png" "$work/png/consolidated-report-page1.png" docs/export/
  echo "updated docs/export/*-page1.png"
fi

if [ "$status" != 0 ]; then
  echo "export-test: FAILED (files and PDFs in $work)"
  exit 1
fi
echo "export-test: ok in ${SECONDS} s (files, PDFs and page images in $work)"
