//! The report's table as XLSX, read back with calamine: every unit row, the totals, numbers as
//! numeric cells with the grouping format, the frozen header.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixtures;

use std::io::{Cursor, Read};

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use giaoban_export::{Cell, ExportError, NUMBER_FORMAT, xlsx};

const SHEET: &str = "Tổng hợp 305-MTTQ-BTT";

fn workbook(bytes: &[u8]) -> Xlsx<Cursor<Vec<u8>>> {
    open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("calamine opens it")
}

#[test]
fn every_unit_and_the_totals_are_numeric_cells() {
    let bytes = xlsx("Tổng hợp 305/MTTQ-BTT", &fixtures::units_table()).unwrap();
    let mut wb = workbook(&bytes);
    assert_eq!(wb.sheet_names(), [SHEET]);
    let range = wb.worksheet_range(SHEET).unwrap();
    let rows: Vec<&[Data]> = range.rows().collect();

    // Title, then the header.
    assert_eq!(rows[0][0], Data::String("Bảng tổng hợp mô hình và kinh phí vận động theo đơn vị".into()));
    let heading: Vec<String> = rows[1].iter().map(|d| d.to_string()).collect();
    assert_eq!(heading, ["TT", "Đơn vị", "Số mô hình", "Kinh phí vận động (đồng)"]);

    for (i, (unit, models, funds)) in fixtures::UNITS.iter().enumerate() {
        let row = rows[2 + i];
        assert_eq!(row[0], Data::String((i + 1).to_string()));
        assert_eq!(row[1], Data::String(unit.to_string()));
        assert_eq!(row[2], Data::Float(*models as f64), "{unit}: models as a number");
        assert_eq!(row[3], Data::Float(*funds as f64), "{unit}: funds as a number");
    }
    let totals = rows[2 + fixtures::UNITS.len()];
    assert_eq!(totals[1], Data::String("Tổng cộng".into()));
    let sum = |col: usize| -> f64 {
        rows[2..2 + fixtures::UNITS.len()]
            .iter()
            .map(|r| if let Data::Float(v) = r[col] { v } else { panic!() })
            .sum()
    };
    assert_eq!(totals[2], Data::Float(sum(2)));
    assert_eq!(totals[3], Data::Float(sum(3)));
    assert_eq!(totals[3], Data::Float(15_956_850_000.0));
    // The note, after a blank row.
    assert!(rows.iter().any(|r| r[0] == Data::String(fixtures::APPROXIMATE_NOTE.into())));

    // No figure went in as text, and every figure carries the grouping format.
    let styles = wb.worksheet_style(SHEET).unwrap();
    let mut numbers = 0;
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate().skip(2) {
            if r < 2 || r > 2 + fixtures::UNITS.len() {
                continue;
            }
            assert!(matches!(cell, Data::Float(_)), "row {r} col {c}: {cell:?} is not a number");
            let style = styles.get((r as u32, c as u32)).expect("a style");
            let format = style.number_format.as_ref().expect("a number format");
            assert_eq!(format.format_code, NUMBER_FORMAT);
            numbers += 1;
        }
    }
    assert_eq!(numbers, 2 * (fixtures::UNITS.len() + 1));
}

#[test]
fn the_header_row_is_frozen_and_columns_fit() {
    let bytes = xlsx("Tổng hợp 305/MTTQ-BTT", &fixtures::units_table()).unwrap();
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut xml = String::new();
    zip.by_name("xl/worksheets/sheet1.xml").unwrap().read_to_string(&mut xml).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let pane = doc.descendants().find(|n| n.has_tag_name("pane")).expect("a pane");
    assert_eq!(pane.attribute("state"), Some("frozen"));
    assert_eq!(pane.attribute("ySplit"), Some("2"), "title and header stay in view");
    let widths: Vec<f64> = doc
        .descendants()
        .filter(|n| n.has_tag_name("col"))
        .map(|c| c.attribute("width").unwrap().parse().unwrap())
        .collect();
    assert_eq!(widths.len(), 4);
    // "Phường Xuân Thanh" and "15.956.850.000" fit; "TT" does not take a wide column.
    assert!(widths[1] >= 17.0 && widths[3] >= 14.0 && widths[0] < widths[1], "{widths:?}");
}

#[test]
fn the_same_table_gives_the_same_bytes() {
    let a = xlsx("Tổng hợp", &fixtures::units_table()).unwrap();
    let b = xlsx("Tổng hợp", &fixtures::units_table()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn a_table_that_cannot_be_printed_is_refused() {
    let mut t = fixtures::units_table();
    t.rows[0].push(Cell::Empty);
    let err = xlsx("x", &t).unwrap_err();
    assert!(matches!(err, ExportError::RowWidth { row: 1, cells: 5, columns: 4 }), "{err:?}");

    let mut t = fixtures::units_table();
    t.rows[2][1] = Cell::Text("x".repeat(40_000));
    let err = xlsx("x", &t).unwrap_err();
    assert!(matches!(err, ExportError::CellTooLong { row: 5, column: 2, chars: 40_000, .. }), "{err:?}");
}

#[test]
fn a_name_excel_refuses_is_made_valid() {
    let bytes = xlsx("Quý IV/2020: [tổng hợp]*?", &fixtures::units_table()).unwrap();
    assert_eq!(workbook(&bytes).sheet_names(), ["Quý IV-2020- -tổng hợp---"]);
}
