//! A [`Table`] as one XLSX sheet: an optional title row, the header row (frozen), one row per
//! table row, the totals row, then the notes.

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook, Worksheet};

use crate::text::{line, lines};
use crate::{Cell, ColumnKind, ExportError, Table};

/// The number format of every [`Cell::Number`]: thousands grouped, no decimals.
///
/// A format code in a file is written in one fixed (en-US) syntax, where "," means "group
/// thousands with the reader's separator", not a literal comma. Excel and LibreOffice draw that
/// separator from the reader's locale: under vi-VN 1250000000 shows as "1.250.000.000", as
/// Vietnamese writes it, and under en-US as "1,250,000,000". A literal dot (`#\.##0`) cannot
/// group beyond one separator, and a format that hard-codes Vietnamese grouping would show
/// "1.250" to an en-US reader, who reads it as one and a quarter. So the cell holds the number
/// and the reader's own locale groups it.
pub const NUMBER_FORMAT: &str = "#,##0";

/// The font of every cell: the decree's, as in the DOCX.
const FONT: &str = "Times New Roman";
const FONT_SIZE: f64 = 12.0;
/// Most characters a cell holds (Excel's limit).
const MAX_CELL_CHARS: usize = 32_767;
/// Column widths in characters: at least a short number, at most what fits a screen before a
/// long name wraps.
const MIN_WIDTH: usize = 6;
/// The largest whole number every f64 (a sheet's number) holds exactly: 2^53.
const EXACT_IN_F64: u64 = 1 << 53;
const MAX_WIDTH: usize = 45;

/// The XLSX of `table`, on a sheet named `sheet_name` (made a valid sheet name: characters
/// Excel refuses, `[ ] : * ? / \`, become "-", at most 31 characters, "Sheet1" if nothing is
/// left).
pub fn xlsx(sheet_name: &str, table: &Table) -> Result<Vec<u8>, ExportError> {
    table.check_with(Table::MAX_SHEET_COLUMNS)?;
    let mut workbook = Workbook::new();
    // A fixed creation time: the same table always gives the same bytes, and no clock is read.
    let epoch = ExcelDateTime::from_ymd(2020, 1, 1)?;
    workbook.set_properties(&DocProperties::new().set_creation_datetime(&epoch));
    let mut sheet = Worksheet::new();
    sheet.set_name(sheet_title(sheet_name))?;
    // Printed on A4 (paper size 9), as wide as one page.
    sheet.set_paper_size(9).set_print_fit_to_pages(1, 0);
    fill(&mut sheet, table)?;
    workbook.push_worksheet(sheet);
    Ok(workbook.save_to_buffer()?)
}

fn sheet_title(name: &str) -> String {
    let cleaned: String = line(name)
        .chars()
        .map(|c| if matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\') { '-' } else { c })
        .collect();
    let cut: String = cleaned.chars().take(31).collect();
    let cut = cut.trim_matches(|c: char| c == '\'' || c.is_whitespace()).to_string();
    // "History" is reserved by Excel.
    if cut.is_empty() || cut.eq_ignore_ascii_case("history") { "Sheet1".to_string() } else { cut }
}

struct Formats {
    title: Format,
    heading: Format,
    text: [Format; 2],
    centred: [Format; 2],
    number: [Format; 2],
    note: Format,
}

impl Formats {
    fn new() -> Self {
        let base = Format::new().set_font_name(FONT).set_font_size(FONT_SIZE);
        let cell = base.clone().set_border(FormatBorder::Thin);
        let text = cell.clone().set_text_wrap();
        let number = cell.clone().set_num_format(NUMBER_FORMAT).set_align(FormatAlign::Right);
        Formats {
            title: base.clone().set_bold().set_font_size(14.0).set_align(FormatAlign::Center),
            heading: cell
                .clone()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter),
            centred: [
                text.clone().set_align(FormatAlign::Center),
                text.clone().set_align(FormatAlign::Center).set_bold(),
            ],
            text: [text.clone(), text.set_bold()],
            number: [number.clone(), number.set_bold()],
            note: base.set_italic(),
        }
    }
}

fn fill(sheet: &mut Worksheet, table: &Table) -> Result<(), ExportError> {
    let f = Formats::new();
    let last_col = (table.columns.len() - 1) as u16;
    let mut row: u32 = 0;
    if let Some(title) = &table.title {
        let title = lines(title).join(" ");
        checked_len(&title, row, 0)?;
        if last_col == 0 {
            sheet.write_string_with_format(row, 0, &title, &f.title)?;
        } else {
            sheet.merge_range(row, 0, row, last_col, &title, &f.title)?;
        }
        row += 1;
    }
    for (c, col) in table.columns.iter().enumerate() {
        let heading = line(&col.heading);
        checked_len(&heading, row, c)?;
        sheet.write_string_with_format(row, c as u16, &heading, &f.heading)?;
    }
    // The header stays in view while the rows scroll, and is printed atop every page.
    sheet.set_freeze_panes(row + 1, 0)?;
    sheet.set_repeat_rows(row, row)?;
    // A heading too long for its column wraps; a sheet does not grow the row by itself.
    let longest = table.columns.iter().map(|c| line(&c.heading).chars().count()).max().unwrap_or(0);
    let heading_lines = longest.div_ceil(MAX_WIDTH - 2).max(1);
    if heading_lines > 1 {
        sheet.set_row_height(row, 16 * heading_lines as u32)?;
    }
    row += 1;

    let body = table.rows.iter().map(|r| (r, 0));
    for (cells, strong) in body.chain(table.totals.iter().map(|r| (r, 1))) {
        for (c, (cell, col)) in cells.iter().zip(&table.columns).enumerate() {
            let c16 = c as u16;
            match cell {
                // An f64 holds every whole number up to 2^53 (9 million billion đồng) exactly;
                // one past that is written as its digits, grouped, rather than changed.
                Cell::Number(n) if n.unsigned_abs() > EXACT_IN_F64 => {
                    sheet.write_string(row, c16, giaoban_vietnamese_text::format_number(*n))?;
                }
                Cell::Number(n) => {
                    sheet.write_number_with_format(row, c16, *n as f64, &f.number[strong])?;
                }
                Cell::Text(t) => {
                    let t = line(t);
                    checked_len(&t, row, c)?;
                    let row_number = !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
                    let format = match col.kind {
                        // A row number ("1", "12") is centred, as in the "TT" column of such tables.
                        ColumnKind::Text if row_number => &f.centred[strong],
                        ColumnKind::Text => &f.text[strong],
                        _ => &f.number[strong],
                    };
                    sheet.write_string_with_format(row, c16, &t, format)?;
                }
                Cell::Empty => {
                    let format =
                        if col.kind == ColumnKind::Text { &f.text[strong] } else { &f.number[strong] };
                    sheet.write_blank(row, c16, format)?;
                }
            }
        }
        row += 1;
    }

    if !table.notes.is_empty() {
        row += 1;
        for note in &table.notes {
            for l in lines(note) {
                checked_len(&l, row, 0)?;
                sheet.write_string_with_format(row, 0, &l, &f.note)?;
                row += 1;
            }
        }
    }

    for (c, width) in column_widths(table).into_iter().enumerate() {
        sheet.set_column_width(c as u16, width as f64)?;
    }
    Ok(())
}

fn checked_len(s: &str, row: u32, column: usize) -> Result<(), ExportError> {
    let chars = s.chars().count();
    if chars > MAX_CELL_CHARS {
        return Err(ExportError::CellTooLong {
            row: row as usize + 1,
            column: column + 1,
            chars,
            max: MAX_CELL_CHARS,
        });
    }
    Ok(())
}

/// Each column as wide as its longest cell or its heading (thousands separators counted),
/// within [`MIN_WIDTH`, `MAX_WIDTH`]; text longer than that wraps.
fn column_widths(table: &Table) -> Vec<usize> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, col)| {
            let heading = line(&col.heading).chars().count();
            let cells = table
                .rows
                .iter()
                .chain(table.totals.iter())
                .filter_map(|r| r.get(i))
                .map(|c| match c {
                    Cell::Text(t) => line(t).chars().count(),
                    Cell::Number(n) => giaoban_vietnamese_text::format_number(*n).len(),
                    Cell::Empty => 0,
                })
                .max()
                .unwrap_or(0);
            (heading.max(cells) + 2).clamp(MIN_WIDTH, MAX_WIDTH)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_are_made_valid() {
        assert_eq!(sheet_title("Tổng hợp 305/MTTQ-BTT"), "Tổng hợp 305-MTTQ-BTT");
        assert_eq!(sheet_title("  "), "Sheet1");
        assert_eq!(sheet_title("History"), "Sheet1");
        assert_eq!(sheet_title(&"Quỹ Vì người nghèo ".repeat(3)).chars().count(), 31);
        assert_eq!(sheet_title("'[Quý IV]'"), "-Quý IV-");
    }
}
