//! Printed documents. A dispatch, plan or report ([`Letter`]) becomes a DOCX laid out as
//! Decree 30/2020/NĐ-CP, Appendix I (Phụ lục I) asks of administrative documents; a table of
//! figures ([`Table`]) becomes an XLSX sheet; [`download_name`] names either for a browser.
//!
//! Everything here is bytes in, bytes out: no file, no clock, no network. Input that cannot be
//! printed (a row with more cells than the table has columns, a table of a million rows) is
//! refused with an [`ExportError`] that says what is wrong; no input makes these functions
//! panic. Text is printed as given after it is made NFC and stripped of characters nobody
//! types (control characters, zero-width and direction marks), which XML could not carry or
//! which would make the printed words differ from the stored ones.
//!
//! Figures are never computed here: a total is the caller's, printed as it comes.

mod docx;
mod error;
mod name;
mod package;
mod text;
mod xlsx;

pub use docx::docx;
pub use error::ExportError;
pub use name::{DownloadName, download_name};
pub use text::printed_date;
pub use xlsx::{NUMBER_FORMAT, xlsx};

use chrono::NaiveDate;

/// An administrative document as printed (công văn, kế hoạch, báo cáo, thông báo…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    /// The body the issuer belongs to ("ỦY BAN MTTQ VIỆT NAM\nTHÀNH PHỐ LONG KHÁNH"), upper
    /// case as printed, one printed line per `\n`; printed above the issuer, not bold. May be
    /// empty.
    pub parent_body: String,
    /// The issuing body ("BAN THƯỜNG TRỰC"), printed bold with a short rule under it.
    pub issuer: String,
    /// "305/MTTQ-BTT", printed "Số: 305/MTTQ-BTT".
    pub number: String,
    /// "Long Khánh".
    pub place: String,
    /// Printed "Long Khánh, ngày 24 tháng 01 năm 2022" in italics ([`printed_date`]).
    pub date: NaiveDate,
    /// `Some("BÁO CÁO")` for a named kind: the title centred and bold, the subject bold under
    /// it. `None` for a công văn: the subject ("V/v …") under the number in the left column.
    pub kind_title: Option<String>,
    /// "V/v triển khai …" for a công văn, "Kết quả … năm 2025" for a named kind.
    pub subject: String,
    /// "Kính gửi:" lines: one recipient is printed on the same line, several as a list of
    /// "- " lines. Empty: no "Kính gửi" (reports usually have none).
    pub recipients: Vec<String>,
    /// The text, in order.
    pub body: Vec<Block>,
    /// "Nơi nhận:" lines as printed, each given a leading "- " when it has none. A last line
    /// "- Lưu: VT." is added when no line starts with "Lưu".
    pub copies_to: Vec<String>,
    /// Who signs.
    pub signer: Signer,
}

/// A piece of a document's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// "I. KẾT QUẢ …": bold.
    Heading(String),
    /// Prose: first line indented, justified. A `\n` starts a new paragraph.
    Paragraph(String),
    /// "1. …": a numbered item, printed as a paragraph that starts with its number.
    Numbered {
        /// "1", "1." or "a)": a number without closing punctuation is given a ".".
        number: String,
        /// The item's words.
        text: String,
    },
    /// Figures.
    Table(Table),
}

/// The signature block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// "TM. BAN THƯỜNG TRỰC", "KT. CHỦ TỊCH"; may be empty when the signer signs in their own
    /// name.
    pub authority: String,
    /// "PHÓ CHỦ TỊCH".
    pub position: String,
    /// "Nguyễn Văn A".
    pub name: String,
}

/// A table of figures, printed inside a document or alone as a sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Printed above the table, bold and centred.
    pub title: Option<String>,
    /// The columns, left to right; every row has one cell per column.
    pub columns: Vec<Column>,
    /// The rows, in order.
    pub rows: Vec<Vec<Cell>>,
    /// The totals row as the caller computed it (bold, after the rows).
    pub totals: Option<Vec<Cell>>,
    /// Lines printed under the table in italics ("Số liệu gần đúng: …").
    pub notes: Vec<String>,
}

/// A column of a [`Table`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The heading as printed ("Đơn vị", "Số tiền (đồng)").
    pub heading: String,
    /// What its cells hold, which decides alignment, width and number format.
    pub kind: ColumnKind,
}

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnKind {
    /// Words: left-aligned.
    Text,
    /// A count (households, houses): right-aligned, thousands grouped.
    Count,
    /// An amount in đồng: right-aligned, thousands grouped.
    Vnd,
}

/// One cell of a [`Table`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Words.
    Text(String),
    /// A whole number (a count or đồng), printed with thousands grouped: "6.400.000.000" in
    /// a DOCX, a numeric cell in an XLSX.
    Number(i64),
    /// Nothing.
    Empty,
}

impl Table {
    /// Most rows a table may have: what a sheet holds (1,048,576 rows) less the title, header,
    /// totals and note rows, rounded down.
    pub const MAX_ROWS: usize = 1_000_000;
    /// Most columns a table in a document may have: Word's limit for a table (63).
    pub const MAX_COLUMNS: usize = 63;
    /// Most columns a sheet may have (Excel's 16,384).
    pub const MAX_SHEET_COLUMNS: usize = 16_384;

    /// Refuses a table that cannot be printed in a document: no columns, more than Word
    /// takes, or a row (or the totals) whose cell count differs from the column count.
    pub fn check(&self) -> Result<(), ExportError> {
        self.check_with(Self::MAX_COLUMNS)
    }

    /// As [`Table::check`], with at most `max_columns` columns.
    pub(crate) fn check_with(&self, max_columns: usize) -> Result<(), ExportError> {
        if self.columns.is_empty() {
            return Err(ExportError::NoColumns);
        }
        if self.columns.len() > max_columns {
            return Err(ExportError::TooManyColumns { columns: self.columns.len(), max: max_columns });
        }
        if self.rows.len() > Self::MAX_ROWS {
            return Err(ExportError::TooManyRows { rows: self.rows.len(), max: Self::MAX_ROWS });
        }
        for (i, row) in self.rows.iter().enumerate() {
            if row.len() != self.columns.len() {
                return Err(ExportError::RowWidth {
                    row: i + 1,
                    cells: row.len(),
                    columns: self.columns.len(),
                });
            }
        }
        if let Some(totals) = &self.totals
            && totals.len() != self.columns.len()
        {
            return Err(ExportError::TotalsWidth { cells: totals.len(), columns: self.columns.len() });
        }
        Ok(())
    }
}
