//! Normalisation of text at input. Phones and old input methods produce NFD or mixed forms;
//! "Muối" in NFC (6 bytes) and NFD (8 bytes) must be the same value, so every input is made NFC.

use std::borrow::Cow;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

/// `s` in Unicode NFC, borrowed when it already is.
pub fn nfc_cow(s: &str) -> Cow<'_, str> {
    match is_nfc_quick(s.chars()) {
        IsNormalized::Yes => Cow::Borrowed(s),
        _ => Cow::Owned(s.nfc().collect()),
    }
}

/// `s` in Unicode NFC.
pub fn nfc(s: &str) -> String {
    nfc_cow(s).into_owned()
}

/// Characters nobody means to type that would still be kept and shown: control characters, the
/// soft hyphen, zero-width and direction marks (which can make text read otherwise than it is
/// stored), word joiners and the byte-order mark. New lines and tabs of prose are not among
/// them.
fn is_invisible(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// `s` without the characters [`is_invisible`] names, borrowed when it has none.
fn visible(s: &str) -> Cow<'_, str> {
    if s.chars().any(is_invisible) {
        Cow::Owned(s.chars().filter(|c| !is_invisible(*c)).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// A single-line field as typed: NFC, invisible characters dropped, trimmed, inner runs of
/// white space made one space.
pub fn clean_input(s: &str) -> String {
    let v = visible(s);
    let s = nfc_cow(&v);
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Prose as typed: NFC, CRLF and CR made LF, invisible characters dropped, trailing white space
/// of each line and of the whole text removed. Paragraphs and indentation stay.
pub fn clean_multiline(s: &str) -> String {
    let s = nfc_cow(s);
    let unified = s.replace("\r\n", "\n").replace('\r', "\n");
    let unified = visible(&unified);
    let lines: Vec<&str> = unified.lines().map(str::trim_end).collect();
    lines.join("\n").trim_end().trim_start_matches('\n').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfd_becomes_nfc() {
        let nfd: String = "Muối".nfd().collect();
        assert_eq!(nfd.len(), 8);
        assert_eq!(nfc(&nfd), "Muối");
        assert_eq!(nfc(&nfd).len(), 6);
        assert!(matches!(nfc_cow("Muối"), Cow::Borrowed(_)));
    }

    #[test]
    fn invisible_characters_are_dropped() {
        assert_eq!(clean_input("V/v\u{0}\u{200B} rà\u{00AD}soát\u{202E}"), "V/v ràsoát");
        assert_eq!(clean_multiline("Dòng 1\n\tDòng\u{FEFF} 2\u{7}"), "Dòng 1\n\tDòng 2");
    }

    #[test]
    fn single_line_is_tidied() {
        assert_eq!(clean_input("  Long Khánh,\tngày   24  "), "Long Khánh, ngày 24");
        assert_eq!(clean_input(""), "");
    }

    #[test]
    fn prose_keeps_paragraphs() {
        assert_eq!(clean_multiline("Dòng một  \r\n\r\nDòng hai\r\n\n"), "Dòng một\n\nDòng hai");
    }
}
