//! A tiny matching fold for names: enough to find "Đồng Nai" from "dong nai".
//!
//! This is deliberately local and small (the workspace's text crate owns the full story).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Folds `s` for comparison: NFD, combining marks removed (tones and vowel marks), đ/Đ → d,
/// lowercase; typographic apostrophes become `'`; hyphens, dashes, dots, commas and runs of
/// whitespace become one space; no leading or trailing space.
pub(crate) fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        let c = match c {
            'đ' | 'Đ' => 'd',
            '\u{2019}' | '\u{2018}' | '\u{02BC}' | '`' | '\u{00B4}' => '\'',
            '-' | '\u{2010}'..='\u{2015}' | '.' | ',' | '_' => ' ',
            c => c,
        };
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// `s` without spaces and apostrophes, the shape of the source's keywords ("hochiminh").
pub(crate) fn squash(folded: &str) -> String {
    folded.chars().filter(|c| *c != ' ' && *c != '\'').collect()
}

/// Strips the first of `prefixes` (folded, each ending in a space) that `folded` starts with,
/// if anything remains after it.
pub(crate) fn strip_any_prefix<'a>(folded: &'a str, prefixes: &[&str]) -> Option<&'a str> {
    prefixes.iter().filter_map(|p| folded.strip_prefix(p)).find(|rest| !rest.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_vietnamese() {
        assert_eq!(fold("Tỉnh Đồng Nai"), "tinh dong nai");
        assert_eq!(fold("  ĐỒNG   NAI "), "dong nai");
        // Both tone placements and NFD input fold the same.
        assert_eq!(fold("Khánh Hòa"), fold("Khánh Hoà"));
        assert_eq!(fold("Khánh Hòa"), fold("Kha\u{301}nh Ho\u{300}a"));
        assert_eq!(fold("Xã Ea H\u{2019}Leo"), "xa ea h'leo");
        assert_eq!(fold("Bà Rịa - Vũng Tàu"), "ba ria vung tau");
        assert_eq!(fold("TP.HCM"), "tp hcm");
        assert_eq!(squash(&fold("Hồ Chí Minh")), "hochiminh");
    }

    #[test]
    fn strips_prefixes() {
        assert_eq!(strip_any_prefix("tinh dong nai", &["tinh ", "thanh pho "]), Some("dong nai"));
        assert_eq!(strip_any_prefix("tinh ", &["tinh "]), None);
        assert_eq!(strip_any_prefix("dong nai", &["tinh "]), None);
    }
}
