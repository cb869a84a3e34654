#!/usr/bin/env python3
"""Reads the sample documents of giaoban-export back with software that did not write them.

    export_check.py files DIR      python-docx and openpyxl on DIR's .docx and .xlsx
    export_check.py pdf DIR PDFS   pdftotext/pdfinfo/pdffonts on LibreOffice's PDFs of them

DIR is what `cargo run -p giaoban-export --example samples -- DIR` wrote (its units.tsv gives
the figures to expect). Prints every failed check and exits 1 if there was one.
"""

import re
import subprocess
import sys
import unicodedata
from pathlib import Path

FONT = "Times New Roman"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
DISPATCH = "dispatch-305"
REPORT = "consolidated-report"
SHEET = "consolidated-report-table"

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
    return ok


def nfc(s):
    return unicodedata.normalize("NFC", s)


def grouped(n):
    """1250000000 -> '1.250.000.000', as Vietnamese writes it."""
    return f"{n:,}".replace(",", ".")


def units(folder):
    rows = [line.split("\t") for line in (folder / "units.tsv").read_text(encoding="utf-8").splitlines()]
    body = [(u, int(m), int(f)) for u, m, f in rows[:-1]]
    total = (rows[-1][0], int(rows[-1][1]), int(rows[-1][2]))
    return body, total


# ---- DOCX, through python-docx ---------------------------------------------------------------


def all_paragraphs(doc):
    """Body paragraphs and those inside tables, in document order."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    out = []

    def walk(parent_elm, parent):
        for child in parent_elm.iterchildren():
            if child.tag == W + "p":
                out.append(Paragraph(child, parent))
            elif child.tag == W + "tbl":
                for row in Table(child, parent).rows:
                    for cell in row.cells:
                        walk(cell._tc, cell)

    walk(doc.element.body, doc._body)
    return out


def paragraph(paras, text, name):
    found = [p for p in paras if nfc(p.text) == text]
    check(found, f"{name}: no paragraph reads {text!r}")
    return found[0] if found else None


def runs_are(p, name, text, bold=None, italic=None, sizes=None):
    if p is None:
        return
    for r in p.runs:
        if not r.text:
            continue
        if bold is not None:
            check(bool(r.bold) == bold, f"{name}: {text!r} should {'' if bold else 'not '}be bold")
        if italic is not None:
            check(bool(r.italic) == italic, f"{name}: {text!r} should {'' if italic else 'not '}be italic")
        if sizes is not None:
            pt = r.font.size.pt if r.font.size is not None else None
            check(pt is not None and sizes[0] <= pt <= sizes[1], f"{name}: {text!r} is {pt} pt, decree {sizes}")


def check_page(doc, name):
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm

    s = doc.sections[0]
    mm = lambda v: v / Mm(1)  # noqa: E731
    check(abs(mm(s.page_width) - 210) < 0.5 and abs(mm(s.page_height) - 297) < 0.5,
          f"{name}: page {mm(s.page_width):.1f} x {mm(s.page_height):.1f} mm, not A4")
    for side, lo, hi in [("top", 20, 25), ("bottom", 20, 25), ("left", 30, 35), ("right", 15, 20)]:
        v = mm(getattr(s, f"{side}_margin"))
        check(lo - 0.1 <= v <= hi + 0.1, f"{name}: {side} margin {v:.1f} mm, decree {lo}-{hi} mm")
    check(s.different_first_page_header_footer, f"{name}: no first page of its own (w:titlePg)")
    instr = lambda hdr: "".join(e.text or "" for e in hdr._element.iter(W + "instrText"))  # noqa: E731
    check(instr(s.header).strip() == "PAGE", f"{name}: the header from page 2 has no PAGE field")
    check("PAGE" not in instr(s.first_page_header), f"{name}: page 1 shows a page number")
    hp = [p for p in s.header.paragraphs if p.runs]
    check(hp and hp[0].alignment == WD_ALIGN_PARAGRAPH.CENTER, f"{name}: page number not centred")


def check_fonts(doc, name):
    parts = [doc.part] + [rel.target_part for rel in doc.part.rels.values()
                          if rel.reltype.endswith(("/styles", "/header"))]
    seen = 0
    for part in parts:
        for f in part.element.iter(W + "rFonts"):
            seen += 1
            for slot in ("ascii", "hAnsi", "eastAsia", "cs"):
                got = f.get(W + slot)
                check(got == FONT, f"{name}: {part.partname} rFonts {slot}={got!r}, not {FONT}")
    check(seen > 20, f"{name}: only {seen} font declarations")
    defaults = doc.styles.element.find(W + "docDefaults")
    check(defaults is not None and defaults.find(f"{W}rPrDefault/{W}rPr/{W}rFonts") is not None,
          f"{name}: the document defaults name no font")


def check_common(doc, paras, name, number, date):
    check_page(doc, name)
    check_fonts(doc, name)
    runs_are(paragraph(paras, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", name), name, "Quốc hiệu", bold=True, sizes=(12, 13))
    runs_are(paragraph(paras, "Độc lập - Tự do - Hạnh phúc", name), name, "Tiêu ngữ", bold=True, sizes=(13, 14))
    runs_are(paragraph(paras, "ỦY BAN MTTQ VIỆT NAM", name), name, "parent body", bold=False, sizes=(12, 13))
    runs_are(paragraph(paras, "BAN THƯỜNG TRỰC", name), name, "issuer", bold=True, sizes=(12, 13))
    runs_are(paragraph(paras, f"Số: {number}", name), name, "Số", italic=False, sizes=(13, 13))
    runs_are(paragraph(paras, date, name), name, "date line", italic=True, sizes=(13, 14))
    runs_are(paragraph(paras, "Nơi nhận:", name), name, "Nơi nhận", bold=True, italic=True, sizes=(12, 12))
    for line in ("TM. BAN THƯỜNG TRỰC", "PHÓ CHỦ TỊCH"):
        runs_are(paragraph(paras, line, name), name, line, bold=True, sizes=(13, 14))
    texts = [nfc(p.text) for p in paras]
    check(any(t.startswith("- Lưu: VT") for t in texts), f"{name}: no '- Lưu: VT' line")


def check_dispatch(folder):
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    name = f"{DISPATCH}.docx"
    doc = docx.Document(str(folder / name))
    paras = all_paragraphs(doc)
    check_common(doc, paras, name, "305/MTTQ-BTT", "Long Khánh, ngày 24 tháng 01 năm 2022")
    paragraph(paras, "V/v thực hiện Thông báo số 161-TB/TU ngày 07/01/2022 của BTV Thành ủy", name)
    runs_are(paragraph(paras, "Kính gửi: Ban Thường trực UBMTTQVN các xã, phường.", name), name, "Kính gửi",
             sizes=(14, 14))
    texts = [nfc(p.text) for p in paras]
    tasks = [i for n in range(1, 5) for i, t in enumerate(texts) if t.startswith(f"{n}. ")]
    check(len(tasks) == 4 and tasks == sorted(tasks), f"{name}: tasks 1-4 not found in order: {tasks}")
    for i in tasks:
        p = paras[i]
        check(p.alignment == WD_ALIGN_PARAGRAPH.JUSTIFY, f"{name}: task {texts[i][:2]} not justified")
        fli = p.paragraph_format.first_line_indent
        check(fli is not None and fli.cm >= 0.99, f"{name}: task {texts[i][:2]} first line not indented 1 cm")
    check(any("(qua đ/c Muối-CV) trước ngày 08/02/2022" in t for t in texts), f"{name}: task 3's contact missing")


def check_report(folder):
    import docx

    name = f"{REPORT}.docx"
    doc = docx.Document(str(folder / name))
    paras = all_paragraphs(doc)
    check_common(doc, paras, name, "42/BC-MTTQ-BTT", "Long Khánh, ngày 10 tháng 02 năm 2022")
    runs_are(paragraph(paras, "BÁO CÁO", name), name, "kind title", bold=True, sizes=(13, 14))
    body, total = units(folder)
    tables = [t for t in doc.tables if len(t.rows) > 10]
    if not check(len(tables) == 1, f"{name}: expected one table of figures, found {len(tables)}"):
        return
    rows = [[nfc(c.text) for c in r.cells] for r in tables[0].rows]
    for i, (unit, models, funds) in enumerate(body, start=1):
        want = [str(i), unit, grouped(models), grouped(funds)]
        check(want in rows, f"{name}: no row {want}")
    check(["", total[0], grouped(total[1]), grouped(total[2])] in rows, f"{name}: no totals row {total}")
    check(sum(f for _, _, f in body) == total[2], f"{name}: the totals do not add up")
    check(any(nfc(p.text).startswith("Số liệu gần đúng:") for p in paras), f"{name}: no approximate note")


# ---- XLSX, through openpyxl ------------------------------------------------------------------


def check_sheet(folder):
    import openpyxl

    name = f"{SHEET}.xlsx"
    wb = openpyxl.load_workbook(str(folder / name))
    ws = wb.active
    check(ws.title == "Tổng hợp 305-MTTQ-BTT", f"{name}: sheet named {ws.title!r}")
    check(ws.freeze_panes == "A3", f"{name}: frozen at {ws.freeze_panes!r}, not under the header (A3)")
    header = [c.value for c in ws[2]]
    check(header == ["TT", "Đơn vị", "Số mô hình", "Kinh phí vận động (đồng)"], f"{name}: header {header}")
    body, total = units(folder)
    by_unit = {nfc(str(r[1].value)): r for r in ws.iter_rows(min_row=3) if r[1].value is not None}
    for unit, models, funds in body + [total]:
        r = by_unit.get(unit)
        if not check(r is not None, f"{name}: no row for {unit}"):
            continue
        for cell, want in ((r[2], models), (r[3], funds)):
            check(isinstance(cell.value, (int, float)) and not isinstance(cell.value, bool),
                  f"{name}: {unit} {cell.coordinate} is {type(cell.value).__name__}, not a number")
            check(cell.value == want, f"{name}: {unit} {cell.coordinate} = {cell.value}, expected {want}")
            check(cell.number_format == "#,##0", f"{name}: {cell.coordinate} format {cell.number_format!r}")
            check(cell.font.name == FONT, f"{name}: {cell.coordinate} font {cell.font.name!r}")
    col_sum = sum(by_unit[u][3].value for u, _, _ in body if u in by_unit)
    check(col_sum == total[2], f"{name}: the units add up to {col_sum}, the totals row says {total[2]}")
    check(by_unit.get(total[0]) is not None and by_unit[total[0]][3].font.bold, f"{name}: totals row not bold")
    for letter, at_least in (("B", 17), ("D", 14)):
        w = ws.column_dimensions[letter].width
        check(w is not None and w >= at_least, f"{name}: column {letter} is {w} wide")


# ---- PDF, through poppler -------------------------------------------------------------------


def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def flat(text):
    return re.sub(r"\s+", " ", nfc(text))


def check_pdf(folder, pdfs):
    body, total = units(folder)
    expect = {
        DISPATCH: ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "Số: 305/MTTQ-BTT",
                   "Long Khánh, ngày 24 tháng 01 năm 2022", "Kính gửi: Ban Thường trực UBMTTQVN các xã, phường.",
                   "qua đ/c Muối-CV", "Nơi nhận:", "TM. BAN THƯỜNG TRỰC", "Nguyễn Văn Đức"],
        REPORT: ["Độc lập - Tự do - Hạnh phúc", "BÁO CÁO", "ngày 10 tháng 02 năm 2022", "Kính gửi:",
                 "Phường Xuân Trung", "Xã Bảo Quang", "Phường Suối Tre", "Xã Hàng Gòn", grouped(total[2]),
                 "Số liệu gần đúng"],
        # Under a vi-VN locale the sheet's "#,##0" groups with dots.
        SHEET: ["Phường Xuân An", "Tổng cộng", grouped(body[0][2]), grouped(total[2])],
    }
    for stem, phrases in expect.items():
        pdf = pdfs / f"{stem}.pdf"
        if not check(pdf.exists(), f"{pdf.name}: LibreOffice made no PDF"):
            continue
        text = flat(run("pdftotext", "-enc", "UTF-8", str(pdf), "-"))
        for phrase in phrases:
            check(phrase in text, f"{pdf.name}: {phrase!r} not in the text (diacritics lost?)")
        fonts = run("pdffonts", str(pdf))
        check("LiberationSerif" in fonts or "TimesNewRoman" in fonts,
              f"{pdf.name}: set in neither Times New Roman nor its metric twin:\n{fonts}")
        if stem == SHEET:
            continue
        pages = int(re.search(r"^Pages:\s+(\d+)", run("pdfinfo", str(pdf)), re.M).group(1))
        if not check(pages >= 2, f"{pdf.name}: {pages} page(s); the sample runs to 2"):
            continue
        first = [l.strip() for l in run("pdftotext", "-f", "1", "-l", "1", str(pdf), "-").splitlines() if l.strip()]
        second = [l.strip() for l in run("pdftotext", "-f", "2", "-l", "2", str(pdf), "-").splitlines() if l.strip()]
        check(second[:1] == ["2"], f"{pdf.name}: page 2 starts {second[:1]}, not with its number 2")
        check(first[:1] != ["1"], f"{pdf.name}: page 1 shows a page number")


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("files", "pdf"):
        print(__doc__, file=sys.stderr)
        return 2
    folder = Path(sys.argv[2])
    if sys.argv[1] == "files":
        for step in (check_dispatch, check_report, check_sheet):
            try:
                step(folder)
            except Exception as e:  # a reader that cannot open the file is a failure too
                failures.append(f"{step.__name__}: {type(e).__name__}: {e}")
    else:
        try:
            check_pdf(folder, Path(sys.argv[3]))
        except Exception as e:
            failures.append(f"check_pdf: {type(e).__name__}: {e}")
    for f in failures:
        print(f"FAILED: {f}")
    print(f"export_check {sys.argv[1]}: {'FAILED' if failures else 'ok'} ({len(failures)} failure(s))")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
