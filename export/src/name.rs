//! The name a downloaded document is saved under: the Vietnamese title for browsers that read
//! RFC 5987's `filename*`, and an ASCII stand-in for those that do not.

use giaoban_vietnamese_text::{ascii_file_name, nfc};

use crate::text::line;

/// Longest stem (the name before the extension) of either form: the ASCII one in bytes, the
/// UTF-8 one in characters. Long enough for "Báo cáo tổng hợp kết quả … năm 2025"; short
/// enough for every file system's 255-byte limit once percent-decoded.
const MAX_STEM: usize = 100;
/// Longest extension kept.
const MAX_EXT: usize = 10;

/// A file name for a download, in two forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadName {
    ascii: String,
    utf8: String,
}

impl DownloadName {
    /// "Bao-cao-tong-hop-305-MTTQ-BTT.docx": letters, digits and `. ( ) - _` only; no
    /// separator, no control character, no leading dot.
    pub fn ascii(&self) -> &str {
        &self.ascii
    }

    /// "Báo cáo tổng hợp 305-MTTQ-BTT.docx": NFC, no path separator, no control character.
    pub fn utf8(&self) -> &str {
        &self.utf8
    }

    /// The `Content-Disposition` header value (RFC 6266): `attachment; filename="…";
    /// filename*=UTF-8''…`, the second percent-encoded as RFC 5987 asks.
    pub fn content_disposition(&self) -> String {
        format!("attachment; filename=\"{}\"; filename*=UTF-8''{}", self.ascii, percent_encode(&self.utf8))
    }
}

/// The download name of a document titled `title`, with extension `ext` ("docx", ".xlsx").
/// A title with nothing printable is named "Tai-lieu" / "Tài liệu" (document).
pub fn download_name(title: &str, ext: &str) -> DownloadName {
    let ext: String = ext
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(MAX_EXT)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let dot_ext = if ext.is_empty() { String::new() } else { format!(".{ext}") };
    DownloadName {
        ascii: format!("{}{dot_ext}", ascii_stem(title)),
        utf8: format!("{}{dot_ext}", utf8_stem(title)),
    }
}

/// Characters file systems or headers give a meaning to, in either form.
fn separator_like(c: char) -> bool {
    matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|')
}

fn ascii_stem(title: &str) -> String {
    let spaced: String = line(title).chars().map(|c| if separator_like(c) { ' ' } else { c }).collect();
    let mut stem = String::with_capacity(spaced.len());
    for c in ascii_file_name(&spaced).chars() {
        // "_" is what ascii_file_name put for a letter it could not map: a separator too.
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '(' | ')') { c } else { '-' };
        if c == '-' && (stem.is_empty() || stem.ends_with('-')) {
            continue;
        }
        stem.push(c);
    }
    stem.truncate(MAX_STEM);
    let stem = stem.trim_matches(|c| matches!(c, '-' | '.')).to_string();
    let stem = if stem.is_empty() { "Tai-lieu".to_string() } else { stem };
    windows_safe(stem)
}

fn utf8_stem(title: &str) -> String {
    let cleaned: String = line(title).chars().map(|c| if separator_like(c) { '-' } else { c }).collect();
    let cut: String = nfc(&cleaned).chars().take(MAX_STEM).collect();
    let stem = cut.trim_matches(|c: char| c == '.' || c == '-' || c.is_whitespace()).to_string();
    if stem.is_empty() { "Tài liệu".to_string() } else { windows_safe(stem) }
}

/// Windows refuses to create a file named as a device, whatever its extension.
fn windows_safe(stem: String) -> String {
    const DEVICES: [&str; 4] = ["CON", "PRN", "AUX", "NUL"];
    let upper = stem.to_ascii_uppercase();
    let numbered = (upper.starts_with("COM") || upper.starts_with("LPT"))
        && upper.len() == 4
        && upper.as_bytes()[3].is_ascii_digit();
    if DEVICES.contains(&upper.as_str()) || numbered { format!("{stem}_") } else { stem }
}

/// RFC 5987 `value-chars`: `attr-char`s as they are, every other byte as `%XX`.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        let attr_char = b.is_ascii_alphanumeric()
            || matches!(b, b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~');
        if attr_char {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_title_has_both_forms() {
        let n = download_name("Báo cáo tổng hợp 305/MTTQ-BTT", "docx");
        assert_eq!(n.ascii(), "Bao-cao-tong-hop-305-MTTQ-BTT.docx");
        assert_eq!(n.utf8(), "Báo cáo tổng hợp 305-MTTQ-BTT.docx");
        assert_eq!(
            n.content_disposition(),
            "attachment; filename=\"Bao-cao-tong-hop-305-MTTQ-BTT.docx\"; \
             filename*=UTF-8''B%C3%A1o%20c%C3%A1o%20t%E1%BB%95ng%20h%E1%BB%A3p%20305-MTTQ-BTT.docx"
        );
    }

    #[test]
    fn d_with_stroke_and_nfd_input() {
        let nfd = "Đề xuất\u{0301} đoàn"; // a stray combining mark after "t"
        let n = download_name(nfd, ".XLSX");
        assert_eq!(n.ascii(), "De-xuat-doan.xlsx");
        assert!(n.utf8().ends_with(".xlsx"));
        assert_eq!(n.utf8(), nfc(n.utf8()));
    }

    #[test]
    fn nothing_harmful_survives() {
        let n = download_name("../..\\etc/passwd\u{0}\r\n\u{202E}gpj.exe\"; x=1", "d/o\\c x");
        for name in [n.ascii(), n.utf8()] {
            assert!(!name.contains('/') && !name.contains('\\') && !name.contains('"'), "{name}");
            assert!(!name.chars().any(char::is_control), "{name}");
            assert!(!name.starts_with('.'), "{name}");
            assert!(!name.contains('\u{202E}'), "{name}");
        }
        assert_eq!(n.ascii(), "etc-passwd-gpj.exe-x-1.docx");
        assert!(n.ascii().is_ascii());
    }

    #[test]
    fn empty_and_long_titles() {
        assert_eq!(download_name("  \u{200B} ", "docx").ascii(), "Tai-lieu.docx");
        assert_eq!(download_name("", "docx").utf8(), "Tài liệu.docx");
        let long = "Kết quả vận động Quỹ Vì người nghèo ".repeat(20);
        let n = download_name(&long, "xlsx");
        assert!(n.ascii().len() <= MAX_STEM + 5, "{}", n.ascii());
        assert!(n.utf8().chars().count() <= MAX_STEM + 5, "{}", n.utf8());
        assert!(!n.ascii().contains("-."));
        assert_eq!(download_name("con", "docx").ascii(), "con_.docx");
        assert_eq!(download_name("Báo cáo", "").ascii(), "Bao-cao");
    }
}
