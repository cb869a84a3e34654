//! A [`Letter`] as a DOCX laid out per Decree 30/2020/NĐ-CP, Appendix I (Phụ lục I), Part I:
//! "Thể thức và kỹ thuật trình bày văn bản hành chính".
//!
//! Sizes are in half-points (docx-rs's unit for `w:sz`), lengths in twentieths of a point
//! (twips; 1 mm ≈ 56.7 twips). Each constant says which item of the appendix it follows.
//! Where the decree gives a range the value is picked inside it, leaning to what fits the
//! columns of an A4 page.

use docx_rs::{
    AlignmentType, Docx, FieldCharType, Header, InstrPAGE, InstrText, LineSpacing, LineSpacingType,
    PageMargin, Paragraph, ParagraphBorder, ParagraphBorderPosition, ParagraphBorders, Run, RunFonts,
    SpecialIndentType, Tab, TabValueType, Table as DocxTable, TableCell, TableCellMargins, TableLayoutType,
    TableRow, VAlignType, WidthType,
};
use giaoban_vietnamese_text::format_number;

use crate::text::{line, lines, printed_date};
use crate::{Block, Cell, ColumnKind, ExportError, Letter, Table};

/// I.4: "Phông chữ tiếng Việt Times New Roman", in every font slot so that no script falls
/// back to a theme font.
const FONT: &str = "Times New Roman";

// I.1 "Khổ giấy: Khổ A4 (210 mm x 297 mm)", portrait (I.2).
const PAGE_WIDTH: u32 = 11_906;
const PAGE_HEIGHT: u32 = 16_838;
// I.3 "Cách mép trên và mép dưới 20 - 25 mm, cách mép trái 30 - 35 mm, cách mép phải 15 - 20 mm":
// 20 / 20 / 30 / 15 mm, the widest text area the decree allows.
const MARGIN_TOP: i32 = 1_134;
const MARGIN_BOTTOM: i32 = 1_134;
const MARGIN_LEFT: i32 = 1_701;
const MARGIN_RIGHT: i32 = 850;
/// Where the page number sits: inside the top margin (I.7), 10 mm from the edge.
const HEADER_DISTANCE: i32 = 567;
const TEXT_WIDTH: usize = (PAGE_WIDTH as i32 - MARGIN_LEFT - MARGIN_RIGHT) as usize;

/// The header's left column (issuing body, number, "V/v"); the right one takes the rest
/// (Quốc hiệu, Tiêu ngữ, place and date: the widest lines, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM").
const HEADER_LEFT: usize = 3_742;
const HEADER_RIGHT: usize = TEXT_WIDTH - HEADER_LEFT;
/// The closing block's left column ("Nơi nhận"); the signer takes the rest.
const CLOSING_LEFT: usize = 4_400;
const CLOSING_RIGHT: usize = TEXT_WIDTH - CLOSING_LEFT;

/// Half-point sizes of each element.
mod size {
    /// II.1a Quốc hiệu: "cỡ chữ từ 12 đến 13 … đứng, đậm".
    pub const QUOC_HIEU: usize = 24;
    /// II.1b Tiêu ngữ: "cỡ chữ từ 13 đến 14 … đứng, đậm".
    pub const TIEU_NGU: usize = 26;
    /// II.2 Tên cơ quan chủ quản và cơ quan ban hành: "chữ in hoa, cỡ chữ từ 12 đến 13".
    pub const BODY_NAME: usize = 24;
    /// II.3 Số, ký hiệu: "cỡ chữ 13, kiểu chữ đứng".
    pub const NUMBER: usize = 26;
    /// II.4 Địa danh và thời gian: "cỡ chữ từ 13 đến 14, kiểu chữ nghiêng".
    pub const DATE: usize = 26;
    /// II.5a Tên loại: "chữ in hoa, cỡ chữ từ 13 đến 14, kiểu chữ đứng, đậm"; the subject
    /// under it: "chữ in thường, cỡ chữ từ 13 đến 14, kiểu chữ đứng, đậm".
    pub const KIND_TITLE: usize = 28;
    /// II.5b Trích yếu of a công văn after "V/v": "cỡ chữ từ 12 đến 13, kiểu chữ đứng".
    pub const VV: usize = 24;
    /// II.6 Nội dung: "cỡ chữ từ 13 đến 14".
    pub const BODY: usize = 28;
    /// II.9 "Kính gửi" and the recipients of a công văn: "cỡ chữ 14, kiểu chữ đứng".
    pub const KINH_GUI: usize = 28;
    /// Tables inside the text: the decree sets no size; one below the body keeps a table of
    /// ten units with amounts in billions on one line per unit.
    pub const TABLE: usize = 24;
    /// II.7 Quyền hạn, chức vụ, họ tên của người ký: "cỡ chữ từ 13 đến 14 … đứng, đậm".
    pub const SIGNER: usize = 28;
    /// II.9 "Nơi nhận": "cỡ chữ 12, kiểu chữ nghiêng, đậm"; its lines "cỡ chữ 11, kiểu chữ đứng".
    pub const NOI_NHAN: usize = 24;
    pub const NOI_NHAN_LINE: usize = 22;
    /// I.7 Số trang: "cỡ chữ 13 đến 14, kiểu chữ đứng, … canh giữa … trong phần lề trên".
    pub const PAGE_NUMBER: usize = 26;
}

/// II.6: "khi xuống dòng, chữ đầu dòng phải lùi vào từ 1 cm đến 1,27 cm": 1 cm.
const FIRST_LINE_INDENT: i32 = 567;
/// II.6: "Khoảng cách giữa các đoạn văn tối thiểu là 6pt" (120 twips after each paragraph);
/// "khoảng cách giữa các dòng tối thiểu là dòng đơn, tối đa là 1,5 lines": 1.15 lines.
const PARAGRAPH_AFTER: u32 = 120;
const BODY_LINE: i32 = 276;

/// The lines the decree draws. II.1b: under the Tiêu ngữ "đường kẻ ngang, nét liền, có độ dài
/// bằng độ dài của dòng chữ"; II.2 and II.5a: under the issuer and a named kind's subject
/// "đường kẻ ngang, nét liền, có độ dài bằng từ 1/3 đến 1/2 độ dài của dòng chữ".
/// They are bottom borders of an empty paragraph indented to the line's length: LibreOffice
/// and Word both draw those, and neither loses them when the text around changes.
const RULE_WEIGHT: usize = 6; // eighths of a point: ¾ pt
/// How long "Độc lập - Tự do - Hạnh phúc" is at 13 pt bold: 159.1 pt as LibreOffice sets it in
/// Liberation Serif Bold, which has Times New Roman's advance widths (pdftotext -bbox).
const TIEU_NGU_WIDTH: usize = 3_182;

/// The DOCX of `letter`.
pub fn docx(letter: &Letter) -> Result<Vec<u8>, ExportError> {
    for block in &letter.body {
        if let Block::Table(t) = block {
            t.check()?;
        }
    }
    let mut doc = Docx::new()
        .page_size(PAGE_WIDTH, PAGE_HEIGHT)
        .page_margin(
            PageMargin::new()
                .top(MARGIN_TOP)
                .bottom(MARGIN_BOTTOM)
                .left(MARGIN_LEFT)
                .right(MARGIN_RIGHT)
                .header(HEADER_DISTANCE)
                .footer(HEADER_DISTANCE),
        )
        .default_fonts(fonts())
        .default_size(size::BODY)
        // The file's dates are the letter's, so the same letter always gives the same bytes.
        .created_at(&format!("{}T00:00:00Z", letter.date))
        .updated_at(&format!("{}T00:00:00Z", letter.date))
        // I.7: "không hiển thị số trang thứ nhất": page numbers in the default header, an
        // empty one for the first page (which sets w:titlePg).
        .header(Header::new().add_paragraph(page_number()))
        .first_header(Header::new().add_paragraph(Paragraph::new()));

    doc = doc.add_table(header_table(letter));
    if let Some(kind) = &letter.kind_title {
        doc = kind_title(doc, kind, &letter.subject);
    }
    doc = recipients(doc, &letter.recipients);
    for block in &letter.body {
        doc = match block {
            Block::Heading(text) => lines(text)
                .into_iter()
                .fold(doc, |d, l| d.add_paragraph(body_paragraph().add_run(run(&l, size::BODY).bold()))),
            Block::Paragraph(text) => lines(text)
                .into_iter()
                .fold(doc, |d, l| d.add_paragraph(body_paragraph().add_run(run(&l, size::BODY)))),
            Block::Numbered { number, text } => {
                let number = line(number);
                let number = if number.ends_with(['.', ')', ':']) { number } else { format!("{number}.") };
                let text = line(text);
                let words = if number == "." { text } else { format!("{number} {text}") };
                doc.add_paragraph(body_paragraph().add_run(run(&words, size::BODY)))
            }
            Block::Table(table) => figures(doc, table),
        };
    }
    doc = doc.add_paragraph(Paragraph::new().size(size::BODY));
    doc = doc.add_table(closing_table(letter));

    let mut out = std::io::Cursor::new(Vec::new());
    doc.build().pack(&mut out).map_err(|e| ExportError::Docx(e.to_string()))?;
    crate::package::deflated(out.into_inner())
}

fn fonts() -> RunFonts {
    RunFonts::new().ascii(FONT).hi_ansi(FONT).east_asia(FONT).cs(FONT)
}

/// A run of `text` at `half_points`, in the decree's font.
fn run(text: &str, half_points: usize) -> Run {
    Run::new().add_text(text).size(half_points).fonts(fonts())
}

fn spacing(before: u32, after: u32) -> LineSpacing {
    LineSpacing::new().before(before).after(after).line(240).line_rule(LineSpacingType::Auto)
}

/// How a run is set.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Face {
    Regular,
    Bold,
    Italic,
}

/// A centred, single-spaced line `before` twips below what precedes it.
fn centred(text: &str, half_points: usize, face: Face, before: u32) -> Paragraph {
    let r = run(text, half_points);
    let r = match face {
        Face::Regular => r,
        Face::Bold => r.bold(),
        Face::Italic => r.italic(),
    };
    Paragraph::new()
        .align(AlignmentType::Center)
        .line_spacing(spacing(before, 0))
        .size(half_points)
        .add_run(r)
}

/// Body text: justified, first line indented, 6 pt after.
fn body_paragraph() -> Paragraph {
    Paragraph::new()
        .align(AlignmentType::Both)
        .indent(None, Some(SpecialIndentType::FirstLine(FIRST_LINE_INDENT)), None, None)
        .line_spacing(
            LineSpacing::new()
                .before(0)
                .after(PARAGRAPH_AFTER)
                .line(BODY_LINE)
                .line_rule(LineSpacingType::Auto),
        )
        .size(size::BODY)
}

/// A horizontal rule `length` twips long, centred in a column `column` twips wide, `gap`
/// twips under the text above it.
fn rule(length: usize, column: usize, gap: u32) -> Paragraph {
    let length = length.min(column);
    let side = ((column - length) / 2) as i32;
    let mut p = Paragraph::new()
        .indent(Some(side), None, Some(side), None)
        // A paragraph 1 pt high whose bottom border is the line.
        .line_spacing(LineSpacing::new().before(gap).after(0).line(20).line_rule(LineSpacingType::Exact))
        .size(2);
    p.property = p.property.set_borders(
        ParagraphBorders::with_empty()
            .set(ParagraphBorder::new(ParagraphBorderPosition::Bottom).size(RULE_WEIGHT).space(2)),
    );
    p
}

/// Roughly how wide `text` prints at `half_points`, in twips: Times New Roman's advance widths
/// averaged per kind of character (capitals ~0.7 em, small letters ~0.47 em, spaces 0.25 em),
/// marks ignored. Enough to size a rule "1/3 to 1/2" of a line, not to lay text out.
fn estimated_width(text: &str, half_points: usize, bold: bool) -> usize {
    let per_mille: usize = text
        .chars()
        .map(|c| match c {
            ' ' => 250,
            'I' | 'J' => 420,
            'M' | 'W' => 900,
            c if c.is_uppercase() => 700,
            'i' | 'j' | 'l' | 't' | 'f' | 'r' => 310,
            'm' | 'w' => 740,
            c if c.is_lowercase() => 480,
            c if c.is_ascii_digit() => 500,
            '\u{0300}'..='\u{036F}' => 0,
            _ => 330,
        })
        .sum();
    let per_mille = if bold { per_mille * 106 / 100 } else { per_mille };
    // half-points → points (/2), em fraction (/1000), points → twips (×20).
    per_mille * half_points * 20 / 2 / 1000
}

/// The two-column header (II.1–II.5, position per IV): row one holds the parent body over the
/// issuer (left) and the Quốc hiệu over the Tiêu ngữ (right); row two the number and "V/v"
/// (left) and the place and date (right), so that the number and the date share a line.
fn header_table(letter: &Letter) -> DocxTable {
    let mut left = TableCell::new().width(HEADER_LEFT, WidthType::Dxa).vertical_align(VAlignType::Top);
    for l in lines(&letter.parent_body) {
        left = left.add_paragraph(centred(&l, size::BODY_NAME, Face::Regular, 0));
    }
    let issuer = lines(&letter.issuer);
    for l in &issuer {
        left = left.add_paragraph(centred(l, size::BODY_NAME, Face::Bold, 0));
    }
    if let Some(longest) = issuer.iter().map(|l| estimated_width(l, size::BODY_NAME, true)).max() {
        // 1/3 to 1/2 of the line: 40 %, at least 15 mm.
        left = left.add_paragraph(rule((longest * 2 / 5).max(850), HEADER_LEFT, 20));
    }

    let right = TableCell::new()
        .width(HEADER_RIGHT, WidthType::Dxa)
        .vertical_align(VAlignType::Top)
        .add_paragraph(centred("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", size::QUOC_HIEU, Face::Bold, 0))
        .add_paragraph(centred("Độc lập - Tự do - Hạnh phúc", size::TIEU_NGU, Face::Bold, 0))
        .add_paragraph(rule(TIEU_NGU_WIDTH, HEADER_RIGHT, 20));

    let number = format!("Số: {}", line(&letter.number));
    let mut below_left = TableCell::new().width(HEADER_LEFT, WidthType::Dxa).add_paragraph(centred(
        &number,
        size::NUMBER,
        Face::Regular,
        160,
    ));
    if letter.kind_title.is_none() {
        let subject = line(&letter.subject);
        if !subject.is_empty() {
            let subject = if subject.starts_with("V/v") { subject } else { format!("V/v {subject}") };
            below_left = below_left.add_paragraph(centred(&subject, size::VV, Face::Regular, 40));
        }
    }
    let date = printed_date(&letter.place, letter.date);
    let below_right = TableCell::new().width(HEADER_RIGHT, WidthType::Dxa).add_paragraph(centred(
        &date,
        size::DATE,
        Face::Italic,
        160,
    ));

    borderless(
        vec![TableRow::new(vec![left, right]), TableRow::new(vec![below_left, below_right])],
        vec![HEADER_LEFT, HEADER_RIGHT],
    )
}

/// A table without lines, cells with a hair of margin, columns as given.
fn borderless(rows: Vec<TableRow>, grid: Vec<usize>) -> DocxTable {
    DocxTable::without_borders(rows)
        .set_grid(grid)
        .width(TEXT_WIDTH, WidthType::Dxa)
        .layout(TableLayoutType::Fixed)
        .margins(TableCellMargins::new().margin(0, 28, 0, 28))
}

/// II.5a: a named kind's title, centred and bold, its subject bold under it, and a rule.
fn kind_title(mut doc: Docx, kind: &str, subject: &str) -> Docx {
    doc = doc.add_paragraph(centred(&line(kind), size::KIND_TITLE, Face::Bold, 360));
    let subject = lines(subject);
    for l in &subject {
        doc = doc.add_paragraph(centred(l, size::KIND_TITLE, Face::Bold, 0));
    }
    if let Some(longest) = subject.iter().map(|l| estimated_width(l, size::KIND_TITLE, true)).max() {
        doc = doc.add_paragraph(rule((longest * 2 / 5).clamp(850, TEXT_WIDTH / 3), TEXT_WIDTH, 80));
    }
    doc.add_paragraph(Paragraph::new().line_spacing(spacing(0, 0)).size(size::BODY))
}

/// "Kính gửi:": one recipient on the same line, centred; several as "- " lines aligned under
/// the first, which follows "Kính gửi:".
fn recipients(mut doc: Docx, recipients: &[String]) -> Docx {
    let names: Vec<String> = recipients.iter().map(|r| line(r)).filter(|r| !r.is_empty()).collect();
    let before = spacing(240, 240);
    match names.as_slice() {
        [] => doc,
        [one] => doc.add_paragraph(
            centred(&format!("Kính gửi: {one}"), size::KINH_GUI, Face::Regular, 0).line_spacing(before),
        ),
        many => {
            // "Kính gửi:" starts 4 cm in; the names start where it ends (+2.6 cm), hanging.
            const START: i32 = 2_268;
            const NAMES: i32 = START + 1_474;
            for (i, name) in many.iter().enumerate() {
                let dash = if name.starts_with('-') { name.clone() } else { format!("- {name}") };
                let p = Paragraph::new().size(size::KINH_GUI).line_spacing(spacing(
                    if i == 0 { 240 } else { 0 },
                    if i + 1 == many.len() { 240 } else { 0 },
                ));
                let p = if i == 0 {
                    p.indent(Some(NAMES), Some(SpecialIndentType::Hanging(NAMES - START)), None, None)
                        .add_tab(Tab::new().val(TabValueType::Left).pos(NAMES as usize))
                        .add_run(run("Kính gửi:", size::KINH_GUI).add_tab())
                        .add_run(run(&dash, size::KINH_GUI))
                } else {
                    p.indent(Some(NAMES), None, None, None).add_run(run(&dash, size::KINH_GUI))
                };
                doc = doc.add_paragraph(p);
            }
            doc
        }
    }
}

/// A table of figures inside the text: its title, the table with lines, and its notes.
fn figures(mut doc: Docx, table: &Table) -> Docx {
    if let Some(title) = &table.title {
        for l in lines(title) {
            doc = doc.add_paragraph(centred(&l, size::BODY, Face::Bold, 0).line_spacing(spacing(120, 120)));
        }
    }
    let grid = column_widths(table);
    let cell = |c: &Cell, kind: ColumnKind, width: usize, strong: bool| {
        let (words, align) = match c {
            // A row number ("1", "12") is centred, as in the "TT" column of every such table.
            Cell::Text(t)
                if kind == ColumnKind::Text && !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) =>
            {
                (line(t), AlignmentType::Center)
            }
            Cell::Text(t) => {
                (line(t), if kind == ColumnKind::Text { AlignmentType::Left } else { AlignmentType::Right })
            }
            Cell::Number(n) => (format_number(*n), AlignmentType::Right),
            Cell::Empty => (String::new(), AlignmentType::Left),
        };
        let r = run(&words, size::TABLE);
        let p = Paragraph::new().align(align).line_spacing(spacing(40, 40)).size(size::TABLE);
        TableCell::new()
            .width(width, WidthType::Dxa)
            .vertical_align(VAlignType::Center)
            .add_paragraph(p.add_run(if strong { r.bold() } else { r }))
    };
    let mut rows = vec![
        TableRow::new(
            table
                .columns
                .iter()
                .zip(&grid)
                .map(|(col, w)| {
                    let p = Paragraph::new()
                        .align(AlignmentType::Center)
                        .line_spacing(spacing(40, 40))
                        .size(size::TABLE);
                    TableCell::new()
                        .width(*w, WidthType::Dxa)
                        .vertical_align(VAlignType::Center)
                        .add_paragraph(p.add_run(run(&line(&col.heading), size::TABLE).bold()))
                })
                .collect(),
        )
        .cant_split(),
    ];
    let body = table.rows.iter().map(|r| (r, false));
    for (row, strong) in body.chain(table.totals.iter().map(|r| (r, true))) {
        let cells = row
            .iter()
            .zip(&table.columns)
            .zip(&grid)
            .map(|((c, col), w)| cell(c, col.kind, *w, strong))
            .collect();
        rows.push(TableRow::new(cells).cant_split());
    }
    doc = doc.add_table(
        DocxTable::new(rows)
            .set_grid(grid)
            .width(TEXT_WIDTH, WidthType::Dxa)
            .layout(TableLayoutType::Fixed)
            .margins(TableCellMargins::new().margin(0, 85, 0, 85)),
    );
    for note in &table.notes {
        for l in lines(note) {
            let p = Paragraph::new()
                .align(AlignmentType::Both)
                .line_spacing(spacing(60, 0))
                .size(size::TABLE)
                .add_run(run(&l, size::TABLE).italic());
            doc = doc.add_paragraph(p);
        }
    }
    doc.add_paragraph(Paragraph::new().line_spacing(spacing(0, 0)).size(size::BODY))
}

/// Column widths filling the text width, each in proportion to what it must show: its longest
/// word of heading (so no word is broken) or its longest cell, capped so a long name wraps
/// instead of squeezing the figures.
fn column_widths(table: &Table) -> Vec<usize> {
    let wants: Vec<usize> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, col)| {
            let heading = line(&col.heading);
            let word = heading.split(' ').map(|w| w.chars().count()).max().unwrap_or(0);
            let cells = table
                .rows
                .iter()
                .chain(table.totals.iter())
                .filter_map(|r| r.get(i))
                .map(|c| match c {
                    Cell::Text(t) => line(t).chars().count().min(28),
                    Cell::Number(n) => format_number(*n).len(),
                    Cell::Empty => 0,
                })
                .max()
                .unwrap_or(0);
            word.max(cells).max(2) + 2
        })
        .collect();
    let total: usize = wants.iter().sum();
    let mut widths: Vec<usize> = wants.iter().map(|w| w * TEXT_WIDTH / total.max(1)).collect();
    // What rounding left goes to the first text column (usually the unit's name).
    let used: usize = widths.iter().sum();
    let widest = table.columns.iter().position(|c| c.kind == ColumnKind::Text).unwrap_or(0);
    if let Some(w) = widths.get_mut(widest) {
        *w += TEXT_WIDTH.saturating_sub(used);
    }
    widths
}

/// The closing block (II.7 and II.9, position per IV): "Nơi nhận" on the left, the signer on
/// the right, in one row that does not split across pages.
fn closing_table(letter: &Letter) -> DocxTable {
    let mut left = TableCell::new().width(CLOSING_LEFT, WidthType::Dxa).vertical_align(VAlignType::Top);
    let heading = run("Nơi nhận:", size::NOI_NHAN).bold().italic();
    left = left
        .add_paragraph(Paragraph::new().line_spacing(spacing(0, 0)).size(size::NOI_NHAN).add_run(heading));
    let mut copies: Vec<String> =
        letter.copies_to.iter().map(|c| line(c)).filter(|c| !c.is_empty()).collect();
    let dashless = |c: &str| c.trim_start_matches(['-', '–', ' ']).to_string();
    if !copies.iter().any(|c| dashless(c).starts_with("Lưu")) {
        copies.push("Lưu: VT.".to_string());
    }
    for c in copies {
        let p = Paragraph::new()
            .line_spacing(spacing(0, 0))
            .size(size::NOI_NHAN_LINE)
            .add_run(run(&format!("- {}", dashless(&c)), size::NOI_NHAN_LINE));
        left = left.add_paragraph(p);
    }

    let signer = &letter.signer;
    let mut right = TableCell::new().width(CLOSING_RIGHT, WidthType::Dxa).vertical_align(VAlignType::Top);
    for l in lines(&signer.authority).iter().chain(lines(&signer.position).iter()) {
        right = right.add_paragraph(centred(l, size::SIGNER, Face::Bold, 0));
    }
    // Room for the signature and the seal (II.8), about 3 cm.
    for _ in 0..5 {
        right = right.add_paragraph(Paragraph::new().line_spacing(spacing(0, 0)).size(size::SIGNER));
    }
    for l in lines(&signer.name) {
        right = right.add_paragraph(centred(&l, size::SIGNER, Face::Bold, 0));
    }
    borderless(vec![TableRow::new(vec![left, right]).cant_split()], vec![CLOSING_LEFT, CLOSING_RIGHT])
}

/// The page number: a PAGE field centred in the header (I.7).
fn page_number() -> Paragraph {
    Paragraph::new().align(AlignmentType::Center).size(size::PAGE_NUMBER).add_run(
        Run::new()
            .fonts(fonts())
            .size(size::PAGE_NUMBER)
            .add_field_char(FieldCharType::Begin, false)
            .add_instr_text(InstrText::PAGE(InstrPAGE::new()))
            .add_field_char(FieldCharType::Separate, false)
            .add_text("1")
            .add_field_char(FieldCharType::End, false),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_fill_the_text_area() {
        let table = Table {
            title: None,
            columns: vec![
                crate::Column { heading: "TT".into(), kind: ColumnKind::Text },
                crate::Column { heading: "Đơn vị".into(), kind: ColumnKind::Text },
                crate::Column { heading: "Số tiền (đồng)".into(), kind: ColumnKind::Vnd },
            ],
            rows: vec![vec![
                Cell::Text("1".into()),
                Cell::Text("Phường Xuân Trung".into()),
                Cell::Number(1_250_000_000),
            ]],
            totals: None,
            notes: vec![],
        };
        let w = column_widths(&table);
        assert_eq!(w.iter().sum::<usize>(), TEXT_WIDTH);
        assert!(w[0] < w[2] && w[2] < w[1], "{w:?}");
    }

    #[test]
    fn the_text_area_is_what_the_margins_leave() {
        assert_eq!(TEXT_WIDTH, 9_355);
        assert!(estimated_width("BAN THƯỜNG TRỰC", size::BODY_NAME, true) > 1_500);
    }
}
