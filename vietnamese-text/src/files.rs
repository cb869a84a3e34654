//! File names and sizes as the desk shows them: "2,5 MB" (a comma before the decimal, as
//! Vietnamese writes numbers), and the ASCII stand-in of a name for software that reads only
//! ASCII ("Mẫu danh sách hộ nghèo.xlsx" → "Mau danh sach ho ngheo.xlsx").

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// A file's size in Vietnamese style: "850 byte", "12 KB", "2,5 MB", "1,2 GB" (1 KB = 1,024
/// bytes; KB rounded up, so a file of a few bytes never reads as 0 KB).
pub fn format_file_size(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    const GB: u64 = 1024 * 1024 * 1024;
    let one_decimal = |v: f64, unit: &str| {
        let text = format!("{v:.1}");
        let text = text.strip_suffix(".0").map(str::to_string).unwrap_or_else(|| text.replace('.', ","));
        format!("{text} {unit}")
    };
    match bytes {
        b if b < KB => format!("{b} byte"),
        b if b < MB => format!("{} KB", b.div_ceil(KB)),
        b if b < GB => one_decimal(b as f64 / MB as f64, "MB"),
        b => one_decimal(b as f64 / GB as f64, "GB"),
    }
}

/// `name` in printable ASCII: marks dropped, đ → d, Đ → D, anything else that is not
/// printable ASCII (or is one of `"` `\` `;` `%`, which headers give meanings to) becomes "_".
pub fn ascii_file_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        match c {
            'đ' | 'ð' => out.push('d'),
            'Đ' | 'Ð' => out.push('D'),
            '"' | '\\' | ';' | '%' => out.push('_'),
            c if c.is_ascii_graphic() || c == ' ' => out.push(c),
            _ => out.push('_'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_vietnamese_writes_them() {
        assert_eq!(format_file_size(850), "850 byte");
        assert_eq!(format_file_size(1025), "2 KB");
        assert_eq!(format_file_size(2_621_440), "2,5 MB");
        assert_eq!(format_file_size(3 * 1024 * 1024), "3 MB");
        assert_eq!(format_file_size(1_288_490_189), "1,2 GB");
    }

    #[test]
    fn a_vietnamese_name_has_an_ascii_stand_in() {
        assert_eq!(ascii_file_name("Mẫu danh sách hộ nghèo.xlsx"), "Mau danh sach ho ngheo.xlsx");
        assert_eq!(ascii_file_name("Đường \"số\" 1;2.pdf"), "Duong _so_ 1_2.pdf");
        assert_eq!(ascii_file_name("ảnh\u{202e}.jpg"), "anh_.jpg");
    }
}
