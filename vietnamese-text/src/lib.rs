//! Vietnamese text rules for Giao Ban.
//!
//! - Every input is NFC ([`clean_input`], [`clean_multiline`], [`nfc`]); keystrokes are
//!   normalised together with the letters they land next to ([`nfc_splice`]).
//! - Search runs on a folded key ([`search_key`]): "muoi" finds "Muối", "duong" finds "Đường",
//!   "Hoa" finds "Hòa" and "Hoà", "mgar" finds "M’gar".
//! - Names sort with ICU4X's Vietnamese collator ([`collator`]).
//! - Money is whole đồng ([`format_vnd`] "6.400.000.000 đ"; [`parse_vnd`] "6,4 tỷ",
//!   "850 triệu"; [`parse_figure`] "gần 850 triệu").
//! - Dates are dd/mm/yyyy ([`parse_date`], [`format_date`], [`format_long_date`]) and report
//!   periods read as written ([`parse_period`] "quý IV/2020").

mod dates;
mod files;
mod input;
mod key;
mod order;
mod splice;
mod vnd;

pub use dates::{DateError, Period, PeriodKind, format_date, format_long_date, parse_date, parse_period};
pub use files::{ascii_file_name, format_file_size};
pub use input::{clean_input, clean_multiline, nfc, nfc_cow};
pub use key::{search_key, search_tokens};
pub use order::{VietnameseCollator, collator};
pub use splice::{NfcSplice, nfc_splice};
pub use vnd::{MoneyError, Qualifier, format_number, format_vnd, parse_figure, parse_vnd};
