//! The search key: what two spellings of one word have in common. NFD, combining marks
//! stripped, đ/Đ → d (đ has no decomposition), typographic apostrophes → ', lower case, white
//! space collapsed. "Muối" (NFC or NFD) and "muoi" share a key; so do "Hòa" and "Hoà",
//! "Thuỷ" and "Thủy", "Đường" and "duong".

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The folded search key of `s`.
pub fn search_key(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        match c {
            'đ' | 'Đ' => out.push('d'),
            '’' | '‘' | 'ʼ' | '`' | '´' => out.push('\''),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// The words of `s`'s search key: runs of letters and digits.
pub fn search_tokens(s: &str) -> Vec<String> {
    search_key(s)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_vietnamese() {
        let nfd: String = "Muối".nfd().collect();
        assert_eq!(search_key("Muối"), "muoi");
        assert_eq!(search_key(&nfd), "muoi");
        assert_eq!(search_key("Đường"), "duong");
        assert_eq!(search_key("Hòa"), search_key("Hoà"));
        assert_eq!(search_key("Thuỷ"), search_key("Thủy"));
        assert_eq!(search_key("H’Leo"), "h'leo");
        assert_eq!(search_key("  ĐỒNG   Nai "), "dong nai");
    }

    #[test]
    fn tokens_split_on_punctuation() {
        assert_eq!(
            search_tokens("đ/c Muối-CV, 305/MTTQ-BTT"),
            vec!["d", "c", "muoi", "cv", "305", "mttq", "btt"]
        );
        assert!(search_tokens(" \"; -- ").is_empty());
    }
}
