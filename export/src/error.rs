//! What can go wrong when printing.

/// A document or sheet that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A table without columns.
    #[error("the table has no columns")]
    NoColumns,
    /// More columns than a DOCX table can hold.
    #[error("the table has {columns} columns; at most {max} can be printed")]
    TooManyColumns {
        /// How many it has.
        columns: usize,
        /// The limit.
        max: usize,
    },
    /// More rows than a sheet can hold.
    #[error("the table has {rows} rows; at most {max} can be printed")]
    TooManyRows {
        /// How many it has.
        rows: usize,
        /// The limit.
        max: usize,
    },
    /// A row whose cells do not match the columns.
    #[error("row {row} has {cells} cells but the table has {columns} columns")]
    RowWidth {
        /// The row, counted from 1.
        row: usize,
        /// How many cells it has.
        cells: usize,
        /// How many columns the table has.
        columns: usize,
    },
    /// A totals row whose cells do not match the columns.
    #[error("the totals row has {cells} cells but the table has {columns} columns")]
    TotalsWidth {
        /// How many cells it has.
        cells: usize,
        /// How many columns the table has.
        columns: usize,
    },
    /// A cell longer than a sheet cell holds (32,767 characters).
    #[error("a cell in row {row}, column {column} has {chars} characters; a sheet cell holds at most {max}")]
    CellTooLong {
        /// The sheet row, counted from 1.
        row: usize,
        /// The column, counted from 1.
        column: usize,
        /// How long it is.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// The DOCX library could not write the package.
    #[error("the DOCX file could not be written: {0}")]
    Docx(String),
    /// The XLSX library refused the sheet.
    #[error("the XLSX file could not be written: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
}
