//! The search key: what two spellings of one word have in common. NFD, combining marks
//! stripped, đ/Đ → d (đ has no decomposition), apostrophes dropped, lower case, white space
//! collapsed. "Muối" (NFC or NFD) and "muoi" share a key; so do "Hòa" and "Hoà", "Thuỷ" and
//! "Thủy", "Đường" and "duong", "M’gar", "M'gar" and "Mgar".
//!
//! Apostrophes are dropped rather than unified: the names of the Central Highlands ("Cư M’gar",
//! "Ea H’Leo", "Đắk R’Lấp") are written with ’, ', ʼ, ` or none at all, and a word splitter
//! would cut "m'gar" into "m" and "gar", which the query "mgar" never finds.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The folded search key of `s`.
pub fn search_key(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.nfd() {
        if is_combining_mark(c) || is_apostrophe(c) {
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
            // Đ is often typed as the look-alike Ð (U+00D0, Icelandic eth) from a wrong keyboard.
            'đ' | 'Đ' | 'ð' | 'Ð' => out.push('d'),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// Characters people type for the apostrophe of "M’gar": ASCII ', the typographic ’ and ‘,
/// the modifier letters ʼ ʻ ʹ, the grave and acute accents ` ´ used on old keyboards, the prime
/// ′ and the full-width ＇.
fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '\u{2019}'
            | '\u{2018}'
            | '\u{02BC}'
            | '\u{02BB}'
            | '\u{02B9}'
            | '`'
            | '\u{00B4}'
            | '\u{2032}'
            | '\u{FF07}'
    )
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
        assert_eq!(search_key("  ĐỒNG   Nai "), "dong nai");
    }

    #[test]
    fn apostrophes_are_dropped() {
        for spelling in
            ["Cư M’gar", "Cư M'gar", "Cư Mʼgar", "Cư M‘gar", "Cư M`gar", "Cư M´gar", "Cư Mgar", "CƯ M＇GAR"]
        {
            assert_eq!(search_key(spelling), "cu mgar", "{spelling}");
        }
        assert_eq!(search_key("Ea H’Leo"), "ea hleo");
        assert_eq!(search_key("Đắk R’Lấp"), "dak rlap");
        assert_eq!(
            search_tokens("huyện Cư M’gar, xã Ea H'Leo"),
            vec!["huyen", "cu", "mgar", "xa", "ea", "hleo"]
        );
        // An apostrophe standing alone between words leaves one space.
        assert_eq!(search_key("Tr’ ’ Hy"), "tr hy");
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
