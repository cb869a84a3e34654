//! Name matching for reference data: the workspace's Vietnamese search key, with the
//! separators that place names use ("Bà Rịa - Vũng Tàu", "TP. Hồ Chí Minh") read as spaces.

/// Folds `s` for comparison: the search key (marks removed, đ/Đ → d, lower case, apostrophes
/// dropped) with hyphens, dashes, dots, commas and underscores read as spaces, and runs of
/// white space made one space.
pub(crate) fn fold(s: &str) -> String {
    let spaced: String = s
        .chars()
        .map(|c| if matches!(c, '-' | '\u{2010}'..='\u{2015}' | '.' | ',' | '_') { ' ' } else { c })
        .collect();
    giaoban_vietnamese_text::search_key(&spaced)
}

/// A folded name without spaces, the shape of the source's keywords ("hochiminh").
pub(crate) fn squash(folded: &str) -> String {
    folded.chars().filter(|c| *c != ' ').collect()
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
        assert_eq!(fold("Xã Ea H\u{2019}Leo"), "xa ea hleo");
        assert_eq!(fold("Xã Ea H'Leo"), fold("Xã Ea HLeo"));
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
